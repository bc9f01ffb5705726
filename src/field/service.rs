//! The field service: position intake (row checks, then one writer task that decides
//! duplicates, order, speed and fence crossings and commits whole groups), the live index,
//! the fences, and the events.
//!
//! Intake is a group commit, as for cases: requests queue their checked fixes while the
//! previous group commits; the writer takes everything queued, decides each fix against the
//! worker's state (the newest committed fix, or an earlier fix of the same group), writes the
//! group's fixes and fence events in one transaction, and only then answers each request, moves
//! the live index on and publishes the events. One writer makes the rules exact: the newest
//! time in memory is the newest time stored, so "duplicate", "out of order" and "enter" are
//! decided once, and an event is stored in the transaction of the fix that raised it (a crash
//! can neither lose it nor raise it twice).
//!
//! Several servers may share one PostgreSQL: each keeps its own live index of the fixes it
//! took in (send one worker's fixes to one server), and fence events are announced to the
//! others, whose streams show them too.

use super::config::FieldConfig;
use super::error::{FieldError, Result};
use super::fences::{Crossing, Fence, FenceSet, Origin, area_m2};
use super::fix::{Fix, Reason, Rejection};
use super::live::{Latest, LiveIndex, Wanted};
use super::store::{self, NewEvent, StoredFence};
use super::webhook::{Target, Webhook};
use super::workers::{Worker, Workers};
use crate::cases::Clock;
use crate::catalog::Role;
use crate::db::Db;
use crate::db::notify::{Fanout, Followed};
use crate::spatial::distance::metres;
use crate::spatial::{GeometryRef, SharedStore};
use arc_swap::ArcSwap;
use geo::{BoundingRect, Coord, MultiPolygon, Rect};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, mpsc, oneshot};

/// The channel on which servers sharing one PostgreSQL announce fence events.
pub const CHANNEL: &str = "gridlink_field";
/// Most fixes in one request.
pub const MAX_ROWS: usize = 100_000;
/// Most requests decided and committed as one group.
const MAX_GROUP: usize = 256;
/// A group takes no further request once it holds this many fixes (see `write_loop`).
const MAX_GROUP_FIXES: usize = 8_192;
/// How often the moved workers go out on the stream (one `positions` event with each moved
/// worker's newest fix): a live map needs no more, and a stream of every group would cost
/// more than the intake at 100,000 fixes a second.
pub const POSITIONS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// How far outside the district's box a fix may lie (teams drive to neighbouring districts).
const AREA_MARGIN_DEG: f64 = 0.5;

/// A fence event as the API, the stream and the webhook show it.
#[derive(Debug, Clone, Serialize)]
pub struct FenceEvent {
    pub id: i64,
    pub worker: String,
    pub worker_name: Option<String>,
    pub fence: String,
    pub fence_name: Option<String>,
    pub fence_kind: Option<String>,
    pub kind: Crossing,
    /// The fix's time (Unix ms).
    pub time: i64,
    pub lon: f64,
    pub lat: f64,
    pub raised_at: i64,
}

/// What the stream carries from this room.
#[derive(Debug, Clone)]
pub enum FieldEvent {
    Fence(FenceEvent),
    /// The newest fixes of the workers moved since the last such event ([`POSITIONS_EVERY`]).
    Positions(Arc<Vec<Latest>>),
}

#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    event: i64,
}

/// Who a caller may post positions for.
#[derive(Debug, Clone)]
pub enum Permit {
    /// An admin key: anyone (replays, tests, a gateway set up by the centre).
    Any,
    /// The workers bound to the caller's key (`worker_keys`).
    Only(HashSet<String>),
}

/// The answer to an intake request.
#[derive(Debug, Clone, Serialize)]
pub struct IngestOutcome {
    pub accepted: usize,
    pub rejected: Vec<Rejection>,
    pub events: Vec<FenceEvent>,
}

/// A posted fence before it is checked.
#[derive(Debug, Clone)]
pub struct NewFence {
    /// Chosen by the caller (another room's own id, e.g. `incident/42`), or made up.
    pub id: Option<String>,
    pub name: String,
    pub kind: String,
    pub geometry: geo::Geometry<f64>,
}

