//! `/api/shelters…`: the shelters with their live occupancy, managers' reports, and allocation.
//!
//! Reading and planning are public — "where is the nearest open shelter with room" is a
//! citizen's question too — but changing occupancy is for key holders: a manager's `PATCH`,
//! or an allocation with `commit: true`, which books the plan's people into the shelters in
//! one transaction. A plan without `commit` changes nothing.

use super::auth::Caller;
use super::cases::service;
use super::params::parse_body;
use super::{ApiError, AppState};
use crate::cases::clock::rfc3339;
use crate::catalog::Role;
use crate::services::allocate::{
    self, DEFAULT_DETOUR_FACTOR, Demand, MAX_DETOUR_FACTOR, MAX_PEOPLE, Plan, Scope, SkipReason,
};
use crate::services::occupancy::{Change, Live, ShelterError, ShelterStatus};
use crate::services::{ServiceError, Viewer};
use crate::shelters::{ShelterChange, ShelterEvent, history};
use crate::spatial::distance::round_m;
use crate::spatial::{Layer, LayerStore};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Events shown with one shelter (staff only).
const HISTORY: i64 = 50;

/// The live shelter state, read from the case database on first use; the register alone on a
/// server without one.
pub async fn live(state: &AppState) -> Result<Arc<Live>, ApiError> {
    if let Some(cases) = &state.cases {
        state.shelters.load(&cases.db).await?;
    }
    Ok(state.shelters.snapshot())
}

/// A feature's properties as they stand now: for a shelter, the register's with the live
/// `occupancy` and `status` in their place, so every answer that shows a shelter shows it as it
/// is now; other layers' as loaded.
pub fn properties_now(layer: &Layer, i: usize, live: &Live) -> Map<String, Value> {
    let mut properties = layer.properties_json(i);
    if let Some(view) = live.view(layer, i) {
        properties.insert("occupancy".into(), view.occupancy.into());
        properties.insert("status".into(), view.status.as_str().into());
    }
    properties
}

fn shelter_layer(store: &LayerStore, viewer: Viewer) -> Result<&Layer, ApiError> {
    let layer = store
        .by_role(Role::Shelter)
        .ok_or(ShelterError::MissingLayer("shelter"))?;
    if !viewer.may_see(layer) {
        return Err(ServiceError::UnknownLayer(layer.def.id.clone()).into());
    }
    Ok(layer)
}

/// One shelter as a GeoJSON Feature with its live state.
#[derive(Debug, Serialize)]
struct ShelterFeature<'a> {
    r#type: &'static str,
    id: &'a str,
    geometry: geojson::Geometry,
    properties: LiveProperties<'a>,
    /// Its latest reports (key holders, one shelter).
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<HistoryEntry<'a>>>,
    /// The change a report just made.
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<&'a ShelterChange>,
}

/// The register's properties with the shelter's state now, for colouring the map.
#[derive(Debug, Serialize)]
struct LiveProperties<'a> {
    #[serde(flatten)]
    register: Map<String, Value>,
    status_name: &'static str,
    free: i64,
    free_ratio: f64,
    accepting: bool,
    reported: bool,
    updated_time: Option<String>,
    /// Who reported (key holders only).
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_by: Option<Option<&'a str>>,
}

/// One entry of a shelter's history, with its time.
#[derive(Debug, Serialize)]
struct HistoryEntry<'a> {
    #[serde(flatten)]
    event: &'a ShelterEvent,
    time: String,
}

