//! Layer sources: each back end turns one file, GDAL dataset layer or database table into a
//! stream of raw features, in the coordinates it holds them in.
//!
//! A source only decodes; it does not judge and does not reproject. Reprojection to WGS84 and
//! validation (geometry, coordinates, ids, property types) happen once, in the layer store (`spatial`),
//! so every back end is held to the same rules. One trait, [`LayerSource`], fits them all (the
//! shape of martin's `Source`): a problem names the file and feature index, or the table and
//! key, through [`Location`].
//!
//! | back end | reads | module |
//! |---|---|---|
//! | GeoJSON (own reader, parallel decode) | `.geojson`, `.json` | [`geojson_file`] |
//! | GeoPackage (own reader, sqlx) | `.gpkg` | [`geopackage`] |
//! | GDAL/OGR | `.shp`, `.gdb`, `.tab`, `.mif`, `.kml`, `.gml`, `.csv`, `.fgb`, … | [`gdal`] |
//! | PostGIS | `postgis = "schema.table"` | [`postgis`] |
//!
//! Floor 7 (see the crate doc): uses `catalog` only; the layer store above (`spatial`) loads
//! through these readers.

mod error;
pub mod gdal;
mod geojson_file;
pub mod geopackage;
pub mod manifest;
pub mod postgis;
pub mod text;

pub use error::SourceError;
pub use geojson_file::GeoJsonSource;
pub use geopackage::GeoPackageSource;
pub use manifest::Manifest;

use crate::catalog::{FieldDef, LayerDef, SourceFormat};
use serde_json::{Map, Value};
use std::fmt;
use std::path::{Path, PathBuf};

/// One decoded feature, before reprojection and validation.
#[derive(Debug, Clone)]
pub struct RawFeature {
    /// The id as found (property `id_field`, else the GeoJSON feature id).
    pub id: Option<Value>,
    /// In the source's coordinate system.
    pub geometry: geo::Geometry<f64>,
    /// By catalogue field name (mapped columns already renamed).
    pub properties: Map<String, Value>,
}

/// One feature as decoded (or why it could not be), with its position in the source.
#[derive(Debug, Clone)]
pub struct RawItem {
    /// 0-based position in the source (row order for GeoPackage and tables).
    pub index: usize,
    /// The row's primary key, for tables.
    pub key: Option<String>,
    pub feature: Result<RawFeature, String>,
}

impl RawItem {
    pub fn at(index: usize, feature: Result<RawFeature, String>) -> RawItem {
        RawItem {
            index,
            key: None,
            feature,
        }
    }
}

/// Where a layer's features come from, for every message about them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Location {
    /// A file or folder (Shapefile, FileGDB, …), and the layer inside it when it has several.
    File {
        file: PathBuf,
        #[serde(skip_serializing_if = "Option::is_none")]
        layer: Option<String>,
    },
    /// A database table (`schema.table`).
    Table { table: String },
}

impl Location {
    pub fn file(path: impl Into<PathBuf>) -> Location {
        Location::File {
            file: path.into(),
            layer: None,
        }
    }

    /// The file, for file sources.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Location::File { file, .. } => Some(file),
            Location::Table { .. } => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { file, layer: None } => write!(f, "{}", file.display()),
            Location::File {
                file,
                layer: Some(layer),
            } => write!(f, "{} (layer {layer})", file.display()),
            Location::Table { table } => write!(f, "PostGIS table {table}"),
        }
    }
}

/// Why a feature was skipped, with enough context to find it: file and feature index, or
/// table and key.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeatureProblem {
    #[serde(flatten)]
    pub location: Location,
    /// 0-based position of the feature in the source.
    pub index: usize,
    /// The row's primary key, for tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub id: Option<String>,
    pub reason: String,
}

impl FeatureProblem {
    /// `towns.shp feature #3` or `PostGIS table gis.towns key 17`.
    pub fn place(&self) -> String {
        match &self.key {
            Some(key) => format!("{} key {key}", self.location),
            None => format!("{} feature #{}", self.location, self.index),
        }
    }

