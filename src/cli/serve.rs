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
    /// Store photos in this S3-compatible bucket instead of `--photos-dir` (a build with
    /// `--features s3`); the keys come from GRIDLINK_PHOTOS_ACCESS_KEY_ID and
    /// GRIDLINK_PHOTOS_SECRET_ACCESS_KEY only, never from a flag.
    #[arg(long, env = "GRIDLINK_PHOTOS_BUCKET")]
    pub photos_bucket: Option<String>,
    /// The bucket's server, `http(s)://host[:port]` (MinIO, Ceph, a cloud's S3 API) [default:
    /// AWS S3].
    #[arg(long, env = "GRIDLINK_PHOTOS_ENDPOINT")]
    pub photos_endpoint: Option<String>,
    /// The bucket's region [default: us-east-1].
    #[arg(long, env = "GRIDLINK_PHOTOS_REGION")]
    pub photos_region: Option<String>,
    /// A directory of offline tile archives (`gridlink export pmtiles`) served at /offline/,
    /// with Range requests, so a phone on the centre's network opens one as
    /// `/?pmtiles=/offline/FILE.pmtiles` (or saves it for the field).
    #[arg(long, env = "GRIDLINK_OFFLINE_DIR")]
    pub offline_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub ops: OpsArgs,
}

/// Running it as a service: metrics, limits, proxies, timeouts, the stop.
#[derive(Debug, Clone, clap::Args)]
pub struct OpsArgs {
    /// Also serve `/metrics` without a key on this address, for the monitoring network (on the
    /// API address `/metrics` needs an admin key).
    #[arg(long, env = "GRIDLINK_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// A reverse proxy (address or CIDR network) whose `X-Forwarded-For` and
    /// `X-Forwarded-Proto` are believed; repeatable or comma-separated. Other peers' proxy
    /// headers are removed.
    #[arg(long = "trusted-proxy", env = "GRIDLINK_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Anonymous reports (`POST /api/cases`, Open311 `POST requests.json`) per client address
    /// per minute; 0 turns the limit off.
    #[arg(long, env = "GRIDLINK_REPORT_LIMIT", default_value_t = 30)]
    pub report_limit: u32,
    /// Anonymous reports one address may send in a burst before the rate applies.
    #[arg(long, env = "GRIDLINK_REPORT_BURST", default_value_t = 20)]
    pub report_burst: u32,
    /// Heavy calls (batch locate, shelter allocation, leak zones) per key — per address
    /// without one — per minute; 0 turns the limit off.
    #[arg(long, env = "GRIDLINK_HEAVY_LIMIT", default_value_t = 120)]
    pub heavy_limit: u32,
    /// Heavy calls one key may make in a burst before the rate applies.
    #[arg(long, env = "GRIDLINK_HEAVY_BURST", default_value_t = 30)]
    pub heavy_burst: u32,
    /// Event streams (`/api/stream`) one key may hold open at once; 0 = no cap.
    #[arg(long, env = "GRIDLINK_SSE_PER_KEY", default_value_t = 16)]
    pub sse_per_key: usize,
    /// Seconds a request may take to produce its response (`408` after); 0 = no limit.
    #[arg(long, env = "GRIDLINK_REQUEST_TIMEOUT", default_value_t = 60)]
    pub request_timeout: u64,
    /// Seconds a client has to send a request's headers before the connection is closed (also
    /// how long an idle kept-alive connection stays open).
    #[arg(long, env = "GRIDLINK_HEADER_READ_TIMEOUT", default_value_t = 30)]
    pub header_read_timeout: u64,
    /// Seconds a stop (SIGTERM, Ctrl-C) waits for requests in flight before dropping them.
    #[arg(long, env = "GRIDLINK_SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,
}

fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    crate::http::client::TrustedProxies::parse_net(text)
}

impl OpsArgs {
    fn limits(&self) -> crate::http::limits::LimitSettings {
        use crate::http::limits::Rate;
        crate::http::limits::LimitSettings {
            reports: Rate::new(self.report_limit, self.report_burst),
            heavy: Rate::new(self.heavy_limit, self.heavy_burst),
            streams_per_key: (self.sse_per_key > 0).then_some(self.sse_per_key),
            request_timeout: (self.request_timeout > 0)
                .then(|| std::time::Duration::from_secs(self.request_timeout)),
        }
    }

