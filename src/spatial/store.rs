//! The layer store: every catalogue layer, loaded and indexed, behind one immutable value.
//!
//! A store is never changed after it is built; a reload builds a new one and swaps the `Arc`
//! (see [`SharedStore`]), so a request always sees one consistent set of layers.

use super::grid::Grid;
use super::layer::{Layer, LayerBuilder};
use crate::catalog::{Catalog, LayerDef, Role};
use crate::sources::{self, SourceError};
use arc_swap::ArcSwap;
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Every source that could not be read, so the operator fixes them all in one go.
    #[error("{} layer source(s) could not be loaded:\n  {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
    Sources(Vec<SourceError>),
}

#[derive(Debug)]
pub struct LayerStore {
    layers: Vec<Layer>,
    /// The unit grid's locator and parent tables, when the catalogue has a grid-cell layer.
    pub grid: Option<Grid>,
    pub catalog: Catalog,
    pub load_time: Duration,
    /// Distinguishes successive loads, so caches never serve a tile of a replaced store.
    pub generation: u64,
}

static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl LayerStore {
    /// Loads all layers of `catalog` from `data_dir`, in parallel (one layer per task).
    pub fn load(catalog: Catalog, data_dir: &Path) -> Result<LayerStore, StoreError> {
        let started = Instant::now();
        let results: Vec<Result<Layer, SourceError>> = catalog
            .layers
            .par_iter()
            .map(|def| Self::load_one(def, data_dir))
            .collect();
        let mut layers = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok(layer) => layers.push(layer),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::Sources(errors));
        }
        let grid = Grid::build(&layers);
        Ok(LayerStore {
            generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            grid,
            layers,
            catalog,
            load_time: started.elapsed(),
        })
    }

    /// Loads one layer on its own (the CLI checks a unit code without loading the district).
    pub fn load_one(def: &Arc<LayerDef>, data_dir: &Path) -> Result<Layer, SourceError> {
        let t = Instant::now();
        let source = sources::open(def, data_dir)?;
        let mut builder = LayerBuilder::new(def.clone(), source.file().to_path_buf());
        source.read(def, &mut |batch| builder.push_batch(batch))?;
        Ok(builder.finish(t.elapsed()))
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub fn layer(&self, id: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.def.id == id)
    }

    /// The layer playing `role` (the catalogue allows one per role).
    pub fn by_role(&self, role: Role) -> Option<&Layer> {
        self.layers.iter().find(|l| l.def.role == Some(role))
    }

    pub fn feature_count(&self) -> usize {
        self.layers.iter().map(Layer::len).sum()
    }
}

/// The store as the server holds it: readers take a cheap snapshot, a reload swaps in a new
/// store atomically.
#[derive(Debug, Clone)]
pub struct SharedStore(Arc<ArcSwap<LayerStore>>);

impl SharedStore {
    pub fn new(store: LayerStore) -> Self {
        SharedStore(Arc::new(ArcSwap::from_pointee(store)))
    }

    pub fn snapshot(&self) -> Arc<LayerStore> {
        self.0.load_full()
    }

    pub fn replace(&self, store: LayerStore) {
        self.0.store(Arc::new(store));
    }
}
