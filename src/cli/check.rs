//! `gridlink check`: load every layer, print a per-layer report, check the grid topology.

use crate::catalog::{Catalog, CodeTables};
use crate::config::Config;
use crate::spatial::{LayerStore, topology};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many skipped features to list per layer.
    #[arg(long, default_value_t = 5)]
    pub problems: usize,
    /// Skip the topology check.
    #[arg(long)]
    pub no_topology: bool,
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&config.layers_dir, &config.tables_dir)?;
    let tables = CodeTables::load(&config.tables_dir)?;
    println!(
        "code tables: {} case classes, {} unit types, {} chemicals",
        tables.classes.len(),
        tables.unit_types.len(),
        tables.chemicals.len()
    );
    let store = LayerStore::load(catalog, &config.data_dir)?;
    println!(
        "{:<22} {:<16} {:>9} {:>9} {:>9}",
        "layer", "title", "features", "skipped", "load ms"
    );
    let mut skipped_total = 0;
    for layer in store.layers() {
        let r = &layer.report;
        skipped_total += r.problems.len();
        println!(
            "{:<22} {:<16} {:>9} {:>9} {:>9.1}",
            layer.def.id,
            layer.def.title,
            r.loaded,
            r.problems.len(),
            r.load_time.as_secs_f64() * 1000.0
        );
        for p in r.problems.iter().take(args.problems) {
            println!(
                "    skipped: {} feature #{}{}: {}",
                p.file.display(),
                p.index,
                p.id.as_deref()
                    .map(|id| format!(" ({id})"))
                    .unwrap_or_default(),
                p.reason
            );
        }
    }
    println!(
        "{} layers, {} features, {} skipped, loaded in {:.0} ms",
        store.layers().len(),
        store.feature_count(),
        skipped_total,
        store.load_time.as_secs_f64() * 1000.0
    );
    if args.no_topology {
        return Ok(if skipped_total == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let started = std::time::Instant::now();
    let report = topology::check(&store).map_err(anyhow::Error::msg)?;
    println!(
        "topology: {} cells, {} villages, {} towns ({:.0} ms)",
        report.cells,
        report.villages,
        report.towns,
        started.elapsed().as_secs_f64() * 1000.0
    );
    for (rule, violations) in &report.violations {
        let verdict = if *violations == 0 {
            "ok".to_string()
        } else {
            format!("FAILED ({violations})")
        };
        println!("  {rule:<55} {verdict}");
    }
    for problem in &report.problems {
        println!("    {problem}");
    }
    let ok = report.passed() && skipped_total == 0;
    println!("{}", if ok { "check passed" } else { "check FAILED" });
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
