//! LISTEN/NOTIFY: how a change made by one server reaches the others sharing its database.
//!
//! One loop follows one channel ([`Listener`]): on PostgreSQL it holds a connection of its own
//! that `LISTEN`s; when that connection drops it connects again after [`RECONNECT_AFTER`] and
//! says so ([`Heard::Listening`] with `missed: true`), because notices sent while nobody
//! listened are gone and whoever keeps state from them must read it again. On SQLite (one file,
//! one server) the same calls run over an in-process broadcast shared by every handle on the
//! file, so the code above never asks which back end it has.
//!
//! Two ways to use it:
//! - [`Fanout`]: a domain's changes (cases, shelter reports, feed alerts). Publishing hands a
//!   change to this server's subscribers at once and announces it on the channel; following
//!   hears the other servers' announcements (this server's own are skipped), and a gap.
//! - [`Listener`] alone, for notices that are not a server's own (the PostGIS layer triggers):
//!   [`Listener::batch`] gathers a burst, so one rebuild serves many row edits.

use super::{Db, Pool};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool};
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// How long a listener waits before connecting again after losing its connection.
pub const RECONNECT_AFTER: Duration = Duration::from_secs(2);
/// Notices held for a slow reader (in-process, and between a listener and its reader).
const QUEUE: usize = 1024;

/// What a listener hears, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// `LISTEN` is in place. `missed`: not on the first try — the connection was lost (or the
    /// first attempt failed, or an in-process reader fell behind), so notices sent meanwhile
    /// are gone: read again whatever the notices keep up to date.
    Listening { missed: bool },
    /// One notice's payload.
    Notice(String),
}

/// A burst of notices ([`Listener::batch`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub notices: Vec<String>,
    /// Notices may have been lost before or during the burst: read everything again.
    pub missed: bool,
}

/// Follows one channel for as long as it lives (dropping it stops the loop).
#[derive(Debug)]
pub struct Listener {
    heard: mpsc::Receiver<Heard>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// `LISTEN channel` on the PostgreSQL `pool` connects to, over a connection of its own.
    /// Returns once the first attempt is over, so when it succeeded nothing sent after this
    /// returns is missed; when it failed, the loop keeps trying and reports the gap.
    pub async fn postgres(pool: &PgPool, channel: &str) -> Listener {
        let (tx, heard) = mpsc::channel(QUEUE);
        let (first_tx, first) = oneshot::channel();
        let task = tokio::spawn(follow_postgres(
            pool.clone(),
            channel.to_string(),
            tx,
            first_tx,
        ));
        let _ = first.await;
        Listener { heard, task }
    }

    /// The in-process equivalent on SQLite: subscribed before it returns.
    fn in_process(hub: &Hub, channel: &str) -> Listener {
        let mut notices = hub.sender(channel).subscribe();
        let (tx, heard) = mpsc::channel(QUEUE);
        let task = tokio::spawn(async move {
            let mut next = Heard::Listening { missed: false };
            loop {
                if tx.send(next).await.is_err() {
                    return;
                }
                next = match notices.recv().await {
                    Ok(payload) => Heard::Notice(payload),
                    Err(RecvError::Lagged(_)) => Heard::Listening { missed: true },
                    Err(RecvError::Closed) => return,
                };
            }
        });
        Listener { heard, task }
    }

    /// The next thing heard; `None` once the loop has stopped.
    pub async fn recv(&mut self) -> Option<Heard> {
        self.heard.recv().await
    }

    /// Waits for a notice, then takes whatever else arrives within `window`: a burst of
    /// edits becomes one batch. A gap ends the wait at once (`missed`, maybe without notices:
    /// the caller reads everything again anyway). `None` once the loop has stopped.
    pub async fn batch(&mut self, window: Duration) -> Option<Batch> {
        let mut batch = Batch::default();
        loop {
            match self.heard.recv().await? {
                Heard::Listening { missed: false } => {}
                Heard::Listening { missed: true } => {
                    batch.missed = true;
                    return Some(batch);
                }
                Heard::Notice(payload) => {
                    batch.notices.push(payload);
                    break;
                }
            }
        }
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(next) = tokio::time::timeout_at(deadline, self.heard.recv()).await {
            match next {
                Some(Heard::Notice(payload)) => batch.notices.push(payload),
                Some(Heard::Listening { missed }) => batch.missed |= missed,
                None => break,
            }
        }
        Some(batch)
    }
}

