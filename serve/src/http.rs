//! The HTTP side of `zkml serve`: proved inferences sold by x402's `exact` scheme, and by
//! `zkml-escrow` (pay on proof) for a model whose escrow the server was given.
//!
//! - `GET /healthz`: `ok`.
//! - `GET /metrics`: counters for Prometheus (`metrics`).
//! - `GET /v1/models`: the models on sale (`catalog::ModelInfo`).
//! - `POST /v1/models/{id}/inferences` with an EZKL-format input (`{"input_data": [[...]]}`):
//!   without a `PAYMENT-SIGNATURE` header, `402` with the offer in `PAYMENT-REQUIRED`; with one,
//!   the payment checked ([`Paid::check`]), recorded as a job (`jobs`), settled
//!   (`settle::settle`; for `zkml-escrow`, the escrow's request opened, `escrow::open`), the input proved by a worker with the model's wrap keys, and `200` with
//!   the output, the proof and its calldata ([`Inference`](crate::worker::Inference)), the settlement in
//!   `PAYMENT-RESPONSE`. A proof that takes longer than [`Limits::wait`] is answered `202` with
//!   the job's URL (`Location`), and the settlement.
//! - `GET /v1/jobs/{id}`: a job's answer (`200`), or its stage (`202`), or why it failed after
//!   the payment (`500`, with the settlement).
//!
//! A `zkml-escrow` job's proof then releases its escrow: the server sends the release (its
//! account holds the key; workers hold none), and the answer gains its transaction.
//!
//! The same payment sent again (a client retrying after a lost answer or a restart) finds its
//! job and gets its answer; it is never settled twice. The same payment for another input is a
//! `402`.
//!
//! Everything that can refuse a request without the chain does so before any money moves: an
//! unknown model (404), a body that is too big (413) or not an input (400), an input the model
//! cannot take — another length, a value out of range — (422, before the 402), a malformed
//! payment header (400), a full queue (503 with `Retry-After`), a payment that fails a check
//! (402, the check named), an input on which the model's run overflows (422, run only for a
//! paid request that passed the checks, within the queue's bound). Every error is JSON,
//! `{"error": "..."}` (a 402's body is the whole `PaymentRequired`, whose `error` says why). The price is paid before proving, as in every
//! `exact` sale; the proof is bound to the payment (its context, [`payment_context`]) and is
//! what the buyer verifies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::Semaphore;
use zkml::artifact;
use zkml::context;
use zkml::field::F;
use zkml_verifier_gen::calldata::{self, fr_to_u256};

use crate::catalog::{Catalog, Listing, Pricing};
use crate::escrow::{self, EscrowError, IZkmlEscrow, Opening};
use crate::exact::{self, Authorized, PaymentError};
use crate::jobs::{Admission, Job, JobError, JobStore, NewJob, Stage};
use crate::metrics::{self, Metrics};
use crate::settle::{self, SettleError};
use crate::unix_now;
use crate::worker::{Inference, POLL, Provers};
use crate::x402::{
    PAYMENT_REQUIRED, PAYMENT_RESPONSE, PAYMENT_SIGNATURE, PaymentPayload, PaymentRequired, PaymentRequirements,
    Resource, SettlementResponse, X402_VERSION, decode_header, encode_header,
};

/// How a server is run.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Paid requests admitted at once (settling, waiting to prove or proving); more get 503
    /// before paying.
    pub queue: usize,
    /// The largest request body, in bytes.
    pub max_body: usize,
    /// What a 503 tells the client to wait, in seconds.
    pub retry_after_seconds: u64,
    /// How long a paid request waits for its proof before it is answered `202` with the job's
    /// URL.
    pub wait: Duration,
    /// Workers proving in the server's process (each one proof at a time).
    pub workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { queue: 8, max_body: 1 << 20, retry_after_seconds: 5, wait: Duration::from_secs(60), workers: 1 }
    }
}

/// How often the server looks for proved `zkml-escrow` jobs to release when no worker of its own
/// woke it (a worker in another process proved one).
const RELEASE_POLL: Duration = Duration::from_secs(1);

/// The longest the server waits before it tries a failing release again.
const MAX_RELEASE_BACKOFF: Duration = Duration::from_secs(60);

