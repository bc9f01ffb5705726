//! `/api/cases…`: report, list, read and act on cases; `/api/classes`: what can be reported.

use super::auth::Caller;
use super::multipart::{Kind, WithPhotos};
use super::params::Params;
use super::{ApiError, AppState};
use crate::cases::clock::rfc3339;
use crate::cases::public_view::is_listable;
use crate::cases::service::{ActionRequest, DUPLICATE_RADIUS_M, Report};
use crate::cases::{Action, Case, CaseFilter, CaseService, Event, Node, Status, workflow};
use crate::catalog::{CaseClass, MajorClass, Role};
use crate::services::routing::unit_name;
use crate::spatial::LayerStore;
use crate::spatial::distance::round_m;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Largest page of the case list.
pub const MAX_LIMIT: i64 = 1000;

pub fn service(state: &AppState) -> Result<&CaseService, ApiError> {
    state.cases.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "this server runs without a case database",
        )
    })
}

/// A case as staff see it: the stored record plus names, times and the overdue flag. The case
/// stores codes; every view of it (after filing too) names the places.
#[derive(Debug, Serialize)]
pub struct CaseView<'a> {
    #[serde(flatten)]
    pub case: &'a Case,
    pub status_name: &'static str,
    pub class_name: Option<&'a str>,
    pub overdue: bool,
    pub unit_name: Option<String>,
    pub village_name: Option<String>,
    pub town_name: Option<String>,
    pub reported_time: String,
    pub deadline_time: Option<String>,
    pub handled_time: Option<String>,
    pub closed_time: Option<String>,
}

impl<'a> CaseView<'a> {
    pub fn new(state: &'a AppState, case: &'a Case, now: i64) -> CaseView<'a> {
        let store = state.store.snapshot();
        CaseView {
            status_name: case.status.name_zh(),
            class_name: state.tables.class(&case.class).map(|c| c.name.as_str()),
            overdue: case.is_overdue(now),
            unit_name: case.unit.as_deref().and_then(|u| unit_name(&store, u)),
            village_name: place_name(&store, Role::Village, case.village.as_deref()),
            town_name: place_name(&store, Role::Town, case.town.as_deref()),
            reported_time: rfc3339(case.reported_at),
            deadline_time: case.deadline.map(rfc3339),
            handled_time: case.handled_at.map(rfc3339),
            closed_time: case.closed_at.map(rfc3339),
            case,
        }
    }
}

/// The label of the village or town with this code in the loaded layers.
fn place_name(store: &LayerStore, role: Role, code: Option<&str>) -> Option<String> {
    let layer = store.by_role(role)?;
    let i = layer.find(code?)?;
    layer.label(i).map(str::to_string)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    pub class: String,
    #[serde(default)]
    pub urgency: Option<String>,
    /// Required, unless an uploaded photo carries a GPS position (then that is used).
    #[serde(default)]
    pub lon: Option<f64>,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub crs: Option<String>,
    pub description: String,
    #[serde(default)]
    pub photos: Vec<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub reporter: Option<String>,
    /// An id the sender made (a phone's offline queue, staff keys only): a repeat of the same
    /// id answers 200 with the case already stored instead of filing a second one.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// Multipart text fields of a report that are not text.
const REPORT_KINDS: [(&str, Kind); 3] = [
    ("lon", Kind::Number),
    ("lat", Kind::Number),
    ("photos", Kind::List),
];

/// Multipart text fields of an action that are not text.
const ACTION_KINDS: [(&str, Kind); 8] = [
    ("hours", Kind::Integer),
    ("version", Kind::Integer),
    ("publish_description", Kind::Bool),
    ("publish_photos", Kind::Bool),
    ("reached", Kind::Bool),
    ("reopen", Kind::Bool),
    ("close", Kind::Bool),
    ("photos", Kind::List),
];

/// What a citizen learns about open cases near their report: how many, and which of them are
/// listed publicly anyway — never another report's text or exact place.
#[derive(Debug, Serialize)]
pub struct Nearby {
    pub count: usize,
    pub radius_m: f64,
    pub listed_ids: Vec<i64>,
}

/// The answer to a citizen's own report: the public view, the tracking secret (shown once) and
/// what is near.
#[derive(Debug, Serialize)]
pub struct CitizenReport {
    #[serde(flatten)]
    pub case: crate::cases::PublicCase,
    pub tracking_token: String,
    /// `GET` it to follow the request (the token is its secret: keep the link private).
    pub tracking_url: String,
    pub duplicates_nearby: Nearby,
}

/// The answer to a staff report: the case and the open cases of its class close by.
#[derive(Debug, Serialize)]
struct StaffReport<'a> {
    #[serde(flatten)]
    case: CaseView<'a>,
    possible_duplicates: Vec<Duplicate<'a>>,
    /// The same report was sent before under its `client_id`: this is that case.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    repeated: bool,
    /// Who could verify it (核查): the nearest on-duty inspector of the point's beat.
    #[serde(skip_serializing_if = "Option::is_none")]
    suggested_verifier: Option<Verifier>,
}