impl<'a> ShelterFeature<'a> {
    /// Feature `i` of the shelter layer; `None` for other layers.
    fn new(layer: &'a Layer, i: usize, live: &'a Live, viewer: Viewer) -> Option<Self> {
        let view = live.view(layer, i)?;
        let free_ratio = if view.capacity > 0 {
            (view.free() as f64 / view.capacity as f64 * 1000.0).round() / 1000.0
        } else {
            0.0
        };
        Some(ShelterFeature {
            r#type: "Feature",
            id: layer.id(i),
            geometry: geojson::Geometry::new(geojson::Value::from(&layer.geometry(i).to_geo())),
            properties: LiveProperties {
                register: properties_now(layer, i, live),
                status_name: view.status.name_zh(),
                free: view.free(),
                free_ratio,
                accepting: view.accepting(),
                reported: view.reported.is_some(),
                updated_time: view.reported.map(|r| rfc3339(r.updated_at)),
                updated_by: (viewer == Viewer::Staff)
                    .then(|| view.reported.map(|r| r.actor.as_str())),
            },
            history: None,
            change: None,
        })
    }
}

fn unknown(id: &str) -> ShelterError {
    ShelterError::UnknownShelter(id.to_string())
}

/// The capacity and occupancy of the shelters listed, and the free places of the open ones.
#[derive(Debug, Default, Serialize)]
struct Totals {
    capacity: i64,
    occupancy: i64,
    free_in_open_shelters: i64,
}

#[derive(Debug, Serialize)]
struct ShelterList<'a> {
    r#type: &'static str,
    layer: &'a str,
    count: usize,
    totals: Totals,
    features: Vec<ShelterFeature<'a>>,
}

/// `GET /api/shelters[?status=open|closed|full][&min_free=N]`: every shelter with its live
/// capacity, occupancy, free places and status, as a FeatureCollection for the map.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = super::params::Params::parse(query.as_deref());
    let status = params
        .get("status")
        .filter(|s| !s.is_empty())
        .map(status_param)
        .transpose()?;
    let min_free = params.count("min_free", "places")?;
    let live = live(&state).await?;
    let store = state.store.snapshot();
    let layer = shelter_layer(&store, caller.viewer)?;
    let mut totals = Totals::default();
    let mut features = Vec::new();
    for i in 0..layer.len() {
        let Some(view) = live.view(layer, i) else {
            continue;
        };
        if status.is_some_and(|s| s != view.status) || min_free.is_some_and(|n| view.free() < n) {
            continue;
        }
        totals.capacity += view.capacity;
        totals.occupancy += view.occupancy;
        if view.accepting() {
            totals.free_in_open_shelters += view.free();
        }
        features.extend(ShelterFeature::new(layer, i, &live, caller.viewer));
    }
    Ok(Json(ShelterList {
        r#type: "FeatureCollection",
        layer: &layer.def.id,
        count: features.len(),
        totals,
        features,
    })
    .into_response())
}

/// `GET /api/shelters/{id}`: one shelter, live; key holders also get its latest reports.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let live = live(&state).await?;
    let store = state.store.snapshot();
    let layer = shelter_layer(&store, caller.viewer)?;
    let i = layer.find(&id).ok_or_else(|| unknown(&id))?;
    let events = match &state.cases {
        Some(cases) if caller.actor.is_staff() => Some(history(&cases.db, &id, HISTORY).await?),
        _ => None,
    };
    let mut feature =
        ShelterFeature::new(layer, i, &live, caller.viewer).ok_or_else(|| unknown(&id))?;
    feature.history = events.as_ref().map(|events| {
        events
            .iter()
            .map(|event| HistoryEntry {
                time: rfc3339(event.at),
                event,
            })
            .collect()
    });
    Ok(Json(feature).into_response())
}

