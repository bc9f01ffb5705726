//! One layer of one tile: select, project, clip, simplify, quantize and encode (MVT 2.1).

use super::clip::{clip_line, clip_ring, quantize, simplify, twice_area};
use super::mercator::{TileId, TileTransform};
use crate::spatial::layer::Mercator;
use crate::spatial::{Layer, PropertyValue};
use geozero::mvt::tile::{Feature, GeomType, Layer as MvtLayer, Value as MvtValue};
use rustc_hash::FxHashMap;

/// Tile extent in integer units, as MVT renderers expect.
pub const EXTENT: u32 = 4096;
/// Geometry is kept this far beyond the tile edge (tile units), so lines and outlines drawn
/// with width do not stop short at tile seams.
pub const BUFFER: f64 = 64.0;
/// Simplification tolerance in tile units (a sixteenth of a pixel on a 256-px tile).
pub const SIMPLIFY_TOLERANCE: f64 = 1.0;
/// A point layer with more features than this in a tile is clustered on a grid.
pub const CLUSTER_THRESHOLD: usize = 4096;
/// Cluster cell size in tile units: at most (4096 / 64)² = 4096 clusters per layer.
pub const CLUSTER_CELL: i32 = 64;
/// Property carrying the number of points a cluster stands for.
pub const CLUSTER_COUNT: &str = "point_count";

/// MVT command integers (spec §4.3).
fn command(id: u32, count: u32) -> u32 {
    (id & 0x7) | (count << 3)
}

fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

const MOVE_TO: u32 = 1;
const LINE_TO: u32 = 2;
const CLOSE_PATH: u32 = 7;

/// Writes geometry commands. The geometry arrives already clipped and quantized, so all that is
/// left is the spec's command/delta encoding (a cursor that carries across parts).
#[derive(Default)]
struct Commands {
    out: Vec<u32>,
    cursor: [i32; 2],
}

impl Commands {
    fn point_to(&mut self, p: [i32; 2]) {
        self.out.push(zigzag(p[0] - self.cursor[0]));
        self.out.push(zigzag(p[1] - self.cursor[1]));
        self.cursor = p;
    }

    fn line(&mut self, points: &[[i32; 2]]) {
        self.out.push(command(MOVE_TO, 1));
        self.point_to(points[0]);
        self.out.push(command(LINE_TO, points.len() as u32 - 1));
        for &p in &points[1..] {
            self.point_to(p);
        }
    }

    fn ring(&mut self, ring: &[[i32; 2]]) {
        self.line(ring);
        self.out.push(command(CLOSE_PATH, 1));
    }
}

/// A value as the tag table dedupes it: strings borrowed from the store, numbers by bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TagValue<'a> {
    Text(&'a str),
    Int(i64),
    Double(u64),
    Bool(bool),
    Count(u64),
}

impl<'a> TagValue<'a> {
    fn of(value: PropertyValue<'a>) -> Option<Self> {
        match value {
            PropertyValue::Null => None,
            PropertyValue::Text(s) => Some(TagValue::Text(s)),
            PropertyValue::Integer(n) => Some(TagValue::Int(n)),
            PropertyValue::Number(x) => Some(TagValue::Double(x.to_bits())),
            PropertyValue::Boolean(b) => Some(TagValue::Bool(b)),
        }
    }

    fn to_mvt(self) -> MvtValue {
        match self {
            TagValue::Text(s) => MvtValue {
                string_value: Some(s.to_string()),
                ..Default::default()
            },
            TagValue::Int(n) => MvtValue {
                sint_value: Some(n),
                ..Default::default()
            },
            TagValue::Double(bits) => MvtValue {
                double_value: Some(f64::from_bits(bits)),
                ..Default::default()
            },
            TagValue::Bool(b) => MvtValue {
                bool_value: Some(b),
                ..Default::default()
            },
            TagValue::Count(n) => MvtValue {
                uint_value: Some(n),
                ..Default::default()
            },
        }
    }
}

/// The layer's key and value tables. Keys are fixed (`id`, the fields, `point_count`); values
/// are deduplicated without copying: strings stay borrowed from the store until the end.
/// (geozero's `TagsBuilder` copies every string value into its map, which dominated the
/// encoding of attribute-rich point layers.)
struct Tags<'a> {
    keys: Vec<String>,
    values: Vec<TagValue<'a>>,
    /// FxHash: the keys are short strings and integers hashed millions of times per second;
    /// SipHash's flood resistance buys nothing here and cost a tenth of the encoding time.
    lookup: FxHashMap<TagValue<'a>, u32>,
}

