//! Generated features and the files they are written to.
//!
//! The generator produces features per *role*; the catalogue says which file (and format) the
//! layer playing that role reads, so the demo dataset always matches `layers/`.

use crate::catalog::{Catalog, FieldType, LayerDef, Role, SourceFormat};
use crate::sources::{self, geopackage};
use geo::{BoundingRect, Geometry};
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

/// Writes every dataset to the file its catalogue layer names, under `out_dir`. Returns the
/// files written, in catalogue order.
pub fn write_all(
    catalog: &Catalog,
    datasets: &[Dataset],
    out_dir: &Path,
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut gpkg: Vec<(PathBuf, &LayerDef, &[Feature])> = Vec::new();
    let mut written = Vec::new();
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
        let path = sources::resolve(out_dir, &def.source.path);
        match def.source.format() {
            Some(SourceFormat::GeoJson) => {
                write_geojson(&path, &dataset.features)?;
                written.push(path);
            }
            Some(SourceFormat::GeoPackage) => gpkg.push((path, def, &dataset.features)),
            None => return Err(format!("layer {}: unknown source format", def.id)),
        }
    }
    let mut files: Vec<PathBuf> = gpkg.iter().map(|(p, _, _)| p.clone()).collect();
    files.dedup();
    for file in files {
        let _ = std::fs::remove_file(&file);
        let tables: Vec<geopackage::TableOut<'_>> = gpkg
            .iter()
            .filter(|(p, _, _)| *p == file)
            .map(|(_, def, features)| geopackage::TableOut {
                def,
                rows: features
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
    Ok(written)
}