/// A status as the API takes it.
fn status_param(raw: &str) -> Result<ShelterStatus, ApiError> {
    ShelterStatus::parse(raw).ok_or_else(|| {
        ApiError::invalid(
            "status",
            format!("status is open, closed or full, not {raw:?}"),
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    #[serde(default)]
    occupancy: Option<i64>,
    #[serde(default)]
    delta: Option<i64>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// `PATCH /api/shelters/{id}`: a manager's report — `{occupancy}` (the headcount now) or
/// `{delta}` (people in, or out if negative), and/or `{status}`; key needed. Refused with 409
/// if it would take occupancy above capacity or below zero.
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let cases = service(&state)?;
    let body: ReportBody = parse_body(&body)?;
    let status = body.status.as_deref().map(status_param).transpose()?;
    let change = Change {
        occupancy: body.occupancy,
        delta: body.delta,
        status,
        note: body.note.filter(|n| !n.trim().is_empty()),
    };
    let store = state.store.snapshot();
    let layer = shelter_layer(&store, caller.viewer)?;
    let done = state
        .shelters
        .report(
            &cases.db,
            layer,
            &id,
            change,
            &caller.actor,
            cases.clock.now(),
        )
        .await?;
    let live = state.shelters.snapshot();
    let i = layer.find(&id).ok_or_else(|| unknown(&id))?;
    let mut feature =
        ShelterFeature::new(layer, i, &live, caller.viewer).ok_or_else(|| unknown(&id))?;
    feature.change = Some(&done);
    Ok(Json(feature).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllocateBody {
    #[serde(default)]
    lon: Option<f64>,
    #[serde(default)]
    lat: Option<f64>,
    #[serde(default)]
    crs: Option<String>,
    #[serde(default)]
    people: Option<i64>,
    #[serde(default)]
    area: Option<Value>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    exclude: Option<Value>,
    #[serde(default)]
    detour_factor: Option<f64>,
    #[serde(default)]
    max_distance_m: Option<f64>,
    #[serde(default)]
    commit: bool,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/shelters/allocate`: where to send the people of a point (`lon`, `lat`,
/// `people`) or an area (`area`: GeoJSON polygon; people counted from the unit grid, see
/// [`Scope`]), avoiding `exclude` zones — no shelter inside one, no path through one —
/// within `max_distance_m` of estimated walking (path length × `detour_factor`). With
/// `commit: true` (key needed) the plan's people are booked into the shelters.
pub async fn allocate(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body: AllocateBody = parse_body(&body)?;
    if body.commit {
        caller.require_staff()?;
    }
    let store = state.store.snapshot();
    let layer = shelter_layer(&store, caller.viewer)?;
    let detour_factor = match body.detour_factor {
        None => DEFAULT_DETOUR_FACTOR,
        Some(f) if f.is_finite() && (1.0..=MAX_DETOUR_FACTOR).contains(&f) => f,
        Some(f) => {
            return Err(ApiError::invalid(
                "detour_factor",
                format!("detour_factor must be between 1 and {MAX_DETOUR_FACTOR}, got {f}"),
            ));
        }
    };
    let max_walking_m = match body.max_distance_m {
        None => None,
        Some(d) if d.is_finite() && d > 0.0 => Some(d),
        Some(d) => {
            return Err(ApiError::invalid(
                "max_distance_m",
                format!("max_distance_m must be a positive number of metres, got {d}"),
            ));
        }
    };
    let (demands, basis, scope) = demands(&store, &body)?;
    let exclude = match &body.exclude {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => allocate::exclusion_zones(value, "exclude")?,
    };
    let request = allocate::Request {
        demands,
        exclude,
        detour_factor,
        max_walking_m,
    };
    let (plan, committed) = if body.commit {
        let cases = service(&state)?;
        let note = body.note.clone().filter(|n| !n.trim().is_empty());
        let (plan, changes) = state
            .shelters
            .commit(
                &cases.db,
                layer,
                &caller.actor,
                cases.clock.now(),
                note,
                |live| {
                    let plan = allocate::plan(layer, live, &request);
                    let arrivals = plan
                        .assignments
                        .iter()
                        .map(|a| (a.shelter, a.people))
                        .collect();
                    (plan, arrivals)
                },
            )
            .await?;
        (plan, Some(changes))
    } else {
        let live = live(&state).await?;
        (allocate::plan(layer, &live, &request), None)
    };
    let live = state.shelters.snapshot();
    Ok(Json(Allocation {
        plan: PlanOut::new(&store, layer, &live, &request, &plan),
        basis,
        scope: scope.map(Scope::as_str),
        detour_factor,
        max_distance_m: max_walking_m,
        walking_estimate: WALKING_ESTIMATE,
        committed: committed.is_some(),
        changes: committed,
    })
    .into_response())
}

/// How walking distances are estimated, said with every plan.
const WALKING_ESTIMATE: &str = "walking_m = path_m × detour_factor; the path is the straight line, or the shortest way round the exclude zones (no road routing)";

/// The answer to an allocation: the plan, what it was asked, and what a commit changed.
#[derive(Debug, Serialize)]
struct Allocation<'a> {
    #[serde(flatten)]
    plan: PlanOut<'a>,
    /// How the people were counted: `request`, or the area's cells or villages.
    basis: &'static str,
    scope: Option<&'static str>,
    detour_factor: f64,
    max_distance_m: Option<f64>,
    walking_estimate: &'static str,
    committed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Vec<ShelterChange>>,
}

/// The groups of people the body asks to place, how they were counted, and the scope.
fn demands(
    store: &LayerStore,
    body: &AllocateBody,
) -> Result<(Vec<Demand>, &'static str, Option<Scope>), ApiError> {
    match (&body.area, body.lon, body.lat) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ApiError::invalid(
            "area",
            "give either lon, lat and people, or area, not both",
        )),
        (Some(area), None, None) => {
            if body.people.is_some() {
                return Err(ApiError::invalid(
                    "people",
                    "people are counted from the area; leave people out, or give lon/lat instead",
                ));
            }
            let scope = match body.scope.as_deref() {
                None => Scope::Covered,
                Some(raw) => Scope::parse(raw).ok_or_else(|| {
                    ApiError::invalid(
                        "scope",
                        format!("scope is covered or villages, not {raw:?}"),
                    )
                })?,
            };
            let shape = allocate::polygons_from_geojson(area, "area")?
                .into_iter()
                .flat_map(|(_, shape)| shape.0)
                .collect::<Vec<_>>();
            if shape.is_empty() {
                return Err(ApiError::invalid("area", "the area holds no polygon"));
            }
            let counted = allocate::people_in_area(store, &geo::MultiPolygon(shape), scope)?;
            Ok((counted.demands, counted.basis, Some(scope)))
        }
        (None, lon, lat) => {
            if body.scope.is_some() {
                return Err(ApiError::invalid("scope", "scope applies to an area"));
            }
            let lon = lon.ok_or_else(|| {
                ApiError::invalid(
                    "lon",
                    "give lon, lat and people, or an area (GeoJSON polygon)",
                )
            })?;
            let lat = lat.ok_or_else(|| ApiError::invalid("lat", "lat is required with lon"))?;
            let crs = super::params::body_crs(body.crs.as_deref())?;
            let origin = super::params::point(lon, lat, &crs)?;
            let people = body
                .people
                .ok_or_else(|| ApiError::invalid("people", "people is required with lon/lat"))?;
            if !(1..=MAX_PEOPLE).contains(&people) {
                return Err(ApiError::invalid(
                    "people",
                    format!("people must be between 1 and {MAX_PEOPLE}, got {people}"),
                ));
            }
            Ok((
                vec![Demand {
                    origin,
                    people,
                    village: None,
                    cells: 0,
                }],
                "request",
                None,
            ))
        }
    }
}

/// A point as the allocation answers name it.
#[derive(Debug, Clone, Copy, Serialize)]
struct LonLat {
    lon: f64,
    lat: f64,
}

impl LonLat {
    /// Rounded to 1e-7° like the paths, so a path starts exactly where its group does.
    fn of(c: geo::Coord<f64>) -> LonLat {
        LonLat {
            lon: round_deg(c.x),
            lat: round_deg(c.y),
        }
    }

    /// Feature `i`'s place, if it is a point.
    fn feature(layer: &Layer, i: usize) -> Option<LonLat> {
        layer.geometry(i).to_geo_point().map(LonLat::of)
    }
}

/// A shelter as every allocation list names it: demo and real registers repeat names (two
/// 中心小学 in different towns), so the id (the register's code) and the address go with it.
#[derive(Debug, Serialize)]
struct ShelterRef<'a> {
    shelter: &'a str,
    name: Option<&'a str>,
    address: Option<&'a str>,
}

impl<'a> ShelterRef<'a> {
    fn new(layer: &'a Layer, i: usize) -> Self {
        ShelterRef {
            shelter: layer.id(i),
            name: layer.label(i),
            address: layer
                .property(i, "address")
                .and_then(crate::spatial::PropertyValue::as_text),
        }
    }
}

fn round_deg(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// A path as a GeoJSON LineString (WGS84).
#[derive(Debug, Serialize)]
struct LineStringJson {
    r#type: &'static str,
    coordinates: Vec<[f64; 2]>,
}

impl LineStringJson {
    fn new(path: &[geo::Coord<f64>]) -> Self {
        LineStringJson {
            r#type: "LineString",
            // 1e-7° (about 1 cm), like every other coordinate the API answers with, so a
            // point given in another CRS and converted draws the same path.
            coordinates: path
                .iter()
                .map(|c| [round_deg(c.x), round_deg(c.y)])
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct AssignmentJson<'a> {
    #[serde(flatten)]
    shelter: ShelterRef<'a>,
    at: Option<LonLat>,
    group: usize,
    /// Straight line.
    distance_m: f64,
    /// `straight`, or `around_zones` when the straight line would enter an exclusion zone.
    route: &'static str,
    path: LineStringJson,
    path_m: f64,
    walking_m: f64,
    people: i64,
    free_before: i64,
    free_after: i64,
}

#[derive(Debug, Serialize)]
struct BlockedJson<'a> {
    group: usize,
    #[serde(flatten)]
    shelter: ShelterRef<'a>,
    reason: &'static str,
    distance_m: f64,
    /// The way round, when there is one (longer than the reach).
    path_m: Option<f64>,
    walking_m: Option<f64>,
    /// The zones the straight line enters.
    zones: Vec<&'a str>,
}

/// Blocked pairs listed at most (nearest first); `blocked_total` counts them all.
const BLOCKED_LISTED: usize = 100;

/// A plan as the API answers it.
#[derive(Debug, Serialize)]
struct PlanOut<'a> {
    people: i64,
    placed: i64,
    unplaced: i64,
    groups: Vec<GroupJson<'a>>,
    assignments: Vec<AssignmentJson<'a>>,
    skipped: Vec<SkippedJson<'a>>,
    blocked: Vec<BlockedJson<'a>>,
    blocked_total: usize,
    usable_shelters: usize,
    usable_free: i64,
}

/// A group of people (a point's, or a village's in an area) and how it was placed.
#[derive(Debug, Serialize)]
struct GroupJson<'a> {
    group: usize,
    village: Option<VillageRef<'a>>,
    origin: LonLat,
    people: i64,
    cells: usize,
    placed: i64,
    unplaced: i64,
    /// The exclusion zones the group starts in (it walks straight out of them).
    in_zones: Vec<&'a str>,
}

#[derive(Debug, Serialize)]
struct VillageRef<'a> {
    id: &'a str,
    name: Option<&'a str>,
}

/// A shelter the plan passed over, and why.
#[derive(Debug, Serialize)]
struct SkippedJson<'a> {
    #[serde(flatten)]
    shelter: ShelterRef<'a>,
    reason: &'static str,
    distance_m: f64,
    walking_m: f64,
    status: Option<&'static str>,
    free: Option<i64>,
    /// For a shelter inside an exclusion zone: the zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    zone: Option<Option<&'a str>>,
}

impl<'a> PlanOut<'a> {
    fn new(
        store: &'a LayerStore,
        layer: &'a Layer,
        live: &Live,
        request: &'a allocate::Request,
        plan: &'a Plan,
    ) -> PlanOut<'a> {
        let villages = store.by_role(Role::Village);
        let zone_label = |z: usize| request.exclude.get(z).map_or("", |z| z.label.as_str());
        let groups = request
            .demands
            .iter()
            .enumerate()
            .map(|(n, d)| {
                let placed = plan.placed_by_demand.get(n).copied().unwrap_or(0);
                GroupJson {
                    group: n,
                    village: d.village.zip(villages).map(|(v, layer)| VillageRef {
                        id: layer.id(v),
                        name: layer.label(v),
                    }),
                    origin: LonLat::of(d.origin),
                    people: d.people,
                    cells: d.cells,
                    placed,
                    unplaced: d.people - placed,
                    in_zones: plan
                        .leaving
                        .get(n)
                        .map(|zones| zones.iter().map(|&z| zone_label(z)).collect())
                        .unwrap_or_default(),
                }
            })
            .collect();
        let assignments = plan
            .assignments
            .iter()
            .map(|a| AssignmentJson {
                shelter: ShelterRef::new(layer, a.shelter),
                at: LonLat::feature(layer, a.shelter),
                group: a.demand,
                distance_m: round_m(a.distance_m),
                route: if a.path.len() > 2 {
                    "around_zones"
                } else {
                    "straight"
                },
                path: LineStringJson::new(&a.path),
                path_m: round_m(a.path_m),
                walking_m: round_m(a.walking_m),
                people: a.people,
                free_before: a.free_before,
                free_after: a.free_after,
            })
            .collect();
        let blocked = plan
            .blocked
            .iter()
            .take(BLOCKED_LISTED)
            .map(|b| BlockedJson {
                group: b.demand,
                shelter: ShelterRef::new(layer, b.shelter),
                reason: b.reason.as_str(),
                distance_m: round_m(b.distance_m),
                path_m: b.path_m.map(round_m),
                walking_m: b.path_m.map(|m| round_m(m * request.detour_factor)),
                zones: b.zones.iter().map(|&z| zone_label(z)).collect(),
            })
            .collect();
        let skipped = plan
            .skipped
            .iter()
            .map(|s| {
                let view = live.view(layer, s.shelter);
                SkippedJson {
                    shelter: ShelterRef::new(layer, s.shelter),
                    reason: s.reason.as_str(),
                    distance_m: round_m(s.distance_m),
                    walking_m: round_m(s.walking_m),
                    status: view.as_ref().map(|v| v.status.as_str()),
                    free: view.as_ref().map(|v| v.free()),
                    zone: match s.reason {
                        SkipReason::Excluded(z) => {
                            Some(request.exclude.get(z).map(|z| z.label.as_str()))
                        }
                        _ => None,
                    },
                }
            })
            .collect();
        PlanOut {
            people: plan.people,
            placed: plan.placed,
            unplaced: plan.unplaced,
            groups,
            assignments,
            skipped,
            blocked,
            blocked_total: plan.blocked.len(),
            usable_shelters: plan.usable_shelters,
            usable_free: plan.usable_free,
        }
    }
}

/// A shelter change on the stream, with its time.
#[derive(Serialize)]
struct StreamedChange<'a> {
    #[serde(flatten)]
    change: &'a ShelterChange,
    time: String,
}

/// Shelter changes as `shelter` events on `/api/stream`: the shelter id, its new occupancy,
/// status and free places, who changed it and whether by report or committed allocation, so
/// the map recolours a shelter the moment it fills.
pub fn events(
    state: &AppState,
) -> futures_util::stream::BoxStream<
    'static,
    Result<axum::response::sse::Event, std::convert::Infallible>,
> {
    use axum::response::sse::Event;
    use futures_util::StreamExt;
    tokio_stream::wrappers::BroadcastStream::new(state.shelters.subscribe())
        .map(|change| {
            Ok(match change {
                Ok(change) => {
                    let data = StreamedChange {
                        time: rfc3339(change.at),
                        change: &change,
                    };
                    Event::default()
                        .event("shelter")
                        .id(change.shelter.clone())
                        .data(serde_json::to_string(&data).unwrap_or_default())
                }
                Err(_) => Event::default().event("lagged").data("{}"),
            })
        })
        .boxed()
}
