//! `GET /api/stream`: Server-Sent Events of case changes (`case`), feed alerts raised or
//! ended (`alert`), shelter occupancy changes (`shelter`), fence crossings (`fence`), the
//! newest positions of the workers each intake group moved (`positions`), incidents proposed,
//! confirmed, raised … (`incident`), task steps (`task`) and team or stock changes
//! (`resources`), so the map and the lists update live.
//! Browsers' EventSource cannot send headers, so the key may also come as `?key=`.

use super::auth::Caller;
use super::cases::{CaseView, service};
use super::params::Params;
use super::{ApiError, AppState};
use axum::extract::{RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::convert::Infallible;
use tokio_stream::wrappers::BroadcastStream;

pub async fn stream(
    State(state): State<AppState>,
    header_caller: Caller,
    RawQuery(query): RawQuery,
    request: axum::http::request::Parts,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let caller = header_caller.or_query_key(&state, &params).await?;
    caller.require_staff()?;
    let cases = service(&state)?;
    // At most `--sse-per-key` streams per key; the place is held while the stream runs.
    let permit = match state
        .limits
        .open_stream(super::limits::caller_key(&request))
    {
        Ok(permit) => permit,
        Err(refusal) => return Ok(*refusal),
    };
    let stop = state.shutdown.wait();
    let changes = BroadcastStream::new(cases.subscribe());
    let ready = futures_util::stream::once(async {
        Ok::<Event, Infallible>(Event::default().event("ready").data("{}"))
    });
    let alerts = alert_events(&state);
    let shelters = super::shelters::events(&state);
    let field = field_events(&state);
    let incidents = incident_events(&state);
    let events = changes.filter_map(move |change| {
        let state = state.clone();
        async move {
            match change {
                Ok(change) => {
                    let data = StreamedCase {
                        case: CaseView::new(&state, &change.case, change.at),
                        change: &change.kind,
                    };
                    Some(Ok::<Event, Infallible>(
                        Event::default()
                            .event("case")
                            .id(change.case.id.to_string())
                            .data(serde_json::to_string(&data).unwrap_or_default()),
                    ))
                }
                // A slow client missed some changes: tell it to reload its lists.
                Err(_) => Some(Ok(Event::default().event("lagged").data("{}"))),
            }
        }
    });
    let merged = futures_util::stream::select(
        futures_util::stream::select(events, alerts),
        futures_util::stream::select(futures_util::stream::select(shelters, field), incidents),
    );
    Ok(Sse::new(permit.hold(ready.chain(merged), stop))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// A case change on the stream: the case as staff see it, and what happened to it.
#[derive(serde::Serialize)]
struct StreamedCase<'a> {
    #[serde(flatten)]
    case: CaseView<'a>,
    change: &'a str,
}

/// Feed alerts as `alert` events (`change`: `raised` with the whole alert, or `ended`); none
/// when the server runs without feeds.
fn alert_events(
    state: &AppState,
) -> futures_util::stream::BoxStream<'static, Result<Event, Infallible>> {
    let Some(feeds) = state.feeds.clone() else {
        return futures_util::stream::empty().boxed();
    };
    BroadcastStream::new(feeds.subscribe())
        .map(move |event| {
            Ok(match event {
                Ok(crate::feeds::AlertEvent::Raised(alert)) => {
                    let mut data = super::feeds::alert_json(&feeds, &alert);
                    if let Some(obj) = data.as_object_mut() {
                        obj.insert("change".into(), serde_json::json!("raised"));
                    }
                    Event::default().event("alert").data(data.to_string())
                }
                Ok(ended) => {
                    let mut data = serde_json::to_value(&ended).unwrap_or_default();
                    if let (Some(obj), crate::feeds::AlertEvent::Ended { ended_at, .. }) =
                        (data.as_object_mut(), &ended)
                    {
                        obj.insert(
                            "ended_time".into(),
                            serde_json::json!(crate::cases::clock::rfc3339(*ended_at)),
                        );
                    }
                    Event::default().event("alert").data(data.to_string())
                }
                Err(_) => Event::default().event("lagged").data("{}"),
            })
        })
        .boxed()
}

/// Fence crossings as `fence` events and moved workers as `positions` events (an array of
/// newest fixes); none when the server runs without field positions.
fn field_events(
    state: &AppState,
) -> futures_util::stream::BoxStream<'static, Result<Event, Infallible>> {
    let Some(field) = state.field.clone() else {
        return futures_util::stream::empty().boxed();
    };
    BroadcastStream::new(field.subscribe())
        .map(|event| {
            Ok(match event {
                Ok(crate::field::FieldEvent::Fence(e)) => Event::default()
                    .event("fence")
                    .id(e.id.to_string())
                    .data(serde_json::to_string(&e).unwrap_or_default()),
                Ok(crate::field::FieldEvent::Positions(moved)) => Event::default()
                    .event("positions")
                    .data(serde_json::to_string(&*moved).unwrap_or_default()),
                Err(_) => Event::default().event("lagged").data("{}"),
            })
        })
        .boxed()
}

/// Incident and task changes as `incident` and `task` events (the incident or task as the API
/// shows it, with `change`), and `resources` when team states or stock moved.
fn incident_events(
    state: &AppState,
) -> futures_util::stream::BoxStream<'static, Result<Event, Infallible>> {
    use crate::incidents::IncidentEvent;
    let state = state.clone();
    BroadcastStream::new(state.incidents.subscribe())
        .map(move |event| {
            let now = state.cases.as_ref().map_or(0, |c| c.clock.now());
            Ok(match event {
                Ok(IncidentEvent::Incident { change, incident }) => {
                    let view = super::incidents::IncidentView::new(&state.tables.plans, &incident);
                    let mut data = serde_json::to_value(&view).unwrap_or_default();
                    if let Some(obj) = data.as_object_mut() {
                        obj.insert("change".into(), serde_json::json!(change));
                    }
                    Event::default()
                        .event("incident")
                        .id(incident.id.to_string())
                        .data(data.to_string())
                }
                Ok(IncidentEvent::Task { change, task }) => {
                    let store = state.store.snapshot();
                    let view = super::incidents::TaskView::new(&store, &task, now);
                    let mut data = serde_json::to_value(&view).unwrap_or_default();
                    if let Some(obj) = data.as_object_mut() {
                        obj.insert("change".into(), serde_json::json!(change));
                    }
                    Event::default()
                        .event("task")
                        .id(task.id.to_string())
                        .data(data.to_string())
                }
                Ok(IncidentEvent::Resources) => Event::default().event("resources").data("{}"),
                Err(_) => Event::default().event("lagged").data("{}"),
            })
        })
        .boxed()
}
