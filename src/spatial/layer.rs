//! One loaded layer: ids, geometries, typed columns and an R-tree, immutable once built.

use super::columns::OwnedValue;
use super::columns::{Column, ColumnBuilder, PropertyValue};
use super::distance::Planar;
use super::index::SpatialIndex;
use super::validate::{self, Accepted};
use crate::catalog::{GeometryKind, LayerDef};
use crate::sources::{FeatureProblem, RawFeature, RawItem};
use geo::{BoundingRect, Coord, MultiLineString, MultiPolygon, Rect};
use rayon::prelude::*;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Geometries in the one form the layer's kind allows.
#[derive(Debug, Clone)]
pub enum Geometries {
    Points(Vec<Coord<f64>>),
    Lines(Vec<MultiLineString<f64>>),
    Polygons(Vec<MultiPolygon<f64>>),
}

/// A borrowed geometry of one feature.
#[derive(Debug, Clone, Copy)]
pub enum GeometryRef<'a> {
    Point(Coord<f64>),
    Lines(&'a MultiLineString<f64>),
    Polygons(&'a MultiPolygon<f64>),
}

impl GeometryRef<'_> {
    pub fn to_geo(self) -> geo::Geometry<f64> {
        match self {
            GeometryRef::Point(c) => geo::Geometry::Point(c.into()),
            GeometryRef::Lines(m) if m.0.len() == 1 => geo::Geometry::LineString(m.0[0].clone()),
            GeometryRef::Lines(m) => geo::Geometry::MultiLineString(m.clone()),
            GeometryRef::Polygons(m) if m.0.len() == 1 => geo::Geometry::Polygon(m.0[0].clone()),
            GeometryRef::Polygons(m) => geo::Geometry::MultiPolygon(m.clone()),
        }
    }

    /// The coordinate of a point feature.
    pub fn to_geo_point(self) -> Option<Coord<f64>> {
        match self {
            GeometryRef::Point(c) => Some(c),
            _ => None,
        }
    }

    pub fn bounding_rect(self) -> Option<Rect<f64>> {
        match self {
            GeometryRef::Point(c) => Some(Rect::new(c, c)),
            GeometryRef::Lines(m) => m.bounding_rect(),
            GeometryRef::Polygons(m) => m.bounding_rect(),
        }
    }
}

/// What happened when the layer was loaded, for `gridlink check` and the startup log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    pub file: PathBuf,
    /// Features found in the source.
    pub read: usize,
    /// Features accepted into the store.
    pub loaded: usize,
    /// One entry per skipped feature.
    pub problems: Vec<FeatureProblem>,
    #[serde(with = "duration_ms")]
    pub load_time: Duration,
}

mod duration_ms {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }
}

/// A feature's geometry in Web Mercator unit coordinates (x east, y south, both 0..1): what
/// vector tiles scale into tile pixels with two multiplications instead of a `tan` and a `ln`
/// per vertex per tile.
#[derive(Debug, Clone)]
pub enum Mercator {
    Point([f64; 2]),
    /// Lines, or polygon rings (each polygon's exterior first, then its holes; `polygon_starts`
    /// marks where each polygon begins).
    Paths {
        paths: Vec<Vec<[f64; 2]>>,
        polygon_starts: Vec<u32>,
    },
}

/// Web Mercator unit-square coordinates of a lon/lat point.
pub fn to_mercator(c: Coord<f64>) -> [f64; 2] {
    let x = (c.x + 180.0) / 360.0;
    let lat = c.y.clamp(-85.051_128_78, 85.051_128_78).to_radians();
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    [x, y]
}

#[derive(Debug)]
pub struct Layer {
    pub def: Arc<LayerDef>,
    ids: super::columns::TextArena,
    /// Feature indexes sorted by id, for lookups without a second copy of every id.
    by_id: Vec<u32>,
    geometries: Geometries,
    columns: Vec<Column>,
    index: SpatialIndex,
    extent: Option<Rect<f64>>,
    pub report: LoadReport,
    mercator: std::sync::OnceLock<Vec<Mercator>>,
}