/// How long the server waits before it tries a job's release again after `failures` failures in
/// a row: [`RELEASE_POLL`] doubling, at most [`MAX_RELEASE_BACKOFF`] (an RPC outage is not
/// hammered every second, and a release is retried well within any escrow's deadline).
fn release_backoff(failures: u32) -> Duration {
    RELEASE_POLL.saturating_mul(1 << failures.min(16)).min(MAX_RELEASE_BACKOFF)
}

/// How long a worker holds a job before another may take it over (the first presumed gone).
pub const LEASE: Duration = Duration::from_secs(600);

/// A server's state: the offer, the chain, the workers and what they share.
pub struct Server {
    pricing: Pricing,
    chain_id: u64,
    provider: DynProvider,
    limits: Limits,
    // Paid requests between their admission and their settlement: each runs the model once
    // before paying, and this bounds how many do at once.
    admitted: Arc<Semaphore>,
    // One transaction at a time (a settlement, an escrow's opening or release): the server's
    // account sends them, and two at once would race for its transaction nonce.
    settling: tokio::sync::Mutex<()>,
    provers: Arc<Provers>,
}

impl Server {
    /// A server selling `catalog` at `pricing`, settling through `provider` (whose wallet pays
    /// the gas), its jobs in `jobs`. Before it returns, the jobs a previous run left are taken
    /// up: those its workers were proving go back to the queue, and those accepted and not yet
    /// settled are settled (or found settled) or, refused, dropped; its workers start.
    pub async fn start(
        catalog: Catalog,
        pricing: &Pricing,
        provider: DynProvider,
        limits: Limits,
        jobs: JobStore,
    ) -> Result<Arc<Self>, JobError> {
        let provers = Provers::new(catalog, jobs, Metrics::new(limits.queue), LEASE, limits.workers);
        // The same names after a restart, so that the restarted server takes back what its
        // workers held at once, not after the lease.
        provers.start("serve").await?;
        let s = Arc::new(Server {
            pricing: pricing.clone(),
            chain_id: pricing.chain_id,
            provider,
            admitted: Arc::new(Semaphore::new(limits.queue)),
            settling: tokio::sync::Mutex::new(()),
            provers,
            limits,
        });
        for job in s.provers.jobs().unsettled().await? {
            match s.settle_accepted(&job).await {
                Ok(receipt) => eprintln!("job {}: settled after a restart (tx {})", job.id, receipt.transaction),
                Err(e) => eprintln!("job {}: not settled after a restart: {}", job.id, e.message()),
            }
        }
        tokio::spawn(s.clone().releases());
        Ok(s)
    }
}

/// The routes, with the body limit.
pub fn router(server: Arc<Server>) -> Router {
    let max_body = server.limits.max_body;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(render_metrics))
        .route("/v1/models", get(models))
        .route("/v1/models/{id}/inferences", post(inference))
        .route("/v1/jobs/{id}", get(job_status))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(server)
}

/// Serves `server`'s routes on `listener` until `shutdown` resolves (requests in flight are
/// answered first).
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<Server>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(server)).with_graceful_shutdown(shutdown).await
}

/// The context a proof sold for an `exact` payment is bound to: the chain, the token and the
/// payer's authorization (`context::derive` with the tag `zkml.x402.exact`, the token's address
/// as the hook and the payer and nonce as uses). Each authorization is settled once, so no two
/// sales share a context, and a buyer can show which payment a proof answered.
pub fn payment_context(chain_id: u64, asset: Address, payer: Address, nonce: B256) -> F {
    let uses = [context::word_address(payer.into_array()), nonce.0];
    context::to_field(context::derive(context::tag("zkml.x402.exact"), chain_id, asset.into_array(), &uses))
}

/// A payment that passed its scheme's checks that need no chain.
#[derive(Clone, Debug)]
pub enum Paid {
    /// `exact`: a transfer to the server's payee, settled before proving.
    Exact(Authorized),
    /// `zkml-escrow`: an escrow request, opened before proving and released by the proof.
    Escrow(Opening),
}

