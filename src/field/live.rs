//! The live index: every worker's newest fix in memory, in a uniform grid over the district,
//! so "who is nearest" and "who is inside" are answered without the database (Tile38's NEARBY
//! and WITHIN). The intake changes it only after the fixes are committed.
//!
//! A grid rather than an R-tree: the points move all the time (a move is two pushes and a
//! swap-remove on short cell lists, where an R-tree removes and reinserts), they are spread
//! over a known area, and a nearest query walks rings of cells outward with its best few in
//! a small array on the stack — no allocation but the answer.

use super::workers::{Worker, WorkerType, Workers};
use crate::spatial::distance::{Planar, metres};
use geo::{Contains, Coord, MultiPolygon, Rect};
use serde::Serialize;
use smallvec::SmallVec;
use std::collections::HashMap;
use std::sync::Arc;

/// A worker's newest fix, and the fences it is inside.
#[derive(Debug, Clone, Serialize)]
pub struct Latest {
    pub who: Arc<str>,
    pub time: i64,
    pub lon: f64,
    pub lat: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<f64>,
    pub inside: Vec<Arc<str>>,
}

impl Latest {
    pub fn at(&self) -> Coord<f64> {
        Coord {
            x: self.lon,
            y: self.lat,
        }
    }
}

/// Which workers a query wants.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    pub kind: Option<WorkerType>,
    /// A team kind (fire, medical, …) for vehicles.
    pub team_kind: Option<String>,
    /// Only workers whose newest fix is no older than this (Unix ms).
    pub fresh_since: Option<i64>,
}

impl Wanted {
    /// Whether the worker of `latest` is wanted (the registry is read only when a kind is
    /// asked for).
    fn accepts(&self, workers: &Workers, latest: &Latest) -> bool {
        if self.fresh_since.is_some_and(|t| latest.time < t) {
            return false;
        }
        if self.kind.is_none() && self.team_kind.is_none() {
            return true;
        }
        let worker: Option<&Worker> = workers.get(&latest.who);
        let Some(worker) = worker else {
            return self.kind.is_none() && self.team_kind.is_none();
        };
        self.kind.is_none_or(|k| k == worker.kind)
            && self
                .team_kind
                .as_deref()
                .is_none_or(|k| worker.team_kind.as_deref() == Some(k))
    }
}

/// The side of a grid cell: about one worker per cell at 10,000 workers in a district of
/// ~1,300 km², so a nearest-5 query reads a few dozen cells.
const CELL_M: f64 = 250.0;
/// Most cells (a larger area gets larger cells).
const MAX_CELLS: f64 = 262_144.0;
/// Below this many workers a query reads them all (cheaper than walking empty rings).
const SCAN_BELOW: usize = 256;
/// An entry in no cell (its fix is outside the grid's area).
const NO_CELL: u32 = u32::MAX;

/// Cells over the area, row by row, each the entries whose newest fix lies in it; entries
/// outside the area are kept apart and read by every query.
#[derive(Debug)]
struct Grid {
    x0: f64,
    y0: f64,
    /// Cell side in plane units.
    size: f64,
    nx: usize,
    ny: usize,
    cells: Vec<Vec<u32>>,
    outside: Vec<u32>,
}

impl Grid {
    fn new(plane: &Planar, area: Option<Rect<f64>>) -> Grid {
        let Some(area) = area else {
            return Grid {
                x0: 0.0,
                y0: 0.0,
                size: 1.0,
                nx: 0,
                ny: 0,
                cells: Vec::new(),
                outside: Vec::new(),
            };
        };
        let [x0, y0] = plane.project(area.min());
        let [x1, y1] = plane.project(area.max());
        let (w, h) = ((x1 - x0).max(1e-9), (y1 - y0).max(1e-9));
        let size = (CELL_M / plane.metres_per_unit).max((w * h / MAX_CELLS).sqrt());
        let nx = (w / size).ceil().max(1.0) as usize;
        let ny = (h / size).ceil().max(1.0) as usize;
        Grid {
            x0,
            y0,
            size,
            nx,
            ny,
            cells: vec![Vec::new(); nx * ny],
            outside: Vec::new(),
        }
    }

