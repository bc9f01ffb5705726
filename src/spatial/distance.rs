//! Distances on the WGS84 ellipsoid at district scale.
//!
//! [`metres`] treats the ellipsoid as locally flat at the mean latitude of the two points, with
//! the exact meridional (M) and prime-vertical (N) radii of curvature there. Across a district
//! its error against Karney's geodesic (geo's `Geodesic`) stays below 2·10⁻⁶ of the distance
//! (a centimetre at 5 km, 10 cm corner to corner; a unit test checks it), while it costs a few
//! nanoseconds instead of about a microsecond — which matters when "nearest" ranks candidates
//! on every request.
//!
//! [`Planar`] is the matching isotropic frame for indexes: x = lon·cos φ₀, y = lat. Distances in
//! it differ from true ones by less than [`Planar::DISTORTION`] inside a ±1° latitude band,
//! which is what lets nearest-neighbour searches in the index stop early yet exactly.

use geo::Coord;

/// WGS84 semi-major axis (m) and first eccentricity squared.
const A: f64 = 6_378_137.0;
const E2: f64 = 6.694_379_990_141_316e-3;

/// Distance in metres between two lon/lat points (degrees), within 2·10⁻⁶ of the geodesic up
/// to ~50 km apart.
pub fn metres(a: Coord<f64>, b: Coord<f64>) -> f64 {
    let phi = ((a.y + b.y) / 2.0).to_radians();
    let s = phi.sin();
    let w = 1.0 - E2 * s * s;
    let n = A / w.sqrt();
    let m = A * (1.0 - E2) / (w * w.sqrt());
    let dy = (b.y - a.y).to_radians() * m;
    let dx = (b.x - a.x).to_radians() * n * phi.cos();
    (dx * dx + dy * dy).sqrt()
}

/// Metres per degree of latitude and of longitude at latitude `lat` (degrees).
pub fn metres_per_degree(lat: f64) -> (f64, f64) {
    let phi = lat.to_radians();
    let s = phi.sin();
    let w = 1.0 - E2 * s * s;
    let n = A / w.sqrt();
    let m = A * (1.0 - E2) / (w * w.sqrt());
    (m.to_radians(), n.to_radians() * phi.cos())
}

/// East/north metres around an origin: the plane leak zones are drawn in and paths round them
/// are found in. It is affine in lon/lat, so a straight line in one is a straight line in the
/// other, and at district scale its lengths are exact to well under a metre.
#[derive(Debug, Clone, Copy)]
pub struct LocalFrame {
    origin: Coord<f64>,
    m_lat: f64,
    m_lon: f64,
}

impl LocalFrame {
    pub fn at(origin: Coord<f64>) -> LocalFrame {
        let (m_lat, m_lon) = metres_per_degree(origin.y);
        LocalFrame {
            origin,
            m_lat,
            m_lon,
        }
    }

    pub fn to_lonlat(&self, east: f64, north: f64) -> Coord<f64> {
        Coord {
            x: self.origin.x + east / self.m_lon,
            y: self.origin.y + north / self.m_lat,
        }
    }

    pub fn to_local(&self, c: Coord<f64>) -> (f64, f64) {
        (
            (c.x - self.origin.x) * self.m_lon,
            (c.y - self.origin.y) * self.m_lat,
        )
    }

    /// [`LocalFrame::to_local`] as a coordinate (x east, y north).
    pub fn to_local_coord(&self, c: Coord<f64>) -> Coord<f64> {
        let (x, y) = self.to_local(c);
        Coord { x, y }
    }

    /// [`LocalFrame::to_lonlat`] of a coordinate (x east, y north).
    pub fn to_lonlat_coord(&self, c: Coord<f64>) -> Coord<f64> {
        self.to_lonlat(c.x, c.y)
    }
}

/// The isotropic plane of the spatial indexes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planar {
    pub x_scale: f64,
    /// Metres per unit of the plane (at the reference latitude).
    pub metres_per_unit: f64,
}

impl Planar {
    /// Upper bound of |planar / true − 1| for points within 1° of latitude of the reference.
    pub const DISTORTION: f64 = 0.02;

    pub fn at_latitude(lat: f64) -> Self {
        let (per_lat, _) = metres_per_degree(lat);
        Planar {
            x_scale: lat.to_radians().cos(),
            metres_per_unit: per_lat,
        }
    }

    pub fn project(&self, c: Coord<f64>) -> [f64; 2] {
        [c.x * self.x_scale, c.y]
    }

    /// A planar distance (plane units) that is certainly no longer than `metres` of true
    /// distance: used as the search radius of index queries.
    pub fn units_for(&self, metres: f64) -> f64 {
        metres / self.metres_per_unit * (1.0 + Self::DISTORTION)
    }

    /// A lower bound of the true distance for a planar distance, for early stopping.
    pub fn metres_at_least(&self, units: f64) -> f64 {
        units * self.metres_per_unit / (1.0 + Self::DISTORTION)
    }
}

/// Metres rounded to decimetres: what every answer shows (enough for people, stable for
/// tests and the same everywhere a distance appears).
pub fn round_m(m: f64) -> f64 {
    (m * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Geodesic, Point};

    #[test]
    fn agrees_with_karney_to_two_parts_per_million_across_the_district() {
        let corners = [
            Coord {
                x: 121.35,
                y: 30.75,
            },
            Coord {
                x: 121.80,
                y: 31.02,
            },
            Coord {
                x: 121.46,
                y: 30.92,
            },
            Coord {
                x: 121.79,
                y: 30.76,
            },
        ];
        for &a in &corners {
            for &b in &corners {
                let karney = Geodesic.distance(Point(a), Point(b));
                let flat = metres(a, b);
                assert!(
                    (karney - flat).abs() <= 0.001 + karney * 2e-6,
                    "{a:?} {b:?}: {karney} vs {flat}"
                );
            }
        }
        let near = metres(
            Coord {
                x: 121.45,
                y: 30.92,
            },
            Coord {
                x: 121.4501,
                y: 30.92,
            },
        );
        assert!((near - 9.56).abs() < 0.01, "{near}");
    }

    #[test]
    fn the_planar_bound_holds() {
        let plane = Planar::at_latitude(30.9);
        let a = Coord { x: 121.35, y: 30.2 };
        for b in [
            Coord { x: 121.9, y: 31.8 },
            Coord {
                x: 121.36,
                y: 30.21,
            },
            Coord { x: 122.3, y: 30.2 },
        ] {
            let [ax, ay] = plane.project(a);
            let [bx, by] = plane.project(b);
            let units = ((ax - bx).powi(2) + (ay - by).powi(2)).sqrt();
            let truth = Geodesic.distance(Point(a), Point(b));
            assert!(plane.metres_at_least(units) <= truth, "{b:?}");
            assert!(truth <= units * plane.metres_per_unit * (1.0 + Planar::DISTORTION));
        }
    }
}
