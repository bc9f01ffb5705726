//! The HTTP API. One router module per API area, composed here; handlers stay thin.

pub mod error;
mod health;
mod layers;

pub use error::ApiError;

use crate::spatial::SharedStore;
use axum::Router;
use axum::routing::get;
use tower_http::trace::TraceLayer;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::health))
        .route("/api/layers", get(layers::list))
        .fallback(not_found)
        .with_state(state)
        .layer(TraceLayer::new_for_http())
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found("not_found", format!("no such endpoint: {}", uri.path()))
}
