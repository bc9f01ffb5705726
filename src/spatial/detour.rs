//! Shortest walking paths that keep out of zones (绕行路径): the straight line when it touches
//! no zone, else the shortest path around them.
//!
//! Among polygonal obstacles a shortest path is a chain of straight legs that bend only at
//! obstacle corners (Lozano-Pérez & Wesley, 1979), so the shortest path in the *visibility
//! graph* — nodes: the two ends and the corners; edges: the legs that enter no obstacle — is
//! the shortest path of all. The corners are those of the zones' outline widened by
//! [`CLEARANCE_M`] (geo's `Buffer`, mitred, so a 72-gon circle stays a 72-gon; overlapping
//! zones merge into one outline) and thinned by Douglas–Peucker (geo's `Simplify`) to within
//! half the clearance: a path runs a few metres clear of the tape, not along it where rounding
//! could put it inside. The outline only proposes corners; every leg is tested against the
//! zones themselves (geo's `Intersects`), so no path enters a zone whatever the outline looks
//! like. An outline with more than [`MAX_CORNERS`] corners (a finely toothed flood edge) is
//! widened further, then replaced by the zones' convex hulls (geo's `ConvexHull`): paths keep
//! farther out, never nearer. geo has no visibility graph or shortest-path search, so that
//! part is written here: a dense Dijkstra, as a few zones give tens to a few hundred corners.
//!
//! Work is shared the way an allocation asks — many origins × many targets × few zones: the
//! corner graph is built once, and only when some straight line is blocked; each origin's
//! distance to every corner once ([`Departure`]); each target's view of the corners once
//! ([`Arrival`]); a blocked pair is then a minimum over the corners its target sees. A
//! straight line whose bounding box misses every zone's costs one box test. Only legs
//! *tangent* to the outline at their corners are tried (both neighbours of the corner on one
//! side of the leg: a shortest path only bends round a corner it wraps), which spares most
//! crossing tests — the reduced visibility graph; an end that sees no corner that way (it lies
//! in the clearance band) tries them all.
//!
//! The plane is [`LocalFrame`]'s east/north metres: affine in lon/lat, so a straight leg there
//! is a straight leg on the map and a crossing test answers the same in both. Lengths are
//! measured leg by leg with [`metres`], so a straight path has exactly the straight-line
//! distance.
//!
//! Someone who starts inside a zone is leaving it: the first leg may cross the zones that hold
//! the origin (they walk straight out), never another zone; no later leg enters any zone, so
//! nobody walks back in.
//!
//! ```
//! use geo::{Coord, MultiPolygon, Rect};
//! use gridlink::spatial::detour::Obstacles;
//!
//! // A 200 m square zone between two points 1 km apart on an east–west line.
//! let zone = MultiPolygon(vec![
//!     Rect::new(Coord { x: 121.499, y: 30.999 }, Coord { x: 121.501, y: 31.001 }).to_polygon(),
//! ]);
//! let obstacles = Obstacles::new([&zone]);
//! let from = obstacles.departure(Coord { x: 121.4948, y: 31.0 });
//! let to = obstacles.arrival(Coord { x: 121.5052, y: 31.0 });
//! let path = obstacles.path(&from, &to).expect("a way round");
//! assert!(path.coords.len() > 2, "it bends round the square");
//! assert!(path.metres > 1000.0);
//! ```

use super::distance::{LocalFrame, metres};
use geo::algorithm::buffer::{Buffer, BufferStyle, LineJoin};
use geo::{
    BoundingRect, ConvexHull, Coord, Intersects, Line, MapCoords, MultiPolygon, Polygon, Rect,
    Simplify,
};
use std::cell::OnceCell;

/// How far outside a zone a path keeps (metres).
pub const CLEARANCE_M: f64 = 10.0;

