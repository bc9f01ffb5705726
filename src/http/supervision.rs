//! Supervision orders (督办单): `POST /api/cases/{id}/supervision` issues one,
//! `GET /api/supervision` lists them, `POST /api/supervision/{id}/reply` answers one and
//! `POST /api/supervision/{id}/close` closes it.

use super::auth::Caller;
use super::cases::service;
use super::params::{Params, parse_body};
use super::{ApiError, AppState};
use crate::cases::clock::rfc3339;
use crate::cases::network::NodeDirectory;
use crate::cases::supervision::{IssueRequest, Order, OrderFilter, STATES};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Largest page of the order list.
const MAX_LIMIT: i64 = 1000;

/// An order as the API shows it: the record, its state now (`overdue` included) and times.
#[derive(Debug, Serialize)]
pub struct OrderView<'a> {
    #[serde(flatten)]
    pub order: &'a Order,
    pub state: &'static str,
    pub answered_on_time: Option<bool>,
    pub due_time: String,
    pub created_time: String,
    pub replied_time: Option<String>,
}

impl<'a> OrderView<'a> {
    pub fn new(order: &'a Order, now: i64) -> OrderView<'a> {
        OrderView {
            state: order.state(now),
            answered_on_time: order.answered_on_time(),
            due_time: rfc3339(order.due_at),
            created_time: rfc3339(order.created_at),
            replied_time: order.replied_at.map(rfc3339),
            order,
        }
    }
}

fn positive_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::invalid("id", format!("{what} id is a positive number, got {raw:?}"))
    })
}

/// `POST /api/cases/{id}/supervision`: `{target, requirement, due | due_hours}`; 201.
pub async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let cases = service(&state)?;
    let id = positive_id(&id, "a case")?;
    let request: IssueRequest = parse_body(&body)?;
    let store = state.store.snapshot();
    let directory = NodeDirectory {
        store: &store,
        tables: &state.tables,
    };
    let order = cases
        .issue_order(&directory, id, &request, &caller.actor)
        .await?;
    let now = cases.clock.now();
    Ok((
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/supervision?case={}", order.case_id),
        )],
        Json(OrderView::new(&order, now)),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    #[serde(default)]
    pub reply: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /api/supervision/{id}/reply`: `{reply}` by the order's target.
pub async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let cases = service(&state)?;
    let id = positive_id(&id, "an order")?;
    let body: StepBody = parse_body(&body)?;
    let order = cases
        .reply_order(id, body.reply.as_deref(), &caller.actor)
        .await?;
    Ok(Json(OrderView::new(&order, cases.clock.now())).into_response())
}

/// `POST /api/supervision/{id}/close`: `{note?}` by the issuing node.
pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let cases = service(&state)?;
    let id = positive_id(&id, "an order")?;
    let body: StepBody = if body.is_empty() {
        StepBody {
            reply: None,
            note: None,
        }
    } else {
        parse_body(&body)?
    };
    if body.reply.is_some() {
        return Err(ApiError::invalid("reply", "the target replies with /reply"));
    }
    let order = cases
        .close_order(id, body.note.as_deref(), &caller.actor)
        .await?;
    Ok(Json(OrderView::new(&order, cases.clock.now())).into_response())
}

#[derive(Debug, Serialize)]
struct OrderList<'a> {
    orders: Vec<OrderView<'a>>,
}

/// `GET /api/supervision?state=&target=&issuer=&case=&limit=`: every linkage unit sees every
/// order (as it sees every case).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let cases = service(&state)?;
    let params = Params::parse(query.as_deref());
    let text = |name: &str| {
        params
            .get(name)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let state_filter = text("state");
    if let Some(s) = &state_filter
        && !STATES.contains(&s.as_str())
    {
        return Err(ApiError::invalid(
            "state",
            format!("state must be one of {}, got {s:?}", STATES.join(", ")),
        ));
    }
    let case_id = text("case")
        .map(|raw| positive_id(&raw, "a case"))
        .transpose()
        .map_err(|e| e.with_field("case"))?;
    let limit = params
        .get("limit")
        .filter(|s| !s.is_empty())
        .map_or(Ok(100), |raw| {
            raw.parse::<i64>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| ApiError::invalid("limit", format!("limit must be 1–{MAX_LIMIT}")))
        })?;
    let mut target = text("target");
    if target.as_deref() == Some("mine") {
        target = Some(caller.actor.effective_node().as_string());
    }
    let filter = OrderFilter {
        state: state_filter,
        target,
        issuer: text("issuer"),
        case_id,
        limit,
    };
    let orders = cases.list_orders(&filter).await?;
    let now = cases.clock.now();
    Ok(Json(OrderList {
        orders: orders.iter().map(|o| OrderView::new(o, now)).collect(),
    })
    .into_response())
}
