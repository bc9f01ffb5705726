//! Failures of the case store and workflow; `http::error` maps them to status codes.

use super::model::Status;
use super::workflow::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("no case {0}")]
    NotFound(i64),
    #[error("no supervision order {0}")]
    OrderNotFound(i64),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The request is well-formed but the record is not in a state that allows it (409),
    /// e.g. passing up a case already in the district centre's queue.
    #[error("{field}: {message}")]
    State { field: String, message: String },
    #[error("action refused: {0:?}")]
    Refused(Refusal),
    /// Somebody else changed the case between our read and our write.
    #[error("case {id} changed meanwhile (now {status:?})")]
    Conflict { id: i64, status: Status },
    #[error("storing the case failed: {0}")]
    Storage(String),
    #[error("the case intake has stopped")]
    IntakeClosed,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Locate(#[from] crate::services::ServiceError),
    #[error(transparent)]
    Photo(#[from] crate::photos::PhotoError),
}

impl CaseError {
    pub fn state(field: &str, message: impl Into<String>) -> CaseError {
        CaseError::State {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> CaseError {
        CaseError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = CaseError> = std::result::Result<T, E>;
