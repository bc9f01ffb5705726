//! The case store: the case tables of the application database (cases, their events, API keys,
//! photo links), on SQLite or PostgreSQL with the same SQL and the same behaviour. Each public
//! method is one transaction. Connections, migrations and the back-end dispatch are
//! [`crate::db`]'s.

use super::appraisal::{Evidence, Tallies, Tally};
use super::error::{CaseError, Result};
use super::model::{Case, Event, NewCase, Status};
use crate::db::{Db, on_db, postgres_sql, sqlite_sql};
use crate::photos::PhotoInfo;
use sqlx::Row;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

const CASE_COLUMNS: &str = "id, status, class, urgency, channel, description, photos, address, reporter, lon, lat, cell, village, town, ambiguous, unit, unit_basis, supervised, overdue, reported_at, dispatched_at, deadline, handled_at, closed_at, updated_at, version, public_report, public_description, photos_public, track_hash, queue, command, first_queue";

const EVENT_COLUMNS: &str = "id, case_id, action, from_status, to_status, actor, role, unit, at, note, public_note, photos, data";

macro_rules! case_from_row {
    ($row:expr) => {{
        let row = $row;
        let status: String = row.try_get("status")?;
        let photos: String = row.try_get("photos")?;
        Case {
            id: row.try_get("id")?,
            status: Status::parse(&status)
                .ok_or_else(|| CaseError::Corrupt(format!("unknown status {status:?}")))?,
            class: row.try_get("class")?,
            urgency: row.try_get("urgency")?,
            channel: row.try_get("channel")?,
            description: row.try_get("description")?,
            photos: serde_json::from_str(&photos).unwrap_or_default(),
            address: row.try_get("address")?,
            reporter: row.try_get("reporter")?,
            lon: row.try_get("lon")?,
            lat: row.try_get("lat")?,
            cell: row.try_get("cell")?,
            village: row.try_get("village")?,
            town: row.try_get("town")?,
            ambiguous: row.try_get("ambiguous")?,
            unit: row.try_get("unit")?,
            unit_basis: row.try_get("unit_basis")?,
            supervised: row.try_get("supervised")?,
            overdue_flag: row.try_get("overdue")?,
            reported_at: row.try_get("reported_at")?,
            dispatched_at: row.try_get("dispatched_at")?,
            deadline: row.try_get("deadline")?,
            handled_at: row.try_get("handled_at")?,
            closed_at: row.try_get("closed_at")?,
            updated_at: row.try_get("updated_at")?,
            version: row.try_get("version")?,
            public_report: row.try_get("public_report")?,
            public_description: row.try_get("public_description")?,
            photos_public: row.try_get("photos_public")?,
            track_hash: row.try_get("track_hash")?,
            queue: row
                .try_get::<Option<String>, _>("queue")?
                .unwrap_or_else(|| super::network::DISTRICT.to_string()),
            command: row.try_get("command")?,
            first_queue: row
                .try_get::<Option<String>, _>("first_queue")?
                .unwrap_or_else(|| super::network::DISTRICT.to_string()),
        }
    }};
}

macro_rules! event_from_row {
    ($row:expr) => {{
        let row = $row;
        let photos: String = row.try_get("photos")?;
        let data: String = row.try_get("data")?;
        Event {
            id: row.try_get("id")?,
            case_id: row.try_get("case_id")?,
            action: row.try_get("action")?,
            from_status: row.try_get("from_status")?,
            to_status: row.try_get("to_status")?,
            actor: row.try_get("actor")?,
            role: row.try_get("role")?,
            unit: row.try_get("unit")?,
            at: row.try_get("at")?,
            note: row.try_get("note")?,
            public_note: row.try_get("public_note")?,
            photos: serde_json::from_str(&photos).unwrap_or_default(),
            data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
        }
    }};
}

/// Records an uploaded photo's facts once (`photos`), inside the caller's transaction. Shared
/// with every room that takes photos through the photo store (cases here, incident tasks), so
/// there is one statement for it.
macro_rules! record_photo {
    ($sql:expr, $conn:expr, $photo:expr, $now:expr) => {{
        const PHOTO: &str = "INSERT INTO photos (hash, content_type, bytes, width, height, exif_lon, exif_lat, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING";
        let photo: &$crate::photos::PhotoInfo = $photo;
        sqlx::query(&$sql(PHOTO))
            .bind(&photo.hash)
            .bind(&photo.content_type)
            .bind(photo.bytes)
            .bind(photo.width)
            .bind(photo.height)
            .bind(photo.exif_lon)
            .bind(photo.exif_lat)
            .bind($now)
            .execute($conn)
            .await?;
    }};
}
pub(crate) use record_photo;

