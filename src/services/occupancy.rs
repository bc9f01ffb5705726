//! Live shelter occupancy, the pure part: what shelter managers report during an emergency
//! (people in, people out, open, closed, full) as one plain value, [`Live`], applied on top of
//! the shelter layer, and the rules a report must keep ([`Change`]). Storing reports and
//! telling the other servers is the work of the `shelters` room above; every service
//! here takes the state as an argument.
//!
//! The shelter layer is the register — capacity, and occupancy and status as they were when it
//! was exported — and stays immutable like every layer (a SIGHUP reload replaces it wholesale).
//! Reports change by the minute during an evacuation, must survive a restart and must be the
//! same on every server sharing one PostgreSQL, so they live in the database and override the
//! register per shelter id. Allocation, `nearest?people=N` and `around` all read the same
//! snapshot, so the map, the plan and the duty officer's report agree.
//!
//! Occupancy never leaves `0..=capacity`: a change that would is refused, not clamped, because
//! a silently clamped headcount is a lost family. Status is what the manager says (`open`,
//! `closed`, `full`); it is not derived from the headcount, so a manager can close a shelter
//! that still has room (no water) or declare it full early (no more tents).

use crate::catalog::Role;
use crate::spatial::{Layer, PropertyValue};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Longest note a report may carry.
pub const MAX_NOTE: usize = 1000;

/// Whether a shelter takes people now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShelterStatus {
    Open,
    Closed,
    /// Declared full by its manager, whatever the headcount says.
    Full,
}

impl ShelterStatus {
    pub const ALL: [ShelterStatus; 3] = [
        ShelterStatus::Open,
        ShelterStatus::Closed,
        ShelterStatus::Full,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShelterStatus::Open => "open",
            ShelterStatus::Closed => "closed",
            ShelterStatus::Full => "full",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            ShelterStatus::Open => "开放",
            ShelterStatus::Closed => "关闭",
            ShelterStatus::Full => "已满",
        }
    }

    /// The API's values, exactly.
    pub fn parse(s: &str) -> Option<ShelterStatus> {
        ShelterStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The register's free-text status, read conservatively: only values that clearly say
    /// open (or full) count as such; anything else (blank, 维护中, a typo) is closed, so nobody
    /// is sent to a shelter whose state is unclear.
    pub fn from_register(s: Option<&str>) -> ShelterStatus {
        match s.map(str::trim) {
            Some("open" | "开放" | "启用" | "已启用") => ShelterStatus::Open,
            Some("full" | "已满" | "满员") => ShelterStatus::Full,
            _ => ShelterStatus::Closed,
        }
    }

    /// A status as stored (always one of the API's values; anything else is corruption).
    pub fn stored(text: &str) -> Result<ShelterStatus, ShelterError> {
        ShelterStatus::parse(text).ok_or_else(|| ShelterError::Corrupt(format!("status {text:?}")))
    }
}

/// A shelter's reported state: the override of the register's occupancy and status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveState {
    pub occupancy: i64,
    pub status: ShelterStatus,
    /// Unix milliseconds, UTC.
    pub updated_at: i64,
    /// Who reported it (key label or prefix).
    pub actor: String,
}

/// One consistent snapshot of every reported shelter state, by shelter id.
#[derive(Debug, Clone, Default)]
pub struct Live {
    by_id: HashMap<String, LiveState>,
}

/// A shelter as it stands now: the register's capacity with the reported occupancy and status
/// (or the register's, when nobody reported any).
#[derive(Debug, Clone, PartialEq)]
pub struct ShelterView<'a> {
    pub id: &'a str,
    pub capacity: i64,
    pub occupancy: i64,
    pub status: ShelterStatus,
    /// The report behind `occupancy` and `status`; `None`: the register's values.
    pub reported: Option<&'a LiveState>,
}

