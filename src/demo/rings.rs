//! Rings from directed edges over a shared vertex table.
//!
//! Cells, villages, towns and beats share vertices *by id*, so the boundary of a union of cells
//! is found exactly by cancelling every edge that appears in both directions; no floating-point
//! overlay is involved and parents nest bit-for-bit around their children. (geo's `unary_union`
//! would snap coordinates to its integer grid and break that exactness.)

use geo::{Area, Contains, Coord, InteriorPoint, LineString, MultiPolygon, Polygon};
use std::collections::HashMap;

pub type Vid = u32;

/// Closes directed edges into rings (vertex ids, first vertex not repeated). Where a vertex has
/// several unused exits, the first one clockwise from the edge we came in on is taken: it keeps
/// the traced face on the left and splits figure-eights at pinch points into separate rings.
pub fn trace_rings(edges: &[(Vid, Vid)], coords: &[Coord<f64>]) -> Result<Vec<Vec<Vid>>, String> {
    let mut exits: HashMap<Vid, Vec<usize>> = HashMap::new();
    for (i, &(from, _)) in edges.iter().enumerate() {
        exits.entry(from).or_default().push(i);
    }
    let mut used = vec![false; edges.len()];
    let mut rings = Vec::new();
    for start in 0..edges.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let mut ring = vec![edges[start].0];
        let mut current = start;
        loop {
            let (from, at) = edges[current];
            let candidates = exits.get(&at).map(Vec::as_slice).unwrap_or(&[]);
            let next = candidates
                .iter()
                .copied()
                .filter(|&e| !used[e] || e == start)
                .min_by(|&a, &b| {
                    let ka = clockwise_turn(
                        coords[from as usize],
                        coords[at as usize],
                        coords[edges[a].1 as usize],
                    );
                    let kb = clockwise_turn(
                        coords[from as usize],
                        coords[at as usize],
                        coords[edges[b].1 as usize],
                    );
                    ka.total_cmp(&kb).then(a.cmp(&b))
                })
                .ok_or_else(|| format!("open chain: no edge leaves vertex {at}"))?;
            if next == start {
                break;
            }
            used[next] = true;
            ring.push(at);
            current = next;
        }
        rings.push(ring);
    }
    Ok(rings)
}

/// The clockwise angle from the direction back to `from` to the direction towards `to`, both
/// seen from `at`, in (0, 2π]. Going straight back counts as a full turn (least preferred).
fn clockwise_turn(from: Coord<f64>, at: Coord<f64>, to: Coord<f64>) -> f64 {
    let back = (from.y - at.y).atan2(from.x - at.x);
    let out = (to.y - at.y).atan2(to.x - at.x);
    let mut angle = back - out;
    while angle <= 0.0 {
        angle += std::f64::consts::TAU;
    }
    while angle > std::f64::consts::TAU {
        angle -= std::f64::consts::TAU;
    }
    angle
}

/// The directed boundary edges of the union of `faces` (each a counter-clockwise ring):
/// an edge shared by two faces of the set appears once in each direction and cancels.
pub fn union_boundary<'a>(faces: impl Iterator<Item = &'a [Vid]>) -> Vec<(Vid, Vid)> {
    let mut edges: HashMap<(Vid, Vid), usize> = HashMap::new();
    let mut order: Vec<(Vid, Vid)> = Vec::new();
    for ring in faces {
        for i in 0..ring.len() {
            let e = (ring[i], ring[(i + 1) % ring.len()]);
            if let Some(count) = edges.get_mut(&(e.1, e.0)) {
                if *count > 0 {
                    *count -= 1;
                    continue;
                }
            }
            *edges.entry(e).or_insert(0) += 1;
            order.push(e);
        }
    }
    // Keep first-seen order so the output is deterministic.
    let mut out = Vec::new();
    for e in order {
        if let Some(count) = edges.get_mut(&e) {
            if *count > 0 {
                *count -= 1;
                out.push(e);
            }
        }
    }
    out
}

pub fn signed_area(ring: &[Vid], coords: &[Coord<f64>]) -> f64 {
    let mut twice = 0.0;
    for i in 0..ring.len() {
        let a = coords[ring[i] as usize];
        let b = coords[ring[(i + 1) % ring.len()] as usize];
        twice += a.x * b.y - b.x * a.y;
    }
    twice / 2.0
}

pub fn ring_coords(ring: &[Vid], coords: &[Coord<f64>]) -> LineString<f64> {
    let mut points: Vec<Coord<f64>> = ring.iter().map(|&v| coords[v as usize]).collect();
    if let Some(&first) = points.first() {
        points.push(first);
    }
    LineString::new(points)
}

/// Counter-clockwise rings become polygons, clockwise rings their holes (assigned to the
/// smallest shell that contains them). Rings without area are dropped.
pub fn assemble(rings: &[Vec<Vid>], coords: &[Coord<f64>]) -> MultiPolygon<f64> {
    let mut shells: Vec<(f64, Polygon<f64>)> = Vec::new();
    let mut holes: Vec<LineString<f64>> = Vec::new();
    for ring in rings {
        let area = signed_area(ring, coords);
        if area > 0.0 {
            shells.push((area, Polygon::new(ring_coords(ring, coords), vec![])));
        } else if area < 0.0 {
            holes.push(ring_coords(ring, coords));
        }
    }
    for hole in holes {
        let probe = Polygon::new(hole.clone(), vec![]).interior_point();
        let owner = shells
            .iter()
            .enumerate()
            .filter(|(_, (_, shell))| probe.is_some_and(|p| shell.contains(&p)))
            .min_by(|a, b| a.1.0.total_cmp(&b.1.0))
            .map(|(i, _)| i);
        if let Some(i) = owner {
            shells[i].1.interiors_push(hole);
        }
    }
    MultiPolygon::new(shells.into_iter().map(|(_, p)| p).collect())
}

/// Area of the union in square degrees (for sanity checks against the sum of its faces).
pub fn area_of(m: &MultiPolygon<f64>) -> f64 {
    m.unsigned_area()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two unit squares side by side: ids 0..6 on a 3×2 lattice.
    fn lattice() -> Vec<Coord<f64>> {
        vec![
            Coord { x: 0., y: 0. },
            Coord { x: 1., y: 0. },
            Coord { x: 2., y: 0. },
            Coord { x: 0., y: 1. },
            Coord { x: 1., y: 1. },
            Coord { x: 2., y: 1. },
        ]
    }

    #[test]
    fn shared_edge_cancels_and_union_is_one_rectangle() {
        let coords = lattice();
        let left = vec![0, 1, 4, 3];
        let right = vec![1, 2, 5, 4];
        let edges = union_boundary([left.as_slice(), right.as_slice()].into_iter());
        assert_eq!(edges.len(), 6);
        let rings = trace_rings(&edges, &coords).unwrap();
        assert_eq!(rings.len(), 1);
        let m = assemble(&rings, &coords);
        assert!((area_of(&m) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn pinch_point_splits_into_two_polygons() {
        // Two squares touching at one corner (vertex 4).
        let mut coords = lattice();
        coords.extend([Coord { x: 1., y: 2. }, Coord { x: 2., y: 2. }]);
        let a = vec![0, 1, 4, 3];
        let b = vec![4, 5, 7, 6];
        let edges = union_boundary([a.as_slice(), b.as_slice()].into_iter());
        let rings = trace_rings(&edges, &coords).unwrap();
        assert_eq!(rings.len(), 2);
        assert_eq!(assemble(&rings, &coords).0.len(), 2);
    }
}
