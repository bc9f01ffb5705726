//! Coordinate reference systems, on both sides of the store.
//!
//! Storage and output are WGS84 lon/lat (CGCS2000 is the same at this precision). What comes in
//! may be in anything a Chinese linkage centre meets: GCJ-02 (Amap, Tencent) or BD-09 (Baidu)
//! from phones and web maps — which PROJ does not know, so the `coordtransform` crate converts
//! them, with numerically refined inverses (round trip well under a metre) — or any CRS PROJ
//! knows: CGCS2000 (EPSG:4490), its Gauss-Krüger zones (EPSG:4528, 4549), Xi'an 1980 or
//! Beijing 1954 Gauss-Krüger (EPSG:2385, …), Web Mercator, or a city's own grid given as a PROJ
//! string or WKT.
//!
//! One parser ([`Crs::parse`]) serves layer sources (`crs` in `[source]`) and every query
//! parameter (`crs=`, `bbox-crs=`). Axis order is normalised on the way in and out: x is
//! longitude or easting, y latitude or northing, whatever the CRS's own definition says (EPSG
//! puts latitude first for 4326/4490 and northing first for 4528/4549). Where an axis order is
//! due to a client (OGC API – Features Part 2 output), [`ProjCrs::northing_first`] tells.
//!
//! ```
//! use gridlink::spatial::crs::Crs;
//! let gk = Crs::parse("EPSG:4528").unwrap();
//! let (x, y) = gk.from_wgs84(121.45, 30.92).unwrap();
//! assert!((x - 40_543_000.0).abs() < 1_000.0, "zone 40 eastings carry the zone number");
//! let (lon, lat) = gk.to_wgs84(x, y).unwrap();
//! assert!((lon - 121.45).abs() < 1e-9 && (lat - 30.92).abs() < 1e-9);
//! ```

use geo::{Coord, MapCoordsInPlace};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

/// The OGC URI of WGS84 longitude/latitude (OGC API – Features' default).
pub const CRS84_URI: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Crs {
    /// WGS84 longitude, latitude (CRS84; EPSG:4326 with the axes normalised).
    #[default]
    Wgs84,
    /// China's obfuscated "Mars" coordinates (Amap, Tencent, Google China).
    Gcj02,
    /// Baidu's coordinates (GCJ-02 shifted again).
    Bd09,
    /// Anything PROJ knows.
    Proj(ProjCrs),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CrsError {
    #[error("{0}")]
    Unknown(String),
    #[error("cannot transform ({x}, {y}) from {from} to {to}: {message}")]
    Transform {
        x: f64,
        y: f64,
        from: String,
        to: String,
        message: String,
    },
}

/// A CRS defined through PROJ, checked when parsed. Cheap to clone.
#[derive(Clone)]
pub struct ProjCrs(Arc<ProjCrsInfo>);

struct ProjCrsInfo {
    /// What PROJ is given: `EPSG:4528`, a PROJ string with `+type=crs`, or WKT.
    definition: String,
    /// Short form for messages: `EPSG:4528`, or the CRS name.
    label: String,
    /// PROJ's name of the CRS (`CGCS2000 / 3-degree Gauss-Kruger zone 40`).
    name: String,
    geographic: bool,
    northing_first: bool,
    epsg: Option<u32>,
}

impl PartialEq for ProjCrs {
    fn eq(&self, other: &Self) -> bool {
        self.0.definition == other.0.definition
    }
}
impl Eq for ProjCrs {}
impl std::hash::Hash for ProjCrs {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.definition.hash(state);
    }
}
impl fmt::Debug for ProjCrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProjCrs({})", self.0.label)
    }
}

impl ProjCrs {
    pub fn definition(&self) -> &str {
        &self.0.definition
    }
    pub fn name(&self) -> &str {
        &self.0.name
    }
    /// Latitude/longitude or easting/northing in degrees (no projection).
    pub fn is_geographic(&self) -> bool {
        self.0.geographic
    }
    /// Whether the CRS's own definition puts latitude or northing first (EPSG:4326, 4490,
    /// 4528, 4549 do; 3857 does not).
    pub fn northing_first(&self) -> bool {
        self.0.northing_first
    }
    pub fn epsg(&self) -> Option<u32> {
        self.0.epsg
    }
}

