//! Loading layers from GeoJSON and GeoPackage: bad features are reported with file, index and
//! reason and skipped; unreadable sources stop the load with a message naming them; both
//! formats give the same store.

use crate::common;

use common::{copy_layers, generate_into, tables_dir};
use gridlink::catalog::Catalog;
use gridlink::demo::output::Feature;
use gridlink::spatial::{GeometryRef, LayerStore, PropertyValue};
use std::path::Path;

/// A catalogue of one point layer and one polygon layer, written into `dir/layers`.
fn mini_catalogue(dir: &Path, points_source: &str) {
    let layers = dir.join("layers");
    std::fs::create_dir_all(&layers).unwrap();
    std::fs::write(
        layers.join("shelters.toml"),
        format!(
            r#"
id = "shelters"
title = "应急避难场所"
title_en = "Shelters"
group = "emergency"
geometry = "point"
access = "public"
minzoom = 9
maxzoom = 18
[source]
path = "{points_source}"
id_field = "code"
[[fields]]
name = "code"
type = "string"
title = "编码"
required = true
[[fields]]
name = "capacity"
type = "integer"
title = "容纳人数"
required = true
[[fields]]
name = "status"
type = "string"
title = "开放状态"
"#
        ),
    )
    .unwrap();
    std::fs::write(
        layers.join("villages.toml"),
        r#"
id = "villages"
title = "村居"
title_en = "Villages"
group = "admin_grid"
geometry = "polygon"
access = "public"
minzoom = 10
maxzoom = 18
[source]
path = "villages.geojson"
id_field = "code"
[[fields]]
name = "code"
type = "string"
title = "村居代码"
"#,
    )
    .unwrap();
}

fn point_feature(code: &str, lon: &str, lat: &str, capacity: &str) -> String {
    format!(
        r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{lon},{lat}]}},"properties":{{"code":{code},"capacity":{capacity},"status":"open"}}}}"#
    )
}

fn load(dir: &Path) -> Result<LayerStore, gridlink::spatial::StoreError> {
    let catalog = Catalog::load(&dir.join("layers"), &tables_dir()).expect("mini catalogue loads");
    LayerStore::load(catalog, &dir.join("data"))
}

fn write_data(dir: &Path, name: &str, features: &[String]) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join(name),
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        ),
    )
    .unwrap();
}

fn square(code: &str, ring: &str) -> String {
    format!(
        r#"{{"type":"Feature","geometry":{{"type":"Polygon","coordinates":[{ring}]}},"properties":{{"code":"{code}"}}}}"#
    )
}

#[test]
fn each_kind_of_bad_feature_is_skipped_with_its_index_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    mini_catalogue(dir.path(), "shelters.geojson");
    write_data(
        dir.path(),
        "shelters.geojson",
        &[
            point_feature(r#""BN1""#, "121.45", "30.92", "500"),
            point_feature(r#""BN2""#, r#""NaN""#, "30.92", "500"),
            point_feature(r#""BN3""#, "221.45", "30.92", "500"),
            point_feature("null", "121.45", "30.92", "500"),
            point_feature(r#""BN5""#, "121.45", "30.92", r#""five hundred""#),
            point_feature(r#""BN1""#, "121.46", "30.93", "300"),
            r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[121.4,30.9],[121.5,30.9]]},"properties":{"code":"BN7","capacity":1}}"#.into(),
            r#"{"type":"Feature","geometry":null,"properties":{"code":"BN8","capacity":1}}"#.into(),
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[121.4,30.9]},"properties":{"code":"BN9"}}"#.into(),
            point_feature(r#""BN10""#, "121.47", "91.0", "10"),
            point_feature(r#""BN11""#, "121.48", "30.94", "800"),
        ],
    );
    write_data(
        dir.path(),
        "villages.geojson",
        &[
            square(
                "V1",
                "[[121.4,30.9],[121.5,30.9],[121.5,31.0],[121.4,31.0],[121.4,30.9]]",
            ),
            square(
                "V2",
                "[[121.4,30.9],[121.5,31.0],[121.5,30.9],[121.4,31.0],[121.4,30.9]]",
            ),
            square("V3", "[[121.4,30.9],[121.5,30.9],[121.4,30.9]]"),
        ],
    );
    let store = load(dir.path()).expect("bad features do not stop the load");
    let shelters = store.layer("shelters").unwrap();
    assert_eq!(shelters.len(), 2, "only BN1 and BN11 are good");
    assert_eq!(
        shelters
            .find("BN11")
            .map(|i| shelters.property(i, "capacity")),
        Some(Some(PropertyValue::Integer(800)))
    );
    let problems = &shelters.report.problems;
    let reason = |index: usize| {
        problems
            .iter()
            .find(|p| p.index == index)
            .map(|p| p.reason.clone())
            .unwrap_or_else(|| panic!("feature #{index} should be reported"))
    };
    assert!(
        reason(1).contains("geometry"),
        "NaN coordinate: {}",
        reason(1)
    );
    assert!(reason(2).contains("outside longitude"), "{}", reason(2));
    assert!(reason(3).contains("missing id"), "{}", reason(3));
    assert!(
        reason(4).contains("`capacity` must be an integer"),
        "{}",
        reason(4)
    );
    assert!(reason(5).contains("duplicate id"), "{}", reason(5));
    assert!(reason(6).contains("LineString"), "{}", reason(6));
    assert!(reason(7).contains("no geometry"), "{}", reason(7));
    assert!(
        reason(8).contains("required property `capacity`"),
        "{}",
        reason(8)
    );
    assert!(reason(9).contains("outside longitude"), "{}", reason(9));
    assert_eq!(problems.len(), 9);
    for p in problems {
        let file = p.location.path().expect("a file source");
        assert!(file.ends_with("shelters.geojson"), "{file:?}");
    }
    assert_eq!(shelters.report.read, 11);

    let villages = store.layer("villages").unwrap();
    assert_eq!(villages.len(), 1);
    let problems = &villages.report.problems;
    assert!(
        problems
            .iter()
            .any(|p| p.index == 1 && p.reason.contains("invalid polygon")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.index == 2 && p.reason.contains("invalid polygon")),
        "{problems:?}"
    );
}

#[test]
fn a_missing_layer_file_stops_the_load_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    mini_catalogue(dir.path(), "shelters.geojson");
    write_data(dir.path(), "villages.geojson", &[]);
    let err = load(dir.path())
        .expect_err("missing file is fatal")
        .to_string();
    assert!(err.contains("shelters.geojson"), "{err}");
    assert!(err.contains("layer shelters"), "{err}");
}

