//! The field: positions of inspectors (监督员) walking their beats and of emergency team
//! vehicles, the newest of each in memory for "who is nearest" and "who is inside", tracks in
//! the database, fences (beats, towns, posted areas) with enter/exit/cross events exactly once
//! per crossing, and patrol coverage (巡查覆盖率) per beat and day. Tile38 is the model for the
//! live part (NEARBY / WITHIN, fences with enter/exit/cross, hooks).
//!
//! Floor 3 (see the crate doc), beside feeds and shelters: uses `cases` (the clock),
//! `spatial`, `db` (its own tables, in `store.rs`) and `catalog`; `http` and `cli` use it.

pub mod config;
pub mod coverage;
pub mod error;
pub mod fences;
pub mod fix;
pub mod live;
pub mod service;
pub mod store;
pub mod track;
pub mod webhook;
pub mod workers;

pub use config::FieldConfig;
pub use error::FieldError;
pub use fences::{Crossing, Fence};
pub use live::{Latest, Wanted};
pub use service::{FenceEvent, FieldEvent, FieldService, IngestOutcome, NewFence, Permit};
pub use workers::{Worker, WorkerType, Workers};

use crate::cases::Clock;
use crate::db::Db;
use crate::spatial::SharedStore;
use std::path::Path;

/// Starts the field service for `gridlink serve`: settings from `TABLES_DIR/field.toml`
/// (defaults without it), positions and fences in the application database.
pub async fn start_for_serve(
    tables_dir: &Path,
    db: &Db,
    store: &SharedStore,
    clock: Clock,
) -> Result<FieldService, FieldError> {
    let config = FieldConfig::load(&tables_dir.join(config::FILE_NAME))?;
    FieldService::start(db.clone(), store.clone(), config, clock).await
}
