//! The incident service of one server: proposals from triggers, a duty officer's decisions,
//! tasks and bookings — each one transaction with its timeline entry — and the live resource
//! snapshot the nearest-available queries read. Changes go to this server's stream at once and
//! to the other servers sharing the database, which read the incident, task or resources again.
//!
//! Writes are serialised per server by one lock (SQLite has one writer anyway); across servers
//! the SQL itself keeps the rules: version checks on incidents and tasks, conditional updates
//! on team status and stock, one open incident per plan and episode by a unique index.

use super::error::{IncidentError, Result};
use super::generate::tasks_for;
use super::model::{
    Context, Incident, IncidentStatus, NewEntry, NewTask, Source, TargetKind, Task, TaskStatus,
    TimelineEntry,
};
use super::resource_store;
use super::resources::{self, Resources, TeamStatus};
use super::store::{self, NewIncident, Proposed, Step, TaskStep};
use super::triggers::Proposal;
use super::workflow::{self, IncidentAction, TaskAction};
use crate::cases::Actor;
use crate::catalog::{Plan, Plans, ResponseLevel, Role, TaskKind};
use crate::db::Db;
use crate::db::notify::{Fanout, Followed};
use crate::services::occupancy::Live;
use crate::spatial::LayerStore;
use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::{Mutex, OnceCell, broadcast};

/// The channel on which servers sharing one PostgreSQL announce incident changes.
pub const CHANNEL: &str = "gridlink_incidents";

/// A change as published on `/api/stream` (`incident` and `task` events).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IncidentEvent {
    Incident {
        change: String,
        incident: Incident,
    },
    Task {
        change: String,
        task: Task,
    },
    /// Team states or stock changed (the map re-reads them).
    Resources,
}

/// What a server tells the others: what to read again.
#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    incident: Option<i64>,
    task: Option<i64>,
    change: String,
    resources: bool,
}

/// How a proposal was stored, for the answer to the request that caused it.
#[derive(Debug, Clone, Serialize)]
pub struct ProposalOutcome {
    pub incident: i64,
    pub plan: String,
    pub level: ResponseLevel,
    /// `proposed` (new), `raised` (an open proposal's level went up), `added` (the open
    /// incident of the episode took the trigger on its timeline) or `held` (the same trigger's
    /// proposal was dismissed within the cool-down; `incident` is the dismissed one).
    pub change: &'static str,
}

/// Where a duty officer opens an incident.
#[derive(Debug, Clone)]
pub enum OpenAt {
    Point {
        lon: f64,
        lat: f64,
    },
    /// A drawn area (GeoJSON geometry) and a point inside it.
    Area {
        lon: f64,
        lat: f64,
        area: serde_json::Value,
    },
    HazardSource(String),
    /// Escalating a case: its id, class and place.
    Case {
        id: i64,
        class: String,
        lon: f64,
        lat: f64,
        description: String,
    },
}

#[derive(Debug, Clone)]
pub struct OpenRequest {
    pub plan: String,
    pub level: Option<String>,
    pub at: OpenAt,
    pub title: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ActRequest {
    pub level: Option<String>,
    pub reason: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TaskRequest {
    pub kind: String,
    pub title: String,
    pub unit: Option<String>,
    /// A team type id of the plans (`flood`, `hazmat`, …).
    pub team_kind: Option<String>,
    pub item: Option<String>,
    pub quantity: Option<i64>,
    pub deadline_min: i64,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct TaskActRequest {
    pub note: Option<String>,
    /// An outside photo URL (http or https), for clients that upload elsewhere.
    pub photo: Option<String>,
    /// A photo uploaded with `done` (checked by content; at most one per task).
    pub uploads: Vec<crate::photos::Checked>,
    pub reason: Option<String>,
    pub team: Option<String>,
    pub depot: Option<String>,
    pub quantity: Option<i64>,
}

/// An incident with its timeline and tasks: the page's data and the duty report's.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub incident: Incident,
    pub timeline: Vec<TimelineEntry>,
    pub tasks: Vec<Task>,
}

#[derive(Clone)]
pub struct IncidentService {
    inner: Arc<Inner>,
}

struct Inner {
    resources: ArcSwap<Resources>,
    loaded: OnceCell<()>,
    write: Mutex<()>,
    events: Fanout<IncidentEvent>,
}

impl Default for IncidentService {
    fn default() -> Self {
        IncidentService {
            inner: Arc::new(Inner {
                resources: ArcSwap::from_pointee(Resources::default()),
                loaded: OnceCell::new(),
                write: Mutex::new(()),
                events: Fanout::new(CHANNEL, 1024),
            }),
        }
    }
}

impl std::fmt::Debug for IncidentService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentService")
            .field("loaded", &self.inner.loaded.initialized())
            .finish()
    }
}

