//! How long the demo dataset takes to generate and to load into the layer store.
//!
//! `cargo bench --bench load`. The dataset is generated once into `target/bench-data`; the
//! load benchmark then measures `LayerStore::load` (parse, validate, index all 27 layers).
//! Baseline for the load: parsing the same files with serde_json into `geojson` values only,
//! without validation or indexing, measured in the same run.

use criterion::{Criterion, criterion_group, criterion_main};
use gridlink::catalog::Catalog;
use gridlink::demo::{DEFAULT_SEED, GenOptions, generate};
use gridlink::spatial::LayerStore;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The allocator the `gridlink` binary uses, so the figures match the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn options(out: &Path) -> GenOptions {
    GenOptions {
        output: Default::default(),
        seed: DEFAULT_SEED,
        scale: 1.0,
        layers_dir: repo().join("layers"),
        tables_dir: repo().join("data"),
        out_dir: out.to_path_buf(),
    }
}

fn bench(c: &mut Criterion) {
    let out = repo().join("target/bench-data");
    generate(&options(&out)).expect("demo data generates");
    let catalog = Catalog::load(&repo().join("layers"), &repo().join("data")).expect("catalogue");

    let mut group = c.benchmark_group("demo");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("generate scale 1", |b| {
        let dir = tempfile::tempdir().expect("temp dir");
        b.iter(|| generate(&options(dir.path())).expect("generates"));
    });
    group.bench_function("load store scale 1", |b| {
        b.iter(|| LayerStore::load(catalog.clone(), &out).expect("loads"));
    });
    group.bench_function("baseline: geojson parse only", |b| {
        b.iter(|| {
            for layer in &catalog.layers {
                let ctx = gridlink::sources::SourceContext::new(&out, None).expect("manifest");
                let path = gridlink::sources::resolve_path(layer, &ctx).expect("resolves");
                let text = std::fs::read_to_string(path).expect("file");
                let parsed: geojson::GeoJson = text.parse().expect("geojson");
                std::hint::black_box(parsed);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
