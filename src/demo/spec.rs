//! The demo dataset's recipe (`data/demo_spec.toml`) and unit lists (`data/demo_units.toml`).

use crate::catalog::{CatalogError, parse_toml, read_text};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

pub const SPEC_FILE: &str = "demo_spec.toml";
pub const UNITS_FILE: &str = "demo_units.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub district: DistrictSpec,
    pub cells: CellSpec,
    pub population: PopulationSpec,
    pub town: Vec<TownSpec>,
    pub built_up: Vec<AreaSpec>,
    pub industrial_zone: Vec<ZoneSpec>,
    pub counts: BTreeMap<String, f64>,
    pub component_mix: BTreeMap<String, f64>,
    pub river: Vec<RiverSpec>,
    pub road: Vec<RoadSpec>,
    pub names: NameParts,
    #[serde(skip)]
    pub units: UnitsSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictSpec {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub outline: String,
    pub adcode: String,
    pub population: u64,
    pub migrant_population: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellSpec {
    pub block_m: f64,
    pub urban_split: u32,
    pub rural_split: u32,
    pub urban_threshold: f64,
    pub jitter: f64,
    pub beat_cells_urban: usize,
    pub beat_cells_rural: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSpec {
    pub rural_density: f64,
    pub urban_density: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TownSpec {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub kind: String,
    pub seat: [f64; 2],
    pub weight: f64,
    pub villages: usize,
    pub units: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaSpec {
    pub name: String,
    pub center: [f64; 2],
    pub radius_km: f64,
    pub peak: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    pub name: String,
    pub center: [f64; 2],
    pub radius_km: f64,
    pub chemical: bool,
    pub chemicals: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiverSpec {
    pub name: String,
    pub kind: String,
    pub width_m: f64,
    pub path: Vec<[f64; 2]>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoadSpec {
    pub name: String,
    pub class: String,
    pub lanes: i64,
    pub path: Vec<[f64; 2]>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameParts {
    pub surnames: Vec<String>,
    pub given: Vec<String>,
    pub place: Vec<String>,
    pub firm: Vec<String>,
    pub streets: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitsSpec {
    pub district_unit: Vec<DistrictUnitSpec>,
    pub town_unit: Vec<TownUnitSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictUnitSpec {
    pub name: String,
    pub short: String,
    pub unit_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TownUnitSpec {
    pub name: String,
    pub unit_type: String,
}

impl Spec {
    pub fn load(tables_dir: &Path) -> Result<Spec, CatalogError> {
        let path = tables_dir.join(SPEC_FILE);
        let mut spec: Spec = parse_toml(&path, &read_text(&path)?)?;
        let units_path = tables_dir.join(UNITS_FILE);
        spec.units = parse_toml(&units_path, &read_text(&units_path)?)?;
        for (i, town) in spec.town.iter().enumerate() {
            if town.units > spec.units.town_unit.len() {
                return Err(CatalogError::field(
                    &path,
                    format!("town[{i}].units"),
                    format!(
                        "{} wants {} units but {} has only {} templates",
                        town.name,
                        town.units,
                        units_path.display(),
                        spec.units.town_unit.len()
                    ),
                ));
            }
            if !town.code.starts_with(&spec.district.code) || town.code.len() != 9 {
                return Err(CatalogError::field(
                    &path,
                    format!("town[{i}].code"),
                    "a town code is the 6-digit district code plus 3 digits",
                ));
            }
        }
        Ok(spec)
    }

    /// The count of a point layer at the given scale (at least 1).
    pub fn count(&self, key: &str, scale: f64) -> usize {
        let base = self.counts.get(key).copied().unwrap_or(0.0);
        ((base * scale).round() as usize).max(1)
    }
}
