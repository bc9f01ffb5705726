//! Generated features and the files they are written to.
//!
//! The generator produces features per *role*; the catalogue says which file the layer playing
//! that role reads, so the demo dataset always matches `layers/`. A layer path without an
//! extension is written in the chosen [`OutputFormat`] — GeoJSON (the default), GeoPackage, or
//! Shapefiles as a real centre delivers them (Gauss-Krüger, GBK DBFs, `.prj`) — and the data
//! directory's manifest (`dataset.toml`) records the choice, so the catalogue loads it unchanged.

use crate::catalog::{Catalog, FieldType, LayerDef, Role, SourceFormat};
use crate::sources::manifest::Manifest;
use crate::sources::{self, gdal::write as gdal_write, geopackage};
use crate::spatial::crs::Crs;
use geo::{BoundingRect, Geometry};
use rayon::prelude::*;
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One generated feature. Properties are in the layer's field order.
#[derive(Debug, Clone)]
pub struct Feature {
    pub id: String,
    pub geometry: Geometry<f64>,
    pub properties: Vec<(&'static str, Value)>,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    pub role: Role,
    pub features: Vec<Feature>,
}

/// Rounds a coordinate to 1e-7° (about 1 cm): plenty for points and lines, and it keeps files
/// small. Polygons of the subdivision are written at full precision so shared vertices stay
/// bit-identical after a round trip.
pub fn round7(x: f64) -> f64 {
    (x * 1e7).round() / 1e7
}

fn check_schema(def: &LayerDef, feature: &Feature) -> Result<(), String> {
    for (name, value) in &feature.properties {
        let Some(field) = def.field(name) else {
            return Err(format!(
                "layer {}: the generator writes property `{name}` that the catalogue does not declare",
                def.id
            ));
        };
        let ok = match (field.kind, value) {
            (_, Value::Null) => !field.required,
            (FieldType::String, Value::String(_)) => true,
            (FieldType::Integer, Value::Number(n)) => n.is_i64(),
            (FieldType::Number, Value::Number(_)) => true,
            (FieldType::Boolean, Value::Bool(_)) => true,
            _ => false,
        };
        if !ok {
            return Err(format!(
                "layer {}: property `{name}` = {value} does not fit the declared type {}",
                def.id,
                field.kind.as_str()
            ));
        }
    }
    for field in def.fields.iter().filter(|f| f.required) {
        if !feature.properties.iter().any(|(n, _)| *n == field.name) {
            return Err(format!(
                "layer {}: required property `{}` is not generated",
                def.id, field.name
            ));
        }
    }
    Ok(())
}

fn feature_json(feature: &Feature) -> Value {
    let mut object = Map::new();
    object.insert("type".into(), Value::from("Feature"));
    object.insert("id".into(), Value::from(feature.id.clone()));
    let geometry = geojson::Geometry::new(geojson::Value::from(&feature.geometry));
    object.insert(
        "geometry".into(),
        serde_json::to_value(geometry).unwrap_or(Value::Null),
    );
    let properties: Map<String, Value> = feature
        .properties
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    object.insert("properties".into(), Value::Object(properties));
    Value::Object(object)
}

fn write_geojson(path: &Path, features: &[Feature]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")
        .map_err(io)?;
    for (i, feature) in features.iter().enumerate() {
        if i > 0 {
            out.write_all(b",\n").map_err(io)?;
        }
        serde_json::to_writer(&mut out, &feature_json(feature))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    out.write_all(b"\n]}\n").map_err(io)?;
    out.flush().map_err(io)
}

/// The file format of layers whose catalogue path has no extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// RFC 7946 GeoJSON, WGS84.
    #[default]
    Geojson,
    /// One GeoPackage per layer.
    Gpkg,
    /// ESRI Shapefiles (.shp/.shx/.dbf/.prj/.cpg), text in `encoding`.
    Shp,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Geojson => "geojson",
            OutputFormat::Gpkg => "gpkg",
            OutputFormat::Shp => "shp",
        }
    }
}

/// How the generated layers are written.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub format: OutputFormat,
    /// Target CRS (EPSG code); `None` is WGS84, except Shapefiles: CGCS2000 3° Gauss-Krüger
    /// zone 40 (EPSG:4528), as the district's surveying data is.
    pub epsg: Option<u32>,
    /// DBF text encoding of Shapefiles (default GBK).
    pub encoding: Option<String>,
}

/// The CRS Shapefiles are written in unless told otherwise.
pub const SHAPEFILE_DEFAULT_EPSG: u32 = 4528;

impl Output {
    fn epsg(&self) -> u32 {
        self.epsg.unwrap_or(match self.format {
            OutputFormat::Shp => SHAPEFILE_DEFAULT_EPSG,
            _ => 4326,
        })
    }

