//! Incidents, their tasks, and teams and depots as live resources.
//!
//! - `GET /api/incidents?status=proposed,active&limit=` — newest first.
//! - `POST /api/incidents` — a duty officer opens one: `plan`, `level`, and `lon`/`lat`
//!   (optionally an `area` GeoJSON geometry), a `hazard_source` or a `case` to escalate.
//! - `POST /api/incidents/propose-from-zone` — a leak zone (the body of `POST /api/hazmat/zone`)
//!   becomes known to the incident room: the zone is analysed and every plan whose leak trigger
//!   it meets is *proposed*. The answer is the analysis' headline and the proposals.
//! - `GET /api/incidents/{id}` — the incident page's data: incident, timeline, tasks.
//! - `GET /api/incidents/{id}/features` — GeoJSON for the map: the area, the point, tasks with
//!   places, tasked teams and depots.
//! - `POST /api/incidents/{id}/actions` — `confirm`, `dismiss`, `raise`, `lower`, `close`.
//! - `POST /api/incidents/{id}/tasks` — a task by hand; `…/tasks/{task}/actions` —
//!   `acknowledge`, `start`, `done`, `refuse`, `assign` (a team), `draw` (stock).
//! - `GET /api/teams?kind=&equipment=&lon=&lat=&available=true&limit=` — nearest teams
//!   (available: on standby now; equipment: ids or names, comma-separated, each carried);
//!   `PATCH /api/teams/{id}` `{status}`.
//! - `GET /api/incidents/{id}/tasks/{task}/photo[?thumb=1]` — the photo a task was done with.
//! - `GET /api/depots?item=&min=&lon=&lat=&limit=` — nearest depots holding at least `min`.
//!
//! All of it is for staff keys (401 without); the duty room's roles decide, a unit key may act
//! on its own unit's tasks. Feed alerts propose incidents in `POST /api/feeds/readings`.

use super::auth::Caller;
use super::multipart::{Kind, WithPhotos};
use super::params::{Params, parse_body};
use super::{ApiError, AppState};
use crate::cases::clock::rfc3339;
use crate::catalog::{Plans, Role};
use crate::db::Db;
use crate::incidents::resources::{self, DepotView, TeamView};
use crate::incidents::service::{ActRequest, OpenAt, OpenRequest, TaskActRequest, TaskRequest};
use crate::incidents::workflow::{IncidentAction, TaskAction};
use crate::incidents::{
    Incident, IncidentService, IncidentStatus, Page, Task, TeamStatus, TimelineEntry,
};
use crate::spatial::LayerStore;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Largest incident list page.
const MAX_LIST: usize = 500;
/// Most teams or depots a nearest query returns.
const MAX_NEAREST: usize = 100;

pub fn db(state: &AppState) -> Result<&Db, ApiError> {
    state.cases.as_ref().map(|c| &c.db).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "this server runs without an application database",
        )
    })
}

fn now(state: &AppState) -> i64 {
    state
        .cases
        .as_ref()
        .map_or_else(|| crate::cases::Clock::system().now(), |c| c.clock.now())
}

/// The service, loaded (resources seeded) on first use.
async fn service<'s>(
    state: &'s AppState,
    store: &LayerStore,
) -> Result<(&'s IncidentService, &'s Db), ApiError> {
    let db = db(state)?;
    state
        .incidents
        .load(db, store, &state.tables.plans, now(state))
        .await?;
    Ok((&state.incidents, db))
}

/// An incident as the API shows it.
#[derive(Debug, Serialize)]
pub struct IncidentView<'a> {
    #[serde(flatten)]
    pub incident: &'a Incident,
    pub plan_name: Option<&'a str>,
    pub level_name: &'static str,
    pub status_name: &'static str,
    pub opened_time: String,
    pub updated_time: String,
    pub closed_time: Option<String>,
    pub allowed: Vec<&'static str>,
}

impl<'a> IncidentView<'a> {
    pub fn new(plans: &'a Plans, incident: &'a Incident) -> Self {
        IncidentView {
            incident,
            plan_name: plans.plan(&incident.plan).map(|p| p.name.as_str()),
            level_name: incident.level.name_zh(),
            status_name: incident.status.name_zh(),
            opened_time: rfc3339(incident.opened_at),
            updated_time: rfc3339(incident.updated_at),
            closed_time: incident.closed_at.map(rfc3339),
            allowed: IncidentAction::allowed(incident.status),
        }
    }
}

