//! OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0) and Part 2 (CRS by reference) under
//! `/ogc`, so that QGIS, GDAL/OGR and OWSLib read the layers directly. Every layer the viewer
//! may see is a collection. Storage is CRS84; `crs=` gives items in any CRS of the [`OFFERED`]
//! list (coordinates in the axis order the CRS defines: EPSG:4326 and 4490 latitude first,
//! 4528 and 4549 northing first), `bbox-crs=` takes the bbox in one, and `Content-Crs` says
//! which CRS a response is in.

use super::nearest::visible_layer;
use super::params::{Params, parse_crs};
use super::{ApiError, AppState};
use crate::services::nearest::Filter;
use crate::spatial::Layer;
use crate::spatial::crs::{CRS84_URI, Crs, epsg_code};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use geo::{Intersects, Rect};
use serde_json::{Map, Value, json};

const CRS84: &str = CRS84_URI;
/// EPSG codes offered besides CRS84: WGS84, CGCS2000 (geographic; 3° Gauss-Krüger zone 40 and
/// CM 120°E), Xi'an 1980 3° GK CM 120°E, and Web Mercator.
pub const OFFERED: [u32; 6] = [4326, 4490, 4528, 4549, 2385, 3857];

fn epsg_uri(code: u32) -> String {
    format!("http://www.opengis.net/def/crs/EPSG/0/{code}")
}

/// Every CRS URI a collection offers, CRS84 first.
fn offered_uris() -> Vec<String> {
    std::iter::once(CRS84.to_string())
        .chain(OFFERED.iter().map(|&c| epsg_uri(c)))
        .collect()
}

/// A CRS a client asked for by `crs` or `bbox-crs`: its URI, the transformation, and whether
/// its definition puts latitude/northing first.
#[derive(Debug, Clone)]
struct OgcCrs {
    uri: String,
    crs: Crs,
    northing_first: bool,
}

impl OgcCrs {
    fn crs84() -> OgcCrs {
        OgcCrs {
            uri: CRS84.into(),
            crs: Crs::Wgs84,
            northing_first: false,
        }
    }

    /// Parses `field`; an unknown CRS or one not offered is a 400 naming the parameter.
    fn parse(field: &str, raw: Option<&str>) -> Result<OgcCrs, ApiError> {
        let Some(raw) = raw else {
            return Ok(OgcCrs::crs84());
        };
        let crs = parse_crs(field, Some(raw))?;
        let code = match &crs {
            Crs::Wgs84 if epsg_code(raw) == Some(4326) => Some(4326),
            Crs::Wgs84 => return Ok(OgcCrs::crs84()),
            Crs::Proj(p) => p.epsg(),
            _ => None,
        };
        match code.filter(|c| OFFERED.contains(c)) {
            Some(code) => Ok(OgcCrs {
                uri: epsg_uri(code),
                northing_first: match &crs {
                    Crs::Proj(p) => p.northing_first(),
                    _ => true, // EPSG:4326 is latitude first by definition
                },
                crs,
            }),
            None => Err(ApiError::invalid(
                field,
                format!(
                    "{field}: {raw:?} is not offered; use one of {}",
                    offered_uris().join(", ")
                ),
            )),
        }
    }

    /// (x, y) in WGS84 → this CRS, in its axis order.
    fn project(&self, c: geo::Coord<f64>) -> Result<geo::Coord<f64>, ApiError> {
        let (x, y) = self
            .crs
            .from_wgs84(c.x, c.y)
            .map_err(|e| ApiError::invalid("crs", e.to_string()))?;
        Ok(if self.northing_first {
            geo::coord! {x: y, y: x}
        } else {
            geo::coord! {x: x, y: y}
        })
    }

    /// A point in this CRS's axis order → WGS84 lon/lat.
    fn to_wgs84(&self, a: f64, b: f64, field: &str) -> Result<geo::Coord<f64>, ApiError> {
        let (x, y) = if self.northing_first { (b, a) } else { (a, b) };
        let (lon, lat) = self
            .crs
            .to_wgs84(x, y)
            .map_err(|e| ApiError::invalid(field, e.to_string()))?;
        Ok(geo::coord! {x: lon, y: lat})
    }

