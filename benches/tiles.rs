//! Tile generation on one core: every tile from z10 to z16 that covers the district, all public
//! layers, rendered cold (no cache) and warm (from the cache). Prints p50 / p99 per zoom over
//! the tiles with content, the largest tile and the most features in one layer of a tile, and
//! writes each zoom's tiles with content to `target/bench-tiles-z{z}.txt` for `bench/tiles.sh`
//! (gridlink versus martin over HTTP).
//!
//! `cargo bench --bench tiles` (set GRIDLINK_BENCH_DATA to use another dataset).

use gridlink::catalog::Role;
use gridlink::spatial::{Layer, LayerStore};
use gridlink::tiles::TileCache;
use gridlink::tiles::mercator::TileId;
use std::io::Write;
use std::time::Instant;

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use common::repo;

fn tiles_covering(store: &LayerStore, z: u8) -> Vec<TileId> {
    let district = store
        .by_role(Role::District)
        .expect("district")
        .extent()
        .expect("extent");
    let n = f64::from(1u32 << z);
    let x = |lon: f64| ((lon + 180.0) / 360.0 * n) as u64;
    let y =
        |lat: f64| ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u64;
    let mut out = Vec::new();
    for ty in y(district.max().y)..=y(district.min().y) {
        for tx in x(district.min().x)..=x(district.max().x) {
            out.push(TileId::new(u32::from(z), tx, ty).expect("valid tile"));
        }
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return; // `cargo test --benches` just checks that it builds
    }
    let store = common::store();
    let public: Vec<&Layer> = store
        .layers()
        .iter()
        .filter(|l| l.def.is_public())
        .map(|l| &**l)
        .collect();
    let cache = TileCache::new(1 << 30);
    println!(
        "{} public layers; tiles covering the district, rendered on one core",
        public.len()
    );
    println!(
        "zoom  tiles  non-empty  cold p50 ms  cold p99 ms  warm p50 µs  warm p99 µs  largest KB  most features"
    );
    for z in 10..=16u8 {
        let tiles = tiles_covering(&store, z);
        let mut list = std::fs::File::create(repo().join(format!("target/bench-tiles-z{z}.txt")))
            .expect("tile list");
        let mut cold = Vec::with_capacity(tiles.len());
        let mut warm = Vec::with_capacity(tiles.len());
        let (mut largest, mut non_empty, mut most_features) = (0usize, 0usize, 0usize);
        for &tile in &tiles {
            let t = Instant::now();
            let encoded = TileCache::render_uncached(&public, tile);
            let elapsed = t.elapsed().as_secs_f64() * 1e3;
            largest = largest.max(encoded.raw.len());
            // Statistics over tiles with content: empty corners of the bounding box are cheap
            // and would flatter the figures.
            if !encoded.is_empty() {
                cold.push(elapsed);
                non_empty += 1;
                writeln!(list, "{}/{}/{}", tile.z, tile.x, tile.y).expect("write list");
                let features: usize = public
                    .iter()
                    .filter_map(|l| gridlink::tiles::encode::encode_layer(l, tile))
                    .map(|l| l.features.len())
                    .max()
                    .unwrap_or(0);
                most_features = most_features.max(features);
                cache.get(&public, tile);
                let t = Instant::now();
                std::hint::black_box(cache.get(&public, tile));
                warm.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        cold.sort_by(f64::total_cmp);
        warm.sort_by(f64::total_cmp);
        println!(
            "{z:>4}  {:>5}  {non_empty:>9}  {:>11.2}  {:>11.2}  {:>11.1}  {:>11.1}  {:>10.1}  {most_features:>13}",
            tiles.len(),
            percentile(&cold, 0.5),
            percentile(&cold, 0.99),
            percentile(&warm, 0.5),
            percentile(&warm, 0.99),
            largest as f64 / 1024.0,
        );
    }
}