fn label(store: &LayerStore, role: Role, id: &str) -> Option<String> {
    let layer = store.by_role(role)?;
    layer
        .find(id)
        .and_then(|i| layer.label(i))
        .map(str::to_string)
}

/// A team's equipment text from the teams layer (none when empty).
pub fn team_equipment(store: &LayerStore, team: &str) -> Option<String> {
    let layer = store.by_role(Role::Team)?;
    let i = layer.find(team)?;
    layer
        .property(i, "equipment")
        .and_then(crate::spatial::PropertyValue::as_text)
        .filter(|t| !t.trim().is_empty())
        .map(str::to_string)
}

/// A unit's name from either unit layer.
pub fn unit_name(store: &LayerStore, code: &str) -> Option<String> {
    label(store, Role::DistrictUnit, code).or_else(|| label(store, Role::TownUnit, code))
}

/// A task as the API shows it.
#[derive(Debug, Serialize)]
pub struct TaskView<'a> {
    #[serde(flatten)]
    pub task: &'a Task,
    pub status_name: &'static str,
    pub overdue: bool,
    pub deadline_time: String,
    pub updated_time: String,
    pub unit_name: Option<String>,
    pub team_name: Option<String>,
    /// The booked team's equipment as the register writes it ("抽水泵 6; 冲锋舟 2").
    pub team_equipment: Option<String>,
    pub depot_name: Option<String>,
    pub place_name: Option<String>,
    /// Where the completion photo uploaded with `done` is served (staff keys; `?thumb=1` for
    /// the thumbnail). Absent for an outside photo URL, which `photo` holds as given.
    pub photo_url: Option<String>,
    pub photo_thumb_url: Option<String>,
    pub allowed: Vec<&'static str>,
}

/// The task's stored photo (uploaded with `done`), as the hash of its `photo` entry.
pub fn stored_photo(task: &Task) -> Option<&str> {
    task.photo.as_deref().and_then(crate::photos::hash_of)
}

/// `GET /api/incidents/{id}/tasks/{task}/photo`.
pub fn task_photo_url(task: &Task) -> String {
    format!("/api/incidents/{}/tasks/{}/photo", task.incident, task.id)
}

impl<'a> TaskView<'a> {
    pub fn new(store: &LayerStore, task: &'a Task, now: i64) -> Self {
        let place_name = task.place.as_deref().and_then(|p| {
            [Role::FloodPoint, Role::Shelter, Role::ProtectedTarget]
                .into_iter()
                .find_map(|r| label(store, r, p))
        });
        TaskView {
            task,
            status_name: task.status.name_zh(),
            overdue: task.is_overdue(now),
            deadline_time: rfc3339(task.deadline),
            updated_time: rfc3339(task.updated_at),
            unit_name: task.unit.as_deref().and_then(|u| unit_name(store, u)),
            team_name: task
                .team
                .as_deref()
                .and_then(|t| label(store, Role::Team, t)),
            team_equipment: task.team.as_deref().and_then(|t| team_equipment(store, t)),
            depot_name: task
                .depot
                .as_deref()
                .and_then(|d| label(store, Role::SupplyDepot, d)),
            place_name,
            photo_url: stored_photo(task).map(|_| task_photo_url(task)),
            photo_thumb_url: stored_photo(task)
                .map(|_| format!("{}?thumb=1", task_photo_url(task))),
            allowed: TaskAction::allowed(task.status),
        }
    }
}

/// A timeline step with its time.
#[derive(Debug, Serialize)]
pub struct EntryView<'a> {
    #[serde(flatten)]
    pub entry: &'a TimelineEntry,
    pub time: String,
}

#[derive(Debug, Serialize)]
struct PageView<'a> {
    incident: IncidentView<'a>,
    timeline: Vec<EntryView<'a>>,
    tasks: Vec<TaskView<'a>>,
    counts: Counts,
}

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub tasks: usize,
    pub open: usize,
    pub done: usize,
    pub refused: usize,
    pub overdue: usize,
}

pub fn counts(tasks: &[Task], now: i64) -> Counts {
    let mut c = Counts {
        tasks: tasks.len(),
        ..Counts::default()
    };
    for t in tasks {
        match t.status {
            crate::incidents::TaskStatus::Done => c.done += 1,
            crate::incidents::TaskStatus::Refused => c.refused += 1,
            _ => c.open += 1,
        }
        if t.is_overdue(now) {
            c.overdue += 1;
        }
    }
    c
}

