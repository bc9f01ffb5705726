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
use smallvec::SmallVec;

/// Default distance to a cell border under which a point is reported as ambiguous.
pub const DEFAULT_TOLERANCE_M: f64 = crate::spatial::locator::CLEARANCE_M;

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub point: Coord<f64>,
    /// Index into the grid-cell layer.
    pub cell: u32,
    pub village: Option<u32>,
    pub beat: Option<u32>,
    pub town: Option<u32>,
    /// Distance from the point to its cell's border, metres; `None` when the point lies
    /// deep inside its cell (farther than the tolerance from every border) and was not
    /// measured — see [`Location::edge_distance_m`].
    pub edge_distance_m: Option<f64>,
    /// When the point is within the tolerance of another cell: every cell within it (its own
    /// first, at distance 0), with distances. Empty otherwise. Kept inline: a point rarely
    /// has more than three cells in reach, and batches locate millions.
    pub candidates: SmallVec<[(u32, f64); 4]>,
}

impl Location {
    pub fn is_ambiguous(&self) -> bool {
        self.candidates.len() > 1
    }

    /// Distance from the point to its cell's border, measuring it now if the fast path
    /// skipped it.
    pub fn edge_distance_m(&self, grid: &Grid) -> f64 {
        self.edge_distance_m
            .unwrap_or_else(|| grid.cells.distance_to_edge_m(self.cell, self.point))
    }
}

fn some(i: u32) -> Option<u32> {
    (i != NONE).then_some(i)
}

/// Locates many points, visiting them in an order that keeps memory access local, and hands
/// each answer to `sink` with the point's index. Answers arrive out of input order.
pub fn locate_many(
    grid: &Grid,
    points: &[Coord<f64>],
    tolerance_m: f64,
    mut sink: impl FnMut(usize, Option<Location>),
) {
    // Gather first, in a tight loop the CPU can overlap, then locate in order.
    let ordered: Vec<(u32, Coord<f64>)> = grid
        .cells
        .order(points)
        .into_iter()
        .map(|i| (i, points[i as usize]))
        .collect();
    for (i, p) in ordered {
        sink(i as usize, locate(grid, p, tolerance_m));
    }
}

/// Locates `p` (WGS84) exactly; `None` outside the grid.
pub fn locate(grid: &Grid, p: Coord<f64>, tolerance_m: f64) -> Option<Location> {
    let (cell, clear) = grid.cells.locate_clear(p)?;
    let edge_distance_m = (!clear || tolerance_m > DEFAULT_TOLERANCE_M)
        .then(|| grid.cells.distance_to_edge_m(cell, p));
    let candidates = if edge_distance_m.is_some_and(|d| d < tolerance_m) {
        // Our own cell first, then the others nearest first.
        let mut others = grid.cells.neighbours_within(cell, p, tolerance_m);
        if !others.is_empty() {
            others.insert(0, (cell, 0.0));
        }
        others
    } else {
        SmallVec::new()
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
