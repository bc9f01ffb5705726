//! The HTTP API. One router module per API area, composed here; handlers stay thin.
//!
//! Floor 2 (see the crate doc): may use every room below it; only `cli` uses it.

mod appraisal;
mod appraisal_print;
pub mod auth;
mod batch;
pub mod cases;
pub mod client;
pub mod error;
pub mod feeds;
pub mod field;
mod hazmat;
mod health;
pub mod incident_fences;
pub mod incident_report;
pub mod incidents;
mod layers;
pub mod limits;
mod locate;
pub mod multipart;
mod nearest;
mod ogc;
mod open311;
mod openapi;
pub mod params;
mod photos;
mod plans;
mod public;
pub mod render;
mod search;
pub mod server;
pub mod shelters;
mod stream;
mod styles;
mod supervision;
pub mod telemetry;
pub mod tiles;
mod track;

pub use error::ApiError;

use crate::catalog::CodeTables;
use crate::services::Viewer;
use crate::spatial::SharedStore;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::sync::Arc;
use tower_http::services::{ServeDir, ServeFile};
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
    pub tiles: crate::tiles::TileCache,
    /// MapLibre styles and glyphs (`styles/`).
    pub styles_dir: std::path::PathBuf,
    /// The web map (`web/`), with MapLibre GL JS under `web/node_modules`.
    pub web_dir: std::path::PathBuf,
    /// Cases, keys and the live stream; `None` runs the map and spatial API alone.
    pub cases: Option<crate::cases::CaseService>,
    /// Hydrological and weather feeds and their alerts; `None` runs without them.
    pub feeds: Option<crate::feeds::FeedService>,
    /// Field positions, fences and coverage; `None` runs without them.
    pub field: Option<crate::field::FieldService>,
    /// Live shelter occupancy and status (stored with the cases), applied over the shelter layer.
    pub shelters: crate::shelters::ShelterService,
    /// Incidents, tasks, and teams and depot stock as live resources (stored with the cases).
    pub incidents: crate::incidents::IncidentService,
    /// What the public sees of cases (`[public]` in gridlink.toml).
    pub public: crate::cases::PublicPolicy,
    /// Rate limits, stream caps and the request time limit (none unless `serve` sets them).
    pub limits: limits::Limits,
    /// The stop signal: event streams end when it fires, so a graceful stop can finish.
    pub shutdown: server::Shutdown,
    /// Reverse proxies whose `X-Forwarded-*` headers are believed (`--trusted-proxy`).
    pub proxies: client::TrustedProxies,
}