/// Most corners a search works over: the graph costs their square times the zones' edges, so a
/// zone outline too detailed for that is widened to four times the clearance (its teeth
/// merge), and failing that taken by its convex hull.
pub const MAX_CORNERS: usize = 256;

/// Sharpest corner the widened outline keeps mitred (radians): a square's corner stays one
/// corner, while spikes are bevelled rather than drawn out into longer spikes.
const MITRE_LIMIT: f64 = std::f64::consts::PI * 0.4;

/// A corner reached straight from the origin.
const FROM_ORIGIN: u32 = u32::MAX;

/// One polygon of a zone, in the frame.
#[derive(Debug)]
struct Part {
    polygon: Polygon<f64>,
    bbox: Rect<f64>,
    zone: usize,
}

/// The corners of the widened outline and the legs between them that enter no zone.
#[derive(Debug)]
struct Corners {
    at: Vec<Coord<f64>>,
    /// Each corner's neighbours on its outline ring (before, after).
    around: Vec<(Coord<f64>, Coord<f64>)>,
    legs: Vec<Vec<(u32, f64)>>,
}

impl Corners {
    /// Whether the line from `from` to corner `c` is tangent to the outline at `c`.
    fn tangent(&self, from: Coord<f64>, c: usize) -> bool {
        let (before, after) = self.around[c];
        let at = self.at[c];
        let side =
            |p: Coord<f64>| (at.x - from.x) * (p.y - from.y) - (at.y - from.y) * (p.x - from.x);
        side(before) * side(after) >= 0.0
    }
}

/// The zones to keep out of, ready for many path questions.
#[derive(Debug)]
pub struct Obstacles {
    frame: LocalFrame,
    parts: Vec<Part>,
    /// All parts' box.
    bbox: Option<Rect<f64>>,
    zones: usize,
    corners: OnceCell<Corners>,
}

/// One origin: which zones hold it and, once a path needs them, its distances to the corners.
#[derive(Debug)]
pub struct Departure {
    lonlat: Coord<f64>,
    at: Coord<f64>,
    /// `inside[z]`: zone `z` holds the origin (the first leg may cross it).
    inside: Vec<bool>,
    /// Over tangent first legs; over every first leg (when no tangent one is clear).
    reach: OnceCell<Reach>,
    reach_all: OnceCell<Reach>,
}

/// Dijkstra from one origin over the corners.
#[derive(Debug)]
struct Reach {
    dist: Vec<f64>,
    prev: Vec<u32>,
}

/// One target: the zone that holds it, if any, and once needed the corners it sees.
#[derive(Debug)]
pub struct Arrival {
    lonlat: Coord<f64>,
    at: Coord<f64>,
    inside: Option<usize>,
    /// Tangent last legs; every last leg (when no tangent one is clear).
    sight: OnceCell<Vec<(u32, f64)>>,
    sight_all: OnceCell<Vec<(u32, f64)>>,
}

/// A path in lon/lat and its length on the ellipsoid.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub coords: Vec<Coord<f64>>,
    pub metres: f64,
}

impl Path {
    /// The straight line: no zone was in the way.
    pub fn is_straight(&self) -> bool {
        self.coords.len() == 2
    }
}

/// Why no path exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// The target lies inside (or on the edge of) this zone.
    TargetInside(usize),
    /// Zones close every way round (the origin or the target is enclosed).
    Enclosed,
}

impl Departure {
    /// The zones that hold the origin.
    pub fn inside(&self) -> impl Iterator<Item = usize> + '_ {
        self.inside
            .iter()
            .enumerate()
            .filter_map(|(z, &inside)| inside.then_some(z))
    }
}

