//! Around an incident: one report for the duty officer — where it is, what is dangerous and who
//! is exposed within the radius, and what help is nearest.

use super::locate::{DEFAULT_TOLERANCE_M, Location, locate};
use super::nearest::{Filter, Query, nearest};
use super::occupancy::Live;
use super::{ServiceError, Viewer};
use crate::catalog::Role;
use crate::spatial::{Layer, LayerStore, PropertyValue};
use geo::Coord;

/// Largest radius a report may cover.
pub const MAX_RADIUS_M: f64 = 20_000.0;
/// At most this many features per within-radius section (nearest first).
pub const SECTION_CAP: usize = 500;

/// How a section picks its features.
#[derive(Debug, Clone, Copy)]
enum Pick {
    /// Everything within the radius.
    Within,
    /// The k nearest (regardless of radius), with the section's own filter.
    Nearest(usize),
}

/// The sections of the report, in the order a duty officer reads them.
const SECTIONS: [(Role, Pick); 9] = [
    (Role::HazardSource, Pick::Within),
    (Role::ProtectedTarget, Pick::Within),
    (Role::Shelter, Pick::Nearest(5)),
    (Role::Team, Pick::Nearest(3)),
    (Role::SupplyDepot, Pick::Nearest(3)),
    (Role::MedicalFacility, Pick::Nearest(3)),
    (Role::FirePoliceStation, Pick::Nearest(3)),
    (Role::Camera, Pick::Nearest(5)),
    (Role::Village, Pick::Within),
];

#[derive(Debug, Clone)]
pub struct Section<'s> {
    pub role: Role,
    pub layer: &'s Layer,
    /// (feature, metres), nearest first.
    pub hits: Vec<(usize, f64)>,
    /// True when more features matched than the section shows.
    pub truncated: bool,
    /// People in the section: headcount of protected targets, population of villages.
    pub people: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Report<'s> {
    pub point: Coord<f64>,
    pub radius_m: f64,
    /// `None` when the incident lies outside the district.
    pub location: Option<Location>,
    pub sections: Vec<Section<'s>>,
    /// Roles whose layers exist but are not shown to this viewer.
    pub withheld: Vec<Role>,
}

fn people(layer: &Layer, hits: &[(usize, f64)], field: &str) -> i64 {
    hits.iter()
        .filter_map(|&(i, _)| match layer.property(i, field) {
            Some(PropertyValue::Integer(n)) => Some(n),
            _ => None,
        })
        .sum()
}

/// The report around `p`, with the shelters section judged by `live`, their state now
/// (reported occupancy and status, see [`super::occupancy`]): "open with room" means now.
pub fn around<'s>(
    store: &'s LayerStore,
    p: Coord<f64>,
    radius_m: f64,
    viewer: Viewer,
    live: &Live,
) -> Result<Report<'s>, ServiceError> {
    let location = store
        .grid
        .as_ref()
        .and_then(|g| locate(g, p, DEFAULT_TOLERANCE_M));
    let mut sections = Vec::new();
    let mut withheld = Vec::new();
    for (role, pick) in SECTIONS {
        let Some(layer) = store.by_role(role) else {
            continue;
        };
        if !viewer.may_see(layer) {
            withheld.push(role);
            continue;
        }
        let mut query = match pick {
            Pick::Within => Query {
                k: SECTION_CAP + 1,
                max_distance_m: Some(radius_m),
                ..Query::default()
            },
            Pick::Nearest(k) => Query {
                k,
                ..Query::default()
            },
        };
        if role == Role::Shelter {
            // Only shelters a family could be sent to now: open, with room left.
            query.filters.push(Filter::parse(layer, "status", "open")?);
            query.people = Some(1);
        }
        let mut hits = nearest(layer, p, &query, live);
        let truncated = hits.len() > SECTION_CAP;
        hits.truncate(SECTION_CAP);
        let people = match role {
            Role::ProtectedTarget => Some(people(layer, &hits, "headcount")),
            Role::Village => Some(people(layer, &hits, "population")),
            _ => None,
        };
        sections.push(Section {
            role,
            layer,
            hits,
            truncated,
            people,
        });
    }
    Ok(Report {
        point: p,
        radius_m,
        location,
        sections,
        withheld,
    })
}