    fn header(&self) -> (header::HeaderName, String) {
        (
            header::HeaderName::from_static("content-crs"),
            format!("<{}>", self.uri),
        )
    }
}
const GEOJSON: &str = "application/geo+json";
/// Default and largest page size of `/items`.
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 10_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(landing))
        .route("/conformance", get(conformance))
        .route("/api", get(openapi))
        .route("/collections", get(collections))
        .route("/collections/{collection}", get(collection))
        .route("/collections/{collection}/items", get(items))
        .route("/collections/{collection}/items/{item}", get(item))
}

/// The server's own URL as the client reached it (links must work through proxies too).
fn base(headers: &HeaderMap) -> String {
    format!("{}/ogc", super::origin(headers))
}

fn json_response(content_type: &'static str, value: Value) -> Response {
    ([(header::CONTENT_TYPE, content_type)], value.to_string()).into_response()
}

async fn landing(headers: HeaderMap) -> Response {
    let base = base(&headers);
    json_response(
        "application/json",
        json!({
            "title": "gridlink district electronic map",
            "description": "Layers of the district grid-management and emergency-linkage centre (OGC API - Features)",
            "links": [
                {"href": base, "rel": "self", "type": "application/json", "title": "This document"},
                {"href": format!("{base}/api"), "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "title": "The API definition"},
                {"href": format!("{base}/conformance"), "rel": "conformance", "type": "application/json", "title": "Conformance classes"},
                {"href": format!("{base}/collections"), "rel": "data", "type": "application/json", "title": "The layers"},
            ]
        }),
    )
}

async fn conformance() -> Response {
    json_response(
        "application/json",
        json!({
            "conformsTo": [
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
                "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
            ]
        }),
    )
}

fn collection_json(layer: &Layer, base: &str) -> Value {
    let id = &layer.def.id;
    let bbox = layer
        .extent()
        .map(|r| vec![r.min().x, r.min().y, r.max().x, r.max().y])
        .unwrap_or_default();
    json!({
        "id": id,
        "title": layer.def.title,
        "description": layer.def.title_en,
        "itemType": "feature",
        "crs": offered_uris(),
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [bbox], "crs": CRS84}},
        "links": [
            {"href": format!("{base}/collections/{id}"), "rel": "self", "type": "application/json", "title": layer.def.title},
            {"href": format!("{base}/collections/{id}/items"), "rel": "items", "type": GEOJSON, "title": layer.def.title},
        ],
    })
}

async fn collections(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    headers: HeaderMap,
) -> Response {
    let base = base(&headers);
    let store = state.store.snapshot();
    let viewer = caller.viewer;
    let collections: Vec<Value> = store
        .layers()
        .iter()
        .filter(|l| viewer.may_see(l))
        .map(|l| collection_json(l, &base))
        .collect();
    json_response(
        "application/json",
        json!({
            "links": [{"href": format!("{base}/collections"), "rel": "self", "type": "application/json", "title": "The layers"}],
            "crs": offered_uris(),
            "collections": collections,
        }),
    )
}

async fn collection(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = state.store.snapshot();
    let layer = visible_layer(&store, &id, caller.viewer)?;
    Ok(json_response(
        "application/json",
        collection_json(layer, &base(&headers)),
    ))
}

fn feature_json(
    layer: &Layer,
    i: usize,
    properties: Option<&[usize]>,
    out: &OgcCrs,
) -> Result<Value, ApiError> {
    let mut shape = layer.geometry(i).to_geo();
    if !out.crs.is_wgs84() || out.northing_first {
        use geo::MapCoordsInPlace;
        let failure = std::cell::RefCell::new(None);
        let failure_ref = &failure;
        shape.map_coords_in_place(|c| match out.project(c) {
            Ok(c) => c,
            Err(e) => {
                failure_ref.borrow_mut().get_or_insert(e);
                c
            }
        });
        if let Some(e) = failure.into_inner() {
            return Err(e);
        }
    }
    let geometry = geojson::Geometry::new(geojson::Value::from(&shape));
    let props: Map<String, Value> = match properties {
        None => layer.properties_json(i),
        Some(fields) => fields
            .iter()
            .map(|&f| {
                (
                    layer.def.fields[f].name.clone(),
                    layer.value(i, f).to_json(),
                )
            })
            .collect(),
    };
    Ok(json!({
        "type": "Feature",
        "id": layer.id(i),
        "geometry": geometry,
        "properties": props,
    }))
}

