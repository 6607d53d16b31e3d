//! The generator's integration tests, one binary (each file under `tests/` would be a crate of
//! its own, compiled and linked apart: about 50 s each on a cold build here).

mod circuits;
mod common;
mod forge;
mod hooks;
mod models;
mod solc_js;
mod starknet;
