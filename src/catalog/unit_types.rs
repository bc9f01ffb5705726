//! Handling-unit types (处置单位类型): what kind of body handles a class of case.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitType {
    /// Short ASCII code used in case classes and unit records, e.g. `chengguan`.
    pub code: String,
    pub name: String,
    pub name_en: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnitTypesFile {
    pub unit_type: Vec<UnitType>,
}
