//! Readings and alerts in the application database (SQLite or PostgreSQL, tables from
//! `migrations/*/0002_feeds.sql`).
//!
//! Ingestion is idempotent on (station, kind, time): `INSERT … ON CONFLICT DO NOTHING`. The
//! first value stored for a key stands and a re-sent reading is counted as a duplicate, never
//! applied — so a replay, or a retry after a timeout, can be sent as often as needed, and alerts
//! (which were decided on the stored value) are never contradicted after the fact. Correcting a
//! stored value is a different operation this service does not offer.
//!
//! Readings go in with multi-row `VALUES` statements inside one transaction per request. Their
//! row counts come from a small fixed set (256, then the binary digits of the remainder: 128,
//! 64, …, 1), so at most nine statement texts exist and sqlx's per-connection statement cache
//! prepares each once.

use super::alerts::{Alert, Nearby};
use super::error::{FeedError, Result};
use super::level::AlertLevel;
use super::reading::Reading;
use super::thresholds::FeedConfig;
use crate::db::{Db, on_db};
use sqlx::Row;

/// Largest multi-row INSERT (5 values a row: 1,280 parameters, far below both back ends' limits).
pub const INSERT_ROWS: usize = 256;

fn insert_text(rows: usize) -> String {
    crate::db::multi_row(
        "INSERT INTO readings (station, kind, time, value, received_at) VALUES ",
        "(?, ?, ?, ?, ?)",
        rows,
        " ON CONFLICT (station, kind, time) DO NOTHING",
    )
}

/// Splits `n` rows into the fixed statement sizes.
fn chunk_sizes(n: usize) -> Vec<usize> {
    crate::db::chunk_sizes(n, INSERT_ROWS)
}

/// A new alert before it has an id.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub station: String,
    pub layer: String,
    pub kind: String,
    pub level: AlertLevel,
    pub value: f64,
    pub threshold: f64,
    pub time: i64,
    pub raised_at: i64,
    pub lon: f64,
    pub lat: f64,
    pub flood_points: Vec<Nearby>,
    pub villages: Vec<Nearby>,
}

/// Which alert an end refers to: one already stored, or one raised earlier in this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertRef {
    Stored(i64),
    New(usize),
}

/// What one request writes, in order.
#[derive(Debug, Clone)]
pub enum AlertOp {
    Raise(NewAlert),
    End {
        alert: AlertRef,
        time: i64,
        value: f64,
    },
}

/// The newest reading of a series, as loaded at start.
#[derive(Debug, Clone)]
pub struct LatestRow {
    pub station: String,
    pub kind: String,
    pub time: i64,
    pub value: f64,
}

/// A filter on the alert list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Reading time at or after (ms).
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// This level or higher.
    pub min_level: Option<AlertLevel>,
    pub active: Option<bool>,
    pub station: Option<String>,
    pub kind: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

const ALERT_COLUMNS: &str = "id, station, layer, kind, level, value, threshold, time, raised_at, ended_at, end_value, lon, lat, flood_points, villages";

macro_rules! alert_from_row {
    ($row:expr, $config:expr) => {{
        let row = $row;
        let level: String = row.try_get("level")?;
        let kind: String = row.try_get("kind")?;
        let flood_points: String = row.try_get("flood_points")?;
        let villages: String = row.try_get("villages")?;
        let unit = $config
            .kind_index(&kind)
            .map(|k| $config.kinds[k].unit.clone())
            .unwrap_or_default();
        Alert {
            id: row.try_get("id")?,
            station: row.try_get("station")?,
            station_name: None,
            layer: row.try_get("layer")?,
            level: AlertLevel::parse(&level)
                .ok_or_else(|| FeedError::Corrupt(format!("unknown alert level {level:?}")))?,
            kind,
            value: row.try_get("value")?,
            threshold: row.try_get("threshold")?,
            unit,
            time: row.try_get("time")?,
            raised_at: row.try_get("raised_at")?,
            ended_at: row.try_get("ended_at")?,
            end_value: row.try_get("end_value")?,
            lon: row.try_get("lon")?,
            lat: row.try_get("lat")?,
            flood_points: serde_json::from_str(&flood_points)
                .map_err(|e| FeedError::Corrupt(format!("alert flood_points: {e}")))?,
            villages: serde_json::from_str(&villages)
                .map_err(|e| FeedError::Corrupt(format!("alert villages: {e}")))?,
        }
    }};
}

