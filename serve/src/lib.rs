//! `zkml serve`'s library: proved inferences sold over HTTP 402 (x402). So far the protocol's
//! messages and headers (`x402`) and the checks of the `exact` scheme that need no chain
//! (`exact`); the HTTP routes, settlement and the job queue come next (issue "`zkml serve` and
//! `zkml pay`").

#![warn(missing_docs)]

pub mod exact;
pub mod x402;
