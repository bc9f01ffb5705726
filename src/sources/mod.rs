//! Layer sources: each back end turns one file (or table) into a stream of raw features.
//!
//! A source only decodes; it does not judge. Validation (geometry, coordinates, ids, property
//! types) happens once, in [`crate::spatial`], so every back end is held to the same rules.

mod error;
mod geojson_file;
pub mod geopackage;
pub mod postgis;

pub use error::SourceError;
pub use geojson_file::GeoJsonSource;
pub use geopackage::GeoPackageSource;

use crate::catalog::{LayerDef, SourceFormat};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One decoded feature, before validation.
#[derive(Debug, Clone)]
pub struct RawFeature {
    /// The id as found (property `id_field`, else the GeoJSON feature id).
    pub id: Option<Value>,
    pub geometry: geo::Geometry<f64>,
    pub properties: Map<String, Value>,
}

/// Why a feature was skipped, with enough context to find it in the file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeatureProblem {
    pub file: PathBuf,
    /// 0-based position of the feature in the file (row order for GeoPackage).
    pub index: usize,
    pub id: Option<String>,
    pub reason: String,
}

/// One feature as decoded (or why it could not be), with its 0-based position in the source.
pub type RawItem = (usize, Result<RawFeature, String>);

/// Receives features in source order, a batch at a time, so the store can validate a batch on
/// all cores while the source decodes the next.
pub type FeatureSink<'a> = dyn FnMut(Vec<RawItem>) + 'a;

/// How many features a source hands over at once.
pub const BATCH: usize = 4096;

/// A back end that can read a layer.
pub trait LayerSource {
    /// Streams every feature of `def` into `sink`. Returns an error only when the source as a
    /// whole cannot be read (missing file, not JSON, no such table).
    fn read(&self, def: &LayerDef, sink: &mut FeatureSink<'_>) -> Result<(), SourceError>;

    /// The file the features come from, for problem reports.
    fn file(&self) -> &Path;
}

/// Picks the back end for a layer from its source path, resolved against `data_dir`.
pub fn open(def: &LayerDef, data_dir: &Path) -> Result<Box<dyn LayerSource + Send>, SourceError> {
    let path = resolve(data_dir, &def.source.path);
    match def.source.format() {
        Some(SourceFormat::GeoJson) => Ok(Box::new(GeoJsonSource::new(path))),
        Some(SourceFormat::GeoPackage) => Ok(Box::new(GeoPackageSource::new(path))),
        None => Err(SourceError::Malformed {
            layer: def.id.clone(),
            file: path,
            message: "unknown source format".into(),
        }),
    }
}

pub fn resolve(data_dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        data_dir.join(p)
    }
}
