//! One layer of one tile: select, project, clip, simplify, quantize and encode (MVT 2.1).

use super::clip::{clip_line, clip_ring, quantize, simplify, twice_area};
use super::mercator::{TileId, TileTransform};
use crate::spatial::{GeometryRef, Layer, PropertyValue};
use geozero::mvt::tile::{Feature, GeomType, Layer as MvtLayer};
use geozero::mvt::{TagsBuilder, TileValue};

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

fn tile_value(value: PropertyValue<'_>) -> Option<TileValue> {
    match value {
        PropertyValue::Null => None,
        PropertyValue::Text(s) => Some(TileValue::Str(s.to_string())),
        PropertyValue::Integer(n) => Some(TileValue::Sint(n)),
        PropertyValue::Number(x) => Some(TileValue::Double(x)),
        PropertyValue::Boolean(b) => Some(TileValue::Bool(b)),
    }
}

/// Encodes the geometry of feature `i`; `None` when nothing non-degenerate is left in the tile.
fn geometry(transform: &TileTransform, geometry: GeometryRef<'_>) -> Option<(GeomType, Vec<u32>)> {
    let (lo, hi) = (-BUFFER, f64::from(EXTENT) + BUFFER);
    let mut commands = Commands::default();
    match geometry {
        GeometryRef::Point(c) => {
            let p = transform.project(c);
            if p[0] < lo || p[0] > hi || p[1] < lo || p[1] > hi {
                return None;
            }
            commands.out.push(command(MOVE_TO, 1));
            commands.point_to([p[0].round() as i32, p[1].round() as i32]);
            Some((GeomType::Point, commands.out))
        }
        GeometryRef::Lines(m) => {
            for line in &m.0 {
                let projected: Vec<[f64; 2]> =
                    line.0.iter().map(|c| transform.project(*c)).collect();
                for part in clip_line(&projected, lo, hi) {
                    let q = quantize(&simplify(&part, SIMPLIFY_TOLERANCE));
                    if q.len() >= 2 {
                        commands.line(&q);
                    }
                }
            }
            (!commands.out.is_empty()).then_some((GeomType::Linestring, commands.out))
        }
        GeometryRef::Polygons(m) => {
            for polygon in &m.0 {
                let mut rings = std::iter::once(polygon.exterior()).chain(polygon.interiors());
                let mut exterior = true;
                for ring in rings.by_ref() {
                    let projected: Vec<[f64; 2]> =
                        ring.0.iter().map(|c| transform.project(*c)).collect();
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
                    exterior = false;
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
    let mut tags = TagsBuilder::new();
    let mut features = Vec::with_capacity(candidates.len().min(CLUSTER_THRESHOLD));
    let is_points = matches!(
        layer.geometry(candidates[0] as usize),
        GeometryRef::Point(_)
    );
    if is_points && candidates.len() > CLUSTER_THRESHOLD {
        return cluster(layer, &candidates, &transform, tags, def.id.clone());
    }
    for &i in &candidates {
        let i = i as usize;
        let Some((kind, geometry)) = geometry(&transform, layer.geometry(i)) else {
            continue;
        };
        let mut feature = Feature {
            id: Some(i as u64 + 1),
            geometry,
            ..Default::default()
        };
        feature.set_type(kind);
        let (k, v) = tags.insert_ref("id", TileValue::Str(layer.id(i).to_string()));
        feature.tags.extend([k, v]);
        for (f, field) in def.fields.iter().enumerate() {
            if let Some(value) = tile_value(layer.value(i, f)) {
                let (k, v) = tags.insert_ref(&field.name, value);
                feature.tags.extend([k, v]);
            }
        }
        features.push(feature);
    }
    finish(def.id.clone(), tags, features)
}

fn finish(name: String, tags: TagsBuilder, features: Vec<Feature>) -> Option<MvtLayer> {
    if features.is_empty() {
        return None;
    }
    let (keys, values) = tags.into_tags();
    Some(MvtLayer {
        version: 2,
        name,
        features,
        keys,
        values: values.into_iter().map(Into::into).collect(),
        extent: Some(EXTENT),
    })
}

/// Too many points for one tile: one point per occupied grid cell at the mean position of its
/// members, with `point_count`; a cell holding a single point keeps that feature whole.
fn cluster(
    layer: &Layer,
    candidates: &[u32],
    transform: &TileTransform,
    mut tags: TagsBuilder,
    name: String,
) -> Option<MvtLayer> {
    let (lo, hi) = (-BUFFER, f64::from(EXTENT) + BUFFER);
    let cells_per_side = ((hi - lo) as i32 + CLUSTER_CELL - 1) / CLUSTER_CELL;
    let mut sums: std::collections::BTreeMap<i32, (f64, f64, u32, u32)> =
        std::collections::BTreeMap::new();
    for &i in candidates {
        let GeometryRef::Point(c) = layer.geometry(i as usize) else {
            continue;
        };
        let p = transform.project(c);
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
        let (k, v) = tags.insert_ref(CLUSTER_COUNT, TileValue::Uint(u64::from(count)));
        feature.tags.extend([k, v]);
        if count == 1 {
            let i = first as usize;
            feature.id = Some(i as u64 + 1);
            let (k, v) = tags.insert_ref("id", TileValue::Str(layer.id(i).to_string()));
            feature.tags.extend([k, v]);
            for (f, field) in layer.def.fields.iter().enumerate() {
                if let Some(value) = tile_value(layer.value(i, f)) {
                    let (k, v) = tags.insert_ref(&field.name, value);
                    feature.tags.extend([k, v]);
                }
            }
        } else {
            // Clusters get ids beyond any feature's, stable for the cell.
            feature.id = Some(layer.len() as u64 + 1 + cell as u64);
        }
        features.push(feature);
    }
    finish(name, tags, features)
}
