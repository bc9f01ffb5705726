//! The incident tables of the application database (`migrations/*/0005_incidents.sql`):
//! incidents, their append-only timeline and their tasks. Every change of an incident or a task
//! is one transaction with its timeline entry, committed before the caller answers.

use super::error::{IncidentError, Result};
use super::model::{
    Context, Incident, IncidentStatus, NewEntry, NewTask, Source, TargetKind, Task, TaskStatus,
    TimelineEntry,
};
use crate::cases::Actor;
use crate::catalog::{ResponseLevel, TaskKind};
use crate::db::{Db, on_db};
use sqlx::Row;

const INCIDENT_COLUMNS: &str = "id, plan, level, status, title, source, source_ref, episode, lon, lat, area, context, opened_at, updated_at, closed_at, version";
const TASK_COLUMNS: &str = "id, incident, kind, title, target, unit, team_kind, team, item, quantity, depot, place, lon, lat, deadline, status, note, photo, reason, created_at, updated_at, version";
const EVENT_COLUMNS: &str = "id, at, kind, actor, role, level, task, note, data";
const INSERT_EVENT: &str = "INSERT INTO incident_events (incident, at, kind, actor, role, level, task, note, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
const INSERT_TASK: &str = "INSERT INTO incident_tasks (incident, kind, title, target, unit, team_kind, item, quantity, place, lon, lat, deadline, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'assigned', ?, ?) RETURNING id";

fn corrupt(what: &str, value: &str) -> IncidentError {
    IncidentError::Corrupt(format!("unknown {what} {value:?}"))
}

pub(crate) fn level(text: &str) -> Result<ResponseLevel> {
    ResponseLevel::parse(text).ok_or_else(|| corrupt("level", text))
}

pub(crate) fn task_kind_str(kind: TaskKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

pub(crate) fn task_kind(text: &str) -> Result<TaskKind> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| corrupt("task kind", text))
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

macro_rules! incident_from_row {
    ($row:expr) => {{
        let row = $row;
        let status: String = row.try_get("status")?;
        let source: String = row.try_get("source")?;
        let area: Option<String> = row.try_get("area")?;
        let context: String = row.try_get("context")?;
        Incident {
            id: row.try_get("id")?,
            plan: row.try_get("plan")?,
            level: level(row.try_get::<&str, _>("level")?)?,
            status: IncidentStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            title: row.try_get("title")?,
            source: Source::parse(&source).ok_or_else(|| corrupt("source", &source))?,
            source_ref: row.try_get("source_ref")?,
            episode: row.try_get("episode")?,
            lon: row.try_get("lon")?,
            lat: row.try_get("lat")?,
            area: area.and_then(|a| serde_json::from_str(&a).ok()),
            context: serde_json::from_str::<Context>(&context)
                .map_err(|e| IncidentError::Corrupt(format!("incident context: {e}")))?,
            opened_at: row.try_get("opened_at")?,
            updated_at: row.try_get("updated_at")?,
            closed_at: row.try_get("closed_at")?,
            version: row.try_get("version")?,
        }
    }};
}

macro_rules! task_from_row {
    ($row:expr) => {{
        let row = $row;
        let status: String = row.try_get("status")?;
        let target: String = row.try_get("target")?;
        Task {
            id: row.try_get("id")?,
            incident: row.try_get("incident")?,
            kind: task_kind(row.try_get::<&str, _>("kind")?)?,
            title: row.try_get("title")?,
            target: TargetKind::parse(&target).ok_or_else(|| corrupt("target", &target))?,
            unit: row.try_get("unit")?,
            team_kind: row.try_get("team_kind")?,
            team: row.try_get("team")?,
            item: row.try_get("item")?,
            quantity: row.try_get("quantity")?,
            depot: row.try_get("depot")?,
            place: row.try_get("place")?,
            lon: row.try_get("lon")?,
            lat: row.try_get("lat")?,
            deadline: row.try_get("deadline")?,
            status: TaskStatus::parse(&status).ok_or_else(|| corrupt("task status", &status))?,
            note: row.try_get("note")?,
            photo: row.try_get("photo")?,
            reason: row.try_get("reason")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            version: row.try_get("version")?,
        }
    }};
}

