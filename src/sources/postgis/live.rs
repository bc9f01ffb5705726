//! Live edits of PostGIS layers: the database side. `gridlink postgis install-triggers` puts a
//! row trigger on each layer table that sends `NOTIFY gridlink_layers` with the table, the
//! operation, the row's key and — for updates and deletes — the old key and feature id, so the
//! server can fetch just the changed rows ([`super::PostgisSource::fetch`]) and take a deleted
//! feature out without having to read it back. A statement trigger announces `TRUNCATE`.
//!
//! Why a trigger and not logical replication: a trigger works with a plain `SELECT`-and-owner
//! account on any PostgreSQL, and the notification is sent at commit, so a rolled-back edit
//! is never seen and a transaction's edits arrive together.

use super::{SourceError, quote};
use crate::catalog::LayerDef;
use crate::sources::Location;
use sqlx::PgConnection;

/// The channel every layer trigger notifies on.
pub const CHANNEL: &str = "gridlink_layers";
/// The row trigger's name on each layer table (the truncate trigger adds `_truncate`).
pub const TRIGGER: &str = "gridlink_live";
const FUNCTION: &str = "gridlink_layer_changed";

/// What the trigger announces for one row (or one truncate).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Change {
    /// `schema.table`, unquoted, as the trigger sees it.
    pub table: String,
    pub op: Op,
    /// The row's primary key as text (columns joined with `/`), after the change.
    #[serde(default)]
    pub key: Option<String>,
    /// The key before an update or delete.
    #[serde(default)]
    pub old_key: Option<String>,
    /// The feature id (the layer's `id_field` column) before an update or delete.
    #[serde(default)]
    pub old_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Op {
    Insert,
    Update,
    Delete,
    Truncate,
}

impl Change {
    pub fn parse(payload: &str) -> Result<Change, String> {
        serde_json::from_str(payload).map_err(|e| format!("not a layer change ({e}): {payload}"))
    }
}

/// `schema.table` for a `postgis` entry of `[source]` (no schema means `public`), the form the
/// trigger announces.
pub fn qualified(table: &str) -> String {
    let (schema, name) = super::schema_and_name(table);
    format!("{schema}.{name}")
}

