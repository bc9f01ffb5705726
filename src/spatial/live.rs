//! PostGIS layers that update while the server runs. The table triggers
//! ([`crate::sources::postgis::live`]) announce each committed row change; this loop gathers
//! the announcements for [`BATCH_WINDOW`], reads just the changed rows, checks them by the load
//! rules and swaps in a store where only the changed layers are rebuilt. A refused row (invalid
//! geometry, outside the district, bad value) keeps the feature's last valid version and is
//! logged and listed in the layer's report (`/healthz`). The listening is
//! [`crate::db::notify`]'s: if its connection drops, announcements may have been missed, so
//! every live layer is read again in full.

use super::layer::Frame;
use super::store::{LayerStore, SharedStore, reading};
use crate::catalog::{LayerDef, Role};
use crate::db::notify::Listener;
use crate::sources::postgis::PostgisSource;
use crate::sources::postgis::live::{self as triggers, CHANNEL, Change, Op};
use crate::sources::{RawItem, SourceContext};
use sqlx::Connection;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long announcements are gathered before they are applied: one rebuild per layer for a
/// burst of edits, and still well inside the 2 s an editor may wait.
pub const BATCH_WINDOW: Duration = Duration::from_millis(100);

/// A PostGIS layer followed live.
struct LiveLayer {
    def: Arc<LayerDef>,
    source: PostgisSource,
}

/// What one batch did, for the log and for callers that wait for an edit (tests, benchmarks).
#[derive(Debug, Default, Clone)]
pub struct Applied {
    pub layers: Vec<String>,
    pub added: usize,
    pub removed: usize,
    pub refused: usize,
}

/// Starts following every PostGIS layer of the store, if there are any and a layers database
/// is configured. Returns the task, or `None` when there is nothing to follow.
pub async fn spawn(store: SharedStore, ctx: SourceContext) -> Option<tokio::task::JoinHandle<()>> {
    let url = ctx.database.clone()?;
    let defs: Vec<Arc<LayerDef>> = store
        .snapshot()
        .layers()
        .iter()
        .filter(|l| l.def.source.postgis.is_some())
        .map(|l| l.def.clone())
        .collect();
    if defs.is_empty() {
        return None;
    }
    let opened = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || open_all(&defs, &url)).await
    };
    let layers = match opened {
        Ok(layers) => layers,
        Err(e) => {
            tracing::error!("opening the live layers failed: {e}");
            return None;
        }
    };
    warn_without_triggers(&url, &layers).await;
    let pool = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy(&url)
    {
        Ok(pool) => pool,
        Err(e) => {
            tracing::error!("the layers database URL is unusable: {e}");
            return None;
        }
    };
    // Listen before returning, so no edit committed after the start is missed.
    let listener = Listener::postgres(&pool, CHANNEL).await;
    Some(tokio::spawn(run(store, ctx, Arc::new(layers), listener)))
}

fn open_all(defs: &[Arc<LayerDef>], url: &str) -> HashMap<String, LiveLayer> {
    let mut layers = HashMap::new();
    for def in defs {
        let Some(table) = def.source.postgis.as_deref() else {
            continue;
        };
        match PostgisSource::open(def, table, Some(url)) {
            Ok(source) => {
                layers.insert(
                    triggers::qualified(table),
                    LiveLayer {
                        def: def.clone(),
                        source,
                    },
                );
            }
            Err(e) => tracing::warn!(layer = %def.id, "not followed live: {e}"),
        }
    }
    layers
}

async fn warn_without_triggers(url: &str, layers: &HashMap<String, LiveLayer>) {
    let Ok(mut conn) = sqlx::PgConnection::connect(url).await else {
        return;
    };
    for (table, layer) in layers {
        if let Ok(false) = triggers::installed(&mut conn, table).await {
            tracing::warn!(
                layer = %layer.def.id,
                table = %table,
                "no change trigger: edits show only after a restart or SIGHUP — run `gridlink postgis install-triggers`"
            );
        }
    }
    let _ = conn.close().await;
}

async fn run(
    store: SharedStore,
    ctx: SourceContext,
    layers: Arc<HashMap<String, LiveLayer>>,
    mut listener: Listener,
) {
    let ctx = Arc::new(ctx);
    tracing::info!(layers = layers.len(), "following PostGIS layers live");
    while let Some(batch) = listener.batch(BATCH_WINDOW).await {
        if batch.missed {
            // Edits made while nobody listened were not announced: read every layer again
            // (which covers whatever this batch holds too).
            resync(&store, &ctx, &layers).await;
            continue;
        }
        let changes: Vec<Change> = batch
            .notices
            .iter()
            .filter_map(|payload| match Change::parse(payload) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!("{e}");
                    None
                }
            })
            .collect();
        let (store, ctx, layers) = (store.clone(), ctx.clone(), layers.clone());
        let started = Instant::now();
        match tokio::task::spawn_blocking(move || apply(&store, &ctx, &layers, changes)).await {
            Ok(applied) if !applied.layers.is_empty() => tracing::info!(
                layers = ?applied.layers,
                added = applied.added,
                removed = applied.removed,
                refused = applied.refused,
                ms = started.elapsed().as_millis() as u64,
                "applied layer edits"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!("applying layer edits failed: {e}"),
        }
    }
}

