//! GeoPackage tables (OGC GeoPackage 1.x), read through sqlx's SQLite driver and geozero's
//! GeoPackage-binary geometry decoder; written by [`write_layers`].

use super::{BATCH, FeatureSink, LayerSource, Location, RawFeature, RawItem, SourceError};
use crate::catalog::{FieldType, LayerDef};
use futures_util::TryStreamExt;
use geozero::wkb;
use serde_json::{Map, Number, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{Column, ConnectOptions, Connection, Row, TypeInfo, ValueRef};
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub struct GeoPackageSource {
    path: PathBuf,
    table: String,
    location: Location,
    /// The table's SRS as `EPSG:n` (or the SRS definition), from `gpkg_spatial_ref_sys`.
    declared: Option<String>,
}

impl GeoPackageSource {
    /// Opens `table` of the GeoPackage at `path` and reads the SRS it declares.
    pub fn open(def: &LayerDef, path: PathBuf, table: String) -> Result<Self, SourceError> {
        let location = Location::File {
            file: path.clone(),
            layer: Some(table.clone()),
        };
        let unreadable = |message: String| SourceError::Unreadable {
            layer: def.id.clone(),
            location: Location::file(&path),
            message,
        };
        if !path.is_file() {
            return Err(unreadable("no such file".into()));
        }
        let declared = block_on(async {
            let mut conn = connect(&path)
                .await
                .map_err(|e| unreadable(e.to_string()))?;
            let srs = declared_srs(&mut conn, &table).await;
            let _ = conn.close().await;
            srs.map_err(|message| SourceError::Malformed {
                layer: def.id.clone(),
                location: location.clone(),
                message,
            })
        })
        .map_err(|e| unreadable(e.to_string()))??;
        Ok(GeoPackageSource {
            path,
            table,
            location,
            declared,
        })
    }
}

async fn connect(path: &Path) -> Result<SqliteConnection, sqlx::Error> {
    SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .read_only(true)
        .connect()
        .await
}

/// The SRS of `table`'s geometry column: `EPSG:n` for an EPSG-organised SRS, else its
/// definition; `None` for the GeoPackage's "undefined" SRSs (0 and -1).
async fn declared_srs(conn: &mut SqliteConnection, table: &str) -> Result<Option<String>, String> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = ?")
            .bind(table)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| format!("not a GeoPackage (gpkg_geometry_columns): {e}"))?;
    let Some((srs_id,)) = row else {
        let tables: Vec<(String,)> =
            sqlx::query_as("SELECT table_name FROM gpkg_geometry_columns ORDER BY table_name")
                .fetch_all(&mut *conn)
                .await
                .unwrap_or_default();
        let names: Vec<String> = tables.into_iter().map(|(t,)| t).collect();
        return Err(format!(
            "no geometry table {table:?} in the GeoPackage (it has: {}); name it with `layer` in [source]",
            names.join(", ")
        ));
    };
    if srs_id <= 0 {
        return Ok(None);
    }
    let srs: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?",
    )
    .bind(srs_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| format!("reading gpkg_spatial_ref_sys: {e}"))?;
    Ok(match srs {
        Some((org, code, _)) if org.eq_ignore_ascii_case("epsg") => Some(format!("EPSG:{code}")),
        Some((_, _, definition)) if definition != "undefined" => Some(definition),
        _ => None,
    })
}

/// Runs a future to completion on a private single-threaded runtime: layer loading is
/// synchronous, CPU-bound work that runs on blocking threads, never on the server's executor.
fn block_on<F: std::future::Future>(future: F) -> std::io::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl LayerSource for GeoPackageSource {
    fn location(&self) -> &Location {
        &self.location
    }

    fn format(&self) -> String {
        "GeoPackage".into()
    }

    fn declared_crs(&self) -> Option<String> {
        self.declared.clone()
    }

    fn read(&mut self, def: &LayerDef, sink: &mut FeatureSink<'_>) -> Result<(), SourceError> {
        let unreadable = |message: String| SourceError::Unreadable {
            layer: def.id.clone(),
            location: self.location.clone(),
            message,
        };
        let table = self.table.clone();
        block_on(async {
            let mut conn = connect(&self.path)
                .await
                .map_err(|e| unreadable(e.to_string()))?;
            let result = read_table(&mut conn, def, &table, sink).await;
            let _ = conn.close().await;
            result.map_err(|message| SourceError::Malformed {
                layer: def.id.clone(),
                location: self.location.clone(),
                message,
            })
        })
        .map_err(|e| unreadable(e.to_string()))?
    }
}

