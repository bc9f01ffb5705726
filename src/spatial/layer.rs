//! One loaded layer: ids, geometries, typed columns and an R-tree, immutable once built.

use super::columns::OwnedValue;
use super::columns::{Column, ColumnBuilder, PropertyValue};
use super::crs::Crs;
use super::distance::Planar;
use super::geometry::{Geometries, GeometryRef};
use super::index::SpatialIndex;
use super::validate::{self, Accepted};
use crate::catalog::{GeometryKind, LayerDef, Repair};
use crate::sources::{FeatureProblem, Location, RawFeature, RawItem, SourceError};
use geo::{BoundingRect, Coord, CoordsIter, Intersects, MultiLineString, MultiPolygon, Rect};
use rayon::prelude::*;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// What happened when the layer was loaded, for `gridlink check` and the startup log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    /// The file (and layer in it) or table the features came from.
    pub location: Location,
    /// The format as people name it (`GeoJSON`, `ESRI Shapefile`, `PostGIS`…).
    pub format: String,
    /// The CRS the source declares itself (`.prj`, GeoPackage SRS, SRID), if any.
    pub declared_crs: Option<String>,
    /// The CRS the features were read in: `crs` in `[source]`, else the declared one.
    pub crs: String,
    /// How they were brought to WGS84.
    pub transform: String,
    /// For datum shifts (GCJ-02, BD-09, geographic CRSs): how far features moved, in metres.
    pub shift: Option<Shift>,
    /// Features found in the source.
    pub read: usize,
    /// Features accepted into the store.
    pub loaded: usize,
    /// One entry per skipped feature.
    pub problems: Vec<FeatureProblem>,
    /// One entry per feature accepted after a repair (`repair = "make_valid"` in `[source]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repaired: Vec<FeatureProblem>,
    #[serde(with = "duration_ms")]
    pub load_time: Duration,
    /// Live edits of a PostGIS layer since it was loaded (`None` for a layer never edited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveReport>,
}

/// What live edits did to a layer: how many were applied, and the last ones refused (the
/// feature kept its last valid version), for the log, `/healthz` and the operator.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LiveReport {
    pub applied: u64,
    pub refused_total: u64,
    /// The most recent refusals, newest last (at most [`LIVE_REFUSALS_KEPT`]).
    pub refused: Vec<FeatureProblem>,
}

/// How many refused edits a layer's report keeps.
pub const LIVE_REFUSALS_KEPT: usize = 50;

/// How far reprojection moved features (measured at each feature's first vertex).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Shift {
    pub mean_m: f64,
    pub max_m: f64,
}

/// Where the district is: features of other layers must land in it (with a margin) after
/// reprojection, or the CRS is wrong.
#[derive(Debug, Clone)]
pub struct Frame {
    pub rect: Rect<f64>,
    /// The layer that set it, for messages.
    pub layer: String,
}

impl Frame {
    /// The extent of the district layer, grown by about 2 km.
    pub fn around(layer: &Layer) -> Option<Frame> {
        let e = layer.extent()?;
        let margin = 0.02;
        Some(Frame {
            rect: Rect::new(
                Coord {
                    x: e.min().x - margin,
                    y: e.min().y - margin,
                },
                Coord {
                    x: e.max().x + margin,
                    y: e.max().y + margin,
                },
            ),
            layer: layer.def.id.clone(),
        })
    }

    fn describe(&self) -> String {
        format!(
            "{:.2}–{:.2} E, {:.2}–{:.2} N",
            self.rect.min().x,
            self.rect.max().x,
            self.rect.min().y,
            self.rect.max().y
        )
    }
}

/// How a layer's features are read: the source's CRS and the district frame.
#[derive(Debug, Clone)]
pub struct Reading {
    pub location: Location,
    pub format: String,
    pub declared_crs: Option<String>,
    pub crs: Crs,
    pub frame: Option<Frame>,
}

impl Reading {
    /// Features already in WGS84 from `location` (tests, generated data).
    pub fn wgs84(location: Location) -> Reading {
        Reading {
            location,
            format: "GeoJSON".into(),
            declared_crs: Some("EPSG:4326".into()),
            crs: Crs::Wgs84,
            frame: None,
        }
    }
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
    /// This build of the layer, from the same counter as store generations; a tile whose area no
    /// live edit touched keeps it, so its cached copy stays valid (see [`Layer::version_at`]).
    generation: u64,
    /// Live edits since the layer was loaded from its source: which version changed which area.
    edits: Arc<Vec<Edit>>,
}

/// One applied live edit: the version it made and the area it changed (old and new shapes).
#[derive(Debug, Clone, Copy)]
struct Edit {
    version: u64,
    area: Rect<f64>,
}

/// How many edits a layer remembers for tile versions; older ones fold into the base
/// generation (their tiles are re-rendered once more, never served stale).
const EDIT_LOG: usize = 4096;

