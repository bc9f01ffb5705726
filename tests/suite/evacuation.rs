//! Evacuation routes that respect the danger, through the real router on SQLite and on
//! PostgreSQL: a leak zone from `POST /api/hazmat/zone` passed to `POST /api/shelters/allocate`
//! as `exclude`; every path drawn must keep out of every exclusion polygon — checked here with
//! a segment–polygon test written for this file, not the server's — a shelter no path can
//! reach is reported with its reason, and a clear straight pair keeps its straight line and
//! distance.

use crate::common;

use axum::http::StatusCode;
use common::cases::{BACKENDS, CaseApp, TEST_POINT, case_app};
use geo::{Bearing, Destination, Distance, Geodesic, Point};
use gridlink::catalog::Role;
use gridlink::spatial::{Layer, PropertyValue};
use serde_json::{Value, json};
use std::collections::HashMap;

// ---------------------------------------------------------------------------------------------
// An independent segment–polygon test (plane of lon/lat degrees, where the server's paths are
// straight legs too). Touching counts as entering, so a path grazing a zone fails.

type Xy = (f64, f64);

fn cross(o: Xy, a: Xy, b: Xy) -> f64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

fn on_segment(p: Xy, a: Xy, b: Xy) -> bool {
    p.0 >= a.0.min(b.0) && p.0 <= a.0.max(b.0) && p.1 >= a.1.min(b.1) && p.1 <= a.1.max(b.1)
}

/// Do segments ab and cd share a point?
fn segments_meet(a: Xy, b: Xy, c: Xy, d: Xy) -> bool {
    let (d1, d2) = (cross(c, d, a), cross(c, d, b));
    let (d3, d4) = (cross(a, b, c), cross(a, b, d));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    (d1 == 0.0 && on_segment(a, c, d))
        || (d2 == 0.0 && on_segment(b, c, d))
        || (d3 == 0.0 && on_segment(c, a, b))
        || (d4 == 0.0 && on_segment(d, a, b))
}

/// Ray casting: is `p` inside the closed ring?
fn in_ring(p: Xy, ring: &[Xy]) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.1 > p.1) != (b.1 > p.1) && p.0 < a.0 + (p.1 - a.1) / (b.1 - a.1) * (b.0 - a.0) {
            inside = !inside;
        }
    }
    inside
}

/// A polygon as rings of positions: exterior first, then holes.
type Rings = Vec<Vec<Xy>>;

/// Does the segment ab enter the polygon (cross or touch a ring, or start or end inside)?
fn segment_enters(a: Xy, b: Xy, polygon: &Rings) -> bool {
    let crosses = polygon
        .iter()
        .any(|ring| ring.windows(2).any(|e| segments_meet(a, b, e[0], e[1])));
    let inside = |p: Xy| in_ring(p, &polygon[0]) && !polygon[1..].iter().any(|h| in_ring(p, h));
    crosses || inside(a) || inside(b)
}

fn rings(coordinates: &Value) -> Rings {
    coordinates
        .as_array()
        .expect("rings")
        .iter()
        .map(|ring| {
            ring.as_array()
                .expect("ring")
                .iter()
                .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
                .collect()
        })
        .collect()
}

/// The polygons of an `exclude` FeatureCollection, each with its zone's label.
fn exclusion_polygons(exclude: &Value) -> Vec<(String, Rings)> {
    let mut out = Vec::new();
    for f in exclude["features"].as_array().expect("features") {
        let label = f["properties"]["name"]
            .as_str()
            .or(f["properties"]["zone"].as_str())
            .unwrap_or("")
            .to_string();
        let g = &f["geometry"];
        match g["type"].as_str() {
            Some("Polygon") => out.push((label, rings(&g["coordinates"]))),
            Some("MultiPolygon") => {
                for p in g["coordinates"].as_array().unwrap() {
                    out.push((label.clone(), rings(p)));
                }
            }
            _ => {}
        }
    }
    out
}

