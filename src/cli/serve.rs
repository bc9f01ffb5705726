//! `gridlink serve`: load the layers and serve the HTTP API.

use crate::cases::{CaseService, Clock};
use crate::catalog::{Catalog, CodeTables};
use crate::config::Config;
use crate::db::Db;
use crate::demo::{DEFAULT_SEED, GenOptions, generate, is_complete};
use crate::http::{AppState, router};
use crate::services::Viewer;
use crate::spatial::{LayerStore, SharedStore};
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "GRIDLINK_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Generate the demo dataset into the data dir first if any layer file is missing.
    #[arg(long)]
    pub demo: bool,
    /// Show staff-only layers (hazard sources, protected targets, pipelines, cameras) to every
    /// request, as on a closed government network before API keys are issued.
    #[arg(long, env = "GRIDLINK_EXPOSE_STAFF_LAYERS")]
    pub expose_staff_layers: bool,
    /// Vector-tile cache size in MiB (0 turns the cache off) [default: 256].
    #[arg(long, env = "GRIDLINK_TILE_CACHE_MB")]
    pub tile_cache_mb: Option<u64>,
    /// Whether case descriptions are ever public: `approved` (once a dispatcher approved one
    /// with the `publish` action) or `never` [default: gridlink.toml `[public] descriptions`,
    /// else approved].
    #[arg(long, env = "GRIDLINK_PUBLIC_DESCRIPTIONS")]
    pub public_descriptions: Option<crate::cases::public_view::Descriptions>,
    /// Where uploaded photos are stored [default: DATA_DIR/photos].
    #[arg(long, env = "GRIDLINK_PHOTOS_DIR")]
    pub photos_dir: Option<std::path::PathBuf>,
    /// A directory of offline tile archives (`gridlink export pmtiles`) served at /offline/,
    /// with Range requests, so a phone on the centre's network opens one as
    /// `/?pmtiles=/offline/FILE.pmtiles` (or saves it for the field).
    #[arg(long, env = "GRIDLINK_OFFLINE_DIR")]
    pub offline_dir: Option<std::path::PathBuf>,
}

fn load(config: &Config) -> anyhow::Result<LayerStore> {
    let catalog = Catalog::load(&config.layers_dir, &config.tables_dir)?;
    super::load_store(config, catalog)
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    if args.demo {
        let catalog = Catalog::load(&config.layers_dir, &config.tables_dir)?;
        if !is_complete(&catalog, &config.data_dir) {
            tracing::info!(dir = %config.data_dir.display(), "generating the demo dataset");
            let summary = generate(&GenOptions {
                output: Default::default(),
                seed: DEFAULT_SEED,
                scale: 1.0,
                layers_dir: config.layers_dir.clone(),
                tables_dir: config.tables_dir.clone(),
                out_dir: config.data_dir.clone(),
            })?;
            tracing::info!(
                seconds = summary.elapsed.as_secs_f64(),
                "demo dataset ready"
            );
        }
    }
    // Refuse to start on a broken code table, before the slow part.
    let tables = CodeTables::load(&config.tables_dir)?;
    let store = load(config)?;
    super::check_plans(&config.tables_dir, &tables, &store)?;
    for layer in store.layers() {
        for problem in &layer.report.problems {
            tracing::warn!(layer = %layer.def.id, at = %problem.place(), reason = %problem.reason, "skipped feature");
        }
        for repair in &layer.report.repaired {
            tracing::warn!(layer = %layer.def.id, at = %repair.place(), what = %repair.reason, "repaired feature");
        }
    }
    tracing::info!(
        layers = store.layers().len(),
        features = store.feature_count(),
        ms = store.load_time.as_millis() as u64,
        "layers loaded"
    );
    let mut state = AppState::new(SharedStore::new(store), tables);
    state.styles_dir = config.styles_dir.clone();
    state.web_dir = config.web_dir.clone();
    state.tiles = crate::tiles::TileCache::new(
        args.tile_cache_mb.unwrap_or(config.tile_cache_mb) * 1024 * 1024,
    );
    if !state
        .web_dir
        .join("node_modules/maplibre-gl/dist/maplibre-gl.js")
        .is_file()
    {
        tracing::warn!(
            "MapLibre GL JS is not installed in {}/node_modules: the map page will not load (run `npm ci --prefix {}`, as scripts/demo.sh does)",
            state.web_dir.display(),
            state.web_dir.display()
        );
    }
    state.public = config.public;
    if let Some(descriptions) = args.public_descriptions {
        state.public.descriptions = descriptions;
    }
    let mut config = config.clone();
    if let Some(dir) = &args.photos_dir {
        config.photos_dir = dir.clone();
    }
    if args.expose_staff_layers || config.expose_staff_layers {
        tracing::warn!("staff-only layers are visible to every request (--expose-staff-layers)");
        state.default_viewer = Viewer::Staff;
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(config, state, args.offline_dir.clone()))?;
    Ok(ExitCode::SUCCESS)
}

