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
    /// Extra members of the error object, e.g. `allowed` actions for an illegal transition.
    pub details: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            details: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_detail(mut self, key: &str, value: serde_json::Value) -> Self {
        self.details
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value);
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
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "field": self.field,
        });
        if let (Some(details), Some(object)) = (self.details, error.as_object_mut()) {
            object.extend(*details);
        }
        let body = json!({ "error": error });
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

impl From<crate::cases::CaseError> for ApiError {
    fn from(e: crate::cases::CaseError) -> Self {
        use crate::cases::CaseError as E;
        use crate::cases::workflow::Refusal;
        let message = e.to_string();
        match e {
            E::NotFound(_) => ApiError::not_found("case_not_found", message),
            E::OrderNotFound(_) => ApiError::not_found("order_not_found", message),
            E::Invalid { field, message } => ApiError::invalid(&field, message),
            E::Refused(Refusal::NeedsKey) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this action needs an API key (Authorization: Bearer …)",
            ),
            E::Refused(Refusal::Role { allowed }) => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("only {} may take this action", allowed.join(", ")),
            )
            .with_detail("allowed_roles", json!(allowed)),
            E::Refused(Refusal::NotYourCase { unit }) => ApiError::new(
                StatusCode::FORBIDDEN,
                "not_your_case",
                format!(
                    "this case is assigned to {}, not to your unit",
                    unit.as_deref().unwrap_or("no unit")
                ),
            )
            .with_detail("rule", json!("not_your_unit")),
            E::Refused(Refusal::Node { rule, message }) => {
                ApiError::new(StatusCode::FORBIDDEN, rule, message).with_detail("rule", json!(rule))
            }
            E::State { field, message } => {
                ApiError::new(StatusCode::CONFLICT, "wrong_state", message).with_field(field)
            }
            E::Refused(Refusal::Status { status, allowed }) => ApiError::new(
                StatusCode::CONFLICT,
                "illegal_transition",
                format!(
                    "not allowed while the case is {}; allowed: {}",
                    status.as_str(),
                    if allowed.is_empty() {
                        "nothing (the case is finished)".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
            )
            .with_field("action")
            .with_detail("status", json!(status.as_str()))
            .with_detail("allowed", json!(allowed)),
            E::Conflict { status, .. } => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{message}; reload it and try again"),
            )
            .with_detail("status", json!(status.as_str())),
            E::Locate(inner) => {
                let mut api = ApiError::from(inner);
                if api.code == "outside_district" {
                    api.status = StatusCode::UNPROCESSABLE_ENTITY;
                    api.field = Some("lon".into());
                }
                api
            }
            E::Photo(inner) => ApiError::from(inner),
            E::Storage(_) | E::IntakeClosed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                message,
            ),
            E::Database(_) | E::Corrupt(_) => ApiError::internal(message),
        }
    }
}

impl From<crate::photos::PhotoError> for ApiError {
    fn from(e: crate::photos::PhotoError) -> Self {
        use crate::photos::PhotoError as E;
        let message = e.to_string();
        match e {
            E::TooLarge => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large", message)
                .with_field("photos"),
            E::TooMany => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_many_photos", message)
                .with_field("photos")
                .with_detail("max", json!(crate::photos::MAX_PER_STEP)),
            E::TooManyPixels => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large", message)
                    .with_field("photos")
            }
            E::NotAnImage | E::Undecodable(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_photo",
                message,
            )
            .with_field("photos"),
            E::NotFound => ApiError::not_found("photo_not_found", message),
            E::Storage(_) | E::NotConfigured | E::Config(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                message,
            ),
        }
    }
}

impl From<crate::services::occupancy::ShelterError> for ApiError {
    fn from(e: crate::services::occupancy::ShelterError) -> Self {
        use crate::services::occupancy::ShelterError as E;
        let message = e.to_string();
        match e {
            E::UnknownShelter(_) => {
                ApiError::not_found("unknown_shelter", message).with_field("id")
            }
            E::MissingLayer(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_configured", message)
            }
            E::Invalid { field, .. } => ApiError::invalid(&field, message),
            // The request is well-formed but the shelter's state refuses it.
            E::OverCapacity {
                field,
                capacity,
                occupancy,
                ..
            } => ApiError::new(StatusCode::CONFLICT, "over_capacity", message)
                .with_field(field)
                .with_detail("capacity", json!(capacity))
                .with_detail("occupancy", json!(occupancy)),
            E::BelowZero {
                field, occupancy, ..
            } => ApiError::new(StatusCode::CONFLICT, "below_zero", message)
                .with_field(field)
                .with_detail("occupancy", json!(occupancy)),
            E::Database(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                message,
            ),
            E::Corrupt(_) => ApiError::internal(message),
        }
    }
}

impl From<crate::feeds::FeedError> for ApiError {
    fn from(e: crate::feeds::FeedError) -> Self {
        use crate::feeds::FeedError as E;
        let message = e.to_string();
        match e {
            E::Invalid { field, message } => ApiError::invalid(&field, message),
            E::TooManyRows { max, .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_many_rows", message)
                    .with_field("body")
                    .with_detail("max_rows", json!(max))
            }
            E::Database(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                message,
            ),
            E::Thresholds { .. } | E::Corrupt(_) => ApiError::internal(message),
        }
    }
}

