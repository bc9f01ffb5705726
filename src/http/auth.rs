//! Who is calling: a bearer API key names a role (and a unit); no key is anonymous. Staff-only
//! layers are shown to any key holder, or to everyone where the server is configured so.

use super::{ApiError, AppState};
use crate::cases::Actor;
use crate::services::Viewer;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub viewer: Viewer,
}

impl Caller {
    /// Refuses anonymous callers (401): case lists and details are for the linkage units.
    pub fn require_staff(&self) -> Result<(), ApiError> {
        if self.actor.is_staff() {
            Ok(())
        } else {
            Err(unauthorized(
                "this needs an API key (Authorization: Bearer …)",
            ))
        }
    }

    /// Refuses callers who may not see staff-only layers: reports built from them (leak zones)
    /// follow the layers' rule, so `--expose-staff-layers` opens them on a closed network too.
    pub fn require_staff_view(&self) -> Result<(), ApiError> {
        if self.viewer == crate::services::Viewer::Staff {
            Ok(())
        } else {
            Err(unauthorized(
                "this uses staff-only layers and needs an API key (Authorization: Bearer …)",
            ))
        }
    }
}

pub fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// The caller a secret stands for; an unknown or revoked key is refused, never downgraded to
/// anonymous, so a typo in a key does not silently hide layers.
pub async fn caller_for(state: &AppState, secret: Option<&str>) -> Result<Caller, ApiError> {
    let Some(secret) = secret.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Caller {
            actor: Actor::anonymous(),
            viewer: state.default_viewer,
        });
    };
    let Some(cases) = &state.cases else {
        return Err(unauthorized("this server has no key store"));
    };
    match cases.actor_for_key(secret).await? {
        Some(actor) => Ok(Caller {
            actor,
            viewer: Viewer::Staff,
        }),
        None => Err(unauthorized("unknown or revoked API key")),
    }
}

impl Caller {
    /// The caller, or — when the headers carry no staff key — the one `?key=` names: a
    /// browser's `<img>` and `EventSource` cannot send headers.
    pub async fn or_query_key(
        self,
        state: &AppState,
        params: &super::params::Params,
    ) -> Result<Caller, ApiError> {
        match params.get("key") {
            Some(key) if !self.actor.is_staff() => caller_for(state, Some(key)).await,
            _ => Ok(self),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(|v| {
                        v.strip_prefix("Bearer ")
                            .or_else(|| v.strip_prefix("bearer "))
                    })
                    .ok_or_else(|| unauthorized("Authorization must be \"Bearer <key>\""))
            })
            .transpose()?;
        caller_for(state, header).await
    }
}
