//! Shelter allocation: where to send the people of a point or of an area, filling the nearest
//! open shelters with room, never above their free capacity, along paths that never enter an
//! exclusion zone.
//!
//! Each (group, shelter) pair walks a path: the straight line when it touches no exclusion
//! zone, else the shortest way round the zones ([`crate::spatial::detour`]); a pair with no
//! way round (the shelter enclosed, the group boxed in) or whose way round is longer than the
//! reach is not used, and the plan says why ([`Blocked`]). People who start inside a zone —
//! the very people being evacuated from a leak's protective action zone — walk straight out
//! of it on their first leg and never enter another zone or walk back in.
//!
//! Walking distance is estimated as the path's length on the ellipsoid times a detour factor
//! (default [`DEFAULT_DETOUR_FACTOR`], the usual ratio of road to crow-flies distance on a
//! rural-suburban network like Fengxian's). The factor is the same for every pair, so it
//! changes `walking_m` and what `max_walking_m` reaches, not the order. gridlink has no
//! routable road graph, so this is an estimate and is labelled so.
//!
//! The plan is greedy over (group of people, shelter) pairs in order of walking distance along
//! their paths: the nearest pair anywhere is filled first, as far as both the group's remaining
//! people and the shelter's free places allow, then the next nearest. For one point this is
//! exactly "the nearest shelters in turn, each filled up"; for an area of several villages it
//! gives every village its nearest room before anyone walks past a nearer shelter, and no
//! shelter is ever given more than it has free (the test checks both).
//!
//! Paths are found lazily: pairs are taken in order of their straight-line distance, which no
//! path undercuts; a pair whose straight line is blocked is routed when its turn comes and goes
//! back in line at its path's length. Pairs the plan never reaches (their group already placed,
//! their shelter already full) are never routed.
//!
//! A plan only reads the live occupancy it is given; the shelters room commits one.

use super::occupancy::{Live, ShelterError, ShelterStatus};
use crate::catalog::Role;
use crate::spatial::detour::{self, Arrival, Departure, Obstacles};
use crate::spatial::index::metres_to;
use crate::spatial::{GeometryRef, Layer, LayerStore, PropertyValue};
use geo::{
    Area, BooleanOps, BoundingRect, Centroid, Contains, Coord, InteriorPoint, Intersects,
    LineString, MultiPolygon, Point, Polygon, Rect,
};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Walking distance ≈ path length × this, unless the request says otherwise.
pub const DEFAULT_DETOUR_FACTOR: f64 = 1.3;
/// Largest detour factor a request may give (a factor of 3 already means no road goes there).
pub const MAX_DETOUR_FACTOR: f64 = 3.0;
/// Largest headcount one request may place (about ten times the district's population).
pub const MAX_PEOPLE: i64 = 10_000_000;
/// Most polygons an `area` or `exclude` may hold.
pub const MAX_POLYGONS: usize = 1000;
/// Most polygons the `exclude` zones may hold: paths round them cost the square of their
/// corners (a leak's two zones have under a hundred corners; a flood outline a few hundred).
pub const MAX_ZONE_POLYGONS: usize = 100;
/// Most vertices the `exclude` zones may hold in all.
pub const MAX_ZONE_VERTICES: usize = 5_000;

/// A group of people walking from one place.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    /// Where they walk from.
    pub origin: Coord<f64>,
    pub people: i64,
    /// Their village (index into the village layer), for area requests.
    pub village: Option<usize>,
    /// Unit grid cells counted into this group (0 when the count came from a village).
    pub cells: usize,
}

/// A zone no one may be sent into (a leak's hazard zone, a flooded area).
#[derive(Debug, Clone)]
pub struct Zone {
    /// The zone's name: the feature's `name`, `zone` or id, or its position in the request.
    pub label: String,
    pub shape: MultiPolygon<f64>,
    bbox: Option<Rect<f64>>,
}

impl Zone {
    pub fn new(label: impl Into<String>, shape: MultiPolygon<f64>) -> Zone {
        Zone {
            label: label.into(),
            bbox: shape.bounding_rect(),
            shape,
        }
    }