fn path_of(assignment: &Value) -> Vec<Xy> {
    assert_eq!(assignment["path"]["type"], "LineString", "{assignment}");
    assignment["path"]["coordinates"]
        .as_array()
        .expect("coordinates")
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect()
}

/// The labels of the zones a leg enters.
fn zones_entered(a: Xy, b: Xy, zones: &[(String, Rings)]) -> Vec<String> {
    zones
        .iter()
        .filter(|(_, polygon)| segment_enters(a, b, polygon))
        .map(|(label, _)| label.clone())
        .collect()
}

#[test]
fn the_independent_check_sees_crossings_touches_and_holes() {
    let square: Rings = vec![vec![
        (0.0, 0.0),
        (2.0, 0.0),
        (2.0, 2.0),
        (0.0, 2.0),
        (0.0, 0.0),
    ]];
    assert!(segment_enters((-1.0, 1.0), (3.0, 1.0), &square), "through");
    assert!(
        segment_enters((-1.0, 2.0), (3.0, 2.0), &square),
        "along an edge"
    );
    assert!(
        segment_enters((1.0, 1.0), (1.5, 1.5), &square),
        "wholly inside"
    );
    assert!(!segment_enters((-1.0, 3.0), (3.0, 3.0), &square), "clear");
    assert!(
        !segment_enters((-1.0, -1.0), (-1.0, 3.0), &square),
        "beside"
    );
    let moat: Rings = vec![
        square[0].clone(),
        vec![(0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5), (0.5, 0.5)],
    ];
    assert!(
        !segment_enters((0.8, 0.8), (1.2, 1.2), &moat),
        "inside the hole"
    );
    assert!(
        segment_enters((1.0, 1.0), (3.0, 1.0), &moat),
        "out of the hole"
    );
}

// ---------------------------------------------------------------------------------------------
// The demo shelters, read from the register (not through the API).

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

fn point(layer: &Layer, i: usize) -> Point<f64> {
    Point(layer.geometry(i).to_geo_point().expect("point"))
}

fn origin() -> Point<f64> {
    Point::new(TEST_POINT.0, TEST_POINT.1)
}

