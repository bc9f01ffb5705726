//! Open311 GeoReport v2 (<http://wiki.open311.org/GeoReport_v2>) under `/open311/v2`, JSON only.
//! Citizens' apps and other cities' tools see the classes citizens may report (`public` and
//! `private`) as services, report problems (stored as cases from channel `open311`) and follow
//! them as `open`/`closed` service requests. Every request shown is the case's public view
//! (`cases::public_view`): only citizens' reports of `public` classes are listed, at a place
//! coarsened to ~100 m, with an approved description or none, `status_notes` from notes written
//! for the public; a citizen's report of a `private` class shows to its reporter alone, through
//! `requests/{id}.json?token=…` with the token the report returned. Every error takes the spec's
//! shape, `[{"code": 400, "description": "…"}]`.

use super::params::{Params, point};
use super::{ApiError, AppState};
use crate::cases::clock::{parse_time, rfc3339};
use crate::cases::public_view::{
    PublicCase, PublicStatus, is_listable, latest_public_note, public_classes, token_matches,
};
use crate::cases::service::{DUPLICATE_RADIUS_M, Report};
use crate::cases::{Actor, Case, CaseError, CaseFilter, CaseService, Role, Status, public_view};
use crate::catalog::{CaseClass, CodeTables};
use crate::spatial::crs::Crs;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;

const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// When this API last changed (discovery's `changeset`).
const CHANGESET: &str = "2026-11-29T00:00:00Z";
const FORM: &str = "application/x-www-form-urlencoded";
/// Most service requests one `GET /requests.json` answers with.
pub const MAX_REQUESTS: usize = 1000;
/// The widest `start_date`…`end_date` span, and the default window (the last 90 days).
pub const WINDOW_MS: i64 = 90 * 24 * 3_600_000;
/// Longest reporter field (`first_name`, `last_name`, `email`, `phone`).
const MAX_CONTACT: usize = 200;
const MAX_ADDRESS: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/discovery.json", get(discovery))
        .route("/services.json", get(services))
        .route("/services/{file}", get(service_definition))
        .route("/requests.json", get(list_requests).post(create_request))
        .route("/requests/{file}", get(get_request))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// An error as GeoReport v2 words it: a JSON array of `{code, description}`, where `code` is
/// the HTTP status and the description starts with the parameter at fault.
#[derive(Debug, Clone)]
pub struct Open311Error {
    status: StatusCode,
    description: String,
}

impl Open311Error {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Open311Error {
            status,
            description: description.into(),
        }
    }

    /// 400 naming the parameter: `"lat: lat is required"`.
    fn bad(field: &str, message: impl std::fmt::Display) -> Self {
        Open311Error::new(StatusCode::BAD_REQUEST, format!("{field}: {message}"))
    }

    fn not_found(description: impl Into<String>) -> Self {
        Open311Error::new(StatusCode::NOT_FOUND, description)
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, description = %self.description, "Open311 request failed");
        }
        let body = json!([{"code": self.status.as_u16(), "description": self.description}]);
        (self.status, Json(body)).into_response()
    }
}

impl From<ApiError> for Open311Error {
    fn from(e: ApiError) -> Self {
        // A point outside the district is bad input to an Open311 client, not a separate case.
        let (status, field) = if e.code == "outside_district" {
            (StatusCode::BAD_REQUEST, Some("lat/long".to_string()))
        } else {
            (
                e.status,
                e.field.as_deref().map(|f| open311_field(f).to_string()),
            )
        };
        let description = match field {
            Some(field) => format!("{field}: {}", e.message),
            None => e.message,
        };
        Open311Error::new(status, description)
    }
}

impl From<CaseError> for Open311Error {
    fn from(e: CaseError) -> Self {
        ApiError::from(e).into()
    }
}

/// The Open311 parameter behind a case API field.
fn open311_field(field: &str) -> &str {
    match field {
        "class" => "service_code",
        "lon" => "long",
        "address" => "address_string",
        f if f.starts_with("photos") => "media_url",
        f => f,
    }
}

fn service(state: &AppState) -> Result<&CaseService, Open311Error> {
    Ok(super::cases::service(state)?)
}

/// A case class citizens may report (`public` or `private`): what Open311 calls a service.
fn public_class<'a>(tables: &'a CodeTables, code: &str) -> Option<&'a CaseClass> {
    tables.class(code).filter(|c| c.offered_to_public())
}

