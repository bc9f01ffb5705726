//! The feed service: checks and stores readings, keeps the newest reading of every series in
//! memory (loaded from the database at start), decides alerts and publishes them — to this
//! server's stream at once, and to the other servers sharing the database, whose streams show
//! them too (their in-memory series are their own: each server decides on what it ingests).
//!
//! Writers are serialised by one async lock held across "decide alerts → write readings and
//! alerts in one transaction → publish". That is what makes the alert rule exact: the newest
//! time in memory is the newest time stored, so a reading newer than it is certainly new (not
//! a duplicate) and is the only kind that may move a series' level; and an alert is stored in
//! the same transaction as the reading that raised it, so a crash can neither lose an alert
//! nor raise one twice. SQLite has one writer anyway; a request of thousands of readings takes
//! milliseconds, so the lock costs little.

use super::alerts::{Alert, Series, nearby, transition};
use super::error::{FeedError, Result};
use super::level::AlertLevel;
use super::reading::{Parsed, Reading, Rejection, check};
use super::stations::{Station, Stations};
use super::store::{self, AlertFilter, AlertOp, AlertRef, NewAlert};
use super::thresholds::FeedConfig;
use crate::cases::Clock;
use crate::db::Db;
use crate::db::notify::{Fanout, Followed};
use crate::spatial::SharedStore;
use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use tokio::sync::broadcast;

/// The channel on which servers sharing one PostgreSQL announce alert changes.
pub const CHANNEL: &str = "gridlink_alerts";

/// What a server tells the others of an alert change: the alert (read again: with its
/// nearby places it may not fit in a notice) and whether it was raised or ended.
#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    id: i64,
    ended: bool,
}

/// Most readings in one request (one transaction): about 5 MB of CSV.
pub const MAX_ROWS: usize = 100_000;

/// An alert change as pushed to `/api/stream` (event `alert`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AlertEvent {
    Raised(Alert),
    /// The series fell below the alert's level at `ended_at` (reading time).
    Ended {
        id: i64,
        station: String,
        kind: String,
        level: AlertLevel,
        ended_at: i64,
        end_value: f64,
    },
}

/// The answer to an ingestion request.
#[derive(Debug, Clone, Serialize)]
pub struct IngestOutcome {
    /// Readings newly stored.
    pub accepted: u64,
    /// Readings already stored (or repeated within the request): not applied again.
    pub duplicates: u64,
    pub rejected: Vec<Rejection>,
    /// Alerts this request raised.
    pub alerts: Vec<Alert>,
    /// How many active alerts this request ended.
    pub ended: usize,
}

/// The newest reading of one series, for `/api/feeds/latest`.
#[derive(Debug, Clone)]
pub struct Latest {
    pub kind: usize,
    pub series: Series,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    config: Arc<FeedConfig>,
    store: SharedStore,
    clock: Clock,
    stations: ArcSwap<Stations>,
    rebuilding: std::sync::Mutex<()>,
    /// Station id → per kind (config order) its series, if it has readings.
    series: RwLock<HashMap<String, Vec<Option<Series>>>>,
    writer: tokio::sync::Mutex<()>,
    events: Fanout<AlertEvent>,
}

#[derive(Debug, Clone)]
pub struct FeedService {
    inner: Arc<Inner>,
}

/// A series as a request works on it: alerts raised earlier in the same request have no id yet.
#[derive(Debug, Clone)]
struct Work {
    time: i64,
    value: f64,
    level: Option<AlertLevel>,
    active: Vec<(AlertRef, AlertLevel)>,
}

