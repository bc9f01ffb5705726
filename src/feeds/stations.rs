//! The stations readings may come from: every feature of a layer whose role some kind is
//! measured by (rain gauges, water-level stations, weather stations), with each station's own
//! thresholds resolved once per layer store. Station id = the layer's feature id, so the feed
//! and the map speak of the same things; a layer reload (SIGHUP) rebuilds the index.

use super::level::AlertLevel;
use super::thresholds::{FeedConfig, Levels};
use crate::catalog::Role;
use crate::spatial::{GeometryRef, LayerStore};
use geo::Coord;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Station {
    pub id: String,
    pub name: Option<String>,
    /// Layer id and role of the station's layer.
    pub layer: String,
    pub role: Role,
    pub point: Coord<f64>,
    /// Per kind (config order): the station's thresholds, `None` if it does not measure it.
    pub thresholds: Vec<Option<Levels>>,
}

impl Station {
    pub fn measures(&self, kind: usize) -> bool {
        self.thresholds.get(kind).is_some_and(Option::is_some)
    }

    pub fn levels(&self, kind: usize) -> Option<&Levels> {
        self.thresholds.get(kind).and_then(Option::as_ref)
    }
}

#[derive(Debug, Default)]
pub struct Stations {
    /// The layer store generation these stations were read from.
    pub generation: u64,
    by_id: HashMap<String, Station>,
    /// Station layers in catalogue order, for listings.
    pub layers: Vec<(String, Role)>,
    /// What could not be resolved (logged once per build).
    pub problems: Vec<String>,
}

impl Stations {
    pub fn build(store: &LayerStore, config: &FeedConfig) -> Stations {
        let mut roles: Vec<Role> = config
            .kinds
            .iter()
            .flat_map(|k| k.roles.iter().copied())
            .collect();
        roles.sort();
        roles.dedup();
        let mut out = Stations {
            generation: store.generation,
            ..Stations::default()
        };
        for layer in store.layers() {
            let Some(role) = layer.def.role.filter(|r| roles.contains(r)) else {
                continue;
            };
            out.layers.push((layer.def.id.clone(), role));
            for i in 0..layer.len() {
                let point = match layer.geometry(i) {
                    GeometryRef::Point(c) => c,
                    other => match other.bounding_rect() {
                        Some(r) => r.center(),
                        None => continue,
                    },
                };
                let id = layer.id(i).to_string();
                let thresholds = config
                    .kinds
                    .iter()
                    .enumerate()
                    .map(|(k, kind)| {
                        if !kind.measured_by(role) {
                            return None;
                        }
                        let mut levels = kind.absolute;
                        for level in AlertLevel::ALL {
                            let Some(rel) = &kind.relative[level.index()] else {
                                continue;
                            };
                            if let Some(base) = layer.property(i, &rel.field).and_then(|v| v.as_f64())
                            {
                                levels.0[level.index()] = Some(base + rel.offset);
                            }
                        }
                        for o in config.overrides.iter().filter(|o| o.kind == k && o.station == id) {
                            for level in AlertLevel::ALL {
                                if let Some(t) = o.levels.get(level) {
                                    levels.0[level.index()] = Some(t);
                                }
                            }
                        }
                        if let Err(why) = levels.check_increasing() {
                            out.problems.push(format!(
                                "station {id} ({}), {}: {why}; using the kind's absolute thresholds",
                                layer.def.id, kind.name
                            ));
                            levels = kind.absolute;
                        }
                        Some(levels)
                    })
                    .collect();
                if out.by_id.contains_key(&id) {
                    out.problems.push(format!(
                        "station id {id} appears in more than one station layer; {} ignored",
                        layer.def.id
                    ));
                    continue;
                }
                out.by_id.insert(
                    id.clone(),
                    Station {
                        name: layer.label(i).map(str::to_string),
                        id,
                        layer: layer.def.id.clone(),
                        role,
                        point,
                        thresholds,
                    },
                );
            }
        }
        for o in &config.overrides {
            if !out.by_id.contains_key(&o.station) {
                out.problems.push(format!(
                    "{}: override for unknown station {}",
                    config.file.display(),
                    o.station
                ));
            }
        }
        out
    }

    pub fn get(&self, id: &str) -> Option<&Station> {
        self.by_id.get(id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every station, ordered by layer then id (stable output for the API).
    pub fn sorted(&self) -> Vec<&Station> {
        let mut all: Vec<&Station> = self.by_id.values().collect();
        let layer_pos = |s: &Station| self.layers.iter().position(|(l, _)| *l == s.layer);
        all.sort_by(|a, b| {
            layer_pos(a)
                .cmp(&layer_pos(b))
                .then_with(|| a.id.cmp(&b.id))
        });
        all
    }
}
