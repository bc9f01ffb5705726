//! Routing: which handling unit is responsible for a case of a given class at a given point.
//!
//! The class gives the unit type and level (code table); the responsible unit is the unit of
//! that type and level whose jurisdiction holds the point — a jurisdiction is a list of area
//! codes (district or town), and it holds the point when one of them prefixes the point's cell
//! code. Where no unit's jurisdiction does, the nearest unit of the type is named instead, and
//! the answer says so.

use super::ServiceError;
use crate::catalog::{CaseClass, CodeTables, Level, Role};
use crate::spatial::{Layer, LayerStore, PropertyValue, distance::metres};
use geo::Coord;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The unit's jurisdiction holds the point.
    Jurisdiction,
    /// No jurisdiction holds it; this is the nearest unit of the type.
    Nearest,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Jurisdiction => "jurisdiction",
            Basis::Nearest => "nearest",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnitChoice {
    pub role: Role,
    /// Index into that role's layer.
    pub index: usize,
    pub distance_m: f64,
}

#[derive(Debug, Clone)]
pub struct Routing<'t> {
    pub class: &'t CaseClass,
    pub responsible: Option<(UnitChoice, Basis)>,
    /// The nearest units of the class's type and level, nearest first.
    pub nearest: Vec<UnitChoice>,
}

fn text<'a>(layer: &'a Layer, i: usize, field: &str) -> &'a str {
    match layer.property(i, field) {
        Some(PropertyValue::Text(s)) => s,
        _ => "",
    }
}

/// The units layer serving a level.
pub fn units_layer(store: &LayerStore, level: Level) -> Result<(&Layer, Role), ServiceError> {
    let role = match level {
        Level::District => Role::DistrictUnit,
        Level::Town => Role::TownUnit,
    };
    store
        .by_role(role)
        .map(|l| (l, role))
        .ok_or(ServiceError::MissingRole(role.as_str()))
}

/// Does a unit's jurisdiction (comma-separated area codes) hold the area `code`?
pub fn holds(jurisdiction: &str, code: &str) -> bool {
    jurisdiction
        .split(',')
        .map(str::trim)
        .any(|area| !area.is_empty() && code.starts_with(area))
}

pub fn route<'t>(
    store: &LayerStore,
    tables: &'t CodeTables,
    class_code: &str,
    p: Coord<f64>,
    cell_code: &str,
    nearest_k: usize,
) -> Result<Routing<'t>, ServiceError> {
    let class = tables
        .class(class_code)
        .ok_or_else(|| ServiceError::UnknownClass(class_code.to_string()))?;
    let (units, role) = units_layer(store, class.level)?;
    let unit_type = units
        .def
        .field_index("unit_type")
        .ok_or(ServiceError::MissingRole(role.as_str()))?;
    let mut of_type: Vec<UnitChoice> = units
        .column(unit_type)
        .matching(&class.unit_type)
        .into_iter()
        .map(|i| UnitChoice {
            role,
            index: i,
            distance_m: units
                .geometry(i)
                .to_geo_point()
                .map_or(f64::MAX, |c| metres(p, c)),
        })
        .collect();
    of_type.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then(a.index.cmp(&b.index))
    });
    let by_jurisdiction = of_type
        .iter()
        .find(|u| holds(text(units, u.index, "jurisdiction"), cell_code))
        .cloned()
        .map(|u| (u, Basis::Jurisdiction));
    let responsible =
        by_jurisdiction.or_else(|| of_type.first().cloned().map(|u| (u, Basis::Nearest)));
    of_type.truncate(nearest_k);
    Ok(Routing {
        class,
        responsible,
        nearest: of_type,
    })
}

/// Which level a unit code belongs to, if it is a handling unit at all.
pub fn unit_level(store: &LayerStore, code: &str) -> Option<Level> {
    for (role, level) in [
        (Role::DistrictUnit, Level::District),
        (Role::TownUnit, Level::Town),
    ] {
        if store.by_role(role).and_then(|l| l.find(code)).is_some() {
            return Some(level);
        }
    }
    None
}

/// The unit's display name, for Open311's `agency_responsible` and the web page.
pub fn unit_name(store: &LayerStore, code: &str) -> Option<String> {
    [Role::DistrictUnit, Role::TownUnit]
        .into_iter()
        .find_map(|role| {
            let layer = store.by_role(role)?;
            let i = layer.find(code)?;
            layer.label(i).map(str::to_string)
        })
}

#[cfg(test)]
mod tests {
    use super::holds;

    #[test]
    fn jurisdictions_are_area_code_prefixes() {
        assert!(holds("310120", "310120101005017"));
        assert!(holds("310120102, 310120101", "310120101005017"));
        assert!(!holds("310120102", "310120101005017"));
        assert!(!holds("", "310120101005017"));
    }
}
