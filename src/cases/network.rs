//! The three-level linkage network: the district centre, the town sub-centres (分中心), the
//! village workstations (工作站), the handling units and the command bodies of the four affairs
//! classes. A key is bound to one node; a case sits in one queue (the district centre's or a
//! sub-centre's) and, by its affairs class, in one command body's queue too.
//!
//! Which nodes exist is read from the layers (linkage centres, workstations, units) and the
//! command-body code table, never from code: see [`NodeDirectory`].

use super::error::{CaseError, Result};
use crate::catalog::{CodeTables, Role as LayerRole};
use crate::spatial::{LayerStore, PropertyValue};
use std::collections::BTreeSet;

/// The district centre's queue.
pub const DISTRICT: &str = "district";

/// A node of the network, as a key is bound to it. Written `district`, `town:CODE`,
/// `village:CODE`, `unit:CODE`, or a command body's code (`emergency`, `police_110`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Node {
    /// The district centre (also every key bound to no node: keys from before the network).
    District,
    /// A town sub-centre, by town code.
    Town(String),
    /// A village workstation, by village code.
    Village(String),
    /// A handling unit, by unit code.
    Unit(String),
    /// A command body other than the district centre, by its code.
    Command(String),
}

impl Node {
    /// Reads the stored form (no check that the node exists: see [`NodeDirectory::resolve`]).
    pub fn parse(text: &str) -> Option<Node> {
        let text = text.trim();
        let code = |c: &str| (!c.trim().is_empty()).then(|| c.trim().to_string());
        match text.split_once(':') {
            Some(("town", c)) => code(c).map(Node::Town),
            Some(("village", c)) => code(c).map(Node::Village),
            Some(("unit", c)) => code(c).map(Node::Unit),
            Some(_) => None,
            None if text == DISTRICT => Some(Node::District),
            None if !text.is_empty() => Some(Node::Command(text.to_string())),
            None => None,
        }
    }

    pub fn as_string(&self) -> String {
        match self {
            Node::District => DISTRICT.to_string(),
            Node::Town(c) => format!("town:{c}"),
            Node::Village(c) => format!("village:{c}"),
            Node::Unit(c) => format!("unit:{c}"),
            Node::Command(c) => c.clone(),
        }
    }

    /// The queue this node works (`district` or `town:CODE`), if it works one.
    pub fn queue(&self) -> Option<String> {
        match self {
            Node::District => Some(DISTRICT.to_string()),
            Node::Town(c) => Some(town_queue(c)),
            _ => None,
        }
    }
}

/// May a key bound to a node fetch the photos of this case? Every linkage unit sees every
/// case's record (information sharing), but the photos — faces, number plates, the inside of
/// homes — go only to the nodes that work the case: the district centre and the command
/// bodies, the sub-centre of its town, the workstation of its village, the unit it is
/// assigned to. Keys bound to no node keep seeing every photo, as before the network.
pub fn sees_photos_of(actor: &super::model::Actor, case: &super::model::Case) -> bool {
    let Some(node) = &actor.node else {
        return true;
    };
    match node {
        Node::District | Node::Command(_) => true,
        Node::Town(t) => case.town.as_deref() == Some(t.as_str()) || case.queue == town_queue(t),
        Node::Village(v) => case.village.as_deref() == Some(v.as_str()),
        Node::Unit(u) => case.unit.as_deref() == Some(u.as_str()),
    }
}

/// A sub-centre's queue name.
pub fn town_queue(town: &str) -> String {
    format!("town:{town}")
}

/// The town of a sub-centre's queue (`None` for the district centre's).
pub fn queue_town(queue: &str) -> Option<&str> {
    queue.strip_prefix("town:")
}

/// Where cases go: the district centre's own area (the central urban area, as a list of
/// villages) goes to the district centre's queue, every other case to its town's sub-centre.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    /// Villages whose cases the district centre takes itself (e.g. the Nanqiao central area).
    pub central_villages: BTreeSet<String>,
    /// A polygon layer whose features outline the district centre's own area (any feature).
    pub central_layer: Option<String>,
    /// Filing counts as on time within this many hours of the report (sub-centre appraisal).
    pub file_limit_h: i64,
    /// Dispatch counts as on time within this many hours of filing.
    pub dispatch_limit_h: i64,
    /// Workload categories of units: a unit that received at least `thresholds[0]` cases in the
    /// period is category 1 (heaviest), at least `thresholds[1]` category 2, and so on; the rest
    /// are the last category.
    pub category_thresholds: Vec<u64>,
}

impl NetworkPolicy {
    /// The defaults: no central area (every case goes to its town), 2 h to file, 2 h to
    /// dispatch, categories at 50 and 10 cases received.
    pub fn standard() -> NetworkPolicy {
        NetworkPolicy {
            central_villages: BTreeSet::new(),
            central_layer: None,
            file_limit_h: 2,
            dispatch_limit_h: 2,
            category_thresholds: vec![50, 10],
        }
    }

