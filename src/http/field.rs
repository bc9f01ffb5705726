//! The field API: positions in (`POST /api/positions`), workers, nearest workers, who is
//! inside a fence, tracks, fences and their events, patrol coverage. Handlers stay thin; the
//! rules live in `crate::field`.

use super::auth::Caller;
use super::params::Params;
use super::{ApiError, AppState};
use crate::cases::Role;
use crate::cases::clock::rfc3339;
use crate::field::fix::{self, Context};
use crate::field::store::EventFilter;
use crate::field::{FenceEvent, FieldService, Latest, NewFence, Permit, Wanted, WorkerType};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Largest intake body (the row limit bites first for ordinary CSV).
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;
/// Most workers one nearest query returns.
const MAX_NEAREST: usize = 100;

pub fn service(state: &AppState) -> Result<&FieldService, ApiError> {
    state.field.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "this server runs without field positions (no database)",
        )
    })
}

/// The key's secret as sent (header or `?key=`), for the worker bindings.
fn secret(headers: &HeaderMap, params: &Params) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| params.get("key"))
        .map(|s| s.trim().to_string())
}

#[derive(Serialize)]
struct IngestAnswer {
    accepted: usize,
    rejected: Vec<fix::Rejection>,
    events: Vec<FenceEvent>,
}

/// `POST /api/positions[?crs=]`: a JSON array of `{who, time, lon, lat, accuracy?, speed?,
/// heading?}` (or `{"crs", "fixes"}`) or CSV with those columns, from a worker's phone key or a
/// gateway key bound to the workers (admin keys may post for anyone). 200 with `accepted`,
/// `rejected` (per row, with reasons) and the fence `events` raised; 422 when no row at all was
/// accepted (the first refusal names the row); 403 when a row is for a worker the key may not
/// post for (nothing of the request is stored).
pub async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let caller = caller.or_query_key(&state, &params).await?;
    caller.require_staff()?;
    let field = service(&state)?;
    let permit = if caller.actor.role == Role::Admin {
        Permit::Any
    } else {
        let secret = secret(&headers, &params).unwrap_or_default();
        field
            .permit_for_key(&crate::cases::keys::hash(&secret))
            .await?
    };
    let (parsed, body_crs) = match super::params::content_type(&headers).as_deref() {
        Some("text/csv") => (
            tokio::task::spawn_blocking(move || fix::parse_csv(&body))
                .await
                .map_err(|e| ApiError::internal(format!("parsing the fixes failed: {e}")))?,
            None,
        ),
        Some("application/json") => tokio::task::spawn_blocking(move || fix::parse_json(&body))
            .await
            .map_err(|e| ApiError::internal(format!("parsing the fixes failed: {e}")))?
            .map_err(|message| ApiError::invalid("body", message))?,
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!(
                    "send fixes as application/json (an array of {{who, time, lon, lat}}) or text/csv (who,time,lon,lat,…), not {}",
                    other.unwrap_or("a body without Content-Type")
                ),
            )
            .with_field("content-type"));
        }
    };
    let crs = match (params.get("crs"), body_crs.as_deref()) {
        (Some(q), _) => super::params::parse_crs("crs", Some(q))?,
        (None, b) => super::params::body_crs(b)?,
    };
    if parsed.is_empty() {
        return Err(ApiError::invalid("body", "no fixes in the request"));
    }
    let workers = field.workers();
    let area = field.area();
    let config = field.config();
    let ctx = Context {
        workers: &workers,
        crs: &crs,
        now: field.clock().now(),
        future_tolerance_ms: config.future_tolerance_ms,
        area,
    };
    let mut refused = parsed.refused;
    let mut fixes = Vec::with_capacity(parsed.rows.len());
    for raw in &parsed.rows {
        match fix::check(raw, &ctx) {
            Ok(f) => fixes.push(f),
            Err(r) => refused.push(r),
        }
    }
    let outcome = field.ingest(fixes, refused, &permit).await?;
    super::telemetry::positions(
        outcome.accepted as u64,
        outcome.rejected.len() as u64,
        outcome.events.len() as u64,
    );
    if outcome.accepted == 0 {
        let first = outcome.rejected.first();
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
            match first {
                Some(r) => format!("no fix accepted; row {}: {}", r.row, r.message),
                None => "no fix accepted".to_string(),
            },
        )
        .with_detail(
            "rejected",
            serde_json::to_value(&outcome.rejected).unwrap_or_default(),
        );
        if let Some(r) = first {
            error = error.with_field(format!("rows[{}]", r.row));
        }
        return Err(error);
    }
    Ok(Json(IngestAnswer {
        accepted: outcome.accepted,
        rejected: outcome.rejected,
        events: outcome.events,
    })
    .into_response())
}

