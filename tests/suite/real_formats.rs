//! The demo dataset in the formats a real linkage centre receives — Gauss-Krüger Shapefiles
//! with GBK DBFs, an ArcGIS file geodatabase, MapInfo tables, KML, CSV with coordinate columns,
//! PostGIS tables — loads through the catalogue and answers exactly like the GeoJSON original:
//! the same cell for 100,000 random points, every vertex within 1 cm, the same attributes.
//! `ogr2ogr` (gdal-bin) writes the fixtures, as a bureau's GIS staff would.

use crate::common;

use gridlink::catalog::{Catalog, Role};
use gridlink::services::locate::locate;
use gridlink::sources::SourceContext;
use gridlink::spatial::{Layer, LayerStore};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The layers locate reads (cell, village, town, beat) and the district frame.
const ADMIN: [&str; 5] = ["district", "towns", "villages", "grid_cells", "beats"];

fn ogr2ogr(args: &[&str]) {
    let output = Command::new("ogr2ogr")
        // The demo's dates are text; GeoJSON's reader would otherwise make them Date fields.
        .args(["-oo", "DATE_AS_STRING=YES"])
        .args(args)
        .output()
        .expect("ogr2ogr (Debian gdal-bin) is installed: scripts/setup-test-env.sh");
    assert!(
        output.status.success(),
        "ogr2ogr {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

use common::catalogue;

fn load(layers: &Path, data: &Path, database: Option<String>) -> LayerStore {
    let catalog = Catalog::load(layers, &common::tables_dir()).expect("catalogue loads");
    let ctx = SourceContext::new(data, database).expect("data dir");
    LayerStore::load_with(catalog, &ctx).unwrap_or_else(|e| panic!("loads: {e}"))
}

/// Metres between two lon/lat points at the district's latitude (enough for a 1 cm bound).
fn gap_m(a: geo::Coord<f64>, b: geo::Coord<f64>) -> f64 {
    let dx = (a.x - b.x) * 111_320.0 * 30.9_f64.to_radians().cos();
    let dy = (a.y - b.y) * 110_540.0;
    (dx * dx + dy * dy).sqrt()
}

/// Every vertex of `a` has a vertex of `b` within 1 cm, and the counts agree (formats may
/// reverse ring order or split multi-polygons differently, so vertices are matched by place).
fn same_shape(a: &geo::Geometry<f64>, b: &geo::Geometry<f64>) -> Result<(), String> {
    use geo::CoordsIter;
    let va: Vec<geo::Coord<f64>> = a.coords_iter().collect();
    let mut vb: Vec<geo::Coord<f64>> = b.coords_iter().collect();
    if va.len() != vb.len() {
        return Err(format!("{} vertices vs {}", va.len(), vb.len()));
    }
    vb.sort_by(|p, q| p.x.total_cmp(&q.x));
    for p in &va {
        let from = vb.partition_point(|q| q.x < p.x - 1e-6);
        let near = vb[from..]
            .iter()
            .take_while(|q| q.x <= p.x + 1e-6)
            .any(|q| gap_m(*p, *q) <= 0.01);
        if !near {
            return Err(format!(
                "vertex ({}, {}) has no match within 1 cm",
                p.x, p.y
            ));
        }
    }
    Ok(())
}

/// Equal, taking a missing text as empty (DBF and CSV cannot tell them apart) and numbers to
/// 12 significant digits (DBF stores decimals as text).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-12 * x.abs().max(1.0)
        }
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => s.is_empty(),
        _ => a == b,
    }
}

/// The layer loaded from the foreign format holds the same features as the reference: ids,
/// vertices within 1 cm, attributes.
fn assert_same_layer(reference: &Layer, other: &Layer, what: &str) {
    let id = &reference.def.id;
    assert!(
        other.report.problems.is_empty(),
        "{what} {id}: {:?}",
        other.report.problems.first()
    );
    assert_eq!(reference.len(), other.len(), "{what} {id}: feature count");
    for i in 0..reference.len() {
        let j = other
            .find(reference.id(i))
            .unwrap_or_else(|| panic!("{what} {id}: no feature {}", reference.id(i)));
        same_shape(&reference.geometry(i).to_geo(), &other.geometry(j).to_geo())
            .unwrap_or_else(|e| panic!("{what} {id} {}: {e}", reference.id(i)));
        if i % 37 == 0 {
            let (a, b) = (reference.properties_json(i), other.properties_json(j));
            for (name, value) in &a {
                assert!(
                    same_value(value, &b[name]),
                    "{what} {id} {} `{name}`: {value} vs {}",
                    reference.id(i),
                    b[name]
                );
            }
        }
    }
}