fn max_text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    match value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        Some(v) if v.chars().count() > max => Err(IncidentError::invalid(
            field,
            format!("{field} is at most {max} characters"),
        )),
        other => Ok(other),
    }
}

fn plan<'p>(plans: &'p Plans, id: &str) -> Result<&'p Plan> {
    plans
        .plan(id)
        .ok_or_else(|| IncidentError::UnknownPlan(id.to_string()))
}

fn plan_level(plan: &Plan, text: &str) -> Result<ResponseLevel> {
    ResponseLevel::parse(text)
        .filter(|l| plan.level(*l).is_some())
        .ok_or_else(|| IncidentError::UnknownLevel {
            plan: plan.id.clone(),
            level: text.to_string(),
        })
}

impl IncidentService {
    pub fn subscribe(&self) -> broadcast::Receiver<IncidentEvent> {
        self.inner.events.subscribe()
    }

    /// The live team states and stock lines.
    pub fn resources(&self) -> Arc<Resources> {
        self.inner.resources.load_full()
    }

    pub fn is_loaded(&self) -> bool {
        self.inner.loaded.initialized()
    }

    /// Seeds the resource tables from the register, reads them, and follows the other
    /// servers' changes — once (later calls return at once). Handlers call it, so a router
    /// built without `serve` works too.
    pub async fn load(&self, db: &Db, store: &LayerStore, plans: &Plans, now: i64) -> Result<()> {
        self.inner
            .loaded
            .get_or_try_init(|| async {
                resource_store::seed(db, &resources::seed(store, plans), now).await?;
                self.inner
                    .resources
                    .store(Arc::new(resource_store::read_all(db).await?));
                let (this, db_for_hearing) = (self.clone(), db.clone());
                self.inner
                    .events
                    .follow(db, move |heard: Followed<Notice>| {
                        let (this, db) = (this.clone(), db_for_hearing.clone());
                        async move { this.hear(&db, heard).await }
                    })
                    .await;
                Ok::<(), IncidentError>(())
            })
            .await?;
        Ok(())
    }

    async fn hear(&self, db: &Db, heard: Followed<Notice>) {
        let notice = match heard {
            Followed::Notice(n) => n,
            Followed::Missed => {
                self.reload_resources(db).await;
                return;
            }
        };
        if notice.resources {
            self.reload_resources(db).await;
            self.inner.events.publish(IncidentEvent::Resources);
        }
        match (notice.incident, notice.task) {
            (Some(incident), Some(task)) => match store::task(db, incident, task).await {
                Ok(task) => self.inner.events.publish(IncidentEvent::Task {
                    change: notice.change,
                    task,
                }),
                Err(e) => tracing::warn!("task {task} announced but unreadable: {e}"),
            },
            (Some(id), None) => match store::incident(db, id).await {
                Ok(incident) => self.inner.events.publish(IncidentEvent::Incident {
                    change: notice.change,
                    incident,
                }),
                Err(e) => tracing::warn!("incident {id} announced but unreadable: {e}"),
            },
            _ => {}
        }
    }

    async fn reload_resources(&self, db: &Db) {
        match resource_store::read_all(db).await {
            Ok(all) => self.inner.resources.store(Arc::new(all)),
            Err(e) => tracing::warn!("re-reading the team and stock states failed: {e}"),
        }
    }

