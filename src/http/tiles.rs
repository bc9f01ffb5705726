//! `/tiles/…`: vector tiles, TileJSON 3.0 per layer set, and the tile catalogue.

use super::{ApiError, AppState, origin};
use crate::services::ServiceError;
use crate::spatial::{Layer, LayerStore};
// The live case layer, served alone (`/tiles/cases/{z}/{x}/{y}.mvt`) for key holders.
use crate::tiles::cases::LAYER as CASES_LAYER;
use crate::tiles::mercator::TileId;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const MVT: &str = "application/vnd.mapbox-vector-tile";
/// Tiles of the demo data change only on reload; a short max-age plus ETag revalidation keeps
/// clients current without refetching unchanged tiles.
const CACHE_CONTROL: &str = "public, max-age=300, must-revalidate";
/// Staff layers and cases must not sit in shared caches; cases change by the minute.
const PRIVATE_CACHE_CONTROL: &str = "private, no-cache";

/// The case layer's tile: made from the in-memory case positions on every request (no cache:
/// cases move through the workflow all day), with an ETag of its bytes.
fn cases_tile(
    state: &AppState,
    caller: &super::auth::Caller,
    tile: TileId,
) -> Result<std::sync::Arc<crate::tiles::Encoded>, ApiError> {
    caller.require_staff()?;
    let cases = state
        .cases
        .as_ref()
        .ok_or_else(|| ApiError::from(ServiceError::UnknownLayer(CASES_LAYER.to_string())))?;
    let rect = tile.bounds(crate::tiles::encode::BUFFER / f64::from(crate::tiles::encode::EXTENT));
    let dots = cases.dots_in([rect.min().x, rect.min().y, rect.max().x, rect.max().y]);
    let now = cases.clock.now();
    Ok(std::sync::Arc::new(crate::tiles::cases::encode(
        tile, &dots, now,
    )))
}

/// The live workers layer's name, in its tiles and its URL (`/tiles/workers/{z}/{x}/{y}.mvt`).
pub const WORKERS_LAYER: &str = "workers";

/// The workers' newest fixes as a tile, made on every request (they move by the second), for
/// key holders only: where inspectors are is not public.
fn workers_tile(
    state: &AppState,
    caller: &super::auth::Caller,
    tile: TileId,
) -> Result<std::sync::Arc<crate::tiles::Encoded>, ApiError> {
    use crate::tiles::dots::{Dot, DotValue};
    caller.require_staff()?;
    let field = state
        .field
        .as_ref()
        .ok_or_else(|| ApiError::from(ServiceError::UnknownLayer(WORKERS_LAYER.to_string())))?;
    let rect = tile.bounds(crate::tiles::encode::BUFFER / f64::from(crate::tiles::encode::EXTENT));
    let registry = field.workers();
    let now = field.clock().now();
    let since = field.on_duty_since();
    let dots: Vec<Dot> = field
        .latest_in(rect)
        .into_iter()
        .map(|l| {
            let mut properties = vec![
                ("who", DotValue::Text(l.who.to_string())),
                ("age_s", DotValue::Int((now - l.time) / 1000)),
                ("on_duty", DotValue::Bool(l.time >= since)),
            ];
            if let Some(w) = registry.get(&l.who) {
                properties.push(("type", DotValue::Text(w.kind.as_str().to_string())));
                properties.push(("name", DotValue::Text(w.name.clone())));
                if let Some(b) = &w.beat {
                    properties.push(("beat", DotValue::Text(b.clone())));
                }
                if let Some(t) = &w.team_kind {
                    properties.push(("team_kind", DotValue::Text(t.clone())));
                }
            }
            Dot {
                lon: l.lon,
                lat: l.lat,
                properties,
            }
        })
        .collect();
    Ok(std::sync::Arc::new(crate::tiles::dots::encode(
        tile,
        WORKERS_LAYER,
        &dots,
    )))
}

/// The named layers (comma-separated), each visible to the viewer, without repeats.
fn layers<'s>(
    store: &'s LayerStore,
    spec: &str,
    viewer: crate::services::Viewer,
) -> Result<Vec<&'s Layer>, ApiError> {
    let mut out: Vec<&Layer> = Vec::new();
    for id in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let layer = store
            .layer(id)
            .filter(|l| viewer.may_see(l))
            .ok_or_else(|| ApiError::from(ServiceError::UnknownLayer(id.to_string())))?;
        if !out.iter().any(|l| l.def.id == layer.def.id) {
            out.push(layer);
        }
    }
    if out.is_empty() {
        return Err(ApiError::invalid(
            "layer",
            "name at least one layer, e.g. /tiles/towns,shelters/12/3430/1687.mvt",
        ));
    }
    Ok(out)
}

fn number(raw: &str, field: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().map_err(|_| {
        ApiError::invalid(
            field,
            format!("{field} must be a whole number, got {raw:?}"),
        )
    })
}