    /// Whether the geometry touches the zone (its border counts as inside).
    pub fn covers(&self, geometry: GeometryRef<'_>) -> bool {
        let Some(bbox) = self.bbox else {
            return false;
        };
        match geometry {
            GeometryRef::Point(c) => bbox.intersects(&Point(c)) && self.shape.intersects(&Point(c)),
            other => {
                other.bounding_rect().is_some_and(|r| r.intersects(&bbox))
                    && self.shape.intersects(&other.to_geo())
            }
        }
    }
}

/// What to plan.
#[derive(Debug, Clone)]
pub struct Request {
    pub demands: Vec<Demand>,
    pub exclude: Vec<Zone>,
    pub detour_factor: f64,
    /// Farthest estimated walk to a shelter; `None`: any distance.
    pub max_walking_m: Option<f64>,
}

/// Why a shelter was passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Inside an exclusion zone (index into the request's zones).
    Excluded(usize),
    Closed,
    /// Declared full by its manager.
    MarkedFull,
    /// Open, but every place is taken.
    NoFreeCapacity,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Excluded(_) => "excluded",
            SkipReason::Closed => "closed",
            SkipReason::MarkedFull => "full",
            SkipReason::NoFreeCapacity => "no_free_capacity",
        }
    }
}

/// Why a group was not sent to a shelter it could otherwise use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockReason {
    /// No path keeps out of the zones: they enclose the group or the shelter.
    PathBlocked,
    /// The way round the zones is longer than the reach (the straight line was within it).
    PathTooLong,
}

impl BlockReason {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::PathBlocked => "path_blocked",
            BlockReason::PathTooLong => "path_too_long",
        }
    }
}

/// People of one group sent to one shelter.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Index into the request's demands.
    pub demand: usize,
    /// Feature index in the shelter layer.
    pub shelter: usize,
    /// Straight line, group to shelter.
    pub distance_m: f64,
    /// The way they walk, lon/lat: the straight line, or round the exclusion zones.
    pub path: Vec<Coord<f64>>,
    /// Its length (equal to `distance_m` when straight).
    pub path_m: f64,
    /// `path_m` × the detour factor.
    pub walking_m: f64,
    pub people: i64,
    /// The shelter's free places just before and after this assignment.
    pub free_before: i64,
    pub free_after: i64,
}

/// A shelter passed over, nearer than (or, when people are left over, within reach of) the
/// shelters used: what a duty officer would ask about ("why not the school next door?").
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub shelter: usize,
    /// To the nearest group of people.
    pub distance_m: f64,
    pub walking_m: f64,
    pub reason: SkipReason,
}

/// A (group, shelter) pair the plan would have used but for the zones in the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocked {
    pub demand: usize,
    pub shelter: usize,
    /// Straight line.
    pub distance_m: f64,
    /// The way round, when there is one (too long).
    pub path_m: Option<f64>,
    /// The zones the straight line crosses (indexes into the request's zones).
    pub zones: Vec<usize>,
    pub reason: BlockReason,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// People asked for.
    pub people: i64,
    pub placed: i64,
    /// People no shelter within reach could take.
    pub unplaced: i64,
    /// In the order they were made: by walking distance.
    pub assignments: Vec<Assignment>,
    /// Nearest first.
    pub skipped: Vec<Skipped>,
    /// Pairs not used because no path within reach keeps out of the zones, nearest first.
    pub blocked: Vec<Blocked>,
    /// People placed per demand, in the request's order.
    pub placed_by_demand: Vec<i64>,
    /// Per demand, the exclusion zones its origin lies in (it walks straight out of them).
    pub leaving: Vec<Vec<usize>>,
    /// Shelters that could take people (open, with room, outside every zone, reached by some
    /// group's path within reach).
    pub usable_shelters: usize,
    /// Their free places in all.
    pub usable_free: i64,
}

/// A pair in line for the greedy fill: by walking distance, then group, then shelter id.
struct Pair {
    walking: f64,
    demand: usize,
    /// Rank of the shelter's id among the candidates, for reproducible ties.
    rank: usize,
    shelter: usize,
    /// Straight line, metres.
    metres: f64,
    /// The routed path: `None` while `walking` is the straight-line bound.
    path: Option<detour::Path>,
}

impl Pair {
    fn key(&self) -> (f64, usize, usize) {
        (self.walking, self.demand, self.rank)
    }
}

