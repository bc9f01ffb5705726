//! Exact point-in-polygon location over a polygon layer that tiles space (cells, villages,
//! towns), fast enough for millions of points a second on one core.
//!
//! A uniform bucket grid covers the layer. A bucket that no polygon edge touches lies wholly
//! inside one polygon ("pure") and answers without any geometry; a bucket that edges cross keeps
//! the few polygons whose edges cross it, and the point is tested against those only. geo's
//! `Contains` (or an R-tree descent per point) was measured at several times slower for the
//! ~7-vertex cells; see `benches/locate.rs`.
//!
//! The point-in-polygon test is the crossing-number rule evaluated *canonically*: every edge is
//! taken lower endpoint first (half-open in y) before the side test, so two cells sharing an
//! edge make the bit-identical decision about it. Hence a point on a shared border, even one a
//! rounding error away from it, lies in exactly one cell — deterministically — and a point of
//! the district is never in zero or two cells.
//!
//! Vertices are stored once, already projected into the isotropic plane of [`Planar`] (x
//! scaled by cos φ of the layer's mid-latitude): every polygon sees the same projected vertex,
//! so the decisions above stay consistent, and border distances need no trigonometry per
//! point (the fixed scale is off by at most 0.2 % across a district: millimetres at 5 m).

use super::distance::Planar;
use super::geometry::GeometryRef;
use super::layer::Layer;
use geo::Coord;
use rayon::prelude::*;
use smallvec::SmallVec;

const EMPTY: u32 = u32::MAX;
const PURE: u32 = 1 << 31;
/// Bucket rectangles are widened by this much (plane units, ~degrees) when deciding which
/// edges touch them, so an edge running exactly along a bucket border is never missed.
const EPSILON: f64 = 1e-9;
/// Buckets farther than this from every border are flagged, so that points in them skip the
/// border-distance measurement (it is the default ambiguity tolerance).
pub const CLEARANCE_M: f64 = 5.0;

#[derive(Debug, Clone)]
pub struct PolygonLocator {
    plane: Planar,
    x0: f64,
    y0: f64,
    dx: f64,
    dy: f64,
    nx: usize,
    ny: usize,
    /// Per bucket: `EMPTY`, `PURE | polygon`, or the start of its list in `lists`.
    slots: Vec<u32>,
    /// Candidate lists: a length, then that many polygon indexes.
    lists: Vec<u32>,
    /// Per bucket: no polygon border comes within [`CLEARANCE_M`] of it.
    clear: Vec<bool>,
    /// Ring vertices in the plane, each ring closed (first vertex repeated).
    coords: Vec<[f64; 2]>,
    /// Per ring: start and end (exclusive) in `coords`.
    rings: Vec<(u32, u32)>,
    /// Per polygon: start and end (exclusive) in `rings`.
    polygons: Vec<(u32, u32)>,
}

