//! `zkml pay`, the buyer's side of `zkml-escrow`: asks a `zkml serve` for a proved inference, pays
//! into the model's escrow (the money is released to the provider only by the proof), waits for
//! the job, and verifies the proof locally against the model's verifying key — the one the buyer
//! holds, not one the server sends — before it believes the output.
//!
//! What the buyer pins, so that a server cannot make it pay for something else: the chain, the
//! token and the most it pays ([`Limits`]), optionally the escrow; the model is the buyer's own
//! compiled directory, whose model id the offer must name and whose verifying key checks the
//! proof. The output is read from the proof's public words, never from the server's JSON.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use zkml::artifact::Compiled;
use zkml::wrap::two_round;
use zkml::{context, pipeline};
use zkml_verifier_gen::calldata::fr_to_u256;

use crate::exact::PaymentError;
use crate::worker::Inference;
use crate::x402::{
    PAYMENT_REQUIRED, PAYMENT_SIGNATURE, PaymentPayload, PaymentRequired, PaymentRequirements, caip2, decode_header,
    encode_header, parse_address, parse_decimal,
};
use crate::{escrow, unix_now};

/// What the buyer will pay, and to whom: an offer outside these is refused before signing.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The chain the buyer pays on.
    pub chain_id: u64,
    /// The token it pays in.
    pub asset: Address,
    /// The most it pays for one inference, in the token's smallest unit.
    pub max_price: U256,
    /// The escrow it pays into, when it knows it (else the offer's, whose contract the buyer
    /// trusts the server for).
    pub escrow: Option<Address>,
    /// The longest its money may stay in the escrow before it can take it back (the offer's
    /// `deadlineSeconds`), should the server never prove.
    pub max_deadline_seconds: u64,
}

/// One purchase.
pub struct Purchase<'a> {
    /// The server's base URL (`http://127.0.0.1:8402`).
    pub server: &'a str,
    /// The model's name on the server.
    pub name: &'a str,
    /// The buyer's copy of the compiled model.
    pub model: &'a Compiled,
    /// The model's verifying key, the buyer's (never one the server sends).
    pub vk: &'a two_round::VerifyingKey,
    /// The input.
    pub input: &'a [f64],
    /// Who pays.
    pub signer: &'a PrivateKeySigner,
    /// What it pays.
    pub limits: Limits,
}

/// A purchase that went through: the server's answer and what the proof establishes.
#[derive(Clone, Debug)]
pub struct Bought {
    /// The server's answer (with the proof and the escrow's opening).
    pub answer: Inference,
    /// The output, dequantized from the proof's public words.
    pub output: Vec<f64>,
    /// The buyer's signed payment (its accepted offer, authorization and escrow terms).
    pub payment: PaymentPayload,
    /// The escrow's request the proof is bound to.
    pub request_id: B256,
    /// The input's packed words, as the request's input hash binds them.
    pub input_words: Vec<U256>,
    /// The salt of its id (`requestIdOf(payer, inputHash, salt)`): an ERC-8004 validation of
    /// the same request names it too.
    pub salt: B256,
    /// When the payer may take the money back from the escrow, had no proof released it (Unix
    /// seconds).
    pub deadline: u64,
    /// The escrow.
    pub escrow: Address,
    /// The price paid into it.
    pub amount: U256,
}

