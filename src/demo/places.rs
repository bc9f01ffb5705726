//! Where point features go: a cell drawn with a weight, then a uniform point inside it.

use super::admin::Admin;
use super::density::Frame;
use super::output::round7;
use super::rng::Rng;
use geo::{BoundingRect, Contains, Coord, Point};
use rand::Rng as _;
use rstar::RTree;
use rstar::primitives::GeomWithData;

/// Draws cells with probability proportional to a weight (cumulative sums + binary search).
pub struct CellSampler {
    cumulative: Vec<f64>,
}

impl CellSampler {
    pub fn new(weights: impl Iterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        CellSampler { cumulative }
    }

    pub fn draw(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
        self.cumulative
            .partition_point(|&c| c <= target)
            .min(self.cumulative.len() - 1)
    }
}

/// A uniform point inside cell `c`, rounded to 1e-7° and still inside the cell.
pub fn point_in_cell(admin: &Admin, c: usize, rng: &mut Rng) -> Coord<f64> {
    let cell = &admin.cells[c];
    let Some(bbox) = cell.polygon.bounding_rect() else {
        return cell.centroid;
    };
    for _ in 0..200 {
        let p = Coord {
            x: round7(rng.random_range(bbox.min().x..bbox.max().x)),
            y: round7(rng.random_range(bbox.min().y..bbox.max().y)),
        };
        if cell.polygon.contains(&Point(p)) {
            return p;
        }
    }
    cell.centroid
}

/// Finds cells near a point (by centroid), for exposure sums and "which cell is this" look-ups.
pub struct CellIndex {
    tree: RTree<GeomWithData<[f64; 2], usize>>,
}

impl CellIndex {
    pub fn new(admin: &Admin) -> Self {
        let entries = admin
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| GeomWithData::new([c.centroid.x, c.centroid.y], i))
            .collect();
        CellIndex {
            tree: RTree::bulk_load(entries),
        }
    }

    /// Cells whose centroid lies within `radius_m` of `p`.
    pub fn within(&self, frame: &Frame, p: Coord<f64>, radius_m: f64) -> Vec<usize> {
        let dx = radius_m / frame.m_per_deg_lon();
        let dy = radius_m / super::density::M_PER_DEG_LAT;
        let envelope = rstar::AABB::from_corners([p.x - dx, p.y - dy], [p.x + dx, p.y + dy]);
        let mut found: Vec<usize> = self
            .tree
            .locate_in_envelope(&envelope)
            .filter(|e| {
                frame.distance_m(
                    p,
                    Coord {
                        x: e.geom()[0],
                        y: e.geom()[1],
                    },
                ) <= radius_m
            })
            .map(|e| e.data)
            .collect();
        found.sort_unstable();
        found
    }

    /// The cell containing `p`, if any (checked exactly among the nearest centroids).
    pub fn containing(&self, admin: &Admin, p: Coord<f64>) -> Option<usize> {
        self.tree
            .nearest_neighbor_iter(&[p.x, p.y])
            .take(24)
            .map(|e| e.data)
            .find(|&c| admin.cells[c].polygon.contains(&Point(p)))
    }
}
