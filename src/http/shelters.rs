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
use crate::shelters::history;
use crate::spatial::distance::round_m;
use crate::spatial::{Layer, LayerStore};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
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

/// Puts a shelter's live `occupancy` and `status` into a feature's `properties` and its free
/// places into `free_capacity`, so every answer that shows a shelter shows it as it is now.
/// Features of other layers are left alone.
pub fn annotate(object: &mut Map<String, Value>, layer: &Layer, i: usize, live: &Live) {
    let Some(view) = live.view(layer, i) else {
        return;
    };
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        properties.insert("occupancy".into(), view.occupancy.into());
        properties.insert("status".into(), view.status.as_str().into());
    }
    object.insert("free_capacity".into(), view.free().into());
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
fn shelter_feature(layer: &Layer, i: usize, live: &Live, viewer: Viewer) -> Value {
    let mut properties = layer.properties_json(i);
    if let Some(view) = live.view(layer, i) {
        properties.insert("occupancy".into(), view.occupancy.into());
        properties.insert("status".into(), view.status.as_str().into());
        properties.insert("status_name".into(), view.status.name_zh().into());
        properties.insert("free".into(), view.free().into());
        let ratio = if view.capacity > 0 {
            (view.free() as f64 / view.capacity as f64 * 1000.0).round() / 1000.0
        } else {
            0.0
        };
        properties.insert("free_ratio".into(), json!(ratio));
        properties.insert("accepting".into(), view.accepting().into());
        properties.insert("reported".into(), view.reported.is_some().into());
        properties.insert(
            "updated_time".into(),
            json!(view.reported.map(|r| rfc3339(r.updated_at))),
        );
        if viewer == Viewer::Staff {
            properties.insert(
                "updated_by".into(),
                json!(view.reported.map(|r| r.actor.as_str())),
            );
        }
    }
    let geometry = geojson::Geometry::new(geojson::Value::from(&layer.geometry(i).to_geo()));
    json!({
        "type": "Feature",
        "id": layer.id(i),
        "geometry": geometry,
        "properties": properties,
    })
}

/// `GET /api/shelters[?status=open|closed|full][&min_free=N]`: every shelter with its live
/// capacity, occupancy, free places and status, as a FeatureCollection for the map.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = super::params::Params::parse(query.as_deref());
    let status = params
        .get("status")
        .filter(|s| !s.is_empty())
        .map(|raw| {
            ShelterStatus::parse(raw).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    format!("status is open, closed or full, not {raw:?}"),
                )
            })
        })
        .transpose()?;
    let min_free = params
        .get("min_free")
        .map(|raw| {
            raw.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "min_free",
                        format!("min_free must be a whole number of places, got {raw:?}"),
                    )
                })
        })
        .transpose()?;
    let live = live(&state).await?;
    let store = state.store.snapshot();
    let layer = shelter_layer(&store, caller.viewer)?;
    let (mut capacity, mut occupancy, mut free_open) = (0i64, 0i64, 0i64);
    let mut features = Vec::new();
    for i in 0..layer.len() {
        let Some(view) = live.view(layer, i) else {
            continue;
        };
        if status.is_some_and(|s| s != view.status) || min_free.is_some_and(|n| view.free() < n) {
            continue;
        }
        capacity += view.capacity;
        occupancy += view.occupancy;
        if view.accepting() {
            free_open += view.free();
        }
        features.push(shelter_feature(layer, i, &live, caller.viewer));
    }
    Ok(Json(json!({
        "type": "FeatureCollection",
        "layer": layer.def.id,
        "count": features.len(),
        "totals": {"capacity": capacity, "occupancy": occupancy, "free_in_open_shelters": free_open},
        "features": features,
    })))
}