/// An inspector suggested for verifying a case.
#[derive(Debug, Serialize)]
pub struct Verifier {
    worker: String,
    name: String,
    beat: String,
    distance_m: f64,
    position_time: String,
}

/// The nearest on-duty inspector of the beat at the case's point, if the server follows
/// field positions and someone of that beat is on duty.
fn suggested_verifier(
    state: &AppState,
    store: &crate::spatial::LayerStore,
    case: &crate::cases::Case,
) -> Option<Verifier> {
    let field = state.field.as_ref()?;
    let grid = store.grid.as_ref()?;
    let p = geo::Coord {
        x: case.lon,
        y: case.lat,
    };
    let cell = grid.cells.locate(p)? as usize;
    let beat = *grid.cell_beat.get(cell)?;
    if beat == crate::spatial::grid::NONE {
        return None;
    }
    let beat = store
        .by_role(crate::catalog::Role::Beat)?
        .id(beat as usize)
        .to_string();
    let (worker, latest, metres) = field.verifier(&beat, p)?;
    Some(Verifier {
        worker: worker.id.to_string(),
        name: worker.name,
        beat,
        distance_m: round_m(metres),
        position_time: rfc3339(latest.time),
    })
}

/// An open case of the same class near a new report.
#[derive(Debug, Serialize)]
struct Duplicate<'a> {
    id: i64,
    distance_m: f64,
    status: Status,
    description: &'a str,
    reported_time: String,
}

/// `POST /api/cases`: anyone may report (JSON, or multipart with photos); 201 once the case is
/// committed. Staff get the case as staff see it; citizens its public view and a tracking
/// token.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let cases = service(&state)?;
    let WithPhotos { body, uploads } =
        super::multipart::read::<ReportBody, _>(request, &state, &REPORT_KINDS).await?;
    let crs = super::params::body_crs(body.crs.as_deref())?;
    let p = match (body.lon, body.lat) {
        (Some(lon), Some(lat)) => super::params::point(lon, lat, &crs)?,
        (None, None) => {
            // A phone photo's own GPS fix (WGS84) stands in for a missing position.
            let (lon, lat) = uploads
                .iter()
                .find_map(|u| u.info.exif_lon.zip(u.info.exif_lat))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "lon",
                        "lon and lat are required (or a photo with a GPS position)",
                    )
                })?;
            super::params::point(lon, lat, &crate::spatial::crs::Crs::Wgs84)?
        }
        (None, Some(_)) => return Err(ApiError::invalid("lon", "lon is required with lat")),
        (Some(_), None) => return Err(ApiError::invalid("lat", "lat is required with lon")),
    };
    let store = state.store.snapshot();
    let report = Report {
        class: body.class,
        urgency: body.urgency,
        lon: p.x,
        lat: p.y,
        description: body.description,
        photos: body.photos,
        address: body.address,
        channel: body.channel,
        reporter: body.reporter,
        uploads,
        client_id: body.client_id,
    };
    if report.client_id.is_some() && !caller.actor.is_staff() {
        return Err(ApiError::invalid(
            "client_id",
            "client_id is for staff keys (the field page); public reports have a tracking token",
        ));
    }
    let done = cases
        .report(&store, &state.tables, report, &caller.actor)
        .await?;
    let now = cases.clock.now();
    if let Some(token) = done.tracking_token {
        let view = crate::cases::public_view(&done.case, None, &store, &state.tables, state.public);
        let listed_ids = done
            .duplicates
            .iter()
            .filter(|(c, _)| is_listable(c, &state.tables))
            .map(|(c, _)| c.id)
            .collect();
        let out = CitizenReport {
            tracking_url: format!("/api/track/{}?token={token}", view.id),
            case: view,
            tracking_token: token,
            duplicates_nearby: Nearby {
                count: done.duplicates.len(),
                radius_m: DUPLICATE_RADIUS_M,
                listed_ids,
            },
        };
        let location = format!("/api/track/{}", done.case.id);
        return Ok((
            StatusCode::CREATED,
            [(axum::http::header::LOCATION, location)],
            Json(out),
        )
            .into_response());
    }
    let out = StaffReport {
        case: CaseView::new(&state, &done.case, now),
        possible_duplicates: done
            .duplicates
            .iter()
            .map(|(c, d)| Duplicate {
                id: c.id,
                distance_m: round_m(*d),
                status: c.status,
                description: &c.description,
                reported_time: rfc3339(c.reported_at),
            })
            .collect(),
        repeated: done.repeated,
        suggested_verifier: suggested_verifier(&state, &store, &done.case),
    };
    let location = format!("/api/cases/{}", done.case.id);
    Ok((
        if done.repeated {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        [(axum::http::header::LOCATION, location)],
        Json(out),
    )
        .into_response())
}