impl PartialEq for Pair {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pair {}

impl PartialOrd for Pair {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pair {
    /// Reversed, so `BinaryHeap` pops the nearest pair first.
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.key(), other.key());
        b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2))
    }
}

/// Where a shelter's people arrive: its point, or a point inside an area shelter.
fn target(geometry: GeometryRef<'_>) -> Option<Coord<f64>> {
    geometry
        .to_geo_point()
        .or_else(|| geometry.to_geo().interior_point().map(|p| p.0))
}

/// Plans the request against the shelter layer as it stands in `live`.
pub fn plan(layer: &Layer, live: &Live, request: &Request) -> Plan {
    let detour = request.detour_factor;
    let reach = request.max_walking_m.unwrap_or(f64::INFINITY);
    let obstacles = Obstacles::new(request.exclude.iter().map(|z| &z.shape));
    let departures: Vec<Departure> = request
        .demands
        .iter()
        .map(|d| obstacles.departure(d.origin))
        .collect();
    let mut arrivals: Vec<Option<Arrival>> = (0..layer.len()).map(|_| None).collect();
    let mut free: Vec<i64> = vec![0; layer.len()];
    let mut pairs: Vec<Pair> = Vec::new();
    let mut passed: Vec<(usize, SkipReason, f64)> = Vec::new();
    let mut candidates: Vec<usize> = Vec::new();
    // Per shelter, the groups whose straight line is within reach.
    let mut within: Vec<Vec<usize>> = vec![Vec::new(); layer.len()];
    for (s, slot) in free.iter_mut().enumerate() {
        let Some(view) = live.view(layer, s) else {
            continue;
        };
        let geometry = layer.geometry(s);
        let distances: Vec<f64> = request
            .demands
            .iter()
            .map(|d| metres_to(d.origin, geometry))
            .collect();
        let nearest = distances.iter().copied().fold(f64::INFINITY, f64::min);
        let reason = if let Some(z) = request.exclude.iter().position(|z| z.covers(geometry)) {
            Some(SkipReason::Excluded(z))
        } else {
            match view.status {
                ShelterStatus::Closed => Some(SkipReason::Closed),
                ShelterStatus::Full => Some(SkipReason::MarkedFull),
                ShelterStatus::Open if view.free() == 0 => Some(SkipReason::NoFreeCapacity),
                ShelterStatus::Open => None,
            }
        };
        if let Some(reason) = reason {
            passed.push((s, reason, nearest));
            continue;
        }
        let Some(to) = target(geometry) else {
            continue;
        };
        let mut reachable = false;
        for (d, &metres) in distances.iter().enumerate() {
            let walking = metres * detour;
            if walking <= reach && request.demands[d].people > 0 {
                pairs.push(Pair {
                    walking,
                    demand: d,
                    rank: 0,
                    shelter: s,
                    metres,
                    path: None,
                });
                within[s].push(d);
                reachable = true;
            }
        }
        if reachable {
            *slot = view.free();
            arrivals[s] = Some(obstacles.arrival(to));
            candidates.push(s);
        }
    }
    // Ties by group, then by shelter id, so plans are reproducible.
    candidates.sort_by(|&a, &b| layer.id(a).cmp(layer.id(b)));
    let mut rank = vec![0; layer.len()];
    for (r, &s) in candidates.iter().enumerate() {
        rank[s] = r;
    }
    for pair in &mut pairs {
        pair.rank = rank[pair.shelter];
    }
    let targets: Vec<Option<Coord<f64>>> = (0..layer.len())
        .map(|s| arrivals[s].as_ref().and_then(|_| target(layer.geometry(s))))
        .collect();
    let route = |d: usize, s: usize| -> Result<detour::Path, detour::Blocked> {
        match &arrivals[s] {
            Some(to) => obstacles.path(&departures[d], to),
            None => Err(detour::Blocked::Enclosed),
        }
    };
    let block = |d: usize, s: usize, metres: f64, path_m: Option<f64>, reason| Blocked {
        demand: d,
        shelter: s,
        distance_m: metres,
        path_m,
        zones: targets[s].map_or_else(Vec::new, |to| {
            obstacles.crossed(request.demands[d].origin, to)
        }),
        reason,
    };
    let mut queue = BinaryHeap::from(pairs);
    let mut remaining: Vec<i64> = request.demands.iter().map(|d| d.people.max(0)).collect();
    let mut assignments = Vec::new();
    let mut blocked = Vec::new();
    let mut left: i64 = remaining.iter().sum();
    while let Some(mut pair) = queue.pop() {
        if left == 0 {
            break;
        }
        let (d, s) = (pair.demand, pair.shelter);
        if remaining[d] == 0 || free[s] == 0 {
            continue;
        }
        let path = match pair.path.take() {
            Some(path) => path,
            // Its turn on the straight-line bound: the straight line is still the nearest
            // pair; a way round goes back in line at its own length.
            None => match route(d, s) {
                Ok(path) if path.is_straight() => path,
                Ok(path) => {
                    let walking = path.metres * detour;
                    if walking <= reach {
                        pair.walking = walking;
                        pair.path = Some(path);
                        queue.push(pair);
                    } else {
                        blocked.push(block(
                            d,
                            s,
                            pair.metres,
                            Some(path.metres),
                            BlockReason::PathTooLong,
                        ));
                    }
                    continue;
                }
                Err(_) => {
                    blocked.push(block(d, s, pair.metres, None, BlockReason::PathBlocked));
                    continue;
                }
            },
        };
        let take = remaining[d].min(free[s]);
        assignments.push(Assignment {
            demand: d,
            shelter: s,
            distance_m: pair.metres,
            path_m: path.metres,
            path: path.coords,
            walking_m: pair.walking,
            people: take,
            free_before: free[s],
            free_after: free[s] - take,
        });
        remaining[d] -= take;
        free[s] -= take;
        left -= take;
    }
    // Usable: a shelter some group reaches by a path within reach — used, or a clear straight
    // line (cheap), or else a way round.
    let mut usable_shelters = 0;
    let mut usable_free = 0;
    let mut used = vec![false; layer.len()];
    for a in &assignments {
        used[a.shelter] = true;
    }
    for &s in &candidates {
        let Some(to) = &arrivals[s] else { continue };
        let groups = &within[s];
        let reached = used[s]
            || groups
                .iter()
                .any(|&d| obstacles.straight_is_clear(&departures[d], to))
            || groups
                .iter()
                .any(|&d| route(d, s).is_ok_and(|path| path.metres * detour <= reach));
        if reached {
            usable_shelters += 1;
            usable_free += live.free_places(layer, s).unwrap_or(0);
        }
    }
    let people: i64 = request.demands.iter().map(|d| d.people.max(0)).sum();
    let placed = people - left;
    let mut placed_by_demand = vec![0; request.demands.len()];
    for a in &assignments {
        placed_by_demand[a.demand] += a.people;
    }
    // Passed-over shelters worth explaining: those nearer than the farthest shelter used, or,
    // when people are left over, every one within reach.
    let horizon = if left > 0 {
        reach
    } else {
        assignments.iter().map(|a| a.walking_m).fold(0.0, f64::max)
    };
    let mut skipped: Vec<Skipped> = passed
        .into_iter()
        .filter(|&(_, _, metres)| metres * detour <= horizon)
        .map(|(shelter, reason, metres)| Skipped {
            shelter,
            distance_m: metres,
            walking_m: metres * detour,
            reason,
        })
        .collect();
    skipped.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then_with(|| layer.id(a.shelter).cmp(layer.id(b.shelter)))
    });
    // Blocked pairs come up in line before the farthest assignment, so all are worth telling.
    blocked.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then(a.demand.cmp(&b.demand))
            .then_with(|| layer.id(a.shelter).cmp(layer.id(b.shelter)))
    });
    Plan {
        people,
        placed,
        unplaced: left,
        assignments,
        skipped,
        blocked,
        placed_by_demand,
        leaving: departures.iter().map(|d| d.inside().collect()).collect(),
        usable_shelters,
        usable_free,
    }
}