#[test]
fn a_file_that_is_not_geojson_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    mini_catalogue(dir.path(), "shelters.geojson");
    write_data(dir.path(), "villages.geojson", &[]);
    std::fs::write(
        dir.path().join("data/shelters.geojson"),
        "{\"type\": \"FeatureCollection\", \"features\": [ {",
    )
    .unwrap();
    let err = load(dir.path())
        .expect_err("broken JSON is fatal")
        .to_string();
    assert!(
        err.contains("shelters.geojson") && err.contains("not a GeoJSON FeatureCollection"),
        "{err}"
    );
}

#[test]
fn a_geopackage_with_a_nan_coordinate_is_reported_per_feature() {
    let dir = tempfile::tempdir().unwrap();
    mini_catalogue(dir.path(), "demo.gpkg");
    write_data(dir.path(), "villages.geojson", &[]);
    let catalog = Catalog::load(&dir.path().join("layers"), &tables_dir()).unwrap();
    let def = catalog.layer("shelters").unwrap();
    let feature = |code: &str, x: f64, capacity: Option<i64>| Feature {
        id: code.into(),
        geometry: geo::Geometry::Point(geo::Point::new(x, 30.9)),
        properties: vec![
            ("code", code.into()),
            (
                "capacity",
                capacity.map_or(serde_json::Value::Null, serde_json::Value::from),
            ),
            ("status", "open".into()),
        ],
    };
    let features = [
        feature("G1", 121.4, Some(10)),
        feature("G2", f64::NAN, Some(20)),
        feature("G3", 121.5, None),
    ];
    let rows = features
        .iter()
        .map(|f| gridlink::sources::geopackage::RowOut {
            geometry: &f.geometry,
            bbox: None,
            properties: &f.properties,
        })
        .collect();
    gridlink::sources::geopackage::write(
        &dir.path().join("data/demo.gpkg"),
        &[gridlink::sources::geopackage::TableOut {
            def,
            table: None,
            rows,
        }],
    )
    .unwrap();
    let store = LayerStore::load(catalog, &dir.path().join("data")).unwrap();
    let shelters = store.layer("shelters").unwrap();
    assert_eq!(shelters.len(), 1);
    let problems = &shelters.report.problems;
    assert!(
        problems
            .iter()
            .any(|p| p.index == 1 && p.reason.contains("not a finite number")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.index == 2 && p.reason.contains("required property `capacity`")),
        "{problems:?}"
    );
}

/// Points the whole catalogue at one GeoPackage and generates into it: the store must be the
/// same as from GeoJSON, feature for feature.
#[test]
fn geopackage_and_geojson_sources_load_the_same_layers() {
    let layers = copy_layers();
    for entry in std::fs::read_dir(layers.path()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let text = text.replace(
            &format!("path = \"{stem}\""),
            &format!("path = \"fengxian.gpkg\"\ntable = \"{stem}\""),
        );
        std::fs::write(&path, text).unwrap();
    }
    let (json_dir, gpkg_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate_into(json_dir.path(), 3, 0.05, &common::layers_dir());
    generate_into(gpkg_dir.path(), 3, 0.05, layers.path());
    assert!(gpkg_dir.path().join("fengxian.gpkg").is_file());
    let from_json = LayerStore::load(common::catalog(), json_dir.path()).unwrap();
    let from_gpkg = LayerStore::load(
        Catalog::load(layers.path(), &tables_dir()).unwrap(),
        gpkg_dir.path(),
    )
    .unwrap();
    for a in from_json.layers() {
        let b = from_gpkg.layer(&a.def.id).unwrap();
        assert_eq!(a.len(), b.len(), "{}", a.def.id);
        assert!(
            b.report.problems.is_empty(),
            "{}: {:?}",
            a.def.id,
            b.report.problems.first()
        );
        for i in (0..a.len()).step_by((a.len() / 50).max(1)) {
            let j = b
                .find(a.id(i))
                .unwrap_or_else(|| panic!("{} {} missing", a.def.id, a.id(i)));
            assert_eq!(
                a.properties_json(i),
                b.properties_json(j),
                "{} {}",
                a.def.id,
                a.id(i)
            );
            let (ga, gb) = (a.geometry(i).to_geo(), b.geometry(j).to_geo());
            assert_eq!(ga, gb, "{} {} geometry", a.def.id, a.id(i));
        }
    }
    // Polygons keep full precision through both formats: exact cell borders survive.
    let cells = from_gpkg
        .by_role(gridlink::catalog::Role::GridCell)
        .unwrap();
    assert!(matches!(cells.geometry(0), GeometryRef::Polygons(_)));
}
