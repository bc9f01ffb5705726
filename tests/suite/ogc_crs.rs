//! OGC API – Features Part 2 (CRS by reference): every collection offers CRS84, EPSG:4326,
//! 4490, 4528, 4549, 2385 and 3857; items come in the CRS asked for, in the axis order its
//! definition gives, with `Content-Crs`; `bbox-crs` takes a bbox in one; an unknown or
//! unoffered CRS is a 400 naming the parameter. A real client (GDAL's `ogrinfo`) reads the
//! Gauss-Krüger items over HTTP, and they agree with PROJ.

use crate::common;

use axum::http::{Request, StatusCode};
use gridlink::spatial::crs::Crs;
use http_body_util::BodyExt;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use tower::ServiceExt;

const EPSG: &str = "http://www.opengis.net/def/crs/EPSG/0/";
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

async fn get(path: &str) -> (StatusCode, Option<String>, Value) {
    let response = common::app(false)
        .oneshot(Request::get(path).body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let crs = response
        .headers()
        .get("content-crs")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, crs, serde_json::from_slice(&body).unwrap())
}

fn encoded(uri: &str) -> String {
    form_urlencoded::byte_serialize(uri.as_bytes()).collect()
}

#[tokio::test]
async fn collections_list_the_offered_crs_and_the_storage_crs() {
    let (_, _, conformance) = get("/ogc/conformance").await;
    assert!(
        conformance["conformsTo"]
            .as_array()
            .unwrap()
            .contains(&Value::from(
                "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"
            ))
    );
    let (status, _, shelters) = get("/ogc/collections/shelters").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shelters["storageCrs"], CRS84);
    let offered: Vec<&str> = shelters["crs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut expected = vec![CRS84.to_string()];
    expected.extend([4326, 4490, 4528, 4549, 2385, 3857].map(|c| format!("{EPSG}{c}")));
    assert_eq!(offered, expected);
}

#[tokio::test]
async fn items_in_gauss_kruger_are_northing_first_and_agree_with_proj() {
    let (_, crs84, plain) = get("/ogc/collections/shelters/items?limit=200").await;
    assert_eq!(crs84.as_deref(), Some(format!("<{CRS84}>").as_str()));
    let uri = format!("{EPSG}4528");
    let (status, content_crs, gk) = get(&format!(
        "/ogc/collections/shelters/items?limit=200&crs={}",
        encoded(&uri)
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_crs, Some(format!("<{uri}>")));
    let proj = Crs::parse("EPSG:4528").unwrap();
    let features = plain["features"].as_array().unwrap();
    assert_eq!(
        features.len(),
        common::demo_store().layer("shelters").unwrap().len()
    );
    assert_eq!(features.len(), gk["features"].as_array().unwrap().len());
    for (a, b) in features.iter().zip(gk["features"].as_array().unwrap()) {
        assert_eq!(a["id"], b["id"]);
        let lonlat = &a["geometry"]["coordinates"];
        let (easting, northing) = proj
            .from_wgs84(lonlat[0].as_f64().unwrap(), lonlat[1].as_f64().unwrap())
            .unwrap();
        let c = &b["geometry"]["coordinates"];
        // EPSG:4528 defines northing (X) first; eastings carry the zone number 40.
        assert!(
            (c[0].as_f64().unwrap() - northing).abs() < 0.001,
            "{c} vs {northing}"
        );
        assert!(
            (c[1].as_f64().unwrap() - easting).abs() < 0.001,
            "{c} vs {easting}"
        );
        assert!(c[1].as_f64().unwrap() > 40_000_000.0);
    }
    // EPSG:4326 is latitude first; CRS84 longitude first.
    let (_, _, latlon) = get(&format!(
        "/ogc/collections/shelters/items?limit=1&crs={}",
        encoded(&format!("{EPSG}4326"))
    ))
    .await;
    let c = &latlon["features"][0]["geometry"]["coordinates"];
    let p = &features[0]["geometry"]["coordinates"];
    assert_eq!((&c[0], &c[1]), (&p[1], &p[0]));
}

#[tokio::test]
async fn a_bbox_in_gauss_kruger_selects_what_the_same_place_in_crs84_does() {
    let shelters = common::demo_store().layer("shelters").unwrap();
    let p = shelters.geometry(0).to_geo_point().unwrap();
    let gk = Crs::parse("EPSG:4528").unwrap();
    let (e, n) = gk.from_wgs84(p.x, p.y).unwrap();
    // 50 m around the first shelter, northing first as the CRS defines.
    let bbox = format!("{},{},{},{}", n - 50.0, e - 50.0, n + 50.0, e + 50.0);
    let (status, _, found) = get(&format!(
        "/ogc/collections/shelters/items?bbox={bbox}&bbox-crs={}",
        encoded(&format!("{EPSG}4528"))
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let ids: Vec<&str> = found["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&shelters.id(0)), "{ids:?}");
    // The same box 30 km south holds nothing.
    let far = format!(
        "{},{},{},{}",
        n - 30_050.0,
        e - 50.0,
        n - 29_950.0,
        e + 50.0
    );
    let (_, _, none) = get(&format!(
        "/ogc/collections/shelters/items?bbox={far}&bbox-crs={}",
        encoded(&format!("{EPSG}4528"))
    ))
    .await;
    assert_eq!(none["numberMatched"], 0);
}

#[tokio::test]
async fn an_unknown_or_unoffered_crs_is_a_400_naming_the_parameter() {
    for (query, field) in [
        ("crs=EPSG:99999", "crs"),
        ("crs=http://www.opengis.net/def/crs/EPSG/0/32651", "crs"),
        ("crs=utm51", "crs"),
        ("bbox=1,2,3,4&bbox-crs=EPSG:99999", "bbox-crs"),
    ] {
        let (status, _, body) = get(&format!("/ogc/collections/shelters/items?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
}

#[test]
fn ogrinfo_reads_gauss_kruger_items_that_agree_with_proj() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridlink"))
        .current_dir(common::repo())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(common::demo_dir())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let address = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split("listening on http://")
                .nth(1)
                .map(|a| a.trim().to_string())
        })
        .expect("server address");
    // GDAL 3.6's OAPIF driver predates its CRS option (GDAL 3.7); the equivalent request is
    // the items URL with crs=, read by OGR's GeoJSON driver.
    let url = format!(
        "http://{address}/ogc/collections/shelters/items?limit=10000&crs={}",
        encoded(&format!("{EPSG}4528"))
    );
    let output = Command::new("ogrinfo")
        .args(["-ro", "-al", "-so", &url])
        .output()
        .expect("ogrinfo (gdal-bin)");
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&output.stdout);
    let shelters = common::demo_store().layer("shelters").unwrap();
    assert!(
        text.contains(&format!("Feature Count: {}", shelters.len())),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // OGR reports the extent as it reads the axes: (northing, easting), which PROJ gives too.
    let gk = Crs::parse("EPSG:4528").unwrap();
    let (mut n0, mut n1, mut e0, mut e1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for i in 0..shelters.len() {
        let p = shelters.geometry(i).to_geo_point().unwrap();
        let (e, n) = gk.from_wgs84(p.x, p.y).unwrap();
        (n0, n1, e0, e1) = (n0.min(n), n1.max(n), e0.min(e), e1.max(e));
    }
    let line = text
        .lines()
        .find(|l| l.starts_with("Extent:"))
        .expect("extent");
    let numbers: Vec<f64> = line
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter_map(|s| s.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 4, "{line}");
    for (got, want) in numbers.iter().zip([n0, e0, n1, e1]) {
        assert!((got - want).abs() < 0.01, "{line}: {want}");
    }
}