/// A parameter with its surrounding blanks removed; empty counts as absent.
fn text<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).map(str::trim).filter(|v| !v.is_empty())
}

/// `{name}.json` → `name`; this server speaks no other format.
fn json_name(file: &str) -> Result<&str, Open311Error> {
    file.strip_suffix(".json").ok_or_else(|| {
        Open311Error::not_found(format!(
            "no such resource {file:?}: this server answers in JSON only (….json)"
        ))
    })
}

async fn not_found(uri: axum::http::Uri) -> Open311Error {
    Open311Error::not_found(format!(
        "no such endpoint: {}; see discovery.json (JSON only)",
        uri.path()
    ))
}

async fn method_not_allowed(method: axum::http::Method) -> Open311Error {
    Open311Error::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed here"),
    )
}

/// `GET /discovery.json`: where the API lives and what it speaks.
async fn discovery(headers: HeaderMap) -> Response {
    let url = format!("{}/open311/v2", super::origin(&headers));
    Json(json!({
        "changeset": CHANGESET,
        "contact": "The grid-management centre's duty desk; urgent matters through the 12345 citizens' hotline.",
        "key_service": "Reporting needs no key. Staff API keys are issued by the server's administrator (gridlink keys create) and may be sent as api_key.",
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": url,
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["application/json"],
        }],
    }))
    .into_response()
}

/// Hours a class gives its unit after dispatch, at the least urgent level (the one Open311
/// reports get).
fn normal_limit_h(tables: &CodeTables, class: &CaseClass) -> Option<u32> {
    let urgency = tables.urgencies.first()?;
    class.limits_h.get(&urgency.code).copied()
}

fn service_json(tables: &CodeTables, class: &CaseClass) -> Value {
    let major = tables.majors.iter().find(|m| m.code == class.major);
    let affairs = major.and_then(|m| tables.affairs.iter().find(|a| a.code == m.affairs));
    let mut keywords = vec![class.name.as_str(), class.name_en.as_str()];
    if let Some(m) = major {
        keywords.extend([m.name.as_str(), m.name_en.as_str()]);
    }
    if let Some(a) = affairs {
        keywords.extend([a.name.as_str(), a.name_en.as_str()]);
    }
    let keywords: Vec<String> = keywords.iter().map(|k| k.replace(',', " ")).collect();
    let mut description = match normal_limit_h(tables, class) {
        Some(h) => format!("{}; handled within {h} h of dispatch", class.name_en),
        None => class.name_en.clone(),
    };
    if class.visibility == crate::catalog::Visibility::Private {
        description.push_str("; private: never listed, only its reporter follows it (token)");
    }
    if let Some(number) = &class.call {
        description.push_str(&format!("; danger to life: call {number} first"));
    }
    json!({
        "service_code": class.code,
        "service_name": class.name,
        "description": description,
        "metadata": false,
        "type": "realtime",
        "keywords": keywords.join(","),
        "group": major.map(|m| m.name.as_str()),
    })
}

/// `GET /services.json`: the classes citizens may report, grouped by major class.
async fn services(State(state): State<AppState>) -> Response {
    let tables = &state.tables;
    let list: Vec<Value> = tables
        .classes
        .iter()
        .filter(|c| c.offered_to_public())
        .map(|c| service_json(tables, c))
        .collect();
    Json(list).into_response()
}