impl Paid {
    /// Checks `payment` for `l`'s model on `input` against `offers` by the scheme it accepted
    /// (`exact::check`, `escrow::check` with the input's packed words), at Unix time `now`.
    pub fn check(
        l: &Listing,
        offers: &[PaymentRequirements],
        chain_id: u64,
        payment: &PaymentPayload,
        input: &[f64],
        now: u64,
    ) -> Result<Paid, PaymentError> {
        if payment.accepted.scheme == escrow::SCHEME {
            let words = l.input_words(input).map_err(PaymentError::Terms)?;
            escrow::check(offers, chain_id, payment, &words, now).map(Paid::Escrow)
        } else {
            exact::check(offers, chain_id, payment, now).map(Paid::Exact)
        }
    }

    /// What makes the payment unique, so that the same payment finds its job again: for `exact`
    /// the chain, the token, the payer and the nonce; for `zkml-escrow` the escrow and the request
    /// (opened once, whichever authorization opens it).
    pub fn key(&self, chain_id: u64) -> String {
        match self {
            Paid::Exact(paid) => {
                let (asset, t) = (paid.asset.to_checksum(None), &paid.transfer);
                format!("eip155:{chain_id}/{asset}/{}/{}", t.from.to_checksum(None), t.nonce)
            }
            Paid::Escrow(o) => {
                format!("{}/eip155:{chain_id}/{}/{}", escrow::SCHEME, o.escrow.to_checksum(None), o.request_id)
            }
        }
    }

    /// The context the proof is bound to: [`payment_context`] for `exact`; for `zkml-escrow` the
    /// escrow's request (`context::escrow`), which the escrow checks before it releases.
    pub fn context(&self, chain_id: u64) -> F {
        match self {
            Paid::Exact(paid) => payment_context(chain_id, paid.asset, paid.transfer.from, paid.transfer.nonce),
            Paid::Escrow(o) => context::to_field(context::escrow(chain_id, o.escrow.into_array(), o.request_id.0)),
        }
    }

    /// Who paid.
    pub fn payer(&self) -> Address {
        match self {
            Paid::Exact(paid) => paid.transfer.from,
            Paid::Escrow(o) => o.payer,
        }
    }
}

/// The job a paid request for `model` on `input` makes, once `payment` passed its checks as
/// `paid`: keyed by [`Paid::key`], so that the same payment finds it again, and bound to
/// [`Paid::context`].
pub fn new_job<'a>(
    chain_id: u64,
    model: &'a str,
    input: &'a [f64],
    payment: &'a PaymentPayload,
    paid: &Paid,
) -> NewJob<'a> {
    NewJob { model, input, payment, payment_key: paid.key(chain_id), context: paid.context(chain_id).to_string() }
}

/// An error answer: its status and JSON body, with headers.
struct Refusal {
    status: StatusCode,
    body: serde_json::Value,
    headers: Vec<(&'static str, String)>,
}

impl Refusal {
    fn new(status: StatusCode, error: impl std::fmt::Display) -> Self {
        Refusal { status, body: serde_json::json!({ "error": error.to_string() }), headers: vec![] }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body)).into_response();
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert(name, v);
            }
        }
        r
    }
}

async fn render_metrics(State(s): State<Arc<Server>>) -> Response {
    match s.provers.jobs().active().await {
        Ok(depth) => s.provers.metrics().queue_depth.set(i64::try_from(depth).unwrap_or(i64::MAX)),
        Err(e) => return queue_error(&e),
    };
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], s.provers.metrics().render()).into_response()
}

async fn models(State(s): State<Arc<Server>>) -> Response {
    axum::Json(serde_json::json!({ "models": s.provers.catalog().describe(&s.pricing) })).into_response()
}

async fn inference(
    State(s): State<Arc<Server>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (Ok(r) | Err(r)) = sell(&s, &id, &uri, &headers, body).await;
    s.provers.metrics().answered(r.status().as_u16());
    r
}