/// The trigger function, created in the table's schema. Its arguments are the id column then
/// the key columns; the key is built as [`super::PostgisSource`] builds it (`a/b`).
fn function_sql(schema: &str) -> String {
    format!(
        r#"CREATE OR REPLACE FUNCTION {schema}.{FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  key_new text; key_old text; id_old text; rec jsonb;
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_notify('{CHANNEL}', json_build_object(
      'table', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, 'op', TG_OP)::text);
    RETURN NULL;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    rec := to_jsonb(NEW);
    SELECT string_agg(rec ->> a, '/' ORDER BY i) INTO key_new
      FROM unnest(TG_ARGV) WITH ORDINALITY AS t(a, i) WHERE i > 1;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    rec := to_jsonb(OLD);
    SELECT string_agg(rec ->> a, '/' ORDER BY i) INTO key_old
      FROM unnest(TG_ARGV) WITH ORDINALITY AS t(a, i) WHERE i > 1;
    id_old := rec ->> TG_ARGV[0];
  END IF;
  PERFORM pg_notify('{CHANNEL}', json_build_object(
    'table', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, 'op', TG_OP,
    'key', key_new, 'old_key', key_old, 'old_id', id_old)::text);
  RETURN NULL;
END
$fn$"#
    )
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Puts the triggers on the layer's table (replacing earlier ones). Needs the table's owner.
pub async fn install(
    conn: &mut PgConnection,
    def: &LayerDef,
    table: &str,
) -> Result<(), SourceError> {
    let (schema, name) = split(table);
    let location = Location::Table {
        table: table.to_string(),
    };
    let fail = |message: String| SourceError::Unreadable {
        layer: def.id.clone(),
        location: location.clone(),
        message,
    };
    let oid = super::table_oid(conn, &schema, &name)
        .await
        .map_err(|e| fail(format!("asking the database: {e}")))?
        .ok_or_else(|| fail(format!("there is no table {schema}.{name}")))?;
    let keys = super::primary_key(conn, oid)
        .await
        .map_err(|e| fail(format!("asking the database: {e}")))?;
    if keys.is_empty() {
        return Err(fail(format!(
            "the table has no primary key: ALTER TABLE {schema}.{name} ADD PRIMARY KEY (…)"
        )));
    }
    let columns = super::column_names(conn, oid)
        .await
        .map_err(|e| fail(format!("asking the database: {e}")))?;
    let matched = crate::sources::match_columns(def, &columns, &location)?;
    let id_column = def
        .field_index(&def.source.id_field)
        .and_then(|f| matched[f])
        .map(|i| columns[i].clone())
        .ok_or_else(|| {
            fail(format!(
                "no column holds the id field `{}`",
                def.source.id_field
            ))
        })?;
    let relation = format!("{}.{}", quote(&schema), quote(&name));
    let args = std::iter::once(&id_column)
        .chain(&keys)
        .map(|a| literal(a))
        .collect::<Vec<_>>()
        .join(", ");
    let statements = [
        function_sql(&quote(&schema)),
        format!("DROP TRIGGER IF EXISTS {TRIGGER} ON {relation}"),
        format!("DROP TRIGGER IF EXISTS {TRIGGER}_truncate ON {relation}"),
        format!(
            "CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {relation} \
             FOR EACH ROW EXECUTE FUNCTION {}.{FUNCTION}({args})",
            quote(&schema)
        ),
        format!(
            "CREATE TRIGGER {TRIGGER}_truncate AFTER TRUNCATE ON {relation} \
             FOR EACH STATEMENT EXECUTE FUNCTION {}.{FUNCTION}({})",
            quote(&schema),
            literal(&id_column)
        ),
    ];
    for sql in statements {
        sqlx::raw_sql(&sql).execute(&mut *conn).await.map_err(|e| {
            fail(format!(
                "installing the change trigger failed ({e}); it needs the table's owner"
            ))
        })?;
    }
    Ok(())
}

/// Takes the triggers off the table.
pub async fn remove(conn: &mut PgConnection, table: &str) -> Result<(), sqlx::Error> {
    let (schema, name) = split(table);
    let relation = format!("{}.{}", quote(&schema), quote(&name));
    sqlx::raw_sql(&format!(
        "DROP TRIGGER IF EXISTS {TRIGGER} ON {relation}; \
         DROP TRIGGER IF EXISTS {TRIGGER}_truncate ON {relation}"
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the table has the row trigger (a layer without it is read at start and on SIGHUP
/// only; the server says so).
pub async fn installed(conn: &mut PgConnection, table: &str) -> Result<bool, sqlx::Error> {
    let (schema, name) = split(table);
    let (found,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = $2 AND t.tgname = $3)",
    )
    .bind(&schema)
    .bind(&name)
    .bind(TRIGGER)
    .fetch_one(conn)
    .await?;
    Ok(found)
}

fn split(table: &str) -> (String, String) {
    let (schema, name) = super::schema_and_name(table);
    (schema.to_string(), name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_and_garbage_is_named() {
        let c = Change::parse(
            r#"{"table":"gis.shelters","op":"UPDATE","key":"7","old_key":"7","old_id":"SH7"}"#,
        )
        .unwrap();
        assert_eq!(c.op, Op::Update);
        assert_eq!(c.old_id.as_deref(), Some("SH7"));
        let t = Change::parse(r#"{"table":"gis.shelters","op":"TRUNCATE"}"#).unwrap();
        assert_eq!((t.op, t.key), (Op::Truncate, None));
        assert!(
            Change::parse("hello")
                .unwrap_err()
                .contains("not a layer change")
        );
    }

    #[test]
    fn tables_without_schema_are_public() {
        assert_eq!(qualified("towns"), "public.towns");
        assert_eq!(qualified("gis.towns"), "gis.towns");
    }
}
