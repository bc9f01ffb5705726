//! Clipping and simplification in tile space.
//!
//! Polygons are clipped to the buffered tile square with Sutherland–Hodgman, as vector-tile
//! generators (geojson-vt, tippecanoe) do: exact for a convex window, and where it leaves a
//! zero-width seam along the tile edge the seam lies in the buffer, outside what is drawn.
//! geo's boolean operations clip too, but do a full overlay per feature, several times slower
//! on the hundreds of cells a tile holds.

/// Clips a closed ring (first point repeated at the end or not) to [lo, hi]²; returns an open ring.
pub fn clip_ring(ring: &[[f64; 2]], lo: f64, hi: f64) -> Vec<[f64; 2]> {
    let mut current: Vec<[f64; 2]> = ring.to_vec();
    if current.len() > 1 && current.first() == current.last() {
        current.pop();
    }
    // (axis, bound, keep values >= bound?)
    for (axis, bound, keep_above) in [(0, lo, true), (0, hi, false), (1, lo, true), (1, hi, false)]
    {
        if current.is_empty() {
            break;
        }
        let inside = |p: &[f64; 2]| {
            if keep_above {
                p[axis] >= bound
            } else {
                p[axis] <= bound
            }
        };
        let mut next = Vec::with_capacity(current.len() + 4);
        for i in 0..current.len() {
            let a = current[i];
            let b = current[(i + 1) % current.len()];
            let (ia, ib) = (inside(&a), inside(&b));
            if ia {
                next.push(a);
            }
            if ia != ib {
                let t = (bound - a[axis]) / (b[axis] - a[axis]);
                let mut p = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
                p[axis] = bound;
                next.push(p);
            }
        }
        current = next;
    }
    current
}

/// Clips a line to [lo, hi]²; returns the parts inside (Liang–Barsky per segment).
pub fn clip_line(line: &[[f64; 2]], lo: f64, hi: f64) -> Vec<Vec<[f64; 2]>> {
    let mut parts: Vec<Vec<[f64; 2]>> = Vec::new();
    let mut current: Vec<[f64; 2]> = Vec::new();
    for w in line.windows(2) {
        let (a, b) = (w[0], w[1]);
        let d = [b[0] - a[0], b[1] - a[1]];
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut visible = true;
        for (p, q) in [
            (-d[0], a[0] - lo),
            (d[0], hi - a[0]),
            (-d[1], a[1] - lo),
            (d[1], hi - a[1]),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    visible = false;
                    break;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if !visible || t0 > t1 {
            if current.len() >= 2 {
                parts.push(std::mem::take(&mut current));
            }
            current.clear();
            continue;
        }
        let start = [a[0] + t0 * d[0], a[1] + t0 * d[1]];
        let end = [a[0] + t1 * d[0], a[1] + t1 * d[1]];
        if current.last() != Some(&start) {
            if current.len() >= 2 {
                parts.push(std::mem::take(&mut current));
            }
            current.clear();
            current.push(start);
        }
        current.push(end);
        if t1 < 1.0 {
            parts.push(std::mem::take(&mut current));
        }
    }
    if current.len() >= 2 {
        parts.push(current);
    }
    parts
}

/// Douglas–Peucker in tile units (geo's `Simplify`).
pub fn simplify(points: &[[f64; 2]], tolerance: f64) -> Vec<[f64; 2]> {
    use geo::Simplify;
    if points.len() <= 2 || tolerance <= 0.0 {
        return points.to_vec();
    }
    let line = geo::LineString::from(points.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>());
    line.simplify(tolerance)
        .0
        .into_iter()
        .map(|c| [c.x, c.y])
        .collect()
}

/// Rounds to integer tile units and drops consecutive repeats.
pub fn quantize(points: &[[f64; 2]]) -> Vec<[i32; 2]> {
    let mut out: Vec<[i32; 2]> = Vec::with_capacity(points.len());
    for p in points {
        let q = [p[0].round() as i32, p[1].round() as i32];
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    out
}

/// Twice the signed area (surveyor's formula) of an open ring in tile space (y down): positive
/// for the clockwise-on-screen rings that MVT 2.1 requires of exteriors.
pub fn twice_area(ring: &[[i32; 2]]) -> i64 {
    let mut sum = 0i64;
    for i in 0..ring.len() {
        let a = ring[i];
        let b = ring[(i + 1) % ring.len()];
        sum += i64::from(a[0]) * i64::from(b[1]) - i64::from(b[0]) * i64::from(a[1]);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_half_outside_is_cut_at_the_edge() {
        let ring = [
            [-10.0, 0.0],
            [10.0, 0.0],
            [10.0, 10.0],
            [-10.0, 10.0],
            [-10.0, 0.0],
        ];
        let clipped = clip_ring(&ring, 0.0, 100.0);
        assert!(clipped.iter().all(|p| p[0] >= 0.0));
        assert_eq!(clipped.len(), 4);
    }

    #[test]
    fn a_line_crossing_the_tile_keeps_its_inside_part() {
        let parts = clip_line(&[[-10.0, 5.0], [110.0, 5.0]], 0.0, 100.0);
        assert_eq!(parts, vec![vec![[0.0, 5.0], [100.0, 5.0]]]);
        let parts = clip_line(
            &[
                [-10.0, 5.0],
                [50.0, 5.0],
                [50.0, -20.0],
                [60.0, -20.0],
                [60.0, 50.0],
            ],
            0.0,
            100.0,
        );
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn quantize_drops_repeats_and_area_has_a_sign() {
        let q = quantize(&[[0.2, 0.1], [0.4, 0.3], [10.0, 0.0], [10.0, 10.0]]);
        assert_eq!(q, vec![[0, 0], [10, 0], [10, 10]]);
        assert!(
            twice_area(&q) > 0,
            "clockwise on screen (y down) is positive"
        );
    }
}
