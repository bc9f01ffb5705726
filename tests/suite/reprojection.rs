//! gridlink's reprojection agrees with PostGIS `ST_Transform` (the machine's PostgreSQL) within
//! 1 mm on 10,000 points over the district, both ways, for the systems a Shanghai centre's data
//! comes in: CGCS2000 (EPSG:4490), its 3° Gauss-Krüger zone 40 (4528) and CM 120°E (4549),
//! Xi'an 1980 3° GK CM 120°E (2385) and Web Mercator (3857).

use crate::common;

use gridlink::spatial::crs::Crs;
use rand::{Rng, SeedableRng};

const POINTS: usize = 10_000;

/// Millimetres between two (x, y) pairs: metres for projected systems, degrees converted at
/// the district's latitude for geographic ones.
fn gap_mm(a: (f64, f64), b: (f64, f64), geographic: bool) -> f64 {
    let (dx, dy) = (a.0 - b.0, a.1 - b.1);
    let (dx, dy) = if geographic {
        (dx * 111_320.0 * 30.9_f64.to_radians().cos(), dy * 110_540.0)
    } else {
        (dx, dy)
    };
    (dx * dx + dy * dy).sqrt() * 1000.0
}

#[tokio::test]
async fn every_chinese_crs_agrees_with_postgis_st_transform_within_a_millimetre() {
    let pool = sqlx::PgPool::connect(&common::cases::pg_url())
        .await
        .expect("the test database (scripts/setup-test-env.sh)");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let (lons, lats): (Vec<f64>, Vec<f64>) = (0..POINTS)
        .map(|_| {
            (
                rng.random_range(121.30..121.85),
                rng.random_range(30.70..31.05),
            )
        })
        .unzip();
    for epsg in [4490, 4528, 4549, 2385, 3857] {
        let crs = Crs::parse(&format!("EPSG:{epsg}")).unwrap();
        let geographic = crs.is_geographic();
        let forward: Vec<(f64, f64)> = sqlx::query_as(
            "SELECT ST_X(t), ST_Y(t) FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS p(x, y, n), \
             ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 4326), $3) AS t ORDER BY n",
        )
        .bind(&lons)
        .bind(&lats)
        .bind(epsg)
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(forward.len(), POINTS);
        let (xs, ys): (Vec<f64>, Vec<f64>) = forward.iter().copied().unzip();
        let back: Vec<(f64, f64)> = sqlx::query_as(
            "SELECT ST_X(t), ST_Y(t) FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS p(x, y, n), \
             ST_Transform(ST_SetSRID(ST_MakePoint(x, y), $3), 4326) AS t ORDER BY n",
        )
        .bind(&xs)
        .bind(&ys)
        .bind(epsg)
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut worst: (f64, f64) = (0.0, 0.0);
        for i in 0..POINTS {
            let ours = crs.from_wgs84(lons[i], lats[i]).unwrap();
            let d = gap_mm(ours, forward[i], geographic);
            assert!(
                d <= 1.0,
                "EPSG:{epsg} forward at ({}, {}): {d} mm",
                lons[i],
                lats[i]
            );
            let ours_back = crs.to_wgs84(xs[i], ys[i]).unwrap();
            let e = gap_mm(ours_back, back[i], true);
            assert!(
                e <= 1.0,
                "EPSG:{epsg} inverse at ({}, {}): {e} mm",
                xs[i],
                ys[i]
            );
            worst = (worst.0.max(d), worst.1.max(e));
        }
        // The comparison is not vacuous: the systems really differ from WGS84 lon/lat.
        if !geographic {
            assert!(forward[0].0.abs() > 1000.0, "EPSG:{epsg}: {:?}", forward[0]);
        }
        println!(
            "EPSG:{epsg}: worst forward {:.6} mm, inverse {:.6} mm",
            worst.0, worst.1
        );
    }
}
