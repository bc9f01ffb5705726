//! gridlink: the map and case server of a district grid-management and emergency-linkage centre.
//!
//! The module tree follows the architecture in `README.md`: the [`catalog`] says which layers
//! and classes exist, [`sources`] read layer files, [`spatial`] holds the loaded layers in
//! R-trees, [`http`] serves them, and [`demo`] generates the Fengxian demo dataset.

pub mod cases;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod feeds;
pub mod http;
pub mod photos;
pub mod services;
pub mod shelters;
pub mod sources;
pub mod spatial;
pub mod tiles;
