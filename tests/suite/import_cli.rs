//! The commands a GIS officer uses with real data: `gridlink check` on the real Shanghai
//! outlines (GCJ-02), and `gridlink import` turning a bureau's Shapefile — Gauss-Krüger, GBK
//! without .cpg, Chinese column names — into the catalogue's layer, as a GeoPackage in a data
//! directory and as a PostGIS table.

use crate::common;

use std::process::{Command, Output};

fn gridlink(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridlink"))
        .current_dir(common::repo())
        .args(args)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn check_reads_the_real_shanghai_outlines_as_gcj02_and_reports_the_shift() {
    let output = gridlink(&[
        "check",
        "--layers-dir",
        "catalogues/shanghai",
        "--data-dir",
        "data",
        "--no-topology",
    ]);
    let out = text(&output);
    assert!(out.contains("shanghai_districts"), "{out}");
    assert!(out.contains("declared wgs84, read as gcj02"), "{out}");
    assert!(out.contains("GCJ-02 → WGS84"), "{out}");
    let shift = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("shift:"))
        .expect("the shift is reported");
    let mean: f64 = shift
        .split_whitespace()
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("{shift}"));
    // GCJ-02's offset around Shanghai is about half a kilometre.
    assert!((300.0..700.0).contains(&mean), "{shift}");
    // 13 of the 16 outlines are valid; the source's three self-intersecting ones are repaired
    // (`repair = "make_valid"`), each named with the area the repair changed — a fraction of
    // a percent, or the repair would be hiding a different shape.
    assert!(
        out.contains("shanghai_districts     上海市各区                   16         0"),
        "{out}"
    );
    for adcode in ["310112", "310114", "310115"] {
        let line = out
            .lines()
            .find(|l| {
                l.contains("repaired: ") && l.contains(&format!("({adcode}): invalid polygon"))
            })
            .unwrap_or_else(|| panic!("{adcode} repaired: {out}"));
        let percent: f64 = line
            .rsplit("area changed by ")
            .next()
            .and_then(|p| p.trim_end_matches('%').parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert!(percent < 0.5, "{line}");
    }
    assert!(output.status.success(), "{out}");
}

#[tokio::test]
async fn import_turns_a_bureau_shapefile_into_the_shelter_layer() {
    let dir = tempfile::tempdir().unwrap();
    let shp = dir.path().join("避难场所.shp");
    let src = common::demo_dir().join("shelters.geojson");
    let ogr = Command::new("ogr2ogr")
        .args(["-t_srs", "EPSG:4528", "-lco", "ENCODING=GBK", "-sql"])
        .arg(
            "SELECT code AS \"编码\", name AS \"名称\", class, capacity AS \"容纳人数\", \
             occupancy, status, address AS \"地址\" FROM shelters",
        )
        .arg(&shp)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        ogr.status.success(),
        "{}",
        String::from_utf8_lossy(&ogr.stderr)
    );
    // Delivered without .cpg: only --encoding can tell.
    std::fs::remove_file(shp.with_extension("cpg")).unwrap();
    let out_dir = dir.path().join("data");
    let mut args = vec![
        "import".to_string(),
        "--from".into(),
        shp.display().to_string(),
        "--layer".into(),
        "shelters".into(),
        "--encoding".into(),
        "GBK".into(),
        "--field".into(),
        "code=编码".into(),
        "--field".into(),
        "name=名称".into(),
        "--field".into(),
        "capacity=容纳人数".into(),
        "--field".into(),
        "address=地址".into(),
        "--data-dir".into(),
        common::demo_dir().display().to_string(),
        "--to".into(),
    ];
    let refs = |args: &[String], to: &str| {
        let mut a: Vec<String> = args.to_vec();
        a.push(to.to_string());
        a
    };
    let to_dir = refs(&args, out_dir.to_str().unwrap());
    let output = gridlink(&to_dir.iter().map(String::as_str).collect::<Vec<_>>());
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    let reference = common::demo_store().layer("shelters").unwrap();
    assert!(out.contains("declared EPSG:4528"), "{out}");
    assert!(
        out.contains(&format!("{} valid, 0 skipped", reference.len())),
        "{out}"
    );
    // The data directory now reads the layer from the GeoPackage it wrote.
    let manifest = std::fs::read_to_string(out_dir.join("dataset.toml")).unwrap();
    assert!(manifest.contains("[layers.shelters]"), "{manifest}");
    let def = common::catalog().layer("shelters").unwrap().clone();
    let ctx = gridlink::sources::SourceContext::new(&out_dir, None).unwrap();
    let layer = tokio::task::spawn_blocking(move || {
        gridlink::spatial::LayerStore::load_one_in(&def, &ctx, None).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(layer.report.format, "GeoPackage");
    assert_eq!(layer.len(), reference.len());
    let i = reference.find(layer.id(0)).unwrap();
    assert_eq!(
        layer.label(0),
        reference.label(i),
        "Chinese names survive GBK"
    );
    assert_eq!(
        layer.property(0, "capacity"),
        reference.property(i, "capacity")
    );

    // And into PostGIS.
    let schema = format!("gridlink_imp_{}", std::process::id());
    args.splice(
        0..1,
        ["import".to_string(), "--schema".into(), schema.clone()],
    );
    let to_db = refs(&args, &common::cases::pg_url());
    let output = gridlink(&to_db.iter().map(String::as_str).collect::<Vec<_>>());
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains(&format!("wrote {} rows", reference.len())),
        "{out}"
    );
    let pool = sqlx::PgPool::connect(&common::cases::pg_url())
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as(&format!(
        "SELECT count(*) FROM \"{schema}\".shelters WHERE name ~ '[一-龥]'"
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(n as usize, reference.len());
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}

/// GDAL's SQLite (writing GeoPackages) and sqlx's (the case database, the GeoPackage reader)
/// are one library in one process (`.cargo/config.toml`); two copies crash when GDAL opens a
/// GeoPackage.
#[tokio::test]
async fn gdal_geopackages_and_the_sqlite_case_database_share_one_process() {
    let (_db, _dir) = common::cases::open_db(common::cases::Backend::Sqlite).await;
    let out = tempfile::tempdir().unwrap();
    let path = out.path().to_path_buf();
    let store = tokio::task::spawn_blocking(move || {
        gridlink::demo::generate(&gridlink::demo::GenOptions {
            output: gridlink::demo::output::Output {
                format: gridlink::demo::output::OutputFormat::Gpkg,
                epsg: Some(4528),
                encoding: None,
            },
            seed: 5,
            scale: 0.05,
            layers_dir: common::layers_dir(),
            tables_dir: common::tables_dir(),
            out_dir: path.clone(),
        })
        .unwrap();
        gridlink::spatial::LayerStore::load(common::catalog(), &path).unwrap()
    })
    .await
    .unwrap();
    let towns = store.layer("towns").unwrap();
    assert_eq!(towns.report.format, "GeoPackage");
    assert_eq!(towns.report.declared_crs.as_deref(), Some("EPSG:4528"));
    assert_eq!(towns.len(), 12);
}
