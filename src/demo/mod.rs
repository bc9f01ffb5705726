//! The Fengxian demo dataset generator (`gridlink gen-data`).
//!
//! Starting from the real district outline it builds the unit grid, villages and towns as an
//! exact planar subdivision, then places every point and line layer with plausible densities,
//! names, codes and attributes. The same seed and scale always give the same bytes.
//!
//! Floor 3 (see the crate doc): uses `spatial`, `sources` and `catalog`; only `cli` and the
//! tests use it.

pub mod admin;
pub mod admin_layers;
pub mod context;
pub mod density;
pub mod emergency;
pub mod infrastructure;
pub mod lines;
pub mod names;
pub mod network;
pub mod outline;
pub mod output;
pub mod partition;
pub mod places;
pub mod rings;
pub mod rng;
pub mod spec;
pub mod subdivision;
pub mod urban;

use crate::catalog::{Catalog, CatalogError, CodeTables, Role};
use geo::Centroid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("generating the demo dataset: {0}")]
    Build(String),
}

#[derive(Debug, Clone)]
pub struct GenOptions {
    pub seed: u64,
    /// Multiplies the counts of the point layers whose density is synthetic.
    pub scale: f64,
    pub layers_dir: PathBuf,
    pub tables_dir: PathBuf,
    pub out_dir: PathBuf,
    /// File format and CRS of the written layers (GeoJSON in WGS84 by default).
    pub output: output::Output,
}

#[derive(Debug, Clone)]
pub struct GenSummary {
    pub files: Vec<PathBuf>,
    pub counts: Vec<(Role, usize)>,
    pub elapsed: Duration,
}

/// The seed used when none is given; the committed examples and figures use it.
pub const DEFAULT_SEED: u64 = 20_260_101;

pub fn generate(options: &GenOptions) -> Result<GenSummary, DemoError> {
    if !(options.scale.is_finite() && options.scale > 0.0 && options.scale <= 1000.0) {
        return Err(DemoError::Build(format!(
            "scale must be in (0, 1000], got {}",
            options.scale
        )));
    }
    let started = Instant::now();
    let catalog = Catalog::load(&options.layers_dir, &options.tables_dir)?;
    let tables = CodeTables::load(&options.tables_dir)?;
    let spec = spec::Spec::load(&options.tables_dir)?;
    check_references(&spec, &tables, &options.tables_dir)?;
    let outline = outline::load(
        &options.tables_dir.join(&spec.district.outline),
        &spec.district.adcode,
    )
    .map_err(DemoError::Build)?;
    let centre = outline
        .centroid()
        .ok_or_else(|| DemoError::Build("empty outline".into()))?;
    let frame = density::Frame::new(centre.y());
    let intensity = density::Intensity::new(frame.clone(), &spec.built_up, &spec.industrial_zone);
    let mut namer = names::Namer::new(&spec.names);
    let admin = admin::build(
        &spec,
        &outline,
        &frame,
        &intensity,
        options.seed,
        &mut namer,
    )
    .map_err(DemoError::Build)?;

    let ctx = context::Context {
        spec: &spec,
        tables: &tables,
        admin: &admin,
        outline: &outline,
        frame: &frame,
        intensity: &intensity,
        cells: places::CellIndex::new(&admin),
        seed: options.seed,
        scale: options.scale,
    };
    let mut datasets =
        admin_layers::datasets(&spec, &admin, &intensity).map_err(DemoError::Build)?;
    datasets.extend(network::datasets(&ctx, &mut namer));
    datasets.extend(emergency::datasets(&ctx, &mut namer));
    datasets.extend(infrastructure::datasets(&ctx, &namer));
    datasets.extend(urban::datasets(&ctx, &mut namer));

    let files = output::write_all(&catalog, &datasets, &options.out_dir, &options.output)
        .map_err(DemoError::Build)?;
    Ok(GenSummary {
        files,
        counts: datasets
            .iter()
            .map(|d| (d.role, d.features.len()))
            .collect(),
        elapsed: started.elapsed(),
    })
}

/// Names in the recipe must exist in the code tables, or the layers they feed would be wrong.
fn check_references(
    spec: &spec::Spec,
    tables: &CodeTables,
    tables_dir: &Path,
) -> Result<(), CatalogError> {
    let file = tables_dir.join(spec::SPEC_FILE);
    for (i, zone) in spec.industrial_zone.iter().enumerate() {
        if let Some(unknown) = zone
            .chemicals
            .iter()
            .find(|id| tables.chemical(id).is_none())
        {
            return Err(CatalogError::field(
                &file,
                format!("industrial_zone[{i}].chemicals"),
                format!("{unknown:?} is not in chemicals.toml"),
            ));
        }
    }
    let units_file = tables_dir.join(spec::UNITS_FILE);
    let unit_types = spec
        .units
        .district_unit
        .iter()
        .map(|u| &u.unit_type)
        .chain(spec.units.town_unit.iter().map(|u| &u.unit_type));
    for unit_type in unit_types {
        if tables.unit_type(unit_type).is_none() {
            return Err(CatalogError::field(
                &units_file,
                "unit_type",
                format!("{unit_type:?} is not in unit_types.toml"),
            ));
        }
    }
    Ok(())
}

/// True when `dir` holds every source file the catalogue's file layers need.
pub fn is_complete(catalog: &Catalog, dir: &Path) -> bool {
    let Ok(ctx) = crate::sources::SourceContext::new(dir, None) else {
        return false;
    };
    catalog
        .layers
        .iter()
        .filter(|l| l.source.postgis.is_none())
        .all(|l| crate::sources::resolve_path(l, &ctx).is_ok_and(|p| p.exists()))
}
