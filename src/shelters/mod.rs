//! Shelters (避难场所) as they stand during an emergency: managers' reports of who is in and
//! whether a shelter takes people, and the allocations committed into them — stored in the
//! application database, held in memory as one snapshot, and shared with the other servers.
//!
//! The pure part — the state as a value and the rules a report keeps — is
//! [`crate::services::occupancy`], so allocation, nearest, around and hazmat take the state
//! as an argument and never touch a database.
//!
//! Floor 3 (see the crate doc): uses `cases` (who acts), `services`, `spatial`, `db` (its own
//! tables, in `store.rs`) and `catalog`; `http` and `cli` above use it.

mod service;
pub mod store;

pub use service::{CHANNEL, ShelterChange, ShelterService};
pub use store::{ShelterEvent, history};
