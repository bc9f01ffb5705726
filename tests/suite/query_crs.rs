//! `crs=EPSG:nnnn` wherever `crs=gcj02` works: locate, batch locate, nearest, around, cases,
//! leak zones and shelter allocation answer a point given in Gauss-Krüger zone 40 (EPSG:4528)
//! exactly as the same point in WGS84 — and an unknown CRS is a 400 naming `crs`, everywhere.

use crate::common;

use axum::http::StatusCode;
use common::cases::{BACKENDS, Backend, TEST_CLASS, TEST_POINT, case_app};
use gridlink::spatial::crs::Crs;
use serde_json::{Value, json};

/// The test point in EPSG:4528 (easting, northing).
fn gk() -> (f64, f64) {
    Crs::parse("EPSG:4528")
        .unwrap()
        .from_wgs84(TEST_POINT.0, TEST_POINT.1)
        .unwrap()
}

async fn get(query: &str) -> (StatusCode, Value) {
    common::get_json_as(query, true).await
}

#[tokio::test]
async fn get_endpoints_answer_a_gauss_kruger_point_like_its_wgs84_twin() {
    let (e, n) = gk();
    let (lon, lat) = TEST_POINT;
    for path in ["/api/locate", "/api/nearest/shelters", "/api/around"] {
        let (s1, wgs) = get(&format!("{path}?lon={lon}&lat={lat}")).await;
        let (s2, projected) = get(&format!("{path}?lon={e}&lat={n}&crs=EPSG:4528")).await;
        assert_eq!(
            (s1, s2),
            (StatusCode::OK, StatusCode::OK),
            "{path}: {projected}"
        );
        assert_eq!(projected["point"]["input_crs"], "EPSG:4528", "{path}");
        let (a, b) = (&wgs["point"], &projected["point"]);
        assert!(
            (a["lon"].as_f64().unwrap() - b["lon"].as_f64().unwrap()).abs() < 1e-8,
            "{path}"
        );
        assert!(
            (a["lat"].as_f64().unwrap() - b["lat"].as_f64().unwrap()).abs() < 1e-8,
            "{path}"
        );
        let key = match path {
            "/api/locate" => "cell",
            "/api/nearest/shelters" => "features",
            _ => "town",
        };
        assert_eq!(wgs[key], projected[key], "{path}");
        let (status, bad) = get(&format!("{path}?lon={e}&lat={n}&crs=EPSG:99999")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(bad["error"]["field"], "crs", "{path}");
    }
}

#[tokio::test]
async fn batch_locate_takes_a_crs_for_the_whole_batch() {
    use axum::body::Body;
    let (e, n) = gk();
    let request = |body: String, crs: &str| {
        axum::http::Request::post(format!("/api/locate/batch?crs={crs}"))
            .header("content-type", "text/csv")
            .body(Body::from(body))
            .unwrap()
    };
    let (status, _, bytes) = common::send(
        common::app(false),
        request(format!("id,lon,lat\np1,{e},{n}\n"), "EPSG:4528"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let first: Value =
        serde_json::from_slice(bytes.split(|&b| b == b'\n').next().unwrap()).unwrap();
    let (_, single) = get(&format!(
        "/api/locate?lon={}&lat={}",
        TEST_POINT.0, TEST_POINT.1
    ))
    .await;
    assert_eq!(first["cell"], single["cell"]["id"], "{first}");
    let (status, _, bytes) = common::send(
        common::app(false),
        request("id,lon,lat\n".into(), "nonsense"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["field"], "crs");
}

#[tokio::test]
async fn body_endpoints_take_epsg_codes_on_both_case_backends() {
    let (e, n) = gk();
    for backend in BACKENDS {
        let app = case_app(backend).await;
        // A case reported in Gauss-Krüger lands in the same cell as its WGS84 twin.
        let report = |lon: f64, lat: f64, crs: Option<&str>| {
            let mut body =
                json!({"class": TEST_CLASS, "lon": lon, "lat": lat, "description": "井盖缺失"});
            if let Some(crs) = crs {
                body["crs"] = Value::from(crs);
            }
            body
        };
        let (s1, a) = app
            .call(
                "POST",
                "/api/cases",
                None,
                Some(report(TEST_POINT.0, TEST_POINT.1, None)),
            )
            .await;
        let (s2, b) = app
            .call(
                "POST",
                "/api/cases",
                None,
                Some(report(e, n, Some("EPSG:4528"))),
            )
            .await;
        assert_eq!(
            (s1, s2),
            (StatusCode::CREATED, StatusCode::CREATED),
            "{backend:?}: {b}"
        );
        assert_eq!(a["cell"], b["cell"], "{backend:?}");
        let (status, bad) = app
            .call(
                "POST",
                "/api/cases",
                None,
                Some(report(e, n, Some("EPSG:99999"))),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{backend:?}");
        assert_eq!(bad["error"]["field"], "crs");
        if backend == Backend::Postgres {
            continue; // the spatial answers below do not depend on the case database
        }
        // Shelter allocation and leak zones from a Gauss-Krüger origin.
        let plan = |body: Value| app.call("POST", "/api/shelters/allocate", None, Some(body));
        let (_, p1) = plan(json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": 500})).await;
        let (s, p2) = plan(json!({"lon": e, "lat": n, "crs": "EPSG:4528", "people": 500})).await;
        assert_eq!(s, StatusCode::OK, "{p2}");
        assert_eq!(p1["assignments"], p2["assignments"]);
        let key = app.keys.dispatcher.clone();
        let zone = |body: Value| app.call("POST", "/api/hazmat/zone", Some(&key), Some(body));
        let base = json!({"chemical": "chlorine", "spill": "large", "time": "day", "wind_from_deg": 90, "wind_speed_ms": 3});
        let mut z1 = base.clone();
        z1["lon"] = TEST_POINT.0.into();
        z1["lat"] = TEST_POINT.1.into();
        let mut z2 = base.clone();
        z2["lon"] = e.into();
        z2["lat"] = n.into();
        z2["crs"] = "EPSG:4528".into();
        let (s1, a) = zone(z1).await;
        let (s2, b) = zone(z2.clone()).await;
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{b}");
        assert_eq!(a["villages"], b["villages"]);
        z2["crs"] = "EPSG:99999".into();
        let (status, bad) = zone(z2).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(bad["error"]["field"], "crs");
    }
}
