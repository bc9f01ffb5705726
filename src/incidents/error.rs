//! Why an incident, task or resource request failed; `http/error.rs` maps each to a status.

use super::workflow::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("no incident {0}")]
    NotFound(i64),
    #[error("no task {task} in incident {incident}")]
    TaskNotFound { incident: i64, task: i64 },
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("unknown plan {0:?} (see GET /api/plans)")]
    UnknownPlan(String),
    #[error("plan {plan:?} has no level {level:?}")]
    UnknownLevel { plan: String, level: String },
    #[error("unit {unit:?} is not a member of plan {plan:?}, nor a town unit of a type it names")]
    NotMember { plan: String, unit: String },
    #[error("not allowed")]
    Refused(Refusal),
    #[error("{action} is not allowed while the {what} is {status}")]
    Status {
        what: &'static str,
        action: &'static str,
        status: &'static str,
        allowed: Vec<&'static str>,
    },
    #[error("team {team:?} is {status}, not standby")]
    TeamBusy { team: String, status: String },
    #[error("no team {0:?}")]
    UnknownTeam(String),
    #[error("team {team:?} is a {kind} team; the task asks for {wanted}")]
    WrongTeamKind {
        team: String,
        kind: String,
        wanted: String,
    },
    #[error("the task already has {what} {value:?}")]
    AlreadyBooked { what: &'static str, value: String },
    #[error("depot {depot:?} holds no {item}")]
    NoStock { depot: String, item: String },
    #[error("depot {depot:?} holds {have} {item}, fewer than the {wanted} asked for")]
    InsufficientStock {
        depot: String,
        item: String,
        have: i64,
        wanted: i64,
    },
    #[error("{open} tasks are still open: give a reason to close the incident with them")]
    OpenTasks { open: usize },
    #[error(transparent)]
    Photo(#[from] crate::photos::PhotoError),
    #[error("the {0} changed meanwhile")]
    Conflict(&'static str),
    #[error("database: {0}")]
    Database(String),
    #[error("stored data unreadable: {0}")]
    Corrupt(String),
}

impl IncidentError {
    pub fn invalid(field: &str, message: impl Into<String>) -> IncidentError {
        IncidentError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for IncidentError {
    fn from(e: sqlx::Error) -> Self {
        IncidentError::Database(e.to_string())
    }
}

impl From<Refusal> for IncidentError {
    fn from(r: Refusal) -> Self {
        IncidentError::Refused(r)
    }
}

pub type Result<T, E = IncidentError> = std::result::Result<T, E>;
