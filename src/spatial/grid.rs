//! The unit grid as the services use it: an exact locator over the cells and each cell's
//! village, beat and town, worked out once when the store loads.

use super::geometry::GeometryRef;
use super::layer::Layer;
use super::locator::PolygonLocator;
use crate::catalog::Role;
use geo::{Coord, InteriorPoint};
use rayon::prelude::*;
use std::sync::Arc;

/// Bucket size of the cell locator: a quarter of a built-up cell's side, so most buckets lie
/// inside one cell (measured in `benches/locate.rs`).
pub const CELL_BUCKET_M: f64 = 25.0;
/// Bucket size for the coarse layers used only to find parents at load time.
const PARENT_BUCKET_M: f64 = 250.0;

pub const NONE: u32 = u32::MAX;

#[derive(Debug)]
pub struct Grid {
    pub cells: PolygonLocator,
    /// Per cell: index into the village layer (`NONE` when it lies in none).
    pub cell_village: Vec<u32>,
    pub cell_beat: Vec<u32>,
    pub cell_town: Vec<u32>,
    parents: Vec<ParentLocator>,
}

/// The locator of a parent layer (villages, beats, towns), kept with the layer it was built
/// from so that a live edit of the cells reuses it instead of building it again.
#[derive(Debug, Clone)]
struct ParentLocator {
    layer: Arc<Layer>,
    locator: Option<Arc<PolygonLocator>>,
}

/// For each probe point, the feature of the parent containing it.
fn parents(probes: &[Option<Coord<f64>>], parent: Option<&ParentLocator>) -> Vec<u32> {
    let Some(locator) = parent.and_then(|p| p.locator.as_deref()) else {
        return vec![NONE; probes.len()];
    };
    probes
        .par_iter()
        .map(|p| p.and_then(|p| locator.locate(p)).unwrap_or(NONE))
        .collect()
}

impl Grid {
    /// Builds the grid from the layers playing the grid-cell, village, beat and town roles;
    /// `None` when there is no (polygon) grid-cell layer.
    pub fn build(layers: &[Arc<Layer>]) -> Option<Grid> {
        Self::build_reusing(layers, None)
    }

    /// As [`Grid::build`], reusing `previous`'s parent locators whose layers did not change (a
    /// live edit of the cells rebuilds the cell locator only).
    pub fn build_reusing(layers: &[Arc<Layer>], previous: Option<&Grid>) -> Option<Grid> {
        let by_role = |role: Role| layers.iter().find(|l| l.def.role == Some(role));
        let cells_layer = by_role(Role::GridCell)?;
        let parent = |role: Role| -> Option<ParentLocator> {
            let layer = by_role(role)?;
            let reused = previous
                .and_then(|g| g.parents.iter().find(|p| Arc::ptr_eq(&p.layer, layer)))
                .cloned();
            Some(reused.unwrap_or_else(|| ParentLocator {
                layer: layer.clone(),
                locator: PolygonLocator::build(layer, PARENT_BUCKET_M).map(Arc::new),
            }))
        };
        let (village, beat, town) = (
            parent(Role::Village),
            parent(Role::Beat),
            parent(Role::Town),
        );
        let cells = PolygonLocator::build(cells_layer, CELL_BUCKET_M)?;
        let probes: Vec<Option<Coord<f64>>> = (0..cells_layer.len())
            .into_par_iter()
            .map(|i| match cells_layer.geometry(i) {
                GeometryRef::Polygons(m) => m.interior_point().map(|p| p.0),
                _ => None,
            })
            .collect();
        let cell_village = parents(&probes, village.as_ref());
        let cell_beat = parents(&probes, beat.as_ref());
        let cell_town = parents(&probes, town.as_ref());
        Some(Grid {
            cells,
            cell_village,
            cell_beat,
            cell_town,
            parents: [village, beat, town].into_iter().flatten().collect(),
        })
    }
}
