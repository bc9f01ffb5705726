//! When a reading raises or ends an alert, and what an alert tells the duty officer.
//!
//! The rule: a *series* (one station, one kind) has a current level, that of its newest
//! reading. A reading whose level is above the series' current level raises exactly one alert,
//! at the new level (a jump from nothing to orange is one orange alert, not three). Staying at
//! or above a level raises nothing more; dropping below a level and rising back raises a new
//! alert; yellow → orange raises an orange one. An alert stays *active* while the series stays
//! at or above its level, and ends with the first reading below it — so during an orange spell
//! both the yellow and the orange alert are active, and falling back to yellow ends only the
//! orange one. Alerts follow the newest reading only: a late reading (older than the newest
//! already stored) is kept for the record but changes nothing.

use super::level::AlertLevel;
use crate::catalog::Role;
use crate::services::nearest::{Query, nearest};
use crate::services::occupancy::Live;
use crate::spatial::distance::round_m;
use crate::spatial::{LayerStore, PropertyValue};
use geo::Coord;
use serde::{Deserialize, Serialize};

/// At most this many flood points and villages are listed per alert (nearest first).
pub const NEARBY_CAP: usize = 200;

/// The state of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub time: i64,
    pub value: f64,
    pub level: Option<AlertLevel>,
    /// Active alerts of the series: (alert id, level).
    pub active: Vec<(i64, AlertLevel)>,
}

/// What one newer reading does to its series' alerts; `T` names an alert (its id).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition<T> {
    /// Raise an alert at this level.
    pub raise: Option<AlertLevel>,
    /// End these active alerts (their level is above the new level).
    pub end: Vec<T>,
}

/// The rule of the module doc, on its own so it can be tested exhaustively.
pub fn transition<T: Copy>(
    previous: Option<AlertLevel>,
    active: &[(T, AlertLevel)],
    new: Option<AlertLevel>,
) -> Transition<T> {
    Transition {
        raise: new.filter(|&n| previous.is_none_or(|p| n > p)),
        end: active
            .iter()
            .filter(|&&(_, level)| new.is_none_or(|n| level > n))
            .map(|&(id, _)| id)
            .collect(),
    }
}

/// A feature near an alerting station.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nearby {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub distance_m: f64,
    /// Villages: resident population.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population: Option<i64>,
}

/// Flood-prone points and villages within `radius_m` of `p`, nearest first (villages by the
/// distance to their boundary, 0 inside). Missing layers give empty lists.
pub fn nearby(store: &LayerStore, p: Coord<f64>, radius_m: f64) -> (Vec<Nearby>, Vec<Nearby>) {
    let within = |role: Role| -> Vec<Nearby> {
        let Some(layer) = store.by_role(role) else {
            return Vec::new();
        };
        let query = Query {
            k: NEARBY_CAP,
            max_distance_m: Some(radius_m),
            ..Query::default()
        };
        // Flood points and villages: no shelter state applies.
        nearest(layer, p, &query, &Live::default())
            .into_iter()
            .map(|(i, d)| Nearby {
                id: layer.id(i).to_string(),
                name: layer.label(i).map(str::to_string),
                distance_m: round_m(d),
                population: match layer.property(i, "population") {
                    Some(PropertyValue::Integer(n)) => Some(n),
                    _ => None,
                },
            })
            .collect()
    };
    (within(Role::FloodPoint), within(Role::Village))
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: i64,
    pub station: String,
    pub station_name: Option<String>,
    /// The station's layer.
    pub layer: String,
    pub kind: String,
    pub level: AlertLevel,
    /// The reading that crossed, and the threshold it reached.
    pub value: f64,
    pub threshold: f64,
    pub unit: String,
    /// The reading's time (Unix ms, UTC); `reading_at` in JSON, like the cases' `*_at` times.
    #[serde(rename = "reading_at")]
    pub time: i64,
    /// When the server stored the alert.
    pub raised_at: i64,
    /// The time and value of the first reading below the alert's level; `None` = active.
    pub ended_at: Option<i64>,
    pub end_value: Option<f64>,
    pub lon: f64,
    pub lat: f64,
    pub flood_points: Vec<Nearby>,
    pub villages: Vec<Nearby>,
}

impl Alert {
    pub fn is_active(&self) -> bool {
        self.ended_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::AlertLevel::*;
    use super::*;

    /// Feeds levels through the rule as the service does; returns (raised, ended) per step.
    fn run(levels: &[Option<AlertLevel>]) -> Vec<(Option<AlertLevel>, Vec<AlertLevel>)> {
        let mut current = None;
        let mut active: Vec<(i64, AlertLevel)> = Vec::new();
        let mut next_id = 1;
        let mut out = Vec::new();
        for &new in levels {
            let t = transition(current, &active, new);
            let ended: Vec<AlertLevel> = active
                .iter()
                .filter(|(id, _)| t.end.contains(id))
                .map(|&(_, l)| l)
                .collect();
            active.retain(|(id, _)| !t.end.contains(id));
            if let Some(level) = t.raise {
                active.push((next_id, level));
                next_id += 1;
            }
            current = new;
            out.push((t.raise, ended));
        }
        out
    }

    #[test]
    fn one_alert_per_upward_crossing() {
        let steps = run(&[
            None,
            Some(Blue),   // rise: blue
            Some(Blue),   // stay: nothing
            Some(Yellow), // escalate: yellow
            Some(Yellow),
            Some(Blue),   // fall below yellow: yellow ends
            Some(Yellow), // re-cross: a new yellow
            None,         // fall out: both end
            Some(Red),    // jump: one red alert
        ]);
        let raised: Vec<Option<AlertLevel>> = steps.iter().map(|s| s.0).collect();
        assert_eq!(
            raised,
            vec![
                None,
                Some(Blue),
                None,
                Some(Yellow),
                None,
                None,
                Some(Yellow),
                None,
                Some(Red)
            ]
        );
        assert_eq!(steps[5].1, vec![Yellow]);
        assert_eq!(steps[7].1, vec![Blue, Yellow]);
    }

    #[test]
    fn falling_a_level_ends_only_the_higher_alerts() {
        let t = transition(Some(Orange), &[(1, Yellow), (2, Orange)], Some(Yellow));
        assert_eq!(t.raise, None);
        assert_eq!(t.end, vec![2]);
    }
}
