//! Fences (电子围栏): areas whose crossings are reported — the beats and towns of the layers,
//! and polygons posted by dispatchers (incident areas, leak zones, any area). Each fix is
//! checked against the fences near the straight line from the worker's previous fix, and an
//! event is raised exactly once per crossing:
//!
//! - **enter** — the fix is strictly inside a fence the worker was not inside;
//! - **exit** — the fix is strictly outside a fence the worker was inside;
//! - a fix **on the border** keeps the side the worker was on: a track that grazes a border,
//!   or runs along it, raises nothing;
//! - **cross** — neither fix is inside, but the straight line between them runs through the
//!   fence's interior (a vehicle jumping over a small fence between two fixes). It is *not*
//!   reported as enter + exit: nobody saw the worker inside (it may have driven round the
//!   area), and an enter without a position inside would put a worker in an incident area
//!   on a guess. It is stored and pushed like the others, so the dispatcher sees the pass.
//!
//! "Inside" is remembered per worker (the fences of its newest fix), so a repeat of the same
//! position never raises twice. A fence posted while a worker stands in it raises **enter** on
//! that worker's next fix (as Tile38's fences do: an event needs an update); a removed fence
//! raises nothing.

use crate::spatial::distance::metres_per_degree;
use geo::coordinate_position::CoordPos;
use geo::{Area, BoundingRect, Coord, MultiPolygon, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Where a fence comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A feature of a layer (beats, towns); its id is `{layer}/{feature id}`.
    Layer,
    /// Posted through the API or by another room ([`super::FieldService::add_fence`]).
    Posted,
}

#[derive(Debug, Clone)]
pub struct Fence {
    pub id: Arc<str>,
    pub name: String,
    /// `beat`, `town`, `incident`, `leak_zone`, `area`, … (free text for posted fences).
    pub kind: String,
    pub origin: Origin,
    pub shape: MultiPolygon<f64>,
    pub bbox: Rect<f64>,
}

/// What a fix did to a fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Crossing {
    Enter,
    Exit,
    Cross,
}

impl Crossing {
    pub fn as_str(self) -> &'static str {
        match self {
            Crossing::Enter => "enter",
            Crossing::Exit => "exit",
            Crossing::Cross => "cross",
        }
    }

    pub fn parse(s: &str) -> Option<Crossing> {
        match s {
            "enter" => Some(Crossing::Enter),
            "exit" => Some(Crossing::Exit),
            "cross" => Some(Crossing::Cross),
            _ => None,
        }
    }
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// What one fix did: its crossings (fence id, kind) and the fences the worker is in after it.
pub type Step = (Vec<(Arc<str>, Crossing)>, Vec<Arc<str>>);

/// A fence's edges sorted into horizontal bands, so a point test reads the few edges of its
/// band instead of every edge (a town has thousands): the crossing-number rule over the band's
/// edges, with a point on an edge reported as on the border.
#[derive(Debug, Clone)]
pub struct Prepared {
    bbox: Rect<f64>,
    y0: f64,
    dy: f64,
    bands: Vec<Vec<(Coord<f64>, Coord<f64>)>>,
}

impl Prepared {
    pub fn new(shape: &MultiPolygon<f64>) -> Prepared {
        let edges: Vec<(Coord<f64>, Coord<f64>)> = shape
            .0
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|ring| ring.lines().map(|l| (l.start, l.end)))
            .collect();
        let bbox = shape
            .bounding_rect()
            .unwrap_or_else(|| Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.0, y: 0.0 }));
        let n = (edges.len() / 4).clamp(1, 1024);
        let height = bbox.height();
        let dy = if height > 0.0 { height / n as f64 } else { 1.0 };
        let mut bands = vec![Vec::new(); n];
        for &(a, b) in &edges {
            let lo = ((a.y.min(b.y) - bbox.min().y) / dy).floor().max(0.0) as usize;
            let hi = (((a.y.max(b.y) - bbox.min().y) / dy).floor().max(0.0) as usize).min(n - 1);
            for band in &mut bands[lo.min(n - 1)..=hi] {
                band.push((a, b));
            }
        }
        Prepared {
            bbox,
            y0: bbox.min().y,
            dy,
            bands,
        }
    }

    /// Where `p` lies: inside, on the border or outside.
    pub fn position(&self, p: Coord<f64>) -> CoordPos {
        let (min, max) = (self.bbox.min(), self.bbox.max());
        if p.x < min.x || p.x > max.x || p.y < min.y || p.y > max.y {
            return CoordPos::Outside;
        }
        let band =
            (((p.y - self.y0) / self.dy).floor().max(0.0) as usize).min(self.bands.len() - 1);
        let mut inside = false;
        for &(a, b) in &self.bands[band] {
            // On the edge: collinear and within its box.
            let cross = (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x);
            if cross == 0.0
                && p.x >= a.x.min(b.x)
                && p.x <= a.x.max(b.x)
                && p.y >= a.y.min(b.y)
                && p.y <= a.y.max(b.y)
            {
                return CoordPos::OnBoundary;
            }
            if (a.y > p.y) != (b.y > p.y) {
                let x = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
                if p.x < x {
                    inside = !inside;
                }
            }
        }
        if inside {
            CoordPos::Inside
        } else {
            CoordPos::Outside
        }
    }
}