    /// One line for a report: place, id when known, and the reason.
    pub fn describe(&self) -> String {
        format!(
            "{}{}: {}",
            self.place(),
            self.id
                .as_deref()
                .map(|id| format!(" ({id})"))
                .unwrap_or_default(),
            self.reason
        )
    }
}

/// Receives features in source order, a batch at a time, so the store can validate a batch on
/// all cores while the source decodes the next.
pub type FeatureSink<'a> = dyn FnMut(Vec<RawItem>) + 'a;

/// How many features a source hands over at once.
pub const BATCH: usize = 4096;

/// A back end that can read a layer. Opening ([`open`]) finds the data and what it declares;
/// reading streams the features.
pub trait LayerSource: Send {
    /// Where the features come from, for problem reports.
    fn location(&self) -> &Location;

    /// The format as people name it: `GeoJSON`, `ESRI Shapefile`, `OpenFileGDB`, `PostGIS`.
    fn format(&self) -> String;

    /// The coordinate system the source declares itself (`.prj`, GeoPackage SRS, PostGIS
    /// SRID, RFC 7946 for GeoJSON), as a definition PROJ reads (`EPSG:4528`, WKT); `None`
    /// when it declares none.
    fn declared_crs(&self) -> Option<String>;

    /// How many features the source holds, when it can tell cheaply (for progress bars).
    fn feature_count(&self) -> Option<u64> {
        None
    }

    /// Streams every feature into `sink`. Returns an error only when the source as a whole
    /// cannot be used (unreadable, not the format it claims, text in the wrong encoding).
    fn read(&mut self, def: &LayerDef, sink: &mut FeatureSink<'_>) -> Result<(), SourceError>;
}

/// What opening sources needs beyond the layer definition: the data directory (and its
/// manifest) and the database that holds PostGIS layers.
#[derive(Debug, Clone, Default)]
pub struct SourceContext {
    pub data_dir: PathBuf,
    pub manifest: Manifest,
    /// Connection URL for `postgis` sources (`GRIDLINK_LAYERS_DATABASE` / `[postgis] url`).
    pub database: Option<String>,
}

impl SourceContext {
    /// The context for `data_dir`, reading its manifest if it has one.
    pub fn new(data_dir: &Path, database: Option<String>) -> Result<SourceContext, SourceError> {
        Ok(SourceContext {
            data_dir: data_dir.to_path_buf(),
            manifest: Manifest::read(data_dir)?,
            database,
        })
    }
}

/// Opens the back end for a layer: a PostGIS table, or the file its path resolves to.
pub fn open(def: &LayerDef, ctx: &SourceContext) -> Result<Box<dyn LayerSource>, SourceError> {
    if let Some(table) = &def.source.postgis {
        return Ok(Box::new(postgis::PostgisSource::open(
            def,
            table,
            ctx.database.as_deref(),
        )?));
    }
    let path = resolve_path(def, ctx)?;
    let encoding = def
        .source
        .encoding
        .clone()
        .or_else(|| ctx.manifest.encoding.clone());
    let layer_name = ctx
        .manifest
        .layer(&def.id)
        .and_then(|l| l.layer.clone())
        .or_else(|| def.source.layer_name().map(str::to_string));
    let text = path.to_string_lossy().into_owned();
    match SourceFormat::of_path(&text) {
        SourceFormat::GeoJson => Ok(Box::new(GeoJsonSource::new(path))),
        SourceFormat::GeoPackage => Ok(Box::new(GeoPackageSource::open(
            def,
            path,
            layer_name.unwrap_or_else(|| def.id.clone()),
        )?)),
        _ => Ok(Box::new(gdal::GdalSource::open(
            def,
            path,
            layer_name.as_deref(),
            encoding.as_deref(),
        )?)),
    }
}

/// File extensions a layer path without one may resolve to, in the order they are tried.
pub const EXTENSIONS: [&str; 12] = [
    "geojson", "json", "gpkg", "shp", "gdb", "tab", "mif", "kml", "gml", "csv", "fgb", "sqlite",
];

/// The file a layer reads. A path with an extension is taken as it is. A path without one
/// (`path = "towns"`) lets the data directory decide, so one catalogue serves the GeoJSON demo,
/// the same demo as Gauss-Krüger Shapefiles, and a centre's own files: the manifest's entry
/// for the layer, else the manifest's `format`, else the one file `towns.*` with a known
/// extension (two of them is an error: say which in the manifest).
pub fn resolve_path(def: &LayerDef, ctx: &SourceContext) -> Result<PathBuf, SourceError> {
    let data_dir = &ctx.data_dir;
    if let Some(path) = ctx.manifest.layer(&def.id).and_then(|l| l.path.as_deref()) {
        return Ok(resolve(data_dir, path));
    }
    let Some(path) = def.source.path.as_deref() else {
        return Err(SourceError::Unreadable {
            layer: def.id.clone(),
            location: Location::file(data_dir),
            message: "the layer has no `path` in [source]".into(),
        });
    };
    let base = resolve(data_dir, path);
    if base.extension().is_some() {
        return Ok(base);
    }
    if let Some(format) = &ctx.manifest.format {
        return Ok(with_extension(&base, format));
    }
    let found: Vec<PathBuf> = EXTENSIONS
        .iter()
        .map(|e| with_extension(&base, e))
        .filter(|p| p.exists())
        .collect();
    match found.len() {
        1 => Ok(found.into_iter().next().unwrap_or(base)),
        0 => Err(SourceError::Unreadable {
            layer: def.id.clone(),
            location: Location::file(&base),
            message: format!(
                "no such file: looked for {}.{{{}}}",
                base.display(),
                EXTENSIONS.join(",")
            ),
        }),
        _ => Err(SourceError::Malformed {
            layer: def.id.clone(),
            location: Location::file(&base),
            message: format!(
                "more than one file could be this layer ({}): give the extension in `path`, \
                 or `format` in {}",
                found
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                data_dir.join(manifest::MANIFEST_FILE).display()
            ),
        }),
    }
}

fn with_extension(base: &Path, extension: &str) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}

