//! Real deliveries go wrong in known ways. Each is refused with a message naming the layer, the
//! file or table, and what to do — and a failed load changes nothing that is being served.

use crate::common;

use gridlink::catalog::Catalog;
use gridlink::sources::SourceContext;
use gridlink::spatial::{LayerStore, SharedStore};
use std::path::PathBuf;
use std::process::Command;

fn ogr2ogr(args: &[&str]) {
    let output = Command::new("ogr2ogr")
        .args(["-oo", "DATE_AS_STRING=YES"])
        .args(args)
        .output()
        .expect("ogr2ogr (gdal-bin)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn demo(id: &str) -> String {
    common::demo_dir()
        .join(format!("{id}.geojson"))
        .display()
        .to_string()
}

/// A catalogue of the district (from the demo) and shelters with the given `[source]` lines.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(shelters_source: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let layers = dir.path().join("layers");
        std::fs::create_dir_all(&layers).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        for id in ["district", "shelters"] {
            let text =
                std::fs::read_to_string(common::layers_dir().join(format!("{id}.toml"))).unwrap();
            let source = if id == "district" {
                format!("path = \"{}\"", demo(id))
            } else {
                shelters_source.to_string()
            };
            std::fs::write(
                layers.join(format!("{id}.toml")),
                text.replace(&format!("path = \"{id}\""), &source),
            )
            .unwrap();
        }
        Case { dir }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Shelters as a Shapefile in zone-40 Gauss-Krüger with a GBK DBF (and its .cpg).
    fn shapefile(&self, encoding: &str) -> PathBuf {
        let out = self.data().join("shelters.shp");
        ogr2ogr(&[
            "-t_srs",
            "EPSG:4528",
            "-lco",
            &format!("ENCODING={encoding}"),
            out.to_str().unwrap(),
            &demo("shelters"),
        ]);
        out
    }

    fn load(&self, database: Option<String>) -> Result<LayerStore, String> {
        let catalog = Catalog::load(&self.dir.path().join("layers"), &common::tables_dir())
            .map_err(|e| e.to_string())?;
        let ctx = SourceContext::new(&self.data(), database).map_err(|e| e.to_string())?;
        LayerStore::load_with(catalog, &ctx).map_err(|e| e.to_string())
    }

    fn refused(&self) -> String {
        match self.load(None) {
            Ok(_) => panic!("the load should be refused"),
            Err(e) => e,
        }
    }
}

