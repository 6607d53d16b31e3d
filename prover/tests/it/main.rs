//! The prover's integration tests, one binary (each file under `tests/` would be a crate of its
//! own, compiled and linked apart: about 50 s each on a cold build here).

mod common;
mod conformance;
mod fuzz;
mod keys;
mod models;
mod modules;
mod operators;
mod phase2;
mod ptau;
mod recurrent;
mod wrap;
mod zoo;
