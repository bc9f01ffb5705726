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
    /// What the public may see of its cases (and whether citizens may report it at all).
    pub visibility: Visibility,
    /// For classes with a hazard to life: the emergency number to call before anything else
    /// (`119` fire and rescue, `110` police, `120` ambulance). The public page shows it first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
}

impl CaseClass {
    /// Citizens may report it (Open311 services, the public page): `public` and `private`.
    pub fn offered_to_public(&self) -> bool {
        self.visibility != Visibility::Staff
    }
}

/// What the public sees of a class's cases (FixMyStreet's rule: what is public is chosen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Citizens may report it; their reports are listed (Open311, the public page) in the
    /// public view once a dispatcher has seen them (coarse place, approved text only).
    Public,
    /// Citizens may report it and follow their own request by id + token, but it is never
    /// listed: public order, disputes, domestic matters, anything touching a person.
    Private,
    /// Never offered to the public: staff report and see it only.
    Staff,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
            Visibility::Staff => "staff",
        }
    }
}

/// The emergency numbers a class may tell people to call first.
pub const EMERGENCY_NUMBERS: [&str; 3] = ["110", "119", "120"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseClassesFile {
    pub affairs: Vec<AffairsClass>,
    pub urgency: Vec<Urgency>,
    pub major: Vec<MajorClass>,
    pub class: Vec<CaseClass>,
}
