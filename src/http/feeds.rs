//! `/api/feeds/…` and `/api/alerts`: readings in (staff keys), the newest values out (to
//! everyone: the station layers are public, and the map colours them by level), alerts to
//! staff. Handlers stay thin; the rules live in `crate::feeds`.

use super::auth::Caller;
use super::params::Params;
use super::{ApiError, AppState};
use crate::cases::clock::rfc3339;
use crate::feeds::reading::{parse_csv, parse_json};
use crate::feeds::{Alert, AlertFilter, AlertLevel, FeedService};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Largest ingestion body (the row limit, [`crate::feeds::service::MAX_ROWS`], bites first for
/// ordinary CSV; this bounds what is read before it can be counted).
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;
/// Largest page of the alert list.
pub const MAX_ALERTS: usize = 1000;

pub fn service(state: &AppState) -> Result<&FeedService, ApiError> {
    state.feeds.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "this server runs without the hydrological and weather feeds (no data/thresholds.toml)",
        )
    })
}

fn opt_time(ms: Option<i64>) -> Value {
    json!(ms.map(rfc3339))
}

/// An alert as the API shows it: the stored record plus names and RFC 3339 times.
pub fn alert_json(feeds: &FeedService, alert: &Alert) -> Value {
    let mut v = serde_json::to_value(alert).unwrap_or(Value::Null);
    let config = feeds.config();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("level_name".into(), json!(alert.level.name_zh()));
        obj.insert(
            "kind_title".into(),
            json!(
                config
                    .kind_index(&alert.kind)
                    .map(|k| &config.kinds[k].title)
            ),
        );
        obj.insert("active".into(), json!(alert.is_active()));
        obj.insert("reading_time".into(), json!(rfc3339(alert.time)));
        obj.insert("raised_time".into(), json!(rfc3339(alert.raised_at)));
        obj.insert("ended_time".into(), opt_time(alert.ended_at));
    }
    v
}

/// `POST /api/feeds/readings`: a JSON array of `{station, time, kind, value}` or CSV
/// `station,time,kind,value`. Always 200 once the body is readable: bad rows are listed in
/// `rejected`, the rest stored; `duplicates` were stored before and are not applied again.
pub async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let feeds = service(&state)?;
    let parsed = match super::params::content_type(&headers).as_deref() {
        Some("text/csv") => tokio::task::spawn_blocking(move || parse_csv(&body))
            .await
            .map_err(|e| ApiError::internal(format!("parsing the readings failed: {e}")))?,
        Some("application/json") => tokio::task::spawn_blocking(move || parse_json(&body))
            .await
            .map_err(|e| ApiError::internal(format!("parsing the readings failed: {e}")))?
            .map_err(|message| ApiError::invalid("body", message))?,
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!(
                    "send readings as application/json (an array of {{station, time, kind, value}}) or text/csv (station,time,kind,value), not {}",
                    other.unwrap_or("a body without Content-Type")
                ),
            )
            .with_field("content-type"));
        }
    };
    let outcome = feeds.ingest(parsed).await?;
    super::telemetry::readings(
        outcome.accepted,
        outcome.duplicates,
        outcome.rejected.len() as u64,
        outcome.alerts.len() as u64,
        outcome.ended as u64,
    );
    let proposals = propose(&state, feeds, &outcome.alerts, &caller.actor).await?;
    let alerts: Vec<Value> = outcome
        .alerts
        .iter()
        .map(|a| alert_json(feeds, a))
        .collect();
    Ok(Json(json!({
        "accepted": outcome.accepted,
        "duplicates": outcome.duplicates,
        "rejected": outcome.rejected,
        "alerts": alerts,
        "ended": outcome.ended,
        "proposals": proposals,
    }))
    .into_response())
}

