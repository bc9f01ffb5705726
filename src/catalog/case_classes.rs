//! Case classes (案件分类): the four affairs classes, the CJ/T 214 component and event classes
//! and the centre's own emergency, public-order and livelihood classes. Each minor class says
//! which unit type handles it, at which level, and how long it may take per urgency.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which tier of the district handles a class: a district bureau or a town's own unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    District,
    Town,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::District => "district",
            Level::Town => "town",
        }
    }
}

/// Components (部件) are physical objects of the city; events (事件) are things that happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassKind {
    Component,
    Event,
}

/// 城市管理 / 应急处置 / 治安稳定 / 民生服务.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AffairsClass {
    pub code: String,
    pub name: String,
    pub name_en: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Urgency {
    /// `normal`, `urgent`, `critical`, … in increasing urgency.
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MajorClass {
    pub code: String,
    pub kind: ClassKind,
    pub name: String,
    pub name_en: String,
    pub affairs: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseClass {
    pub code: String,
    pub major: String,
    pub name: String,
    pub name_en: String,
    pub unit_type: String,
    pub level: Level,
    /// Handling time limit in hours for each urgency code.
    pub limits_h: BTreeMap<String, u32>,
    /// Whether citizens may report it (Open311 services list).
    #[serde(default)]
    pub public: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseClassesFile {
    pub affairs: Vec<AffairsClass>,
    pub urgency: Vec<Urgency>,
    pub major: Vec<MajorClass>,
    pub class: Vec<CaseClass>,
}