async fn sell(
    s: &Arc<Server>,
    id: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let Some(listing) = s.provers.catalog().get(id) else {
        let names = s.provers.catalog().names().join(", ");
        return Err(Refusal::new(StatusCode::NOT_FOUND, format!("no model {id:?} here; this server sells: {names}"))
            .into_response());
    };
    let body =
        body.map_err(|e| Refusal::new(e.status(), format!("the request body: {}", e.body_text())).into_response())?;
    let input = one_input(&body).map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e).into_response())?;
    // An input of another length, or with a value out of range, is refused before the 402: the
    // buyer learns it before signing anything. (Only the cheap check: an unpaid request runs no
    // model.)
    listing.compiled.graph.quantize_input(&input).map_err(|e| cannot_run(&e))?;
    let offers = s.pricing.offers(listing);
    let required = |error: String| {
        let pr = PaymentRequired {
            x402_version: X402_VERSION,
            error: Some(error),
            resource: Resource {
                url: resource_url(headers, uri),
                description: format!("a proved inference of {id} (zkml: Groth16 over BN254)"),
                mime_type: "application/json".into(),
            },
            accepts: offers.clone(),
        };
        let header = encode_header(&pr);
        Refusal {
            status: StatusCode::PAYMENT_REQUIRED,
            body: serde_json::to_value(&pr).unwrap_or_default(),
            headers: vec![(PAYMENT_REQUIRED, header)],
        }
        .into_response()
    };
    let Some(signature) = headers.get(PAYMENT_SIGNATURE) else {
        return Err(required(format!("{PAYMENT_SIGNATURE} header is required")));
    };
    let payment: PaymentPayload = signature
        .to_str()
        .map_err(|e| e.to_string())
        .and_then(|v| decode_header(PAYMENT_SIGNATURE, v).map_err(|e| e.to_string()))
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e).into_response())?;
    let Ok(slot) = s.admitted.clone().try_acquire_owned() else {
        return Err(s.queue_full());
    };
    let paid = Paid::check(listing, &offers, s.chain_id, &payment, &input, unix_now())
        .map_err(|e| required(format!("the payment is refused: {e}")))?;
    // The same payment again (a client retrying): its job's answer, if it was for this input;
    // no model run, no second settlement.
    let same = |job: &Job| job.model == id && job.input == input;
    let another = || required("the payment is refused: this authorization paid for another request".into());
    match s.provers.jobs().by_payment(&paid.key(s.chain_id)).await.map_err(|e| queue_error(&e))? {
        Some(job) if same(&job) => {
            drop(slot);
            return s.resume(job).await;
        }
        Some(_) => return Err(another()),
        None => {}
    }
    // The model must run on the input before anyone pays (a value that overflows a layer is
    // refused here, not after settlement); inside the queue's bound, so a burst cannot run more
    // models at once than it admits. This run is the one proved after settlement.
    let run = {
        let (s, id, input) = (s.clone(), id.to_string(), input.clone());
        tokio::task::spawn_blocking(move || {
            let l = s.provers.catalog().get(&id).expect("looked up above");
            l.compiled.graph.execute(&input)
        })
    };
    let trace = match run.await {
        Ok(Ok(trace)) => trace,
        Ok(Err(e)) => return Err(cannot_run(&e)),
        Err(e) => return Err(Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e).into_response()),
    };
    let new = new_job(s.chain_id, id, &input, &payment, &paid);
    let job = match s.provers.jobs().admit(new, s.limits.queue).await.map_err(|e| queue_error(&e))? {
        Admission::Added(job) => job,
        Admission::Full { .. } => return Err(s.queue_full()),
        // The same payment, arrived while this one ran the model.
        Admission::Existing(job) if same(&job) => {
            drop(slot);
            return s.resume(*job).await;
        }
        Admission::Existing(_) => return Err(another()),
    };
    let receipt = match s.settle_job(&job, &paid).await {
        Ok(receipt) => receipt,
        Err(Unsettled::Refused(e)) => return Err(required(format!("the payment is refused: {e}"))),
        Err(e) => return Err(e.into_response()),
    };
    s.provers.settled(&job, Some(trace));
    drop(slot);
    let answer = s.await_answer(&job, Some(receipt)).await;
    s.provers.drop_run(&job);
    answer
}

/// Why a job's payment was not settled (or its escrow request not opened).
enum Unsettled {
    /// Refused before anything moved (replayed, unfunded, the token or the escrow refusing, the
    /// transaction reverted): the job is dropped, and the buyer may pay again.
    Refused(String),
    /// The chain could not tell, or the job database failed: the job stays `accepted`, to be
    /// settled (or found settled) when the same payment comes again or the server restarts.
    Unsure(String),
}