fn to_json<T: Serialize>(value: &T) -> Result<Json<Value>, ApiError> {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The page's data as JSON (also what the bench measures).
pub fn page_json(
    store: &LayerStore,
    plans: &Plans,
    page: &Page,
    now: i64,
) -> Result<Value, ApiError> {
    let view = PageView {
        incident: IncidentView::new(plans, &page.incident),
        timeline: page
            .timeline
            .iter()
            .map(|entry| EntryView {
                entry,
                time: rfc3339(entry.at),
            })
            .collect(),
        tasks: page
            .tasks
            .iter()
            .map(|t| TaskView::new(store, t, now))
            .collect(),
        counts: counts(&page.tasks, now),
    };
    serde_json::to_value(&view).map_err(|e| ApiError::internal(e.to_string()))
}

/// `GET /api/incidents`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let params = Params::parse(query.as_deref());
    let limit = params.usize_in("limit", 100, 1, MAX_LIST)?;
    let mut statuses = Vec::new();
    for s in params
        .get("status")
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
    {
        statuses.push(IncidentStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                format!("status is proposed, active, dismissed or closed, not {s:?}"),
            )
        })?);
    }
    let db = db(&state)?;
    let found = state.incidents.list(db, &statuses, limit as i64).await?;
    let plans = &state.tables.plans;
    let views: Vec<IncidentView> = found.iter().map(|i| IncidentView::new(plans, i)).collect();
    Ok(Json(json!({ "count": views.len(), "incidents": views })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    plan: String,
    level: Option<String>,
    lon: Option<f64>,
    lat: Option<f64>,
    crs: Option<String>,
    area: Option<Value>,
    hazard_source: Option<String>,
    case: Option<i64>,
    title: Option<String>,
    note: Option<String>,
}

/// `POST /api/incidents`: 201 with the incident page.
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_staff()?;
    let body: OpenBody = parse_body(&body)?;
    let store = state.store.snapshot();
    let at = match (body.case, &body.hazard_source, body.lon, body.lat) {
        (Some(id), None, None, None) => {
            let cases = super::cases::service(&state)?;
            let case = cases.store.get(id).await.map_err(|e| match e {
                crate::cases::CaseError::NotFound(_) => {
                    ApiError::invalid("case", format!("no case {id}"))
                }
                other => ApiError::from(other),
            })?;
            OpenAt::Case {
                id,
                class: case.class.clone(),
                lon: case.lon,
                lat: case.lat,
                description: case.description.clone(),
            }
        }
        (None, Some(id), None, None) => OpenAt::HazardSource(id.clone()),
        (None, None, Some(lon), Some(lat)) => {
            let crs = super::params::body_crs(body.crs.as_deref())?;
            let p = super::params::point(lon, lat, &crs)?;
            match body.area.clone() {
                Some(area) => {
                    let gj: geojson::Geometry =
                        serde_json::from_value(area.clone()).map_err(|e| {
                            ApiError::invalid("area", format!("area is a GeoJSON geometry: {e}"))
                        })?;
                    if !matches!(
                        gj.value,
                        geojson::Value::Polygon(_) | geojson::Value::MultiPolygon(_)
                    ) {
                        return Err(ApiError::invalid(
                            "area",
                            "area is a GeoJSON Polygon or MultiPolygon",
                        ));
                    }
                    OpenAt::Area {
                        lon: p.x,
                        lat: p.y,
                        area,
                    }
                }
                None => OpenAt::Point { lon: p.x, lat: p.y },
            }
        }
        (None, None, None, _) | (None, None, _, None) => {
            return Err(ApiError::invalid(
                "lon",
                "give lon and lat (and optionally an area), a hazard_source or a case",
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "case",
                "give one of: lon/lat, hazard_source, case",
            ));
        }
    };
    let (service, db) = service(&state, &store).await?;
    let live = super::shelters::live(&state).await?;
    let request = OpenRequest {
        plan: body.plan,
        level: body.level,
        at,
        title: body.title,
        note: body.note,
    };
    let incident = service
        .open(
            db,
            &store,
            &state.tables.plans,
            &live,
            request,
            &caller.actor,
            now(&state),
        )
        .await?;
    let page = service.page(db, incident.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(page_json(&store, &state.tables.plans, &page, now(&state))?),
    ))
}

