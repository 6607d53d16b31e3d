//! x402's `zkml-escrow` scheme, pay on proof: the payer signs, in the token's EIP-712 domain, an
//! EIP-3009 `ReceiveWithAuthorization` to the model's `ZkmlEscrow` (the offer's `payTo`, which
//! alone may submit it) whose nonce binds the request's terms (`hooks::escrow_nonce`: the request
//! id — the payer, the model, the hash of the input's packed words, a salt — the provider, the
//! amount and the deadline). The terms travel in the payment's `extensions.zkml` ([`Terms`]).
//! The escrow holds the money, never the server: a proof bound to the request releases it to
//! the provider, and after the deadline the payer can take it back.
//!
//! [`check`] makes every check that needs no chain: those of `exact` (`exact::check_signed`,
//! with the other struct), then the terms: the provider is the offer's, the input words are the
//! request's own input, the deadline leaves time to prove, and the nonce binds them all, so
//! that what the escrow opens is what the payer signed. [`sign`] is the payer's side.

use alloy::primitives::{Address, B256, Bytes, Signature, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::signers::{Signer, SignerSync};
use alloy::sol_types::{SolEvent, SolStruct};
use serde::{Deserialize, Serialize};
use zkml::artifact::{Compiled, PublicInputSettings, Settings};
use zkml_verifier_gen::hooks;

use crate::exact::{self, PaymentError};
use crate::x402::{
    AuthorizationFields, Eip3009Payload, FieldError, PaymentPayload, PaymentRequirements, ReceiveWithAuthorization,
    X402_VERSION, parse_address, parse_decimal,
};

/// The scheme's name in offers.
pub const SCHEME: &str = hooks::ESCROW_SCHEME;

/// The least time a request's deadline must leave the server to prove and release it, seconds.
pub const MIN_DEADLINE_SECONDS: u64 = 60;

/// The public inputs that carry a model's input, packed, from index 2 (where an escrow reads
/// them); none when the input is hashed or private (such a model cannot be sold by escrow).
pub fn input_slots(settings: &Settings) -> Option<&PublicInputSettings> {
    settings.public_inputs.iter().find(|p| p.name == "input" && p.packing.is_some() && p.index == 2)
}

/// The packed words of `input` as the compiled model `c`'s proofs carry them: what an escrow
/// request binds (its input hash), computed alike by the payer and the server.
pub fn input_words(c: &Compiled, input: &[f64]) -> Result<Vec<U256>, String> {
    let packing = input_slots(&c.settings).and_then(|p| p.packing.as_ref());
    let bits = packing.ok_or("the model's input is not public: its proofs carry no input words")?.slot_bits;
    let q = c.graph.quantize_input(input).map_err(|e| format!("the input: {e}"))?;
    hooks::pack_signed(&q, bits).map_err(|e| format!("packing the input: {e}"))
}

/// The request's terms, as the payer sends them under `extensions.zkml` (numbers in decimal,
/// bytes in 0x hex).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Terms {
    /// Who is paid on a valid proof: the offer's provider.
    pub provider: String,
    /// Unix time after which the payer may be refunded.
    pub deadline: u64,
    /// keccak256 of the packed input words.
    pub input_hash: String,
    /// The packed input words, decimal.
    pub input_words: Vec<String>,
    /// The payer's salt.
    pub salt: String,
    /// The request id the payer computed.
    pub request_id: String,
}

/// A payment that passed [`check`]: what `ZkmlEscrow.open` takes, and the request id it opens.
#[derive(Clone, Debug, PartialEq)]
pub struct Opening {
    /// The escrow.
    pub escrow: Address,
    /// The token.
    pub asset: Address,
    /// The request id (`hooks::request_hash`).
    pub request_id: B256,
    /// The payer.
    pub payer: Address,
    /// Who is paid on a valid proof.
    pub provider: Address,
    /// The price.
    pub amount: U256,
    /// When the payer may be refunded.
    pub deadline: u64,
    /// The hash of the input's packed words.
    pub input_hash: B256,
    /// The payer's salt.
    pub salt: B256,
    /// The authorization's validity window.
    pub valid_after: U256,
    /// Its end.
    pub valid_before: U256,
    /// The payer's signature of the `ReceiveWithAuthorization`.
    pub signature: Signature,
}

