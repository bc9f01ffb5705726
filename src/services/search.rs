//! Search: find a place by cell code, village, town or unit name, as the map's search box does.
//!
//! A query matches a feature when its id starts with it (codes are typed from the left) or its
//! label contains it. Codes are tried on every searchable layer, names on those with a label.

use super::Viewer;
use crate::catalog::Role;
use crate::spatial::{Layer, LayerStore};

/// Layers searched, in the order results are listed.
const SEARCHED: [Role; 10] = [
    Role::Town,
    Role::Village,
    Role::GridCell,
    Role::DistrictUnit,
    Role::TownUnit,
    Role::LinkageCentre,
    Role::Workstation,
    Role::Shelter,
    Role::MedicalFacility,
    Role::Beat,
];

pub const MAX_RESULTS: usize = 50;

/// Up to `limit` matches as (layer, feature), best first: exact ids, then id prefixes, then
/// names containing the query.
pub fn search<'s>(
    store: &'s LayerStore,
    query: &str,
    limit: usize,
    viewer: Viewer,
) -> Vec<(&'s Layer, usize)> {
    let query = query.trim();
    if query.is_empty() {
        return Vec::new();
    }
    let mut ranked: Vec<(u8, usize, &Layer, usize)> = Vec::new();
    for (order, role) in SEARCHED.iter().enumerate() {
        let Some(layer) = store.by_role(*role).filter(|l| viewer.may_see(l)) else {
            continue;
        };
        if let Some(i) = layer.find(query) {
            ranked.push((0, order, layer, i));
        }
        for i in 0..layer.len() {
            let id = layer.id(i);
            if id != query && id.starts_with(query) {
                ranked.push((1, order, layer, i));
            } else if layer
                .label(i)
                .is_some_and(|name| name != id && name.contains(query))
            {
                ranked.push((2, order, layer, i));
            }
            if ranked.len() > limit * 20 {
                break;
            }
        }
    }
    ranked.sort_by_key(|&(rank, order, layer, i)| (rank, order, layer.id(i).len(), i));
    ranked
        .into_iter()
        .take(limit)
        .map(|(_, _, layer, i)| (layer, i))
        .collect()
}
