//! `gridlink gen-data`: write the Fengxian demo dataset.

use crate::config::Config;
use crate::demo::output::{Output, OutputFormat};
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
    /// File format of layers whose catalogue path has no extension: geojson (WGS84), gpkg, or
    /// shp — the demo as a real centre's data looks: Shapefiles in CGCS2000 3° Gauss-Krüger
    /// zone 40 (EPSG:4528) with GBK DBFs, .prj and .cpg. The data directory's dataset.toml
    /// records the choice, so the catalogue loads it unchanged.
    #[arg(long, value_enum, default_value_t = OutputFormat::Geojson)]
    pub format: OutputFormat,
    /// CRS to write in, as EPSG:nnnn [default: EPSG:4326; EPSG:4528 for shp].
    #[arg(long)]
    pub crs: Option<String>,
    /// DBF text encoding of Shapefiles [default: GBK].
    #[arg(long)]
    pub encoding: Option<String>,
}

/// `EPSG:4528`, `4528` or an OGC URI → 4528.
fn epsg(text: &str) -> anyhow::Result<u32> {
    match crate::spatial::crs::Crs::parse(text)? {
        crate::spatial::crs::Crs::Wgs84 => Ok(4326),
        crate::spatial::crs::Crs::Proj(p) => p.epsg().ok_or_else(|| {
            anyhow::anyhow!("--crs {text}: give an EPSG code (the .prj is written from it)")
        }),
        other => anyhow::bail!(
            "--crs {text}: {} is not a CRS files are written in (it has no EPSG code)",
            other.label()
        ),
    }
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let out = args.out.clone().unwrap_or_else(|| config.data_dir.clone());
    let summary = generate(&GenOptions {
        seed: args.seed,
        scale: args.scale,
        layers_dir: config.layers_dir.clone(),
        tables_dir: config.tables_dir.clone(),
        out_dir: out.clone(),
        output: Output {
            format: args.format,
            epsg: args.crs.as_deref().map(epsg).transpose()?,
            encoding: args.encoding.clone(),
        },
    })?;
    let total: usize = summary.counts.iter().map(|(_, n)| n).sum();
    for (role, count) in &summary.counts {
        println!("{:<22} {count:>8}", role.as_str());
    }
    println!(
        "wrote {} {} files, {total} features to {} in {:.2} s (seed {}, scale {})",
        summary.files.len(),
        args.format.extension(),
        out.display(),
        summary.elapsed.as_secs_f64(),
        args.seed,
        args.scale
    );
    Ok(ExitCode::SUCCESS)
}
