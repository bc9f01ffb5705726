//! An exact planar subdivision of the district into unit grid cells.
//!
//! Cells are the Voronoi regions of jittered seed points (spade's Delaunay triangulation gives
//! each Voronoi vertex once, as a triangle's circumcentre), clipped to the district outline.
//! Every vertex lives once in a shared table and cells refer to vertices by id, so neighbouring
//! cells share their border *bit for bit*: there are no slivers, gaps or overlaps to tolerate,
//! and any union of cells (a village, a town) is found exactly by cancelling shared edges.
//!
//! Clipping keeps that exactness: where a Voronoi edge crosses an outline segment the crossing
//! is computed once, cached under the (edge, segment) pair, and reused by both cells; all side
//! tests use robust orientation predicates evaluated in one canonical direction per edge, with
//! ties broken the same way everywhere.

use super::rings::{Vid, signed_area, trace_rings};
use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use spade::{DelaunayTriangulation, Point2, Triangulation};
use std::collections::HashMap;

/// One cell: its seed and its outer rings (counter-clockwise; several where the outline cuts
/// the Voronoi region into pieces). Cells have no holes: a convex region meets a simply
/// connected outline in simply connected pieces.
#[derive(Debug, Clone)]
pub struct Cell {
    pub seed: Coord<f64>,
    pub rings: Vec<Vec<Vid>>,
}

#[derive(Debug, Clone)]
pub struct Subdivision {
    pub coords: Vec<Coord<f64>>,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Copy)]
struct Crossing {
    seg: u32,
    /// Position along the edge in its canonical direction (lower vertex id first).
    t: f64,
    /// Position along the outline segment.
    u: f64,
    vid: Vid,
}

/// True when `r` is left of (or on) the directed line p→q. Ties count as left everywhere, which
/// amounts to one consistent symbolic perturbation of the input.
fn left_or_on(p: Coord<f64>, q: Coord<f64>, r: Coord<f64>) -> bool {
    !matches!(RobustKernel::orient2d(p, q, r), Orientation::Clockwise)
}

fn cross(p: Coord<f64>, q: Coord<f64>, r: Coord<f64>) -> f64 {
    (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x)
}

struct Builder<'a> {
    coords: Vec<Coord<f64>>,
    outline: &'a Polygon<f64>,
    /// Vertex ids of the outline ring (counter-clockwise, not closed).
    outline_vids: Vec<Vid>,
    segments: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    crossings: HashMap<(Vid, Vid), Vec<Crossing>>,
    inside: HashMap<Vid, bool>,
}