/// PROJ's context for one-off inspection calls; created per call, as contexts are not
/// thread-safe and parsing is rare (results are cached).
struct Context(*mut proj_sys::PJ_CONTEXT);

impl Context {
    fn new() -> Context {
        // SAFETY: creating a context has no preconditions; it is destroyed in Drop.
        let ctx = unsafe { proj_sys::proj_context_create() };
        // SAFETY: ctx is a live context. Messages go into our errors, not stderr.
        unsafe { proj_sys::proj_log_level(ctx, proj_sys::PJ_LOG_LEVEL_PJ_LOG_NONE) };
        Context(ctx)
    }
    fn error(&self) -> String {
        // SAFETY: ctx is live; the returned string is static or owned by the context.
        unsafe {
            let errno = proj_sys::proj_context_errno(self.0);
            let text = proj_sys::proj_context_errno_string(self.0, errno);
            if text.is_null() {
                "unknown error".into()
            } else {
                CStr::from_ptr(text).to_string_lossy().into_owned()
            }
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: created by proj_context_create, destroyed once.
        unsafe { proj_sys::proj_context_destroy(self.0) };
    }
}

/// An owned PJ object.
struct Pj<'c>(*mut proj_sys::PJ, &'c Context);

impl Drop for Pj<'_> {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: a PJ created in this context, destroyed once.
            unsafe { proj_sys::proj_destroy(self.0) };
        }
    }
}

impl<'c> Pj<'c> {
    fn name(&self) -> String {
        // SAFETY: self.0 is a live PJ; the name is owned by it.
        unsafe {
            let p = proj_sys::proj_get_name(self.0);
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        }
    }
    fn kind(&self) -> proj_sys::PJ_TYPE {
        // SAFETY: live PJ.
        unsafe { proj_sys::proj_get_type(self.0) }
    }
    /// The horizontal CRS inside a bound or compound CRS (PROJ strings with +towgs84 become
    /// bound CRSs; a CRS with heights is compound).
    fn horizontal(self) -> Pj<'c> {
        let ctx = self.1;
        match self.kind() {
            proj_sys::PJ_TYPE_PJ_TYPE_BOUND_CRS => {
                // SAFETY: live PJ and context.
                let base = unsafe { proj_sys::proj_get_source_crs(ctx.0, self.0) };
                if base.is_null() {
                    self
                } else {
                    Pj(base, ctx).horizontal()
                }
            }
            proj_sys::PJ_TYPE_PJ_TYPE_COMPOUND_CRS => {
                // SAFETY: live PJ and context.
                let sub = unsafe { proj_sys::proj_crs_get_sub_crs(ctx.0, self.0, 0) };
                if sub.is_null() {
                    self
                } else {
                    Pj(sub, ctx).horizontal()
                }
            }
            _ => self,
        }
    }
    fn first_axis_points_north(&self) -> bool {
        let ctx = self.1;
        // SAFETY: live PJ and context; out-pointers point at locals.
        unsafe {
            let cs = proj_sys::proj_crs_get_coordinate_system(ctx.0, self.0);
            if cs.is_null() {
                return false;
            }
            let cs = Pj(cs, ctx);
            let mut direction: *const std::os::raw::c_char = std::ptr::null();
            let ok = proj_sys::proj_cs_get_axis_info(
                ctx.0,
                cs.0,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut direction,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            ok != 0
                && !direction.is_null()
                && CStr::from_ptr(direction)
                    .to_string_lossy()
                    .eq_ignore_ascii_case("north")
        }
    }
}

