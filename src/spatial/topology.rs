//! The grid's topology check (`gridlink check`): every cell inside exactly one village whose
//! code prefixes the cell's, every village inside exactly one town likewise, codes unique, and
//! no area lost or counted twice between a parent and its children.

use super::geometry::GeometryRef;
use super::layer::Layer;
use super::store::LayerStore;
use crate::catalog::Role;
use geo::{Area, Contains, InteriorPoint, MultiPolygon, Point};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};

/// How far the children's total area may differ from the parent's (relative). Cells tile
/// their village exactly, so only float rounding of the area sums remains.
pub const AREA_TOLERANCE: f64 = 1e-9;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TopologyReport {
    pub cells: usize,
    pub villages: usize,
    pub towns: usize,
    /// Each failed rule with an example, at most a few per rule.
    pub problems: Vec<String>,
    /// Number of violations per rule (0 when it holds).
    pub violations: Vec<(String, usize)>,
}

impl TopologyReport {
    pub fn passed(&self) -> bool {
        self.violations.iter().all(|(_, n)| *n == 0)
    }
}

fn polygons(layer: &Layer, i: usize) -> Option<&MultiPolygon<f64>> {
    match layer.geometry(i) {
        GeometryRef::Polygons(m) => Some(m),
        _ => None,
    }
}

/// The parents (indexes into `parent`) whose polygon contains `point`.
fn containing(parent: &Layer, point: Point<f64>) -> Vec<usize> {
    parent
        .index()
        .at_point(point.0)
        .into_iter()
        .map(|i| i as usize)
        .filter(|&i| polygons(parent, i).is_some_and(|m| m.contains(&point)))
        .collect()
}

struct Nesting {
    /// Per child: the parent it lies in, when exactly one.
    parent_of: Vec<Option<usize>>,
    not_in_one: Vec<String>,
    wrong_prefix: Vec<String>,
}

fn nest(child: &Layer, parent: &Layer) -> Nesting {
    let results: Vec<(Option<usize>, Option<String>, Option<String>)> = (0..child.len())
        .into_par_iter()
        .map(|i| {
            let id = child.id(i);
            let Some(point) = polygons(child, i).and_then(|m| m.interior_point()) else {
                return (
                    None,
                    Some(format!("{} {id} has no interior point", child.def.id)),
                    None,
                );
            };
            let found = containing(parent, point);
            if found.len() != 1 {
                return (
                    None,
                    Some(format!(
                        "{} {id} lies in {} {} features (expected 1)",
                        child.def.id,
                        found.len(),
                        parent.def.id
                    )),
                    None,
                );
            }
            let p = found[0];
            let prefix = (!id.starts_with(parent.id(p))).then(|| {
                format!(
                    "{} {id} lies in {} {} but its code does not start with it",
                    child.def.id,
                    parent.def.id,
                    parent.id(p)
                )
            });
            (Some(p), None, prefix)
        })
        .collect();
    let mut nesting = Nesting {
        parent_of: Vec::with_capacity(results.len()),
        not_in_one: Vec::new(),
        wrong_prefix: Vec::new(),
    };
    for (p, a, b) in results {
        nesting.parent_of.push(p);
        nesting.not_in_one.extend(a);
        nesting.wrong_prefix.extend(b);
    }
    nesting
}

/// Parents whose area differs from the sum of their children's.
fn area_mismatches(child: &Layer, parent: &Layer, parent_of: &[Option<usize>]) -> Vec<String> {
    let mut sums: HashMap<usize, f64> = HashMap::new();
    for (i, p) in parent_of.iter().enumerate() {
        if let (Some(p), Some(m)) = (p, polygons(child, i)) {
            *sums.entry(*p).or_insert(0.0) += m.unsigned_area();
        }
    }
    (0..parent.len())
        .filter_map(|p| {
            let area = polygons(parent, p)
                .map(|m| m.unsigned_area())
                .unwrap_or(0.0);
            let sum = sums.get(&p).copied().unwrap_or(0.0);
            let relative = (sum - area).abs() / area.max(f64::MIN_POSITIVE);
            (relative > AREA_TOLERANCE).then(|| {
                format!(
                    "{} {}: its {} cover {:.6}% of its area",
                    parent.def.id,
                    parent.id(p),
                    child.def.id,
                    100.0 * sum / area.max(f64::MIN_POSITIVE)
                )
            })
        })
        .collect()
}

fn duplicates(layer: &Layer) -> Vec<String> {
    let mut seen = HashSet::new();
    (0..layer.len())
        .filter(|&i| !seen.insert(layer.id(i)))
        .map(|i| format!("{} code {} appears twice", layer.def.id, layer.id(i)))
        .collect()
}

/// Runs every rule over the layers playing the grid-cell, village and town roles.
pub fn check(store: &LayerStore) -> Result<TopologyReport, String> {
    let find = |role: Role| {
        store
            .by_role(role)
            .ok_or_else(|| format!("no layer plays the role {}", role.as_str()))
    };
    let (cells, villages, towns) = (
        find(Role::GridCell)?,
        find(Role::Village)?,
        find(Role::Town)?,
    );
    let mut report = TopologyReport {
        cells: cells.len(),
        villages: villages.len(),
        towns: towns.len(),
        ..Default::default()
    };
    let mut rule = |name: String, found: Vec<String>| {
        report.violations.push((name, found.len()));
        report.problems.extend(found.into_iter().take(5));
    };
    rule(format!("{} codes unique", cells.def.id), duplicates(cells));
    rule(
        format!("{} codes unique", villages.def.id),
        duplicates(villages),
    );
    let cell_nesting = nest(cells, villages);
    let village_nesting = nest(villages, towns);
    rule(
        format!("every {} in exactly one {}", cells.def.id, villages.def.id),
        cell_nesting.not_in_one,
    );
    rule(
        format!(
            "{} code starts with its {} code",
            cells.def.id, villages.def.id
        ),
        cell_nesting.wrong_prefix,
    );
    rule(
        format!("every {} in exactly one {}", villages.def.id, towns.def.id),
        village_nesting.not_in_one,
    );
    rule(
        format!(
            "{} code starts with its {} code",
            villages.def.id, towns.def.id
        ),
        village_nesting.wrong_prefix,
    );
    rule(
        format!(
            "{} tile their {} (area sums)",
            cells.def.id, villages.def.id
        ),
        area_mismatches(cells, villages, &cell_nesting.parent_of),
    );
    rule(
        format!(
            "{} tile their {} (area sums)",
            villages.def.id, towns.def.id
        ),
        area_mismatches(villages, towns, &village_nesting.parent_of),
    );
    Ok(report)
}
