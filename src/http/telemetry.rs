//! `/metrics`: what the server does, in the Prometheus text format, through the `metrics` facade
//! and `metrics-exporter-prometheus` (no exposition code of our own).
//!
//! Counters and histograms are recorded where things happen — requests here ([`track`]), the
//! intake's group commits in `cases::intake`, the tile cache in `tiles` — with one-line macro
//! calls; rooms below `http` use the facade directly and never this module. State that is a
//! level rather than an event (layers loaded, cases by status, pool use, cache size) is read
//! at scrape time ([`render`]), so it is right on every server of a cluster and costs nothing
//! between scrapes.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `gridlink_http_requests_total` | counter | `method`, `route` (the route template), `status` |
//! | `gridlink_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `gridlink_http_requests_in_flight` | gauge | |
//! | `gridlink_rate_limited_total` | counter | `limit` (`reports`, `heavy`, `streams`) |
//! | `gridlink_request_timeouts_total` | counter | |
//! | `gridlink_tile_cache_hits_total`, `gridlink_tile_cache_misses_total` | counter | |
//! | `gridlink_tile_rendered_bytes_total` | counter | (bytes of tiles rendered on misses) |
//! | `gridlink_tile_cache_bytes`, `gridlink_tile_cache_entries` | gauge | |
//! | `gridlink_layers_loaded`, `gridlink_features_loaded` | gauge | |
//! | `gridlink_layer_features` | gauge | `layer` |
//! | `gridlink_layers_load_seconds` | gauge | (the last full load) |
//! | `gridlink_cases` | gauge | `status` |
//! | `gridlink_cases_overdue` | gauge | |
//! | `gridlink_intake_batch_size` | histogram | (cases per group commit) |
//! | `gridlink_intake_commit_seconds` | histogram | |
//! | `gridlink_db_pool_connections` | gauge | `state` (`idle`, `busy`) |
//! | `gridlink_db_pool_max_connections` | gauge | |
//! | `gridlink_sse_subscribers` | gauge | |
//! | `gridlink_feed_readings_total` | counter | `outcome` (`accepted`, `duplicate`, `rejected`) |
//! | `gridlink_feed_alerts_total` | counter | `change` (`raised`, `ended`) |
//! | `gridlink_positions_total` | counter | `outcome` (`accepted`, `rejected`) |
//! | `gridlink_fence_events_total` | counter | |
//! | `gridlink_build_info` | gauge | `version` |
//!
//! Who may read it: an `admin` key on the API address (`GET /metrics` with `Authorization:
//! Bearer …`, which Prometheus sends with `authorization: {credentials: …}`), or anyone who can
//! reach `serve --metrics-listen ADDR`, a second address meant for the monitoring network
//! (bind it to 127.0.0.1 or an internal interface).

use super::auth::Caller;
use super::{ApiError, AppState};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// Latency buckets (seconds): a cached tile takes tens of µs, a leak zone or a big allocation
/// seconds.
const SECONDS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];
/// Cases per group commit (the intake takes at most 512).
const BATCH: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// The process-wide recorder, installed on first use. The `metrics` facade has one global
/// recorder, so every router of a process (the tests build many) shares it: tests compare
/// scrapes before and after rather than absolute values.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("gridlink_intake_batch_size".into()),
                        &BATCH,
                    )
                })
        };
        let installed = builder().and_then(PrometheusBuilder::install_recorder);
        match installed {
            Ok(handle) => {
                metrics::gauge!("gridlink_build_info", "version" => env!("CARGO_PKG_VERSION"))
                    .set(1.0);
                handle
            }
            Err(e) => {
                // Another recorder holds the facade (an embedding program's): /metrics then
                // shows nothing rather than failing.
                tracing::warn!("metrics recorder not installed: {e}");
                PrometheusBuilder::new().build_recorder().handle()
            }
        }
    })
}

/// Middleware: counts every request by method, route template and status, and times it up to
/// its response head. Requests no route matched (files of the web page) share the route
/// `unmatched`, so a scan of random paths cannot blow up the number of series.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| route_label(m.as_str()));
    let in_flight = metrics::gauge!("gridlink_http_requests_in_flight");
    in_flight.increment(1.0);
    let response = next.run(request).await;
    in_flight.decrement(1.0);
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed().as_secs_f64();
    tracing::debug!(target: "gridlink::access", %method, %route, %status, ms = elapsed * 1000.0, "request");
    metrics::histogram!("gridlink_http_request_duration_seconds", "method" => method.clone(), "route" => route.clone())
        .record(elapsed);
    metrics::counter!("gridlink_http_requests_total", "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

/// Nested services' templates end in axum's private tail parameter; `/*` reads better.
fn route_label(template: &str) -> String {
    match template.find("/{*__private__axum") {
        Some(i) => format!("{}/*", &template[..i]),
        None => template.to_owned(),
    }
}

/// `GET /metrics` on the API address: admin keys only.
pub async fn metrics(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_staff()?;
    if caller.actor.role != crate::cases::Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only admin keys may read /metrics (or scrape serve --metrics-listen)",
        ));
    }
    Ok(exposition(&state))
}

