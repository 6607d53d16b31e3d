//! `zkml serve`'s library: proved inferences sold over HTTP 402 (x402). So far the checks of the
//! `exact` scheme that need no chain (`exact`), over x402's messages (`x402`, defined once in
//! zkml-verifier-gen beside the escrow's offer); the HTTP routes, settlement and the job queue
//! come next (issue "`zkml serve` and `zkml pay`").

#![warn(missing_docs)]

pub mod exact;
pub use zkml_verifier_gen::x402;
