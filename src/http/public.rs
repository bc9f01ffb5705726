//! `GET /api/public/cases`: the listed cases (citizens' reports of `public` classes) as GeoJSON
//! points at their coarsened places, for a public map of what is already reported nearby. Every
//! feature's properties are the case's public view. The `bbox` filter is applied to the
//! coarsened places, never to the true ones — otherwise shrinking the box around a case would
//! find its exact position.

use super::cases::service;
use super::params::Params;
use super::{ApiError, AppState};
use crate::cases::public_view::{LOCATION_GRID_M, coarsen, is_listable, public_classes};
use crate::cases::{CaseFilter, PublicCase, Status, public_view};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Most features one answer holds.
pub const MAX_FEATURES: i64 = 500;

#[derive(Debug, Serialize)]
struct Point {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [f64; 2],
}

#[derive(Debug, Serialize)]
struct Feature {
    #[serde(rename = "type")]
    kind: &'static str,
    id: i64,
    geometry: Point,
    properties: PublicCase,
}

#[derive(Debug, Serialize)]
struct Collection {
    #[serde(rename = "type")]
    kind: &'static str,
    features: Vec<Feature>,
}

pub async fn cases(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let cases = service(&state)?;
    let params = Params::parse(query.as_deref());
    let bbox = params.bbox()?;
    let limit = match params.get("limit").filter(|l| !l.is_empty()) {
        None => 200,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_FEATURES).contains(l))
            .ok_or_else(|| ApiError::invalid("limit", format!("limit must be 1–{MAX_FEATURES}")))?,
    };
    let statuses: Vec<Status> = match params.get("status").filter(|s| !s.is_empty()) {
        None => Vec::new(),
        Some("open") => Status::ALL.into_iter().filter(|s| s.is_open()).collect(),
        Some("closed") => Status::FINISHED.to_vec(),
        Some(other) => {
            return Err(ApiError::invalid(
                "status",
                format!("status is open or closed, got {other:?}"),
            ));
        }
    };
    let mut classes = public_classes(&state.tables);
    if let Some(class) = params.get("class").filter(|c| !c.is_empty()) {
        // A class that is not public lists nothing (it is not an error to ask).
        classes.retain(|c| c == class);
        if classes.is_empty() {
            return Ok(geojson(Vec::new()));
        }
    }
    // The box is widened by a square so every case whose coarsened place is inside is read;
    // the exact test below is on the coarsened place.
    let widened = bbox.map(|[w, s, e, n]| {
        let pad = 2.0 * LOCATION_GRID_M / 95_000.0;
        [w - pad, s - pad, e + pad, n + pad]
    });
    let filter = CaseFilter {
        statuses,
        classes,
        public_report: Some(true),
        bbox: widened,
        limit: MAX_FEATURES * 2,
        ..CaseFilter::default()
    };
    let (found, _) = cases.store.list(&filter).await?;
    let inside = |c: &crate::cases::Case| {
        let (lon, lat) = coarsen(c.lon, c.lat);
        bbox.is_none_or(|[w, s, e, n]| lon >= w && lon <= e && lat >= s && lat <= n)
    };
    let found: Vec<_> = found
        .into_iter()
        .filter(|c| is_listable(c, &state.tables) && inside(c))
        .take(limit as usize)
        .collect();
    let ids: Vec<i64> = found.iter().map(|c| c.id).collect();
    let notes = cases.store.latest_public_notes(&ids).await?;
    let store = state.store.snapshot();
    let features = found
        .iter()
        .map(|c| {
            let view = public_view(
                c,
                notes.get(&c.id).map(String::as_str),
                &store,
                &state.tables,
                state.public,
            );
            Feature {
                kind: "Feature",
                id: view.id,
                geometry: Point {
                    kind: "Point",
                    coordinates: [view.lon, view.lat],
                },
                properties: view,
            }
        })
        .collect();
    Ok(geojson(features))
}

fn geojson(features: Vec<Feature>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/geo+json")],
        Json(Collection {
            kind: "FeatureCollection",
            features,
        }),
    )
        .into_response()
}
