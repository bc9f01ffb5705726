//! Emergency teams and depot stock as live resources: a team's status (standby → assigned →
//! on scene → returning → standby) and each depot's stock lines, held in the database and, for
//! the nearest-available queries, in memory as one snapshot swapped whole after each change.
//!
//! The register is the map: the teams layer (type in `kind`, headcount in `members`, vehicles,
//! and `equipment` as "抽水泵 6; 冲锋舟 2" by the plans' `[[equipment]]` names) and the depots layer, whose `supplies` text ("沙袋 12300; 救生衣 150; …") seeds the stock
//! lines the first time a server meets a depot. Items the text does not name get no line,
//! except absorbent (吸附材料), which the demo depots' text leaves out but the hazardous-
//! chemicals plan asks for: every depot gets a deterministic amount (see data/README.md).

use crate::catalog::{Plans, Role};
use crate::spatial::index::metres_to;
use crate::spatial::{Layer, LayerStore, PropertyValue};
use geo::Coord;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// A team's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamStatus {
    Standby,
    Assigned,
    OnScene,
    Returning,
}

impl TeamStatus {
    pub const ALL: [TeamStatus; 4] = [
        TeamStatus::Standby,
        TeamStatus::Assigned,
        TeamStatus::OnScene,
        TeamStatus::Returning,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TeamStatus::Standby => "standby",
            TeamStatus::Assigned => "assigned",
            TeamStatus::OnScene => "on_scene",
            TeamStatus::Returning => "returning",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            TeamStatus::Standby => "待命",
            TeamStatus::Assigned => "已调派",
            TeamStatus::OnScene => "在现场",
            TeamStatus::Returning => "返回中",
        }
    }

    pub fn parse(s: &str) -> Option<TeamStatus> {
        TeamStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One team's live state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamState {
    pub status: TeamStatus,
    pub task: Option<i64>,
    pub incident: Option<i64>,
    pub updated_at: i64,
}

/// Every team's state and every stock line, as one consistent snapshot.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    pub teams: HashMap<String, TeamState>,
    /// Depot → item → quantity.
    pub stock: HashMap<String, BTreeMap<String, i64>>,
}

impl Resources {
    /// A team's status; a team the database has not met yet stands by.
    pub fn team_status(&self, team: &str) -> TeamStatus {
        self.teams
            .get(team)
            .map_or(TeamStatus::Standby, |t| t.status)
    }

    pub fn quantity(&self, depot: &str, item: &str) -> i64 {
        self.stock
            .get(depot)
            .and_then(|s| s.get(item))
            .copied()
            .unwrap_or(0)
    }
}

fn text<'a>(layer: &'a Layer, i: usize, field: &str) -> Option<&'a str> {
    layer.property(i, field).and_then(PropertyValue::as_text)
}

/// The stock lines a depot's `supplies` text names, as (item id, quantity), plus absorbent.
pub fn stock_lines(plans: &Plans, depot: &str, supplies: Option<&str>) -> Vec<(String, i64)> {
    let mut lines: Vec<(String, i64)> = Vec::new();
    for (name, n) in counted(supplies.unwrap_or("")) {
        let Some(item) = plans.supplies.iter().find(|s| s.name == name) else {
            continue;
        };
        if n >= 0 && !lines.iter().any(|(i, _)| *i == item.id) {
            lines.push((item.id.clone(), n));
        }
    }
    if plans.supply(ABSORBENT).is_some() && !lines.iter().any(|(i, _)| i == ABSORBENT) {
        lines.push((ABSORBENT.to_string(), absorbent_kg(depot)));
    }
    lines
}

const ABSORBENT: &str = "absorbent";

/// 300–1,100 kg by a hash of the depot code: deterministic, invented.
fn absorbent_kg(depot: &str) -> i64 {
    let h = depot.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    300 + i64::from(h % 9) * 100
}

/// What the database is seeded with: every team of the teams layer and every depot's lines.
pub struct Seed {
    pub teams: Vec<String>,
    pub stock: Vec<(String, String, i64)>,
}

pub fn seed(store: &LayerStore, plans: &Plans) -> Seed {
    let teams = store
        .by_role(Role::Team)
        .map(|l| (0..l.len()).map(|i| l.id(i).to_string()).collect())
        .unwrap_or_default();
    let mut stock = Vec::new();
    if let Some(depots) = store.by_role(Role::SupplyDepot) {
        for i in 0..depots.len() {
            let id = depots.id(i);
            for (item, n) in stock_lines(plans, id, text(depots, i, "supplies")) {
                stock.push((id.to_string(), item, n));
            }
        }
    }
    Seed { teams, stock }
}

