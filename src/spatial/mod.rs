//! The in-memory geometry store: validated features in typed columns and R-trees.
//!
//! Floor 6 (see the crate doc): uses `sources` (to load), `db` (to follow live PostGIS layers
//! through LISTEN/NOTIFY) and `catalog`.

pub mod columns;
pub mod crs;
pub mod detour;
pub mod distance;
pub mod geometry;
pub mod grid;
pub mod index;
pub mod layer;
pub mod live;
pub mod locator;
pub mod store;
pub mod topology;
pub mod validate;

pub use columns::PropertyValue;
pub use geometry::GeometryRef;
pub use layer::{Frame, Layer, LoadReport, Reading, Shift};
pub use store::{LayerStore, SharedStore, StoreError};
