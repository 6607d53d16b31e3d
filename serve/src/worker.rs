//! The workers that prove paid jobs: each claims the oldest settled job (`jobs`), proves it with
//! the model's wrap keys and stores the answer ([`Inference`]), one job at a time. The server runs
//! them in its own process (`--workers`); `zkml worker` runs them in processes of their own on
//! the same queue (PostgreSQL), each under its own name.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use zkml::artifact::{self, AnyProof};
use zkml::field::F;
use zkml::ir::Trace;
use zkml::wrap::two_round;
use zkml::{context, pipeline};
use zkml_verifier_gen::calldata::fr_to_u256;

use crate::catalog::{Catalog, Listing};
use crate::jobs::{Job, JobError, JobStore};
use crate::metrics::Metrics;
use crate::x402::SettlementResponse;

/// How often an idle worker looks at the queue when nothing woke it (a job settled by another
/// process).
pub const POLL: Duration = Duration::from_millis(100);

/// What a paid inference answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inference {
    /// The model's name in URLs.
    pub model: String,
    /// The dequantized output.
    pub output: Vec<f64>,
    /// The context the proof is bound to (`http::payment_context`), decimal.
    pub context: String,
    /// The proof file's bytes (`zkml prove --wrap` writes the same), 0x hex.
    pub proof: String,
    /// The proof's public inputs, decimal.
    pub public_inputs: Vec<String>,
    /// Calldata of the generated Solidity verifier's typed entry point, 0x hex
    /// (`zkml-gen calldata` prints the same).
    pub calldata: String,
    /// The salts of the commitments to `hashed` tensors, by tensor name (`input`, `output`):
    /// whoever opens a commitment needs its salt, which the proof does not carry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub salts: BTreeMap<String, String>,
    /// The settlement (for `zkml-escrow`, the escrow request's opening), as `PAYMENT-RESPONSE`
    /// also says.
    pub payment: SettlementResponse,
    /// For `zkml-escrow`, the transaction in which the proof released the escrow's money to the
    /// provider, once the server sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

impl Inference {
    /// The wrapped proof the answer carries, with its public inputs.
    pub fn wrapped_proof(&self) -> Result<two_round::Proof, String> {
        let bytes = alloy::primitives::hex::decode(&self.proof).map_err(|e| format!("the answer's proof: {e}"))?;
        match artifact::decode_any_proof(&bytes, "the answer's proof").map_err(|e| e.to_string())? {
            AnyProof::TwoRound(w) => Ok(w),
            AnyProof::Stage1(_) => Err("the answer's proof is a stage-1 proof, not a wrapped one".into()),
        }
    }
}

/// The workers of one process and what they share: the models, the queue, the runs that
/// requests in this process made before paying, and the counters.
pub struct Provers {
    catalog: Catalog,
    jobs: JobStore,
    lease: Duration,
    // How many workers this process runs.
    workers: usize,
    // The run each request made before its payment, for the worker in this process that proves
    // it (a worker elsewhere, or after a restart, runs the model again from the stored input).
    traces: Mutex<HashMap<String, Trace>>,
    // A settled job for the workers; a finished one for the requests waiting on it.
    settled: Notify,
    finished: Notify,
    metrics: Metrics,
}

impl Provers {
    /// `workers` workers proving `catalog`'s models from `jobs` (started by [`Provers::start`]);
    /// a job another worker held for longer than `lease` is taken over (that worker presumed
    /// gone).
    pub fn new(catalog: Catalog, jobs: JobStore, metrics: Metrics, lease: Duration, workers: usize) -> Arc<Self> {
        Arc::new(Provers {
            catalog,
            jobs,
            lease,
            workers,
            traces: Mutex::new(HashMap::new()),
            settled: Notify::new(),
            finished: Notify::new(),
            metrics,
        })
    }