static LAYER_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_generation() -> u64 {
    LAYER_GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Layer {
    /// The version of this layer as seen inside `area` (lon/lat): the last live edit touching
    /// it, else the build. Tile caches key on it, so an edit drops exactly the tiles of the
    /// changed area and no request can see a tile older than the store it asked.
    pub fn version_at(&self, area: Rect<f64>) -> u64 {
        self.edits
            .iter()
            .rev()
            .find(|e| e.area.intersects(&area))
            .map_or(self.generation, |e| e.version)
    }

    /// The layer with live changes applied: features whose id is in `removed` go, `upserts`
    /// (read from the source, in its CRS, checked by the same rules as a load) replace the
    /// features with their ids or are added. An upsert that fails a rule is refused and
    /// returned as a problem; whatever it would have replaced stays as it was.
    ///
    /// `replaces` names, per source key, the ids that row had before (an update may change the
    /// id): they go only when the row's new version is accepted.
    pub fn with_changes(
        &self,
        reading: Reading,
        upserts: Vec<RawItem>,
        replaces: &HashMap<String, Vec<String>>,
        removed: &std::collections::HashSet<String>,
    ) -> Changed {
        let mut incoming = LayerBuilder::new(self.def.clone(), reading);
        incoming.keys = Some(Vec::new());
        incoming.push_batch(upserts);
        let refused = std::mem::take(&mut incoming.problems);
        let keys = incoming.keys.take().unwrap_or_default();
        let incoming = incoming.assemble(Duration::ZERO);
        let mut replaced: std::collections::HashSet<&str> =
            (0..incoming.len()).map(|i| incoming.id(i)).collect();
        for key in keys.iter().flatten() {
            for old in replaces.get(key).into_iter().flatten() {
                replaced.insert(old);
            }
        }
        let mut area: Option<Rect<f64>> = None;
        let mut widen = |r: Option<Rect<f64>>| {
            if let Some(r) = r {
                area = Some(area.map_or(r, |a| extent_of([a, r].into_iter()).unwrap_or(a)));
            }
        };
        let mut merged = LayerBuilder::new(
            self.def.clone(),
            Reading::wgs84(self.report.location.clone()),
        );
        let mut kept = Vec::with_capacity(self.len());
        let mut removed_count = 0;
        for i in 0..self.len() {
            let id = self.id(i);
            if replaced.contains(id) || removed.contains(id) {
                widen(self.geometry(i).bounding_rect());
                removed_count += 1;
                continue;
            }
            kept.push(i);
        }
        // Features already in a layer passed every rule when they came in: they are copied
        // into the new layer as they are (re-checking 10,000 cell polygons per edit would cost
        // more than the rest of the edit together).
        let copy = |merged: &mut LayerBuilder, layer: &Layer, i: usize| {
            merged.read += 1;
            merged.accept(i, None, layer.checked(i));
        };
        for &i in &kept {
            copy(&mut merged, self, i);
        }
        for i in 0..incoming.len() {
            widen(incoming.geometry(i).bounding_rect());
            copy(&mut merged, &incoming, i);
        }
        let added = incoming.len();
        let mut layer = merged.assemble(self.report.load_time);
        let mut report = self.report.clone();
        report.loaded = layer.len();
        // Features already in the store pass again; anything refused here is a bug made
        // visible rather than a feature silently lost.
        report.problems.append(&mut layer.report.problems);
        let live = report.live.get_or_insert_with(LiveReport::default);
        live.applied += (added + removed_count) as u64;
        live.refused_total += refused.len() as u64;
        live.refused.extend(refused.iter().cloned());
        let excess = live.refused.len().saturating_sub(LIVE_REFUSALS_KEPT);
        live.refused.drain(..excess);
        layer.report = report;
        layer.generation = self.generation;
        let mut edits: Vec<Edit> = self.edits.iter().copied().collect();
        if let Some(area) = area {
            edits.push(Edit {
                version: next_generation(),
                area,
            });
        }
        if edits.len() > EDIT_LOG {
            let folded = edits.len() - EDIT_LOG / 2;
            layer.generation = next_generation();
            edits.drain(..folded);
        }
        layer.edits = Arc::new(edits);
        Changed {
            layer,
            added,
            removed: removed_count,
            refused,
        }
    }

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

    /// Feature `i` as the load rules accepted it, to be copied into another build.
    fn checked(&self, i: usize) -> Checked {
        Checked {
            id: self.id(i).to_string(),
            geometry: match self.geometry(i) {
                GeometryRef::Point(c) => Accepted::Point(c),
                GeometryRef::Lines(m) => Accepted::Lines(m.clone()),
                GeometryRef::Polygons(m) => Accepted::Polygons(m.clone()),
            },
            values: (0..self.def.fields.len())
                .map(|f| self.value(i, f).to_owned_value())
                .collect(),
            shift_m: None,
            repaired: None,
        }
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

/// A layer after live changes, with what happened to them.
#[derive(Debug)]
pub struct Changed {
    pub layer: Layer,
    /// Features written (new or replacing one with the same id).
    pub added: usize,
    /// Features taken out (deleted, or replaced by a new version).
    pub removed: usize,
    /// Changes refused by the load rules; the features they would have changed stay.
    pub refused: Vec<FeatureProblem>,
}

/// A feature that passed every per-feature rule (uniqueness of its id is checked on accept).
struct Checked {
    id: String,
    geometry: Accepted,
    values: Vec<OwnedValue>,
    /// How far reprojection moved the first vertex (datum shifts only).
    shift_m: Option<f64>,
    /// What a repair did, when the geometry was repaired (`repair = "make_valid"`).
    repaired: Option<String>,
}

/// Why a feature was refused: its id (when it had one), the reason, and whether it was
/// refused for lying outside the district.
type Refusal = (Option<String>, String, bool);

/// The per-feature rules: id present, properties of the declared types, geometry reprojected
/// to WGS84 and valid, inside the district.
fn check(
    def: &LayerDef,
    raw: Result<RawFeature, String>,
    crs: &Crs,
    frame: Option<&Frame>,
) -> Result<Checked, Refusal> {
    let mut feature = raw.map_err(|reason| (None, reason, false))?;
    let id = validate::id(feature.id.as_ref(), &def.source.id_field)
        .map_err(|reason| (None, reason, false))?;
    let mut values = Vec::with_capacity(def.fields.len());
    for field in &def.fields {
        match validate::property(field, feature.properties.get(&field.name)) {
            Ok(v) => values.push(v),
            Err(reason) => return Err((Some(id), reason, false)),
        }
    }
    if def.geometry == GeometryKind::Polygon {
        validate::clean_polygons(&mut feature.geometry);
    }
    let first = feature.geometry.coords_iter().next();
    let mut shift_m = None;
    if !crs.is_wgs84() {
        if let Err(e) = crs.geometry_to_wgs84(&mut feature.geometry) {
            return Err((Some(id), format!("cannot reproject: {e}"), false));
        }
        if crs.is_geographic() {
            if let (Some(a), Some(b)) = (first, feature.geometry.coords_iter().next()) {
                let d = super::distance::metres(a, b);
                shift_m = d.is_finite().then_some(d);
            }
        }
    }
    // Kept only when a repair may need the original.
    let original = (def.source.repair == Repair::MakeValid).then(|| feature.geometry.clone());
    let mut repaired = None;
    let geometry = match validate::geometry(def.geometry, feature.geometry) {
        Ok(g) => g,
        Err(reason) if reason.starts_with("invalid polygon") && original.is_some() => {
            let polygons = match original {
                Some(geo::Geometry::Polygon(p)) => MultiPolygon::new(vec![p]),
                Some(geo::Geometry::MultiPolygon(m)) => m,
                _ => return Err((Some(id), reason, false)),
            };
            let (fixed, change) =
                crate::sources::gdal::repair::make_valid(&polygons).map_err(|e| {
                    (
                        Some(id.clone()),
                        format!("{reason}; repair failed: {e}"),
                        false,
                    )
                })?;
            let accepted = validate::geometry(def.geometry, fixed.into()).map_err(|e| {
                (
                    Some(id.clone()),
                    format!("{reason}; still invalid after repair: {e}"),
                    false,
                )
            })?;
            repaired = Some(format!(
                "{reason} — repaired with MakeValid, area changed by {:.3}%",
                change * 100.0
            ));
            accepted
        }
        Err(reason) if crs.is_wgs84() => return Err((Some(id), reason, false)),
        Err(reason) => {
            return Err((
                Some(id),
                format!("{reason} (read in {})", crs.label()),
                false,
            ));
        }
    };
    if let Some(frame) = frame {
        let rect = match &geometry {
            Accepted::Point(c) => Some(Rect::new(*c, *c)),
            Accepted::Lines(m) => m.bounding_rect(),
            Accepted::Polygons(m) => m.bounding_rect(),
        };
        if let Some(r) = rect.filter(|r| !r.intersects(&frame.rect)) {
            let c = r.center();
            let origin = match (crs.is_wgs84(), first) {
                (false, Some(f)) => format!(
                    " — ({:.3}, {:.3}) in {} became ({:.5}, {:.5}); a wrong CRS is the usual \
                     cause: check the source's .prj or `crs` in [source]",
                    f.x,
                    f.y,
                    crs.label(),
                    c.x,
                    c.y
                ),
                _ => format!(
                    " — at ({:.5}, {:.5}) as WGS84 lon/lat; if the file is in another CRS, set \
                     `crs` in [source]",
                    c.x, c.y
                ),
            };
            return Err((
                Some(id),
                format!(
                    "lies outside the district ({}, layer {}){origin}",
                    frame.describe(),
                    frame.layer
                ),
                true,
            ));
        }
    }
    Ok(Checked {
        id,
        geometry,
        values,
        shift_m,
        repaired,
    })
}

/// Validates raw features a batch at a time and assembles the layer.
pub struct LayerBuilder {
    def: Arc<LayerDef>,
    reading: Reading,
    outside: usize,
    shift_sum: f64,
    shift_max: f64,
    shift_count: usize,
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
    repaired: Vec<FeatureProblem>,
    /// The source key of each accepted feature, kept only for live changes (which must know
    /// which row became which feature).
    keys: Option<Vec<Option<String>>>,
}

impl LayerBuilder {
    pub fn new(def: Arc<LayerDef>, reading: Reading) -> Self {
        let columns = def
            .fields
            .iter()
            .map(|f| ColumnBuilder::new(f.kind))
            .collect();
        LayerBuilder {
            def,
            reading,
            outside: 0,
            shift_sum: 0.0,
            shift_max: 0.0,
            shift_count: 0,
            ids: Default::default(),
            seen: HashMap::new(),
            points: Vec::new(),
            lines: Vec::new(),
            polygons: Vec::new(),
            columns,
            read: 0,
            problems: Vec::new(),
            repaired: Vec::new(),
            keys: None,
        }
    }

    fn problem(&mut self, index: usize, key: Option<String>, id: Option<String>, reason: String) {
        self.problems.push(FeatureProblem {
            location: self.reading.location.clone(),
            index,
            key,
            id,
            reason,
        });
    }

    /// Takes a batch from a source: checks every feature in parallel, then stores the good
    /// ones in source order. A bad one is recorded and skipped.
    pub fn push_batch(&mut self, batch: Vec<RawItem>) {
        let def = &self.def;
        let crs = &self.reading.crs;
        let frame = self.reading.frame.as_ref();
        let checked: Vec<(usize, Option<String>, Result<Checked, Refusal>)> = batch
            .into_par_iter()
            .map(|item| (item.index, item.key, check(def, item.feature, crs, frame)))
            .collect();
        for (index, key, result) in checked {
            self.read += 1;
            match result {
                Ok(mut feature) => {
                    if let Some(note) = feature.repaired.take() {
                        self.repaired.push(FeatureProblem {
                            location: self.reading.location.clone(),
                            index,
                            key: key.clone(),
                            id: Some(feature.id.clone()),
                            reason: note,
                        });
                    }
                    if let Some(d) = feature.shift_m {
                        self.shift_sum += d;
                        self.shift_max = self.shift_max.max(d);
                        self.shift_count += 1;
                    }
                    self.accept(index, key, feature)
                }
                Err((id, reason, outside)) => {
                    self.outside += usize::from(outside);
                    self.problem(index, key, id, reason)
                }
            }
        }
    }

    fn accept(&mut self, index: usize, key: Option<String>, feature: Checked) {
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
            return self.problem(index, key, Some(feature.id), "duplicate id".into());
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
        if let Some(keys) = &mut self.keys {
            keys.push(key);
        }
    }

    /// Assembles the layer. Refuses it when most features landed outside the district: the
    /// source's CRS is wrong, and a layer of the few that happen to fit would mislead.
    pub fn finish(self, load_time: Duration) -> Result<Layer, SourceError> {
        if self.outside > 0 && self.outside * 2 > self.read {
            let example = self
                .problems
                .iter()
                .find(|p| p.reason.starts_with("lies outside"))
                .map(|p| format!("{}: {}", p.place(), p.reason))
                .unwrap_or_default();
            return Err(SourceError::Malformed {
                layer: self.def.id.clone(),
                location: self.reading.location.clone(),
                message: format!(
                    "{} of {} features lie outside the district after reading them as {} — the \
                     CRS is wrong (check the .prj, or set `crs` in [source]). First: {example}",
                    self.outside,
                    self.read,
                    self.reading.crs.label()
                ),
            });
        }
        Ok(self.assemble(load_time))
    }

    fn assemble(self, load_time: Duration) -> Layer {
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
                location: self.reading.location.clone(),
                format: self.reading.format.clone(),
                declared_crs: self.reading.declared_crs.clone(),
                crs: self.reading.crs.label().to_string(),
                transform: self.reading.crs.transform_description(),
                shift: (self.shift_count > 0).then(|| Shift {
                    mean_m: self.shift_sum / self.shift_count as f64,
                    max_m: self.shift_max,
                }),
                read: self.read,
                loaded,
                problems: self.problems,
                repaired: self.repaired,
                load_time,
                live: None,
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
            generation: next_generation(),
            edits: Arc::default(),
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
