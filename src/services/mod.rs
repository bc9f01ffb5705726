//! What the centre asks all day, answered from the layer store: which cell, village, town and
//! unit own a point; what is nearest; what is around an incident. Each service is a plain
//! function over the store, so the HTTP handlers, the batch path and the benchmarks share it.
//!
//! Floor 5 (see the crate doc): uses `spatial` and `catalog` only — no database, no HTTP. What
//! changes while the server runs (the live shelter state) comes in as an argument.

pub mod allocate;
pub mod around;
mod error;
pub mod hazmat;
pub mod locate;
pub mod nearest;
pub mod occupancy;
pub mod place;
pub mod routing;
pub mod search;
pub mod siting;

pub use error::ServiceError;

use crate::catalog::Access;
use crate::spatial::Layer;

/// Who is asking: anonymous users see public layers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Public,
    Staff,
}

impl Viewer {
    pub fn may_see(self, layer: &Layer) -> bool {
        self == Viewer::Staff || layer.def.access == Access::Public
    }
}