/// How often the overdue sweep flags cases past their deadline.
const OVERDUE_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

async fn serve(
    config: Config,
    mut state: AppState,
    offline_dir: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let db = Db::connect(&config.database).await?;
    tracing::info!(backend = db.backend(), "case database ready");
    // The feeds share the case database (tables from the same migrations).
    state.feeds =
        crate::feeds::start_for_serve(&config.tables_dir, &db, &state.store, Clock::system())
            .await?;
    // Field positions and fences share it too.
    let field =
        crate::field::start_for_serve(&config.tables_dir, &db, &state.store, Clock::system())
            .await?;
    prune_tracks(field.clone());
    state.field = Some(field);
    let cases = CaseService::start(db, Clock::system()).await?;
    cases.attach_photos(crate::photos::PhotoStore::local(&config.photos_dir)?);
    cases.set_network(config.network.clone());
    tracing::info!(dir = %config.photos_dir.display(), "photo store ready");
    sweep_overdue(cases.clone());
    // Reported shelter occupancy, before the first request (a broken table stops the start).
    state.shelters.load(&cases.db).await?;
    tracing::info!(
        reported = state.shelters.snapshot().len(),
        "shelter occupancy loaded"
    );
    state.cases = Some(cases);
    // Open incidents' areas are fences (enter/exit of teams and inspectors).
    crate::http::incident_fences::follow(&state);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    reload_on_hangup(config.clone(), state.store.clone());
    // PostGIS layers with change triggers follow their tables' edits.
    crate::spatial::live::spawn(state.store.clone(), super::source_context(&config)?).await;
    let mut app = router(state);
    if let Some(dir) = offline_dir {
        // Plain files: tower-http answers Range requests, which is how a PMTiles reader reads.
        tracing::info!(dir = %dir.display(), "offline tile archives at /offline/");
        app = app.nest_service("/offline", tower_http::services::ServeDir::new(dir));
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// How often fixes older than the retention setting are deleted.
const TRACK_PRUNE: std::time::Duration = std::time::Duration::from_secs(3600);

fn prune_tracks(field: crate::field::FieldService) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TRACK_PRUNE);
        loop {
            tick.tick().await;
            match field.prune().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(fixes = n, "pruned old track fixes"),
                Err(e) => tracing::warn!("pruning tracks failed: {e}"),
            }
        }
    });
}

fn sweep_overdue(cases: CaseService) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(OVERDUE_SWEEP);
        loop {
            tick.tick().await;
            match cases.sweep_overdue().await {
                Ok(flagged) if !flagged.is_empty() => {
                    tracing::info!(cases = flagged.len(), "flagged overdue cases");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("overdue sweep failed: {e}"),
            }
        }
    });
}

/// SIGHUP reloads every layer into a new store and swaps it in; requests in flight keep the
/// store they started with. A failed reload keeps the old store and logs why.
fn reload_on_hangup(config: Config, store: SharedStore) {
    tokio::spawn(async move {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangup.recv().await.is_some() {
            let config = config.clone();
            match tokio::task::spawn_blocking(move || load(&config)).await {
                Ok(Ok(new)) => {
                    tracing::info!(features = new.feature_count(), "layers reloaded");
                    store.replace(new);
                }
                Ok(Err(e)) => tracing::error!("reload failed, keeping the current layers: {e:#}"),
                Err(e) => tracing::error!("reload task failed: {e}"),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
