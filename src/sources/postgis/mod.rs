//! PostGIS tables as layers (`postgis = "schema.table"` in `[source]`), read at start and on
//! every SIGHUP reload. The connection comes from the configuration (`GRIDLINK_LAYERS_DATABASE`
//! or `[postgis] url` in gridlink.toml), never from a layer file.
//!
//! A table must have a primary key: a bad row is reported by it, and it is what a later live
//! update (trigger + NOTIFY carrying the key) fetches one row by — [`PostgisSource::fetch`]
//! reads chosen rows through exactly the decoding of a full load, so replacing one feature
//! can be validated by the same rules and refused while the old version stays.
//!
//! [`writer`] is the other direction: `gridlink import` writing layers into tables.

pub mod live;

use super::{BATCH, FeatureSink, LayerSource, Location, RawFeature, RawItem, SourceError};
use crate::catalog::{FieldType, LayerDef};
use futures_util::TryStreamExt;
use geozero::ToGeo;
use serde_json::{Map, Number, Value};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Connection, Row};

/// A PostGIS table, checked when opened: it exists, may be read, has a primary key and one
/// geometry column, and its columns cover the catalogue's fields.
pub struct PostgisSource {
    url: String,
    location: Location,
    /// `"schema"."table"`, quoted.
    relation: String,
    /// The primary key as one text expression (columns joined with `/`).
    key: String,
    geometry: String,
    /// Per catalogue field: the select expression, or `None` when the table lacks the column.
    columns: Vec<Option<String>>,
    filter: Option<String>,
    srid: Option<i32>,
    count: Option<u64>,
}

/// `schema.table` as a `postgis` entry of `[source]` names it: without a schema, `public`.
pub fn schema_and_name(table: &str) -> (&str, &str) {
    table.split_once('.').unwrap_or(("public", table))
}

pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Runs a future on a private single-threaded runtime: loading is synchronous work on blocking
/// threads, never on the server's executor.
fn block_on<F: std::future::Future>(future: F) -> std::io::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future))
}

impl PostgisSource {
    /// Opens `table` (`schema.table`, or `table` in `public`) in the layers database.
    pub fn open(
        def: &LayerDef,
        table: &str,
        database: Option<&str>,
    ) -> Result<PostgisSource, SourceError> {
        let location = Location::Table {
            table: table.to_string(),
        };
        let fail = |message: String| SourceError::Unreadable {
            layer: def.id.clone(),
            location: location.clone(),
            message,
        };
        let Some(url) = database else {
            return Err(fail(
                "no layers database is configured: set GRIDLINK_LAYERS_DATABASE or `url` under \
                 [postgis] in gridlink.toml (a layer file never holds a connection)"
                    .into(),
            ));
        };
        let (schema, name) = schema_and_name(table);
        block_on(async {
            let mut conn = PgConnection::connect(url)
                .await
                .map_err(|e| fail(format!("cannot connect to the layers database: {e}")))?;
            let opened = inspect(&mut conn, def, schema, name, url, &location).await;
            let _ = conn.close().await;
            opened
        })
        .map_err(|e| fail(e.to_string()))?
    }

    /// The rows with the given primary keys (as text), decoded as a full load decodes them:
    /// the step a live update applies one changed row with.
    pub fn fetch(&self, def: &LayerDef, keys: &[String]) -> Result<Vec<RawItem>, SourceError> {
        let condition = format!("({}) = ANY($1)", self.key);
        let sql = self.select(Some(&condition));
        let mut items = Vec::new();
        block_on(async {
            let mut conn = PgConnection::connect(&self.url)
                .await
                .map_err(|e| self.unreadable(def, e.to_string()))?;
            let mut rows = sqlx::query(&sql).bind(keys).fetch(&mut conn);
            let mut index = 0;
            while let Some(row) = rows
                .try_next()
                .await
                .map_err(|e| self.unreadable(def, e.to_string()))?
            {
                items.push(self.decode(def, &row, index));
                index += 1;
            }
            Ok(())
        })
        .map_err(|e| self.unreadable(def, e.to_string()))??;
        Ok(items)
    }

    fn unreadable(&self, def: &LayerDef, message: String) -> SourceError {
        SourceError::Unreadable {
            layer: def.id.clone(),
            location: self.location.clone(),
            message,
        }
    }

    fn select(&self, extra: Option<&str>) -> String {
        let mut sql = format!(
            "SELECT ({})::text AS gl_key, ST_AsBinary({}) AS gl_geom",
            self.key,
            quote(&self.geometry)
        );
        for (i, column) in self.columns.iter().enumerate() {
            if let Some(expr) = column {
                sql.push_str(&format!(", {expr} AS gl_f{i}"));
            }
        }
        sql.push_str(&format!(" FROM {}", self.relation));
        let conditions: Vec<String> = self
            .filter
            .iter()
            .map(|f| format!("({f})"))
            .chain(extra.map(str::to_string))
            .collect();
        if !conditions.is_empty() {
            sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
        }
        sql.push_str(&format!(" ORDER BY {}", self.key));
        sql
    }