/// How the people of an area are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The people living inside the area: every unit grid cell whose centre lies in it, with
    /// the cell's population, grouped by village (each village walks from the
    /// population-weighted centre of its covered cells). Cells are about 1.5 ha, so this
    /// follows the area's edge closely and knows where people live inside a village — a leak
    /// zone over an industrial park does not evacuate the homes across the village. Without
    /// cell populations, each village's population is pro-rated by the share of its area
    /// covered, walking from the centre of the covered part.
    Covered,
    /// Whole villages: every village the area overlaps, with its full population, walking
    /// from the village's centre — for orders that name villages ("evacuate 金明村").
    Villages,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "covered" => Some(Scope::Covered),
            "villages" => Some(Scope::Villages),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Covered => "covered",
            Scope::Villages => "villages",
        }
    }
}

/// The people of an area, and how they were counted.
#[derive(Debug, Clone)]
pub struct AreaPeople {
    pub demands: Vec<Demand>,
    /// `grid_cells`, `villages_pro_rata` or `whole_villages`.
    pub basis: &'static str,
}

fn population(layer: &Layer, i: usize, field: usize) -> i64 {
    match layer.value(i, field) {
        PropertyValue::Integer(n) => n.max(0),
        PropertyValue::Number(x) if x.is_finite() => x.max(0.0).round() as i64,
        _ => 0,
    }
}