impl FeedService {
    /// Loads the newest reading of every series and the active alerts from `db` (already
    /// migrated by [`Db::connect`]) and follows the other servers' alerts.
    pub async fn start(
        db: Db,
        store: SharedStore,
        config: FeedConfig,
        clock: Clock,
    ) -> Result<FeedService> {
        let config = Arc::new(config);
        let stations = Stations::build(&store.snapshot(), &config);
        for problem in &stations.problems {
            tracing::warn!("feeds: {problem}");
        }
        let mut series: HashMap<String, Vec<Option<Series>>> = HashMap::new();
        for row in store::latest(&db).await? {
            let Some(kind) = config.kind_index(&row.kind) else {
                continue;
            };
            let level = stations
                .get(&row.station)
                .and_then(|s| s.levels(kind))
                .and_then(|l| l.classify(row.value))
                .map(|(l, _)| l);
            series
                .entry(row.station)
                .or_insert_with(|| vec![None; config.kinds.len()])[kind] = Some(Series {
                time: row.time,
                value: row.value,
                level,
                active: Vec::new(),
            });
        }
        let active = AlertFilter {
            active: Some(true),
            limit: i64::from(i32::MAX),
            ..AlertFilter::default()
        };
        let (alerts, _) = store::alerts(&db, &config, &active).await?;
        for alert in alerts.iter().rev() {
            let Some(kind) = config.kind_index(&alert.kind) else {
                continue;
            };
            if let Some(Some(s)) = series.get_mut(&alert.station).map(|v| &mut v[kind]) {
                s.active.push((alert.id, alert.level));
            }
        }
        let events = Fanout::new(CHANNEL, 1024);
        tracing::info!(
            stations = stations.len(),
            series = series.values().flatten().flatten().count(),
            active_alerts = alerts.len(),
            "feed service ready"
        );
        let service = FeedService {
            inner: Arc::new(Inner {
                db,
                config,
                store,
                clock,
                stations: ArcSwap::from_pointee(stations),
                rebuilding: std::sync::Mutex::new(()),
                series: RwLock::new(series),
                writer: tokio::sync::Mutex::new(()),
                events,
            }),
        };
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

    /// Another server's alert change, shown on this server's stream.
    async fn hear(&self, notice: Notice) {
        let inner = &self.inner;
        let mut alert = match store::alert(&inner.db, &inner.config, notice.id).await {
            Ok(Some(alert)) => alert,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("alert {} announced but unreadable: {e}", notice.id);
                return;
            }
        };
        alert.station_name = self
            .stations()
            .get(&alert.station)
            .and_then(|s| s.name.clone());
        let event = match (notice.ended, alert.ended_at, alert.end_value) {
            (false, _, _) => AlertEvent::Raised(alert),
            (true, Some(ended_at), Some(end_value)) => AlertEvent::Ended {
                id: alert.id,
                station: alert.station,
                kind: alert.kind,
                level: alert.level,
                ended_at,
                end_value,
            },
            (true, _, _) => return,
        };
        inner.events.publish(event);
    }

    /// Hands an alert change to this server's stream and tells the other servers.
    async fn publish(&self, event: AlertEvent) {
        let notice = match &event {
            AlertEvent::Raised(alert) => Notice {
                id: alert.id,
                ended: false,
            },
            AlertEvent::Ended { id, .. } => Notice {
                id: *id,
                ended: true,
            },
        };
        self.inner.events.publish(event);
        self.inner.events.announce(&self.inner.db, &notice).await;
    }

