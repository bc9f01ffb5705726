//! `/styles/{name}.json` (MapLibre styles from `styles/`, made to point at this server) and
//! `/fonts/{fontstack}/{range}.pbf` (glyph ranges from `styles/fonts/`).

use super::{ApiError, AppState, origin};
use crate::tiles::glyphs::empty_range;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
}

/// Serves a style with `{origin}` and `{layers}` filled in for this request: the tile source
/// lists exactly the layers the viewer may see, and style layers drawing others are dropped.
pub async fn style(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let name = file
        .strip_suffix(".json")
        .filter(|n| safe_name(n))
        .ok_or_else(|| ApiError::not_found("unknown_style", format!("no style {file:?}")))?;
    let path = state.styles_dir.join(format!("{name}.json"));
    let text = tokio::fs::read_to_string(&path).await.map_err(|_| {
        ApiError::not_found("unknown_style", format!("no style {name:?}")).with_field("name")
    })?;
    let mut style: Value = serde_json::from_str(&text)
        .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
    let store = state.store.snapshot();
    let viewer = caller.viewer;
    let visible: Vec<&str> = store
        .layers()
        .iter()
        .filter(|l| viewer.may_see(l))
        .map(|l| l.def.id.as_str())
        .collect();
    if let Some(layers) = style.get_mut("layers").and_then(Value::as_array_mut) {
        layers.retain(|l| {
            l.get("source-layer")
                .and_then(Value::as_str)
                .is_none_or(|s| visible.contains(&s))
        });
    }
    let origin = origin(&headers);
    let text = style
        .to_string()
        .replace("{origin}", &origin)
        .replace("{layers}", &visible.join(","));
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

/// One glyph range. Stacks may list fallbacks (`A,B`): the first one present wins; a range no
/// stack has is answered with an empty glyph set, which MapLibre accepts.
pub async fn glyphs(
    State(state): State<AppState>,
    Path((stacks, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let range = file.strip_suffix(".pbf").ok_or_else(|| {
        ApiError::invalid("range", format!("glyph ranges end in .pbf, got {file:?}"))
    })?;
    let (start, end) = range
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .filter(|(a, b)| a % 256 == 0 && *b == a + 255 && *b <= 65_535)
        .ok_or_else(|| {
            ApiError::invalid(
                "range",
                format!("{range:?} is not a glyph range like 0-255"),
            )
        })?;
    let names: Vec<&str> = stacks
        .split(',')
        .map(str::trim)
        .filter(|s| safe_name(s))
        .collect();
    let first = *names.first().ok_or_else(|| {
        ApiError::invalid("fontstack", format!("{stacks:?} is not a font stack name"))
    })?;
    for name in &names {
        let path = state
            .styles_dir
            .join("fonts")
            .join(name)
            .join(format!("{start}-{end}.pbf"));
        if let Ok(bytes) = tokio::fs::read(&path).await {
            return Ok(pbf(bytes));
        }
    }
    Ok(pbf(empty_range(first, start)))
}

fn pbf(bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/x-protobuf"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        bytes,
    )
        .into_response()
}