/// What an escrow offer's `extra.zkml` says: the provider, the model id and the deadline's
/// length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferTerms {
    /// Who is paid on a valid proof.
    pub provider: Address,
    /// The model whose proofs release the request.
    pub model_id: U256,
    /// Seconds from the opening until the payer may take its money back.
    pub deadline_seconds: u64,
}

impl OfferTerms {
    /// Reads them from an escrow offer.
    pub fn of(offer: &PaymentRequirements) -> Result<Self, PaymentError> {
        let zk = &offer.extra["zkml"];
        let text = |key: &'static str| {
            zk[key]
                .as_str()
                .ok_or_else(|| FieldError { field: key, reason: format!("the offer's extra.zkml.{key} is missing") })
        };
        let model_id = text("modelId")?;
        Ok(OfferTerms {
            provider: parse_address("provider", text("provider")?)?,
            model_id: model_id
                .parse()
                .map_err(|e| FieldError { field: "modelId", reason: format!("{model_id}: {e}") })?,
            deadline_seconds: zk["deadlineSeconds"].as_u64().ok_or_else(|| FieldError {
                field: "deadlineSeconds",
                reason: "the offer's extra.zkml.deadlineSeconds is missing".into(),
            })?,
        })
    }
}

/// The payer's side: a payment of `offer` (an escrow offer, `hooks::payment_required`) on chain
/// `chain_id` for the request whose input packs into `input_words`, salted with `salt`, signed by
/// `signer` at Unix time `now`; and the request id it opens.
pub fn sign(
    offer: &PaymentRequirements,
    chain_id: u64,
    signer: &(impl SignerSync + Signer),
    input_words: &[U256],
    salt: B256,
    now: u64,
) -> Result<(PaymentPayload, B256), PaymentError> {
    let terms = OfferTerms::of(offer)?;
    let payer = signer.address();
    let amount = parse_decimal("amount", &offer.amount)?;
    let input_hash = hooks::words_hash(input_words);
    let request_id = hooks::request_hash(payer, terms.model_id, input_hash, salt);
    let deadline = now + terms.deadline_seconds;
    let a = AuthorizationFields {
        from: payer,
        to: parse_address("payTo", &offer.pay_to)?,
        value: amount,
        valid_after: U256::ZERO,
        valid_before: U256::from(now + offer.max_timeout_seconds),
        nonce: hooks::escrow_nonce(request_id, terms.provider, amount, deadline),
    };
    let sig = signer
        .sign_hash_sync(&ReceiveWithAuthorization::from(&a).eip712_signing_hash(&exact::domain(offer, chain_id)?))
        .map_err(|e| FieldError { field: "signature", reason: e.to_string() })?;
    let payload = Eip3009Payload::new(&sig, a.from, a.to, a.value, a.valid_after, a.valid_before, a.nonce);
    let terms = Terms {
        provider: terms.provider.to_checksum(None),
        deadline,
        input_hash: input_hash.to_string(),
        input_words: input_words.iter().map(U256::to_string).collect(),
        salt: salt.to_string(),
        request_id: request_id.to_string(),
    };
    let json =
        |field, v: serde_json::Result<serde_json::Value>| v.map_err(|e| FieldError { field, reason: e.to_string() });
    let payment = PaymentPayload {
        x402_version: X402_VERSION,
        resource: None,
        accepted: offer.clone(),
        payload: json("payload", serde_json::to_value(payload))?,
        extensions: Some(serde_json::json!({ "zkml": json("extensions.zkml", serde_json::to_value(terms))? })),
    };
    Ok((payment, request_id))
}

