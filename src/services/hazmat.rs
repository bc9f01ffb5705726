//! Leak zones of a hazardous-chemical release and who and what lies in them.
//!
//! # The zone model
//!
//! The zones follow the Emergency Response Guidebook (ERG) as the first responders use it, with
//! the distances from `data/chemicals.toml` (see [`crate::catalog::Erg`]):
//!
//! - **Initial isolation zone**: a circle around the spill whose radius is the initial isolation
//!   distance, in all directions. It is drawn as a 72-gon *circumscribing* the circle, so the
//!   polygon always covers the whole circle (a few metres too much at most, never too little).
//! - **Protective action zone**: downwind of the spill. The ERG says that "for practical
//!   purposes the Protective Action Zone is a square whose length and width are the same as the
//!   downwind distance"; its figure puts the spill at the middle of the square's upwind edge.
//!   So the zone is the square reaching from the spill `D` metres downwind and `D/2` to either
//!   side of the wind axis, `D` being the protective action distance for the spill size and time
//!   of day. The wind direction is meteorological: the direction the wind blows *from*, degrees
//!   clockwise from north; the zone lies on the opposite side (wind from the north → zone to the
//!   south).
//! - **Low wind** (below [`LOW_WIND_MS`]): the ERG notes that protective action distances may be
//!   larger in light winds and that a plume then meanders. The table gives no factor to lengthen
//!   them by, so the distance is kept, but the direction is treated as uncertain by
//!   ±[`LOW_WIND_SPREAD_DEG`]: the zone is the convex hull of the square turned by −30°, 0° and
//!   +30°. Below [`CALM_WIND_MS`] there is no usable direction at all and the protective distance
//!   applies in every direction (a circle of radius `D`). Each case is named in the answer.
//! - Night distances are used when the caller says it is night; the ERG's night distances are
//!   the longer ones because inversions keep the cloud near the ground.
//! - A material not in ERG Table 1 (methanol, benzene, LPG…) has only its orange guide's advice:
//!   isolate N m all round, and for a large spill consider an initial downwind evacuation of M m.
//!   The downwind zone is then the same square with `D = M`; a small spill has no downwind zone.
//!
//! Polygons are built in a local metric frame at the spill ([`LocalFrame`]: east/north metres
//! from the radii of curvature there), which at district scale is exact to well under a metre,
//! and mapped back to lon/lat by the same affine transform, so they stay convex in lon/lat too.
//!
//! # What is listed
//!
//! Everything intersecting either zone (touching the boundary counts: near the edge it is better
//! to warn too many than too few): protected targets with headcount, other hazard sources,
//! villages with population, unit grid cells (count and codes), shelters (which must not be used
//! while the zone stands), cameras; and the nearest open shelters with room that lie outside both
//! zones, nearest first, each marked upwind or not.

use super::locate::{DEFAULT_TOLERANCE_M, Location, locate};
use super::nearest::{Filter, Query, nearest};
use super::occupancy::Live;
use super::{ServiceError, Viewer};
use crate::catalog::{AppliedDistances, Chemical, CodeTables, Erg, Role, Spill, TimeOfDay};
pub use crate::spatial::distance::LocalFrame;
use crate::spatial::index::metres_to;
use crate::spatial::{GeometryRef, Layer, LayerStore, PropertyValue};
use geo::{
    BoundingRect, ConvexHull, Coord, Intersects, LineString, MultiPoint, Point, Polygon, Rect,
};

/// Below this wind speed (m/s) the plume direction is treated as uncertain.
pub const LOW_WIND_MS: f64 = 2.0;
/// Below this wind speed (m/s) there is no usable wind direction.
pub const CALM_WIND_MS: f64 = 0.5;
/// Direction uncertainty in low wind, degrees either side of the reported direction.
pub const LOW_WIND_SPREAD_DEG: f64 = 30.0;
/// Highest wind speed accepted (m/s): beyond a typhoon's, a typing error.
pub const MAX_WIND_MS: f64 = 75.0;
/// Vertices of the polygon drawn for a circle.
pub const CIRCLE_SEGMENTS: usize = 72;
/// At most this many features per exposure list (nearest first); `total` gives the full count.
pub const LIST_CAP: usize = 500;
/// At most this many grid-cell codes are listed; `count` gives them all.
pub const CELL_CODE_CAP: usize = 200;
/// How many safe shelters to propose.
pub const SAFE_SHELTERS: usize = 5;

