//! `gridlink import`: bring data into the form the catalogue serves.
//!
//! - `--from SOURCE --layer ID --to DIR|postgres://…` turns a foreign file (a bureau's
//!   Shapefile, FileGDB, MapInfo table, KML, CSV…) into the catalogue's layer `ID`: read through
//!   the same sources, reprojection and validation as a load, with a progress bar and the
//!   validation report; written as `DIR/ID.gpkg` (and recorded in `DIR/dataset.toml`, so the
//!   next load reads it) or as the PostGIS table `schema.ID`.
//! - Without `--from`, every loaded layer is copied into PostGIS tables (GiST indexes), the base
//!   of PostGIS-backed deployments and of the PostGIS benchmarks.

pub mod postgis;

use crate::catalog::{Catalog, LayerDef, Role};
use crate::config::Config;
use crate::sources::{self, SourceContext, manifest::ManifestLayer};
use crate::spatial::layer::{Frame, LayerBuilder};
use crate::spatial::{Layer, LayerStore, store};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write: a directory (the layer becomes DIR/ID.gpkg) or a PostgreSQL URL
    /// (postgres://user@host/db: tables SCHEMA.ID with a GiST index).
    #[arg(long, env = "GRIDLINK_IMPORT_TO")]
    pub to: String,
    /// Schema for PostGIS tables (created if missing; tables are replaced).
    #[arg(long, default_value = "gridlink")]
    pub schema: String,
    /// A foreign file or folder to import as one layer (.shp, .gdb, .tab, .mif, .kml, .gml,
    /// .csv, .fgb, .gpkg, .geojson). Without it, every catalogue layer goes to PostGIS.
    #[arg(long, requires = "layer")]
    pub from: Option<PathBuf>,
    /// The catalogue layer the file becomes (its fields, geometry and id field apply).
    #[arg(long)]
    pub layer: Option<String>,
    /// The layer inside a multi-layer source (FileGDB feature class, GeoPackage table, KML folder).
    #[arg(long)]
    pub source_layer: Option<String>,
    /// The file's CRS when it declares none or declares it wrongly (EPSG:4528, gcj02, a PROJ string).
    #[arg(long)]
    pub crs: Option<String>,
    /// Text encoding of a DBF or CSV without .cpg (GBK, GB18030, UTF-8…).
    #[arg(long)]
    pub encoding: Option<String>,
    /// Catalogue field = source column, e.g. --field name=名称 (repeatable).
    #[arg(long = "field", value_name = "NAME=COLUMN")]
    pub fields: Vec<String>,
    /// CSV coordinate columns (longitude/easting and latitude/northing).
    #[arg(long)]
    pub x: Option<String>,
    #[arg(long)]
    pub y: Option<String>,
    /// How many skipped features to list.
    #[arg(long, default_value_t = 10)]
    pub problems: usize,
}