/// A bbox in `bbox_crs` (its axis order), as the WGS84 rectangle that covers it: the corners
/// and points along each edge are transformed, since a projected rectangle's edges curve.
fn parse_bbox_in(raw: &str, bbox_crs: &OgcCrs) -> Result<Rect<f64>, ApiError> {
    if bbox_crs.uri == CRS84 {
        return parse_bbox(raw);
    }
    let numbers: Vec<f64> = raw
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::invalid(
                "bbox",
                format!("bbox must be four numbers in the axis order of bbox-crs, got {raw:?}"),
            )
        })?;
    let (a0, b0, a1, b1) = match numbers[..] {
        [a, b, c, d] => (a, b, c, d),
        [a, b, _, c, d, _] => (a, b, c, d),
        _ => {
            return Err(ApiError::invalid(
                "bbox",
                format!("bbox takes 4 (or 6) numbers, got {}", numbers.len()),
            ));
        }
    };
    if ![a0, b0, a1, b1].iter().all(|v| v.is_finite()) || a0 > a1 || b0 > b1 {
        return Err(ApiError::invalid(
            "bbox",
            "bbox must be finite with lower corner <= upper corner",
        ));
    }
    const STEPS: usize = 16;
    let mut points = Vec::with_capacity(4 * STEPS);
    for k in 0..STEPS {
        let t = k as f64 / STEPS as f64;
        points.push((a0 + (a1 - a0) * t, b0));
        points.push((a1, b0 + (b1 - b0) * t));
        points.push((a1 - (a1 - a0) * t, b1));
        points.push((a0, b1 - (b1 - b0) * t));
    }
    let mut rect: Option<Rect<f64>> = None;
    for (a, b) in points {
        let c = bbox_crs.to_wgs84(a, b, "bbox")?;
        if !c.x.is_finite() || !c.y.is_finite() {
            return Err(ApiError::invalid(
                "bbox",
                "bbox does not transform to WGS84",
            ));
        }
        rect = Some(match rect {
            None => Rect::new(c, c),
            Some(r) => Rect::new(
                geo::coord! {x: r.min().x.min(c.x), y: r.min().y.min(c.y)},
                geo::coord! {x: r.max().x.max(c.x), y: r.max().y.max(c.y)},
            ),
        });
    }
    rect.ok_or_else(|| ApiError::invalid("bbox", "empty bbox"))
}

fn parse_bbox(raw: &str) -> Result<Rect<f64>, ApiError> {
    let numbers: Vec<f64> = raw
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::invalid(
                "bbox",
                format!("bbox must be four numbers minlon,minlat,maxlon,maxlat, got {raw:?}"),
            )
        })?;
    let (x0, y0, x1, y1) = match numbers[..] {
        [a, b, c, d] => (a, b, c, d),
        [a, b, _, c, d, _] => (a, b, c, d),
        _ => {
            return Err(ApiError::invalid(
                "bbox",
                format!("bbox takes 4 (or 6) numbers, got {}", numbers.len()),
            ));
        }
    };
    if ![x0, y0, x1, y1].iter().all(|v| v.is_finite()) || x0 > x1 || y0 > y1 {
        return Err(ApiError::invalid(
            "bbox",
            "bbox must be finite with min <= max (crossing the antimeridian is not supported)",
        ));
    }
    if !(-180.0..=180.0).contains(&x0)
        || !(-180.0..=180.0).contains(&x1)
        || !(-90.0..=90.0).contains(&y0)
        || !(-90.0..=90.0).contains(&y1)
    {
        return Err(ApiError::invalid(
            "bbox",
            "bbox must lie within longitude -180..180 and latitude -90..90",
        ));
    }
    Ok(Rect::new(
        geo::coord! {x: x0, y: y0},
        geo::coord! {x: x1, y: y1},
    ))
}

const ITEM_PARAMS: [&str; 8] = [
    "bbox",
    "bbox-crs",
    "crs",
    "limit",
    "offset",
    "properties",
    "f",
    "datetime",
];

