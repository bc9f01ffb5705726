//! Offline tile archives: the public layers of the district (or of one town, or a box) written
//! as one PMTiles v3 file, for a phone that works where the network does not.
//!
//! Every tile in the file is the server's own tile: made by [`super::render`] for the same
//! layer list, in the same order, so `/tiles/{layers}/{z}/{x}/{y}.mvt` and the archive's tile
//! at z/x/y are the same bytes (gzipped as the server gzips them), and a MapLibre style that
//! draws the served tile set draws the archive unchanged. Staff-only layers are refused: a
//! file cannot check who opens it, and it leaves the building.
//!
//! Work: the tiles of the area at each zoom, minus those not touching the area's outline, are
//! sorted by PMTiles tile id (the Hilbert order the format reads fastest) and rendered in
//! batches on every core (rayon); each batch is written in order before the next is rendered.
//! Empty tiles are not stored (a reader takes a missing tile as empty).

use super::mercator::{MAX_ZOOM, TileId};
use crate::catalog::Role;
use crate::spatial::{Layer, LayerStore};
use geo::{Coord, Geometry, Intersects, Rect};
use pmtiles::{Compression, PmTilesWriter, TileCoord, TileType};
use rayon::prelude::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Tiles rendered together before they are written: large enough to keep every core busy,
/// small enough that a district export holds only a few MB of tiles at a time.
const BATCH: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("unknown layer {name:?} (public layers: {known})")]
    UnknownLayer { name: String, known: String },
    #[error(
        "layer {0:?} is staff-only and never goes into an offline file (it leaves the building); leave it out of --layers"
    )]
    StaffLayer(String),
    #[error("--layers names no layer; name at least one, e.g. --layers towns,villages")]
    NoLayers,
    #[error("bad --zooms {given:?}: {reason}")]
    BadZooms { given: String, reason: String },
    #[error("unknown town {given:?} (towns: {known})")]
    UnknownTown { given: String, known: String },
    #[error("bad --bbox {given:?}: {reason}")]
    BadBbox { given: String, reason: String },
    #[error("--bbox {0:?} lies outside the district; the district's extent is {1}")]
    OutsideDistrict(String, String),
    #[error("the catalogue has no layer with role {0:?}, which the export needs for its area")]
    MissingRole(&'static str),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing the PMTiles archive {path}: {source}")]
    Archive {
        path: PathBuf,
        source: pmtiles::PmtError,
    },
}

/// A zoom range `min-max` (or one zoom), both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zooms {
    pub min: u8,
    pub max: u8,
}

impl std::str::FromStr for Zooms {
    type Err = ExportError;

    fn from_str(given: &str) -> Result<Zooms, ExportError> {
        let bad = |reason: String| ExportError::BadZooms {
            given: given.to_string(),
            reason,
        };
        let (a, b) = given.split_once('-').unwrap_or((given, given));
        let parse = |s: &str| {
            s.trim().parse::<u8>().map_err(|_| {
                bad(format!(
                    "{:?} is not a zoom; write a range like 10-17",
                    s.trim()
                ))
            })
        };
        let (min, max) = (parse(a)?, parse(b)?);
        if max > MAX_ZOOM {
            return Err(bad(format!("the deepest zoom is {MAX_ZOOM}")));
        }
        if min > max {
            return Err(bad(format!(
                "the range runs backwards ({min} > {max}); write {max}-{min}"
            )));
        }
        Ok(Zooms { min, max })
    }
}

/// Which part of the district goes into the file.
#[derive(Debug, Clone)]
pub enum Area {
    /// The whole district.
    District,
    /// One town (镇/街道), by code or name: the tiles over its bounding box that touch it.
    Town(String),
    /// A lon/lat box `minlon,minlat,maxlon,maxlat`, cut to the district.
    Bbox(String),
}

