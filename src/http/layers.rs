//! `/api/layers`: the catalogue as the map and clients see it, with live feature counts.

use super::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;

#[derive(Serialize)]
pub struct LayerInfo {
    pub id: String,
    pub title: String,
    pub title_en: String,
    pub group: String,
    pub geometry: &'static str,
    pub role: Option<&'static str>,
    pub access: crate::catalog::Access,
    pub count: usize,
    pub minzoom: u8,
    pub maxzoom: u8,
    pub label: Option<String>,
    pub fields: Vec<crate::catalog::FieldDef>,
    /// [west, south, east, north]; absent for an empty layer.
    pub extent: Option<[f64; 4]>,
}

#[derive(Serialize)]
pub struct LayersResponse {
    pub groups: Vec<crate::catalog::GroupDef>,
    pub layers: Vec<LayerInfo>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: super::auth::Caller,
) -> Json<LayersResponse> {
    let store = state.store.snapshot();
    let viewer = caller.viewer;
    let layers = store
        .layers()
        .iter()
        .filter(|layer| viewer.may_see(layer))
        .map(|layer| {
            let def = &layer.def;
            LayerInfo {
                id: def.id.clone(),
                title: def.title.clone(),
                title_en: def.title_en.clone(),
                group: def.group.clone(),
                geometry: def.geometry.as_str(),
                role: def.role.map(|r| r.as_str()),
                access: def.access,
                count: layer.len(),
                minzoom: def.minzoom,
                maxzoom: def.maxzoom,
                label: def.label.clone(),
                fields: def.fields.clone(),
                extent: layer
                    .extent()
                    .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]),
            }
        })
        .collect();
    Json(LayersResponse {
        groups: store.catalog.groups.clone(),
        layers,
    })
}
