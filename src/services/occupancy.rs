//! Live shelter occupancy: what shelter managers report during an emergency (people in, people
//! out, open, closed, full), kept in the case database and applied on top of the shelter layer.
//!
//! The shelter layer is the register — capacity, and occupancy and status as they were when it
//! was exported — and stays immutable like every layer (a SIGHUP reload replaces it wholesale).
//! Reports change by the minute during an evacuation, must survive a restart and must be the
//! same on every server sharing one PostgreSQL, so they live in the `shelter_state` table and
//! override the register per shelter id. In memory they are one immutable map swapped
//! atomically on each change (copy on write): reads are lock-free and a request sees one
//! consistent state throughout, writes are rare. Allocation, `nearest?people=N` and `around`
//! all read the same snapshot, so the map, the plan and the duty officer's report agree.
//!
//! Occupancy never leaves `0..=capacity`: a change that would is refused, not clamped, because
//! a silently clamped headcount is a lost family. Status is what the manager says (`open`,
//! `closed`, `full`); it is not derived from the headcount, so a manager can close a shelter
//! that still has room (no water) or declare it full early (no more tents).

use crate::cases::store::numbered;
use crate::cases::{Actor, CaseDb};
use crate::catalog::Role;
use crate::spatial::{Layer, PropertyValue};
use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Mutex, OnceCell, broadcast};

/// PostgreSQL channel on which servers sharing one database announce shelter changes.
pub const CHANNEL: &str = "gridlink_shelters";
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
fn register(layer: &Layer, i: usize) -> (i64, ShelterStatus) {
    (
        integer(layer, i, "occupancy").unwrap_or(0).max(0),
        ShelterStatus::from_register(layer.property(i, "status").and_then(PropertyValue::as_text)),
    )
}

fn capacity(layer: &Layer, i: usize) -> i64 {
    integer(layer, i, "capacity").unwrap_or(0).max(0)
}

impl Live {
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
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
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
    fn apply(
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

/// A shelter change as announced on `/api/stream` and to the other servers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShelterChange {
    pub shelter: String,
    /// `report` (a manager's PATCH) or `allocation` (a committed plan).
    pub source: String,
    pub capacity: i64,
    pub occupancy_before: i64,
    pub occupancy: i64,
    pub status_before: ShelterStatus,
    pub status: ShelterStatus,
    pub free: i64,
    pub actor: String,
    pub at: i64,
}

/// One entry of a shelter's append-only history.
#[derive(Debug, Clone, Serialize)]
pub struct ShelterEvent {
    pub id: i64,
    pub source: String,
    pub occupancy_before: i64,
    pub occupancy: i64,
    pub status_before: String,
    pub status: String,
    pub actor: String,
    pub role: String,
    pub at: i64,
    pub note: Option<String>,
}

/// A notice to the other servers on one PostgreSQL.
#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    from: String,
    change: ShelterChange,
}

/// The live shelter state of one server: the snapshot, its loading, its writes and its
/// subscribers. Cheap to clone (shared).
#[derive(Clone)]
pub struct Occupancy {
    inner: Arc<Inner>,
}

struct Inner {
    live: ArcSwap<Live>,
    loaded: OnceCell<()>,
    /// Serialises this server's writes: a delta reads the current headcount and writes the
    /// next, and a committed plan must see the state it was planned on.
    write: Mutex<()>,
    changes: broadcast::Sender<ShelterChange>,
    /// This server's name in change notices, so it skips its own.
    instance: String,
}

impl Default for Occupancy {
    fn default() -> Self {
        let (changes, _) = broadcast::channel(256);
        let instance: [u8; 8] = rand::random();
        Occupancy {
            inner: Arc::new(Inner {
                live: ArcSwap::from_pointee(Live::default()),
                loaded: OnceCell::new(),
                write: Mutex::new(()),
                changes,
                instance: hex::encode(instance),
            }),
        }
    }
}

impl std::fmt::Debug for Occupancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Occupancy")
            .field("reported", &self.inner.live.load().len())
            .field("loaded", &self.inner.loaded.initialized())
            .finish()
    }
}

fn sql(pg: bool, text: &str) -> Cow<'_, str> {
    if pg {
        Cow::Owned(numbered(text))
    } else {
        Cow::Borrowed(text)
    }
}

