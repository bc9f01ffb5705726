//! OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0) under `/ogc`, so that QGIS, GDAL/OGR
//! and OWSLib read the layers directly. Every layer the viewer may see is a collection.

use super::nearest::visible_layer;
use super::params::Params;
use super::{ApiError, AppState};
use crate::services::nearest::Filter;
use crate::spatial::Layer;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use geo::{Intersects, Rect};
use serde_json::{Map, Value, json};

const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
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
        "crs": [CRS84],
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

fn feature_json(layer: &Layer, i: usize, properties: Option<&[usize]>) -> Value {
    let geometry = geojson::Geometry::new(geojson::Value::from(&layer.geometry(i).to_geo()));
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
    json!({
        "type": "Feature",
        "id": layer.id(i),
        "geometry": geometry,
        "properties": props,
    })
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

const ITEM_PARAMS: [&str; 7] = [
    "bbox",
    "bbox-crs",
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
    if let Some(crs) = params.get("bbox-crs") {
        if crs != CRS84 {
            return Err(ApiError::invalid(
                "bbox-crs",
                format!("only {CRS84} is supported"),
            ));
        }
    }
    if let Some(f) = params.get("f") {
        if !["json", "geojson"].contains(&f) {
            return Err(ApiError::invalid(
                "f",
                format!("only f=json is offered, not {f:?}"),
            ));
        }
    }
    let bbox = params.get("bbox").map(parse_bbox).transpose()?;
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
        .map(|&i| feature_json(layer, i, properties.as_deref()))
        .collect();
    Ok(json_response(
        GEOJSON,
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

async fn item(
    State(state): State<AppState>,
    caller: super::auth::Caller,
    headers: HeaderMap,
    Path((id, item)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let store = state.store.snapshot();
    let layer = visible_layer(&store, &id, caller.viewer)?;
    let i = layer.find(&item).ok_or_else(|| {
        ApiError::not_found("unknown_feature", format!("{id} has no feature {item:?}"))
            .with_field("item")
    })?;
    let base = base(&headers);
    let mut feature = feature_json(layer, i, None);
    feature["links"] = json!([
        {"href": format!("{base}/collections/{id}/items/{item}"), "rel": "self", "type": GEOJSON},
        {"href": format!("{base}/collections/{id}"), "rel": "collection", "type": "application/json"},
    ]);
    Ok(json_response(GEOJSON, feature))
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