/// What an export will write, checked before any tile is made.
pub struct Plan<'s> {
    pub layers: Vec<&'s Layer>,
    pub zooms: Zooms,
    /// The area's extent (lon/lat): the archive's bounds.
    pub bounds: Rect<f64>,
    /// The outline tiles must touch to be written (the town, or the district).
    outline: Vec<Geometry<f64>>,
    /// The area, for the archive's name (`district`, the town's name, `bbox`).
    pub name: String,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Tiles over the area at the chosen zooms that touch its outline.
    pub tiles: u64,
    /// Tiles with content, stored in the file.
    pub written: u64,
    /// The archive's size.
    pub bytes: u64,
    pub elapsed: Duration,
}

/// The layers of `spec` (comma-separated ids, in the order the tiles list them) or, without
/// one, every public layer in catalogue order, which is what the district style's tile source
/// asks for.
pub fn public_layers<'s>(
    store: &'s LayerStore,
    spec: Option<&str>,
) -> Result<Vec<&'s Layer>, ExportError> {
    let Some(spec) = spec else {
        return Ok(store
            .layers()
            .iter()
            .filter(|l| l.def.is_public())
            .map(|l| &**l)
            .collect());
    };
    let mut out: Vec<&Layer> = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let layer = store.layer(name).ok_or_else(|| ExportError::UnknownLayer {
            name: name.to_string(),
            known: store
                .layers()
                .iter()
                .filter(|l| l.def.is_public())
                .map(|l| l.def.id.as_str())
                .collect::<Vec<_>>()
                .join(","),
        })?;
        if !layer.def.is_public() {
            return Err(ExportError::StaffLayer(name.to_string()));
        }
        if !out.iter().any(|l| l.def.id == layer.def.id) {
            out.push(layer);
        }
    }
    if out.is_empty() {
        return Err(ExportError::NoLayers);
    }
    Ok(out)
}

fn outline_of(layer: &Layer, i: usize) -> (Geometry<f64>, Option<Rect<f64>>) {
    let geometry = layer.geometry(i);
    (geometry.to_geo(), geometry.bounding_rect())
}

fn union(a: Option<Rect<f64>>, b: Option<Rect<f64>>) -> Option<Rect<f64>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Rect::new(
            Coord {
                x: a.min().x.min(b.min().x),
                y: a.min().y.min(b.min().y),
            },
            Coord {
                x: a.max().x.max(b.max().x),
                y: a.max().y.max(b.max().y),
            },
        )),
        (a, b) => a.or(b),
    }
}

fn parse_bbox(given: &str) -> Result<Rect<f64>, ExportError> {
    let bad = |reason: &str| ExportError::BadBbox {
        given: given.to_string(),
        reason: reason.to_string(),
    };
    let numbers: Vec<f64> = given
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("write four numbers: minlon,minlat,maxlon,maxlat"))?;
    let [west, south, east, north] = numbers[..] else {
        return Err(bad("write four numbers: minlon,minlat,maxlon,maxlat"));
    };
    if numbers.iter().any(|n| !n.is_finite()) {
        return Err(bad("every number must be finite"));
    }
    if !(-180.0..=180.0).contains(&west) || !(-180.0..=180.0).contains(&east) {
        return Err(bad("longitudes lie between -180 and 180"));
    }
    if !(-85.06..=85.06).contains(&south) || !(-85.06..=85.06).contains(&north) {
        return Err(bad("latitudes lie between -85.05 and 85.05 (Web Mercator)"));
    }
    if west >= east || south >= north {
        return Err(bad(
            "the minimum must be below the maximum (minlon,minlat,maxlon,maxlat)",
        ));
    }
    Ok(Rect::new(
        Coord { x: west, y: south },
        Coord { x: east, y: north },
    ))
}

fn intersection(a: Rect<f64>, b: Rect<f64>) -> Option<Rect<f64>> {
    let (west, south) = (a.min().x.max(b.min().x), a.min().y.max(b.min().y));
    let (east, north) = (a.max().x.min(b.max().x), a.max().y.min(b.max().y));
    (west < east && south < north)
        .then(|| Rect::new(Coord { x: west, y: south }, Coord { x: east, y: north }))
}