/// Key positions: 0 is `id`, 1.. the layer's fields in order, then `point_count`.
const ID_KEY: u32 = 0;

impl<'a> Tags<'a> {
    fn new(layer: &Layer) -> Self {
        let mut keys = vec!["id".to_string()];
        keys.extend(layer.def.fields.iter().map(|f| f.name.clone()));
        keys.push(CLUSTER_COUNT.to_string());
        Tags {
            keys,
            values: Vec::new(),
            lookup: FxHashMap::default(),
        }
    }

    fn count_key(&self) -> u32 {
        (self.keys.len() - 1) as u32
    }

    fn push(&mut self, feature: &mut Feature, key: u32, value: TagValue<'a>) {
        let next = self.values.len() as u32;
        let index = *self.lookup.entry(value).or_insert(next);
        if index == next {
            self.values.push(value);
        }
        feature.tags.extend([key, index]);
    }

    /// `id` and every non-null property of feature `i`.
    fn properties(&mut self, feature: &mut Feature, layer: &'a Layer, i: usize) {
        self.push(feature, ID_KEY, TagValue::Text(layer.id(i)));
        for f in 0..layer.def.fields.len() {
            if let Some(value) = TagValue::of(layer.value(i, f)) {
                self.push(feature, f as u32 + 1, value);
            }
        }
    }

    /// Drops keys no feature used (keeps the layer tidy for clients listing keys).
    fn into_tables(self, features: &mut [Feature]) -> (Vec<String>, Vec<MvtValue>) {
        let mut used = vec![false; self.keys.len()];
        for f in features.iter() {
            for pair in f.tags.chunks(2) {
                used[pair[0] as usize] = true;
            }
        }
        let mut remap = vec![0u32; self.keys.len()];
        let mut keys = Vec::new();
        for (k, key) in self.keys.into_iter().enumerate() {
            if used[k] {
                remap[k] = keys.len() as u32;
                keys.push(key);
            }
        }
        for f in features.iter_mut() {
            for pair in f.tags.chunks_mut(2) {
                pair[0] = remap[pair[0] as usize];
            }
        }
        (
            keys,
            self.values.into_iter().map(TagValue::to_mvt).collect(),
        )
    }
}

/// Encodes one feature's geometry; `None` when nothing non-degenerate is left in the tile.
fn geometry(
    transform: &TileTransform,
    geometry: &Mercator,
    is_polygon: bool,
) -> Option<(GeomType, Vec<u32>)> {
    let (lo, hi) = (-BUFFER, f64::from(EXTENT) + BUFFER);
    let mut commands = Commands::default();
    match geometry {
        Mercator::Point(m) => {
            let p = transform.from_unit(*m);
            if p[0] < lo || p[0] > hi || p[1] < lo || p[1] > hi {
                return None;
            }
            commands.out.push(command(MOVE_TO, 1));
            commands.point_to([p[0].round() as i32, p[1].round() as i32]);
            Some((GeomType::Point, commands.out))
        }
        Mercator::Paths { paths, .. } if !is_polygon => {
            for line in paths {
                let projected: Vec<[f64; 2]> =
                    line.iter().map(|m| transform.from_unit(*m)).collect();
                for part in clip_line(&projected, lo, hi) {
                    let q = quantize(&simplify(&part, SIMPLIFY_TOLERANCE));
                    if q.len() >= 2 {
                        commands.line(&q);
                    }
                }
            }
            (!commands.out.is_empty()).then_some((GeomType::Linestring, commands.out))
        }
        Mercator::Paths {
            paths,
            polygon_starts,
        } => {
            for (k, &start) in polygon_starts.iter().enumerate() {
                let end = polygon_starts
                    .get(k + 1)
                    .map_or(paths.len(), |&e| e as usize);
                for (r, ring) in paths[start as usize..end].iter().enumerate() {
                    let exterior = r == 0;
                    let projected: Vec<[f64; 2]> =
                        ring.iter().map(|m| transform.from_unit(*m)).collect();
                    let clipped = clip_ring(&projected, lo, hi);
                    let mut q = quantize(&simplify(&close(clipped), SIMPLIFY_TOLERANCE));
                    if q.len() > 1 && q.first() == q.last() {
                        q.pop();
                    }
                    let area = if q.len() >= 3 { twice_area(&q) } else { 0 };
                    if area == 0 {
                        if exterior {
                            break; // no shell left: skip the polygon and its holes
                        }
                        continue;
                    }
                    // MVT 2.1: exteriors positive (clockwise on screen), holes negative.
                    if (area > 0) != exterior {
                        q.reverse();
                    }
                    commands.ring(&q);
                }
            }
            (!commands.out.is_empty()).then_some((GeomType::Polygon, commands.out))
        }
    }
}

