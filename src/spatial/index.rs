//! R-trees over a layer's features.

use geo::{Coord, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

pub type PointEntry = GeomWithData<[f64; 2], u32>;
pub type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Points are indexed as points (so nearest-neighbour queries are exact), lines and polygons
/// by their bounding boxes (candidates that the caller then tests exactly).
#[derive(Debug, Clone)]
pub enum SpatialIndex {
    Points(RTree<PointEntry>),
    Boxes(RTree<BoxEntry>),
}

impl SpatialIndex {
    pub fn points(coords: &[Coord<f64>]) -> Self {
        let entries = coords
            .iter()
            .enumerate()
            .map(|(i, c)| GeomWithData::new([c.x, c.y], i as u32))
            .collect();
        SpatialIndex::Points(RTree::bulk_load(entries))
    }

    pub fn boxes(rects: impl Iterator<Item = Rect<f64>>) -> Self {
        let entries = rects
            .enumerate()
            .map(|(i, r)| {
                GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i as u32,
                )
            })
            .collect();
        SpatialIndex::Boxes(RTree::bulk_load(entries))
    }

    /// Features whose point or bounding box intersects `rect`.
    pub fn intersecting(&self, rect: Rect<f64>) -> Vec<u32> {
        let envelope =
            AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y]);
        match self {
            SpatialIndex::Points(tree) => {
                tree.locate_in_envelope(&envelope).map(|e| e.data).collect()
            }
            SpatialIndex::Boxes(tree) => tree
                .locate_in_envelope_intersecting(&envelope)
                .map(|e| e.data)
                .collect(),
        }
    }

    /// Features whose bounding box contains the point (all candidates for point-in-polygon).
    pub fn at_point(&self, p: Coord<f64>) -> Vec<u32> {
        match self {
            SpatialIndex::Points(tree) => tree
                .locate_all_at_point(&[p.x, p.y])
                .map(|e| e.data)
                .collect(),
            SpatialIndex::Boxes(tree) => tree
                .locate_all_at_point(&[p.x, p.y])
                .map(|e| e.data)
                .collect(),
        }
    }
}