/// Stores one request: its readings, then its alert raises and ends, in one transaction.
/// Returns how many readings were new and the ids of the raised alerts (in order).
pub async fn write(
    db: &Db,
    config: &FeedConfig,
    readings: &[Reading],
    received_at: i64,
    ops: &[AlertOp],
) -> Result<(u64, Vec<i64>)> {
    let sizes = chunk_sizes(readings.len());
    const INSERT_ALERT: &str = "INSERT INTO alerts (station, layer, kind, level, level_rank, value, threshold, time, raised_at, lon, lat, flood_points, villages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id";
    const END_ALERT: &str =
        "UPDATE alerts SET ended_at = ?, end_value = ? WHERE id = ? AND ended_at IS NULL";
    on_db!(db, |pool, q| {
        let mut tx = pool.begin().await?;
        let mut inserted = 0u64;
        let mut at = 0;
        for size in sizes {
            let text = insert_text(size);
            let sql = q(&text);
            let mut query = sqlx::query(&sql);
            for r in &readings[at..at + size] {
                query = query
                    .bind(r.station.as_str())
                    .bind(config.kinds[r.kind].name.as_str())
                    .bind(r.time)
                    .bind(r.value)
                    .bind(received_at);
            }
            inserted += query.execute(&mut *tx).await?.rows_affected();
            at += size;
        }
        let mut ids = Vec::new();
        let insert_alert = q(INSERT_ALERT);
        let end_alert = q(END_ALERT);
        for op in ops {
            match op {
                AlertOp::Raise(a) => {
                    let flood = serde_json::to_string(&a.flood_points)
                        .map_err(|e| FeedError::Corrupt(e.to_string()))?;
                    let villages = serde_json::to_string(&a.villages)
                        .map_err(|e| FeedError::Corrupt(e.to_string()))?;
                    let id: i64 = sqlx::query(&insert_alert)
                        .bind(a.station.as_str())
                        .bind(a.layer.as_str())
                        .bind(a.kind.as_str())
                        .bind(a.level.as_str())
                        .bind(a.level.rank())
                        .bind(a.value)
                        .bind(a.threshold)
                        .bind(a.time)
                        .bind(a.raised_at)
                        .bind(a.lon)
                        .bind(a.lat)
                        .bind(flood)
                        .bind(villages)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                    ids.push(id);
                }
                AlertOp::End { alert, time, value } => {
                    let id = match *alert {
                        AlertRef::Stored(id) => id,
                        AlertRef::New(i) => *ids.get(i).ok_or_else(|| {
                            FeedError::Corrupt(format!("alert end refers to unraised alert {i}"))
                        })?,
                    };
                    sqlx::query(&end_alert)
                        .bind(*time)
                        .bind(*value)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok((inserted, ids))
    })
}

/// The newest reading of every series.
pub async fn latest(db: &Db) -> Result<Vec<LatestRow>> {
    const TEXT: &str = "SELECT r.station, r.kind, r.time, r.value FROM readings r JOIN (SELECT station, kind, MAX(time) AS time FROM readings GROUP BY station, kind) m ON r.station = m.station AND r.kind = m.kind AND r.time = m.time";
    on_db!(db, |pool, q| {
        let rows = sqlx::query(&q(TEXT)).fetch_all(pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(LatestRow {
                station: row.try_get("station")?,
                kind: row.try_get("kind")?,
                time: row.try_get("time")?,
                value: row.try_get("value")?,
            });
        }
        Ok(out)
    })
}

/// Alerts matching the filter, newest reading time first, and how many match in all.
pub async fn alerts(
    db: &Db,
    config: &FeedConfig,
    filter: &AlertFilter,
) -> Result<(Vec<Alert>, i64)> {
    let mut conditions: Vec<&str> = Vec::new();
    if filter.since.is_some() {
        conditions.push("time >= ?");
    }
    if filter.until.is_some() {
        conditions.push("time < ?");
    }
    if filter.min_level.is_some() {
        conditions.push("level_rank >= ?");
    }
    match filter.active {
        Some(true) => conditions.push("ended_at IS NULL"),
        Some(false) => conditions.push("ended_at IS NOT NULL"),
        None => {}
    }
    if filter.station.is_some() {
        conditions.push("station = ?");
    }
    if filter.kind.is_some() {
        conditions.push("kind = ?");
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let list = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts{clause} ORDER BY time DESC, id DESC LIMIT ? OFFSET ?"
    );
    let count = format!("SELECT COUNT(*) FROM alerts{clause}");
    macro_rules! bind_filter {
        ($query:expr) => {{
            let mut query = $query;
            if let Some(v) = filter.since {
                query = query.bind(v);
            }
            if let Some(v) = filter.until {
                query = query.bind(v);
            }
            if let Some(v) = filter.min_level {
                query = query.bind(v.rank());
            }
            if let Some(v) = &filter.station {
                query = query.bind(v.as_str());
            }
            if let Some(v) = &filter.kind {
                query = query.bind(v.as_str());
            }
            query
        }};
    }
    on_db!(db, |pool, q| {
        let list_sql = q(&list);
        let rows = bind_filter!(sqlx::query(&list_sql))
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(pool)
            .await?;
        let count_sql = q(&count);
        let total: i64 = bind_filter!(sqlx::query(&count_sql))
            .fetch_one(pool)
            .await?
            .try_get(0)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(alert_from_row!(row, config));
        }
        Ok((out, total))
    })
}

/// One alert by id (another server raised or ended it).
pub async fn alert(db: &Db, config: &FeedConfig, id: i64) -> Result<Option<Alert>> {
    let text = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?");
    on_db!(db, |pool, q| {
        let sql = q(&text);
        match sqlx::query(&sql).bind(id).fetch_optional(pool).await? {
            Some(row) => Ok(Some(alert_from_row!(&row, config))),
            None => Ok(None),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            crate::db::numbered(&insert_text(2)),
            "INSERT INTO readings (station, kind, time, value, received_at) VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10) ON CONFLICT (station, kind, time) DO NOTHING"
        );
    }
}