    fn encoding(&self) -> Option<&str> {
        match self.format {
            OutputFormat::Shp => Some(self.encoding.as_deref().unwrap_or("GBK")),
            _ => None,
        }
    }
}

/// One layer to write: where, as what.
struct Target<'a> {
    def: &'a LayerDef,
    path: PathBuf,
    features: &'a [Feature],
}

/// Writes every dataset to the file its catalogue layer names, under `out_dir`, and the data
/// directory's manifest. Returns the files written, in catalogue order.
pub fn write_all(
    catalog: &Catalog,
    datasets: &[Dataset],
    out_dir: &Path,
    output: &Output,
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let epsg = output.epsg();
    if output.format == OutputFormat::Geojson && epsg != 4326 {
        return Err(format!(
            "GeoJSON is WGS84 by definition (RFC 7946): use --format shp or gpkg for EPSG:{epsg}"
        ));
    }
    let crs = Crs::parse(&format!("EPSG:{epsg}")).map_err(|e| e.to_string())?;
    let mut targets: Vec<Target<'_>> = Vec::new();
    for def in &catalog.layers {
        let Some(role) = def.role else { continue };
        let Some(dataset) = datasets.iter().find(|d| d.role == role) else {
            return Err(format!(
                "the generator makes nothing for layer {} (role {})",
                def.id,
                role.as_str()
            ));
        };
        for feature in &dataset.features {
            check_schema(def, feature)?;
        }
        let Some(path) = def.source.path.as_deref() else {
            return Err(format!(
                "layer {} reads a PostGIS table, not a file",
                def.id
            ));
        };
        let mut path = sources::resolve(out_dir, path);
        if path.extension().is_none() {
            path.set_extension(output.format.extension());
        }
        targets.push(Target {
            def,
            path,
            features: &dataset.features,
        });
    }
    let mut written = Vec::new();
    let mut gpkg: Vec<&Target<'_>> = Vec::new();
    for target in &targets {
        let text = target.path.to_string_lossy().into_owned();
        match SourceFormat::of_path(&text) {
            SourceFormat::GeoJson => {
                if epsg != 4326 {
                    return Err(format!(
                        "{}: GeoJSON is WGS84 by definition (RFC 7946)",
                        target.path.display()
                    ));
                }
                write_geojson(&target.path, target.features)?;
                written.push(target.path.clone());
            }
            SourceFormat::GeoPackage if epsg == 4326 => gpkg.push(target),
            SourceFormat::GeoPackage => {
                let _ = std::fs::remove_file(&target.path);
                write_with_gdal(target, "GPKG", epsg, &crs, None)?;
                written.push(target.path.clone());
            }
            _ => {
                for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
                    let _ = std::fs::remove_file(target.path.with_extension(ext));
                }
                write_with_gdal(target, "ESRI Shapefile", epsg, &crs, output.encoding())?;
                written.push(target.path.clone());
            }
        }
    }
    let mut files: Vec<PathBuf> = gpkg.iter().map(|t| t.path.clone()).collect();
    files.dedup();
    for file in files {
        let _ = std::fs::remove_file(&file);
        let tables: Vec<geopackage::TableOut<'_>> = gpkg
            .iter()
            .filter(|t| t.path == file)
            .map(|t| geopackage::TableOut {
                def: t.def,
                table: None,
                rows: t
                    .features
                    .iter()
                    .map(|f| geopackage::RowOut {
                        geometry: &f.geometry,
                        bbox: f.geometry.bounding_rect(),
                        properties: &f.properties,
                    })
                    .collect(),
            })
            .collect();
        geopackage::write(&file, &tables)?;
        written.push(file);
    }
    Manifest {
        format: Some(output.format.extension().to_string()),
        encoding: output.encoding().map(str::to_string),
        crs: Some(format!("EPSG:{epsg}")),
        layers: Default::default(),
    }
    .write(out_dir)
    .map_err(|e| format!("{}: {e}", out_dir.display()))?;
    Ok(written)
}

/// Writes one layer through GDAL, reprojected from WGS84 into `crs` on all cores.
fn write_with_gdal(
    target: &Target<'_>,
    driver: &str,
    epsg: u32,
    crs: &Crs,
    encoding: Option<&str>,
) -> Result<(), String> {
    let rows: Vec<gdal_write::Row<'_>> = target
        .features
        .par_iter()
        .map(|f| {
            let mut geometry = f.geometry.clone();
            crs.geometry_from_wgs84(&mut geometry)
                .map_err(|e| format!("layer {}: {e}", target.def.id))?;
            Ok(gdal_write::Row {
                geometry,
                properties: &f.properties,
            })
        })
        .collect::<Result<_, String>>()?;
    let table = target
        .def
        .source
        .layer_name()
        .unwrap_or(&target.def.id)
        .to_string();
    gdal_write::write_layer(
        &target.path,
        driver,
        target.def,
        &table,
        epsg,
        encoding,
        rows,
    )
}