impl Unsettled {
    fn message(&self) -> String {
        match self {
            Unsettled::Refused(e) => format!("the payment is refused: {e}"),
            Unsettled::Unsure(e) => format!(
                "the settlement's outcome is unknown ({e}): send the same request again for the proof; the \
                 payment is settled at most once"
            ),
        }
    }

    fn into_response(self) -> Response {
        let status = match self {
            Unsettled::Refused(_) => StatusCode::PAYMENT_REQUIRED,
            Unsettled::Unsure(_) => StatusCode::BAD_GATEWAY,
        };
        Refusal::new(status, self.message()).into_response()
    }
}

impl Server {
    /// Settles job `id`'s payment `paid` — the transfer for `exact`, the escrow's opening for
    /// `zkml-escrow` — and records it (`accepted` → `settled`); one already on-chain (sent
    /// before a restart, not recorded) is found and recorded instead.
    async fn settle_job(&self, id: &str, paid: &Paid) -> Result<SettlementResponse, Unsettled> {
        let settled = {
            let _one = self.settling.lock().await;
            match paid {
                Paid::Exact(a) => self.transfer(a).await,
                Paid::Escrow(o) => self.open(o).await,
            }
        };
        let tx = match settled {
            Ok(tx) => tx,
            Err(Unsettled::Refused(e)) => {
                if let Err(forget) = self.provers.jobs().forget(id).await {
                    eprintln!("job {id}: refused ({e}), and not dropped: {forget}");
                }
                return Err(Unsettled::Refused(e));
            }
            Err(e) => return Err(e),
        };
        let receipt = SettlementResponse {
            success: true,
            error_reason: None,
            payer: Some(paid.payer().to_checksum(None)),
            transaction: tx.to_string(),
            network: crate::x402::caip2(self.chain_id),
        };
        match self.provers.jobs().settled(id, &receipt).await {
            Ok(_) => Ok(receipt),
            Err(e) => Err(Unsettled::Unsure(format!("settled in {}, not recorded: {e}", receipt.transaction))),
        }
    }