macro_rules! entry_from_row {
    ($row:expr) => {{
        let row = $row;
        let level_text: Option<String> = row.try_get("level")?;
        let data: Option<String> = row.try_get("data")?;
        TimelineEntry {
            id: row.try_get("id")?,
            at: row.try_get("at")?,
            kind: row.try_get("kind")?,
            actor: row.try_get("actor")?,
            role: row.try_get("role")?,
            level: match level_text {
                Some(l) => Some(level(&l)?),
                None => None,
            },
            task: row.try_get("task")?,
            note: row.try_get("note")?,
            data: data.and_then(|d| serde_json::from_str(&d).ok()),
        }
    }};
}

/// Appends one timeline entry inside the caller's transaction (a macro: the transaction type
/// differs per back end).
macro_rules! append {
    ($tx:expr, $sql:expr, $incident:expr, $entry:expr, $actor:expr, $now:expr) => {{
        let entry: &NewEntry = $entry;
        sqlx::query(&$sql(INSERT_EVENT))
            .bind($incident)
            .bind($now)
            .bind(entry.kind)
            .bind(&$actor.name)
            .bind($actor.role.as_str())
            .bind(entry.level.map(|l| l.as_str()))
            .bind(entry.task)
            .bind(&entry.note)
            .bind(entry.data.as_ref().map(json_text))
            .execute(&mut *$tx)
            .await?;
    }};
}

/// Inserts tasks inside the caller's transaction; their ids in order.
macro_rules! insert_tasks {
    ($tx:expr, $sql:expr, $incident:expr, $tasks:expr, $now:expr) => {{
        let sql = $sql(INSERT_TASK);
        let mut ids = Vec::with_capacity($tasks.len());
        for t in $tasks {
            let t: &NewTask = t;
            let id: i64 = sqlx::query_scalar(&sql)
                .bind($incident)
                .bind(task_kind_str(t.kind))
                .bind(&t.title)
                .bind(t.target.as_str())
                .bind(&t.unit)
                .bind(&t.team_kind)
                .bind(&t.item)
                .bind(t.quantity)
                .bind(&t.place)
                .bind(t.lon)
                .bind(t.lat)
                .bind(t.deadline)
                .bind($now)
                .bind($now)
                .fetch_one(&mut *$tx)
                .await?;
            ids.push(id);
        }
        ids
    }};
}

macro_rules! insert_incident {
    ($tx:expr, $sql:expr, $new:expr, $now:expr) => {{
        const INSERT: &str = "INSERT INTO incidents (plan, level, status, title, source, source_ref, episode, lon, lat, area, context, opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id";
        let new: &NewIncident = $new;
        let id: i64 = sqlx::query_scalar(&$sql(INSERT))
            .bind(&new.plan)
            .bind(new.level.as_str())
            .bind(new.status.as_str())
            .bind(&new.title)
            .bind(new.source.as_str())
            .bind(&new.source_ref)
            .bind(&new.episode)
            .bind(new.lon)
            .bind(new.lat)
            .bind(new.area.as_ref().map(json_text))
            .bind(json_text(&new.context))
            .bind($now)
            .bind($now)
            .fetch_one(&mut *$tx)
            .await?;
        id
    }};
}

pub async fn incident(db: &Db, id: i64) -> Result<Incident> {
    let text = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?");
    on_db!(db, |pool, sql| {
        match sqlx::query(&sql(&text))
            .bind(id)
            .fetch_optional(pool)
            .await?
        {
            Some(row) => Ok(incident_from_row!(&row)),
            None => Err(IncidentError::NotFound(id)),
        }
    })
}

/// Incidents in `statuses` (all when empty), newest first.
pub async fn incidents(db: &Db, statuses: &[IncidentStatus], limit: i64) -> Result<Vec<Incident>> {
    let filter = if statuses.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("WHERE status IN ({})", list.join(", "))
    };
    let text =
        format!("SELECT {INCIDENT_COLUMNS} FROM incidents {filter} ORDER BY id DESC LIMIT ?");
    on_db!(db, |pool, sql| {
        let rows = sqlx::query(&sql(&text)).bind(limit).fetch_all(pool).await?;
        rows.iter()
            .map(|row| -> Result<Incident> { Ok(incident_from_row!(row)) })
            .collect()
    })
}