/// Why no zone could be drawn. The HTTP layer maps each to one status and error code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HazmatError {
    #[error("unknown chemical {0:?} (see GET /api/chemicals)")]
    UnknownChemical(String),
    #[error(
        "chemical {0:?} has no ERG distances in chemicals.toml, so no zone can be drawn for it"
    )]
    NoErgData(String),
    #[error("unknown hazard source {0:?}")]
    UnknownHazardSource(String),
    #[error("hazard source {0:?} lists no chemical; name one with `chemical`")]
    SourceWithoutChemical(String),
    #[error("a chemical is required when the incident is given as a point")]
    MissingChemical,
    #[error("the point ({lon}, {lat}) is outside the district")]
    OutsideDistrict { lon: f64, lat: f64 },
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Where the release is: a point, or a hazard source by its id (its location, and its first
/// chemical unless the request names one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Origin<'a> {
    Point(Coord<f64>),
    HazardSource(&'a str),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request<'a> {
    pub origin: Origin<'a>,
    /// Chemical id; required with a point, optional with a hazard source.
    pub chemical: Option<&'a str>,
    pub spill: Spill,
    pub time: TimeOfDay,
    /// Meteorological: where the wind blows from, degrees clockwise from north (0–360).
    pub wind_from_deg: f64,
    pub wind_speed_ms: f64,
}

/// How the wind was taken into account (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindModel {
    Steady,
    LowWind,
    Calm,
}

impl WindModel {
    pub fn for_speed(speed_ms: f64) -> WindModel {
        if speed_ms < CALM_WIND_MS {
            WindModel::Calm
        } else if speed_ms < LOW_WIND_MS {
            WindModel::LowWind
        } else {
            WindModel::Steady
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WindModel::Steady => "steady",
            WindModel::LowWind => "low_wind",
            WindModel::Calm => "calm",
        }
    }
}

/// The two zones in lon/lat.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneGeometry {
    pub isolation: Polygon<f64>,
    /// `None` when the source gives no downwind distance (a guide's small spill).
    pub protective: Option<Polygon<f64>>,
    pub wind: WindModel,
}

/// Unit vector (east, north) the wind blows *towards*.
fn downwind_unit(wind_from_deg: f64) -> (f64, f64) {
    let t = wind_from_deg.to_radians();
    (-t.sin(), -t.cos())
}

fn circle(radius_m: f64) -> Vec<(f64, f64)> {
    let n = CIRCLE_SEGMENTS;
    // Circumscribed: the polygon's edges touch the circle, so it covers the whole circle.
    let r = radius_m / (std::f64::consts::PI / n as f64).cos();
    (0..n)
        .map(|i| {
            let a = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            (r * a.sin(), r * a.cos())
        })
        .collect()
}

/// The ERG square for wind from `wind_from_deg`: upwind edge centred on the spill.
fn square(distance_m: f64, wind_from_deg: f64) -> [(f64, f64); 4] {
    let (dx, dy) = downwind_unit(wind_from_deg);
    // Crosswind: the downwind vector turned 90° clockwise.
    let (cx, cy) = (dy, -dx);
    let h = distance_m / 2.0;
    let at = |along: f64, across: f64| (along * dx + across * cx, along * dy + across * cy);
    [
        at(0.0, -h),
        at(distance_m, -h),
        at(distance_m, h),
        at(0.0, h),
    ]
}

