//! The live index: every worker's newest fix in memory, in an R-tree, so "who is nearest"
//! and "who is inside" are answered without the database (Tile38's NEARBY and WITHIN).
//! The intake changes it only after the fixes are committed.

use super::workers::{Worker, WorkerType, Workers};
use crate::spatial::distance::{Planar, metres};
use geo::{Contains, Coord, MultiPolygon, Rect};
use rstar::primitives::GeomWithData;
use rstar::{AABB, RTree};
use serde::Serialize;
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

type Point = GeomWithData<[f64; 2], u32>;

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
    fn accepts(&self, worker: Option<&Worker>, latest: &Latest) -> bool {
        if self.fresh_since.is_some_and(|t| latest.time < t) {
            return false;
        }
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

#[derive(Debug)]
pub struct LiveIndex {
    entries: Vec<Latest>,
    by_who: HashMap<Arc<str>, u32>,
    tree: RTree<Point>,
    plane: Planar,
}

impl Default for LiveIndex {
    fn default() -> Self {
        LiveIndex::new(31.0)
    }
}

impl LiveIndex {
    /// An empty index whose plane is true to scale at latitude `lat` (the district's).
    pub fn new(lat: f64) -> LiveIndex {
        LiveIndex {
            entries: Vec::new(),
            by_who: HashMap::new(),
            tree: RTree::new(),
            plane: Planar::at_latitude(lat),
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
        match self.by_who.get(&latest.who) {
            Some(&i) => {
                let old = self.plane.project(self.entries[i as usize].at());
                if old != p {
                    self.tree.remove(&Point::new(old, i));
                    self.tree.insert(Point::new(p, i));
                }
                self.entries[i as usize] = latest;
            }
            None => {
                let i = self.entries.len() as u32;
                self.by_who.insert(latest.who.clone(), i);
                self.entries.push(latest);
                self.tree.insert(Point::new(p, i));
            }
        }
    }

    /// The `k` nearest workers to `p` that `wanted` accepts, nearest first, with metres.
    pub fn nearest<'a>(
        &'a self,
        workers: &'a Workers,
        p: Coord<f64>,
        wanted: &Wanted,
        k: usize,
    ) -> Vec<(&'a Latest, f64)> {
        let q = self.plane.project(p);
        self.tree
            .nearest_neighbor_iter(&q)
            .map(|e| &self.entries[e.data as usize])
            .filter(|l| wanted.accepts(workers.get(&l.who), l))
            .take(k)
            .map(|l| (l, metres(p, l.at())))
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
            .filter(|l| wanted.accepts(workers.get(&l.who), l))
            .collect();
        out.sort_by(|a, b| a.who.cmp(&b.who));
        out
    }

    /// Workers whose newest fix lies in the box (WGS84).
    pub fn in_box(&self, bbox: Rect<f64>) -> impl Iterator<Item = &Latest> {
        let lo = self.plane.project(bbox.min());
        let hi = self.plane.project(bbox.max());
        self.tree
            .locate_in_envelope(&AABB::from_corners(lo, hi))
            .map(|e| &self.entries[e.data as usize])
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
        let mut index = LiveIndex::new(30.9);
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
}