/// `GET /api/shelters/{id}`: one shelter, live; key holders also get its latest reports.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let live = live(&state).await?;
    let store = state.store.snapshot();
    let layer = shelter_layer(&store, caller.viewer)?;
    let i = layer
        .find(&id)
        .ok_or_else(|| ShelterError::UnknownShelter(id.clone()))?;
    let mut feature = shelter_feature(layer, i, &live, caller.viewer);
    if caller.actor.is_staff() {
        if let Some(cases) = &state.cases {
            let events = history(&cases.db, &id, HISTORY).await?;
            let events: Vec<Value> = events
                .iter()
                .map(|e| {
                    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
                    if let Some(obj) = v.as_object_mut() {
                        obj.insert("time".into(), json!(rfc3339(e.at)));
                    }
                    v
                })
                .collect();
            feature["history"] = json!(events);
        }
    }
    Ok(Json(feature))
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
) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let cases = service(&state)?;
    let body: ReportBody = parse_body(&body)?;
    let status = body
        .status
        .as_deref()
        .map(|raw| {
            ShelterStatus::parse(raw).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    format!("status is open, closed or full, not {raw:?}"),
                )
            })
        })
        .transpose()?;
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
    let i = layer
        .find(&id)
        .ok_or_else(|| ShelterError::UnknownShelter(id.clone()))?;
    let mut feature = shelter_feature(layer, i, &live, caller.viewer);
    feature["change"] = serde_json::to_value(&done).unwrap_or(Value::Null);
    Ok(Json(feature))
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
) -> Result<Json<Value>, ApiError> {
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
    let mut out = plan_json(&store, layer, &live, &request, &plan);
    out["basis"] = json!(basis);
    out["scope"] = json!(scope.map(Scope::as_str));
    out["detour_factor"] = json!(detour_factor);
    out["max_distance_m"] = json!(max_walking_m);
    out["walking_estimate"] = json!(
        "walking_m = path_m × detour_factor; the path is the straight line, or the shortest way round the exclude zones (no road routing)"
    );
    out["committed"] = json!(committed.is_some());
    if let Some(changes) = committed {
        out["changes"] = serde_json::to_value(changes).unwrap_or(Value::Null);
    }
    Ok(Json(out))
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

fn point_json(layer: &Layer, i: usize) -> Value {
    match layer.geometry(i).to_geo_point() {
        Some(c) => json!({"lon": c.x, "lat": c.y}),
        None => Value::Null,
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
    at: Value,
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

fn plan_json(
    store: &LayerStore,
    layer: &Layer,
    live: &Live,
    request: &allocate::Request,
    plan: &Plan,
) -> Value {
    let villages = store.by_role(Role::Village);
    let zone_label = |z: usize| request.exclude.get(z).map_or("", |z| z.label.as_str());
    let groups: Vec<Value> = request
        .demands
        .iter()
        .enumerate()
        .map(|(n, d)| {
            let village = d
                .village
                .zip(villages)
                .map(|(v, layer)| json!({"id": layer.id(v), "name": layer.label(v)}));
            let leaving: Vec<&str> = plan
                .leaving
                .get(n)
                .map(|zones| zones.iter().map(|&z| zone_label(z)).collect())
                .unwrap_or_default();
            json!({
                "group": n,
                "village": village,
                "origin": {"lon": d.origin.x, "lat": d.origin.y},
                "people": d.people,
                "cells": d.cells,
                "placed": plan.placed_by_demand.get(n).copied().unwrap_or(0),
                "unplaced": d.people - plan.placed_by_demand.get(n).copied().unwrap_or(0),
                "in_zones": leaving,
            })
        })
        .collect();
    let assignments: Vec<AssignmentJson> = plan
        .assignments
        .iter()
        .map(|a| AssignmentJson {
            shelter: ShelterRef::new(layer, a.shelter),
            at: point_json(layer, a.shelter),
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
    let blocked: Vec<BlockedJson> = plan
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
    let skipped: Vec<Value> = plan
        .skipped
        .iter()
        .map(|s| {
            let view = live.view(layer, s.shelter);
            let mut v = serde_json::to_value(ShelterRef::new(layer, s.shelter))
                .unwrap_or_else(|_| json!({}));
            v["reason"] = json!(s.reason.as_str());
            v["distance_m"] = json!(round_m(s.distance_m));
            v["walking_m"] = json!(round_m(s.walking_m));
            v["status"] = json!(view.as_ref().map(|v| v.status.as_str()));
            v["free"] = json!(view.as_ref().map(|v| v.free()));
            if let SkipReason::Excluded(z) = s.reason {
                v["zone"] = json!(request.exclude.get(z).map(|z| z.label.as_str()));
            }
            v
        })
        .collect();
    json!({
        "people": plan.people,
        "placed": plan.placed,
        "unplaced": plan.unplaced,
        "groups": groups,
        "assignments": assignments,
        "skipped": skipped,
        "blocked": blocked,
        "blocked_total": plan.blocked.len(),
        "usable_shelters": plan.usable_shelters,
        "usable_free": plan.usable_free,
    })
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
                    let mut data = serde_json::to_value(&change).unwrap_or(Value::Null);
                    if let Some(obj) = data.as_object_mut() {
                        obj.insert("time".into(), json!(rfc3339(change.at)));
                    }
                    Event::default()
                        .event("shelter")
                        .id(change.shelter.clone())
                        .data(data.to_string())
                }
                Err(_) => Event::default().event("lagged").data("{}"),
            })
        })
        .boxed()
}