fn polygon(frame: &LocalFrame, local: impl IntoIterator<Item = (f64, f64)>) -> Polygon<f64> {
    let ring: Vec<Coord<f64>> = local
        .into_iter()
        .map(|(e, n)| frame.to_lonlat(e, n))
        .collect();
    Polygon::new(LineString::from(ring), vec![])
}

/// Builds the isolation circle and the protective action zone (see the module documentation).
pub fn zone_geometry(
    p: Coord<f64>,
    isolation_m: f64,
    protective_m: Option<f64>,
    wind_from_deg: f64,
    wind_speed_ms: f64,
) -> ZoneGeometry {
    let frame = LocalFrame::at(p);
    let wind = WindModel::for_speed(wind_speed_ms);
    let isolation = polygon(&frame, circle(isolation_m));
    let protective = protective_m.map(|d| match wind {
        WindModel::Steady => polygon(&frame, square(d, wind_from_deg)),
        WindModel::LowWind => {
            let points: Vec<Point<f64>> = [-LOW_WIND_SPREAD_DEG, 0.0, LOW_WIND_SPREAD_DEG]
                .iter()
                .flat_map(|turn| square(d, wind_from_deg + turn))
                .map(|(e, n)| Point::new(e, n))
                .collect();
            let hull = MultiPoint::new(points).convex_hull();
            polygon(&frame, hull.exterior().points().map(|pt| (pt.x(), pt.y())))
        }
        WindModel::Calm => polygon(&frame, circle(d)),
    });
    ZoneGeometry {
        isolation,
        protective,
        wind,
    }
}

/// A convex zone with a cheap "covers this box" test, so the thousands of grid cells well inside
/// a large zone need no polygon–polygon intersection.
struct ConvexZone<'a> {
    polygon: &'a Polygon<f64>,
    bbox: Rect<f64>,
    /// Counter-clockwise vertices (ring closed).
    ring: Vec<Coord<f64>>,
}

impl<'a> ConvexZone<'a> {
    fn new(polygon: &'a Polygon<f64>) -> Option<Self> {
        let bbox = polygon.bounding_rect()?;
        let mut ring: Vec<Coord<f64>> = polygon.exterior().0.clone();
        let area2: f64 = ring
            .windows(2)
            .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
            .sum();
        if area2 < 0.0 {
            ring.reverse();
        }
        Some(ConvexZone {
            polygon,
            bbox,
            ring,
        })
    }

    /// Strictly inside every edge's half-plane (so a box it reports covered is covered even
    /// with rounding at the edge; boxes near the edge take the exact path).
    fn strictly_contains(&self, c: Coord<f64>) -> bool {
        self.ring.windows(2).all(|w| {
            let (a, b) = (w[0], w[1]);
            (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x) > 0.0
        })
    }

    fn intersects(&self, geometry: GeometryRef<'_>) -> bool {
        let Some(rect) = geometry.bounding_rect() else {
            return false;
        };
        if !rect.intersects(&self.bbox) {
            return false;
        }
        match geometry {
            GeometryRef::Point(c) => self.polygon.intersects(&Point(c)),
            GeometryRef::Lines(m) => {
                let (lo, hi) = (rect.min(), rect.max());
                let corners = [
                    lo,
                    Coord { x: hi.x, y: lo.y },
                    hi,
                    Coord { x: lo.x, y: hi.y },
                ];
                corners.iter().all(|&c| self.strictly_contains(c)) || m.intersects(self.polygon)
            }
            GeometryRef::Polygons(m) => {
                let (lo, hi) = (rect.min(), rect.max());
                let corners = [
                    lo,
                    Coord { x: hi.x, y: lo.y },
                    hi,
                    Coord { x: lo.x, y: hi.y },
                ];
                corners.iter().all(|&c| self.strictly_contains(c)) || m.intersects(self.polygon)
            }
        }
    }
}

/// One feature in a zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exposure {
    pub index: usize,
    /// From the spill to the feature (0 when the spill lies inside it), metres.
    pub distance_m: f64,
    pub in_isolation: bool,
    pub in_protective: bool,
}