impl Obstacles {
    /// The zones, each a multipolygon in lon/lat (index = position).
    pub fn new<'z>(zones: impl IntoIterator<Item = &'z MultiPolygon<f64>>) -> Obstacles {
        let zones: Vec<&MultiPolygon<f64>> = zones.into_iter().collect();
        let centre = zones
            .iter()
            .filter_map(|z| z.bounding_rect())
            .reduce(cover)
            .map_or(Coord { x: 0.0, y: 0.0 }, |b| b.center());
        let frame = LocalFrame::at(centre);
        let parts: Vec<Part> = zones
            .iter()
            .enumerate()
            .flat_map(|(zone, shape)| {
                shape.0.iter().filter_map(move |p| {
                    let polygon = p.map_coords(|c| frame.to_local_coord(c));
                    let bbox = polygon.bounding_rect()?;
                    Some(Part {
                        polygon,
                        bbox,
                        zone,
                    })
                })
            })
            .collect();
        Obstacles {
            frame,
            bbox: parts.iter().map(|p| p.bbox).reduce(cover),
            parts,
            zones: zones.len(),
            corners: OnceCell::new(),
        }
    }

    /// Whether there is nothing to avoid.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The zones that hold `p` (its edge counts as inside).
    pub fn containing(&self, p: Coord<f64>) -> Vec<usize> {
        let at = self.frame.to_local_coord(p);
        let mut zones: Vec<usize> = self
            .parts
            .iter()
            .filter(|part| part.bbox.intersects(&at) && part.polygon.intersects(&at))
            .map(|part| part.zone)
            .collect();
        zones.dedup();
        zones
    }

    /// The zones the straight line from `a` to `b` enters.
    pub fn crossed(&self, a: Coord<f64>, b: Coord<f64>) -> Vec<usize> {
        let line = Line::new(self.frame.to_local_coord(a), self.frame.to_local_coord(b));
        let bbox = line.bounding_rect();
        let mut zones: Vec<usize> = self
            .parts
            .iter()
            .filter(|part| part.bbox.intersects(&bbox) && part.polygon.intersects(&line))
            .map(|part| part.zone)
            .collect();
        zones.dedup();
        zones
    }

    pub fn departure(&self, origin: Coord<f64>) -> Departure {
        let mut inside = vec![false; self.zones];
        for z in self.containing(origin) {
            inside[z] = true;
        }
        Departure {
            lonlat: origin,
            at: self.frame.to_local_coord(origin),
            inside,
            reach: OnceCell::new(),
            reach_all: OnceCell::new(),
        }
    }

    pub fn arrival(&self, target: Coord<f64>) -> Arrival {
        Arrival {
            lonlat: target,
            at: self.frame.to_local_coord(target),
            inside: self.containing(target).first().copied(),
            sight: OnceCell::new(),
            sight_all: OnceCell::new(),
        }
    }

    /// The shortest path from `from` to `to` that keeps out of every zone (but the ones `from`
    /// starts in, on its first leg).
    pub fn path(&self, from: &Departure, to: &Arrival) -> Result<Path, Blocked> {
        if let Some(zone) = to.inside {
            return Err(Blocked::TargetInside(zone));
        }
        if self.clear(from.at, to.at, &from.inside) {
            return Ok(Path {
                coords: vec![from.lonlat, to.lonlat],
                metres: metres(from.lonlat, to.lonlat),
            });
        }
        let corners = self.corners();
        let best = |reach: &Reach, sight: &[(u32, f64)]| {
            sight
                .iter()
                .map(|&(c, leg)| (c, reach.dist[c as usize] + leg))
                .filter(|(_, total)| total.is_finite())
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
                .map(|(c, _)| c)
        };
        let tangent = (
            from.reach.get_or_init(|| self.reach(from, corners, true)),
            to.sight.get_or_init(|| self.sight(to.at, corners, true)),
        );
        // An end in the clearance band may see no corner tangentially: then try every leg.
        let (reach, last) = match best(tangent.0, tangent.1) {
            Some(last) => (tangent.0, last),
            None => {
                let reach = from
                    .reach_all
                    .get_or_init(|| self.reach(from, corners, false));
                let sight = to
                    .sight_all
                    .get_or_init(|| self.sight(to.at, corners, false));
                (reach, best(reach, sight).ok_or(Blocked::Enclosed)?)
            }
        };
        let mut chain = vec![to.lonlat];
        let mut c = last;
        while c != FROM_ORIGIN {
            chain.push(self.frame.to_lonlat_coord(corners.at[c as usize]));
            c = reach.prev[c as usize];
        }
        chain.push(from.lonlat);
        chain.reverse();
        let metres = chain.windows(2).map(|w| metres(w[0], w[1])).sum();
        Ok(Path {
            coords: chain,
            metres,
        })
    }

    /// Whether the straight line is the path (no zone in the way, the target outside them).
    pub fn straight_is_clear(&self, from: &Departure, to: &Arrival) -> bool {
        to.inside.is_none() && self.clear(from.at, to.at, &from.inside)
    }

    /// Whether the leg from `a` to `b` (frame) enters no zone, but those `waived`.
    fn clear(&self, a: Coord<f64>, b: Coord<f64>, waived: &[bool]) -> bool {
        let line = Line::new(a, b);
        let bbox = line.bounding_rect();
        if !self.bbox.is_some_and(|all| all.intersects(&bbox)) {
            return true;
        }
        !self.parts.iter().any(|part| {
            !waived.get(part.zone).copied().unwrap_or(false)
                && part.bbox.intersects(&bbox)
                && part.polygon.intersects(&line)
        })
    }

    fn corners(&self) -> &Corners {
        self.corners.get_or_init(|| {
            // A zone too detailed to search round at the clearance is tried wider, then by its
            // convex hull: paths then keep farther out, never nearer.
            let (at, around) = [CLEARANCE_M, 4.0 * CLEARANCE_M]
                .into_iter()
                .map(|clearance| self.outline(clearance, false))
                .find(|(at, _)| at.len() <= MAX_CORNERS)
                .unwrap_or_else(|| self.outline(CLEARANCE_M, true));
            let corners = Corners {
                at,
                around,
                legs: Vec::new(),
            };
            let at = &corners.at;
            let none = vec![false; self.zones];
            let mut legs: Vec<Vec<(u32, f64)>> = vec![Vec::new(); at.len()];
            for i in 0..at.len() {
                for j in i + 1..at.len() {
                    if corners.tangent(at[i], j)
                        && corners.tangent(at[j], i)
                        && self.clear(at[i], at[j], &none)
                    {
                        let d = distance(at[i], at[j]);
                        legs[i].push((j as u32, d));
                        legs[j].push((i as u32, d));
                    }
                }
            }
            Corners { legs, ..corners }
        })
    }

    /// The corners of the zones' outline (or of their convex `hulls`) widened by `clearance`
    /// and thinned to within half of it, each with its neighbours on its ring.
    #[allow(clippy::type_complexity)]
    fn outline(
        &self,
        clearance: f64,
        hulls: bool,
    ) -> (Vec<Coord<f64>>, Vec<(Coord<f64>, Coord<f64>)>) {
        // Detail finer than the clearance only slows the widening down: thin it first.
        let shapes = MultiPolygon(
            self.parts
                .iter()
                .map(|p| match hulls {
                    true => p.polygon.convex_hull(),
                    false => p.polygon.simplify(clearance / 4.0),
                })
                .collect(),
        );
        let widened = shapes
            .buffer_with_style(BufferStyle::new(clearance).line_join(LineJoin::Miter(MITRE_LIMIT)));
        let mut at = Vec::new();
        let mut around = Vec::new();
        for polygon in &widened {
            let thinned = polygon.simplify(clearance / 2.0);
            for ring in std::iter::once(thinned.exterior()).chain(thinned.interiors()) {
                // Closed rings repeat the first corner last.
                let open = &ring.0[..ring.0.len().saturating_sub(1)];
                let n = open.len();
                if n < 3 {
                    continue;
                }
                for i in 0..n {
                    at.push(open[i]);
                    around.push((open[(i + n - 1) % n], open[(i + 1) % n]));
                }
            }
        }
        (at, around)
    }

    /// Dijkstra from the origin over the corners (dense: the graph is small and well linked),
    /// first legs to tangent corners only when `tangent`.
    fn reach(&self, from: &Departure, corners: &Corners, tangent: bool) -> Reach {
        let n = corners.at.len();
        let mut dist = vec![f64::INFINITY; n];
        let mut prev = vec![FROM_ORIGIN; n];
        let mut done = vec![false; n];
        for (c, &at) in corners.at.iter().enumerate() {
            if (!tangent || corners.tangent(from.at, c)) && self.clear(from.at, at, &from.inside) {
                dist[c] = distance(from.at, at);
            }
        }
        loop {
            let next = (0..n)
                .filter(|&c| !done[c] && dist[c].is_finite())
                .min_by(|&a, &b| dist[a].total_cmp(&dist[b]));
            let Some(c) = next else { break };
            done[c] = true;
            for &(to, leg) in &corners.legs[c] {
                let to = to as usize;
                if dist[c] + leg < dist[to] {
                    dist[to] = dist[c] + leg;
                    prev[to] = c as u32;
                }
            }
        }
        Reach { dist, prev }
    }

    /// The corners a target sees (tangent ones only when `tangent`), with the leg to each.
    fn sight(&self, at: Coord<f64>, corners: &Corners, tangent: bool) -> Vec<(u32, f64)> {
        let none = vec![false; self.zones];
        corners
            .at
            .iter()
            .enumerate()
            .filter(|&(i, &c)| (!tangent || corners.tangent(at, i)) && self.clear(c, at, &none))
            .map(|(c, &corner)| (c as u32, distance(corner, at)))
            .collect()
    }
}