pub fn resolve(data_dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        data_dir.join(p)
    }
}

/// Which source column each catalogue field reads: the `[source.fields]` mapping, else the
/// column of the same name, else the same name in another case (Shapefiles often upper-case
/// them), else — for names longer than a DBF allows — the name cut to 10 characters.
///
/// A mapped column that does not exist, or a required field without a column, is an error
/// listing the columns there are.
pub fn match_columns(
    def: &LayerDef,
    columns: &[String],
    location: &Location,
) -> Result<Vec<Option<usize>>, SourceError> {
    let err = |message: String| SourceError::Malformed {
        layer: def.id.clone(),
        location: location.clone(),
        message,
    };
    let listing = || {
        if columns.is_empty() {
            "it has no attribute columns".to_string()
        } else {
            format!("its columns are {}", columns.join(", "))
        }
    };
    let find = |field: &FieldDef| -> Option<usize> {
        let name = field.name.as_str();
        columns
            .iter()
            .position(|c| c == name)
            .or_else(|| columns.iter().position(|c| c.eq_ignore_ascii_case(name)))
            .or_else(|| {
                (name.len() > 10)
                    .then(|| {
                        columns
                            .iter()
                            .position(|c| c.eq_ignore_ascii_case(&name[..10]))
                    })
                    .flatten()
            })
    };
    let mut out = Vec::with_capacity(def.fields.len());
    for field in &def.fields {
        let found = match def.source.column_for(&field.name) {
            Some(column) => Some(columns.iter().position(|c| c == column).ok_or_else(|| {
                err(format!(
                    "[source.fields] maps {} = {column:?}, but there is no column {column:?}: {}",
                    field.name,
                    listing()
                ))
            })?),
            None => find(field),
        };
        if found.is_none() && (field.required || field.name == def.source.id_field) {
            return Err(err(format!(
                "no column for the {}field `{}`: name it in [source.fields] ({} = \"…\"); {}",
                if field.required { "required " } else { "id " },
                field.name,
                field.name,
                listing()
            )));
        }
        out.push(found);
    }
    Ok(out)
}