pub async fn timeline(db: &Db, incident: i64) -> Result<Vec<TimelineEntry>> {
    let text =
        format!("SELECT {EVENT_COLUMNS} FROM incident_events WHERE incident = ? ORDER BY id");
    on_db!(db, |pool, sql| {
        let rows = sqlx::query(&sql(&text))
            .bind(incident)
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|row| -> Result<TimelineEntry> { Ok(entry_from_row!(row)) })
            .collect()
    })
}

pub async fn tasks(db: &Db, incident: i64) -> Result<Vec<Task>> {
    let text = format!("SELECT {TASK_COLUMNS} FROM incident_tasks WHERE incident = ? ORDER BY id");
    on_db!(db, |pool, sql| {
        let rows = sqlx::query(&sql(&text))
            .bind(incident)
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|row| -> Result<Task> { Ok(task_from_row!(row)) })
            .collect()
    })
}

pub async fn task(db: &Db, incident: i64, id: i64) -> Result<Task> {
    let text = format!("SELECT {TASK_COLUMNS} FROM incident_tasks WHERE id = ? AND incident = ?");
    on_db!(db, |pool, sql| {
        match sqlx::query(&sql(&text))
            .bind(id)
            .bind(incident)
            .fetch_optional(pool)
            .await?
        {
            Some(row) => Ok(task_from_row!(&row)),
            None => Err(IncidentError::TaskNotFound { incident, task: id }),
        }
    })
}

/// An incident about to be stored.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub plan: String,
    pub level: ResponseLevel,
    pub status: IncidentStatus,
    pub title: String,
    pub source: Source,
    pub source_ref: Option<String>,
    pub episode: Option<String>,
    pub lon: f64,
    pub lat: f64,
    pub area: Option<serde_json::Value>,
    pub context: Context,
}

/// What storing a proposal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proposed {
    /// A new proposed incident.
    New(i64),
    /// The open proposal of the episode now has a higher level.
    Raised(i64),
    /// The open proposal or active incident of the episode took the trigger on its timeline.
    Added(i64),
    /// A duty officer dismissed this trigger's proposal (same plan, station or release, at this
    /// level or higher) within the cool-down: nothing is proposed; the dismissed incident's
    /// timeline records the trigger.
    Held(i64),
}

impl Proposed {
    pub fn id(self) -> i64 {
        match self {
            Proposed::New(id) | Proposed::Raised(id) | Proposed::Added(id) | Proposed::Held(id) => {
                id
            }
        }
    }
}

/// Whether a dismissed incident (its level and what its triggers found) covers a new trigger:
/// at least the new level, and every station of the new trigger among its own (a leak's
/// release is the episode itself, so it has no stations to compare).
pub fn dismissal_covers(
    dismissed: ResponseLevel,
    context: &Context,
    level: ResponseLevel,
    new: &Context,
) -> bool {
    dismissed >= level && new.stations.iter().all(|s| context.stations.contains(s))
}

