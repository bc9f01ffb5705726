//! Failures of the field room; `http::error` maps them to status codes. Bad *rows* of a
//! position batch are not errors: they are refused one by one inside the answer
//! (see [`super::fix`]).

#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// `data/field.toml` cannot be used; names the file and the key at fault.
    #[error("{file}: {field}: {message}")]
    Config {
        file: String,
        field: String,
        message: String,
    },
    /// A request (not a row) is unusable: bad body, bad parameter.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The caller's key may not post for the worker of row `row`.
    #[error("row {row}: this key may not post positions for {who:?}")]
    NotYourWorker { row: usize, who: String },
    #[error("a request may carry at most {max} fixes, this one has {got}; split it")]
    TooManyRows { max: usize, got: usize },
    #[error("no worker {0:?}")]
    UnknownWorker(String),
    #[error("no fence {0:?}")]
    UnknownFence(String),
    /// A fence id is taken (posted fences and layer fences share one name space).
    #[error("a fence {0:?} exists already")]
    FenceExists(String),
    #[error("the position intake has stopped")]
    IntakeClosed,
    #[error("storing failed: {0}")]
    Storage(String),
    #[error("stored field data is corrupt: {0}")]
    Corrupt(String),
}

impl FieldError {
    pub fn invalid(field: &str, message: impl Into<String>) -> FieldError {
        FieldError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = FieldError> = std::result::Result<T, E>;
