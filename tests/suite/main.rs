//! All integration tests in one binary: one link instead of one per file, and the demo
//! dataset (`common::demo_dir`) generated once for the whole run instead of once per file.
//! Each module is one former `tests/NAME.rs`; run one with `cargo test --test suite NAME::`.

mod common;

mod bad_sources;
mod cases_api;
mod catalogue;
mod cli;
mod code_tables;
mod demo_dataset;
mod evacuation;
mod export_pmtiles;
mod feeds;
mod field;
mod hazmat;
mod http_api;
mod import_cli;
mod incidents;
mod layer_loading;
mod layering;
mod live_postgis;
mod network;
mod ogc_api;
mod ogc_crs;
mod open311;
mod ops;
mod photos;
mod place;
mod plans_and_responders;
mod postgis_import;
mod public_privacy;
mod query_crs;
mod real_formats;
mod reprojection;
mod shelters;
mod spatial_api;
mod vector_tiles;
