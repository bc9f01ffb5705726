//! The spatial services through the real HTTP router on the demo data: locate (with routing,
//! borders, outside points, GCJ-02 / BD-09 input), nearest with filters, around with and
//! without staff access, and every kind of bad request.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{demo_store, get_json, get_json_as, send};
use geo::{Contains, Distance, Geodesic, InteriorPoint, Point};
use gridlink::catalog::{Level, Role};
use gridlink::services::locate::DEFAULT_TOLERANCE_M;
use gridlink::spatial::crs::Crs;
use gridlink::spatial::{GeometryRef, Layer, PropertyValue};
use serde_json::Value;

fn layer(role: Role) -> &'static Layer {
    demo_store().by_role(role).expect("role present")
}

fn text(layer: &Layer, i: usize, field: &str) -> String {
    match layer.property(i, field) {
        Some(PropertyValue::Text(s)) => s.to_string(),
        other => panic!("{field}: {other:?}"),
    }
}

/// A point well inside cell `i` (its interior point, which lies > 5 m from borders for most
/// cells; cells where it does not are skipped by the caller via `edge_distance_m`).
fn inside(i: usize) -> Point<f64> {
    match layer(Role::GridCell).geometry(i) {
        GeometryRef::Polygons(m) => m.interior_point().expect("interior point"),
        _ => panic!("cells are polygons"),
    }
}

async fn locate(lon: f64, lat: f64, extra: &str) -> (StatusCode, Value) {
    get_json(&format!("/api/locate?lon={lon}&lat={lat}{extra}")).await
}

#[tokio::test]
async fn cell_interior_points_locate_to_their_cell_village_and_town() {
    let cells = layer(Role::GridCell);
    for i in (0..cells.len()).step_by(cells.len() / 150) {
        let p = inside(i);
        let (status, body) = locate(p.x(), p.y(), "").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["cell"]["id"], cells.id(i));
        assert_eq!(body["village"]["id"], text(cells, i, "village_code"));
        assert_eq!(body["town"]["id"], text(cells, i, "town_code"));
        assert_eq!(body["beat"]["id"], text(cells, i, "beat_code"));
        assert!(body["village"]["name"].is_string());
    }
}