async fn items(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let store = state.store.snapshot();
    let layer = visible_layer(&store, &id, caller.viewer)?;
    let limit = params.usize_in("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let offset = params.usize_in("offset", 0, 0, usize::MAX)?;
    let out = OgcCrs::parse("crs", params.get("crs"))?;
    let bbox_crs = OgcCrs::parse("bbox-crs", params.get("bbox-crs"))?;
    if let Some(f) = params.get("f") {
        if !["json", "geojson"].contains(&f) {
            return Err(ApiError::invalid(
                "f",
                format!("only f=json is offered, not {f:?}"),
            ));
        }
    }
    let bbox = params
        .get("bbox")
        .map(|raw| parse_bbox_in(raw, &bbox_crs))
        .transpose()?;
    let properties = params
        .get("properties")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|name| {
                    layer.def.field_index(name).ok_or_else(|| {
                        ApiError::invalid(
                            "properties",
                            format!("{} has no property {name:?}", layer.def.id),
                        )
                    })
                })
                .collect::<Result<Vec<usize>, _>>()
        })
        .transpose()?;
    let filters = params
        .others(&ITEM_PARAMS)
        .map(|(name, value)| Filter::parse(layer, name, value))
        .collect::<Result<Vec<_>, _>>()?;
    let mut candidates: Vec<usize> = match bbox {
        None => (0..layer.len()).collect(),
        Some(rect) => {
            let mut found: Vec<usize> = layer
                .index()
                .intersecting(rect)
                .into_iter()
                .map(|i| i as usize)
                .filter(|&i| layer.geometry(i).to_geo().intersects(&rect))
                .collect();
            found.sort_unstable();
            found
        }
    };
    if !filters.is_empty() {
        candidates.retain(|&i| filters.iter().all(|f| f.matches(layer, i)));
    }
    let matched = candidates.len();
    let page: Vec<usize> = candidates.into_iter().skip(offset).take(limit).collect();
    let base = base(&headers);
    let link = |offset: usize, rel: &str| {
        let mut pairs: Vec<(String, String)> = params
            .others(&["offset", "limit"])
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        pairs.push(("limit".into(), limit.to_string()));
        pairs.push(("offset".into(), offset.to_string()));
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        json!({"href": format!("{base}/collections/{id}/items?{query}"), "rel": rel, "type": GEOJSON})
    };
    let mut links = vec![link(offset, "self")];
    if offset + page.len() < matched {
        links.push(link(offset + page.len(), "next"));
    }
    if offset > 0 {
        links.push(link(offset.saturating_sub(limit), "prev"));
    }
    links.push(json!({"href": format!("{base}/collections/{id}"), "rel": "collection", "type": "application/json"}));
    let features: Vec<Value> = page
        .iter()
        .map(|&i| feature_json(layer, i, properties.as_deref(), &out))
        .collect::<Result<_, _>>()?;
    Ok(with_crs(
        &out,
        json!({
            "type": "FeatureCollection",
            "numberMatched": matched,
            "numberReturned": features.len(),
            "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "features": features,
            "links": links,
        }),
    ))
}

/// A GeoJSON response with its `Content-Crs` header (OGC API – Features Part 2).
fn with_crs(out: &OgcCrs, value: Value) -> Response {
    (
        [(header::CONTENT_TYPE, GEOJSON.to_string()), out.header()],
        value.to_string(),
    )
        .into_response()
}

async fn item(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    headers: HeaderMap,
    Path((id, item)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let out = OgcCrs::parse("crs", params.get("crs"))?;
    let store = state.store.snapshot();
    let layer = visible_layer(&store, &id, caller.viewer)?;
    let i = layer.find(&item).ok_or_else(|| {
        ApiError::not_found("unknown_feature", format!("{id} has no feature {item:?}"))
            .with_field("item")
    })?;
    let base = base(&headers);
    let mut feature = feature_json(layer, i, None, &out)?;
    feature["links"] = json!([
        {"href": format!("{base}/collections/{id}/items/{item}"), "rel": "self", "type": GEOJSON},
        {"href": format!("{base}/collections/{id}"), "rel": "collection", "type": "application/json"},
    ]);
    Ok(with_crs(&out, feature))
}

async fn openapi(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    headers: HeaderMap,
) -> Response {
    let store = state.store.snapshot();
    let viewer = caller.viewer;
    let ids: Vec<&str> = store
        .layers()
        .iter()
        .filter(|l| viewer.may_see(l))
        .map(|l| l.def.id.as_str())
        .collect();
    json_response(
        "application/vnd.oai.openapi+json;version=3.0",
        super::openapi::document(&base(&headers), &ids),
    )
}