impl Builder<'_> {
    fn segment(&self, j: u32) -> (Coord<f64>, Coord<f64>) {
        let n = self.outline_vids.len();
        let a = self.outline_vids[j as usize];
        let b = self.outline_vids[(j as usize + 1) % n];
        (self.coords[a as usize], self.coords[b as usize])
    }

    fn segment_vids(&self, j: u32) -> (Vid, Vid) {
        let n = self.outline_vids.len();
        (
            self.outline_vids[j as usize],
            self.outline_vids[(j as usize + 1) % n],
        )
    }

    fn inside_outline(&mut self, v: Vid) -> Result<bool, String> {
        if let Some(&known) = self.inside.get(&v) {
            return Ok(known);
        }
        let position = self.outline.coordinate_position(&self.coords[v as usize]);
        let inside = match position {
            CoordPos::Inside => true,
            CoordPos::Outside => false,
            CoordPos::OnBoundary => {
                return Err(format!(
                    "Voronoi vertex {:?} lies exactly on the outline; choose another seed",
                    self.coords[v as usize]
                ));
            }
        };
        self.inside.insert(v, inside);
        Ok(inside)
    }

    /// Crossings of the undirected edge {a, b} with the outline, sorted along a→b in canonical
    /// direction (a < b). Computed once per edge so both cells see identical vertices.
    fn edge_crossings(&mut self, a: Vid, b: Vid) -> Vec<Crossing> {
        let key = (a.min(b), a.max(b));
        if let Some(found) = self.crossings.get(&key) {
            return found.clone();
        }
        let (p, q) = (self.coords[key.0 as usize], self.coords[key.1 as usize]);
        let envelope =
            AABB::from_corners([p.x.min(q.x), p.y.min(q.y)], [p.x.max(q.x), p.y.max(q.y)]);
        let mut found = Vec::new();
        let mut candidates: Vec<u32> = self
            .segments
            .locate_in_envelope_intersecting(&envelope)
            .map(|s| s.data)
            .collect();
        candidates.sort_unstable();
        for j in candidates {
            let (s0, s1) = self.segment(j);
            if left_or_on(p, q, s0) == left_or_on(p, q, s1) {
                continue;
            }
            if left_or_on(s0, s1, p) == left_or_on(s0, s1, q) {
                continue;
            }
            let dp = cross(s0, s1, p);
            let dq = cross(s0, s1, q);
            let t = (dp / (dp - dq)).clamp(0.0, 1.0);
            let ds0 = cross(p, q, s0);
            let ds1 = cross(p, q, s1);
            let u = (ds0 / (ds0 - ds1)).clamp(0.0, 1.0);
            let point = Coord {
                x: p.x + t * (q.x - p.x),
                y: p.y + t * (q.y - p.y),
            };
            let vid = self.coords.len() as Vid;
            self.coords.push(point);
            found.push(Crossing { seg: j, t, u, vid });
        }
        found.sort_by(|x, y| x.t.total_cmp(&y.t).then(x.seg.cmp(&y.seg)));
        self.crossings.insert(key, found.clone());
        found
    }

    /// Is outline vertex `v` inside the convex cell `ring`? Uses the same canonical side test
    /// as the crossing detection so the two never disagree.
    fn inside_cell(&self, ring: &[Vid], point: Coord<f64>) -> bool {
        (0..ring.len()).all(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            let (lo, hi) = (a.min(b), a.max(b));
            let left_of_canonical =
                left_or_on(self.coords[lo as usize], self.coords[hi as usize], point);
            if a < b {
                left_of_canonical
            } else {
                !left_of_canonical
            }
        })
    }

    /// Clips a convex Voronoi cell to the outline. Returns its rings (possibly none).
    fn clip(&mut self, ring: &[Vid], segs: &[u32]) -> Result<Vec<Vec<Vid>>, String> {
        let mut edges: Vec<(Vid, Vid)> = Vec::new();
        let mut on_edge: Vec<(u32, f64, Vid)> = Vec::new();
        // Pieces of the cell's edges that lie inside the outline.
        for i in 0..ring.len() {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            let mut crossings = self.edge_crossings(a, b);
            if a > b {
                crossings.reverse();
            }
            let mut inside = self.inside_outline(a)?;
            let mut at = a;
            for c in &crossings {
                if inside {
                    edges.push((at, c.vid));
                }
                inside = !inside;
                at = c.vid;
                on_edge.push((c.seg, c.u, c.vid));
            }
            if inside {
                edges.push((at, b));
            }
            if inside != self.inside_outline(b)? {
                return Err(format!("inconsistent crossings on Voronoi edge {a}-{b}"));
            }
        }
        // Pieces of the outline's segments that lie inside the cell.
        for &j in segs {
            let (s0, s1) = self.segment(j);
            let (v0, v1) = self.segment_vids(j);
            let mut along: Vec<(f64, Vid)> = on_edge
                .iter()
                .filter(|(seg, _, _)| *seg == j)
                .map(|&(_, u, vid)| (u, vid))
                .collect();
            along.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            let mut inside = self.inside_cell(ring, s0);
            let mut at = v0;
            for &(_, vid) in &along {
                if inside {
                    edges.push((at, vid));
                }
                inside = !inside;
                at = vid;
            }
            if inside {
                edges.push((at, v1));
            }
            if inside != self.inside_cell(ring, s1) {
                return Err(format!("inconsistent crossings on outline segment {j}"));
            }
        }
        let rings = trace_rings(&edges, &self.coords)?;
        Ok(rings
            .into_iter()
            .filter(|r| r.len() >= 3 && signed_area(r, &self.coords) > 0.0)
            .collect())
    }
}

