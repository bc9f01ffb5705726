//! The in-memory geometry store: validated features in typed columns and R-trees.

pub mod columns;
pub mod crs;
pub mod detour;
pub mod distance;
pub mod grid;
pub mod index;
pub mod layer;
pub mod live;
pub mod locator;
pub mod store;
pub mod topology;
pub mod validate;

pub use columns::PropertyValue;
pub use layer::{Frame, GeometryRef, Layer, LoadReport, Reading, Shift};
pub use store::{LayerStore, SharedStore, StoreError};
