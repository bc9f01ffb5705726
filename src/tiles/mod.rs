//! Vector tiles made on the fly from the layer store (Mapbox Vector Tile 2.1), cached.
//!
//! A tile request names one or more layers; each becomes one MVT layer with its properties and
//! feature ids. Work per tile: an R-tree window query per layer, then projection, clipping,
//! simplification and encoding of what it returns ([`encode`]). Encoded tiles are kept in a
//! size-bounded LRU cache (moka), gzip-compressed once, with an ETag.

pub mod clip;
pub mod encode;
pub mod mercator;

use crate::spatial::{Layer, LayerStore};
use axum::body::Bytes;
use geozero::mvt::{Message, Tile};
use mercator::TileId;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::Arc;

/// An encoded tile: the protobuf, its gzip form and an ETag. An empty `raw` is an empty tile.
#[derive(Debug)]
pub struct Encoded {
    pub raw: Bytes,
    pub gzip: Bytes,
    pub etag: String,
}

impl Encoded {
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

/// Renders the tile for `layers` (already checked against the viewer), in the given order.
pub fn render(layers: &[&Layer], tile: TileId) -> Vec<u8> {
    let tile = Tile {
        layers: layers
            .iter()
            .filter_map(|l| encode::encode_layer(l, tile))
            .collect(),
    };
    if tile.layers.is_empty() {
        return Vec::new();
    }
    tile.encode_to_vec()
}

fn finish(raw: Vec<u8>) -> Encoded {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    raw.hash(&mut hasher);
    let etag = format!("\"{:016x}\"", hasher.finish());
    let gzip = if raw.is_empty() {
        Vec::new()
    } else {
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(raw.len() / 2),
            flate2::Compression::fast(),
        );
        // Writing into a Vec cannot fail.
        let _ = encoder.write_all(&raw);
        encoder.finish().unwrap_or_default()
    };
    Encoded {
        raw: Bytes::from(raw),
        gzip: Bytes::from(gzip),
        etag,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    generation: u64,
    layers: String,
    tile: TileId,
}

/// The tile cache, bounded by the bytes it holds.
#[derive(Clone)]
pub struct TileCache {
    cache: moka::sync::Cache<Key, Arc<Encoded>>,
}

/// Default cache size.
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;

impl TileCache {
    pub fn new(max_bytes: u64) -> Self {
        TileCache {
            cache: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &Key, value: &Arc<Encoded>| {
                    let bytes = value.raw.len() + value.gzip.len() + key.layers.len() + 64;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    /// The tile from the cache, rendering it on a miss (once, even under concurrent requests).
    pub fn get(&self, store: &LayerStore, layers: &[&Layer], tile: TileId) -> Arc<Encoded> {
        let key = Key {
            generation: store.generation,
            layers: layers
                .iter()
                .map(|l| l.def.id.as_str())
                .collect::<Vec<_>>()
                .join(","),
            tile,
        };
        self.cache
            .get_with(key, || Arc::new(finish(render(layers, tile))))
    }

    /// Renders without the cache (benchmarks, cold timings).
    pub fn render_uncached(layers: &[&Layer], tile: TileId) -> Arc<Encoded> {
        Arc::new(finish(render(layers, tile)))
    }

    pub fn entries(&self) -> u64 {
        self.cache.entry_count()
    }
}