/// The people to shelter from an area, grouped by village.
pub fn people_in_area(
    store: &LayerStore,
    area: &MultiPolygon<f64>,
    scope: Scope,
) -> Result<AreaPeople, ShelterError> {
    let villages = store
        .by_role(Role::Village)
        .ok_or(ShelterError::MissingLayer("village"))?;
    let Some(bbox) = area.bounding_rect() else {
        return Ok(AreaPeople {
            demands: Vec::new(),
            basis: "grid_cells",
        });
    };
    let village_population = villages.def.field_index("population");
    if scope == Scope::Covered {
        let cells = store.by_role(Role::GridCell);
        let field = cells.and_then(|c| c.def.field_index("population"));
        if let (Some(cells), Some(field), Some(grid)) = (cells, field, store.grid.as_ref()) {
            return Ok(AreaPeople {
                demands: covered_cells(cells, field, grid, area, bbox),
                basis: "grid_cells",
            });
        }
    }
    let field = village_population.ok_or(ShelterError::MissingLayer(
        "village layer with a population field, or unit grid",
    ))?;
    let mut candidates = villages.index().intersecting(bbox);
    candidates.sort_unstable();
    let mut demands = Vec::new();
    for v in candidates {
        let v = v as usize;
        let GeometryRef::Polygons(shape) = villages.geometry(v) else {
            continue;
        };
        if !shape.intersects(area) {
            continue;
        }
        let overlap = shape.intersection(area);
        let covered = overlap.unsigned_area();
        let whole = shape.unsigned_area();
        // Touching at the border only is no overlap.
        if covered <= 0.0 || whole <= 0.0 {
            continue;
        }
        let all = population(villages, v, field);
        let (people, origin) = match scope {
            Scope::Villages => (all, shape.centroid()),
            Scope::Covered => (
                (all as f64 * (covered / whole).min(1.0)).round() as i64,
                overlap.centroid(),
            ),
        };
        let Some(origin) = origin else { continue };
        if people > 0 {
            demands.push(Demand {
                origin: origin.0,
                people,
                village: Some(v),
                cells: 0,
            });
        }
    }
    Ok(AreaPeople {
        demands,
        basis: match scope {
            Scope::Villages => "whole_villages",
            Scope::Covered => "villages_pro_rata",
        },
    })
}

fn covered_cells(
    cells: &Layer,
    field: usize,
    grid: &crate::spatial::grid::Grid,
    area: &MultiPolygon<f64>,
    bbox: Rect<f64>,
) -> Vec<Demand> {
    // Per village: people, Σ people·x, Σ people·y, cells.
    let mut groups: std::collections::BTreeMap<u32, (i64, f64, f64, usize)> = Default::default();
    for c in cells.index().intersecting(bbox) {
        let c = c as usize;
        let GeometryRef::Polygons(shape) = cells.geometry(c) else {
            continue;
        };
        let Some(centre) = shape.centroid() else {
            continue;
        };
        if !area.contains(&centre) {
            continue;
        }
        let people = population(cells, c, field);
        if people == 0 {
            continue;
        }
        let village = grid
            .cell_village
            .get(c)
            .copied()
            .unwrap_or(crate::spatial::grid::NONE);
        let g = groups.entry(village).or_default();
        g.0 += people;
        g.1 += people as f64 * centre.x();
        g.2 += people as f64 * centre.y();
        g.3 += 1;
    }
    groups
        .into_iter()
        .map(|(village, (people, sx, sy, n))| Demand {
            origin: Coord {
                x: sx / people as f64,
                y: sy / people as f64,
            },
            people,
            village: (village != crate::spatial::grid::NONE).then_some(village as usize),
            cells: n,
        })
        .collect()
}

