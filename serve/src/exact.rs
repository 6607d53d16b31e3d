//! x402's `exact` scheme on EVM chains, as the stock clients pay by it: the payer signs, with
//! EIP-712 in the token's domain (`extra.name`, `extra.version`, the chain, the token's address),
//! an EIP-3009 `TransferWithAuthorization{from, to = payTo, value = amount, validAfter,
//! validBefore, nonce}`, and the server settles it on-chain. `check` makes every check that
//! needs no chain, in the reference facilitator's order: the offer is one of ours, copied
//! verbatim; scheme and network; `to = payTo`; `value = amount`; `validAfter ≤ now` and
//! `validBefore ≥ now + 6 s`; the signature recovers `from`. What needs the chain — the nonce
//! unused, the balance, the transfer simulated, then settled — comes after, before any proving.
//! Contract wallets (ERC-1271) are not accepted: the signature must be an EOA's.

use alloy::primitives::{Address, Signature, U256};
use alloy::signers::SignerSync;
use alloy::sol_types::{Eip712Domain, SolStruct};

use crate::x402::{
    AuthorizationFields, Eip3009Payload, FieldError, PaymentPayload, PaymentRequirements, X402_VERSION, caip2,
    parse_address, parse_decimal,
};

/// The scheme's name in offers.
pub const SCHEME: &str = "exact";

/// How long an authorization must stay valid after it reaches the server, so that settling it
/// cannot race its expiry (the reference facilitator's margin).
pub const MIN_VALIDITY_SECONDS: u64 = 6;

alloy::sol! {
    /// EIP-3009's transfer authorization, the struct an `exact` payment signs.
    #[derive(Debug, PartialEq, Eq)]
    struct TransferWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }
}

/// A payment that passed every check `check` makes: the transfer to settle and its signature.
#[derive(Clone, Debug, PartialEq)]
pub struct Authorized {
    /// The token.
    pub asset: Address,
    /// The authorization, as signed.
    pub transfer: TransferWithAuthorization,
    /// Its signature.
    pub signature: Signature,
}

/// Why an `exact` payment is refused; each message names the field and both values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaymentError {
    /// Another protocol version.
    #[error("x402Version is {found}; this server speaks {X402_VERSION}")]
    Version {
        /// The client's.
        found: u32,
    },
    /// `accepted` is not one of the offers, copied verbatim.
    #[error("the accepted requirements are not one of this resource's offers (copy one verbatim)")]
    NotOffered,
    /// An offer of another scheme.
    #[error("scheme {found:?} is not {expected:?}")]
    Scheme {
        /// The offer's.
        found: String,
        /// This check's (`exact`, `zkml-escrow`).
        expected: &'static str,
    },
    /// An offer on another chain than the server's.
    #[error("network {found} is not this server's chain {expected}")]
    Network {
        /// The offer's.
        found: String,
        /// The server's, `eip155:<chain id>`.
        expected: String,
    },
    /// A field that does not parse (`payload`, `authorization.value`, `signature`, …).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// An authorization to pay someone else.
    #[error("the authorization pays {to}, not payTo {pay_to}")]
    Recipient {
        /// Its `to`.
        to: Address,
        /// The offer's.
        pay_to: Address,
    },
    /// An authorization of another amount.
    #[error("the authorization is for {value}, not the price {amount}")]
    Amount {
        /// Its `value`.
        value: U256,
        /// The offer's.
        amount: U256,
    },
    /// An authorization not valid yet.
    #[error("the authorization is valid only after {valid_after} (now {now})")]
    NotYetValid {
        /// Its `validAfter`.
        valid_after: U256,
        /// The server's clock.
        now: u64,
    },
    /// An authorization that expires before it can be settled.
    #[error("the authorization expires at {valid_before}, less than {MIN_VALIDITY_SECONDS} s after now ({now})")]
    Expired {
        /// Its `validBefore`.
        valid_before: U256,
        /// The server's clock.
        now: u64,
    },
    /// A signature by someone other than `from`.
    #[error("the signature is {signer}'s, not the payer {from}'s")]
    Signer {
        /// Who signed.
        signer: Address,
        /// The authorization's `from`.
        from: Address,
    },
    /// `zkml-escrow`: terms that are not the offer's or the request's, or a nonce that does not
    /// bind them.
    #[error("the escrow terms: {0}")]
    Terms(String),
}

/// The EIP-712 domain of an offer's token: `extra.name`, `extra.version`, the chain, the token.
pub fn domain(offer: &PaymentRequirements, chain_id: u64) -> Result<Eip712Domain, PaymentError> {
    let text = |key: &'static str| {
        offer.extra.get(key).and_then(|v| v.as_str()).map(|s| s.to_string()).ok_or(FieldError {
            field: key,
            reason: format!("the offer's extra.{key} (the token's EIP-712 domain) is missing"),
        })
    };
    let asset = parse_address("asset", &offer.asset)?;
    Ok(token_domain(text("name")?, text("version")?, chain_id, asset))
}