/// `GET /metrics` on `--metrics-listen`: no key, the address is the protection.
pub async fn open_metrics(State(state): State<AppState>) -> Response {
    exposition(&state)
}

fn exposition(state: &AppState) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(state),
    )
        .into_response()
}

/// The router of `serve --metrics-listen`: `/metrics` only.
pub fn scrape_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(open_metrics))
        .with_state(state)
}

/// Sets the levels read at scrape time, then renders everything.
pub fn render(state: &AppState) -> String {
    use metrics::gauge;
    let handle = recorder();
    let store = state.store.snapshot();
    gauge!("gridlink_layers_loaded").set(store.layers().len() as f64);
    gauge!("gridlink_features_loaded").set(store.feature_count() as f64);
    gauge!("gridlink_layers_load_seconds").set(store.load_time.as_secs_f64());
    for layer in store.layers() {
        gauge!("gridlink_layer_features", "layer" => layer.def.id.clone()).set(layer.len() as f64);
    }
    // Bytes first: it settles the cache's pending bookkeeping, which the count lags behind.
    gauge!("gridlink_tile_cache_bytes").set(state.tiles.bytes() as f64);
    gauge!("gridlink_tile_cache_entries").set(state.tiles.entries() as f64);
    if let Some(cases) = &state.cases {
        let now = cases.clock.now();
        let mut by_status = [0u64; crate::cases::Status::ALL.len()];
        let mut overdue = 0u64;
        for dot in cases.dots() {
            if let Some(i) = crate::cases::Status::ALL
                .iter()
                .position(|s| *s == dot.status)
            {
                by_status[i] += 1;
            }
            overdue += u64::from(dot.is_overdue(now));
        }
        for (status, n) in crate::cases::Status::ALL.iter().zip(by_status) {
            gauge!("gridlink_cases", "status" => status.as_str()).set(n as f64);
        }
        gauge!("gridlink_cases_overdue").set(overdue as f64);
        let (size, idle, max) = match cases.db.pool() {
            crate::db::Pool::Sqlite(p) => {
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
            crate::db::Pool::Postgres(p) => {
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
        gauge!("gridlink_db_pool_connections", "state" => "idle").set(f64::from(idle));
        gauge!("gridlink_db_pool_connections", "state" => "busy").set(f64::from(size - idle));
        gauge!("gridlink_db_pool_max_connections").set(f64::from(max));
    }
    handle.render()
}

/// Drains histogram samples into their buckets now and then, so memory stays flat between
/// scrapes (the exporter's own HTTP listener would do this; gridlink serves /metrics itself).
pub fn spawn_upkeep() {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            recorder().run_upkeep();
        }
    });
}

/// Station readings taken in and the alerts they raised or ended.
pub fn readings(accepted: u64, duplicates: u64, rejected: u64, raised: u64, ended: u64) {
    use metrics::counter;
    counter!("gridlink_feed_readings_total", "outcome" => "accepted").increment(accepted);
    counter!("gridlink_feed_readings_total", "outcome" => "duplicate").increment(duplicates);
    counter!("gridlink_feed_readings_total", "outcome" => "rejected").increment(rejected);
    counter!("gridlink_feed_alerts_total", "change" => "raised").increment(raised);
    counter!("gridlink_feed_alerts_total", "change" => "ended").increment(ended);
}

/// Field positions taken in and the fence events they raised.
pub fn positions(accepted: u64, rejected: u64, fence_events: u64) {
    use metrics::counter;
    counter!("gridlink_positions_total", "outcome" => "accepted").increment(accepted);
    counter!("gridlink_positions_total", "outcome" => "rejected").increment(rejected);
    counter!("gridlink_fence_events_total").increment(fence_events);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_services_get_a_readable_route_label() {
        assert_eq!(
            route_label("/vendor/pmtiles/{*__private__axum_nest_tail_param}"),
            "/vendor/pmtiles/*"
        );
        assert_eq!(route_label("/api/cases/{id}"), "/api/cases/{id}");
    }
}
