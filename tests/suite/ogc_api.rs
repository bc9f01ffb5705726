//! OGC API – Features through the real router, and read by a real client: GDAL's `ogrinfo`
//! (OAPIF driver) against the running `gridlink serve`.

use crate::common;

use axum::http::StatusCode;
use common::{demo_store, get_json, get_json_as};
use gridlink::catalog::Role;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn landing_page_and_conformance_point_to_the_collections() {
    let (status, landing) = get_json("/ogc").await;
    assert_eq!(status, StatusCode::OK);
    let rels: Vec<&str> = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    for rel in ["self", "service-desc", "conformance", "data"] {
        assert!(rels.contains(&rel), "landing lacks {rel}");
    }
    let (_, conformance) = get_json("/ogc/conformance").await;
    let classes = conformance["conformsTo"].as_array().unwrap();
    assert!(
        classes
            .iter()
            .any(|c| c.as_str().unwrap().ends_with("/conf/core"))
    );
    assert!(
        classes
            .iter()
            .any(|c| c.as_str().unwrap().ends_with("/conf/geojson"))
    );
    let (_, api) = get_json("/ogc/api").await;
    assert_eq!(api["openapi"], "3.0.3");
    assert!(api["paths"]["/ogc/collections/{collectionId}/items"]["get"].is_object());
}

#[tokio::test]
async fn collections_are_the_layers_the_viewer_may_see_with_extents() {
    let (_, public) = get_json("/ogc/collections").await;
    let (_, staff) = get_json_as("/ogc/collections", true).await;
    assert_eq!(public["collections"].as_array().unwrap().len(), 22);
    assert_eq!(staff["collections"].as_array().unwrap().len(), 27);
    let (status, shelters) = get_json("/ogc/collections/shelters").await;
    assert_eq!(status, StatusCode::OK);
    let bbox = shelters["extent"]["spatial"]["bbox"][0].as_array().unwrap();
    assert_eq!(bbox.len(), 4);
    assert!(bbox[0].as_f64().unwrap() > 121.3 && bbox[2].as_f64().unwrap() < 121.9);
    let (status, _) = get_json("/ogc/collections/hazard_sources").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "staff layers do not exist for the public"
    );
}

#[tokio::test]
async fn items_page_with_number_matched_and_next_links() {
    let shelters = demo_store().by_role(Role::Shelter).unwrap();
    let (status, page) = get_json("/ogc/collections/shelters/items").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["type"], "FeatureCollection");
    assert_eq!(page["numberMatched"], shelters.len());
    assert_eq!(page["numberReturned"], 10);
    let next = page["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .expect("next link");
    let href = next["href"].as_str().unwrap();
    assert!(
        href.contains("offset=10") && href.contains("limit=10"),
        "{href}"
    );
    // Walk all pages: every shelter exactly once.
    let mut seen = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let (_, page) = get_json(&format!(
            "/ogc/collections/shelters/items?limit=50&offset={offset}"
        ))
        .await;
        let features = page["features"].as_array().unwrap();
        for f in features {
            assert!(seen.insert(f["id"].as_str().unwrap().to_string()));
            assert_eq!(f["geometry"]["type"], "Point");
        }
        offset += features.len();
        if features.is_empty()
            || page["links"]
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["rel"] != "next")
        {
            break;
        }
    }
    assert_eq!(seen.len(), shelters.len());
}

#[tokio::test]
async fn items_filter_by_bbox_properties_and_select_properties() {
    let (_, page) = get_json("/ogc/collections/shelters/items?bbox=121.40,30.88,121.52,30.96&status=open&limit=1000&properties=name,capacity").await;
    let features = page["features"].as_array().unwrap();
    assert!(!features.is_empty());
    assert_eq!(
        page["numberMatched"].as_u64().unwrap() as usize,
        features.len()
    );
    for f in features {
        let c = f["geometry"]["coordinates"].as_array().unwrap();
        let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!((121.40..=121.52).contains(&x) && (30.88..=30.96).contains(&y));
        let props = f["properties"].as_object().unwrap();
        assert_eq!(props.keys().collect::<Vec<_>>(), vec!["name", "capacity"]);
    }
    // Polygons are matched by their geometry, not just their box.
    let (_, cells) =
        get_json("/ogc/collections/grid_cells/items?bbox=121.4600,30.9190,121.4601,30.9191").await;
    assert!((1..=4).contains(&cells["numberMatched"].as_u64().unwrap()));
}

#[tokio::test]
async fn a_single_item_and_a_missing_one() {
    let shelters = demo_store().by_role(Role::Shelter).unwrap();
    let id = shelters.id(3);
    let (status, item) = get_json(&format!("/ogc/collections/shelters/items/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(item["id"], id);
    assert_eq!(item["type"], "Feature");
    let (status, body) = get_json("/ogc/collections/shelters/items/NOPE").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "unknown_feature");
}

/// Runs `gridlink serve` and reads it with GDAL's OGC API – Features driver.
#[test]
fn ogrinfo_reads_the_layers_and_counts_features() {
    let ogrinfo = which("ogrinfo")
        .expect("ogrinfo not found: install Debian's gdal-bin (scripts/test.sh does)");
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
    let source = format!("OAPIF:http://{address}/ogc");
    let list = Command::new(&ogrinfo)
        .args(["-ro", "-so", &source])
        .output()
        .unwrap();
    let count = Command::new(&ogrinfo)
        .args(["-ro", "-so", &source, "shelters"])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let list = String::from_utf8_lossy(&list.stdout);
    for layer in ["grid_cells", "villages", "towns", "shelters", "components"] {
        assert!(
            list.contains(layer),
            "{layer} missing from ogrinfo's list:\n{list}"
        );
    }
    assert!(
        !list.contains("hazard_sources"),
        "staff layers must not be listed:\n{list}"
    );
    let count = String::from_utf8_lossy(&count.stdout);
    let shelters = demo_store().by_role(Role::Shelter).unwrap().len();
    assert!(
        count.contains(&format!("Feature Count: {shelters}")),
        "{count}"
    );
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|p| p.is_file())
}