/// `GET /services/{code}.json`: no service asks for extra attributes.
async fn service_definition(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Open311Error> {
    let Path(file) = path.map_err(|e| Open311Error::not_found(e.body_text()))?;
    let code = json_name(&file)?;
    let class = public_class(&state.tables, code)
        .ok_or_else(|| Open311Error::not_found(format!("no service with service_code {code:?}")))?;
    Ok(Json(json!({"service_code": class.code, "attributes": []})).into_response())
}

/// What happens next, as the service request promises it.
fn promise(tables: &CodeTables, class: &CaseClass, urgency: &str) -> String {
    match class
        .limits_h
        .get(urgency)
        .copied()
        .or_else(|| normal_limit_h(tables, class))
    {
        Some(h) => format!("{}：立案派遣后 {h} 小时内处置。", class.name),
        None => format!("{}：立案后派遣处置。", class.name),
    }
}

/// Reporter details as one line for the case (never shown through Open311).
fn reporter(form: &Params) -> Result<Option<String>, Open311Error> {
    for field in ["first_name", "last_name", "email", "phone"] {
        if text(form, field).is_some_and(|v| v.chars().count() > MAX_CONTACT) {
            return Err(Open311Error::bad(
                field,
                format!("at most {MAX_CONTACT} characters"),
            ));
        }
    }
    let name = [text(form, "first_name"), text(form, "last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let parts: Vec<&str> = [
        Some(name.as_str()),
        text(form, "email"),
        text(form, "phone"),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .collect();
    Ok((!parts.is_empty()).then(|| parts.join(", ")))
}

fn number(form: &Params, name: &str) -> Result<Option<f64>, Open311Error> {
    text(form, name)
        .map(|raw| {
            raw.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    Open311Error::bad(name, format!("{name} must be a number, got {raw:?}"))
                })
        })
        .transpose()
}

/// A created service request, as `POST /requests.json` answers (in a one-element list).
#[derive(Debug, serde::Serialize)]
struct Created {
    service_request_id: i64,
    service_notice: String,
    account_id: Option<String>,
    /// Beyond the spec: a citizen's secret for following the request (shown once), to send
    /// back as `token` to requests/{id}.json — the only way to see a request that is not
    /// listed. Staff reports have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

/// `POST /requests.json` (form-encoded): reports a problem; 201 once the case is committed.
async fn create_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, Open311Error> {
    let cases = service(&state)?;
    if let Some(essence) = super::params::content_type(&headers) {
        if essence != FORM {
            return Err(Open311Error::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("send the request as {FORM}, not {essence:?}"),
            ));
        }
    }
    let body = body.map_err(|e| Open311Error::new(e.status(), e.body_text()))?;
    let body = std::str::from_utf8(&body)
        .map_err(|_| Open311Error::bad("body", "the form must be UTF-8"))?;
    let form = Params::parse(Some(body));

    let actor = match text(&form, "api_key") {
        None => Actor {
            role: Role::Anonymous,
            unit: None,
            name: "open311:anonymous".into(),
            node: None,
        },
        Some(key) => cases.actor_for_key(key).await?.ok_or_else(|| {
            Open311Error::new(StatusCode::FORBIDDEN, "api_key: unknown or revoked API key")
        })?,
    };
    let code = text(&form, "service_code")
        .ok_or_else(|| Open311Error::bad("service_code", "service_code is required"))?;
    let class = public_class(&state.tables, code).ok_or_else(|| {
        Open311Error::bad(
            "service_code",
            format!("no service with service_code {code:?} (services.json lists them)"),
        )
    })?;
    let (lat, long) = match (number(&form, "lat")?, number(&form, "long")?) {
        (Some(lat), Some(long)) => (lat, long),
        (None, None)
            if text(&form, "address_string").is_some() || text(&form, "address_id").is_some() =>
        {
            return Err(Open311Error::bad(
                "lat/long",
                "lat and long are required: reports located by address alone are not accepted",
            ));
        }
        (None, _) => return Err(Open311Error::bad("lat", "lat is required (WGS84 degrees)")),
        (_, None) => {
            return Err(Open311Error::bad(
                "long",
                "long is required (WGS84 degrees)",
            ));
        }
    };
    let p = point(long, lat, &Crs::Wgs84)?;
    let address = text(&form, "address_string").map(str::to_string);
    if address
        .as_ref()
        .is_some_and(|a| a.chars().count() > MAX_ADDRESS)
    {
        return Err(Open311Error::bad(
            "address_string",
            format!("at most {MAX_ADDRESS} characters"),
        ));
    }
    // Open311 makes the description optional; a case needs one, so the service name stands in.
    let description = text(&form, "description").map_or_else(|| class.name.clone(), str::to_string);
    let report = Report {
        class: class.code.clone(),
        urgency: None,
        lon: p.x,
        lat: p.y,
        description,
        photos: text(&form, "media_url")
            .map(|url| vec![url.to_string()])
            .unwrap_or_default(),
        address,
        channel: Some("open311".into()),
        reporter: reporter(&form)?,
        uploads: Vec::new(),
        client_id: None,
    };
    let store = state.store.snapshot();
    let done = cases.report(&store, &state.tables, report, &actor).await?;
    let case = &done.case;
    let mut notice = format!(
        "已受理，编号 {}。{}",
        case.id,
        promise(&state.tables, class, &case.urgency)
    );
    if !done.duplicates.is_empty() {
        notice.push_str(&format!(
            "附近 {DUPLICATE_RADIUS_M} 米内已有 {} 件同类问题在处理中。",
            done.duplicates.len()
        ));
    }
    let created = Created {
        service_request_id: case.id,
        service_notice: notice,
        account_id: None,
        token: done.tracking_token,
    };
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/open311/v2/requests/{}.json", case.id),
        )],
        Json(json!([created])),
    )
        .into_response())
}