/// Builds the subdivision of `outline` (one counter-clockwise ring, no holes) by the Voronoi
/// regions of `seeds`. `x_scale` (cos latitude) makes distances isotropic in metres.
pub fn build(
    seeds: &[Coord<f64>],
    outline: &Polygon<f64>,
    x_scale: f64,
) -> Result<Subdivision, String> {
    let (min, max) = seeds.iter().fold(
        (
            Coord {
                x: f64::MAX,
                y: f64::MAX,
            },
            Coord {
                x: f64::MIN,
                y: f64::MIN,
            },
        ),
        |(lo, hi), c| {
            (
                Coord {
                    x: lo.x.min(c.x),
                    y: lo.y.min(c.y),
                },
                Coord {
                    x: hi.x.max(c.x),
                    y: hi.y.max(c.y),
                },
            )
        },
    );
    // A frame of far-away points keeps every real seed's region bounded.
    let margin = 0.1;
    let step = 0.02;
    let mut points: Vec<Point2<f64>> = seeds
        .iter()
        .map(|c| Point2::new(c.x * x_scale, c.y))
        .collect();
    let (x0, x1, y0, y1) = (
        min.x - margin,
        max.x + margin,
        min.y - margin,
        max.y + margin,
    );
    let nx = ((x1 - x0) / step).ceil() as usize;
    let ny = ((y1 - y0) / step).ceil() as usize;
    for i in 0..=nx {
        let x = x0 + (x1 - x0) * i as f64 / nx as f64;
        points.push(Point2::new(x * x_scale, y0));
        points.push(Point2::new(x * x_scale, y1));
    }
    for i in 1..ny {
        let y = y0 + (y1 - y0) * i as f64 / ny as f64;
        points.push(Point2::new(x0 * x_scale, y));
        points.push(Point2::new(x1 * x_scale, y));
    }
    let triangulation: DelaunayTriangulation<Point2<f64>> =
        DelaunayTriangulation::bulk_load_stable(points)
            .map_err(|e| format!("triangulation failed: {e:?}"))?;
    if triangulation.num_vertices() < seeds.len() {
        return Err("duplicate seed points".into());
    }

    let mut coords: Vec<Coord<f64>> = Vec::new();
    let mut face_vid: HashMap<usize, Vid> = HashMap::new();
    let mut by_position: HashMap<(u64, u64), Vid> = HashMap::new();
    let mut voronoi_rings: Vec<Vec<Vid>> = Vec::with_capacity(seeds.len());
    for vertex in triangulation.vertices().take(seeds.len()) {
        let mut ring: Vec<Vid> = Vec::new();
        for edge in vertex.out_edges() {
            let face = edge
                .face()
                .as_inner()
                .ok_or_else(|| "unbounded Voronoi region for a seed".to_string())?;
            let index = face.fix().index();
            let vid = match face_vid.get(&index) {
                Some(&vid) => vid,
                None => {
                    let c = face.circumcenter();
                    let coord = Coord {
                        x: c.x / x_scale,
                        y: c.y,
                    };
                    // Co-circular seeds give two triangles the same circumcentre: one vertex.
                    let key = (coord.x.to_bits(), coord.y.to_bits());
                    let vid = *by_position.entry(key).or_insert_with(|| {
                        coords.push(coord);
                        (coords.len() - 1) as Vid
                    });
                    face_vid.insert(index, vid);
                    vid
                }
            };
            if ring.last() != Some(&vid) && ring.first() != Some(&vid) {
                ring.push(vid);
            }
        }
        if signed_area(&ring, &coords) < 0.0 {
            ring.reverse();
        }
        voronoi_rings.push(ring);
    }

    let mut outline_vids = Vec::new();
    let exterior = &outline.exterior().0;
    for c in &exterior[..exterior.len() - 1] {
        coords.push(*c);
        outline_vids.push((coords.len() - 1) as Vid);
    }
    let n = outline_vids.len();
    let segments = RTree::bulk_load(
        (0..n)
            .map(|j| {
                let a = coords[outline_vids[j] as usize];
                let b = coords[outline_vids[(j + 1) % n] as usize];
                GeomWithData::new(Rectangle::from_corners([a.x, a.y], [b.x, b.y]), j as u32)
            })
            .collect(),
    );
    let mut builder = Builder {
        coords,
        outline,
        outline_vids,
        segments,
        crossings: HashMap::new(),
        inside: HashMap::new(),
    };

    let mut cells = Vec::new();
    for (seed, ring) in seeds.iter().zip(voronoi_rings) {
        let (lo, hi) = ring
            .iter()
            .fold(([f64::MAX; 2], [f64::MIN; 2]), |(lo, hi), &v| {
                let c = builder.coords[v as usize];
                (
                    [lo[0].min(c.x), lo[1].min(c.y)],
                    [hi[0].max(c.x), hi[1].max(c.y)],
                )
            });
        let mut segs: Vec<u32> = builder
            .segments
            .locate_in_envelope_intersecting(&AABB::from_corners(lo, hi))
            .map(|s| s.data)
            .collect();
        segs.sort_unstable();
        let rings = if segs.is_empty() {
            if builder.inside_outline(ring[0])? {
                vec![ring]
            } else {
                vec![]
            }
        } else {
            builder.clip(&ring, &segs)?
        };
        if !rings.is_empty() {
            cells.push(Cell { seed: *seed, rings });
        }
    }
    Ok(Subdivision {
        coords: builder.coords,
        cells,
    })
}
