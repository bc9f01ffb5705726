//! `gridlink postgis install-triggers | remove-triggers`: put on (or take off) the change
//! triggers that let a running server follow edits of its PostGIS layers live.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::sources::postgis::live;
use sqlx::Connection;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Install the change trigger on every layer table (`postgis = …` in `[source]`); needs the
    /// tables' owner. Servers already running pick the edits up at once.
    InstallTriggers,
    /// Remove the change triggers again (the server then reads the tables at start and on
    /// SIGHUP only).
    RemoveTriggers,
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&config.layers_dir, &config.tables_dir)?;
    let tables: Vec<_> = catalog
        .layers
        .iter()
        .filter_map(|def| def.source.postgis.clone().map(|t| (def.clone(), t)))
        .collect();
    if tables.is_empty() {
        println!("no layer of the catalogue reads a PostGIS table: nothing to do");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(url) = config.layers_database.clone() else {
        anyhow::bail!(
            "no layers database is configured: set GRIDLINK_LAYERS_DATABASE, --layers-database \
             or `url` under [postgis] in gridlink.toml"
        );
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        let mut failed = 0;
        for (def, table) in &tables {
            let result = match args.action {
                Action::InstallTriggers => live::install(&mut conn, def, table)
                    .await
                    .map_err(|e| e.to_string()),
                Action::RemoveTriggers => live::remove(&mut conn, table)
                    .await
                    .map_err(|e| format!("layer {}: {e}", def.id)),
            };
            match result {
                Ok(()) => println!(
                    "{:<20} {}  {}",
                    def.id,
                    live::qualified(table),
                    match args.action {
                        Action::InstallTriggers => "trigger installed",
                        Action::RemoveTriggers => "trigger removed",
                    }
                ),
                Err(e) => {
                    failed += 1;
                    eprintln!("{e}");
                }
            }
        }
        let _ = conn.close().await;
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