/// Every fence, indexed by bounding box. Immutable; a change builds a new set.
#[derive(Debug, Default)]
pub struct FenceSet {
    fences: Vec<Fence>,
    prepared: Vec<Prepared>,
    by_id: HashMap<Arc<str>, u32>,
    tree: RTree<Entry>,
}

fn rect_of(r: Rect<f64>) -> Rectangle<[f64; 2]> {
    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

impl FenceSet {
    pub fn new(fences: Vec<Fence>) -> FenceSet {
        let by_id = fences
            .iter()
            .enumerate()
            .map(|(i, f)| (f.id.clone(), i as u32))
            .collect();
        let tree = RTree::bulk_load(
            fences
                .iter()
                .enumerate()
                .map(|(i, f)| GeomWithData::new(rect_of(f.bbox), i as u32))
                .collect(),
        );
        let prepared = fences.iter().map(|f| Prepared::new(&f.shape)).collect();
        FenceSet {
            fences,
            prepared,
            by_id,
            tree,
        }
    }

    pub fn len(&self) -> usize {
        self.fences.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fences.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Fence> {
        self.fences.iter()
    }

    pub fn get(&self, id: &str) -> Option<&Fence> {
        self.by_id.get(id).map(|&i| &self.fences[i as usize])
    }

    /// The fences a point is strictly inside (a worker's state after a restart).
    pub fn containing(&self, p: Coord<f64>) -> Vec<Arc<str>> {
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([p.x, p.y]))
            .filter(|e| self.prepared[e.data as usize].position(p) == CoordPos::Inside)
            .map(|e| self.fences[e.data as usize].id.clone())
            .collect()
    }

    /// The crossings of a worker moving from `prev` (with `inside`, the fences it was in) to
    /// `p`, and the fences it is in afterwards. `prev` is `None` for a first fix.
    pub fn step(&self, prev: Option<Coord<f64>>, inside: &[Arc<str>], p: Coord<f64>) -> Step {
        let mut events = Vec::new();
        let mut now_inside: Vec<Arc<str>> = Vec::with_capacity(inside.len() + 1);
        let from = prev.unwrap_or(p);
        let was = |id: &str| inside.iter().any(|f| &**f == id);
        let mut seen: smallvec::SmallVec<[u32; 8]> = smallvec::SmallVec::new();
        for e in self
            .tree
            .locate_in_envelope_intersecting(&AABB::from_corners(
                [from.x.min(p.x), from.y.min(p.y)],
                [from.x.max(p.x), from.y.max(p.y)],
            ))
        {
            seen.push(e.data);
        }
        // Fences the worker was in but whose box no longer meets the move: certainly left.
        for id in inside {
            if let Some(&i) = self.by_id.get(id) {
                if !seen.contains(&i) {
                    seen.push(i);
                }
            }
        }
        seen.sort_unstable();
        for i in seen {
            let fence = &self.fences[i as usize];
            let prepared = &self.prepared[i as usize];
            let was_in = was(&fence.id);
            let stays_in = match prepared.position(p) {
                CoordPos::Inside => {
                    if !was_in {
                        events.push((fence.id.clone(), Crossing::Enter));
                    }
                    true
                }
                CoordPos::Outside => {
                    if was_in {
                        events.push((fence.id.clone(), Crossing::Exit));
                    }
                    false
                }
                CoordPos::OnBoundary => was_in,
            };
            if !was_in
                && !stays_in
                && prev.is_some()
                && through_interior(&fence.shape, prepared, from, p)
            {
                events.push((fence.id.clone(), Crossing::Cross));
            }
            if stays_in {
                now_inside.push(fence.id.clone());
            }
        }
        (events, now_inside)
    }
}

/// Whether the straight segment `a`–`b` runs through the interior of `shape` (not only along
/// or across its border at single points): the segment is cut at every edge it meets, and the
/// middle of each piece is tested.
pub fn through_interior(
    shape: &MultiPolygon<f64>,
    prepared: &Prepared,
    a: Coord<f64>,
    b: Coord<f64>,
) -> bool {
    if a == b {
        return false;
    }
    let d = b - a;
    let mut cuts: Vec<f64> = vec![0.0, 1.0];
    for polygon in &shape.0 {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for edge in ring.lines() {
                let e = edge.end - edge.start;
                let denom = d.x * e.y - d.y * e.x;
                let w = edge.start - a;
                if denom == 0.0 {
                    // Parallel: where the edge's ends project onto the segment.
                    for q in [edge.start, edge.end] {
                        let t = ((q - a).x * d.x + (q - a).y * d.y) / (d.x * d.x + d.y * d.y);
                        if (0.0..=1.0).contains(&t) {
                            cuts.push(t);
                        }
                    }
                    continue;
                }
                let t = (w.x * e.y - w.y * e.x) / denom;
                let u = (w.x * d.y - w.y * d.x) / denom;
                if (0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u) {
                    cuts.push(t);
                }
            }
        }
    }
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    cuts.windows(2).any(|w| {
        let t = (w[0] + w[1]) / 2.0;
        let m = Coord {
            x: a.x + d.x * t,
            y: a.y + d.y * t,
        };
        prepared.position(m) == CoordPos::Inside
    })
}