/// Open shelters with room as (metres from `p` by Karney's geodesic, id, free), nearest first.
fn open_by_distance(p: Point<f64>) -> Vec<(f64, String, i64)> {
    let layer = shelters();
    let mut out: Vec<(f64, String, i64)> = (0..layer.len())
        .filter(|&i| text(layer, i, "status") == "open")
        .map(|i| {
            (
                Geodesic.distance(p, point(layer, i)),
                layer.id(i).to_string(),
                (int(layer, i, "capacity") - int(layer, i, "occupancy")).max(0),
            )
        })
        .filter(|(_, _, free)| *free > 0)
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

fn at_id(id: &str) -> Point<f64> {
    let layer = shelters();
    point(layer, layer.find(id).expect("shelter"))
}

fn xy(p: Point<f64>) -> Xy {
    (p.x(), p.y())
}

async fn allocate(app: &CaseApp, body: Value) -> Value {
    let (status, plan) = app
        .call("POST", "/api/shelters/allocate", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    plan
}

/// A small chlorine leak (60 m isolation circle, 400 m protective square by day) placed so
/// that the straight line from the test point to its nearest open shelter passes 30 m upwind
/// of the spill, through the isolation circle; the wind blows across that line, so the
/// protective square lies on the far side of it. Returns the zones and the leak point.
async fn leak_across_the_way(app: &CaseApp, to: Point<f64>) -> (Value, Point<f64>) {
    let bearing = Geodesic.bearing(origin(), to);
    let halfway = Geodesic.destination(origin(), bearing, Geodesic.distance(origin(), to) / 2.0);
    let downwind = (bearing + 90.0).rem_euclid(360.0);
    let spill = Geodesic.destination(halfway, downwind, 30.0);
    let body = json!({"lon": spill.x(), "lat": spill.y(), "chemical": "chlorine",
        "spill": "small", "time": "day", "wind_from_deg": (downwind + 180.0).rem_euclid(360.0),
        "wind_speed_ms": 3.0});
    let (status, zone) = app
        .call(
            "POST",
            "/api/hazmat/zone",
            Some(&app.keys.dispatcher),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{zone}");
    assert_eq!(
        zone["distances"]["isolation_m"], 60.0,
        "{}",
        zone["distances"]
    );
    // The safe shelters it proposes carry their code and address beside the name.
    let safe = zone["safe_shelters"].as_array().expect("safe shelters");
    assert!(!safe.is_empty(), "{zone}");
    for s in safe {
        let id = s["id"].as_str().unwrap_or("");
        assert!(s["name"].as_str().is_some_and(|n| !n.is_empty()), "{s}");
        let address = s["properties"]["address"].as_str().unwrap_or("");
        let register = shelters().find(id).map(|i| text(shelters(), i, "address"));
        assert_eq!(Some(address), register, "{s}");
        assert!(!address.is_empty(), "{s}");
    }
    (zone["zones"].clone(), spill)
}

/// The plan's assignments, checked: every drawn path starts at its group, ends at its shelter,
/// keeps out of every zone (but the ones its group starts in, on its first leg), measures what
/// it says, and walking is path × factor.
fn check_paths(plan: &Value, zones: &[(String, Rings)], detour: f64) {
    let groups = plan["groups"].as_array().expect("groups");
    let mut last = 0.0;
    for a in plan["assignments"].as_array().expect("assignments") {
        let path = path_of(a);
        let group = &groups[a["group"].as_u64().unwrap() as usize];
        let start = (
            group["origin"]["lon"].as_f64().unwrap(),
            group["origin"]["lat"].as_f64().unwrap(),
        );
        assert_eq!(path[0], start, "starts at its group: {a}");
        let end = (
            a["at"]["lon"].as_f64().unwrap(),
            a["at"]["lat"].as_f64().unwrap(),
        );
        assert_eq!(*path.last().unwrap(), end, "ends at its shelter: {a}");
        let leaving: Vec<&str> = group["in_zones"]
            .as_array()
            .expect("in_zones")
            .iter()
            .map(|z| z.as_str().unwrap())
            .collect();
        for (n, leg) in path.windows(2).enumerate() {
            let entered = zones_entered(leg[0], leg[1], zones);
            let allowed = |z: &String| n == 0 && leaving.contains(&z.as_str());
            assert!(
                entered.iter().all(allowed),
                "leg {n} of the path to {} enters {entered:?} (group leaves {leaving:?}): {a}",
                a["shelter"]
            );
        }
        let measured: f64 = path
            .windows(2)
            .map(|w| Geodesic.distance(Point::from(w[0]), Point::from(w[1])))
            .sum();
        let path_m = a["path_m"].as_f64().unwrap();
        assert!(
            (path_m - measured).abs() < 0.2 + measured * 1e-5,
            "{path_m} vs {measured}: {a}"
        );
        let walking = a["walking_m"].as_f64().unwrap();
        assert!((walking - path_m * detour).abs() < 0.2, "{a}");
        let straight = a["distance_m"].as_f64().unwrap();
        match a["route"].as_str().unwrap() {
            "straight" => {
                assert_eq!(path.len(), 2, "{a}");
                assert!((path_m - straight).abs() < 0.11, "{a}");
            }
            "around_zones" => {
                assert!(path.len() > 2, "{a}");
                assert!(path_m > straight, "{a}");
            }
            other => panic!("route {other}: {a}"),
        }
        // Nearest room first, in walking terms.
        assert!(walking >= last - 0.1, "{walking} after {last}: {plan}");
        last = walking;
        // Names repeat in the register: the code and the address go with every name.
        assert!(a["shelter"].as_str().is_some_and(|s| !s.is_empty()), "{a}");
        assert!(a["name"].as_str().is_some_and(|s| !s.is_empty()), "{a}");
        assert!(a["address"].as_str().is_some_and(|s| !s.is_empty()), "{a}");
    }
}

/// Every assignment within the shelter's free places (register values).
fn assert_within_capacity(plan: &Value) {
    let layer = shelters();
    let mut given: HashMap<&str, i64> = HashMap::new();
    for a in plan["assignments"].as_array().unwrap() {
        *given.entry(a["shelter"].as_str().unwrap()).or_default() += a["people"].as_i64().unwrap();
    }
    for (id, n) in given {
        let i = layer.find(id).unwrap();
        let free = int(layer, i, "capacity") - int(layer, i, "occupancy");
        assert!(n <= free, "{id}: {n} placed, {free} free");
    }
}

#[tokio::test]
async fn evacuees_walk_round_a_leak_between_them_and_their_nearest_shelter() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let open = open_by_distance(origin());
        let (metres, nearest, _) = open[0].clone();
        // The group and the shelter must stay outside the 60 m circle 30 m off their line:
        // more than 2 × √(60² − 30²) ≈ 104 m apart, with room to spare.
        assert!(
            metres > 125.0,
            "the nearest shelter is {metres} m away: too close for a leak between"
        );
        let (exclude, spill) = leak_across_the_way(&app, at_id(&nearest)).await;
        let zones = exclusion_polygons(&exclude);
        assert_eq!(zones.len(), 2, "isolation circle and protective square");
        // The story holds: the straight line to the nearest shelter enters the isolation
        // circle, while the group and the shelter are outside both zones.
        let (o, s) = (xy(origin()), xy(at_id(&nearest)));
        assert_eq!(zones_entered(o, s, &zones), vec!["isolation".to_string()]);
        for p in [o, s] {
            assert!(zones_entered(p, p, &zones).is_empty());
        }
        assert!(Geodesic.distance(spill, origin()) > 60.0);
        // Enough people for the ten nearest open shelters.
        let people: i64 = open.iter().take(10).map(|s| s.2).sum();
        let body = json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": people});
        let mut with_zone = body.clone();
        with_zone["exclude"] = exclude.clone();
        let plan = allocate(&app, with_zone).await;
        check_paths(&plan, &zones, 1.3);
        assert_within_capacity(&plan);
        assert_eq!(plan["groups"][0]["in_zones"], json!([]), "{backend:?}");
        let assignments = plan["assignments"].as_array().unwrap();
        let round = assignments
            .iter()
            .find(|a| a["shelter"] == nearest.as_str())
            .unwrap_or_else(|| panic!("{nearest} not used: {plan}"));
        assert_eq!(round["route"], "around_zones", "{round}");
        // Round a 60 m circle (plus the clearance) the line passes 30 m from: a few metres
        // more, not a long way.
        let extra = round["path_m"].as_f64().unwrap() - round["distance_m"].as_f64().unwrap();
        assert!((1.0..100.0).contains(&extra), "{round}");
        // Clear straight pairs keep their straight line and the distance of a plan without
        // zones.
        let free_plan = allocate(&app, body).await;
        // The shelter list names every shelter by code and address too (names repeat).
        let (status, list) = app.call("GET", "/api/shelters", None, None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let mut names: HashMap<&str, usize> = HashMap::new();
        for f in list["features"].as_array().unwrap() {
            assert!(f["id"].as_str().is_some_and(|id| !id.is_empty()), "{f}");
            assert!(
                f["properties"]["address"]
                    .as_str()
                    .is_some_and(|a| !a.is_empty()),
                "{f}"
            );
            *names
                .entry(f["properties"]["name"].as_str().unwrap())
                .or_default() += 1;
        }
        assert!(
            names.values().any(|&n| n > 1),
            "the demo register repeats names"
        );
        let before: HashMap<&str, &Value> = free_plan["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["shelter"].as_str().unwrap(), a))
            .collect();
        let straight: Vec<&Value> = assignments
            .iter()
            .filter(|a| a["route"] == "straight")
            .collect();
        assert!(!straight.is_empty(), "{plan}");
        for a in straight {
            let id = a["shelter"].as_str().unwrap();
            assert_eq!(path_of(a), vec![o, xy(at_id(id))], "{a}");
            assert!(
                (a["distance_m"].as_f64().unwrap() - Geodesic.distance(origin(), at_id(id))).abs()
                    < 0.5,
                "{a}"
            );
            if let Some(old) = before.get(id) {
                assert_eq!(a["distance_m"], old["distance_m"], "{a} vs {old}");
                assert_eq!(a["walking_m"], old["walking_m"], "{a} vs {old}");
                assert_eq!(a["path"], old["path"], "{a} vs {old}");
            }
        }
    }
}

#[tokio::test]
async fn a_shelter_ringed_by_a_zone_or_too_far_round_one_is_reported_with_its_reason() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let open = open_by_distance(origin());
        let nearest = open[0].1.clone();
        let (mut exclude, _) = leak_across_the_way(&app, at_id(&nearest)).await;
        // Floodwater all round another near shelter: a 240 m square moat, 120 m hole.
        let ringed = open
            .iter()
            .skip(1)
            .find(|(d, id, _)| *d > 400.0 && Geodesic.distance(at_id(id), at_id(&nearest)) > 400.0)
            .expect("a second shelter")
            .1
            .clone();
        let c = at_id(&ringed);
        let square = |half: f64| {
            let corner = |bearing: f64| {
                let p = Geodesic.destination(c, bearing, half * 2f64.sqrt());
                json!([p.x(), p.y()])
            };
            json!([
                corner(45.0),
                corner(135.0),
                corner(225.0),
                corner(315.0),
                corner(45.0)
            ])
        };
        let moat = json!({"type": "Feature", "properties": {"name": "积水区"},
            "geometry": {"type": "Polygon", "coordinates": [square(240.0), square(120.0)]}});
        exclude["features"].as_array_mut().unwrap().push(moat);
        let zones = exclusion_polygons(&exclude);
        assert!(
            zones_entered(xy(c), xy(c), &zones).is_empty(),
            "the shelter is dry"
        );
        let people: i64 = open.iter().take(12).map(|s| s.2).sum();
        let plan = allocate(
            &app,
            json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": people, "exclude": exclude}),
        )
        .await;
        check_paths(&plan, &zones, 1.3);
        assert!(
            !plan["assignments"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["shelter"] == ringed.as_str()),
            "{plan}"
        );
        let blocked = plan["blocked"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["shelter"] == ringed.as_str())
            .unwrap_or_else(|| panic!("{ringed} not reported: {plan}"));
        assert_eq!(blocked["reason"], "path_blocked", "{blocked}");
        assert_eq!(blocked["group"], 0);
        assert_eq!(blocked["zones"], json!(["积水区"]), "{blocked}");
        assert!(blocked["address"].as_str().is_some_and(|a| !a.is_empty()));
        assert!(plan["blocked_total"].as_u64().unwrap() >= 1);
        // A reach between the straight line and the way round: the nearest shelter is too far
        // round, and said so.
        let round = plan["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["shelter"] == nearest.as_str())
            .expect("the nearest is used")
            .clone();
        let max = (round["distance_m"].as_f64().unwrap() * 1.3
            + round["walking_m"].as_f64().unwrap())
            / 2.0;
        let plan = allocate(
            &app,
            json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": 5,
                   "exclude": exclude, "max_distance_m": max}),
        )
        .await;
        check_paths(&plan, &zones, 1.3);
        let too_far = plan["blocked"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["shelter"] == nearest.as_str())
            .unwrap_or_else(|| panic!("{nearest} not reported: {plan}"));
        assert_eq!(too_far["reason"], "path_too_long", "{too_far}");
        assert_eq!(too_far["path_m"], round["path_m"], "{too_far}");
        assert!(too_far["walking_m"].as_f64().unwrap() > max, "{too_far}");
        assert_eq!(too_far["zones"], json!(["isolation"]), "{too_far}");
        for a in plan["assignments"].as_array().unwrap() {
            assert!(a["walking_m"].as_f64().unwrap() <= max, "{a}");
            assert_ne!(a["shelter"], nearest.as_str());
        }
    }
}

