//! `GET /metrics`: what a server has done, for Prometheus (OpenMetrics text, `prometheus-client`).
//!
//! - `zkml_inference_requests_total{status}`: inference requests answered, by HTTP status (so
//!   402s, 4xx refusals, 503s of a full queue and 200s apart).
//! - `zkml_settlements_total`: payments settled on-chain.
//! - `zkml_proofs_total`, `zkml_proof_failures_total`: proofs made, and proofs that failed after
//!   their payment was settled (each one a buyer to make whole).
//! - `zkml_prove_seconds`: the time of each proof (histogram).
//! - `zkml_queue_depth`, `zkml_queue_capacity`: paid requests in the server now, and how many it
//!   admits at once.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The media type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A server's counters, registered once.
pub struct Metrics {
    registry: Registry,
    requests: Family<Vec<(String, String)>, Counter>,
    /// Payments settled.
    pub settlements: Counter,
    /// Proofs made.
    pub proofs: Counter,
    /// Proofs that failed after their payment was settled.
    pub proof_failures: Counter,
    /// Seconds per proof.
    pub prove_seconds: Histogram,
    /// Paid requests in the server now.
    pub queue_depth: Gauge<i64, std::sync::atomic::AtomicI64>,
}

impl Metrics {
    /// The counters of a server that admits `queue` paid requests at once.
    pub fn new(queue: usize) -> Self {
        let mut registry = Registry::with_prefix("zkml");
        let requests = Family::<Vec<(String, String)>, Counter>::default();
        registry.register("inference_requests", "Inference requests answered, by HTTP status", requests.clone());
        let settlements = Counter::default();
        registry.register("settlements", "Payments settled on-chain", settlements.clone());
        let proofs = Counter::default();
        registry.register("proofs", "Proofs made", proofs.clone());
        let proof_failures = Counter::default();
        registry.register(
            "proof_failures",
            "Proofs that failed after their payment was settled",
            proof_failures.clone(),
        );
        // 0.05 s to ~100 s: price_mlp's wrap to the largest models'.
        let prove_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 12));
        registry.register("prove_seconds", "Time of each proof", prove_seconds.clone());
        let queue_depth = Gauge::default();
        registry.register("queue_depth", "Paid requests in the server now", queue_depth.clone());
        let queue_capacity = Gauge::<u64, AtomicU64>::default();
        queue_capacity.set(queue as u64);
        registry.register("queue_capacity", "Paid requests admitted at once", queue_capacity);
        Metrics { registry, requests, settlements, proofs, proof_failures, prove_seconds, queue_depth }
    }

    /// Counts an inference request answered with `status`.
    pub fn answered(&self, status: u16) {
        self.requests.get_or_create(&vec![("status".to_string(), status.to_string())]).inc();
    }

    /// The OpenMetrics text of every counter.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
