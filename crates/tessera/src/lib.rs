//! The parts of the `tessera` binary that other crates build too: the configuration (its file
//! format and its `TESSERA_*` environment layer), which the fuzz targets parse. Everything else
//! of the binary is in `main.rs` and its modules.

pub mod config;
pub mod layers;
