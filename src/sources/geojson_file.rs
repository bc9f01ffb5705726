//! GeoJSON FeatureCollection files (RFC 7946: WGS84 lon/lat by definition).
//!
//! gridlink's own reader, not OGR's: it splits the collection into raw feature texts in one
//! pass and decodes them on all cores, several times faster than OGR's GeoJSON driver on the
//! demo's 48,000 cells (see `bench/formats.sh`).

use super::{BATCH, FeatureSink, LayerSource, Location, RawFeature, RawItem, SourceError};
use crate::catalog::LayerDef;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::path::PathBuf;

pub struct GeoJsonSource {
    path: PathBuf,
    location: Location,
}

impl GeoJsonSource {
    pub fn new(path: PathBuf) -> Self {
        GeoJsonSource {
            location: Location::file(&path),
            path,
        }
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
    /// The 2008 GeoJSON `crs` member, which RFC 7946 dropped; QGIS still writes it for
    /// projected exports.
    #[serde(default)]
    crs: Option<Value>,
}

/// The CRS a legacy `crs` member names, unless it is WGS84 lon/lat.
fn legacy_crs(member: &Value) -> Option<String> {
    let name = member.pointer("/properties/name")?.as_str()?;
    let lower = name.to_ascii_lowercase();
    let wgs84 = lower.ends_with("crs84") || lower.ends_with(":4326") || lower.ends_with("/4326");
    (!wgs84).then(|| name.to_string())
}

impl LayerSource for GeoJsonSource {
    fn location(&self) -> &Location {
        &self.location
    }

    fn format(&self) -> String {
        "GeoJSON".into()
    }

    fn declared_crs(&self) -> Option<String> {
        Some("EPSG:4326".into())
    }

    fn read(&mut self, def: &LayerDef, sink: &mut FeatureSink<'_>) -> Result<(), SourceError> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| SourceError::Unreadable {
            layer: def.id.clone(),
            location: self.location.clone(),
            message: e.to_string(),
        })?;
        let malformed = |message: String| SourceError::Malformed {
            layer: def.id.clone(),
            location: self.location.clone(),
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
        if let Some(named) = collection.crs.as_ref().and_then(legacy_crs) {
            if def.source.crs.is_none() {
                return Err(malformed(format!(
                    "the file's legacy \"crs\" member names {named}, but RFC 7946 GeoJSON is \
                     WGS84 lon/lat: set crs = \"{named}\" in [source] to read it in that system"
                )));
            }
        }
        // Splitting into raw texts is one fast sequential pass; decoding them (the costly part)
        // runs in parallel, a batch at a time.
        for (batch_number, batch) in collection.features.chunks(BATCH).enumerate() {
            let first = batch_number * BATCH;
            let decoded = batch
                .par_iter()
                .enumerate()
                .map(|(i, raw)| RawItem::at(first + i, decode_feature(raw.get(), def)))
                .collect();
            sink(decoded);
        }
        Ok(())
    }
}

fn decode_feature(text: &str, def: &LayerDef) -> Result<RawFeature, String> {
    let id_field = def.source.id_field.as_str();
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
    let mut properties = match object.remove("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err("member \"properties\" must be an object or null".into()),
    };
    for (field, column) in &def.source.fields {
        if let Some(value) = properties.remove(column) {
            properties.insert(field.clone(), value);
        }
    }
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