fn inspect(definition: &str, label: String, epsg: Option<u32>) -> Result<ProjCrs, CrsError> {
    let ctx = Context::new();
    let text = CString::new(definition)
        .map_err(|_| CrsError::Unknown(format!("{label}: contains a NUL byte")))?;
    // SAFETY: live context and a NUL-terminated string.
    let pj = Pj(unsafe { proj_sys::proj_create(ctx.0, text.as_ptr()) }, &ctx);
    if pj.0.is_null() {
        return Err(CrsError::Unknown(format!(
            "unknown CRS {label}: PROJ does not know it ({})",
            ctx.error()
        )));
    }
    // SAFETY: live PJ.
    if unsafe { proj_sys::proj_is_crs(pj.0) } == 0 {
        return Err(CrsError::Unknown(format!(
            "{label} is not a coordinate reference system (a PROJ string needs +type=crs)"
        )));
    }
    let name = pj.name();
    let horizontal = pj.horizontal();
    let geographic = matches!(
        horizontal.kind(),
        proj_sys::PJ_TYPE_PJ_TYPE_GEOGRAPHIC_2D_CRS | proj_sys::PJ_TYPE_PJ_TYPE_GEOGRAPHIC_3D_CRS
    );
    let northing_first = horizontal.first_axis_points_north();
    drop(horizontal);
    let crs = ProjCrs(Arc::new(ProjCrsInfo {
        definition: definition.to_string(),
        label,
        name,
        geographic,
        northing_first,
        epsg,
    }));
    // Building the transformation now makes a CRS PROJ cannot reach WGS84 from fail here,
    // where the message can still name the parameter or the layer.
    with_transform(&crs, Direction::ToWgs84, |_| Ok(()))?;
    Ok(crs)
}

/// Parsed CRSs by their text: PROJ's database lookups cost about a millisecond, and the same
/// few texts come with every request.
fn parsed() -> &'static Mutex<HashMap<String, Crs>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Crs>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The EPSG code in any of the spellings clients use: `EPSG:4528`, `epsg:4528`, `4528`,
/// `[EPSG:4528]`, `urn:ogc:def:crs:EPSG::4528`, `http://www.opengis.net/def/crs/EPSG/0/4528`.
pub fn epsg_code(text: &str) -> Option<u32> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(&lower);
    let code = lower
        .strip_prefix("epsg:")
        .or_else(|| lower.strip_prefix("urn:ogc:def:crs:epsg::"))
        .or_else(|| lower.strip_prefix("urn:ogc:def:crs:epsg:"))
        .or_else(|| {
            lower
                .strip_prefix("http://www.opengis.net/def/crs/epsg/")
                .or_else(|| lower.strip_prefix("https://www.opengis.net/def/crs/epsg/"))
                .and_then(|rest| rest.split_once('/').map(|(_, code)| code))
        })
        .unwrap_or(lower);
    if code.is_empty() || code.len() > 9 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    code.parse().ok()
}

const CRS84_NAMES: [&str; 8] = [
    "wgs84",
    "wgs-84",
    "crs84",
    "ogc:crs84",
    "[ogc:crs84]",
    "urn:ogc:def:crs:ogc:1.3:crs84",
    "http://www.opengis.net/def/crs/ogc/1.3/crs84",
    "https://www.opengis.net/def/crs/ogc/1.3/crs84",
];

impl Crs {
    /// Parses a CRS as users write it: `wgs84`/CRS84, `gcj02`, `bd09`, an EPSG code in any
    /// usual spelling (`EPSG:4528`, `4528`, an OGC URI or URN), `cgcs2000`, a PROJ string
    /// (`+proj=tmerc …`) or WKT. EPSG:4326 is WGS84 (axes normalised to lon, lat). An EPSG code
    /// PROJ does not know is refused here.
    pub fn parse(text: &str) -> Result<Crs, CrsError> {
        let key = text.trim();
        if key.is_empty() {
            return Err(CrsError::Unknown(
                "empty CRS: use EPSG:nnnn, a PROJ string, wgs84, gcj02 or bd09".into(),
            ));
        }
        if let Ok(cache) = parsed().lock() {
            if let Some(crs) = cache.get(key) {
                return Ok(crs.clone());
            }
        }
        let crs = Self::parse_uncached(key)?;
        if let Ok(mut cache) = parsed().lock() {
            if cache.len() < 1024 {
                cache.insert(key.to_string(), crs.clone());
            }
        }
        Ok(crs)
    }

