//! What proposes an incident: a feed alert or a leak zone, given to this room as plain values
//! (the feeds and the leak-zone analysis sit beside or below it), matched against the plans'
//! triggers. A match is only ever a *proposal*; a duty officer confirms or dismisses it.
//!
//! Episodes: alerts propose one incident per plan at a time (`episode = "alert"`): while the
//! plan's alert incident is proposed or active, further alerts are added to its timeline and
//! context (a higher level raises a proposal, never an active incident); once it is closed or
//! dismissed the next alert proposes anew. A leak proposes one incident per plan per release
//! (`episode = "leak:{hazard source or point}:{chemical}"`).

use super::model::{Context, PlaceRef, Source};
use super::store::NewIncident;
use crate::catalog::{Exposed, LeakExposure, Plan, Plans, ResponseLevel, Role, Signal};
use crate::services::hazmat::Analysis;
use crate::spatial::{GeometryRef, LayerStore, PropertyValue};
use geo::Coord;
use serde_json::json;

/// A feed alert as raised (the feeds' `Alert`, reduced to what a trigger needs).
#[derive(Debug, Clone)]
pub struct AlertSignal {
    pub id: i64,
    pub station: String,
    pub station_name: Option<String>,
    pub kind: String,
    pub kind_title: Option<String>,
    pub signal: Signal,
    pub value: f64,
    pub unit: String,
    /// The reading's time.
    pub time: i64,
    pub lon: f64,
    pub lat: f64,
    /// Flood-prone points near the station (ids).
    pub flood_points: Vec<String>,
}

/// A leak zone as analysed (see [`leak_signal`]).
#[derive(Debug, Clone)]
pub struct LeakSignal {
    pub point: Coord<f64>,
    pub hazard_source: Option<String>,
    pub chemical: String,
    pub chemical_name: String,
    pub hazard_class: String,
    pub exposures: Vec<LeakExposure>,
    /// Protected targets in either zone.
    pub targets: Vec<PlaceRef>,
    /// Towns the zones touch (of the point, targets and villages).
    pub towns: Vec<String>,
    /// The zones as one GeoJSON geometry (a GeometryCollection of the two polygons).
    pub area: serde_json::Value,
}

/// One proposal to store.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub incident: NewIncident,
    /// The trigger's details for the timeline.
    pub data: serde_json::Value,
}

fn text<'a>(store: &'a LayerStore, role: Role, i: usize, field: &str) -> Option<&'a str> {
    store
        .by_role(role)?
        .property(i, field)
        .and_then(PropertyValue::as_text)
}

fn integer(store: &LayerStore, role: Role, i: usize, field: &str) -> Option<i64> {
    match store.by_role(role)?.property(i, field) {
        Some(PropertyValue::Integer(n)) => Some(n),
        _ => None,
    }
}

/// A point feature of `role` as a place.
pub fn place(store: &LayerStore, role: Role, id: &str) -> Option<PlaceRef> {
    let layer = store.by_role(role)?;
    let i = layer.find(id)?;
    let c = match layer.geometry(i) {
        GeometryRef::Point(c) => c,
        _ => return None,
    };
    Some(PlaceRef {
        id: id.to_string(),
        name: text(store, role, i, "name").map(str::to_string),
        lon: c.x,
        lat: c.y,
        town: text(store, role, i, "town_code").map(str::to_string),
        people: integer(store, role, i, "headcount"),
    })
}

fn pending(plan: &Plan, level: ResponseLevel, title: String) -> NewIncident {
    NewIncident {
        plan: plan.id.clone(),
        level,
        status: super::model::IncidentStatus::Proposed,
        title,
        source: Source::Alert,
        source_ref: None,
        episode: None,
        lon: 0.0,
        lat: 0.0,
        area: None,
        context: Context::default(),
    }
}

/// The proposals one alert makes: one per plan whose trigger it meets, at the plan's level.
pub fn from_alert(store: &LayerStore, plans: &Plans, alert: &AlertSignal) -> Vec<Proposal> {
    let matched = plans.for_alert(&alert.kind, alert.signal);
    if matched.is_empty() {
        return Vec::new();
    }
    let flood_points: Vec<PlaceRef> = alert
        .flood_points
        .iter()
        .filter_map(|id| place(store, Role::FloodPoint, id))
        .collect();
    let mut towns: Vec<String> = Vec::new();
    let station_town = super::generate::town_of(
        store,
        Coord {
            x: alert.lon,
            y: alert.lat,
        },
    );
    for t in station_town
        .into_iter()
        .chain(flood_points.iter().filter_map(|p| p.town.clone()))
    {
        if !towns.contains(&t) {
            towns.push(t);
        }
    }
    let context = Context {
        stations: vec![alert.station.clone()],
        flood_points,
        towns,
        ..Context::default()
    };
    let data = json!({
        "alert": alert.id,
        "station": alert.station,
        "station_name": alert.station_name,
        "kind": alert.kind,
        "kind_title": alert.kind_title,
        "signal": alert.signal.as_str(),
        "value": alert.value,
        "unit": alert.unit,
        "reading_time": alert.time,
    });
    matched
        .into_iter()
        .map(|(plan, level)| {
            let title = format!(
                "{}：{}{}{}预警",
                plan.name,
                alert.station_name.as_deref().unwrap_or(&alert.station),
                alert.kind_title.as_deref().unwrap_or(&alert.kind),
                signal_zh(alert.signal),
            );
            let mut incident = pending(plan, level, title);
            incident.source_ref = Some(alert.id.to_string());
            incident.episode = Some("alert".into());
            incident.lon = alert.lon;
            incident.lat = alert.lat;
            incident.context = context.clone();
            Proposal {
                incident,
                data: data.clone(),
            }
        })
        .collect()
}

