//! Input coordinate systems. Storage and output are WGS84 lon/lat (CGCS2000 is the same at
//! this precision); phones and Chinese web maps report GCJ-02 (Amap, Tencent) or BD-09
//! (Baidu), which PROJ does not know. The conversions come from the `coordtransform` crate,
//! whose inverses are refined numerically (round trip well under a metre).

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Crs {
    #[default]
    Wgs84,
    Gcj02,
    Bd09,
}

impl FromStr for Crs {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "wgs84" | "epsg:4326" | "4326" | "cgcs2000" | "epsg:4490" | "4490" => Ok(Crs::Wgs84),
            "gcj02" | "gcj-02" => Ok(Crs::Gcj02),
            "bd09" | "bd-09" | "bd09ll" => Ok(Crs::Bd09),
            other => Err(format!(
                "unknown crs {other:?}: use wgs84 (EPSG:4326, CGCS2000/EPSG:4490), gcj02 or bd09"
            )),
        }
    }
}

impl Crs {
    pub fn as_str(self) -> &'static str {
        match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
        }
    }

    /// Converts (lon, lat) in this system to WGS84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => coordtransform::gcj02_to_wgs84(lon, lat),
            Crs::Bd09 => {
                let (g_lon, g_lat) = coordtransform::bd09_to_gcj02(lon, lat);
                coordtransform::gcj02_to_wgs84(g_lon, g_lat)
            }
        }
    }

    /// Converts WGS84 (lon, lat) into this system.
    pub fn from_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => coordtransform::wgs84_to_gcj02(lon, lat),
            Crs::Bd09 => {
                let (g_lon, g_lat) = coordtransform::wgs84_to_gcj02(lon, lat);
                coordtransform::gcj02_to_bd09(g_lon, g_lat)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::distance::metres;
    use geo::Coord;

    // Published values of the widely used coordtransform library (wandergis/coordtransform,
    // test/app.js) for the point (116.404, 39.915).
    const P: (f64, f64) = (116.404, 39.915);

    fn close(a: (f64, f64), b: (f64, f64), tolerance_deg: f64) -> bool {
        (a.0 - b.0).abs() < tolerance_deg && (a.1 - b.1).abs() < tolerance_deg
    }

    #[test]
    fn forward_conversions_match_published_values() {
        assert!(close(
            Crs::Gcj02.from_wgs84(P.0, P.1),
            (116.41024449916938, 39.91640428150164),
            1e-9
        ));
        assert!(close(
            coordtransform::gcj02_to_bd09(P.0, P.1),
            (116.41036949371029, 39.92133699351021),
            1e-9
        ));
        assert!(close(
            coordtransform::bd09_to_gcj02(P.0, P.1),
            (116.39762729119315, 39.90865673957631),
            1e-5
        ));
        // The published GCJ→WGS value is the one-step approximation; the refined inverse lies
        // within a couple of metres of it.
        let wgs = Crs::Gcj02.to_wgs84(P.0, P.1);
        let published = (116.39775550083061, 39.91359571849836);
        let gap = metres(
            Coord { x: wgs.0, y: wgs.1 },
            Coord {
                x: published.0,
                y: published.1,
            },
        );
        assert!(gap < 3.0, "{gap} m");
    }

    #[test]
    fn round_trips_stay_under_a_metre_across_china_and_the_district() {
        for &(lon, lat) in &[
            (121.45, 30.92),
            (121.79, 30.76),
            (116.40, 39.91),
            (87.6, 43.8),
            (113.3, 23.1),
            (126.6, 45.7),
        ] {
            for crs in [Crs::Gcj02, Crs::Bd09] {
                let (x, y) = crs.from_wgs84(lon, lat);
                assert!(
                    metres(Coord { x, y }, Coord { x: lon, y: lat }) > 50.0,
                    "{crs:?} must shift the point"
                );
                let back = crs.to_wgs84(x, y);
                let error = metres(
                    Coord {
                        x: back.0,
                        y: back.1,
                    },
                    Coord { x: lon, y: lat },
                );
                assert!(error < 1.0, "{crs:?} at ({lon}, {lat}): {error} m");
            }
        }
    }

    #[test]
    fn names_parse_and_unknown_ones_are_refused() {
        assert_eq!("GCJ02".parse::<Crs>(), Ok(Crs::Gcj02));
        assert_eq!("EPSG:4326".parse::<Crs>(), Ok(Crs::Wgs84));
        assert!("utm51".parse::<Crs>().unwrap_err().contains("unknown crs"));
    }
}