/// A fence's area in m² (planar at its latitude: fences are at most district-sized).
pub fn area_m2(shape: &MultiPolygon<f64>) -> f64 {
    let Some(r) = shape.bounding_rect() else {
        return 0.0;
    };
    let (per_lat, per_lon) = metres_per_degree((r.min().y + r.max().y) / 2.0);
    shape.unsigned_area() * per_lat * per_lon
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square(id: &str, x0: f64, y0: f64, side: f64) -> Fence {
        let p = polygon![(x: x0, y: y0), (x: x0 + side, y: y0), (x: x0 + side, y: y0 + side), (x: x0, y: y0 + side), (x: x0, y: y0)];
        let shape = MultiPolygon(vec![p]);
        Fence {
            id: id.into(),
            name: id.into(),
            kind: "area".into(),
            origin: Origin::Posted,
            bbox: shape.bounding_rect().unwrap(),
            shape,
        }
    }

    fn c(x: f64, y: f64) -> Coord<f64> {
        Coord { x, y }
    }

    #[test]
    fn a_segment_along_or_touching_a_border_does_not_run_through() {
        let f = square("a", 0.0, 0.0, 1.0);
        let p = Prepared::new(&f.shape);
        assert!(
            !through_interior(&f.shape, &p, c(-1.0, 0.0), c(2.0, 0.0)),
            "along the bottom edge"
        );
        assert!(
            !through_interior(&f.shape, &p, c(-1.0, 1.0), c(1.0, -1.0)),
            "touching a corner"
        );
        assert!(
            through_interior(&f.shape, &p, c(-1.0, 0.5), c(2.0, 0.5)),
            "straight across"
        );
    }

    #[test]
    fn enter_exit_and_cross_once_each() {
        let set = FenceSet::new(vec![square("a", 0.0, 0.0, 1.0)]);
        let (e, inside) = set.step(Some(c(-1.0, 0.5)), &[], c(0.5, 0.5));
        assert_eq!(e, vec![("a".into(), Crossing::Enter)]);
        let (e, inside) = set.step(Some(c(0.5, 0.5)), &inside, c(0.6, 0.5));
        assert!(e.is_empty());
        let (e, inside) = set.step(Some(c(0.6, 0.5)), &inside, c(1.0, 0.5));
        assert!(e.is_empty(), "on the border keeps the side");
        assert_eq!(inside.len(), 1);
        let (e, inside) = set.step(Some(c(1.0, 0.5)), &inside, c(2.0, 0.5));
        assert_eq!(e, vec![("a".into(), Crossing::Exit)]);
        let (e, _) = set.step(Some(c(2.0, 0.5)), &inside, c(-1.0, 0.5));
        assert_eq!(e, vec![("a".into(), Crossing::Cross)]);
    }
}

#[cfg(test)]
mod prepared_tests {
    use super::*;
    use geo::coordinate_position::CoordinatePosition;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_banded_test_agrees_with_geo_on_a_ring_with_a_hole() {
        let outer: Vec<(f64, f64)> = (0..200)
            .map(|i| {
                let a = i as f64 / 200.0 * std::f64::consts::TAU;
                let r = 1.0 + 0.3 * (5.0 * a).sin();
                (r * a.cos(), r * a.sin())
            })
            .collect();
        let hole: Vec<(f64, f64)> = (0..40)
            .map(|i| {
                let a = -(i as f64) / 40.0 * std::f64::consts::TAU;
                (0.3 * a.cos(), 0.3 * a.sin())
            })
            .collect();
        let shape = MultiPolygon(vec![geo::Polygon::new(outer.into(), vec![hole.into()])]);
        let prepared = Prepared::new(&shape);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..20_000 {
            let p = Coord {
                x: rng.random_range(-1.5..1.5),
                y: rng.random_range(-1.5..1.5),
            };
            assert_eq!(prepared.position(p), shape.coordinate_position(&p), "{p:?}");
        }
        // Vertices and points on edges are on the border.
        let v = shape.0[0].exterior().0[17];
        assert_eq!(prepared.position(v), CoordPos::OnBoundary);
    }
}