/// Runs `$body` with `$pool` bound to the database's pool and `$pg` telling which back end.
macro_rules! on_db {
    ($db:expr, |$pool:ident, $pg:ident| $body:expr) => {
        match $db {
            CaseDb::Sqlite($pool) => {
                let $pg = false;
                $body
            }
            CaseDb::Postgres($pool) => {
                let $pg = true;
                $body
            }
        }
    };
}

/// A change to write: the shelter, its register values and capacity, and the change.
struct Pending {
    id: String,
    capacity: i64,
    register: (i64, ShelterStatus),
    change: Change,
}

fn status_of(text: &str) -> Result<ShelterStatus, ShelterError> {
    ShelterStatus::parse(text).ok_or_else(|| ShelterError::Corrupt(format!("status {text:?}")))
}

impl Occupancy {
    /// The current snapshot (the register alone until [`Occupancy::load`] ran).
    pub fn snapshot(&self) -> Arc<Live> {
        self.inner.live.load_full()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ShelterChange> {
        self.inner.changes.subscribe()
    }

    pub fn is_loaded(&self) -> bool {
        self.inner.loaded.initialized()
    }

    /// Reads every reported state from the database, once (later calls return at once), and
    /// on PostgreSQL starts listening for the other servers' changes. `serve` calls it at
    /// start so a broken database stops the start; handlers call it too, so a router built
    /// without `serve` (tests, embedding) still sees the stored state.
    pub async fn load(&self, db: &CaseDb) -> Result<(), ShelterError> {
        self.inner
            .loaded
            .get_or_try_init(|| async {
                let all = read_all(db).await?;
                self.inner.live.store(Arc::new(Live { by_id: all }));
                self.listen(db);
                Ok::<(), ShelterError>(())
            })
            .await?;
        Ok(())
    }

    /// A manager's report on shelter `id`: checked against its capacity, stored with its
    /// event, then visible to every reader and announced.
    pub async fn report(
        &self,
        db: &CaseDb,
        layer: &Layer,
        id: &str,
        change: Change,
        actor: &Actor,
        now: i64,
    ) -> Result<ShelterChange, ShelterError> {
        change.check()?;
        if layer.def.role != Some(Role::Shelter) {
            return Err(ShelterError::MissingLayer("shelter"));
        }
        let i = layer
            .find(id)
            .ok_or_else(|| ShelterError::UnknownShelter(id.to_string()))?;
        self.load(db).await?;
        let _guard = self.inner.write.lock().await;
        let pending = vec![Pending {
            id: id.to_string(),
            capacity: capacity(layer, i),
            register: register(layer, i),
            change,
        }];
        let mut done = self.write(db, pending, "report", actor, now).await?;
        done.pop()
            .ok_or_else(|| ShelterError::Corrupt("no change written".into()))
    }

    /// Plans against the current state and applies the plan's arrivals, as one transaction:
    /// `plan` runs under this server's write lock on the latest snapshot and returns its
    /// result and the people it sends to each shelter (feature index, people). Another server
    /// filling a shelter meanwhile makes the commit fail with [`ShelterError::OverCapacity`]
    /// (field `commit`) and nothing is written.
    pub async fn commit<T>(
        &self,
        db: &CaseDb,
        layer: &Layer,
        actor: &Actor,
        now: i64,
        note: Option<String>,
        plan: impl FnOnce(&Live) -> (T, Vec<(usize, i64)>),
    ) -> Result<(T, Vec<ShelterChange>), ShelterError> {
        self.load(db).await?;
        let _guard = self.inner.write.lock().await;
        let live = self.snapshot();
        let (result, arrivals) = plan(&live);
        let mut by_shelter: Vec<(usize, i64)> = Vec::new();
        for (i, people) in arrivals {
            match by_shelter.iter_mut().find(|(j, _)| *j == i) {
                Some((_, n)) => *n += people,
                None => by_shelter.push((i, people)),
            }
        }
        // Rows are locked in id order, so two servers committing overlapping plans queue up
        // instead of deadlocking.
        by_shelter.sort_by(|a, b| layer.id(a.0).cmp(layer.id(b.0)));
        let pending = by_shelter
            .into_iter()
            .filter(|&(_, people)| people > 0)
            .map(|(i, people)| Pending {
                id: layer.id(i).to_string(),
                capacity: capacity(layer, i),
                register: register(layer, i),
                change: Change {
                    delta: Some(people),
                    note: note.clone(),
                    ..Change::default()
                },
            })
            .collect::<Vec<_>>();
        if pending.is_empty() {
            return Ok((result, Vec::new()));
        }
        let changes = self
            .write(db, pending, "allocation", actor, now)
            .await
            .map_err(|e| match e {
                ShelterError::OverCapacity {
                    shelter,
                    capacity,
                    occupancy,
                    requested,
                    ..
                } => ShelterError::OverCapacity {
                    field: "commit".into(),
                    shelter,
                    capacity,
                    occupancy,
                    requested,
                },
                other => other,
            })?;
        Ok((result, changes))
    }

    /// Writes the changes in one transaction (each shelter's row locked while it is read and
    /// written), then swaps the new states into the snapshot and announces them. Callers
    /// hold the write lock.
    async fn write(
        &self,
        db: &CaseDb,
        pending: Vec<Pending>,
        source: &str,
        actor: &Actor,
        now: i64,
    ) -> Result<Vec<ShelterChange>, ShelterError> {
        // The register's values become the row's starting point the first time a shelter is
        // reported on; a row that exists is left alone.
        const ENSURE: &str = "INSERT INTO shelter_state (shelter, occupancy, status, updated_at, actor) VALUES (?, ?, ?, ?, 'register') ON CONFLICT (shelter) DO NOTHING";
        const READ: &str = "SELECT occupancy, status FROM shelter_state WHERE shelter = ?";
        const READ_LOCKED: &str =
            "SELECT occupancy, status FROM shelter_state WHERE shelter = ? FOR UPDATE";
        const UPDATE: &str = "UPDATE shelter_state SET occupancy = ?, status = ?, updated_at = ?, actor = ? WHERE shelter = ?";
        const EVENT: &str = "INSERT INTO shelter_events (shelter, source, occupancy_before, occupancy, status_before, status, actor, role, at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let changes = on_db!(db, |pool, pg| {
            let mut tx = pool.begin().await?;
            let mut changes = Vec::with_capacity(pending.len());
            for p in &pending {
                sqlx::query(&sql(pg, ENSURE))
                    .bind(&p.id)
                    .bind(p.register.0)
                    .bind(p.register.1.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let row = sqlx::query(&sql(pg, if pg { READ_LOCKED } else { READ }))
                    .bind(&p.id)
                    .fetch_one(&mut *tx)
                    .await?;
                let before: i64 = row.try_get("occupancy")?;
                let status_before = status_of(row.try_get::<&str, _>("status")?)?;
                // An error here drops the transaction, which rolls it back.
                let (occupancy, status) =
                    p.change.apply(&p.id, p.capacity, before, status_before)?;
                sqlx::query(&sql(pg, UPDATE))
                    .bind(occupancy)
                    .bind(status.as_str())
                    .bind(now)
                    .bind(&actor.name)
                    .bind(&p.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(&sql(pg, EVENT))
                    .bind(&p.id)
                    .bind(source)
                    .bind(before)
                    .bind(occupancy)
                    .bind(status_before.as_str())
                    .bind(status.as_str())
                    .bind(&actor.name)
                    .bind(actor.role.as_str())
                    .bind(now)
                    .bind(&p.change.note)
                    .execute(&mut *tx)
                    .await?;
                let change = ShelterChange {
                    shelter: p.id.clone(),
                    source: source.to_string(),
                    capacity: p.capacity,
                    occupancy_before: before,
                    occupancy,
                    status_before,
                    status,
                    free: (p.capacity - occupancy).max(0),
                    actor: actor.name.clone(),
                    at: now,
                };
                if pg {
                    // Delivered at commit, in commit order, to the other servers.
                    let payload = serde_json::to_string(&Notice {
                        from: self.inner.instance.clone(),
                        change: change.clone(),
                    })
                    .unwrap_or_default();
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(payload)
                        .execute(&mut *tx)
                        .await?;
                }
                changes.push(change);
            }
            tx.commit().await?;
            Ok::<_, ShelterError>(changes)
        })?;
        self.publish(&changes);
        Ok(changes)
    }

    /// Swaps the changed states into the snapshot and tells this server's subscribers.
    fn publish(&self, changes: &[ShelterChange]) {
        self.inner.live.rcu(|current| {
            let mut next = Live::clone(current);
            for c in changes {
                next.by_id.insert(
                    c.shelter.clone(),
                    LiveState {
                        occupancy: c.occupancy,
                        status: c.status,
                        updated_at: c.at,
                        actor: c.actor.clone(),
                    },
                );
            }
            next
        });
        for c in changes {
            let _ = self.inner.changes.send(c.clone());
        }
    }

    /// On PostgreSQL, follows the other servers' changes for as long as the runtime lives
    /// (reconnecting). Each notice makes this server re-read that shelter's row, so the
    /// snapshot converges on the database even if notices arrive late; the notice itself only
    /// feeds this server's stream. (SQLite is one file for one server: nothing to follow.)
    fn listen(&self, db: &CaseDb) {
        let CaseDb::Postgres(pool) = db.clone() else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(CHANNEL).await {
                            tracing::warn!("LISTEN {CHANNEL} failed: {e}");
                        } else {
                            while let Ok(notification) = listener.recv().await {
                                let Ok(notice) =
                                    serde_json::from_str::<Notice>(notification.payload())
                                else {
                                    continue;
                                };
                                if notice.from == this.inner.instance {
                                    continue;
                                }
                                match read_one(&pool, &notice.change.shelter).await {
                                    Ok(Some(state)) => {
                                        let mut change = notice.change;
                                        change.occupancy = state.occupancy;
                                        change.status = state.status;
                                        change.free = (change.capacity - state.occupancy).max(0);
                                        this.publish(&[change]);
                                    }
                                    Ok(None) => {}
                                    Err(e) => tracing::warn!(
                                        "shelter {} announced but unreadable: {e}",
                                        notice.change.shelter
                                    ),
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!("cannot listen for other servers' shelter changes: {e}")
                    }
                }
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        });
    }
}