fn statuses(raw: &str) -> Result<Vec<Status>, ApiError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    format!(
                        "unknown status {s:?}; one of {}",
                        Status::ALL.map(Status::as_str).join(", ")
                    ),
                )
            })
        })
        .collect()
}

fn flag(params: &Params, name: &str) -> Result<Option<bool>, ApiError> {
    match params.get(name) {
        None | Some("") => Ok(None),
        Some("true" | "1" | "yes") => Ok(Some(true)),
        Some("false" | "0" | "no") => Ok(Some(false)),
        Some(other) => Err(ApiError::invalid(
            name,
            format!("{name} must be true or false, got {other:?}"),
        )),
    }
}

pub fn filter_from(params: &Params, now: i64) -> Result<CaseFilter, ApiError> {
    let text = |name: &str| {
        params
            .get(name)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let bbox = params.bbox()?;
    let limit = params
        .get("limit")
        .filter(|s| !s.is_empty())
        .map_or(Ok(100), |raw| {
            raw.parse::<i64>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| ApiError::invalid("limit", format!("limit must be 1–{MAX_LIMIT}")))
        })?;
    let offset = params
        .get("offset")
        .filter(|s| !s.is_empty())
        .map_or(Ok(0), |raw| {
            raw.parse::<i64>()
                .ok()
                .filter(|o| *o >= 0)
                .ok_or_else(|| ApiError::invalid("offset", "offset must be a whole number ≥ 0"))
        })?;
    Ok(CaseFilter {
        statuses: params
            .get("status")
            .map(statuses)
            .transpose()?
            .unwrap_or_default(),
        class: text("class"),
        unit: text("unit"),
        town: text("town"),
        cell: text("cell"),
        queue: text("queue"),
        command: text("command"),
        village: text("village"),
        bbox,
        overdue_at: flag(params, "overdue")?.filter(|o| *o).map(|_| now),
        supervised: flag(params, "supervised")?,
        from: params.time("from")?,
        to: params.time("to")?,
        ids: Vec::new(),
        classes: Vec::new(),
        public_report: None,
        limit,
        offset,
    })
}

/// `GET /api/cases`: every linkage unit sees every case (information sharing).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let cases = service(&state)?;
    let params = Params::parse(query.as_deref());
    let now = cases.clock.now();
    let mut filter = filter_from(&params, now)?;
    let node = caller.actor.effective_node();
    if filter.queue.as_deref() == Some("mine") {
        filter.queue = None;
        mine(&mut filter, &node);
    }
    let (found, total) = cases.store.list(&filter).await.map_err(ApiError::from)?;
    Ok(Json(CaseList {
        caller: CallerView {
            role: caller.actor.role.as_str(),
            unit: caller.actor.unit.as_deref(),
            name: &caller.actor.name,
            node: caller.actor.node.as_ref().map(Node::as_string),
            works: node.as_string(),
        },
        total,
        limit: filter.limit,
        offset: filter.offset,
        cases: found
            .iter()
            .map(|c| CaseView::new(&state, c, now))
            .collect(),
    })
    .into_response())
}