/// Stores a trigger's proposal: a new proposed incident, or — while the plan's incident of the
/// same episode is open — an entry on its timeline (raising a proposal's level when the
/// trigger warrants more; an active incident's level is only ever changed by a person), or —
/// when a duty officer dismissed the same trigger less than `cooldown_ms` ago — nothing but a
/// `held` entry on the dismissed incident (see [`dismissal_covers`]).
pub async fn propose(
    db: &Db,
    new: &NewIncident,
    data: serde_json::Value,
    actor: &Actor,
    now: i64,
    cooldown_ms: i64,
) -> Result<Proposed> {
    const DISMISSED: &str = "SELECT id, level, context FROM incidents WHERE plan = ? AND episode = ? AND status = 'dismissed' AND closed_at >= ? ORDER BY closed_at DESC, id DESC";
    const FIND: &str = "SELECT id, status, level, context FROM incidents WHERE plan = ? AND episode = ? AND status IN ('proposed', 'active')";
    const FIND_LOCKED: &str = "SELECT id, status, level, context FROM incidents WHERE plan = ? AND episode = ? AND status IN ('proposed', 'active') FOR UPDATE";
    const UPDATE: &str = "UPDATE incidents SET level = ?, context = ?, updated_at = ?, version = version + 1 WHERE id = ?";
    let find = if db.is_postgres() { FIND_LOCKED } else { FIND };
    // Two servers proposing the same episode at once: the unique index refuses the second
    // insert; the retry then finds the first one's incident.
    for attempt in 0..2 {
        // An async block, so a failed statement ends this attempt, not the function.
        let result: Result<Proposed> = async {
            on_db!(db, |pool, sql| {
                let mut tx = pool.begin().await?;
                let row = sqlx::query(&sql(find))
                    .bind(&new.plan)
                    .bind(&new.episode)
                    .fetch_optional(&mut *tx)
                    .await?;
                let outcome = match row {
                    Some(row) => {
                        let id: i64 = row.try_get("id")?;
                        let status: String = row.try_get("status")?;
                        let current = level(row.try_get::<&str, _>("level")?)?;
                        let mut context: Context =
                            serde_json::from_str(row.try_get::<&str, _>("context")?)
                                .map_err(|e| IncidentError::Corrupt(e.to_string()))?;
                        context.merge(&new.context);
                        let raise = status == "proposed" && new.level > current;
                        sqlx::query(&sql(UPDATE))
                            .bind(if raise { new.level } else { current }.as_str())
                            .bind(json_text(&context))
                            .bind(now)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        let entry = NewEntry {
                            kind: if raise { "raised" } else { "trigger" },
                            level: Some(new.level),
                            data: Some(data.clone()),
                            note: Some(new.title.clone()),
                            ..NewEntry::default()
                        };
                        append!(tx, sql, id, &entry, actor, now);
                        if raise {
                            Proposed::Raised(id)
                        } else {
                            Proposed::Added(id)
                        }
                    }
                    None => {
                        // A dismissal within the cool-down that covers this trigger holds it:
                        // the dismissed incident's timeline records it, nothing is proposed.
                        let mut held = None;
                        if cooldown_ms > 0 {
                            let rows = sqlx::query(&sql(DISMISSED))
                                .bind(&new.plan)
                                .bind(&new.episode)
                                .bind(now - cooldown_ms)
                                .fetch_all(&mut *tx)
                                .await?;
                            for row in &rows {
                                let context: Context =
                                    serde_json::from_str(row.try_get::<&str, _>("context")?)
                                        .map_err(|e| IncidentError::Corrupt(e.to_string()))?;
                                let dismissed = level(row.try_get::<&str, _>("level")?)?;
                                if dismissal_covers(dismissed, &context, new.level, &new.context) {
                                    held = Some(row.try_get::<i64, _>("id")?);
                                    break;
                                }
                            }
                        }
                        let (id, kind) = match held {
                            Some(id) => (id, "held"),
                            None => (insert_incident!(tx, sql, new, now), "proposed"),
                        };
                        let entry = NewEntry {
                            kind,
                            level: Some(new.level),
                            data: Some(data.clone()),
                            note: Some(new.title.clone()),
                            ..NewEntry::default()
                        };
                        append!(tx, sql, id, &entry, actor, now);
                        if held.is_some() {
                            Proposed::Held(id)
                        } else {
                            Proposed::New(id)
                        }
                    }
                };
                tx.commit().await?;
                Ok(outcome)
            })
        }
        .await;
        match result {
            Err(IncidentError::Database(e)) if attempt == 0 && e.contains("unique") => continue,
            other => return other,
        }
    }
    Err(IncidentError::Conflict("incident"))
}