/// Why a purchase failed; nothing was paid unless the error says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayError {
    /// The server could not be reached, or answered what is not HTTP JSON.
    #[error("the server: {0}")]
    Http(String),
    /// The server refused the request (its status and error).
    #[error("the server answered {status}: {error}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Its error.
        error: String,
    },
    /// The model is not sold by `zkml-escrow` there.
    #[error("the server offers no zkml-escrow for this model (it offers: {offered}); pay by exact with an x402 client")]
    NoEscrowOffer {
        /// The schemes offered.
        offered: String,
    },
    /// The offer is outside what the buyer pays, or is not for its model.
    #[error("the offer is refused: {0}")]
    Offer(String),
    /// The payment could not be made (the buyer's side of the scheme).
    #[error("the payment: {0}")]
    Payment(#[from] PaymentError),
    /// Paid, and the answer's proof does not prove what was paid for: keep the request id for
    /// the escrow's refund after its deadline.
    #[error("paid into the escrow (request {request_id}), and the answer is not a valid proof of it: {reason}")]
    Proof {
        /// The escrow's request.
        request_id: B256,
        /// What is wrong.
        reason: String,
    },
    /// Paid, and the job did not finish before the escrow's deadline.
    #[error("paid into the escrow (request {request_id}), and no proof came before its deadline: {reason}")]
    NoProof {
        /// The escrow's request.
        request_id: B256,
        /// The last the server said.
        reason: String,
    },
}

/// How often the buyer asks after a job it was told to wait for.
const POLL: Duration = Duration::from_millis(500);

/// Buys one proved inference as the module's doc says; `progress` hears each step.
pub async fn buy(p: &Purchase<'_>, progress: impl Fn(&str)) -> Result<Bought, PayError> {
    let url = format!("{}/v1/models/{}/inferences", p.server.trim_end_matches('/'), p.name);
    let body = serde_json::json!({ "input_data": [p.input] });
    let client = reqwest::Client::new();
    let http = |e: reqwest::Error| PayError::Http(e.to_string());
    let first = client.post(&url).json(&body).send().await.map_err(http)?;
    if first.status().as_u16() != 402 {
        return Err(refusal(first).await);
    }
    let required = first.headers().get(PAYMENT_REQUIRED).and_then(|h| h.to_str().ok());
    let required: PaymentRequired = decode_header(PAYMENT_REQUIRED, required.unwrap_or_default())
        .map_err(|e| PayError::Http(format!("the 402's {PAYMENT_REQUIRED}: {e}")))?;
    let (offer, terms) = choose(p, &required.accepts)?;
    let escrow = parse_address("payTo", &offer.pay_to).map_err(PaymentError::from)?;
    let amount = parse_decimal("amount", &offer.amount).map_err(PaymentError::from)?;
    progress(&format!("402: {amount} of {} into the escrow {escrow}, released by the proof", offer.asset));

    let words = escrow::input_words(p.model, p.input).map_err(PayError::Offer)?;
    let salt = B256::from(rand::random::<[u8; 32]>());
    let now = unix_now();
    let (payment, request_id) = escrow::sign(offer, p.limits.chain_id, p.signer, &words, salt, now)?;
    // The deadline `sign` bound into the nonce: the offer's length from the same `now`.
    let deadline = now + terms.deadline_seconds;
    // From here on the escrow may hold the money: every error names the request, for the refund.
    let no_proof = |reason: String| PayError::NoProof { request_id, reason };
    let paid = client.post(&url).header(PAYMENT_SIGNATURE, encode_header(&payment)).json(&body);
    let mut r = paid.send().await.map_err(|e| no_proof(e.to_string()))?;
    let mut last = String::new();
    let answer: Inference = loop {
        match r.status().as_u16() {
            200 => break r.json().await.map_err(|e| no_proof(format!("the answer: {e}")))?,
            202 => {
                let location = r.headers().get("location").and_then(|h| h.to_str().ok()).map(str::to_string);
                let stage: serde_json::Value = r.json().await.unwrap_or_default();
                let Some(location) = location else { return Err(no_proof("a 202 without the job's URL".into())) };
                let stage = stage["stage"].as_str().unwrap_or("waiting").to_string();
                if stage != last {
                    progress(&format!("request {request_id}: {stage}"));
                }
                if unix_now() >= deadline {
                    return Err(no_proof(format!("the job is still {stage}")));
                }
                last = stage;
                tokio::time::sleep(POLL).await;
                let job = format!("{}{location}", p.server.trim_end_matches('/'));
                r = client.get(job).send().await.map_err(|e| no_proof(e.to_string()))?;
            }
            // A refusal before the escrow opened moved nothing; after it, the error says so.
            402 | 400 | 404 | 413 | 422 | 503 => return Err(refusal(r).await),
            _ => return Err(no_proof(refusal(r).await.to_string())),
        }
    };
    progress(&format!("request {request_id}: proved; verifying the proof against the model's verifying key"));
    let output =
        check_answer(p, &answer, escrow, request_id).map_err(|reason| PayError::Proof { request_id, reason })?;
    Ok(Bought { answer, output, payment, request_id, input_words: words, salt, deadline, escrow, amount })
}