type Reply = oneshot::Sender<std::result::Result<Decided, String>>;

struct Job {
    fixes: Vec<Fix>,
    reply: Reply,
}

struct Decided {
    accepted: usize,
    rejected: Vec<Rejection>,
    events: Vec<FenceEvent>,
}

/// A worker's newest decided fix as the intake reads it: time, place, fences it is in.
type Prior<'a> = (i64, Coord<f64>, &'a [Arc<str>]);

#[derive(Debug, Clone)]
struct State {
    time: i64,
    at: Coord<f64>,
    inside: Vec<Arc<str>>,
}

#[derive(Debug)]
struct Fences {
    generation: u64,
    set: Arc<FenceSet>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    store: SharedStore,
    clock: Clock,
    config: FieldConfig,
    workers: ArcSwap<Workers>,
    posted: RwLock<Vec<Fence>>,
    fences: ArcSwap<Fences>,
    rebuilding: std::sync::Mutex<()>,
    live: RwLock<LiveIndex>,
    intake: mpsc::Sender<Job>,
    events: Fanout<FieldEvent>,
    webhook: Option<Webhook>,
    /// Workers moved since the last `positions` event.
    moved: std::sync::Mutex<HashMap<Arc<str>, Latest>>,
}

#[derive(Debug, Clone)]
pub struct FieldService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} fixes)", self.fixes.len())
    }
}

fn layer_fences(store: &crate::spatial::LayerStore, roles: &[Role]) -> Vec<Fence> {
    let mut out = Vec::new();
    for &role in roles {
        let Some(layer) = store.by_role(role) else {
            continue;
        };
        for i in 0..layer.len() {
            let GeometryRef::Polygons(shape) = layer.geometry(i) else {
                continue;
            };
            let Some(bbox) = shape.bounding_rect() else {
                continue;
            };
            out.push(Fence {
                id: format!("{}/{}", layer.def.id, layer.id(i)).into(),
                name: layer.label(i).unwrap_or(layer.id(i)).to_string(),
                kind: role.as_str().to_string(),
                origin: Origin::Layer,
                shape: shape.clone(),
                bbox,
            });
        }
    }
    out
}

fn posted_fence(stored: &StoredFence) -> Result<Fence> {
    let geometry: geojson::Geometry = serde_json::from_str(&stored.geometry)
        .map_err(|e| FieldError::Corrupt(format!("fence {}: {e}", stored.id)))?;
    let geometry: geo::Geometry<f64> = geometry
        .try_into()
        .map_err(|e| FieldError::Corrupt(format!("fence {}: {e}", stored.id)))?;
    let shape = match geometry {
        geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(m) => m,
        _ => {
            return Err(FieldError::Corrupt(format!(
                "fence {} is not a polygon",
                stored.id
            )));
        }
    };
    let bbox = shape
        .bounding_rect()
        .ok_or_else(|| FieldError::Corrupt(format!("fence {} is empty", stored.id)))?;
    Ok(Fence {
        id: stored.id.as_str().into(),
        name: stored.name.clone(),
        kind: stored.kind.clone(),
        origin: Origin::Posted,
        shape,
        bbox,
    })
}