/// The features of one layer in the zones.
#[derive(Debug, Clone)]
pub struct Group<'s> {
    pub role: Role,
    pub layer: &'s Layer,
    /// Nearest first, at most [`LIST_CAP`].
    pub hits: Vec<Exposure>,
    /// All features in the zones, also those the list leaves out.
    pub total: usize,
    /// People in the group (all of it, not only the listed part): headcount of protected
    /// targets, population of villages.
    pub people: Option<i64>,
}

/// The unit grid cells touched by the zones.
#[derive(Debug, Clone)]
pub struct CellSummary<'s> {
    pub layer: &'s Layer,
    pub count: usize,
    pub in_isolation: usize,
    pub in_protective: usize,
    /// Codes in ascending order, at most [`CELL_CODE_CAP`].
    pub codes: Vec<&'s str>,
}

/// An open shelter with room outside both zones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SafeShelter {
    pub index: usize,
    pub distance_m: f64,
    pub free_capacity: i64,
    /// Bearing from the spill, degrees clockwise from north.
    pub bearing_deg: f64,
    /// On the upwind half-plane of the spill: evacuees need not cross the plume's path.
    pub upwind: bool,
}

/// The whole answer.
#[derive(Debug, Clone)]
pub struct Analysis<'s, 't> {
    pub point: Coord<f64>,
    /// The hazard source the request named.
    pub hazard_source: Option<(&'s Layer, usize)>,
    pub location: Location,
    pub chemical: &'t Chemical,
    pub erg: &'t Erg,
    pub request_spill: Spill,
    pub request_time: TimeOfDay,
    pub wind_from_deg: f64,
    pub wind_speed_ms: f64,
    pub distances: AppliedDistances<'t>,
    pub zones: ZoneGeometry,
    /// Hazard sources, protected targets, villages, shelters in the zones, cameras.
    pub groups: Vec<Group<'s>>,
    pub cells: Option<CellSummary<'s>>,
    pub shelter_layer: Option<&'s Layer>,
    pub safe_shelters: Vec<SafeShelter>,
    /// Roles whose layers exist but are not shown to this viewer.
    pub withheld: Vec<Role>,
    /// Plain-language caveats for the duty officer (unverified values, wind model, …).
    pub notes: Vec<String>,
}

/// The exposure lists, in the order a duty officer reads them.
const GROUPS: [Role; 5] = [
    Role::ProtectedTarget,
    Role::HazardSource,
    Role::Village,
    Role::Shelter,
    Role::Camera,
];

fn check_wind(wind_from_deg: f64, wind_speed_ms: f64) -> Result<(), HazmatError> {
    if !wind_from_deg.is_finite() || !(0.0..=360.0).contains(&wind_from_deg) {
        return Err(HazmatError::Invalid {
            field: "wind_from_deg",
            message: format!(
                "wind_from_deg is the direction the wind blows from, 0 to 360 degrees; got {wind_from_deg}"
            ),
        });
    }
    if !wind_speed_ms.is_finite() || !(0.0..=MAX_WIND_MS).contains(&wind_speed_ms) {
        return Err(HazmatError::Invalid {
            field: "wind_speed_ms",
            message: format!(
                "wind_speed_ms must be between 0 and {MAX_WIND_MS} m/s; got {wind_speed_ms}"
            ),
        });
    }
    Ok(())
}

fn integer(layer: &Layer, i: usize, field: &str) -> Option<i64> {
    match layer.property(i, field) {
        Some(PropertyValue::Integer(n)) => Some(n),
        _ => None,
    }
}

/// The first chemical id of a hazard source's comma-separated `chemical_ids`.
fn first_chemical(layer: &Layer, i: usize) -> Option<&str> {
    layer
        .property(i, "chemical_ids")
        .and_then(PropertyValue::as_text)
        .and_then(|ids| ids.split(',').map(str::trim).find(|s| !s.is_empty()))
}

fn bearing_deg(from: Coord<f64>, to: Coord<f64>) -> f64 {
    let (e, n) = LocalFrame::at(from).to_local(to);
    let b = e.atan2(n).to_degrees();
    if b < 0.0 { b + 360.0 } else { b }
}

/// Draws the zones for a release and lists what lies in them, judging safe shelters by `live`,
/// their occupancy and status now (what shelter managers reported), so the list never sends
/// people to a full shelter.
pub fn analyse<'s, 't>(
    store: &'s LayerStore,
    tables: &'t CodeTables,
    request: &Request<'_>,
    viewer: Viewer,
    live: &Live,
) -> Result<Analysis<'s, 't>, HazmatError> {
    check_wind(request.wind_from_deg, request.wind_speed_ms)?;
    let (point, hazard_source, default_chemical) = match request.origin {
        Origin::Point(p) => (p, None, None),
        Origin::HazardSource(id) => {
            let layer = store
                .by_role(Role::HazardSource)
                .filter(|l| viewer.may_see(l))
                .ok_or_else(|| HazmatError::UnknownHazardSource(id.to_string()))?;
            let i = layer
                .find(id)
                .ok_or_else(|| HazmatError::UnknownHazardSource(id.to_string()))?;
            let p = layer
                .geometry(i)
                .to_geo_point()
                .ok_or_else(|| HazmatError::UnknownHazardSource(id.to_string()))?;
            (p, Some((layer, i)), first_chemical(layer, i))
        }
    };
    let chemical_id = match (request.chemical, default_chemical, hazard_source) {
        (Some(id), _, _) => id,
        (None, Some(id), _) => id,
        (None, None, Some((layer, i))) => {
            return Err(HazmatError::SourceWithoutChemical(layer.id(i).to_string()));
        }
        (None, None, None) => return Err(HazmatError::MissingChemical),
    };
    let chemical = tables
        .chemical(chemical_id)
        .ok_or_else(|| HazmatError::UnknownChemical(chemical_id.to_string()))?;
    let erg = chemical
        .erg
        .as_ref()
        .ok_or_else(|| HazmatError::NoErgData(chemical.id.clone()))?;
    let grid = store.grid.as_ref().ok_or(ServiceError::NoGrid)?;
    let location =
        locate(grid, point, DEFAULT_TOLERANCE_M).ok_or(HazmatError::OutsideDistrict {
            lon: point.x,
            lat: point.y,
        })?;

    let distances = erg.distances(request.spill, request.time);
    let zones = zone_geometry(
        point,
        distances.isolation_m,
        distances.protective_m,
        request.wind_from_deg,
        request.wind_speed_ms,
    );
    let isolation = ConvexZone::new(&zones.isolation);
    let protective = zones.protective.as_ref().and_then(ConvexZone::new);
    let search_box = match (&isolation, &protective) {
        (Some(a), Some(b)) => Some(Rect::new(
            Coord {
                x: a.bbox.min().x.min(b.bbox.min().x),
                y: a.bbox.min().y.min(b.bbox.min().y),
            },
            Coord {
                x: a.bbox.max().x.max(b.bbox.max().x),
                y: a.bbox.max().y.max(b.bbox.max().y),
            },
        )),
        (Some(a), None) => Some(a.bbox),
        (None, Some(b)) => Some(b.bbox),
        (None, None) => None,
    };
    let classify = |geometry: GeometryRef<'_>| {
        let in_isolation = isolation.as_ref().is_some_and(|z| z.intersects(geometry));
        let in_protective = protective.as_ref().is_some_and(|z| z.intersects(geometry));
        (in_isolation, in_protective)
    };
    let exposures = |layer: &Layer, skip: Option<usize>| -> Vec<Exposure> {
        let Some(search_box) = search_box else {
            return Vec::new();
        };
        let mut hits: Vec<Exposure> = layer
            .index()
            .intersecting(search_box)
            .into_iter()
            .map(|i| i as usize)
            .filter(|&i| Some(i) != skip)
            .filter_map(|i| {
                let geometry = layer.geometry(i);
                let (in_isolation, in_protective) = classify(geometry);
                (in_isolation || in_protective).then(|| Exposure {
                    index: i,
                    distance_m: metres_to(point, geometry),
                    in_isolation,
                    in_protective,
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            a.distance_m
                .total_cmp(&b.distance_m)
                .then(a.index.cmp(&b.index))
        });
        hits
    };

    let mut withheld = Vec::new();
    let mut groups = Vec::new();
    let mut shelter_layer = None;
    let mut shelters_in_zones = Vec::new();
    for role in GROUPS {
        let Some(layer) = store.by_role(role) else {
            continue;
        };
        if !viewer.may_see(layer) {
            withheld.push(role);
            continue;
        }
        let skip = match (role, hazard_source) {
            (Role::HazardSource, Some((_, i))) => Some(i),
            _ => None,
        };
        let mut hits = exposures(layer, skip);
        let people = match role {
            Role::ProtectedTarget => Some(
                hits.iter()
                    .filter_map(|h| integer(layer, h.index, "headcount"))
                    .sum(),
            ),
            Role::Village => Some(
                hits.iter()
                    .filter_map(|h| integer(layer, h.index, "population"))
                    .sum(),
            ),
            _ => None,
        };
        if role == Role::Shelter {
            shelter_layer = Some(layer);
            shelters_in_zones = hits.iter().map(|h| h.index).collect();
        }
        let total = hits.len();
        hits.truncate(LIST_CAP);
        groups.push(Group {
            role,
            layer,
            hits,
            total,
            people,
        });
    }

    let cells = match store.by_role(Role::GridCell) {
        Some(layer) if viewer.may_see(layer) => {
            let hits = exposures(layer, None);
            let mut codes: Vec<&str> = hits.iter().map(|h| layer.id(h.index)).collect();
            codes.sort_unstable();
            codes.truncate(CELL_CODE_CAP);
            Some(CellSummary {
                layer,
                count: hits.len(),
                in_isolation: hits.iter().filter(|h| h.in_isolation).count(),
                in_protective: hits.iter().filter(|h| h.in_protective).count(),
                codes,
            })
        }
        Some(_) => {
            withheld.push(Role::GridCell);
            None
        }
        None => None,
    };

    let safe_shelters = match shelter_layer {
        Some(layer) => {
            let query = Query {
                k: SAFE_SHELTERS + shelters_in_zones.len(),
                max_distance_m: None,
                filters: vec![Filter::parse(layer, "status", "open")?],
                people: Some(1),
            };
            let (dx, dy) = downwind_unit(request.wind_from_deg);
            let frame = LocalFrame::at(point);
            nearest(layer, point, &query, live)
                .into_iter()
                .filter(|(i, _)| !shelters_in_zones.contains(i))
                .take(SAFE_SHELTERS)
                .filter_map(|(i, d)| {
                    let at = layer.geometry(i).to_geo_point()?;
                    let (e, n) = frame.to_local(at);
                    Some(SafeShelter {
                        index: i,
                        distance_m: d,
                        free_capacity: live.free_places(layer, i)?,
                        bearing_deg: bearing_deg(point, at),
                        upwind: e * dx + n * dy < 0.0,
                    })
                })
                .collect()
        }
        None => Vec::new(),
    };

    let notes = notes(chemical, erg, request, &distances, zones.wind);
    Ok(Analysis {
        point,
        hazard_source,
        location,
        chemical,
        erg,
        request_spill: request.spill,
        request_time: request.time,
        wind_from_deg: request.wind_from_deg,
        wind_speed_ms: request.wind_speed_ms,
        distances,
        zones,
        groups,
        cells,
        shelter_layer,
        safe_shelters,
        withheld,
        notes,
    })
}

fn notes(
    chemical: &Chemical,
    erg: &Erg,
    request: &Request<'_>,
    distances: &AppliedDistances<'_>,
    wind: WindModel,
) -> Vec<String> {
    let mut notes = Vec::new();
    if !distances.verified {
        notes.push(format!(
            "UNVERIFIED: the ERG distances used for {} have not been checked against the guidebook; confirm them before relying on them ({})",
            chemical.name_en, distances.source
        ));
    }
    if erg.basis == crate::catalog::ErgBasis::Guide {
        notes.push(format!(
            "{} is not in ERG Table 1: the zones follow Guide {}'s isolation and large-spill evacuation advice, not a table row",
            chemical.name_en, erg.guide
        ));
    }
    if distances.protective_m.is_none() {
        notes.push(format!(
            "no protective action zone: the source gives no downwind distance for a {} spill",
            request.spill.as_str()
        ));
    }
    match wind {
        WindModel::LowWind => notes.push(format!(
            "low wind (< {LOW_WIND_MS} m/s): the plume may meander, so the protective zone spans ±{LOW_WIND_SPREAD_DEG}° around the reported direction; the ERG notes distances may be larger in low wind"
        )),
        WindModel::Calm => notes.push(format!(
            "calm (< {CALM_WIND_MS} m/s): no usable wind direction, so the protective distance applies in all directions"
        )),
        WindModel::Steady => {}
    }
    notes.push(
        "ERG distances cover the first 30 minutes of a transport-type release; a fire, a larger or longer release, or buildings and valleys channelling the cloud call for larger zones"
            .to_string(),
    );
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Centroid, Contains};

    const P: Coord<f64> = Coord {
        x: 121.47,
        y: 30.85,
    };

    fn local_bounds(poly: &Polygon<f64>) -> (f64, f64, f64, f64) {
        let frame = LocalFrame::at(P);
        poly.exterior().points().fold(
            (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
            |(x0, x1, y0, y1), pt| {
                let (e, n) = frame.to_local(pt.0);
                (x0.min(e), x1.max(e), y0.min(n), y1.max(n))
            },
        )
    }

    #[test]
    fn wind_from_the_north_puts_the_square_south_of_the_spill() {
        let z = zone_geometry(P, 60.0, Some(1000.0), 0.0, 5.0);
        let square = z.protective.expect("protective zone");
        let (x0, x1, y0, y1) = local_bounds(&square);
        assert!(
            (x0 + 500.0).abs() < 1e-6 && (x1 - 500.0).abs() < 1e-6,
            "{x0} {x1}"
        );
        assert!((y0 + 1000.0).abs() < 1e-6 && y1.abs() < 1e-6, "{y0} {y1}");
        assert_eq!(z.wind, WindModel::Steady);
    }

    #[test]
    fn wind_from_the_west_puts_the_square_east() {
        let z = zone_geometry(P, 60.0, Some(2000.0), 270.0, 4.0);
        let (x0, x1, y0, y1) = local_bounds(&z.protective.expect("zone"));
        assert!(x0.abs() < 1e-6 && (x1 - 2000.0).abs() < 1e-6, "{x0} {x1}");
        assert!((y0 + 1000.0).abs() < 1e-6 && (y1 - 1000.0).abs() < 1e-6);
    }

    #[test]
    fn the_square_has_the_downwind_distance_as_side() {
        // Wind from 37°: the square is turned, but its area stays D².
        let frame = LocalFrame::at(P);
        let z = zone_geometry(P, 60.0, Some(1500.0), 37.0, 8.0);
        let local = Polygon::new(
            LineString::from(
                z.protective
                    .expect("zone")
                    .exterior()
                    .points()
                    .map(|pt| {
                        let (e, n) = frame.to_local(pt.0);
                        Coord { x: e, y: n }
                    })
                    .collect::<Vec<_>>(),
            ),
            vec![],
        );
        assert!((local.unsigned_area() - 1500.0 * 1500.0).abs() < 1.0);
        // Its centre lies 750 m downwind, i.e. towards 217°.
        let c = local.centroid().expect("centroid");
        let bearing = c.x().atan2(c.y()).to_degrees().rem_euclid(360.0);
        assert!((bearing - 217.0).abs() < 1e-6, "{bearing}");
        assert!((c.x().hypot(c.y()) - 750.0).abs() < 1e-6);
    }

    #[test]
    fn the_isolation_polygon_covers_the_circle() {
        let frame = LocalFrame::at(P);
        let z = zone_geometry(P, 600.0, None, 0.0, 3.0);
        assert!(z.protective.is_none());
        for k in 0..360 {
            let a = (k as f64 + 0.5).to_radians();
            let edge = frame.to_lonlat(599.99 * a.sin(), 599.99 * a.cos());
            assert!(z.isolation.contains(&Point(edge)), "{k}°");
        }
        // …and overshoots by less than 0.1 %.
        let far = frame.to_lonlat(0.0, 601.0);
        assert!(!z.isolation.contains(&Point(far)));
    }

    #[test]
    fn low_wind_widens_and_calm_surrounds() {
        let steady = zone_geometry(P, 60.0, Some(1000.0), 0.0, 2.0);
        let low = zone_geometry(P, 60.0, Some(1000.0), 0.0, 1.0);
        let calm = zone_geometry(P, 60.0, Some(1000.0), 0.0, 0.2);
        assert_eq!(low.wind, WindModel::LowWind);
        assert_eq!(calm.wind, WindModel::Calm);
        let (s, l) = (steady.protective.expect("s"), low.protective.expect("l"));
        assert!(l.contains(&s), "the widened zone holds the steady square");
        assert!(l.unsigned_area() > s.unsigned_area() * 1.2);
        // Calm: 1 km north of the spill is in the zone although the wind "comes from" there.
        let frame = LocalFrame::at(P);
        let north = Point(frame.to_lonlat(0.0, 900.0));
        assert!(calm.protective.expect("c").contains(&north));
        assert!(!s.contains(&north));
    }

    #[test]
    fn convex_fast_path_agrees_with_geo() {
        let z = zone_geometry(P, 300.0, Some(3000.0), 123.0, 1.5);
        let frame = LocalFrame::at(P);
        for poly in [&z.isolation, z.protective.as_ref().expect("zone")] {
            let convex = ConvexZone::new(poly).expect("bbox");
            for i in -40..40 {
                for j in -40..40 {
                    let (e, n) = (i as f64 * 97.0, j as f64 * 97.0);
                    let cell = geo::MultiPolygon(vec![Polygon::new(
                        LineString::from(vec![
                            frame.to_lonlat(e, n),
                            frame.to_lonlat(e + 100.0, n),
                            frame.to_lonlat(e + 100.0, n + 100.0),
                            frame.to_lonlat(e, n + 100.0),
                        ]),
                        vec![],
                    )]);
                    assert_eq!(
                        convex.intersects(GeometryRef::Polygons(&cell)),
                        cell.intersects(poly),
                        "cell at {e},{n}"
                    );
                }
            }
        }
    }

    #[test]
    fn bearings_are_clockwise_from_north() {
        let frame = LocalFrame::at(P);
        assert!((bearing_deg(P, frame.to_lonlat(100.0, 0.0)) - 90.0).abs() < 1e-9);
        assert!((bearing_deg(P, frame.to_lonlat(0.0, -100.0)) - 180.0).abs() < 1e-9);
        assert!((bearing_deg(P, frame.to_lonlat(-100.0, 0.0)) - 270.0).abs() < 1e-9);
    }

    #[test]
    fn wind_is_validated() {
        assert!(check_wind(360.0, 0.0).is_ok());
        for (deg, speed, field) in [
            (-1.0, 3.0, "wind_from_deg"),
            (f64::NAN, 3.0, "wind_from_deg"),
            (90.0, -0.1, "wind_speed_ms"),
            (90.0, 100.0, "wind_speed_ms"),
        ] {
            match check_wind(deg, speed) {
                Err(HazmatError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{deg} {speed}: {other:?}"),
            }
        }
    }
}