/// Records an uploaded photo (once) and links it to a case, inside the caller's transaction:
/// the case or step and its photos commit together or not at all.
macro_rules! link_photo {
    ($sql:expr, $conn:expr, $photo:expr, $case_id:expr, $kind:expr, $now:expr) => {{
        const LINK: &str =
            "INSERT INTO case_photos (hash, case_id, kind) VALUES (?, ?, ?) ON CONFLICT DO NOTHING";
        let photo: &PhotoInfo = $photo;
        record_photo!($sql, $conn, photo, $now);
        sqlx::query(&$sql(LINK))
            .bind(&photo.hash)
            .bind($case_id)
            .bind($kind)
            .execute($conn)
            .await?;
    }};
}

/// A transition as written: the case after it, and the event recording it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub action: String,
    pub from_status: Option<Status>,
    pub actor: String,
    pub role: String,
    pub unit: Option<String>,
    pub note: Option<String>,
    pub public_note: Option<String>,
    pub photos: Vec<String>,
    /// Photos uploaded with the step (their files are stored; link them to the case).
    pub uploads: Vec<PhotoInfo>,
    pub data: serde_json::Value,
}

/// A filter on the case list; `None` is "any".
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub statuses: Vec<Status>,
    pub class: Option<String>,
    pub unit: Option<String>,
    pub town: Option<String>,
    pub cell: Option<String>,
    /// Only cases in this queue (`district` or `town:CODE`).
    pub queue: Option<String>,
    /// Only cases of this command body.
    pub command: Option<String>,
    pub village: Option<String>,
    pub bbox: Option<[f64; 4]>,
    /// `Some(now)`: only cases overdue at `now`.
    pub overdue_at: Option<i64>,
    pub supervised: Option<bool>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub ids: Vec<i64>,
    /// Only these classes (empty: any).
    pub classes: Vec<String>,
    /// Only citizens' reports through public channels (`Some(true)`), or only the others.
    pub public_report: Option<bool>,
    pub limit: i64,
    pub offset: i64,
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// The case tables of the application database. Derefs to the [`Db`] it reads.
#[derive(Debug, Clone)]
pub struct CaseStore {
    db: Db,
}

impl std::ops::Deref for CaseStore {
    type Target = Db;

    fn deref(&self) -> &Db {
        &self.db
    }
}

impl CaseStore {
    pub fn new(db: Db) -> CaseStore {
        CaseStore { db }
    }

    /// Stores new cases and their `report` events in one transaction (the group commit of the
    /// intake); returns their ids in order.
    ///
    /// A batch costs a handful of statements, not two per case: on PostgreSQL one statement
    /// (arrays bound as parameters, `unnest`ed, the ids drawn from the sequence up front and
    /// both inserts in data-modifying CTEs, autocommitted as one transaction); on SQLite
    /// multi-row `INSERT … VALUES` in chunks of power-of-two sizes, so the few statement texts
    /// stay in each connection's prepared-statement cache.
    pub async fn insert_cases(&self, cases: &[NewCase]) -> Result<Vec<i64>> {
        if cases.is_empty() {
            return Ok(Vec::new());
        }
        match self.db.pool() {
            crate::db::Pool::Sqlite(pool) => insert_cases_sqlite(pool, cases).await,
            crate::db::Pool::Postgres(pool) => insert_cases_postgres(pool, cases).await,
        }
    }

