//! `gridlink check`: load every layer, print a per-layer report, check the grid topology, and
//! with `--shelters` check the shelters' siting against GB 21734-2008 (see
//! [`crate::services::siting`]).

use crate::catalog::{Catalog, CodeTables};
use crate::config::Config;
use crate::services::siting::{self, DEFAULT_FLOOD_BUFFER_M, STANDARD};
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
    /// Also check shelter siting (GB 21734-2008 §5.2): list every shelter inside a hazard
    /// source's impact radius or near a flood-prone point. Findings are warnings: the exit
    /// code stays 0 unless `--strict`.
    #[arg(long)]
    pub shelters: bool,
    /// Distance (m) to a flood-prone point under which a shelter is flagged.
    #[arg(long, default_value_t = DEFAULT_FLOOD_BUFFER_M)]
    pub flood_buffer_m: f64,
    /// Treat warnings (shelter siting findings) as failures: exit 1 if there are any.
    #[arg(long)]
    pub strict: bool,
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&config.layers_dir, &config.tables_dir)?;
    let tables = CodeTables::load(&config.tables_dir)?;
    println!(
        "code tables: {} case classes, {} unit types, {} chemicals, {} plans",
        tables.classes.len(),
        tables.unit_types.len(),
        tables.chemicals.len(),
        tables.plans.plans.len()
    );
    let store = super::load_store(config, catalog)?;
    super::check_plans(&config.tables_dir, &tables, &store)?;
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
        println!("    source:    {} ({})", r.location, r.format);
        println!(
            "    crs:       declared {}, read as {}",
            r.declared_crs.as_deref().unwrap_or("none"),
            r.crs
        );
        println!("    transform: {}", r.transform);
        if let Some(shift) = r.shift {
            println!(
                "    shift:     mean {:.1} m, max {:.1} m (measured at each feature's first vertex)",
                shift.mean_m, shift.max_m
            );
        }
        for p in r.repaired.iter().take(args.problems) {
            println!("    repaired: {}", p.describe());
        }
        for p in r.problems.iter().take(args.problems) {
            println!("    skipped: {}", p.describe());
        }
    }
    println!(
        "{} layers, {} features, {} skipped, loaded in {:.0} ms",
        store.layers().len(),
        store.feature_count(),
        skipped_total,
        store.load_time.as_secs_f64() * 1000.0
    );
    let mut ok = skipped_total == 0;
    if !args.no_topology {
        ok &= check_topology(&store)?;
    }
    if args.shelters {
        let findings = check_shelters(&store, args.flood_buffer_m)?;
        if findings > 0 && args.strict {
            println!("shelter siting: {findings} findings, failing (--strict)");
            ok = false;
        }
    }
    if !args.no_topology || args.shelters {
        println!("{}", if ok { "check passed" } else { "check FAILED" });
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prints the topology report; whether it passed.
fn check_topology(store: &LayerStore) -> anyhow::Result<bool> {
    let started = std::time::Instant::now();
    let report = topology::check(store).map_err(anyhow::Error::msg)?;
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
    Ok(report.passed())
}

/// Prints every shelter siting finding, naming the shelter, the hazard and the distance;
/// returns how many there were.
fn check_shelters(store: &LayerStore, flood_buffer_m: f64) -> anyhow::Result<usize> {
    if !flood_buffer_m.is_finite() || flood_buffer_m < 0.0 {
        anyhow::bail!("--flood-buffer-m must be a non-negative number of metres");
    }
    let report = siting::check(store, flood_buffer_m)?;
    println!(
        "shelter siting ({STANDARD} §5.2: 5.2.1 avoid flood-prone ground, 5.2.3 stay outside the reach of toxic, flammable and explosive stores):"
    );
    let shelters = report.shelters;
    for f in &report.findings {
        let Some(hazards) = report.hazard_layer(f.rule) else {
            continue;
        };
        let what = match f.rule {
            siting::Rule::HazardImpact => format!(
                "inside the {:.0} m impact radius of hazard source",
                f.limit_m
            ),
            siting::Rule::FloodProne => format!("within {:.0} m of flood-prone point", f.limit_m),
        };
        println!(
            "  {} {}: {what} {} {} ({:.1} m away) [{} {}]",
            shelters.id(f.shelter),
            shelters.label(f.shelter).unwrap_or(""),
            hazards.id(f.hazard),
            hazards.label(f.hazard).unwrap_or(""),
            f.distance_m,
            f.rule.as_str(),
            f.rule.clause(),
        );
    }
    let checked = |layer: Option<&crate::spatial::Layer>| {
        layer.map_or_else(|| "no layer".to_string(), |l| l.len().to_string())
    };
    println!(
        "  {} findings at {} of {} shelters (hazard sources: {}, {} with an impact radius; flood-prone points: {}, buffer {:.0} m)",
        report.findings.len(),
        report.shelters_flagged(),
        shelters.len(),
        checked(report.hazard_sources),
        report.sources_with_radius,
        checked(report.flood_points),
        report.flood_buffer_m,
    );
    Ok(report.findings.len())
}