/// Opens an incident (active, by a duty officer) with its first tasks.
pub async fn open(
    db: &Db,
    new: &NewIncident,
    entry: &NewEntry,
    tasks: &[NewTask],
    actor: &Actor,
    now: i64,
) -> Result<i64> {
    on_db!(db, |pool, sql| {
        let mut tx = pool.begin().await?;
        let id = insert_incident!(tx, sql, new, now);
        append!(tx, sql, id, entry, actor, now);
        let ids = insert_tasks!(tx, sql, id, tasks, now);
        for (task, t) in ids.iter().zip(tasks) {
            let e = task_added(*task, t);
            append!(tx, sql, id, &e, actor, now);
        }
        tx.commit().await?;
        Ok(id)
    })
}

fn task_added(id: i64, t: &NewTask) -> NewEntry {
    NewEntry {
        kind: "task_added",
        task: Some(id),
        note: Some(t.title.clone()),
        ..NewEntry::default()
    }
}

/// A change of an incident's status or level (with the tasks it creates), applied only if the
/// incident is still at `version`.
#[derive(Debug, Clone)]
pub struct Step {
    pub version: i64,
    pub status: IncidentStatus,
    pub level: ResponseLevel,
    pub entry: NewEntry,
    pub tasks: Vec<NewTask>,
}

pub async fn step(db: &Db, id: i64, step: &Step, actor: &Actor, now: i64) -> Result<()> {
    const UPDATE: &str = "UPDATE incidents SET status = ?, level = ?, updated_at = ?, closed_at = ?, version = version + 1 WHERE id = ? AND version = ?";
    let closed_at = (!step.status.is_open()).then_some(now);
    on_db!(db, |pool, sql| {
        let mut tx = pool.begin().await?;
        let done = sqlx::query(&sql(UPDATE))
            .bind(step.status.as_str())
            .bind(step.level.as_str())
            .bind(now)
            .bind(closed_at)
            .bind(id)
            .bind(step.version)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(IncidentError::Conflict("incident"));
        }
        append!(tx, sql, id, &step.entry, actor, now);
        let ids = insert_tasks!(tx, sql, id, &step.tasks, now);
        for (task, t) in ids.iter().zip(&step.tasks) {
            let e = task_added(*task, t);
            append!(tx, sql, id, &e, actor, now);
        }
        tx.commit().await?;
        Ok(())
    })
}

/// Adds tasks by hand to an open incident.
pub async fn add_tasks(
    db: &Db,
    incident: i64,
    tasks: &[NewTask],
    actor: &Actor,
    now: i64,
) -> Result<Vec<i64>> {
    const TOUCH: &str =
        "UPDATE incidents SET updated_at = ? WHERE id = ? AND status IN ('proposed', 'active')";
    on_db!(db, |pool, sql| {
        let mut tx = pool.begin().await?;
        let done = sqlx::query(&sql(TOUCH))
            .bind(now)
            .bind(incident)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(IncidentError::Conflict("incident"));
        }
        let ids = insert_tasks!(tx, sql, incident, tasks, now);
        for (task, t) in ids.iter().zip(tasks) {
            let e = task_added(*task, t);
            append!(tx, sql, incident, &e, actor, now);
        }
        tx.commit().await?;
        Ok(ids)
    })
}