impl FieldService {
    /// Loads the posted fences and every worker's newest fix from `db` (migrated by
    /// [`Db::connect`]), starts the writer and follows the other servers' fence events.
    pub async fn start(
        db: Db,
        store: SharedStore,
        config: FieldConfig,
        clock: Clock,
    ) -> Result<FieldService> {
        let snapshot = store.snapshot();
        let workers = Workers::build(&snapshot, config.inspectors_per_beat);
        let mut posted = Vec::new();
        for stored in store::fences(&db).await? {
            posted.push(posted_fence(&stored)?);
        }
        let mut all = layer_fences(&snapshot, &config.fence_roles);
        all.extend(posted.iter().cloned());
        let set = Arc::new(FenceSet::new(all));
        let mut live = LiveIndex::new(district_box(&snapshot));
        for fix in store::latest(&db).await? {
            let at = Coord {
                x: fix.lon,
                y: fix.lat,
            };
            live.upsert(Latest {
                who: fix.worker.as_str().into(),
                time: fix.time,
                lon: fix.lon,
                lat: fix.lat,
                accuracy: fix.accuracy,
                speed: fix.speed,
                heading: fix.heading,
                inside: set.containing(at),
            });
        }
        let webhook = std::env::var("GRIDLINK_FENCE_WEBHOOK")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| config.webhook.clone())
            .map(|url| Target::parse(&url).map_err(|m| FieldError::invalid("webhook", m)))
            .transpose()?
            .map(Webhook::start);
        let (intake, incoming) = mpsc::channel::<Job>(4 * MAX_GROUP);
        tracing::info!(
            workers = workers.len(),
            fences = set.len(),
            live = live.len(),
            webhook = webhook.is_some(),
            "field service ready"
        );
        let service = FieldService {
            inner: Arc::new(Inner {
                db,
                clock,
                config,
                workers: ArcSwap::from_pointee(workers),
                posted: RwLock::new(posted),
                fences: ArcSwap::from_pointee(Fences {
                    generation: snapshot.generation,
                    set,
                }),
                store,
                rebuilding: std::sync::Mutex::new(()),
                live: RwLock::new(live),
                intake,
                events: Fanout::new(CHANNEL, 4096),
                webhook,
                moved: std::sync::Mutex::new(HashMap::new()),
            }),
        };
        tokio::spawn(service.clone().write_loop(incoming));
        tokio::spawn(service.clone().positions_loop());
        let this = service.clone();
        service
            .inner
            .events
            .follow(&service.inner.db, move |heard: Followed<Notice>| {
                let this = this.clone();
                async move {
                    if let Followed::Notice(notice) = heard {
                        this.hear(notice).await;
                    }
                }
            })
            .await;
        Ok(service)
    }

    /// Another server's fence event, shown on this server's stream.
    async fn hear(&self, notice: Notice) {
        match store::event(&self.inner.db, notice.event).await {
            Ok(Some(stored)) => {
                let event = self.describe(
                    stored.id,
                    &NewEvent {
                        worker: stored.worker.as_str().into(),
                        fence: stored.fence.as_str().into(),
                        kind: stored.kind,
                        time: stored.time,
                        lon: stored.lon,
                        lat: stored.lat,
                    },
                    stored.raised_at,
                );
                self.inner.events.publish(FieldEvent::Fence(event));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("fence event {} announced but unreadable: {e}", notice.event),
        }
    }

    pub fn config(&self) -> &FieldConfig {
        &self.inner.config
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FieldEvent> {
        self.inner.events.subscribe()
    }

    /// The registry of the current layer store (rebuilt after a layer reload).
    pub fn workers(&self) -> Arc<Workers> {
        let store = self.inner.store.snapshot();
        let current = self.inner.workers.load_full();
        if current.generation == store.generation {
            return current;
        }
        let fresh = Arc::new(Workers::build(
            &store,
            self.inner.config.inspectors_per_beat,
        ));
        self.inner.workers.store(fresh.clone());
        fresh
    }

    /// The fences of the current layer store and the posted ones.
    pub fn fences(&self) -> Arc<FenceSet> {
        let store = self.inner.store.snapshot();
        let current = self.inner.fences.load();
        if current.generation == store.generation {
            return current.set.clone();
        }
        self.rebuild_fences()
    }

    fn rebuild_fences(&self) -> Arc<FenceSet> {
        let _guard = self
            .inner
            .rebuilding
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let store = self.inner.store.snapshot();
        let mut all = layer_fences(&store, &self.inner.config.fence_roles);
        if let Ok(posted) = self.inner.posted.read() {
            all.extend(posted.iter().cloned());
        }
        let set = Arc::new(FenceSet::new(all));
        self.inner.fences.store(Arc::new(Fences {
            generation: store.generation,
            set: set.clone(),
        }));
        set
    }

    /// The box fixes must lie in: the district's, with a margin.
    pub fn area(&self) -> Option<Rect<f64>> {
        district_box(&self.inner.store.snapshot()).map(|r| {
            Rect::new(
                Coord {
                    x: r.min().x - AREA_MARGIN_DEG,
                    y: r.min().y - AREA_MARGIN_DEG,
                },
                Coord {
                    x: r.max().x + AREA_MARGIN_DEG,
                    y: r.max().y + AREA_MARGIN_DEG,
                },
            )
        })
    }

    /// Who a key may post for: `Permit::Only` the workers bound to it.
    pub async fn permit_for_key(&self, key_hash: &str) -> Result<Permit> {
        Ok(Permit::Only(
            store::workers_of_key(&self.inner.db, key_hash)
                .await?
                .into_iter()
                .collect(),
        ))
    }

    /// Stores checked fixes (in request order) and returns what became of each. A fix for a
    /// worker the permit does not cover refuses the whole request, naming the row.
    pub async fn ingest(
        &self,
        fixes: Vec<Fix>,
        refused: Vec<Rejection>,
        permit: &Permit,
    ) -> Result<IngestOutcome> {
        if fixes.len() + refused.len() > MAX_ROWS {
            return Err(FieldError::TooManyRows {
                max: MAX_ROWS,
                got: fixes.len() + refused.len(),
            });
        }
        if let Permit::Only(allowed) = permit {
            if let Some(f) = fixes.iter().find(|f| !allowed.contains(&*f.who)) {
                return Err(FieldError::NotYourWorker {
                    row: f.row,
                    who: f.who.to_string(),
                });
            }
        }
        let (reply, answer) = oneshot::channel();
        self.inner
            .intake
            .send(Job { fixes, reply })
            .await
            .map_err(|_| FieldError::IntakeClosed)?;
        let decided = match answer.await {
            Ok(Ok(d)) => d,
            Ok(Err(message)) => return Err(FieldError::Storage(message)),
            Err(_) => return Err(FieldError::IntakeClosed),
        };
        let mut rejected = refused;
        rejected.extend(decided.rejected);
        rejected.sort_by_key(|r| r.row);
        Ok(IngestOutcome {
            accepted: decided.accepted,
            rejected,
            events: decided.events,
        })
    }

    /// Publishes the moved workers every [`POSITIONS_EVERY`] while anyone listens.
    async fn positions_loop(self) {
        let mut tick = tokio::time::interval(POSITIONS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let moved: Vec<Latest> = {
                let mut pending = self
                    .inner
                    .moved
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if pending.is_empty() {
                    continue;
                }
                pending.drain().map(|(_, l)| l).collect()
            };
            self.inner
                .events
                .publish(FieldEvent::Positions(Arc::new(moved)));
        }
    }

    /// Takes whatever is queued as one group, up to [`MAX_GROUP`] requests or
    /// [`MAX_GROUP_FIXES`] fixes: a group is one commit (one fsync), and its size bounds how
    /// long a fix waits behind the group ahead of it (the fence event's latency).
    async fn write_loop(self, mut incoming: mpsc::Receiver<Job>) {
        while let Some(first) = incoming.recv().await {
            let mut fixes = first.fixes.len();
            let mut jobs = Vec::with_capacity(16);
            jobs.push(first);
            while jobs.len() < MAX_GROUP && fixes < MAX_GROUP_FIXES {
                match incoming.try_recv() {
                    Ok(job) => {
                        fixes += job.fixes.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(jobs).await;
        }
    }

    /// Decides, stores and publishes one group of requests.
    async fn commit_group(&self, jobs: Vec<Job>) {
        let fences = self.fences();
        let max_speed = self.inner.config.max_speed_mps;
        let mut work: HashMap<Arc<str>, State> = HashMap::new();
        let mut accepted: Vec<Fix> = Vec::new();
        let mut new_events: Vec<NewEvent> = Vec::new();
        // Per job: (accepted count, rejections, range of its events).
        let mut outcomes: Vec<(usize, Vec<Rejection>, std::ops::Range<usize>)> =
            Vec::with_capacity(jobs.len());
        {
            let live = self
                .inner
                .live
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for job in &jobs {
                let first_event = new_events.len();
                let mut count = 0;
                let mut rejected = Vec::new();
                for fix in &job.fixes {
                    // The worker's newest decided fix: earlier in this group, else committed.
                    let state: Option<Prior<'_>> = match work.get(&fix.who) {
                        Some(s) => Some((s.time, s.at, &s.inside[..])),
                        None => live.get(&fix.who).map(|l| (l.time, l.at(), &l.inside[..])),
                    };
                    let refuse = |reason: Reason, message: String| Rejection {
                        row: fix.row,
                        line: None,
                        who: Some(fix.who.to_string()),
                        reason,
                        message,
                    };
                    if let Some(&(s_time, s_at, _)) = state.as_ref() {
                        if fix.time == s_time {
                            rejected.push(refuse(
                                Reason::Duplicate,
                                format!(
                                    "{} has a fix at {} already",
                                    fix.who,
                                    crate::cases::clock::rfc3339(fix.time)
                                ),
                            ));
                            continue;
                        }
                        if fix.time < s_time {
                            rejected.push(refuse(
                                Reason::OutOfOrder,
                                format!(
                                    "time goes backwards: {} has a newer fix at {}",
                                    fix.who,
                                    crate::cases::clock::rfc3339(s_time)
                                ),
                            ));
                            continue;
                        }
                        let m = metres(s_at, fix.at);
                        let speed = m / ((fix.time - s_time) as f64 / 1000.0);
                        if speed > max_speed {
                            rejected.push(refuse(Reason::TooFast, format!("{:.0} m in {:.1} s from the previous fix is {:.0} km/h, above {:.0} km/h: a GPS jump", m, (fix.time - s_time) as f64 / 1000.0, speed * 3.6, max_speed * 3.6)));
                            continue;
                        }
                    }
                    let (crossings, inside) =
                        fences.step(state.map(|s| s.1), state.map_or(&[][..], |s| s.2), fix.at);
                    for (fence, kind) in crossings {
                        new_events.push(NewEvent {
                            worker: fix.who.clone(),
                            fence,
                            kind,
                            time: fix.time,
                            lon: fix.at.x,
                            lat: fix.at.y,
                        });
                    }
                    work.insert(
                        fix.who.clone(),
                        State {
                            time: fix.time,
                            at: fix.at,
                            inside,
                        },
                    );
                    accepted.push(fix.clone());
                    count += 1;
                }
                outcomes.push((count, rejected, first_event..new_events.len()));
            }
        }
        let now = self.inner.clock.now();
        let ids = match store::write(&self.inner.db, &accepted, &new_events, now).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::error!("storing {} fixes failed: {e}", accepted.len());
                let message = e.to_string();
                for job in jobs {
                    let _ = job.reply.send(Err(message.clone()));
                }
                return;
            }
        };
        // Committed: move the live index on, then answer and publish.
        let mut newest: HashMap<Arc<str>, &Fix> = HashMap::new();
        for fix in &accepted {
            newest.insert(fix.who.clone(), fix);
        }
        let mut moved = Vec::with_capacity(newest.len());
        {
            let mut live = self
                .inner
                .live
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (who, fix) in &newest {
                let latest = Latest {
                    who: who.clone(),
                    time: fix.time,
                    lon: fix.at.x,
                    lat: fix.at.y,
                    accuracy: fix.accuracy,
                    speed: fix.speed,
                    heading: fix.heading,
                    inside: work.remove(who).map(|s| s.inside).unwrap_or_default(),
                };
                moved.push(latest.clone());
                live.upsert(latest);
            }
        }
        let events: Vec<FenceEvent> = new_events
            .iter()
            .zip(&ids)
            .map(|(e, &id)| self.describe(id, e, now))
            .collect();
        for (job, (count, rejected, range)) in jobs.into_iter().zip(outcomes) {
            let _ = job.reply.send(Ok(Decided {
                accepted: count,
                rejected,
                events: events[range].to_vec(),
            }));
        }
        if !moved.is_empty() && self.inner.events.receiver_count() > 0 {
            let mut pending = self
                .inner
                .moved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for l in moved {
                pending.insert(l.who.clone(), l);
            }
        }
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        for event in events {
            if let Some(hook) = &self.inner.webhook {
                if let Ok(body) = serde_json::to_string(&event) {
                    hook.send(body);
                }
            }
            self.inner.events.publish(FieldEvent::Fence(event));
        }
        if !ids.is_empty() {
            // The other servers hear of them in the background: the writer goes on.
            let (fanout, db) = (self.inner.events.clone(), self.inner.db.clone());
            tokio::spawn(async move {
                for id in ids {
                    fanout.announce(&db, &Notice { event: id }).await;
                }
            });
        }
    }

    fn describe(&self, id: i64, e: &NewEvent, raised_at: i64) -> FenceEvent {
        let workers = self.workers();
        let fences = self.fences();
        let fence = fences.get(&e.fence);
        FenceEvent {
            id,
            worker: e.worker.to_string(),
            worker_name: workers.get(&e.worker).map(|w| w.name.clone()),
            fence: e.fence.to_string(),
            fence_name: fence.map(|f| f.name.clone()),
            fence_kind: fence.map(|f| f.kind.clone()),
            kind: e.kind,
            time: e.time,
            lon: e.lon,
            lat: e.lat,
            raised_at,
        }
    }

    /// A worker's newest fix.
    pub fn latest(&self, who: &str) -> Option<Latest> {
        self.inner.live.read().ok()?.get(who).cloned()
    }

    /// Every worker's newest fix in the box (the live layer's tiles).
    pub fn latest_in(&self, bbox: Rect<f64>) -> Vec<Latest> {
        self.inner
            .live
            .read()
            .map(|live| live.in_box(bbox).cloned().collect())
            .unwrap_or_default()
    }

    /// Workers whose newest fix is fresh enough to count as on duty, from now.
    pub fn on_duty_since(&self) -> i64 {
        self.inner.clock.now() - self.inner.config.on_duty_within_ms
    }

    /// The `k` nearest workers to `p` that `wanted` accepts, with metres.
    pub fn nearest(&self, p: Coord<f64>, wanted: &Wanted, k: usize) -> Vec<(Latest, f64)> {
        let workers = self.workers();
        let Ok(live) = self.inner.live.read() else {
            return Vec::new();
        };
        live.nearest(&workers, p, wanted, k)
            .into_iter()
            .map(|(l, m)| (l.clone(), m))
            .collect()
    }

    /// Workers whose newest fix lies inside the fence.
    pub fn inside_fence(&self, fence: &str, wanted: &Wanted) -> Result<Vec<Latest>> {
        let fences = self.fences();
        let fence = fences
            .get(fence)
            .ok_or_else(|| FieldError::UnknownFence(fence.to_string()))?;
        let workers = self.workers();
        let live = self
            .inner
            .live
            .read()
            .map_err(|_| FieldError::Corrupt("live index lock poisoned".into()))?;
        Ok(live
            .inside(&workers, &fence.shape, fence.bbox, wanted)
            .into_iter()
            .cloned()
            .collect())
    }

    /// The nearest on-duty inspector of `beat` to `p`, for verifying a case there (核查).
    pub fn verifier(&self, beat: &str, p: Coord<f64>) -> Option<(Worker, Latest, f64)> {
        let workers = self.workers();
        let since = self.on_duty_since();
        let live = self.inner.live.read().ok()?;
        workers
            .of_beat(beat)
            .filter_map(|w| live.get(&w.id).filter(|l| l.time >= since).map(|l| (w, l)))
            .map(|(w, l)| (w.clone(), l.clone(), metres(p, l.at())))
            .min_by(|a, b| a.2.total_cmp(&b.2))
    }

    /// Adds a fence (a dispatcher's polygon, or another room's area such as an incident's):
    /// a valid polygon no larger than the district. Returns it as stored.
    pub async fn add_fence(&self, fence: NewFence, actor: &str) -> Result<Fence> {
        let stored = self.checked_fence(fence)?;
        if self.fences().get(&stored.id).is_some() {
            return Err(FieldError::FenceExists(stored.id));
        }
        if !store::insert_fence(&self.inner.db, &stored, actor, self.inner.clock.now()).await? {
            return Err(FieldError::FenceExists(stored.id));
        }
        let fence = posted_fence(&stored)?;
        self.replace_posted(fence.clone());
        Ok(fence)
    }

    /// Sets another room's area as a fence under the room's own id (an incident's area as
    /// `incident/42`): added when new, its shape and name replaced when they changed, left
    /// alone when not (so following every change of the other room costs nothing). Workers
    /// inside the old shape but not the new one get an exit on their next fix, as for any
    /// fence they leave. Idempotent across servers sharing the database. Returns whether
    /// anything changed.
    pub async fn put_fence(&self, fence: NewFence, actor: &str) -> Result<bool> {
        if fence.id.is_none() {
            return Err(FieldError::invalid(
                "id",
                "put_fence needs the caller's own id",
            ));
        }
        let stored = self.checked_fence(fence)?;
        let wanted = posted_fence(&stored)?;
        let unchanged = self.inner.posted.read().is_ok_and(|posted| {
            posted.iter().any(|f| {
                f.id == wanted.id
                    && f.name == wanted.name
                    && f.kind == wanted.kind
                    && f.shape == wanted.shape
            })
        });
        if unchanged {
            return Ok(false);
        }
        store::upsert_fence(&self.inner.db, &stored, actor, self.inner.clock.now()).await?;
        self.replace_posted(wanted);
        Ok(true)
    }

    /// The posted fences (not the layers').
    pub fn posted_fences(&self) -> Vec<Fence> {
        self.inner
            .posted
            .read()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    fn replace_posted(&self, fence: Fence) {
        if let Ok(mut posted) = self.inner.posted.write() {
            posted.retain(|f| f.id != fence.id);
            posted.push(fence);
        }
        self.rebuild_fences();
    }

    /// The checks every posted fence passes: a valid polygon, not a slip, no larger than the
    /// district, a name, a kind and an id of sensible length.
    fn checked_fence(&self, fence: NewFence) -> Result<StoredFence> {
        let accepted = crate::spatial::validate::geometry(
            crate::catalog::GeometryKind::Polygon,
            fence.geometry,
        )
        .map_err(|m| FieldError::invalid("geometry", m))?;
        let crate::spatial::validate::Accepted::Polygons(shape) = accepted else {
            return Err(FieldError::invalid(
                "geometry",
                "a fence must be a Polygon or MultiPolygon",
            ));
        };
        let area = area_m2(&shape);
        if area < self.inner.config.min_fence_area_m2 {
            return Err(FieldError::invalid(
                "geometry",
                format!(
                    "the fence covers {area:.1} m², less than {} m²: a slip, not an area",
                    self.inner.config.min_fence_area_m2
                ),
            ));
        }
        let store = self.inner.store.snapshot();
        if let Some(district) = store.by_role(Role::District) {
            let district_area: f64 = (0..district.len())
                .filter_map(|i| match district.geometry(i) {
                    GeometryRef::Polygons(m) => Some(area_m2(m)),
                    _ => None,
                })
                .sum();
            if district_area > 0.0 && area > district_area {
                return Err(FieldError::invalid(
                    "geometry",
                    format!(
                        "the fence covers {:.1} km², more than the whole district ({:.1} km²)",
                        area / 1e6,
                        district_area / 1e6
                    ),
                ));
            }
        }
        let name = fence.name.trim().to_string();
        if name.is_empty() {
            return Err(FieldError::invalid("name", "a fence needs a name"));
        }
        let kind = fence.kind.trim().to_string();
        if kind.is_empty() || kind.len() > 40 {
            return Err(FieldError::invalid(
                "kind",
                "kind must be 1 to 40 characters (incident, leak_zone, area …)",
            ));
        }
        let id = match fence.id {
            Some(id) if id.trim().is_empty() || id.len() > 120 => {
                return Err(FieldError::invalid(
                    "id",
                    "a fence id must be 1 to 120 characters",
                ));
            }
            Some(id) => id,
            None => format!("fence-{}", hex::encode(rand::random::<[u8; 6]>())),
        };
        let geometry = serde_json::to_string(&geojson::Geometry::new(geojson::Value::from(
            &geo::Geometry::MultiPolygon(shape),
        )))
        .map_err(|e| FieldError::Corrupt(e.to_string()))?;
        Ok(StoredFence {
            id,
            name,
            kind,
            geometry,
        })
    }

    /// Removes a posted fence (layer fences follow their layers).
    /// A fence another server sharing the database removed first still leaves this one.
    pub async fn remove_fence(&self, id: &str) -> Result<()> {
        let stored = store::remove_fence(&self.inner.db, id, self.inner.clock.now()).await?;
        let mut held = false;
        if let Ok(mut posted) = self.inner.posted.write() {
            let before = posted.len();
            posted.retain(|f| &*f.id != id);
            held = posted.len() != before;
        }
        if held {
            self.rebuild_fences();
        }
        if !stored && !held {
            return Err(FieldError::UnknownFence(id.to_string()));
        }
        Ok(())
    }

    /// Deletes fixes older than the retention setting; how many.
    pub async fn prune(&self) -> Result<u64> {
        match self.inner.config.retention_ms {
            Some(keep) => store::prune(&self.inner.db, self.inner.clock.now() - keep).await,
            None => Ok(0),
        }
    }
}

fn district_box(store: &crate::spatial::LayerStore) -> Option<Rect<f64>> {
    store.by_role(Role::District).and_then(|l| l.extent())
}

impl FieldService {
    /// Patrol coverage of `beats` (every beat when empty) on the day `[start, end)`.
    pub async fn coverage(
        &self,
        beats: &[String],
        start: i64,
        end: i64,
        radius_m: Option<f64>,
    ) -> Result<Vec<super::coverage::BeatCoverage>> {
        let store = self.inner.store.snapshot();
        let workers = self.workers();
        let beat_ids: Vec<String> = if beats.is_empty() {
            store
                .by_role(Role::Beat)
                .map(|l| (0..l.len()).map(|i| l.id(i).to_string()).collect())
                .unwrap_or_default()
        } else {
            for b in beats {
                if store.by_role(Role::Beat).and_then(|l| l.find(b)).is_none() {
                    return Err(FieldError::invalid("beat", format!("no beat {b:?}")));
                }
            }
            beats.to_vec()
        };
        let mut inputs = Vec::with_capacity(beat_ids.len());
        for beat in beat_ids {
            let mut tracks = Vec::new();
            for w in workers.of_beat(&beat) {
                let fixes =
                    store::track(&self.inner.db, &w.id, start, end, i64::from(i32::MAX)).await?;
                tracks.push((w.id.to_string(), fixes));
            }
            inputs.push((beat, tracks));
        }
        let rule = super::coverage::Rule {
            radius_m: radius_m.unwrap_or(self.inner.config.coverage_radius_m),
            max_gap_ms: self.inner.config.max_gap_ms,
        };
        tokio::task::spawn_blocking(move || {
            use rayon::prelude::*;
            inputs
                .par_iter()
                .filter_map(|(beat, tracks)| {
                    super::coverage::beat_coverage(&store, beat, tracks, rule)
                })
                .collect()
        })
        .await
        .map_err(|e| FieldError::Storage(format!("coverage task failed: {e}")))
    }

    /// A worker's fixes in `[since, until)`, oldest first (at most `limit`).
    pub async fn track(
        &self,
        who: &str,
        since: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<store::StoredFix>> {
        if self.workers().get(who).is_none() {
            return Err(FieldError::UnknownWorker(who.to_string()));
        }
        store::track(&self.inner.db, who, since, until, limit).await
    }

    /// Stored fence events matching `filter`, with names.
    pub async fn events(&self, filter: &store::EventFilter) -> Result<Vec<FenceEvent>> {
        let stored = store::events(&self.inner.db, filter).await?;
        Ok(stored
            .into_iter()
            .map(|s| {
                self.describe(
                    s.id,
                    &NewEvent {
                        worker: s.worker.as_str().into(),
                        fence: s.fence.as_str().into(),
                        kind: s.kind,
                        time: s.time,
                        lon: s.lon,
                        lat: s.lat,
                    },
                    s.raised_at,
                )
            })
            .collect())
    }
}
