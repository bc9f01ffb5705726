//! `gridlink import --to postgres://…`: copy every layer into PostGIS tables with GiST indexes.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::sources::postgis;
use crate::spatial::LayerStore;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// PostgreSQL connection URL, e.g. postgres://postgres@127.0.0.1:5432/test.
    #[arg(long, env = "GRIDLINK_IMPORT_TO")]
    pub to: String,
    /// Schema for the layer tables (created if missing; tables are replaced).
    #[arg(long, default_value = "gridlink")]
    pub schema: String,
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&config.layers_dir, &config.tables_dir)?;
    let store = LayerStore::load(catalog, &config.data_dir)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let imported = runtime.block_on(async {
        let pool = postgis::connect(&args.to).await?;
        let result = postgis::import(&pool, &args.schema, &store).await;
        pool.close().await;
        result
    })?;
    let mut rows = 0;
    for i in &imported {
        rows += i.rows;
        println!(
            "{:<22} {:>8} rows  {:>7.0} ms  → {}",
            i.layer,
            i.rows,
            i.elapsed.as_secs_f64() * 1000.0,
            i.table
        );
    }
    println!(
        "imported {} layers, {rows} rows into schema {}",
        imported.len(),
        args.schema
    );
    Ok(ExitCode::SUCCESS)
}
