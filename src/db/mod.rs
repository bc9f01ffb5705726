//! The application database: one room for every table the server writes (cases, keys, photos'
//! links, feed readings and alerts, shelter reports, and the domains still to come), whatever
//! domain owns them. SQLite is the embedded default (one WAL file); PostgreSQL/PostGIS lets
//! several servers share one database.
//!
//! This folder knows connections, migrations, the health probe, this server's name among the
//! servers sharing the database, the one [`on_db!`] dispatch over the two back ends and
//! LISTEN/NOTIFY ([`notify`]). It knows no domain: each domain room keeps its own queries in
//! its own `store.rs` and calls down here. Floor 7 of the house (see the crate doc), under
//! `spatial` (whose live PostGIS layers listen through [`notify`]): it imports nothing from
//! the crate.
//!
//! The two back ends are two typed pools rather than sqlx's `Any` driver, so PostgreSQL keeps
//! its own types and PostGIS functions; [`on_db!`] runs one body on either.

pub mod notify;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Why the database could not be opened or asked.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite:PATH or postgres://…")]
    BadUrl(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl DbError {
    fn invalid(field: &str, message: impl Into<String>) -> DbError {
        DbError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// The pool of one back end; [`on_db!`] matches on it.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The application database: a connection pool, migrated, and this server's name in the
/// notices it sends ([`notify`]). Cheap to clone; clones are the same server.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    /// Random per connection: two servers (or two connections opened in one test) never share
    /// it, so each can tell its own notices from the others'.
    instance: Arc<str>,
    /// SQLite's stand-in for LISTEN/NOTIFY: every handle on the same file in this process
    /// shares it (unused on PostgreSQL).
    hub: Arc<notify::Hub>,
}

/// Runs `$body` once for whichever back end `$db` (a [`Db`]) has: `$pool` is its typed pool
/// and `$sql` turns SQL written with SQLite's `?` placeholders into the back end's (`$1, $2,
/// …` on PostgreSQL, see [`numbered`]). The one place the two back ends part.
macro_rules! on_db {
    ($db:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match $db.pool() {
            $crate::db::Pool::Sqlite($pool) => {
                let $sql = $crate::db::sqlite_sql;
                $body
            }
            $crate::db::Pool::Postgres($pool) => {
                let $sql = $crate::db::postgres_sql;
                $body
            }
        }
    };
}
pub(crate) use on_db;

/// SQLite's SQL as written.
pub fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    Cow::Borrowed(sql)
}

/// PostgreSQL's SQL: the placeholders numbered.
pub fn postgres_sql(sql: &str) -> Cow<'_, str> {
    Cow::Owned(numbered(sql))
}

/// A multi-row `INSERT`: `head`, then `rows` copies of `row` (`(?, ?, …)`) joined by commas,
/// then `tail` (`ON CONFLICT …`, `RETURNING id`). Every domain's batched writes build their
/// statements with it, so the statement text of a given row count is always the same (and
/// prepared once).
pub fn multi_row(head: &str, row: &str, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + rows * (row.len() + 2) + tail.len());
    sql.push_str(head);
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(row);
    }
    sql.push_str(tail);
    sql
}

/// Splits `n` rows into statement sizes of `max` rows, then the binary digits of the rest
/// (`max` a power of two), so a batch of any size uses at most log2(`max`) + 1 statement texts.
pub fn chunk_sizes(n: usize, max: usize) -> Vec<usize> {
    let mut sizes = vec![max; n / max];
    let rest = n % max;
    let mut bit = max / 2;
    while bit > 0 {
        if rest & bit != 0 {
            sizes.push(bit);
        }
        bit /= 2;
    }
    sizes
}

/// `?` → `$1, $2, …`: the back ends share SQL written with SQLite's placeholders, PostgreSQL
/// gets them numbered (the SQL in gridlink never has `?` inside string literals).
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

impl Db {
    fn new(pool: Pool, hub: Arc<notify::Hub>) -> Db {
        let instance: [u8; 8] = rand::random();
        Db {
            pool,
            instance: hex::encode(instance).into(),
            hub,
        }
    }

    /// Opens (creating if needed) and migrates the database at `url`: `sqlite:PATH`, a plain
    /// path, or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            Self::connect_postgres(options).await
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            if path.is_empty() {
                return Err(DbError::BadUrl(url.to_string()));
            }
            Self::connect_sqlite(Path::new(path)).await
        }
    }

    /// SQLite in WAL mode with `synchronous = FULL`: a commit is on disk when it returns, which
    /// is what "durable before the 2xx" needs (NORMAL could lose the last commits on power loss).
    pub async fn connect_sqlite(path: &Path) -> Result<Db, DbError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                DbError::invalid("database", format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(Db::new(Pool::Sqlite(pool), notify::Hub::for_file(path)))
    }

    pub async fn connect_postgres(options: PgConnectOptions) -> Result<Db, DbError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await?;
        POSTGRES_MIGRATIONS.run(&pool).await?;
        Ok(Db::new(Pool::Postgres(pool), Arc::default()))
    }

    /// PostgreSQL with every table in `schema` (created if missing): tests and several
    /// deployments can share one database.
    pub async fn connect_postgres_schema(url: &str, schema: &str) -> Result<Db, DbError> {
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(DbError::invalid("schema", "letters, digits and _ only"));
        }
        let base = PgConnectOptions::from_str(url)?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(base.clone())
            .await?;
        let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&admin)
            .await;
        admin.close().await;
        match created {
            Ok(_) => {}
            // `IF NOT EXISTS` is not atomic: a second connection creating the same schema at
            // the same moment (two servers starting together) fails on the catalogue's unique
            // index; the schema exists, which is all this asked for.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {}
            Err(e) => return Err(e.into()),
        }
        Self::connect_postgres(base.options([("search_path", format!("{schema},public"))])).await
    }

    /// The typed pool, for [`on_db!`].
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// This server's name among those sharing the database (in every notice it sends).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Answers when the database does (the health check's probe).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_db!(self, |pool, _sql| {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        })
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_row_with_few_statement_sizes() {
        for n in [0, 1, 255, 256, 257, 1000, 20_000] {
            let sizes = chunk_sizes(n, 256);
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().all(|s| s.is_power_of_two() && *s <= 256));
        }
        assert_eq!(chunk_sizes(1000, 256), vec![256, 256, 256, 128, 64, 32, 8]);
    }

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered("a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
        assert_eq!(sqlite_sql("a = ?"), "a = ?");
        assert_eq!(postgres_sql("a = ? OR b = ?"), "a = $1 OR b = $2");
    }

    #[tokio::test]
    async fn sqlite_urls_are_read_and_an_empty_path_is_refused() {
        assert!(matches!(
            Db::connect("sqlite:").await,
            Err(DbError::BadUrl(_))
        ));
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("a/b.sqlite").display());
        let db = Db::connect(&url).await.expect("opens, creating the folder");
        assert_eq!(db.backend(), "sqlite");
        db.ping().await.expect("answers");
        db.close().await;
        assert!(db.ping().await.is_err(), "a closed pool does not answer");
    }
}