    /// The case a phone's offline queue already sent under `client_id`, if any.
    pub async fn find_by_client_id(&self, client_id: &str) -> Result<Option<i64>> {
        const TEXT: &str = "SELECT id FROM cases WHERE client_id = ?";
        on_db!(self.db, |pool, sql| {
            let sql = sql(TEXT);
            let row = sqlx::query(&sql)
                .bind(client_id)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(row) => Ok(Some(row.try_get(0)?)),
                None => Ok(None),
            }
        })
    }

    pub async fn get(&self, id: i64) -> Result<Case> {
        let text = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?");
        on_db!(self.db, |pool, sql| {
            let sql = sql(&text);
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            match row {
                Some(row) => Ok(case_from_row!(&row)),
                None => Err(CaseError::NotFound(id)),
            }
        })
    }

    pub async fn events(&self, case_id: i64) -> Result<Vec<Event>> {
        let text = format!("SELECT {EVENT_COLUMNS} FROM case_events WHERE case_id = ? ORDER BY id");
        on_db!(self.db, |pool, sql| {
            let sql = sql(&text);
            let rows = sqlx::query(&sql).bind(case_id).fetch_all(pool).await?;
            rows.iter()
                .map(|row| -> Result<Event> { Ok(event_from_row!(row)) })
                .collect()
        })
    }

    /// Every event with `from ≤ at < to` (the appraisal's evidence), in order.
    pub async fn events_between(&self, from: i64, to: i64) -> Result<Vec<Event>> {
        let text =
            format!("SELECT {EVENT_COLUMNS} FROM case_events WHERE at >= ? AND at < ? ORDER BY id");
        on_db!(self.db, |pool, sql| {
            let sql = sql(&text);
            let rows = sqlx::query(&sql)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| -> Result<Event> { Ok(event_from_row!(row)) })
                .collect()
        })
    }

    /// The appraisal's sums over `from ≤ at < to`: the steps per (action, unit) and per
    /// (action, town), with the on-time counts of filings (`file_limit_ms` after the report) and
    /// dispatches (`dispatch_limit_ms` after a filing made in the period). Each query reads one
    /// covering index in GROUP BY order on SQLite (migration 0009).
    pub async fn tallies(
        &self,
        from: i64,
        to: i64,
        file_limit_ms: i64,
        dispatch_limit_ms: i64,
    ) -> Result<Tallies> {
        let mut out = Tallies::default();
        for (key, index, on_time) in [
            (
                "case_unit",
                "case_events_unit_tally",
                "SUM(CASE WHEN on_time THEN 1 ELSE 0 END)",
            ),
            // The town index leaves `on_time` out (no town figure reads it).
            ("case_town", "case_events_town_tally", "CAST(0 AS BIGINT)"),
        ] {
            // Without statistics SQLite's planner takes the `at` index for the period and then
            // visits every event and sorts for the GROUP BY (≈ reading the whole log); the
            // covering index is named for it. PostgreSQL plans by its statistics.
            let hint = if self.db.backend() == "sqlite" {
                format!(" INDEXED BY {index}")
            } else {
                String::new()
            };
            let text = format!(
                "SELECT action, {key} AS tally_key, COUNT(*) AS steps, {on_time} AS on_time, \
                 COUNT(since) AS timed, CAST(COALESCE(SUM(at - since), 0) AS BIGINT) AS span_ms, \
                 SUM(CASE WHEN at - since <= ? THEN 1 ELSE 0 END) AS within_file, \
                 SUM(CASE WHEN since >= ? AND at - since <= ? THEN 1 ELSE 0 END) AS within_dispatch, \
                 SUM(CASE WHEN reached THEN 1 ELSE 0 END) AS reached, \
                 SUM(CASE WHEN satisfied THEN 1 ELSE 0 END) AS satisfied, \
                 SUM(CASE WHEN to_status = 'reopened' THEN 1 ELSE 0 END) AS to_reopened, \
                 SUM(CASE WHEN to_status = 'closed' THEN 1 ELSE 0 END) AS to_closed \
                 FROM case_events{hint} WHERE {key} IS NOT NULL AND at >= ? AND at < ? \
                 GROUP BY action, {key}"
            );
            let tallies = on_db!(self.db, |pool, sql| {
                let sql = sql(&text);
                let rows = sqlx::query(&sql)
                    .bind(file_limit_ms)
                    .bind(from)
                    .bind(dispatch_limit_ms)
                    .bind(from)
                    .bind(to)
                    .fetch_all(pool)
                    .await?;
                rows.iter()
                    .map(|row| -> Result<Tally> {
                        let count = |name: &str| -> Result<u64> {
                            Ok(row.try_get::<Option<i64>, _>(name)?.unwrap_or(0).max(0) as u64)
                        };
                        Ok(Tally {
                            action: row.try_get("action")?,
                            key: row.try_get("tally_key")?,
                            steps: count("steps")?,
                            on_time: count("on_time")?,
                            timed: count("timed")?,
                            span_ms: row.try_get("span_ms")?,
                            within_file_limit: count("within_file")?,
                            within_dispatch_limit: count("within_dispatch")?,
                            reached: count("reached")?,
                            satisfied: count("satisfied")?,
                            to_reopened: count("to_reopened")?,
                            to_closed: count("to_closed")?,
                        })
                    })
                    .collect::<Result<Vec<Tally>>>()
            })?;
            if key == "case_unit" {
                out.units = tallies;
            } else {
                out.towns = tallies;
            }
        }
        Ok(out)
    }

    /// The newest note written for the public on each of these cases (Open311's
    /// `status_notes` for a whole list in one query).
    pub async fn latest_public_notes(
        &self,
        case_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, String>> {
        if case_ids.is_empty() {
            return Ok(Default::default());
        }
        let marks = vec!["?"; case_ids.len()].join(", ");
        let text = format!(
            "SELECT case_id, public_note FROM case_events WHERE id IN (SELECT MAX(id) FROM case_events WHERE case_id IN ({marks}) AND public_note IS NOT NULL GROUP BY case_id)"
        );
        on_db!(self.db, |pool, sql| {
            let sql = sql(&text);
            let mut query = sqlx::query(&sql);
            for id in case_ids {
                query = query.bind(*id);
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter()
                .map(|row| -> Result<(i64, String)> {
                    Ok((row.try_get("case_id")?, row.try_get("public_note")?))
                })
                .collect()
        })
    }

    /// The cases a stored photo belongs to, with how (`report` or `event`).
    pub async fn photo_links(&self, hash: &str) -> Result<Vec<(i64, String)>> {
        const TEXT: &str = "SELECT case_id, kind FROM case_photos WHERE hash = ? ORDER BY case_id";
        on_db!(self.db, |pool, sql| {
            let sql = sql(TEXT);
            let rows = sqlx::query(&sql).bind(hash).fetch_all(pool).await?;
            rows.iter()
                .map(|row| -> Result<(i64, String)> {
                    Ok((row.try_get("case_id")?, row.try_get("kind")?))
                })
                .collect()
        })
    }

    /// What is recorded of the photos stored with a case (staff see sizes and EXIF hints).
    pub async fn photos_of_case(&self, case_id: i64) -> Result<Vec<PhotoInfo>> {
        const TEXT: &str = "SELECT DISTINCT p.hash, p.content_type, p.bytes, p.width, p.height, p.exif_lon, p.exif_lat FROM photos p JOIN case_photos l ON l.hash = p.hash WHERE l.case_id = ? ORDER BY p.hash";
        on_db!(self.db, |pool, sql| {
            let sql = sql(TEXT);
            let rows = sqlx::query(&sql).bind(case_id).fetch_all(pool).await?;
            rows.iter()
                .map(|row| -> Result<PhotoInfo> {
                    Ok(PhotoInfo {
                        hash: row.try_get("hash")?,
                        content_type: row.try_get("content_type")?,
                        bytes: row.try_get("bytes")?,
                        width: row.try_get("width")?,
                        height: row.try_get("height")?,
                        exif_lon: row.try_get("exif_lon")?,
                        exif_lat: row.try_get("exif_lat")?,
                    })
                })
                .collect()
        })
    }

    /// The content type of a stored photo, if it is recorded at all.
    pub async fn photo_type(&self, hash: &str) -> Result<Option<String>> {
        const TEXT: &str = "SELECT content_type FROM photos WHERE hash = ?";
        on_db!(self.db, |pool, sql| {
            let sql = sql(TEXT);
            let row = sqlx::query(&sql).bind(hash).fetch_optional(pool).await?;
            Ok(match row {
                Some(row) => Some(row.try_get("content_type")?),
                None => None,
            })
        })
    }

    /// Writes a transition: the case's new state if nobody changed it since `expected_version`
    /// was read (else [`CaseError::Conflict`]), and its event, in one transaction.
    pub async fn apply(
        &self,
        case: &Case,
        expected_version: i64,
        event: &NewEvent,
    ) -> Result<Case> {
        const UPDATE: &str = "UPDATE cases SET status = ?, unit = ?, unit_basis = ?, cell = ?, village = ?, town = ?, ambiguous = ?, supervised = ?, overdue = ?, dispatched_at = ?, deadline = ?, handled_at = ?, closed_at = ?, updated_at = ?, public_description = ?, photos_public = ?, queue = ?, version = version + 1 WHERE id = ? AND version = ?";
        // The appraisal's columns beside `data` (see [`Evidence`]); a dispatch's `since` is when
        // the case was last filed, read from the log in the same transaction.
        const INSERT_EVENT: &str = "INSERT INTO case_events (case_id, action, from_status, to_status, actor, role, unit, at, note, public_note, photos, data, case_unit, case_town, since, on_time, reached, satisfied) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, (SELECT f.at FROM case_events f WHERE ? = 'dispatch' AND f.case_id = ? AND f.action = 'file' ORDER BY f.id DESC LIMIT 1)), ?, ?, ?)";
        let evidence = Evidence::of(&event.action, &event.data);
        on_db!(self.db, |pool, sql| {
            let (update, insert_event) = (sql(UPDATE), sql(INSERT_EVENT));
            let mut tx = pool.begin().await?;
            let done = sqlx::query(&update)
                .bind(case.status.as_str())
                .bind(&case.unit)
                .bind(&case.unit_basis)
                .bind(&case.cell)
                .bind(&case.village)
                .bind(&case.town)
                .bind(case.ambiguous)
                .bind(case.supervised)
                .bind(case.overdue_flag)
                .bind(case.dispatched_at)
                .bind(case.deadline)
                .bind(case.handled_at)
                .bind(case.closed_at)
                .bind(case.updated_at)
                .bind(&case.public_description)
                .bind(case.photos_public)
                .bind(&case.queue)
                .bind(case.id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                let now = self.get(case.id).await?;
                return Err(CaseError::Conflict {
                    id: case.id,
                    status: now.status,
                });
            }
            sqlx::query(&insert_event)
                .bind(case.id)
                .bind(&event.action)
                .bind(event.from_status.map(Status::as_str))
                .bind(case.status.as_str())
                .bind(&event.actor)
                .bind(&event.role)
                .bind(&event.unit)
                .bind(case.updated_at)
                .bind(&event.note)
                .bind(&event.public_note)
                .bind(json_list(&event.photos))
                .bind(event.data.to_string())
                .bind(&evidence.case_unit)
                .bind(&evidence.case_town)
                .bind(evidence.since)
                .bind(&event.action)
                .bind(case.id)
                .bind(evidence.on_time)
                .bind(evidence.reached)
                .bind(evidence.satisfied)
                .execute(&mut *tx)
                .await?;
            for photo in &event.uploads {
                link_photo!(sql, &mut *tx, photo, case.id, "event", case.updated_at);
            }
            tx.commit().await?;
            let mut after = case.clone();
            after.version = expected_version + 1;
            Ok(after)
        })
    }

    /// Cases matching the filter, newest first, and how many match in all.
    pub async fn list(&self, f: &CaseFilter) -> Result<(Vec<Case>, i64)> {
        let mut clauses: Vec<String> = Vec::new();
        let mut numbers: Vec<Bind> = Vec::new();
        if !f.statuses.is_empty() {
            let marks = vec!["?"; f.statuses.len()].join(", ");
            clauses.push(format!("status IN ({marks})"));
            for s in &f.statuses {
                numbers.push(Bind::Text(s.as_str().to_string()));
            }
        }
        for (column, value) in [
            ("class", &f.class),
            ("unit", &f.unit),
            ("town", &f.town),
            ("cell", &f.cell),
            ("queue", &f.queue),
            ("command", &f.command),
            ("village", &f.village),
        ] {
            if let Some(v) = value {
                clauses.push(format!("{column} = ?"));
                numbers.push(Bind::Text(v.clone()));
            }
        }
        if let Some([w, s, e, n]) = f.bbox {
            clauses.push("lon >= ? AND lon <= ? AND lat >= ? AND lat <= ?".into());
            numbers.extend([Bind::Real(w), Bind::Real(e), Bind::Real(s), Bind::Real(n)]);
        }
        if let Some(now) = f.overdue_at {
            clauses.push(format!(
                "deadline IS NOT NULL AND ((status IN ({}) AND deadline < ?) OR (handled_at IS NOT NULL AND handled_at > deadline))",
                Status::sql_list(&Status::ON_CLOCK)
            ));
            numbers.push(Bind::Int(now));
        }
        if let Some(s) = f.supervised {
            clauses.push("supervised = ?".into());
            numbers.push(Bind::Bool(s));
        }
        if let Some(from) = f.from {
            clauses.push("reported_at >= ?".into());
            numbers.push(Bind::Int(from));
        }
        if let Some(to) = f.to {
            clauses.push("reported_at < ?".into());
            numbers.push(Bind::Int(to));
        }
        if !f.ids.is_empty() {
            let marks = vec!["?"; f.ids.len()].join(", ");
            clauses.push(format!("id IN ({marks})"));
            numbers.extend(f.ids.iter().map(|&i| Bind::Int(i)));
        }
        if !f.classes.is_empty() {
            let marks = vec!["?"; f.classes.len()].join(", ");
            clauses.push(format!("class IN ({marks})"));
            numbers.extend(f.classes.iter().map(|c| Bind::Text(c.clone())));
        }
        if let Some(p) = f.public_report {
            clauses.push("public_report = ?".into());
            numbers.push(Bind::Bool(p));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let count_text = format!("SELECT COUNT(*) FROM cases{filter}");
        let list_text =
            format!("SELECT {CASE_COLUMNS} FROM cases{filter} ORDER BY id DESC LIMIT ? OFFSET ?");
        macro_rules! bind_all {
            ($q:expr) => {{
                let mut q = $q;
                for b in &numbers {
                    q = match b {
                        Bind::Text(t) => q.bind(t.clone()),
                        Bind::Int(i) => q.bind(*i),
                        Bind::Real(r) => q.bind(*r),
                        Bind::Bool(v) => q.bind(*v),
                    };
                }
                q
            }};
        }
        on_db!(self.db, |pool, sql| {
            let list_sql = sql(&list_text);
            let sql = sql(&count_text);
            let total: i64 = bind_all!(sqlx::query(&sql))
                .fetch_one(pool)
                .await?
                .try_get(0)?;
            let rows = bind_all!(sqlx::query(&list_sql))
                .bind(f.limit)
                .bind(f.offset)
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(case_from_row!(row));
            }
            Ok((out, total))
        })
    }

    /// Open cases of `class` inside a lon/lat box (the duplicate hint narrows it by distance).
    pub async fn open_in_box(&self, class: &str, bbox: [f64; 4]) -> Result<Vec<Case>> {
        let text = format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE class = ? AND status NOT IN ({}) AND lon >= ? AND lon <= ? AND lat >= ? AND lat <= ? ORDER BY id LIMIT 100",
            Status::sql_list(&Status::FINISHED)
        );
        on_db!(self.db, |pool, sql| {
            let sql = sql(&text);
            let rows = sqlx::query(&sql)
                .bind(class)
                .bind(bbox[0])
                .bind(bbox[2])
                .bind(bbox[1])
                .bind(bbox[3])
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| -> Result<Case> { Ok(case_from_row!(row)) })
                .collect()
        })
    }

    /// Cases on the clock past their deadline that the sweep has not flagged yet.
    pub async fn newly_overdue(&self, now: i64) -> Result<Vec<Case>> {
        let text = format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE overdue = ? AND status IN ({}) AND deadline < ? ORDER BY id LIMIT 1000",
            Status::sql_list(&Status::ON_CLOCK)
        );
        on_db!(self.db, |pool, sql| {
            let sql = sql(&text);
            let rows = sqlx::query(&sql)
                .bind(false)
                .bind(now)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| -> Result<Case> { Ok(case_from_row!(row)) })
                .collect()
        })
    }

    /// Every case (for the map's case layer at start-up), oldest first.
    pub async fn all_cases(&self) -> Result<Vec<Case>> {
        let text = format!("SELECT {CASE_COLUMNS} FROM cases ORDER BY id");
        on_db!(self.db, |pool, sql| {
            let sql = sql(&text);
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter()
                .map(|row| -> Result<Case> { Ok(case_from_row!(row)) })
                .collect()
        })
    }
}

