//! `GET /api/nearest/{layer}` and `GET /api/around`.

use super::params::Params;
use super::render::FeatureRef;
use super::{ApiError, AppState};
use crate::catalog::Role;
use crate::services::around::{MAX_RADIUS_M, around as around_report};
use crate::services::nearest::{Filter, MAX_K, Query, nearest as nearest_features};
use crate::services::occupancy::Live;
use crate::services::{ServiceError, Viewer};
use crate::spatial::distance::round_m;
use crate::spatial::{Layer, LayerStore};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// A layer by id, as this viewer may see it: staff layers do not exist for the public.
pub fn visible_layer<'s>(
    store: &'s LayerStore,
    id: &str,
    viewer: Viewer,
) -> Result<&'s Layer, ApiError> {
    store
        .layer(id)
        .filter(|l| viewer.may_see(l))
        .ok_or_else(|| ServiceError::UnknownLayer(id.to_string()).into())
}

/// A feature found near a point: what it is, how far, its properties as they stand now and
/// its geometry; for a shelter, its free places.
#[derive(Debug, Serialize)]
struct Found<'a> {
    #[serde(flatten)]
    feature: FeatureRef<'a>,
    geometry: geojson::Geometry,
    #[serde(skip_serializing_if = "Option::is_none")]
    free_capacity: Option<i64>,
}

impl<'a> Found<'a> {
    fn new(layer: &'a Layer, i: usize, metres: f64, live: &Live) -> Found<'a> {
        let mut feature = FeatureRef::new(layer, i).at(metres);
        feature.properties = Some(super::shelters::properties_now(layer, i, live));
        Found {
            feature,
            geometry: geojson::Geometry::new(geojson::Value::from(&layer.geometry(i).to_geo())),
            free_capacity: live.free_places(layer, i),
        }
    }
}

pub async fn nearest(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    Path(layer_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(query.as_deref());
    let live = super::shelters::live(&state).await?;
    let store = state.store.snapshot();
    let layer = visible_layer(&store, &layer_id, caller.viewer)?;
    let (p, crs) = params.point()?;
    let k = params.usize_in("k", 5, 1, MAX_K)?;
    let max_distance_m = params.f64("max_distance")?;
    if let Some(d) = max_distance_m {
        if d < 0.0 {
            return Err(ApiError::invalid(
                "max_distance",
                "max_distance must not be negative",
            ));
        }
    }
    let people = match params.get("people") {
        None => None,
        Some(_) if layer.def.role != Some(Role::Shelter) => {
            return Err(ApiError::invalid(
                "people",
                format!(
                    "people applies to shelter layers; {} is not one",
                    layer.def.id
                ),
            ));
        }
        Some(_) => params.count("people", "people")?,
    };
    let known = ["lon", "lat", "crs", "k", "max_distance", "people"];
    let filters = params
        .others(&known)
        .map(|(name, value)| Filter::parse(layer, name, value))
        .collect::<Result<Vec<_>, _>>()?;
    let hits = nearest_features(
        layer,
        p,
        &Query {
            k,
            max_distance_m,
            filters,
            people,
        },
        &live,
    );
    Ok(Json(json!({
        "layer": layer.def.id,
        "point": {"lon": p.x, "lat": p.y, "input_crs": crs.label()},
        "count": hits.len(),
        "features": hits.iter().map(|&(i, d)| Found::new(layer, i, d, &live)).collect::<Vec<_>>(),
    })))
}

pub async fn around(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(query.as_deref());
    let (p, crs) = params.point()?;
    let radius = params.f64_in("radius", 1000.0, MAX_RADIUS_M)?;
    let live = super::shelters::live(&state).await?;
    let store = state.store.snapshot();
    let report = around_report(&store, p, radius, caller.viewer, &live)?;
    let location = report.location.as_ref().map(|at| {
        let part = |role: Role, index: Option<u32>| {
            store.by_role(role).zip(index).map(|(layer, i)| {
                serde_json::to_value(FeatureRef::new(layer, i as usize)).unwrap_or(Value::Null)
            })
        };
        json!({
            "cell": part(Role::GridCell, Some(at.cell)),
            "village": part(Role::Village, at.village),
            "town": part(Role::Town, at.town),
            "beat": part(Role::Beat, at.beat),
            "ambiguous": at.is_ambiguous(),
            "edge_distance_m": store.grid.as_ref().map(|g| round_m(at.edge_distance_m(g))),
        })
    });
    let mut sections = Map::new();
    for section in &report.sections {
        let mut object = json!({
            "layer": section.layer.def.id,
            "title": section.layer.def.title,
            "count": section.hits.len(),
            "truncated": section.truncated,
            "features": section.hits.iter().map(|&(i, d)| Found::new(section.layer, i, d, &live)).collect::<Vec<_>>(),
        });
        if let Some(people) = section.people {
            object["people"] = people.into();
        }
        sections.insert(section.role.as_str().to_string(), object);
    }
    Ok(Json(json!({
        "point": {"lon": p.x, "lat": p.y, "input_crs": crs.label()},
        "radius_m": radius,
        "location": location,
        "sections": sections,
        "withheld": report.withheld.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    })))
}