/// A page of the case list, and who asked (the page shows "本单位" for unit keys).
#[derive(Debug, Serialize)]
struct CaseList<'a> {
    caller: CallerView<'a>,
    total: i64,
    limit: i64,
    offset: i64,
    cases: Vec<CaseView<'a>>,
}

#[derive(Debug, Serialize)]
struct CallerView<'a> {
    role: &'static str,
    unit: Option<&'a str>,
    name: &'a str,
    /// The node of the network the key is bound to (`None`: none, the district centre).
    node: Option<String>,
    /// The node it works for (`district` for keys bound to none, `unit:CODE` for unit keys).
    works: String,
}

/// `queue=mine`: the caller's own work — the queue of the district centre or its sub-centre,
/// its command body's cases, its village, or its unit's cases.
fn mine(filter: &mut CaseFilter, node: &Node) {
    match node {
        Node::District | Node::Town(_) => filter.queue = node.queue(),
        Node::Village(v) => filter.village = Some(v.clone()),
        Node::Unit(u) => filter.unit = Some(u.clone()),
        Node::Command(c) => filter.command = Some(c.clone()),
    }
}

fn case_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::invalid("id", format!("a case id is a positive number, got {raw:?}"))
    })
}

/// An action the caller may take on the case now (a button of the web page).
#[derive(Debug, Serialize)]
struct Available {
    action: &'static str,
    name: &'static str,
}

/// What the caller may do with the case now (the web page's buttons).
fn available_actions(caller: &Caller, case: &Case) -> Vec<Available> {
    workflow::available(&caller.actor, case)
        .iter()
        .map(|a| Available {
            action: a.as_str(),
            name: a.name_zh(),
        })
        .collect()
}

/// A case with what the caller may do with it now (the answer to an action).
#[derive(Debug, Serialize)]
struct CaseWithActions<'a> {
    #[serde(flatten)]
    case: CaseView<'a>,
    available_actions: Vec<Available>,
}

/// A case with its history and photos, and what the caller may do with it now.
#[derive(Debug, Serialize)]
struct CaseDetail<'a> {
    #[serde(flatten)]
    case: CaseView<'a>,
    history: Vec<EventView<'a>>,
    photo_info: Vec<PhotoView>,
    available_actions: Vec<Available>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suggested_verifier: Option<Verifier>,
    supervision_orders: Vec<super::supervision::OrderView<'a>>,
}

/// A step of a case's history, with its time and the action's Chinese name.
#[derive(Debug, Serialize)]
struct EventView<'a> {
    #[serde(flatten)]
    event: &'a Event,
    time: String,
    action_name: Option<&'static str>,
}

impl<'a> EventView<'a> {
    fn new(event: &'a Event) -> EventView<'a> {
        EventView {
            time: rfc3339(event.at),
            action_name: Action::parse(&event.action).map(|a| a.name_zh()).or(
                match event.action.as_str() {
                    "report" => Some("上报"),
                    "overdue" => Some("超期"),
                    "supervision_order" => Some("下达督办单"),
                    "supervision_reply" => Some("督办回复"),
                    "supervision_close" => Some("督办办结"),
                    _ => None,
                },
            ),
            event,
        }
    }
}

/// A stored photo as staff see it: where to fetch it, its size, and the camera's GPS hint.
#[derive(Debug, Serialize)]
pub struct PhotoView {
    pub url: String,
    pub thumb_url: String,
    #[serde(flatten)]
    pub info: crate::photos::PhotoInfo,
}

impl PhotoView {
    fn of(info: crate::photos::PhotoInfo) -> PhotoView {
        let url = crate::photos::url(&info.hash);
        PhotoView {
            thumb_url: format!("{url}?thumb=1"),
            url,
            info,
        }
    }
}

/// `GET /api/cases/{id}`: the case, its history and what the caller may do with it now.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let cases = service(&state)?;
    let id = case_id(&id)?;
    let case = cases.store.get(id).await?;
    let history = cases.store.events(id).await?;
    let now = cases.clock.now();
    let photo_info: Vec<PhotoView> = cases
        .store
        .photos_of_case(id)
        .await?
        .into_iter()
        .map(PhotoView::of)
        .collect();
    let orders = cases
        .list_orders(&crate::cases::supervision::OrderFilter {
            case_id: Some(id),
            limit: 1000,
            ..Default::default()
        })
        .await?;
    Ok(Json(CaseDetail {
        case: CaseView::new(&state, &case, now),
        history: history.iter().map(EventView::new).collect(),
        photo_info,
        available_actions: available_actions(&caller, &case),
        suggested_verifier: suggested_verifier(&state, &state.store.snapshot(), &case),
        supervision_orders: orders
            .iter()
            .map(|o| super::supervision::OrderView::new(o, now))
            .collect(),
    })
    .into_response())
}