async fn read_table(
    conn: &mut SqliteConnection,
    def: &LayerDef,
    table: &str,
    sink: &mut FeatureSink<'_>,
) -> Result<(), String> {
    let geometry_column: Option<String> =
        sqlx::query_scalar("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?")
            .bind(table)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| format!("not a GeoPackage (gpkg_geometry_columns): {e}"))?;
    let geometry_column =
        geometry_column.ok_or_else(|| format!("no geometry table {table:?} in the GeoPackage"))?;
    let sql = format!("SELECT * FROM {} ORDER BY rowid", quote_ident(table));
    let mut rows = sqlx::query(&sql).fetch(&mut *conn);
    let mut index = 0;
    let mut batch: Vec<RawItem> = Vec::with_capacity(BATCH);
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|e| format!("reading table {table:?}: {e}"))?
    {
        batch.push(RawItem::at(index, decode_row(&row, def, &geometry_column)));
        index += 1;
        if batch.len() == BATCH {
            sink(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
        }
    }
    if !batch.is_empty() {
        sink(batch);
    }
    Ok(())
}

fn decode_row(
    row: &SqliteRow,
    def: &LayerDef,
    geometry_column: &str,
) -> Result<RawFeature, String> {
    let mut properties = Map::new();
    let mut geometry = None;
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name();
        if name == geometry_column {
            let decoded: wkb::Decode<geo::Geometry<f64>> = row
                .try_get(i)
                .map_err(|e| format!("geometry column {name:?}: {e}"))?;
            geometry = decoded.geometry;
            continue;
        }
        let mapped = def
            .source
            .fields
            .iter()
            .find(|(_, column)| column.as_str() == name)
            .map(|(field, _)| field.as_str());
        let Some(field) = def.field(mapped.unwrap_or(name)) else {
            continue;
        };
        let name = field.name.as_str();
        let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
        let value = if raw.is_null() {
            Value::Null
        } else {
            match raw.type_info().name() {
                "INTEGER" => {
                    let n: i64 = row.try_get(i).map_err(|e| e.to_string())?;
                    // SQLite has no boolean type: GeoPackage stores them as 0/1.
                    match (field.kind, n) {
                        (FieldType::Boolean, 0) => Value::Bool(false),
                        (FieldType::Boolean, 1) => Value::Bool(true),
                        _ => Value::from(n),
                    }
                }
                "REAL" => {
                    let x: f64 = row.try_get(i).map_err(|e| e.to_string())?;
                    // JSON has no NaN; keep it as a string so validation reports it.
                    Number::from_f64(x).map_or_else(|| Value::String(x.to_string()), Value::Number)
                }
                "TEXT" => Value::String(row.try_get::<String, _>(i).map_err(|e| e.to_string())?),
                other => return Err(format!("column {name:?}: unsupported SQLite type {other}")),
            }
        };
        properties.insert(name.to_string(), value);
    }
    let geometry = geometry.ok_or_else(|| "feature has no geometry".to_string())?;
    let id = properties
        .get(&def.source.id_field)
        .filter(|v| !v.is_null())
        .cloned();
    Ok(RawFeature {
        id,
        geometry,
        properties,
    })
}

/// The SQLite column type a field is stored as.
pub(crate) fn sqlite_type(kind: FieldType) -> &'static str {
    match kind {
        FieldType::String => "TEXT",
        FieldType::Integer | FieldType::Boolean => "INTEGER",
        FieldType::Number => "REAL",
    }
}

/// One table to write: a layer and its rows (in WGS84).
pub struct TableOut<'a> {
    pub def: &'a LayerDef,
    /// The table name; the layer id when `None`.
    pub table: Option<String>,
    pub rows: Vec<RowOut<'a>>,
}

pub struct RowOut<'a> {
    pub geometry: &'a geo::Geometry<f64>,
    pub bbox: Option<geo::Rect<f64>>,
    pub properties: &'a [(&'a str, Value)],
}

fn geometry_type_name(def: &LayerDef) -> &'static str {
    match def.geometry {
        crate::catalog::GeometryKind::Point => "POINT",
        // Lines and polygons mix single and multi parts; GEOMETRY admits both.
        crate::catalog::GeometryKind::Line | crate::catalog::GeometryKind::Polygon => "GEOMETRY",
    }
}

/// GeoPackage binary geometry with the WGS84 srs id and the envelope readers use to skip rows.
fn gpkg_blob(
    geometry: &geo::Geometry<f64>,
    bbox: Option<geo::Rect<f64>>,
) -> Result<Vec<u8>, String> {
    use geozero::GeozeroGeometry;
    let envelope = bbox
        .map(|r| vec![r.min().x, r.max().x, r.min().y, r.max().y])
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut writer = wkb::WkbWriter::with_opts(
        &mut out,
        wkb::WkbDialect::Geopackage,
        geozero::CoordDimensions::default(),
        Some(4326),
        envelope,
    );
    geometry
        .process_geom(&mut writer)
        .map_err(|e| format!("encoding geometry: {e}"))?;
    Ok(out)
}