    /// The models.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The queue.
    pub fn jobs(&self) -> &JobStore {
        &self.jobs
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Job `id` was settled in this process, with `trace` the run its request made (kept for a
    /// worker of this process, if it has any, until [`Provers::drop_run`]): a worker is woken.
    pub fn settled(&self, id: &str, trace: Option<Trace>) {
        if let Some(trace) = trace.filter(|_| self.workers > 0) {
            self.traces.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string(), trace);
        }
        self.settled.notify_one();
    }

    /// Forgets the run kept for job `id` (its request is answered): a worker that takes the job
    /// later runs the model again, so that only the runs of requests in flight are kept.
    pub fn drop_run(&self, id: &str) {
        self.traces.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    /// Waits until a worker of this process finishes a job, at most `max`.
    pub async fn finished(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.finished.notified()).await;
    }

    /// Starts the workers, named `{prefix}-{i}`: first, what workers of those names held (before
    /// a restart) goes back to the queue.
    pub async fn start(self: &Arc<Self>, prefix: &str) -> Result<(), JobError> {
        let names: Vec<String> = (0..self.workers).map(|i| format!("{prefix}-{i}")).collect();
        for name in &names {
            self.jobs.release(name).await?;
        }
        for name in names {
            tokio::spawn(self.clone().work(name));
        }
        Ok(())
    }

    /// The oldest job of one of this process's models waiting for a worker, claimed for `name`.
    async fn claim(&self, name: &str) -> Result<Option<Job>, JobError> {
        for model in self.catalog.names() {
            if let Some(job) = self.jobs.claim(name, self.lease, model).await? {
                return Ok(Some(job));
            }
        }
        Ok(None)
    }

    /// A worker: claims the oldest settled job of a model it serves (a job of another model is
    /// left for the workers that serve it), proves it and stores the answer, for as long as the
    /// process runs.
    async fn work(self: Arc<Self>, name: String) {
        loop {
            let job = match self.claim(&name).await {
                Ok(Some(job)) => job,
                Ok(None) => {
                    let _ = tokio::time::timeout(POLL, self.settled.notified()).await;
                    continue;
                }
                Err(e) => {
                    eprintln!("{name}: the job queue: {e}");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            let id = job.id.clone();
            let proved = {
                let s = self.clone();
                tokio::task::spawn_blocking(move || s.prove_job(&job)).await
            };
            let stored = match proved.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| format!("{e:#}"))) {
                Ok(answer) => match serde_json::to_value(answer) {
                    Ok(answer) => self.jobs.proved(&id, &name, &answer).await,
                    Err(e) => self.jobs.failed(&id, &name, &e.to_string()).await,
                },
                Err(e) => {
                    self.metrics.proof_failures.inc();
                    self.jobs.failed(&id, &name, &e).await
                }
            };
            match stored {
                Ok(true) => {}
                Ok(false) => eprintln!("{name}: job {id} was taken over before its answer was stored"),
                Err(e) => eprintln!("{name}: job {id}: its answer not stored: {e}"),
            }
            self.finished.notify_waiters();
        }
    }

    /// Proves a claimed job: the run its request made, or the model run again on its input.
    fn prove_job(&self, job: &Job) -> anyhow::Result<Inference> {
        let l = self.catalog.get(&job.model).with_context(|| format!("the model {} is not served", job.model))?;
        let trace = self.traces.lock().unwrap_or_else(|p| p.into_inner()).remove(&job.id);
        let trace = match trace {
            Some(trace) => trace,
            None => l.compiled.graph.execute(&job.input).map_err(|e| anyhow::anyhow!("running the model: {e}"))?,
        };
        let context: F = job.context.parse().map_err(|_| anyhow::anyhow!("the job's context {}", job.context))?;
        let payment = job.settlement.clone().context("the job has no settlement")?;
        let t = std::time::Instant::now();
        let answer = prove(l, &trace, context, payment)?;
        self.metrics.prove_seconds.observe(t.elapsed().as_secs_f64());
        self.metrics.proofs.inc();
        Ok(answer)
    }
}

/// Proves the run `trace` of `l`'s model with its keys, bound to `context`, for the settled
/// `payment`.
fn prove(l: &Listing, trace: &Trace, context: F, payment: SettlementResponse) -> anyhow::Result<Inference> {
    let proved = pipeline::prove_run(&l.compiled, trace, context, &l.keys)?;
    let AnyProof::TwoRound(w) = &proved.proof else { anyhow::bail!("a wrapped proof was asked for") };
    let calldata = l.layout.typed_calldata(&w.proof, &w.public_inputs)?;
    let g = &l.compiled.graph;
    let salts = match proved.salts {
        Some([i, o]) => [("input", g.input_visibility, i), ("output", g.output_visibility, o)]
            .into_iter()
            .filter(|(_, v, _)| *v == zkml::ir::Visibility::Hashed)
            .map(|(n, _, salt)| (n.to_string(), salt.to_string()))
            .collect(),
        None => BTreeMap::new(),
    };
    Ok(Inference {
        model: l.name.clone(),
        output: g.dequantize_output(&proved.output),
        context: context.to_string(),
        proof: format!("0x{}", context::hex(&artifact::encode_any_proof(&proved.proof))),
        public_inputs: w.public_inputs.iter().map(|x| fr_to_u256(x).to_string()).collect(),
        calldata: format!("0x{}", context::hex(&calldata)),
        salts,
        payment,
        release: None,
    })
}
