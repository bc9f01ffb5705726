//! Field positions through the real router, on SQLite and on PostgreSQL: intake with per-row
//! refusals, keys that may post only for their own workers, the live index (nearest, inside,
//! the workers' tile layer), tracks, fences with enter/exit/cross exactly once on scripted
//! tracks written out by hand, the stream and the webhook, patrol coverage against an
//! independent computation on three beats, and idempotent case reports from the field page.

use crate::common;

use axum::http::StatusCode;
use common::cases::{BACKENDS, Backend, CaseApp, EventStream, START_MS, case_app};
use geo::{BoundingRect, Contains, Distance, Geodesic, InteriorPoint, Intersects, Point};
use gridlink::cases::{Role, keys};
use gridlink::catalog::Role as LayerRole;
use gridlink::field::{FieldConfig, FieldService, WorkerType};
use gridlink::spatial::GeometryRef;
use serde_json::{Value, json};

struct Field {
    app: CaseApp,
    field: FieldService,
}

async fn field_app_with(backend: Backend, config: FieldConfig) -> Field {
    let mut app = case_app(backend).await;
    let field = FieldService::start(
        app.service.db.clone(),
        common::shared_store().clone(),
        config,
        app.clock.clone(),
    )
    .await
    .expect("field service starts");
    app.state.field = Some(field.clone());
    Field { app, field }
}

async fn field_app(backend: Backend) -> Field {
    field_app_with(backend, FieldConfig::default()).await
}

/// RFC 3339 of START_MS + `s` seconds.
fn at(s: i64) -> String {
    gridlink::cases::clock::rfc3339(START_MS + s * 1000)
}

/// The n-th inspector of the registry (sorted by id) and the n-th vehicle.
fn inspector(field: &FieldService, n: usize) -> String {
    let workers = field.workers();
    let mut ids: Vec<&str> = workers
        .list
        .iter()
        .filter(|w| w.kind == WorkerType::Inspector)
        .map(|w| &*w.id)
        .collect();
    ids.sort();
    ids[n].to_string()
}

fn vehicle(field: &FieldService, n: usize) -> String {
    let workers = field.workers();
    let mut ids: Vec<&str> = workers
        .list
        .iter()
        .filter(|w| w.kind == WorkerType::Vehicle)
        .map(|w| &*w.id)
        .collect();
    ids.sort();
    ids[n].to_string()
}

impl Field {
    async fn post(&self, key: &str, fixes: Value) -> (StatusCode, Value) {
        self.app
            .call("POST", "/api/positions", Some(key), Some(fixes))
            .await
    }

