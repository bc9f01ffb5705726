//! Shelter siting check against GB 21734-2008 《地震应急避难场所 场址及配套设施》 §5.2
//! (safety requirements of the site, mandatory clauses):
//!
//! - §5.2.1: a shelter shall avoid ground prone to natural hazards — fault zones, flooding
//!   (洪涝), landslides, debris flows. The district's flood-prone points (易涝点) are points
//!   where water stood before, so a shelter within a buffer of one (100 m unless told
//!   otherwise) is flagged: it may be under water exactly when it is needed.
//! - §5.2.3: a shelter shall lie outside the range in which stores of toxic gas, flammable or
//!   explosive goods (or radioactive material, or high-voltage lines) may endanger people. For
//!   each major hazard source (重大危险源) that range is its `impact_radius_m`.
//!
//! A finding is a planning matter — an existing shelter cannot move overnight, and the
//! centre needs to know which shelters not to open when that plant leaks — so the check
//! reports rather than refuses; `gridlink check --shelters --strict` turns findings into a
//! failing exit code for data pipelines that want to gate on them.

use super::occupancy::ShelterError;
use crate::catalog::Role;
use crate::spatial::distance::metres_per_degree;
use crate::spatial::index::metres_to;
use crate::spatial::{GeometryRef, Layer, LayerStore, PropertyValue};
use geo::{Coord, Rect};

/// Default distance to a flood-prone point under which a shelter is flagged.
pub const DEFAULT_FLOOD_BUFFER_M: f64 = 100.0;
/// The standard the rules come from.
pub const STANDARD: &str = "GB 21734-2008 《地震应急避难场所 场址及配套设施》";

/// Which siting rule a finding breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// Inside a major hazard source's impact radius (§5.2.3).
    HazardImpact,
    /// Within the buffer of a flood-prone point (§5.2.1).
    FloodProne,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::HazardImpact => "hazard_impact",
            Rule::FloodProne => "flood_prone",
        }
    }

    /// The clause of GB 21734-2008 the rule implements.
    pub fn clause(self) -> &'static str {
        match self {
            Rule::HazardImpact => "§5.2.3",
            Rule::FloodProne => "§5.2.1",
        }
    }
}

/// One shelter too close to one hazard.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: Rule,
    /// Feature index in the shelter layer.
    pub shelter: usize,
    /// Feature index in the hazard's layer (hazard sources or flood-prone points).
    pub hazard: usize,
    pub distance_m: f64,
    /// The impact radius or flood buffer the distance is within.
    pub limit_m: f64,
}

#[derive(Debug, Clone)]
pub struct SitingReport<'s> {
    pub shelters: &'s Layer,
    pub hazard_sources: Option<&'s Layer>,
    pub flood_points: Option<&'s Layer>,
    /// Hazard sources with an impact radius (the others cannot be checked).
    pub sources_with_radius: usize,
    pub flood_buffer_m: f64,
    /// By shelter id, then rule, then distance.
    pub findings: Vec<Finding>,
}

impl SitingReport<'_> {
    /// The layer a finding's hazard belongs to.
    pub fn hazard_layer(&self, rule: Rule) -> Option<&Layer> {
        match rule {
            Rule::HazardImpact => self.hazard_sources,
            Rule::FloodProne => self.flood_points,
        }
    }

    /// How many shelters have at least one finding.
    pub fn shelters_flagged(&self) -> usize {
        let mut ids: Vec<usize> = self.findings.iter().map(|f| f.shelter).collect();
        ids.dedup();
        ids.len()
    }
}

/// A lon/lat box certainly holding every point within `metres` of `c`.
fn reach(c: Coord<f64>, metres: f64) -> Rect<f64> {
    let (per_lat, per_lon) = metres_per_degree(c.y);
    // 1 % slack: the box is a prefilter, the distance decides.
    let (dx, dy) = (metres * 1.01 / per_lon, metres * 1.01 / per_lat);
    Rect::new(
        Coord {
            x: c.x - dx,
            y: c.y - dy,
        },
        Coord {
            x: c.x + dx,
            y: c.y + dy,
        },
    )
}

/// Shelters of `shelters` within `limit` metres of a hazard's geometry.
fn within(shelters: &Layer, hazard: GeometryRef<'_>, limit: f64) -> Vec<(usize, f64)> {
    let Some(bbox) = hazard.bounding_rect() else {
        return Vec::new();
    };
    let (lo, hi) = (reach(bbox.min(), limit), reach(bbox.max(), limit));
    let rect = Rect::new(lo.min(), hi.max());
    let mut out = Vec::new();
    for s in shelters.index().intersecting(rect) {
        let s = s as usize;
        let Some(at) = shelters.geometry(s).to_geo_point() else {
            continue;
        };
        let d = metres_to(at, hazard);
        if d <= limit {
            out.push((s, d));
        }
    }
    out
}

/// Every shelter inside a hazard source's impact radius or within `flood_buffer_m` of a
/// flood-prone point. Missing hazard layers are simply not checked (the report says which).
pub fn check(store: &LayerStore, flood_buffer_m: f64) -> Result<SitingReport<'_>, ShelterError> {
    let shelters = store
        .by_role(Role::Shelter)
        .ok_or(ShelterError::MissingLayer("shelter"))?;
    let hazard_sources = store.by_role(Role::HazardSource);
    let flood_points = store.by_role(Role::FloodPoint);
    let mut findings = Vec::new();
    let mut sources_with_radius = 0;
    if let Some(sources) = hazard_sources {
        for h in 0..sources.len() {
            let radius = match sources.property(h, "impact_radius_m") {
                Some(PropertyValue::Integer(n)) if n > 0 => n as f64,
                Some(PropertyValue::Number(x)) if x.is_finite() && x > 0.0 => x,
                _ => continue,
            };
            sources_with_radius += 1;
            for (s, d) in within(shelters, sources.geometry(h), radius) {
                findings.push(Finding {
                    rule: Rule::HazardImpact,
                    shelter: s,
                    hazard: h,
                    distance_m: d,
                    limit_m: radius,
                });
            }
        }
    }
    if let Some(floods) = flood_points {
        for f in 0..floods.len() {
            for (s, d) in within(shelters, floods.geometry(f), flood_buffer_m) {
                findings.push(Finding {
                    rule: Rule::FloodProne,
                    shelter: s,
                    hazard: f,
                    distance_m: d,
                    limit_m: flood_buffer_m,
                });
            }
        }
    }
    findings.sort_by(|a, b| {
        shelters
            .id(a.shelter)
            .cmp(shelters.id(b.shelter))
            .then(a.rule.cmp(&b.rule))
            .then(a.distance_m.total_cmp(&b.distance_m))
    });
    Ok(SitingReport {
        shelters,
        hazard_sources,
        flood_points,
        sources_with_radius,
        flood_buffer_m,
        findings,
    })
}
