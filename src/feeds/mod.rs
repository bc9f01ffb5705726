//! Hydrological and weather feeds: readings from the district's rain gauges, water-level and
//! weather stations (the features of the station layers), stored idempotently, the newest
//! value of every series kept in memory, and colour-graded alerts (blue/yellow/orange/red, from
//! `data/thresholds.toml`) raised once per upward crossing, each listing the flood-prone points
//! and villages around the station so the duty officer knows where to send pumps and whom to
//! warn.
//!
//! Floor 3 (see the crate doc): uses `cases` (the clock), `services`, `spatial`, `db` (its own
//! tables, in `store.rs`) and `catalog`; `http` and `cli` above use it.

pub mod alerts;
pub mod error;
pub mod level;
pub mod reading;
pub mod service;
pub mod stations;
pub mod store;
pub mod synthetic;
pub mod thresholds;

pub use alerts::{Alert, Nearby};
pub use error::FeedError;
pub use level::AlertLevel;
pub use service::{AlertEvent, FeedService, IngestOutcome};
pub use store::AlertFilter;
pub use thresholds::FeedConfig;

use crate::cases::Clock;
use crate::db::Db;
use crate::spatial::SharedStore;
use std::path::Path;

/// Starts the feed service for `gridlink serve`: thresholds from `TABLES_DIR/thresholds.toml`,
/// readings and alerts in the application database. Without the file the server runs without feeds
/// (a warning says so); a broken file stops the start, naming the field, like a broken code
/// table does.
pub async fn start_for_serve(
    tables_dir: &Path,
    db: &Db,
    store: &SharedStore,
    clock: Clock,
) -> Result<Option<FeedService>, FeedError> {
    let path = tables_dir.join(thresholds::FILE_NAME);
    if !path.is_file() {
        tracing::warn!(
            "{} not found: the hydrological and weather feeds are off",
            path.display()
        );
        return Ok(None);
    }
    let config = FeedConfig::load(&path)?;
    FeedService::start(db.clone(), store.clone(), config, clock)
        .await
        .map(Some)
}