/// The alerts a request raised, matched against the plans' triggers: proposals stored in the
/// same request, after the alerts and before the answer, so a proposal is durable within the
/// reading's own round trip. Without an application database there is nothing to propose into.
async fn propose(
    state: &AppState,
    feeds: &FeedService,
    alerts: &[Alert],
    actor: &crate::cases::Actor,
) -> Result<Vec<crate::incidents::ProposalOutcome>, ApiError> {
    let Some(cases) = &state.cases else {
        return Ok(Vec::new());
    };
    let store = state.store.snapshot();
    let config = feeds.config();
    let mut proposals = Vec::new();
    for alert in alerts {
        let Some(signal) = crate::catalog::Signal::parse(alert.level.as_str()) else {
            continue;
        };
        let signal = crate::incidents::AlertSignal {
            id: alert.id,
            station: alert.station.clone(),
            station_name: alert.station_name.clone(),
            kind: alert.kind.clone(),
            kind_title: config
                .kind_index(&alert.kind)
                .map(|k| config.kinds[k].title.clone()),
            signal,
            value: alert.value,
            unit: alert.unit.clone(),
            time: alert.time,
            lon: alert.lon,
            lat: alert.lat,
            flood_points: alert.flood_points.iter().map(|p| p.id.clone()).collect(),
        };
        proposals.extend(crate::incidents::triggers::from_alert(
            &store,
            &state.tables.plans,
            &signal,
        ));
    }
    Ok(state
        .incidents
        .propose(
            &cases.db,
            &proposals,
            actor,
            cases.clock.now(),
            state.tables.plans.dismissal_cooldown_min,
        )
        .await?)
}

/// `GET /api/feeds/kinds`: what the feeds measure, units, plausible ranges and default
/// thresholds with their basis (the map's legend reads this).
pub async fn kinds(State(state): State<AppState>) -> Result<Response, ApiError> {
    let feeds = service(&state)?;
    let config = feeds.config();
    let kinds: Vec<Value> = config
        .kinds
        .iter()
        .map(|k| {
            let relative: Map<String, Value> = AlertLevel::ALL
                .into_iter()
                .filter_map(|l| {
                    k.relative[l.index()]
                        .as_ref()
                        .map(|r| (l.as_str().to_string(), json!(r)))
                })
                .collect();
            json!({
                "name": k.name,
                "title": k.title,
                "unit": k.unit,
                "roles": k.roles,
                "range": [k.min, k.max],
                "thresholds": k.absolute.to_json(),
                "relative": relative,
                "basis": k.basis,
            })
        })
        .collect();
    let levels: Vec<Value> = AlertLevel::ALL
        .into_iter()
        .map(|l| json!({"level": l, "name": l.name_zh(), "rank": l.rank()}))
        .collect();
    Ok(Json(json!({
        "kinds": kinds,
        "levels": levels,
        "radius_m": config.radius_m,
        "future_tolerance_s": config.future_tolerance_ms / 1000,
    }))
    .into_response())
}