async fn read_one(pool: &sqlx::PgPool, shelter: &str) -> Result<Option<LiveState>, ShelterError> {
    let row = sqlx::query(
        "SELECT occupancy, status, updated_at, actor FROM shelter_state WHERE shelter = $1",
    )
    .bind(shelter)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(LiveState {
            occupancy: row.try_get("occupancy")?,
            status: status_of(row.try_get::<&str, _>("status")?)?,
            updated_at: row.try_get("updated_at")?,
            actor: row.try_get("actor")?,
        })
    })
    .transpose()
}

async fn read_all(db: &CaseDb) -> Result<HashMap<String, LiveState>, ShelterError> {
    const TEXT: &str = "SELECT shelter, occupancy, status, updated_at, actor FROM shelter_state";
    on_db!(db, |pool, _pg| {
        let rows = sqlx::query(TEXT).fetch_all(pool).await?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in &rows {
            out.insert(
                row.try_get::<String, _>("shelter")?,
                LiveState {
                    occupancy: row.try_get("occupancy")?,
                    status: status_of(row.try_get::<&str, _>("status")?)?,
                    updated_at: row.try_get("updated_at")?,
                    actor: row.try_get("actor")?,
                },
            );
        }
        Ok(out)
    })
}

/// The latest `limit` events of a shelter, newest first.
pub async fn history(
    db: &CaseDb,
    shelter: &str,
    limit: i64,
) -> Result<Vec<ShelterEvent>, ShelterError> {
    const TEXT: &str = "SELECT id, source, occupancy_before, occupancy, status_before, status, actor, role, at, note FROM shelter_events WHERE shelter = ? ORDER BY id DESC LIMIT ?";
    on_db!(db, |pool, pg| {
        let rows = sqlx::query(&sql(pg, TEXT))
            .bind(shelter)
            .bind(limit)
            .fetch_all(pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(ShelterEvent {
                id: row.try_get("id")?,
                source: row.try_get("source")?,
                occupancy_before: row.try_get("occupancy_before")?,
                occupancy: row.try_get("occupancy")?,
                status_before: row.try_get("status_before")?,
                status: row.try_get("status")?,
                actor: row.try_get("actor")?,
                role: row.try_get("role")?,
                at: row.try_get("at")?,
                note: row.try_get("note")?,
            });
        }
        Ok(out)
    })
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

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(numbered("a = ? AND b = ?"), "a = $1 AND b = $2");
    }
}
