//! `/healthz`: is the server up, and what has it loaded.

use super::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let store = state.store.snapshot();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "layers": store.layers().len(),
        "features": store.feature_count(),
        "load_ms": (store.load_time.as_secs_f64() * 1000.0).round(),
    }))
}
