//! What every layer generator needs: the recipe, the code tables and the built hierarchy.

use super::admin::Admin;
use super::density::{Frame, Intensity};
use super::names::Namer;
use super::places::{CellIndex, CellSampler, point_in_cell};
use super::rng::{Rng, stream};
use super::spec::{Spec, TownSpec};
use crate::catalog::CodeTables;
use geo::{Coord, Geometry, Point};
use rand::Rng as _;
use serde_json::Value;

pub struct Context<'a> {
    pub spec: &'a Spec,
    pub tables: &'a CodeTables,
    pub admin: &'a Admin,
    /// The cleaned real outline, for clipping lines.
    pub outline: &'a geo::Polygon<f64>,
    pub frame: &'a Frame,
    pub intensity: &'a Intensity,
    pub cells: CellIndex,
    pub seed: u64,
    pub scale: f64,
}

impl Context<'_> {
    pub fn rng(&self, name: &str) -> Rng {
        stream(self.seed, name)
    }

    pub fn count(&self, key: &str) -> usize {
        self.spec.count(key, self.scale)
    }

    pub fn town_of_cell(&self, cell: usize) -> &TownSpec {
        &self.spec.town[self.admin.towns[self.admin.cells[cell].town].spec]
    }

    pub fn town_code(&self, cell: usize) -> Value {
        Value::from(self.town_of_cell(cell).code.clone())
    }

    pub fn cell_code(&self, cell: usize) -> Value {
        Value::from(self.admin.cells[cell].code.clone())
    }

    /// A street address in the cell's town, e.g. 南桥镇解放路128号.
    pub fn address(&self, namer: &Namer, cell: usize, rng: &mut Rng) -> Value {
        let town = self.town_of_cell(cell);
        Value::from(format!(
            "{}{}{}号",
            town.name,
            namer.street(rng),
            rng.random_range(1..=999)
        ))
    }

    /// Cells weighted by `weight(cell)`, then a point inside one: returns (cell, point).
    pub fn sampler(&self, weight: impl Fn(usize) -> f64) -> CellSampler {
        CellSampler::new((0..self.admin.cells.len()).map(weight))
    }

    pub fn place(&self, sampler: &CellSampler, rng: &mut Rng) -> (usize, Coord<f64>) {
        let cell = sampler.draw(rng);
        (cell, point_in_cell(self.admin, cell, rng))
    }

    /// A point near `centre` (within `radius_m`, inside the district), with its cell.
    pub fn place_near(
        &self,
        centre: Coord<f64>,
        radius_m: f64,
        rng: &mut Rng,
    ) -> (usize, Coord<f64>) {
        let mut nearby = self.cells.within(self.frame, centre, radius_m);
        if nearby.is_empty() {
            nearby = self.cells.within(self.frame, centre, radius_m * 4.0);
        }
        if nearby.is_empty() {
            let sampler = self.sampler(|_| 1.0);
            return self.place(&sampler, rng);
        }
        let cell = nearby[rng.random_range(0..nearby.len())];
        (cell, point_in_cell(self.admin, cell, rng))
    }

    /// The most urban cell of a town near its seat: where town offices sit.
    pub fn seat_cell(&self, town: usize) -> usize {
        let seat = Coord {
            x: self.spec.town[town].seat[0],
            y: self.spec.town[town].seat[1],
        };
        let members = &self
            .admin
            .towns
            .iter()
            .find(|t| t.spec == town)
            .map(|t| t.cells.clone())
            .unwrap_or_default();
        members
            .iter()
            .copied()
            .min_by(|&a, &b| {
                let da = self.frame.distance_m(self.admin.cells[a].centroid, seat);
                let db = self.frame.distance_m(self.admin.cells[b].centroid, seat);
                da.total_cmp(&db).then(a.cmp(&b))
            })
            .unwrap_or(0)
    }
}

pub fn point(c: Coord<f64>) -> Geometry<f64> {
    Geometry::Point(Point(c))
}

/// Picks by weight from a list of (item, weight).
pub fn weighted<'a, T>(items: &'a [(T, f64)], rng: &mut Rng) -> &'a T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut target = rng.random_range(0.0..total);
    for (item, w) in items {
        target -= w;
        if target <= 0.0 {
            return item;
        }
    }
    &items[items.len() - 1].0
}
