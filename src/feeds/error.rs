//! Failures of the feed service; `http::error` maps them to status codes. Bad *rows* are not
//! errors: they are rejected one by one inside an ingestion answer (see [`super::reading`]).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The thresholds file cannot be used; the message names the file and the field at fault,
    /// so the operator can fix it without reading code.
    #[error("{file}: {field}: {message}")]
    Thresholds {
        file: PathBuf,
        field: String,
        message: String,
    },
    /// A request (not a row) is unusable: bad body, bad query parameter.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// More readings in one request than one transaction should hold.
    #[error("a request may carry at most {max} readings, this one has {got}; split it")]
    TooManyRows { max: usize, got: usize },
    #[error("stored feed data is corrupt: {0}")]
    Corrupt(String),
}

impl FeedError {
    pub fn invalid(field: &str, message: impl Into<String>) -> FeedError {
        FeedError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn thresholds(file: &std::path::Path, field: &str, message: impl Into<String>) -> Self {
        FeedError::Thresholds {
            file: file.to_path_buf(),
            field: field.to_string(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = FeedError> = std::result::Result<T, E>;