/// Checks a `zkml-escrow` payment against `offers` on chain `chain_id` at Unix time `now`, for
/// the request whose input packs into `input_words` (the server packs the input it was sent), as
/// listed in the module's doc; returns what opens the escrow's request.
pub fn check(
    offers: &[PaymentRequirements],
    chain_id: u64,
    payment: &PaymentPayload,
    input_words: &[U256],
    now: u64,
) -> Result<Opening, PaymentError> {
    let s = exact::check_signed::<ReceiveWithAuthorization>(offers, chain_id, payment, now, SCHEME)?;
    let offer = OfferTerms::of(s.offer)?;
    let terms = payment.extensions.as_ref().and_then(|e| e.get("zkml")).ok_or_else(|| FieldError {
        field: "extensions.zkml",
        reason: "missing: a zkml-escrow payment carries the request's terms there".into(),
    })?;
    let terms: Terms = serde_json::from_value(terms.clone())
        .map_err(|e| FieldError { field: "extensions.zkml", reason: e.to_string() })?;
    let provider = parse_address("extensions.zkml.provider", &terms.provider)?;
    if provider != offer.provider {
        return Err(PaymentError::Terms(format!("the provider is {provider}, not the offer's {}", offer.provider)));
    }
    let input_hash = hooks::words_hash(input_words);
    let words: Vec<String> = input_words.iter().map(U256::to_string).collect();
    if terms.input_words != words || terms.input_hash.parse::<B256>().ok() != Some(input_hash) {
        return Err(PaymentError::Terms("the input words are not those of the input sent".into()));
    }
    if terms.deadline < now.saturating_add(MIN_DEADLINE_SECONDS) {
        return Err(PaymentError::Terms(format!(
            "the deadline {} leaves less than {MIN_DEADLINE_SECONDS} s from now ({now}) to prove",
            terms.deadline
        )));
    }
    let salt: B256 = terms.salt.parse().map_err(|e| FieldError {
        field: "extensions.zkml.salt",
        reason: format!("{e} (expected 0x and 64 hex digits)"),
    })?;
    let a = &s.fields;
    let request_id = hooks::request_hash(a.from, offer.model_id, input_hash, salt);
    if a.nonce != hooks::escrow_nonce(request_id, provider, a.value, terms.deadline) {
        return Err(PaymentError::Terms(
            "the authorization's nonce does not bind the request id, the provider, the amount and the deadline".into(),
        ));
    }
    Ok(Opening {
        escrow: a.to,
        asset: parse_address("asset", &s.offer.asset)?,
        request_id,
        payer: a.from,
        provider,
        amount: a.value,
        deadline: terms.deadline,
        input_hash,
        salt,
        valid_after: a.valid_after,
        valid_before: a.valid_before,
        signature: s.signature,
    })
}

#[allow(
    clippy::too_many_arguments,
    reason = "sol! gives each contract function a builder with one argument per Solidity parameter"
)]
#[allow(missing_docs, reason = "sol! adds an undocumented variant to each enum (Status::__Invalid)")]
mod contract {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        "../contracts/interfaces/IZkmlEscrow.sol"
    );
}
pub use contract::IZkmlEscrow;
/// A request's state at the escrow (IZkmlEscrow.Status): `None` (never opened), `Open`,
/// `Released` (paid to the provider), `Refunded` (to the payer, after the deadline).
pub use contract::IZkmlEscrow::Status;

/// Why the escrow did not open or release a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EscrowError {
    /// The escrow derives another request id from the terms than the payer's rule gives.
    #[error("the escrow computes request id {onchain}, not {expected}: another model or escrow")]
    RequestId {
        /// The escrow's.
        onchain: B256,
        /// The rule's (`hooks::request_hash`).
        expected: B256,
    },
    /// The request is not in the state the call needs (opened already, not open any more).
    #[error("request {request_id} is {status:?} at the escrow")]
    Status {
        /// The request.
        request_id: B256,
        /// Its state there.
        status: Status,
    },
    /// The escrow or the token would refuse the call (its revert).
    #[error("the escrow refuses: {0}")]
    Refused(String),
    /// The chain could not be asked or the transaction not sent.
    #[error("the chain: {0}")]
    Rpc(String),
    /// The transaction was mined but reverted.
    #[error("transaction {tx} reverted")]
    Reverted {
        /// The transaction.
        tx: B256,
    },
    /// The transaction succeeded without the event the call emits for this request.
    #[error("transaction {tx} holds no {event} event for the request")]
    NoEvent {
        /// The transaction.
        tx: B256,
        /// `Opened` or `Released`.
        event: &'static str,
    },
}

/// A transaction that opened or released a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The transaction.
    pub tx: B256,
    /// Its block.
    pub block: Option<u64>,
}

/// The transaction whose event `E` (`Opened` or `Released`, both indexed by the request id)
/// logged request `request_id` at `escrow`, if there is one: a server stopped after sending an
/// opening or a release, before recording it, finds it here instead of taking the request's
/// state for another's doing.
pub async fn find<P: Provider, E: SolEvent>(
    provider: &P,
    escrow: Address,
    request_id: B256,
) -> Result<Option<Sent>, EscrowError> {
    let filter = Filter::new().address(escrow).event_signature(E::SIGNATURE_HASH).topic1(request_id).from_block(0u64);
    let logs = provider.get_logs(&filter).await.map_err(|e| EscrowError::Rpc(e.to_string()))?;
    Ok(logs.iter().find_map(|l| l.transaction_hash.map(|tx| Sent { tx, block: l.block_number })))
}