    fn decode(&self, def: &LayerDef, row: &PgRow, index: usize) -> RawItem {
        let key: Option<String> = row.try_get("gl_key").ok();
        let feature = (|| {
            let wkb: Option<Vec<u8>> = row
                .try_get("gl_geom")
                .map_err(|e| format!("geometry: {e}"))?;
            let wkb = wkb.ok_or_else(|| "feature has no geometry".to_string())?;
            let geometry = geozero::wkb::Wkb(wkb.as_slice())
                .to_geo()
                .map_err(|e| format!("invalid geometry: {e}"))?;
            let mut properties = Map::new();
            for (i, field) in def.fields.iter().enumerate() {
                if self.columns[i].is_none() {
                    continue;
                }
                let name = format!("gl_f{i}");
                let value = match field.kind {
                    FieldType::Integer => row
                        .try_get::<Option<i64>, _>(name.as_str())
                        .map(|v| v.map_or(Value::Null, Value::from)),
                    FieldType::Number => row.try_get::<Option<f64>, _>(name.as_str()).map(|v| {
                        v.map_or(Value::Null, |x| {
                            Number::from_f64(x)
                                .map_or_else(|| Value::String(x.to_string()), Value::Number)
                        })
                    }),
                    FieldType::Boolean => row
                        .try_get::<Option<bool>, _>(name.as_str())
                        .map(|v| v.map_or(Value::Null, Value::Bool)),
                    FieldType::String => row
                        .try_get::<Option<String>, _>(name.as_str())
                        .map(|v| v.map_or(Value::Null, Value::String)),
                }
                .map_err(|e| format!("column for `{}`: {e}", field.name))?;
                properties.insert(field.name.clone(), value);
            }
            let id = properties
                .get(&def.source.id_field)
                .filter(|v| !v.is_null())
                .cloned();
            Ok(RawFeature {
                id,
                geometry,
                properties,
            })
        })();
        RawItem {
            index,
            key,
            feature,
        }
    }
}

/// The SQL that reads a column as the catalogue type, so that a text column holding `500`
/// still fills an integer field and a value that does not convert is that row's problem (it
/// reads as NULL and validation names it), not the whole table's.
fn column_expression(column: &str, pg_type: &str, kind: FieldType) -> String {
    let c = quote(column);
    let numeric = [
        "smallint",
        "integer",
        "bigint",
        "real",
        "double precision",
        "numeric",
    ]
    .iter()
    .any(|t| pg_type.starts_with(t));
    match kind {
        FieldType::String => format!("{c}::text"),
        FieldType::Integer if numeric => {
            format!("CASE WHEN {c} = trunc({c}::numeric) THEN {c}::bigint END")
        }
        FieldType::Integer => format!(
            "CASE WHEN btrim({c}::text) ~ '^[-+]?[0-9]{{1,18}}$' THEN btrim({c}::text)::bigint END"
        ),
        FieldType::Number if numeric => format!("{c}::float8"),
        FieldType::Number => format!(
            "CASE WHEN btrim({c}::text) ~ '^[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$' THEN btrim({c}::text)::float8 END"
        ),
        FieldType::Boolean if pg_type == "boolean" => c,
        FieldType::Boolean => format!(
            "CASE lower(btrim({c}::text)) WHEN 'true' THEN true WHEN 't' THEN true WHEN '1' THEN true \
             WHEN 'false' THEN false WHEN 'f' THEN false WHEN '0' THEN false END"
        ),
    }
}

/// The table's oid, `None` when there is no such table.
pub(super) async fn table_oid(
    conn: &mut PgConnection,
    schema: &str,
    name: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let relation = format!("{}.{}", quote(schema), quote(name));
    let (oid,): (Option<i64>,) = sqlx::query_as("SELECT to_regclass($1)::oid::bigint")
        .bind(&relation)
        .fetch_one(&mut *conn)
        .await?;
    Ok(oid)
}

/// The primary key's columns in key order (empty when the table has none).
pub(super) async fn primary_key(
    conn: &mut PgConnection,
    oid: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let keys: Vec<(String,)> = sqlx::query_as(
        "SELECT a.attname::text FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
    )
    .bind(oid)
    .fetch_all(&mut *conn)
    .await?;
    Ok(keys.into_iter().map(|(k,)| k).collect())
}