/// Exclusion zones from GeoJSON (see [`polygons_from_geojson`]), at most
/// [`MAX_ZONE_POLYGONS`] polygons and [`MAX_ZONE_VERTICES`] vertices in all.
pub fn exclusion_zones(value: &Value, field: &str) -> Result<Vec<Zone>, ShelterError> {
    let zones = polygons_from_geojson(value, field)?;
    let polygons: usize = zones.iter().map(|(_, shape)| shape.0.len()).sum();
    if polygons > MAX_ZONE_POLYGONS {
        return Err(ShelterError::invalid(
            field,
            format!("at most {MAX_ZONE_POLYGONS} polygons, got {polygons}; merge the zones"),
        ));
    }
    let vertices: usize = zones
        .iter()
        .map(|(_, shape)| geo::CoordsIter::coords_count(shape))
        .sum();
    if vertices > MAX_ZONE_VERTICES {
        return Err(ShelterError::invalid(
            field,
            format!(
                "at most {MAX_ZONE_VERTICES} vertices in all, got {vertices}; simplify the zones"
            ),
        ));
    }
    Ok(zones
        .into_iter()
        .map(|(label, shape)| Zone::new(label, shape))
        .collect())
}

/// GeoJSON polygons as the request gave them: a Polygon or MultiPolygon geometry, a Feature
/// with one, or a FeatureCollection of them (features of other geometry types — a leak's
/// source point, say — are left out). Each comes with a label: the feature's `name`, `zone`,
/// `level` or id, else its position. `field` names the request member in errors.
pub fn polygons_from_geojson(
    value: &Value,
    field: &str,
) -> Result<Vec<(String, MultiPolygon<f64>)>, ShelterError> {
    let kind = value.get("type").and_then(Value::as_str).ok_or_else(|| {
        ShelterError::invalid(
            field,
            format!("{field} must be a GeoJSON object with a type"),
        )
    })?;
    let mut out = Vec::new();
    match kind {
        "FeatureCollection" => {
            let features = value
                .get("features")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    ShelterError::invalid(
                        &format!("{field}.features"),
                        "a FeatureCollection needs a features array",
                    )
                })?;
            for (n, feature) in features.iter().enumerate() {
                let at = format!("{field}.features[{n}]");
                if let Some(shape) = feature_polygons(feature, &at, false)? {
                    out.push((label(feature, n), shape));
                }
            }
        }
        "Feature" => {
            if let Some(shape) = feature_polygons(value, field, true)? {
                out.push((label(value, 0), shape));
            }
        }
        _ => out.push((field.to_string(), geometry_polygons(value, field)?)),
    }
    if out.len() > MAX_POLYGONS {
        return Err(ShelterError::invalid(
            field,
            format!("at most {MAX_POLYGONS} polygons"),
        ));
    }
    Ok(out)
}

fn label(feature: &Value, n: usize) -> String {
    let properties = feature.get("properties");
    for key in ["name", "zone", "level", "code"] {
        if let Some(text) = properties
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
        {
            return text.to_string();
        }
    }
    match feature.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(x)) => x.to_string(),
        _ => format!("zone {}", n + 1),
    }
}

/// A feature's polygons; `None` for a feature of another geometry type unless `required`.
fn feature_polygons(
    feature: &Value,
    field: &str,
    required: bool,
) -> Result<Option<MultiPolygon<f64>>, ShelterError> {
    if feature.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err(ShelterError::invalid(field, "expected a GeoJSON Feature"));
    }
    let at = format!("{field}.geometry");
    let geometry = feature
        .get("geometry")
        .filter(|g| !g.is_null())
        .ok_or_else(|| ShelterError::invalid(&at, "the feature has no geometry"))?;
    match geometry.get("type").and_then(Value::as_str) {
        Some("Polygon" | "MultiPolygon") => Ok(Some(geometry_polygons(geometry, &at)?)),
        _ if !required => Ok(None),
        other => Err(ShelterError::invalid(
            &at,
            format!(
                "expected a Polygon or MultiPolygon, got {}",
                other.unwrap_or("no type")
            ),
        )),
    }
}

