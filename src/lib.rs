//! gridlink: the map and case server of a district grid-management and emergency-linkage centre.
//!
//! # The house
//!
//! Each top-level module is a room; the rooms stand on floors, and a room uses only rooms on
//! the floors below it (never one beside it or above it). `tests/suite/layering.rs` holds the same
//! table and fails when an import runs up or across.
//!
//! ```text
//!  floor  rooms                               what they are
//!  ─────  ──────────────────────────────────  ──────────────────────────────────────────────
//!    1    cli                                 the `gridlink` commands
//!    2    http          config                the HTTP API (thin: parse → one call → render);
//!                                             settings from gridlink.toml and the environment
//!    3    tiles  feeds  shelters  field       vector tiles and glyphs; station readings and
//!         incidents  demo                     alerts; shelter reports; field positions,
//!                                             fences and patrol coverage; incidents, tasks,
//!                                             teams and depot stock; the demo dataset
//!    4    cases                               the case workflow, keys, appraisal, public view
//!    5    services                            pure spatial answers over the layer store:
//!                                             locate, place, route, nearest, around, hazmat,
//!                                             allocation, siting — state comes in as values
//!    6    spatial                             the layer store: R-trees, CRS, distances, grid;
//!                                             live PostGIS layers
//!    7    sources       db        photos      layer readers; the application database and
//!                                             LISTEN/NOTIFY; stored photos
//!    8    catalog                             the layer catalogue and the code tables
//! ```
//!
//! A request for `/api/locate` runs `http → services → spatial`; a case report runs
//! `http → cases → services (place) → spatial`, and `cases → db` to store it; a shelter report
//! runs `http → shelters → db`, and `shelters → services` for the rules it keeps. Nothing
//! runs back up: a lower room that needs something from a higher one is given it (the live
//! shelter state is an argument of `nearest`, `around` and `analyse`).

pub mod cases;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod feeds;
pub mod field;
pub mod http;
pub mod incidents;
pub mod photos;
pub mod services;
pub mod shelters;
pub mod sources;
pub mod spatial;
pub mod tiles;