/// The table's column names in table order.
pub(super) async fn column_names(
    conn: &mut PgConnection,
    oid: i64,
) -> Result<Vec<String>, sqlx::Error> {
    Ok(columns(conn, oid)
        .await?
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

async fn columns(conn: &mut PgConnection, oid: i64) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
    .bind(oid)
    .fetch_all(&mut *conn)
    .await
}

async fn inspect(
    conn: &mut PgConnection,
    def: &LayerDef,
    schema: &str,
    name: &str,
    url: &str,
    location: &Location,
) -> Result<PostgisSource, SourceError> {
    let fail = |message: String| SourceError::Unreadable {
        layer: def.id.clone(),
        location: location.clone(),
        message,
    };
    let db = |e: sqlx::Error| fail(format!("asking the database: {e}"));
    let relation = format!("{}.{}", quote(schema), quote(name));
    let Some(oid) = table_oid(conn, schema, name).await.map_err(db)? else {
        return Err(fail(format!(
            "there is no table {schema}.{name} in the layers database (check `postgis` in \
             layers/{}.toml; without a schema it is public)",
            def.id
        )));
    };
    let (user, may_read): (String, bool) =
        sqlx::query_as("SELECT current_user::text, has_table_privilege($1::oid, 'SELECT')")
            .bind(oid)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
    if !may_read {
        return Err(fail(format!(
            "the database user {user} may not read it: GRANT SELECT ON {schema}.{name} TO {user}"
        )));
    }
    let keys = primary_key(conn, oid).await.map_err(db)?;
    if keys.is_empty() {
        return Err(fail(format!(
            "the table has no primary key: gridlink names bad rows by it and applies edits by \
             it — ALTER TABLE {schema}.{name} ADD PRIMARY KEY (…)"
        )));
    }
    let key = keys
        .iter()
        .map(|k| format!("{}::text", quote(k)))
        .collect::<Vec<_>>()
        .join(" || '/' || ");
    let geometries: Vec<(String, i32)> = sqlx::query_as(
        "SELECT f_geometry_column::text, srid FROM geometry_columns \
         WHERE f_table_schema = $1 AND f_table_name = $2 ORDER BY f_geometry_column",
    )
    .bind(schema)
    .bind(name)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| fail(format!("is PostGIS installed in the layers database? {e}")))?;
    let (geometry, srid) = match &def.source.geometry_column {
        Some(wanted) => geometries
            .iter()
            .find(|(g, _)| g == wanted)
            .cloned()
            .ok_or_else(|| {
                fail(format!(
                    "has no geometry column {wanted:?} (geometry columns: {})",
                    geometries
                        .iter()
                        .map(|(g, _)| g.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?,
        None if geometries.len() == 1 => geometries[0].clone(),
        None if geometries.is_empty() => {
            return Err(fail("the table has no geometry column".into()));
        }
        None => {
            return Err(fail(format!(
                "has {} geometry columns ({}): name one with `geometry_column` in [source]",
                geometries.len(),
                geometries
                    .iter()
                    .map(|(g, _)| g.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let columns = columns(conn, oid).await.map_err(db)?;
    let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    let matched = super::match_columns(def, &names, location)?;
    let select = def
        .fields
        .iter()
        .zip(&matched)
        .map(|(field, m)| m.map(|i| column_expression(&columns[i].0, &columns[i].1, field.kind)))
        .collect();
    let (count,): (f64,) =
        sqlx::query_as("SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = $1::oid")
            .bind(oid)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
    let source = PostgisSource {
        url: url.to_string(),
        location: location.clone(),
        relation,
        key,
        geometry,
        columns: select,
        filter: def.source.filter.clone(),
        srid: (srid > 0).then_some(srid),
        count: (count > 0.0).then_some(count as u64),
    };
    // Try the statement once, so a bad `where` is named now, with the table.
    let probe = format!("{} LIMIT 0", source.select(None));
    sqlx::query(&probe).execute(&mut *conn).await.map_err(|e| {
        fail(format!(
            "reading it fails{}: {e}",
            if source.filter.is_some() {
                " (is `where` in [source] valid SQL?)"
            } else {
                ""
            }
        ))
    })?;
    Ok(source)
}

impl LayerSource for PostgisSource {
    fn location(&self) -> &Location {
        &self.location
    }

    fn format(&self) -> String {
        "PostGIS".into()
    }

    fn declared_crs(&self) -> Option<String> {
        self.srid.map(|s| format!("EPSG:{s}"))
    }

    fn feature_count(&self) -> Option<u64> {
        self.count
    }

    fn read(&mut self, def: &LayerDef, sink: &mut FeatureSink<'_>) -> Result<(), SourceError> {
        let sql = self.select(None);
        block_on(async {
            let mut conn = PgConnection::connect(&self.url)
                .await
                .map_err(|e| self.unreadable(def, e.to_string()))?;
            let result = async {
                let mut rows = sqlx::query(&sql).fetch(&mut conn);
                let mut batch = Vec::with_capacity(BATCH);
                let mut index = 0;
                while let Some(row) = rows
                    .try_next()
                    .await
                    .map_err(|e| self.unreadable(def, e.to_string()))?
                {
                    batch.push(self.decode(def, &row, index));
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
            .await;
            let _ = conn.close().await;
            result
        })
        .map_err(|e| self.unreadable(def, e.to_string()))?
    }
}
