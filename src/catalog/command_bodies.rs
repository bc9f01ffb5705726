//! Command bodies (指挥机构): who commands each affairs class's cases — the district centre for
//! 城市管理, the emergency duty room, the police 110 command centre, the 12345 hotline platform.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    /// The node code a key is bound to (`urban`, `emergency`, `police_110`, `hotline_12345`).
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// The affairs class (case_classes.toml) whose cases it commands.
    pub affairs: String,
    /// This body is the district centre itself (its queue is the district centre's).
    #[serde(default)]
    pub district_centre: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommandBodiesFile {
    pub body: Vec<CommandBody>,
}
