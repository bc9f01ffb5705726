//! Batch locate and nearest, in process, on one core.
//!
//! `cargo bench --bench locate`. The points: `GRIDLINK_BENCH_POINTS` (a CSV of `id,lon,lat`,
//! as `bench/locate_vs_postgis.sh` exports from PostGIS so that both sides locate the same
//! points), else 1,000,000 seeded random points inside the district.
//!
//! - `batch locate`: `locate_many`, what `POST /api/locate/batch` does per chunk before
//!   formatting: order the points along a Z-curve of the cell grid, find each one's cell
//!   exactly with its village, beat and town, measure the distance to the cell's border and
//!   list the candidate cells of ambiguous points. One thread.
//! - `baseline: rtree + geo Contains`: the textbook way, in the same run — R-tree candidates
//!   by bounding box, then geo's point-in-polygon.
//! - `nearest k=5 shelters`: one query.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use geo::{Contains, Coord, Point};
use gridlink::catalog::Role;
use gridlink::services::locate::{DEFAULT_TOLERANCE_M, locate_many};
use gridlink::services::nearest::{Query, nearest};
use gridlink::services::occupancy::Live;
use gridlink::spatial::{GeometryRef, LayerStore};
use rand::{Rng, SeedableRng};
use std::time::Duration;

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use common::store;

fn points(store: &LayerStore) -> Vec<Coord<f64>> {
    if let Some(path) = std::env::var_os("GRIDLINK_BENCH_POINTS") {
        let text = std::fs::read_to_string(&path).expect("points file");
        return text
            .lines()
            .filter_map(|l| {
                let mut f = l.split(',');
                let _id = f.next()?;
                Some(Coord {
                    x: f.next()?.parse().ok()?,
                    y: f.next()?.parse().ok()?,
                })
            })
            .collect();
    }
    let district = store.by_role(Role::District).expect("district");
    let GeometryRef::Polygons(outline) = district.geometry(0) else {
        panic!("district polygon")
    };
    let extent = district.extent().expect("extent");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut out = Vec::with_capacity(1_000_000);
    while out.len() < 1_000_000 {
        let p = Coord {
            x: rng.random_range(extent.min().x..extent.max().x),
            y: rng.random_range(extent.min().y..extent.max().y),
        };
        if outline.contains(&Point(p)) {
            out.push(p);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let store = store();
    let grid = store.grid.as_ref().expect("grid");
    let points = points(&store);
    let cells = store.by_role(Role::GridCell).expect("cells");
    eprintln!(
        "{} points; cell locator: {:.0}% pure buckets, {:.1} MB",
        points.len(),
        grid.cells.pure_share() * 100.0,
        grid.cells.memory_bytes() as f64 / 1e6
    );

    let mut group = c.benchmark_group("locate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(points.len() as u64));
    group.bench_function(BenchmarkId::new("batch locate", points.len()), |b| {
        b.iter(|| {
            let mut found = 0usize;
            locate_many(grid, &points, DEFAULT_TOLERANCE_M, |_, at| {
                if let Some(at) = at {
                    found += 1 + at.candidates.len();
                }
            });
            std::hint::black_box(found)
        });
    });
    let sample: Vec<Coord<f64>> = points.iter().step_by(10).copied().collect();
    group.throughput(Throughput::Elements(sample.len() as u64));
    group.bench_function(BenchmarkId::new("baseline: rtree + geo Contains", sample.len()), |b| {
        b.iter(|| {
            let mut found = 0usize;
            for p in &sample {
                let hit = cells
                    .index()
                    .at_point(*p)
                    .into_iter()
                    .find(|&i| matches!(cells.geometry(i as usize), GeometryRef::Polygons(m) if m.contains(&Point(*p))));
                found += usize::from(hit.is_some());
            }
            std::hint::black_box(found)
        });
    });
    group.finish();

    let shelters = store.by_role(Role::Shelter).expect("shelters");
    let query = Query {
        k: 5,
        ..Query::default()
    };
    let live = Live::default();
    let mut group = c.benchmark_group("nearest");
    let mut i = 0;
    group.bench_function("k=5 shelters", |b| {
        b.iter(|| {
            i = (i + 7919) % points.len();
            std::hint::black_box(nearest(shelters, points[i], &query, &live))
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