    pub fn config(&self) -> &FeedConfig {
        &self.inner.config
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn subscribe(&self) -> broadcast::Receiver<AlertEvent> {
        self.inner.events.subscribe()
    }

    /// The stations of the current layer store (rebuilt after a layer reload).
    pub fn stations(&self) -> Arc<Stations> {
        let store = self.inner.store.snapshot();
        let current = self.inner.stations.load_full();
        if current.generation == store.generation {
            return current;
        }
        let _guard = self
            .inner
            .rebuilding
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = self.inner.stations.load_full();
        if current.generation == store.generation {
            return current;
        }
        let fresh = Arc::new(Stations::build(&store, &self.inner.config));
        for problem in &fresh.problems {
            tracing::warn!("feeds: {problem}");
        }
        self.inner.stations.store(fresh.clone());
        fresh
    }

    /// The newest reading of each series of `station`.
    pub fn latest_of(&self, station: &str) -> Vec<Latest> {
        let Ok(series) = self.inner.series.read() else {
            return Vec::new();
        };
        series
            .get(station)
            .map(|kinds| {
                kinds
                    .iter()
                    .enumerate()
                    .filter_map(|(kind, s)| s.clone().map(|series| Latest { kind, series }))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Checks, stores and alerts on one request's readings.
    pub async fn ingest(&self, parsed: Parsed) -> Result<IngestOutcome> {
        if parsed.len() > MAX_ROWS {
            return Err(FeedError::TooManyRows {
                max: MAX_ROWS,
                got: parsed.len(),
            });
        }
        let inner = &self.inner;
        let config = &inner.config;
        let stations = self.stations();
        let mut rejected = parsed.refused;
        let mut readings: Vec<Reading> = Vec::with_capacity(parsed.rows.len());
        let mut repeated = 0u64;
        {
            let now = inner.clock.now();
            let mut seen: HashSet<(String, usize, i64)> = HashSet::with_capacity(parsed.rows.len());
            for raw in parsed.rows {
                match check(raw, &stations, config, now) {
                    Ok(r) => {
                        if seen.insert((r.station.clone(), r.kind, r.time)) {
                            readings.push(r);
                        } else {
                            repeated += 1;
                        }
                    }
                    Err(rejection) => rejected.push(rejection),
                }
            }
        }
        rejected.sort_by_key(|r| r.row);

        let _writer = inner.writer.lock().await;
        let now = inner.clock.now();
        let layers = inner.store.snapshot();
        // Decide the alerts, in time order, on a working copy of the touched series.
        let mut order: Vec<usize> = (0..readings.len()).collect();
        order.sort_by_key(|&i| readings[i].time);
        let mut work: HashMap<(&str, usize), Work> = HashMap::new();
        let mut ops: Vec<AlertOp> = Vec::new();
        let mut raised: Vec<(usize, &Station)> = Vec::new();
        let mut ended: Vec<(AlertRef, &str, usize, AlertLevel, i64, f64)> = Vec::new();
        {
            let shared = inner
                .series
                .read()
                .map_err(|_| FeedError::Corrupt("feed state lock poisoned".into()))?;
            for &i in &order {
                let r = &readings[i];
                let Some(station) = stations.get(&r.station) else {
                    continue;
                };
                let state =
                    work.entry((r.station.as_str(), r.kind)).or_insert_with(|| {
                        match shared.get(&r.station).and_then(|v| v[r.kind].as_ref()) {
                            Some(s) => Work {
                                time: s.time,
                                value: s.value,
                                level: s.level,
                                active: s
                                    .active
                                    .iter()
                                    .map(|&(id, l)| (AlertRef::Stored(id), l))
                                    .collect(),
                            },
                            None => Work {
                                time: i64::MIN,
                                value: f64::NAN,
                                level: None,
                                active: Vec::new(),
                            },
                        }
                    });
                if r.time <= state.time {
                    continue; // late or already seen: stored, but alerts follow the newest
                }
                let reached = station.levels(r.kind).and_then(|l| l.classify(r.value));
                let t = transition(state.level, &state.active, reached.map(|(l, _)| l));
                for alert in &t.end {
                    let level = state
                        .active
                        .iter()
                        .find(|(a, _)| a == alert)
                        .map_or(AlertLevel::Blue, |&(_, l)| l);
                    ops.push(AlertOp::End {
                        alert: *alert,
                        time: r.time,
                        value: r.value,
                    });
                    ended.push((*alert, station.id.as_str(), r.kind, level, r.time, r.value));
                }
                state.active.retain(|(a, _)| !t.end.contains(a));
                if let (Some(level), Some((_, threshold))) = (t.raise, reached) {
                    let (flood_points, villages) = nearby(&layers, station.point, config.radius_m);
                    let new = raised.len();
                    ops.push(AlertOp::Raise(NewAlert {
                        station: station.id.clone(),
                        layer: station.layer.clone(),
                        kind: config.kinds[r.kind].name.clone(),
                        level,
                        value: r.value,
                        threshold,
                        time: r.time,
                        raised_at: now,
                        lon: station.point.x,
                        lat: station.point.y,
                        flood_points,
                        villages,
                    }));
                    raised.push((ops.len() - 1, station));
                    state.active.push((AlertRef::New(new), level));
                }
                state.time = r.time;
                state.value = r.value;
                state.level = reached.map(|(l, _)| l);
            }
        }

        let (inserted, ids) = store::write(&inner.db, config, &readings, now, &ops).await?;

        // Committed: publish the new state and the alerts.
        let resolve = |a: AlertRef| match a {
            AlertRef::Stored(id) => Some(id),
            AlertRef::New(i) => ids.get(i).copied(),
        };
        {
            let mut shared = inner
                .series
                .write()
                .map_err(|_| FeedError::Corrupt("feed state lock poisoned".into()))?;
            for ((station, kind), w) in &work {
                if w.time == i64::MIN {
                    continue;
                }
                let slot = &mut shared
                    .entry((*station).to_string())
                    .or_insert_with(|| vec![None; config.kinds.len()])[*kind];
                *slot = Some(Series {
                    time: w.time,
                    value: w.value,
                    level: w.level,
                    active: w
                        .active
                        .iter()
                        .filter_map(|&(a, l)| resolve(a).map(|id| (id, l)))
                        .collect(),
                });
            }
        }
        let mut alerts = Vec::with_capacity(raised.len());
        for (n, (op, station)) in raised.iter().enumerate() {
            let (AlertOp::Raise(a), Some(&id)) = (&ops[*op], ids.get(n)) else {
                continue;
            };
            let alert = Alert {
                id,
                station: a.station.clone(),
                station_name: station.name.clone(),
                layer: a.layer.clone(),
                kind: a.kind.clone(),
                level: a.level,
                value: a.value,
                threshold: a.threshold,
                unit: config
                    .kind_index(&a.kind)
                    .map(|k| config.kinds[k].unit.clone())
                    .unwrap_or_default(),
                time: a.time,
                raised_at: a.raised_at,
                ended_at: None,
                end_value: None,
                lon: a.lon,
                lat: a.lat,
                flood_points: a.flood_points.clone(),
                villages: a.villages.clone(),
            };
            self.publish(AlertEvent::Raised(alert.clone())).await;
            alerts.push(alert);
        }
        for &(alert, station, kind, level, time, value) in &ended {
            if let Some(id) = resolve(alert) {
                self.publish(AlertEvent::Ended {
                    id,
                    station: station.to_string(),
                    kind: config.kinds[kind].name.clone(),
                    level,
                    ended_at: time,
                    end_value: value,
                })
                .await;
            }
        }
        // Alerts that began and ended within one request end up stored ended: say so.
        for alert in &mut alerts {
            if let Some(&(_, _, _, _, time, value)) =
                ended.iter().find(|e| resolve(e.0) == Some(alert.id))
            {
                alert.ended_at = Some(time);
                alert.end_value = Some(value);
            }
        }
        let unique = readings.len() as u64;
        Ok(IngestOutcome {
            accepted: inserted,
            duplicates: unique.saturating_sub(inserted) + repeated,
            rejected,
            alerts,
            ended: ended.len(),
        })
    }

    /// Alerts matching `filter`, with station names, and the total count.
    pub async fn alerts(&self, filter: &AlertFilter) -> Result<(Vec<Alert>, i64)> {
        let (mut alerts, total) = store::alerts(&self.inner.db, &self.inner.config, filter).await?;
        let stations = self.stations();
        for a in &mut alerts {
            a.station_name = stations.get(&a.station).and_then(|s| s.name.clone());
        }
        Ok((alerts, total))
    }
}
