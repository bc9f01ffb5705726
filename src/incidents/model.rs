//! Incidents (突发事件), their tasks and timeline as stored and shown.

use crate::catalog::{ResponseLevel, TaskKind};
use serde::{Deserialize, Serialize};

/// Where an incident stands. `proposed` waits for a duty officer (no plan activates itself);
/// `active` runs under its plan; `dismissed` and `closed` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Proposed,
    Active,
    Dismissed,
    Closed,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 4] = [
        IncidentStatus::Proposed,
        IncidentStatus::Active,
        IncidentStatus::Dismissed,
        IncidentStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Proposed => "proposed",
            IncidentStatus::Active => "active",
            IncidentStatus::Dismissed => "dismissed",
            IncidentStatus::Closed => "closed",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            IncidentStatus::Proposed => "待确认",
            IncidentStatus::Active => "响应中",
            IncidentStatus::Dismissed => "已排除",
            IncidentStatus::Closed => "已结束",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentStatus> {
        IncidentStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_open(self) -> bool {
        matches!(self, IncidentStatus::Proposed | IncidentStatus::Active)
    }
}

/// How an incident came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Opened by a duty officer at a point, an area or a hazard source.
    Manual,
    /// Escalated from a case.
    Case,
    /// Proposed by feed alerts whose plan trigger matched.
    Alert,
    /// Proposed by a leak zone whose plan trigger matched.
    LeakZone,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Manual => "manual",
            Source::Case => "case",
            Source::Alert => "alert",
            Source::LeakZone => "leak_zone",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        [
            Source::Manual,
            Source::Case,
            Source::Alert,
            Source::LeakZone,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A place a trigger found (a flood point near an alerting station, a protected target in a
/// leak zone, a safe shelter): what task generation turns into tasks, town by town.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub lon: f64,
    pub lat: f64,
    /// The town code the place lies in (its layer's `town_code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    /// People concerned (a protected target's headcount, a shelter's free places).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people: Option<i64>,
}

/// What the triggers of an incident found, kept with it so confirming it can generate the
/// plan's place-by-place tasks, and gathered as more triggers arrive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Alerting stations (ids), for flood incidents.
    #[serde(default)]
    pub stations: Vec<String>,
    /// Flood-prone points near the alerting stations.
    #[serde(default)]
    pub flood_points: Vec<PlaceRef>,
    /// Protected targets in a leak zone.
    #[serde(default)]
    pub targets: Vec<PlaceRef>,
    /// Towns the incident touches (codes), for `town_units` tasks.
    #[serde(default)]
    pub towns: Vec<String>,
    /// A chemical released, for leak incidents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chemical: Option<String>,
}

impl Context {
    /// Adds what `more` found that this context lacks (by id), keeping the first order.
    pub fn merge(&mut self, more: &Context) {
        fn add_ids(into: &mut Vec<String>, from: &[String]) {
            for s in from {
                if !into.contains(s) {
                    into.push(s.clone());
                }
            }
        }
        fn add_places(into: &mut Vec<PlaceRef>, from: &[PlaceRef]) {
            for p in from {
                if !into.iter().any(|q| q.id == p.id) {
                    into.push(p.clone());
                }
            }
        }
        add_ids(&mut self.stations, &more.stations);
        add_places(&mut self.flood_points, &more.flood_points);
        add_places(&mut self.targets, &more.targets);
        add_ids(&mut self.towns, &more.towns);
        if self.chemical.is_none() {
            self.chemical.clone_from(&more.chemical);
        }
    }
}

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: i64,
    pub plan: String,
    pub level: ResponseLevel,
    pub status: IncidentStatus,
    pub title: String,
    pub source: Source,
    pub source_ref: Option<String>,
    pub episode: Option<String>,
    pub lon: f64,
    pub lat: f64,
    /// GeoJSON geometry of the area (a leak's zones, a drawn polygon), if any.
    pub area: Option<serde_json::Value>,
    pub context: Context,
    pub opened_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub version: i64,
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Assigned,
    Acknowledged,
    Started,
    Done,
    Refused,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 5] = [
        TaskStatus::Assigned,
        TaskStatus::Acknowledged,
        TaskStatus::Started,
        TaskStatus::Done,
        TaskStatus::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Assigned => "assigned",
            TaskStatus::Acknowledged => "acknowledged",
            TaskStatus::Started => "started",
            TaskStatus::Done => "done",
            TaskStatus::Refused => "refused",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            TaskStatus::Assigned => "已下达",
            TaskStatus::Acknowledged => "已签收",
            TaskStatus::Started => "处置中",
            TaskStatus::Done => "已完成",
            TaskStatus::Refused => "已拒收",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Done or refused: nothing more happens to the task.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::Refused)
    }
}

/// Who a task is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Unit,
    Team,
    Depot,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Unit => "unit",
            TargetKind::Team => "team",
            TargetKind::Depot => "depot",
        }
    }

    pub fn parse(s: &str) -> Option<TargetKind> {
        [TargetKind::Unit, TargetKind::Team, TargetKind::Depot]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    pub id: i64,
    pub incident: i64,
    pub kind: TaskKind,
    pub title: String,
    pub target: TargetKind,
    /// The unit that carries it out (unit tasks).
    pub unit: Option<String>,
    /// The team type asked for (team tasks), and the team once assigned.
    pub team_kind: Option<String>,
    pub team: Option<String>,
    /// The supply item and quantity asked for (depot tasks), and the depot once drawn from.
    pub item: Option<String>,
    pub quantity: Option<i64>,
    pub depot: Option<String>,
    /// The place the task is about (flood point, shelter, protected target), and where it is.
    pub place: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub deadline: i64,
    pub status: TaskStatus,
    pub note: Option<String>,
    pub photo: Option<String>,
    pub reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl Task {
    /// Past its deadline and not finished.
    pub fn is_overdue(&self, now: i64) -> bool {
        !self.status.is_final() && now > self.deadline
    }
}

/// A task about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub kind: TaskKind,
    pub title: String,
    pub target: TargetKind,
    pub unit: Option<String>,
    pub team_kind: Option<String>,
    pub item: Option<String>,
    pub quantity: Option<i64>,
    pub place: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub deadline: i64,
}

/// One step of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub id: i64,
    pub at: i64,
    /// `proposed`, `trigger`, `opened`, `confirmed`, `dismissed`, `raised`, `lowered`,
    /// `closed`, `task_added`, `task_acknowledged`, … `team_assigned`, `stock_drawn`.
    pub kind: String,
    pub actor: String,
    pub role: String,
    pub level: Option<ResponseLevel>,
    pub task: Option<i64>,
    pub note: Option<String>,
    pub data: Option<serde_json::Value>,
}

/// A timeline step about to be stored.
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    pub kind: &'static str,
    pub level: Option<ResponseLevel>,
    pub task: Option<i64>,
    pub note: Option<String>,
    pub data: Option<serde_json::Value>,
}