/// The `zkml-escrow` offer and its terms, once it is within the buyer's limits and for its model.
fn choose<'o>(
    p: &Purchase<'_>,
    offers: &'o [PaymentRequirements],
) -> Result<(&'o PaymentRequirements, escrow::OfferTerms), PayError> {
    let Some(offer) = offers.iter().find(|o| o.scheme == escrow::SCHEME) else {
        let offered = offers.iter().map(|o| o.scheme.as_str()).collect::<Vec<_>>().join(", ");
        return Err(PayError::NoEscrowOffer { offered });
    };
    let l = &p.limits;
    let refuse = |why: String| Err(PayError::Offer(why));
    if offer.network != caip2(l.chain_id) {
        return refuse(format!("it is on {}, not eip155:{}", offer.network, l.chain_id));
    }
    if parse_address("asset", &offer.asset).map_err(PaymentError::from)? != l.asset {
        return refuse(format!("it is paid in {}, not {}", offer.asset, l.asset));
    }
    let amount = parse_decimal("amount", &offer.amount).map_err(PaymentError::from)?;
    if amount > l.max_price {
        return refuse(format!("it costs {amount}, more than the most you pay ({})", l.max_price));
    }
    let escrow = parse_address("payTo", &offer.pay_to).map_err(PaymentError::from)?;
    if l.escrow.is_some_and(|e| e != escrow) {
        return refuse(format!("it pays into {escrow}, not the escrow you named"));
    }
    let terms = escrow::OfferTerms::of(offer)?;
    let deadline = terms.deadline_seconds;
    if deadline > l.max_deadline_seconds {
        return refuse(format!(
            "it holds your money for {deadline} s before a refund, longer than you allow ({} s)",
            l.max_deadline_seconds
        ));
    }
    let model_id = fr_to_u256(&p.model.id);
    if terms.model_id != model_id {
        return refuse(format!("it is for model {:#x}, not yours ({model_id:#x})", terms.model_id));
    }
    Ok((offer, terms))
}

/// Checks the answer's proof against the buyer's model: valid under its verifying key, bound to
/// the escrow's request, of the buyer's input; the output it proves, dequantized.
fn check_answer(p: &Purchase<'_>, answer: &Inference, escrow: Address, request_id: B256) -> Result<Vec<f64>, String> {
    let w = answer.wrapped_proof()?;
    let v = pipeline::verify_wrapped(p.model, p.vk, &w).map_err(|e| format!("{e:#}"))?;
    let expected = context::to_field(context::escrow(p.limits.chain_id, escrow.into_array(), request_id.0));
    if v.context != Some(expected) {
        return Err("it is bound to another request than the one paid for".into());
    }
    let x = p.model.graph.quantize_input(p.input).map_err(|e| e.to_string())?;
    if !v.proves_input(p.model, &x, None).map_err(|e| format!("{e:#}"))? {
        return Err("it proves another input than the one sent".into());
    }
    let output = v.output.ok_or("its output is not public")?;
    Ok(p.model.graph.dequantize_output(&output))
}

/// The error a refusal carries (`{"error": ...}`), with its status.
async fn refusal(r: reqwest::Response) -> PayError {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let error = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or(text);
    PayError::Refused { status, error }
}
