//! `GET /api/photos/{hash}[?thumb=1]`: a stored photo, only to those who may see its case —
//! staff (bearer key, or `?key=` for `<img>` tags), the reporter with their tracking token
//! (`?case=ID&token=…`), and anyone once the photos of a listed case were approved. Everyone
//! but staff gets the re-encoded copy without EXIF (no GPS position, no camera serial). A key
//! bound to a node of the network sees only the photos of the cases its node works
//! ([`crate::cases::network::sees_photos_of`]). A photo the caller may not see is a 404,
//! exactly like one that does not exist.

use super::auth::Caller;
use super::cases::service;
use super::params::Params;
use super::{ApiError, AppState};
use crate::cases::CaseService;
use crate::cases::public_view::{is_listable, token_matches};
use crate::catalog::CodeTables;
use crate::photos::{PhotoError, Variant, is_hash};
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

fn not_found() -> ApiError {
    ApiError::from(PhotoError::NotFound)
}

/// May someone without a key see this photo? Only a reporter's photo (`report` link) of a case
/// that is listed with approved photos, or of the case whose token they hold.
async fn public_may_see(
    cases: &CaseService,
    tables: &CodeTables,
    hash: &str,
    tracked: Option<(i64, &str)>,
) -> Result<bool, ApiError> {
    for (case_id, kind) in cases.store.photo_links(hash).await? {
        if kind != "report" {
            continue;
        }
        let case = cases.store.get(case_id).await?;
        if is_listable(&case, tables) && case.photos_public {
            return Ok(true);
        }
        if let Some((id, token)) = tracked
            && id == case_id
            && token_matches(&case, token)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn photo(
    State(state): State<AppState>,
    header_caller: Caller,
    Path(hash): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let caller = header_caller.or_query_key(&state, &params).await?;
    let cases = service(&state)?;
    if !is_hash(&hash) {
        return Err(not_found());
    }
    // Recorded means linked to a committed case or step.
    let Some(original_type) = cases.store.photo_type(&hash).await? else {
        return Err(not_found());
    };
    let thumb = matches!(params.get("thumb"), Some("1" | "true" | "yes"));
    let staff = caller.actor.is_staff();
    if staff && caller.actor.node.is_some() {
        let mut visible = false;
        for (case_id, _) in cases.store.photo_links(&hash).await? {
            let case = cases.store.get(case_id).await?;
            if crate::cases::network::sees_photos_of(&caller.actor, &case) {
                visible = true;
                break;
            }
        }
        if !visible {
            return Err(not_found());
        }
    }
    if !staff {
        let tracked = params
            .get("case")
            .and_then(|c| c.parse::<i64>().ok())
            .zip(params.get("token"));
        if !public_may_see(cases, &state.tables, &hash, tracked).await? {
            return Err(not_found());
        }
    }
    let (variant, content_type) = match (thumb, staff) {
        (true, _) => (Variant::Thumb, "image/jpeg".to_string()),
        (false, true) => (Variant::Original, original_type),
        (false, false) => (Variant::Public, "image/jpeg".to_string()),
    };
    let store = cases
        .photo_store()
        .ok_or(ApiError::from(PhotoError::NotConfigured))?;
    respond(store, &hash, variant, content_type).await
}

/// A stored photo for a staff caller whose right to see it was checked by the caller: the
/// thumbnail, or the original as uploaded (incident task photos use it).
pub(super) async fn serve(
    store: &crate::photos::PhotoStore,
    hash: &str,
    thumb: bool,
    original_type: String,
) -> Result<Response, ApiError> {
    if thumb {
        respond(store, hash, Variant::Thumb, "image/jpeg".to_string()).await
    } else {
        respond(store, hash, Variant::Original, original_type).await
    }
}

/// One copy of a photo with the headers every photo answer carries (private caching, no
/// sniffing, shown inline).
async fn respond(
    store: &crate::photos::PhotoStore,
    hash: &str,
    variant: Variant,
    content_type: String,
) -> Result<Response, ApiError> {
    let bytes = store.get(hash, variant).await?;
    let etag = format!(
        "\"{hash}-{}\"",
        match variant {
            Variant::Original => "o",
            Variant::Public => "p",
            Variant::Thumb => "t",
        }
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=300".to_string()),
            (header::ETAG, etag),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_DISPOSITION, "inline".to_string()),
        ],
        bytes,
    )
        .into_response())
}