    /// The cell column and row of a planar point, if inside the grid.
    fn cell_xy(&self, p: [f64; 2]) -> Option<(usize, usize)> {
        let fx = ((p[0] - self.x0) / self.size).floor();
        let fy = ((p[1] - self.y0) / self.size).floor();
        if fx < 0.0 || fy < 0.0 || fx >= self.nx as f64 || fy >= self.ny as f64 {
            return None;
        }
        Some((fx as usize, fy as usize))
    }

    fn cell(&self, p: [f64; 2]) -> u32 {
        self.cell_xy(p)
            .map_or(NO_CELL, |(x, y)| (y * self.nx + x) as u32)
    }

    fn list(&mut self, cell: u32) -> &mut Vec<u32> {
        if cell == NO_CELL {
            &mut self.outside
        } else {
            &mut self.cells[cell as usize]
        }
    }

    fn remove(&mut self, cell: u32, i: u32) {
        let list = self.list(cell);
        if let Some(at) = list.iter().position(|&e| e == i) {
            list.swap_remove(at);
        }
    }
}

#[derive(Debug)]
pub struct LiveIndex {
    entries: Vec<Latest>,
    /// Each entry's planar position and cell.
    at: Vec<[f64; 2]>,
    cell_of: Vec<u32>,
    by_who: HashMap<Arc<str>, u32>,
    grid: Grid,
    plane: Planar,
}

impl Default for LiveIndex {
    fn default() -> Self {
        LiveIndex::new(None)
    }
}

/// The best few of a nearest query, nearest first: (squared plane distance, entry).
type Best = SmallVec<[(f64, u32); 8]>;

