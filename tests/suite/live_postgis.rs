//! PostGIS layers that update live: `gridlink postgis install-triggers` puts the change trigger
//! on the tables, and a running server shows an insert, a geometry update and a delete in
//! locate, nearest, OGC items and a fresh tile, without a restart (the 2 s bound is a
//! latency figure, measured by `cargo bench --bench live_edits`; here the bound only catches an
//! edit that never shows, with room for a loaded test machine). An invalid edit is
//! refused: the feature keeps its last valid version and `/healthz` lists the refusal.
//! The database is the machine's PostgreSQL (`GRIDLINK_TEST_DATABASE_URL`, default `test`).

use crate::common;

use common::tile_of;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use geo::{Contains, Coord, InteriorPoint, MultiPolygon, Point};
use gridlink::catalog::{Catalog, Role};
use gridlink::http::{AppState, router};
use gridlink::services::Viewer;
use gridlink::sources::SourceContext;
use gridlink::spatial::{GeometryRef, LayerStore, SharedStore};
use mvt_reader::Reader;
use mvt_reader::feature::Value as MvtValue;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long an edit may take to show before the test calls it lost. Not the latency target
/// (2 s, see `benches/live_edits.rs`): a test machine busy with other builds once took longer
/// to rebuild the grid after a village edit.
const VISIBLE_WITHIN: Duration = Duration::from_secs(15);

fn gridlink(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_gridlink"))
        .current_dir(common::repo())
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "gridlink {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, bytes::Bytes) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let (status, _, body) = common::send(app.clone(), request).await;
    (status, body)
}

async fn json(app: &axum::Router, path: &str) -> Value {
    let (status, body) = get(app, path).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).unwrap()
}

/// Polls `check` until it holds; returns how long that took, failing past [`VISIBLE_WITHIN`].
async fn within<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < VISIBLE_WITHIN,
            "{what}: not visible within {VISIBLE_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `code` values in a fresh tile of `layer` around `p`.