/// The box covering both.
fn cover(a: Rect<f64>, b: Rect<f64>) -> Rect<f64> {
    Rect::new(
        Coord {
            x: a.min().x.min(b.min().x),
            y: a.min().y.min(b.min().y),
        },
        Coord {
            x: a.max().x.max(b.max().x),
            y: a.max().y.max(b.max().y),
        },
    )
}

fn distance(a: Coord<f64>, b: Coord<f64>) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Point};

    /// The frame the tests draw in: metres east and north of a point in Fengxian.
    fn frame() -> LocalFrame {
        LocalFrame::at(Coord {
            x: 121.46,
            y: 30.92,
        })
    }

    fn at(east: f64, north: f64) -> Coord<f64> {
        frame().to_lonlat(east, north)
    }

    /// An axis-aligned box, metres.
    fn square(west: f64, south: f64, east: f64, north: f64) -> MultiPolygon<f64> {
        let ring = vec![
            at(west, south),
            at(east, south),
            at(east, north),
            at(west, north),
            at(west, south),
        ];
        MultiPolygon(vec![Polygon::new(LineString(ring), vec![])])
    }

    /// Every leg of the path keeps out of every zone (checked with geo on lon/lat).
    fn keeps_out(path: &Path, zones: &[&MultiPolygon<f64>]) -> bool {
        path.coords
            .windows(2)
            .all(|w| zones.iter().all(|z| !z.intersects(&Line::new(w[0], w[1]))))
    }

    fn route(
        zones: &[&MultiPolygon<f64>],
        from: Coord<f64>,
        to: Coord<f64>,
    ) -> Result<Path, Blocked> {
        let obstacles = Obstacles::new(zones.iter().copied());
        obstacles.path(&obstacles.departure(from), &obstacles.arrival(to))
    }

    #[test]
    fn a_clear_straight_line_is_the_path_with_the_straight_distance() {
        let zone = square(-100.0, 200.0, 100.0, 400.0);
        let (a, b) = (at(-500.0, 0.0), at(500.0, 0.0));
        let path = route(&[&zone], a, b).expect("clear");
        assert_eq!(path.coords, vec![a, b]);
        assert_eq!(path.metres, metres(a, b));
        assert!(path.is_straight());
    }

    #[test]
    fn a_square_zone_in_the_way_is_walked_round_at_its_corners() {
        let zone = square(-100.0, -100.0, 100.0, 100.0);
        let path = route(&[&zone], at(-500.0, 0.0), at(500.0, 0.0)).expect("a way round");
        assert!(keeps_out(&path, &[&zone]), "{path:?}");
        // Round two corners of the square widened by the clearance (mitred: 110 m out):
        // 2 × √(390² + 110²) + 220.
        let expected = 2.0 * 390f64.hypot(110.0) + 220.0;
        assert_eq!(path.coords.len(), 4, "{path:?}");
        assert!(
            (path.metres - expected).abs() < 1.0,
            "{} vs {expected}",
            path.metres
        );
    }

    #[test]
    fn two_zones_forming_a_wall_are_walked_round_its_end() {
        // Two overlapping boxes make one wall 600 m long across the way.
        let north = square(-50.0, -10.0, 50.0, 300.0);
        let south = square(-50.0, -300.0, 50.0, 10.0);
        let path = route(&[&north, &south], at(-500.0, 0.0), at(500.0, 0.0)).expect("round");
        assert!(keeps_out(&path, &[&north, &south]), "{path:?}");
        // Round one end of the wall: 2 × √(440² + 310²) + 120.
        let expected = 2.0 * 440f64.hypot(310.0) + 120.0;
        assert!(
            (path.metres - expected).abs() < 1.0,
            "{} vs {expected}",
            path.metres
        );
        // With a gap between them, the way goes through the gap instead.
        let north = square(-50.0, 60.0, 50.0, 300.0);
        let south = square(-50.0, -300.0, 50.0, -60.0);
        let through = route(&[&north, &south], at(-500.0, 0.0), at(500.0, 0.0)).expect("gap");
        assert!(through.is_straight(), "{through:?}");
    }

    #[test]
    fn an_origin_inside_a_zone_walks_straight_out_and_round_the_other_zones() {
        let home = square(-700.0, -200.0, -300.0, 200.0);
        let wall = square(-100.0, -150.0, 100.0, 150.0);
        let obstacles = Obstacles::new([&home, &wall]);
        let from = obstacles.departure(at(-500.0, 0.0));
        assert_eq!(from.inside().collect::<Vec<_>>(), vec![0]);
        let path = obstacles
            .path(&from, &obstacles.arrival(at(500.0, 0.0)))
            .expect("out and round");
        // The first leg leaves the home zone and misses the wall; no later leg enters either.
        let first = Line::new(path.coords[0], path.coords[1]);
        assert!(!wall.intersects(&first), "{path:?}");
        let rest = Path {
            coords: path.coords[1..].to_vec(),
            metres: 0.0,
        };
        assert!(keeps_out(&rest, &[&home, &wall]), "{path:?}");
        // Round the wall's widened corner (±110, ±160): 2 × √(390² + 160²) + 220.
        let expected = 2.0 * 390f64.hypot(160.0) + 220.0;
        assert!(
            (path.metres - expected).abs() < 1.0,
            "{} vs {expected}",
            path.metres
        );
    }

    #[test]
    fn a_target_inside_a_zone_cannot_be_reached() {
        let zone = square(300.0, -100.0, 700.0, 100.0);
        assert_eq!(
            route(&[&zone], at(-500.0, 0.0), at(500.0, 0.0)),
            Err(Blocked::TargetInside(0))
        );
        // Its edge counts as inside.
        assert_eq!(
            route(&[&zone], at(-500.0, 0.0), at(300.0, 0.0)),
            Err(Blocked::TargetInside(0))
        );
    }

    #[test]
    fn an_origin_enclosed_by_a_ring_shaped_zone_has_no_way_out() {
        // A moat: the 400 m square minus a 200 m square hole, the origin in the hole.
        let outer = square(-400.0, -400.0, 400.0, 400.0).0.remove(0);
        let hole = square(-200.0, -200.0, 200.0, 200.0).0.remove(0);
        let moat = MultiPolygon(vec![Polygon::new(
            outer.exterior().clone(),
            vec![hole.exterior().clone()],
        )]);
        assert!(!moat.intersects(&Point(at(0.0, 0.0))));
        assert_eq!(
            route(&[&moat], at(0.0, 0.0), at(900.0, 0.0)),
            Err(Blocked::Enclosed)
        );
        // Within the hole, people can still reach a shelter in the hole.
        let inside = route(&[&moat], at(0.0, 0.0), at(100.0, 100.0)).expect("in the hole");
        assert!(inside.is_straight());
    }

    #[test]
    fn ends_within_the_clearance_of_a_zone_still_find_their_way() {
        // 4 m from the square's west and east sides: inside the widened outline, so no corner
        // is tangent from there; every corner is tried instead.
        let zone = square(-100.0, -100.0, 100.0, 100.0);
        let path = route(&[&zone], at(-104.0, 0.0), at(104.0, 0.0)).expect("round");
        assert!(keeps_out(&path, &[&zone]), "{path:?}");
        // Out to a widened corner and along the side: 2 × √(6² + 110²) + 220.
        let expected = 2.0 * 6f64.hypot(110.0) + 220.0;
        assert!(
            (path.metres - expected).abs() < 1.0,
            "{} vs {expected}",
            path.metres
        );
    }

    #[test]
    fn a_zone_too_detailed_to_search_round_is_widened_until_its_teeth_merge() {
        // A 2 km circle with 1,000 teeth ±30 m deep: a thousand corners at 10 m clearance.
        let ring: Vec<Coord<f64>> = (0..=1000)
            .map(|i| {
                let a = std::f64::consts::TAU * f64::from(i % 1000) / 1000.0;
                let r = 2000.0 + if i % 2 == 0 { 30.0 } else { -30.0 };
                at(r * a.cos(), r * a.sin())
            })
            .collect();
        let zone = MultiPolygon(vec![Polygon::new(LineString(ring), vec![])]);
        let obstacles = Obstacles::new([&zone]);
        let (from, to) = (at(-3000.0, 0.0), at(3000.0, 0.0));
        let path = obstacles
            .path(&obstacles.departure(from), &obstacles.arrival(to))
            .expect("round");
        assert!(obstacles.corners().at.len() <= MAX_CORNERS);
        assert!(keeps_out(&path, &[&zone]), "{path:?}");
        // Round a circle of radius R = 2030 m (plus up to 40 m of clearance), from 3 km out:
        // 2√(3000² − R²) + R(π − 2 acos(R/3000)) ≈ 7.43 km.
        let r: f64 = 2030.0;
        let round = 2.0 * (3000f64.powi(2) - r * r).sqrt()
            + r * (std::f64::consts::PI - 2.0 * (r / 3000.0).acos());
        assert!(
            path.metres > round - 1.0 && path.metres < round * 1.02,
            "{} vs {round}",
            path.metres
        );
    }

    #[test]
    fn many_targets_share_one_origin_and_one_corner_graph() {
        let zone = square(-100.0, -100.0, 100.0, 100.0);
        let obstacles = Obstacles::new([&zone]);
        let from = obstacles.departure(at(-500.0, 0.0));
        for north in [-300.0, -50.0, 0.0, 50.0, 300.0] {
            let to = obstacles.arrival(at(500.0, north));
            let path = obstacles.path(&from, &to).expect("round or straight");
            assert!(keeps_out(&path, &[&zone]), "{path:?}");
            assert!(path.metres >= metres(at(-500.0, 0.0), at(500.0, north)) - 1e-6);
        }
    }
}
