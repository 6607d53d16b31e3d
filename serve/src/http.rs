//! The HTTP side of `zkml serve`: proved inferences sold by x402's `exact` scheme.
//!
//! - `GET /healthz`: `ok`.
//! - `GET /metrics`: counters for Prometheus (`metrics`).
//! - `GET /v1/models`: the models on sale (`catalog::ModelInfo`).
//! - `POST /v1/models/{id}/inferences` with an EZKL-format input (`{"input_data": [[...]]}`):
//!   without a `PAYMENT-SIGNATURE` header, `402` with the offer in `PAYMENT-REQUIRED`; with one,
//!   the payment checked (`exact::check`) and settled (`settle::settle`), the input proved with
//!   the model's wrap keys, and `200` with the output, the proof and its calldata
//!   ([`Inference`]), the settlement in `PAYMENT-RESPONSE`.
//!
//! Everything that can refuse a request without the chain does so before any money moves: an
//! unknown model (404), a body that is too big (413) or not an input (400), an input the model
//! cannot take — another length, a value out of range — (422, before the 402), a malformed
//! payment header (400), a full queue (503 with `Retry-After`), an input on which the model's
//! run overflows (422, run only for a paid request, within the queue's bound), a payment that
//! fails a check (402, the check named). Every error is JSON, `{"error": "..."}` (a 402's body is the whole
//! `PaymentRequired`, whose `error` says why). The price is paid before proving, as in every
//! `exact` sale; the proof is bound to the payment (its context, [`payment_context`]) and is
//! what the buyer verifies.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256};
use alloy::providers::DynProvider;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use zkml::artifact::{self, AnyProof};
use zkml::field::F;
use zkml::ir::Trace;
use zkml::{context, pipeline};
use zkml_verifier_gen::calldata::fr_to_u256;

use crate::catalog::Catalog;
use crate::exact::{self, Authorized};
use crate::metrics::{self, Metrics};
use crate::settle::{self, SettleError};
use crate::x402::{
    PAYMENT_REQUIRED, PAYMENT_RESPONSE, PAYMENT_SIGNATURE, PaymentPayload, PaymentRequired, Resource,
    SettlementResponse, X402_VERSION, decode_header, encode_header,
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits { queue: 8, max_body: 1 << 20, retry_after_seconds: 5 }
    }
}

/// A server's state: the models, the chain and the queue.
pub struct Server {
    catalog: Catalog,
    chain_id: u64,
    provider: DynProvider,
    limits: Limits,
    admitted: Arc<Semaphore>,
    // One settlement at a time: the server's account sends them, and two at once would race
    // for its transaction nonce.
    settling: tokio::sync::Mutex<()>,
    // One proof at a time: each uses every core.
    proving: Mutex<()>,
    metrics: Metrics,
}

impl Server {
    /// A server selling `catalog` on chain `chain_id`, settling through `provider` (whose wallet
    /// pays the gas).
    pub fn new(catalog: Catalog, chain_id: u64, provider: DynProvider, limits: Limits) -> Arc<Self> {
        let admitted = Arc::new(Semaphore::new(limits.queue));
        Arc::new(Server {
            catalog,
            chain_id,
            provider,
            limits: limits.clone(),
            admitted,
            settling: tokio::sync::Mutex::new(()),
            proving: Mutex::new(()),
            metrics: Metrics::new(limits.queue),
        })
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
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(server)
}

/// What a paid inference answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inference {
    /// The model's name in URLs.
    pub model: String,
    /// The dequantized output.
    pub output: Vec<f64>,
    /// The context the proof is bound to ([`payment_context`]), decimal.
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
    /// The settlement, as `PAYMENT-RESPONSE` also says.
    pub payment: SettlementResponse,
}

/// The context a proof sold for an `exact` payment is bound to: the chain, the token and the
/// payer's authorization (`context::derive` with the tag `zkml.x402.exact`, the token's address
/// as the hook and the payer and nonce as uses). Each authorization is settled once, so no two
/// sales share a context, and a buyer can show which payment a proof answered.
pub fn payment_context(chain_id: u64, asset: Address, payer: Address, nonce: B256) -> F {
    let uses = [context::word_address(payer.into_array()), nonce.0];
    context::to_field(context::derive(context::tag("zkml.x402.exact"), chain_id, asset.into_array(), &uses))
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
    let depth = s.limits.queue.saturating_sub(s.admitted.available_permits());
    s.metrics.queue_depth.set(i64::try_from(depth).unwrap_or(i64::MAX));
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], s.metrics.render()).into_response()
}

async fn models(State(s): State<Arc<Server>>) -> Response {
    axum::Json(serde_json::json!({ "models": s.catalog.describe() })).into_response()
}

async fn inference(
    State(s): State<Arc<Server>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (Ok(r) | Err(r)) = sell(&s, &id, &uri, &headers, body).await;
    s.metrics.answered(r.status().as_u16());
    r
}

