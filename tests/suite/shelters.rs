//! Shelters through the real router, on SQLite and on PostgreSQL: allocation (nearest first,
//! never above free capacity, shortfalls, exclusion zones, areas counted from the unit grid),
//! live occupancy reports (validation, persistence across a restart, nearest and around
//! following them, committed plans) and the GB 21734-2008 siting check in the library and
//! the CLI.

use crate::common;

use axum::http::StatusCode;
use common::cases::{BACKENDS, Backend, CaseApp, TEST_POINT, case_app};
use geo::{Centroid, Contains, Distance, Geodesic, Intersects, Point};
use gridlink::cases::{CaseService, Clock};
use gridlink::catalog::Role;
use gridlink::http::AppState;
use gridlink::spatial::{GeometryRef, Layer, PropertyValue};
use serde_json::{Value, json};
use std::collections::HashMap;

fn shelters() -> &'static Layer {
    common::demo_store()
        .by_role(Role::Shelter)
        .expect("shelter layer")
}

fn int(layer: &Layer, i: usize, field: &str) -> i64 {
    match layer.property(i, field) {
        Some(PropertyValue::Integer(n)) => n,
        other => panic!("{field}: {other:?}"),
    }
}

fn text<'a>(layer: &'a Layer, i: usize, field: &str) -> &'a str {
    layer
        .property(i, field)
        .and_then(PropertyValue::as_text)
        .unwrap_or("")
}

fn at(layer: &Layer, i: usize) -> geo::Coord<f64> {
    layer.geometry(i).to_geo_point().expect("point")
}

/// Karney's geodesic, independent of gridlink's own distance.
fn geodesic(a: geo::Coord<f64>, b: geo::Coord<f64>) -> f64 {
    Geodesic.distance(Point(a), Point(b))
}

