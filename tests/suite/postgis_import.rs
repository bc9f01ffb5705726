//! `gridlink import` into the machine's PostgreSQL/PostGIS: every layer becomes a table with
//! a GiST index, and PostGIS agrees with gridlink about which cell holds a point.
//! The database is `GRIDLINK_TEST_DATABASE_URL` (default: the local `test` database).

use crate::common;

use geo::InteriorPoint;
use gridlink::catalog::Role;
use gridlink::spatial::GeometryRef;
use std::process::Command;

fn database_url() -> String {
    std::env::var("GRIDLINK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

#[tokio::test]
async fn import_writes_every_layer_and_postgis_locates_like_gridlink() {
    let schema = format!("gridlink_test_{}", std::process::id());
    let output = Command::new(env!("CARGO_BIN_EXE_gridlink"))
        .current_dir(common::repo())
        .args([
            "import",
            "--schema",
            &schema,
            "--to",
            &database_url(),
            "--data-dir",
        ])
        .arg(common::demo_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("imported 27 layers"));

    let pool = sqlx::PgPool::connect(&database_url())
        .await
        .expect("database");
    let store = common::demo_store();
    for layer in store.layers() {
        let (rows,): (i64,) = sqlx::query_as(&format!(
            "SELECT count(*) FROM \"{schema}\".\"{}\"",
            layer.def.id
        ))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(rows as usize, layer.len(), "{}", layer.def.id);
    }
    let (gist,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE '%USING gist%'",
    )
    .bind(&schema)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(gist, 27, "one GiST index per layer");
    let (invalid,): (i64,) = sqlx::query_as(&format!(
        "SELECT count(*) FROM \"{schema}\".grid_cells WHERE NOT ST_IsValid(geom)"
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(invalid, 0, "GEOS finds every cell valid");

    let cells = store.by_role(Role::GridCell).unwrap();
    for i in (0..cells.len()).step_by(cells.len() / 100) {
        let GeometryRef::Polygons(m) = cells.geometry(i) else {
            panic!()
        };
        let p = m.interior_point().unwrap();
        let codes: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT code FROM \"{schema}\".grid_cells WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326))"
        ))
        .bind(p.x())
        .bind(p.y())
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(codes, vec![(cells.id(i).to_string(),)]);
    }
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}