/// Two cells sharing an edge: its midpoint is within the tolerance of both, so the answer is
/// ambiguous, names both, and picks the same one every time.
#[tokio::test]
async fn points_on_a_shared_border_are_ambiguous_and_resolve_deterministically() {
    let cells = layer(Role::GridCell);
    let GeometryRef::Polygons(m) = cells.geometry(500) else {
        panic!()
    };
    let ring = &m.0[0].exterior().0;
    let (a, b) = (ring[0], ring[1]);
    let mid = Point::new((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
    let (status, first) = locate(mid.x(), mid.y(), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["ambiguous"], true, "{first}");
    let candidates: Vec<&str> = first["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(candidates.len() >= 2);
    assert!(candidates.contains(&cells.id(500)));
    assert_eq!(
        candidates[0],
        first["cell"]["id"].as_str().unwrap(),
        "the chosen cell comes first"
    );
    for _ in 0..3 {
        let (_, again) = locate(mid.x(), mid.y(), "").await;
        assert_eq!(again["cell"], first["cell"]);
    }
    // A vertex shared by three cells resolves too.
    let (status, at_vertex) = locate(a.x, a.y, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(at_vertex["ambiguous"], true);
    // A larger tolerance catches more; a point well inside is never ambiguous.
    let p = inside(500);
    let (_, calm) = locate(p.x(), p.y(), "&tolerance=0").await;
    assert_eq!(calm["ambiguous"], false);
}

#[tokio::test]
async fn a_point_outside_the_district_is_a_404_that_says_so() {
    for (lon, lat) in [(121.2, 31.2), (121.5, 30.6), (0.0, 0.0)] {
        let (status, body) = locate(lon, lat, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "outside_district");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("outside the district")
        );
    }
}

#[tokio::test]
async fn gcj02_and_bd09_input_is_converted_before_locating() {
    let cells = layer(Role::GridCell);
    let mut checked = 0;
    for i in (0..cells.len()).step_by(997) {
        let p = inside(i);
        let (_, wgs) = locate(p.x(), p.y(), "").await;
        if wgs["edge_distance_m"].as_f64().unwrap() < 2.0 {
            continue;
        }
        for crs in [Crs::Gcj02, Crs::Bd09, Crs::parse("EPSG:4528").unwrap()] {
            let (x, y) = crs.from_wgs84(p.x(), p.y()).unwrap();
            let (status, body) = locate(x, y, &format!("&crs={}", crs.label())).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body["cell"]["id"], cells.id(i), "{crs:?}");
            assert_eq!(body["point"]["input_crs"], crs.label());
            let back = Point::new(
                body["point"]["lon"].as_f64().unwrap(),
                body["point"]["lat"].as_f64().unwrap(),
            );
            assert!(Geodesic.distance(back, p) < 1.0, "{crs:?} round trip");
        }
        checked += 1;
    }
    assert!(checked > 20);
}

#[tokio::test]
async fn a_class_routes_to_the_unit_whose_jurisdiction_holds_the_point() {
    let tables = common::tables();
    let cells = layer(Role::GridCell);
    for level in [Level::Town, Level::District] {
        let class = tables
            .classes
            .iter()
            .find(|c| c.level == level)
            .expect("a class per level");
        let (units, role) = match level {
            Level::Town => (layer(Role::TownUnit), "town_units"),
            Level::District => (layer(Role::DistrictUnit), "district_units"),
        };
        for i in (0..cells.len()).step_by(cells.len() / 20) {
            let p = inside(i);
            let (status, body) = locate(p.x(), p.y(), &format!("&class={}", class.code)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let routing = &body["routing"];
            assert_eq!(routing["class"]["code"], class.code.as_str());
            assert_eq!(routing["class"]["level"], level.as_str());
            let unit = &routing["responsible_unit"];
            assert_eq!(unit["layer"], role);
            assert_eq!(unit["basis"], "jurisdiction");
            let u = units.find(unit["id"].as_str().unwrap()).unwrap();
            assert_eq!(text(units, u, "unit_type"), class.unit_type);
            let jurisdiction = text(units, u, "jurisdiction");
            assert!(
                cells.id(i).starts_with(&jurisdiction),
                "{jurisdiction} must hold {}",
                cells.id(i)
            );
            if level == Level::Town {
                assert_eq!(jurisdiction, text(cells, i, "town_code"));
            }
            let nearest = routing["nearest_units"].as_array().unwrap();
            assert!(!nearest.is_empty() && nearest.len() <= 3);
            let distances: Vec<f64> = nearest
                .iter()
                .map(|n| n["distance_m"].as_f64().unwrap())
                .collect();
            assert!(distances.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}

/// Brute force over every shelter with Karney's geodesic: the service must return the same
/// shelters in the same order.
#[tokio::test]
async fn nearest_shelters_with_filters_and_people_match_a_brute_force_search() {
    let shelters = layer(Role::Shelter);
    let int = |i: usize, f: &str| match shelters.property(i, f) {
        Some(PropertyValue::Integer(n)) => n,
        _ => 0,
    };
    for (lon, lat, people) in [
        (121.46, 30.92, 1000),
        (121.70, 30.88, 1),
        (121.40, 30.83, 5000),
    ] {
        let p = Point::new(lon, lat);
        let mut expected: Vec<(f64, String)> = (0..shelters.len())
            .filter(|&i| {
                text(shelters, i, "status") == "open"
                    && int(i, "capacity") - int(i, "occupancy") >= people
            })
            .map(|i| {
                let GeometryRef::Point(c) = shelters.geometry(i) else {
                    panic!()
                };
                (Geodesic.distance(p, Point(c)), shelters.id(i).to_string())
            })
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0));
        expected.truncate(4);
        let (status, body) = get_json(&format!(
            "/api/nearest/shelters?lon={lon}&lat={lat}&k=4&status=open&people={people}"
        ))
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let got: Vec<(f64, String)> = body["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["distance_m"].as_f64().unwrap(),
                    f["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            got.iter().map(|g| &g.1).collect::<Vec<_>>(),
            expected.iter().map(|e| &e.1).collect::<Vec<_>>()
        );
        for (g, e) in got.iter().zip(&expected) {
            assert!(
                (g.0 - e.0).abs() < 0.2,
                "distance {} vs geodesic {}",
                g.0,
                e.0
            );
        }
        for f in body["features"].as_array().unwrap() {
            assert!(f["free_capacity"].as_i64().unwrap() >= people);
        }
    }
    // max_distance cuts the list.
    let (_, body) =
        get_json("/api/nearest/shelters?lon=121.46&lat=30.92&k=50&max_distance=1500").await;
    assert!(
        body["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["distance_m"].as_f64().unwrap() <= 1500.0)
    );
}

#[tokio::test]
async fn around_an_incident_reports_hazards_to_staff_only() {
    let (lon, lat, radius) = (121.435, 30.822, 1500.0);
    let (status, public) =
        get_json(&format!("/api/around?lon={lon}&lat={lat}&radius={radius}")).await;
    assert_eq!(status, StatusCode::OK);
    let withheld: Vec<&str> = public["withheld"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for role in ["hazard_source", "protected_target", "camera"] {
        assert!(withheld.contains(&role));
        assert!(
            public["sections"].get(role).is_none(),
            "{role} leaked to the public"
        );
    }
    let (_, staff) = get_json_as(
        &format!("/api/around?lon={lon}&lat={lat}&radius={radius}"),
        true,
    )
    .await;
    assert!(staff["withheld"].as_array().unwrap().is_empty());
    // Hazard sources within the radius: the same set an independent geodesic check finds.
    let sources = layer(Role::HazardSource);
    let p = Point::new(lon, lat);
    let mut expected: Vec<String> = (0..sources.len())
        .filter(|&i| {
            let GeometryRef::Point(c) = sources.geometry(i) else {
                panic!()
            };
            Geodesic.distance(p, Point(c)) <= radius
        })
        .map(|i| sources.id(i).to_string())
        .collect();
    expected.sort();
    let mut got: Vec<String> = staff["sections"]["hazard_source"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert!(!expected.is_empty(), "the chemical zone has hazard sources");
    assert_eq!(got, expected);
    for f in staff["sections"]["hazard_source"]["features"]
        .as_array()
        .unwrap()
    {
        assert!(f["properties"]["grade"].is_i64() && f["properties"]["chemicals"].is_string());
    }
    let targets = &staff["sections"]["protected_target"];
    let headcount: i64 = targets["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["headcount"].as_i64().unwrap())
        .sum();
    assert_eq!(targets["people"].as_i64().unwrap(), headcount);
    // Shelters offered are open and have room.
    for f in staff["sections"]["shelter"]["features"].as_array().unwrap() {
        assert_eq!(f["properties"]["status"], "open");
        assert!(f["free_capacity"].as_i64().unwrap() > 0);
    }
    for role in [
        "team",
        "supply_depot",
        "medical_facility",
        "fire_police_station",
    ] {
        assert_eq!(staff["sections"][role]["count"], 3, "{role}");
    }
    let villages = &staff["sections"]["village"];
    assert!(villages["count"].as_u64().unwrap() >= 1);
    assert!(villages["people"].as_i64().unwrap() > 0);
    assert!(staff["location"]["cell"]["id"].is_string());
}

async fn expect_error(path: &str, status: StatusCode, code: &str, field: Option<&str>) {
    let (got, body) = get_json(path).await;
    assert_eq!(got, status, "{path}: {body}");
    assert_eq!(body["error"]["code"], code, "{path}: {body}");
    if let Some(field) = field {
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
    }
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn every_bad_parameter_is_a_clear_4xx() {
    let bad = StatusCode::BAD_REQUEST;
    expect_error(
        "/api/locate?lat=30.9",
        bad,
        "invalid_parameter",
        Some("lon"),
    )
    .await;
    expect_error(
        "/api/locate?lon=121.4",
        bad,
        "invalid_parameter",
        Some("lat"),
    )
    .await;
    expect_error(
        "/api/locate?lon=abc&lat=30.9",
        bad,
        "invalid_parameter",
        Some("lon"),
    )
    .await;
    expect_error(
        "/api/locate?lon=NaN&lat=30.9",
        bad,
        "invalid_parameter",
        Some("lon"),
    )
    .await;
    expect_error(
        "/api/locate?lon=121.4&lat=inf",
        bad,
        "invalid_parameter",
        Some("lat"),
    )
    .await;
    expect_error(
        "/api/locate?lon=121.4&lat=95",
        bad,
        "invalid_parameter",
        Some("lat"),
    )
    .await;
    expect_error(
        "/api/locate?lon=190&lat=30.9",
        bad,
        "invalid_parameter",
        Some("lon"),
    )
    .await;
    expect_error(
        "/api/locate?lon=121.46&lat=30.92&crs=utm",
        bad,
        "invalid_parameter",
        Some("crs"),
    )
    .await;
    expect_error(
        "/api/locate?lon=121.46&lat=30.92&class=X9999",
        bad,
        "unknown_class",
        Some("class"),
    )
    .await;
    expect_error(
        "/api/locate?lon=121.46&lat=30.92&tolerance=-1",
        bad,
        "invalid_parameter",
        Some("tolerance"),
    )
    .await;
    expect_error(
        "/api/nearest/no_such_layer?lon=121.46&lat=30.92",
        StatusCode::NOT_FOUND,
        "unknown_layer",
        Some("layer"),
    )
    .await;
    expect_error(
        "/api/nearest/hazard_sources?lon=121.46&lat=30.92",
        StatusCode::NOT_FOUND,
        "unknown_layer",
        Some("layer"),
    )
    .await;
    expect_error(
        "/api/nearest/shelters?lon=121.46&lat=30.92&k=5000",
        bad,
        "invalid_parameter",
        Some("k"),
    )
    .await;
    expect_error(
        "/api/nearest/shelters?lon=121.46&lat=30.92&k=0",
        bad,
        "invalid_parameter",
        Some("k"),
    )
    .await;
    expect_error(
        "/api/nearest/shelters?lon=121.46&lat=30.92&people=-3",
        bad,
        "invalid_parameter",
        Some("people"),
    )
    .await;
    expect_error(
        "/api/nearest/teams?lon=121.46&lat=30.92&people=3",
        bad,
        "invalid_parameter",
        Some("people"),
    )
    .await;
    expect_error(
        "/api/nearest/shelters?lon=121.46&lat=30.92&colour=red",
        bad,
        "invalid_parameter",
        Some("colour"),
    )
    .await;
    expect_error(
        "/api/nearest/shelters?lon=121.46&lat=30.92&capacity=many",
        bad,
        "invalid_parameter",
        Some("capacity"),
    )
    .await;
    expect_error(
        "/api/around?lon=121.46&lat=30.92&radius=50000",
        bad,
        "invalid_parameter",
        Some("radius"),
    )
    .await;
    expect_error(
        "/ogc/collections/shelters/items?limit=20000",
        bad,
        "invalid_parameter",
        Some("limit"),
    )
    .await;
    expect_error(
        "/ogc/collections/shelters/items?bbox=1,2,3",
        bad,
        "invalid_parameter",
        Some("bbox"),
    )
    .await;
    expect_error(
        "/ogc/collections/shelters/items?bbox=121.5,30,121.4,31",
        bad,
        "invalid_parameter",
        Some("bbox"),
    )
    .await;
    expect_error(
        "/ogc/collections/nowhere/items",
        StatusCode::NOT_FOUND,
        "unknown_layer",
        Some("layer"),
    )
    .await;
}

/// Odd inputs must never reach a 5xx (or a panic): every answer is a 2xx or a JSON 4xx.
#[tokio::test]
async fn odd_inputs_never_cause_a_server_error() {
    let long = "9".repeat(5000);
    let odd = [
        "lon=&lat=".to_string(),
        "lon=1e400&lat=30".to_string(),
        "lon=-0&lat=-0".to_string(),
        format!("lon={long}&lat=30"),
        "lon=121.46&lat=30.92&crs=%FF%FE".to_string(),
        "lon=121.46&lat=30.92&class=%E4%B8%AD".to_string(),
        "lon=121.46&lat=30.92&tolerance=1e308".to_string(),
        "lon=121.46&lat=30.92&k=18446744073709551616".to_string(),
        "lon=121.46&lat=30.92&radius=NaN".to_string(),
        "lon=121.46&lat=30.92&lon=0".to_string(),
        "%%%%".to_string(),
        "lon=121.46&lat=30.92&max_distance=-5".to_string(),
    ];
    for query in &odd {
        for path in [
            "/api/locate",
            "/api/nearest/shelters",
            "/api/around",
            "/ogc/collections/shelters/items",
        ] {
            let request = Request::get(format!("{path}?{query}"))
                .body(Body::empty())
                .unwrap();
            let (status, _, body) = send(common::app(true), request).await;
            assert!(!status.is_server_error(), "{path}?{query}: {status}");
            if status.is_client_error() {
                let error: Value = serde_json::from_slice(&body)
                    .unwrap_or_else(|_| panic!("{path}?{query}: not JSON"));
                assert!(error["error"]["code"].is_string());
            }
        }
    }
}

async fn post(
    body: &str,
    content_type: &str,
    query: &str,
    accept: Option<&str>,
) -> (StatusCode, String, String) {
    let mut request =
        Request::post(format!("/api/locate/batch{query}")).header("content-type", content_type);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let (status, content_type, bytes) = send(
        common::app(false),
        request.body(Body::from(body.to_string())).unwrap(),
    )
    .await;
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn a_batch_reports_bad_rows_individually_and_processes_the_rest() {
    let csv = "id,lon,lat,class\np1,121.4602,30.9191,C0101\np2,abc,30.9\np3,122.5,30.9\np4,121.5,30.95,NOPE\n\np5,121.47,30.93\n";
    let (status, content_type, body) = post(csv, "text/csv", "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-ndjson");
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{body}");
    assert_eq!(lines[0]["id"], "p1");
    assert_eq!(lines[0]["line"], 2);
    assert!(lines[0]["cell"].is_string() && lines[0]["unit"].is_string());
    assert_eq!(lines[1]["error"]["field"], "lon");
    assert_eq!(lines[2]["error"]["code"], "outside_district");
    assert_eq!(lines[3]["error"]["code"], "unknown_class");
    assert_eq!(lines[4]["id"], "p5");
    assert_eq!(lines[4]["line"], 7);
    assert_eq!(lines[5]["summary"]["points"], 5);
    assert_eq!(lines[5]["summary"]["located"], 2);
    assert_eq!(lines[5]["summary"]["errors"], 3);

    let (_, content_type, body) = post(
        "id,lon,lat\nq,121.4602,30.9191\n",
        "text/csv",
        "",
        Some("text/csv"),
    )
    .await;
    assert!(content_type.starts_with("text/csv"));
    assert!(body.starts_with("id,position,cell,"), "{body}");
    assert!(
        body.lines().nth(1).unwrap().starts_with("q,2,310120"),
        "{body}"
    );

    let geojson = r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","id":"a","geometry":{"type":"Point","coordinates":[121.46,30.92]},"properties":{"class":"C0101"}},
        {"type":"Feature","id":"b","geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]}},
        {"type":"Feature","id":"c","geometry":{"type":"Point","coordinates":["x",30.9]}}]}"#;
    let (status, _, body) = post(geojson, "application/geo+json", "", None).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["index"], 0);
    assert!(lines[0]["unit"].is_string());
    assert!(
        lines[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("LineString")
    );
    assert_eq!(lines[2]["error"]["field"], "geometry");
    assert_eq!(lines[3]["summary"]["errors"], 2);
}

#[tokio::test]
async fn a_bad_batch_request_is_refused_before_any_work() {
    let (status, _, body) = post("{\"type\":\"Feature\"}", "application/geo+json", "", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("\"field\":\"body\""));
    let (status, _, body) = post("{not json", "application/json", "", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, body) = post("<points/>", "application/xml", "", None).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, _, body) = post("id,lon,lat\n", "text/csv", "?class=ZZZ", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("unknown_class"));
    let (status, _, body) = post("id,lon,lat\n", "text/csv", "?crs=mars", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn an_oversized_batch_is_a_413() {
    let mut state = gridlink::http::AppState::new(common::shared_store().clone(), common::tables());
    state.batch_limit = 1000;
    let app = gridlink::http::router(state);
    let body = "id,lon,lat\n".to_string() + &"p,121.46,30.92\n".repeat(200);
    let request = Request::post("/api/locate/batch")
        .header("content-type", "application/geo+json")
        .body(Body::from(format!(
            "{{\"type\":\"FeatureCollection\",\"features\":[],\"pad\":\"{body}\"}}"
        )))
        .unwrap();
    let (status, _, bytes) = send(app.clone(), request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(error["error"]["code"], "body_too_large");
    let request = Request::post("/api/locate/batch")
        .header("content-type", "text/csv")
        .header("content-length", body.len().to_string())
        .body(Body::from(body))
        .unwrap();
    let (status, _, _) = send(app, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// A million random points through the real streaming endpoint; each answer is checked
/// against geo's point-in-polygon over all candidate cells.
#[tokio::test]
async fn a_million_point_batch_agrees_with_an_independent_point_in_polygon_check() {
    use rand::{Rng, SeedableRng};
    let cells = layer(Role::GridCell);
    let extent = cells.extent().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let mut csv = String::with_capacity(40_000_000);
    let mut points = Vec::with_capacity(1_000_000);
    csv.push_str("id,lon,lat\n");
    for i in 0..1_000_000 {
        let p = Point::new(
            rng.random_range(extent.min().x..extent.max().x),
            rng.random_range(extent.min().y..extent.max().y),
        );
        csv.push_str(&format!("{i},{},{}\n", p.x(), p.y()));
        points.push(p);
    }
    let (status, _, body) = post(&csv, "text/csv", "", None).await;
    assert_eq!(status, StatusCode::OK);
    let mut lines = body.lines();
    let mut located = 0;
    for (i, p) in points.iter().enumerate() {
        let line: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(line["id"], i.to_string());
        let expected: Vec<usize> = cells
            .index()
            .at_point(p.0)
            .into_iter()
            .map(|c| c as usize)
            .filter(|&c| matches!(cells.geometry(c), GeometryRef::Polygons(m) if m.contains(p)))
            .collect();
        match expected.as_slice() {
            [] => assert_eq!(
                line["error"]["code"], "outside_district",
                "point {i} {p:?}: {line}"
            ),
            [c] => {
                assert_eq!(line["cell"], cells.id(*c), "point {i} {p:?}");
                located += 1;
            }
            more => panic!("point {i} lies in {} cells by geo: {more:?}", more.len()),
        }
    }
    let summary: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(summary["summary"]["points"], 1_000_000);
    assert_eq!(summary["summary"]["located"], located);
    assert!(located > 500_000);
    let _ = DEFAULT_TOLERANCE_M;
}