impl LiveIndex {
    /// An empty index with its grid over `area` (the district's box; fixes outside it are
    /// still kept, apart) and its plane true to scale at the area's middle latitude.
    pub fn new(area: Option<Rect<f64>>) -> LiveIndex {
        let lat = area.map_or(31.0, |r| (r.min().y + r.max().y) / 2.0);
        let plane = Planar::at_latitude(lat);
        LiveIndex {
            entries: Vec::new(),
            at: Vec::new(),
            cell_of: Vec::new(),
            by_who: HashMap::new(),
            grid: Grid::new(&plane, area),
            plane,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, who: &str) -> Option<&Latest> {
        self.by_who.get(who).map(|&i| &self.entries[i as usize])
    }

    pub fn all(&self) -> &[Latest] {
        &self.entries
    }

    /// Sets a worker's newest fix.
    pub fn upsert(&mut self, latest: Latest) {
        let p = self.plane.project(latest.at());
        let cell = self.grid.cell(p);
        match self.by_who.get(&latest.who) {
            Some(&i) => {
                let old = self.cell_of[i as usize];
                if old != cell {
                    self.grid.remove(old, i);
                    self.grid.list(cell).push(i);
                    self.cell_of[i as usize] = cell;
                }
                self.at[i as usize] = p;
                self.entries[i as usize] = latest;
            }
            None => {
                let i = self.entries.len() as u32;
                self.by_who.insert(latest.who.clone(), i);
                self.entries.push(latest);
                self.at.push(p);
                self.cell_of.push(cell);
                self.grid.list(cell).push(i);
            }
        }
    }

    /// Offers entry `i` to the best `k`: kept if nearer than the k-th and wanted.
    #[inline]
    fn offer(
        &self,
        best: &mut Best,
        k: usize,
        q: [f64; 2],
        i: u32,
        workers: &Workers,
        wanted: &Wanted,
    ) {
        let a = self.at[i as usize];
        let d = (a[0] - q[0]).powi(2) + (a[1] - q[1]).powi(2);
        if best.len() == k && d >= best[k - 1].0 {
            return;
        }
        let latest = &self.entries[i as usize];
        if !wanted.accepts(workers, latest) {
            return;
        }
        let at = best.partition_point(|&(e, _)| e <= d);
        if best.len() == k {
            best.pop();
        }
        best.insert(at, (d, i));
    }

    /// The `k` nearest workers to `p` that `wanted` accepts, nearest first, with metres.
    pub fn nearest<'a>(
        &'a self,
        workers: &'a Workers,
        p: Coord<f64>,
        wanted: &Wanted,
        k: usize,
    ) -> Vec<(&'a Latest, f64)> {
        if k == 0 {
            return Vec::new();
        }
        let q = self.plane.project(p);
        let mut best = Best::new();
        let grid = &self.grid;
        match grid.cell_xy(q) {
            Some((cx, cy)) if self.entries.len() >= SCAN_BELOW => {
                for &i in &grid.outside {
                    self.offer(&mut best, k, q, i, workers, wanted);
                }
                let (cx, cy) = (cx as isize, cy as isize);
                let (nx, ny) = (grid.nx as isize, grid.ny as isize);
                let rings = nx.max(ny);
                for r in 0..=rings {
                    // The cells at Chebyshev distance r from the query's cell.
                    let (y_lo, y_hi) = ((cy - r).max(0), (cy + r).min(ny - 1));
                    for y in y_lo..=y_hi {
                        let edge_row = y == cy - r || y == cy + r;
                        let row = y as usize * grid.nx;
                        let mut visit = |x: isize| {
                            if (0..nx).contains(&x) {
                                for &i in &grid.cells[row + x as usize] {
                                    self.offer(&mut best, k, q, i, workers, wanted);
                                }
                            }
                        };
                        if edge_row {
                            for x in (cx - r).max(0)..=(cx + r).min(nx - 1) {
                                visit(x);
                            }
                        } else {
                            visit(cx - r);
                            if r > 0 {
                                visit(cx + r);
                            }
                        }
                    }
                    // Anything not read yet lies at least r cells away.
                    let reach = r as f64 * grid.size;
                    if best.len() == k && best[k - 1].0 <= reach * reach {
                        break;
                    }
                }
            }
            _ => {
                for i in 0..self.entries.len() as u32 {
                    self.offer(&mut best, k, q, i, workers, wanted);
                }
            }
        }
        best.iter()
            .map(|&(_, i)| {
                let l = &self.entries[i as usize];
                (l, metres(p, l.at()))
            })
            .collect()
    }