/// `GET /api/incidents/{id}`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let db = db(&state)?;
    let page = state.incidents.page(db, id).await?;
    let store = state.store.snapshot();
    Ok(Json(page_json(
        &store,
        &state.tables.plans,
        &page,
        now(&state),
    )?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActBody {
    action: String,
    level: Option<String>,
    reason: Option<String>,
    note: Option<String>,
}

/// `POST /api/incidents/{id}/actions`.
pub async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let body: ActBody = parse_body(&body)?;
    let action = IncidentAction::parse(&body.action).ok_or_else(|| {
        ApiError::invalid(
            "action",
            "action is confirm, dismiss, raise, lower or close",
        )
    })?;
    let store = state.store.snapshot();
    let (service, db) = service(&state, &store).await?;
    let live = super::shelters::live(&state).await?;
    let request = ActRequest {
        level: body.level,
        reason: body.reason,
        note: body.note,
    };
    service
        .act(
            db,
            &store,
            &state.tables.plans,
            &live,
            id,
            action,
            request,
            &caller.actor,
            now(&state),
        )
        .await?;
    let page = service.page(db, id).await?;
    Ok(Json(page_json(
        &store,
        &state.tables.plans,
        &page,
        now(&state),
    )?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    kind: String,
    title: String,
    unit: Option<String>,
    team_kind: Option<String>,
    item: Option<String>,
    quantity: Option<i64>,
    deadline_min: i64,
    lon: Option<f64>,
    lat: Option<f64>,
}

/// `POST /api/incidents/{id}/tasks`: 201 with the task.
pub async fn add_task(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_staff()?;
    let body: TaskBody = parse_body(&body)?;
    let store = state.store.snapshot();
    let (service, db) = service(&state, &store).await?;
    let request = TaskRequest {
        kind: body.kind,
        title: body.title,
        unit: body.unit,
        team_kind: body.team_kind,
        item: body.item,
        quantity: body.quantity,
        deadline_min: body.deadline_min,
        lon: body.lon,
        lat: body.lat,
    };
    let task = service
        .add_task(
            db,
            &store,
            &state.tables.plans,
            id,
            request,
            &caller.actor,
            now(&state),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        to_json(&TaskView::new(&store, &task, now(&state)))?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskActBody {
    action: String,
    note: Option<String>,
    photo: Option<String>,
    reason: Option<String>,
    team: Option<String>,
    depot: Option<String>,
    quantity: Option<i64>,
}

/// How the multipart text parts of a task action are typed.
const TASK_ACT_KINDS: [(&str, Kind); 1] = [("quantity", Kind::Integer)];

/// `POST /api/incidents/{id}/tasks/{task}/actions`: JSON, or multipart/form-data with the same
/// fields as text parts and the completion photo as a file part `photos` (checked by content
/// like case photos: JPEG, PNG or WebP, ≤ 10 MB; anything else is a 415 naming `photos[0]`).
pub async fn task_act(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, task)): Path<(i64, i64)>,
    request: axum::extract::Request,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let WithPhotos { body, uploads } =
        super::multipart::read::<TaskActBody, _>(request, &state, &TASK_ACT_KINDS).await?;
    let action = TaskAction::parse(&body.action).ok_or_else(|| {
        ApiError::invalid(
            "action",
            "action is acknowledge, start, done, refuse, assign or draw",
        )
    })?;
    let store = state.store.snapshot();
    let (service, db) = service(&state, &store).await?;
    let request = TaskActRequest {
        note: body.note,
        photo: body.photo,
        uploads,
        reason: body.reason,
        team: body.team,
        depot: body.depot,
        quantity: body.quantity,
    };
    let done = service
        .task_act(
            db,
            &store,
            &state.tables.plans,
            state.cases.as_ref(),
            id,
            task,
            action,
            request,
            &caller.actor,
            now(&state),
        )
        .await?;
    to_json(&TaskView::new(&store, &done, now(&state)))
}

/// `GET /api/incidents/{id}/tasks/{task}/photo[?thumb=1]`: the photo a task was finished
/// with, to those who may read the incident (staff keys; `?key=` for `<img>` tags), as stored:
/// the original, or the thumbnail. Anyone else, a task without a stored photo, and a photo not
/// linked to this task are 404s alike.
pub async fn task_photo(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, task)): Path<(i64, i64)>,
    RawQuery(query): RawQuery,
) -> Result<axum::response::Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let caller = caller.or_query_key(&state, &params).await?;
    caller.require_staff()?;
    let db = db(&state)?;
    let found = crate::incidents::store::task(db, id, task).await?;
    let missing = || ApiError::from(crate::photos::PhotoError::NotFound);
    let hash = stored_photo(&found).ok_or_else(missing)?;
    let content_type = crate::incidents::store::task_photo_type(db, id, task, hash)
        .await?
        .ok_or_else(missing)?;
    let thumb = matches!(params.get("thumb"), Some("1" | "true" | "yes"));
    let photos = state
        .cases
        .as_ref()
        .and_then(|c| c.photo_store())
        .ok_or_else(|| ApiError::from(crate::photos::PhotoError::NotConfigured))?;
    super::photos::serve(photos, hash, thumb, content_type).await
}