/// Does segment a–b touch the rectangle [x0, x1] × [y0, y1]? (Separating-axis test.)
fn segment_touches(a: [f64; 2], b: [f64; 2], x0: f64, y0: f64, x1: f64, y1: f64) -> bool {
    if a[0].max(b[0]) < x0 || a[0].min(b[0]) > x1 || a[1].max(b[1]) < y0 || a[1].min(b[1]) > y1 {
        return false;
    }
    let side = |x: f64, y: f64| (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
    let s = [side(x0, y0), side(x1, y0), side(x0, y1), side(x1, y1)];
    !(s.iter().all(|&v| v > 0.0) || s.iter().all(|&v| v < 0.0))
}

impl PolygonLocator {
    /// Builds the locator for a polygon layer with buckets of about `bucket_m` metres.
    /// Returns `None` for an empty or non-polygon layer.
    pub fn build(layer: &Layer, bucket_m: f64) -> Option<PolygonLocator> {
        let extent = layer.extent()?;
        let plane = Planar::at_latitude((extent.min().y + extent.max().y) / 2.0);
        let mut coords = Vec::new();
        let mut rings = Vec::new();
        let mut polygons = Vec::with_capacity(layer.len());
        for i in 0..layer.len() {
            let GeometryRef::Polygons(m) = layer.geometry(i) else {
                return None;
            };
            let first_ring = rings.len() as u32;
            for polygon in &m.0 {
                for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                    let start = coords.len() as u32;
                    coords.extend(ring.0.iter().map(|c| plane.project(*c)));
                    if ring.0.first() != ring.0.last() {
                        coords.push(plane.project(ring.0[0]));
                    }
                    rings.push((start, coords.len() as u32));
                }
            }
            polygons.push((first_ring, rings.len() as u32));
        }
        let (lo, hi) = (plane.project(extent.min()), plane.project(extent.max()));
        let (dx, dy) = (
            bucket_m / plane.metres_per_unit,
            bucket_m / plane.metres_per_unit,
        );
        let (x0, y0) = (lo[0] - dx, lo[1] - dy);
        let nx = (((hi[0] - lo[0]) / dx).ceil() as usize + 2).max(1);
        let ny = (((hi[1] - lo[1]) / dy).ceil() as usize + 2).max(1);
        let mut locator = PolygonLocator {
            plane,
            x0,
            y0,
            dx,
            dy,
            nx,
            ny,
            slots: vec![EMPTY; nx * ny],
            clear: Vec::new(),
            lists: Vec::new(),
            coords,
            rings,
            polygons,
        };
        locator.fill();
        Some(locator)
    }

    fn bucket_of(&self, x: f64, y: f64) -> (isize, isize) {
        (
            ((x - self.x0) / self.dx).floor() as isize,
            ((y - self.y0) / self.dy).floor() as isize,
        )
    }

    /// The buckets overlapping the box [lo, hi], clamped to the grid: (x0, y0, x1, y1) inclusive.
    fn bucket_range_plane(&self, lo: [f64; 2], hi: [f64; 2]) -> (usize, usize, usize, usize) {
        let clamp_x = |b: isize| b.clamp(0, self.nx as isize - 1) as usize;
        let clamp_y = |b: isize| b.clamp(0, self.ny as isize - 1) as usize;
        let (ax, ay) = self.bucket_of(lo[0], lo[1]);
        let (bx, by) = self.bucket_of(hi[0], hi[1]);
        (clamp_x(ax), clamp_y(ay), clamp_x(bx), clamp_y(by))
    }

    /// (bucket, polygon) for every bucket that an edge of the polygon comes within `margin`
    /// (plane units) of, gathered per polygon in parallel.
    fn buckets_near_edges(&self, margin: f64) -> Vec<(u32, u32)> {
        (0..self.polygons.len())
            .into_par_iter()
            .flat_map_iter(|p| {
                let mut found = Vec::new();
                let (r0, r1) = self.polygons[p];
                for r in r0..r1 {
                    let (s, e) = self.rings[r as usize];
                    for w in self.coords[s as usize..e as usize].windows(2) {
                        let (a, b) = (w[0], w[1]);
                        let (ax, ay, bx, by) = self.bucket_range_plane(
                            [a[0].min(b[0]) - margin, a[1].min(b[1]) - margin],
                            [a[0].max(b[0]) + margin, a[1].max(b[1]) + margin],
                        );
                        for j in ay..=by {
                            for i in ax..=bx {
                                let x = self.x0 + i as f64 * self.dx;
                                let y = self.y0 + j as f64 * self.dy;
                                if segment_touches(
                                    a,
                                    b,
                                    x - margin,
                                    y - margin,
                                    x + self.dx + margin,
                                    y + self.dy + margin,
                                ) {
                                    found.push(((j * self.nx + i) as u32, p as u32));
                                }
                            }
                        }
                    }
                }
                found
            })
            .collect()
    }

    /// Marks the buckets each edge touches, fills the untouched buckets inside each polygon,
    /// and flags the buckets no border comes within [`CLEARANCE_M`] of.
    fn fill(&mut self) {
        let mut pairs = self.buckets_near_edges(EPSILON);
        pairs.par_sort_unstable();
        pairs.dedup();
        let mut k = 0;
        while k < pairs.len() {
            let bucket = pairs[k].0;
            let start = k;
            while k < pairs.len() && pairs[k].0 == bucket {
                k += 1;
            }
            self.slots[bucket as usize] = self.lists.len() as u32;
            self.lists.push((k - start) as u32);
            self.lists.extend(pairs[start..k].iter().map(|&(_, p)| p));
        }
        // Untouched buckets take the polygon that contains their centre.
        let fills: Vec<(usize, u32)> = (0..self.polygons.len())
            .into_par_iter()
            .flat_map_iter(|p| {
                let mut found = Vec::new();
                let (r0, r1) = self.polygons[p];
                let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
                for r in r0..r1 {
                    let (s, e) = self.rings[r as usize];
                    for c in &self.coords[s as usize..e as usize] {
                        lo = [lo[0].min(c[0]), lo[1].min(c[1])];
                        hi = [hi[0].max(c[0]), hi[1].max(c[1])];
                    }
                }
                let (ax, ay, bx, by) = self.bucket_range_plane(lo, hi);
                for j in ay..=by {
                    for i in ax..=bx {
                        let b = j * self.nx + i;
                        if self.slots[b] != EMPTY {
                            continue;
                        }
                        let centre = [
                            self.x0 + (i as f64 + 0.5) * self.dx,
                            self.y0 + (j as f64 + 0.5) * self.dy,
                        ];
                        if self.contains_plane(p as u32, centre) {
                            found.push((b, p as u32));
                        }
                    }
                }
                found
            })
            .collect();
        for (b, p) in fills {
            self.slots[b] = PURE | p;
        }
        // Clearance: a margin slightly above CLEARANCE_M (the square test is conservative too).
        let margin = CLEARANCE_M / self.plane.metres_per_unit * 1.01 + EPSILON;
        let mut clear = vec![true; self.slots.len()];
        for (b, _) in self.buckets_near_edges(margin) {
            clear[b as usize] = false;
        }
        for (b, slot) in self.slots.iter().enumerate() {
            if *slot == EMPTY || *slot & PURE == 0 {
                clear[b] = false;
            }
        }
        self.clear = clear;
    }

    /// The canonical half-open crossing-number test (see the module comment), in the plane.
    #[inline]
    fn contains_plane(&self, polygon: u32, q: [f64; 2]) -> bool {
        let (r0, r1) = self.polygons[polygon as usize];
        let mut inside = false;
        for r in r0..r1 {
            let (s, e) = self.rings[r as usize];
            for w in self.coords[s as usize..e as usize].windows(2) {
                let (lo, hi) = if w[0][1] <= w[1][1] {
                    (w[0], w[1])
                } else {
                    (w[1], w[0])
                };
                if lo[1] <= q[1] && q[1] < hi[1] {
                    let cross = (hi[0] - lo[0]) * (q[1] - lo[1]) - (hi[1] - lo[1]) * (q[0] - lo[0]);
                    if cross > 0.0 {
                        inside = !inside;
                    }
                }
            }
        }
        inside
    }

    /// Is `p` (lon/lat) inside `polygon`, by the same rule [`Self::locate`] uses?
    pub fn contains(&self, polygon: u32, p: Coord<f64>) -> bool {
        self.contains_plane(polygon, self.plane.project(p))
    }

    #[inline]
    fn locate_plane(&self, q: [f64; 2]) -> Option<u32> {
        let bx = ((q[0] - self.x0) / self.dx).floor() as isize;
        let by = ((q[1] - self.y0) / self.dy).floor() as isize;
        if bx < 0 || by < 0 || bx as usize >= self.nx || by as usize >= self.ny {
            return None;
        }
        match self.slots[by as usize * self.nx + bx as usize] {
            EMPTY => None,
            slot if slot & PURE != 0 => Some(slot & !PURE),
            start => {
                let len = self.lists[start as usize] as usize;
                self.lists[start as usize + 1..start as usize + 1 + len]
                    .iter()
                    .copied()
                    .find(|&polygon| self.contains_plane(polygon, q))
            }
        }
    }

    /// The polygon containing `p` (lon/lat), if any.
    #[inline]
    pub fn locate(&self, p: Coord<f64>) -> Option<u32> {
        self.locate_plane(self.plane.project(p))
    }

    /// Like [`Self::locate`], also saying whether `p` is certainly farther than
    /// [`CLEARANCE_M`] from every border (`false` means "not known", not "near").
    #[inline]
    pub fn locate_clear(&self, p: Coord<f64>) -> Option<(u32, bool)> {
        let q = self.plane.project(p);
        let polygon = self.locate_plane(q)?;
        let bx = ((q[0] - self.x0) / self.dx).floor() as usize;
        let by = ((q[1] - self.y0) / self.dy).floor() as usize;
        Some((polygon, self.clear[by * self.nx + bx]))
    }

    /// Squared plane distance from `q` to the nearest edge of `polygon`.
    fn edge_distance2(&self, polygon: u32, q: [f64; 2]) -> f64 {
        let (r0, r1) = self.polygons[polygon as usize];
        let mut best = f64::MAX;
        for r in r0..r1 {
            let (s, e) = self.rings[r as usize];
            for w in self.coords[s as usize..e as usize].windows(2) {
                let (ax, ay) = (w[0][0] - q[0], w[0][1] - q[1]);
                let (dx, dy) = (w[1][0] - w[0][0], w[1][1] - w[0][1]);
                let len2 = dx * dx + dy * dy;
                let t = if len2 > 0.0 {
                    (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (x, y) = (ax + t * dx, ay + t * dy);
                best = best.min(x * x + y * y);
            }
        }
        best
    }

    /// Distance in metres from `p` to the nearest edge of `polygon`.
    pub fn distance_to_edge_m(&self, polygon: u32, p: Coord<f64>) -> f64 {
        self.edge_distance2(polygon, self.plane.project(p)).sqrt() * self.plane.metres_per_unit
    }

    /// Every polygon listed in a bucket that the square of half-side `r` (plane units) around
    /// `q` touches, each once, in index order.
    fn candidates_near(&self, q: [f64; 2], r: f64) -> SmallVec<[u32; 16]> {
        let (ax, ay, bx, by) = self.bucket_range_plane([q[0] - r, q[1] - r], [q[0] + r, q[1] + r]);
        let mut candidates: SmallVec<[u32; 16]> = SmallVec::new();
        for j in ay..=by {
            for i in ax..=bx {
                match self.slots[j * self.nx + i] {
                    EMPTY => {}
                    slot if slot & PURE != 0 => candidates.push(slot & !PURE),
                    start => {
                        let len = self.lists[start as usize] as usize;
                        candidates.extend_from_slice(
                            &self.lists[start as usize + 1..start as usize + 1 + len],
                        );
                    }
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
    }

    /// Every polygon within `tolerance_m` of `p` (containing it, or with an edge that close),
    /// with its distance (0 for the containing one), nearest first.
    pub fn within(&self, p: Coord<f64>, tolerance_m: f64) -> Vec<(u32, f64)> {
        let q = self.plane.project(p);
        let r = tolerance_m / self.plane.metres_per_unit;
        let candidates = self.candidates_near(q, r);
        let r2 = r * r;
        let mut found: Vec<(u32, f64)> = Vec::with_capacity(candidates.len().min(4));
        for c in candidates {
            if self.contains_plane(c, q) {
                found.push((c, 0.0));
            } else {
                let d2 = self.edge_distance2(c, q);
                if d2 <= r2 {
                    found.push((c, d2.sqrt() * self.plane.metres_per_unit));
                }
            }
        }
        found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        found
    }

    /// The polygons other than `own` (which contains `p`) with an edge within `tolerance_m`
    /// of `p`, with their distances in metres, nearest first. Cheaper than [`Self::within`]:
    /// no containment tests, since no other polygon can contain `p`.
    pub fn neighbours_within(
        &self,
        own: u32,
        p: Coord<f64>,
        tolerance_m: f64,
    ) -> SmallVec<[(u32, f64); 4]> {
        let q = self.plane.project(p);
        let r = tolerance_m / self.plane.metres_per_unit;
        let candidates = self.candidates_near(q, r);
        let r2 = r * r;
        let mut found: SmallVec<[(u32, f64); 4]> = candidates
            .into_iter()
            .filter(|&c| c != own)
            .filter_map(|c| {
                let d2 = self.edge_distance2(c, q);
                (d2 <= r2).then(|| (c, d2.sqrt() * self.plane.metres_per_unit))
            })
            .collect();
        found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        found
    }

    /// A visiting order for many points: grouped by coarse buckets along a Z-order curve (a
    /// counting sort, linear time), so consecutive look-ups touch neighbouring memory. Points
    /// outside the grid come first.
    pub fn order(&self, points: &[Coord<f64>]) -> Vec<u32> {
        const SHIFT: u32 = 2;
        let spread = |mut v: u64| {
            v &= 0xffff;
            v = (v | (v << 8)) & 0x00ff_00ff;
            v = (v | (v << 4)) & 0x0f0f_0f0f;
            v = (v | (v << 2)) & 0x3333_3333;
            (v | (v << 1)) & 0x5555_5555
        };
        let bits = (((self.nx.max(self.ny) >> SHIFT) + 1) as u64)
            .next_power_of_two()
            .trailing_zeros();
        let buckets = 1usize << (2 * bits);
        let key = |p: &Coord<f64>| -> usize {
            let q = self.plane.project(*p);
            let bx = ((q[0] - self.x0) / self.dx).floor();
            let by = ((q[1] - self.y0) / self.dy).floor();
            if !(bx >= 0.0 && by >= 0.0 && (bx as usize) < self.nx && (by as usize) < self.ny) {
                return 0;
            }
            (spread((bx as u64) >> SHIFT) | (spread((by as u64) >> SHIFT) << 1)) as usize + 1
        };
        let keys: Vec<usize> = points.iter().map(key).collect();
        let mut starts = vec![0u32; buckets + 2];
        for &k in &keys {
            starts[k + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut order = vec![0u32; points.len()];
        for (i, &k) in keys.iter().enumerate() {
            order[starts[k] as usize] = i as u32;
            starts[k] += 1;
        }
        order
    }

    /// Share of buckets answered without a point-in-polygon test (for benchmarks and tuning).
    pub fn pure_share(&self) -> f64 {
        let used = self.slots.iter().filter(|&&s| s != EMPTY).count();
        let pure = self
            .slots
            .iter()
            .filter(|&&s| s != EMPTY && s & PURE != 0)
            .count();
        pure as f64 / used.max(1) as f64
    }

    /// Memory held by the bucket grid and the geometry copy, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.clear.len()
            + self.slots.len() * 4
            + self.lists.len() * 4
            + self.coords.len() * 16
            + self.rings.len() * 8
            + self.polygons.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_rectangle_test() {
        assert!(segment_touches([0., 0.], [2., 2.], 0.5, 0.5, 1.0, 1.0));
        assert!(!segment_touches([0., 0.], [2., 0.1], 0.5, 0.5, 1.0, 1.0));
        assert!(segment_touches([0., 1.], [2., 1.], 0.5, 0.5, 1.0, 1.0));
    }
}