impl<'s> Plan<'s> {
    /// Checks the request against the store: the layers are public, the zooms sane, the town
    /// known, the box inside the district.
    pub fn new(
        store: &'s LayerStore,
        layers: Option<&str>,
        zooms: Zooms,
        area: &Area,
    ) -> Result<Plan<'s>, ExportError> {
        let layers = public_layers(store, layers)?;
        let district = store
            .by_role(Role::District)
            .ok_or(ExportError::MissingRole("district"))?;
        let mut district_outline = Vec::new();
        let mut district_extent = None;
        for i in 0..district.len() {
            let (geometry, rect) = outline_of(district, i);
            district_outline.push(geometry);
            district_extent = union(district_extent, rect);
        }
        let district_extent = district_extent.ok_or(ExportError::MissingRole("district"))?;
        let (bounds, outline, name) = match area {
            Area::District => (district_extent, district_outline, "district".to_string()),
            Area::Town(given) => {
                let towns = store
                    .by_role(Role::Town)
                    .ok_or(ExportError::MissingRole("town"))?;
                let wanted = given.trim();
                let i = towns
                    .find(wanted)
                    .or_else(|| (0..towns.len()).find(|&i| towns.label(i) == Some(wanted)))
                    .ok_or_else(|| ExportError::UnknownTown {
                        given: given.clone(),
                        known: (0..towns.len())
                            .map(|i| format!("{} {}", towns.id(i), towns.label(i).unwrap_or("")))
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?;
                let (geometry, rect) = outline_of(towns, i);
                let rect = rect.ok_or_else(|| ExportError::UnknownTown {
                    given: given.clone(),
                    known: "(the town has no outline)".into(),
                })?;
                let name = towns.label(i).unwrap_or(towns.id(i)).to_string();
                (rect, vec![geometry], name)
            }
            Area::Bbox(given) => {
                let rect = parse_bbox(given)?;
                let extent = || {
                    format!(
                        "{:.4},{:.4},{:.4},{:.4}",
                        district_extent.min().x,
                        district_extent.min().y,
                        district_extent.max().x,
                        district_extent.max().y
                    )
                };
                let inside = intersection(rect, district_extent)
                    .filter(|_| district_outline.iter().any(|g| g.intersects(&rect)))
                    .ok_or_else(|| ExportError::OutsideDistrict(given.clone(), extent()))?;
                (inside, district_outline, "bbox".to_string())
            }
        };
        Ok(Plan {
            layers,
            zooms,
            bounds,
            outline,
            name,
        })
    }

    /// The layer ids, comma-separated, as the tile URL names them.
    pub fn layer_list(&self) -> String {
        self.layers
            .iter()
            .map(|l| l.def.id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The tiles to make, in PMTiles tile-id order: those over the bounds at each zoom whose
    /// square touches the outline.
    pub fn tiles(&self) -> Vec<TileId> {
        let mut out: Vec<(u64, TileId)> = Vec::new();
        for z in self.zooms.min..=self.zooms.max {
            let n = f64::from(1u32 << z);
            let last = (1u64 << z) - 1;
            let column = |lon: f64| (((lon + 180.0) / 360.0 * n) as u64).min(last);
            let row = |lat: f64| {
                (((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u64)
                    .min(last)
            };
            let (x0, x1) = (column(self.bounds.min().x), column(self.bounds.max().x));
            let (y0, y1) = (row(self.bounds.max().y), row(self.bounds.min().y));
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let Ok(tile) = TileId::new(u32::from(z), x, y) else {
                        continue;
                    };
                    let square = tile.bounds(0.0);
                    if !self.outline.iter().any(|g| g.intersects(&square)) {
                        continue;
                    }
                    if let Ok(coord) = TileCoord::new(tile.z, tile.x, tile.y) {
                        out.push((pmtiles::TileId::from(coord).value(), tile));
                    }
                }
            }
        }
        out.sort_unstable_by_key(|(id, _)| *id);
        out.into_iter().map(|(_, tile)| tile).collect()
    }

    /// The archive's metadata: TileJSON fields a map needs (vector_layers with their fields,
    /// bounds, center, zooms, attribution) and the tile URL's layer list.
    pub fn metadata(&self) -> serde_json::Value {
        let (west, south, east, north) = self.bounds_tuple();
        json!({
            "name": format!("gridlink {}", self.name),
            "description": self.layers.iter().map(|l| l.def.title.as_str()).collect::<Vec<_>>().join("、"),
            "attribution": super::tilejson::ATTRIBUTION,
            "type": "overlay",
            "format": "pbf",
            "version": "1",
            "minzoom": self.zooms.min,
            "maxzoom": self.zooms.max,
            "bounds": [west, south, east, north],
            "center": [(west + east) / 2.0, (south + north) / 2.0, self.center_zoom()],
            "vector_layers": super::tilejson::vector_layers(&self.layers),
            "gridlink:layers": self.layer_list(),
            "generator": concat!("gridlink ", env!("CARGO_PKG_VERSION")),
        })
    }

    fn bounds_tuple(&self) -> (f64, f64, f64, f64) {
        (
            self.bounds.min().x,
            self.bounds.min().y,
            self.bounds.max().x,
            self.bounds.max().y,
        )
    }

    fn center_zoom(&self) -> u8 {
        12u8.clamp(self.zooms.min, self.zooms.max)
    }

    /// Renders every tile and writes the archive to `out` (through a temporary file beside it,
    /// so a failed export never leaves a half-written archive under the final name).
    /// `progress` is told the number of tiles done after each batch.
    pub fn write(&self, out: &Path, mut progress: impl FnMut(u64)) -> Result<Summary, ExportError> {
        let started = Instant::now();
        let tiles = self.tiles();
        let partial = out.with_extension("pmtiles.partial");
        let write_error = |source| ExportError::Write {
            path: partial.clone(),
            source,
        };
        let archive_error = |source| ExportError::Archive {
            path: out.to_path_buf(),
            source,
        };
        let file = std::fs::File::create(&partial).map_err(write_error)?;
        let (west, south, east, north) = self.bounds_tuple();
        let centre = self.bounds.center();
        let mut writer = PmTilesWriter::new(TileType::Mvt)
            .precompressed(Compression::Gzip)
            .min_zoom(self.zooms.min)
            .max_zoom(self.zooms.max)
            .bounds(west, south, east, north)
            .center(centre.x, centre.y)
            .center_zoom(self.center_zoom())
            .metadata(self.metadata().to_string())
            .create(file)
            .map_err(archive_error)?;
        let (mut done, mut written) = (0u64, 0u64);
        let result = (|| {
            for batch in tiles.chunks(BATCH) {
                let made: Vec<Option<(TileId, bytes::Bytes)>> = batch
                    .par_iter()
                    .map(|&tile| {
                        let encoded = super::finish(super::render(&self.layers, tile));
                        (!encoded.is_empty()).then(|| (tile, encoded.gzip()))
                    })
                    .collect();
                for (tile, gzip) in made.into_iter().flatten() {
                    let coord = TileCoord::new(tile.z, tile.x, tile.y).map_err(archive_error)?;
                    writer.add_tile(coord, &gzip).map_err(archive_error)?;
                    written += 1;
                }
                done += batch.len() as u64;
                progress(done);
            }
            writer.finalize().map_err(archive_error)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, out).map_err(|source| ExportError::Write {
            path: out.to_path_buf(),
            source,
        })?;
        let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
        Ok(Summary {
            tiles: tiles.len() as u64,
            written,
            bytes,
            elapsed: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_ranges_are_read_and_checked() {
        assert_eq!(
            "10-17".parse::<Zooms>().unwrap(),
            Zooms { min: 10, max: 17 }
        );
        assert_eq!("14".parse::<Zooms>().unwrap(), Zooms { min: 14, max: 14 });
        for bad in ["17-10", "10-23", "a-b", "", "10-", "-3"] {
            assert!(bad.parse::<Zooms>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn boxes_are_read_and_checked() {
        let rect = parse_bbox("121.4,30.8,121.6,30.95").unwrap();
        assert_eq!((rect.min().x, rect.max().y), (121.4, 30.95));
        for bad in [
            "121.6,30.8,121.4,30.95",
            "1,2,3",
            "a,b,c,d",
            "200,30,201,31",
            "121,89,122,89.5",
            "121,NaN,122,31",
        ] {
            assert!(parse_bbox(bad).is_err(), "{bad:?} accepted");
        }
    }
}
