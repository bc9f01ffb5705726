//! The district's hazardous-chemicals property table (`data/chemicals.toml`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chemical {
    /// ASCII id used by hazard-source records, e.g. `chlorine`.
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub cas: String,
    /// UN number, four digits; empty where the substance has none.
    pub un: String,
    /// UN dangerous-goods class, e.g. `2.3`.
    pub hazard_class: String,
    /// GB 18218-2018 critical quantity Q in tonnes.
    pub critical_quantity_t: f64,
    /// GB 18218-2018 correction factor β for this substance or its hazard category.
    pub beta: f64,
    /// Where `critical_quantity_t` and `beta` come from.
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChemicalsFile {
    pub chemical: Vec<Chemical>,
}
