//! Incidents (突发事件): proposed by feed alerts and leak zones whose plan trigger matches,
//! opened by duty officers or escalated from cases, confirmed into an active response under a
//! plan at a level, with an append-only timeline and tasks for units, teams and depots; and the
//! teams and depot stock as live resources that tasks book.
//!
//! Floor 3 (see the crate doc), beside `feeds` and `shelters`: it never imports them — an
//! alert reaches it as a plain [`triggers::AlertSignal`] from the layer above, which calls
//! both in the request that stores the reading. Uses `cases` (who acts), `services` (nearest,
//! locate, the leak-zone analysis), `spatial`, `db` (its tables, in `store.rs` and
//! `resource_store.rs`) and `catalog` (the plans).

pub mod error;
pub mod generate;
pub mod model;
pub mod resource_store;
pub mod resources;
pub mod service;
pub mod store;
pub mod triggers;
pub mod workflow;

pub use error::IncidentError;
pub use model::{Incident, IncidentStatus, Source, Task, TaskStatus, TimelineEntry};
pub use resources::{Resources, TeamStatus};
pub use service::{CHANNEL, IncidentEvent, IncidentService, Page, ProposalOutcome};
pub use triggers::{AlertSignal, LeakSignal};
pub use workflow::{IncidentAction, TaskAction};
