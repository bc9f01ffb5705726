//! Vector tiles made on the fly from the layer store (Mapbox Vector Tile 2.1), cached.
//!
//! A tile request names one or more layers; each becomes one MVT layer with its properties and
//! feature ids. Work per tile: an R-tree window query per layer, then projection, clipping,
//! simplification and encoding of what it returns ([`encode`]). Encoded tiles are kept in a
//! size-bounded LRU cache (moka), with an ETag, gzip-compressed once when first asked for.
//! [`export`] writes the same tiles into a PMTiles archive for offline use.
//!
//! Floor 3 (see the crate doc): uses `cases` (the case layer's dots), `spatial` and `catalog`;
//! `http` serves the tiles and `cli` renders the glyphs.

pub mod cases;
pub mod clip;
pub mod dots;
pub mod encode;
pub mod export;
pub mod glyphs;
pub mod mercator;
pub mod tilejson;

use crate::spatial::Layer;
use axum::body::Bytes;
use geozero::mvt::{Message, Tile};
use mercator::TileId;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::Arc;

/// An encoded tile: the protobuf and an ETag; its gzip form is made the first time a client
/// accepts it (and kept with the tile in the cache). An empty `raw` is an empty tile.
#[derive(Debug)]
pub struct Encoded {
    pub raw: Bytes,
    gzip: std::sync::OnceLock<Bytes>,
    pub etag: String,
}

impl Encoded {
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    pub fn gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(self.raw.len() / 2),
                    flate2::Compression::fast(),
                );
                // Writing into a Vec cannot fail.
                let _ = encoder.write_all(&self.raw);
                Bytes::from(encoder.finish().unwrap_or_default())
            })
            .clone()
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

pub(crate) fn finish(raw: Vec<u8>) -> Encoded {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    raw.hash(&mut hasher);
    let etag = format!("\"{:016x}\"", hasher.finish());
    Encoded {
        raw: Bytes::from(raw),
        gzip: std::sync::OnceLock::new(),
        etag,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    /// The layers' versions over this tile's area ([`Layer::version_at`]): a reload or a live
    /// edit touching the tile makes a new key, an edit elsewhere leaves it.
    versions: Vec<u64>,
    layers: String,
    tile: TileId,
}

/// The tile cache, bounded by the bytes it holds; `None` when caching is off (benchmarks
/// against other servers with their caches off, or memory-starved deployments).
#[derive(Clone)]
pub struct TileCache {
    cache: Option<moka::sync::Cache<Key, Arc<Encoded>>>,
}

/// Default cache size.
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;

impl TileCache {
    /// A cache of `max_bytes`; 0 turns caching off.
    pub fn new(max_bytes: u64) -> Self {
        if max_bytes == 0 {
            return TileCache { cache: None };
        }
        TileCache {
            cache: Some(
                moka::sync::Cache::builder()
                    .max_capacity(max_bytes)
                    .weigher(|key: &Key, value: &Arc<Encoded>| {
                        // Room for the gzip copy too, which most clients ask for.
                        let bytes = value.raw.len() * 3 / 2 + key.layers.len() + 64;
                        u32::try_from(bytes).unwrap_or(u32::MAX)
                    })
                    .build(),
            ),
        }
    }

    /// The tile from the cache, rendering it on a miss (once, even under concurrent requests).
    pub fn get(&self, layers: &[&Layer], tile: TileId) -> Arc<Encoded> {
        let area = tile.bounds(encode::BUFFER / f64::from(encode::EXTENT));
        let key = Key {
            versions: layers.iter().map(|l| l.version_at(area)).collect(),
            layers: layers
                .iter()
                .map(|l| l.def.id.as_str())
                .collect::<Vec<_>>()
                .join(","),
            tile,
        };
        match &self.cache {
            Some(cache) => {
                let entry = cache
                    .entry(key)
                    .or_insert_with(|| Arc::new(finish(render(layers, tile))));
                if entry.is_fresh() {
                    metrics::counter!("gridlink_tile_cache_misses_total").increment(1);
                    metrics::counter!("gridlink_tile_rendered_bytes_total")
                        .increment(entry.value().raw.len() as u64);
                } else {
                    metrics::counter!("gridlink_tile_cache_hits_total").increment(1);
                }
                entry.into_value()
            }
            None => Arc::new(finish(render(layers, tile))),
        }
    }

    /// Renders without the cache (benchmarks, cold timings).
    pub fn render_uncached(layers: &[&Layer], tile: TileId) -> Arc<Encoded> {
        Arc::new(finish(render(layers, tile)))
    }

    pub fn entries(&self) -> u64 {
        self.cache.as_ref().map_or(0, |c| c.entry_count())
    }

    /// The weight the cache holds (tile bytes with room for their gzip copy), for /metrics.
    /// Runs moka's pending bookkeeping first: its counts lag the inserts until it does.
    pub fn bytes(&self) -> u64 {
        self.cache.as_ref().map_or(0, |c| {
            c.run_pending_tasks();
            c.weighted_size()
        })
    }
}