async fn follow_postgres(
    pool: PgPool,
    channel: String,
    heard: mpsc::Sender<Heard>,
    first: oneshot::Sender<()>,
) {
    let mut first = Some(first);
    let mut missed = false;
    loop {
        match listen_postgres(&pool, &channel).await {
            Ok(mut listener) => {
                if heard.send(Heard::Listening { missed }).await.is_err() {
                    return;
                }
                first.take().map(|f| f.send(()));
                loop {
                    // `try_recv`, not `recv`: `recv` reconnects by itself and would hide the gap.
                    match listener.try_recv().await {
                        Ok(Some(notice)) => {
                            let payload = notice.payload().to_string();
                            if heard.send(Heard::Notice(payload)).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => {
                            tracing::warn!("LISTEN {channel}: connection lost");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!("LISTEN {channel}: {e}");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!("LISTEN {channel} failed, trying again: {e}");
                first.take().map(|f| f.send(()));
            }
        }
        missed = true;
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

async fn listen_postgres(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

/// SQLite's stand-in for NOTIFY: one broadcast per channel, shared by every handle on one
/// database file in this process (two handles behave like two servers on one PostgreSQL).
#[derive(Debug, Default)]
pub(super) struct Hub {
    channels: Mutex<HashMap<String, broadcast::Sender<String>>>,
}

impl Hub {
    /// The hub of the database file at `path`.
    pub(super) fn for_file(path: &Path) -> Arc<Hub> {
        static HUBS: LazyLock<Mutex<HashMap<PathBuf, Weak<Hub>>>> = LazyLock::new(Default::default);
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut hubs = HUBS.lock().unwrap_or_else(PoisonError::into_inner);
        hubs.retain(|_, hub| hub.strong_count() > 0);
        if let Some(hub) = hubs.get(&key).and_then(Weak::upgrade) {
            return hub;
        }
        let hub = Arc::new(Hub::default());
        hubs.insert(key, Arc::downgrade(&hub));
        hub
    }

    fn sender(&self, channel: &str) -> broadcast::Sender<String> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels
            .entry(channel.to_string())
            .or_insert_with(|| broadcast::channel(QUEUE).0)
            .clone()
    }
}

impl Db {
    /// Follows `channel` on this database (see [`Listener`]).
    pub async fn listen(&self, channel: &str) -> Listener {
        match &self.pool {
            Pool::Postgres(pool) => Listener::postgres(pool, channel).await,
            Pool::Sqlite(_) => Listener::in_process(&self.hub, channel),
        }
    }

    /// Sends `payload` on `channel` to everyone listening on this database, this server too.
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), sqlx::Error> {
        match &self.pool {
            Pool::Postgres(pool) => {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(channel)
                    .bind(payload)
                    .execute(pool)
                    .await?;
            }
            // No receiver is not an error: nobody listens yet.
            Pool::Sqlite(_) => drop(self.hub.sender(channel).send(payload.to_string())),
        }
        Ok(())
    }
}

/// A notice as it travels: the sending server's name, then the domain's own fields.
#[derive(Serialize, Deserialize)]
struct Envelope<N> {
    from: String,
    #[serde(flatten)]
    notice: N,
}

/// What a follower of a [`Fanout`] hears from the other servers.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed<N> {
    /// Another server's notice.
    Notice(N),
    /// Notices may have been lost (the connection dropped): read the state again.
    Missed,
}

/// One domain's changes (events `E`), as this server's subscribers and the other servers see
/// them. [`Fanout::publish`] hands an event to this server's subscribers at once;
/// [`Fanout::announce`] tells the other servers on the database with a small notice (an id to
/// read again — a notice is limited to 8,000 bytes); [`Fanout::follow`] hears theirs. The
/// subscribers exist before any database does (a server may run without one). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fanout<E> {
    channel: &'static str,
    local: broadcast::Sender<E>,
    ready: Arc<watch::Sender<bool>>,
}

impl<E: Clone + Send + 'static> Fanout<E> {
    /// `capacity`: events a slow subscriber may fall behind before it is told it lagged.
    pub fn new(channel: &'static str, capacity: usize) -> Fanout<E> {
        Fanout {
            channel,
            local: broadcast::channel(capacity).0,
            ready: Arc::new(watch::Sender::new(false)),
        }
    }

    pub fn channel(&self) -> &'static str {
        self.channel
    }

    /// This server's events from now on (its own and those it heard from the others).
    pub fn subscribe(&self) -> broadcast::Receiver<E> {
        self.local.subscribe()
    }

    /// Hands `event` to this server's subscribers (nobody subscribed is fine).
    pub fn publish(&self, event: E) {
        let _ = self.local.send(event);
    }

    /// Tells the other servers on `db`. Best effort: a lost notice only delays their view
    /// until the next change or a reconnect, so a failure is logged, not returned.
    pub async fn announce<N: Serialize>(&self, db: &Db, notice: &N) {
        let envelope = Envelope {
            from: db.instance().to_string(),
            notice,
        };
        let payload = match serde_json::to_string(&envelope) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::warn!("{}: notice not sent: {e}", self.channel);
                return;
            }
        };
        if let Err(e) = db.notify(self.channel, &payload).await {
            tracing::warn!(
                "{}: announcing to the other servers failed: {e}",
                self.channel
            );
        }
    }

    /// Follows the other servers' notices on `db` for as long as the runtime lives: `hear`
    /// gets each (this server's own are skipped) and every gap. Returns once listening started
    /// (or its first attempt failed; it goes on trying).
    pub async fn follow<N, F, Fut>(&self, db: &Db, mut hear: F)
    where
        N: DeserializeOwned + Send + 'static,
        F: FnMut(Followed<N>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let mut listener = db.listen(self.channel).await;
        let (ready, channel) = (self.ready.clone(), self.channel);
        let instance: Arc<str> = db.instance().into();
        tokio::spawn(async move {
            while let Some(heard) = listener.recv().await {
                match heard {
                    Heard::Listening { missed } => {
                        ready.send_replace(true);
                        if missed {
                            hear(Followed::Missed).await;
                        }
                    }
                    Heard::Notice(payload) => match serde_json::from_str::<Envelope<N>>(&payload) {
                        Ok(envelope) if *envelope.from == *instance => {}
                        Ok(envelope) => hear(Followed::Notice(envelope.notice)).await,
                        Err(e) => tracing::warn!("{channel}: not a notice ({e}): {payload}"),
                    },
                }
            }
        });
    }

    /// Waits until this server hears the others (at once on SQLite), so a caller need not
    /// guess how long `LISTEN` takes.
    pub async fn ready(&self) {
        let _ = self.ready.subscribe().wait_for(|ready| *ready).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const WAIT: Duration = Duration::from_secs(5);

    fn pg_url() -> String {
        std::env::var("GRIDLINK_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// Two handles on one SQLite file, as two servers would share one database.
    async fn sqlite_pair() -> (Db, Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notify.sqlite");
        let a = Db::connect_sqlite(&path).await.expect("opens");
        let b = Db::connect_sqlite(&path).await.expect("opens again");
        (a, b, dir)
    }

    /// Two handles on one PostgreSQL schema. Each test names its own schema: tests run in
    /// parallel, and two first connections migrating one new schema at once race on
    /// `CREATE SCHEMA`.
    async fn postgres_pair(schema: &str) -> (Db, Db) {
        let url = pg_url();
        let a = Db::connect_postgres_schema(&url, schema)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (scripts/setup-test-env.sh)");
        let b = Db::connect_postgres_schema(&url, schema)
            .await
            .expect("PostgreSQL again");
        (a, b)
    }

    async fn next(listener: &mut Listener) -> Heard {
        tokio::time::timeout(WAIT, listener.recv())
            .await
            .expect("heard within 5 s")
            .expect("the loop runs")
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Notice {
        id: i64,
    }

    /// A follower that forwards what it hears to the test.
    async fn follower(fanout: &Fanout<i64>, db: &Db) -> mpsc::UnboundedReceiver<Followed<Notice>> {
        let (tx, rx) = mpsc::unbounded_channel();
        fanout
            .follow(db, move |heard: Followed<Notice>| {
                let _ = tx.send(heard);
                async {}
            })
            .await;
        tokio::time::timeout(WAIT, fanout.ready())
            .await
            .expect("listening within 5 s");
        rx
    }

    async fn servers_hear_each_other_but_not_themselves(a: Db, b: Db, channel: &'static str) {
        let fan_a: Fanout<i64> = Fanout::new(channel, 16);
        let fan_b: Fanout<i64> = Fanout::new(channel, 16);
        let mut heard_by_a = follower(&fan_a, &a).await;
        let mut heard_by_b = follower(&fan_b, &b).await;
        let mut local_a = fan_a.subscribe();
        fan_a.publish(7);
        assert_eq!(local_a.try_recv().ok(), Some(7), "published at once");
        fan_a.announce(&a, &Notice { id: 1 }).await;
        fan_b.announce(&b, &Notice { id: 2 }).await;
        let at_b = tokio::time::timeout(WAIT, heard_by_b.recv()).await;
        assert_eq!(
            at_b.expect("B hears A").expect("open"),
            Followed::Notice(Notice { id: 1 })
        );
        let at_a = tokio::time::timeout(WAIT, heard_by_a.recv()).await;
        assert_eq!(
            at_a.expect("A hears B").expect("open"),
            Followed::Notice(Notice { id: 2 }),
            "A's own notice (id 1) was skipped"
        );
        assert!(heard_by_a.try_recv().is_err() && heard_by_b.try_recv().is_err());
    }

    #[tokio::test]
    async fn sqlite_handles_on_one_file_hear_each_other_but_not_themselves() {
        let (a, b, _dir) = sqlite_pair().await;
        servers_hear_each_other_but_not_themselves(a, b, "gridlink_test_fanout").await;
    }

    #[tokio::test]
    async fn postgres_servers_hear_each_other_but_not_themselves() {
        let (a, b) = postgres_pair("gridlink_unit_notify_a").await;
        servers_hear_each_other_but_not_themselves(a, b, "gridlink_test_fanout_pg").await;
    }

    #[tokio::test]
    async fn a_listener_hears_every_notice_in_order_and_separate_files_stay_apart() {
        let (a, b, _dir) = sqlite_pair().await;
        let (other, _, _other_dir) = sqlite_pair().await;
        let mut listener = b.listen("gridlink_test_order").await;
        let mut elsewhere = other.listen("gridlink_test_order").await;
        assert_eq!(
            next(&mut listener).await,
            Heard::Listening { missed: false }
        );
        assert_eq!(
            next(&mut elsewhere).await,
            Heard::Listening { missed: false }
        );
        for n in 0..3 {
            a.notify("gridlink_test_order", &n.to_string())
                .await
                .unwrap();
        }
        a.notify("gridlink_test_other_channel", "x").await.unwrap();
        for n in 0..3 {
            assert_eq!(next(&mut listener).await, Heard::Notice(n.to_string()));
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(100), elsewhere.recv())
                .await
                .is_err(),
            "another database file hears nothing"
        );
    }

    #[tokio::test]
    async fn a_burst_of_postgres_notices_is_one_batch() {
        let (a, b) = postgres_pair("gridlink_unit_notify_b").await;
        let Pool::Postgres(pool) = b.pool() else {
            unreachable!("a PostgreSQL pair")
        };
        let mut listener = Listener::postgres(pool, "gridlink_test_batch").await;
        for n in 0..5 {
            a.notify("gridlink_test_batch", &n.to_string())
                .await
                .unwrap();
        }
        let batch = tokio::time::timeout(WAIT, listener.batch(Duration::from_millis(300)))
            .await
            .expect("a batch within 5 s")
            .expect("the loop runs");
        assert!(!batch.missed);
        assert_eq!(batch.notices, ["0", "1", "2", "3", "4"]);
    }

    #[tokio::test]
    async fn a_dropped_postgres_connection_is_reported_as_a_gap_and_listening_resumes() {
        let (a, b) = postgres_pair("gridlink_unit_notify_c").await;
        let Pool::Postgres(pool) = b.pool() else {
            unreachable!("a PostgreSQL pair")
        };
        let mut listener = Listener::postgres(pool, "gridlink_test_gap").await;
        assert_eq!(
            next(&mut listener).await,
            Heard::Listening { missed: false }
        );
        // Another session ends the listening one, as a restarted database or a network cut
        // would.
        let killed: i64 = sqlx::query_scalar(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE query LIKE 'LISTEN %gridlink_test_gap%' AND pid <> pg_backend_pid()",
        )
        .fetch_one(match a.pool() {
            Pool::Postgres(pool) => pool,
            Pool::Sqlite(_) => unreachable!("a PostgreSQL pair"),
        })
        .await
        .expect("terminates");
        assert!(killed >= 1, "the listening session was found");
        let resumed = tokio::time::timeout(RECONNECT_AFTER + WAIT, listener.recv())
            .await
            .expect("resumes within 7 s")
            .expect("the loop runs");
        assert_eq!(resumed, Heard::Listening { missed: true });
        a.notify("gridlink_test_gap", "after").await.unwrap();
        assert_eq!(next(&mut listener).await, Heard::Notice("after".into()));
    }
}
