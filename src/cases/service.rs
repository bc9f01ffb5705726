//! The case service: what the API does with cases, independent of HTTP. Reports are located,
//! checked for duplicates and group-committed; actions go through the workflow table, compute
//! the case's next state (routing, deadlines) and are written with optimistic locking, so of
//! two actors racing the same transition exactly one wins. Every change goes to this server's
//! stream and case layer at once and, through [`crate::db::notify`], to the other servers
//! sharing the database, which read the case again and show it too.

use super::clock::Clock;
use super::error::{CaseError, Result};
use super::intake::Intake;
use super::model::{Action, Actor, Case, NewCase, Role, Status};
use super::network::{DISTRICT, NetworkPolicy, NodeDirectory, queue_town, town_queue};
use super::store::{CaseStore, NewEvent};
use super::workflow;
use crate::catalog::{CodeTables, Level, Role as LayerRole};
use crate::db::Db;
use crate::db::notify::{Fanout, Followed};
use crate::photos::{PhotoError, PhotoStore};
use crate::services::locate::DEFAULT_TOLERANCE_M;
use crate::services::place::place;
use crate::services::routing::unit_level;
use crate::spatial::LayerStore;
use crate::spatial::distance::metres;
use geo::Coord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tokio::sync::broadcast;

/// The channel on which servers sharing one PostgreSQL announce case changes.
pub const CHANNEL: &str = "gridlink_cases";

/// What a server tells the others of a change: which case, and what happened to it. They read
/// the case again (a case does not fit in a notice).
#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    id: i64,
    kind: String,
}

/// Open cases of the same class this close are listed as possible duplicates of a new report.
pub const DUPLICATE_RADIUS_M: f64 = 50.0;
pub const MAX_DESCRIPTION: usize = 4000;
/// Most photos one report or action carries (URLs and uploads together).
pub const MAX_PHOTOS: usize = crate::photos::MAX_PER_STEP;
pub const MAX_EXTENSION_H: i64 = 720;
const HOUR_MS: i64 = 3_600_000;

/// A report as the API receives it.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub class: String,
    pub urgency: Option<String>,
    pub lon: f64,
    pub lat: f64,
    pub description: String,
    pub photos: Vec<String>,
    pub address: Option<String>,
    pub channel: Option<String>,
    pub reporter: Option<String>,
    /// Photos uploaded with the report, checked (not stored yet).
    pub uploads: Vec<crate::photos::Checked>,
    /// An id the sender made for this report (a phone's offline queue): sending it again
    /// returns the case already stored instead of filing a second one.
    pub client_id: Option<String>,
}

/// An action as the API receives it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub action: String,
    /// Internal: seen by staff only. `reason` is the same field (a pass-up's or a hand-down's
    /// reason).
    #[serde(default, alias = "reason")]
    pub note: Option<String>,
    /// Written for the public: Open311 `status_notes` and the reporter's tracking view.
    #[serde(default)]
    pub public_note: Option<String>,
    /// `publish`: approve (`true`) or withdraw (`false`) the reporter's description.
    #[serde(default)]
    pub publish_description: Option<bool>,
    /// `publish`: approve this text as the public description instead (e.g. with a name or a
    /// flat number taken out).
    #[serde(default)]
    pub public_description: Option<String>,
    /// `publish`: approve (`true`) or withdraw (`false`) the report's photos.
    #[serde(default)]
    pub publish_photos: Option<bool>,
    #[serde(default)]
    pub photos: Vec<String>,
    /// Photos uploaded with the action, checked (not stored yet).
    #[serde(skip)]
    pub uploads: Vec<crate::photos::Checked>,
    /// `dispatch`: the unit to send it to, overriding routing.
    #[serde(default)]
    pub unit: Option<String>,
    /// `extend`: hours to add to the deadline.
    #[serde(default)]
    pub hours: Option<i64>,
    /// `hand_down`: the town whose sub-centre takes the case (default: the case's own town).
    #[serde(default)]
    pub town: Option<String>,
    /// `callback`: the citizen was reached.
    #[serde(default)]
    pub reached: Option<bool>,
    /// `callback`: `satisfied` (满意), `basic` (基本满意) or `unsatisfied` (不满意).
    #[serde(default)]
    pub satisfaction: Option<String>,
    /// `callback`, unsatisfied: send the case back to the unit (返工).
    #[serde(default)]
    pub reopen: Option<bool>,
    /// `callback`, satisfied on a verified case: close it in the same step (if the caller may
    /// close).
    #[serde(default)]
    pub close: Option<bool>,
    /// The version the caller saw; a stale one is a conflict (optional).
    #[serde(default)]
    pub version: Option<i64>,
}

/// A case change as pushed to `/api/stream`.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `created`, or the action taken.
    pub kind: String,
    pub case: Case,
    pub overdue: bool,
    pub at: i64,
}

/// What the map's case layer needs of a case, kept in memory for tiles.
#[derive(Debug, Clone, Serialize)]
pub struct CaseDot {
    pub id: i64,
    pub lon: f64,
    pub lat: f64,
    pub status: Status,
    pub class: String,
    pub urgency: String,
    pub deadline: Option<i64>,
    pub handled_at: Option<i64>,
    pub supervised: bool,
    pub unit: Option<String>,
}

