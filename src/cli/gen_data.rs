//! `gridlink gen-data`: write the Fengxian demo dataset.

use crate::config::Config;
use crate::demo::{DEFAULT_SEED, GenOptions, generate};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Random seed; the same seed and scale give byte-identical files.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Multiplies the counts of the synthetic point layers (components, cameras, …) for
    /// benchmarks. Towns, villages, cells and units keep their real counts.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Output directory [default: the data dir].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let out = args.out.clone().unwrap_or_else(|| config.data_dir.clone());
    let summary = generate(&GenOptions {
        seed: args.seed,
        scale: args.scale,
        layers_dir: config.layers_dir.clone(),
        tables_dir: config.tables_dir.clone(),
        out_dir: out.clone(),
    })?;
    let total: usize = summary.counts.iter().map(|(_, n)| n).sum();
    for (role, count) in &summary.counts {
        println!("{:<22} {count:>8}", role.as_str());
    }
    println!(
        "wrote {} files, {total} features to {} in {:.2} s (seed {}, scale {})",
        summary.files.len(),
        out.display(),
        summary.elapsed.as_secs_f64(),
        args.seed,
        args.scale
    );
    Ok(ExitCode::SUCCESS)
}
