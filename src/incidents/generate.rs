//! The plan's task list turned into tasks when an incident is activated (or raised to a level
//! with more to do): one task per unit, per team asked for, per supply line, and — place by
//! place — per flood point near the alerting stations, per shelter to open and per protected
//! target in a leak zone, each for the unit of the plan's type in the place's town.

use super::model::{Incident, NewTask, PlaceRef, TargetKind};
use crate::catalog::{LevelDef, Role, TaskTarget, TaskTemplate};
use crate::services::nearest::{Query, nearest};
use crate::services::occupancy::Live;
use crate::services::routing::holds;
use crate::spatial::{LayerStore, PropertyValue};
use geo::{Contains, Coord};

const MINUTE: i64 = 60_000;

fn text<'a>(store: &'a LayerStore, role: Role, i: usize, field: &str) -> Option<&'a str> {
    store
        .by_role(role)?
        .property(i, field)
        .and_then(PropertyValue::as_text)
}

/// The town unit of `unit_type` whose jurisdiction holds town `town`.
pub fn town_unit(store: &LayerStore, unit_type: &str, town: &str) -> Option<String> {
    let units = store.by_role(Role::TownUnit)?;
    (0..units.len())
        .find(|&i| {
            text(store, Role::TownUnit, i, "unit_type") == Some(unit_type)
                && text(store, Role::TownUnit, i, "jurisdiction").is_some_and(|j| holds(j, town))
        })
        .map(|i| units.id(i).to_string())
}

/// The town code a point lies in (by the grid), if any.
pub fn town_of(store: &LayerStore, p: Coord<f64>) -> Option<String> {
    let grid = store.grid.as_ref()?;
    let at = crate::services::locate::locate(grid, p, 0.0)?;
    let towns = store.by_role(Role::Town)?;
    at.town.map(|t| towns.id(t as usize).to_string())
}

/// The polygons of an incident's area (a drawn polygon, a leak's zones), for "outside the
/// hazard zone".
pub fn area_polygons(incident: &Incident) -> Option<geo::MultiPolygon<f64>> {
    fn collect(g: geo::Geometry<f64>, out: &mut Vec<geo::Polygon<f64>>) {
        match g {
            geo::Geometry::Polygon(p) => out.push(p),
            geo::Geometry::MultiPolygon(m) => out.extend(m.0),
            geo::Geometry::GeometryCollection(c) => c.0.into_iter().for_each(|g| collect(g, out)),
            _ => {}
        }
    }
    let value = incident.area.as_ref()?;
    let gj: geojson::Geometry = serde_json::from_value(value.clone()).ok()?;
    let mut polygons = Vec::new();
    collect(geo::Geometry::<f64>::try_from(gj).ok()?, &mut polygons);
    Some(geo::MultiPolygon(polygons))
}

/// The incident's towns: those its triggers found, else the town of its point.
fn towns(store: &LayerStore, incident: &Incident) -> Vec<String> {
    if !incident.context.towns.is_empty() {
        return incident.context.towns.clone();
    }
    town_of(
        store,
        Coord {
            x: incident.lon,
            y: incident.lat,
        },
    )
    .into_iter()
    .collect()
}

fn place_task(
    template: &TaskTemplate,
    store: &LayerStore,
    unit_type: &str,
    place: &PlaceRef,
    deadline: i64,
) -> Option<NewTask> {
    let town = place.town.as_deref()?;
    let unit = town_unit(store, unit_type, town)?;
    Some(NewTask {
        kind: template.kind,
        title: match &place.name {
            Some(name) => format!("{}：{name}", template.title),
            None => format!("{}：{}", template.title, place.id),
        },
        target: TargetKind::Unit,
        unit: Some(unit),
        team_kind: None,
        item: None,
        quantity: None,
        place: Some(place.id.clone()),
        lon: Some(place.lon),
        lat: Some(place.lat),
        deadline,
    })
}

/// The shelters a task list opens: the `count` nearest open shelters with room to the
/// incident's point, outside its area.
fn shelters(store: &LayerStore, live: &Live, incident: &Incident, count: u32) -> Vec<PlaceRef> {
    let Some(layer) = store.by_role(Role::Shelter) else {
        return Vec::new();
    };
    let area = area_polygons(incident);
    let p = Coord {
        x: incident.lon,
        y: incident.lat,
    };
    let query = Query {
        k: (count as usize) * 4 + 8,
        people: Some(1),
        ..Query::default()
    };
    nearest(layer, p, &query, live)
        .into_iter()
        .filter(|&(i, _)| live.view(layer, i).is_some_and(|v| v.accepting()))
        .filter_map(|(i, _)| {
            let crate::spatial::GeometryRef::Point(c) = layer.geometry(i) else {
                return None;
            };
            if area.as_ref().is_some_and(|a| a.contains(&geo::Point(c))) {
                return None;
            }
            Some(PlaceRef {
                id: layer.id(i).to_string(),
                name: text(store, Role::Shelter, i, "name").map(str::to_string),
                lon: c.x,
                lat: c.y,
                town: text(store, Role::Shelter, i, "town_code").map(str::to_string),
                people: live.free_places(layer, i),
            })
        })
        .take(count as usize)
        .collect()
}

/// The tasks of `level` for `incident`, due from `at`.
pub fn tasks_for(
    store: &LayerStore,
    live: &Live,
    incident: &Incident,
    level: &LevelDef,
    at: i64,
) -> Vec<NewTask> {
    let mut out = Vec::new();
    for template in &level.tasks {
        let deadline = at + i64::from(template.deadline_min) * MINUTE;
        let base = |target: TargetKind| NewTask {
            kind: template.kind,
            title: template.title.clone(),
            target,
            unit: None,
            team_kind: None,
            item: None,
            quantity: None,
            place: None,
            lon: None,
            lat: None,
            deadline,
        };
        match &template.target {
            TaskTarget::Unit { unit } => out.push(NewTask {
                unit: Some(unit.clone()),
                ..base(TargetKind::Unit)
            }),
            TaskTarget::TownUnits { unit_type } => {
                for town in towns(store, incident) {
                    if let Some(unit) = town_unit(store, unit_type, &town) {
                        out.push(NewTask {
                            unit: Some(unit),
                            ..base(TargetKind::Unit)
                        });
                    }
                }
            }
            TaskTarget::Team { team, count } => {
                for n in 1..=*count {
                    out.push(NewTask {
                        title: if *count > 1 {
                            format!("{} ({n}/{count})", template.title)
                        } else {
                            template.title.clone()
                        },
                        team_kind: Some(team.clone()),
                        ..base(TargetKind::Team)
                    });
                }
            }
            TaskTarget::Depot { item, quantity } => out.push(NewTask {
                item: Some(item.clone()),
                quantity: Some(i64::from(*quantity)),
                ..base(TargetKind::Depot)
            }),
            TaskTarget::FloodPoints { unit_type } => {
                for place in &incident.context.flood_points {
                    out.extend(place_task(template, store, unit_type, place, deadline));
                }
            }
            TaskTarget::ProtectedTargets { unit_type } => {
                for place in &incident.context.targets {
                    out.extend(place_task(template, store, unit_type, place, deadline));
                }
            }
            TaskTarget::Shelters { count, unit_type } => {
                for place in shelters(store, live, incident, *count) {
                    out.extend(place_task(template, store, unit_type, &place, deadline));
                }
            }
        }
    }
    out
}
