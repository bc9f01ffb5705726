//! R-trees over a layer's features, in the isotropic plane of [`Planar`] so that
//! nearest-neighbour order in the tree is (within a known bound) true distance order.

use super::distance::{Planar, metres};
use super::geometry::GeometryRef;
use geo::{Coord, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

pub type PointEntry = GeomWithData<[f64; 2], u32>;
pub type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Points are indexed as points (so nearest-neighbour queries are exact), lines and polygons
/// by their bounding boxes (candidates that the caller then measures exactly).
#[derive(Debug, Clone)]
pub struct SpatialIndex {
    pub planar: Planar,
    tree: Tree,
}

#[derive(Debug, Clone)]
enum Tree {
    Points(RTree<PointEntry>),
    Boxes(RTree<BoxEntry>),
}

impl SpatialIndex {
    pub fn points(planar: Planar, coords: &[Coord<f64>]) -> Self {
        let entries = coords
            .iter()
            .enumerate()
            .map(|(i, c)| GeomWithData::new(planar.project(*c), i as u32))
            .collect();
        SpatialIndex {
            planar,
            tree: Tree::Points(RTree::bulk_load(entries)),
        }
    }

    pub fn boxes(planar: Planar, rects: impl Iterator<Item = Rect<f64>>) -> Self {
        let entries = rects
            .enumerate()
            .map(|(i, r)| {
                GeomWithData::new(
                    Rectangle::from_corners(planar.project(r.min()), planar.project(r.max())),
                    i as u32,
                )
            })
            .collect();
        SpatialIndex {
            planar,
            tree: Tree::Boxes(RTree::bulk_load(entries)),
        }
    }

    fn envelope(&self, rect: Rect<f64>) -> AABB<[f64; 2]> {
        AABB::from_corners(
            self.planar.project(rect.min()),
            self.planar.project(rect.max()),
        )
    }

    /// Features whose point or bounding box intersects `rect` (lon/lat).
    pub fn intersecting(&self, rect: Rect<f64>) -> Vec<u32> {
        let envelope = self.envelope(rect);
        match &self.tree {
            Tree::Points(tree) => tree.locate_in_envelope(&envelope).map(|e| e.data).collect(),
            Tree::Boxes(tree) => tree
                .locate_in_envelope_intersecting(&envelope)
                .map(|e| e.data)
                .collect(),
        }
    }

    /// Features whose bounding box contains the point (all candidates for point-in-polygon).
    pub fn at_point(&self, p: Coord<f64>) -> Vec<u32> {
        let q = self.planar.project(p);
        match &self.tree {
            Tree::Points(tree) => tree.locate_all_at_point(&q).map(|e| e.data).collect(),
            Tree::Boxes(tree) => tree.locate_all_at_point(&q).map(|e| e.data).collect(),
        }
    }

    /// Features in increasing order of their distance to `p`, as (feature, lower bound of the
    /// true distance in metres). For points the bound is the tree's planar distance shrunk by
    /// the plane's distortion; for boxes it is the distance to the box, likewise.
    pub fn by_distance(&self, p: Coord<f64>) -> Box<dyn Iterator<Item = (u32, f64)> + '_> {
        let q = self.planar.project(p);
        let planar = self.planar;
        match &self.tree {
            Tree::Points(tree) => Box::new(
                tree.nearest_neighbor_iter_with_distance_2(&q)
                    .map(move |(e, d2)| (e.data, planar.metres_at_least(d2.sqrt()))),
            ),
            Tree::Boxes(tree) => Box::new(
                tree.nearest_neighbor_iter_with_distance_2(&q)
                    .map(move |(e, d2)| (e.data, planar.metres_at_least(d2.sqrt()))),
            ),
        }
    }
}

/// True distance in metres from `p` to a geometry: 0 inside a polygon, else to the nearest
/// edge or vertex, measured in a local metric frame around `p`.
pub fn metres_to(p: Coord<f64>, geometry: GeometryRef<'_>) -> f64 {
    use geo::{Contains, Point};
    let (m_lat, m_lon) = super::distance::metres_per_degree(p.y);
    let segment = |a: Coord<f64>, b: Coord<f64>| {
        let a = [(a.x - p.x) * m_lon, (a.y - p.y) * m_lat];
        let b = [(b.x - p.x) * m_lon, (b.y - p.y) * m_lat];
        let d = [b[0] - a[0], b[1] - a[1]];
        let len2 = d[0] * d[0] + d[1] * d[1];
        let t = if len2 > 0.0 {
            (-(a[0] * d[0] + a[1] * d[1]) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        ((a[0] + t * d[0]).powi(2) + (a[1] + t * d[1]).powi(2)).sqrt()
    };
    let lines_min = |lines: &mut dyn Iterator<Item = &geo::LineString<f64>>| {
        lines
            .flat_map(|l| l.0.windows(2).map(|w| segment(w[0], w[1])))
            .fold(f64::MAX, f64::min)
    };
    match geometry {
        GeometryRef::Point(c) => metres(p, c),
        GeometryRef::Lines(m) => lines_min(&mut m.0.iter()),
        GeometryRef::Polygons(m) => {
            if m.contains(&Point(p)) {
                0.0
            } else {
                lines_min(
                    &mut m
                        .0
                        .iter()
                        .flat_map(|poly| std::iter::once(poly.exterior()).chain(poly.interiors())),
                )
            }
        }
    }
}