/// Open shelters with room (register values) as (metres from `p`, id, free), nearest first.
fn open_by_distance(p: geo::Coord<f64>) -> Vec<(f64, String, i64)> {
    let layer = shelters();
    let mut out: Vec<(f64, String, i64)> = (0..layer.len())
        .filter(|&i| text(layer, i, "status") == "open")
        .map(|i| {
            (
                geodesic(p, at(layer, i)),
                layer.id(i).to_string(),
                (int(layer, i, "capacity") - int(layer, i, "occupancy")).max(0),
            )
        })
        .filter(|(_, _, free)| *free > 0)
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

fn origin() -> geo::Coord<f64> {
    geo::Coord {
        x: TEST_POINT.0,
        y: TEST_POINT.1,
    }
}

async fn allocate(app: &CaseApp, key: Option<&str>, body: Value) -> (StatusCode, Value) {
    app.call("POST", "/api/shelters/allocate", key, Some(body))
        .await
}

/// Every assignment within the shelter's free places; per shelter, never more than it had.
fn assert_within_capacity(plan: &Value, free: &HashMap<String, i64>) {
    let mut given: HashMap<String, i64> = HashMap::new();
    let mut placed = 0;
    for a in plan["assignments"].as_array().expect("assignments") {
        let people = a["people"].as_i64().unwrap();
        assert!(people > 0, "{a}");
        assert!(people <= a["free_before"].as_i64().unwrap(), "{a}");
        assert_eq!(
            a["free_after"].as_i64().unwrap(),
            a["free_before"].as_i64().unwrap() - people,
            "{a}"
        );
        *given
            .entry(a["shelter"].as_str().unwrap().to_string())
            .or_default() += people;
        placed += people;
    }
    for (id, n) in &given {
        assert!(n <= &free[id], "{id}: {n} placed, {} free", free[id]);
    }
    assert_eq!(plan["placed"].as_i64().unwrap(), placed);
    assert_eq!(
        plan["placed"].as_i64().unwrap() + plan["unplaced"].as_i64().unwrap(),
        plan["people"].as_i64().unwrap()
    );
}

fn register_free() -> HashMap<String, i64> {
    let layer = shelters();
    (0..layer.len())
        .map(|i| {
            (
                layer.id(i).to_string(),
                (int(layer, i, "capacity") - int(layer, i, "occupancy")).max(0),
            )
        })
        .collect()
}

#[tokio::test]
async fn allocation_fills_the_nearest_open_shelters_first_within_their_free_capacity() {
    let app = case_app(Backend::Sqlite).await;
    let open = open_by_distance(origin());
    // Enough people to need several shelters, fewer than all of them hold.
    let people = open.iter().take(4).map(|s| s.2).sum::<i64>() - 7;
    let (status, plan) = allocate(
        &app,
        None,
        json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": people}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["committed"], false);
    assert_eq!(plan["unplaced"], 0, "{plan}");
    assert_within_capacity(&plan, &register_free());
    // Independently: fill open shelters with room in order of geodesic distance.
    let mut left = people;
    let mut expected = Vec::new();
    for (_, id, free) in &open {
        if left == 0 {
            break;
        }
        let take = left.min(*free);
        expected.push((id.clone(), take));
        left -= take;
    }
    let got: Vec<(String, i64)> = plan["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["shelter"].as_str().unwrap().to_string(),
                a["people"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected, "{plan}");
    // Distances grow, walking = straight line × 1.3, and match the geodesic.
    let mut last = 0.0;
    for (a, (metres, _, _)) in plan["assignments"].as_array().unwrap().iter().zip(&open) {
        let d = a["distance_m"].as_f64().unwrap();
        assert!(d >= last, "{plan}");
        assert!((d - metres).abs() < 0.5, "{d} vs {metres}");
        assert!(
            (a["walking_m"].as_f64().unwrap() - d * 1.3).abs() < 0.2,
            "{a}"
        );
        last = d;
    }
    // Shelters passed over on the way are explained (closed ones nearer than the last used).
    let layer = shelters();
    let farthest = last;
    for s in plan["skipped"].as_array().unwrap() {
        assert!(s["distance_m"].as_f64().unwrap() <= farthest + 0.5, "{s}");
        let i = layer.find(s["shelter"].as_str().unwrap()).unwrap();
        match s["reason"].as_str().unwrap() {
            "closed" => assert_eq!(text(layer, i, "status"), "closed"),
            "no_free_capacity" => assert!(int(layer, i, "occupancy") >= int(layer, i, "capacity")),
            other => panic!("unexpected reason {other}: {s}"),
        }
    }
    let closed_within = |metres: f64| {
        (0..layer.len())
            .filter(|&i| {
                text(layer, i, "status") == "closed" && geodesic(origin(), at(layer, i)) < metres
            })
            .count()
    };
    let reported = plan["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["reason"] == "closed")
        .count();
    assert!(
        (closed_within(farthest - 1.0)..=closed_within(farthest + 1.0)).contains(&reported),
        "{plan}"
    );
}

#[tokio::test]
async fn people_beyond_the_free_places_within_reach_are_reported_unplaced() {
    let app = case_app(Backend::Sqlite).await;
    let max = 4000.0;
    let detour = 1.5;
    let open = open_by_distance(origin());
    assert!(
        open.iter().all(|(d, _, _)| (d * detour - max).abs() > 1.0),
        "a shelter sits on the reach's edge; pick another distance"
    );
    let reachable: i64 = open
        .iter()
        .filter(|(d, _, _)| d * detour <= max)
        .map(|s| s.2)
        .sum();
    assert!(reachable > 0);
    let people = reachable + 12_345;
    let (status, plan) = allocate(
        &app,
        None,
        json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": people,
               "max_distance_m": max, "detour_factor": detour}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["placed"], reachable, "{plan}");
    assert_eq!(plan["unplaced"], 12_345);
    assert_eq!(plan["usable_free"], reachable);
    assert_within_capacity(&plan, &register_free());
    for a in plan["assignments"].as_array().unwrap() {
        assert!(a["walking_m"].as_f64().unwrap() <= max, "{a}");
        assert_eq!(a["free_after"], 0, "every reachable shelter is filled: {a}");
    }
    // With people left over, every closed shelter within reach says why it was not used.
    let layer = shelters();
    let closed_in_reach: Vec<&str> = (0..layer.len())
        .filter(|&i| {
            text(layer, i, "status") == "closed" && geodesic(origin(), at(layer, i)) * detour <= max
        })
        .map(|i| layer.id(i))
        .collect();
    for id in &closed_in_reach {
        assert!(
            plan["skipped"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["shelter"] == *id && s["reason"] == "closed"),
            "{id} missing from {plan}"
        );
    }
}

/// A square of `half` metres around `c`, as GeoJSON coordinates.
fn square(c: geo::Coord<f64>, half: f64) -> Value {
    let (dx, dy) = (half / 95_600.0, half / 110_900.0);
    json!([[
        [c.x - dx, c.y - dy],
        [c.x + dx, c.y - dy],
        [c.x + dx, c.y + dy],
        [c.x - dx, c.y + dy],
        [c.x - dx, c.y - dy]
    ]])
}

/// The polygon of GeoJSON polygon coordinates (exterior ring only).
fn polygon_of(rings: &Value) -> geo::Polygon<f64> {
    let exterior = rings[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| geo::Coord {
            x: p[0].as_f64().unwrap(),
            y: p[1].as_f64().unwrap(),
        })
        .collect();
    geo::Polygon::new(geo::LineString(exterior), vec![])
}

#[tokio::test]
async fn shelters_inside_an_exclusion_zone_are_skipped() {
    let app = case_app(Backend::Sqlite).await;
    let open = open_by_distance(origin());
    let nearest = &open[0];
    let layer = shelters();
    let centre = at(layer, layer.find(&nearest.1).unwrap());
    // A leak zone as /api/hazmat/zone might give it: polygons plus the source point.
    let zone = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "隔离区"},
         "geometry": {"type": "Polygon", "coordinates": square(centre, 150.0)}},
        {"type": "Feature", "properties": {"name": "泄漏点"},
         "geometry": {"type": "Point", "coordinates": [centre.x, centre.y]}},
    ]});
    let (status, plan) = allocate(
        &app,
        None,
        json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": 50, "exclude": zone}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let used: Vec<&str> = plan["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["shelter"].as_str().unwrap())
        .collect();
    assert!(!used.contains(&nearest.1.as_str()), "{plan}");
    let skipped = plan["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["shelter"] == nearest.1.as_str())
        .unwrap_or_else(|| panic!("{} not reported: {plan}", nearest.1));
    assert_eq!(skipped["reason"], "excluded");
    assert_eq!(skipped["zone"], "隔离区");
    // The nearest open shelter outside the zone takes them.
    let zone_shape = polygon_of(&square(centre, 150.0));
    let next = open
        .iter()
        .find(|(_, id, _)| !zone_shape.intersects(&Point(at(layer, layer.find(id).unwrap()))))
        .unwrap();
    assert_eq!(used.first().copied(), Some(next.1.as_str()), "{plan}");
    // A bad zone is refused, naming the member at fault.
    let (status, error) = allocate(
        &app,
        None,
        json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": 5,
               "exclude": {"type": "Polygon", "coordinates": [[[121.4, 30.9], [121.5, 30.9], [121.4, 30.9]]]}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["field"], "exclude.coordinates[0]", "{error}");
}

