//! The hazardous-chemicals table and the leak-zone analysis.
//!
//! - `GET /api/chemicals?q=` — search by id, Chinese or English name (substring), CAS or UN number.
//! - `GET /api/chemicals/{id}` — one chemical with its GB 18218 values, ERG distances and
//!   responder record (state, vapour density, flash point, explosive limits, hazards, PPE, first
//!   aid, fire-fighting, spill), each property with its source.
//! - `POST /api/hazmat/zone` — the ERG isolation and protective action zones of a release and
//!   what lies in them (see `services::hazmat` for the model). Staff only: the answer lists
//!   hazard sources and protected targets, which the public may not see.

use super::auth::Caller;
use super::params::parse_body;
use super::params::{Params, point};
use super::render::FeatureRef;
use super::{ApiError, AppState};
use crate::catalog::{Chemical, Role, Spill, TimeOfDay};
use crate::services::hazmat::{Analysis, CELL_CODE_CAP, Exposure, Group, Origin, Request, analyse};
use crate::spatial::Layer;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Default and largest number of chemicals a search returns.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

/// The ERG part of a chemical as lists show it: enough to tell whether a zone can be drawn and
/// whether its numbers were checked.
fn erg_summary(c: &Chemical) -> Value {
    match &c.erg {
        None => Value::Null,
        Some(erg) => json!({
            "guide": erg.guide,
            "basis": erg.basis.as_str(),
            "verified": erg.verified(),
        }),
    }
}

fn chemical_summary(c: &Chemical) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "name_en": c.name_en,
        "cas": c.cas,
        "un": c.un,
        "hazard_class": c.hazard_class,
        "erg": erg_summary(c),
        "responder": c.responder.as_ref().map(|r| r.present()),
    })
}

/// Whether a chemical matches a search term: its id or CAS exactly or by substring, its UN
/// number with or without the `UN` prefix, its Chinese name or (case-insensitively) English
/// name by substring.
fn matches(c: &Chemical, q: &str) -> bool {
    let lower = q.to_lowercase();
    let un = lower.strip_prefix("un").map(str::trim).unwrap_or(&lower);
    c.id.contains(&lower)
        || (!c.cas.is_empty() && c.cas.contains(q))
        || (!c.un.is_empty() && c.un == un)
        || c.name.contains(q)
        || c.name_en.to_lowercase().contains(&lower)
}

/// `GET /api/chemicals?q=&limit=`: every chemical without `q`.
pub async fn chemicals(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(query.as_deref());
    let limit = params.usize_in("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let q = params.get("q").map(str::trim).filter(|q| !q.is_empty());
    let found: Vec<&Chemical> = state
        .tables
        .chemicals
        .iter()
        .filter(|c| q.is_none_or(|q| matches(c, q)))
        .collect();
    Ok(Json(json!({
        "q": q,
        "count": found.len().min(limit),
        "total": found.len(),
        "chemicals": found.iter().take(limit).map(|c| chemical_summary(c)).collect::<Vec<_>>(),
    })))
}

/// `GET /api/chemicals/{id}`.
pub async fn chemical(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = state.tables.chemical(&id).ok_or_else(|| {
        ApiError::not_found("unknown_chemical", format!("unknown chemical {id:?}")).with_field("id")
    })?;
    let mut value = serde_json::to_value(c).map_err(|e| ApiError::internal(e.to_string()))?;
    if let Value::Object(object) = &mut value {
        object.insert(
            "erg_verified".into(),
            c.erg.as_ref().map(|e| e.verified()).into(),
        );
    }
    Ok(Json(value))
}

/// The request body of `POST /api/hazmat/zone` (and of proposing an incident from a zone).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ZoneBody {
    lon: Option<f64>,
    lat: Option<f64>,
    crs: Option<String>,
    hazard_source: Option<String>,
    chemical: Option<String>,
    spill: Option<String>,
    time: Option<String>,
    wind_from_deg: Option<f64>,
    wind_speed_ms: Option<f64>,
}

impl ZoneBody {
    pub(super) fn parse(bytes: &[u8]) -> Result<ZoneBody, ApiError> {
        parse_body(bytes)
    }

