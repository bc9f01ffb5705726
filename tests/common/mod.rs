//! Shared fixtures: the demo dataset, generated once per test binary, and its loaded store.
#![allow(dead_code)]

use gridlink::catalog::Catalog;
use gridlink::demo::{DEFAULT_SEED, GenOptions, generate};
use gridlink::spatial::LayerStore;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn layers_dir() -> PathBuf {
    repo().join("layers")
}

pub fn tables_dir() -> PathBuf {
    repo().join("data")
}

pub fn generate_into(dir: &Path, seed: u64, scale: f64, layers: &Path) {
    generate(&GenOptions {
        seed,
        scale,
        layers_dir: layers.to_path_buf(),
        tables_dir: tables_dir(),
        out_dir: dir.to_path_buf(),
    })
    .expect("demo data generates");
}

/// The default demo dataset (scale 1), generated on first use into a directory that lives as
/// long as the test process.
pub fn demo_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        generate_into(dir.path(), DEFAULT_SEED, 1.0, &layers_dir());
        dir
    })
    .path()
}

pub fn catalog() -> Catalog {
    Catalog::load(&layers_dir(), &tables_dir()).expect("the shipped catalogue loads")
}

pub fn demo_store() -> &'static LayerStore {
    static STORE: OnceLock<LayerStore> = OnceLock::new();
    STORE.get_or_init(|| LayerStore::load(catalog(), demo_dir()).expect("demo data loads"))
}

/// Copies the shipped catalogue into a temp dir so a test can edit it.
pub fn copy_layers() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(layers_dir()).expect("layers dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
    }
    dir
}