/// A task's move to `status` (with its note, photo or reason), applied only if the task is
/// still at `version`; `team` moves the task's team to a new status in the same transaction.
#[derive(Debug, Clone)]
pub struct TaskStep {
    pub version: i64,
    pub status: TaskStatus,
    pub note: Option<String>,
    pub photo: Option<String>,
    pub reason: Option<String>,
    pub entry: NewEntry,
    pub team: Option<(String, &'static str)>,
    /// Photos uploaded with the step (already in the photo store): recorded and linked to the
    /// task in the step's transaction.
    pub photos: Vec<crate::photos::PhotoInfo>,
}

pub async fn task_step(
    db: &Db,
    incident: i64,
    task: i64,
    step: &TaskStep,
    actor: &Actor,
    now: i64,
) -> Result<()> {
    const UPDATE: &str = "UPDATE incident_tasks SET status = ?, note = COALESCE(?, note), photo = COALESCE(?, photo), reason = COALESCE(?, reason), updated_at = ?, version = version + 1 WHERE id = ? AND incident = ? AND version = ?";
    const LINK_PHOTO: &str = "INSERT INTO incident_task_photos (hash, incident, task) VALUES (?, ?, ?) ON CONFLICT DO NOTHING";
    const TEAM: &str = "UPDATE team_state SET status = ?, task = CASE WHEN ? = 'standby' THEN NULL ELSE task END, incident = CASE WHEN ? = 'standby' THEN NULL ELSE incident END, updated_at = ? WHERE team = ? AND task = ?";
    on_db!(db, |pool, sql| {
        let mut tx = pool.begin().await?;
        let done = sqlx::query(&sql(UPDATE))
            .bind(step.status.as_str())
            .bind(&step.note)
            .bind(&step.photo)
            .bind(&step.reason)
            .bind(now)
            .bind(task)
            .bind(incident)
            .bind(step.version)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(IncidentError::Conflict("task"));
        }
        if let Some((team, status)) = &step.team {
            sqlx::query(&sql(TEAM))
                .bind(*status)
                .bind(*status)
                .bind(*status)
                .bind(now)
                .bind(team)
                .bind(task)
                .execute(&mut *tx)
                .await?;
        }
        for photo in &step.photos {
            crate::cases::store::record_photo!(sql, &mut *tx, photo, now);
            sqlx::query(&sql(LINK_PHOTO))
                .bind(&photo.hash)
                .bind(incident)
                .bind(task)
                .execute(&mut *tx)
                .await?;
        }
        append!(tx, sql, incident, &step.entry, actor, now);
        tx.commit().await?;
        Ok(())
    })
}

/// The content type of a photo linked to this task of this incident (`None`: no such link, so
/// nobody is served it through the task).
pub async fn task_photo_type(
    db: &Db,
    incident: i64,
    task: i64,
    hash: &str,
) -> Result<Option<String>> {
    const TEXT: &str = "SELECT p.content_type FROM incident_task_photos l JOIN photos p ON p.hash = l.hash WHERE l.incident = ? AND l.task = ? AND l.hash = ?";
    on_db!(db, |pool, sql| {
        Ok(sqlx::query_scalar(&sql(TEXT))
            .bind(incident)
            .bind(task)
            .bind(hash)
            .fetch_optional(pool)
            .await?)
    })
}

/// Books `team` for a team task: one transaction whose conditional updates refuse a team that
/// is not on standby and a task that already has a team, so of two requests racing for one
/// team (on one server or two) exactly one wins.
pub async fn assign_team(
    db: &Db,
    incident: i64,
    task: i64,
    team: &str,
    actor: &Actor,
    now: i64,
) -> Result<()> {
    const BOOK: &str = "UPDATE team_state SET status = 'assigned', task = ?, incident = ?, updated_at = ? WHERE team = ? AND status = 'standby'";
    const STATUS: &str = "SELECT status FROM team_state WHERE team = ?";
    const TASK: &str = "UPDATE incident_tasks SET team = ?, updated_at = ?, version = version + 1 WHERE id = ? AND incident = ? AND team IS NULL AND status IN ('assigned', 'acknowledged', 'started')";
    on_db!(db, |pool, sql| {
        // The first statement writes, so SQLite takes its write lock at once (no upgrade).
        let mut tx = pool.begin().await?;
        let booked = sqlx::query(&sql(BOOK))
            .bind(task)
            .bind(incident)
            .bind(now)
            .bind(team)
            .execute(&mut *tx)
            .await?;
        if booked.rows_affected() == 0 {
            let status: Option<String> = sqlx::query_scalar(&sql(STATUS))
                .bind(team)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match status {
                Some(status) => IncidentError::TeamBusy {
                    team: team.to_string(),
                    status,
                },
                None => IncidentError::UnknownTeam(team.to_string()),
            });
        }
        let taken = sqlx::query(&sql(TASK))
            .bind(team)
            .bind(now)
            .bind(task)
            .bind(incident)
            .execute(&mut *tx)
            .await?;
        if taken.rows_affected() == 0 {
            return Err(IncidentError::AlreadyBooked {
                what: "team",
                value: team.to_string(),
            });
        }
        let entry = NewEntry {
            kind: "team_assigned",
            task: Some(task),
            data: Some(serde_json::json!({ "team": team })),
            ..NewEntry::default()
        };
        append!(tx, sql, incident, &entry, actor, now);
        tx.commit().await?;
        Ok(())
    })
}

