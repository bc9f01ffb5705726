//! The HTTP API. One router module per API area, composed here; handlers stay thin.

mod batch;
pub mod error;
mod health;
mod layers;
mod locate;
mod nearest;
mod ogc;
mod openapi;
pub mod params;
pub mod render;

pub use error::ApiError;

use crate::catalog::CodeTables;
use crate::services::Viewer;
use crate::spatial::SharedStore;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::sync::Arc;
use tower_http::trace::TraceLayer;

/// Largest batch-locate request body (a million CSV rows is about 40 MB).
pub const DEFAULT_BATCH_LIMIT: usize = 256 * 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
    pub tables: Arc<CodeTables>,
    /// Who an unauthenticated request counts as (public, unless the server is configured to
    /// treat everyone as staff, until API keys exist).
    pub default_viewer: Viewer,
    pub batch_limit: usize,
}

impl AppState {
    pub fn new(store: SharedStore, tables: CodeTables) -> Self {
        AppState {
            store,
            tables: Arc::new(tables),
            default_viewer: Viewer::Public,
            batch_limit: DEFAULT_BATCH_LIMIT,
        }
    }
}

pub fn router(state: AppState) -> Router {
    let batch_limit = state.batch_limit;
    Router::new()
        .route("/healthz", get(health::health))
        .route("/api/layers", get(layers::list))
        .route("/api/locate", get(locate::locate_one))
        .route(
            "/api/locate/batch",
            post(batch::locate_batch).layer(DefaultBodyLimit::max(batch_limit)),
        )
        .route("/api/nearest/{layer}", get(nearest::nearest))
        .route("/api/around", get(nearest::around))
        .nest("/ogc", ogc::router())
        .fallback(not_found)
        .with_state(state)
        .layer(TraceLayer::new_for_http())
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found("not_found", format!("no such endpoint: {}", uri.path()))
}
