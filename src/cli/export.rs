//! `gridlink export pmtiles`: the public layers as one offline tile file (PMTiles v3), for a
//! phone in the field; the work is in [`crate::tiles::export`].

use crate::catalog::Catalog;
use crate::config::Config;
use crate::tiles::export::{Area, Plan, Zooms};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub format: Format,
}

#[derive(Debug, clap::Subcommand)]
pub enum Format {
    /// Write a PMTiles archive of public layers: the same tiles the server serves at
    /// /tiles/{layers}/{z}/{x}/{y}.mvt, so the web map (/?pmtiles=URL, or 离线地图) draws it
    /// without a network. Staff-only layers are refused.
    Pmtiles(PmtilesArgs),
}

#[derive(Debug, clap::Args)]
pub struct PmtilesArgs {
    /// Layers, comma-separated, in tile order [default: every public layer, as the map's
    /// style asks for them].
    #[arg(long)]
    pub layers: Option<String>,
    /// Zoom range, both ends included (`10-17`, or one zoom).
    #[arg(long, default_value = "10-17")]
    pub zooms: Zooms,
    /// One town (code or name): the tiles over its bounding box that touch it.
    #[arg(long, conflicts_with = "bbox")]
    pub town: Option<String>,
    /// A box `minlon,minlat,maxlon,maxlat` (WGS84) inside the district [default: the whole
    /// district].
    #[arg(long, allow_hyphen_values = true)]
    pub bbox: Option<String>,
    /// The archive to write (replaced if it exists).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    match &args.format {
        Format::Pmtiles(args) => pmtiles(config, args),
    }
}

fn pmtiles(config: &Config, args: &PmtilesArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&config.layers_dir, &config.tables_dir)?;
    let store = super::load_store(config, catalog)?;
    let area = match (&args.town, &args.bbox) {
        (Some(town), _) => Area::Town(town.clone()),
        (None, Some(bbox)) => Area::Bbox(bbox.clone()),
        (None, None) => Area::District,
    };
    let plan = Plan::new(&store, args.layers.as_deref(), args.zooms, &area)?;
    let total = plan.tiles().len() as u64;
    eprintln!(
        "exporting {} (z{}–z{}, {} tiles to make) of {} layers: {}",
        plan.name,
        plan.zooms.min,
        plan.zooms.max,
        total,
        plan.layers.len(),
        plan.layer_list()
    );
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bar:40} {pos}/{len} tiles ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let summary = plan.write(&args.out, |done| bar.set_position(done));
    bar.finish_and_clear();
    let summary = summary?;
    println!(
        "wrote {}: {} tiles with content of {} made, {:.1} MB, in {:.1} s",
        args.out.display(),
        summary.written,
        summary.tiles,
        summary.bytes as f64 / 1e6,
        summary.elapsed.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