/// A worker's newest fix as the API shows it.
#[derive(Serialize)]
struct Position<'a> {
    #[serde(flatten)]
    latest: &'a Latest,
    reported: String,
    age_s: i64,
}

impl<'a> Position<'a> {
    fn new(latest: &'a Latest, now: i64) -> Position<'a> {
        Position {
            latest,
            reported: rfc3339(latest.time),
            age_s: (now - latest.time) / 1000,
        }
    }
}

#[derive(Serialize)]
struct WorkerView<'a> {
    #[serde(flatten)]
    worker: &'a crate::field::Worker,
    on_duty: bool,
    position: Option<Position<'a>>,
}

/// `GET /api/workers[?type=][&beat=]` (key needed): the registry, each with its newest fix.
pub async fn workers(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let field = service(&state)?;
    let params = Params::parse(query.as_deref());
    let kind = worker_type(&params)?;
    let beat = params.get("beat").filter(|s| !s.is_empty());
    let registry = field.workers();
    let now = field.clock().now();
    let since = field.on_duty_since();
    let latest: Vec<Option<Latest>> = registry.list.iter().map(|w| field.latest(&w.id)).collect();
    let list: Vec<WorkerView> = registry
        .list
        .iter()
        .zip(&latest)
        .filter(|(w, _)| kind.is_none_or(|k| k == w.kind))
        .filter(|(w, _)| beat.is_none_or(|b| w.beat.as_deref() == Some(b)))
        .map(|(w, l)| WorkerView {
            worker: w,
            on_duty: l.as_ref().is_some_and(|l| l.time >= since),
            position: l.as_ref().map(|l| Position::new(l, now)),
        })
        .collect();
    Ok(Json(serde_json::json!({"total": list.len(), "workers": list})).into_response())
}

/// `GET /api/workers/me` (key needed): the workers the caller's key may post for (the field
/// page learns whose phone it is on).
pub async fn me(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let field = service(&state)?;
    let params = Params::parse(query.as_deref());
    let secret = secret(&headers, &params).unwrap_or_default();
    let Permit::Only(bound) = field
        .permit_for_key(&crate::cases::keys::hash(&secret))
        .await?
    else {
        return Err(ApiError::internal("a key's permit is a list"));
    };
    let registry = field.workers();
    let mut list: Vec<&crate::field::Worker> =
        bound.iter().filter_map(|id| registry.get(id)).collect();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(serde_json::json!({"workers": list})).into_response())
}

fn worker_type(params: &Params) -> Result<Option<WorkerType>, ApiError> {
    match params.get("type").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(t) => WorkerType::parse(t).map(Some).ok_or_else(|| {
            ApiError::invalid(
                "type",
                format!("type must be inspector or vehicle, got {t:?}"),
            )
        }),
    }
}

fn wanted(field: &FieldService, params: &Params) -> Result<Wanted, ApiError> {
    let available = match params.get("available").filter(|s| !s.is_empty()) {
        None | Some("true" | "1") => true,
        Some("false" | "0") => false,
        Some(other) => {
            return Err(ApiError::invalid(
                "available",
                format!("available must be true or false, got {other:?}"),
            ));
        }
    };
    Ok(Wanted {
        kind: worker_type(params)?,
        team_kind: params
            .get("kind")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        fresh_since: available.then(|| field.on_duty_since()),
    })
}

#[derive(Serialize)]
struct NearWorker<'a> {
    worker: &'a crate::field::Worker,
    distance_m: f64,
    position: Position<'a>,
}

/// `GET /api/nearest-workers?lon=&lat=[&crs=][&type=inspector|vehicle][&kind=TEAM_KIND]
/// [&limit=5][&available=true]` (key needed): the nearest workers by their newest fix;
/// `available` (the default) keeps only those whose fix is recent (on duty).
pub async fn nearest(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let field = service(&state)?;
    let params = Params::parse(query.as_deref());
    let (p, _) = params.point()?;
    let k = params.usize_in("limit", 5, 1, MAX_NEAREST)?;
    let wanted = wanted(field, &params)?;
    let found = field.nearest(p, &wanted, k);
    let registry = field.workers();
    let now = field.clock().now();
    let list: Vec<NearWorker> = found
        .iter()
        .filter_map(|(l, m)| {
            registry.get(&l.who).map(|w| NearWorker {
                worker: w,
                distance_m: crate::spatial::distance::round_m(*m),
                position: Position::new(l, now),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({"workers": list})).into_response())
}

/// `GET /api/workers/inside?fence=ID[&type=][&available=false]` (key needed): workers whose
/// newest fix lies inside the fence (a beat `beats/CODE`, a town `towns/CODE`, a posted fence).
pub async fn inside(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let field = service(&state)?;
    let params = Params::parse(query.as_deref());
    let fence = params
        .get("fence")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                "fence",
                "name a fence: ?fence=beats/CODE, towns/CODE or a posted fence's id",
            )
        })?;
    let mut wanted = wanted(field, &params)?;
    if params.get("available").is_none() {
        wanted.fresh_since = None;
    }
    let found = field.inside_fence(fence, &wanted)?;
    let now = field.clock().now();
    let list: Vec<Position> = found.iter().map(|l| Position::new(l, now)).collect();
    Ok(Json(serde_json::json!({"fence": fence, "workers": list})).into_response())
}