/// A Polygon or MultiPolygon geometry, checked: finite lon/lat in range, closed rings of at
/// least four positions.
pub fn geometry_polygons(value: &Value, field: &str) -> Result<MultiPolygon<f64>, ShelterError> {
    let coordinates = value.get("coordinates").ok_or_else(|| {
        ShelterError::invalid(
            &format!("{field}.coordinates"),
            "the geometry has no coordinates",
        )
    })?;
    let at = format!("{field}.coordinates");
    match value.get("type").and_then(Value::as_str) {
        Some("Polygon") => Ok(MultiPolygon(vec![polygon(coordinates, &at)?])),
        Some("MultiPolygon") => {
            let parts = coordinates
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| ShelterError::invalid(&at, "a MultiPolygon needs polygons"))?;
            parts
                .iter()
                .enumerate()
                .map(|(n, p)| polygon(p, &format!("{at}[{n}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(MultiPolygon)
        }
        other => Err(ShelterError::invalid(
            field,
            format!(
                "expected a GeoJSON Polygon or MultiPolygon, got {}",
                other.unwrap_or("no type")
            ),
        )),
    }
}

fn polygon(value: &Value, field: &str) -> Result<Polygon<f64>, ShelterError> {
    let rings = value
        .as_array()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ShelterError::invalid(field, "a polygon is an array of rings"))?;
    let mut rings = rings
        .iter()
        .enumerate()
        .map(|(n, r)| ring(r, &format!("{field}[{n}]")))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    let exterior = rings.next().unwrap_or_else(|| LineString(Vec::new()));
    Ok(Polygon::new(exterior, rings.collect()))
}

fn ring(value: &Value, field: &str) -> Result<LineString<f64>, ShelterError> {
    let positions = value
        .as_array()
        .ok_or_else(|| ShelterError::invalid(field, "a ring is an array of positions"))?;
    let mut coords = Vec::with_capacity(positions.len());
    for (n, position) in positions.iter().enumerate() {
        let xy = position.as_array().map(|p| {
            (
                p.first().and_then(Value::as_f64),
                p.get(1).and_then(Value::as_f64),
            )
        });
        let Some((Some(x), Some(y))) = xy else {
            return Err(ShelterError::invalid(
                &format!("{field}[{n}]"),
                "a position is [lon, lat]",
            ));
        };
        if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
            return Err(ShelterError::invalid(
                &format!("{field}[{n}]"),
                format!("[{x}, {y}] is not a WGS84 lon/lat position"),
            ));
        }
        coords.push(Coord { x, y });
    }
    if coords.len() < 4 || coords.first() != coords.last() {
        return Err(ShelterError::invalid(
            field,
            "a ring needs at least four positions, the last equal to the first",
        ));
    }
    Ok(LineString(coords))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn geojson_polygons_are_checked_and_labelled() {
        let square = json!([[[121.0, 30.0], [121.1, 30.0], [121.1, 30.1], [121.0, 30.0]]]);
        let fc = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"name": "红区"}, "geometry": {"type": "Polygon", "coordinates": square}},
            {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [121.0, 30.0]}},
        ]});
        let zones = polygons_from_geojson(&fc, "exclude").expect("valid");
        assert_eq!(zones.len(), 1);
        assert_eq!(zones[0].0, "红区");
        let open_ring = json!({"type": "Polygon", "coordinates": [[[121.0, 30.0], [121.1, 30.0], [121.1, 30.1]]]});
        match polygons_from_geojson(&open_ring, "area") {
            Err(ShelterError::Invalid { field, .. }) => assert_eq!(field, "area.coordinates[0]"),
            other => panic!("{other:?}"),
        }
        let bad = json!({"type": "Polygon", "coordinates": [[[200.0, 30.0], [121.1, 30.0], [121.1, 30.1], [200.0, 30.0]]]});
        assert!(polygons_from_geojson(&bad, "area").is_err());
        assert!(
            polygons_from_geojson(&json!({"type": "Point", "coordinates": [1, 2]}), "area")
                .is_err()
        );
    }
}