    async fn publish_incident(&self, db: &Db, id: i64, change: &str) -> Result<Incident> {
        let incident = store::incident(db, id).await?;
        self.inner.events.publish(IncidentEvent::Incident {
            change: change.to_string(),
            incident: incident.clone(),
        });
        let notice = Notice {
            incident: Some(id),
            task: None,
            change: change.to_string(),
            resources: false,
        };
        self.inner.events.announce(db, &notice).await;
        Ok(incident)
    }

    async fn publish_task(
        &self,
        db: &Db,
        incident: i64,
        id: i64,
        change: &str,
        resources: bool,
    ) -> Result<Task> {
        if resources {
            self.reload_resources(db).await;
            self.inner.events.publish(IncidentEvent::Resources);
        }
        let task = store::task(db, incident, id).await?;
        self.inner.events.publish(IncidentEvent::Task {
            change: change.to_string(),
            task: task.clone(),
        });
        let notice = Notice {
            incident: Some(incident),
            task: Some(id),
            change: change.to_string(),
            resources,
        };
        self.inner.events.announce(db, &notice).await;
        Ok(task)
    }

    /// Stores the proposals of triggers (in order) and publishes them. A trigger whose
    /// proposal a duty officer dismissed less than `cooldown_min` minutes ago (same plan,
    /// station or release, not a higher level) is held back: its outcome is `held`.
    pub async fn propose(
        &self,
        db: &Db,
        proposals: &[Proposal],
        actor: &Actor,
        now: i64,
        cooldown_min: i64,
    ) -> Result<Vec<ProposalOutcome>> {
        if proposals.is_empty() {
            return Ok(Vec::new());
        }
        let _guard = self.inner.write.lock().await;
        let mut out = Vec::with_capacity(proposals.len());
        for p in proposals {
            let done = store::propose(
                db,
                &p.incident,
                p.data.clone(),
                actor,
                now,
                cooldown_min * 60_000,
            )
            .await?;
            let change = match done {
                Proposed::New(_) => "proposed",
                Proposed::Raised(_) => "raised",
                Proposed::Added(_) => "added",
                Proposed::Held(_) => "held",
            };
            let incident = self.publish_incident(db, done.id(), change).await?;
            out.push(ProposalOutcome {
                incident: incident.id,
                plan: incident.plan,
                level: incident.level,
                change,
            });
        }
        Ok(out)
    }

    /// A duty officer opens an incident: active at once, with the plan's tasks of its level.
    #[allow(clippy::too_many_arguments)]
    pub async fn open(
        &self,
        db: &Db,
        store: &LayerStore,
        plans: &Plans,
        live: &Live,
        request: OpenRequest,
        actor: &Actor,
        now: i64,
    ) -> Result<Incident> {
        workflow::check_duty(actor)?;
        let p = plan(plans, &request.plan)?;
        let title = max_text("title", request.title, 200)?;
        let note = max_text("note", request.note, 2000)?;
        let (lon, lat, area, source, source_ref, class) = match &request.at {
            OpenAt::Point { lon, lat } => (*lon, *lat, None, Source::Manual, None, None),
            OpenAt::Area { lon, lat, area } => {
                (*lon, *lat, Some(area.clone()), Source::Manual, None, None)
            }
            OpenAt::HazardSource(id) => {
                let place =
                    super::triggers::place(store, Role::HazardSource, id).ok_or_else(|| {
                        IncidentError::invalid("hazard_source", format!("no hazard source {id:?}"))
                    })?;
                (
                    place.lon,
                    place.lat,
                    None,
                    Source::Manual,
                    Some(id.clone()),
                    None,
                )
            }
            OpenAt::Case {
                id,
                class,
                lon,
                lat,
                ..
            } => (
                *lon,
                *lat,
                None,
                Source::Case,
                Some(id.to_string()),
                Some(class.as_str()),
            ),
        };
        let level = match (&request.level, class) {
            (Some(text), _) => plan_level(p, text)?,
            (None, Some(class)) => p.level_for_case(class).ok_or_else(|| {
                IncidentError::invalid(
                    "level",
                    format!(
                        "no level of plan {:?} is triggered by case class {class}: give a level",
                        p.id
                    ),
                )
            })?,
            (None, None) => {
                return Err(IncidentError::invalid(
                    "level",
                    "level is required (IV, III, II or I)",
                ));
            }
        };
        let title = title.unwrap_or_else(|| match &request.at {
            OpenAt::Case {
                id, description, ..
            } => {
                format!(
                    "{}：案件{id}升级 {}",
                    p.name,
                    description.chars().take(40).collect::<String>()
                )
            }
            _ => format!("{}：值班员启动{}级响应", p.name, level.as_str()),
        });
        let new = NewIncident {
            plan: p.id.clone(),
            level,
            status: IncidentStatus::Active,
            title,
            source,
            source_ref,
            episode: None,
            lon,
            lat,
            area,
            context: Context {
                towns: super::generate::town_of(store, geo::Coord { x: lon, y: lat })
                    .into_iter()
                    .collect(),
                ..Context::default()
            },
        };
        let probe = Incident {
            id: 0,
            plan: new.plan.clone(),
            level,
            status: new.status,
            title: new.title.clone(),
            source,
            source_ref: new.source_ref.clone(),
            episode: None,
            lon,
            lat,
            area: new.area.clone(),
            context: new.context.clone(),
            opened_at: now,
            updated_at: now,
            closed_at: None,
            version: 0,
        };
        let tasks = p
            .level(level)
            .map(|l| tasks_for(store, live, &probe, l, now))
            .unwrap_or_default();
        let entry = NewEntry {
            kind: "opened",
            level: Some(level),
            note,
            data: Some(serde_json::json!({ "source": source.as_str(), "ref": new.source_ref })),
            ..NewEntry::default()
        };
        let _guard = self.inner.write.lock().await;
        let id = store::open(db, &new, &entry, &tasks, actor, now).await?;
        self.publish_incident(db, id, "opened").await
    }