/// `POST /api/incidents/propose-from-zone`.
pub async fn propose_from_zone(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_staff()?;
    caller.require_staff_view()?;
    let store = state.store.snapshot();
    let live = super::shelters::live(&state).await?;
    let request = super::hazmat::ZoneBody::parse(&body)?;
    let analysis = crate::services::hazmat::analyse(
        &store,
        &state.tables,
        &request.request()?,
        caller.viewer,
        &live,
    )?;
    let leak = crate::incidents::triggers::leak_signal(&store, &analysis);
    let proposals = crate::incidents::triggers::from_leak(&state.tables.plans, &leak);
    let (service, db) = service(&state, &store).await?;
    let outcomes = service
        .propose(
            db,
            &proposals,
            &caller.actor,
            now(&state),
            state.tables.plans.dismissal_cooldown_min,
        )
        .await?;
    Ok((
        if outcomes.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        Json(json!({
            "chemical": leak.chemical,
            "hazard_class": leak.hazard_class,
            "hazard_source": leak.hazard_source,
            "protected_targets": leak.targets,
            "towns": leak.towns,
            "exposures": leak.exposures.iter().map(|e| json!({
                "exposes": e.exposes,
                "in_isolation": e.in_isolation,
                "in_protective_action": e.in_protective,
                "people": e.people,
            })).collect::<Vec<_>>(),
            "proposals": outcomes,
        })),
    ))
}

/// `GET /api/incidents/{id}/features`: GeoJSON for the map.
pub async fn features(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<axum::response::Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let caller = caller.or_query_key(&state, &params).await?;
    caller.require_staff()?;
    let store = state.store.snapshot();
    let (service, db) = service(&state, &store).await?;
    let page = service.page(db, id).await?;
    let live = service.resources();
    let plans = &state.tables.plans;
    let t = now(&state);
    let mut features = Vec::new();
    let inc = &page.incident;
    if let Some(area) = &inc.area {
        features.push(json!({"type": "Feature", "geometry": area, "properties": {"role": "area", "incident": inc.id}}));
    }
    features.push(json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [inc.lon, inc.lat]},
        "properties": {"role": "incident", "incident": inc.id, "title": inc.title, "level": inc.level, "status": inc.status}}));
    for task in &page.tasks {
        if let (Some(lon), Some(lat)) = (task.lon, task.lat) {
            features.push(json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"role": "task", "task": task.id, "title": task.title, "status": task.status, "overdue": task.is_overdue(t)}}));
        }
    }
    if let Some(teams) = store.by_role(Role::Team) {
        for task in &page.tasks {
            if let Some(i) = task.team.as_deref().and_then(|team| teams.find(team)) {
                let v = resources::team_view(teams, i, plans, &live, None);
                features.push(json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [v.lon, v.lat]},
                    "properties": {"role": "team", "task": task.id, "id": v.id, "name": v.name, "status": v.status}}));
            }
        }
    }
    if let Some(depots) = store.by_role(Role::SupplyDepot) {
        for task in &page.tasks {
            if let Some(i) = task.depot.as_deref().and_then(|d| depots.find(d)) {
                let v = resources::depot_view(depots, i, &live, None);
                features.push(json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [v.lon, v.lat]},
                    "properties": {"role": "depot", "task": task.id, "id": v.id, "name": v.name}}));
            }
        }
    }
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/geo+json")],
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
        .into_response())
}

use axum::response::IntoResponse;

fn near(params: &Params) -> Result<Option<geo::Coord<f64>>, ApiError> {
    match (params.get("lon"), params.get("lat")) {
        (None, None) => Ok(None),
        _ => params.point().map(|(p, _)| Some(p)),
    }
}