/// `GET /api/workers/{id}/track?since=&until=[&simplify=5]` (key needed): the worker's fixes
/// in the period as a GeoJSON LineString feature, simplified to `simplify` metres (0 keeps
/// every fix); `since` defaults to 24 h ago.
pub async fn track(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let field = service(&state)?;
    let params = Params::parse(query.as_deref());
    let now = field.clock().now();
    let until = params.time("until")?.unwrap_or(now + 1);
    let since = params.time("since")?.unwrap_or(until - 86_400_000);
    if since >= until {
        return Err(ApiError::invalid("since", "since must be before until"));
    }
    let tolerance = params.f64_in("simplify", 5.0, 1000.0)?;
    let fixes = field.track(&id, since, until, 200_000).await?;
    let t = crate::field::track::track(&fixes, tolerance);
    let body = serde_json::json!({
        "type": "Feature",
        "id": id,
        "geometry": if t.line.len() >= 2 {
            serde_json::json!({"type": "LineString", "coordinates": t.line})
        } else {
            serde_json::Value::Null
        },
        "properties": {
            "worker": id,
            "fixes": t.fixes,
            "vertices": t.vertices,
            "length_m": t.length_m,
            "start": t.start.map(rfc3339),
            "end": t.end.map(rfc3339),
            "simplify_m": tolerance,
        },
    });
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        body.to_string(),
    )
        .into_response())
}

/// A posted fence.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FenceBody {
    id: Option<String>,
    name: String,
    #[serde(default = "default_kind")]
    kind: String,
    /// GeoJSON Polygon or MultiPolygon (or a Feature holding one).
    geometry: serde_json::Value,
    crs: Option<String>,
}

fn default_kind() -> String {
    "area".into()
}

#[derive(Serialize)]
struct FenceView<'a> {
    id: &'a str,
    name: &'a str,
    kind: &'a str,
    origin: &'a crate::field::fences::Origin,
    area_m2: f64,
}