pub fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&config.layers_dir, &config.tables_dir)?;
    let Some(from) = &args.from else {
        if !is_database(&args.to) {
            bail!(
                "--to {}: copying every layer needs a PostgreSQL URL; to turn a file into a layer \
                 give --from FILE --layer ID",
                args.to
            );
        }
        return import_all(config, catalog, args);
    };
    let Some(id) = args.layer.as_deref() else {
        bail!("--from needs --layer: the catalogue layer the file becomes");
    };
    let Some(catalogued) = catalog.layer(id).cloned() else {
        let ids: Vec<&str> = catalog.layers.iter().map(|l| l.id.as_str()).collect();
        bail!(
            "no layer {id:?} in the catalogue (layers: {})",
            ids.join(", ")
        );
    };
    let def = Arc::new(foreign_def(&catalogued, from, args)?);
    let layer = read_foreign(config, &catalog, &def, args)?;
    let r = &layer.report;
    if r.loaded == 0 {
        bail!("no feature of {} could be imported", r.location);
    }
    // Write under the catalogue's definition, not the one that described the foreign file.
    let mut layer = layer;
    layer.def = catalogued.clone();
    if is_database(&args.to) {
        let runtime = tokio::runtime::Runtime::new()?;
        let imported = runtime.block_on(async {
            let pool = postgis::connect(&args.to).await?;
            let result = postgis::import_layers(&pool, &args.schema, &[&layer]).await;
            pool.close().await;
            result
        })?;
        for i in &imported {
            println!(
                "wrote {} rows to {} in {:.0} ms (with GiST index)",
                i.rows,
                i.table,
                i.elapsed.as_secs_f64() * 1000.0
            );
        }
        println!(
            "to serve it: postgis = \"{}.{id}\" in [source] of layers/{id}.toml, and \
             GRIDLINK_LAYERS_DATABASE (or [postgis] url) pointing at the database",
            args.schema
        );
    } else {
        let dir = PathBuf::from(&args.to);
        let file = write_gpkg(&dir, &layer)?;
        println!("wrote {} features to {}", layer.len(), file.display());
        println!(
            "{} now reads layer {id} from it ({} records the choice)",
            dir.display(),
            dir.join(sources::manifest::MANIFEST_FILE).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn is_database(to: &str) -> bool {
    to.starts_with("postgres://") || to.starts_with("postgresql://")
}

/// The catalogue layer pointed at the foreign file, with the options of the command line.
fn foreign_def(def: &LayerDef, from: &Path, args: &Args) -> anyhow::Result<LayerDef> {
    let mut def = def.clone();
    let from = std::path::absolute(from).with_context(|| from.display().to_string())?;
    def.source.path = Some(from.to_string_lossy().into_owned());
    def.source.postgis = None;
    def.source.geometry_column = None;
    def.source.filter = None;
    def.source.table = None;
    def.source.layer = args.source_layer.clone();
    def.source.crs = args.crs.clone().or(def.source.crs);
    def.source.encoding = args.encoding.clone().or(def.source.encoding);
    def.source.x = args.x.clone().or(def.source.x);
    def.source.y = args.y.clone().or(def.source.y);
    for mapping in &args.fields {
        let Some((field, column)) = mapping.split_once('=') else {
            bail!("--field {mapping:?}: write it as name=column");
        };
        if def.field(field.trim()).is_none() {
            bail!(
                "--field {mapping:?}: layer {} has no field {:?}",
                def.id,
                field.trim()
            );
        }
        def.source
            .fields
            .insert(field.trim().to_string(), column.to_string());
    }
    if let Some(encoding) = &def.source.encoding {
        if encoding_rs::Encoding::for_label(encoding.as_bytes()).is_none() {
            bail!("--encoding {encoding:?}: unknown encoding (use GBK, GB18030, UTF-8…)");
        }
    }
    Ok(def)
}

/// Reads, reprojects and validates the file with a progress bar, and prints the report.
fn read_foreign(
    config: &Config,
    catalog: &Catalog,
    def: &Arc<LayerDef>,
    args: &Args,
) -> anyhow::Result<Layer> {
    let started = Instant::now();
    // The district, when the configured data has one, is the frame every feature must land in.
    let frame = catalog.with_role(Role::District).and_then(|district| {
        let ctx = super::source_context(config).ok()?;
        LayerStore::load_one_in(district, &ctx, None)
            .ok()
            .and_then(|layer| Frame::around(&layer))
    });
    let ctx = SourceContext::default();
    let mut source = sources::open(def, &ctx)?;
    let reading = store::reading(def, source.as_ref(), frame)?;
    println!("source:    {} ({})", reading.location, reading.format);
    println!(
        "crs:       declared {}, read as {}",
        reading.declared_crs.as_deref().unwrap_or("none"),
        reading.crs.label()
    );
    println!("transform: {}", reading.crs.transform_description());
    let bar = match source.feature_count() {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bar:40} {pos}/{len} features ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut builder = LayerBuilder::new(def.clone(), reading);
    source.read(def, &mut |batch| {
        bar.inc(batch.len() as u64);
        builder.push_batch(batch);
    })?;
    bar.finish_and_clear();
    let layer = builder.finish(started.elapsed())?;
    let r = &layer.report;
    println!(
        "read {} features, {} valid, {} skipped in {:.0} ms",
        r.read,
        r.loaded,
        r.problems.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    if let Some(shift) = r.shift {
        println!(
            "shift:     mean {:.1} m, max {:.1} m",
            shift.mean_m, shift.max_m
        );
    }
    for p in r.problems.iter().take(args.problems) {
        println!("  skipped: {}", p.describe());
    }
    if r.problems.len() > args.problems {
        println!("  … and {} more", r.problems.len() - args.problems);
    }
    Ok(layer)
}

/// Writes the layer as `dir/ID.gpkg` (WGS84) and records it in the directory's manifest.
fn write_gpkg(dir: &Path, layer: &Layer) -> anyhow::Result<PathBuf> {
    use crate::sources::geopackage::{RowOut, TableOut, write};
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let def = &layer.def;
    let file = dir.join(format!("{}.gpkg", def.id));
    let geometries: Vec<geo::Geometry<f64>> = (0..layer.len())
        .map(|i| layer.geometry(i).to_geo())
        .collect();
    let properties: Vec<Vec<(&str, serde_json::Value)>> = (0..layer.len())
        .map(|i| {
            def.fields
                .iter()
                .enumerate()
                .map(|(f, field)| (field.name.as_str(), layer.value(i, f).to_json()))
                .collect()
        })
        .collect();
    let rows = (0..layer.len())
        .map(|i| RowOut {
            geometry: &geometries[i],
            bbox: layer.geometry(i).bounding_rect(),
            properties: &properties[i],
        })
        .collect();
    let tmp = dir.join(format!(".{}.gpkg.tmp", def.id));
    let _ = std::fs::remove_file(&tmp);
    write(
        &tmp,
        &[TableOut {
            def,
            table: Some(def.id.clone()),
            rows,
        }],
    )
    .map_err(anyhow::Error::msg)?;
    std::fs::rename(&tmp, &file).with_context(|| file.display().to_string())?;
    let mut manifest = sources::Manifest::read(dir)?;
    manifest.layers.insert(
        def.id.clone(),
        ManifestLayer {
            path: Some(format!("{}.gpkg", def.id)),
            layer: Some(def.id.clone()),
        },
    );
    manifest
        .write(dir)
        .with_context(|| dir.display().to_string())?;
    Ok(file)
}

/// Copies every loaded layer into PostGIS.
fn import_all(config: &Config, catalog: Catalog, args: &Args) -> anyhow::Result<ExitCode> {
    let store = super::load_store(config, catalog)?;
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