    /// The `exact` transfer `a`, sent (or found sent before a restart): its transaction.
    async fn transfer(&self, a: &Authorized) -> Result<B256, Unsettled> {
        let settled = match settle::settle(&self.provider, a).await {
            Ok(sent) => {
                self.provers.metrics().settlements.inc();
                Ok(sent)
            }
            Err(used @ SettleError::NonceUsed { .. }) => match settle::find(&self.provider, a).await {
                Ok(Some(found)) => Ok(found),
                Ok(None) => Err(used),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        settled.map(|s| s.tx).map_err(|e| match e {
            SettleError::NonceUsed { .. }
            | SettleError::Balance { .. }
            | SettleError::Simulation(_)
            | SettleError::Reverted { .. } => Unsettled::Refused(e.to_string()),
            e => Unsettled::Unsure(e.to_string()),
        })
    }

    /// The escrow request `o`, opened (or found opened before a restart): its transaction.
    async fn open(&self, o: &Opening) -> Result<B256, Unsettled> {
        match escrow::open(&self.provider, o).await {
            Ok(sent) => {
                self.provers.metrics().settlements.inc();
                Ok(sent.tx)
            }
            Err(exists @ EscrowError::Status { .. }) => {
                match escrow::find::<_, IZkmlEscrow::Opened>(&self.provider, o.escrow, o.request_id).await {
                    Ok(Some(found)) => Ok(found.tx),
                    Ok(None) => Err(Unsettled::Refused(exists.to_string())),
                    Err(e) => Err(Unsettled::Unsure(e.to_string())),
                }
            }
            Err(e @ (EscrowError::RequestId { .. } | EscrowError::Refused(_) | EscrowError::Reverted { .. })) => {
                Err(Unsettled::Refused(e.to_string()))
            }
            Err(e) => Err(Unsettled::Unsure(e.to_string())),
        }
    }

    /// Settles an `accepted` job found in the queue (a retry, a restart): its payment checked
    /// again as at its acceptance, against the offer it accepted then.
    async fn settle_accepted(&self, job: &Job) -> Result<SettlementResponse, Unsettled> {
        let offer = std::slice::from_ref(&job.payment.accepted);
        let Some(l) = self.provers.catalog().get(&job.model) else {
            return Err(Unsettled::Unsure(format!("the model {} is not served any more", job.model)));
        };
        let paid = match Paid::check(l, offer, self.chain_id, &job.payment, &job.input, job.accepted_at) {
            Ok(paid) => paid,
            // It passed these checks when it was accepted: the job is not what this server wrote.
            Err(e) => return Err(Unsettled::Unsure(format!("the stored payment no longer checks: {e}"))),
        };
        let receipt = self.settle_job(&job.id, &paid).await?;
        self.provers.settled(&job.id, None);
        Ok(receipt)
    }

    /// The answer for a job the same payment made before: settled now if it was not, then as
    /// [`Server::await_answer`].
    async fn resume(&self, job: Job) -> Result<Response, Response> {
        let receipt = match job.stage {
            Stage::Accepted => Some(self.settle_accepted(&job).await.map_err(Unsettled::into_response)?),
            _ => job.settlement.clone(),
        };
        self.await_answer(&job.id, receipt).await
    }

    /// Waits up to [`Limits::wait`] for job `id` to be proved: its answer, else `202` with its
    /// URL; `receipt` in `PAYMENT-RESPONSE` either way.
    async fn await_answer(&self, id: &str, receipt: Option<SettlementResponse>) -> Result<Response, Response> {
        let until = Instant::now() + self.limits.wait;
        loop {
            let job = self.provers.jobs().get(id).await.map_err(|e| queue_error(&e))?;
            let job = job
                .ok_or_else(|| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "the job vanished"))
                .map_err(IntoResponse::into_response)?;
            let left = until.saturating_duration_since(Instant::now());
            if !job.stage.is_active() || left.is_zero() {
                return Ok(job_answer(&job, receipt));
            }
            self.provers.finished(left.min(POLL)).await;
        }
    }

    /// Releases the escrow of each proved `zkml-escrow` job with its proof, for as long as the
    /// server runs: the server's account sends the releases, as it sends the openings (workers
    /// hold no key). A release the chain could not take is tried again, later after each failure
    /// ([`release_backoff`]); one the escrow refuses (the deadline passed, the request refunded)
    /// leaves the job `unreleased`.
    async fn releases(self: Arc<Self>) {
        // Failures in a row, and when to try again, of the jobs whose release failed.
        let mut failing: HashMap<String, (u32, Instant)> = HashMap::new();
        loop {
            match self.provers.jobs().to_release().await {
                Ok(jobs) => {
                    failing.retain(|id, _| jobs.iter().any(|j| &j.id == id));
                    for job in jobs {
                        if failing.get(&job.id).is_some_and(|&(_, next)| Instant::now() < next) {
                            continue;
                        }
                        match self.release_job(&job).await {
                            Ok(()) => drop(failing.remove(&job.id)),
                            Err(e) => {
                                let n = failing.get(&job.id).map_or(0, |f| f.0) + 1;
                                let wait = release_backoff(n);
                                eprintln!(
                                    "job {}: not released yet (failure {n}, next try in {} s): {e}",
                                    job.id,
                                    wait.as_secs()
                                );
                                failing.insert(job.id.clone(), (n, Instant::now() + wait));
                            }
                        }
                    }
                }
                Err(e) => eprintln!("releases: the job queue: {e}"),
            }
            self.provers.finished(RELEASE_POLL).await;
        }
    }

    /// Releases proved job `job`'s escrow request with its proof and records it (`proved` →
    /// `released`, the release's transaction in the answer); a release already on-chain (sent
    /// before a restart, not recorded) is found and recorded instead.
    async fn release_job(&self, job: &Job) -> Result<(), String> {
        let l = self.provers.catalog().get(&job.model).ok_or("its model is not served any more")?;
        let offer = std::slice::from_ref(&job.payment.accepted);
        let paid = Paid::check(l, offer, self.chain_id, &job.payment, &job.input, job.accepted_at);
        let Paid::Escrow(o) = paid.map_err(|e| format!("the stored payment no longer checks: {e}"))? else {
            return Err("not a zkml-escrow job".into());
        };
        let mut result = job.result.clone().ok_or("no answer stored")?;
        let answer: Inference = serde_json::from_value(result.clone()).map_err(|e| format!("its answer: {e}"))?;
        let w = answer.wrapped_proof()?;
        let proof = calldata::encode_proof(&w.proof).into();
        let public: Vec<U256> = w.public_inputs.iter().map(fr_to_u256).collect();
        let sent = {
            let _one = self.settling.lock().await;
            escrow::release(&self.provider, o.escrow, o.request_id, proof, public).await
        };
        let sent = match sent {
            Ok(sent) => sent,
            Err(EscrowError::Status { status: escrow::Status::Released, .. }) => {
                let found = escrow::find::<_, IZkmlEscrow::Released>(&self.provider, o.escrow, o.request_id).await;
                found.map_err(|e| e.to_string())?.ok_or("released, and its Released event not found yet")?
            }
            Err(
                refused @ (EscrowError::Status { .. }
                | EscrowError::Refused(_)
                | EscrowError::Reverted { .. }
                | EscrowError::RequestId { .. }),
            ) => {
                let stored = self.provers.jobs().unreleased(&job.id, &refused.to_string()).await;
                return stored.map(drop).map_err(|e| format!("refused ({refused}), not recorded: {e}"));
            }
            Err(e) => return Err(e.to_string()),
        };
        result["release"] = sent.tx.to_string().into();
        let stored = self.provers.jobs().released(&job.id, &result).await;
        stored.map(drop).map_err(|e| format!("released in {}, not recorded: {e}", sent.tx))
    }

    /// The 503 of a full queue, before any payment.
    fn queue_full(&self) -> Response {
        Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: serde_json::json!({ "error": format!(
                "the queue is full ({} requests): nothing was charged; try again later", self.limits.queue) }),
            headers: vec![("retry-after", self.limits.retry_after_seconds.to_string())],
        }
        .into_response()
    }
}