/// The `data` of a `report` event.
fn report_data(c: &NewCase) -> String {
    serde_json::json!({"channel": c.channel, "cell": c.cell, "unit": c.unit, "case_town": c.town, "queue": c.queue}).to_string()
}

/// Largest chunk of one multi-row INSERT on SQLite: 24 parameters a row stays far below
/// SQLite's 32,766, and every chunk size is a power of two up to this.
const SQLITE_CHUNK: usize = 512;

async fn insert_cases_sqlite(pool: &SqlitePool, cases: &[NewCase]) -> Result<Vec<i64>> {
    const CASE_HEAD: &str = "INSERT INTO cases (status, class, urgency, channel, description, photos, address, reporter, lon, lat, cell, village, town, ambiguous, unit, unit_basis, reported_at, updated_at, public_report, track_hash, client_id, queue, first_queue, command) VALUES ";
    const CASE_ROW: &str =
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    const EVENT_HEAD: &str = "INSERT INTO case_events (case_id, action, from_status, to_status, actor, role, at, note, photos, data, case_town) VALUES ";
    const EVENT_ROW: &str = "(?, 'report', NULL, 'reported', ?, ?, ?, ?, ?, ?, ?)";
    let mut tx = pool.begin().await?;
    let mut ids = Vec::with_capacity(cases.len());
    let mut rest = cases;
    while !rest.is_empty() {
        // The largest power of two that fits: a batch of 37 goes in as 32 + 4 + 1.
        let size = SQLITE_CHUNK.min(1 << rest.len().ilog2());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let photos: Vec<String> = chunk.iter().map(|c| json_list(&c.photos)).collect();
        let sql = crate::db::multi_row(CASE_HEAD, CASE_ROW, size, " RETURNING id");
        let mut query = sqlx::query(&sql);
        for (c, photos) in chunk.iter().zip(&photos) {
            query = query
                .bind(Status::Reported.as_str())
                .bind(&c.class)
                .bind(&c.urgency)
                .bind(&c.channel)
                .bind(&c.description)
                .bind(photos)
                .bind(&c.address)
                .bind(&c.reporter)
                .bind(c.lon)
                .bind(c.lat)
                .bind(&c.cell)
                .bind(&c.village)
                .bind(&c.town)
                .bind(c.ambiguous)
                .bind(&c.unit)
                .bind(&c.unit_basis)
                .bind(c.reported_at)
                .bind(c.reported_at)
                .bind(c.public_report)
                .bind(&c.track_hash)
                .bind(&c.client_id)
                .bind(&c.queue)
                .bind(&c.queue)
                .bind(&c.command);
        }
        let mut new_ids = query
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<std::result::Result<Vec<i64>, _>>()?;
        // RETURNING gives no order, but the rows of one INSERT are stored in VALUES order and
        // each takes a larger rowid than any before it (AUTOINCREMENT, one writer at a time).
        new_ids.sort_unstable();
        if new_ids.len() != size {
            return Err(CaseError::Corrupt(format!(
                "inserted {size} cases, got {} ids back",
                new_ids.len()
            )));
        }
        let sql = crate::db::multi_row(EVENT_HEAD, EVENT_ROW, size, "");
        let mut query = sqlx::query(&sql);
        for ((c, photos), id) in chunk.iter().zip(&photos).zip(&new_ids) {
            query = query
                .bind(*id)
                .bind(&c.actor.name)
                .bind(c.actor.role.as_str())
                .bind(c.reported_at)
                .bind(&c.description)
                .bind(photos)
                .bind(report_data(c))
                .bind(&c.town);
        }
        query.execute(&mut *tx).await?;
        for (c, id) in chunk.iter().zip(&new_ids) {
            for photo in &c.uploads {
                link_photo!(sqlite_sql, &mut *tx, photo, *id, "report", c.reported_at);
            }
        }
        ids.extend(new_ids);
    }
    tx.commit().await?;
    Ok(ids)
}