#[tokio::test]
async fn an_area_is_counted_from_the_unit_grid_by_village() {
    let app = case_app(Backend::Sqlite).await;
    let store = common::demo_store();
    let ring = square(origin(), 600.0);
    let area = json!({"type": "Polygon", "coordinates": ring});
    let (status, plan) = allocate(&app, None, json!({"area": area})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["basis"], "grid_cells");
    // Independently: cells whose centroid lies in the square.
    let cells = store.by_role(Role::GridCell).unwrap();
    let shape = polygon_of(&ring);
    let mut by_village: HashMap<String, i64> = HashMap::new();
    for c in 0..cells.len() {
        let GeometryRef::Polygons(cell) = cells.geometry(c) else {
            continue;
        };
        if shape.contains(&cell.centroid().unwrap()) {
            *by_village
                .entry(text(cells, c, "village_code").to_string())
                .or_default() += int(cells, c, "population");
        }
    }
    by_village.retain(|_, n| *n > 0);
    let total: i64 = by_village.values().sum();
    assert!(total > 0);
    assert_eq!(plan["people"], total, "{plan}");
    let groups = plan["groups"].as_array().unwrap();
    assert_eq!(groups.len(), by_village.len(), "{plan}");
    for g in groups {
        let village = g["village"]["id"].as_str().unwrap();
        assert_eq!(g["people"], by_village[village], "{g}");
        assert_eq!(
            g["placed"].as_i64().unwrap() + g["unplaced"].as_i64().unwrap(),
            g["people"].as_i64().unwrap()
        );
    }
    assert_within_capacity(&plan, &register_free());
    // Whole villages count at least as many people.
    let (status, whole) = allocate(&app, None, json!({"area": area, "scope": "villages"})).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    assert_eq!(whole["basis"], "whole_villages");
    assert!(whole["people"].as_i64().unwrap() >= total, "{whole}");
    // Either a point or an area, never both.
    let (status, error) = allocate(
        &app,
        None,
        json!({"area": area, "lon": 121.4, "lat": 30.9, "people": 3}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["field"], "area");
    for (body, field) in [
        (json!({"lon": 121.46, "lat": 30.92}), "people"),
        (json!({"lon": 121.46, "lat": 30.92, "people": 0}), "people"),
        (json!({"lon": 121.46, "people": 5}), "lat"),
        (
            json!({"lon": 121.46, "lat": 30.92, "people": 5, "detour_factor": 0.5}),
            "detour_factor",
        ),
        (
            json!({"lon": 121.46, "lat": 30.92, "people": 5, "max_distance_m": -1}),
            "max_distance_m",
        ),
        (
            json!({"area": {"type": "Point", "coordinates": [121.4, 30.9]}}),
            "area",
        ),
        (
            json!({"lon": 121.46, "lat": 30.92, "people": 5, "colour": 1}),
            "colour",
        ),
    ] {
        let (status, error) = allocate(&app, None, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {error}");
        assert_eq!(error["error"]["code"], "invalid_parameter", "{error}");
        assert_eq!(error["error"]["field"], field, "{body} → {error}");
    }
}

async fn patch(app: &CaseApp, id: &str, key: Option<&str>, body: Value) -> (StatusCode, Value) {
    app.call("PATCH", &format!("/api/shelters/{id}"), key, Some(body))
        .await
}

/// An open shelter with room and its capacity.
fn open_shelter(n: usize) -> (String, i64) {
    let (_, id, _) = open_by_distance(origin())[n].clone();
    let layer = shelters();
    let capacity = int(layer, layer.find(&id).unwrap(), "capacity");
    (id, capacity)
}

#[tokio::test]
async fn occupancy_reports_are_checked_and_survive_a_restart() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let key = app.keys.dispatcher.clone();
        let (id, capacity) = open_shelter(0);
        let (status, error) = patch(&app, &id, None, json!({"occupancy": 1})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend:?} {error}");
        let (status, error) = patch(&app, "BN9999", Some(&key), json!({"occupancy": 1})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
        assert_eq!(error["error"]["code"], "unknown_shelter");
        assert_eq!(error["error"]["field"], "id");
        for (body, code, field, expected) in [
            (
                json!({"occupancy": capacity + 1}),
                "over_capacity",
                "occupancy",
                StatusCode::CONFLICT,
            ),
            (
                json!({"delta": capacity + 1}),
                "over_capacity",
                "delta",
                StatusCode::CONFLICT,
            ),
            (
                json!({"occupancy": -1}),
                "invalid_parameter",
                "occupancy",
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"occupancy": 1, "delta": 1}),
                "invalid_parameter",
                "delta",
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"status": "half"}),
                "invalid_parameter",
                "status",
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({}),
                "invalid_parameter",
                "body",
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"occupancy": "many"}),
                "invalid_parameter",
                "occupancy",
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let (status, error) = patch(&app, &id, Some(&key), body.clone()).await;
            assert_eq!(status, expected, "{backend:?} {body} → {error}");
            assert_eq!(error["error"]["code"], code, "{body} → {error}");
            assert_eq!(error["error"]["field"], field, "{body} → {error}");
            assert!(error["error"]["message"].as_str().is_some());
        }
        let mut changes = app.state.shelters.subscribe();
        let (status, done) =
            patch(&app, &id, Some(&key), json!({"occupancy": capacity - 10})).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["properties"]["free"], 10);
        assert_eq!(done["change"]["source"], "report");
        let (status, done) = patch(
            &app,
            &id,
            Some(&app.keys.admin),
            json!({"delta": 4, "note": "第二批群众到达"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["properties"]["occupancy"], capacity - 6);
        let (status, error) = patch(&app, &id, Some(&key), json!({"delta": -(capacity)})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{error}");
        assert_eq!(error["error"]["code"], "below_zero");
        assert_eq!(error["error"]["field"], "delta");
        let (status, done) = patch(&app, &id, Some(&key), json!({"status": "full"})).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["properties"]["status"], "full");
        assert_eq!(done["properties"]["accepting"], false);
        // Each accepted report was announced, in order.
        let announced: Vec<i64> = (0..3)
            .map(|_| changes.try_recv().expect("a change").occupancy)
            .collect();
        assert_eq!(announced, vec![capacity - 10, capacity - 6, capacity - 6]);
        // The map's list shows the live state.
        let (status, list) = app.call("GET", "/api/shelters", None, None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let feature = list["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id.as_str())
            .unwrap();
        assert_eq!(feature["properties"]["occupancy"], capacity - 6);
        assert_eq!(feature["properties"]["free"], 6);
        assert_eq!(feature["properties"]["status"], "full");
        assert_eq!(feature["properties"]["reported"], true);
        assert!(feature["properties"].get("updated_by").is_none(), "public");
        let (_, full) = app
            .call("GET", "/api/shelters?status=full", None, None)
            .await;
        assert_eq!(full["count"], 1, "{full}");

        // A restart: a new case service and a new server state on the same database.
        let service = CaseService::start(
            app.service.db.clone(),
            Clock::fixed(common::cases::START_MS),
        )
        .await
        .expect("restarts");
        let mut state = AppState::new(common::shared_store().clone(), common::tables());
        state.cases = Some(service);
        let (status, again) = common::send(
            gridlink::http::router(state),
            axum::http::Request::get(format!("/api/shelters/{id}"))
                .header("authorization", format!("Bearer {key}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .into_status_json();
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(
            again["properties"]["occupancy"],
            capacity - 6,
            "{backend:?}"
        );
        assert_eq!(again["properties"]["status"], "full");
        assert_eq!(again["properties"]["updated_by"], "dispatcher");
        assert_eq!(again["history"][1]["actor"], "admin");
        let history = again["history"].as_array().expect("history for staff");
        assert_eq!(history.len(), 3, "{again}");
        assert_eq!(history[1]["note"], "第二批群众到达");
        assert_eq!(history[1]["occupancy_before"], capacity - 10);
    }
}

trait StatusJson {
    fn into_status_json(self) -> (StatusCode, Value);
}

impl StatusJson for (StatusCode, String, bytes::Bytes) {
    fn into_status_json(self) -> (StatusCode, Value) {
        (
            self.0,
            serde_json::from_slice(&self.2).unwrap_or(Value::Null),
        )
    }
}

#[tokio::test]
async fn nearest_and_around_follow_the_live_occupancy() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let key = app.keys.dispatcher.clone();
        let (first, capacity) = open_shelter(0);
        let (second, _) = open_shelter(1);
        let nearest_path = format!(
            "/api/nearest/shelters?lon={}&lat={}&k=3&status=open&people=1",
            TEST_POINT.0, TEST_POINT.1
        );
        let around_path = format!(
            "/api/around?lon={}&lat={}&radius=500",
            TEST_POINT.0, TEST_POINT.1
        );
        let ids = |v: &Value, path: &str| -> Vec<String> {
            v.pointer(path)
                .and_then(Value::as_array)
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string())
                .collect()
        };
        let (_, before) = app.call("GET", &nearest_path, None, None).await;
        assert_eq!(ids(&before, "/features")[0], first, "{before}");
        let (_, around) = app.call("GET", &around_path, None, None).await;
        assert_eq!(
            ids(&around, "/sections/shelter/features")[0],
            first,
            "{around}"
        );

        // The nearest shelter fills up: it drops out of "open with room".
        let (status, _) = patch(&app, &first, Some(&key), json!({"occupancy": capacity})).await;
        assert_eq!(status, StatusCode::OK);
        let (_, after) = app.call("GET", &nearest_path, None, None).await;
        assert!(!ids(&after, "/features").contains(&first), "{after}");
        assert_eq!(ids(&after, "/features")[0], second);
        let (_, around) = app.call("GET", &around_path, None, None).await;
        assert!(
            !ids(&around, "/sections/shelter/features").contains(&first),
            "{around}"
        );
        // Shown without the filter, it says so.
        let (_, all) = app
            .call(
                "GET",
                &format!(
                    "/api/nearest/shelters?lon={}&lat={}&k=1",
                    TEST_POINT.0, TEST_POINT.1
                ),
                None,
                None,
            )
            .await;
        assert_eq!(all["features"][0]["id"], first.as_str());
        assert_eq!(all["features"][0]["free_capacity"], 0);
        assert_eq!(all["features"][0]["properties"]["occupancy"], capacity);

        // The second is closed by its manager though it has room: status=open drops it.
        let (status, _) = patch(&app, &second, Some(&key), json!({"status": "closed"})).await;
        assert_eq!(status, StatusCode::OK);
        let (_, after) = app.call("GET", &nearest_path, None, None).await;
        assert!(!ids(&after, "/features").contains(&second), "{after}");
        // Allocation skips both, saying why.
        let (_, plan) = allocate(
            &app,
            None,
            json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": 10}),
        )
        .await;
        let reason = |id: &str| {
            plan["skipped"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["shelter"] == id)
                .map(|s| s["reason"].clone())
        };
        assert_eq!(reason(&first), Some(json!("no_free_capacity")), "{plan}");
        assert_eq!(reason(&second), Some(json!("closed")), "{plan}");
    }
}

#[tokio::test]
async fn a_committed_plan_books_its_people_and_needs_a_key() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let body = json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": 120, "commit": true});
        let (status, error) = allocate(&app, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
        let (status, plan) = allocate(&app, Some(&app.keys.dispatcher), body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{backend:?} {plan}");
        assert_eq!(plan["committed"], true);
        assert_eq!(plan["placed"], 120);
        let (_, list) = app.call("GET", "/api/shelters", None, None).await;
        let free_now: HashMap<String, i64> = list["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["id"].as_str().unwrap().to_string(),
                    f["properties"]["free"].as_i64().unwrap(),
                )
            })
            .collect();
        let register = register_free();
        for a in plan["assignments"].as_array().unwrap() {
            let id = a["shelter"].as_str().unwrap();
            assert_eq!(free_now[id], a["free_after"].as_i64().unwrap(), "{a}");
            assert_eq!(
                register[id] - free_now[id],
                a["people"].as_i64().unwrap(),
                "{a}"
            );
        }
        assert_eq!(
            plan["changes"].as_array().unwrap().len(),
            plan["assignments"].as_array().unwrap().len()
        );
        // Planning again starts from the booked state.
        let (_, again) = allocate(
            &app,
            None,
            json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": 120}),
        )
        .await;
        assert_eq!(again["committed"], false);
        assert_within_capacity(&again, &free_now);
    }
}