/// `GET /api/teams`: nearest first with `lon`/`lat`, else in register order.
pub async fn teams(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let params = Params::parse(query.as_deref());
    let limit = params.usize_in("limit", 10, 1, MAX_NEAREST)?;
    let available = match params.get("available") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "available",
                format!("available is true or false, not {other:?}"),
            ));
        }
    };
    let plans = &state.tables.plans;
    let kind = match params.get("kind") {
        None => None,
        Some(k) => Some(
            plans
                .team_kinds
                .iter()
                .find(|t| t.id == k || t.kind == k)
                .map(|t| t.kind.clone())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "kind",
                        format!("unknown team type {k:?} (see GET /api/plans: team_kinds)"),
                    )
                })?,
        ),
    };
    // Equipment by id or name, comma-separated: teams carrying at least one of each.
    let mut equipment: Vec<&str> = Vec::new();
    for e in params
        .get("equipment")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let item = plans.equipment_item(e).ok_or_else(|| {
            ApiError::invalid(
                "equipment",
                format!("unknown equipment {e:?} (see GET /api/plans: equipment)"),
            )
        })?;
        equipment.push(item.name.as_str());
    }
    let filter = resources::TeamFilter {
        kind: kind.as_deref(),
        available,
        equipment: &equipment,
    };
    let store = state.store.snapshot();
    let (service, _) = service(&state, &store).await?;
    let live = service.resources();
    let Some(layer) = store.by_role(Role::Team) else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "no teams layer",
        ));
    };
    let views: Vec<TeamView> = match near(&params)? {
        Some(p) => resources::nearest_teams(layer, &live, p, &filter, limit)
            .into_iter()
            .map(|(i, d)| resources::team_view(layer, i, plans, &live, Some(d)))
            .collect(),
        None => (0..layer.len())
            .filter(|&i| filter.admits(layer, &live, i))
            .take(limit)
            .map(|i| resources::team_view(layer, i, plans, &live, None))
            .collect(),
    };
    Ok(Json(json!({ "count": views.len(), "teams": views })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamBody {
    status: String,
}

/// `PATCH /api/teams/{id}`.
pub async fn team_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let body: TeamBody = parse_body(&body)?;
    let status = TeamStatus::parse(&body.status).ok_or_else(|| {
        ApiError::invalid(
            "status",
            "status is standby, assigned, on_scene or returning",
        )
    })?;
    let store = state.store.snapshot();
    let (service, db) = service(&state, &store).await?;
    service
        .set_team_status(
            db,
            &store,
            &state.tables.plans,
            &id,
            status,
            &caller.actor,
            now(&state),
        )
        .await?;
    let live = service.resources();
    let layer = store
        .by_role(Role::Team)
        .ok_or_else(|| ApiError::not_found("unknown_team", "no teams layer"))?;
    let i = layer
        .find(&id)
        .ok_or_else(|| ApiError::not_found("unknown_team", format!("no team {id:?}")))?;
    to_json(&resources::team_view(
        layer,
        i,
        &state.tables.plans,
        &live,
        None,
    ))
}

/// `GET /api/depots`: nearest first holding at least `min` of `item`.
pub async fn depots(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff()?;
    let params = Params::parse(query.as_deref());
    let limit = params.usize_in("limit", 10, 1, MAX_NEAREST)?;
    let item = params.get("item").map(str::to_string);
    if let Some(item) = &item {
        if state.tables.plans.supply(item).is_none() {
            return Err(ApiError::invalid(
                "item",
                format!("unknown supply item {item:?} (see GET /api/plans: supplies)"),
            ));
        }
    }
    let min = params
        .count("min", "the least quantity a depot must hold")?
        .unwrap_or(1);
    let store = state.store.snapshot();
    let (service, _) = service(&state, &store).await?;
    let live = service.resources();
    let Some(layer) = store.by_role(Role::SupplyDepot) else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "no depots layer",
        ));
    };
    let views: Vec<DepotView> = match (near(&params)?, &item) {
        (Some(p), Some(item)) => resources::depots_holding(layer, &live, p, item, min, limit)
            .into_iter()
            .map(|(i, d)| resources::depot_view(layer, i, &live, Some(d)))
            .collect(),
        (Some(_), None) => return Err(ApiError::invalid("item", "item is required with lon/lat")),
        (None, _) => (0..layer.len())
            .map(|i| resources::depot_view(layer, i, &live, None))
            .filter(|v| {
                item.as_ref()
                    .is_none_or(|it| v.stock.get(it).copied().unwrap_or(0) >= min.max(1))
            })
            .take(limit)
            .collect(),
    };
    Ok(Json(json!({ "count": views.len(), "depots": views })))
}
