//! Cases: reported problems moving through the workflow (report → file → dispatch → handle →
//! verify → close), stored in SQLite or PostgreSQL, with API keys and appraisal.
//!
//! Floor 4 of the house (see the crate doc): uses `services` (place, routing), `spatial`,
//! `db` (its own tables, in `store.rs` and `keys.rs`), `photos` and `catalog`. The rooms above
//! (`feeds`, `shelters`, `tiles`, `http`) build on it — who acts, the clock — never the other way.

pub mod appraisal;
pub mod clock;
pub mod error;
pub mod intake;
pub mod keys;
pub mod model;
pub mod network;
pub mod public_view;
pub mod service;
pub mod store;
pub mod supervision;
pub mod workflow;

pub use clock::Clock;
pub use error::CaseError;
pub use model::{Action, Actor, Case, Event, Role, Status};
pub use network::{NetworkPolicy, Node};
pub use public_view::{PublicCase, PublicPolicy, public_view};
pub use service::{ActionRequest, CaseService, Report};
pub use store::{CaseFilter, CaseStore};
