//! `GET /api/locate`: which cell, village, town, beat — and, with `class`, which unit.

use super::params::Params;
use super::render::FeatureRef;
use super::{ApiError, AppState};
use crate::catalog::{CodeTables, Role};
use crate::services::ServiceError;
use crate::services::locate::DEFAULT_TOLERANCE_M;
use crate::services::place::place;
use crate::services::routing::Basis;
use crate::spatial::LayerStore;
use crate::spatial::crs::Crs;
use crate::spatial::distance::round_m;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use geo::Coord;
use serde::Serialize;
use std::collections::BTreeMap;

/// Largest border tolerance a caller may ask for.
pub const MAX_TOLERANCE_M: f64 = 100.0;
/// How many nearest units of the class's type an answer lists.
pub const NEAREST_UNITS: usize = 3;

#[derive(Debug, Serialize)]
pub struct PointOut {
    pub lon: f64,
    pub lat: f64,
    /// The system the caller gave the point in, and the point as given.
    pub input_crs: String,
    pub input: [f64; 2],
}

#[derive(Debug, Serialize)]
pub struct ClassOut<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub unit_type: &'a str,
    pub unit_type_name: &'a str,
    pub level: &'static str,
    pub limits_h: &'a BTreeMap<String, u32>,
}

#[derive(Debug, Serialize)]
pub struct UnitOut<'a> {
    #[serde(flatten)]
    pub feature: FeatureRef<'a>,
    pub basis: Basis,
}

#[derive(Debug, Serialize)]
pub struct RoutingOut<'a> {
    pub class: ClassOut<'a>,
    pub responsible_unit: Option<UnitOut<'a>>,
    pub nearest_units: Vec<FeatureRef<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Answer<'a> {
    pub point: PointOut,
    pub cell: FeatureRef<'a>,
    pub village: Option<FeatureRef<'a>>,
    pub town: Option<FeatureRef<'a>>,
    pub beat: Option<FeatureRef<'a>>,
    pub edge_distance_m: f64,
    /// The point is within the tolerance of a border: `candidates` lists every cell in reach.
    pub ambiguous: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<FeatureRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingOut<'a>>,
}

/// The answer for one point: where it is and, with a class, who handles it there.
pub fn answer<'a>(
    store: &'a LayerStore,
    tables: &'a CodeTables,
    p: Coord<f64>,
    input: (f64, f64, &Crs),
    class: Option<&str>,
    tolerance_m: f64,
) -> Result<Answer<'a>, ServiceError> {
    let grid = store.grid.as_ref().ok_or(ServiceError::NoGrid)?;
    let cells = store.by_role(Role::GridCell).ok_or(ServiceError::NoGrid)?;
    let placed = place(store, tables, p, class, tolerance_m, NEAREST_UNITS)
        .map_err(|e| e.as_given(input.0, input.1))?;
    let at = &placed.at;
    let parent = |role: Role, index: Option<u32>| {
        let layer = store.by_role(role)?;
        index.map(|i| FeatureRef::new(layer, i as usize))
    };
    let routing = match placed.routing {
        None => None,
        Some(routing) => {
            let unit_ref = |role: Role, index: usize, distance: f64| {
                store
                    .by_role(role)
                    .map(|layer| FeatureRef::new(layer, index).at(distance))
            };
            let class = routing.class;
            Some(RoutingOut {
                class: ClassOut {
                    code: &class.code,
                    name: &class.name,
                    unit_type: &class.unit_type,
                    unit_type_name: tables
                        .unit_type(&class.unit_type)
                        .map_or("", |u| u.name.as_str()),
                    level: class.level.as_str(),
                    limits_h: &class.limits_h,
                },
                responsible_unit: routing.responsible.and_then(|(u, basis)| {
                    unit_ref(u.role, u.index, u.distance_m)
                        .map(|feature| UnitOut { feature, basis })
                }),
                nearest_units: routing
                    .nearest
                    .iter()
                    .filter_map(|u| unit_ref(u.role, u.index, u.distance_m))
                    .collect(),
            })
        }
    };
    Ok(Answer {
        point: PointOut {
            lon: p.x,
            lat: p.y,
            input_crs: input.2.label().to_string(),
            input: [input.0, input.1],
        },
        cell: FeatureRef::new(cells, at.cell as usize),
        village: parent(Role::Village, at.village),
        town: parent(Role::Town, at.town),
        beat: parent(Role::Beat, at.beat),
        edge_distance_m: round_m(at.edge_distance_m(grid)),
        ambiguous: at.is_ambiguous(),
        candidates: at
            .candidates
            .iter()
            .map(|&(c, d)| FeatureRef::new(cells, c as usize).at(d))
            .collect(),
        routing,
    })
}

pub async fn locate_one(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let crs = params.crs()?;
    let lon = params.required_f64("lon")?;
    let lat = params.required_f64("lat")?;
    let p = super::params::point(lon, lat, &crs)?;
    let tolerance = params.f64_in("tolerance", DEFAULT_TOLERANCE_M, MAX_TOLERANCE_M)?;
    let class = params.get("class").filter(|c| !c.is_empty());
    let store = state.store.snapshot();
    let answer = answer(&store, &state.tables, p, (lon, lat, &crs), class, tolerance)?;
    Ok(Json(answer).into_response())
}
