//! How features appear inside API answers.

use crate::spatial::Layer;
use crate::spatial::distance::round_m;
use serde::Serialize;
use serde_json::{Map, Value};

/// A feature referred to by an answer: layer, id, name, distance and its properties.
#[derive(Debug, Serialize)]
pub struct FeatureRef<'a> {
    pub layer: &'a str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

impl<'a> FeatureRef<'a> {
    pub fn new(layer: &'a Layer, i: usize) -> Self {
        FeatureRef {
            layer: &layer.def.id,
            id: layer.id(i),
            name: layer.label(i),
            distance_m: None,
            properties: None,
        }
    }

    pub fn at(mut self, metres: f64) -> Self {
        self.distance_m = Some(round_m(metres));
        self
    }

    pub fn with_properties(mut self, layer: &Layer, i: usize) -> Self {
        self.properties = Some(layer.properties_json(i));
        self
    }
}
