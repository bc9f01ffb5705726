//! The hazardous-chemicals API and the ERG leak zones, through the real router on the demo data.
//!
//! The exposure lists are checked against an independent brute-force answer: every feature of
//! the demo layers tested with geo's `Intersects` against the zone polygons the API returned
//! (no R-tree, no fast path), and the polygons themselves against the ERG geometry.

use crate::common;

use axum::http::StatusCode;
use common::cases::{Backend, CaseApp, case_app};
use common::demo_store;
use geo::{Coord, Intersects, LineString, Point, Polygon};
use gridlink::catalog::Role;
use gridlink::services::nearest::free_capacity;
use gridlink::spatial::distance::{metres, metres_per_degree};
use gridlink::spatial::{GeometryRef, PropertyValue};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const POINT: (f64, f64) = (121.4602, 30.9191);

async fn zone(app: &CaseApp, body: Value) -> (StatusCode, Value) {
    let key = app.keys.dispatcher.clone();
    app.call("POST", "/api/hazmat/zone", Some(&key), Some(body))
        .await
}

fn polygon(feature: &Value) -> Polygon<f64> {
    let ring = feature["geometry"]["coordinates"][0]
        .as_array()
        .expect("ring")
        .iter()
        .map(|c| Coord {
            x: c[0].as_f64().expect("lon"),
            y: c[1].as_f64().expect("lat"),
        })
        .collect::<Vec<_>>();
    Polygon::new(LineString::from(ring), vec![])
}

fn zones(body: &Value) -> Vec<(String, Polygon<f64>)> {
    body["zones"]["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["properties"]["zone"].as_str().expect("zone").to_string(),
                polygon(f),
            )
        })
        .collect()
}

fn hits(geometry: GeometryRef<'_>, zones: &[(String, Polygon<f64>)]) -> bool {
    zones.iter().any(|(_, z)| match geometry {
        GeometryRef::Point(c) => z.intersects(&Point(c)),
        GeometryRef::Lines(m) => z.intersects(m),
        GeometryRef::Polygons(m) => z.intersects(m),
    })
}

/// Ids of every feature of the role's layer in either zone, by brute force.
fn expected(role: Role, zones: &[(String, Polygon<f64>)]) -> BTreeSet<String> {
    let layer = demo_store().by_role(role).expect("layer");
    (0..layer.len())
        .filter(|&i| hits(layer.geometry(i), zones))
        .map(|i| layer.id(i).to_string())
        .collect()
}

