//! The HTTP API through the real router: health, the layer list, and clean JSON errors.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gridlink::catalog::Catalog;
use serde_json::Value;

async fn get(path: &str) -> (StatusCode, Value) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let (status, content_type, body) = common::send(common::app(true), request).await;
    assert_eq!(content_type, "application/json", "{path}");
    (status, serde_json::from_slice(&body).expect("JSON body"))
}

#[tokio::test]
async fn health_reports_what_is_loaded() {
    let (status, body) = get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["layers"], 27);
    assert!(body["features"].as_u64().unwrap() > 170_000);
}

#[tokio::test]
async fn the_layer_list_names_every_layer_with_its_count() {
    let (status, body) = get("/api/layers").await;
    assert_eq!(status, StatusCode::OK);
    let layers = body["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 27);
    assert_eq!(body["groups"].as_array().unwrap().len(), 5);
    let store = common::demo_store();
    for layer in layers {
        let id = layer["id"].as_str().unwrap();
        let loaded = store.layer(id).unwrap();
        assert_eq!(
            layer["count"].as_u64().unwrap() as usize,
            loaded.len(),
            "{id}"
        );
        for key in ["title", "title_en", "group", "geometry", "access"] {
            assert!(layer[key].is_string(), "{id} lacks {key}");
        }
        assert!(layer["role"].is_string(), "{id} lacks a role");
        assert_eq!(layer["extent"].as_array().map(Vec::len), Some(4));
    }
    let cells = layers.iter().find(|l| l["role"] == "grid_cell").unwrap();
    assert_eq!(cells["title"], "单元网格");
    assert_eq!(cells["geometry"], "polygon");
    let hazards = layers
        .iter()
        .find(|l| l["role"] == "hazard_source")
        .unwrap();
    assert_eq!(hazards["access"], "staff");
}

#[tokio::test]
async fn the_public_does_not_see_staff_layers_in_the_list() {
    let (_, body) = common::get_json("/api/layers").await;
    let layers = body["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 22);
    assert!(layers.iter().all(|l| l["access"] == "public"));
}

#[tokio::test]
async fn an_unknown_path_is_a_json_404() {
    let (status, body) = get("/api/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/api/nowhere")
    );
}

#[tokio::test]
async fn the_layer_list_names_coded_values_in_chinese() {
    let (_, body) = get("/api/layers").await;
    let field = |layer: &str, field: &str| -> Value {
        let layers = body["layers"].as_array().unwrap();
        let layer = layers.iter().find(|l| l["id"] == layer).unwrap();
        let fields = layer["fields"].as_array().unwrap();
        fields.iter().find(|f| f["name"] == field).unwrap().clone()
    };
    // Written inline in layers/roads.toml.
    assert_eq!(field("roads", "class")["values"]["expressway"], "高速公路");
    assert_eq!(field("roads", "class")["values"]["local"], "支路");
    // Taken from data/unit_types.toml and data/case_classes.toml.
    assert_eq!(
        field("town_units", "unit_type")["values"]["chengguan"],
        "城管执法"
    );
    assert_eq!(
        field("components", "owner_type")["values"]["shuiwu"],
        "水务"
    );
    assert_eq!(field("components", "major")["values"]["C04"], "园林绿化");
    assert_eq!(field("hazard_sources", "grade")["values"]["1"], "一级");
    assert!(field("roads", "name").get("values").is_none());
    assert!(field("roads", "class").get("values_from").is_none());
}

#[test]
fn every_coded_value_in_the_demo_data_has_a_name() {
    let store = common::demo_store();
    for layer in store.layers() {
        for (f, field) in layer.def.fields.iter().enumerate() {
            if field.values.is_empty() {
                continue;
            }
            for i in 0..layer.len() {
                let code = match layer.value(i, f).to_json() {
                    Value::Null => continue,
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                assert!(
                    field.values.contains_key(&code),
                    "{}.{}: {code:?} has no name",
                    layer.def.id,
                    field.name
                );
            }
        }
    }
}

#[test]
fn the_catalogue_in_the_store_is_the_shipped_one() {
    let catalog: Catalog = common::catalog();
    assert_eq!(
        common::demo_store().catalog.layers.len(),
        catalog.layers.len()
    );
}

#[tokio::test]
async fn the_residents_page_is_served_at_report_with_or_without_the_slash() {
    for path in ["/report", "/report/"] {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let (status, content_type, body) = common::send(common::app(false), request).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains("/report.js"), "{path} is the residents' page");
        // No staff key box on it.
        assert!(!html.contains("key-input"), "{path} has no key box");
    }
    // Nothing else is under /report/.
    let request = Request::get("/report/anything")
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = common::send(common::app(false), request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