/// The status (ZkmlEscrow.Status) of request `request_id` at `escrow`.
pub async fn status<P: Provider>(provider: &P, escrow: Address, request_id: B256) -> Result<Status, EscrowError> {
    let r = IZkmlEscrow::new(escrow, provider).requests(request_id).call().await;
    Ok(r.map_err(|e| EscrowError::Rpc(e.to_string()))?.status)
}

/// Opens the request `o` describes at its escrow, sent through `provider` (whose wallet pays the
/// gas; the escrow pulls the price from the payer with the payer's authorization): the escrow's
/// request id checked first, the call simulated, then sent; its `Opened` event required.
pub async fn open<P: Provider>(provider: &P, o: &Opening) -> Result<Sent, EscrowError> {
    let escrow = IZkmlEscrow::new(o.escrow, provider);
    let rpc = |e: alloy::contract::Error| EscrowError::Rpc(e.to_string());
    let onchain = escrow.requestIdOf(o.payer, o.input_hash, o.salt).call().await.map_err(rpc)?;
    if onchain != o.request_id {
        return Err(EscrowError::RequestId { onchain, expected: o.request_id });
    }
    let status = status(provider, o.escrow, o.request_id).await?;
    if status != Status::None {
        return Err(EscrowError::Status { request_id: o.request_id, status });
    }
    let terms = IZkmlEscrow::Terms {
        payer: o.payer,
        provider: o.provider,
        amount: o.amount,
        deadline: o.deadline,
        inputHash: o.input_hash,
        salt: o.salt,
    };
    let sig = &o.signature;
    let authorization = IZkmlEscrow::Authorization {
        validAfter: o.valid_after,
        validBefore: o.valid_before,
        v: 27 + u8::from(sig.v()),
        r: sig.r().into(),
        s: sig.s().into(),
    };
    let call = escrow.open(terms, authorization);
    call.call().await.map_err(|e| EscrowError::Refused(e.to_string()))?;
    let receipt = call.send().await.map_err(rpc)?.get_receipt().await.map_err(|e| EscrowError::Rpc(e.to_string()))?;
    let tx = receipt.transaction_hash;
    if !receipt.status() {
        return Err(EscrowError::Reverted { tx });
    }
    let opened = receipt.inner.logs().iter().any(|l| {
        l.address() == o.escrow
            && l.log_decode::<IZkmlEscrow::Opened>().is_ok_and(|e| e.inner.requestId == o.request_id)
    });
    if !opened {
        return Err(EscrowError::NoEvent { tx, event: "Opened" });
    }
    Ok(Sent { tx, block: receipt.block_number })
}

/// Releases request `request_id` at `escrow` to its provider with `proof` and its
/// `public_inputs` (the escrow checks the model, the request's context and input, then the
/// proof), sent through `provider`; its `Released` event required.
pub async fn release<P: Provider>(
    provider: &P,
    escrow: Address,
    request_id: B256,
    proof: Bytes,
    public_inputs: Vec<U256>,
) -> Result<Sent, EscrowError> {
    let status = status(provider, escrow, request_id).await?;
    if status != Status::Open {
        return Err(EscrowError::Status { request_id, status });
    }
    let e = IZkmlEscrow::new(escrow, provider);
    let call = e.release(request_id, proof, public_inputs);
    call.call().await.map_err(|e| EscrowError::Refused(e.to_string()))?;
    let receipt = call
        .send()
        .await
        .map_err(|e| EscrowError::Rpc(e.to_string()))?
        .get_receipt()
        .await
        .map_err(|e| EscrowError::Rpc(e.to_string()))?;
    let tx = receipt.transaction_hash;
    if !receipt.status() {
        return Err(EscrowError::Reverted { tx });
    }
    let released = receipt.inner.logs().iter().any(|l| {
        l.address() == escrow && l.log_decode::<IZkmlEscrow::Released>().is_ok_and(|e| e.inner.requestId == request_id)
    });
    if !released {
        return Err(EscrowError::NoEvent { tx, event: "Released" });
    }
    Ok(Sent { tx, block: receipt.block_number })
}