/// `POST /api/fences` (dispatcher, supervisor or admin): `{name, kind?, geometry, id?, crs?}`.
/// 201 with the fence; 400 naming the field for an invalid polygon, one larger than the
/// district, or a tiny one; 409 when the id is taken.
pub async fn add_fence(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    if !matches!(
        caller.actor.role,
        Role::Dispatcher | Role::Supervisor | Role::Admin
    ) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only dispatcher, supervisor or admin keys may post fences",
        ));
    }
    let field = service(&state)?;
    let body: FenceBody = super::params::parse_body(&body)?;
    let crs = super::params::body_crs(body.crs.as_deref())?;
    let value = match body.geometry.get("type").and_then(|t| t.as_str()) {
        Some("Feature") => body.geometry.get("geometry").cloned().unwrap_or_default(),
        _ => body.geometry,
    };
    let geometry: geojson::Geometry = serde_json::from_value(value)
        .map_err(|e| ApiError::invalid("geometry", format!("not a GeoJSON geometry: {e}")))?;
    let mut geometry: geo::Geometry<f64> = geometry
        .try_into()
        .map_err(|e| ApiError::invalid("geometry", format!("not a usable geometry: {e}")))?;
    if !crs.is_wgs84() {
        crs.geometry_to_wgs84(&mut geometry)
            .map_err(|e| ApiError::invalid("crs", e.to_string()))?;
    }
    let fence = field
        .add_fence(
            NewFence {
                id: body.id,
                name: body.name,
                kind: body.kind,
                geometry,
            },
            &caller.actor.name,
        )
        .await?;
    let view = FenceView {
        id: &fence.id,
        name: &fence.name,
        kind: &fence.kind,
        origin: &fence.origin,
        area_m2: crate::field::fences::area_m2(&fence.shape).round(),
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `DELETE /api/fences/{id}` (dispatcher, supervisor or admin): removes a posted fence.
pub async fn remove_fence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    if !matches!(
        caller.actor.role,
        Role::Dispatcher | Role::Supervisor | Role::Admin
    ) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only dispatcher, supervisor or admin keys may remove fences",
        ));
    }
    service(&state)?.remove_fence(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/fences[?kind=][&origin=posted]` (key needed): the fences as GeoJSON.
pub async fn fences(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let field = service(&state)?;
    let params = Params::parse(query.as_deref());
    let kind = params.get("kind").filter(|s| !s.is_empty());
    let posted_only = match params.get("origin").filter(|s| !s.is_empty()) {
        None => false,
        Some("posted") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "origin",
                format!("origin may be posted, got {other:?}"),
            ));
        }
    };
    let set = field.fences();
    let features: Vec<serde_json::Value> = set
        .iter()
        .filter(|f| kind.is_none_or(|k| f.kind == k))
        .filter(|f| !posted_only || f.origin == crate::field::fences::Origin::Posted)
        .map(|f| {
            serde_json::json!({
                "type": "Feature",
                "id": &*f.id,
                "geometry": geojson::Geometry::new(geojson::Value::from(&geo::Geometry::MultiPolygon(f.shape.clone()))),
                "properties": {"name": f.name, "kind": f.kind, "origin": f.origin},
            })
        })
        .collect();
    let body = serde_json::json!({"type": "FeatureCollection", "features": features});
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        body.to_string(),
    )
        .into_response())
}

/// `GET /api/fence-events?worker=&fence=&since=&until=&limit=` (key needed): oldest first.
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let field = service(&state)?;
    let params = Params::parse(query.as_deref());
    let text = |name: &str| {
        params
            .get(name)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let filter = EventFilter {
        worker: text("worker"),
        fence: text("fence"),
        since: params.time("since")?,
        until: params.time("until")?,
        limit: params.usize_in("limit", 1000, 1, 10_000)? as i64,
    };
    let events = field.events(&filter).await?;
    Ok(Json(serde_json::json!({"events": events})).into_response())
}

/// `GET /api/coverage?date=YYYY-MM-DD[&beat=CODE,…][&radius=30][&format=geojson]` (key
/// needed): patrol coverage per beat and inspector for the district's day (UTC+8).
/// `format=geojson` (one beat) gives its cells with `last_visit`, for the map.
pub async fn coverage(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let field = service(&state)?;
    let params = Params::parse(query.as_deref());
    let date = match params.get("date").filter(|s| !s.is_empty()) {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            ApiError::invalid("date", format!("date must be YYYY-MM-DD, got {d:?}"))
        })?,
        None => (chrono::DateTime::from_timestamp_millis(field.clock().now()).unwrap_or_default()
            + chrono::Duration::hours(8))
        .date_naive(),
    };
    let beats: Vec<String> = params
        .get("beat")
        .map(|b| {
            b.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let radius = match params.f64("radius")? {
        Some(r) if !(1.0..=500.0).contains(&r) => {
            return Err(ApiError::invalid(
                "radius",
                format!("radius must be between 1 and 500 m, got {r}"),
            ));
        }
        r => r,
    };
    let geojson = match params.get("format") {
        None | Some("" | "json") => false,
        Some("geojson") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("format must be json or geojson, got {other:?}"),
            ));
        }
    };
    if geojson && beats.len() != 1 {
        return Err(ApiError::invalid(
            "beat",
            "format=geojson needs exactly one beat",
        ));
    }
    let (start, end) = crate::field::coverage::day_bounds(date);
    let mut result = field.coverage(&beats, start, end, radius).await?;
    if geojson {
        let store = state.store.snapshot();
        let beat = result
            .pop()
            .ok_or_else(|| ApiError::invalid("beat", "no such beat"))?;
        let features: Vec<serde_json::Value> = crate::field::coverage::cells_of_beat(&store, &beat.beat)
            .into_iter()
            .map(|(id, shape)| {
                let visit = beat.last_visit.get(id).copied().flatten();
                serde_json::json!({
                    "type": "Feature",
                    "id": id,
                    "geometry": geojson::Geometry::new(geojson::Value::from(&geo::Geometry::MultiPolygon(shape.clone()))),
                    "properties": {
                        "cell": id,
                        "last_visit": visit.map(rfc3339),
                        "hours_since_visit": visit.map(|t| ((end.min(field.clock().now()) - t) as f64 / 3_600_000.0 * 10.0).round() / 10.0),
                    },
                })
            })
            .collect();
        let body = serde_json::json!({
            "type": "FeatureCollection",
            "beat": beat.beat,
            "date": date.to_string(),
            "share": beat.share,
            "features": features,
        });
        return Ok((
            [(header::CONTENT_TYPE, "application/geo+json")],
            body.to_string(),
        )
            .into_response());
    }
    let radius_m = radius.unwrap_or(field.config().coverage_radius_m);
    Ok(Json(serde_json::json!({
        "date": date.to_string(),
        "radius_m": radius_m,
        "beats": result,
    }))
    .into_response())
}