#[test]
fn the_siting_check_finds_shelters_inside_hazard_radii() {
    use gridlink::services::siting;
    let store = common::demo_store();
    let report = siting::check(store, 100.0).expect("checks");
    let shelters = shelters();
    let sources = store.by_role(Role::HazardSource).unwrap();
    // Brute force with Karney's geodesic; pairs within half a metre of the radius are left
    // to either side.
    let mut expected = Vec::new();
    let mut borderline = Vec::new();
    for h in 0..sources.len() {
        let radius = int(sources, h, "impact_radius_m") as f64;
        for s in 0..shelters.len() {
            let d = geodesic(at(shelters, s), at(sources, h));
            if (d - radius).abs() < 0.5 {
                borderline.push((shelters.id(s), sources.id(h)));
            } else if d < radius {
                expected.push((shelters.id(s), sources.id(h)));
            }
        }
    }
    let mut found: Vec<(&str, &str)> = report
        .findings
        .iter()
        .filter(|f| f.rule == siting::Rule::HazardImpact)
        .map(|f| (shelters.id(f.shelter), sources.id(f.hazard)))
        .filter(|pair| !borderline.contains(pair))
        .collect();
    found.sort();
    expected.sort();
    assert!(
        !expected.is_empty(),
        "the demo data has shelters near hazard sources"
    );
    assert_eq!(found, expected);
}

