//! What the public sees of a case: one function, [`public_view`], behind every response that
//! reaches someone without a key (Open311 lists and single requests, the tracking view, the
//! answer to a citizen's own report), so what is public is decided once and never leaks through
//! a handler that forgot a field.
//!
//! The rules (FixMyStreet's: public reports are moderated, sensitive categories are private):
//! - **Listed** only: cases of a `public` class (`data/case_classes.toml`) reported by the
//!   public (no key) through a public channel (web, app, Open311). Cases entered by staff are
//!   never listed; `private` classes are followed by their reporter alone (id + token).
//! - **Place**: the centre of the ~100 m square the point falls in ([`coarsen`]), and the
//!   village and town by name — never the exact point, the grid cell or the reporter's address.
//! - **Description**: only the text a dispatcher approved for publication (the reporter's own
//!   or a redacted one), and never at all where `[public] descriptions = "never"`.
//! - **Photos**: only once approved; served re-encoded without EXIF.
//! - **Status** in public words ([`PublicStatus`]); `status_notes` only from notes written for
//!   the public (`public_note`); internal notes, who acted, the reporter: never.

use super::clock::rfc3339;
use super::model::{Case, Event, Status};
use crate::catalog::{CodeTables, Role as LayerRole, Visibility};
use crate::spatial::LayerStore;
use serde::{Deserialize, Serialize};

/// Whether approved descriptions are published at all (`[public] descriptions` in
/// gridlink.toml, `--public-descriptions`, `GRIDLINK_PUBLIC_DESCRIPTIONS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Descriptions {
    /// A description is public once a dispatcher approved it (`publish` action).
    #[default]
    Approved,
    /// No description is ever public, approved or not.
    Never,
}

impl std::str::FromStr for Descriptions {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "approved" => Ok(Descriptions::Approved),
            "never" => Ok(Descriptions::Never),
            other => Err(format!(
                "public descriptions are \"approved\" or \"never\", got {other:?}"
            )),
        }
    }
}

/// The server's settings for what the public sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublicPolicy {
    pub descriptions: Descriptions,
}

/// Side of the square a public location is snapped into (metres).
pub const LOCATION_GRID_M: f64 = 100.0;
/// Metres per degree of latitude used for the snapping grid (fixed, so the grid never moves).
const METRES_PER_DEGREE_LAT: f64 = 111_320.0;