impl ShelterView<'_> {
    /// Free places (never negative, even if the register over-counts).
    pub fn free(&self) -> i64 {
        (self.capacity - self.occupancy).max(0)
    }

    /// Open with room: a family can be sent there now.
    pub fn accepting(&self) -> bool {
        self.status == ShelterStatus::Open && self.free() > 0
    }
}

fn integer(layer: &Layer, i: usize, field: &str) -> Option<i64> {
    match layer.property(i, field) {
        Some(PropertyValue::Integer(n)) => Some(n),
        _ => None,
    }
}

/// The register's (layer's) occupancy and status of a shelter.
pub fn register(layer: &Layer, i: usize) -> (i64, ShelterStatus) {
    (
        integer(layer, i, "occupancy").unwrap_or(0).max(0),
        ShelterStatus::from_register(layer.property(i, "status").and_then(PropertyValue::as_text)),
    )
}

/// The register's capacity of a shelter (never negative).
pub fn capacity(layer: &Layer, i: usize) -> i64 {
    integer(layer, i, "capacity").unwrap_or(0).max(0)
}

impl FromIterator<(String, LiveState)> for Live {
    fn from_iter<I: IntoIterator<Item = (String, LiveState)>>(states: I) -> Live {
        Live {
            by_id: states.into_iter().collect(),
        }
    }
}

impl Live {
    /// Records `state` as shelter `id`'s newest report.
    pub fn insert(&mut self, id: String, state: LiveState) {
        self.by_id.insert(id, state);
    }

    pub fn get(&self, id: &str) -> Option<&LiveState> {
        self.by_id.get(id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Feature `i` of a shelter layer as it stands now; `None` for other layers.
    pub fn view<'a>(&'a self, layer: &'a Layer, i: usize) -> Option<ShelterView<'a>> {
        if layer.def.role != Some(Role::Shelter) {
            return None;
        }
        let id = layer.id(i);
        let reported = self.by_id.get(id);
        let (occupancy, status) = match reported {
            Some(s) => (s.occupancy, s.status),
            None => register(layer, i),
        };
        Some(ShelterView {
            id,
            capacity: capacity(layer, i),
            occupancy,
            status,
            reported,
        })
    }

    /// The value of `field` for property filters: a shelter's reported `status` and
    /// `occupancy` in place of the register's, so `status=open` means open now. Shelters
    /// nobody reported on keep the register's text as it is.
    pub fn value<'a>(&'a self, layer: &'a Layer, i: usize, field: usize) -> PropertyValue<'a> {
        if layer.def.role == Some(Role::Shelter) {
            if let Some(s) = self.by_id.get(layer.id(i)) {
                match layer.def.fields[field].name.as_str() {
                    "status" => return PropertyValue::Text(s.status.as_str()),
                    "occupancy" => return PropertyValue::Integer(s.occupancy),
                    _ => {}
                }
            }
        }
        layer.value(i, field)
    }

    /// Free places of feature `i` of a shelter layer now; `None` for other layers.
    pub fn free_places(&self, layer: &Layer, i: usize) -> Option<i64> {
        self.view(layer, i).map(|v| v.free())
    }
}

/// Why a shelter report or an allocation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ShelterError {
    #[error("no shelter {0:?}")]
    UnknownShelter(String),
    #[error("the catalogue has no {0} layer")]
    MissingLayer(&'static str),
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error(
        "shelter {shelter} holds at most {capacity} people; {occupancy} are there now, so {requested} would exceed its capacity"
    )]
    OverCapacity {
        field: String,
        shelter: String,
        capacity: i64,
        occupancy: i64,
        requested: i64,
    },
    #[error(
        "shelter {shelter} has {occupancy} people; the change would leave {requested}, below zero"
    )]
    BelowZero {
        field: String,
        shelter: String,
        occupancy: i64,
        requested: i64,
    },
    #[error("stored shelter state is corrupt: {0}")]
    Corrupt(String),
    /// The database failed (the `shelters` room's; kept as text so this pure module knows no
    /// database).
    #[error("database: {0}")]
    Database(String),
}