#[test]
fn check_shelters_names_a_planted_flood_point_and_fails_only_when_strict() {
    let demo = common::demo_dir();
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(demo).expect("demo dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_owned();
        if name != "flood_points.geojson" {
            std::os::unix::fs::symlink(&path, dir.path().join(&name)).expect("link");
        }
    }
    // A flood-prone point planted 40 m east of a shelter.
    let layer = shelters();
    let (id, _) = open_shelter(0);
    let c = at(layer, layer.find(&id).unwrap());
    let mut floods: Value = serde_json::from_slice(
        &std::fs::read(demo.join("flood_points.geojson")).expect("flood points"),
    )
    .expect("GeoJSON");
    floods["features"].as_array_mut().unwrap().push(json!({
        "type": "Feature", "id": "YLD999",
        "geometry": {"type": "Point", "coordinates": [c.x + 40.0 / 95_600.0, c.y]},
        "properties": {"code": "YLD999", "name": "测试积水点", "cause": "地势低洼",
                       "max_depth_cm": 40, "pumps": 1}
    }));
    std::fs::write(
        dir.path().join("flood_points.geojson"),
        serde_json::to_vec(&floods).unwrap(),
    )
    .unwrap();
    let run = |strict: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gridlink"));
        cmd.current_dir(common::repo())
            .env_remove("GRIDLINK_DATA_DIR")
            .env_remove("GRIDLINK_CONFIG")
            .args(["check", "--shelters", "--no-topology", "--data-dir"])
            .arg(dir.path());
        if strict {
            cmd.arg("--strict");
        }
        cmd.output().expect("gridlink runs")
    };
    let output = run(false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("GB 21734-2008"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("YLD999"))
        .unwrap_or_else(|| panic!("planted flood point not reported:\n{stdout}"));
    assert!(line.contains(&id), "{line}");
    assert!(line.contains("测试积水点"), "{line}");
    assert!(line.contains("§5.2.1"), "{line}");
    assert!(line.contains("(40."), "distance named: {line}");
    // The demo's real hazard-source findings are listed too.
    assert!(
        stdout.contains("impact radius of hazard source WXY"),
        "{stdout}"
    );
    let strict = run(true);
    assert_eq!(strict.status.code(), Some(1), "--strict fails on findings");
}