    /// The analysis request the body describes, each bad field named.
    pub(super) fn request(&self) -> Result<Request<'_>, ApiError> {
        let origin = match (&self.hazard_source, self.lon, self.lat) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(ApiError::invalid(
                    "hazard_source",
                    "give either lon/lat or hazard_source, not both",
                ));
            }
            (Some(id), None, None) => Origin::HazardSource(id.as_str()),
            (None, lon, lat) => {
                let what = "the incident's longitude and latitude, or a hazard_source id instead";
                let lon = required(lon, "lon", what)?;
                let lat = required(lat, "lat", what)?;
                let crs = super::params::body_crs(self.crs.as_deref())?;
                Origin::Point(point(lon, lat, &crs)?)
            }
        };
        Ok(Request {
            origin,
            chemical: self.chemical.as_deref(),
            spill: spill(self.spill.as_deref())?,
            time: time(self.time.as_deref())?,
            wind_from_deg: required(
                self.wind_from_deg,
                "wind_from_deg",
                "the direction the wind blows from, degrees clockwise from north",
            )?,
            wind_speed_ms: required(self.wind_speed_ms, "wind_speed_ms", "metres per second")?,
        })
    }
}

fn required<T>(value: Option<T>, field: &str, what: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid(field, format!("{field} is required: {what}")))
}

fn spill(raw: Option<&str>) -> Result<Spill, ApiError> {
    match required(raw, "spill", "\"small\" (up to 208 L) or \"large\"")? {
        "small" => Ok(Spill::Small),
        "large" => Ok(Spill::Large),
        other => Err(ApiError::invalid(
            "spill",
            format!("spill is \"small\" or \"large\", not {other:?}"),
        )),
    }
}

fn time(raw: Option<&str>) -> Result<TimeOfDay, ApiError> {
    match required(raw, "time", "\"day\" or \"night\"")? {
        "day" => Ok(TimeOfDay::Day),
        "night" => Ok(TimeOfDay::Night),
        other => Err(ApiError::invalid(
            "time",
            format!("time is \"day\" or \"night\", not {other:?}"),
        )),
    }
}

fn zone_names(e: &Exposure) -> Vec<&'static str> {
    let mut zones = Vec::with_capacity(2);
    if e.in_isolation {
        zones.push("isolation");
    }
    if e.in_protective {
        zones.push("protective_action");
    }
    zones
}

fn exposure_json(layer: &Layer, e: &Exposure, with_properties: bool) -> Value {
    let mut feature = FeatureRef::new(layer, e.index).at(e.distance_m);
    if with_properties {
        feature = feature.with_properties(layer, e.index);
    }
    let mut value = serde_json::to_value(feature).unwrap_or(Value::Null);
    if let Value::Object(object) = &mut value {
        object.insert("zones".into(), json!(zone_names(e)));
        if let Some(free) = crate::services::nearest::free_capacity(layer, e.index) {
            object.insert("free_capacity".into(), free.into());
        }
    }
    value
}

fn group_json(group: &Group<'_>) -> Value {
    let with_properties = group.role != Role::Camera;
    let mut object = json!({
        "layer": group.layer.def.id,
        "title": group.layer.def.title,
        "count": group.hits.len(),
        "total": group.total,
        "truncated": group.total > group.hits.len(),
        "features": group.hits.iter().map(|e| exposure_json(group.layer, e, with_properties)).collect::<Vec<_>>(),
    });
    if let Some(people) = group.people {
        object["people"] = people.into();
    }
    if group.role == Role::Shelter {
        object["must_not_use"] = true.into();
    }
    object
}

fn group_key(role: Role) -> &'static str {
    match role {
        Role::ProtectedTarget => "protected_targets",
        Role::HazardSource => "hazard_sources",
        Role::Village => "villages",
        Role::Shelter => "shelters_in_zones",
        Role::Camera => "cameras",
        other => other.as_str(),
    }
}

fn geometry_json(polygon: &geo::Polygon<f64>) -> Value {
    serde_json::to_value(geojson::Geometry::new(geojson::Value::from(polygon)))
        .unwrap_or(Value::Null)
}

