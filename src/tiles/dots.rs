//! A live point layer made on request from values kept in memory (the workers' newest fixes):
//! one point per dot with a few properties. The caller gathers the dots; this only encodes.

use super::encode::{BUFFER, EXTENT};
use super::mercator::{TileId, TileTransform};
use geo::Coord;
use geozero::mvt::tile::{Feature, GeomType, Layer as MvtLayer, Value as MvtValue};
use geozero::mvt::{Message, Tile};

const MOVE_TO_ONE: u32 = 1 | (1 << 3);

fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

/// One property value of a dot.
#[derive(Debug, Clone, PartialEq)]
pub enum DotValue {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// One point with its properties.
#[derive(Debug, Clone)]
pub struct Dot {
    pub lon: f64,
    pub lat: f64,
    pub properties: Vec<(&'static str, DotValue)>,
}

/// Encodes the dots inside the tile (plus buffer) as layer `name`; empty bytes when none.
pub fn encode(tile: TileId, name: &str, dots: &[Dot]) -> super::Encoded {
    let transform = TileTransform::new(tile, EXTENT);
    let (lo, hi) = (-BUFFER, f64::from(EXTENT) + BUFFER);
    let mut keys: Vec<String> = Vec::new();
    let mut values: Vec<MvtValue> = Vec::new();
    let mut value_index: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut features = Vec::new();
    for (n, dot) in dots.iter().enumerate() {
        let [x, y] = transform.project(Coord {
            x: dot.lon,
            y: dot.lat,
        });
        if !(lo..=hi).contains(&x) || !(lo..=hi).contains(&y) {
            continue;
        }
        let mut feature = Feature {
            id: Some(n as u64 + 1),
            r#type: Some(GeomType::Point as i32),
            geometry: vec![
                MOVE_TO_ONE,
                zigzag(x.round() as i32),
                zigzag(y.round() as i32),
            ],
            ..Default::default()
        };
        for (key, value) in &dot.properties {
            let k = match keys.iter().position(|k| k == key) {
                Some(k) => k,
                None => {
                    keys.push(key.to_string());
                    keys.len() - 1
                }
            } as u32;
            let mvt = match value {
                DotValue::Text(s) => MvtValue {
                    string_value: Some(s.clone()),
                    ..Default::default()
                },
                DotValue::Int(i) => MvtValue {
                    int_value: Some(*i),
                    ..Default::default()
                },
                DotValue::Bool(b) => MvtValue {
                    bool_value: Some(*b),
                    ..Default::default()
                },
            };
            let v = *value_index.entry(format!("{value:?}")).or_insert_with(|| {
                values.push(mvt);
                values.len() as u32 - 1
            });
            feature.tags.extend([k, v]);
        }
        features.push(feature);
    }
    if features.is_empty() {
        return super::finish(Vec::new());
    }
    let tile = Tile {
        layers: vec![MvtLayer {
            version: 2,
            name: name.to_string(),
            features,
            keys,
            values,
            extent: Some(EXTENT),
        }],
    };
    super::finish(tile.encode_to_vec())
}