    /// The queue a new case lands in.
    pub fn queue_for(
        &self,
        store: &LayerStore,
        village: Option<&str>,
        town: Option<&str>,
        lon: f64,
        lat: f64,
    ) -> String {
        if village.is_some_and(|v| self.central_villages.contains(v))
            || self.in_layer(store, lon, lat)
        {
            return DISTRICT.to_string();
        }
        match town {
            Some(t) => town_queue(t),
            None => DISTRICT.to_string(),
        }
    }

    fn in_layer(&self, store: &LayerStore, lon: f64, lat: f64) -> bool {
        let Some(id) = &self.central_layer else {
            return false;
        };
        let Some(layer) = store.layer(id) else {
            return false;
        };
        use geo::Contains;
        let p = geo::Coord { x: lon, y: lat };
        layer
            .index()
            .at_point(p)
            .into_iter()
            .any(|i| layer.geometry(i as usize).to_geo().contains(&geo::Point(p)))
    }
}

/// Which nodes exist: read from the loaded layers and the code tables.
pub struct NodeDirectory<'a> {
    pub store: &'a LayerStore,
    pub tables: &'a CodeTables,
}

impl NodeDirectory<'_> {
    /// Parses a node as written on the command line or in the API and checks that it exists;
    /// a command body that is the district centre (`urban`) is the district centre.
    pub fn resolve(&self, text: &str) -> Result<Node> {
        let node = Node::parse(text).ok_or_else(|| {
            CaseError::invalid(
                "node",
                format!(
                    "a node is district, town:CODE, village:CODE, unit:CODE or a command body ({}), got {text:?}",
                    self.tables
                        .command_bodies
                        .iter()
                        .map(|b| b.code.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        let missing = |what: &str, code: &str| {
            CaseError::invalid("node", format!("no {what} with code {code:?}"))
        };
        match &node {
            Node::District => Ok(node),
            Node::Town(code) => {
                if self.sub_centre(code).is_some() {
                    Ok(node)
                } else {
                    Err(missing(
                        "town sub-centre (linkage_centre of level town)",
                        code,
                    ))
                }
            }
            Node::Village(code) => {
                if self.workstation(code).is_some() {
                    Ok(node)
                } else {
                    Err(missing("village workstation", code))
                }
            }
            Node::Unit(code) => {
                if crate::services::routing::unit_level(self.store, code).is_some() {
                    Ok(node)
                } else {
                    Err(missing("handling unit", code))
                }
            }
            Node::Command(code) => match self.tables.command_body(code) {
                Some(body) if body.district_centre => Ok(Node::District),
                Some(_) => Ok(node),
                None => Err(missing("command body", code)),
            },
        }
    }

    /// The sub-centre (a linkage centre of level `town`) of a town: its index in the layer.
    pub fn sub_centre(&self, town: &str) -> Option<usize> {
        let layer = self.store.by_role(LayerRole::LinkageCentre)?;
        (0..layer.len()).find(|&i| {
            text(layer.property(i, "level")) == Some("town")
                && text(layer.property(i, "town_code")) == Some(town)
        })
    }

    /// The workstation of a village: its index in the layer.
    pub fn workstation(&self, village: &str) -> Option<usize> {
        let layer = self.store.by_role(LayerRole::Workstation)?;
        (0..layer.len()).find(|&i| text(layer.property(i, "village_code")) == Some(village))
    }

    /// Every sub-centre's town code and name, in the layer's order.
    pub fn sub_centres(&self) -> Vec<(String, String)> {
        NodeDirectory::sub_centres_of(self.store)
    }

    /// The same, from the layers alone.
    pub fn sub_centres_of(store: &LayerStore) -> Vec<(String, String)> {
        let Some(layer) = store.by_role(LayerRole::LinkageCentre) else {
            return Vec::new();
        };
        (0..layer.len())
            .filter(|&i| text(layer.property(i, "level")) == Some("town"))
            .filter_map(|i| {
                let town = text(layer.property(i, "town_code"))?.to_string();
                Some((town, layer.label(i).unwrap_or_default().to_string()))
            })
            .collect()
    }
}

fn text(value: Option<PropertyValue<'_>>) -> Option<&str> {
    value.and_then(PropertyValue::as_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_read_and_write_the_same() {
        for text in [
            "district",
            "town:310120101",
            "village:310120101001",
            "unit:TU101-01",
            "police_110",
        ] {
            assert_eq!(Node::parse(text).unwrap().as_string(), text);
        }
        assert_eq!(Node::parse("town:"), None);
        assert_eq!(Node::parse("planet:3"), None);
        assert_eq!(Node::parse(""), None);
        assert_eq!(Node::Town("1".into()).queue().as_deref(), Some("town:1"));
        assert_eq!(Node::Unit("1".into()).queue(), None);
        assert_eq!(queue_town("town:1"), Some("1"));
        assert_eq!(queue_town(DISTRICT), None);
    }
}
