//! The OpenAPI 3.0 description served at `/ogc/api` (the OGC "service-desc"): the OGC API –
//! Features paths with the collections this viewer can see, and gridlink's own `/api` paths.

use serde_json::{Value, json};

fn query(name: &str, description: &str, schema: Value, required: bool) -> Value {
    json!({"name": name, "in": "query", "required": required, "description": description, "schema": schema})
}

fn point_params() -> Vec<Value> {
    vec![
        query(
            "lon",
            "Longitude",
            json!({"type": "number", "minimum": -180, "maximum": 180}),
            true,
        ),
        query(
            "lat",
            "Latitude",
            json!({"type": "number", "minimum": -90, "maximum": 90}),
            true,
        ),
        query(
            "crs",
            "Input coordinate system: wgs84, gcj02, bd09 or any EPSG code (EPSG:4528 — then lon/lat carry easting/northing)",
            json!({"type": "string", "default": "wgs84", "examples": ["gcj02", "bd09", "EPSG:4490", "EPSG:4528"]}),
            false,
        ),
    ]
}

fn ok(description: &str, media: &str) -> Value {
    json!({
        "200": {"description": description, "content": {media: {"schema": {"type": "object"}}}},
        "400": {"description": "A parameter is missing or invalid", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "404": {"description": "Not found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    })
}

pub fn document(ogc_base: &str, collections: &[&str]) -> Value {
    let server = ogc_base.trim_end_matches("/ogc");
    let collection_id = json!({"name": "collectionId", "in": "path", "required": true, "schema": {"type": "string", "enum": collections}});
    let mut locate_params = point_params();
    locate_params.push(query(
        "class",
        "Case class code: also route to the responsible unit",
        json!({"type": "string"}),
        false,
    ));
    locate_params.push(query(
        "tolerance",
        "Border distance (m) under which the answer is ambiguous",
        json!({"type": "number", "default": 5, "maximum": 100}),
        false,
    ));
    let mut nearest_params = point_params();
    nearest_params.push(json!({"name": "layer", "in": "path", "required": true, "schema": {"type": "string", "enum": collections}}));
    nearest_params.push(query(
        "k",
        "How many",
        json!({"type": "integer", "default": 5, "minimum": 1, "maximum": 1000}),
        false,
    ));
    nearest_params.push(query(
        "max_distance",
        "Metres",
        json!({"type": "number"}),
        false,
    ));
    nearest_params.push(query(
        "people",
        "Shelters only: minimum free capacity",
        json!({"type": "integer", "minimum": 0}),
        false,
    ));
    let mut around_params = point_params();
    around_params.push(query(
        "radius",
        "Metres",
        json!({"type": "number", "default": 1000, "maximum": 20000}),
        false,
    ));
    json!({
        "openapi": "3.0.3",
        "info": {"title": "gridlink", "version": env!("CARGO_PKG_VERSION"), "description": "District grid-management and emergency-linkage map server"},
        "servers": [{"url": server}],
        "paths": {
            "/ogc": {"get": {"summary": "Landing page", "operationId": "getLandingPage", "responses": ok("Landing page", "application/json")}},
            "/ogc/conformance": {"get": {"summary": "Conformance classes", "operationId": "getConformanceDeclaration", "responses": ok("Conformance", "application/json")}},
            "/ogc/api": {"get": {"summary": "This document", "operationId": "getAPIDefinition", "responses": ok("OpenAPI 3.0", "application/vnd.oai.openapi+json;version=3.0")}},
            "/ogc/collections": {"get": {"summary": "The layers", "operationId": "getCollections", "responses": ok("Collections", "application/json")}},
            "/ogc/collections/{collectionId}": {"get": {"summary": "One layer", "operationId": "describeCollection", "parameters": [collection_id], "responses": ok("Collection", "application/json")}},
            "/ogc/collections/{collectionId}/items": {"get": {
                "summary": "Features of a layer", "operationId": "getFeatures",
                "parameters": [
                    collection_id,
                    query("bbox", "lower and upper corner in the axis order of bbox-crs (CRS84: minlon,minlat,maxlon,maxlat)", json!({"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6}), false),
                    query("bbox-crs", "CRS of bbox, one of the collection's crs list (default CRS84)", json!({"type": "string", "format": "uri"}), false),
                    query("crs", "CRS of the returned coordinates, one of the collection's crs list (default CRS84); axis order as the CRS defines it", json!({"type": "string", "format": "uri"}), false),
                    query("limit", "Page size", json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 10}), false),
                    query("offset", "Features to skip", json!({"type": "integer", "minimum": 0, "default": 0}), false),
                    query("properties", "Comma-separated properties to return", json!({"type": "string"}), false),
                ],
                "responses": ok("Features", "application/geo+json")}},
            "/ogc/collections/{collectionId}/items/{featureId}": {"get": {
                "summary": "One feature", "operationId": "getFeature",
                "parameters": [collection_id, {"name": "featureId", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": ok("Feature", "application/geo+json")}},
            "/api/locate": {"get": {"summary": "Cell, village, town, beat (and unit) of a point", "operationId": "locate", "parameters": locate_params, "responses": ok("Location", "application/json")}},
            "/api/locate/batch": {"post": {
                "summary": "Locate many points (CSV id,lon,lat[,class] or GeoJSON points), streamed as NDJSON or CSV", "operationId": "locateBatch",
                "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}, "application/geo+json": {"schema": {"type": "object"}}}},
                "responses": ok("One line per point", "application/x-ndjson")}},
            "/api/nearest/{layer}": {"get": {"summary": "Nearest features with filters", "operationId": "nearest", "parameters": nearest_params, "responses": ok("Nearest features", "application/json")}},
            "/api/around": {"get": {"summary": "Report around an incident", "operationId": "around", "parameters": around_params, "responses": ok("Report", "application/json")}},
            "/api/layers": {"get": {"summary": "The layer catalogue with counts", "operationId": "layers", "responses": ok("Layers", "application/json")}},
            "/api/track/{id}": {"get": {
                "summary": "A citizen follows their own request: its public view and history in public words (404 for a wrong or missing token)", "operationId": "track",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                    query("token", "The tracking token the report returned", json!({"type": "string"}), true),
                ],
                "responses": ok("The public view and its history", "application/json")}},
            "/api/photos/{hash}": {"get": {
                "summary": "A stored photo, to those who may see its case (staff: the original; everyone else: re-encoded without EXIF)", "operationId": "photo",
                "parameters": [
                    {"name": "hash", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
                    query("thumb", "1: the thumbnail", json!({"type": "string"}), false),
                    query("case", "With token: the reporter's case", json!({"type": "integer"}), false),
                    query("token", "The reporter's tracking token", json!({"type": "string"}), false),
                ],
                "responses": ok("The image", "image/jpeg")}},
            "/healthz": {"get": {"summary": "Health", "operationId": "health", "responses": ok("Health", "application/json")}},
        },
        "components": {"schemas": {"Error": {
            "type": "object",
            "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string", "nullable": true}
            }}}
        }}},
    })
}
