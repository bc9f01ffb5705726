//! The live case layer: one point per case, with its status and whether it is overdue, so the
//! map colours open, overdue and supervised cases at a glance.

use super::encode::{BUFFER, EXTENT};
use super::mercator::{TileId, TileTransform};
use crate::cases::service::CaseDot;
use geo::Coord;
use geozero::mvt::tile::{Feature, GeomType, Layer as MvtLayer, Value as MvtValue};
use geozero::mvt::{Message, Tile};

/// The case layer's name, in its tiles and in their URL (`/tiles/cases/{z}/{x}/{y}.mvt`).
pub const LAYER: &str = "cases";

const MOVE_TO_ONE: u32 = 1 | (1 << 3);

fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

fn text(s: &str) -> MvtValue {
    MvtValue {
        string_value: Some(s.to_string()),
        ..Default::default()
    }
}

/// Encodes the cases inside the tile (plus buffer); empty bytes when there are none.
pub fn encode(tile: TileId, dots: &[CaseDot], now: i64) -> super::Encoded {
    let transform = TileTransform::new(tile, EXTENT);
    let (lo, hi) = (-BUFFER, f64::from(EXTENT) + BUFFER);
    let keys = [
        "id",
        "status",
        "status_name",
        "class",
        "urgency",
        "overdue",
        "supervised",
        "unit",
    ];
    let mut values: Vec<MvtValue> = Vec::new();
    let mut index: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut tag = |key: &str, value: MvtValue, feature: &mut Feature| {
        let k = keys.iter().position(|k| *k == key).unwrap_or(0) as u32;
        let name = format!("{value:?}");
        let v = *index.entry(name).or_insert_with(|| {
            values.push(value);
            values.len() as u32 - 1
        });
        feature.tags.extend([k, v]);
    };
    let mut features = Vec::new();
    for dot in dots {
        let [x, y] = transform.project(Coord {
            x: dot.lon,
            y: dot.lat,
        });
        if !(lo..=hi).contains(&x) || !(lo..=hi).contains(&y) {
            continue;
        }
        let mut feature = Feature {
            id: Some(dot.id as u64),
            r#type: Some(GeomType::Point as i32),
            geometry: vec![
                MOVE_TO_ONE,
                zigzag(x.round() as i32),
                zigzag(y.round() as i32),
            ],
            ..Default::default()
        };
        tag(
            "id",
            MvtValue {
                int_value: Some(dot.id),
                ..Default::default()
            },
            &mut feature,
        );
        tag("status", text(dot.status.as_str()), &mut feature);
        tag("status_name", text(dot.status.name_zh()), &mut feature);
        tag("class", text(&dot.class), &mut feature);
        tag("urgency", text(&dot.urgency), &mut feature);
        let flag = |b: bool| MvtValue {
            bool_value: Some(b),
            ..Default::default()
        };
        tag("overdue", flag(dot.is_overdue(now)), &mut feature);
        tag("supervised", flag(dot.supervised), &mut feature);
        if let Some(unit) = &dot.unit {
            tag("unit", text(unit), &mut feature);
        }
        features.push(feature);
    }
    if features.is_empty() {
        return super::finish(Vec::new());
    }
    let tile = Tile {
        layers: vec![MvtLayer {
            version: 2,
            name: LAYER.to_string(),
            features,
            keys: keys.iter().map(|k| k.to_string()).collect(),
            values,
            extent: Some(EXTENT),
        }],
    };
    super::finish(tile.encode_to_vec())
}