/// Draws `quantity` of `item` from `depot` for a depot task: one transaction whose conditional
/// update never takes a stock line below zero; returns what is left.
#[allow(clippy::too_many_arguments)]
pub async fn draw_stock(
    db: &Db,
    incident: i64,
    task: i64,
    depot: &str,
    item: &str,
    quantity: i64,
    actor: &Actor,
    now: i64,
) -> Result<i64> {
    const DRAW: &str = "UPDATE depot_stock SET quantity = quantity - ?, updated_at = ? WHERE depot = ? AND item = ? AND quantity >= ?";
    const HAVE: &str = "SELECT quantity FROM depot_stock WHERE depot = ? AND item = ?";
    const TASK: &str = "UPDATE incident_tasks SET depot = ?, updated_at = ?, version = version + 1 WHERE id = ? AND incident = ? AND depot IS NULL AND status IN ('assigned', 'acknowledged', 'started')";
    const MOVE: &str = "INSERT INTO stock_moves (depot, item, delta, quantity, task, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)";
    on_db!(db, |pool, sql| {
        let mut tx = pool.begin().await?;
        let drawn = sqlx::query(&sql(DRAW))
            .bind(quantity)
            .bind(now)
            .bind(depot)
            .bind(item)
            .bind(quantity)
            .execute(&mut *tx)
            .await?;
        let have: Option<i64> = sqlx::query_scalar(&sql(HAVE))
            .bind(depot)
            .bind(item)
            .fetch_optional(&mut *tx)
            .await?;
        if drawn.rows_affected() == 0 {
            return Err(match have {
                Some(have) => IncidentError::InsufficientStock {
                    depot: depot.to_string(),
                    item: item.to_string(),
                    have,
                    wanted: quantity,
                },
                None => IncidentError::NoStock {
                    depot: depot.to_string(),
                    item: item.to_string(),
                },
            });
        }
        let left = have.unwrap_or(0);
        let taken = sqlx::query(&sql(TASK))
            .bind(depot)
            .bind(now)
            .bind(task)
            .bind(incident)
            .execute(&mut *tx)
            .await?;
        if taken.rows_affected() == 0 {
            return Err(IncidentError::AlreadyBooked {
                what: "depot",
                value: depot.to_string(),
            });
        }
        sqlx::query(&sql(MOVE))
            .bind(depot)
            .bind(item)
            .bind(-quantity)
            .bind(left)
            .bind(task)
            .bind(&actor.name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let entry = NewEntry {
            kind: "stock_drawn",
            task: Some(task),
            data: Some(
                serde_json::json!({ "depot": depot, "item": item, "quantity": quantity, "left": left }),
            ),
            ..NewEntry::default()
        };
        append!(tx, sql, incident, &entry, actor, now);
        tx.commit().await?;
        Ok(left)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dismissal_holds_back_its_stations_at_its_level_and_below() {
        let stations = |ids: &[&str]| Context {
            stations: ids.iter().map(|s| s.to_string()).collect(),
            ..Context::default()
        };
        let dismissed = stations(&["YL01", "YL02"]);
        let (iii, ii) = (ResponseLevel::III, ResponseLevel::II);
        assert!(dismissal_covers(iii, &dismissed, iii, &stations(&["YL02"])));
        assert!(dismissal_covers(
            iii,
            &dismissed,
            ResponseLevel::IV,
            &stations(&["YL01"])
        ));
        assert!(
            !dismissal_covers(iii, &dismissed, ii, &stations(&["YL01"])),
            "a higher level proposes"
        );
        assert!(
            !dismissal_covers(iii, &dismissed, iii, &stations(&["YL09"])),
            "another station proposes"
        );
        // A leak: the release is the episode; no stations to compare.
        assert!(dismissal_covers(
            ii,
            &Context::default(),
            ii,
            &Context::default()
        ));
    }
}