pub async fn tile(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    headers: HeaderMap,
    Path((spec, z, x, file)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let y = file
        .strip_suffix(".mvt")
        .or_else(|| file.strip_suffix(".pbf"))
        .ok_or_else(|| ApiError::invalid("y", format!("tiles end in .mvt, got {file:?}")))?;
    let z = number(&z, "z")?;
    let tile = TileId::new(
        u32::try_from(z).unwrap_or(u32::MAX),
        number(&x, "x")?,
        number(y, "y")?,
    )
    .map_err(|e| ApiError::invalid("z", e))?;
    let (encoded, private) = if spec == CASES_LAYER {
        (cases_tile(&state, &caller, tile)?, true)
    } else if spec == WORKERS_LAYER {
        (workers_tile(&state, &caller, tile)?, true)
    } else {
        let store = state.store.snapshot();
        let chosen = layers(&store, &spec, caller.viewer)?;
        let private = chosen
            .iter()
            .any(|l| l.def.access != crate::catalog::Access::Public);
        let chosen: Vec<String> = chosen.iter().map(|l| l.def.id.clone()).collect();
        let cache = state.tiles.clone();
        let encoded = tokio::task::spawn_blocking(move || {
            let layers: Vec<&Layer> = chosen.iter().filter_map(|id| store.layer(id)).collect();
            cache.get(&layers, tile)
        })
        .await
        .map_err(|e| ApiError::internal(format!("tile task failed: {e}")))?;
        (encoded, private)
    };

    let mut response_headers = HeaderMap::new();
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if private {
            PRIVATE_CACHE_CONTROL
        } else {
            CACHE_CONTROL
        }),
    );
    if let Ok(etag) = HeaderValue::from_str(&encoded.etag) {
        response_headers.insert(header::ETAG, etag);
    }
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == encoded.etag || tag.trim() == "*")
        });
    if not_modified {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    if encoded.is_empty() {
        return Ok((StatusCode::NO_CONTENT, response_headers).into_response());
    }
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let body = if gzip {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        encoded.gzip()
    } else {
        encoded.raw.clone()
    };
    Ok((response_headers, Body::from(body)).into_response())
}

/// TileJSON 3.0 for a set of layers.
pub fn tilejson(layers: &[&Layer], origin: &str) -> Value {
    let ids: Vec<&str> = layers.iter().map(|l| l.def.id.as_str()).collect();
    let joined = ids.join(",");
    let (mut west, mut south, mut east, mut north) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
    for extent in layers.iter().filter_map(|l| l.extent()) {
        west = west.min(extent.min().x);
        south = south.min(extent.min().y);
        east = east.max(extent.max().x);
        north = north.max(extent.max().y);
    }
    if west > east {
        (west, south, east, north) = (-180.0, -85.0, 180.0, 85.0);
    }
    let minzoom = layers.iter().map(|l| l.def.minzoom).min().unwrap_or(0);
    let maxzoom = layers.iter().map(|l| l.def.maxzoom).max().unwrap_or(18);
    let vector_layers = crate::tiles::tilejson::vector_layers(layers);
    let centre_zoom = minzoom.max(10);
    json!({
        "tilejson": "3.0.0",
        "name": joined,
        "description": layers.iter().map(|l| l.def.title.as_str()).collect::<Vec<_>>().join("、"),
        "tiles": [format!("{origin}/tiles/{joined}/{{z}}/{{x}}/{{y}}.mvt")],
        "scheme": "xyz",
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2.0, (south + north) / 2.0, centre_zoom],
        "vector_layers": vector_layers,
        "attribution": crate::tiles::tilejson::ATTRIBUTION,
    })
}

fn json_response(value: Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// `/tiles/{layers}.json` (TileJSON) and `/tiles/catalog.json`.
pub async fn document(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let store = state.store.snapshot();
    let origin = origin(&headers);
    if name == "catalog.json" {
        let viewer = caller.viewer;
        let entries: Vec<Value> = store
            .layers()
            .iter()
            .filter(|l| viewer.may_see(l))
            .map(|l| {
                json!({
                    "id": l.def.id,
                    "title": l.def.title,
                    "title_en": l.def.title_en,
                    "group": l.def.group,
                    "geometry": l.def.geometry.as_str(),
                    "minzoom": l.def.minzoom,
                    "maxzoom": l.def.maxzoom,
                    "tilejson": format!("{origin}/tiles/{}.json", l.def.id),
                    "tiles": format!("{origin}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", l.def.id),
                })
            })
            .collect();
        return Ok(json_response(json!({ "layers": entries })));
    }
    let spec = name.strip_suffix(".json").ok_or_else(|| {
        ApiError::not_found("not_found", format!("no such tile document: {name}"))
    })?;
    let chosen = layers(&store, spec, caller.viewer)?;
    Ok(json_response(tilejson(&chosen, &origin)))
}
