//! The one mapping from failures to HTTP responses: `{"error": {"code", "message", "field"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable reason, e.g. `invalid_parameter`, `unknown_layer`.
    pub code: &'static str,
    pub message: String,
    /// The request parameter or body field at fault, when there is one.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message).with_field(field)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "field": self.field,
            }
        });
        (self.status, Json(body)).into_response()
    }
}

impl From<crate::services::ServiceError> for ApiError {
    fn from(e: crate::services::ServiceError) -> Self {
        use crate::services::ServiceError as E;
        let message = e.to_string();
        match e {
            E::OutsideDistrict { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "outside_district", message)
            }
            E::NoGrid | E::MissingRole(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_configured", message)
            }
            E::UnknownClass(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "unknown_class", message).with_field("class")
            }
            E::UnknownLayer(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_layer", message).with_field("layer")
            }
            E::InvalidFilter { field, .. } => ApiError::invalid(&field, message),
        }
    }
}
