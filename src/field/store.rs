//! The field room's tables (`migrations/*/0007_positions.sql`): fixes, fence events, posted
//! fences and which key may post for which worker.
//!
//! Fixes go in with multi-row `VALUES` statements inside one transaction per intake group,
//! `ON CONFLICT (worker, time) DO NOTHING` (another server sharing the database may have stored
//! the same fix). The row counts come from a small fixed set (256, then the binary digits of
//! the remainder), so at most nine statement texts exist and each is prepared once.

use super::error::{FieldError, Result};
use super::fences::Crossing;
use super::fix::Fix;
use crate::db::{Db, on_db};
use sqlx::Row;

const INSERT_ROWS: usize = 256;

fn insert_text(rows: usize) -> String {
    crate::db::multi_row(
        "INSERT INTO positions (worker, time, lon, lat, accuracy, speed, heading, received_at) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
        " ON CONFLICT (worker, time) DO NOTHING",
    )
}

fn chunk_sizes(n: usize) -> Vec<usize> {
    crate::db::chunk_sizes(n, INSERT_ROWS)
}

/// An event before it has an id.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub worker: std::sync::Arc<str>,
    pub fence: std::sync::Arc<str>,
    pub kind: Crossing,
    pub time: i64,
    pub lon: f64,
    pub lat: f64,
}

/// A stored fence event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredEvent {
    pub id: i64,
    pub worker: String,
    pub fence: String,
    pub kind: Crossing,
    pub time: i64,
    pub lon: f64,
    pub lat: f64,
    pub raised_at: i64,
}

