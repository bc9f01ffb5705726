//! `/healthz`: is the server up, what has it loaded, and does its database answer — a load
//! balancer takes a server whose database is gone (503) out of rotation.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let store = state.store.snapshot();
    let database = match &state.cases {
        None => Value::Null,
        Some(cases) => match cases.db.ping().await {
            Ok(()) => json!({"backend": cases.db.backend(), "ok": true}),
            Err(e) => json!({"backend": cases.db.backend(), "ok": false, "error": e.to_string()}),
        },
    };
    // Live PostGIS edits: what was applied and what was refused (the feature kept its last
    // valid version), so an operator sees a bad edit without reading the log.
    let live: serde_json::Map<String, Value> = store
        .layers()
        .iter()
        .filter_map(|l| {
            Some((
                l.def.id.clone(),
                serde_json::to_value(l.report.live.as_ref()?).ok()?,
            ))
        })
        .collect();
    let healthy = database.get("ok").is_none_or(|ok| ok == true);
    let status = if healthy { "ok" } else { "degraded" };
    (
        if healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(json!({
            "status": status,
            "version": env!("CARGO_PKG_VERSION"),
            "layers": store.layers().len(),
            "features": store.feature_count(),
            "load_ms": (store.load_time.as_secs_f64() * 1000.0).round(),
            "database": database,
            "live_edits": live,
        })),
    )
}
