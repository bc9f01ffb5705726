//! The shelter tables of the application database: `shelter_state` (each reported shelter's
//! current headcount and status) and `shelter_events` (the append-only log of reports and
//! committed allocations), from `migrations/*/0003_shelters.sql`.

use super::ShelterChange;
use crate::cases::Actor;
use crate::db::{Db, on_db};
use crate::services::occupancy::{Change, LiveState, ShelterError, ShelterStatus};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

impl From<sqlx::Error> for ShelterError {
    fn from(e: sqlx::Error) -> Self {
        ShelterError::Database(e.to_string())
    }
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

/// A change to write: the shelter, its register values and capacity, and the change.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: String,
    pub capacity: i64,
    pub register: (i64, ShelterStatus),
    pub change: Change,
}

/// Writes the changes in one transaction, each shelter's row locked while it is read and
/// written (on PostgreSQL; SQLite has one writer), and returns them as made. A change that
/// would leave `0..=capacity` rolls the whole transaction back.
pub async fn write(
    db: &Db,
    pending: &[Pending],
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
    let read = if db.is_postgres() { READ_LOCKED } else { READ };
    on_db!(db, |pool, sql| {
        let (ensure, read, update, event) = (sql(ENSURE), sql(read), sql(UPDATE), sql(EVENT));
        let mut tx = pool.begin().await?;
        let mut changes = Vec::with_capacity(pending.len());
        for p in pending {
            sqlx::query(&ensure)
                .bind(&p.id)
                .bind(p.register.0)
                .bind(p.register.1.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query(&read).bind(&p.id).fetch_one(&mut *tx).await?;
            let before: i64 = row.try_get("occupancy")?;
            let status_before = ShelterStatus::stored(row.try_get::<&str, _>("status")?)?;
            // An error here drops the transaction, which rolls it back.
            let (occupancy, status) = p.change.apply(&p.id, p.capacity, before, status_before)?;
            sqlx::query(&update)
                .bind(occupancy)
                .bind(status.as_str())
                .bind(now)
                .bind(&actor.name)
                .bind(&p.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&event)
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
            changes.push(ShelterChange {
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
            });
        }
        tx.commit().await?;
        Ok(changes)
    })
}

/// A `shelter_state` row as [`LiveState`] (a macro: the row type differs per back end).
macro_rules! live_state {
    ($row:expr) => {{
        let row = $row;
        LiveState {
            occupancy: row.try_get("occupancy")?,
            status: ShelterStatus::stored(row.try_get::<&str, _>("status")?)?,
            updated_at: row.try_get("updated_at")?,
            actor: row.try_get("actor")?,
        }
    }};
}

/// The reported state of one shelter, if anybody reported on it.
pub async fn read_one(db: &Db, shelter: &str) -> Result<Option<LiveState>, ShelterError> {
    const TEXT: &str =
        "SELECT occupancy, status, updated_at, actor FROM shelter_state WHERE shelter = ?";
    on_db!(db, |pool, sql| {
        let row = sqlx::query(&sql(TEXT))
            .bind(shelter)
            .fetch_optional(pool)
            .await?;
        Ok(match row {
            Some(row) => Some(live_state!(&row)),
            None => None,
        })
    })
}

/// Every reported state, by shelter id.
pub async fn read_all(db: &Db) -> Result<HashMap<String, LiveState>, ShelterError> {
    const TEXT: &str = "SELECT shelter, occupancy, status, updated_at, actor FROM shelter_state";
    on_db!(db, |pool, sql| {
        let rows = sqlx::query(&sql(TEXT)).fetch_all(pool).await?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in &rows {
            out.insert(row.try_get::<String, _>("shelter")?, live_state!(row));
        }
        Ok(out)
    })
}

/// The latest `limit` events of a shelter, newest first.
pub async fn history(
    db: &Db,
    shelter: &str,
    limit: i64,
) -> Result<Vec<ShelterEvent>, ShelterError> {
    const TEXT: &str = "SELECT id, source, occupancy_before, occupancy, status_before, status, actor, role, at, note FROM shelter_events WHERE shelter = ? ORDER BY id DESC LIMIT ?";
    on_db!(db, |pool, sql| {
        let rows = sqlx::query(&sql(TEXT))
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