const GPKG_SCHEMA: &[&str] = &[
    "PRAGMA application_id = 1196444487",
    "PRAGMA user_version = 10300",
    "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, \
     organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, \
     definition TEXT NOT NULL, description TEXT)",
    "INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', NULL), \
     ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', NULL), \
     ('WGS 84 geodetic', 4326, 'EPSG', 4326, 'GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563,AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],UNIT[\"degree\",0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]],AUTHORITY[\"EPSG\",\"4326\"]]', 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')",
    "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, \
     identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT \
     (strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, \
     srs_id INTEGER)",
    "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, \
     geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, \
     CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name))",
];

/// Writes a GeoPackage with one feature table per layer (OGC GeoPackage 1.3 core).
pub fn write(path: &Path, tables: &[TableOut<'_>]) -> Result<(), String> {
    let fail = |e: String| format!("{}: {e}", path.display());
    block_on(async {
        let mut conn = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| e.to_string())?
            .filename(path)
            .create_if_missing(true)
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        let mut tx = conn.begin().await.map_err(|e| e.to_string())?;
        for statement in GPKG_SCHEMA {
            sqlx::query(statement).execute(&mut *tx).await.map_err(|e| e.to_string())?;
        }
        for table in tables {
            let def = table.def;
            let name = table
                .table
                .clone()
                .or_else(|| def.source.layer_name().map(str::to_string))
                .unwrap_or_else(|| def.id.clone());
            let columns: Vec<String> = def
                .fields
                .iter()
                .map(|f| format!("{} {}", quote_ident(&f.name), sqlite_type(f.kind)))
                .collect();
            let create = format!(
                "CREATE TABLE {} (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom {}, {})",
                quote_ident(&name),
                geometry_type_name(def),
                columns.join(", ")
            );
            sqlx::query(&create).execute(&mut *tx).await.map_err(|e| e.to_string())?;
            let placeholders = vec!["?"; def.fields.len() + 1].join(", ");
            let field_list: Vec<String> = def.fields.iter().map(|f| quote_ident(&f.name)).collect();
            let insert = format!(
                "INSERT INTO {} (geom, {}) VALUES ({placeholders})",
                quote_ident(&name),
                field_list.join(", ")
            );
            let mut extent: Option<geo::Rect<f64>> = None;
            for row in &table.rows {
                if let Some(b) = row.bbox {
                    extent = Some(match extent {
                        None => b,
                        Some(e) => geo::Rect::new(
                            geo::coord! { x: e.min().x.min(b.min().x), y: e.min().y.min(b.min().y) },
                            geo::coord! { x: e.max().x.max(b.max().x), y: e.max().y.max(b.max().y) },
                        ),
                    });
                }
                let mut query = sqlx::query(&insert).bind(gpkg_blob(row.geometry, row.bbox)?);
                for field in &def.fields {
                    let value = row
                        .properties
                        .iter()
                        .find(|(n, _)| *n == field.name)
                        .map(|(_, v)| v)
                        .unwrap_or(&Value::Null);
                    query = match value {
                        Value::Null => query.bind(None::<String>),
                        Value::Bool(b) => query.bind(i64::from(*b)),
                        Value::Number(n) if n.is_i64() => query.bind(n.as_i64()),
                        Value::Number(n) => query.bind(n.as_f64()),
                        Value::String(s) => query.bind(s.clone()),
                        other => query.bind(other.to_string()),
                    };
                }
                query.execute(&mut *tx).await.map_err(|e| e.to_string())?;
            }
            let e = extent.unwrap_or_else(|| geo::Rect::new(geo::coord! {x: 0., y: 0.}, geo::coord! {x: 0., y: 0.}));
            sqlx::query(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id) \
                 VALUES (?, 'features', ?, ?, ?, ?, ?, ?, 4326)",
            )
            .bind(&name)
            .bind(&def.title)
            .bind(&def.title_en)
            .bind(e.min().x)
            .bind(e.min().y)
            .bind(e.max().x)
            .bind(e.max().y)
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
            sqlx::query("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, 4326, 0, 0)")
                .bind(&name)
                .bind(geometry_type_name(def))
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        conn.close().await.map_err(|e| e.to_string())
    })
    .map_err(|e| fail(e.to_string()))?
    .map_err(fail)
}