impl CaseDot {
    pub fn of(case: &Case) -> CaseDot {
        CaseDot {
            id: case.id,
            lon: case.lon,
            lat: case.lat,
            status: case.status,
            class: case.class.clone(),
            urgency: case.urgency.clone(),
            deadline: case.deadline,
            handled_at: case.handled_at,
            supervised: case.supervised,
            unit: case.unit.clone(),
        }
    }

    pub fn is_overdue(&self, now: i64) -> bool {
        super::model::is_overdue(self.status, self.deadline, self.handled_at, now)
    }
}

#[derive(Debug, Clone)]
pub struct CaseService {
    /// The application database (shared with the other domains).
    pub db: Db,
    /// The case tables in it.
    pub store: CaseStore,
    pub clock: Clock,
    intake: Intake,
    changes: Fanout<Change>,
    /// Every case's position and status, for the case layer in tiles.
    dots: Arc<RwLock<BTreeMap<i64, CaseDot>>>,
    keys: moka::sync::Cache<String, Option<Actor>>,
    /// Where uploaded photos are stored (shared by every clone; set once at start-up).
    photos: Arc<std::sync::OnceLock<PhotoStore>>,
    /// Held from "is this client id stored?" to its commit, so two sends of one queued report
    /// racing on this server cannot both be stored.
    client_ids: Arc<tokio::sync::Mutex<()>>,
    /// Where cases go in the linkage network, and how the network is appraised.
    network: Arc<RwLock<NetworkPolicy>>,
}

/// A stored report and the open cases of its class within [`DUPLICATE_RADIUS_M`].
#[derive(Debug, Clone)]
pub struct Reported {
    pub case: Case,
    pub duplicates: Vec<(Case, f64)>,
    /// The reporter's secret for following the case (citizens' reports only; shown once).
    pub tracking_token: Option<String>,
    /// The report's client id was stored before: this is that case, nothing new was stored.
    pub repeated: bool,
}

