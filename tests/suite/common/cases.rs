//! Case fixtures: the real router with a case service on SQLite (temp file) or on PostgreSQL
//! (a fresh schema in the machine's `test` database), a settable clock, and one key per role.
#![allow(dead_code)]

use super::{send, shared_store, tables};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use gridlink::cases::{CaseService, Clock, Role, keys};
use gridlink::db::Db;
use gridlink::http::{AppState, router};
use serde_json::Value;

pub const START_MS: i64 = 1_795_910_400_000; // 2026-11-29T00:00:00Z

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

pub fn pg_url() -> String {
    std::env::var("GRIDLINK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub struct Keys {
    pub dispatcher: String,
    pub supervisor: String,
    pub admin: String,
    /// A unit key for the unit the demo routes the standard test case to, and one for another.
    pub units: Vec<(String, String)>,
}

impl Keys {
    pub fn unit_key_owned(&self) -> String {
        self.units[0].1.clone()
    }
}

pub struct CaseApp {
    pub state: AppState,
    pub service: CaseService,
    pub clock: Clock,
    pub keys: Keys,
    /// Where this app's uploaded photos go (a fresh directory per app).
    pub photos_dir: tempfile::TempDir,
    _dir: Option<tempfile::TempDir>,
}

static SCHEMA_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

pub async fn open_db(backend: Backend) -> (Db, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let db = Db::connect_sqlite(&dir.path().join("cases.sqlite"))
                .await
                .expect("sqlite opens");
            (db, Some(dir))
        }
        Backend::Postgres => {
            drop_stale_schemas().await;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let schema = format!(
                "t_{now}_{}_{}",
                std::process::id(),
                SCHEMA_SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            );
            let db = Db::connect_postgres_schema(&pg_url(), &schema)
                .await
                .expect("PostgreSQL with PostGIS on 127.0.0.1:5432 (scripts/setup-test-env.sh)");
            (db, None)
        }
    }
}

/// Schemas (`t_{unix seconds}_{pid}_{n}`) left by test runs over an hour old; newer ones may
/// belong to a test process running right now.
async fn drop_stale_schemas() {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let Ok(pool) = sqlx::PgPool::connect(&pg_url()).await else {
            return;
        };
        let names: Vec<String> =
            sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%'")
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
        let hour_ago = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .saturating_sub(3600);
        for schema in names {
            let created: u64 = schema
                .split('_')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if created < hour_ago {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&pool)
                    .await;
            }
        }
        pool.close().await;
    })
    .await;
}

/// Units of the demo data: (unit code that routing picks for `TEST_CLASS` at `TEST_POINT`, …).
pub const TEST_CLASS: &str = "C0101";
pub const TEST_POINT: (f64, f64) = (121.4602, 30.9191);

pub async fn case_app(backend: Backend) -> CaseApp {
    let (db, dir) = open_db(backend).await;
    let clock = Clock::fixed(START_MS);
    let service = CaseService::start(db.clone(), clock.clone())
        .await
        .expect("case service starts");
    let photos_dir = tempfile::tempdir().expect("temp dir");
    service.attach_photos(
        gridlink::photos::PhotoStore::local(photos_dir.path()).expect("photo store"),
    );
    let mut state = AppState::new(shared_store().clone(), tables());
    state.cases = Some(service.clone());
    let key = |role: Role, unit: Option<&str>| {
        let db = db.clone();
        let unit = unit.map(str::to_string);
        async move {
            keys::create(&db, role, unit.as_deref(), Some(role.as_str()), START_MS)
                .await
                .expect("key")
                .secret
        }
    };
    let routed = routed_unit();
    let other = other_unit(&routed);
    let keys = Keys {
        dispatcher: key(Role::Dispatcher, None).await,
        supervisor: key(Role::Supervisor, None).await,
        admin: key(Role::Admin, None).await,
        units: vec![
            (routed.clone(), key(Role::Unit, Some(&routed)).await),
            (other.clone(), key(Role::Unit, Some(&other)).await),
        ],
    };
    CaseApp {
        state,
        service,
        clock,
        keys,
        photos_dir,
        _dir: dir,
    }
}