    /// Workers whose newest fix lies inside `area` (boundary excluded) and `wanted` accepts.
    pub fn inside<'a>(
        &'a self,
        workers: &'a Workers,
        area: &MultiPolygon<f64>,
        bbox: Rect<f64>,
        wanted: &Wanted,
    ) -> Vec<&'a Latest> {
        let mut out: Vec<&Latest> = self
            .in_box(bbox)
            .filter(|l| area.contains(&geo::Point(l.at())))
            .filter(|l| wanted.accepts(workers, l))
            .collect();
        out.sort_by(|a, b| a.who.cmp(&b.who));
        out
    }

    /// Workers whose newest fix lies in the box (WGS84).
    pub fn in_box(&self, bbox: Rect<f64>) -> impl Iterator<Item = &Latest> {
        let grid = &self.grid;
        let lo = self.plane.project(bbox.min());
        let hi = self.plane.project(bbox.max());
        let clamp = |v: f64, n: usize| (v.floor().max(0.0) as usize).min(n.saturating_sub(1));
        let (x_lo, x_hi) = (
            clamp((lo[0] - grid.x0) / grid.size, grid.nx),
            clamp((hi[0] - grid.x0) / grid.size, grid.nx),
        );
        let (y_lo, y_hi) = (
            clamp((lo[1] - grid.y0) / grid.size, grid.ny),
            clamp((hi[1] - grid.y0) / grid.size, grid.ny),
        );
        let cells = (grid.nx > 0 && grid.ny > 0)
            .then(|| {
                (y_lo..=y_hi).flat_map(move |y| {
                    (x_lo..=x_hi).flat_map(move |x| grid.cells[y * grid.nx + x].iter())
                })
            })
            .into_iter()
            .flatten();
        cells
            .chain(grid.outside.iter())
            .map(|&i| &self.entries[i as usize])
            .filter(move |l| {
                l.lon >= bbox.min().x
                    && l.lon <= bbox.max().x
                    && l.lat >= bbox.min().y
                    && l.lat <= bbox.max().y
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latest(who: &str, lon: f64, lat: f64) -> Latest {
        Latest {
            who: who.into(),
            time: 0,
            lon,
            lat,
            accuracy: None,
            speed: None,
            heading: None,
            inside: Vec::new(),
        }
    }

    #[test]
    fn a_moved_worker_is_found_at_its_new_place_only() {
        let mut index = LiveIndex::new(Some(Rect::new(
            Coord { x: 121.3, y: 30.8 },
            Coord { x: 121.8, y: 31.0 },
        )));
        let workers = Workers::default();
        index.upsert(latest("a", 121.40, 30.90));
        index.upsert(latest("b", 121.50, 30.90));
        index.upsert(latest("a", 121.60, 30.90));
        let near = index.nearest(
            &workers,
            Coord { x: 121.41, y: 30.9 },
            &Wanted::default(),
            2,
        );
        assert_eq!(near.len(), 2);
        assert_eq!(&*near[0].0.who, "b");
        assert_eq!(&*near[1].0.who, "a");
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn the_grid_finds_what_a_scan_of_every_worker_finds() {
        use rand::{Rng, SeedableRng};
        let area = Rect::new(Coord { x: 121.3, y: 30.8 }, Coord { x: 121.8, y: 31.0 });
        let mut index = LiveIndex::new(Some(area));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let workers = Workers::default();
        // Clustered and spread workers, some outside the grid (a team in the next district),
        // then every one moved once.
        for round in 0..2 {
            for n in 0..2_000 {
                let (x, y) = match n % 10 {
                    0 => (rng.random_range(121.0..122.1), rng.random_range(30.5..31.3)),
                    1..=3 => (
                        rng.random_range(121.50..121.51),
                        rng.random_range(30.90..30.91),
                    ),
                    _ => (rng.random_range(121.3..121.8), rng.random_range(30.8..31.0)),
                };
                let mut l = latest(&format!("w{n}"), x, y);
                l.time = round * 1000 + (n as i64 % 7);
                index.upsert(l);
            }
        }
        assert_eq!(index.len(), 2_000);
        for q in 0..300 {
            let p = Coord {
                x: rng.random_range(121.2..121.9),
                y: rng.random_range(30.7..31.1),
            };
            let k = [1, 5, 12][q % 3];
            let wanted = Wanted {
                fresh_since: (q % 2 == 0).then_some(1003),
                ..Wanted::default()
            };
            let got: Vec<&str> = index
                .nearest(&workers, p, &wanted, k)
                .iter()
                .map(|(l, _)| &*l.who)
                .collect();
            let plane = Planar::at_latitude(30.9);
            let qp = plane.project(p);
            let mut all: Vec<(f64, &str)> = index
                .all()
                .iter()
                .filter(|l| wanted.fresh_since.is_none_or(|t| l.time >= t))
                .map(|l| {
                    let a = plane.project(l.at());
                    ((a[0] - qp[0]).powi(2) + (a[1] - qp[1]).powi(2), &*l.who)
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            let want: Vec<&str> = all.iter().take(k).map(|e| e.1).collect();
            assert_eq!(got, want, "query {q} at {p:?}");
        }
        let bbox = Rect::new(
            Coord {
                x: 121.45,
                y: 30.85,
            },
            Coord { x: 121.6, y: 30.95 },
        );
        let mut got: Vec<&str> = index.in_box(bbox).map(|l| &*l.who).collect();
        got.sort();
        let mut want: Vec<&str> = index
            .all()
            .iter()
            .filter(|l| (121.45..=121.6).contains(&l.lon) && (30.85..=30.95).contains(&l.lat))
            .map(|l| &*l.who)
            .collect();
        want.sort();
        assert_eq!(got, want);
    }
}