async fn sell(
    s: &Arc<Server>,
    id: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let Some(listing) = s.catalog.get(id) else {
        let names = s.catalog.names().join(", ");
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
    let required = |error: String| {
        let pr = PaymentRequired {
            x402_version: X402_VERSION,
            error: Some(error),
            resource: Resource {
                url: resource_url(headers, uri),
                description: format!("a proved inference of {id} (zkml: Groth16 over BN254)"),
                mime_type: "application/json".into(),
            },
            accepts: vec![listing.offer.clone()],
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
    let Ok(_slot) = s.admitted.clone().try_acquire_owned() else {
        return Err(Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: serde_json::json!({ "error": format!(
                "the queue is full ({} requests): nothing was charged; try again later", s.limits.queue) }),
            headers: vec![("retry-after", s.limits.retry_after_seconds.to_string())],
        }
        .into_response());
    };
    // The model must run on the input before anyone pays (a value that overflows a layer is
    // refused here, not after settlement); inside the queue's bound, so a burst cannot run more
    // models at once than it admits. This run is the one proved after settlement.
    let run = {
        let (s, id) = (s.clone(), id.to_string());
        tokio::task::spawn_blocking(move || {
            let l = s.catalog.get(&id).expect("looked up above");
            l.compiled.graph.execute(&input)
        })
    };
    let trace = match run.await {
        Ok(Ok(trace)) => trace,
        Ok(Err(e)) => return Err(cannot_run(&e)),
        Err(e) => return Err(Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e).into_response()),
    };
    let authorized = exact::check(std::slice::from_ref(&listing.offer), s.chain_id, &payment, unix_now())
        .map_err(|e| required(format!("the payment is refused: {e}")))?;
    let settled = {
        let _one = s.settling.lock().await;
        settle::settle(&s.provider, &authorized).await
    };
    let network = listing.offer.network.clone();
    let payer = authorized.transfer.from.to_checksum(None);
    let settled = settled.map_err(|e| match e {
        SettleError::NonceUsed { .. } | SettleError::Balance { .. } | SettleError::Simulation(_) => {
            required(format!("the payment is refused: {e}"))
        }
        _ => Refusal::new(StatusCode::BAD_GATEWAY, format!("the payment could not be settled: {e}")).into_response(),
    })?;
    s.metrics.settlements.inc();
    let receipt = SettlementResponse {
        success: true,
        error_reason: None,
        payer: Some(payer),
        transaction: settled.tx.to_string(),
        network,
    };
    let receipt_header = (PAYMENT_RESPONSE, encode_header(&receipt));
    let proved = {
        let (s, id, receipt) = (s.clone(), id.to_string(), receipt.clone());
        tokio::task::spawn_blocking(move || prove(&s, &id, &trace, &authorized, receipt))
    };
    match proved.await.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| format!("{e:#}"))) {
        Ok(answer) => {
            let mut r = axum::Json(answer).into_response();
            if let Ok(v) = HeaderValue::from_str(&receipt_header.1) {
                r.headers_mut().insert(receipt_header.0, v);
            }
            Ok(r)
        }
        // Paid, not proved: the settlement is in the answer, for the buyer's claim.
        Err(e) => {
            s.metrics.proof_failures.inc();
            let error = format!("the payment was settled but proving failed: {e}");
            let body = serde_json::json!({ "error": error, "payment": receipt });
            Err(Refusal { status: StatusCode::INTERNAL_SERVER_ERROR, body, headers: vec![receipt_header] }
                .into_response())
        }
    }
}

/// The 422 of an input the model cannot run.
fn cannot_run(e: &impl std::fmt::Display) -> Response {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, format!("the model cannot run this input: {e}")).into_response()
}

/// Proves the run `trace` with the listing's keys, bound to the settled payment `paid`.
fn prove(
    s: &Server,
    id: &str,
    trace: &Trace,
    paid: &Authorized,
    payment: SettlementResponse,
) -> anyhow::Result<Inference> {
    let l = s.catalog.get(id).expect("looked up before paying");
    let t = &paid.transfer;
    let context = payment_context(s.chain_id, paid.asset, t.from, t.nonce);
    let proved = {
        let _one = s.proving.lock().unwrap_or_else(|p| p.into_inner());
        let t = std::time::Instant::now();
        let proved = pipeline::prove_run(&l.compiled, trace, context, &l.keys)?;
        s.metrics.prove_seconds.observe(t.elapsed().as_secs_f64());
        s.metrics.proofs.inc();
        proved
    };
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
        model: id.to_string(),
        output: g.dequantize_output(&proved.output),
        context: context.to_string(),
        proof: format!("0x{}", context::hex(&artifact::encode_any_proof(&proved.proof))),
        public_inputs: w.public_inputs.iter().map(|x| fr_to_u256(x).to_string()).collect(),
        calldata: format!("0x{}", context::hex(&calldata)),
        salts,
        payment,
    })
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

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