/// Pairs `name count` of a register text (`抽水泵 6; 冲锋舟 2`, the format of a depot's
/// `supplies` and a team's `equipment`), in order; a pair without a whole count is skipped.
fn counted(text: &str) -> impl Iterator<Item = (&str, i64)> {
    text.split([';', '；']).filter_map(|part| {
        let mut words = part.split_whitespace();
        let name = words.next()?;
        let count = words.next()?.parse::<i64>().ok()?;
        Some((name, count))
    })
}

/// Whether the team at `i` carries at least one of each of `names` (equipment names).
pub fn carries(layer: &Layer, i: usize, names: &[&str]) -> bool {
    if names.is_empty() {
        return true;
    }
    let text = text(layer, i, "equipment").unwrap_or("");
    names
        .iter()
        .all(|want| counted(text).any(|(name, n)| name == *want && n > 0))
}

/// One piece of a team's equipment, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Equipment {
    pub id: String,
    pub name: String,
    pub count: i64,
    pub unit: String,
}

/// A team's equipment by the plans' `[[equipment]]` list (names it does not know are left out:
/// the catalogue is the vocabulary searches use).
pub fn equipment_of(layer: &Layer, i: usize, plans: &Plans) -> Vec<Equipment> {
    counted(text(layer, i, "equipment").unwrap_or(""))
        .filter(|(_, n)| *n > 0)
        .filter_map(|(name, count)| {
            let item = plans.equipment.iter().find(|e| e.name == name)?;
            Some(Equipment {
                id: item.id.clone(),
                name: item.name.clone(),
                count,
                unit: item.unit.clone(),
            })
        })
        .collect()
}

/// A team of the layer, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TeamView {
    pub id: String,
    pub name: Option<String>,
    /// The layer's `kind` (e.g. 防汛抢险) and the plans' team-type id for it.
    pub kind: Option<String>,
    pub kind_id: Option<String>,
    pub headcount: Option<i64>,
    /// What the register says the team brings: its vehicles and its equipment.
    pub vehicles: Option<i64>,
    pub equipment: Vec<Equipment>,
    pub status: TeamStatus,
    pub task: Option<i64>,
    pub incident: Option<i64>,
    pub lon: f64,
    pub lat: f64,
    pub distance_m: Option<f64>,
}

fn integer(layer: &Layer, i: usize, field: &str) -> Option<i64> {
    match layer.property(i, field) {
        Some(PropertyValue::Integer(n)) => Some(n),
        _ => None,
    }
}

fn point_of(layer: &Layer, i: usize) -> Coord<f64> {
    match layer.geometry(i) {
        crate::spatial::GeometryRef::Point(c) => c,
        other => {
            use geo::Centroid;
            other
                .to_geo()
                .centroid()
                .map_or(Coord { x: 0.0, y: 0.0 }, |p| p.0)
        }
    }
}

pub fn team_view(
    layer: &Layer,
    i: usize,
    plans: &Plans,
    live: &Resources,
    distance_m: Option<f64>,
) -> TeamView {
    let id = layer.id(i);
    let kind = text(layer, i, "kind");
    let state = live.teams.get(id);
    let p = point_of(layer, i);
    TeamView {
        id: id.to_string(),
        name: text(layer, i, "name").map(str::to_string),
        kind: kind.map(str::to_string),
        kind_id: kind.and_then(|k| {
            plans
                .team_kinds
                .iter()
                .find(|t| t.kind == k)
                .map(|t| t.id.clone())
        }),
        headcount: integer(layer, i, "members"),
        vehicles: integer(layer, i, "vehicles"),
        equipment: equipment_of(layer, i, plans),
        status: state.map_or(TeamStatus::Standby, |s| s.status),
        task: state.and_then(|s| s.task),
        incident: state.and_then(|s| s.incident),
        lon: p.x,
        lat: p.y,
        distance_m: distance_m.map(crate::spatial::distance::round_m),
    }
}

/// What a search for teams asks beyond nearness.
#[derive(Debug, Clone, Copy, Default)]
pub struct TeamFilter<'a> {
    /// The layer's `kind` (any when `None`).
    pub kind: Option<&'a str>,
    /// Standing by now.
    pub available: bool,
    /// Carrying at least one of each (equipment names).
    pub equipment: &'a [&'a str],
}