fn close(mut ring: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    ring
}

/// Builds the MVT layer of `layer` for `tile`, or `None` when the tile holds none of it.
/// Feature ids are the feature's position in its layer plus one; the `id` property carries
/// the feature's own identifier.
pub fn encode_layer(layer: &Layer, tile: TileId) -> Option<MvtLayer> {
    let def = &layer.def;
    if tile.z < def.minzoom || tile.z > def.maxzoom {
        return None;
    }
    let transform = TileTransform::new(tile, EXTENT);
    let bounds = tile.bounds(BUFFER / f64::from(EXTENT));
    let mut candidates: Vec<u32> = layer.index().intersecting(bounds);
    if candidates.is_empty() {
        return None;
    }
    candidates.sort_unstable();
    let mercator = layer.mercator();
    let mut tags = Tags::new(layer);
    let is_points = matches!(mercator[candidates[0] as usize], Mercator::Point(_));
    if is_points && candidates.len() > CLUSTER_THRESHOLD {
        return cluster(layer, &candidates, &transform, tags);
    }
    let is_polygon = def.geometry == crate::catalog::GeometryKind::Polygon;
    let mut features = Vec::with_capacity(candidates.len());
    for &i in &candidates {
        let i = i as usize;
        let Some((kind, geometry)) = geometry(&transform, &mercator[i], is_polygon) else {
            continue;
        };
        let mut feature = Feature {
            id: Some(i as u64 + 1),
            geometry,
            ..Default::default()
        };
        feature.set_type(kind);
        tags.properties(&mut feature, layer, i);
        features.push(feature);
    }
    finish(def.id.clone(), tags, features)
}

fn finish(name: String, tags: Tags<'_>, mut features: Vec<Feature>) -> Option<MvtLayer> {
    if features.is_empty() {
        return None;
    }
    let (keys, values) = tags.into_tables(&mut features);
    Some(MvtLayer {
        version: 2,
        name,
        features,
        keys,
        values,
        extent: Some(EXTENT),
    })
}

/// Too many points for one tile: one point per occupied grid cell at the mean position of its
/// members, with `point_count`; a cell holding a single point keeps that feature whole.
fn cluster<'a>(
    layer: &'a Layer,
    candidates: &[u32],
    transform: &TileTransform,
    mut tags: Tags<'a>,
) -> Option<MvtLayer> {
    let (lo, hi) = (-BUFFER, f64::from(EXTENT) + BUFFER);
    let cells_per_side = ((hi - lo) as i32 + CLUSTER_CELL - 1) / CLUSTER_CELL;
    let mercator = layer.mercator();
    let mut sums: std::collections::BTreeMap<i32, (f64, f64, u32, u32)> =
        std::collections::BTreeMap::new();
    for &i in candidates {
        let Mercator::Point(m) = mercator[i as usize] else {
            continue;
        };
        let p = transform.from_unit(m);
        if p[0] < lo || p[0] > hi || p[1] < lo || p[1] > hi {
            continue;
        }
        let cx = ((p[0] - lo) as i32 / CLUSTER_CELL).min(cells_per_side - 1);
        let cy = ((p[1] - lo) as i32 / CLUSTER_CELL).min(cells_per_side - 1);
        let entry = sums
            .entry(cy * cells_per_side + cx)
            .or_insert((0.0, 0.0, 0, i));
        entry.0 += p[0];
        entry.1 += p[1];
        entry.2 += 1;
    }
    let count_key = tags.count_key();
    let mut features = Vec::with_capacity(sums.len());
    for (cell, (sx, sy, count, first)) in sums {
        let mut commands = Commands::default();
        commands.out.push(command(MOVE_TO, 1));
        commands.point_to([
            (sx / f64::from(count)).round() as i32,
            (sy / f64::from(count)).round() as i32,
        ]);
        let mut feature = Feature {
            geometry: commands.out,
            ..Default::default()
        };
        feature.set_type(GeomType::Point);
        tags.push(&mut feature, count_key, TagValue::Count(u64::from(count)));
        if count == 1 {
            let i = first as usize;
            feature.id = Some(i as u64 + 1);
            tags.properties(&mut feature, layer, i);
        } else {
            // Clusters get ids beyond any feature's, stable for the cell.
            feature.id = Some(layer.len() as u64 + 1 + cell as u64);
        }
        features.push(feature);
    }
    finish(layer.def.id.clone(), tags, features)
}