/// 100,000 random points over the district (and around it): the same cell, village, town and
/// beat in both stores, or outside in both — except for points within 1 cm of a cell border,
/// where a format that stores coordinates to 1 cm may put the border on either side.
fn assert_same_locate(reference: &LayerStore, other: &LayerStore, what: &str) {
    let (a, b) = (
        reference.grid.as_ref().unwrap(),
        other.grid.as_ref().unwrap(),
    );
    let cells_a = reference.by_role(Role::GridCell).unwrap();
    let cells_b = other.by_role(Role::GridCell).unwrap();
    let extent = reference.by_role(Role::District).unwrap().extent().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    let mut inside = 0;
    let mut on_border = 0;
    for _ in 0..100_000 {
        let p = geo::coord! {
            x: rng.random_range(extent.min().x..extent.max().x),
            y: rng.random_range(extent.min().y..extent.max().y),
        };
        let (x, y) = (locate(a, p, 0.0), locate(b, p, 0.0));
        let differ = match (&x, &y) {
            (Some(x), Some(y)) => cells_a.id(x.cell as usize) != cells_b.id(y.cell as usize),
            (None, None) => false,
            _ => true,
        };
        let near_border = x.as_ref().is_some_and(|x| x.edge_distance_m(a) < 0.01)
            || y.as_ref().is_some_and(|y| y.edge_distance_m(b) < 0.01);
        if differ && near_border {
            on_border += 1;
            continue;
        }
        match (x, y) {
            (None, None) => {}
            (Some(x), Some(y)) => {
                inside += 1;
                assert_eq!(
                    cells_a.id(x.cell as usize),
                    cells_b.id(y.cell as usize),
                    "{what}: cell at {p:?}"
                );
                for (role, l, r) in [
                    (Role::Village, x.village, y.village),
                    (Role::Town, x.town, y.town),
                    (Role::Beat, x.beat, y.beat),
                ] {
                    let (la, lb) = (
                        reference.by_role(role).unwrap(),
                        other.by_role(role).unwrap(),
                    );
                    assert_eq!(
                        l.map(|i| la.id(i as usize)),
                        r.map(|i| lb.id(i as usize)),
                        "{what}: {role:?} at {p:?}"
                    );
                }
            }
            (x, y) => panic!("{what}: at {p:?} one store locates {x:?}, the other {y:?}"),
        }
    }
    assert!(inside > 50_000, "{what}: only {inside} points inside");
    assert!(
        on_border < 5,
        "{what}: {on_border} points within 1 cm of a border answered differently"
    );
}

fn assert_same(reference: &LayerStore, other: &LayerStore, layers: &[&str], what: &str) {
    for id in layers {
        assert_same_layer(reference.layer(id).unwrap(), other.layer(id).unwrap(), what);
    }
    assert_same_locate(reference, other, what);
}

/// The OGR layer type for a catalogue layer (FileGDB wants one type per feature class).
fn kind(id: &str) -> &'static str {
    match common::catalog().layer(id).unwrap().geometry {
        gridlink::catalog::GeometryKind::Point => "POINT",
        gridlink::catalog::GeometryKind::Line => "MULTILINESTRING",
        gridlink::catalog::GeometryKind::Polygon => "MULTIPOLYGON",
    }
}

fn all_layers() -> Vec<String> {
    common::catalog()
        .layers
        .iter()
        .map(|l| l.id.clone())
        .collect()
}