/// A case's public view as a GeoReport v2 service request: `address` names the village and
/// town (never the reporter's address string), `lat`/`long` are coarsened, `description` and
/// `media_url` only as approved, `status_notes` the newest note for the public or else the
/// status in public words.
fn request_json(tables: &CodeTables, case: &Case, view: &PublicCase) -> Value {
    let class = tables.class(&case.class);
    let address = [view.town_name.as_deref(), view.village_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    json!({
        "service_request_id": view.id,
        "status": if view.open { "open" } else { "closed" },
        "status_notes": view
            .status_notes
            .clone()
            .unwrap_or_else(|| PublicStatus::of(case.status).name_zh().to_string()),
        "service_name": view.class_name,
        "service_code": view.class,
        "description": view.description,
        "agency_responsible": view.agency_responsible,
        "service_notice": class.map(|c| promise(tables, c, &case.urgency)),
        "requested_datetime": view.reported_time,
        "updated_datetime": view.updated_time,
        "expected_datetime": case.deadline.map(rfc3339),
        "address": (!address.is_empty()).then_some(address),
        "address_id": null,
        "zipcode": null,
        "lat": view.lat,
        "long": view.lon,
        "media_url": view.photos.first().map(|p| p.url.clone()),
    })
}

fn request_ids(raw: &str) -> Result<Vec<i64>, Open311Error> {
    let mut ids = raw
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            part.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| {
                    Open311Error::bad(
                        "service_request_id",
                        format!("a service_request_id is a positive number, got {part:?}"),
                    )
                })
        })
        .collect::<Result<Vec<i64>, _>>()?;
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(Open311Error::bad(
            "service_request_id",
            "name at least one id (comma-separated)",
        ));
    }
    if ids.len() > MAX_REQUESTS {
        return Err(Open311Error::bad(
            "service_request_id",
            format!("at most {MAX_REQUESTS} ids"),
        ));
    }
    Ok(ids)
}

fn service_codes(tables: &CodeTables, raw: &str) -> Result<Vec<String>, Open311Error> {
    let mut codes: Vec<String> = Vec::new();
    for code in raw.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        if public_class(tables, code).is_none() {
            return Err(Open311Error::bad(
                "service_code",
                format!("no service with service_code {code:?} (services.json lists them)"),
            ));
        }
        if !codes.iter().any(|c| c == code) {
            codes.push(code.to_string());
        }
    }
    Ok(codes)
}

/// `open`, `closed` or both (comma-separated) → the case statuses; empty is any status.
fn statuses(raw: &str) -> Result<Vec<Status>, Open311Error> {
    let (mut open, mut closed) = (false, false);
    for s in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match s.to_ascii_lowercase().as_str() {
            "open" => open = true,
            "closed" => closed = true,
            _ => {
                return Err(Open311Error::bad(
                    "status",
                    format!("status is open or closed (comma-separated), got {s:?}"),
                ));
            }
        }
    }
    if open == closed {
        return Ok(Vec::new());
    }
    Ok(Status::ALL
        .into_iter()
        .filter(|s| s.is_open() == open)
        .collect())
}

fn time(params: &Params, name: &str) -> Result<Option<i64>, Open311Error> {
    text(params, name)
        .map(|raw| {
            parse_time(raw).ok_or_else(|| {
                Open311Error::bad(
                    name,
                    format!("{name} must be an RFC 3339 date-time, got {raw:?}"),
                )
            })
        })
        .transpose()
}

