//! `GET /api/track/{id}?token=…`: a citizen follows their own request — public and private
//! classes alike — with the number and the secret token their report returned. They see the
//! public view and the history in public words (status changes, notes for the public, times),
//! never internal notes and never who acted. A wrong or missing token is a 404, the same as an
//! id that does not exist, so nobody learns which ids do.

use super::cases::service;
use super::params::Params;
use super::{ApiError, AppState};
use crate::cases::public_view::{
    PublicPhoto, PublicStep, latest_public_note, public_history, token_matches,
};
use crate::cases::{CaseError, PublicCase, public_view};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// What the reporter sees.
#[derive(Debug, Serialize)]
pub struct Tracked {
    #[serde(flatten)]
    pub case: PublicCase,
    pub history: Vec<PublicStep>,
    /// The photos the reporter sent (served re-encoded, without EXIF), for them alone: the URLs
    /// carry the token.
    pub your_photos: Vec<PublicPhoto>,
}

fn not_found() -> ApiError {
    ApiError::not_found(
        "not_found",
        "no such request, or the tracking token does not match",
    )
}

pub async fn track(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let cases = service(&state)?;
    let params = Params::parse(query.as_deref());
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(not_found)?;
    let token = params
        .get("token")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(not_found)?;
    let case = match cases.store.get(id).await {
        Ok(case) => case,
        Err(CaseError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    if !token_matches(&case, token) {
        return Err(not_found());
    }
    let events = cases.store.events(id).await?;
    let store = state.store.snapshot();
    let view = public_view(
        &case,
        latest_public_note(&events),
        &store,
        &state.tables,
        state.public,
    );
    let your_photos = case
        .photos
        .iter()
        .filter_map(|p| crate::photos::hash_of(p))
        .map(|hash| {
            let url = format!("{}?case={id}&token={token}", crate::photos::url(hash));
            PublicPhoto {
                thumb_url: Some(format!("{url}&thumb=1")),
                url,
            }
        })
        .collect();
    let out = Tracked {
        case: view,
        history: public_history(&events),
        your_photos,
    };
    Ok(([(header::CACHE_CONTROL, "private, no-store")], Json(out)).into_response())
}
