//! Web Mercator tile addressing (XYZ, EPSG:3857) and the lon/lat → tile-pixel transform.

use geo::{Coord, Rect};

/// Deepest zoom a tile may be requested at.
pub const MAX_ZOOM: u8 = 22;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// Validates z/x/y: z ≤ 22 and x, y within 0..2^z.
    pub fn new(z: u32, x: u64, y: u64) -> Result<TileId, String> {
        if z > u32::from(MAX_ZOOM) {
            return Err(format!("zoom {z} is beyond the deepest zoom {MAX_ZOOM}"));
        }
        let n = 1u64 << z;
        if x >= n || y >= n {
            return Err(format!(
                "tile {z}/{x}/{y} does not exist: x and y must be below {n} at zoom {z}"
            ));
        }
        Ok(TileId {
            z: z as u8,
            x: x as u32,
            y: y as u32,
        })
    }

    /// The tile's extent in lon/lat, widened by `buffer` (a fraction of the tile's size).
    pub fn bounds(&self, buffer: f64) -> Rect<f64> {
        let n = f64::from(1u32 << self.z);
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| {
            (std::f64::consts::PI * (1.0 - 2.0 * y / n))
                .sinh()
                .atan()
                .to_degrees()
        };
        let (x0, x1) = (f64::from(self.x) - buffer, f64::from(self.x) + 1.0 + buffer);
        let (y0, y1) = (f64::from(self.y) - buffer, f64::from(self.y) + 1.0 + buffer);
        Rect::new(
            Coord {
                x: lon(x0),
                y: lat(y1.min(n)),
            },
            Coord {
                x: lon(x1),
                y: lat(y0.max(0.0)),
            },
        )
    }
}

/// Projects lon/lat into the tile's pixel space: (0, 0) top-left, (extent, extent) bottom-right.
#[derive(Debug, Clone, Copy)]
pub struct TileTransform {
    scale: f64,
    x0: f64,
    y0: f64,
}

impl TileTransform {
    pub fn new(tile: TileId, extent: u32) -> Self {
        let n = f64::from(1u32 << tile.z);
        TileTransform {
            scale: n * f64::from(extent),
            x0: f64::from(tile.x) * f64::from(extent),
            y0: f64::from(tile.y) * f64::from(extent),
        }
    }

    #[inline]
    pub fn project(&self, c: Coord<f64>) -> [f64; 2] {
        self.from_unit(crate::spatial::layer::to_mercator(c))
    }

    /// From Web Mercator unit coordinates (see [`crate::spatial::layer::Mercator`]).
    #[inline]
    pub fn from_unit(&self, m: [f64; 2]) -> [f64; 2] {
        [m[0] * self.scale - self.x0, m[1] * self.scale - self.y0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_ids_are_validated() {
        assert!(TileId::new(14, 13_711, 6_735).is_ok());
        assert!(TileId::new(2, 4, 0).is_err());
        assert!(TileId::new(23, 0, 0).is_err());
    }

    #[test]
    fn a_point_projects_inside_its_tile() {
        // Nanqiao, Fengxian lies in z14 tile 13718/6751.
        let tile = TileId::new(14, 13_718, 6_751).unwrap();
        let b = tile.bounds(0.0);
        let centre = Coord {
            x: (b.min().x + b.max().x) / 2.0,
            y: (b.min().y + b.max().y) / 2.0,
        };
        let [x, y] = TileTransform::new(tile, 4096).project(centre);
        assert!(
            (0.0..4096.0).contains(&x) && (0.0..4096.0).contains(&y),
            "{x} {y}"
        );
        let [x, y] = TileTransform::new(tile, 4096).project(b.min());
        assert!(x.abs() < 1e-6 && (y - 4096.0).abs() < 1e-6, "{x} {y}");
    }
}