fn analysis_json(store: &crate::spatial::LayerStore, a: &Analysis<'_, '_>) -> Value {
    let verified = a.distances.verified;
    let mut features = vec![json!({
        "type": "Feature",
        "id": "isolation",
        "geometry": geometry_json(&a.zones.isolation),
        "properties": {
            "zone": "isolation",
            "title": "初始隔离区 Initial isolation zone",
            "radius_m": a.distances.isolation_m,
            "verified": verified,
        },
    })];
    if let (Some(polygon), Some(d)) = (&a.zones.protective, a.distances.protective_m) {
        features.push(json!({
            "type": "Feature",
            "id": "protective_action",
            "geometry": geometry_json(polygon),
            "properties": {
                "zone": "protective_action",
                "title": "防护行动区 Protective action zone",
                "downwind_m": d,
                "wind_model": a.zones.wind.as_str(),
                "verified": verified,
            },
        }));
    }
    let part = |role: Role, index: Option<u32>| {
        store.by_role(role).zip(index).map(|(layer, i)| {
            serde_json::to_value(FeatureRef::new(layer, i as usize)).unwrap_or(Value::Null)
        })
    };
    let mut exposure = Map::new();
    for group in &a.groups {
        exposure.insert(group_key(group.role).to_string(), group_json(group));
    }
    if let Some(cells) = &a.cells {
        exposure.insert(
            "grid_cells".into(),
            json!({
                "layer": cells.layer.def.id,
                "count": cells.count,
                "in_isolation": cells.in_isolation,
                "in_protective_action": cells.in_protective,
                "codes": cells.codes,
                "codes_truncated": cells.count > cells.codes.len(),
                "codes_cap": CELL_CODE_CAP,
            }),
        );
    }
    let safe_shelters: Vec<Value> = match a.shelter_layer {
        Some(layer) => a
            .safe_shelters
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(
                    FeatureRef::new(layer, s.index)
                        .at(s.distance_m)
                        .with_properties(layer, s.index),
                )
                .unwrap_or(Value::Null);
                if let Value::Object(o) = &mut v {
                    o.insert("free_capacity".into(), s.free_capacity.into());
                    o.insert(
                        "bearing_deg".into(),
                        ((s.bearing_deg * 10.0).round() / 10.0).into(),
                    );
                    o.insert("upwind".into(), s.upwind.into());
                }
                v
            })
            .collect(),
        None => Vec::new(),
    };
    let c = a.chemical;
    json!({
        "incident": {
            "lon": a.point.x,
            "lat": a.point.y,
            "hazard_source": a.hazard_source.map(|(layer, i)| serde_json::to_value(FeatureRef::new(layer, i).with_properties(layer, i)).unwrap_or(Value::Null)),
            "location": {
                "cell": part(Role::GridCell, Some(a.location.cell)),
                "village": part(Role::Village, a.location.village),
                "town": part(Role::Town, a.location.town),
            },
        },
        "chemical": {
            "id": c.id,
            "name": c.name,
            "name_en": c.name_en,
            "cas": c.cas,
            "un": c.un,
            "hazard_class": c.hazard_class,
        },
        "spill": a.request_spill.as_str(),
        "time": a.request_time.as_str(),
        "wind": {
            "from_deg": a.wind_from_deg,
            "speed_ms": a.wind_speed_ms,
            "model": a.zones.wind.as_str(),
        },
        "distances": {
            "isolation_m": a.distances.isolation_m,
            "protective_action_m": a.distances.protective_m,
            "guide": a.erg.guide,
            "basis": a.erg.basis.as_str(),
            "source": a.distances.source,
            "verified": verified,
        },
        "verified": verified,
        "zones": {"type": "FeatureCollection", "features": features},
        "exposure": exposure,
        "safe_shelters": safe_shelters,
        "withheld": a.withheld.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "notes": a.notes,
    })
}

/// `POST /api/hazmat/zone`: `{lon, lat[, crs]} | {hazard_source}`, `chemical` (optional with a
/// hazard source: its first chemical), `spill`, `time`, `wind_from_deg`, `wind_speed_ms`.
pub async fn zone(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff_view()?;
    let body = ZoneBody::parse(&body)?;
    let request = body.request()?;
    let store = state.store.snapshot();
    let live = super::shelters::live(&state).await?;
    let analysis = analyse(&store, &state.tables, &request, caller.viewer, &live)?;
    Ok(Json(analysis_json(&store, &analysis)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chlorine() -> Chemical {
        Chemical {
            id: "chlorine".into(),
            name: "氯(液氯)".into(),
            name_en: "Chlorine".into(),
            cas: "7782-50-5".into(),
            un: "1017".into(),
            hazard_class: "2.3".into(),
            critical_quantity_t: 5.0,
            beta: 4.0,
            source: "test".into(),
            erg: None,
            responder: None,
        }
    }

    #[test]
    fn search_matches_every_identifier() {
        let c = chlorine();
        for q in [
            "chlorine",
            "CHLOR",
            "7782-50-5",
            "1017",
            "UN1017",
            "un 1017",
            "液氯",
            "氯",
        ] {
            assert!(matches(&c, q), "{q}");
        }
        for q in ["101", "ammonia", "7782", "氨"] {
            let hit = matches(&c, q);
            // A CAS prefix is a substring and matches; a partial UN number does not.
            assert_eq!(hit, q == "7782", "{q}");
        }
    }
}
