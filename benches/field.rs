//! Field positions in process, on one core: nearest workers and geofence evaluation.
//!
//! `cargo bench --bench field`.
//! - `nearest 5 of 10,000 live workers`: [`LiveIndex::nearest`] (a grid, rings of cells, the
//!   best few on the stack) at random points of the district (target ≤ 5 µs). Baselines in
//!   the same run: the R-tree it replaced (rstar's `nearest_neighbor_iter` with the same
//!   filter, as `LiveIndex` did before), and a scan of every worker's distance with a partial
//!   sort (what a list without an index does).
//! - `move a worker`: [`LiveIndex::upsert`] of a worker 10 m on (per accepted fix in intake).
//!   Baseline in the same run: the R-tree's remove and insert.
//! - `fence step, 1,000 posted fences + beats + towns`: [`FenceSet::step`] for a worker
//!   walking 10 m between fixes (the per-fix work of intake). Baseline in the same run: the
//!   same containment tests against every fence, without the R-tree.
//!
//! Tile38's published figures (its README, "NEARBY … 10,000 objects") are in README.md with
//! these; they were not measured here (Tile38 cannot be installed on this machine).

use criterion::{Criterion, black_box};
use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::{BoundingRect, Coord, MultiPolygon, polygon};
use gridlink::catalog::Role;
use gridlink::field::fences::{Fence, FenceSet, Origin};
use gridlink::field::live::{Latest, LiveIndex, Wanted};
use gridlink::field::workers::Workers;
use gridlink::spatial::GeometryRef;
use gridlink::spatial::distance::{Planar, metres};
use rand::{Rng, SeedableRng};
use rstar::RTree;
use rstar::primitives::GeomWithData;
use std::sync::Arc;

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` only checks that it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let store = common::store();
    let district = store
        .by_role(Role::District)
        .and_then(|l| l.extent())
        .expect("district");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
    let random_point = |rng: &mut rand_chacha::ChaCha8Rng| Coord {
        x: rng.random_range(district.min().x..district.max().x),
        y: rng.random_range(district.min().y..district.max().y),
    };
    let mut index = LiveIndex::new(Some(district));
    let plane = Planar::at_latitude((district.min().y + district.max().y) / 2.0);
    let mut tree: RTree<GeomWithData<[f64; 2], u32>> = RTree::new();
    let mut workers: Vec<(Arc<str>, Coord<f64>)> = Vec::new();
    for n in 0..10_000 {
        let p = random_point(&mut rng);
        let who: Arc<str> = format!("w{n}").into();
        workers.push((who.clone(), p));
        tree.insert(GeomWithData::new(plane.project(p), n as u32));
        index.upsert(Latest {
            who,
            time: 0,
            lon: p.x,
            lat: p.y,
            accuracy: None,
            speed: None,
            heading: None,
            inside: Vec::new(),
        });
    }
    let registry = Workers::default();
    let queries: Vec<Coord<f64>> = (0..4096).map(|_| random_point(&mut rng)).collect();

    let mut fences: Vec<Fence> = Vec::new();
    for n in 0..1000 {
        let c = random_point(&mut rng);
        let (w, h) = (
            rng.random_range(0.001..0.006),
            rng.random_range(0.001..0.006),
        );
        let shape = MultiPolygon(vec![polygon![
            (x: c.x, y: c.y), (x: c.x + w, y: c.y + h / 3.0), (x: c.x + w, y: c.y + h),
            (x: c.x + w / 3.0, y: c.y + h), (x: c.x, y: c.y)
        ]]);
        fences.push(Fence {
            id: format!("posted-{n}").into(),
            name: String::new(),
            kind: "area".into(),
            origin: Origin::Posted,
            bbox: shape.bounding_rect().expect("box"),
            shape,
        });
    }
    for role in [Role::Beat, Role::Town] {
        let layer = store.by_role(role).expect("layer");
        for i in 0..layer.len() {
            if let GeometryRef::Polygons(m) = layer.geometry(i) {
                fences.push(Fence {
                    id: format!("{}/{}", layer.def.id, layer.id(i)).into(),
                    name: String::new(),
                    kind: role.as_str().into(),
                    origin: Origin::Layer,
                    bbox: m.bounding_rect().expect("box"),
                    shape: m.clone(),
                });
            }
        }
    }
    let total_fences = fences.len();
    let set = FenceSet::new(fences.clone());
    // Walks: a fix 10 m on from the previous one, in a random direction.
    let walk: Vec<(Coord<f64>, Coord<f64>)> = (0..4096)
        .map(|_| {
            let a = random_point(&mut rng);
            let angle: f64 = rng.random_range(0.0..std::f64::consts::TAU);
            (
                a,
                Coord {
                    x: a.x + angle.cos() * 1.0e-4,
                    y: a.y + angle.sin() * 0.9e-4,
                },
            )
        })
        .collect();
    let states: Vec<Vec<Arc<str>>> = walk.iter().map(|(a, _)| set.containing(*a)).collect();

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("field");
    let mut q = 0usize;
    group.bench_function("nearest 5 of 10,000 live workers", |b| {
        b.iter(|| {
            q = (q + 1) % queries.len();
            black_box(
                index
                    .nearest(&registry, queries[q], &Wanted::default(), 5)
                    .len(),
            )
        })
    });
    let fresh = Wanted::default();
    group.bench_function("before: R-tree nearest_neighbor_iter, 5 of 10,000", |b| {
        b.iter(|| {
            q = (q + 1) % queries.len();
            let p = queries[q];
            let found: Vec<(usize, f64)> = tree
                .nearest_neighbor_iter(&plane.project(p))
                .map(|e| e.data as usize)
                // The old filter: the freshness test and a registry lookup per candidate.
                .filter(|&i| {
                    black_box(registry.get(&workers[i].0));
                    fresh.fresh_since.is_none_or(|t| t <= 0)
                })
                .take(5)
                .map(|i| (i, metres(p, workers[i].1)))
                .collect();
            black_box(found.len())
        })
    });
    group.bench_function("baseline: scan 10,000 and partial sort", |b| {
        b.iter(|| {
            q = (q + 1) % queries.len();
            let p = queries[q];
            let mut d: Vec<(f64, usize)> = workers
                .iter()
                .enumerate()
                .map(|(i, (_, w))| (metres(p, *w), i))
                .collect();
            d.select_nth_unstable_by(5, |a, b| a.0.total_cmp(&b.0));
            d.truncate(5);
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            black_box(d.len())
        })
    });
    let mut moved = 0usize;
    let mut positions: Vec<Coord<f64>> = workers.iter().map(|w| w.1).collect();
    group.bench_function("move a worker 10 m (grid)", |b| {
        b.iter(|| {
            moved = (moved + 1) % workers.len();
            let p = &mut positions[moved];
            p.x += if moved % 2 == 0 { 1.0e-4 } else { -1.0e-4 };
            index.upsert(Latest {
                who: workers[moved].0.clone(),
                time: 0,
                lon: p.x,
                lat: p.y,
                accuracy: None,
                speed: None,
                heading: None,
                inside: Vec::new(),
            });
        })
    });
    let mut tree_positions: Vec<Coord<f64>> = workers.iter().map(|w| w.1).collect();
    group.bench_function("before: move a worker 10 m (R-tree remove + insert)", |b| {
        b.iter(|| {
            moved = (moved + 1) % workers.len();
            let p = &mut tree_positions[moved];
            let old = GeomWithData::new(plane.project(*p), moved as u32);
            p.x += if moved % 2 == 0 { 1.0e-4 } else { -1.0e-4 };
            tree.remove(&old);
            tree.insert(GeomWithData::new(plane.project(*p), moved as u32));
        })
    });
    let name = format!("fence step, {total_fences} fences (1,000 posted + beats + towns)");
    group.bench_function(name.as_str(), |b| {
        b.iter(|| {
            q = (q + 1) % walk.len();
            let (a, p) = walk[q];
            black_box(set.step(Some(a), &states[q], p).0.len())
        })
    });
    group.bench_function("baseline: every fence, no index", |b| {
        b.iter(|| {
            q = (q + 1) % walk.len();
            let (_, p) = walk[q];
            black_box(
                fences
                    .iter()
                    .filter(|f| f.shape.coordinate_position(&p) == CoordPos::Inside)
                    .count(),
            )
        })
    });
    group.finish();
    c.final_summary();
}
