//! `GET /api/search?q=&limit=`: places by code or name, with where to show them.

use super::params::Params;
use super::{ApiError, AppState};
use crate::services::search::{MAX_RESULTS, search as find};
use crate::spatial::GeometryRef;
use axum::Json;
use axum::extract::{RawQuery, State};
use geo::InteriorPoint;
use serde_json::{Value, json};

pub async fn search(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(query.as_deref());
    let q = params.get("q").unwrap_or("").trim().to_string();
    if q.is_empty() {
        return Err(ApiError::invalid(
            "q",
            "q is required: a cell code, village, town or unit name",
        ));
    }
    if q.chars().count() > 100 {
        return Err(ApiError::invalid("q", "q is at most 100 characters"));
    }
    let limit = params.usize_in("limit", 10, 1, MAX_RESULTS)?;
    let store = state.store.snapshot();
    let results: Vec<Value> = find(&store, &q, limit, caller.viewer)
        .into_iter()
        .map(|(layer, i)| {
            let geometry = layer.geometry(i);
            let at = match geometry {
                GeometryRef::Point(c) => Some(c),
                GeometryRef::Lines(m) => m.0.first().and_then(|l| l.0.get(l.0.len() / 2)).copied(),
                GeometryRef::Polygons(m) => m.interior_point().map(|p| p.0),
            };
            let bbox = geometry
                .bounding_rect()
                .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
            json!({
                "layer": layer.def.id,
                "layer_title": layer.def.title,
                "id": layer.id(i),
                "name": layer.label(i),
                "lon": at.map(|c| c.x),
                "lat": at.map(|c| c.y),
                "bbox": bbox,
            })
        })
        .collect();
    Ok(Json(
        json!({ "query": q, "count": results.len(), "results": results }),
    ))
}