    fn serve_options(&self) -> crate::http::server::ServeOptions {
        crate::http::server::ServeOptions {
            header_read_timeout: std::time::Duration::from_secs(self.header_read_timeout.max(1)),
            grace: std::time::Duration::from_secs(self.shutdown_grace),
        }
    }
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
    state.limits = crate::http::limits::Limits::new(args.ops.limits());
    state.proxies = crate::http::client::TrustedProxies::new(args.ops.trusted_proxies.clone());
    // Checked before anything starts: a bad bucket setting stops the server at once.
    let photos = photo_store(&config, args)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(
        config,
        state,
        args.offline_dir.clone(),
        photos,
        args.ops.clone(),
    ))?;
    // Background tasks (sweeps, listeners) are cut off here; everything acknowledged is stored.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// How often the overdue sweep flags cases past their deadline.
const OVERDUE_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

async fn serve(
    config: Config,
    mut state: AppState,
    offline_dir: Option<std::path::PathBuf>,
    photos: crate::photos::PhotoStore,
    ops: OpsArgs,
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
    cases.attach_photos(photos);
    cases.set_network(config.network.clone());
    sweep_overdue(cases.clone());
    // Reported shelter occupancy, before the first request (a broken table stops the start).
    state.shelters.load(&cases.db).await?;
    tracing::info!(
        reported = state.shelters.snapshot().len(),
        "shelter occupancy loaded"
    );
    state.cases = Some(cases.clone());
    // Open incidents' areas are fences (enter/exit of teams and inspectors).
    crate::http::incident_fences::follow(&state);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let shutdown = state.shutdown.clone();
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!(
                "stop requested: no new connections, finishing requests, closing streams"
            );
            shutdown.trigger();
        });
    }
    crate::http::telemetry::spawn_upkeep();
    forget_idle_clients(state.limits.clone());
    let metrics_server = match ops.metrics_listen {
        Some(addr) => {
            let metrics_listener = tokio::net::TcpListener::bind(addr).await?;
            tracing::info!(
                "metrics on http://{}/metrics",
                metrics_listener.local_addr()?
            );
            Some(tokio::spawn(crate::http::server::serve(
                metrics_listener,
                crate::http::telemetry::scrape_router(state.clone()),
                shutdown.clone(),
                ops.serve_options(),
            )))
        }
        None => None,
    };
    reload_on_hangup(config.clone(), state.store.clone());
    // PostGIS layers with change triggers follow their tables' edits.
    crate::spatial::live::spawn(state.store.clone(), super::source_context(&config)?).await;
    let mut app = router(state);
    if let Some(dir) = offline_dir {
        // Plain files: tower-http answers Range requests, which is how a PMTiles reader reads.
        tracing::info!(dir = %dir.display(), "offline tile archives at /offline/");
        app = app.nest_service("/offline", tower_http::services::ServeDir::new(dir));
    }
    crate::http::server::serve(listener, app, shutdown, ops.serve_options()).await?;
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    // Every acknowledged report was committed before its answer; closing the pool lets
    // SQLite checkpoint its WAL into the database file.
    if tokio::time::timeout(std::time::Duration::from_secs(5), cases.db.close())
        .await
        .is_err()
    {
        tracing::warn!("the database pool did not close within 5 s");
    }
    Ok(())
}

/// The local photo directory, or the S3-compatible bucket when one is named.
fn photo_store(config: &Config, args: &Args) -> anyhow::Result<crate::photos::PhotoStore> {
    let Some(bucket) = &args.photos_bucket else {
        for (flag, set) in [
            ("--photos-endpoint", args.photos_endpoint.is_some()),
            ("--photos-region", args.photos_region.is_some()),
        ] {
            if set {
                anyhow::bail!("{flag} needs --photos-bucket (GRIDLINK_PHOTOS_BUCKET)");
            }
        }
        let store = crate::photos::PhotoStore::local(&config.photos_dir)?;
        tracing::info!(dir = %config.photos_dir.display(), "photo store ready");
        return Ok(store);
    };
    let key = |name: &str| std::env::var(name).ok();
    let s3 = crate::photos::S3Config::new(
        bucket,
        args.photos_endpoint.as_deref(),
        args.photos_region.as_deref(),
        key("GRIDLINK_PHOTOS_ACCESS_KEY_ID").as_deref(),
        key("GRIDLINK_PHOTOS_SECRET_ACCESS_KEY").as_deref(),
    )?;
    let store = crate::photos::PhotoStore::s3(&s3)?;
    tracing::info!(config = ?s3, "photo store ready: S3 bucket");
    Ok(store)
}

/// Every minute, rate-limit buckets that have refilled are forgotten.
fn forget_idle_clients(limits: crate::http::limits::Limits) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.forget_idle();
        }
    });
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
