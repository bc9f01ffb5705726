//! Incidents' performance targets, in process, each with its baseline in the same run.
//!
//! `cargo bench --bench incidents`. The demo dataset (scale 1, `target/bench-data`, generated
//! on first use as `benches/locate.rs` does; `GRIDLINK_BENCH_DATA` points elsewhere), the
//! application database on SQLite in a temp dir.
//!
//! - `nearest team/…`: the nearest available flood team to Nanqiao with half of all teams busy
//!   (`incidents::resources::nearest_teams`, the R-tree walked outwards) vs `…/full scan`: every
//!   team's distance computed and sorted (the baseline). Target ≤ 1 ms.
//! - `nearest team with equipment/…`: the nearest available team of any type carrying a boat
//!   and breathing apparatus (`GET /api/teams?equipment=boat,breathing_apparatus`), likewise.
//! - `nearest depot/…`: the nearest depot holding ≥ 2,000 sandbags, likewise.
//! - `page/500 tasks`: an incident with 500 tasks — its page data as `GET /api/incidents/{id}`
//!   builds it (incident, timeline, tasks, names, JSON) vs `page/tasks only` (reading the 500
//!   task rows). Target ≤ 50 ms.
//! - `proposal/…`: `POST /api/feeds/readings` through the router with a reading that raises a
//!   red alert and stores its flood proposal (an alert episode already open: the proposal is
//!   raised or added to) vs `…/no alert`: the same request with a reading that raises nothing.
//!   Target: within 1 s of the reading arriving.