/// `GET /api/feeds/latest[?kind=][&layer=][&station=][&format=geojson]`: the newest reading of
/// every series with its level. `format=geojson` gives one point per station (every station of
/// the station layers, also those without readings) with flat properties a MapLibre style can
/// colour by: `level` (highest over the kinds, `null` = no alert level), `level_rank` (0–4),
/// `level_kind`, and per kind `{kind}`, `{kind}_level`, `{kind}_time`.
pub async fn latest(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let feeds = service(&state)?;
    let params = Params::parse(query.as_deref());
    let config = feeds.config();
    let kind = match params.get("kind").filter(|s| !s.is_empty()) {
        None => None,
        Some(name) => Some(config.kind_index(name).ok_or_else(|| {
            ApiError::invalid(
                "kind",
                format!(
                    "unknown kind {name:?}; known: {}",
                    config
                        .kinds
                        .iter()
                        .map(|k| k.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?),
    };
    let stations = feeds.stations();
    let layer = params.get("layer").filter(|s| !s.is_empty());
    if let Some(layer) = layer {
        if !stations.layers.iter().any(|(l, _)| l == layer) {
            return Err(ApiError::invalid(
                "layer",
                format!(
                    "{layer:?} is not a station layer; station layers: {}",
                    stations
                        .layers
                        .iter()
                        .map(|(l, _)| l.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let station_filter = params.get("station").filter(|s| !s.is_empty());
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
    let now = feeds.clock().now();
    let mut series_out = Vec::new();
    let mut features = Vec::new();
    for station in stations.sorted() {
        if layer.is_some_and(|l| l != station.layer)
            || station_filter.is_some_and(|s| s != station.id)
        {
            continue;
        }
        let readings: Vec<_> = feeds
            .latest_of(&station.id)
            .into_iter()
            .filter(|l| kind.is_none_or(|k| k == l.kind))
            .collect();
        if geojson {
            let mut props = Map::new();
            props.insert("station".into(), json!(station.id));
            props.insert("name".into(), json!(station.name));
            props.insert("layer".into(), json!(station.layer));
            props.insert("role".into(), json!(station.role));
            let top = readings
                .iter()
                .filter_map(|l| l.series.level.map(|lv| (lv, l.kind)))
                .max_by_key(|&(lv, k)| (lv, std::cmp::Reverse(k)));
            props.insert("level".into(), json!(top.map(|(l, _)| l)));
            props.insert("level_rank".into(), json!(top.map_or(0, |(l, _)| l.rank())));
            props.insert(
                "level_kind".into(),
                json!(top.map(|(_, k)| &config.kinds[k].name)),
            );
            let newest = readings.iter().map(|l| l.series.time).max();
            props.insert("reading_time".into(), opt_time(newest));
            props.insert("age_s".into(), json!(newest.map(|t| (now - t) / 1000)));
            for l in &readings {
                let name = &config.kinds[l.kind].name;
                props.insert(name.clone(), json!(l.series.value));
                props.insert(format!("{name}_level"), json!(l.series.level));
                props.insert(format!("{name}_time"), json!(rfc3339(l.series.time)));
            }
            features.push(json!({
                "type": "Feature",
                "id": station.id,
                "geometry": {"type": "Point", "coordinates": [station.point.x, station.point.y]},
                "properties": props,
            }));
        } else {
            for l in readings {
                let def = &config.kinds[l.kind];
                let threshold = |level: Option<AlertLevel>| {
                    level.and_then(|lv| station.levels(l.kind).and_then(|t| t.get(lv)))
                };
                series_out.push(json!({
                    "station": station.id,
                    "station_name": station.name,
                    "layer": station.layer,
                    "lon": station.point.x,
                    "lat": station.point.y,
                    "kind": def.name,
                    "unit": def.unit,
                    "value": l.series.value,
                    "reading_at": l.series.time,
                    "reading_time": rfc3339(l.series.time),
                    "level": l.series.level,
                    "level_name": l.series.level.map(AlertLevel::name_zh),
                    "threshold": threshold(l.series.level),
                    "thresholds": station.levels(l.kind).map(|t| t.to_json()),
                    "active_alerts": l.series.active.iter().map(|(id, _)| id).collect::<Vec<_>>(),
                }));
            }
        }
    }
    if geojson {
        let body = json!({"type": "FeatureCollection", "features": features});
        Ok((
            [(header::CONTENT_TYPE, "application/geo+json")],
            body.to_string(),
        )
            .into_response())
    } else {
        Ok(Json(json!({"time": rfc3339(now), "series": series_out})).into_response())
    }
}

/// `GET /api/alerts?since=&until=&level=&active=&station=&kind=&limit=&offset=` (key needed):
/// newest first; `level` is "this level or higher", `since`/`until` bound the reading time
/// (RFC 3339 or a date).
pub async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_staff()?;
    let feeds = service(&state)?;
    let params = Params::parse(query.as_deref());
    let min_level = match params.get("level").filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(AlertLevel::parse(raw).ok_or_else(|| {
            ApiError::invalid(
                "level",
                format!("level must be blue, yellow, orange or red, got {raw:?}"),
            )
        })?),
    };
    let active = match params.get("active").filter(|s| !s.is_empty()) {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(raw) => {
            return Err(ApiError::invalid(
                "active",
                format!("active must be true or false, got {raw:?}"),
            ));
        }
    };
    let kind = params
        .get("kind")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if let Some(k) = &kind {
        if feeds.config().kind_index(k).is_none() {
            return Err(ApiError::invalid("kind", format!("unknown kind {k:?}")));
        }
    }
    let filter = AlertFilter {
        since: params.time("since")?,
        until: params.time("until")?,
        min_level,
        active,
        station: params
            .get("station")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        kind,
        limit: params.usize_in("limit", 100, 1, MAX_ALERTS)? as i64,
        offset: params.usize_in("offset", 0, 0, usize::MAX >> 1)? as i64,
    };
    let (alerts, total) = feeds.alerts(&filter).await?;
    let list: Vec<Value> = alerts.iter().map(|a| alert_json(feeds, a)).collect();
    Ok(Json(json!({"total": total, "alerts": list})).into_response())
}