/// The district frame edits must land in, from the current store.
fn frame(store: &LayerStore) -> Option<Frame> {
    store.by_role(Role::District).and_then(Frame::around)
}

/// Applies one batch of announcements: per table, fetch the changed rows and swap in the
/// rebuilt layer. Blocking (it reads the database and rebuilds indexes).
fn apply(
    store: &SharedStore,
    ctx: &SourceContext,
    layers: &HashMap<String, LiveLayer>,
    changes: Vec<Change>,
) -> Applied {
    let mut by_table: HashMap<&str, Vec<&Change>> = HashMap::new();
    for change in &changes {
        by_table
            .entry(change.table.as_str())
            .or_default()
            .push(change);
    }
    let mut applied = Applied::default();
    for (table, changes) in by_table {
        let Some(live) = layers.get(table) else {
            continue;
        };
        let result = if changes.iter().any(|c| c.op == Op::Truncate) {
            reload(store, ctx, live)
        } else {
            apply_rows(store, live, &changes)
        };
        match result {
            Ok(Some((added, removed, refused))) => {
                applied.layers.push(live.def.id.clone());
                applied.added += added;
                applied.removed += removed;
                applied.refused += refused;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(layer = %live.def.id, "edit not applied, keeping the layer as it was: {e}")
            }
        }
    }
    applied
}

type Counts = Option<(usize, usize, usize)>;

fn apply_rows(
    store: &SharedStore,
    live: &LiveLayer,
    changes: &[&Change],
) -> Result<Counts, crate::sources::SourceError> {
    let mut fetch: Vec<String> = Vec::new();
    let mut replaces: HashMap<String, Vec<String>> = HashMap::new();
    let mut gone: Vec<(Option<&str>, &str)> = Vec::new();
    for change in changes {
        if let Some(key) = &change.key {
            fetch.push(key.clone());
        }
        if let Some(old_id) = &change.old_id {
            match &change.key {
                Some(key) => replaces
                    .entry(key.clone())
                    .or_default()
                    .push(old_id.clone()),
                None => gone.push((change.old_key.as_deref(), old_id)),
            }
        }
    }
    fetch.sort();
    fetch.dedup();
    let items: Vec<RawItem> = if fetch.is_empty() {
        Vec::new()
    } else {
        live.source.fetch(&live.def, &fetch)?
    };
    let found: HashSet<&str> = items.iter().filter_map(|i| i.key.as_deref()).collect();
    // A row updated out of the layer's `where`, or deleted since, is gone: its old id goes.
    let mut removed: HashSet<String> = gone
        .iter()
        .filter(|(key, _)| key.is_none_or(|k| !found.contains(k)))
        .map(|(_, id)| id.to_string())
        .collect();
    for (key, olds) in &replaces {
        if !found.contains(key.as_str()) {
            removed.extend(olds.iter().cloned());
        }
    }
    let mut outcome = None;
    store.update_layer(&live.def.id, |layer| {
        let current = store.snapshot();
        let reading = reading(&live.def, &live.source, frame(&current)).ok()?;
        let changed = layer.with_changes(reading, items.clone(), &replaces, &removed);
        for problem in &changed.refused {
            tracing::warn!(layer = %live.def.id, at = %problem.place(), reason = %problem.reason, "edit refused, the feature keeps its last valid version");
        }
        outcome = Some((changed.added, changed.removed, changed.refused.len()));
        Some(changed.layer)
    });
    Ok(outcome)
}

fn reload(
    store: &SharedStore,
    ctx: &SourceContext,
    live: &LiveLayer,
) -> Result<Counts, crate::sources::SourceError> {
    let layer = LayerStore::load_one_in(&live.def, ctx, frame(&store.snapshot()))?;
    let (added, refused) = (layer.len(), layer.report.problems.len());
    let mut layer = Some(layer);
    let swapped = store.update_layer(&live.def.id, |_| layer.take());
    Ok(swapped.then_some((added, 0, refused)))
}

async fn resync(
    store: &SharedStore,
    ctx: &Arc<SourceContext>,
    layers: &Arc<HashMap<String, LiveLayer>>,
) {
    let (store, ctx, layers) = (store.clone(), ctx.clone(), layers.clone());
    let _ = tokio::task::spawn_blocking(move || {
        for live in layers.values() {
            if let Err(e) = reload(&store, &ctx, live) {
                tracing::error!(layer = %live.def.id, "re-reading after a lost connection failed, keeping the layer: {e}");
            }
        }
    })
    .await;
}
