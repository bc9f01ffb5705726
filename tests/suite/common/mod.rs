//! Shared fixtures: the demo dataset, generated once for the test binary, and its loaded store.
#![allow(dead_code)]

pub mod cases;

use gridlink::catalog::{Catalog, CodeTables};
use gridlink::demo::{DEFAULT_SEED, GenOptions, generate};
use gridlink::http::{AppState, router};
use gridlink::services::Viewer;
use gridlink::spatial::{LayerStore, SharedStore};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn layers_dir() -> PathBuf {
    repo().join("layers")
}

pub fn tables_dir() -> PathBuf {
    repo().join("data")
}

pub fn generate_into(dir: &Path, seed: u64, scale: f64, layers: &Path) {
    generate(&GenOptions {
        output: Default::default(),
        seed,
        scale,
        layers_dir: layers.to_path_buf(),
        tables_dir: tables_dir(),
        out_dir: dir.to_path_buf(),
    })
    .expect("demo data generates");
}

/// The default demo dataset (scale 1), generated on first use into a directory that lives as
/// long as the test process.
pub fn demo_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        generate_into(dir.path(), DEFAULT_SEED, 1.0, &layers_dir());
        dir
    })
    .path()
}

pub fn catalog() -> Catalog {
    Catalog::load(&layers_dir(), &tables_dir()).expect("the shipped catalogue loads")
}

/// The demo store, loaded once per test binary and shared by every router built from it.
pub fn shared_store() -> &'static SharedStore {
    static STORE: OnceLock<SharedStore> = OnceLock::new();
    STORE.get_or_init(|| {
        SharedStore::new(LayerStore::load(catalog(), demo_dir()).expect("demo data loads"))
    })
}

pub fn demo_store() -> &'static LayerStore {
    static SNAPSHOT: OnceLock<std::sync::Arc<LayerStore>> = OnceLock::new();
    SNAPSHOT.get_or_init(|| shared_store().snapshot())
}

pub fn tables() -> CodeTables {
    CodeTables::load(&tables_dir()).expect("code tables load")
}

/// The real router over the demo data, as the public (or, with `staff`, as staff) sees it.
pub fn app(staff: bool) -> axum::Router {
    let mut state = AppState::new(shared_store().clone(), tables());
    if staff {
        state.default_viewer = Viewer::Staff;
    }
    router(state)
}

/// Sends a request through the router; returns status, content type and body.
pub async fn send(
    app: axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, String, bytes::Bytes) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = app.oneshot(request).await.expect("router answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, content_type, body)
}

/// GET as the public; the body parsed as JSON.
pub async fn get_json(path: &str) -> (axum::http::StatusCode, serde_json::Value) {
    get_json_as(path, false).await
}

pub async fn get_json_as(path: &str, staff: bool) -> (axum::http::StatusCode, serde_json::Value) {
    let request = axum::http::Request::get(path)
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, body) = send(app(staff), request).await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!("{path}: not JSON ({e}): {}", String::from_utf8_lossy(&body))
        }),
    )
}

/// Copies the shipped catalogue into a temp dir so a test can edit it.
pub fn copy_layers() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(layers_dir()).expect("layers dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
    }
    dir
}

/// A copy of the catalogue whose `[source]` of each named layer is replaced by `source(id)`;
/// the other layers read the GeoJSON demo (one catalogue may mix formats).
pub fn catalogue(layers: &[&str], source: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = copy_layers();
    for def in &catalog().layers {
        let id = def.id.as_str();
        let path = dir.path().join(format!("{id}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let old = format!("path = \"{id}\"");
        assert!(text.contains(&old), "{id}: {text}");
        let new = if layers.contains(&id) {
            source(id)
        } else {
            format!(
                "path = \"{}\"",
                demo_dir().join(format!("{id}.geojson")).display()
            )
        };
        std::fs::write(&path, text.replace(&old, &new)).unwrap();
    }
    dir
}

/// The Web Mercator tile (x, y) holding a point at zoom `z`, computed here independently of the
/// server's code.
pub fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    (x as u32, y as u32)
}
