//! A worker's track for display: the stored fixes of a period as one line, simplified
//! (Douglas–Peucker in metres, so the tolerance means the same everywhere), with its length
//! and duration from the unsimplified fixes.

use super::store::StoredFix;
use crate::spatial::distance::{LocalFrame, metres};
use geo::{Coord, LineString, Simplify};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Track {
    /// The simplified line (WGS84).
    pub line: Vec<[f64; 2]>,
    /// Fixes in the period.
    pub fixes: usize,
    /// Vertices kept after simplification.
    pub vertices: usize,
    /// Metres along the unsimplified fixes.
    pub length_m: f64,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// Simplifies `fixes` (oldest first) with `tolerance_m` (0 keeps every fix).
pub fn track(fixes: &[StoredFix], tolerance_m: f64) -> Track {
    let coords: Vec<Coord<f64>> = fixes.iter().map(|f| Coord { x: f.lon, y: f.lat }).collect();
    let length_m = coords.windows(2).map(|w| metres(w[0], w[1])).sum();
    let line: Vec<[f64; 2]> = match coords.first() {
        Some(&origin) if tolerance_m > 0.0 && coords.len() > 2 => {
            let frame = LocalFrame::at(origin);
            let local: LineString<f64> = coords.iter().map(|&c| frame.to_local_coord(c)).collect();
            local
                .simplify(tolerance_m)
                .0
                .into_iter()
                .map(|c| {
                    let w = frame.to_lonlat_coord(c);
                    [w.x, w.y]
                })
                .collect()
        }
        _ => coords.iter().map(|c| [c.x, c.y]).collect(),
    };
    Track {
        vertices: line.len(),
        line,
        fixes: fixes.len(),
        length_m: crate::spatial::distance::round_m(length_m),
        start: fixes.first().map(|f| f.time),
        end: fixes.last().map(|f| f.time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(t: i64, lon: f64, lat: f64) -> StoredFix {
        StoredFix {
            worker: "w".into(),
            time: t,
            lon,
            lat,
            accuracy: None,
            speed: None,
            heading: None,
        }
    }

    #[test]
    fn a_straight_walk_keeps_its_ends_only() {
        let fixes: Vec<StoredFix> = (0..50)
            .map(|i| fix(i, 121.45 + i as f64 * 1e-4, 30.92))
            .collect();
        let t = track(&fixes, 2.0);
        assert_eq!(t.vertices, 2);
        assert_eq!(t.fixes, 50);
        assert!((t.length_m - 49.0 * 9.56).abs() < 5.0, "{}", t.length_m);
        assert_eq!(track(&fixes, 0.0).vertices, 50);
    }
}