#[tokio::test]
async fn people_inside_a_leak_zone_walk_straight_out_and_never_back_in() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        // The page's flow: the protective action zone's people, the zones excluded.
        let (status, zone) = app
            .call(
                "POST",
                "/api/hazmat/zone",
                Some(&app.keys.dispatcher),
                Some(
                    json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "chemical": "chlorine",
                    "spill": "large", "time": "night", "wind_from_deg": 0, "wind_speed_ms": 3}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{zone}");
        let exclude = zone["zones"].clone();
        let area = exclude["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["zone"] == "protective_action")
            .expect("protective zone")["geometry"]
            .clone();
        let plan = allocate(&app, json!({"area": area, "exclude": exclude})).await;
        let zones = exclusion_polygons(&exclude);
        assert!(plan["placed"].as_i64().unwrap() > 0, "{backend:?}: {plan}");
        check_paths(&plan, &zones, 1.3);
        assert_within_capacity(&plan);
        // Every group starts inside the protective zone, and the plan says so.
        for g in plan["groups"].as_array().unwrap() {
            let o = (
                g["origin"]["lon"].as_f64().unwrap(),
                g["origin"]["lat"].as_f64().unwrap(),
            );
            let mut inside = zones_entered(o, o, &zones);
            inside.sort();
            let mut said: Vec<String> = g["in_zones"]
                .as_array()
                .unwrap()
                .iter()
                .map(|z| z.as_str().unwrap().to_string())
                .collect();
            said.sort();
            assert_eq!(inside, said, "{g}");
            assert!(said.contains(&"protective_action".to_string()), "{g}");
        }
    }
}

