//! Vector tiles, TileJSON and styles through the real router. Tiles are decoded with an
//! independent MVT decoder (the `mvt-reader` crate) and checked against the store.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::tile_of;
use common::{demo_store, send};
use geo::{Contains, Coord, Intersects, Rect};
use gridlink::catalog::Role;
use gridlink::spatial::{GeometryRef, Layer, PropertyValue};
use mvt_reader::Reader;
use mvt_reader::feature::Value as MvtValue;
use serde_json::Value;
use std::collections::HashMap;

/// A tile's lon/lat bounds, computed here independently of the server's code.
fn bounds(z: u32, x: u32, y: u32, buffer: f64) -> Rect<f64> {
    let n = f64::from(1u32 << z);
    let lon = |x: f64| x / n * 360.0 - 180.0;
    let lat = |y: f64| {
        (std::f64::consts::PI * (1.0 - 2.0 * y / n))
            .sinh()
            .atan()
            .to_degrees()
    };
    Rect::new(
        Coord {
            x: lon(f64::from(x) - buffer),
            y: lat(f64::from(y) + 1.0 + buffer),
        },
        Coord {
            x: lon(f64::from(x) + 1.0 + buffer),
            y: lat(f64::from(y) - buffer),
        },
    )
}

async fn tile(
    path: &str,
    staff: bool,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = Request::get(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = common::app(staff)
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn layer(role: Role) -> &'static Layer {
    demo_store().by_role(role).unwrap()
}

/// The point of central Nanqiao used for the known tile.
const NANQIAO: (f64, f64) = (121.4602, 30.9191);

fn same_value(mvt: &MvtValue, store: PropertyValue<'_>) -> bool {
    match (mvt, store) {
        (MvtValue::String(a), PropertyValue::Text(b)) => a == b,
        (MvtValue::SInt(a) | MvtValue::Int(a), PropertyValue::Integer(b)) => *a == b,
        (MvtValue::Double(a), PropertyValue::Number(b)) => *a == b,
        (MvtValue::Bool(a), PropertyValue::Boolean(b)) => *a == b,
        _ => false,
    }
}

#[tokio::test]
async fn a_known_tile_holds_the_right_features_with_ids_and_properties() {
    let z = 14;
    let (x, y) = tile_of(NANQIAO.0, NANQIAO.1, z);
    let (status, headers, body) = tile(
        &format!("/tiles/grid_cells,villages,components,roads/{z}/{x}/{y}.mvt"),
        false,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-type"],
        "application/vnd.mapbox-vector-tile"
    );
    let reader = Reader::new(body).expect("a valid MVT");
    let names = reader.get_layer_names().unwrap();
    assert_eq!(names, vec!["grid_cells", "villages", "components", "roads"]);
    let inner = bounds(z, x, y, 0.0);
    let buffered = bounds(z, x, y, 64.0 / 4096.0);
    for (index, name) in names.iter().enumerate() {
        let store_layer = demo_store().layer(name).unwrap();
        let features = reader.get_features(index).unwrap();
        let mut seen = HashMap::new();
        let mut points_counted = 0u64;
        for f in &features {
            let props = f.properties.as_ref().expect("properties");
            let count = match props.get("point_count") {
                Some(MvtValue::UInt(n)) => *n,
                Some(MvtValue::Int(n) | MvtValue::SInt(n)) => *n as u64,
                _ => 1,
            };
            points_counted += count;
            if count > 1 {
                assert_eq!(name, "components", "only dense point layers cluster");
                continue;
            }
            let Some(MvtValue::String(id)) = props.get("id") else {
                panic!("{name}: feature without id")
            };
            let i = store_layer
                .find(id)
                .unwrap_or_else(|| panic!("{name}: unknown id {id}"));
            assert_eq!(
                f.id,
                Some(i as u64 + 1),
                "{name}: MVT id is the feature's position + 1"
            );
            for (field_index, field) in store_layer.def.fields.iter().enumerate() {
                let value = store_layer.value(i, field_index);
                match props.get(&field.name) {
                    Some(v) => assert!(
                        same_value(v, value),
                        "{name} {id}.{}: {v:?} vs {value:?}",
                        field.name
                    ),
                    None => assert_eq!(
                        value,
                        PropertyValue::Null,
                        "{name} {id}.{} missing",
                        field.name
                    ),
                }
            }
            // Clipped geometry stays within the extent plus the buffer.
            use geo::CoordsIter;
            for c in f.geometry.coords_iter() {
                assert!(
                    (-64.0..=4160.0).contains(&c.x) && (-64.0..=4160.0).contains(&c.y),
                    "{name} {id}: {c:?}"
                );
            }
            seen.insert(id.clone(), ());
        }
        // Every feature touching the tile itself is there (unless clustered); nothing from
        // beyond the buffer.
        let clustered = points_counted as usize > features.len();
        for i in 0..store_layer.len() {
            if clustered {
                break;
            }
            let g = store_layer.geometry(i).to_geo();
            let inside = match store_layer.geometry(i) {
                GeometryRef::Point(c) => inner.contains(&c),
                _ => g.intersects(&inner),
            };
            if inside {
                assert!(
                    seen.contains_key(store_layer.id(i)),
                    "{name}: {} is missing",
                    store_layer.id(i)
                );
            }
        }
        for id in seen.keys() {
            let i = store_layer.find(id).unwrap();
            assert!(
                store_layer.geometry(i).to_geo().intersects(&buffered),
                "{name}: {id} lies beyond the buffer"
            );
        }
        if name == "components" {
            let expected = (0..store_layer.len())
                .filter(|&i| matches!(store_layer.geometry(i), GeometryRef::Point(c) if buffered.contains(&c)))
                .count();
            assert_eq!(
                points_counted as usize, expected,
                "every component in the buffered tile, once"
            );
        }
    }
}

#[tokio::test]
async fn point_positions_survive_within_a_tile_unit() {
    let shelters = layer(Role::Shelter);
    let z = 15;
    let GeometryRef::Point(c) = shelters.geometry(0) else {
        panic!()
    };
    let (x, y) = tile_of(c.x, c.y, z);
    let (_, _, body) = tile(&format!("/tiles/shelters/{z}/{x}/{y}.mvt"), false, &[]).await;
    let reader = Reader::new(body).unwrap();
    let features = reader.get_features(0).unwrap();
    let f = features
        .iter()
        .find(|f| f.id == Some(1))
        .expect("shelter 0 in its tile");
    let p = match &f.geometry {
        geo::Geometry::Point(p) => *p,
        geo::Geometry::MultiPoint(m) if m.0.len() == 1 => m.0[0],
        other => panic!("a point, not {other:?}"),
    };
    let b = bounds(z, x, y, 0.0);
    // Tile units → lon/lat (x linear; y through the Mercator inverse).
    let lon = b.min().x + f64::from(p.x()) / 4096.0 * (b.max().x - b.min().x);
    let n = f64::from(1u32 << z);
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * (f64::from(y) + f64::from(p.y()) / 4096.0) / n))
        .sinh()
        .atan()
        .to_degrees();
    let error_m = ((lon - c.x) * 95_000.0).hypot((lat - c.y) * 111_000.0);
    assert!(error_m < 1.5, "{error_m} m off");
}