impl ShelterError {
    pub fn invalid(field: &str, message: impl Into<String>) -> ShelterError {
        ShelterError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// A manager's report on one shelter: a new headcount or a change of it, and/or a status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    /// The headcount now.
    pub occupancy: Option<i64>,
    /// People who arrived (positive) or left (negative) since the last report.
    pub delta: Option<i64>,
    pub status: Option<ShelterStatus>,
    pub note: Option<String>,
}

impl Change {
    /// Refuses reports that say nothing or contradict themselves (before any state is read).
    pub fn check(&self) -> Result<(), ShelterError> {
        if self.occupancy.is_none() && self.delta.is_none() && self.status.is_none() {
            return Err(ShelterError::invalid(
                "body",
                "give occupancy (the headcount now), delta (people in or out) and/or status",
            ));
        }
        if self.occupancy.is_some() && self.delta.is_some() {
            return Err(ShelterError::invalid(
                "delta",
                "give either occupancy or delta, not both",
            ));
        }
        if let Some(n) = self.occupancy {
            if n < 0 {
                return Err(ShelterError::invalid(
                    "occupancy",
                    format!("occupancy must not be negative, got {n}"),
                ));
            }
        }
        if let Some(note) = &self.note {
            if note.chars().count() > MAX_NOTE {
                return Err(ShelterError::invalid(
                    "note",
                    format!("at most {MAX_NOTE} characters"),
                ));
            }
        }
        Ok(())
    }

    /// The state after the change, refusing to leave `0..=capacity`.
    pub fn apply(
        &self,
        shelter: &str,
        capacity: i64,
        occupancy: i64,
        status: ShelterStatus,
    ) -> Result<(i64, ShelterStatus), ShelterError> {
        let (field, next) = match (self.occupancy, self.delta) {
            (Some(n), _) => ("occupancy", n),
            (None, Some(d)) => ("delta", occupancy.saturating_add(d)),
            (None, None) => ("occupancy", occupancy),
        };
        if next < 0 {
            return Err(ShelterError::BelowZero {
                field: field.into(),
                shelter: shelter.to_string(),
                occupancy,
                requested: next,
            });
        }
        // An unchanged headcount is always accepted: a status-only report on a shelter the
        // register over-counts must still be possible.
        if next > capacity && next != occupancy {
            return Err(ShelterError::OverCapacity {
                field: field.into(),
                shelter: shelter.to_string(),
                capacity,
                occupancy,
                requested: next,
            });
        }
        Ok((next, self.status.unwrap_or(status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_status_is_read_conservatively() {
        assert_eq!(
            ShelterStatus::from_register(Some("open")),
            ShelterStatus::Open
        );
        assert_eq!(
            ShelterStatus::from_register(Some("开放")),
            ShelterStatus::Open
        );
        assert_eq!(
            ShelterStatus::from_register(Some("维护中")),
            ShelterStatus::Closed
        );
        assert_eq!(ShelterStatus::from_register(None), ShelterStatus::Closed);
    }

    #[test]
    fn changes_stay_within_capacity() {
        let open = ShelterStatus::Open;
        let delta = |d| Change {
            delta: Some(d),
            ..Change::default()
        };
        assert_eq!(delta(5).apply("S", 10, 5, open).ok(), Some((10, open)));
        assert!(matches!(
            delta(6).apply("S", 10, 5, open),
            Err(ShelterError::OverCapacity { .. })
        ));
        assert!(matches!(
            delta(-6).apply("S", 10, 5, open),
            Err(ShelterError::BelowZero { .. })
        ));
        // A status-only report on an over-counted shelter is still possible.
        let close = Change {
            status: Some(ShelterStatus::Closed),
            ..Change::default()
        };
        assert_eq!(
            close.apply("S", 10, 12, open).ok(),
            Some((12, ShelterStatus::Closed))
        );
        assert!(
            Change {
                occupancy: Some(1),
                delta: Some(1),
                ..Change::default()
            }
            .check()
            .is_err()
        );
        assert!(Change::default().check().is_err());
    }
}