impl AppState {
    pub fn new(store: SharedStore, tables: CodeTables) -> Self {
        AppState {
            store,
            tables: Arc::new(tables),
            default_viewer: Viewer::Public,
            batch_limit: DEFAULT_BATCH_LIMIT,
            tiles: crate::tiles::TileCache::new(crate::tiles::DEFAULT_CACHE_BYTES),
            styles_dir: "styles".into(),
            web_dir: "web".into(),
            cases: None,
            feeds: None,
            field: None,
            shelters: Default::default(),
            incidents: Default::default(),
            public: Default::default(),
            limits: Default::default(),
            shutdown: Default::default(),
            proxies: Default::default(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    // Installed before the first request, so the first scrape already has the series.
    telemetry::recorder();
    let batch_limit = state.batch_limit;
    let limits = state.limits.clone();
    let proxies = state.proxies.clone();
    let maplibre = ServeDir::new(state.web_dir.join("node_modules/maplibre-gl/dist"));
    // MapLibre's PMTiles protocol, for the offline map (web/offline.js).
    let pmtiles = ServeDir::new(state.web_dir.join("node_modules/pmtiles/dist"));
    // The residents' page has a name of its own (no `.html`), with or without the slash; its
    // tracking view is the same page (`/report#track=ID&token=…`).
    let public_page = ServeFile::new(state.web_dir.join("report.html"));
    let web = ServeDir::new(&state.web_dir)
        .append_index_html_on_directories(true)
        .not_found_service(axum::handler::HandlerWithoutStateExt::into_service(
            not_found,
        ));
    Router::new()
        .route("/healthz", get(health::health))
        .route("/metrics", get(telemetry::metrics))
        .route("/api/layers", get(layers::list))
        .route("/api/locate", get(locate::locate_one))
        .route(
            "/api/locate/batch",
            post(batch::locate_batch).layer(DefaultBodyLimit::max(batch_limit)),
        )
        .route("/api/nearest/{layer}", get(nearest::nearest))
        .route("/api/around", get(nearest::around))
        .route("/api/search", get(search::search))
        .route("/api/chemicals", get(hazmat::chemicals))
        .route("/api/chemicals/{id}", get(hazmat::chemical))
        .route("/api/hazmat/zone", post(hazmat::zone))
        .route("/api/plans", get(plans::list))
        .route("/api/plans/{id}", get(plans::plan))
        .route("/api/classes", get(cases::classes))
        .route(
            "/api/cases",
            get(cases::list)
                .post(cases::create)
                .layer(DefaultBodyLimit::max(multipart::MULTIPART_LIMIT)),
        )
        .route("/api/cases/{id}", get(cases::get))
        .route(
            "/api/cases/{id}/actions",
            post(cases::act).layer(DefaultBodyLimit::max(multipart::MULTIPART_LIMIT)),
        )
        .route("/api/cases/{id}/supervision", post(supervision::issue))
        .route("/api/supervision", get(supervision::list))
        .route("/api/supervision/{id}/reply", post(supervision::reply))
        .route("/api/supervision/{id}/close", post(supervision::close))
        .route("/api/track/{id}", get(track::track))
        .route("/api/public/cases", get(public::cases))
        .route("/api/photos/{hash}", get(photos::photo))
        .route("/api/stream", get(stream::stream))
        .route(
            "/api/feeds/readings",
            post(feeds::ingest).layer(DefaultBodyLimit::max(feeds::BODY_LIMIT)),
        )
        .route("/api/feeds/latest", get(feeds::latest))
        .route("/api/feeds/kinds", get(feeds::kinds))
        .route("/api/alerts", get(feeds::alerts))
        .route(
            "/api/positions",
            post(field::ingest).layer(DefaultBodyLimit::max(field::BODY_LIMIT)),
        )
        .route("/api/workers", get(field::workers))
        .route("/api/workers/inside", get(field::inside))
        .route("/api/workers/me", get(field::me))
        .route("/api/workers/{id}/track", get(field::track))
        .route("/api/nearest-workers", get(field::nearest))
        .route("/api/fences", get(field::fences).post(field::add_fence))
        .route(
            "/api/fences/{*id}",
            axum::routing::delete(field::remove_fence),
        )
        .route("/api/fence-events", get(field::events))
        .route("/api/coverage", get(field::coverage))
        .route("/api/appraisal", get(appraisal::appraisal))
        .route("/api/shelters", get(shelters::list))
        .route("/api/shelters/allocate", post(shelters::allocate))
        .route(
            "/api/shelters/{id}",
            get(shelters::get).patch(shelters::report),
        )
        .route("/api/incidents", get(incidents::list).post(incidents::open))
        .route(
            "/api/incidents/propose-from-zone",
            post(incidents::propose_from_zone),
        )
        .route("/api/incidents/{id}", get(incidents::get))
        .route("/api/incidents/{id}/actions", post(incidents::act))
        .route("/api/incidents/{id}/features", get(incidents::features))
        .route("/api/incidents/{id}/tasks", post(incidents::add_task))
        .route(
            "/api/incidents/{id}/tasks/{task}/photo",
            get(incidents::task_photo),
        )
        .route(
            "/api/incidents/{id}/tasks/{task}/actions",
            post(incidents::task_act).layer(DefaultBodyLimit::max(multipart::MULTIPART_LIMIT)),
        )
        .route("/incidents/{id}/report", get(incident_report::report))
        .route("/api/teams", get(incidents::teams))
        .route(
            "/api/teams/{id}",
            axum::routing::patch(incidents::team_status),
        )
        .route("/api/depots", get(incidents::depots))
        .route("/styles/{file}", get(styles::style))
        .route("/fonts/{stacks}/{file}", get(styles::glyphs))
        .nest_service("/vendor/maplibre-gl", maplibre)
        .nest_service("/vendor/pmtiles", pmtiles)
        .route_service("/report", public_page.clone())
        .route_service("/report/", public_page)
        .route("/tiles/{name}", get(tiles::document))
        .route("/tiles/{layers}/{z}/{x}/{tile}", get(tiles::tile))
        .nest("/ogc", ogc::router())
        .nest("/open311/v2", open311::router())
        .fallback_service(web)
        // Router::layer wraps each route after routing, so these see the route template.
        // Inner to outer: limits (and the time limit), request metrics (so refusals count),
        // the client address (which the limits key on).
        .layer(axum::middleware::from_fn_with_state(limits, limits::guard))
        .layer(axum::middleware::from_fn(telemetry::track))
        .layer(axum::middleware::from_fn_with_state(
            proxies,
            client::forwarded,
        ))
        .with_state(state)
        .layer(TraceLayer::new_for_http())
}

/// The server's own origin (`scheme://host`) as the client reached it, so URLs in documents
/// (TileJSON, styles, OGC links) work through proxies and from other machines.
pub fn origin(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found("not_found", format!("no such endpoint: {}", uri.path()))
}