/// The EIP-712 domain of the token `asset` on chain `chain_id` named `name`, version `version`,
/// as EIP-3009 tokens (USDC) define it: no salt.
pub fn token_domain(name: String, version: String, chain_id: u64, asset: Address) -> Eip712Domain {
    Eip712Domain::new(Some(name.into()), Some(version.into()), Some(U256::from(chain_id)), Some(asset), None)
}

/// The buyer's side: `transfer` signed by `signer` with EIP-712 in `offer`'s token domain on
/// chain `chain_id`, as x402's `exact` payment of `offer` (what the stock clients send).
pub fn sign(
    offer: &PaymentRequirements,
    chain_id: u64,
    transfer: &TransferWithAuthorization,
    signer: &impl SignerSync,
) -> Result<PaymentPayload, PaymentError> {
    let t = transfer;
    let sig = signer
        .sign_hash_sync(&t.eip712_signing_hash(&domain(offer, chain_id)?))
        .map_err(|e| FieldError { field: "signature", reason: e.to_string() })?;
    let payload = Eip3009Payload::new(&sig, t.from, t.to, t.value, t.validAfter, t.validBefore, t.nonce);
    Ok(PaymentPayload {
        x402_version: X402_VERSION,
        resource: None,
        accepted: offer.clone(),
        payload: serde_json::to_value(payload).map_err(|e| FieldError { field: "payload", reason: e.to_string() })?,
        extensions: None,
    })
}

/// Checks an `exact` payment against `offers` on chain `chain_id` at Unix time `now`, as listed
/// in the module's doc; returns the transfer to settle.
pub fn check(
    offers: &[PaymentRequirements],
    chain_id: u64,
    payment: &PaymentPayload,
    now: u64,
) -> Result<Authorized, PaymentError> {
    let s = check_signed::<TransferWithAuthorization>(offers, chain_id, payment, now, SCHEME)?;
    let transfer = TransferWithAuthorization::from(&s.fields);
    Ok(Authorized { asset: parse_address("asset", &s.offer.asset)?, transfer, signature: s.signature })
}

impl From<&AuthorizationFields> for TransferWithAuthorization {
    fn from(a: &AuthorizationFields) -> Self {
        TransferWithAuthorization {
            from: a.from,
            to: a.to,
            value: a.value,
            validAfter: a.valid_after,
            validBefore: a.valid_before,
            nonce: a.nonce,
        }
    }
}

/// An EIP-3009 payment that passed [`check_signed`]: the offer it accepted, its authorization
/// and the signature.
pub(crate) struct Signed<'a> {
    pub(crate) offer: &'a PaymentRequirements,
    pub(crate) fields: AuthorizationFields,
    pub(crate) signature: Signature,
}

/// The checks every EIP-3009 scheme makes without the chain, in the reference facilitator's
/// order (the module's doc), for `scheme`, whose payer signs the authorization as the EIP-712
/// struct `S` (`TransferWithAuthorization` for `exact`, `ReceiveWithAuthorization` for
/// `zkml-escrow`).
pub(crate) fn check_signed<'a, S: SolStruct + for<'f> From<&'f AuthorizationFields>>(
    offers: &[PaymentRequirements],
    chain_id: u64,
    payment: &'a PaymentPayload,
    now: u64,
    scheme: &'static str,
) -> Result<Signed<'a>, PaymentError> {
    if payment.x402_version != X402_VERSION {
        return Err(PaymentError::Version { found: payment.x402_version });
    }
    let offer = &payment.accepted;
    if !offers.contains(offer) {
        return Err(PaymentError::NotOffered);
    }
    if offer.scheme != scheme {
        return Err(PaymentError::Scheme { found: offer.scheme.clone(), expected: scheme });
    }
    let expected = caip2(chain_id);
    if offer.network != expected {
        return Err(PaymentError::Network { found: offer.network.clone(), expected });
    }
    let p: Eip3009Payload = serde_json::from_value(payment.payload.clone())
        .map_err(|e| FieldError { field: "payload", reason: e.to_string() })?;
    let a = p.authorization()?;
    let pay_to = parse_address("payTo", &offer.pay_to)?;
    if a.to != pay_to {
        return Err(PaymentError::Recipient { to: a.to, pay_to });
    }
    let amount = parse_decimal("amount", &offer.amount)?;
    if a.value != amount {
        return Err(PaymentError::Amount { value: a.value, amount });
    }
    if a.valid_after > U256::from(now) {
        return Err(PaymentError::NotYetValid { valid_after: a.valid_after, now });
    }
    if a.valid_before < U256::from(now.saturating_add(MIN_VALIDITY_SECONDS)) {
        return Err(PaymentError::Expired { valid_before: a.valid_before, now });
    }
    let hash = S::from(&a).eip712_signing_hash(&domain(offer, chain_id)?);
    let signature = p.signature()?;
    let signer = signature
        .recover_address_from_prehash(&hash)
        .map_err(|e| FieldError { field: "signature", reason: e.to_string() })?;
    if signer != a.from {
        return Err(PaymentError::Signer { signer, from: a.from });
    }
    Ok(Signed { offer, fields: a, signature })
}
