//! Urban intensity: 0 in open farmland, up to 1 in the district seat. It sets cell size,
//! population density and where point features such as components and cameras cluster.

use super::spec::{AreaSpec, ZoneSpec};
use geo::Coord;

/// Metres per degree of latitude, and of longitude at the district's latitude.
pub const M_PER_DEG_LAT: f64 = 110_850.0;

#[derive(Debug, Clone)]
pub struct Frame {
    /// cos(latitude) at the district centre: metres per degree of longitude / per degree of latitude.
    pub x_scale: f64,
}

impl Frame {
    pub fn new(latitude: f64) -> Self {
        Frame {
            x_scale: latitude.to_radians().cos(),
        }
    }

    pub fn m_per_deg_lon(&self) -> f64 {
        M_PER_DEG_LAT * self.x_scale
    }

    /// Planar distance in metres (good to 0.1 % across the district).
    pub fn distance_m(&self, a: Coord<f64>, b: Coord<f64>) -> f64 {
        let dx = (a.x - b.x) * self.m_per_deg_lon();
        let dy = (a.y - b.y) * M_PER_DEG_LAT;
        (dx * dx + dy * dy).sqrt()
    }

    /// Moves `p` by metres east and north.
    pub fn offset(&self, p: Coord<f64>, east_m: f64, north_m: f64) -> Coord<f64> {
        Coord {
            x: p.x + east_m / self.m_per_deg_lon(),
            y: p.y + north_m / M_PER_DEG_LAT,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Intensity {
    frame: Frame,
    areas: Vec<AreaSpec>,
    zones: Vec<ZoneSpec>,
}

impl Intensity {
    pub fn new(frame: Frame, areas: &[AreaSpec], zones: &[ZoneSpec]) -> Self {
        Intensity {
            frame,
            areas: areas.to_vec(),
            zones: zones.to_vec(),
        }
    }

    /// The strongest built-up area's Gaussian at `p`, in 0..=1.
    pub fn urban(&self, p: Coord<f64>) -> f64 {
        self.areas
            .iter()
            .map(|a| {
                let d = self.frame.distance_m(
                    p,
                    Coord {
                        x: a.center[0],
                        y: a.center[1],
                    },
                ) / (a.radius_km * 1000.0);
                a.peak * (-d * d).exp()
            })
            .fold(0.0, f64::max)
    }

    /// The industrial zone `p` lies in, if any.
    pub fn zone(&self, p: Coord<f64>) -> Option<&ZoneSpec> {
        self.zones.iter().find(|z| {
            self.frame.distance_m(
                p,
                Coord {
                    x: z.center[0],
                    y: z.center[1],
                },
            ) <= z.radius_km * 1000.0
        })
    }
}