#[test]
fn gauss_kruger_shapefiles_with_gbk_dbfs_load_unchanged_and_locate_like_geojson() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gridlink"))
        .current_dir(common::repo())
        .args(["gen-data", "--format", "shp", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // What a centre's surveying department delivers: zone-40 Gauss-Krüger, GBK text.
    let prj = std::fs::read_to_string(dir.path().join("towns.prj")).unwrap();
    assert!(prj.contains("Gauss") && prj.contains("40500000"), "{prj}");
    let dbf = std::fs::read(dir.path().join("towns.dbf")).unwrap();
    let (gbk, _, _) = encoding_rs::GBK.encode("南桥镇");
    assert!(
        dbf.windows(gbk.len()).any(|w| w == &gbk[..]),
        "town names are GBK in the DBF"
    );
    assert!(
        !dbf.windows(9).any(|w| w == "南桥镇".as_bytes()),
        "and not UTF-8"
    );

    // The shipped catalogue, unchanged, reads them (dataset.toml says: shp).
    let store = LayerStore::load(common::catalog(), dir.path()).expect("loads");
    let towns = store.layer("towns").unwrap();
    assert_eq!(towns.report.format, "ESRI Shapefile");
    assert_eq!(towns.report.crs, "EPSG:4528");
    let ids = all_layers();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_same(common::demo_store(), &store, &ids, "Shapefile");
}

#[test]
fn a_file_geodatabase_with_one_feature_class_per_layer_locates_like_geojson() {
    let dir = tempfile::tempdir().unwrap();
    let gdb = dir.path().join("fengxian.gdb");
    let gdb = gdb.to_str().unwrap();
    let ids = all_layers();
    for id in &ids {
        let src = common::demo_dir().join(format!("{id}.geojson"));
        let mut args = vec![
            "-f",
            "OpenFileGDB",
            gdb,
            src.to_str().unwrap(),
            "-nln",
            id,
            "-nlt",
            kind(id),
        ];
        if Path::new(gdb).exists() {
            args.insert(0, "-update");
        }
        ogr2ogr(&args);
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let layers = catalogue(&ids, |id| {
        format!("path = \"fengxian.gdb\"\nlayer = \"{id}\"")
    });
    let store = load(layers.path(), dir.path(), None);
    assert_eq!(store.layer("towns").unwrap().report.format, "OpenFileGDB");
    assert_same(common::demo_store(), &store, &ids, "FileGDB");
}

#[test]
fn mapinfo_tables_locate_like_geojson() {
    let dir = tempfile::tempdir().unwrap();
    for id in ADMIN {
        let src = common::demo_dir().join(format!("{id}.geojson"));
        let out = dir.path().join(format!("{id}.tab"));
        // Bounds around the district, so MapInfo's integer coordinates resolve 0.02 mm.
        ogr2ogr(&[
            "-f",
            "MapInfo File",
            "-lco",
            "BOUNDS=121,30,122,32",
            out.to_str().unwrap(),
            src.to_str().unwrap(),
        ]);
    }
    let layers = catalogue(&ADMIN, |id| format!("path = \"{id}.tab\""));
    let store = load(layers.path(), dir.path(), None);
    assert_eq!(store.layer("towns").unwrap().report.format, "MapInfo File");
    assert_same(common::demo_store(), &store, &ADMIN, "MapInfo TAB");
}

#[test]
fn kml_files_locate_like_geojson() {
    let dir = tempfile::tempdir().unwrap();
    for id in ADMIN {
        let src = common::demo_dir().join(format!("{id}.geojson"));
        let out = dir.path().join(format!("{id}.kml"));
        ogr2ogr(&[
            "-f",
            "KML",
            out.to_str().unwrap(),
            src.to_str().unwrap(),
            "-nln",
            id,
        ]);
    }
    let layers = catalogue(&ADMIN, |id| format!("path = \"{id}.kml\""));
    let store = load(layers.path(), dir.path(), None);
    assert_same(common::demo_store(), &store, &ADMIN, "KML");
}

#[test]
fn csv_points_with_gauss_kruger_columns_load_like_geojson() {
    let dir = tempfile::tempdir().unwrap();
    let points: Vec<String> = common::catalog()
        .layers
        .iter()
        .filter(|l| l.geometry == gridlink::catalog::GeometryKind::Point)
        .map(|l| l.id.clone())
        .collect();
    for id in &points {
        let src = common::demo_dir().join(format!("{id}.geojson"));
        let out = dir.path().join(format!("{id}.csv"));
        ogr2ogr(&[
            "-f",
            "CSV",
            "-t_srs",
            "EPSG:4528",
            "-lco",
            "GEOMETRY=AS_XY",
            out.to_str().unwrap(),
            src.to_str().unwrap(),
        ]);
    }
    let header = std::fs::read_to_string(dir.path().join("shelters.csv")).unwrap();
    assert!(header.starts_with("X,Y,"), "{}", &header[..40]);
    let ids: Vec<&str> = points.iter().map(String::as_str).collect();
    let layers = catalogue(&ids, |id| {
        format!("path = \"{id}.csv\"\nx = \"X\"\ny = \"Y\"\ncrs = \"EPSG:4528\"")
    });
    let store = load(layers.path(), dir.path(), None);
    assert_eq!(store.layer("shelters").unwrap().report.format, "CSV");
    assert_same(common::demo_store(), &store, &ids, "CSV x/y");
}

#[tokio::test]
async fn postgis_tables_as_layers_locate_like_geojson() {
    let url = common::cases::pg_url();
    let schema = format!("gridlink_src_{}", std::process::id());
    let output = Command::new(env!("CARGO_BIN_EXE_gridlink"))
        .current_dir(common::repo())
        .args(["import", "--schema", &schema, "--to", &url, "--data-dir"])
        .arg(common::demo_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ids = all_layers();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let layers = catalogue(&ids, |id| format!("postgis = \"{schema}.{id}\""));
    let (layers_dir, db) = (layers.path().to_path_buf(), url.clone());
    let store =
        tokio::task::spawn_blocking(move || load(&layers_dir, Path::new("/nonexistent"), Some(db)))
            .await
            .unwrap();
    let towns = store.layer("towns").unwrap();
    assert_eq!(towns.report.format, "PostGIS");
    assert_eq!(towns.report.crs, "wgs84", "SRID 4326 is read as WGS84");
    assert_same(common::demo_store(), &store, &ids, "PostGIS");

    // One row by its key, decoded as a load decodes it: the step a live update takes.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let def = store.layer("shelters").unwrap().def.clone();
    let some_id = store.layer("shelters").unwrap().id(3).to_string();
    let fetched = tokio::task::spawn_blocking(move || {
        let source = gridlink::sources::postgis::PostgisSource::open(
            &def,
            &format!("{schema}.shelters"),
            Some(&url),
        )
        .unwrap();
        source.fetch(&def, std::slice::from_ref(&some_id)).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(fetched.len(), 1);
    assert_eq!(
        fetched[0].key.as_deref(),
        Some(store.layer("shelters").unwrap().id(3))
    );
    assert!(fetched[0].feature.is_ok());
    sqlx::query(&format!(
        "DROP SCHEMA \"gridlink_src_{}\" CASCADE",
        std::process::id()
    ))
    .execute(&pool)
    .await
    .unwrap();
}
