//! The live shelter state of one server: the snapshot every service reads, its loading from
//! the database, the managers' reports and committed allocations written through it, and the
//! changes it publishes and hears.
//!
//! The snapshot is one immutable [`Live`] swapped atomically on each change (copy on write):
//! reads are lock-free and a request sees one consistent state throughout; writes are rare
//! and serialised by one lock per server (a delta reads the current headcount and writes the
//! next; a committed plan must see the state it was planned on).

use super::store::{self, Pending};
use crate::cases::Actor;
use crate::catalog::Role;
use crate::db::Db;
use crate::db::notify::{Fanout, Followed};
use crate::services::occupancy::{
    Change, Live, LiveState, ShelterError, ShelterStatus, capacity, register,
};
use crate::spatial::Layer;
use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::{Mutex, OnceCell, broadcast};

/// The channel on which servers sharing one PostgreSQL announce shelter changes.
pub const CHANNEL: &str = "gridlink_shelters";

/// A shelter change as published on `/api/stream` and announced to the other servers.
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

/// What a server tells the others: the change (they read the shelter's row again, so a late
/// notice never rolls their state back).
#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    change: ShelterChange,
}

/// The live shelter state of one server. Cheap to clone (shared).
#[derive(Clone)]
pub struct ShelterService {
    inner: Arc<Inner>,
}

struct Inner {
    live: ArcSwap<Live>,
    loaded: OnceCell<()>,
    /// Serialises this server's writes.
    write: Mutex<()>,
    changes: Fanout<ShelterChange>,
}

impl Default for ShelterService {
    fn default() -> Self {
        ShelterService {
            inner: Arc::new(Inner {
                live: ArcSwap::from_pointee(Live::default()),
                loaded: OnceCell::new(),
                write: Mutex::new(()),
                changes: Fanout::new(CHANNEL, 256),
            }),
        }
    }
}

impl std::fmt::Debug for ShelterService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShelterService")
            .field("reported", &self.inner.live.load().len())
            .field("loaded", &self.inner.loaded.initialized())
            .finish()
    }
}

impl ShelterService {
    /// The current snapshot (the register alone until [`ShelterService::load`] ran).
    pub fn snapshot(&self) -> Arc<Live> {
        self.inner.live.load_full()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ShelterChange> {
        self.inner.changes.subscribe()
    }

    pub fn is_loaded(&self) -> bool {
        self.inner.loaded.initialized()
    }

    /// Reads every reported state from `db`, once (later calls return at once), and starts
    /// following the other servers' changes. `serve` calls it at start so a broken database
    /// stops the start; handlers call it too, so a router built without `serve` (tests,
    /// embedding) still sees the stored state.
    pub async fn load(&self, db: &Db) -> Result<(), ShelterError> {
        self.inner
            .loaded
            .get_or_try_init(|| async {
                let all = store::read_all(db).await?;
                self.inner.live.store(Arc::new(all.into_iter().collect()));
                let (this, db_for_hearing) = (self.clone(), db.clone());
                self.inner
                    .changes
                    .follow(db, move |heard: Followed<Notice>| {
                        let (this, db) = (this.clone(), db_for_hearing.clone());
                        async move { this.hear(&db, heard).await }
                    })
                    .await;
                Ok::<(), ShelterError>(())
            })
            .await?;
        Ok(())
    }

    /// Another server's change: this server re-reads that shelter's row, so its snapshot
    /// converges on the database even if notices arrive late; after a gap it re-reads all.
    async fn hear(&self, db: &Db, heard: Followed<Notice>) {
        match heard {
            Followed::Notice(Notice { mut change }) => {
                match store::read_one(db, &change.shelter).await {
                    Ok(Some(state)) => {
                        change.occupancy = state.occupancy;
                        change.status = state.status;
                        change.free = (change.capacity - state.occupancy).max(0);
                        self.publish_local(&[change]);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!("shelter {} announced but unreadable: {e}", change.shelter)
                    }
                }
            }
            Followed::Missed => match store::read_all(db).await {
                Ok(all) => self.inner.live.store(Arc::new(all.into_iter().collect())),
                Err(e) => tracing::warn!("re-reading the shelter states failed: {e}"),
            },
        }
    }

    /// A manager's report on shelter `id`: checked against its capacity, stored with its
    /// event, then visible to every reader and announced.
    pub async fn report(
        &self,
        db: &Db,
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
        let pending = [Pending {
            id: id.to_string(),
            capacity: capacity(layer, i),
            register: register(layer, i),
            change,
        }];
        let mut done = store::write(db, &pending, "report", actor, now).await?;
        self.publish(db, &done).await;
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
        db: &Db,
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
        let changes = store::write(db, &pending, "allocation", actor, now)
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
        self.publish(db, &changes).await;
        Ok((result, changes))
    }

    /// Committed changes: into this server's snapshot and stream, then to the other servers
    /// (in commit order: callers hold the write lock).
    async fn publish(&self, db: &Db, changes: &[ShelterChange]) {
        self.publish_local(changes);
        for change in changes {
            let notice = Notice {
                change: change.clone(),
            };
            self.inner.changes.announce(db, &notice).await;
        }
    }

    /// Swaps the changed states into the snapshot and tells this server's subscribers.
    fn publish_local(&self, changes: &[ShelterChange]) {
        self.inner.live.rcu(|current| {
            let mut next = Live::clone(current);
            for c in changes {
                next.insert(
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
            self.inner.changes.publish(c.clone());
        }
    }
}
