//! The layer store: every catalogue layer, loaded and indexed, behind one immutable value.
//!
//! A store is never changed after it is built; a reload builds a new one and swaps the `Arc`
//! (see [`SharedStore`]), so a request always sees one consistent set of layers.

use super::crs::Crs;
use super::grid::Grid;
use super::layer::{Frame, Layer, LayerBuilder, Reading};
use crate::catalog::{Catalog, LayerDef, Role};
use crate::sources::{self, SourceContext, SourceError};
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
    /// Shared between successive stores: a live edit of one layer rebuilds that layer only.
    layers: Vec<Arc<Layer>>,
    /// The unit grid's locator and parent tables, when the catalogue has a grid-cell layer.
    pub grid: Option<Arc<Grid>>,
    pub catalog: Catalog,
    pub load_time: Duration,
    /// Distinguishes successive loads, so caches never serve a tile of a replaced store.
    pub generation: u64,
}

static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl LayerStore {
    /// Loads all layers of `catalog` from files in `data_dir` (no PostGIS layers).
    pub fn load(catalog: Catalog, data_dir: &Path) -> Result<LayerStore, StoreError> {
        let ctx = SourceContext::new(data_dir, None).map_err(|e| StoreError::Sources(vec![e]))?;
        Self::load_with(catalog, &ctx)
    }

    /// Loads all layers of `catalog`, in parallel (one layer per task). The district layer is
    /// read first: every other layer's features must land inside it after reprojection.
    pub fn load_with(catalog: Catalog, ctx: &SourceContext) -> Result<LayerStore, StoreError> {
        let started = Instant::now();
        let district = catalog
            .layers
            .iter()
            .position(|l| l.role == Some(Role::District));
        let first = district.map(|i| Self::load_one_in(&catalog.layers[i], ctx, None));
        let frame = match &first {
            Some(Ok(layer)) => Frame::around(layer),
            _ => None,
        };
        let rest: Vec<(usize, Result<Layer, SourceError>)> = catalog
            .layers
            .par_iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != district)
            .map(|(i, def)| (i, Self::load_one_in(def, ctx, frame.clone())))
            .collect();
        let mut results: Vec<(usize, Result<Layer, SourceError>)> =
            district.zip(first).into_iter().chain(rest).collect();
        results.sort_by_key(|(i, _)| *i);
        let mut layers = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for (_, result) in results {
            match result {
                Ok(layer) => layers.push(Arc::new(layer)),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::Sources(errors));
        }
        let grid = Grid::build(&layers).map(Arc::new);
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
        let ctx = SourceContext::new(data_dir, None)?;
        Self::load_one_in(def, &ctx, None)
    }

    /// Opens a layer's source, settles its CRS, and reads, reprojects and validates every
    /// feature (inside `frame`, when given).
    pub fn load_one_in(
        def: &Arc<LayerDef>,
        ctx: &SourceContext,
        frame: Option<Frame>,
    ) -> Result<Layer, SourceError> {
        let t = Instant::now();
        let mut source = sources::open(def, ctx)?;
        let reading = reading(def, source.as_ref(), frame)?;
        let mut builder = LayerBuilder::new(def.clone(), reading);
        source.read(def, &mut |batch| builder.push_batch(batch))?;
        builder.finish(t.elapsed())
    }

    pub fn layers(&self) -> &[Arc<Layer>] {
        &self.layers
    }

    pub fn layer(&self, id: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.def.id == id).map(|l| &**l)
    }

    /// The layer playing `role` (the catalogue allows one per role).
    pub fn by_role(&self, role: Role) -> Option<&Layer> {
        self.layers
            .iter()
            .find(|l| l.def.role == Some(role))
            .map(|l| &**l)
    }

    /// A new store with `layer` in place of the layer of the same id (a live edit): the other
    /// layers are shared, the grid is rebuilt only when a layer it is made of changed.
    pub fn with_layer(&self, layer: Layer) -> LayerStore {
        let role = layer.def.role;
        let layer = Arc::new(layer);
        let layers: Vec<Arc<Layer>> = self
            .layers
            .iter()
            .map(|l| {
                if l.def.id == layer.def.id {
                    layer.clone()
                } else {
                    l.clone()
                }
            })
            .collect();
        let grid_input = matches!(
            role,
            Some(Role::GridCell | Role::Village | Role::Beat | Role::Town)
        );
        let grid = if grid_input {
            Grid::build(&layers).map(Arc::new)
        } else {
            self.grid.clone()
        };
        LayerStore {
            generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            grid,
            layers,
            catalog: self.catalog.clone(),
            load_time: self.load_time,
        }
    }

    pub fn feature_count(&self) -> usize {
        self.layers.iter().map(|l| l.len()).sum()
    }
}

/// How a source is read: the CRS from `crs` in `[source]`, else the one the source declares;
/// none at all is refused (gridlink never takes unknown coordinates for WGS84).
pub fn reading(
    def: &LayerDef,
    source: &dyn sources::LayerSource,
    frame: Option<Frame>,
) -> Result<Reading, SourceError> {
    let location = source.location().clone();
    let malformed = |message: String| SourceError::Malformed {
        layer: def.id.clone(),
        location: location.clone(),
        message,
    };
    let declared = source.declared_crs();
    let crs = match (&def.source.crs, &declared) {
        (Some(text), _) => Crs::parse(text)
            .map_err(|e| malformed(format!("`crs` in [source] of layers/{}.toml: {e}", def.id)))?,
        (None, Some(text)) => Crs::parse(text).map_err(|e| {
            malformed(format!(
                "the source declares a CRS PROJ cannot use ({e}): set `crs` in [source]"
            ))
        })?,
        (None, None) => {
            return Err(malformed(format!(
                "declares no coordinate system (no .prj, SRS or SRID) and [source] in \
                 layers/{}.toml has no `crs`: gridlink does not guess — add e.g. \
                 crs = \"EPSG:4528\" (or gcj02, or the right one)",
                def.id
            )));
        }
    };
    let declared_label = declared.as_deref().map(|d| {
        Crs::parse(d).map_or_else(|_| d.chars().take(60).collect(), |c| c.label().to_string())
    });
    Ok(Reading {
        location,
        format: source.format(),
        declared_crs: declared_label,
        crs,
        frame,
    })
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

    /// Swaps in the layer `change` makes of the current one (a live edit), re-running it if a
    /// reload swapped the store meanwhile, so neither loses the other's work. `None` from
    /// `change` leaves the store as it is.
    pub fn update_layer(&self, id: &str, mut change: impl FnMut(&Layer) -> Option<Layer>) -> bool {
        loop {
            let current = self.0.load_full();
            let Some(layer) = current.layer(id) else {
                return false;
            };
            let Some(new) = change(layer) else {
                return false;
            };
            let next = Arc::new(current.with_layer(new));
            let previous = self.0.compare_and_swap(&current, next);
            if Arc::ptr_eq(&previous, &current) {
                return true;
            }
        }
    }
}