/// Stores one intake group: its fixes and the events they raised, in one transaction.
/// Returns the events' ids, in order.
pub async fn write(db: &Db, fixes: &[Fix], events: &[NewEvent], now: i64) -> Result<Vec<i64>> {
    const INSERT_EVENT: &str = "INSERT INTO fence_events (worker, fence, kind, time, lon, lat, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id";
    let sizes = chunk_sizes(fixes.len());
    on_db!(db, |pool, q| {
        let mut tx = pool.begin().await?;
        let mut at = 0;
        for size in sizes {
            let text = insert_text(size);
            let sql = q(&text);
            let mut query = sqlx::query(&sql);
            for f in &fixes[at..at + size] {
                query = query
                    .bind(&*f.who)
                    .bind(f.time)
                    .bind(f.at.x)
                    .bind(f.at.y)
                    .bind(f.accuracy)
                    .bind(f.speed)
                    .bind(f.heading)
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
            at += size;
        }
        let mut ids = Vec::with_capacity(events.len());
        let insert = q(INSERT_EVENT);
        for e in events {
            let id: i64 = sqlx::query(&insert)
                .bind(&*e.worker)
                .bind(&*e.fence)
                .bind(e.kind.as_str())
                .bind(e.time)
                .bind(e.lon)
                .bind(e.lat)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    })
}

/// A stored fix.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFix {
    pub worker: String,
    pub time: i64,
    pub lon: f64,
    pub lat: f64,
    pub accuracy: Option<f64>,
    pub speed: Option<f64>,
    pub heading: Option<f64>,
}

macro_rules! fix_from_row {
    ($row:expr) => {{
        let row = $row;
        StoredFix {
            worker: row.try_get("worker")?,
            time: row.try_get("time")?,
            lon: row.try_get("lon")?,
            lat: row.try_get("lat")?,
            accuracy: row.try_get("accuracy")?,
            speed: row.try_get("speed")?,
            heading: row.try_get("heading")?,
        }
    }};
}

/// The newest fix of every worker (the live index at start).
pub async fn latest(db: &Db) -> Result<Vec<StoredFix>> {
    const TEXT: &str = "SELECT p.worker, p.time, p.lon, p.lat, p.accuracy, p.speed, p.heading FROM positions p JOIN (SELECT worker, MAX(time) AS time FROM positions GROUP BY worker) m ON p.worker = m.worker AND p.time = m.time";
    on_db!(db, |pool, q| {
        let rows = sqlx::query(&q(TEXT)).fetch_all(pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(fix_from_row!(row));
        }
        Ok(out)
    })
}

/// A worker's fixes with `since <= time < until`, oldest first (at most `limit`).
pub async fn track(
    db: &Db,
    worker: &str,
    since: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<StoredFix>> {
    const TEXT: &str = "SELECT worker, time, lon, lat, accuracy, speed, heading FROM positions WHERE worker = ? AND time >= ? AND time < ? ORDER BY time LIMIT ?";
    on_db!(db, |pool, q| {
        let sql = q(TEXT);
        let rows = sqlx::query(&sql)
            .bind(worker)
            .bind(since)
            .bind(until)
            .bind(limit)
            .fetch_all(pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(fix_from_row!(row));
        }
        Ok(out)
    })
}

/// Every fix with `since <= time < until` of the given workers, by worker then time.
pub async fn tracks(db: &Db, workers: &[String], since: i64, until: i64) -> Result<Vec<StoredFix>> {
    let mut out = Vec::new();
    for w in workers {
        out.extend(track(db, w, since, until, i64::from(i32::MAX)).await?);
    }
    Ok(out)
}

/// Deletes fixes older than `before`; how many.
pub async fn prune(db: &Db, before: i64) -> Result<u64> {
    const TEXT: &str = "DELETE FROM positions WHERE time < ?";
    on_db!(db, |pool, q| {
        let done = sqlx::query(&q(TEXT)).bind(before).execute(pool).await?;
        Ok(done.rows_affected())
    })
}

const EVENT_COLUMNS: &str = "id, worker, fence, kind, time, lon, lat, raised_at";

macro_rules! event_from_row {
    ($row:expr) => {{
        let row = $row;
        let kind: String = row.try_get("kind")?;
        StoredEvent {
            id: row.try_get("id")?,
            worker: row.try_get("worker")?,
            fence: row.try_get("fence")?,
            kind: Crossing::parse(&kind)
                .ok_or_else(|| FieldError::Corrupt(format!("fence event kind {kind:?}")))?,
            time: row.try_get("time")?,
            lon: row.try_get("lon")?,
            lat: row.try_get("lat")?,
            raised_at: row.try_get("raised_at")?,
        }
    }};
}

/// A filter on the fence event list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub worker: Option<String>,
    pub fence: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: i64,
}

/// Events matching the filter, oldest first.
pub async fn events(db: &Db, filter: &EventFilter) -> Result<Vec<StoredEvent>> {
    let mut conditions = Vec::new();
    if filter.worker.is_some() {
        conditions.push("worker = ?");
    }
    if filter.fence.is_some() {
        conditions.push("fence = ?");
    }
    if filter.since.is_some() {
        conditions.push("time >= ?");
    }
    if filter.until.is_some() {
        conditions.push("time < ?");
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let text =
        format!("SELECT {EVENT_COLUMNS} FROM fence_events{clause} ORDER BY time, id LIMIT ?");
    on_db!(db, |pool, q| {
        let sql = q(&text);
        let mut query = sqlx::query(&sql);
        if let Some(v) = &filter.worker {
            query = query.bind(v.as_str());
        }
        if let Some(v) = &filter.fence {
            query = query.bind(v.as_str());
        }
        if let Some(v) = filter.since {
            query = query.bind(v);
        }
        if let Some(v) = filter.until {
            query = query.bind(v);
        }
        let rows = query.bind(filter.limit).fetch_all(pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(event_from_row!(row));
        }
        Ok(out)
    })
}

/// One event by id (another server raised it).
pub async fn event(db: &Db, id: i64) -> Result<Option<StoredEvent>> {
    let text = format!("SELECT {EVENT_COLUMNS} FROM fence_events WHERE id = ?");
    on_db!(db, |pool, q| {
        let sql = q(&text);
        match sqlx::query(&sql).bind(id).fetch_optional(pool).await? {
            Some(row) => Ok(Some(event_from_row!(&row))),
            None => Ok(None),
        }
    })
}

/// A posted fence as stored.
#[derive(Debug, Clone)]
pub struct StoredFence {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub geometry: String,
}

pub async fn insert_fence(db: &Db, fence: &StoredFence, actor: &str, now: i64) -> Result<bool> {
    const TEXT: &str = "INSERT INTO fences (id, name, kind, geometry, created_at, actor) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING";
    on_db!(db, |pool, q| {
        let done = sqlx::query(&q(TEXT))
            .bind(&fence.id)
            .bind(&fence.name)
            .bind(&fence.kind)
            .bind(&fence.geometry)
            .bind(now)
            .bind(actor)
            .execute(pool)
            .await?;
        Ok(done.rows_affected() > 0)
    })
}

/// Adds a fence or replaces its name, kind and shape (and brings a removed one back): another
/// room's area under the room's own id, which may change and may be set by several servers.
pub async fn upsert_fence(db: &Db, fence: &StoredFence, actor: &str, now: i64) -> Result<()> {
    const TEXT: &str = "INSERT INTO fences (id, name, kind, geometry, created_at, actor) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, geometry = excluded.geometry, removed_at = NULL";
    on_db!(db, |pool, q| {
        sqlx::query(&q(TEXT))
            .bind(&fence.id)
            .bind(&fence.name)
            .bind(&fence.kind)
            .bind(&fence.geometry)
            .bind(now)
            .bind(actor)
            .execute(pool)
            .await?;
        Ok(())
    })
}

pub async fn remove_fence(db: &Db, id: &str, now: i64) -> Result<bool> {
    const TEXT: &str = "UPDATE fences SET removed_at = ? WHERE id = ? AND removed_at IS NULL";
    on_db!(db, |pool, q| {
        let done = sqlx::query(&q(TEXT))
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?;
        Ok(done.rows_affected() > 0)
    })
}

/// Posted fences not removed.
pub async fn fences(db: &Db) -> Result<Vec<StoredFence>> {
    const TEXT: &str = "SELECT id, name, kind, geometry FROM fences WHERE removed_at IS NULL ORDER BY created_at, id";
    on_db!(db, |pool, q| {
        let rows = sqlx::query(&q(TEXT)).fetch_all(pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(StoredFence {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                kind: row.try_get("kind")?,
                geometry: row.try_get("geometry")?,
            });
        }
        Ok(out)
    })
}

/// Lets the key with `key_id` post for `worker`.
pub async fn bind(db: &Db, key_id: i64, worker: &str) -> Result<()> {
    const TEXT: &str = "INSERT INTO worker_keys (key_id, worker) VALUES (?, ?) ON CONFLICT (key_id, worker) DO NOTHING";
    on_db!(db, |pool, q| {
        sqlx::query(&q(TEXT))
            .bind(key_id)
            .bind(worker)
            .execute(pool)
            .await?;
        Ok(())
    })
}

/// The workers a live key (by the SHA-256 of its secret, as `api_keys` keeps it) may post for.
pub async fn workers_of_key(db: &Db, key_hash: &str) -> Result<Vec<String>> {
    const TEXT: &str = "SELECT w.worker FROM worker_keys w JOIN api_keys k ON k.id = w.key_id WHERE k.hash = ? AND k.revoked_at IS NULL ORDER BY w.worker";
    on_db!(db, |pool, q| {
        let rows = sqlx::query(&q(TEXT)).bind(key_hash).fetch_all(pool).await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(FieldError::from))
            .collect()
    })
}
