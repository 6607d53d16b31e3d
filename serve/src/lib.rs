//! `zkml serve`'s library: proved inferences sold over HTTP 402 (x402). The `exact` scheme: its
//! checks that need no chain (`exact`) over x402's messages (`x402`, defined once in
//! zkml-verifier-gen beside the escrow's offer) and its settlement on-chain (`settle`); the
//! models on sale (`catalog`), the HTTP routes that sell them (`http`), the durable queue of
//! paid jobs (`jobs`), the workers that prove them (`worker`) and the counters (`metrics`). The
//! `zkml-escrow` scheme (`escrow`): pay on proof, the money in the model's escrow until the
//! server's proof releases it; `pay`, the buyer's side, which `zkml pay` runs.

#![warn(missing_docs)]

pub mod catalog;
pub mod cli;
pub mod escrow;
pub mod exact;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod pay;
pub mod settle;
pub mod worker;
pub use zkml_verifier_gen::x402;

/// The wall clock, Unix seconds: what payments are checked and signed at.
pub(crate) fn unix_now() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