fn listed(section: &Value) -> BTreeSet<String> {
    section["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect()
}

/// East/north metres of `c` from the incident.
fn local(origin: (f64, f64), c: Coord<f64>) -> (f64, f64) {
    let (m_lat, m_lon) = metres_per_degree(origin.1);
    ((c.x - origin.0) * m_lon, (c.y - origin.1) * m_lat)
}

fn at(origin: (f64, f64), east: f64, north: f64) -> Point<f64> {
    let (m_lat, m_lon) = metres_per_degree(origin.1);
    Point::new(origin.0 + east / m_lon, origin.1 + north / m_lat)
}

#[tokio::test]
async fn zones_hold_exactly_what_an_independent_check_finds() {
    let app = case_app(Backend::Sqlite).await;
    let (status, body) = zone(
        &app,
        json!({"lon": POINT.0, "lat": POINT.1, "chemical": "chlorine", "spill": "large",
               "time": "night", "wind_from_deg": 45.0, "wind_speed_ms": 4.0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let zones = zones(&body);
    assert_eq!(zones.len(), 2);
    assert_eq!(body["distances"]["isolation_m"], 600.0);
    assert_eq!(body["distances"]["protective_action_m"], 8000.0);
    assert_eq!(body["wind"]["model"], "steady");

    let sections = [
        (Role::ProtectedTarget, "protected_targets"),
        (Role::HazardSource, "hazard_sources"),
        (Role::Village, "villages"),
        (Role::Shelter, "shelters_in_zones"),
        (Role::Camera, "cameras"),
    ];
    for (role, key) in sections {
        let section = &body["exposure"][key];
        let truth = expected(role, &zones);
        assert_eq!(
            section["total"].as_u64(),
            Some(truth.len() as u64),
            "{key}: total"
        );
        let got = listed(section);
        if section["truncated"] == false {
            assert_eq!(got, truth, "{key}");
        } else {
            assert!(
                got.is_subset(&truth),
                "{key}: listed features outside the zones"
            );
        }
    }
    // The 8 km square over Nanqiao holds people and cells; an empty answer would prove nothing.
    assert!(body["exposure"]["villages"]["total"].as_u64() > Some(5));
    assert!(body["exposure"]["protected_targets"]["total"].as_u64() > Some(0));

    // People add up over the independent sets.
    let store = demo_store();
    let sum = |role: Role, field: &str| -> i64 {
        let layer = store.by_role(role).expect("layer");
        expected(role, &zones)
            .iter()
            .filter_map(|id| match layer.property(layer.find(id)?, field) {
                Some(PropertyValue::Integer(n)) => Some(n),
                _ => None,
            })
            .sum()
    };
    assert_eq!(
        body["exposure"]["protected_targets"]["people"].as_i64(),
        Some(sum(Role::ProtectedTarget, "headcount"))
    );
    assert_eq!(
        body["exposure"]["villages"]["people"].as_i64(),
        Some(sum(Role::Village, "population"))
    );

    // Grid cells: the count, and the first codes in order.
    let cells = expected(Role::GridCell, &zones);
    let summary = &body["exposure"]["grid_cells"];
    assert_eq!(summary["count"].as_u64(), Some(cells.len() as u64));
    let codes: Vec<&str> = summary["codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code"))
        .collect();
    let first: Vec<&str> = cells.iter().take(codes.len()).map(String::as_str).collect();
    assert_eq!(codes, first);
    assert_eq!(
        summary["codes_truncated"].as_bool(),
        Some(cells.len() > codes.len())
    );

    // Safe shelters: open, with room, outside both zones, nearest first, and none skipped.
    let shelters = store.by_role(Role::Shelter).expect("shelters");
    let proposed = body["safe_shelters"].as_array().expect("safe shelters");
    assert!(!proposed.is_empty());
    let mut last = 0.0;
    for s in proposed {
        let i = shelters
            .find(s["id"].as_str().expect("id"))
            .expect("shelter");
        assert!(!hits(shelters.geometry(i), &zones), "{s}");
        assert!(free_capacity(shelters, i).expect("capacity") > 0);
        let d = s["distance_m"].as_f64().expect("distance");
        assert!(d >= last);
        last = d;
    }
    let p = Coord {
        x: POINT.0,
        y: POINT.1,
    };
    for i in 0..shelters.len() {
        let c = shelters.geometry(i).to_geo_point().expect("point");
        let open = shelters.property(i, "status") == Some(PropertyValue::Text("open"));
        let room = free_capacity(shelters, i).is_some_and(|f| f > 0);
        if open && room && !hits(shelters.geometry(i), &zones) && metres(p, c) < last - 1.0 {
            assert!(
                proposed.iter().any(|s| s["id"] == shelters.id(i)),
                "{} is safe and nearer than the last proposal but missing",
                shelters.id(i)
            );
        }
    }
}

#[tokio::test]
async fn the_zones_have_the_erg_shape_and_lie_downwind() {
    let app = case_app(Backend::Sqlite).await;
    // Wind from the north: the protective square lies south of the spill.
    let (status, body) = zone(
        &app,
        json!({"lon": POINT.0, "lat": POINT.1, "chemical": "chlorine", "spill": "small",
               "time": "night", "wind_from_deg": 0.0, "wind_speed_ms": 5.0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let zones = zones(&body);
    let (_, isolation) = &zones[0];
    let (name, square) = &zones[1];
    assert_eq!(name, "protective_action");
    let d = 1600.0;
    for c in square.exterior().coords() {
        let (e, n) = local(POINT, *c);
        assert!(n <= 1e-6, "vertex north of the spill: {n}");
        assert!(n >= -d - 1e-6 && e.abs() <= d / 2.0 + 1e-6, "{e} {n}");
    }
    assert!(square.intersects(&at(POINT, 0.0, -0.99 * d)));
    assert!(square.intersects(&at(POINT, 0.49 * d, -0.5 * d)));
    assert!(!square.intersects(&at(POINT, 0.0, 0.2 * d)));
    assert!(!square.intersects(&at(POINT, 0.0, -1.01 * d)));
    // The isolation zone: 60 m in every direction.
    for k in 0..36 {
        let a = (k as f64 * 10.0).to_radians();
        assert!(isolation.intersects(&at(POINT, 59.9 * a.sin(), 59.9 * a.cos())));
        assert!(!isolation.intersects(&at(POINT, 61.0 * a.sin(), 61.0 * a.cos())));
    }

    // Wind from the east (90°): the zone lies west.
    let (_, body) = zone(
        &app,
        json!({"lon": POINT.0, "lat": POINT.1, "chemical": "chlorine", "spill": "small",
               "time": "day", "wind_from_deg": 90.0, "wind_speed_ms": 5.0}),
    )
    .await;
    let zones = self::zones(&body);
    assert!(zones[1].1.intersects(&at(POINT, -390.0, 0.0)));
    assert!(!zones[1].1.intersects(&at(POINT, 100.0, 0.0)));

    // Calm: the protective distance applies all round, and the answer says so.
    let (_, body) = zone(
        &app,
        json!({"lon": POINT.0, "lat": POINT.1, "chemical": "chlorine", "spill": "small",
               "time": "day", "wind_from_deg": 0.0, "wind_speed_ms": 0.0}),
    )
    .await;
    assert_eq!(body["wind"]["model"], "calm");
    let zones = self::zones(&body);
    assert!(zones[1].1.intersects(&at(POINT, 0.0, 390.0)));
    assert!(
        body["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.contains("calm")))
    );
}

#[tokio::test]
async fn unverified_distances_are_flagged() {
    let app = case_app(Backend::Sqlite).await;
    let ask = |chemical: &str, spill: &str| {
        json!({"lon": POINT.0, "lat": POINT.1, "chemical": chemical, "spill": spill,
               "time": "day", "wind_from_deg": 200.0, "wind_speed_ms": 3.0})
    };
    let (status, body) = zone(&app, ask("ammonia", "small")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["verified"], false);
    assert_eq!(body["distances"]["verified"], false);
    assert_eq!(
        body["zones"]["features"][0]["properties"]["verified"],
        false
    );
    assert!(
        body["notes"][0]
            .as_str()
            .expect("note")
            .starts_with("UNVERIFIED")
    );

    let (_, body) = zone(&app, ask("chlorine", "small")).await;
    assert_eq!(body["verified"], true);
    assert!(
        body["distances"]["source"]
            .as_str()
            .expect("source")
            .contains("UN1017")
    );

    // A guide-only material: isolation only for a small spill, a downwind zone for a large one.
    let (_, body) = zone(&app, ask("toluene", "small")).await;
    assert_eq!(body["verified"], true);
    assert_eq!(body["distances"]["basis"], "guide");
    assert_eq!(body["zones"]["features"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["distances"]["protective_action_m"], Value::Null);
    let (_, body) = zone(&app, ask("methanol", "large")).await;
    assert_eq!(body["verified"], false);
    assert_eq!(body["distances"]["isolation_m"], 50.0);
    assert_eq!(body["distances"]["protective_action_m"], 300.0);
}

#[tokio::test]
async fn a_hazard_source_gives_its_place_and_first_chemical() {
    let app = case_app(Backend::Sqlite).await;
    let sources = demo_store().by_role(Role::HazardSource).expect("sources");
    let i = (0..sources.len())
        .find(|&i| {
            sources
                .property(i, "chemical_ids")
                .and_then(PropertyValue::as_text)
                .is_some_and(|ids| ids.starts_with("methanol"))
        })
        .expect("a methanol source");
    let id = sources.id(i);
    let c = sources.geometry(i).to_geo_point().expect("point");
    let (status, body) = zone(
        &app,
        json!({"hazard_source": id, "spill": "large", "time": "night",
               "wind_from_deg": 90.0, "wind_speed_ms": 6.0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["chemical"]["id"], "methanol");
    assert_eq!(body["incident"]["lon"].as_f64(), Some(c.x));
    assert_eq!(body["incident"]["lat"].as_f64(), Some(c.y));
    assert_eq!(body["incident"]["hazard_source"]["id"], id);
    assert!(
        !listed(&body["exposure"]["hazard_sources"]).contains(id),
        "the source itself is not its own exposure"
    );
    // A named chemical overrides the source's first one.
    let (_, body) = zone(
        &app,
        json!({"hazard_source": id, "chemical": "ammonia", "spill": "small", "time": "day",
               "wind_from_deg": 90.0, "wind_speed_ms": 6.0}),
    )
    .await;
    assert_eq!(body["chemical"]["id"], "ammonia");
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_field() {
    let app = case_app(Backend::Sqlite).await;
    let good = json!({"lon": POINT.0, "lat": POINT.1, "chemical": "chlorine", "spill": "small",
                      "time": "day", "wind_from_deg": 10.0, "wind_speed_ms": 3.0});
    // Staff only.
    let (status, body) = app
        .call("POST", "/api/hazmat/zone", None, Some(good.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        if value.is_null() {
            body.as_object_mut().expect("object").remove(key);
        } else {
            body[key] = value;
        }
        body
    };
    let cases = [
        (with("wind_from_deg", json!(400.0)), 400, "wind_from_deg"),
        (with("wind_from_deg", json!(-5)), 400, "wind_from_deg"),
        (with("wind_speed_ms", json!(-1.0)), 400, "wind_speed_ms"),
        (with("wind_speed_ms", json!("NaN")), 400, "wind_speed_ms"),
        (with("wind_speed_ms", Value::Null), 400, "wind_speed_ms"),
        (with("lon", json!("x")), 400, "lon"),
        (with("lat", Value::Null), 400, "lat"),
        (with("lon", json!(181.0)), 400, "lon"),
        (with("chemical", json!("unobtainium")), 400, "chemical"),
        (with("chemical", Value::Null), 400, "chemical"),
        (with("chemical", json!("sodium")), 422, "chemical"),
        (with("spill", json!("medium")), 400, "spill"),
        (with("time", Value::Null), 400, "time"),
        (with("time", json!("dusk")), 400, "time"),
        (with("lon", json!(120.0)), 422, "lon"),
        (
            with("hazard_source", json!("WXY0001")),
            400,
            "hazard_source",
        ),
        (with("colour", json!("red")), 400, "colour"),
        (
            json!({"hazard_source": "NOPE", "spill": "small", "time": "day",
                   "wind_from_deg": 0, "wind_speed_ms": 2}),
            400,
            "hazard_source",
        ),
    ];
    for (body, status, field) in cases {
        let (got, answer) = zone(&app, body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body} → {answer}");
        assert_eq!(answer["error"]["field"], field, "{body} → {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[tokio::test]
async fn chemicals_are_found_by_cas_un_and_name() {
    let app = case_app(Backend::Sqlite).await;
    let ids = |body: &Value| -> Vec<String> {
        body["chemicals"]
            .as_array()
            .expect("chemicals")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_string())
            .collect()
    };
    for (q, want) in [
        ("7664-41-7", "ammonia"),
        ("UN1017", "chlorine"),
        ("1017", "chlorine"),
        ("%E7%94%B2%E9%86%87", "methanol"), // 甲醇
        ("Hydrogen%20sulfide", "hydrogen_sulfide"),
    ] {
        let (status, body) = app
            .call("GET", &format!("/api/chemicals?q={q}"), None, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(ids(&body), [want], "{q}");
    }
    let (_, body) = app.call("GET", "/api/chemicals", None, None).await;
    let with_erg = body["chemicals"]
        .as_array()
        .expect("all")
        .iter()
        .filter(|c| !c["erg"].is_null())
        .count();
    assert!(with_erg >= 20, "{with_erg} chemicals with ERG data");

    let (status, body) = app.call("GET", "/api/chemicals/chlorine", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["cas"], "7782-50-5");
    assert_eq!(body["critical_quantity_t"], 5.0);
    assert_eq!(body["erg"]["small"]["isolation_m"], 60.0);
    assert_eq!(body["erg_verified"], true);
    let (status, body) = app.call("GET", "/api/chemicals/ammonia", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["erg_verified"], false);
    let (status, body) = app.call("GET", "/api/chemicals/nope", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["field"], "id");
    let (status, body) = app.call("GET", "/api/chemicals?limit=0", None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "limit");
}
