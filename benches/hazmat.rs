//! The leak-zone analysis end to end, in process, on one core.
//!
//! `cargo bench --bench hazmat`. The demo dataset (scale 1, `target/bench-data`, generated on
//! first use as `benches/locate.rs` does; `GRIDLINK_BENCH_DATA` points elsewhere).
//!
//! - `service/…`: `services::hazmat::analyse` — zones, every exposure list (protected targets,
//!   hazard sources, villages, shelters, cameras, unit grid cells) and the safe shelters — for
//!   the worst case of the table (chlorine, large spill, night: 600 m isolation and an 8 km
//!   protective square over the urban centre, ~6,000 grid cells), a small toxic spill, and a
//!   low-wind case (the widened zone).
//! - `router/large chlorine night`: the same through `POST /api/hazmat/zone`, with the API key
//!   check and the JSON answer. Target: ≤ 20 ms.
//! - `allocate/…`: `services::allocate::plan` after that leak, with the two zones as
//!   exclusion zones — many groups × many shelters × few zones: the protective action zone's
//!   people by grid cells (one group per village), and 20,000 people of one point just east
//!   of the isolation circle, whose nearest shelters lie behind it. `allocate/…, no zones` is
//!   the same plan without exclusion zones (straight lines only): the baseline in the same run.

use criterion::{Criterion, criterion_group, criterion_main};
use geo::Coord;
use gridlink::cases::{CaseService, Clock, Role as CaseRole, keys};
use gridlink::catalog::Role;
use gridlink::catalog::{CodeTables, Spill, TimeOfDay};
use gridlink::db::Db;
use gridlink::http::{AppState, router};
use gridlink::services::Viewer;
use gridlink::services::allocate::{self, Demand, Scope, Zone};
use gridlink::services::hazmat::{Origin, Request, analyse};
use gridlink::services::occupancy::Live;
use gridlink::spatial::SharedStore;
use std::time::Duration;
use tower::ServiceExt;

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use common::{repo, store};

/// Nanqiao, the district seat: the densest place for a release to happen.
const NANQIAO: Coord<f64> = Coord {
    x: 121.4602,
    y: 30.9191,
};

fn bench(c: &mut Criterion) {
    let store = store();
    let tables = CodeTables::load(&repo().join("data")).expect("tables");
    let request = |chemical, spill, speed| Request {
        origin: Origin::Point(NANQIAO),
        chemical: Some(chemical),
        spill,
        time: TimeOfDay::Night,
        wind_from_deg: 45.0,
        wind_speed_ms: speed,
    };
    let worst = request("chlorine", Spill::Large, 4.0);
    let live = Live::default();
    let answer = analyse(&store, &tables, &worst, Viewer::Staff, &live).expect("analysis");
    eprintln!(
        "large chlorine night: {} cells, {} exposure features",
        answer.cells.as_ref().map_or(0, |c| c.count),
        answer.groups.iter().map(|g| g.total).sum::<usize>()
    );

    // The allocation after the worst case: its zones as exclusion zones.
    let zones = answer.zones.clone();
    let mut exclude = vec![Zone::new(
        "isolation",
        geo::MultiPolygon(vec![zones.isolation.clone()]),
    )];
    let protective = zones.protective.clone().expect("a protective action zone");
    exclude.push(Zone::new(
        "protective_action",
        geo::MultiPolygon(vec![protective.clone()]),
    ));
    let people =
        allocate::people_in_area(&store, &geo::MultiPolygon(vec![protective]), Scope::Covered)
            .expect("people");
    let shelters = store.by_role(Role::Shelter).expect("shelters");
    let plan_request = |demands: Vec<Demand>, exclude: Vec<Zone>| allocate::Request {
        demands,
        exclude,
        detour_factor: allocate::DEFAULT_DETOUR_FACTOR,
        max_walking_m: None,
    };
    // 700 m east of the spill: just outside the 600 m isolation circle, upwind of the plume.
    let east = Coord {
        x: NANQIAO.x + 700.0 / 95_600.0,
        y: NANQIAO.y,
    };
    let point = vec![Demand {
        origin: east,
        people: 20_000,
        village: None,
        cells: 0,
    }];
    let allocations = [
        (
            "allocate/protective zone by cells",
            plan_request(people.demands.clone(), exclude.clone()),
        ),
        (
            "allocate/protective zone by cells, no zones",
            plan_request(people.demands.clone(), Vec::new()),
        ),
        (
            "allocate/point east of the circle",
            plan_request(point.clone(), exclude.clone()),
        ),
        (
            "allocate/point east of the circle, no zones",
            plan_request(point, Vec::new()),
        ),
    ];
    for (name, request) in &allocations {
        let plan = allocate::plan(shelters, &live, request);
        eprintln!(
            "{name}: {} groups, {} assignments ({} round the zones), {} blocked pairs, {} placed, {} unplaced",
            request.demands.len(),
            plan.assignments.len(),
            plan.assignments.iter().filter(|a| a.path.len() > 2).count(),
            plan.blocked.len(),
            plan.placed,
            plan.unplaced
        );
    }

    let mut group = c.benchmark_group("hazmat");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(10));
    for (name, req) in [
        ("service/large chlorine night", worst),
        (
            "service/small ammonia night",
            request("ammonia", Spill::Small, 4.0),
        ),
        (
            "service/large chlorine low wind",
            request("chlorine", Spill::Large, 1.0),
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                std::hint::black_box(
                    analyse(&store, &tables, &req, Viewer::Staff, &live).expect("analysis"),
                )
            })
        });
    }

    for (name, request) in &allocations {
        group.bench_function(*name, |b| {
            b.iter(|| std::hint::black_box(allocate::plan(shelters, &live, request)))
        });
    }

    // Through the router, with a dispatcher's key (the endpoint is staff only), so the key
    // lookup is part of the figure.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (service, key) = runtime.block_on(async {
        let db = Db::connect_sqlite(&dir.path().join("cases.sqlite"))
            .await
            .expect("sqlite");
        let now = 1_795_910_400_000;
        let service = CaseService::start(db.clone(), Clock::fixed(now))
            .await
            .expect("case service");
        let key = keys::create(&db, CaseRole::Dispatcher, None, Some("bench"), now)
            .await
            .expect("key")
            .secret;
        (service, key)
    });
    let mut state = AppState::new(SharedStore::new(store), tables);
    state.cases = Some(service);
    let app = router(state);
    let body = serde_json::json!({"lon": NANQIAO.x, "lat": NANQIAO.y, "chemical": "chlorine",
        "spill": "large", "time": "night", "wind_from_deg": 45.0, "wind_speed_ms": 4.0})
    .to_string();
    let call = || {
        let request = axum::http::Request::post("/api/hazmat/zone")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {key}"))
            .body(axum::body::Body::from(body.clone()))
            .expect("request");
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.expect("answer");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            (status, bytes)
        }
    };
    let (status, bytes) = runtime.block_on(call());
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    eprintln!("router: {status}, {} bytes", bytes.len());
    group.bench_function("router/large chlorine night", |b| {
        b.iter(|| std::hint::black_box(runtime.block_on(call())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