/// `POST /api/cases/{id}/actions` (JSON, or multipart with photos).
pub async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let cases = service(&state)?;
    let id = case_id(&id)?;
    let WithPhotos { body, uploads } =
        super::multipart::read::<ActionRequest, _>(request, &state, &ACTION_KINDS).await?;
    let request = ActionRequest { uploads, ..body };
    let store = state.store.snapshot();
    let after = cases
        .act(&store, &state.tables, id, request, &caller.actor)
        .await?;
    let now = cases.clock.now();
    Ok(Json(CaseWithActions {
        case: CaseView::new(&state, &after, now),
        available_actions: available_actions(&caller, &after),
    })
    .into_response())
}

/// `GET /api/classes`: the case classes the caller may report (anonymous callers: the `public`
/// and `private` ones), grouped by major class, with each class's `visibility` and the
/// emergency number to `call` first, and the urgencies; the class pickers of both pages.
pub async fn classes(State(state): State<AppState>, caller: Caller) -> Response {
    let tables = &state.tables;
    let majors: Vec<MajorView> = tables
        .majors
        .iter()
        .filter_map(|m| {
            let classes: Vec<ClassView> = tables
                .classes
                .iter()
                .filter(|c| c.major == m.code && (c.offered_to_public() || caller.actor.is_staff()))
                .map(ClassView::new)
                .collect();
            (!classes.is_empty()).then(|| MajorView::new(m, classes))
        })
        .collect();
    Json(Classes {
        urgency: &tables.urgencies,
        majors,
        channels: &crate::cases::service::CHANNELS,
    })
    .into_response()
}

#[derive(Debug, Serialize)]
struct Classes<'a> {
    urgency: &'a [crate::catalog::Urgency],
    majors: Vec<MajorView<'a>>,
    channels: &'a [&'a str],
}

/// A major class (code, names, the affairs class it belongs to) and the classes of it the
/// caller may report.
#[derive(Debug, Serialize)]
struct MajorView<'a> {
    code: &'a str,
    name: &'a str,
    name_en: &'a str,
    affairs: &'a str,
    classes: Vec<ClassView<'a>>,
}

impl<'a> MajorView<'a> {
    fn new(m: &'a MajorClass, classes: Vec<ClassView<'a>>) -> MajorView<'a> {
        MajorView {
            code: &m.code,
            name: &m.name,
            name_en: &m.name_en,
            affairs: &m.affairs,
            classes,
        }
    }
}

/// A class as the pickers show it.
#[derive(Debug, Serialize)]
struct ClassView<'a> {
    code: &'a str,
    name: &'a str,
    name_en: &'a str,
    unit_type: &'a str,
    level: &'static str,
    limits_h: &'a std::collections::BTreeMap<String, u32>,
    visibility: &'static str,
    call: Option<&'a str>,
}

impl<'a> ClassView<'a> {
    fn new(c: &'a CaseClass) -> ClassView<'a> {
        ClassView {
            code: &c.code,
            name: &c.name,
            name_en: &c.name_en,
            unit_type: &c.unit_type,
            level: c.level.as_str(),
            limits_h: &c.limits_h,
            visibility: c.visibility.as_str(),
            call: c.call.as_deref(),
        }
    }
}
