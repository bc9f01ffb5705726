//! Nearest features of a layer to a point, with property filters, by true distance.
//!
//! The layer's R-tree yields candidates in increasing planar distance with a lower bound of
//! their true distance; the search stops once that bound passes the k-th best true distance,
//! so the answer is exact without measuring every feature.

use super::ServiceError;
use super::occupancy::Live;
use crate::catalog::{FieldType, Role};
use crate::spatial::index::metres_to;
use crate::spatial::{Layer, PropertyValue};
use geo::Coord;

/// Largest k a caller may ask for.
pub const MAX_K: usize = 1000;

/// `field = value`, compared with the field's type.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    field: usize,
    value: FilterValue,
}

#[derive(Debug, Clone, PartialEq)]
enum FilterValue {
    Text(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
}

impl Filter {
    /// Parses `name=value` against the layer's schema.
    pub fn parse(layer: &Layer, name: &str, value: &str) -> Result<Filter, ServiceError> {
        let invalid = |message: String| ServiceError::InvalidFilter {
            field: name.to_string(),
            message,
        };
        let field = layer
            .def
            .field_index(name)
            .ok_or_else(|| invalid(format!("layer {} has no field {name:?}", layer.def.id)))?;
        let value = match layer.def.fields[field].kind {
            FieldType::String => FilterValue::Text(value.to_string()),
            FieldType::Integer => FilterValue::Integer(value.parse().map_err(|_| {
                invalid(format!(
                    "{name} is an integer field; {value:?} is not an integer"
                ))
            })?),
            FieldType::Number => FilterValue::Number(
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| {
                        invalid(format!(
                            "{name} is a number field; {value:?} is not a number"
                        ))
                    })?,
            ),
            FieldType::Boolean => FilterValue::Boolean(match value {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(invalid(format!("{name} is true or false, not {value:?}"))),
            }),
        };
        Ok(Filter { field, value })
    }

    /// Does feature `i` match, judged by the layer's own values (the register)?
    pub fn matches(&self, layer: &Layer, i: usize) -> bool {
        self.matches_value(layer.value(i, self.field))
    }

    /// Does feature `i` match with shelters' reported `status` and `occupancy` in place of the
    /// register's, so `status=open` means open now?
    pub fn matches_now(&self, layer: &Layer, i: usize, live: &Live) -> bool {
        self.matches_value(live.value(layer, i, self.field))
    }

    fn matches_value(&self, value: PropertyValue<'_>) -> bool {
        match (&self.value, value) {
            (FilterValue::Text(v), PropertyValue::Text(s)) => v == s,
            (FilterValue::Integer(v), PropertyValue::Integer(n)) => *v == n,
            (FilterValue::Number(v), PropertyValue::Number(x)) => *v == x,
            (FilterValue::Boolean(v), PropertyValue::Boolean(b)) => *v == b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub k: usize,
    pub max_distance_m: Option<f64>,
    pub filters: Vec<Filter>,
    /// For shelters: keep only those with at least this much free capacity.
    pub people: Option<i64>,
}

/// Free capacity of a shelter (capacity − occupancy), if the layer is a shelter layer.
pub fn free_capacity(layer: &Layer, i: usize) -> Option<i64> {
    if layer.def.role != Some(Role::Shelter) {
        return None;
    }
    let get = |f: &str| match layer.property(i, f) {
        Some(PropertyValue::Integer(n)) => Some(n),
        _ => None,
    };
    Some(get("capacity")? - get("occupancy").unwrap_or(0))
}

/// The k nearest matching features as (feature, metres), nearest first. Shelters are judged
/// by `live`, their state now (reported occupancy and status, see [`super::occupancy`]; an
/// empty [`Live`] is the register as loaded); other layers by their own values.
pub fn nearest(layer: &Layer, p: Coord<f64>, query: &Query, live: &Live) -> Vec<(usize, f64)> {
    let k = query.k.min(MAX_K);
    let limit = query.max_distance_m.unwrap_or(f64::INFINITY);
    let mut best: Vec<(usize, f64)> = Vec::with_capacity(k + 1);
    if k == 0 {
        return best;
    }
    for (i, lower_bound) in layer.index().by_distance(p) {
        let worst = if best.len() == k {
            best[k - 1].1
        } else {
            limit
        };
        if lower_bound > worst || lower_bound > limit {
            break;
        }
        let i = i as usize;
        if !query.filters.iter().all(|f| f.matches_now(layer, i, live)) {
            continue;
        }
        if let Some(people) = query.people {
            if live.free_places(layer, i).is_none_or(|free| free < people) {
                continue;
            }
        }
        let d = metres_to(p, layer.geometry(i));
        if d > limit || (best.len() == k && d >= best[k - 1].1) {
            continue;
        }
        let at = best.partition_point(|&(j, e)| e < d || (e == d && j < i));
        best.insert(at, (i, d));
        best.truncate(k);
    }
    best
}