impl Layer {
    /// Every feature's geometry in Web Mercator unit coordinates, computed on first use.
    pub fn mercator(&self) -> &[Mercator] {
        self.mercator.get_or_init(|| {
            (0..self.len())
                .into_par_iter()
                .map(|i| match self.geometry(i) {
                    GeometryRef::Point(c) => Mercator::Point(to_mercator(c)),
                    GeometryRef::Lines(m) => Mercator::Paths {
                        paths: m
                            .0
                            .iter()
                            .map(|l| l.0.iter().map(|c| to_mercator(*c)).collect())
                            .collect(),
                        polygon_starts: Vec::new(),
                    },
                    GeometryRef::Polygons(m) => {
                        let mut paths = Vec::new();
                        let mut polygon_starts = Vec::new();
                        for polygon in &m.0 {
                            polygon_starts.push(paths.len() as u32);
                            for ring in
                                std::iter::once(polygon.exterior()).chain(polygon.interiors())
                            {
                                paths.push(ring.0.iter().map(|c| to_mercator(*c)).collect());
                            }
                        }
                        Mercator::Paths {
                            paths,
                            polygon_starts,
                        }
                    }
                })
                .collect()
        })
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn id(&self, i: usize) -> &str {
        self.ids.get(i)
    }

    pub fn find(&self, id: &str) -> Option<usize> {
        self.by_id
            .binary_search_by(|&i| self.ids.get(i as usize).cmp(id))
            .ok()
            .map(|pos| self.by_id[pos] as usize)
    }

    pub fn geometry(&self, i: usize) -> GeometryRef<'_> {
        match &self.geometries {
            Geometries::Points(v) => GeometryRef::Point(v[i]),
            Geometries::Lines(v) => GeometryRef::Lines(&v[i]),
            Geometries::Polygons(v) => GeometryRef::Polygons(&v[i]),
        }
    }

    pub fn geometries(&self) -> &Geometries {
        &self.geometries
    }