impl CaseService {
    /// Starts the intake on the current runtime, loads the case layer and follows the other
    /// servers' changes.
    pub async fn start(db: Db, clock: Clock) -> Result<CaseService> {
        let store = CaseStore::new(db.clone());
        let service = CaseService {
            intake: Intake::start(store.clone()),
            changes: Fanout::new(CHANNEL, 1024),
            db,
            clock,
            dots: Arc::new(RwLock::new(BTreeMap::new())),
            keys: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_secs(30))
                .build(),
            photos: Arc::new(std::sync::OnceLock::new()),
            client_ids: Arc::default(),
            network: Arc::new(RwLock::new(NetworkPolicy::standard())),
            store,
        };
        service.load_dots().await?;
        let this = service.clone();
        service
            .changes
            .follow(&service.db, move |heard: Followed<Notice>| {
                let this = this.clone();
                async move { this.hear(heard).await }
            })
            .await;
        Ok(service)
    }

    /// Reads every case's dot for the case layer.
    async fn load_dots(&self) -> Result<()> {
        let dots = self
            .store
            .all_cases()
            .await?
            .iter()
            .map(|c| (c.id, CaseDot::of(c)))
            .collect();
        if let Ok(mut current) = self.dots.write() {
            *current = dots;
        }
        Ok(())
    }

    /// Another server's change: read the case and show it here; after a gap, read the case
    /// layer again (the stream's clients missed those changes either way).
    async fn hear(&self, heard: Followed<Notice>) {
        match heard {
            Followed::Notice(notice) => match self.store.get(notice.id).await {
                Ok(case) => self.publish_local(&notice.kind, &case),
                Err(e) => tracing::warn!("case {} announced but unreadable: {e}", notice.id),
            },
            Followed::Missed => {
                if let Err(e) = self.load_dots().await {
                    tracing::warn!("re-reading the case layer failed: {e}");
                }
            }
        }
    }

    /// Waits until this server hears other servers' changes (at once on SQLite), so a caller
    /// need not guess how long LISTEN takes.
    pub async fn fanout_ready(&self) {
        self.changes.ready().await;
    }

    /// Stores uploaded photos here from now on (once; later calls are ignored).
    pub fn attach_photos(&self, store: PhotoStore) {
        let _ = self.photos.set(store);
    }

    /// Routes cases (and appraises the network) by this policy from now on.
    pub fn set_network(&self, policy: NetworkPolicy) {
        if let Ok(mut current) = self.network.write() {
            *current = policy;
        }
    }

    pub fn network(&self) -> NetworkPolicy {
        self.network
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|_| NetworkPolicy::standard())
    }

    pub fn photo_store(&self) -> Option<&PhotoStore> {
        self.photos.get()
    }

    /// Stores checked photos (before the case or step that links them is committed); the keys
    /// created, to take back if that commit fails. Incident tasks store theirs through it too.
    pub async fn store_photos(
        &self,
        uploads: &[crate::photos::Checked],
    ) -> std::result::Result<Vec<object_store::path::Path>, PhotoError> {
        if uploads.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.photo_store().ok_or(PhotoError::NotConfigured)?;
        store.put_all(uploads).await
    }

    /// Takes back the files a failed step wrote — except those another case recorded meanwhile
    /// (the same bytes uploaded at the same time by someone else).
    pub async fn forget_photos(&self, created: &[object_store::path::Path]) {
        let Some(store) = self.photo_store() else {
            return;
        };
        let mut unclaimed = Vec::new();
        for key in created {
            let hash = key.filename().and_then(|name| name.get(..64)).unwrap_or("");
            if matches!(self.store.photo_type(hash).await, Ok(None)) {
                unclaimed.push(key.clone());
            }
        }
        store.remove(&unclaimed).await;
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    pub fn dots(&self) -> Vec<CaseDot> {
        self.dots
            .read()
            .map(|d| d.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Cases in a lon/lat box for the map layer.
    pub fn dots_in(&self, bbox: [f64; 4]) -> Vec<CaseDot> {
        self.dots
            .read()
            .map(|d| {
                d.values()
                    .filter(|c| {
                        c.lon >= bbox[0] && c.lon <= bbox[2] && c.lat >= bbox[1] && c.lat <= bbox[3]
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Tells this server's clients and the other servers (without waiting for the latter:
    /// the answer to the request does not depend on them).
    pub(super) fn publish(&self, kind: &str, case: &Case) {
        self.publish_local(kind, case);
        let (changes, db) = (self.changes.clone(), self.db.clone());
        let notice = Notice {
            id: case.id,
            kind: kind.to_string(),
        };
        tokio::spawn(async move { changes.announce(&db, &notice).await });
    }

    /// Tells this server's clients (stream subscribers, the case layer).
    pub fn publish_local(&self, kind: &str, case: &Case) {
        if let Ok(mut dots) = self.dots.write() {
            dots.insert(case.id, CaseDot::of(case));
        }
        let now = self.clock.now();
        self.changes.publish(Change {
            kind: kind.to_string(),
            overdue: case.is_overdue(now),
            case: case.clone(),
            at: now,
        });
    }

    /// The actor behind a bearer secret (cached for 30 s; revocation takes that long).
    pub async fn actor_for_key(&self, secret: &str) -> Result<Option<Actor>> {
        if let Some(hit) = self.keys.get(secret) {
            return Ok(hit);
        }
        let actor = super::keys::resolve(&self.db, secret).await?;
        self.keys.insert(secret.to_string(), actor.clone());
        Ok(actor)
    }

    /// Validates, locates and stores a report; answers once it is committed.
    pub async fn report(
        &self,
        store: &LayerStore,
        tables: &CodeTables,
        report: Report,
        actor: &Actor,
    ) -> Result<Reported> {
        let Some(client_id) = report.client_id.clone() else {
            return self.report_new(store, tables, report, actor).await;
        };
        if client_id.is_empty()
            || client_id.len() > 64
            || !client_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(CaseError::invalid(
                "client_id",
                "client_id must be 1 to 64 letters, digits, - or _ (a UUID will do)",
            ));
        }
        // One report with a client id at a time: the lookup and the commit cannot interleave
        // with a repeat of the same report (phones send rarely; cases without one never wait).
        let _guard = self.client_ids.lock().await;
        if let Some(id) = self.store.find_by_client_id(&client_id).await? {
            return Ok(Reported {
                case: self.store.get(id).await?,
                duplicates: Vec::new(),
                tracking_token: None,
                repeated: true,
            });
        }
        self.report_new(store, tables, report, actor).await
    }

    async fn report_new(
        &self,
        store: &LayerStore,
        tables: &CodeTables,
        report: Report,
        actor: &Actor,
    ) -> Result<Reported> {
        let class = tables.class(&report.class).ok_or_else(|| {
            CaseError::invalid("class", format!("unknown case class {:?}", report.class))
        })?;
        let citizen = actor.role == Role::Anonymous;
        if citizen && !class.offered_to_public() {
            return Err(CaseError::invalid(
                "class",
                format!(
                    "class {} ({}) is not open to public reports",
                    class.code, class.name
                ),
            ));
        }
        let urgency = report
            .urgency
            .clone()
            .unwrap_or_else(|| "normal".to_string());
        if !class.limits_h.contains_key(&urgency) {
            return Err(CaseError::invalid(
                "urgency",
                format!(
                    "urgency must be one of {}",
                    class
                        .limits_h
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let description = report.description.trim().to_string();
        if description.is_empty() {
            return Err(CaseError::invalid("description", "describe the problem"));
        }
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(CaseError::invalid(
                "description",
                format!("at most {MAX_DESCRIPTION} characters"),
            ));
        }
        check_photos(&report.photos)?;
        if report.photos.len() + report.uploads.len() > MAX_PHOTOS {
            return Err(PhotoError::TooMany.into());
        }
        let channel = report.channel.clone().unwrap_or_else(|| "web".into());
        if !CHANNELS.contains(&channel.as_str()) {
            return Err(CaseError::invalid(
                "channel",
                format!("channel must be one of {}", CHANNELS.join(", ")),
            ));
        }
        if citizen && !PUBLIC_CHANNELS.contains(&channel.as_str()) {
            return Err(CaseError::invalid(
                "channel",
                format!(
                    "reports without a key come through {}; other channels are entered by staff",
                    PUBLIC_CHANNELS.join(", ")
                ),
            ));
        }
        let p = Coord {
            x: report.lon,
            y: report.lat,
        };
        let placed = place(store, tables, p, None, DEFAULT_TOLERANCE_M, 0)?;
        let codes = placed.codes(store);
        let now = self.clock.now();
        let (tracking_token, track_hash) = if citizen {
            let (token, hash) = super::public_view::new_token();
            (Some(token), Some(hash))
        } else {
            (None, None)
        };
        let mut photos = report.photos;
        photos.extend(
            report
                .uploads
                .iter()
                .map(|u| crate::photos::url(&u.info.hash)),
        );
        let queue = self
            .network()
            .queue_for(store, codes.village, codes.town, p.x, p.y);
        let command = tables.command_of_class(&class.code).map(|b| b.code.clone());
        let new = NewCase {
            queue,
            command,
            class: class.code.clone(),
            urgency,
            public_report: citizen && PUBLIC_CHANNELS.contains(&channel.as_str()),
            channel,
            description,
            photos,
            address: report.address.filter(|a| !a.trim().is_empty()),
            reporter: report.reporter.filter(|r| !r.trim().is_empty()),
            lon: p.x,
            lat: p.y,
            cell: codes.cell.map(str::to_string),
            village: codes.village.map(str::to_string),
            town: codes.town.map(str::to_string),
            ambiguous: codes.ambiguous,
            unit: None,
            unit_basis: None,
            reported_at: now,
            actor: actor.clone(),
            track_hash,
            uploads: report.uploads.iter().map(|u| u.info.clone()).collect(),
            client_id: report.client_id.clone(),
        };
        let duplicates = self.duplicates(&new.class, p).await?;
        // Photo files first, then the case that links them: a crash in between leaves an
        // unreferenced file nobody can fetch, never a case pointing at a missing photo.
        let created = self.store_photos(&report.uploads).await?;
        let id = match self.intake.submit(new.clone()).await {
            Ok(id) => id,
            Err(e) => {
                self.forget_photos(&created).await;
                return Err(e);
            }
        };
        let case = Case {
            id,
            status: Status::Reported,
            class: new.class,
            urgency: new.urgency,
            channel: new.channel,
            description: new.description,
            photos: new.photos,
            address: new.address,
            reporter: new.reporter,
            lon: new.lon,
            lat: new.lat,
            cell: new.cell,
            village: new.village,
            town: new.town,
            ambiguous: new.ambiguous,
            unit: None,
            unit_basis: None,
            supervised: false,
            overdue_flag: false,
            reported_at: now,
            dispatched_at: None,
            deadline: None,
            handled_at: None,
            closed_at: None,
            updated_at: now,
            version: 0,
            public_report: new.public_report,
            public_description: None,
            photos_public: false,
            track_hash: new.track_hash,
            first_queue: new.queue.clone(),
            queue: new.queue,
            command: new.command,
        };
        self.publish("created", &case);
        Ok(Reported {
            case,
            duplicates,
            tracking_token,
            repeated: false,
        })
    }

    async fn duplicates(&self, class: &str, p: Coord<f64>) -> Result<Vec<(Case, f64)>> {
        let (per_lat, per_lon) = crate::spatial::distance::metres_per_degree(p.y);
        let (dx, dy) = (
            DUPLICATE_RADIUS_M / per_lon * 1.01,
            DUPLICATE_RADIUS_M / per_lat * 1.01,
        );
        let near = self
            .store
            .open_in_box(class, [p.x - dx, p.y - dy, p.x + dx, p.y + dy])
            .await?;
        let mut out: Vec<(Case, f64)> = near
            .into_iter()
            .map(|c| {
                let d = metres(p, Coord { x: c.lon, y: c.lat });
                (c, d)
            })
            .filter(|(_, d)| *d <= DUPLICATE_RADIUS_M)
            .collect();
        out.sort_by(|a, b| a.1.total_cmp(&b.1));
        Ok(out)
    }

    /// Takes an action on a case for an actor; the case as it is afterwards.
    pub async fn act(
        &self,
        store: &LayerStore,
        tables: &CodeTables,
        id: i64,
        request: ActionRequest,
        actor: &Actor,
    ) -> Result<Case> {
        let action = Action::parse(&request.action).ok_or_else(|| {
            CaseError::invalid(
                "action",
                format!(
                    "unknown action {:?}; one of {}",
                    request.action,
                    Action::REQUESTABLE
                        .into_iter()
                        .chain(Action::NETWORK)
                        .map(Action::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        let case = self.store.get(id).await?;
        if let Some(v) = request.version
            && v != case.version
        {
            return Err(CaseError::Conflict {
                id,
                status: case.status,
            });
        }
        let to = workflow::check(actor, &case, action).map_err(CaseError::Refused)?;
        let note = request
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        if NEEDS_NOTE.contains(&action) && note.is_none() {
            return Err(CaseError::invalid(
                "note",
                format!("{} needs a note saying why", action.as_str()),
            ));
        }
        let mut public_note = trimmed(request.public_note.as_deref());
        if action != Action::Callback {
            for (field, set) in [
                ("reached", request.reached.is_some()),
                ("satisfaction", request.satisfaction.is_some()),
                ("reopen", request.reopen.is_some()),
                ("close", request.close.is_some()),
            ] {
                if set {
                    return Err(CaseError::invalid(
                        field,
                        "only a callback takes this field",
                    ));
                }
            }
        }
        if action != Action::HandDown && request.town.is_some() {
            return Err(CaseError::invalid("town", "only hand_down takes a town"));
        }
        for (field, text) in [("note", &note), ("public_note", &public_note)] {
            if text
                .as_ref()
                .is_some_and(|n| n.chars().count() > MAX_DESCRIPTION)
            {
                return Err(CaseError::invalid(
                    field,
                    format!("at most {MAX_DESCRIPTION} characters"),
                ));
            }
        }
        check_photos(&request.photos)?;
        if request.photos.len() + request.uploads.len() > MAX_PHOTOS {
            return Err(PhotoError::TooMany.into());
        }
        let publishing = Publishing::of(&request, &case)?;
        if action != Action::Publish
            && let Some(field) = publishing.field()
        {
            return Err(CaseError::invalid(
                field,
                "only the publish action approves descriptions and photos for the public",
            ));
        }
        if action == Action::Publish && publishing.is_empty() && public_note.is_none() {
            return Err(CaseError::invalid(
                "public_note",
                "publish needs something to publish: public_note, publish_description, public_description or publish_photos",
            ));
        }
        let now = self.clock.now();
        let mut next = case.clone();
        next.status = to;
        next.updated_at = now;
        let mut data = serde_json::Map::new();
        let limit_ms = |c: &Case| -> Result<i64> {
            let class = tables
                .class(&c.class)
                .ok_or_else(|| CaseError::Corrupt(format!("case class {} vanished", c.class)))?;
            let hours = class.limits_h.get(&c.urgency).copied().ok_or_else(|| {
                CaseError::Corrupt(format!("no time limit for urgency {}", c.urgency))
            })?;
            Ok(i64::from(hours) * HOUR_MS)
        };
        match action {
            Action::File => {
                let p = Coord {
                    x: case.lon,
                    y: case.lat,
                };
                let placed = place(store, tables, p, Some(&case.class), DEFAULT_TOLERANCE_M, 1)?;
                let codes = placed.codes(store);
                next.cell = codes.cell.map(str::to_string);
                next.village = codes.village.map(str::to_string);
                next.town = codes.town.map(str::to_string);
                next.ambiguous = codes.ambiguous;
                if let Some((unit, basis)) = placed.unit(store) {
                    next.unit = Some(unit.to_string());
                    next.unit_basis = Some(basis.as_str().to_string());
                }
                data.insert("unit".into(), next.unit.clone().into());
                data.insert("basis".into(), next.unit_basis.clone().into());
            }
            Action::Dispatch => {
                let unit = match request.unit.as_deref().map(str::trim) {
                    Some(code) if !code.is_empty() => {
                        if unit_level(store, code).is_none() {
                            return Err(CaseError::invalid(
                                "unit",
                                format!("no handling unit with code {code:?}"),
                            ));
                        }
                        next.unit_basis = Some("dispatcher".into());
                        code.to_string()
                    }
                    _ => case.unit.clone().ok_or_else(|| {
                        CaseError::invalid("unit", "routing found no unit for this case; name one")
                    })?,
                };
                next.unit = Some(unit);
                next.dispatched_at = Some(now);
                next.deadline = Some(now + limit_ms(&case)?);
                next.handled_at = None;
                next.overdue_flag = false;
                data.insert("unit".into(), next.unit.clone().into());
                data.insert("deadline".into(), next.deadline.into());
            }
            Action::Feedback => {
                next.handled_at = Some(now);
                data.insert("deadline".into(), case.deadline.into());
                data.insert("dispatched_at".into(), case.dispatched_at.into());
                data.insert(
                    "on_time".into(),
                    case.deadline.is_none_or(|d| now <= d).into(),
                );
            }
            Action::VerifyFail => {
                next.handled_at = None;
                next.overdue_flag = false;
                next.deadline = Some(now + limit_ms(&case)?);
                data.insert("deadline".into(), next.deadline.into());
            }
            Action::Return => {
                data.insert("unit".into(), case.unit.clone().into());
                next.deadline = None;
                next.dispatched_at = None;
                next.overdue_flag = false;
            }
            Action::Extend => {
                let hours = request
                    .hours
                    .ok_or_else(|| CaseError::invalid("hours", "extend needs the hours to add"))?;
                if !(1..=MAX_EXTENSION_H).contains(&hours) {
                    return Err(CaseError::invalid(
                        "hours",
                        format!("hours must be 1–{MAX_EXTENSION_H}"),
                    ));
                }
                let old = case.deadline.unwrap_or(now);
                next.deadline = Some(old + hours * HOUR_MS);
                if next.deadline > Some(now) {
                    next.overdue_flag = false;
                }
                data.insert("hours".into(), hours.into());
                data.insert("old_deadline".into(), old.into());
                data.insert("deadline".into(), next.deadline.into());
            }
            Action::Resume => {
                next.deadline = Some(now + limit_ms(&case)?);
                next.overdue_flag = false;
                data.insert("deadline".into(), next.deadline.into());
            }
            Action::PassUp => {
                if queue_town(&case.queue).is_none() {
                    return Err(CaseError::state(
                        "queue",
                        "the case is already in the district centre's queue",
                    ));
                }
                next.queue = DISTRICT.to_string();
                data.insert("from_queue".into(), case.queue.clone().into());
                data.insert("to_queue".into(), next.queue.clone().into());
            }
            Action::HandDown => {
                if case.queue != DISTRICT {
                    return Err(CaseError::state(
                        "queue",
                        format!(
                            "only a case in the district centre's queue is handed down; this one is in {}",
                            case.queue
                        ),
                    ));
                }
                let town = trimmed(request.town.as_deref())
                    .or_else(|| case.town.clone())
                    .ok_or_else(|| {
                        CaseError::invalid("town", "the case lies in no town; name one")
                    })?;
                let directory = NodeDirectory { store, tables };
                if directory.sub_centre(&town).is_none() {
                    return Err(CaseError::invalid(
                        "town",
                        format!("no town sub-centre for town {town:?}"),
                    ));
                }
                next.queue = town_queue(&town);
                data.insert("from_queue".into(), case.queue.clone().into());
                data.insert("to_queue".into(), next.queue.clone().into());
            }
            Action::Callback => {
                let callback = Callback::of(&request)?;
                data.insert("reached".into(), callback.reached.into());
                data.insert(
                    "satisfaction".into(),
                    callback.satisfaction.map(Satisfaction::as_str).into(),
                );
                if callback.reopen {
                    next.status = Status::Reopened;
                    next.handled_at = None;
                    next.overdue_flag = false;
                    next.deadline = Some(now + limit_ms(&case)?);
                    data.insert("reopened".into(), true.into());
                    data.insert("deadline".into(), next.deadline.into());
                } else if callback.close {
                    if case.status != Status::Verifying {
                        return Err(CaseError::state(
                            "close",
                            "only a verified case closes on its call-back; verify it first",
                        ));
                    }
                    workflow::check(actor, &case, Action::Close).map_err(CaseError::Refused)?;
                    next.status = Status::Closed;
                    next.closed_at = Some(now);
                    data.insert("closed".into(), true.into());
                }
                if public_note.is_none() {
                    public_note = Some(callback.public_note());
                }
            }
            Action::Supervise => next.supervised = true,
            Action::Close => next.closed_at = Some(now),
            Action::Publish => {
                if let Some(text) = publishing.description {
                    next.public_description = text;
                    data.insert(
                        "description_public".into(),
                        next.public_description.is_some().into(),
                    );
                }
                if let Some(approved) = publishing.photos {
                    next.photos_public = approved;
                    data.insert("photos_public".into(), approved.into());
                }
            }
            Action::Reject
            | Action::Start
            | Action::VerifyOk
            | Action::Suspend
            | Action::Report
            | Action::Overdue => {}
        }
        // Which unit the step counts for in the appraisal, whoever took it.
        data.insert("case_unit".into(), next.unit.clone().into());
        // …and which town's sub-centre it counts for, and when it was reported (filing on time).
        data.insert("case_town".into(), next.town.clone().into());
        if action == Action::File {
            data.insert("reported_at".into(), case.reported_at.into());
        }
        let mut photos = request.photos;
        photos.extend(
            request
                .uploads
                .iter()
                .map(|u| crate::photos::url(&u.info.hash)),
        );
        let event = NewEvent {
            action: action.as_str().to_string(),
            from_status: Some(case.status),
            actor: actor.name.clone(),
            role: actor.role.as_str().to_string(),
            unit: actor.unit.clone(),
            note,
            public_note,
            photos,
            uploads: request.uploads.iter().map(|u| u.info.clone()).collect(),
            data: serde_json::Value::Object(data),
        };
        let created = self.store_photos(&request.uploads).await?;
        let after = match self.store.apply(&next, case.version, &event).await {
            Ok(after) => after,
            Err(e) => {
                self.forget_photos(&created).await;
                return Err(e);
            }
        };
        self.publish(action.as_str(), &after);
        Ok(after)
    }

    /// The appraisal over `[from, to)`: every unit (of one level, or both) in its workload
    /// category and ranked, and every town sub-centre. The database sums the period's steps
    /// ([`CaseStore::tallies`](super::store::CaseStore::tallies)); only the orders and the
    /// units' list are read here.
    pub async fn appraisal(
        &self,
        store: &LayerStore,
        from: i64,
        to: i64,
        level: Option<Level>,
    ) -> Result<super::appraisal::Appraisal> {
        let scope = self.appraisal_scope(store, from, to, level).await?;
        let tallies = self
            .store
            .tallies(
                from,
                to,
                scope.rules.file_limit_ms,
                scope.rules.dispatch_limit_ms,
            )
            .await?;
        Ok(super::appraisal::appraise_tallies(
            &scope.units,
            &scope.towns,
            &tallies,
            &scope.orders,
            &scope.open_overdue,
            &scope.rules,
        ))
    }

    /// The same appraisal read off every event of the period in Rust
    /// ([`appraise_network`](super::appraisal::appraise_network)): the reference the tests hold
    /// [`CaseService::appraisal`] to, and the bench's baseline.
    pub async fn appraisal_from_events(
        &self,
        store: &LayerStore,
        from: i64,
        to: i64,
        level: Option<Level>,
    ) -> Result<super::appraisal::Appraisal> {
        let scope = self.appraisal_scope(store, from, to, level).await?;
        let events = self.store.events_between(from, to).await?;
        Ok(super::appraisal::appraise_network(
            &scope.units,
            &scope.towns,
            &events,
            &scope.orders,
            &scope.open_overdue,
            &scope.rules,
        ))
    }

    /// What an appraisal of `[from, to)` needs besides the steps: the units and sub-centres to
    /// list, the orders issued in the period, the cases on the clock past their deadline, and
    /// the rules.
    async fn appraisal_scope(
        &self,
        store: &LayerStore,
        from: i64,
        to: i64,
        level: Option<Level>,
    ) -> Result<AppraisalScope> {
        let mut units = Vec::new();
        for (role, l) in [
            (LayerRole::DistrictUnit, Level::District),
            (LayerRole::TownUnit, Level::Town),
        ] {
            if level.is_some_and(|want| want != l) {
                continue;
            }
            let Some(layer) = store.by_role(role) else {
                continue;
            };
            for i in 0..layer.len() {
                let unit_type = match layer.property(i, "unit_type") {
                    Some(crate::spatial::PropertyValue::Text(t)) => t.to_string(),
                    _ => String::new(),
                };
                units.push(super::appraisal::UnitInfo {
                    code: layer.id(i).to_string(),
                    name: layer.label(i).unwrap_or_default().to_string(),
                    unit_type,
                    level: l.as_str(),
                });
            }
        }
        let sub_centres = NodeDirectory::sub_centres_of(store);
        let towns: Vec<super::appraisal::TownInfo> = sub_centres
            .into_iter()
            .map(|(code, name)| super::appraisal::TownInfo { code, name })
            .collect();
        let orders = self.orders_between(from, to).await?;
        let at = to.min(self.clock.now());
        let open_overdue: Vec<String> = self
            .dots()
            .into_iter()
            .filter(|d| d.status.is_on_clock() && d.is_overdue(at))
            .filter_map(|d| d.unit)
            .collect();
        let policy = self.network();
        let rules = super::appraisal::Rules {
            file_limit_ms: policy.file_limit_h * HOUR_MS,
            dispatch_limit_ms: policy.dispatch_limit_h * HOUR_MS,
            category_thresholds: policy.category_thresholds,
        };
        Ok(AppraisalScope {
            units,
            towns,
            orders,
            open_overdue,
            rules,
        })
    }

    /// Flags cases whose deadline passed while on the clock (one `overdue` event each).
    pub async fn sweep_overdue(&self) -> Result<Vec<i64>> {
        let now = self.clock.now();
        let mut flagged = Vec::new();
        for case in self.store.newly_overdue(now).await? {
            let mut next = case.clone();
            next.overdue_flag = true;
            next.updated_at = now;
            let event = NewEvent {
                action: Action::Overdue.as_str().into(),
                from_status: Some(case.status),
                actor: "system".into(),
                role: "system".into(),
                unit: case.unit.clone(),
                note: None,
                public_note: None,
                photos: Vec::new(),
                uploads: Vec::new(),
                data: serde_json::json!({"deadline": case.deadline}),
            };
            match self.store.apply(&next, case.version, &event).await {
                Ok(after) => {
                    flagged.push(after.id);
                    self.publish("overdue", &after);
                }
                Err(CaseError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(flagged)
    }
}

/// The inputs of an appraisal besides the steps themselves.
struct AppraisalScope {
    units: Vec<super::appraisal::UnitInfo>,
    towns: Vec<super::appraisal::TownInfo>,
    orders: Vec<super::supervision::Order>,
    open_overdue: Vec<String>,
    rules: super::appraisal::Rules,
}

/// Report channels (来源渠道).
pub const CHANNELS: [&str; 6] = [
    "web",
    "hotline_12345",
    "supervisor",
    "video",
    "app",
    "open311",
];

/// Channels the public reports through without a key; only their reports may be listed.
pub const PUBLIC_CHANNELS: [&str; 3] = ["web", "app", "open311"];

/// A text field with its surrounding blanks removed; empty counts as absent.
fn trimmed(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// What a `publish` step changes: `description` is `Some(new value)` of the public description
/// (`Some(None)` withdraws it), `photos` the new approval of the photos.
#[derive(Debug, Default)]
struct Publishing {
    description: Option<Option<String>>,
    photos: Option<bool>,
    fields: Vec<&'static str>,
}

impl Publishing {
    fn of(request: &ActionRequest, case: &Case) -> Result<Publishing> {
        let mut out = Publishing::default();
        let edited = trimmed(request.public_description.as_deref());
        if request.public_description.is_some() {
            out.fields.push("public_description");
        }
        if request.publish_description.is_some() {
            out.fields.push("publish_description");
        }
        if request.publish_photos.is_some() {
            out.fields.push("publish_photos");
        }
        if edited
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_DESCRIPTION)
        {
            return Err(CaseError::invalid(
                "public_description",
                format!("at most {MAX_DESCRIPTION} characters"),
            ));
        }
        out.description = match (request.publish_description, edited) {
            (Some(false), Some(_)) => {
                return Err(CaseError::invalid(
                    "public_description",
                    "a text to publish and publish_description: false contradict each other",
                ));
            }
            (Some(false), None) => Some(None),
            (_, Some(text)) => Some(Some(text)),
            (Some(true), None) => Some(Some(case.description.clone())),
            (None, None) if request.public_description.is_some() => {
                return Err(CaseError::invalid(
                    "public_description",
                    "the text to publish is empty (withdraw with publish_description: false)",
                ));
            }
            (None, None) => None,
        };
        out.photos = request.publish_photos;
        Ok(out)
    }

    fn is_empty(&self) -> bool {
        self.description.is_none() && self.photos.is_none()
    }

    /// The first publishing field the request set.
    fn field(&self) -> Option<&'static str> {
        self.fields.first().copied()
    }
}

/// What the citizen said on the call-back (回访).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Satisfaction {
    Satisfied,
    Basic,
    Unsatisfied,
}

impl Satisfaction {
    pub const ALL: [Satisfaction; 3] = [
        Satisfaction::Satisfied,
        Satisfaction::Basic,
        Satisfaction::Unsatisfied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "satisfied",
            Satisfaction::Basic => "basic",
            Satisfaction::Unsatisfied => "unsatisfied",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "满意",
            Satisfaction::Basic => "基本满意",
            Satisfaction::Unsatisfied => "不满意",
        }
    }

    pub fn parse(s: &str) -> Option<Satisfaction> {
        Satisfaction::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A call-back request, checked: whether the citizen was reached, what they said, and what
/// follows (reopen on dissatisfaction, close on satisfaction).
#[derive(Debug)]
struct Callback {
    reached: bool,
    satisfaction: Option<Satisfaction>,
    reopen: bool,
    close: bool,
}

impl Callback {
    fn of(request: &ActionRequest) -> Result<Callback> {
        let reached = request.reached.ok_or_else(|| {
            CaseError::invalid("reached", "a callback says whether the citizen was reached")
        })?;
        let satisfaction = match (reached, request.satisfaction.as_deref().map(str::trim)) {
            (true, Some(s)) => Some(Satisfaction::parse(s).ok_or_else(|| {
                CaseError::invalid(
                    "satisfaction",
                    format!("satisfaction must be satisfied, basic or unsatisfied, got {s:?}"),
                )
            })?),
            (true, None) => {
                return Err(CaseError::invalid(
                    "satisfaction",
                    "a citizen reached says how satisfied they are",
                ));
            }
            (false, Some(_)) => {
                return Err(CaseError::invalid(
                    "satisfaction",
                    "nobody was reached, so nobody said how satisfied they are",
                ));
            }
            (false, None) => None,
        };
        let unsatisfied = satisfaction == Some(Satisfaction::Unsatisfied);
        let reopen = request.reopen.unwrap_or(false);
        if reopen && !unsatisfied {
            return Err(CaseError::invalid(
                "reopen",
                "only an unsatisfied call-back reopens the case",
            ));
        }
        let close = request.close.unwrap_or(false);
        if close
            && !matches!(
                satisfaction,
                Some(Satisfaction::Satisfied | Satisfaction::Basic)
            )
        {
            return Err(CaseError::invalid(
                "close",
                "only a satisfied call-back closes the case",
            ));
        }
        Ok(Callback {
            reached,
            satisfaction,
            reopen,
            close,
        })
    }

    /// What Open311's `status_notes` say of it when the caller wrote nothing for the public.
    fn public_note(&self) -> String {
        match self.satisfaction {
            None => "回访：未联系上反映人".to_string(),
            Some(s) => format!("回访：{}", s.name_zh()),
        }
    }
}

/// Actions that must say why.
const NEEDS_NOTE: [Action; 8] = [
    Action::PassUp,
    Action::HandDown,
    Action::Reject,
    Action::Return,
    Action::Extend,
    Action::VerifyFail,
    Action::Suspend,
    Action::Feedback,
];

fn check_photos(photos: &[String]) -> Result<()> {
    if photos.len() > MAX_PHOTOS {
        return Err(CaseError::invalid(
            "photos",
            format!("at most {MAX_PHOTOS} photos"),
        ));
    }
    for (i, url) in photos.iter().enumerate() {
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() <= 1000
            && !url.chars().any(char::is_whitespace);
        if !ok {
            return Err(CaseError::invalid(
                &format!("photos[{i}]"),
                "a photo is an http(s) URL of at most 1000 characters",
            ));
        }
    }
    Ok(())
}
