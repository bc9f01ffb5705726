//! Patrol coverage (巡查覆盖率): for a beat and a day, the share of its unit grid cells that an
//! inspector's track passed within `radius_m`, the time spent on the beat and the distance
//! walked there — per inspector, and for the beat (cells any of its inspectors passed).
//!
//! A track is its fixes joined in time order; two fixes further apart in time than `max_gap`
//! are not joined (the phone was off: nobody knows where the inspector went), but each still
//! counts as a point. A cell is passed when a segment (or a lone fix) comes within the radius
//! of the cell's polygon (inside counts as distance 0); its *last visit* is the time of the
//! later fix of the last such segment. Time on beat and distance count the segments whose
//! both ends lie in the beat (border included). Distances are planar in a local frame at the
//! beat: beats are a few km across, where that is exact to millimetres.

use super::store::StoredFix;
use crate::catalog::Role;
use crate::spatial::distance::{LocalFrame, metres};
use crate::spatial::{GeometryRef, LayerStore};
use geo::{
    BoundingRect, Contains, Coord, Distance, Euclidean, Intersects, Line, MultiPolygon, Point, Rect,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// Coverage of one inspector on one beat.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InspectorCoverage {
    pub worker: String,
    pub fixes: usize,
    pub cells_passed: usize,
    pub share: f64,
    pub time_on_beat_s: f64,
    pub distance_m: f64,
}

/// Coverage of one beat on one day.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BeatCoverage {
    pub beat: String,
    pub cells: usize,
    /// Cells any inspector of the beat passed.
    pub cells_passed: usize,
    pub share: f64,
    pub inspectors: Vec<InspectorCoverage>,
    /// Per cell id, the last visit (Unix ms) by any inspector, `None` if not passed.
    #[serde(skip)]
    pub last_visit: BTreeMap<String, Option<i64>>,
}

/// The settings of a computation.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub radius_m: f64,
    pub max_gap_ms: i64,
}

/// The cells of `beat` (by the grid's cell → beat table), as (id, polygon).
pub fn cells_of_beat<'a>(
    store: &'a LayerStore,
    beat: &str,
) -> Vec<(&'a str, &'a MultiPolygon<f64>)> {
    let (Some(grid), Some(cells), Some(beats)) = (
        store.grid.as_ref(),
        store.by_role(Role::GridCell),
        store.by_role(Role::Beat),
    ) else {
        return Vec::new();
    };
    let Some(b) = beats.find(beat) else {
        return Vec::new();
    };
    grid.cell_beat
        .iter()
        .enumerate()
        .filter(|&(_, &cb)| cb as usize == b)
        .filter_map(|(c, _)| match cells.geometry(c) {
            GeometryRef::Polygons(m) => Some((cells.id(c), m)),
            _ => None,
        })
        .collect()
}

fn local_shape(frame: &LocalFrame, m: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    use geo::MapCoords;
    m.map_coords(|c| frame.to_local_coord(c))
}

/// Coverage of `beat` by the tracks of its inspectors (`tracks`: per worker, fixes oldest
/// first, already cut to the day).
pub fn beat_coverage(
    store: &LayerStore,
    beat: &str,
    tracks: &[(String, Vec<StoredFix>)],
    rule: Rule,
) -> Option<BeatCoverage> {
    let beats = store.by_role(Role::Beat)?;
    let b = beats.find(beat)?;
    let GeometryRef::Polygons(beat_shape) = beats.geometry(b) else {
        return None;
    };
    let origin = beat_shape.bounding_rect()?.center();
    let frame = LocalFrame::at(origin);
    let beat_local = local_shape(&frame, beat_shape);
    let cells: Vec<(&str, MultiPolygon<f64>, Rect<f64>)> = cells_of_beat(store, beat)
        .into_iter()
        .filter_map(|(id, m)| {
            let local = local_shape(&frame, m);
            let bbox = local.bounding_rect()?;
            Some((id, local, bbox))
        })
        .collect();
    let mut last_visit: BTreeMap<String, Option<i64>> = cells
        .iter()
        .map(|(id, _, _)| (id.to_string(), None))
        .collect();
    let mut inspectors = Vec::new();
    for (worker, fixes) in tracks {
        let pts: Vec<(Coord<f64>, i64, Coord<f64>)> = fixes
            .iter()
            .map(|f| {
                let c = Coord { x: f.lon, y: f.lat };
                (frame.to_local_coord(c), f.time, c)
            })
            .collect();
        // The pieces of the track: joined segments and lone fixes, each with its time.
        let mut pieces: Vec<(Line<f64>, i64)> = Vec::new();
        let mut time_on_beat = 0.0;
        let mut distance = 0.0;
        for (i, &(p, t, _)) in pts.iter().enumerate() {
            let joined_before = i > 0 && t - pts[i - 1].1 <= rule.max_gap_ms;
            let joined_after = i + 1 < pts.len() && pts[i + 1].1 - t <= rule.max_gap_ms;
            if joined_before {
                let (q, tq, wq) = pts[i - 1];
                pieces.push((Line::new(q, p), t));
                let on_beat = |c: Coord<f64>| beat_local.intersects(&Point(c));
                if on_beat(q) && on_beat(p) {
                    time_on_beat += (t - tq) as f64 / 1000.0;
                    distance += metres(wq, pts[i].2);
                }
            } else if !joined_after {
                pieces.push((Line::new(p, p), t));
            }
        }
        let mut passed = 0;
        for (id, shape, bbox) in &cells {
            let grown = Rect::new(
                Coord {
                    x: bbox.min().x - rule.radius_m,
                    y: bbox.min().y - rule.radius_m,
                },
                Coord {
                    x: bbox.max().x + rule.radius_m,
                    y: bbox.max().y + rule.radius_m,
                },
            );
            let mut visit: Option<i64> = None;
            for (line, t) in &pieces {
                if !grown.intersects(line) {
                    continue;
                }
                let d = if shape.contains(&Point(line.start)) {
                    0.0
                } else {
                    shape
                        .0
                        .iter()
                        .map(|poly| Euclidean.distance(line, poly))
                        .fold(f64::INFINITY, f64::min)
                };
                if d <= rule.radius_m {
                    visit = Some(visit.map_or(*t, |v| v.max(*t)));
                }
            }
            if let Some(t) = visit {
                passed += 1;
                let slot = last_visit.entry(id.to_string()).or_insert(None);
                *slot = Some(slot.map_or(t, |v| v.max(t)));
            }
        }
        inspectors.push(InspectorCoverage {
            worker: worker.clone(),
            fixes: fixes.len(),
            cells_passed: passed,
            share: share(passed, cells.len()),
            time_on_beat_s: time_on_beat,
            distance_m: crate::spatial::distance::round_m(distance),
        });
    }
    let cells_passed = last_visit.values().filter(|v| v.is_some()).count();
    Some(BeatCoverage {
        beat: beat.to_string(),
        cells: cells.len(),
        cells_passed,
        share: share(cells_passed, cells.len()),
        inspectors,
        last_visit,
    })
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        (n as f64 / of as f64 * 10_000.0).round() / 10_000.0
    }
}

/// The district's day (China Standard Time, UTC+8, no daylight saving) as Unix ms
/// `[start, end)`: an inspector's day is the local one.
pub fn day_bounds(date: chrono::NaiveDate) -> (i64, i64) {
    const CST_MS: i64 = 8 * 3_600_000;
    let midnight = date
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis())
        - CST_MS;
    (midnight, midnight + 86_400_000)
}