    fn parse_uncached(text: &str) -> Result<Crs, CrsError> {
        let lower = text.to_ascii_lowercase();
        if CRS84_NAMES.contains(&lower.as_str()) {
            return Ok(Crs::Wgs84);
        }
        match lower.as_str() {
            "gcj02" | "gcj-02" => return Ok(Crs::Gcj02),
            "bd09" | "bd-09" | "bd09ll" => return Ok(Crs::Bd09),
            "cgcs2000" => return Self::parse("EPSG:4490"),
            _ => {}
        }
        if let Some(code) = epsg_code(text) {
            if code == 4326 {
                return Ok(Crs::Wgs84);
            }
            let label = format!("EPSG:{code}");
            return Ok(Crs::Proj(inspect(&label, label.clone(), Some(code))?));
        }
        if lower.starts_with("+proj=") || lower.starts_with("proj=") {
            let mut definition = text.to_string();
            if !lower.contains("+type=crs") {
                definition.push_str(" +type=crs");
            }
            let label = text.to_string();
            return Ok(Crs::Proj(inspect(&definition, label, None)?));
        }
        let wkt = [
            "projcs[",
            "geogcs[",
            "projcrs[",
            "geogcrs[",
            "geodcrs[",
            "compd_cs[",
            "boundcrs[",
            "compoundcrs[",
            "{",
        ];
        if wkt.iter().any(|w| lower.starts_with(w)) {
            let ctx_name = Crs::Proj(inspect(text, "WKT".into(), None)?);
            // Label a WKT definition by its name, which is what people recognise.
            if let Crs::Proj(p) = &ctx_name {
                let mut info = ProjCrsInfo {
                    definition: p.0.definition.clone(),
                    label: p.0.name.clone(),
                    name: p.0.name.clone(),
                    geographic: p.0.geographic,
                    northing_first: p.0.northing_first,
                    epsg: None,
                };
                if info.label.is_empty() {
                    info.label = "WKT".into();
                }
                return Ok(Crs::Proj(ProjCrs(Arc::new(info))));
            }
            return Ok(ctx_name);
        }
        Err(CrsError::Unknown(format!(
            "unknown CRS {text:?}: use EPSG:nnnn (e.g. EPSG:4528), an OGC CRS URI, a PROJ string \
             (+proj=…), wgs84, cgcs2000, gcj02 or bd09"
        )))
    }

