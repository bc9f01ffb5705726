//! The real district outline, read from the reference GeoJSON and made usable.
//!
//! The source is quantised to 1/1024° and contains zero-width spikes (a vertex visited twice
//! with one excursion between) and repeated points. They are removed, the ring is turned
//! counter-clockwise (RFC 7946), and the result must pass OGC validity.

use geo::{Coord, LineString, Polygon, Validation};
use serde_json::Value;
use std::path::Path;

pub fn load(path: &Path, adcode: &str) -> Result<Polygon<f64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let features = doc["features"]
        .as_array()
        .ok_or_else(|| format!("{}: not a FeatureCollection", path.display()))?;
    let feature = features
        .iter()
        .find(|f| f["properties"]["adcode"].as_str() == Some(adcode))
        .ok_or_else(|| format!("{}: no feature with adcode {adcode}", path.display()))?;
    let ring = feature["geometry"]["coordinates"][0]
        .as_array()
        .ok_or_else(|| format!("{}: adcode {adcode} is not a Polygon", path.display()))?;
    let mut coords = Vec::with_capacity(ring.len());
    for p in ring {
        let (Some(x), Some(y)) = (p[0].as_f64(), p[1].as_f64()) else {
            return Err(format!("{}: bad coordinate {p}", path.display()));
        };
        coords.push(Coord { x, y });
    }
    let polygon = clean(coords);
    if let Some(problem) = polygon.validation_errors().into_iter().next() {
        return Err(format!(
            "{}: outline still invalid after cleaning: {problem}",
            path.display()
        ));
    }
    Ok(polygon)
}

/// Removes repeated points and spikes, and orients the ring counter-clockwise.
pub fn clean(mut coords: Vec<Coord<f64>>) -> Polygon<f64> {
    if coords.first() == coords.last() {
        coords.pop();
    }
    loop {
        let before = coords.len();
        coords.dedup();
        while coords.len() > 1 && coords.first() == coords.last() {
            coords.pop();
        }
        let n = coords.len();
        let mut keep = vec![true; n];
        for i in 0..n {
            let prev = coords[(i + n - 1) % n];
            let next = coords[(i + 1) % n];
            // A spike: we arrive from `prev`, step out and come straight back along the line.
            let (ax, ay) = (coords[i].x - prev.x, coords[i].y - prev.y);
            let (bx, by) = (next.x - coords[i].x, next.y - coords[i].y);
            let collinear = (ax * by - ay * bx).abs() <= 1e-18;
            let reverses = ax * bx + ay * by < 0.0;
            if collinear && reverses && keep[(i + n - 1) % n] {
                keep[i] = false;
            }
        }
        let mut i = 0;
        coords.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        if coords.len() == before {
            break;
        }
    }
    let mut ring = LineString::new(coords);
    ring.close();
    let mut polygon = Polygon::new(ring, vec![]);
    use geo::orient::{Direction, Orient};
    polygon = polygon.orient(Direction::Default);
    polygon
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;

    #[test]
    fn spikes_and_repeats_are_removed_and_ring_turns_ccw() {
        let c = |x: f64, y: f64| Coord { x, y };
        // Clockwise square with a spike out of (1,1) and a repeated point.
        let coords = vec![
            c(0., 0.),
            c(0., 1.),
            c(1., 1.),
            c(1., 2.),
            c(1., 1.),
            c(1., 0.),
            c(1., 0.),
            c(0., 0.),
        ];
        let p = clean(coords);
        assert_eq!(p.exterior().0.len(), 5);
        assert!(p.signed_area() > 0.0);
        assert!(p.is_valid());
    }
}