fn signal_zh(s: Signal) -> &'static str {
    match s {
        Signal::Blue => "蓝色",
        Signal::Yellow => "黄色",
        Signal::Orange => "橙色",
        Signal::Red => "红色",
    }
}

/// What a leak-zone analysis found, as the plans' leak triggers and task lists read it.
pub fn leak_signal(store: &LayerStore, a: &Analysis<'_, '_>) -> LeakSignal {
    let mut exposures: Vec<LeakExposure> = a
        .groups
        .iter()
        .filter_map(|g| {
            let exposes = match g.role {
                Role::ProtectedTarget => Exposed::ProtectedTarget,
                Role::Village => Exposed::Village,
                Role::Shelter => Exposed::Shelter,
                Role::HazardSource => Exposed::HazardSource,
                _ => return None,
            };
            Some(LeakExposure {
                exposes,
                in_isolation: g.hits.iter().filter(|e| e.in_isolation).count(),
                in_protective: g.hits.iter().filter(|e| e.in_protective).count(),
                people: g.people.unwrap_or(0),
            })
        })
        .collect();
    if let Some(c) = &a.cells {
        exposures.push(LeakExposure {
            exposes: Exposed::GridCell,
            in_isolation: c.in_isolation,
            in_protective: c.in_protective,
            people: 0,
        });
    }
    let mut targets = Vec::new();
    let mut towns: Vec<String> = super::generate::town_of(store, a.point)
        .into_iter()
        .collect();
    for g in &a.groups {
        for e in &g.hits {
            let id = g.layer.id(e.index);
            let town = g
                .layer
                .property(e.index, "town_code")
                .and_then(PropertyValue::as_text)
                .map(str::to_string);
            if g.role == Role::ProtectedTarget {
                if let Some(p) = place(store, Role::ProtectedTarget, id) {
                    targets.push(p);
                }
            }
            if matches!(g.role, Role::ProtectedTarget | Role::Village) {
                if let Some(t) = town.filter(|t| !towns.contains(t)) {
                    towns.push(t);
                }
            }
        }
    }
    let mut polygons = vec![geojson::Geometry::new(geojson::Value::from(
        &a.zones.isolation,
    ))];
    if let Some(p) = &a.zones.protective {
        polygons.push(geojson::Geometry::new(geojson::Value::from(p)));
    }
    let area = serde_json::to_value(geojson::Geometry::new(geojson::Value::GeometryCollection(
        polygons,
    )))
    .unwrap_or(serde_json::Value::Null);
    LeakSignal {
        point: a.point,
        hazard_source: a.hazard_source.map(|(l, i)| l.id(i).to_string()),
        chemical: a.chemical.id.clone(),
        chemical_name: a.chemical.name.clone(),
        hazard_class: a.chemical.hazard_class.clone(),
        exposures,
        targets,
        towns,
        area,
    }
}

/// The proposals one leak zone makes.
pub fn from_leak(plans: &Plans, leak: &LeakSignal) -> Vec<Proposal> {
    let whence = match &leak.hazard_source {
        Some(id) => id.clone(),
        None => format!("{:.4},{:.4}", leak.point.x, leak.point.y),
    };
    let data = json!({
        "chemical": leak.chemical,
        "hazard_class": leak.hazard_class,
        "hazard_source": leak.hazard_source,
        "protected_targets": leak.targets.iter().map(|t| &t.id).collect::<Vec<_>>(),
        "people_in_targets": leak.targets.iter().filter_map(|t| t.people).sum::<i64>(),
    });
    plans
        .for_leak(&leak.hazard_class, &leak.exposures)
        .into_iter()
        .map(|(plan, level)| {
            let title = format!("{}：{}泄漏（{whence}）", plan.name, leak.chemical_name);
            let mut incident = pending(plan, level, title);
            incident.source = Source::LeakZone;
            incident.source_ref = Some(whence.clone());
            incident.episode = Some(format!("leak:{whence}:{}", leak.chemical));
            incident.lon = leak.point.x;
            incident.lat = leak.point.y;
            incident.area = Some(leak.area.clone());
            incident.context = Context {
                targets: leak.targets.clone(),
                towns: leak.towns.clone(),
                chemical: Some(leak.chemical.clone()),
                ..Context::default()
            };
            Proposal {
                incident,
                data: data.clone(),
            }
        })
        .collect()
}