#[tokio::test]
async fn zones_too_detailed_to_route_round_are_refused_naming_the_field() {
    let app = case_app(common::cases::Backend::Sqlite).await;
    // A circle of 5,001 vertices: more than the 5,000 the paths may be routed round.
    let ring: Vec<Value> = (0..=5_001)
        .map(|i| {
            let a = std::f64::consts::TAU * f64::from(i % 5_001) / 5_001.0;
            json!([121.46 + 0.005 * a.cos(), 30.92 + 0.005 * a.sin()])
        })
        .collect();
    let (status, error) = app
        .call(
            "POST",
            "/api/shelters/allocate",
            None,
            Some(
                json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": 5,
                "exclude": {"type": "Polygon", "coordinates": [ring]}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["field"], "exclude", "{error}");
    // So are more than 100 polygons.
    let square = |n: f64| {
        json!([[
            [121.40 + n * 0.001, 30.90],
            [121.4005 + n * 0.001, 30.90],
            [121.4005 + n * 0.001, 30.9005],
            [121.40 + n * 0.001, 30.90]
        ]])
    };
    let many: Vec<Value> = (0..101).map(|n| square(f64::from(n))).collect();
    let (status, error) = app
        .call(
            "POST",
            "/api/shelters/allocate",
            None,
            Some(
                json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": 5,
                "exclude": {"type": "MultiPolygon", "coordinates": many}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["field"], "exclude", "{error}");
    assert!(
        error["error"]["message"].as_str().unwrap().contains("100"),
        "{error}"
    );
}
