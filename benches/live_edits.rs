//! Live PostGIS edits: edit-to-visible latency under a steady stream of edits.
//!
//! `cargo bench --bench live_edits` (needs PostgreSQL with PostGIS: `GRIDLINK_BENCH_DATABASE`,
//! default the local `test` database). The demo dataset's `shelters` (points) and `grid_cells`
//! (polygons, the layer locate and the grid are built on) are imported into schema
//! `gridlink_bench_live`, the change triggers installed, and a server store follows them. For
//! `GRIDLINK_BENCH_SECONDS` (default 60) per layer, one `UPDATE` of a feature's geometry is
//! committed every 10 ms (100 edits/s), each to another feature; a checker looks at the live
//! store every 2 ms and records when each edit's new geometry is what every answer would read.
//! Reported: achieved rate, p50 / p99 / max edit-to-visible, and as the baseline in the same
//! run the time of a full reload of the store (what showing an edit took before: SIGHUP).
//! Target: p99 ≤ 2 s.

use gridlink::catalog::Catalog;
use gridlink::cli::import::postgis as writer;
use gridlink::sources::SourceContext;
use gridlink::sources::postgis::live;
use gridlink::spatial::{GeometryRef, Layer, LayerStore, SharedStore};
use sqlx::Connection;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SCHEMA: &str = "gridlink_bench_live";
const LAYERS: [&str; 2] = ["shelters", "grid_cells"];
/// Each edit moves its feature north by `n` × this many degrees (n = the edit's number), so
/// every edit leaves a position of its own to look for.
const STEP: f64 = 1e-7;

fn first_y(layer: &Layer, i: usize) -> f64 {
    match layer.geometry(i) {
        GeometryRef::Point(c) => c.y,
        GeometryRef::Polygons(m) => m.0[0].exterior().0[0].y,
        GeometryRef::Lines(m) => m.0[0].0[0].y,
    }
}

/// A copy of the catalogue with the benchmarked layers read from PostGIS.
fn catalogue(data: &std::path::Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(common::repo().join("layers")).expect("layers") {
        let path = entry.expect("entry").path();
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path).expect("layer file");
        let old = format!("path = \"{id}\"");
        let new = if LAYERS.contains(&id) {
            format!("postgis = \"{SCHEMA}.{id}\"")
        } else {
            format!(
                "path = \"{}\"",
                data.join(format!("{id}.geojson")).display()
            )
        };
        let name = path.file_name().expect("name");
        std::fs::write(dir.path().join(name), text.replace(&old, &new)).expect("write");
    }
    dir
}

struct Pending {
    layer: &'static str,
    id: String,
    y: f64,
    committed: Instant,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs the binary without it and
    // must only see that it builds (this benchmark takes minutes and a database schema).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let url = std::env::var("GRIDLINK_BENCH_DATABASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let seconds: u64 = std::env::var("GRIDLINK_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let files = common::store();
    let data = common::data_dir();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let pool = writer::connect(&url).await.expect("database");
        let chosen: Vec<&Layer> = LAYERS
            .iter()
            .map(|id| files.layer(id).expect("layer"))
            .collect();
        writer::import_layers(&pool, SCHEMA, &chosen)
            .await
            .expect("import");
        let layers_dir = catalogue(&data);
        let catalog = Catalog::load(layers_dir.path(), &common::repo().join("data")).expect("catalogue");
        let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
        for def in catalog.layers.iter().filter(|d| d.source.postgis.is_some()) {
            live::install(&mut conn, def, def.source.postgis.as_deref().unwrap_or_default())
                .await
                .expect("trigger");
        }
        let ctx = || SourceContext::new(&data, Some(url.clone())).expect("context");
        let reload_started = Instant::now();
        let loaded = LayerStore::load_with(catalog.clone(), &ctx()).expect("loads");
        let reload = reload_started.elapsed();
        let store = SharedStore::new(loaded);
        gridlink::spatial::live::spawn(store.clone(), ctx())
            .await
            .expect("live loop");

        println!("full reload of the store (baseline: showing an edit by SIGHUP): {reload:.2?}");
        for layer_id in LAYERS {
            let snapshot = store.snapshot();
            let layer = snapshot.layer(layer_id).expect("layer");
            let count = layer.len().min(2000);
            let ids: Vec<(String, f64)> = (0..count)
                .map(|i| (layer.id(i).to_string(), first_y(layer, i)))
                .collect();
            drop(snapshot);
            let pending: Arc<Mutex<Vec<Pending>>> = Arc::default();
            let seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let checker = {
                let (store, pending, seen, done) =
                    (store.clone(), pending.clone(), seen.clone(), done.clone());
                tokio::spawn(async move {
                    loop {
                        let empty = {
                            let snapshot = store.snapshot();
                            let now = Instant::now();
                            let mut waiting = pending.lock().expect("lock");
                            waiting.retain(|p| {
                                let layer = snapshot.layer(p.layer).expect("layer");
                                let visible = layer.find(&p.id).is_some_and(|i| {
                                    (first_y(layer, i) - p.y).abs() < STEP / 10.0
                                });
                                if visible {
                                    seen.lock().expect("lock").push(now - p.committed);
                                }
                                !visible
                            });
                            waiting.is_empty()
                        };
                        if empty && done.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                })
            };
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let started = Instant::now();
            let mut edits = 0usize;
            while started.elapsed() < Duration::from_secs(seconds) {
                tick.tick().await;
                let (id, y0) = &ids[edits % ids.len()];
                // The n-th edit of a feature leaves it n steps north of where it started.
                let n = (edits / ids.len() + 1) as f64;
                sqlx::query(&format!(
                    "UPDATE \"{SCHEMA}\".\"{layer_id}\" SET geom = ST_Translate(geom, 0, $1) WHERE id = $2"
                ))
                .bind(STEP)
                .bind(id)
                .execute(&pool)
                .await
                .expect("edit");
                pending.lock().expect("lock").push(Pending {
                    layer: layer_id,
                    id: id.clone(),
                    y: y0 + n * STEP,
                    committed: Instant::now(),
                });
                edits += 1;
            }
            let elapsed = started.elapsed();
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            let waited = tokio::time::timeout(Duration::from_secs(30), checker).await;
            let mut latencies = seen.lock().expect("lock").clone();
            latencies.sort();
            let lost = edits - latencies.len();
            let p99 = percentile(&latencies, 0.99);
            println!(
                "{layer_id:<11} {edits} edits in {elapsed:.1?} ({:.0}/s): edit→visible p50 {} ms, p99 {} ms, max {} ms; {lost} not seen{}; p99 / full reload = {:.3}",
                edits as f64 / elapsed.as_secs_f64(),
                percentile(&latencies, 0.5).as_millis(),
                p99.as_millis(),
                latencies.last().copied().unwrap_or_default().as_millis(),
                if waited.is_err() { " (checker timed out)" } else { "" },
                p99.as_secs_f64() / reload.as_secs_f64()
            );
        }
        sqlx::raw_sql(&format!("DROP SCHEMA \"{SCHEMA}\" CASCADE"))
            .execute(&pool)
            .await
            .expect("drop");
    });
}