/// `[from, to)` on the report time: the given dates (`end_date` inclusive), at most 90 days
/// apart; one date alone reaches 90 days from it, none is the last 90 days.
fn window(params: &Params, now: i64) -> Result<(i64, i64), Open311Error> {
    let (start, end) = match (time(params, "start_date")?, time(params, "end_date")?) {
        (Some(start), Some(end)) => (start, end),
        (Some(start), None) => (start, start + WINDOW_MS),
        (None, Some(end)) => (end - WINDOW_MS, end),
        (None, None) => (now - WINDOW_MS, now),
    };
    if end < start {
        return Err(Open311Error::bad(
            "end_date",
            "end_date is before start_date",
        ));
    }
    if end - start > WINDOW_MS {
        return Err(Open311Error::bad(
            "end_date",
            "start_date and end_date may be at most 90 days apart",
        ));
    }
    Ok((start, end + 1))
}

/// The cases a `GET /requests.json` asks for: listable ones only (citizens' reports of public
/// classes; the filter is in the query, so no other case is even read), newest first, at most
/// [`MAX_REQUESTS`]. A filter naming a private or staff case, or a private class, simply finds
/// nothing.
async fn find(
    cases: &CaseService,
    tables: &CodeTables,
    params: &Params,
) -> Result<Vec<Case>, Open311Error> {
    let limit = MAX_REQUESTS as i64;
    let listable = CaseFilter {
        classes: public_classes(tables),
        public_report: Some(true),
        limit,
        ..CaseFilter::default()
    };
    let mut found: Vec<Case> = if let Some(raw) = text(params, "service_request_id") {
        // Named requests override every other filter (the spec).
        let filter = CaseFilter {
            ids: request_ids(raw)?,
            ..listable
        };
        cases.store.list(&filter).await?.0
    } else {
        let codes = text(params, "service_code")
            .map(|raw| service_codes(tables, raw))
            .transpose()?;
        let statuses = text(params, "status")
            .map(statuses)
            .transpose()?
            .unwrap_or_default();
        let (from, to) = window(params, cases.clock.now())?;
        let mut filter = CaseFilter {
            statuses,
            from: Some(from),
            to: Some(to),
            ..listable
        };
        if let Some(codes) = codes.filter(|c| !c.is_empty()) {
            filter.classes.retain(|c| codes.contains(c));
            if filter.classes.is_empty() {
                // Only private services named: nothing of theirs is ever listed.
                return Ok(Vec::new());
            }
        }
        cases.store.list(&filter).await?.0
    };
    // A class may have turned private since: the code table has the last word.
    found.retain(|c| is_listable(c, tables));
    found.sort_unstable_by_key(|c| std::cmp::Reverse(c.id));
    found.truncate(MAX_REQUESTS);
    Ok(found)
}

/// `GET /requests.json`: service requests by id, or by service, status and date.
async fn list_requests(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, Open311Error> {
    let cases = service(&state)?;
    let params = Params::parse(query.as_deref());
    let found = find(cases, &state.tables, &params).await?;
    let ids: Vec<i64> = found.iter().map(|c| c.id).collect();
    let notes: HashMap<i64, String> = cases.store.latest_public_notes(&ids).await?;
    let store = state.store.snapshot();
    let list: Vec<Value> = found
        .iter()
        .map(|c| {
            let note = notes.get(&c.id).map(String::as_str);
            let view = public_view(c, note, &store, &state.tables, state.public);
            request_json(&state.tables, c, &view)
        })
        .collect();
    Ok(Json(list).into_response())
}

/// `GET /requests/{id}.json[?token=…]`: one service request, as a one-element list. A request
/// that is not listed shows only with its reporter's token; otherwise (and for a wrong token)
/// it is a 404 like an id that does not exist.
async fn get_request(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, Open311Error> {
    let cases = service(&state)?;
    let Path(file) = path.map_err(|e| Open311Error::not_found(e.body_text()))?;
    let raw = json_name(&file)?;
    let unknown = || Open311Error::not_found(format!("no service request {raw:?}"));
    let id = raw
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(unknown)?;
    let case = match cases.store.get(id).await {
        Ok(case) => case,
        Err(CaseError::NotFound(_)) => return Err(unknown()),
        Err(e) => return Err(e.into()),
    };
    let params = Params::parse(query.as_deref());
    let tracked = text(&params, "token").is_some_and(|t| token_matches(&case, t));
    if !is_listable(&case, &state.tables) && !tracked {
        return Err(unknown());
    }
    let history = cases.store.events(id).await?;
    let store = state.store.snapshot();
    let view = public_view(
        &case,
        latest_public_note(&history),
        &store,
        &state.tables,
        state.public,
    );
    let one = request_json(&state.tables, &case, &view);
    Ok(Json(json!([one])).into_response())
}