/// A job as the buyer sees it: its answer (`200`), its stage (`202`, with its URL in
/// `Location`), or why it failed after the payment (`500`, with the settlement for the buyer's
/// claim); the settlement in `PAYMENT-RESPONSE`.
fn job_answer(job: &Job, receipt: Option<SettlementResponse>) -> Response {
    let receipt = receipt.or_else(|| job.settlement.clone());
    let mut headers = vec![];
    if let Some(r) = &receipt {
        headers.push((PAYMENT_RESPONSE, encode_header(r)));
    }
    let location = format!("/v1/jobs/{}", job.id);
    let (status, body) = match job.stage {
        Stage::Proved | Stage::Released | Stage::Unreleased => (StatusCode::OK, job.result.clone().unwrap_or_default()),
        Stage::Failed => {
            let error = format!("the payment was settled but proving failed: {}", job.error.as_deref().unwrap_or("?"));
            (StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({ "error": error, "payment": receipt }))
        }
        stage => {
            headers.push(("location", location.clone()));
            (StatusCode::ACCEPTED, serde_json::json!({ "job": job.id, "stage": stage.as_str(), "status": location }))
        }
    };
    Refusal { status, body, headers }.into_response()
}

/// `GET /v1/jobs/{id}`: where the job is, without waiting.
async fn job_status(State(s): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    match s.provers.jobs().get(&id).await {
        Ok(Some(job)) => job_answer(&job, None),
        Ok(None) => Refusal::new(StatusCode::NOT_FOUND, format!("no job {id:?}")).into_response(),
        Err(e) => queue_error(&e),
    }
}

/// The 500 of a job database that failed; nothing was charged unless the answer says so.
fn queue_error(e: &JobError) -> Response {
    Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e).into_response()
}

/// The 422 of an input the model cannot run.
fn cannot_run(e: &impl std::fmt::Display) -> Response {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, format!("the model cannot run this input: {e}")).into_response()
}

/// The one input of an EZKL-format body.
fn one_input(body: &[u8]) -> Result<Vec<f64>, String> {
    let mut inputs = artifact::parse_inputs(body).map_err(|e| format!("the body is not an input: {e}"))?;
    if inputs.len() != 1 {
        return Err(format!("input_data holds {} inputs; one inference takes one", inputs.len()));
    }
    Ok(inputs.remove(0))
}

/// The URL the client asked for, as the 402's resource names it.
fn resource_url(headers: &HeaderMap, uri: &Uri) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}{}", uri.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_release_is_retried_later_each_time_up_to_a_minute() {
        let waits: Vec<u64> = (1..=8).map(|n| release_backoff(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(release_backoff(u32::MAX), MAX_RELEASE_BACKOFF);
    }
}
