//! `gridlink import` writing layers into PostGIS tables (typed columns, GiST index), so PostGIS
//! (and tools on it, such as martin) can serve the same data — and the benchmarks can compare
//! against it. The PostGIS *source* (reading tables as layers) is
//! [`crate::sources::postgis::PostgisSource`]; this writer takes loaded layers, so it lives
//! above the layer store, with the command that uses it.

use crate::catalog::{FieldType, GeometryKind};
use crate::spatial::{GeometryRef, Layer, LayerStore, PropertyValue};
use geo::{Geometry, MultiLineString, MultiPolygon};
use geozero::GeozeroGeometry;
use geozero::wkb::{WkbDialect, WkbWriter};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum PostgisError {
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0:?} is not a valid schema name (use lower-case letters, digits and _)")]
    Schema(String),
    #[error("encoding a geometry of layer {layer}: {message}")]
    Geometry { layer: String, message: String },
}

/// What was written per layer.
#[derive(Debug, Clone)]
pub struct Imported {
    pub layer: String,
    pub table: String,
    pub rows: usize,
    pub elapsed: Duration,
}

fn sql_type(kind: FieldType) -> &'static str {
    match kind {
        FieldType::String => "text",
        FieldType::Integer => "bigint",
        FieldType::Number => "double precision",
        FieldType::Boolean => "boolean",
    }
}

/// The table's geometry type: lines and polygons are stored as multi-geometries so one column
/// type fits every feature.
fn geometry_type(kind: GeometryKind) -> &'static str {
    match kind {
        GeometryKind::Point => "Point",
        GeometryKind::Line => "MultiLineString",
        GeometryKind::Polygon => "MultiPolygon",
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Hex EWKB with SRID 4326, the text form PostGIS reads in COPY.
fn ewkb_hex(geometry: GeometryRef<'_>) -> Result<String, String> {
    let geometry = match geometry {
        GeometryRef::Point(c) => Geometry::Point(c.into()),
        GeometryRef::Lines(m) => Geometry::MultiLineString(MultiLineString::clone(m)),
        GeometryRef::Polygons(m) => Geometry::MultiPolygon(MultiPolygon::clone(m)),
    };
    let mut bytes = Vec::new();
    let mut writer = WkbWriter::with_opts(
        &mut bytes,
        WkbDialect::Ewkb,
        geozero::CoordDimensions::default(),
        Some(4326),
        Vec::new(),
    );
    geometry
        .process_geom(&mut writer)
        .map_err(|e| e.to_string())?;
    let mut hex = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(hex, "{b:02X}");
    }
    Ok(hex)
}

/// COPY text format: backslash escapes for the four special characters, `\N` for null.
fn copy_text(out: &mut String, value: &str) {
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn copy_value(out: &mut String, value: PropertyValue<'_>) {
    match value {
        PropertyValue::Null => out.push_str("\\N"),
        PropertyValue::Text(s) => copy_text(out, s),
        PropertyValue::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        PropertyValue::Number(x) => {
            let _ = write!(out, "{x}");
        }
        PropertyValue::Boolean(b) => out.push_str(if b { "t" } else { "f" }),
    }
}

pub async fn connect(url: &str) -> Result<PgPool, PostgisError> {
    Ok(PgPoolOptions::new()
        .max_connections(2)
        // "table does not exist, skipping" notices from DROP … IF EXISTS are not news.
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET client_min_messages = warning").await?;
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// Writes one layer into `schema.layer_id` (replacing it), then indexes and analyses it.
pub async fn import_layer(
    pool: &PgPool,
    schema: &str,
    layer: &Layer,
) -> Result<Imported, PostgisError> {
    let started = Instant::now();
    let def = &layer.def;
    let table = format!("{}.{}", quote(schema), quote(&def.id));
    let mut columns = vec!["id text PRIMARY KEY".to_string()];
    columns.extend(
        def.fields
            .iter()
            .map(|f| format!("{} {}", quote(&f.name), sql_type(f.kind))),
    );
    columns.push(format!(
        "geom geometry({}, 4326) NOT NULL",
        geometry_type(def.geometry)
    ));
    let mut conn = pool.acquire().await?;
    conn.execute(format!("DROP TABLE IF EXISTS {table}").as_str())
        .await?;
    conn.execute(format!("CREATE TABLE {table} ({})", columns.join(", ")).as_str())
        .await?;
    conn.execute(
        format!(
            "COMMENT ON TABLE {table} IS '{}'",
            def.title.replace('\'', "''")
        )
        .as_str(),
    )
    .await?;
    let names: Vec<String> = std::iter::once("id".to_string())
        .chain(def.fields.iter().map(|f| quote(&f.name)))
        .chain(std::iter::once("geom".to_string()))
        .collect();
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY {table} ({}) FROM STDIN (FORMAT text)",
            names.join(", ")
        ))
        .await?;
    let mut buffer = String::with_capacity(1 << 20);
    for i in 0..layer.len() {
        copy_text(&mut buffer, layer.id(i));
        for f in 0..def.fields.len() {
            buffer.push('\t');
            copy_value(&mut buffer, layer.value(i, f));
        }
        buffer.push('\t');
        let hex = ewkb_hex(layer.geometry(i)).map_err(|message| PostgisError::Geometry {
            layer: def.id.clone(),
            message,
        })?;
        buffer.push_str(&hex);
        buffer.push('\n');
        if buffer.len() > 1 << 20 {
            copy.send(buffer.as_bytes()).await?;
            buffer.clear();
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer.as_bytes()).await?;
    }
    copy.finish().await?;
    let index = quote(&format!("{}_geom_gist", def.id));
    conn.execute(format!("CREATE INDEX {index} ON {table} USING GIST (geom)").as_str())
        .await?;
    conn.execute(format!("ANALYZE {table}").as_str()).await?;
    Ok(Imported {
        layer: def.id.clone(),
        table,
        rows: layer.len(),
        elapsed: started.elapsed(),
    })
}

/// Imports every layer of the store into `schema` (created if missing, PostGIS enabled).
pub async fn import(
    pool: &PgPool,
    schema: &str,
    store: &LayerStore,
) -> Result<Vec<Imported>, PostgisError> {
    let layers: Vec<&Layer> = store.layers().iter().map(|l| &**l).collect();
    import_layers(pool, schema, &layers).await
}

/// Imports the given layers into `schema` (created if missing, PostGIS enabled).
pub async fn import_layers(
    pool: &PgPool,
    schema: &str,
    layers: &[&Layer],
) -> Result<Vec<Imported>, PostgisError> {
    if schema.is_empty()
        || !schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(PostgisError::Schema(schema.to_string()));
    }
    pool.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        .await?;
    pool.execute(format!("CREATE SCHEMA IF NOT EXISTS {}", quote(schema)).as_str())
        .await?;
    let mut done = Vec::new();
    for layer in layers {
        done.push(import_layer(pool, schema, layer).await?);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_specials() {
        let mut out = String::new();
        copy_text(&mut out, "a\tb\\c\nd");
        assert_eq!(out, "a\\tb\\\\c\\nd");
    }

    #[test]
    fn points_become_hex_ewkb_with_srid() {
        let hex = ewkb_hex(GeometryRef::Point(geo::coord! {x: 121.0, y: 31.0})).unwrap();
        // Little-endian, type 1 with the SRID flag (0x20000001), SRID 4326 (0x10E6).
        assert!(hex.starts_with("0101000020E6100000"), "{hex}");
    }
}
