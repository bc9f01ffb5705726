//! The worker registry: who may send positions, and what they belong to. It is derived from
//! the layers, the same way on every server and every start: each supervisor beat (责任网格)
//! has `inspectors_per_beat` inspectors (监督员; the first full-time 专职, named after the
//! beat's `supervisor` field, the others part-time 兼职), and each emergency team has one
//! vehicle per its `vehicles` field (at least one). The demo layers are invented, so these
//! workers are too (data/README.md says so); a real deployment would read its roster here.

use crate::catalog::Role;
use crate::spatial::{LayerStore, PropertyValue};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// What a worker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerType {
    /// A grid inspector on foot or bicycle, bound to one beat.
    Inspector,
    /// A vehicle of an emergency team.
    Vehicle,
}

impl WorkerType {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerType::Inspector => "inspector",
            WorkerType::Vehicle => "vehicle",
        }
    }

    pub fn parse(s: &str) -> Option<WorkerType> {
        match s {
            "inspector" => Some(WorkerType::Inspector),
            "vehicle" | "team" => Some(WorkerType::Vehicle),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Worker {
    pub id: Arc<str>,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: WorkerType,
    /// Full-time (专职) or part-time (兼职) inspector; vehicles are full-time.
    pub full_time: bool,
    /// The beat (责任网格) an inspector patrols.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beat: Option<String>,
    /// The team a vehicle belongs to, and the team's kind (fire, medical, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
}

/// The registry of one layer store.
#[derive(Debug, Default)]
pub struct Workers {
    pub list: Vec<Worker>,
    by_id: HashMap<Arc<str>, usize>,
    /// Beat id → its inspectors (indexes into `list`).
    by_beat: HashMap<String, Vec<usize>>,
    pub generation: u64,
}

fn text(store: &LayerStore, role: Role, i: usize, field: &str) -> Option<String> {
    store
        .by_role(role)?
        .property(i, field)
        .and_then(PropertyValue::as_text)
        .map(str::to_string)
}

impl Workers {
    pub fn build(store: &LayerStore, inspectors_per_beat: usize) -> Workers {
        let mut list = Vec::new();
        if let Some(beats) = store.by_role(Role::Beat) {
            for i in 0..beats.len() {
                let beat = beats.id(i);
                let supervisor = text(store, Role::Beat, i, "supervisor");
                for n in 1..=inspectors_per_beat {
                    let full_time = n == 1;
                    list.push(Worker {
                        id: format!("{beat}-{n}").into(),
                        name: match (&supervisor, full_time) {
                            (Some(s), true) => s.clone(),
                            _ => format!("{beat} 兼职监督员{}", n - 1),
                        },
                        kind: WorkerType::Inspector,
                        full_time,
                        beat: Some(beat.to_string()),
                        team: None,
                        team_kind: None,
                        town: text(store, Role::Beat, i, "town_code"),
                    });
                }
            }
        }
        if let Some(teams) = store.by_role(Role::Team) {
            for i in 0..teams.len() {
                let team = teams.id(i);
                let vehicles = teams
                    .property(i, "vehicles")
                    .and_then(PropertyValue::as_f64)
                    .map_or(1, |v| (v as usize).max(1));
                let name = teams.label(i).unwrap_or(team).to_string();
                for n in 1..=vehicles {
                    list.push(Worker {
                        id: format!("{team}-V{n}").into(),
                        name: format!("{name} {n}号车"),
                        kind: WorkerType::Vehicle,
                        full_time: true,
                        beat: None,
                        team: Some(team.to_string()),
                        team_kind: text(store, Role::Team, i, "kind"),
                        town: text(store, Role::Team, i, "town_code"),
                    });
                }
            }
        }
        let by_id = list
            .iter()
            .enumerate()
            .map(|(i, w)| (w.id.clone(), i))
            .collect();
        let mut by_beat: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, w) in list.iter().enumerate() {
            if let Some(b) = &w.beat {
                by_beat.entry(b.clone()).or_default().push(i);
            }
        }
        Workers {
            list,
            by_id,
            by_beat,
            generation: store.generation,
        }
    }

    pub fn get(&self, id: &str) -> Option<&Worker> {
        self.by_id.get(id).map(|&i| &self.list[i])
    }

    /// The inspectors of a beat.
    pub fn of_beat(&self, beat: &str) -> impl Iterator<Item = &Worker> {
        self.by_beat
            .get(beat)
            .into_iter()
            .flatten()
            .map(|&i| &self.list[i])
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}