    async fn post_ok(&self, fixes: Value) -> Value {
        let (status, body) = self.post(&self.app.keys.admin, fixes).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self
            .app
            .call("GET", path, Some(&self.app.keys.dispatcher), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// A key bound to `workers` (a phone or a gateway).
    async fn bound_key(&self, workers: &[&str]) -> String {
        let db = &self.app.service.db;
        let created = keys::create(db, Role::Supervisor, None, Some("phone"), START_MS)
            .await
            .unwrap();
        for w in workers {
            gridlink::field::store::bind(db, created.id, w)
                .await
                .unwrap();
        }
        created.secret
    }

    async fn events_of(&self, fence: &str) -> Vec<(String, String)> {
        let body = self.get(&format!("/api/fence-events?fence={fence}")).await;
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["worker"].as_str().unwrap().to_string(),
                    e["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

fn fix(who: &str, s: i64, lon: f64, lat: f64) -> Value {
    json!({"who": who, "time": at(s), "lon": lon, "lat": lat})
}

fn reasons(body: &Value) -> Vec<(u64, String)> {
    body["rejected"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn bad_rows_are_refused_one_by_one_with_reasons_and_the_good_ones_stored() {
    for backend in BACKENDS {
        let f = field_app(backend).await;
        let w = inspector(&f.field, 0);
        let body = f
            .post_ok(json!([
                fix(&w, -600, 121.4600, 30.9190),
                fix("nobody", -590, 121.4600, 30.9190),
                {"who": w, "time": at(-580), "lon": 221.0, "lat": 30.9},
                {"who": w, "time": at(-570), "lon": "east", "lat": 30.9},
                fix(&w, 600, 121.4601, 30.9190),
                fix(&w, -600, 121.4600, 30.9190),
                fix(&w, -700, 121.4600, 30.9190),
                fix(&w, -590, 121.5600, 30.9190),
                {"who": w, "time": "yesterday", "lon": 121.46, "lat": 30.919},
                fix(&w, -580, 116.4, 39.9),
                {"who": w, "time": at(-560), "lon": 121.4602, "lat": 30.9190, "heading": 400},
                fix(&w, -550, 121.4603, 30.9190),
            ]))
            .await;
        assert_eq!(body["accepted"], 2, "{backend:?}: {body}");
        assert_eq!(
            reasons(&body),
            vec![
                (2, "unknown_worker".into()),
                (3, "bad_coordinate".into()),
                (4, "bad_coordinate".into()),
                (5, "future_time".into()),
                (6, "duplicate".into()),
                (7, "out_of_order".into()),
                (8, "too_fast".into()),
                (9, "bad_time".into()),
                (10, "outside_area".into()),
                (11, "bad_value".into()),
            ],
            "{backend:?}: {body}"
        );
        // The newest fix is in the live index and survives a restart.
        let latest = f.field.latest(&w).expect("live");
        assert_eq!(latest.time, START_MS - 550_000);
        let again = FieldService::start(
            f.app.service.db.clone(),
            common::shared_store().clone(),
            FieldConfig::default(),
            f.app.clock.clone(),
        )
        .await
        .unwrap();
        assert_eq!(
            again.latest(&w).map(|l| (l.time, l.lon)),
            Some((START_MS - 550_000, 121.4603))
        );
        // After the restart, a repeat is still a duplicate and an older fix still out of order.
        let mut state = f.app.state.clone();
        state.field = Some(again);
        let (status, body) = call_with(
            &state,
            &f.app.keys.admin,
            json!([
                fix(&w, -550, 121.4603, 30.9190),
                fix(&w, -900, 121.46, 30.919)
            ]),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "rows[1]");
        let rejected: Vec<&str> = body["error"]["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reason"].as_str().unwrap())
            .collect();
        assert_eq!(rejected, vec!["duplicate", "out_of_order"]);
        // The track holds exactly the two accepted fixes.
        let track = f
            .get(&format!(
                "/api/workers/{w}/track?since={}&simplify=0",
                at(-3600)
            ))
            .await;
        assert_eq!(track["properties"]["fixes"], 2, "{track}");
        assert_eq!(track["geometry"]["type"], "LineString");
    }
}

async fn call_with(
    state: &gridlink::http::AppState,
    key: &str,
    body: Value,
) -> (StatusCode, Value) {
    let request = axum::http::Request::post("/api/positions")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let (status, _, bytes) = common::send(gridlink::http::router(state.clone()), request).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_key_posts_only_for_its_own_workers_and_csv_and_other_crs_are_taken() {
    for backend in BACKENDS {
        let f = field_app(backend).await;
        let mine = inspector(&f.field, 1);
        let other = inspector(&f.field, 2);
        let phone = f.bound_key(&[&mine]).await;
        let (status, body) = f
            .post(
                &phone,
                json!([
                    fix(&mine, -60, 121.46, 30.919),
                    fix(&other, -60, 121.46, 30.919)
                ]),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "not_your_worker");
        assert_eq!(body["error"]["field"], "rows[2].who");
        assert!(
            f.field.latest(&mine).is_none(),
            "{backend:?}: nothing of a refused request is stored"
        );
        // An unbound staff key may post for nobody; the public not at all.
        let (status, _) = f
            .post(
                &f.app.keys.dispatcher,
                json!([fix(&mine, -60, 121.46, 30.919)]),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = f
            .app
            .call(
                "POST",
                "/api/positions",
                None,
                Some(json!([fix(&mine, -60, 121.46, 30.919)])),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // GCJ-02 from a Chinese map SDK, converted to WGS84.
        let (status, body) = f
            .post(
                &phone,
                json!({"crs": "gcj02", "fixes": [fix(&mine, -60, 121.4650, 30.9170)]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (lon, lat) = coordtransform::gcj02_to_wgs84(121.4650, 30.9170);
        let latest = f.field.latest(&mine).unwrap();
        assert!((latest.lon - lon).abs() < 1e-9 && (latest.lat - lat).abs() < 1e-9);
        // CSV with a header in another order.
        let csv = format!(
            "lat,lon,time,who,speed\n30.9171,121.4651,{},{mine},1.2\n",
            START_MS - 30_000
        );
        let request = axum::http::Request::post("/api/positions")
            .header("authorization", format!("Bearer {phone}"))
            .header("content-type", "text/csv")
            .body(axum::body::Body::from(csv))
            .unwrap();
        let (status, _, bytes) = common::send(f.app.app(), request).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(f.field.latest(&mine).unwrap().speed, Some(1.2));
    }
}

/// The scripted fences: S, a square of 0.002° (about 190 × 220 m), and T, a small one
/// (about 48 × 55 m) a vehicle jumps over.
const S: [f64; 4] = [121.4600, 30.9180, 121.4620, 30.9200];
const T: [f64; 4] = [121.4700, 30.9180, 121.4705, 30.9185];

fn square(b: [f64; 4]) -> Value {
    json!({"type": "Polygon", "coordinates": [[[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]], [b[0], b[1]]]]})
}

#[tokio::test]
async fn enter_exit_and_cross_are_raised_exactly_once_per_crossing_on_scripted_tracks() {
    for backend in BACKENDS {
        let f = field_app(backend).await;
        for (id, b) in [("scripted-s", S), ("scripted-t", T)] {
            let (status, body) = f
                .app
                .call(
                    "POST",
                    "/api/fences",
                    Some(&f.app.keys.dispatcher),
                    Some(json!({"id": id, "name": id, "kind": "incident", "geometry": square(b)})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let mut stream = EventStream::open(f.app.app(), &f.app.keys.dispatcher).await;
        assert!(stream.next_text().await.contains("event: ready"));
        let (a, b, c) = (
            inspector(&f.field, 3),
            vehicle(&f.field, 0),
            inspector(&f.field, 4),
        );
        // A walks in from the west, steps on the east border (inside still), back in, out to
        // the east, grazes the border from outside and leaves: one enter, one exit.
        // B drives straight over T between two fixes: one cross, neither enter nor exit.
        // C walks along S's south border from outside to outside: nothing.
        let body = f
            .post_ok(json!([
                fix(&a, -400, 121.4590, 30.9190),
                fix(&a, -380, 121.4605, 30.9190),
                fix(&a, -360, 121.4610, 30.9190),
                fix(&a, -340, 121.4620, 30.9190),
                fix(&a, -320, 121.4615, 30.9195),
                fix(&a, -300, 121.4630, 30.9195),
                fix(&a, -280, 121.4620, 30.9198),
                fix(&a, -260, 121.4630, 30.9205),
                fix(&b, -400, 121.4690, 30.91825),
                fix(&b, -380, 121.4715, 30.91825),
                fix(&b, -360, 121.4715, 30.9190),
                fix(&c, -400, 121.4595, 30.9180),
                fix(&c, -380, 121.4605, 30.9180),
                fix(&c, -360, 121.4615, 30.9180),
                fix(&c, -340, 121.4625, 30.9180),
            ]))
            .await;
        assert_eq!(body["accepted"], 15, "{body}");
        // Sent again (a gateway retrying after a timeout): all duplicates, no event again.
        let (status, _) = f
            .post(
                &f.app.keys.admin,
                json!([
                    fix(&a, -380, 121.4605, 30.9190),
                    fix(&b, -380, 121.4715, 30.91825)
                ]),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            f.events_of("scripted-s").await,
            vec![(a.clone(), "enter".into()), (a.clone(), "exit".into())],
            "{backend:?}"
        );
        assert_eq!(
            f.events_of("scripted-t").await,
            vec![(b.clone(), "cross".into())],
            "{backend:?}"
        );
        // The stream carried the same three crossings (and position batches).
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let text = stream.next_text().await;
            if text.contains("event: fence") && text.contains("scripted-") {
                let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                let e: Value = serde_json::from_str(data).unwrap();
                seen.push((
                    e["fence"].as_str().unwrap().to_string(),
                    e["kind"].as_str().unwrap().to_string(),
                ));
            }
        }
        assert_eq!(
            seen,
            vec![
                ("scripted-s".to_string(), "enter".to_string()),
                ("scripted-s".into(), "exit".into()),
                ("scripted-t".into(), "cross".into())
            ]
        );
        // A posted fence a worker already stands in raises enter on its next fix.
        let (status, _) = f
            .app
            .call("POST", "/api/fences", Some(&f.app.keys.dispatcher), Some(json!({"id": "late", "name": "late", "geometry": square([121.4625, 30.9200, 121.4640, 30.9210])})))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        f.post_ok(json!([fix(&a, -240, 121.4631, 30.9205)])).await;
        assert_eq!(f.events_of("late").await, vec![(a.clone(), "enter".into())]);
        // Who is inside, by the newest fixes.
        let inside = f.get("/api/workers/inside?fence=late").await;
        assert_eq!(inside["workers"].as_array().unwrap().len(), 1, "{inside}");
        assert_eq!(inside["workers"][0]["who"], a.as_str());
    }
}

#[tokio::test]
async fn fences_that_are_invalid_or_larger_than_the_district_are_refused() {
    let f = field_app(Backend::Sqlite).await;
    let post = |body: Value| {
        f.app.call(
            "POST",
            "/api/fences",
            Some(&f.app.keys.dispatcher),
            Some(body),
        )
    };
    let bowtie = json!({"type": "Polygon", "coordinates": [[[121.46, 30.91], [121.47, 30.92], [121.47, 30.91], [121.46, 30.92], [121.46, 30.91]]]});
    let (status, body) = post(json!({"name": "x", "geometry": bowtie})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("geometry")),
        "{body}"
    );
    let (status, body) =
        post(json!({"name": "x", "geometry": square([120.0, 30.0, 122.5, 32.0])})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("geometry")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("district")
    );
    let (status, body) =
        post(json!({"name": "x", "geometry": {"type": "Point", "coordinates": [121.46, 30.91]}}))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = f
        .app
        .call(
            "POST",
            "/api/fences",
            Some(f.app.unit_key()),
            Some(json!({"name": "x", "geometry": square(S)})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = post(json!({"id": "beats/x", "name": "x", "geometry": square(S)})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = post(json!({"id": "beats/x", "name": "x", "geometry": square(S)})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = f
        .app
        .call(
            "DELETE",
            "/api/fences/beats/x",
            Some(&f.app.keys.dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn nearest_available_workers_follow_their_newest_fixes() {
    for backend in BACKENDS {
        let f = field_app(backend).await;
        let origin = geo::Coord {
            x: 121.4600,
            y: 30.9190,
        };
        // Ten inspectors at known places; one reported 20 minutes ago (off duty).
        let mut fixes = Vec::new();
        let mut fixes_at = Vec::new();
        let mut expected = Vec::new();
        for n in 0..10 {
            let w = inspector(&f.field, 10 + n);
            let p = geo::Coord {
                x: 121.4600 + 0.0011 * n as f64 * if n % 2 == 0 { 1.0 } else { -1.0 },
                y: 30.9190 + 0.0007 * (n % 3) as f64,
            };
            let s = if n == 1 { -1200 } else { -30 };
            fixes.push(fix(&w, s, p.x, p.y));
            fixes_at.push(p);
            if n != 1 {
                expected.push((Geodesic.distance(Point(origin), Point(p)), w));
            }
        }
        f.post_ok(Value::Array(fixes)).await;
        expected.sort_by(|a, b| a.0.total_cmp(&b.0));
        let body = f
            .get("/api/nearest-workers?lon=121.46&lat=30.919&type=inspector&limit=5")
            .await;
        let got: Vec<(String, f64)> = body["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["worker"]["id"].as_str().unwrap().to_string(),
                    w["distance_m"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got.iter().map(|g| g.0.clone()).collect::<Vec<_>>(),
            expected
                .iter()
                .take(5)
                .map(|e| e.1.clone())
                .collect::<Vec<_>>(),
            "{backend:?}"
        );
        for ((_, m), (d, _)) in got.iter().zip(&expected) {
            assert!((m - d).abs() < 0.5 + d * 0.002, "{m} vs {d}");
        }
        // available=false includes the stale one; a bad type is a 400 naming it.
        let body = f.get("/api/nearest-workers?lon=121.46&lat=30.919&type=inspector&limit=10&available=false").await;
        assert_eq!(body["workers"].as_array().unwrap().len(), 10);
        let (status, body) = f
            .app
            .call(
                "GET",
                "/api/nearest-workers?lon=121.46&lat=30.919&type=bus",
                Some(&f.app.keys.dispatcher),
                None,
            )
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("type"))
        );
        let (status, _) = f
            .app
            .call(
                "GET",
                "/api/nearest-workers?lon=121.46&lat=30.919",
                None,
                None,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "where inspectors are is not public"
        );
        // The live layer's tile holds them, for key holders only.
        let (x, y) = common::tile_of(121.46, 30.919, 14);
        let in_tile = fixes_at
            .iter()
            .filter(|p| common::tile_of(p.x, p.y, 14) == (x, y))
            .count();
        let tile = format!("/tiles/workers/14/{x}/{y}.mvt");
        let (status, _) = f.app.call("GET", &tile, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let request = axum::http::Request::get(&tile)
            .header("authorization", format!("Bearer {}", f.app.keys.dispatcher))
            .body(axum::body::Body::empty())
            .unwrap();
        let (status, _, bytes) = common::send(f.app.app(), request).await;
        assert_eq!(status, StatusCode::OK);
        let reader = mvt_reader::Reader::new(bytes.to_vec()).unwrap();
        let features = reader.get_features(0).unwrap();
        assert!(
            features.len() >= in_tile && in_tile >= 1 && features.len() <= 10,
            "{} features, {in_tile} in the tile",
            features.len()
        );
    }
}

/// WGS84 metres per degree of latitude and longitude at `lat` (meridian and prime-vertical
/// radii of curvature), written out here independently of gridlink's own.
fn per_degree(lat: f64) -> (f64, f64) {
    let a = 6_378_137.0_f64;
    let e2 = 6.694_379_990_14e-3_f64;
    let phi = lat.to_radians();
    let w = (1.0 - e2 * phi.sin().powi(2)).sqrt();
    let m = a * (1.0 - e2) / (w * w * w);
    let n = a / w;
    (m.to_radians(), n.to_radians() * phi.cos())
}

/// Distance from point p to segment a–b in a plane.
fn point_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    };
    ((p[0] - a[0] - t * dx).powi(2) + (p[1] - a[1] - t * dy).powi(2)).sqrt()
}

fn segments_cross(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let orient = |p: [f64; 2], q: [f64; 2], r: [f64; 2]| {
        (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    };
    let (o1, o2, o3, o4) = (
        orient(a, b, c),
        orient(a, b, d),
        orient(c, d, a),
        orient(c, d, b),
    );
    o1 * o2 < 0.0 && o3 * o4 < 0.0
}

/// Brute force: the distance from segment a–b to a polygon given as rings in the plane (0 when
/// an end lies inside or the segment crosses an edge).
fn segment_polygon(a: [f64; 2], b: [f64; 2], rings: &[Vec<[f64; 2]>]) -> f64 {
    let inside = |p: [f64; 2]| {
        // Even-odd ray casting over every ring.
        let mut odd = false;
        for ring in rings {
            for w in ring.windows(2) {
                let (u, v) = (w[0], w[1]);
                if (u[1] > p[1]) != (v[1] > p[1])
                    && p[0] < u[0] + (p[1] - u[1]) / (v[1] - u[1]) * (v[0] - u[0])
                {
                    odd = !odd;
                }
            }
        }
        odd
    };
    if inside(a) || inside(b) {
        return 0.0;
    }
    let mut best = f64::INFINITY;
    for ring in rings {
        for w in ring.windows(2) {
            if segments_cross(a, b, w[0], w[1]) {
                return 0.0;
            }
            best = best
                .min(point_segment(a, w[0], w[1]))
                .min(point_segment(b, w[0], w[1]))
                .min(point_segment(w[0], a, b))
                .min(point_segment(w[1], a, b));
        }
    }
    best
}

#[tokio::test]
async fn patrol_coverage_on_three_beats_equals_a_brute_force_computation() {
    const RADIUS: f64 = 30.0;
    const GAP_S: i64 = 300;
    let store = common::demo_store();
    let beats = store.by_role(LayerRole::Beat).unwrap();
    let cells = store.by_role(LayerRole::GridCell).unwrap();
    // Three beats with several cells each, spread over the list.
    let cells_of = |b: usize| -> Vec<usize> {
        let GeometryRef::Polygons(shape) = beats.geometry(b) else {
            unreachable!()
        };
        let bbox = shape.bounding_rect().unwrap();
        (0..cells.len())
            .filter(|&c| {
                let GeometryRef::Polygons(m) = cells.geometry(c) else {
                    return false;
                };
                let r = m.bounding_rect().unwrap();
                r.intersects(&bbox) && m.interior_point().is_some_and(|p| shape.contains(&p))
            })
            .collect()
    };
    let mut chosen = Vec::new();
    let mut b = 0;
    while chosen.len() < 3 && b < beats.len() {
        let c = cells_of(b);
        if c.len() >= 9 {
            chosen.push((b, c));
            b += beats.len() / 5;
        } else {
            b += 1;
        }
    }
    assert_eq!(chosen.len(), 3);
    for backend in BACKENDS {
        let f = field_app(backend).await;
        let mut expected = Vec::new();
        for (b, beat_cells) in &chosen {
            let beat = beats.id(*b);
            let worker = format!("{beat}-1");
            // The track: the interior points of every other cell of the first two thirds of the
            // beat's cells (in code order), a minute apart, with one gap of ten minutes before
            // the third fix (not joined).
            let mut fixes = Vec::new();
            let mut s = -3 * 3600;
            let walked_cells = beat_cells.len() * 2 / 3;
            for &c in beat_cells[..walked_cells].iter().step_by(2) {
                let GeometryRef::Polygons(m) = cells.geometry(c) else {
                    unreachable!()
                };
                let p = m.interior_point().unwrap();
                s += if fixes.len() == 2 { 600 } else { 60 };
                fixes.push((s, p.x(), p.y()));
            }
            let body = f
                .post_ok(Value::Array(
                    fixes
                        .iter()
                        .map(|&(s, x, y)| fix(&worker, s, x, y))
                        .collect(),
                ))
                .await;
            assert_eq!(
                body["accepted"].as_u64().unwrap() as usize,
                fixes.len(),
                "{body}"
            );
            // Brute force in the beat's own plane.
            let GeometryRef::Polygons(shape) = beats.geometry(*b) else {
                unreachable!()
            };
            let centre = shape.bounding_rect().unwrap().center();
            let (m_lat, m_lon) = per_degree(centre.y);
            let plane = |x: f64, y: f64| [(x - centre.x) * m_lon, (y - centre.y) * m_lat];
            let mut pieces: Vec<([f64; 2], [f64; 2])> = Vec::new();
            let mut time_on_beat = 0.0;
            let mut walked = 0.0;
            for i in 0..fixes.len() {
                let (s, x, y) = fixes[i];
                let before = i > 0 && s - fixes[i - 1].0 <= GAP_S;
                let after = i + 1 < fixes.len() && fixes[i + 1].0 - s <= GAP_S;
                if before {
                    let (s0, x0, y0) = fixes[i - 1];
                    pieces.push((plane(x0, y0), plane(x, y)));
                    if shape.intersects(&Point::new(x0, y0)) && shape.intersects(&Point::new(x, y))
                    {
                        time_on_beat += (s - s0) as f64;
                        walked += Geodesic.distance(Point::new(x0, y0), Point::new(x, y));
                    }
                } else if !after {
                    pieces.push((plane(x, y), plane(x, y)));
                }
            }
            let passed = beat_cells
                .iter()
                .filter(|&&c| {
                    let GeometryRef::Polygons(m) = cells.geometry(c) else {
                        unreachable!()
                    };
                    m.0.iter().any(|poly| {
                        let rings: Vec<Vec<[f64; 2]>> = std::iter::once(poly.exterior())
                            .chain(poly.interiors())
                            .map(|r| r.coords().map(|c| plane(c.x, c.y)).collect())
                            .collect();
                        pieces
                            .iter()
                            .any(|&(a, b)| segment_polygon(a, b, &rings) <= RADIUS)
                    })
                })
                .count();
            expected.push((
                beat.to_string(),
                beat_cells.len(),
                passed,
                time_on_beat,
                walked,
            ));
        }
        let list: Vec<&str> = expected.iter().map(|e| e.0.as_str()).collect();
        let body = f
            .get(&format!(
                "/api/coverage?date=2026-11-29&beat={}&radius={RADIUS}",
                list.join(",")
            ))
            .await;
        for (beat, n_cells, passed, time_on_beat, walked) in &expected {
            let got = body["beats"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["beat"] == beat.as_str())
                .expect("the beat");
            assert_eq!(
                got["cells"].as_u64().unwrap() as usize,
                *n_cells,
                "{backend:?} {beat}"
            );
            assert_eq!(
                got["cells_passed"].as_u64().unwrap() as usize,
                *passed,
                "{backend:?} {beat}: {got}"
            );
            assert!(*passed > 0, "the track passes cells of {beat}");
            let me = got["inspectors"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["worker"] == format!("{beat}-1"))
                .unwrap();
            assert_eq!(me["cells_passed"].as_u64().unwrap() as usize, *passed);
            assert_eq!(
                me["time_on_beat_s"].as_f64().unwrap(),
                *time_on_beat,
                "{beat}"
            );
            let d = me["distance_m"].as_f64().unwrap();
            assert!(
                (d - walked).abs() <= 0.005 * walked + 0.5,
                "{beat}: {d} vs {walked}"
            );
        }
        // The map view: the beat's cells with their last visit.
        let one = &expected[0].0;
        let map = f
            .get(&format!(
                "/api/coverage?date=2026-11-29&beat={one}&format=geojson"
            ))
            .await;
        let visited = map["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !c["properties"]["last_visit"].is_null())
            .count();
        assert_eq!(visited, expected[0].2);
        // Another day has nothing.
        let body = f
            .get(&format!("/api/coverage?date=2026-11-27&beat={one}"))
            .await;
        assert_eq!(body["beats"][0]["cells_passed"], 0);
    }
}

#[tokio::test]
async fn a_webhook_gets_every_event_and_one_that_is_down_never_slows_intake() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A webhook that refuses the first delivery (500) and takes the next.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(16);
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            let mut got = 0;
            loop {
                let k = socket.read(&mut buf[got..]).await.unwrap();
                got += k;
                let text = String::from_utf8_lossy(&buf[..got]).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if got >= head_end + 4 + length || k == 0 {
                        n += 1;
                        let status = if n == 1 {
                            "500 Internal Server Error"
                        } else {
                            "200 OK"
                        };
                        socket
                            .write_all(
                                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n")
                                    .as_bytes(),
                            )
                            .await
                            .unwrap();
                        if n > 1 {
                            tx.send(text[head_end + 4..].to_string()).await.unwrap();
                        }
                        break;
                    }
                }
                if k == 0 {
                    break;
                }
            }
        }
    });
    let config = FieldConfig {
        webhook: Some(format!("http://127.0.0.1:{port}/hook")),
        ..FieldConfig::default()
    };
    let f = field_app_with(Backend::Sqlite, config).await;
    let (status, _) = f
        .app
        .call(
            "POST",
            "/api/fences",
            Some(&f.app.keys.dispatcher),
            Some(json!({"id": "hooked", "name": "hooked", "geometry": square(S)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let w = inspector(&f.field, 5);
    f.post_ok(json!([
        fix(&w, -100, 121.4590, 30.9190),
        fix(&w, -80, 121.4605, 30.9190)
    ]))
    .await;
    let delivered = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let body = rx.recv().await.unwrap();
            let e: Value = serde_json::from_str(&body).unwrap();
            if e["fence"] == "hooked" {
                return e;
            }
        }
    })
    .await
    .expect("delivered after one retry");
    assert_eq!(delivered["kind"], "enter");
    assert_eq!(delivered["worker"], w.as_str());

    // A webhook nobody answers: intake answers as fast as without one.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap().port();
    drop(closed);
    let config = FieldConfig {
        webhook: Some(format!("http://127.0.0.1:{dead}/hook")),
        ..FieldConfig::default()
    };
    let f = field_app_with(Backend::Sqlite, config).await;
    let (status, _) = f
        .app
        .call(
            "POST",
            "/api/fences",
            Some(&f.app.keys.dispatcher),
            Some(json!({"id": "dead", "name": "dead", "geometry": square(S)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for n in 0..20 {
        let started = std::time::Instant::now();
        let x = if n % 2 == 0 { 121.4590 } else { 121.4605 };
        f.post_ok(json!([fix(&w, -400 + n * 20, x, 30.9190)])).await;
        assert!(
            started.elapsed() < std::time::Duration::from_millis(400),
            "intake waited for the dead webhook: {:?}",
            started.elapsed()
        );
    }
    // The first fix is outside (no event), then every fix crosses: 19 events.
    assert_eq!(
        f.events_of("dead").await.len(),
        19,
        "every crossing stored although the webhook is down"
    );
}

#[tokio::test]
async fn a_report_sent_twice_from_the_field_queue_is_one_case_and_names_a_verifier() {
    for backend in BACKENDS {
        let f = field_app(backend).await;
        let store = common::demo_store();
        let grid = store.grid.as_ref().unwrap();
        let p = geo::Coord {
            x: common::cases::TEST_POINT.0,
            y: common::cases::TEST_POINT.1,
        };
        let cell = grid.cells.locate(p).unwrap() as usize;
        let beat = store
            .by_role(LayerRole::Beat)
            .unwrap()
            .id(grid.cell_beat[cell] as usize)
            .to_string();
        let verifier = format!("{beat}-2");
        f.post_ok(json!([fix(&verifier, -60, p.x + 0.0003, p.y)]))
            .await;
        let phone = f.bound_key(&[&format!("{beat}-1")]).await;
        let report = json!({"class": common::cases::TEST_CLASS, "lon": p.x, "lat": p.y, "description": "井盖缺失", "channel": "supervisor", "client_id": "0b6f1c2e-field-1"});
        let (first, body1) = f
            .app
            .call("POST", "/api/cases", Some(&phone), Some(report.clone()))
            .await;
        assert_eq!(first, StatusCode::CREATED, "{backend:?}: {body1}");
        assert_eq!(
            body1["suggested_verifier"]["worker"],
            verifier.as_str(),
            "{body1}"
        );
        let (second, body2) = f
            .app
            .call("POST", "/api/cases", Some(&phone), Some(report))
            .await;
        assert_eq!(second, StatusCode::OK, "{body2}");
        assert_eq!(body1["id"], body2["id"]);
        assert_eq!(body2["repeated"], true);
        let list = f.get("/api/cases?limit=100").await;
        assert_eq!(list["total"], 1, "{backend:?}: one case only: {list}");
        let (status, body) = f.app.call("POST", "/api/cases", None, Some(json!({"class": common::cases::TEST_CLASS, "lon": p.x, "lat": p.y, "description": "x", "client_id": "abc"}))).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("client_id"))
        );
    }
}