    /// The value of field number `field` (catalogue order) for feature `i`.
    pub fn value(&self, i: usize, field: usize) -> PropertyValue<'_> {
        self.columns[field].get(i)
    }

    /// The feature's display name: the value of the layer's label field.
    pub fn label(&self, i: usize) -> Option<&str> {
        match self.property(i, self.def.label.as_deref()?) {
            Some(PropertyValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// The value of the named field, `None` when the layer has no such field.
    pub fn property(&self, i: usize, name: &str) -> Option<PropertyValue<'_>> {
        self.def.field_index(name).map(|f| self.value(i, f))
    }

    pub fn column(&self, field: usize) -> &Column {
        &self.columns[field]
    }

    pub fn index(&self) -> &SpatialIndex {
        &self.index
    }

    /// Bounding box of all features; `None` for an empty layer.
    pub fn extent(&self) -> Option<Rect<f64>> {
        self.extent
    }

    /// The feature's properties as a JSON object, in catalogue order.
    pub fn properties_json(&self, i: usize) -> serde_json::Map<String, serde_json::Value> {
        self.def
            .fields
            .iter()
            .enumerate()
            .map(|(f, def)| (def.name.clone(), self.value(i, f).to_json()))
            .collect()
    }
}

/// A feature that passed every per-feature rule (uniqueness of its id is checked on accept).
struct Checked {
    id: String,
    geometry: Accepted,
    values: Vec<OwnedValue>,
}

/// Why a feature was refused: its id (when it had one) and the reason.
type Refusal = (Option<String>, String);

/// The per-feature rules: id present, properties of the declared types, geometry valid.
fn check(
    def: &LayerDef,
    raw: Result<RawFeature, String>,
) -> Result<Checked, (Option<String>, String)> {
    let feature = raw.map_err(|reason| (None, reason))?;
    let id =
        validate::id(feature.id.as_ref(), &def.source.id_field).map_err(|reason| (None, reason))?;
    let mut values = Vec::with_capacity(def.fields.len());
    for field in &def.fields {
        match validate::property(field, feature.properties.get(&field.name)) {
            Ok(v) => values.push(v),
            Err(reason) => return Err((Some(id), reason)),
        }
    }
    match validate::geometry(def.geometry, feature.geometry) {
        Ok(geometry) => Ok(Checked {
            id,
            geometry,
            values,
        }),
        Err(reason) => Err((Some(id), reason)),
    }
}

/// Validates raw features a batch at a time and assembles the layer.
pub struct LayerBuilder {
    def: Arc<LayerDef>,
    file: PathBuf,
    ids: super::columns::TextArena,
    /// Hash of each accepted id → its index, to refuse duplicates without a second copy of
    /// every id; hash collisions are resolved by comparing with the stored id.
    seen: HashMap<u64, Vec<u32>>,
    points: Vec<Coord<f64>>,
    lines: Vec<MultiLineString<f64>>,
    polygons: Vec<MultiPolygon<f64>>,
    columns: Vec<ColumnBuilder>,
    read: usize,
    problems: Vec<FeatureProblem>,
}

impl LayerBuilder {
    pub fn new(def: Arc<LayerDef>, file: PathBuf) -> Self {
        let columns = def
            .fields
            .iter()
            .map(|f| ColumnBuilder::new(f.kind))
            .collect();
        LayerBuilder {
            def,
            file,
            ids: Default::default(),
            seen: HashMap::new(),
            points: Vec::new(),
            lines: Vec::new(),
            polygons: Vec::new(),
            columns,
            read: 0,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, index: usize, id: Option<String>, reason: String) {
        self.problems.push(FeatureProblem {
            file: self.file.clone(),
            index,
            id,
            reason,
        });
    }

    /// Takes a batch from a source: checks every feature in parallel, then stores the good
    /// ones in source order. A bad one is recorded and skipped.
    pub fn push_batch(&mut self, batch: Vec<RawItem>) {
        let def = &self.def;
        let checked: Vec<(usize, Result<Checked, Refusal>)> = batch
            .into_par_iter()
            .map(|(index, raw)| (index, check(def, raw)))
            .collect();
        for (index, result) in checked {
            self.read += 1;
            match result {
                Ok(feature) => self.accept(index, feature),
                Err((id, reason)) => self.problem(index, id, reason),
            }
        }
    }

    fn accept(&mut self, index: usize, feature: Checked) {
        let hash = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            feature.id.hash(&mut h);
            h.finish()
        };
        let same_hash = self.seen.entry(hash).or_default();
        if same_hash
            .iter()
            .any(|&i| self.ids.get(i as usize) == feature.id)
        {
            return self.problem(index, Some(feature.id), "duplicate id".into());
        }
        same_hash.push(self.ids.len() as u32);
        match feature.geometry {
            Accepted::Point(c) => self.points.push(c),
            Accepted::Lines(m) => self.lines.push(m),
            Accepted::Polygons(m) => self.polygons.push(m),
        }
        for (column, value) in self.columns.iter_mut().zip(feature.values) {
            column.push(value);
        }
        self.ids.push(&feature.id);
    }

    pub fn finish(self, load_time: Duration) -> Layer {
        let geometries = match self.def.geometry {
            GeometryKind::Point => Geometries::Points(self.points),
            GeometryKind::Line => Geometries::Lines(self.lines),
            GeometryKind::Polygon => Geometries::Polygons(self.polygons),
        };
        let rects: Vec<Rect<f64>> = match &geometries {
            Geometries::Points(v) => v.iter().map(|c| Rect::new(*c, *c)).collect(),
            Geometries::Lines(v) => v.iter().filter_map(|m| m.bounding_rect()).collect(),
            Geometries::Polygons(v) => v.iter().filter_map(|m| m.bounding_rect()).collect(),
        };
        let extent = extent_of(rects.iter().copied());
        let planar = Planar::at_latitude(extent.map_or(0.0, |e| (e.min().y + e.max().y) / 2.0));
        let index = match &geometries {
            Geometries::Points(v) => SpatialIndex::points(planar, v),
            _ => SpatialIndex::boxes(planar, rects.into_iter()),
        };
        let mut by_id: Vec<u32> = (0..self.ids.len() as u32).collect();
        by_id.sort_unstable_by(|&a, &b| self.ids.get(a as usize).cmp(self.ids.get(b as usize)));
        let loaded = self.ids.len();
        Layer {
            report: LoadReport {
                file: self.file,
                read: self.read,
                loaded,
                problems: self.problems,
                load_time,
            },
            def: self.def,
            ids: self.ids,
            by_id,
            geometries,
            columns: self
                .columns
                .into_iter()
                .map(ColumnBuilder::finish)
                .collect(),
            index,
            extent,
            mercator: std::sync::OnceLock::new(),
        }
    }
}

fn extent_of(mut rects: impl Iterator<Item = Rect<f64>>) -> Option<Rect<f64>> {
    let first = rects.next()?;
    Some(rects.fold(first, |acc, r| {
        Rect::new(
            Coord {
                x: acc.min().x.min(r.min().x),
                y: acc.min().y.min(r.min().y),
            },
            Coord {
                x: acc.max().x.max(r.max().x),
                y: acc.max().y.max(r.max().y),
            },
        )
    }))
}