    /// Short name for messages and answers: `wgs84`, `gcj02`, `bd09`, `EPSG:4528`.
    pub fn label(&self) -> &str {
        match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
            Crs::Proj(p) => &p.0.label,
        }
    }

    /// Longitude/latitude in degrees (bounds of -180..180 / -90..90 apply to its input).
    pub fn is_geographic(&self) -> bool {
        match self {
            Crs::Wgs84 | Crs::Gcj02 | Crs::Bd09 => true,
            Crs::Proj(p) => p.is_geographic(),
        }
    }

    pub fn is_wgs84(&self) -> bool {
        matches!(self, Crs::Wgs84)
    }

    /// Converts (x, y) — lon/lat or easting/northing — in this CRS to WGS84 lon/lat.
    pub fn to_wgs84(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        match self {
            Crs::Wgs84 => Ok((x, y)),
            Crs::Gcj02 => Ok(coordtransform::gcj02_to_wgs84(x, y)),
            Crs::Bd09 => {
                let (g_lon, g_lat) = coordtransform::bd09_to_gcj02(x, y);
                Ok(coordtransform::gcj02_to_wgs84(g_lon, g_lat))
            }
            Crs::Proj(p) => with_transform(p, Direction::ToWgs84, |t| t.convert(x, y)),
        }
    }

    /// Converts WGS84 lon/lat into this CRS's (x, y).
    pub fn from_wgs84(&self, lon: f64, lat: f64) -> Result<(f64, f64), CrsError> {
        match self {
            Crs::Wgs84 => Ok((lon, lat)),
            Crs::Gcj02 => Ok(coordtransform::wgs84_to_gcj02(lon, lat)),
            Crs::Bd09 => {
                let (g_lon, g_lat) = coordtransform::wgs84_to_gcj02(lon, lat);
                Ok(coordtransform::gcj02_to_bd09(g_lon, g_lat))
            }
            Crs::Proj(p) => with_transform(p, Direction::FromWgs84, |t| t.convert(lon, lat)),
        }
    }

    /// Converts every coordinate of a geometry to WGS84 in place (one transformation lookup
    /// per geometry, not per vertex).
    pub fn geometry_to_wgs84(&self, geometry: &mut geo::Geometry<f64>) -> Result<(), CrsError> {
        self.map_geometry(geometry, Direction::ToWgs84)
    }

    /// Converts every coordinate of a WGS84 geometry into this CRS in place.
    pub fn geometry_from_wgs84(&self, geometry: &mut geo::Geometry<f64>) -> Result<(), CrsError> {
        self.map_geometry(geometry, Direction::FromWgs84)
    }

    fn map_geometry(
        &self,
        geometry: &mut geo::Geometry<f64>,
        direction: Direction,
    ) -> Result<(), CrsError> {
        match self {
            Crs::Wgs84 => Ok(()),
            Crs::Gcj02 | Crs::Bd09 => {
                geometry.map_coords_in_place(|c| {
                    let (x, y) = match direction {
                        Direction::ToWgs84 => self.to_wgs84(c.x, c.y),
                        Direction::FromWgs84 => self.from_wgs84(c.x, c.y),
                    }
                    .unwrap_or((f64::NAN, f64::NAN));
                    Coord { x, y }
                });
                Ok(())
            }
            Crs::Proj(p) => with_transform(p, direction, |t| {
                // The first failure is kept; the geometry is not used after one.
                let failure: RefCell<Option<CrsError>> = RefCell::new(None);
                let failure_ref = &failure;
                geometry.map_coords_in_place(|c| match t.convert(c.x, c.y) {
                    Ok((x, y)) => Coord { x, y },
                    Err(e) => {
                        failure_ref.borrow_mut().get_or_insert(e);
                        Coord {
                            x: f64::NAN,
                            y: f64::NAN,
                        }
                    }
                });
                failure.into_inner().map_or(Ok(()), Err)
            }),
        }
    }

    /// How a source in this CRS is brought to WGS84, for `gridlink check`.
    pub fn transform_description(&self) -> String {
        match self {
            Crs::Wgs84 => "none (WGS84 lon/lat)".into(),
            Crs::Gcj02 => "GCJ-02 → WGS84 (coordtransform, inverse refined numerically)".into(),
            Crs::Bd09 => "BD-09 → GCJ-02 → WGS84 (coordtransform, inverse refined)".into(),
            Crs::Proj(p) => with_transform(p, Direction::ToWgs84, |t| Ok(t.description.clone()))
                .unwrap_or_else(|e| e.to_string()),
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    ToWgs84,
    FromWgs84,
}

/// A PROJ transformation between a CRS and WGS84, axes normalised (lon/lat, easting/northing).
struct Transform {
    proj: proj::Proj,
    from: String,
    to: String,
    description: String,
}

impl Transform {
    fn convert(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        let fail = |message: String| CrsError::Transform {
            x,
            y,
            from: self.from.clone(),
            to: self.to.clone(),
            message,
        };
        let (tx, ty) = self.proj.convert((x, y)).map_err(|e| fail(e.to_string()))?;
        if tx.is_finite() && ty.is_finite() {
            Ok((tx, ty))
        } else {
            Err(fail("no finite result (outside the CRS's area?)".into()))
        }
    }
}

thread_local! {
    /// PROJ transformations are not thread-safe and cost about a millisecond to build: each
    /// thread keeps its own, by CRS and direction.
    static TRANSFORMS: RefCell<HashMap<(String, Direction), std::rc::Rc<Transform>>> =
        RefCell::new(HashMap::new());
}

const WGS84: &str = "EPSG:4326";

fn with_transform<T>(
    crs: &ProjCrs,
    direction: Direction,
    f: impl FnOnce(&Transform) -> Result<T, CrsError>,
) -> Result<T, CrsError> {
    let key = (crs.0.definition.clone(), direction);
    let cached = TRANSFORMS.with(|t| t.borrow().get(&key).cloned());
    let transform = match cached {
        Some(t) => t,
        None => {
            let (from, to) = match direction {
                Direction::ToWgs84 => (crs.0.definition.as_str(), WGS84),
                Direction::FromWgs84 => (WGS84, crs.0.definition.as_str()),
            };
            let proj = proj::Proj::new_known_crs(from, to, None).map_err(|e| {
                CrsError::Unknown(format!(
                    "no transformation from {} to {}: {e}",
                    if direction == Direction::ToWgs84 {
                        &crs.0.label
                    } else {
                        "WGS84"
                    },
                    if direction == Direction::ToWgs84 {
                        "WGS84"
                    } else {
                        &crs.0.label
                    },
                ))
            })?;
            let info = proj.proj_info();
            let description = format!(
                "PROJ: {}",
                info.description
                    .filter(|d| !d.is_empty())
                    .or(info.definition)
                    .unwrap_or_else(|| format!("{from} → {to}"))
            );
            let transform = std::rc::Rc::new(Transform {
                proj,
                from: if direction == Direction::ToWgs84 {
                    crs.0.label.clone()
                } else {
                    "WGS84".into()
                },
                to: if direction == Direction::ToWgs84 {
                    "WGS84".into()
                } else {
                    crs.0.label.clone()
                },
                description,
            });
            TRANSFORMS.with(|t| t.borrow_mut().insert(key, transform.clone()));
            transform
        }
    };
    f(&transform)
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
            Crs::Gcj02.from_wgs84(P.0, P.1).unwrap(),
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
        let wgs = Crs::Gcj02.to_wgs84(P.0, P.1).unwrap();
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
                let (x, y) = crs.from_wgs84(lon, lat).unwrap();
                assert!(
                    metres(Coord { x, y }, Coord { x: lon, y: lat }) > 50.0,
                    "{crs:?} must shift the point"
                );
                let back = crs.to_wgs84(x, y).unwrap();
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
        assert_eq!(Crs::parse("GCJ02"), Ok(Crs::Gcj02));
        assert_eq!(Crs::parse("EPSG:4326"), Ok(Crs::Wgs84));
        assert_eq!(Crs::parse(CRS84_URI), Ok(Crs::Wgs84));
        let err = Crs::parse("utm51").unwrap_err().to_string();
        assert!(err.contains("unknown CRS"), "{err}");
        let err = Crs::parse("EPSG:99999").unwrap_err().to_string();
        assert!(err.contains("EPSG:99999"), "{err}");
    }

    #[test]
    fn every_spelling_of_an_epsg_code_is_the_same_crs() {
        let expected = Crs::parse("EPSG:4528").unwrap();
        for text in [
            "epsg:4528",
            "4528",
            "[EPSG:4528]",
            "urn:ogc:def:crs:EPSG::4528",
            "http://www.opengis.net/def/crs/EPSG/0/4528",
        ] {
            assert_eq!(Crs::parse(text).unwrap(), expected, "{text}");
        }
        let Crs::Proj(p) = expected else { panic!() };
        assert!(!p.is_geographic());
        assert!(
            p.northing_first(),
            "EPSG:4528 is northing first by definition"
        );
        assert_eq!(p.epsg(), Some(4528));
    }

    #[test]
    fn axis_order_of_the_definition_is_known() {
        let order = |t: &str| match Crs::parse(t).unwrap() {
            Crs::Proj(p) => (p.is_geographic(), p.northing_first()),
            other => panic!("{other:?}"),
        };
        assert_eq!(order("EPSG:4490"), (true, true));
        assert_eq!(order("EPSG:4549"), (false, true));
        assert_eq!(order("EPSG:3857"), (false, false));
    }

    #[test]
    fn gauss_kruger_zone_40_matches_the_published_false_easting() {
        // EPSG:4528: central meridian 120°E, false easting 40 500 000 m (zone number prefixed).
        let gk = Crs::parse("EPSG:4528").unwrap();
        let (x, y) = gk.from_wgs84(120.0, 30.0).unwrap();
        assert!((x - 40_500_000.0).abs() < 1e-6, "{x}");
        // Meridian arc length of GRS80 at 30°N: 3 320 113.398 m (Krüger series).
        assert!((y - 3_320_113.398).abs() < 0.01, "{y}");
    }

    #[test]
    fn a_proj_string_grid_is_accepted() {
        let local = Crs::parse(
            "+proj=tmerc +lat_0=0 +lon_0=121.5 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m",
        )
        .unwrap();
        let (x, _) = local.from_wgs84(121.5, 31.0).unwrap();
        assert!(x.abs() < 1e-6, "{x}");
        let (lon, lat) = local.to_wgs84(0.0, 3_430_000.0).unwrap();
        assert!(
            (lon - 121.5).abs() < 1e-9 && (lat - 31.0).abs() < 0.01,
            "{lon} {lat}"
        );
    }
}