#[tokio::test]
async fn zoom_ranges_empty_tiles_and_bad_addresses() {
    let (x, y) = tile_of(NANQIAO.0, NANQIAO.1, 12);
    // Grid cells start at zoom 13: at 12 the layer is absent, so a cells-only tile is empty.
    let (status, _, body) = tile(&format!("/tiles/grid_cells/12/{x}/{y}.mvt"), false, &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
    let (status, _, _) = tile("/tiles/towns/14/0/0.mvt", false, &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "far from the district");
    for (path, field) in [
        ("/tiles/towns/23/0/0.mvt", "z"),
        ("/tiles/towns/3/8/0.mvt", "z"),
        ("/tiles/towns/a/0/0.mvt", "z"),
        ("/tiles/towns/3/0/x.mvt", "y"),
        ("/tiles/towns/3/0/0.png", "y"),
    ] {
        let (status, _, body) = tile(path, false, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        let error: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["error"]["field"], field, "{path}");
    }
    let (status, _, _) = tile("/tiles/towns,nowhere/10/857/418.mvt", false, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn staff_layers_need_staff_access() {
    let sources = layer(Role::HazardSource);
    let GeometryRef::Point(c) = sources.geometry(0) else {
        panic!()
    };
    let (x, y) = tile_of(c.x, c.y, 12);
    let path = format!("/tiles/hazard_sources/12/{x}/{y}.mvt");
    let (status, _, _) = tile(&path, false, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "hidden from the public");
    let (status, _, body) = tile(&path, true, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let reader = Reader::new(body).unwrap();
    assert!(!reader.get_features(0).unwrap().is_empty());
}

#[tokio::test]
async fn etag_caching_and_gzip() {
    let (x, y) = tile_of(NANQIAO.0, NANQIAO.1, 13);
    let path = format!("/tiles/towns,villages,roads/13/{x}/{y}.mvt");
    let (status, headers, raw) = tile(&path, false, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let (status, _, body) = tile(&path, false, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let (status, headers, gzipped) =
        tile(&path, false, &[("accept-encoding", "gzip, deflate")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(gzipped.len() < raw.len());
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gzipped[..]),
        &mut decoded,
    )
    .unwrap();
    assert_eq!(decoded, raw);
}

/// With components visible from zoom 8, a zoom-10 tile would hold the whole district's
/// 120,000 of them: they are clustered, every point counted once.
#[tokio::test]
async fn dense_points_are_clustered_within_the_limits() {
    let layers = common::copy_layers();
    let path = layers.path().join("components.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("minzoom = 14", "minzoom = 8");
    std::fs::write(&path, text).unwrap();
    let catalog = gridlink::catalog::Catalog::load(layers.path(), &common::tables_dir()).unwrap();
    let store = gridlink::spatial::LayerStore::load(catalog, common::demo_dir()).unwrap();
    let state =
        gridlink::http::AppState::new(gridlink::spatial::SharedStore::new(store), common::tables());
    let app = gridlink::http::router(state);
    let components = layer(Role::Component);
    let (x, y) = tile_of(NANQIAO.0, NANQIAO.1, 10);
    let request = Request::get(format!("/tiles/components/10/{x}/{y}.mvt"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.len() <= 500 * 1024, "{} bytes", body.len());
    let reader = Reader::new(body.to_vec()).unwrap();
    let features = reader.get_features(0).unwrap();
    assert!(features.len() <= 50_000);
    let buffered = bounds(10, x, y, 64.0 / 4096.0);
    let in_tile = (0..components.len())
        .filter(
            |&i| matches!(components.geometry(i), GeometryRef::Point(c) if buffered.contains(&c)),
        )
        .count();
    assert!(in_tile > 4096, "the test needs a dense tile ({in_tile})");
    let counted: u64 = features
        .iter()
        .map(
            |f| match f.properties.as_ref().and_then(|p| p.get("point_count")) {
                Some(MvtValue::UInt(n)) => *n,
                Some(MvtValue::Int(n) | MvtValue::SInt(n)) => *n as u64,
                other => panic!("cluster without point_count: {other:?}"),
            },
        )
        .sum();
    assert_eq!(
        counted as usize, in_tile,
        "each point counted in exactly one cluster"
    );
}

#[tokio::test]
async fn tilejson_describes_the_layers_with_urls_of_this_host() {
    let request = Request::get("/tiles/towns,shelters.json")
        .header("host", "map.example:9000")
        .body(Body::empty())
        .unwrap();
    let (status, content_type, body) = send(common::app(false), request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["tilejson"], "3.0.0");
    assert_eq!(
        doc["tiles"][0],
        "http://map.example:9000/tiles/towns,shelters/{z}/{x}/{y}.mvt"
    );
    assert_eq!(doc["bounds"].as_array().unwrap().len(), 4);
    assert_eq!(doc["center"].as_array().unwrap().len(), 3);
    assert!(doc["minzoom"].as_u64().unwrap() <= doc["maxzoom"].as_u64().unwrap());
    let layers = doc["vector_layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[1]["id"], "shelters");
    assert_eq!(layers[1]["fields"]["capacity"], "Number");
    assert_eq!(layers[1]["fields"]["name"], "String");
    let (_, _, catalog) = send(
        common::app(false),
        Request::get("/tiles/catalog.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let catalog: Value = serde_json::from_slice(&catalog).unwrap();
    assert_eq!(catalog["layers"].as_array().unwrap().len(), 22);
    let (status, _, _) = send(
        common::app(false),
        Request::get("/tiles/hazard_sources.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_style_uses_only_urls_this_server_answers() {
    let request = Request::get("/styles/district.json")
        .header("host", "127.0.0.1:8080")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(common::app(false), request).await;
    assert_eq!(status, StatusCode::OK);
    let style: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(style["version"], 8);
    let origin = "http://127.0.0.1:8080";
    let source = style["sources"]["gridlink"]["url"].as_str().unwrap();
    let glyphs = style["glyphs"].as_str().unwrap();
    assert!(source.starts_with(origin) && glyphs.starts_with(origin));
    // Follow them through the router: the TileJSON and a glyph range both answer.
    let (status, _, _) = send(
        common::app(false),
        Request::get(source.trim_start_matches(origin))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let glyph_path = glyphs
        .trim_start_matches(origin)
        .replace("{fontstack}", "DejaVu%20Sans%20Book")
        .replace("{range}", "0-255");
    let (status, _, pbf) = send(
        common::app(false),
        Request::get(glyph_path).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(pbf.len() > 10_000, "real glyphs for ASCII");
    let catalog = common::catalog();
    let public: Vec<&str> = catalog
        .layers
        .iter()
        .filter(|l| l.is_public())
        .map(|l| l.id.as_str())
        .collect();
    let mut drawn: Vec<&str> = style["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["source-layer"].as_str())
        .collect();
    drawn.sort();
    drawn.dedup();
    assert_eq!(
        drawn.len(),
        public.len(),
        "every public layer is drawn, and only those"
    );
    for font in style["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["layout"]["text-font"].as_array())
    {
        assert_eq!(font[0], "DejaVu Sans Book");
    }
    let (_, _, staff_style) = send(
        common::app(true),
        Request::get("/styles/district.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let staff_style: Value = serde_json::from_slice(&staff_style).unwrap();
    let staff_drawn = staff_style["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["source-layer"] == "hazard_sources")
        .count();
    assert!(staff_drawn > 0, "staff see hazard sources");
}

#[tokio::test]
async fn glyph_ranges_are_validated_and_missing_ones_are_empty() {
    let get = |path: &str| {
        send(
            common::app(false),
            Request::get(path).body(Body::empty()).unwrap(),
        )
    };
    let (status, _, body) = get("/fonts/DejaVu%20Sans%20Book/19968-20223.pbf").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !body.is_empty() && body.len() < 100,
        "a valid, empty glyph set"
    );
    let (status, _, _) = get("/fonts/DejaVu%20Sans%20Book/5-260.pbf").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = get("/fonts/..%2Fsecret/0-255.pbf").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = get("/styles/nope.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The `["get", field]` names inside an expression.
fn fields_read(expression: &Value, out: &mut Vec<String>) {
    if let Some(items) = expression.as_array() {
        if items.len() == 2 && items[0] == "get" {
            if let Some(name) = items[1].as_str() {
                out.push(name.to_string());
            }
        }
        for item in items {
            fields_read(item, out);
        }
    } else if let Some(object) = expression.as_object() {
        object.values().for_each(|v| fields_read(v, out));
    }
}

#[test]
fn every_label_of_the_style_reads_a_declared_field() {
    let style: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo().join("styles/district.json")).unwrap(),
    )
    .unwrap();
    let catalog = common::catalog();
    let mut labelled = Vec::new();
    let mut village_names_at_street_level = false;
    for layer in style["layers"].as_array().unwrap() {
        let text = &layer["layout"]["text-field"];
        if text.is_null() {
            continue;
        }
        let source = layer["source-layer"].as_str().unwrap();
        let def = catalog.layer(source).expect("a catalogue layer");
        let mut fields = Vec::new();
        fields_read(text, &mut fields);
        assert!(!fields.is_empty(), "{} reads a field", layer["id"]);
        for name in &fields {
            assert!(def.field(name).is_some(), "{source}.{name}");
        }
        labelled.push(source);
        let minzoom = layer["minzoom"].as_f64().unwrap_or(0.0);
        if fields.iter().any(|f| f == "village_name")
            && minzoom <= 16.0
            && layer["maxzoom"].is_null()
        {
            village_names_at_street_level = true;
        }
    }
    // Labels at street level (z16–z18): roads, villages and the points of interest, not only
    // the cell codes.
    for source in [
        "roads",
        "villages",
        "grid_cells",
        "protected_targets",
        "shelters",
        "teams",
    ] {
        assert!(labelled.contains(&source), "{source} is labelled");
    }
    assert!(
        village_names_at_street_level,
        "village names from z16 down to z18"
    );
}
