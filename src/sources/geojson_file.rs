//! GeoJSON FeatureCollection files.

use super::{BATCH, FeatureSink, LayerSource, RawFeature, SourceError};
use crate::catalog::LayerDef;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub struct GeoJsonSource {
    path: PathBuf,
}

impl GeoJsonSource {
    pub fn new(path: PathBuf) -> Self {
        GeoJsonSource { path }
    }
}

/// The collection is split into raw feature texts first, so that one feature with the wrong
/// shape (a string where coordinates belong, say) costs only that feature, not the file.
#[derive(Deserialize)]
struct Collection<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    features: Vec<&'a RawValue>,
}

impl LayerSource for GeoJsonSource {
    fn file(&self) -> &Path {
        &self.path
    }

    fn read(&self, def: &LayerDef, sink: &mut FeatureSink<'_>) -> Result<(), SourceError> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| SourceError::Unreadable {
            layer: def.id.clone(),
            file: self.path.clone(),
            message: e.to_string(),
        })?;
        let malformed = |message: String| SourceError::Malformed {
            layer: def.id.clone(),
            file: self.path.clone(),
            message,
        };
        let collection: Collection<'_> = serde_json::from_str(&text)
            .map_err(|e| malformed(format!("not a GeoJSON FeatureCollection: {e}")))?;
        if collection.kind != "FeatureCollection" {
            return Err(malformed(format!(
                "type is {:?}, expected \"FeatureCollection\"",
                collection.kind
            )));
        }
        // Splitting into raw texts is one fast sequential pass; decoding them (the costly part)
        // runs in parallel, a batch at a time.
        for (batch_number, batch) in collection.features.chunks(BATCH).enumerate() {
            let first = batch_number * BATCH;
            let decoded = batch
                .par_iter()
                .enumerate()
                .map(|(i, raw)| (first + i, decode_feature(raw.get(), &def.source.id_field)))
                .collect();
            sink(decoded);
        }
        Ok(())
    }
}

fn decode_feature(text: &str, id_field: &str) -> Result<RawFeature, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not a JSON object: {e}"))?;
    let Value::Object(mut object) = value else {
        return Err("a feature must be a JSON object".into());
    };
    if object.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err("member \"type\" must be \"Feature\"".into());
    }
    let geometry = match object.remove("geometry") {
        None | Some(Value::Null) => return Err("feature has no geometry".into()),
        Some(g) => {
            geojson::Geometry::from_json_value(g).map_err(|e| format!("invalid geometry: {e}"))?
        }
    };
    let geometry = geo::Geometry::<f64>::try_from(geometry.value)
        .map_err(|e| format!("invalid geometry: {e}"))?;
    let properties = match object.remove("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err("member \"properties\" must be an object or null".into()),
    };
    let id = match properties.get(id_field) {
        Some(v) if !v.is_null() => Some(v.clone()),
        _ => object.remove("id").filter(|v| !v.is_null()),
    };
    Ok(RawFeature {
        id,
        geometry,
        properties,
    })
}
