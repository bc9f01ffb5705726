//! What every handler reads from a request, parsed once, with errors that name the parameter
//! or field and the problem: query strings ([`Params`]), a JSON body ([`parse_body`]), the
//! body's media type ([`content_type`]), a coordinate system and a point in it.

use super::ApiError;
use crate::spatial::crs::Crs;
use axum::http::{HeaderMap, header};
use geo::Coord;

#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses a raw query string (never fails: bad escapes are taken literally).
    pub fn parse(query: Option<&str>) -> Params {
        Params {
            pairs: query
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter not in `known`, in order (property filters).
    pub fn others<'a>(
        &'a self,
        known: &'a [&'a str],
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn f64(&self, name: &str) -> Result<Option<f64>, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let value: f64 = raw.trim().parse().map_err(|_| {
            ApiError::invalid(name, format!("{name} must be a number, got {raw:?}"))
        })?;
        if !value.is_finite() {
            return Err(ApiError::invalid(
                name,
                format!("{name} must be a finite number, got {raw:?}"),
            ));
        }
        Ok(Some(value))
    }

    pub fn required_f64(&self, name: &str) -> Result<f64, ApiError> {
        self.f64(name)?
            .ok_or_else(|| ApiError::invalid(name, format!("{name} is required")))
    }

    /// A non-negative number no larger than `max`.
    pub fn f64_in(&self, name: &str, default: f64, max: f64) -> Result<f64, ApiError> {
        let value = self.f64(name)?.unwrap_or(default);
        if !(0.0..=max).contains(&value) {
            return Err(ApiError::invalid(
                name,
                format!("{name} must be between 0 and {max}, got {value}"),
            ));
        }
        Ok(value)
    }

    pub fn usize_in(
        &self,
        name: &str,
        default: usize,
        min: usize,
        max: usize,
    ) -> Result<usize, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        let value: usize = raw.trim().parse().map_err(|_| {
            ApiError::invalid(name, format!("{name} must be a whole number, got {raw:?}"))
        })?;
        if value < min || value > max {
            return Err(ApiError::invalid(
                name,
                format!("{name} must be between {min} and {max}, got {value}"),
            ));
        }
        Ok(value)
    }

    /// A whole number of `what` (people, places), not negative, if given.
    pub fn count(&self, name: &str, what: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|raw| {
                raw.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            name,
                            format!("{name} must be a whole number of {what}, got {raw:?}"),
                        )
                    })
            })
            .transpose()
    }

    /// `crs` (WGS84 when absent): see [`parse_crs`].
    pub fn crs(&self) -> Result<Crs, ApiError> {
        parse_crs("crs", self.get("crs"))
    }

    /// A time: RFC 3339 or a bare date (midnight UTC), as Unix milliseconds; absent or empty
    /// is `None`.
    pub fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .filter(|s| !s.is_empty())
            .map(|raw| {
                crate::cases::clock::parse_time(raw).ok_or_else(|| {
                    ApiError::invalid(
                        name,
                        format!("{name} must be RFC 3339 or YYYY-MM-DD, got {raw:?}"),
                    )
                })
            })
            .transpose()
    }

    /// `bbox=minlon,minlat,maxlon,maxlat` (WGS84), if given.
    pub fn bbox(&self) -> Result<Option<[f64; 4]>, ApiError> {
        let invalid = || ApiError::invalid("bbox", "bbox is minlon,minlat,maxlon,maxlat");
        let Some(raw) = self.get("bbox").filter(|raw| !raw.is_empty()) else {
            return Ok(None);
        };
        let parts: Vec<f64> = raw
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| invalid())?;
        match parts.as_slice() {
            [w, s, e, n] if parts.iter().all(|v| v.is_finite()) && w <= e && s <= n => {
                Ok(Some([*w, *s, *e, *n]))
            }
            _ => Err(invalid()),
        }
    }

    /// `lon` and `lat` (in `crs`), validated and converted to WGS84.
    pub fn point(&self) -> Result<(Coord<f64>, Crs), ApiError> {
        let crs = self.crs()?;
        let lon = self.required_f64("lon")?;
        let lat = self.required_f64("lat")?;
        Ok((point(lon, lat, &crs)?, crs))
    }
}

/// The one parser of a coordinate system a client names — `crs` in a query or a JSON body,
/// `bbox-crs` — for every endpoint: `wgs84`, `gcj02`, `bd09`, or any EPSG code PROJ knows
/// (`EPSG:4528`, an OGC URI…). Absent is WGS84; anything else is a 400 naming `field`.
pub fn parse_crs(field: &str, raw: Option<&str>) -> Result<Crs, ApiError> {
    match raw {
        None => Ok(Crs::Wgs84),
        Some(text) => {
            Crs::parse(text).map_err(|e| ApiError::invalid(field, format!("{field}: {e}")))
        }
    }
}

/// Parses a JSON body with errors naming the field (serde_path_to_error).
pub fn parse_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::invalid(&field, format!("bad JSON body: {}", e.inner()))
    })
}

/// The media type of the request body (`text/csv`, `application/json`…), lower case, without
/// parameters such as `charset`; `None` without a `Content-Type`.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// The `crs` member of a JSON body (WGS84 when absent; see [`parse_crs`]).
pub fn body_crs(raw: Option<&str>) -> Result<Crs, ApiError> {
    parse_crs("crs", raw)
}

/// Checks a point given in `crs` and converts it to WGS84. In a projected CRS `lon`/`lat`
/// carry the easting/northing.
pub fn point(lon: f64, lat: f64, crs: &Crs) -> Result<Coord<f64>, ApiError> {
    if !crs.is_geographic() {
        for (name, v) in [("lon", lon), ("lat", lat)] {
            if !v.is_finite() {
                return Err(ApiError::invalid(
                    name,
                    format!("{name} must be a finite number, got {v}"),
                ));
            }
        }
        let (x, y) = crs
            .to_wgs84(lon, lat)
            .map_err(|e| ApiError::invalid("crs", e.to_string()))?;
        if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
            return Err(ApiError::invalid(
                "crs",
                format!(
                    "({lon}, {lat}) in {} is ({x}, {y}) in WGS84, not a place on Earth: is it the \
                     right CRS (easting first)?",
                    crs.label()
                ),
            ));
        }
        return Ok(Coord { x, y });
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(ApiError::invalid(
            "lon",
            format!("lon must be between -180 and 180, got {lon}"),
        ));
    }
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(ApiError::invalid(
            "lat",
            format!("lat must be between -90 and 90, got {lat}"),
        ));
    }
    let (x, y) = crs
        .to_wgs84(lon, lat)
        .map_err(|e| ApiError::invalid("crs", e.to_string()))?;
    Ok(Coord { x, y })
}
