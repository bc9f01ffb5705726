//! Place: where a point is in the grid and, for a case class, which handling unit answers for
//! it there — locate, then route. `/api/locate`, the batch locate and case filing all ask this
//! one question, so they cannot disagree about a point.
//!
//! ```no_run
//! # use gridlink::services::place::place;
//! # fn demo(store: &gridlink::spatial::LayerStore, tables: &gridlink::catalog::CodeTables) {
//! let here = geo::coord! { x: 121.4602, y: 30.9191 };
//! let placed = place(store, tables, here, Some("C0101"), 5.0, 3).unwrap();
//! let codes = placed.codes(store);
//! println!("cell {:?}, unit {:?}", codes.cell, placed.unit(store));
//! # }
//! ```

use super::ServiceError;
use super::locate::{Location, locate, locate_many};
use super::routing::{Basis, Routing, route};
use crate::catalog::{CodeTables, Role};
use crate::spatial::LayerStore;
use geo::Coord;

/// A point placed: its cell (and so village, beat and town) and, when a class was given, the
/// routing of that class there.
#[derive(Debug, Clone)]
pub struct Placed<'t> {
    pub at: Location,
    pub routing: Option<Routing<'t>>,
}

/// The codes (feature ids) of the areas holding a point, as a case stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codes<'s> {
    pub cell: Option<&'s str>,
    pub village: Option<&'s str>,
    pub town: Option<&'s str>,
    pub beat: Option<&'s str>,
    /// Within the tolerance of another cell's border.
    pub ambiguous: bool,
}

/// The id of feature `index` of the layer playing `role`.
pub fn feature_id(store: &LayerStore, role: Role, index: Option<u32>) -> Option<&str> {
    let layer = store.by_role(role)?;
    index.map(|i| layer.id(i as usize))
}

impl Placed<'_> {
    pub fn codes<'s>(&self, store: &'s LayerStore) -> Codes<'s> {
        Codes {
            cell: feature_id(store, Role::GridCell, Some(self.at.cell)),
            village: feature_id(store, Role::Village, self.at.village),
            town: feature_id(store, Role::Town, self.at.town),
            beat: feature_id(store, Role::Beat, self.at.beat),
            ambiguous: self.at.is_ambiguous(),
        }
    }

    /// The responsible unit's code and why it is the one; `None` without a class, or when no
    /// unit of the class's type exists.
    pub fn unit<'s>(&self, store: &'s LayerStore) -> Option<(&'s str, Basis)> {
        let (unit, basis) = self.routing.as_ref()?.responsible.as_ref()?;
        let layer = store.by_role(unit.role)?;
        Some((layer.id(unit.index), *basis))
    }
}

/// Locates `p` (WGS84) within `tolerance_m` of cell borders and, with `class`, routes it,
/// listing the `nearest_k` nearest units of the class's type.
pub fn place<'t>(
    store: &LayerStore,
    tables: &'t CodeTables,
    p: Coord<f64>,
    class: Option<&str>,
    tolerance_m: f64,
    nearest_k: usize,
) -> Result<Placed<'t>, ServiceError> {
    let grid = store.grid.as_ref().ok_or(ServiceError::NoGrid)?;
    let at =
        locate(grid, p, tolerance_m).ok_or(ServiceError::OutsideDistrict { lon: p.x, lat: p.y })?;
    routed(store, tables, at, class, nearest_k)
}

/// [`place`] for many points, visited in an order that keeps memory access local (see
/// [`locate_many`]); each answer goes to `sink` with the point's index, out of input order.
/// `class_of(i)` is point `i`'s class, if any.
pub fn place_many<'t, 'c>(
    store: &LayerStore,
    tables: &'t CodeTables,
    points: &[Coord<f64>],
    class_of: impl Fn(usize) -> Option<&'c str>,
    tolerance_m: f64,
    nearest_k: usize,
    mut sink: impl FnMut(usize, Result<Placed<'t>, ServiceError>),
) {
    let Some(grid) = store.grid.as_ref() else {
        for i in 0..points.len() {
            sink(i, Err(ServiceError::NoGrid));
        }
        return;
    };
    locate_many(grid, points, tolerance_m, |i, at| {
        let answer = match at {
            None => Err(ServiceError::OutsideDistrict {
                lon: points[i].x,
                lat: points[i].y,
            }),
            Some(at) => routed(store, tables, at, class_of(i), nearest_k),
        };
        sink(i, answer);
    });
}

fn routed<'t>(
    store: &LayerStore,
    tables: &'t CodeTables,
    at: Location,
    class: Option<&str>,
    nearest_k: usize,
) -> Result<Placed<'t>, ServiceError> {
    let routing = match class {
        None => None,
        Some(class) => {
            let cell = feature_id(store, Role::GridCell, Some(at.cell)).unwrap_or_default();
            Some(route(store, tables, class, at.point, cell, nearest_k)?)
        }
    };
    Ok(Placed { at, routing })
}
