//! The layer groups of the map's layer panel (`data/layer_groups.toml`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDef {
    pub id: String,
    pub title: String,
    pub title_en: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupsFile {
    pub group: Vec<GroupDef>,
}
