//! The `gridlink` command line: one module per subcommand.
//!
//! Floor 1, the top of the house (see the crate doc): may use every room.

pub mod check;
pub mod export;
pub mod gen_data;
pub mod glyphs;
pub mod import;
pub mod keys;
pub mod postgis;
pub mod replay;
pub mod serve;
pub mod workers;

use crate::config::{Config, FileConfig};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// gridlink — map and case server for a district grid-management and emergency-linkage centre.
///
/// Start with `gridlink serve --demo`: it generates the Fengxian demo dataset if it is missing
/// and serves it on http://127.0.0.1:8080.
#[derive(Debug, Parser)]
#[command(name = "gridlink", version, about, long_about)]
pub struct Cli {
    /// Config file (TOML). Flags and environment variables override it.
    #[arg(
        long,
        global = true,
        env = "GRIDLINK_CONFIG",
        default_value = "gridlink.toml"
    )]
    pub config: PathBuf,
    /// Directory with the layer source files (GeoJSON, GeoPackage) [default: data/demo].
    #[arg(long, global = true, env = "GRIDLINK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Directory with the layer catalogue, one TOML file per layer [default: layers].
    #[arg(long, global = true, env = "GRIDLINK_LAYERS_DIR")]
    pub layers_dir: Option<PathBuf>,
    /// Directory with the code tables and the demo recipe [default: data].
    #[arg(long, global = true, env = "GRIDLINK_TABLES_DIR")]
    pub tables_dir: Option<PathBuf>,
    /// Case database: `sqlite:PATH` (embedded, the default: DATA_DIR/gridlink.sqlite) or
    /// `postgres://user@host/db` (PostgreSQL with PostGIS).
    #[arg(long, global = true, env = "GRIDLINK_DATABASE")]
    pub database: Option<String>,
    /// PostgreSQL/PostGIS database holding the layers whose `[source]` is `postgis = …`
    /// [default: `url` under [postgis] in the config file].
    #[arg(long, global = true, env = "GRIDLINK_LAYERS_DATABASE")]
    pub layers_database: Option<String>,
    /// Log lines as `text` (for people) or `json` (one object a line, for a log collector).
    #[arg(long, global = true, env = "GRIDLINK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Starts the log: `RUST_LOG` filters (default `info`, tower-http's per-request lines off;
/// `gridlink::access=debug` logs every request with its route, status and time).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate the Fengxian demo dataset (deterministic: same seed and scale, same bytes).
    GenData(gen_data::Args),
    /// Load every layer, report per layer, and check the grid's topology.
    Check(check::Args),
    /// Serve the map, features and APIs over HTTP.
    Serve(serve::Args),
    /// Replay a recorded CSV of station readings into a running server, in time order.
    Replay(replay::Args),
    /// Copy every layer into PostGIS tables (with GiST indexes).
    Import(import::Args),
    /// Change triggers on PostGIS layer tables, for live updates.
    Postgis(postgis::Args),
    /// API keys: create (prints the key once), list, revoke.
    Keys(keys::Args),
    /// Write offline files: `export pmtiles` (the public layers' tiles for a phone).
    Export(export::Args),
    /// Render MapLibre glyph PBFs (digits, Latin, punctuation) from a TrueType font.
    Glyphs(glyphs::Args),
    /// Field workers (inspectors, team vehicles) and the keys that post their positions.
    Workers(workers::Args),
}

impl Cli {
    /// The settled configuration; `listen` comes from the serve flags when given.
    pub fn config(&self, listen: Option<SocketAddr>) -> anyhow::Result<Config> {
        let explicit = std::env::var_os("GRIDLINK_CONFIG").is_some()
            || std::env::args().any(|a| a == "--config" || a.starts_with("--config="));
        let file = FileConfig::read(&self.config, explicit)?;
        let mut config = Config::resolve(
            file,
            self.data_dir.clone(),
            self.layers_dir.clone(),
            self.tables_dir.clone(),
            listen,
        );
        if let Some(url) = &self.database {
            config.database = url.clone();
        }
        if let Some(url) = &self.layers_database {
            config.layers_database = Some(url.clone());
        }
        Ok(config)
    }
}

/// Where the layers' sources are: the data directory (and its manifest) and the layers
/// database for PostGIS layers.
pub fn source_context(config: &Config) -> anyhow::Result<crate::sources::SourceContext> {
    Ok(crate::sources::SourceContext::new(
        &config.data_dir,
        config.layers_database.clone(),
    )?)
}

/// Loads every layer of `catalog` as the configuration says.
pub fn load_store(
    config: &Config,
    catalog: crate::catalog::Catalog,
) -> anyhow::Result<crate::spatial::LayerStore> {
    Ok(crate::spatial::LayerStore::load_with(
        catalog,
        &source_context(config)?,
    )?)
}

/// Checks the plans' unit codes against the loaded unit layers and warns about team types no
/// team has. Run at start, after the layers load, because the code tables load before the
/// layers and cannot see unit codes. A catalogue without unit layers (a map-only catalogue)
/// skips the unit check with a warning: there is nothing to check against.
pub fn check_plans(
    tables_dir: &std::path::Path,
    tables: &crate::catalog::CodeTables,
    store: &crate::spatial::LayerStore,
) -> Result<(), crate::catalog::CatalogError> {
    use crate::catalog::Role;
    let file = tables_dir.join(crate::catalog::PLANS_FILE);
    let units: Vec<_> = [Role::DistrictUnit, Role::TownUnit]
        .into_iter()
        .filter_map(|r| store.by_role(r))
        .collect();
    if units.is_empty() {
        tracing::warn!(
            "no unit layers loaded: the unit codes of {} are not checked",
            file.display()
        );
    } else {
        tables
            .plans
            .check_units(&file, |code| units.iter().any(|l| l.find(code).is_some()))?;
    }
    if let Some(teams) = store.by_role(Role::Team) {
        let kinds: std::collections::HashSet<&str> = (0..teams.len())
            .filter_map(|i| match teams.property(i, "kind") {
                Some(crate::spatial::PropertyValue::Text(k)) => Some(k),
                _ => None,
            })
            .collect();
        for missing in tables.plans.missing_team_kinds(&kinds) {
            tracing::warn!(
                team_kind = missing,
                "plans.toml: no team of this type in the teams layer; tasks asking for it cannot be staffed"
            );
        }
    }
    Ok(())
}

pub fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match &cli.command {
        Command::GenData(args) => gen_data::run(&cli.config(None)?, args),
        Command::Check(args) => check::run(&cli.config(None)?, args),
        Command::Serve(args) => serve::run(&cli.config(args.listen)?, args),
        Command::Replay(args) => replay::run(args),
        Command::Import(args) => import::run(&cli.config(None)?, args),
        Command::Glyphs(args) => glyphs::run(args),
        Command::Export(args) => export::run(&cli.config(None)?, args),
        Command::Keys(args) => keys::run(&cli.config(None)?, args),
        Command::Workers(args) => workers::run(&cli.config(None)?, args),
        Command::Postgis(args) => postgis::run(&cli.config(None)?, args),
    }
}