    /// A duty officer's decision on an incident: confirm (activating the plan's tasks of the
    /// level), dismiss, raise or lower the level (raising an active incident adds the new
    /// level's tasks), close (with a reason while tasks are open).
    #[allow(clippy::too_many_arguments)]
    pub async fn act(
        &self,
        db: &Db,
        store: &LayerStore,
        plans: &Plans,
        live: &Live,
        id: i64,
        action: IncidentAction,
        request: ActRequest,
        actor: &Actor,
        now: i64,
    ) -> Result<Incident> {
        workflow::check_duty(actor)?;
        let reason = max_text("reason", request.reason, 2000)?;
        let note = max_text("note", request.note, 2000)?;
        let _guard = self.inner.write.lock().await;
        let incident = store::incident(db, id).await?;
        let status = action
            .next(incident.status)
            .ok_or_else(|| IncidentError::Status {
                what: "incident",
                action: action.as_str(),
                status: incident.status.as_str(),
                allowed: IncidentAction::allowed(incident.status),
            })?;
        let p = plan(plans, &incident.plan)?;
        let mut level = incident.level;
        let mut tasks: Vec<NewTask> = Vec::new();
        match action {
            IncidentAction::Raise | IncidentAction::Lower => {
                let up = action == IncidentAction::Raise;
                level = match &request.level {
                    Some(text) => {
                        let l = plan_level(p, text)?;
                        if (up && l <= incident.level) || (!up && l >= incident.level) {
                            return Err(IncidentError::invalid(
                                "level",
                                format!(
                                    "{} {} is not {} than {}",
                                    action.as_str(),
                                    l.as_str(),
                                    if up { "higher" } else { "lower" },
                                    incident.level.as_str()
                                ),
                            ));
                        }
                        l
                    }
                    None => {
                        let mut levels: Vec<ResponseLevel> =
                            p.levels.iter().map(|l| l.level).collect();
                        levels.sort();
                        let next = if up {
                            levels.into_iter().find(|l| *l > incident.level)
                        } else {
                            levels.into_iter().rev().find(|l| *l < incident.level)
                        };
                        next.ok_or_else(|| {
                            IncidentError::invalid(
                                "level",
                                format!(
                                    "plan {:?} has no level {} than {}",
                                    p.id,
                                    if up { "higher" } else { "lower" },
                                    incident.level.as_str()
                                ),
                            )
                        })?
                    }
                };
                if up && incident.status == IncidentStatus::Active {
                    if let Some(def) = p.level(level) {
                        tasks = tasks_for(store, live, &incident, def, now);
                    }
                }
            }
            IncidentAction::Confirm => {
                if let Some(def) = p.level(level) {
                    tasks = tasks_for(store, live, &incident, def, now);
                }
            }
            IncidentAction::Close => {
                let open = store::tasks(db, id)
                    .await?
                    .iter()
                    .filter(|t| !t.status.is_final())
                    .count();
                if open > 0 && reason.is_none() {
                    return Err(IncidentError::OpenTasks { open });
                }
            }
            IncidentAction::Dismiss => {}
        }
        let kind = match action {
            IncidentAction::Confirm => "confirmed",
            IncidentAction::Dismiss => "dismissed",
            IncidentAction::Raise => "raised",
            IncidentAction::Lower => "lowered",
            IncidentAction::Close => "closed",
        };
        let step = Step {
            version: incident.version,
            status,
            level,
            entry: NewEntry {
                kind,
                level: Some(level),
                note: reason.or(note),
                ..NewEntry::default()
            },
            tasks,
        };
        store::step(db, id, &step, actor, now).await?;
        self.publish_incident(db, id, kind).await
    }