/// The centre of the ~100 m square holding the point: rows 100 m high from the equator, each
/// row cut into columns 100 m wide at the row's middle latitude. The answer moves at most
/// ~71 m (half the diagonal) from the true point, and every point of a square gives the same
/// answer, so repeated reports do not narrow it down.
///
/// Chosen over the grid cell's centre because cells are of uneven size (small in old town
/// centres, where a cell centre would say "this house"), and a cell's centre can lie outside
/// an L-shaped cell; the fixed square gives the same uncertainty everywhere.
pub fn coarsen(lon: f64, lat: f64) -> (f64, f64) {
    let dlat = LOCATION_GRID_M / METRES_PER_DEGREE_LAT;
    let row = (lat / dlat).floor();
    let centre_lat = (row + 0.5) * dlat;
    let dlon = LOCATION_GRID_M / (METRES_PER_DEGREE_LAT * centre_lat.to_radians().cos());
    let centre_lon = ((lon / dlon).floor() + 0.5) * dlon;
    (round6(centre_lon), round6(centre_lat))
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The visibility of a case's class (a class no longer in the table counts as staff-only).
pub fn class_visibility(tables: &CodeTables, class: &str) -> Visibility {
    tables
        .class(class)
        .map_or(Visibility::Staff, |c| c.visibility)
}

/// May the case appear in public lists (Open311 `requests.json`, the public page)?
pub fn is_listable(case: &Case, tables: &CodeTables) -> bool {
    case.public_report && class_visibility(tables, &case.class) == Visibility::Public
}

/// The codes of the `public` classes, for list queries.
pub fn public_classes(tables: &CodeTables) -> Vec<String> {
    tables
        .classes
        .iter()
        .filter(|c| c.visibility == Visibility::Public)
        .map(|c| c.code.clone())
        .collect()
}

/// A new tracking token for a citizen's report and the hash that is stored (the token is shown
/// once, like an API key): 128 random bits, hex.
pub fn new_token() -> (String, String) {
    let bytes: [u8; 16] = rand::random();
    let token = hex::encode(bytes);
    let hash = super::keys::hash(&token);
    (token, hash)
}

/// Does the token open this case? Compared in constant time over the hashes.
pub fn token_matches(case: &Case, token: &str) -> bool {
    let Some(stored) = case.track_hash.as_deref() else {
        return false;
    };
    let given = super::keys::hash(token.trim());
    given.len() == stored.len()
        && given
            .bytes()
            .zip(stored.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Where a case is, in words a resident understands (several workflow states read the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicStatus {
    /// 已受理: reported, not yet looked at.
    Received,
    /// 已立案: accepted, waiting for a unit (also after a unit handed it back).
    Accepted,
    /// 处理中: a unit is on it (also when reworked after a failed check).
    InProgress,
    /// 已列入计划: needs long-term works (挂账).
    Scheduled,
    /// 已处理，待核查: the unit says it is done; a supervisor checks.
    Handled,
    /// 已办结.
    Closed,
    /// 不予受理: not a case for the centre.
    Rejected,
}

impl PublicStatus {
    pub fn of(status: Status) -> PublicStatus {
        use Status as S;
        match status {
            S::Reported => PublicStatus::Received,
            S::Filed | S::Returned => PublicStatus::Accepted,
            S::Dispatched | S::InProgress | S::Reopened => PublicStatus::InProgress,
            S::Suspended => PublicStatus::Scheduled,
            S::Handled | S::Verifying => PublicStatus::Handled,
            S::Closed => PublicStatus::Closed,
            S::Rejected => PublicStatus::Rejected,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PublicStatus::Received => "received",
            PublicStatus::Accepted => "accepted",
            PublicStatus::InProgress => "in_progress",
            PublicStatus::Scheduled => "scheduled",
            PublicStatus::Handled => "handled",
            PublicStatus::Closed => "closed",
            PublicStatus::Rejected => "rejected",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            PublicStatus::Received => "已受理",
            PublicStatus::Accepted => "已立案",
            PublicStatus::InProgress => "处理中",
            PublicStatus::Scheduled => "已列入计划处理",
            PublicStatus::Handled => "已处理，待核查",
            PublicStatus::Closed => "已办结",
            PublicStatus::Rejected => "不予受理",
        }
    }
}

/// A photo as the public may fetch it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicPhoto {
    pub url: String,
    /// For photos stored here; outside URLs have none.
    pub thumb_url: Option<String>,
}

/// A case as the public sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicCase {
    pub id: i64,
    pub class: String,
    pub class_name: Option<String>,
    /// [`PublicStatus`] code and words.
    pub status: &'static str,
    pub status_name: &'static str,
    pub open: bool,
    /// The newest note written for the public, if any.
    pub status_notes: Option<String>,
    /// The centre of the ~100 m square holding the case ([`coarsen`]).
    pub lon: f64,
    pub lat: f64,
    pub location_precision_m: f64,
    pub town: Option<String>,
    pub town_name: Option<String>,
    pub village: Option<String>,
    pub village_name: Option<String>,
    /// Only as approved for publication (and never where the server says never).
    pub description: Option<String>,
    /// Only once approved.
    pub photos: Vec<PublicPhoto>,
    /// The handling unit, once the case is dispatched to it.
    pub agency_responsible: Option<String>,
    pub reported_time: String,
    pub updated_time: String,
    /// The unit's deadline, once dispatched.
    pub expected_time: Option<String>,
    pub closed_time: Option<String>,
    /// Whether the case appears in public lists.
    pub listed: bool,
}

/// The label of the feature with this code in the layer of `role`.
fn name_of(store: &LayerStore, role: LayerRole, code: Option<&str>) -> Option<String> {
    let layer = store.by_role(role)?;
    let i = layer.find(code?)?;
    layer.label(i).map(str::to_string)
}

/// A photo list entry as the public may fetch it.
fn public_photo(entry: &str) -> PublicPhoto {
    match crate::photos::hash_of(entry) {
        Some(hash) => PublicPhoto {
            url: crate::photos::url(hash),
            thumb_url: Some(format!("{}?thumb=1", crate::photos::url(hash))),
        },
        None => PublicPhoto {
            url: entry.to_string(),
            thumb_url: None,
        },
    }
}

/// The public view of a case. `public_note` is the newest note written for the public (see
/// `CaseStore::latest_public_notes`, or the last one in [`public_history`]).
pub fn public_view(
    case: &Case,
    public_note: Option<&str>,
    store: &LayerStore,
    tables: &CodeTables,
    policy: PublicPolicy,
) -> PublicCase {
    let status = PublicStatus::of(case.status);
    let (lon, lat) = coarsen(case.lon, case.lat);
    let description = match policy.descriptions {
        Descriptions::Approved => case.public_description.clone(),
        Descriptions::Never => None,
    };
    let photos = if case.photos_public {
        case.photos.iter().map(|p| public_photo(p)).collect()
    } else {
        Vec::new()
    };
    let agency_responsible = case
        .dispatched_at
        .and(case.unit.as_deref())
        .map(|u| crate::services::routing::unit_name(store, u).unwrap_or_else(|| u.to_string()));
    PublicCase {
        id: case.id,
        class: case.class.clone(),
        class_name: tables.class(&case.class).map(|c| c.name.clone()),
        status: status.as_str(),
        status_name: status.name_zh(),
        open: case.status.is_open(),
        status_notes: public_note.map(str::to_string),
        lon,
        lat,
        location_precision_m: LOCATION_GRID_M,
        town: case.town.clone(),
        town_name: name_of(store, LayerRole::Town, case.town.as_deref()),
        village: case.village.clone(),
        village_name: name_of(store, LayerRole::Village, case.village.as_deref()),
        description,
        photos,
        agency_responsible,
        reported_time: rfc3339(case.reported_at),
        updated_time: rfc3339(case.updated_at),
        expected_time: case.deadline.filter(|_| case.status.is_open()).map(rfc3339),
        closed_time: case.closed_at.map(rfc3339),
        listed: is_listable(case, tables),
    }
}

/// One step of a case's history in public words: when its public status changed, and every
/// note written for the public. Never who acted and never an internal note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicStep {
    pub time: String,
    pub status: &'static str,
    pub status_name: &'static str,
    pub note: Option<String>,
}

/// The history as the reporter may follow it: the report, each change of public status (steps
/// that read the same in public words are one step), and each note for the public.
pub fn public_history(events: &[Event]) -> Vec<PublicStep> {
    let mut steps: Vec<PublicStep> = Vec::new();
    let mut shown: Option<PublicStatus> = None;
    for event in events {
        let Some(status) = Status::parse(&event.to_status) else {
            continue;
        };
        let status = PublicStatus::of(status);
        let note = event
            .public_note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        if shown == Some(status) && note.is_none() {
            continue;
        }
        shown = Some(status);
        steps.push(PublicStep {
            time: rfc3339(event.at),
            status: status.as_str(),
            status_name: status.name_zh(),
            note,
        });
    }
    steps
}

/// The newest note for the public in a history.
pub fn latest_public_note(events: &[Event]) -> Option<&str> {
    events
        .iter()
        .rev()
        .find_map(|e| e.public_note.as_deref().filter(|n| !n.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::distance::metres;
    use geo::Coord;

    #[test]
    fn a_public_location_is_the_centre_of_its_100_m_square() {
        let mut worst: f64 = 0.0;
        for i in 0..2000 {
            let lon = 121.30 + f64::from(i) * 0.000_173;
            let lat = 30.80 + f64::from(i) * 0.000_121;
            let (clon, clat) = coarsen(lon, lat);
            let d = metres(Coord { x: lon, y: lat }, Coord { x: clon, y: clat });
            worst = worst.max(d);
            assert!(d <= 72.0, "{lon},{lat} moved {d} m");
            // Every point of the square answers the same: nudging within it changes nothing.
            let (nlon, nlat) = coarsen(clon + (lon - clon) * 0.5, clat + (lat - clat) * 0.5);
            assert_eq!((nlon, nlat), (clon, clat));
        }
        // …and the squares are about 100 m: some points do move tens of metres.
        assert!(worst > 50.0, "{worst}");
    }

    #[test]
    fn neighbouring_squares_are_100_m_apart() {
        let (a_lon, a_lat) = coarsen(121.4602, 30.9191);
        let (b_lon, b_lat) = coarsen(121.4602, 30.9191 + 100.0 / 111_320.0);
        let d = metres(Coord { x: a_lon, y: a_lat }, Coord { x: b_lon, y: b_lat });
        assert!((d - 100.0).abs() < 2.0, "{d}");
    }

    #[test]
    fn the_public_words_merge_internal_steps() {
        assert_eq!(
            PublicStatus::of(Status::Dispatched),
            PublicStatus::InProgress
        );
        assert_eq!(PublicStatus::of(Status::Reopened), PublicStatus::InProgress);
        assert_eq!(PublicStatus::of(Status::Returned), PublicStatus::Accepted);
        assert_eq!(PublicStatus::of(Status::Verifying), PublicStatus::Handled);
        for s in Status::ALL {
            assert!(!PublicStatus::of(s).name_zh().is_empty());
        }
    }

    #[test]
    fn descriptions_policy_reads_from_config_words() {
        assert_eq!("never".parse::<Descriptions>(), Ok(Descriptions::Never));
        assert_eq!(
            "approved".parse::<Descriptions>(),
            Ok(Descriptions::Approved)
        );
        assert!("sometimes".parse::<Descriptions>().is_err());
    }
}
