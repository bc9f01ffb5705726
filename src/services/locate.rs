//! Locate: which unit grid cell (and so which village, beat and town) holds a point.
//!
//! ```no_run
//! # use gridlink::services::locate::locate;
//! # fn demo(store: &gridlink::spatial::LayerStore) {
//! let grid = store.grid.as_ref().unwrap();
//! let here = locate(grid, geo::coord! { x: 121.4602, y: 30.9191 }, 5.0).unwrap();
//! println!("cell {} ambiguous: {}", here.cell, here.is_ambiguous());
//! # }
//! ```

use crate::spatial::grid::{Grid, NONE};
use geo::Coord;

/// Default distance to a cell border under which a point is reported as ambiguous.
pub const DEFAULT_TOLERANCE_M: f64 = 5.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub point: Coord<f64>,
    /// Index into the grid-cell layer.
    pub cell: u32,
    pub village: Option<u32>,
    pub beat: Option<u32>,
    pub town: Option<u32>,
    /// Distance from the point to its cell's border, metres.
    pub edge_distance_m: f64,
    /// When the point is within the tolerance of another cell: every cell within it (its own
    /// first, at distance 0), with distances. Empty otherwise.
    pub candidates: Vec<(u32, f64)>,
}

impl Location {
    pub fn is_ambiguous(&self) -> bool {
        self.candidates.len() > 1
    }
}

fn some(i: u32) -> Option<u32> {
    (i != NONE).then_some(i)
}

/// Locates `p` (WGS84) exactly; `None` outside the grid.
pub fn locate(grid: &Grid, p: Coord<f64>, tolerance_m: f64) -> Option<Location> {
    let cell = grid.cells.locate(p)?;
    let edge_distance_m = grid.cells.distance_to_edge_m(cell, p);
    let candidates = if edge_distance_m < tolerance_m {
        let mut near = grid.cells.within(p, tolerance_m);
        // Our own cell first, then the others nearest first.
        near.sort_by(|a, b| {
            (a.0 != cell)
                .cmp(&(b.0 != cell))
                .then(a.1.total_cmp(&b.1))
                .then(a.0.cmp(&b.0))
        });
        if near.len() > 1 { near } else { Vec::new() }
    } else {
        Vec::new()
    };
    Some(Location {
        point: p,
        cell,
        village: some(grid.cell_village[cell as usize]),
        beat: some(grid.cell_beat[cell as usize]),
        town: some(grid.cell_town[cell as usize]),
        edge_distance_m,
        candidates,
    })
}