    /// A task added by hand, checked against the plan: a unit must be a member (or a town unit
    /// of a type the plan names), a team type and a supply item must exist.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_task(
        &self,
        db: &Db,
        store: &LayerStore,
        plans: &Plans,
        id: i64,
        request: TaskRequest,
        actor: &Actor,
        now: i64,
    ) -> Result<Task> {
        workflow::check_duty(actor)?;
        let kind: TaskKind = store::task_kind(&request.kind).map_err(|_| {
            IncidentError::invalid("kind", format!("unknown task kind {:?}", request.kind))
        })?;
        let title = max_text("title", Some(request.title), 200)?
            .ok_or_else(|| IncidentError::invalid("title", "title is required"))?;
        if !(1..=7 * 24 * 60).contains(&request.deadline_min) {
            return Err(IncidentError::invalid(
                "deadline_min",
                "deadline_min is 1 to 10080 minutes from now",
            ));
        }
        let incident = store::incident(db, id).await?;
        if !incident.status.is_open() {
            return Err(IncidentError::Status {
                what: "incident",
                action: "add_task",
                status: incident.status.as_str(),
                allowed: IncidentAction::allowed(incident.status),
            });
        }
        let p = plan(plans, &incident.plan)?;
        let given = [
            request.unit.is_some(),
            request.team_kind.is_some(),
            request.item.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(IncidentError::invalid(
                "unit",
                "give exactly one of unit, team_kind or item (with quantity)",
            ));
        }
        let mut task = NewTask {
            kind,
            title,
            target: TargetKind::Unit,
            unit: None,
            team_kind: None,
            item: None,
            quantity: None,
            place: None,
            lon: request.lon,
            lat: request.lat,
            deadline: now + request.deadline_min * 60_000,
        };
        if let Some(unit) = request.unit {
            if !is_member(store, p, &unit) {
                return Err(IncidentError::NotMember {
                    plan: p.id.clone(),
                    unit,
                });
            }
            task.unit = Some(unit);
        } else if let Some(team) = request.team_kind {
            if plans.team_kind(&team).is_none() {
                return Err(IncidentError::invalid(
                    "team_kind",
                    format!("unknown team type {team:?}"),
                ));
            }
            task.target = TargetKind::Team;
            task.team_kind = Some(team);
        } else if let Some(item) = request.item {
            if plans.supply(&item).is_none() {
                return Err(IncidentError::invalid(
                    "item",
                    format!("unknown supply item {item:?}"),
                ));
            }
            let quantity = request.quantity.filter(|q| *q > 0).ok_or_else(|| {
                IncidentError::invalid("quantity", "quantity is a positive whole number")
            })?;
            task.target = TargetKind::Depot;
            task.item = Some(item);
            task.quantity = Some(quantity);
        }
        let _guard = self.inner.write.lock().await;
        let ids = store::add_tasks(db, id, std::slice::from_ref(&task), actor, now).await?;
        let task_id = ids
            .first()
            .copied()
            .ok_or_else(|| IncidentError::Corrupt("no task stored".into()))?;
        self.publish_task(db, id, task_id, "added", false).await
    }

    /// An action on a task (see [`TaskAction`]). A photo uploaded with `done` goes to the case
    /// service's photo store (the same checks, store and `photos` records as case photos)
    /// before the step's transaction, which links it to the task; a failed step takes the
    /// files back.
    #[allow(clippy::too_many_arguments)]
    pub async fn task_act(
        &self,
        db: &Db,
        store: &LayerStore,
        plans: &Plans,
        photos: Option<&crate::cases::CaseService>,
        incident: i64,
        id: i64,
        action: TaskAction,
        request: TaskActRequest,
        actor: &Actor,
        now: i64,
    ) -> Result<Task> {
        let note = max_text("note", request.note, 2000)?;
        let reason = max_text("reason", request.reason, 2000)?;
        let mut photo = max_text("photo", request.photo, 500)?;
        if photo
            .as_deref()
            .is_some_and(|p| !(p.starts_with("https://") || p.starts_with("http://")))
        {
            return Err(IncidentError::invalid(
                "photo",
                "photo is an http(s) URL; upload a file as multipart/form-data part `photos`",
            ));
        }
        let uploads = request.uploads;
        if !uploads.is_empty() {
            if action != TaskAction::Done {
                return Err(IncidentError::invalid(
                    "photos",
                    "a photo goes with done only",
                ));
            }
            if uploads.len() > 1 || photo.is_some() {
                return Err(IncidentError::invalid(
                    "photos",
                    "a task takes one photo: one upload, or a photo URL",
                ));
            }
        }
        self.load(db, store, plans, now).await?;
        let _guard = self.inner.write.lock().await;
        let task = store::task(db, incident, id).await?;
        workflow::check_task(actor, action, &task)?;
        let status = action
            .next(task.status)
            .ok_or_else(|| IncidentError::Status {
                what: "task",
                action: action.as_str(),
                status: task.status.as_str(),
                allowed: TaskAction::allowed(task.status),
            })?;
        match action {
            TaskAction::Assign => {
                if task.target != TargetKind::Team {
                    return Err(IncidentError::invalid(
                        "action",
                        "only a team task takes a team",
                    ));
                }
                let team = request
                    .team
                    .ok_or_else(|| IncidentError::invalid("team", "team is required: a team id"))?;
                let layer = store
                    .by_role(Role::Team)
                    .ok_or_else(|| IncidentError::UnknownTeam(team.clone()))?;
                let i = layer
                    .find(&team)
                    .ok_or_else(|| IncidentError::UnknownTeam(team.clone()))?;
                let wanted = task
                    .team_kind
                    .as_deref()
                    .and_then(|k| plans.team_kind(k))
                    .map(|k| k.kind.as_str());
                let kind = layer
                    .property(i, "kind")
                    .and_then(crate::spatial::PropertyValue::as_text);
                if let (Some(wanted), Some(kind)) = (wanted, kind) {
                    if wanted != kind {
                        return Err(IncidentError::WrongTeamKind {
                            team,
                            kind: kind.to_string(),
                            wanted: wanted.to_string(),
                        });
                    }
                }
                store::assign_team(db, incident, id, &team, actor, now).await?;
                return self
                    .publish_task(db, incident, id, "team_assigned", true)
                    .await;
            }
            TaskAction::Draw => {
                if task.target != TargetKind::Depot {
                    return Err(IncidentError::invalid(
                        "action",
                        "only a depot task draws stock",
                    ));
                }
                let depot = request.depot.ok_or_else(|| {
                    IncidentError::invalid("depot", "depot is required: a depot id")
                })?;
                let item = task
                    .item
                    .clone()
                    .ok_or_else(|| IncidentError::Corrupt("depot task without item".into()))?;
                let quantity = match request.quantity {
                    Some(q) if q > 0 => q,
                    Some(_) => {
                        return Err(IncidentError::invalid(
                            "quantity",
                            "quantity is a positive whole number",
                        ));
                    }
                    None => task.quantity.unwrap_or(0).max(1),
                };
                store::draw_stock(db, incident, id, &depot, &item, quantity, actor, now).await?;
                return self
                    .publish_task(db, incident, id, "stock_drawn", true)
                    .await;
            }
            TaskAction::Refuse if reason.is_none() => {
                return Err(IncidentError::invalid(
                    "reason",
                    "refusing a task needs a reason",
                ));
            }
            _ => {}
        }
        let team_status = match (&task.team, status) {
            (Some(team), TaskStatus::Started) => Some((team.clone(), TeamStatus::OnScene.as_str())),
            (Some(team), TaskStatus::Done) => Some((team.clone(), TeamStatus::Returning.as_str())),
            (Some(team), TaskStatus::Refused) => Some((team.clone(), TeamStatus::Standby.as_str())),
            _ => None,
        };
        // Stored before the transaction that links them, as case photos are.
        let created = match (&uploads[..], photos) {
            ([], _) => Vec::new(),
            (_, None) => return Err(crate::photos::PhotoError::NotConfigured.into()),
            (files, Some(cases)) => cases.store_photos(files).await?,
        };
        if let Some(first) = uploads.first() {
            photo = Some(crate::photos::url(&first.info.hash));
        }
        let kind = match action {
            TaskAction::Acknowledge => "task_acknowledged",
            TaskAction::Start => "task_started",
            TaskAction::Done => "task_done",
            TaskAction::Refuse => "task_refused",
            TaskAction::Assign | TaskAction::Draw => unreachable!("handled above"),
        };
        let step = TaskStep {
            version: task.version,
            status,
            note: note.clone(),
            photo: photo.clone(),
            reason: reason.clone(),
            entry: NewEntry {
                kind,
                task: Some(id),
                note: reason.or(note),
                data: photo.map(|p| serde_json::json!({ "photo": p })),
                ..NewEntry::default()
            },
            team: team_status.clone(),
            photos: uploads.into_iter().map(|u| u.info).collect(),
        };
        if let Err(e) = store::task_step(db, incident, id, &step, actor, now).await {
            if let Some(cases) = photos {
                cases.forget_photos(&created).await;
            }
            return Err(e);
        }
        self.publish_task(db, incident, id, kind, team_status.is_some())
            .await
    }

    /// A team's status set by hand (back at base: standby).
    #[allow(clippy::too_many_arguments)]
    pub async fn set_team_status(
        &self,
        db: &Db,
        store: &LayerStore,
        plans: &Plans,
        team: &str,
        status: TeamStatus,
        actor: &Actor,
        now: i64,
    ) -> Result<()> {
        workflow::check_duty(actor)?;
        self.load(db, store, plans, now).await?;
        let _guard = self.inner.write.lock().await;
        resource_store::set_team_status(db, team, status, now).await?;
        self.reload_resources(db).await;
        self.inner.events.publish(IncidentEvent::Resources);
        let notice = Notice {
            incident: None,
            task: None,
            change: "team".into(),
            resources: true,
        };
        self.inner.events.announce(db, &notice).await;
        Ok(())
    }

    /// An incident with its timeline and tasks.
    pub async fn page(&self, db: &Db, id: i64) -> Result<Page> {
        let incident = store::incident(db, id).await?;
        let (timeline, tasks) = tokio::try_join!(store::timeline(db, id), store::tasks(db, id))?;
        Ok(Page {
            incident,
            timeline,
            tasks,
        })
    }

    pub async fn list(
        &self,
        db: &Db,
        statuses: &[IncidentStatus],
        limit: i64,
    ) -> Result<Vec<Incident>> {
        store::incidents(db, statuses, limit).await
    }
}

/// A plan member: the office, a listed unit, or a town unit of a type the plan names.
fn is_member(store: &LayerStore, plan: &Plan, unit: &str) -> bool {
    if plan.is_member(unit) {
        return true;
    }
    let Some(units) = store.by_role(Role::TownUnit) else {
        return false;
    };
    units.find(unit).is_some_and(|i| {
        units
            .property(i, "unit_type")
            .and_then(crate::spatial::PropertyValue::as_text)
            .is_some_and(|t| plan.has_town_member(t))
    })
}