async fn codes_in_tile(app: &axum::Router, layer: &str, p: Point<f64>) -> Vec<String> {
    let z = 16;
    let (x, y) = tile_of(p.x(), p.y(), z);
    let (status, body) = get(app, &format!("/tiles/{layer}/{z}/{x}/{y}.mvt")).await;
    assert!(status.is_success(), "tile: {status}");
    if body.is_empty() {
        return Vec::new();
    }
    let reader = Reader::new(body.to_vec()).unwrap();
    reader
        .get_features(0)
        .unwrap()
        .into_iter()
        .filter_map(|f| match f.properties?.get("code")? {
            MvtValue::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// The cell locate answers for `p` (null when no cell holds it: a 404 `outside_district`).
async fn cell_at(app: &axum::Router, p: Point<f64>) -> Value {
    let (status, body) = get(app, &format!("/api/locate?lon={}&lat={}", p.x(), p.y())).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    match status {
        StatusCode::OK => body["cell"]["id"].clone(),
        StatusCode::NOT_FOUND => Value::Null,
        other => panic!("locate: {other} {body}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_in_postgis_show_up_live_and_invalid_edits_keep_the_last_valid_version() {
    let url = common::cases::pg_url();
    let schema = format!("gridlink_live_{}", std::process::id());
    for id in ["grid_cells", "shelters"] {
        let file = common::demo_dir().join(format!("{id}.geojson"));
        gridlink(&[
            "import",
            "--from",
            file.to_str().unwrap(),
            "--layer",
            id,
            "--schema",
            &schema,
            "--to",
            &url,
        ]);
    }
    let live = ["grid_cells", "shelters"];
    let layers = common::catalogue(&live, |id| format!("postgis = \"{schema}.{id}\""));
    let layers_dir = layers.path().to_str().unwrap().to_string();
    let out = gridlink(&[
        "postgis",
        "install-triggers",
        "--layers-dir",
        &layers_dir,
        "--layers-database",
        &url,
    ]);
    assert!(
        out.contains("grid_cells") && out.contains("trigger installed"),
        "{out}"
    );

    let catalog = Catalog::load(layers.path(), &common::tables_dir()).unwrap();
    let ctx = SourceContext::new(common::demo_dir(), Some(url.clone())).unwrap();
    let ctx_for_load = SourceContext::new(common::demo_dir(), Some(url.clone())).unwrap();
    let store = tokio::task::spawn_blocking(move || LayerStore::load_with(catalog, &ctx_for_load))
        .await
        .unwrap()
        .expect("loads");
    assert_eq!(store.layer("grid_cells").unwrap().report.format, "PostGIS");
    let store = SharedStore::new(store);
    let task = gridlink::spatial::live::spawn(store.clone(), ctx).await;
    assert!(task.is_some(), "the live loop follows the PostGIS layers");
    let mut state = AppState::new(store.clone(), common::tables());
    state.default_viewer = Viewer::Staff;
    let app = router(state);
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let sql = |text: String| {
        let pool = pool.clone();
        async move {
            sqlx::raw_sql(&text).execute(&pool).await.unwrap();
        }
    };

    // A cell, a point inside it, and a second point of it away from that one.
    let snapshot = store.snapshot();
    let cells = snapshot.by_role(Role::GridCell).unwrap();
    let i = cells.len() / 3;
    let code = cells.id(i).to_string();
    let GeometryRef::Polygons(original) = cells.geometry(i) else {
        panic!("cells are polygons")
    };
    let original: MultiPolygon<f64> = original.clone();
    let p = original.interior_point().unwrap();
    let small = 0.00005;
    let q = original.0[0]
        .exterior()
        .0
        .iter()
        .map(|v| Point::from(*v + (Coord::from(p) - *v) * 0.15))
        .find(|c| {
            original.contains(c) && ((c.x() - p.x()).abs() > small || (c.y() - p.y()).abs() > small)
        })
        .expect("a second point in the cell");
    assert_eq!(cell_at(&app, p).await, code.as_str());
    assert!(codes_in_tile(&app, "grid_cells", p).await.contains(&code));
    let table = format!("\"{schema}\".grid_cells");
    let mut timings = Vec::new();

    // Delete: locate no longer finds the cell, a fresh tile no longer draws it.
    sql(format!(
        "CREATE TABLE \"{schema}\".saved AS SELECT * FROM {table} WHERE code = '{code}'; \
         DELETE FROM {table} WHERE code = '{code}'"
    ))
    .await;
    timings.push(
        within("delete in locate", || async {
            cell_at(&app, p).await != code.as_str()
        })
        .await,
    );
    assert!(!codes_in_tile(&app, "grid_cells", p).await.contains(&code));

    // Insert it back as a small square around p only.
    sql(format!(
        "INSERT INTO {table} SELECT * FROM \"{schema}\".saved; \
         UPDATE {table} SET geom = ST_Multi(ST_Expand(ST_SetSRID(ST_MakePoint({}, {}), 4326), {small})) \
         WHERE code = '{code}'",
        p.x(),
        p.y()
    ))
    .await;
    timings.push(
        within("insert in locate", || async {
            cell_at(&app, p).await == code.as_str()
        })
        .await,
    );
    assert!(codes_in_tile(&app, "grid_cells", p).await.contains(&code));
    assert_ne!(
        cell_at(&app, q).await,
        code.as_str(),
        "q lies outside the square"
    );

    // Geometry update: the original shape back, so q is in the cell again.
    sql(format!(
        "UPDATE {table} t SET geom = s.geom FROM \"{schema}\".saved s WHERE t.code = '{code}'"
    ))
    .await;
    timings.push(
        within("update in locate", || async {
            cell_at(&app, q).await == code.as_str()
        })
        .await,
    );

    // An invalid edit (a self-intersecting bow tie) is refused; the cell keeps its shape.
    sql(format!(
        "UPDATE {table} SET geom = ST_Multi(ST_GeomFromText('POLYGON(({a} {b}, {c} {d}, {a} {d}, {c} {b}, {a} {b}))', 4326)) \
         WHERE code = '{code}'",
        a = p.x() - 0.0005,
        b = p.y() - 0.0005,
        c = p.x() + 0.0005,
        d = p.y() + 0.0005,
    ))
    .await;
    within("refusal in /healthz", || async {
        let health = json(&app, "/healthz").await;
        health["live_edits"]["grid_cells"]["refused_total"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    })
    .await;
    let health = json(&app, "/healthz").await;
    let refusal = &health["live_edits"]["grid_cells"]["refused"][0];
    assert_eq!(refusal["id"], code.as_str(), "{health}");
    assert!(refusal["reason"].is_string(), "{health}");
    assert_eq!(
        cell_at(&app, q).await,
        code.as_str(),
        "the last valid shape stays"
    );
    assert!(codes_in_tile(&app, "grid_cells", p).await.contains(&code));

    // A point layer: a new shelter appears in nearest and OGC items, moves, and goes.
    let shelters = format!("\"{schema}\".shelters");
    let nearest = |lon: f64, lat: f64| {
        let app = app.clone();
        async move {
            json(
                &app,
                &format!("/api/nearest/shelters?lon={lon}&lat={lat}&k=1"),
            )
            .await["features"][0]["id"]
                .clone()
        }
    };
    sql(format!(
        "CREATE TABLE \"{schema}\".s1 AS SELECT * FROM {shelters} LIMIT 1; \
         UPDATE \"{schema}\".s1 SET id = 'LIVE-1', code = 'LIVE-1', \
           geom = ST_SetSRID(ST_MakePoint({}, {}), 4326); \
         INSERT INTO {shelters} SELECT * FROM \"{schema}\".s1",
        p.x(),
        p.y()
    ))
    .await;
    timings.push(
        within("insert in nearest", || async {
            nearest(p.x(), p.y()).await == "LIVE-1"
        })
        .await,
    );
    assert_eq!(
        get(&app, "/ogc/collections/shelters/items/LIVE-1").await.0,
        StatusCode::OK
    );
    let (fx, fy) = (p.x() + 0.03, p.y() + 0.02);
    sql(format!(
        "UPDATE {shelters} SET geom = ST_SetSRID(ST_MakePoint({fx}, {fy}), 4326) WHERE id = 'LIVE-1'"
    ))
    .await;
    timings.push(
        within("move in nearest", || async {
            nearest(fx, fy).await == "LIVE-1"
        })
        .await,
    );
    assert_ne!(nearest(p.x(), p.y()).await, "LIVE-1");
    sql(format!("DELETE FROM {shelters} WHERE id = 'LIVE-1'")).await;
    timings.push(
        within("delete in OGC items", || async {
            get(&app, "/ogc/collections/shelters/items/LIVE-1").await.0 == StatusCode::NOT_FOUND
        })
        .await,
    );
    let worst = timings.iter().max().unwrap();
    println!(
        "edit to visible: worst {worst:?} over {} edits",
        timings.len()
    );

    // Taking the triggers off again works too.
    let out = gridlink(&[
        "postgis",
        "remove-triggers",
        "--layers-dir",
        &layers_dir,
        "--layers-database",
        &url,
    ]);
    assert!(out.contains("trigger removed"), "{out}");
    sql(format!("DROP SCHEMA \"{schema}\" CASCADE")).await;
}