use criterion::Criterion;
use geo::Coord;
use gridlink::cases::{CaseService, Clock, Role as CaseRole, keys};
use gridlink::catalog::{CodeTables, Role};
use gridlink::db::Db;
use gridlink::feeds::{FeedConfig, FeedService};
use gridlink::http::{AppState, router};
use gridlink::incidents::resources::{self, Resources, TeamState, TeamStatus};
use gridlink::spatial::SharedStore;
use gridlink::spatial::index::metres_to;
use std::time::Duration;
use tower::ServiceExt;

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NANQIAO: Coord<f64> = Coord {
    x: 121.4602,
    y: 30.9191,
};

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` only builds this.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3));
    let store = common::store();
    let tables = CodeTables::load(&common::repo().join("data")).expect("tables");
    let plans = &tables.plans;

    // Half the teams busy, every depot's register stock.
    let teams = store.by_role(Role::Team).expect("teams");
    let depots = store.by_role(Role::SupplyDepot).expect("depots");
    let mut live = Resources::default();
    for i in 0..teams.len() {
        let status = if i % 2 == 0 {
            TeamStatus::Assigned
        } else {
            TeamStatus::Standby
        };
        live.teams.insert(
            teams.id(i).to_string(),
            TeamState {
                status,
                task: None,
                incident: None,
                updated_at: 0,
            },
        );
    }
    for (depot, item, n) in resources::seed(&store, plans).stock {
        live.stock.entry(depot).or_default().insert(item, n);
    }
    let flood = plans.team_kind("flood").expect("flood teams").kind.clone();
    let filter = resources::TeamFilter {
        kind: Some(&flood),
        available: true,
        equipment: &[],
    };
    let found = resources::nearest_teams(teams, &live, NANQIAO, &filter, 1);
    eprintln!(
        "{} teams, nearest available flood team: {:?}",
        teams.len(),
        found.first().map(|&(i, d)| (teams.id(i), d.round()))
    );
    let full_scan = || {
        let mut all: Vec<(usize, f64)> = (0..teams.len())
            .filter(|&i| matches!(teams.property(i, "kind"), Some(gridlink::spatial::PropertyValue::Text(k)) if k == flood))
            .filter(|&i| live.team_status(teams.id(i)) == TeamStatus::Standby)
            .map(|i| (i, metres_to(NANQIAO, teams.geometry(i))))
            .collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1));
        all.first().copied()
    };
    assert_eq!(
        full_scan().map(|f| f.0),
        found.first().map(|f| f.0),
        "both find the same team"
    );
    let mut group = c.benchmark_group("incidents");
    group.bench_function("nearest team/r-tree", |b| {
        b.iter(|| std::hint::black_box(resources::nearest_teams(teams, &live, NANQIAO, &filter, 1)))
    });
    group.bench_function("nearest team/full scan", |b| {
        b.iter(|| std::hint::black_box(full_scan()))
    });
    // Any available team carrying a boat and breathing apparatus (`?equipment=boat,…`): the
    // register text is read per candidate.
    let kit = ["冲锋舟", "正压式空气呼吸器"];
    let with_kit = resources::TeamFilter {
        kind: None,
        available: true,
        equipment: &kit,
    };
    let kit_scan = || {
        let mut all: Vec<(usize, f64)> = (0..teams.len())
            .filter(|&i| with_kit.admits(teams, &live, i))
            .map(|i| (i, metres_to(NANQIAO, teams.geometry(i))))
            .collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1));
        all.first().copied()
    };
    let found = resources::nearest_teams(teams, &live, NANQIAO, &with_kit, 1);
    assert!(
        !found.is_empty(),
        "a team with a boat and breathing apparatus"
    );
    assert_eq!(kit_scan().map(|f| f.0), found.first().map(|f| f.0));
    group.bench_function("nearest team with equipment/r-tree", |b| {
        b.iter(|| {
            std::hint::black_box(resources::nearest_teams(
                teams, &live, NANQIAO, &with_kit, 1,
            ))
        })
    });
    group.bench_function("nearest team with equipment/full scan", |b| {
        b.iter(|| std::hint::black_box(kit_scan()))
    });
    group.bench_function("nearest depot/r-tree", |b| {
        b.iter(|| {
            std::hint::black_box(resources::depots_holding(
                depots, &live, NANQIAO, "sandbag", 2000, 1,
            ))
        })
    });
    group.bench_function("nearest depot/full scan", |b| {
        b.iter(|| {
            let mut all: Vec<(usize, f64)> = (0..depots.len())
                .filter(|&i| live.quantity(depots.id(i), "sandbag") >= 2000)
                .map(|i| (i, metres_to(NANQIAO, depots.geometry(i))))
                .collect();
            all.sort_by(|a, b| a.1.total_cmp(&b.1));
            std::hint::black_box(all.first().copied())
        })
    });

    // The application database and a router over it.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let shared = SharedStore::new(store);
    let (state, key) = runtime.block_on(async {
        let db = Db::connect_sqlite(&dir.path().join("bench.sqlite"))
            .await
            .expect("sqlite");
        let clock = Clock::system();
        let cases = CaseService::start(db.clone(), clock.clone())
            .await
            .expect("cases");
        let config =
            FeedConfig::load(&common::repo().join("data/thresholds.toml")).expect("thresholds");
        let feeds = FeedService::start(db.clone(), shared.clone(), config, clock.clone())
            .await
            .expect("feeds");
        let key = keys::create(&db, CaseRole::Dispatcher, None, Some("bench"), clock.now())
            .await
            .expect("key")
            .secret;
        let mut state = AppState::new(
            shared.clone(),
            CodeTables::load(&common::repo().join("data")).expect("tables"),
        );
        state.cases = Some(cases);
        state.feeds = Some(feeds);
        (state, key)
    });
    let app = router(state.clone());
    let call = |method: &str, path: String, body: serde_json::Value| {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {key}"))
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.expect("answer");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            assert!(
                status.is_success(),
                "{status}: {}",
                String::from_utf8_lossy(&bytes)
            );
            serde_json::from_slice::<serde_json::Value>(&bytes).expect("json")
        }
    };

    // An incident with 500 tasks.
    let id = runtime.block_on(async {
        let page = call("POST", "/api/incidents".into(), serde_json::json!({"plan": "flood", "level": "IV", "lon": NANQIAO.x, "lat": NANQIAO.y})).await;
        let id = page["incident"]["id"].as_i64().expect("id");
        let have = page["tasks"].as_array().map_or(0, Vec::len);
        for n in have..500 {
            call("POST", format!("/api/incidents/{id}/tasks"), serde_json::json!({"kind": "patrol", "title": format!("巡查 {n}"), "unit": "CZD004", "deadline_min": 60})).await;
        }
        id
    });
    let db = state.cases.as_ref().expect("cases").db.clone();
    let page = runtime
        .block_on(state.incidents.page(&db, id))
        .expect("page");
    eprintln!(
        "incident {id}: {} tasks, {} timeline entries",
        page.tasks.len(),
        page.timeline.len()
    );
    group.bench_function("page/500 tasks", |b| {
        b.iter(|| {
            runtime.block_on(call(
                "GET",
                format!("/api/incidents/{id}"),
                serde_json::Value::Null,
            ))
        })
    });
    group.bench_function("page/tasks only", |b| {
        b.iter(|| {
            runtime
                .block_on(gridlink::incidents::store::tasks(&db, id))
                .expect("tasks")
        })
    });

    // Readings: alternately low and red at one gauge, one minute apart, so every other reading
    // raises a red alert and its proposal.
    let gauge = shared
        .snapshot()
        .by_role(Role::RainGauge)
        .expect("gauges")
        .id(0)
        .to_string();
    let start = chrono::Utc::now().timestamp_millis() - 30 * 24 * 3600 * 1000;
    let minute = std::sync::atomic::AtomicI64::new(0);
    let reading = |value: f64| {
        let n = minute.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let time = chrono::DateTime::from_timestamp_millis(start + n * 60_000)
            .expect("time")
            .to_rfc3339();
        serde_json::json!([{"station": gauge, "time": time, "kind": "rain_1h", "value": value}])
    };
    group.bench_function("proposal/red alert and proposal (two readings)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                call("POST", "/api/feeds/readings".into(), reading(1.0)).await;
                let answer = call("POST", "/api/feeds/readings".into(), reading(120.0)).await;
                assert!(
                    !answer["proposals"]
                        .as_array()
                        .expect("proposals")
                        .is_empty()
                );
            })
        })
    });
    group.bench_function("proposal/no alert (two readings)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                call("POST", "/api/feeds/readings".into(), reading(1.0)).await;
                call("POST", "/api/feeds/readings".into(), reading(2.0)).await;
            })
        })
    });
    group.finish();
    c.final_summary();
}