impl TeamFilter<'_> {
    pub fn admits(&self, layer: &Layer, live: &Resources, i: usize) -> bool {
        self.kind.is_none_or(|k| text(layer, i, "kind") == Some(k))
            && (!self.available || live.team_status(layer.id(i)) == TeamStatus::Standby)
            && carries(layer, i, self.equipment)
    }
}

/// The `k` nearest teams to `p` that `filter` admits: (feature, metres), nearest first. Walks
/// the layer's R-tree outwards, so the answer costs microseconds however many teams are busy.
pub fn nearest_teams(
    layer: &Layer,
    live: &Resources,
    p: Coord<f64>,
    filter: &TeamFilter<'_>,
    k: usize,
) -> Vec<(usize, f64)> {
    let mut out = Vec::with_capacity(k);
    if k == 0 {
        return out;
    }
    let mut candidates: Vec<(usize, f64)> = Vec::new();
    for (i, lower_bound) in layer.index().by_distance(p) {
        if candidates.len() >= k && lower_bound > candidates[k - 1].1 {
            break;
        }
        let i = i as usize;
        if !filter.admits(layer, live, i) {
            continue;
        }
        let d = metres_to(p, layer.geometry(i));
        let at = candidates.partition_point(|&(j, e)| e < d || (e == d && j < i));
        candidates.insert(at, (i, d));
    }
    out.extend(candidates.into_iter().take(k));
    out
}

/// A depot with its stock, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DepotView {
    pub id: String,
    pub name: Option<String>,
    pub stock: BTreeMap<String, i64>,
    pub lon: f64,
    pub lat: f64,
    pub distance_m: Option<f64>,
}

pub fn depot_view(layer: &Layer, i: usize, live: &Resources, distance_m: Option<f64>) -> DepotView {
    let id = layer.id(i);
    let p = point_of(layer, i);
    DepotView {
        id: id.to_string(),
        name: text(layer, i, "name").map(str::to_string),
        stock: live.stock.get(id).cloned().unwrap_or_default(),
        lon: p.x,
        lat: p.y,
        distance_m: distance_m.map(crate::spatial::distance::round_m),
    }
}

/// The `k` nearest depots to `p` holding at least `min` of `item` now, nearest first.
pub fn depots_holding(
    layer: &Layer,
    live: &Resources,
    p: Coord<f64>,
    item: &str,
    min: i64,
    k: usize,
) -> Vec<(usize, f64)> {
    let mut candidates: Vec<(usize, f64)> = Vec::new();
    if k == 0 {
        return candidates;
    }
    for (i, lower_bound) in layer.index().by_distance(p) {
        if candidates.len() >= k && lower_bound > candidates[k - 1].1 {
            break;
        }
        let i = i as usize;
        if live.quantity(layer.id(i), item) < min.max(1) {
            continue;
        }
        let d = metres_to(p, layer.geometry(i));
        let at = candidates.partition_point(|&(j, e)| e < d || (e == d && j < i));
        candidates.insert(at, (i, d));
    }
    candidates.truncate(k);
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_depots_supplies_text_becomes_stock_lines_by_item_name() {
        let plans = crate::catalog::CodeTables::load(std::path::Path::new("data"))
            .expect("tables")
            .plans;
        let lines = stock_lines(
            &plans,
            "WZ001",
            Some("沙袋 12300; 救生衣 150; 不认识 5; 抽水泵 x; 帐篷 40"),
        );
        let get = |id: &str| lines.iter().find(|(i, _)| i == id).map(|(_, n)| *n);
        assert_eq!(get("sandbag"), Some(12300));
        assert_eq!(get("life_jacket"), Some(150));
        assert_eq!(get("tent"), Some(40));
        assert_eq!(get("pump"), None, "an unreadable count is no line");
        let kg = get("absorbent").expect("absorbent for every depot");
        assert!((300..=1100).contains(&kg) && kg % 100 == 0);
        assert_eq!(stock_lines(&plans, "WZ001", None).len(), 1);
    }

    #[test]
    fn register_texts_read_as_name_count_pairs() {
        let parsed: Vec<(&str, i64)> = counted("抽水泵 6; 冲锋舟 x；救生衣 40").collect();
        assert_eq!(parsed, vec![("抽水泵", 6), ("救生衣", 40)]);
    }
}
