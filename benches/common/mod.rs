//! Shared by the benchmarks: the demo dataset (generated once into `target/bench-data`, or
//! `GRIDLINK_BENCH_DATA`) and its loaded store.
#![allow(dead_code)]

use gridlink::catalog::Catalog;
use gridlink::demo::{DEFAULT_SEED, GenOptions, generate, is_complete};
use gridlink::spatial::LayerStore;
use std::path::PathBuf;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn data_dir() -> PathBuf {
    std::env::var_os("GRIDLINK_BENCH_DATA")
        .map_or_else(|| repo().join("target/bench-data"), PathBuf::from)
}

/// The demo store at scale 1, generating the dataset first if it is missing.
pub fn store() -> LayerStore {
    let data = data_dir();
    let catalog = Catalog::load(&repo().join("layers"), &repo().join("data")).expect("catalogue");
    if !is_complete(&catalog, &data) {
        generate(&GenOptions {
            output: Default::default(),
            seed: DEFAULT_SEED,
            scale: 1.0,
            layers_dir: repo().join("layers"),
            tables_dir: repo().join("data"),
            out_dir: data.clone(),
        })
        .expect("demo data");
    }
    LayerStore::load(catalog, &data).expect("store")
}
