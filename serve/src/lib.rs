//! `zkml serve`'s library: proved inferences sold over HTTP 402 (x402). So far the `exact`
//! scheme: its checks that need no chain (`exact`) over x402's messages (`x402`, defined once in
//! zkml-verifier-gen beside the escrow's offer), and its settlement on-chain (`settle`); the HTTP
//! routes, proving for the buyer and the job queue come next (issue "`zkml serve` and
//! `zkml pay`").

#![warn(missing_docs)]

pub mod exact;
pub mod settle;
pub use zkml_verifier_gen::x402;