fn assert_names(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

#[test]
fn a_gauss_kruger_gbk_shapefile_with_prj_and_cpg_loads() {
    let case = Case::new("path = \"shelters.shp\"");
    case.shapefile("GBK");
    let store = case.load(None).expect("loads");
    let shelters = store.layer("shelters").unwrap();
    assert_eq!(
        shelters.len(),
        common::demo_store().layer("shelters").unwrap().len()
    );
    assert_eq!(shelters.report.crs, "EPSG:4528");
}

#[test]
fn a_csv_without_a_crs_is_refused_not_taken_for_wgs84() {
    let case = Case::new("path = \"shelters.csv\"\nx = \"X\"\ny = \"Y\"");
    let out = case.data().join("shelters.csv");
    ogr2ogr(&[
        "-f",
        "CSV",
        "-lco",
        "GEOMETRY=AS_XY",
        out.to_str().unwrap(),
        &demo("shelters"),
    ]);
    assert_names(
        &case.refused(),
        &[
            "layer shelters",
            "shelters.csv",
            "declares no coordinate system",
            "crs = ",
        ],
    );
}

#[test]
fn an_unknown_epsg_code_is_named() {
    let case = Case::new("path = \"shelters.shp\"\ncrs = \"EPSG:99999\"");
    case.shapefile("GBK");
    assert_names(
        &case.refused(),
        &["layer shelters", "shelters.shp", "EPSG:99999"],
    );
}

#[test]
fn a_shapefile_without_its_dbf_or_shx_says_to_copy_the_whole_set() {
    for missing in ["dbf", "shx"] {
        let case = Case::new("path = \"shelters.shp\"");
        let shp = case.shapefile("GBK");
        std::fs::remove_file(shp.with_extension(missing)).unwrap();
        assert_names(
            &case.refused(),
            &[
                "layer shelters",
                "shelters.shp",
                &format!("no .{missing}"),
                "whole set",
            ],
        );
    }
}

#[test]
fn a_gbk_dbf_without_cpg_is_refused_rather_than_stored_as_mojibake() {
    let case = Case::new("path = \"shelters.shp\"");
    let shp = case.shapefile("GBK");
    std::fs::remove_file(shp.with_extension("cpg")).unwrap();
    assert_names(
        &case.refused(),
        &[
            "layer shelters",
            "shelters.shp",
            "not valid UTF-8",
            "encoding = \"GBK\"",
        ],
    );
    // With the encoding declared it loads, names intact.
    let fixed = Case::new("path = \"shelters.shp\"\nencoding = \"GBK\"");
    let shp = fixed.shapefile("GBK");
    std::fs::remove_file(shp.with_extension("cpg")).unwrap();
    let store = fixed.load(None).expect("loads with encoding = GBK");
    let shelters = store.layer("shelters").unwrap();
    let reference = common::demo_store().layer("shelters").unwrap();
    assert_eq!(
        shelters.label(0),
        reference.label(reference.find(shelters.id(0)).unwrap())
    );
}

#[test]
fn a_utf8_dbf_declared_gbk_is_refused() {
    let case = Case::new("path = \"shelters.shp\"\nencoding = \"GBK\"");
    case.shapefile("UTF-8");
    assert_names(
        &case.refused(),
        &["layer shelters", "shelters.shp", "UTF-8"],
    );
}

#[test]
fn a_mapped_column_that_does_not_exist_lists_the_columns_there_are() {
    let case = Case::new("path = \"shelters.shp\"\nfields = { name = \"名称\" }");
    case.shapefile("GBK");
    let message = case.refused();
    assert_names(
        &message,
        &["layer shelters", "shelters.shp", "名称", "capacity"],
    );
}

#[test]
fn a_geometry_of_the_wrong_type_is_reported_per_feature() {
    let case = Case::new("path = \"shelters.csv\"\ncrs = \"EPSG:4326\"");
    std::fs::write(
        case.data().join("shelters.csv"),
        "WKT,code,name,class,capacity,occupancy,status\n\
         \"POLYGON ((121.45 30.92,121.46 30.92,121.46 30.93,121.45 30.92))\",S1,甲,I,100,0,open\n\
         \"POINT (121.45 30.92)\",S2,乙,I,100,0,open\n",
    )
    .unwrap();
    let store = case.load(None).expect("bad features do not stop the load");
    let shelters = store.layer("shelters").unwrap();
    assert_eq!(shelters.len(), 1);
    let problem = &shelters.report.problems[0];
    assert_eq!(problem.index, 0);
    assert!(
        problem.reason.contains("is a Polygon"),
        "{}",
        problem.reason
    );
    assert!(
        problem.place().contains("shelters.csv feature #0"),
        "{}",
        problem.place()
    );
}

#[test]
fn a_wrong_crs_that_lands_outside_the_district_is_named_as_the_likely_cause() {
    // Zone 40 data declared as zone 39: everything lands 3° west, in Anhui.
    let case = Case::new("path = \"shelters.shp\"\ncrs = \"EPSG:4527\"");
    case.shapefile("GBK");
    assert_names(
        &case.refused(),
        &[
            "layer shelters",
            "shelters.shp",
            "outside the district",
            "EPSG:4527",
            "CRS is wrong",
        ],
    );
}

#[test]
fn a_failed_reload_keeps_every_layer_being_served() {
    let case = Case::new("path = \"shelters.shp\"");
    case.shapefile("GBK");
    let shared = SharedStore::new(case.load(None).unwrap());
    let before = shared.snapshot().feature_count();
    std::fs::remove_file(case.data().join("shelters.dbf")).unwrap();
    assert!(case.load(None).is_err());
    // The reload (serve's SIGHUP) only swaps on success: nothing was replaced or emptied.
    assert_eq!(shared.snapshot().feature_count(), before);
}

async fn pg(sql: &str) {
    let pool = sqlx::PgPool::connect(&common::cases::pg_url())
        .await
        .unwrap();
    sqlx::raw_sql(sql).execute(&pool).await.unwrap();
    pool.close().await;
}

#[tokio::test]
async fn postgis_tables_that_are_missing_keyless_or_unreadable_are_named() {
    let schema = format!("gridlink_bad_{}", std::process::id());
    let role = format!("gridlink_reader_{}", std::process::id());
    pg(&format!(
        "CREATE SCHEMA {schema};
         CREATE TABLE {schema}.keyless (code text, geom geometry(Point, 4326));
         CREATE TABLE {schema}.secret (code text PRIMARY KEY, geom geometry(Point, 4326));
         CREATE ROLE {role} LOGIN;
         GRANT USAGE ON SCHEMA {schema} TO {role};"
    ))
    .await;
    let url = common::cases::pg_url();
    let reader_url = url.replacen("postgres@", &format!("{role}@"), 1);
    let in_schema = schema.clone();
    let try_table = move |table: &str, url: String| {
        let case = Case::new(&format!("postgis = \"{in_schema}.{table}\""));
        match case.load(Some(url)) {
            Ok(_) => panic!("{table} should be refused"),
            Err(e) => e,
        }
    };
    let (u, r) = (url.clone(), reader_url.clone());
    let messages = tokio::task::spawn_blocking(move || {
        (
            try_table("missing", u.clone()),
            try_table("keyless", u.clone()),
            try_table("secret", r),
        )
    })
    .await
    .unwrap();
    assert_names(
        &messages.0,
        &["layer shelters", &format!("{schema}.missing"), "no table"],
    );
    assert_names(
        &messages.1,
        &[
            "layer shelters",
            &format!("{schema}.keyless"),
            "no primary key",
            "ADD PRIMARY KEY",
        ],
    );
    assert_names(
        &messages.2,
        &[
            "layer shelters",
            &format!("{schema}.secret"),
            "may not read",
            "GRANT SELECT",
        ],
    );
    // No database configured at all.
    let case = Case::new(&format!("postgis = \"{schema}.secret\""));
    let none = tokio::task::spawn_blocking(move || case.load(None).err().unwrap())
        .await
        .unwrap();
    assert_names(&none, &["layer shelters", "GRIDLINK_LAYERS_DATABASE"]);
    pg(&format!(
        "DROP SCHEMA {schema} CASCADE; DROP OWNED BY {role}; DROP ROLE {role};"
    ))
    .await;
}