impl From<crate::services::hazmat::HazmatError> for ApiError {
    fn from(e: crate::services::hazmat::HazmatError) -> Self {
        use crate::services::hazmat::HazmatError as E;
        let message = e.to_string();
        match e {
            // Body fields naming something that does not exist: the request is at fault.
            E::UnknownChemical(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "unknown_chemical", message)
                    .with_field("chemical")
            }
            E::UnknownHazardSource(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "unknown_hazard_source", message)
                    .with_field("hazard_source")
            }
            E::SourceWithoutChemical(_) | E::MissingChemical => {
                ApiError::invalid("chemical", message)
            }
            // Well-formed, but no zone can be drawn for it.
            E::NoErgData(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "no_erg_data", message)
                    .with_field("chemical")
            }
            E::OutsideDistrict { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "outside_district",
                message,
            )
            .with_field("lon"),
            E::Invalid { field, .. } => ApiError::invalid(field, message),
            E::Service(inner) => ApiError::from(inner),
        }
    }
}

impl From<crate::field::FieldError> for ApiError {
    fn from(e: crate::field::FieldError) -> Self {
        use crate::field::FieldError as E;
        let message = e.to_string();
        match e {
            E::Invalid { field, message } => ApiError::invalid(&field, message),
            E::NotYourWorker { row, .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "not_your_worker", message)
                    .with_field(format!("rows[{row}].who"))
                    .with_detail("row", json!(row))
            }
            E::TooManyRows { max, .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_many_rows", message)
                    .with_field("body")
                    .with_detail("max_rows", json!(max))
            }
            E::UnknownWorker(_) => ApiError::not_found("unknown_worker", message).with_field("id"),
            E::UnknownFence(_) => ApiError::not_found("unknown_fence", message).with_field("fence"),
            E::FenceExists(_) => {
                ApiError::new(StatusCode::CONFLICT, "fence_exists", message).with_field("id")
            }
            E::Database(_) | E::Storage(_) | E::IntakeClosed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                message,
            ),
            E::Config { .. } | E::Corrupt(_) => ApiError::internal(message),
        }
    }
}

impl From<crate::incidents::IncidentError> for ApiError {
    fn from(e: crate::incidents::IncidentError) -> Self {
        use crate::incidents::IncidentError as E;
        use crate::incidents::workflow::Refusal;
        let message = e.to_string();
        match e {
            E::NotFound(_) => ApiError::not_found("incident_not_found", message),
            E::TaskNotFound { .. } => ApiError::not_found("task_not_found", message),
            E::Invalid { field, .. } => ApiError::invalid(&field, message),
            E::UnknownPlan(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "unknown_plan", message).with_field("plan")
            }
            E::UnknownLevel { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "unknown_level", message).with_field("level")
            }
            E::NotMember { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_a_member", message)
                    .with_field("unit")
            }
            E::UnknownTeam(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "unknown_team", message).with_field("team")
            }
            E::WrongTeamKind { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "wrong_team_kind", message)
                    .with_field("team")
            }
            E::Refused(Refusal::NeedsKey) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this action needs an API key (Authorization: Bearer …)",
            ),
            E::Refused(Refusal::Role { allowed }) => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("only {} may take this action", allowed.join(", ")),
            )
            .with_detail("allowed_roles", json!(allowed)),
            E::Refused(Refusal::NotYourTask { unit }) => ApiError::new(
                StatusCode::FORBIDDEN,
                "not_your_task",
                format!(
                    "this task is for {}, not for your unit",
                    unit.as_deref()
                        .unwrap_or("the duty room (a team or depot task)")
                ),
            ),
            E::Status {
                status, allowed, ..
            } => ApiError::new(StatusCode::CONFLICT, "illegal_transition", message)
                .with_field("action")
                .with_detail("status", json!(status))
                .with_detail("allowed", json!(allowed)),
            E::TeamBusy { status, .. } => ApiError::new(StatusCode::CONFLICT, "team_busy", message)
                .with_field("team")
                .with_detail("team_status", json!(status)),
            E::AlreadyBooked { what, .. } => {
                ApiError::new(StatusCode::CONFLICT, "already_booked", message).with_field(what)
            }
            E::NoStock { .. } => {
                ApiError::new(StatusCode::CONFLICT, "no_stock", message).with_field("depot")
            }
            E::InsufficientStock { have, .. } => {
                ApiError::new(StatusCode::CONFLICT, "insufficient_stock", message)
                    .with_field("quantity")
                    .with_detail("available", json!(have))
            }
            E::Photo(inner) => ApiError::from(inner),
            E::OpenTasks { open } => ApiError::new(StatusCode::CONFLICT, "open_tasks", message)
                .with_field("reason")
                .with_detail("open_tasks", json!(open)),
            E::Conflict(_) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{message}; reload it and try again"),
            ),
            E::Database(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                message,
            ),
            E::Corrupt(_) => ApiError::internal(message),
        }
    }
}