/// The unit routing names for `TEST_CLASS` at `TEST_POINT` (asked of the spatial API itself).
pub fn routed_unit() -> String {
    let store = super::demo_store();
    let tables = tables();
    let grid = store.grid.as_ref().expect("grid");
    let p = geo::Coord {
        x: TEST_POINT.0,
        y: TEST_POINT.1,
    };
    let at = gridlink::services::locate::locate(grid, p, 5.0).expect("inside");
    let cells = store
        .by_role(gridlink::catalog::Role::GridCell)
        .expect("cells");
    let r = gridlink::services::routing::route(
        store,
        &tables,
        TEST_CLASS,
        p,
        cells.id(at.cell as usize),
        1,
    )
    .expect("routes");
    let (u, _) = r.responsible.expect("a unit");
    store
        .by_role(u.role)
        .expect("units")
        .id(u.index)
        .to_string()
}

/// Some other unit of the same layer.
pub fn other_unit(not: &str) -> String {
    let store = super::demo_store();
    for role in [
        gridlink::catalog::Role::DistrictUnit,
        gridlink::catalog::Role::TownUnit,
    ] {
        let layer = store.by_role(role).expect("units");
        if layer.find(not).is_some() {
            return (0..layer.len())
                .map(|i| layer.id(i).to_string())
                .find(|id| id != not)
                .expect("two units");
        }
    }
    panic!("unit {not} not found")
}

impl CaseApp {
    pub fn app(&self) -> axum::Router {
        router(self.state.clone())
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let body = match body {
            Some(v) => {
                request = request.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let (status, _, bytes) = send(self.app(), request.body(body).unwrap()).await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    /// Reports the standard test case anonymously; its id.
    pub async fn report(&self) -> i64 {
        self.report_at(TEST_POINT, TEST_CLASS).await
    }

    pub async fn report_at(&self, (lon, lat): (f64, f64), class: &str) -> i64 {
        let (status, body) = self
            .call(
                "POST",
                "/api/cases",
                None,
                Some(serde_json::json!({"class": class, "lon": lon, "lat": lat, "description": "井盖缺失，有行人跌落风险"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().expect("id")
    }

    /// Takes an action; panics unless it succeeds.
    pub async fn act(&self, id: i64, key: &str, action: Value) -> Value {
        let (status, body) = self
            .call(
                "POST",
                &format!("/api/cases/{id}/actions"),
                Some(key),
                Some(action.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{action} → {body}");
        body
    }

    pub fn unit_key(&self) -> &str {
        &self.keys.units[0].1
    }

    pub fn other_unit_key(&self) -> &str {
        &self.keys.units[1].1
    }
}

/// A live `/api/stream` opened through the router, read one SSE frame at a time.
pub struct EventStream {
    body: axum::body::Body,
}

impl EventStream {
    /// Opens the stream with `?key=` (as browsers' EventSource does); panics unless it is 200
    /// `text/event-stream`.
    pub async fn open(app: axum::Router, key: &str) -> EventStream {
        use tower::ServiceExt;
        let request = Request::get(format!("/api/stream?key={key}"))
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        EventStream {
            body: response.into_body(),
        }
    }

    /// The response body, to read to its end.
    pub fn into_body(self) -> Body {
        self.body
    }

    /// The next frame's text; panics if none arrives within 5 s.
    pub async fn next_text(&mut self) -> String {
        use http_body_util::BodyExt;
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), self.body.frame())
            .await
            .expect("an event within 5 s")
            .expect("stream open")
            .expect("frame");
        String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap()
    }

    /// The next frame of one event kind (`alert`, `case`, …), passing over the others the
    /// stream also carries (an alert may propose an incident, whose event can come first).
    #[allow(dead_code)]
    pub async fn next_of(&mut self, kind: &str) -> String {
        let head = format!("event: {kind}\n");
        loop {
            let text = self.next_text().await;
            if text.starts_with(&head) || text.contains(&format!("\n{head}")) {
                return text;
            }
        }
    }
}