async fn insert_cases_postgres(pool: &PgPool, cases: &[NewCase]) -> Result<Vec<i64>> {
    // One statement is one transaction: `new` draws every id first (in input order), the two
    // CTEs insert the cases and their events (foreign keys are checked at the end of the
    // statement), and the main query hands the ids back in input order.
    const SQL: &str = "WITH new AS MATERIALIZED ( \
        SELECT nextval(pg_get_serial_sequence('cases', 'id')) AS id, r.* \
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
                    $9::float8[], $10::float8[], $11::text[], $12::text[], $13::text[], $14::bool[], \
                    $15::text[], $16::text[], $17::int8[], $18::text[], $19::text[], $20::text[], \
                    $21::bool[], $22::text[], $23::text[], $24::text[], $25::text[]) \
            WITH ORDINALITY AS r(class, urgency, channel, description, photos, address, reporter, \
                                 lon, lat, cell, village, town, ambiguous, unit, unit_basis, \
                                 reported_at, actor, role, data, public_report, track_hash, \
                                 client_id, queue, command, ord) \
        ORDER BY r.ord), \
    cases_in AS ( \
        INSERT INTO cases (id, status, class, urgency, channel, description, photos, address, reporter, lon, lat, cell, village, town, ambiguous, unit, unit_basis, reported_at, updated_at, public_report, track_hash, client_id, queue, first_queue, command) \
        SELECT id, $1, class, urgency, channel, description, photos, address, reporter, lon, lat, cell, village, town, ambiguous, unit, unit_basis, reported_at, reported_at, public_report, track_hash, client_id, queue, queue, command FROM new), \
    events_in AS ( \
        INSERT INTO case_events (case_id, action, from_status, to_status, actor, role, at, note, photos, data, case_town) \
        SELECT id, 'report', NULL, $1, actor, role, reported_at, description, photos, data, town FROM new) \
    SELECT id FROM new ORDER BY ord";
    let column = |f: fn(&NewCase) -> String| cases.iter().map(f).collect::<Vec<String>>();
    let optional =
        |f: fn(&NewCase) -> Option<String>| cases.iter().map(f).collect::<Vec<Option<String>>>();
    let query = sqlx::query(SQL)
        .bind(Status::Reported.as_str())
        .bind(column(|c| c.class.clone()))
        .bind(column(|c| c.urgency.clone()))
        .bind(column(|c| c.channel.clone()))
        .bind(column(|c| c.description.clone()))
        .bind(column(|c| json_list(&c.photos)))
        .bind(optional(|c| c.address.clone()))
        .bind(optional(|c| c.reporter.clone()))
        .bind(cases.iter().map(|c| c.lon).collect::<Vec<f64>>())
        .bind(cases.iter().map(|c| c.lat).collect::<Vec<f64>>())
        .bind(optional(|c| c.cell.clone()))
        .bind(optional(|c| c.village.clone()))
        .bind(optional(|c| c.town.clone()))
        .bind(cases.iter().map(|c| c.ambiguous).collect::<Vec<bool>>())
        .bind(optional(|c| c.unit.clone()))
        .bind(optional(|c| c.unit_basis.clone()))
        .bind(cases.iter().map(|c| c.reported_at).collect::<Vec<i64>>())
        .bind(column(|c| c.actor.name.clone()))
        .bind(column(|c| c.actor.role.as_str().to_string()))
        .bind(column(report_data))
        .bind(cases.iter().map(|c| c.public_report).collect::<Vec<bool>>())
        .bind(optional(|c| c.track_hash.clone()))
        .bind(optional(|c| c.client_id.clone()))
        .bind(column(|c| c.queue.clone()))
        .bind(optional(|c| c.command.clone()));
    // Photos need their own statements: then the whole batch is one explicit transaction.
    let rows = if cases.iter().any(|c| !c.uploads.is_empty()) {
        let mut tx = pool.begin().await?;
        let rows = query.fetch_all(&mut *tx).await?;
        for (c, row) in cases.iter().zip(&rows) {
            let id: i64 = row.try_get(0)?;
            for photo in &c.uploads {
                link_photo!(postgres_sql, &mut *tx, photo, id, "report", c.reported_at);
            }
        }
        tx.commit().await?;
        rows
    } else {
        query.fetch_all(pool).await?
    };
    let ids = rows
        .iter()
        .map(|row| row.try_get::<i64, _>(0))
        .collect::<std::result::Result<Vec<i64>, _>>()?;
    if ids.len() != cases.len() {
        return Err(CaseError::Corrupt(format!(
            "inserted {} cases, got {} ids back",
            cases.len(),
            ids.len()
        )));
    }
    Ok(ids)
}

enum Bind {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
}
