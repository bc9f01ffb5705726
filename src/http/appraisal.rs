//! `GET /api/appraisal?from=&to=&level=[&format=csv]`: the units' appraisal (考核) for a period.

use super::auth::Caller;
use super::cases::service;
use super::params::Params;
use super::{ApiError, AppState};
use crate::cases::clock::rfc3339;
use crate::catalog::Level;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

const DAY_MS: i64 = 86_400_000;

pub async fn appraisal(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let cases = service(&state)?;
    let params = Params::parse(query.as_deref());
    let now = cases.clock.now();
    let to = params.time("to")?.unwrap_or(now + 1);
    let from = params.time("from")?.unwrap_or(to - 30 * DAY_MS);
    if from >= to {
        return Err(ApiError::invalid("from", "from must be before to"));
    }
    let level = match params.get("level").filter(|s| !s.is_empty()) {
        None | Some("all") => None,
        Some("district") => Some(Level::District),
        Some("town") => Some(Level::Town),
        Some(other) => {
            return Err(ApiError::invalid(
                "level",
                format!("level must be district, town or all, got {other:?}"),
            ));
        }
    };
    let store = state.store.snapshot();
    let appraisal = cases.appraisal(&store, from, to, level).await?;
    let rows = &appraisal.units;
    match params.get("format") {
        Some("csv") => {
            let body = match params.get("rows") {
                None | Some("units") => crate::cases::appraisal::to_csv(rows),
                Some("sub_centres") => {
                    crate::cases::appraisal::sub_centres_csv(&appraisal.sub_centres)
                }
                Some(other) => {
                    return Err(ApiError::invalid(
                        "rows",
                        format!("rows must be units or sub_centres, got {other:?}"),
                    ));
                }
            }
            .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"appraisal.csv\"",
                    ),
                ],
                body,
            )
                .into_response())
        }
        None | Some("json") => Ok(Json(json!({
            "from": rfc3339(from),
            "to": rfc3339(to),
            "level": params.get("level").unwrap_or("all"),
            "units": rows,
            "sub_centres": appraisal.sub_centres,
        }))
        .into_response()),
        Some("html") => Ok(axum::response::Html(super::appraisal_print::page(
            &appraisal,
            &rfc3339(from),
            &rfc3339(to),
        ))
        .into_response()),
        Some(other) => Err(ApiError::invalid(
            "format",
            format!("format must be json or csv, got {other:?}"),
        )),
    }
}
