//! x402 v2's messages and headers, as the reference clients (npm `@x402/fetch`, PyPI `x402`)
//! read and write them: a 402 answer carries `PaymentRequired` in the `PAYMENT-REQUIRED` header,
//! the client retries with `PaymentPayload` in `PAYMENT-SIGNATURE` (its `accepted` a verbatim
//! copy of the offer it chose), and a paid answer may carry `PAYMENT-RESPONSE`. Each header is
//! standard, padded base64 of UTF-8 JSON. The one definition of these formats: the escrow's offer
//! (`hooks::payment_required`), the demo's agent and `zkml serve` all use it.

#![warn(missing_docs)]

use alloy_primitives::{Address, B256, Signature, U256};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this server speaks.
pub const X402_VERSION: u32 = 2;
/// The header of a 402 answer that holds the `PaymentRequired`.
pub const PAYMENT_REQUIRED: &str = "PAYMENT-REQUIRED";
/// The header of a retried request that holds the `PaymentPayload`.
pub const PAYMENT_SIGNATURE: &str = "PAYMENT-SIGNATURE";
/// The header of a paid answer that holds the settlement.
pub const PAYMENT_RESPONSE: &str = "PAYMENT-RESPONSE";

/// What a 402 answer asks for: the resource and the offers the client may pay by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequired {
    /// Always `X402_VERSION`.
    pub x402_version: u32,
    /// Why payment is required now (no payment, or what was wrong with the one sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The resource being sold.
    pub resource: Resource,
    /// The offers, any one of which pays for it.
    pub accepts: Vec<PaymentRequirements>,
}

/// The resource a payment is for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Its URL.
    pub url: String,
    /// What it is.
    pub description: String,
    /// The media type of what a paid request returns.
    pub mime_type: String,
}

/// One offer: pay `amount` of `asset` to `pay_to` on `network` by `scheme`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequirements {
    /// The payment scheme: `exact` (a signed EIP-3009 transfer the server settles) or
    /// `zkml-escrow` (paid into `ZkmlEscrow`, released by the proof).
    pub scheme: String,
    /// A CAIP-2 chain id, `eip155:<chain id>`.
    pub network: String,
    /// The price in the asset's smallest unit, in decimal.
    pub amount: String,
    /// The token's address (EIP-55).
    pub asset: String,
    /// Who is paid (EIP-55).
    pub pay_to: String,
    /// How long the server may take to answer a paid request.
    pub max_timeout_seconds: u64,
    /// Scheme-specific terms; for EVM tokens at least the EIP-712 domain `{name, version}`.
    #[serde(default)]
    pub extra: Value,
}

/// What a client sends back in `PAYMENT-SIGNATURE`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentPayload {
    /// The protocol version the client speaks.
    pub x402_version: u32,
    /// The resource it pays for, as offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    /// The offer it chose, copied verbatim.
    pub accepted: PaymentRequirements,
    /// The scheme's payment: for `exact` on EVM and for `zkml-escrow`, an `Eip3009Payload`.
    pub payload: Value,
    /// Extensions the offer asked for (`zkml-escrow`: the request's terms under `zkml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Value>,
}

/// What the `PAYMENT-RESPONSE` header of a paid answer says of the settlement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementResponse {
    /// Whether the payment was settled.
    pub success: bool,
    /// Why not, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<String>,
    /// Who paid, 0x hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
    /// The settlement transaction's hash, 0x hex (empty when none was sent).
    pub transaction: String,
    /// The chain, `eip155:<chain id>`.
    pub network: String,
}

/// The payment of the EVM schemes, `exact` and `zkml-escrow`: an EIP-3009 authorization
/// (`TransferWithAuthorization` for `exact`, `ReceiveWithAuthorization` to the escrow for
/// `zkml-escrow`) and its EIP-712 signature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Eip3009Payload {
    /// The EIP-712 signature, 65 bytes `r ‖ s ‖ v` in 0x hex.
    pub signature: String,
    /// The signed authorization, its numbers in decimal.
    pub authorization: Authorization,
}

impl Eip3009Payload {
    /// The payload of a signed EIP-3009 authorization (either struct: `TransferWithAuthorization`
    /// or `ReceiveWithAuthorization`), its fields as x402 writes them: addresses EIP-55, numbers in
    /// decimal, the nonce and the 65-byte signature in 0x hex.
    pub fn new(
        signature: &Signature,
        from: Address,
        to: Address,
        value: U256,
        valid_after: U256,
        valid_before: U256,
        nonce: B256,
    ) -> Self {
        Eip3009Payload {
            signature: alloy_primitives::hex::encode_prefixed(signature.as_bytes()),
            authorization: Authorization {
                from: from.to_checksum(None),
                to: to.to_checksum(None),
                value: value.to_string(),
                valid_after: valid_after.to_string(),
                valid_before: valid_before.to_string(),
                nonce: nonce.to_string(),
            },
        }
    }
}

alloy_sol_types::sol! {
    /// EIP-3009's `ReceiveWithAuthorization` (EIP-712 struct; USDC's type hash): what a
    /// `zkml-escrow` payment signs, to the escrow, which alone may submit it.
    #[derive(Debug, PartialEq, Eq)]
    struct ReceiveWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }
}

impl From<&AuthorizationFields> for ReceiveWithAuthorization {
    fn from(a: &AuthorizationFields) -> Self {
        ReceiveWithAuthorization {
            from: a.from,
            to: a.to,
            value: a.value,
            validAfter: a.valid_after,
            validBefore: a.valid_before,
            nonce: a.nonce,
        }
    }
}

/// An EIP-3009 authorization's fields, read from its JSON (`Eip3009Payload::authorization`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationFields {
    /// The payer.
    pub from: Address,
    /// The payee.
    pub to: Address,
    /// The amount.
    pub value: U256,
    /// Unix time from which it may be settled.
    pub valid_after: U256,
    /// Unix time until which it may be settled.
    pub valid_before: U256,
    /// The nonce.
    pub nonce: B256,
}

/// A field of a payment that does not parse, named as x402's JSON names it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the payment's {field} is not valid: {reason}")]
pub struct FieldError {
    /// Which (`authorization.value`, `signature`, `payTo`, …).
    pub field: &'static str,
    /// Why.
    pub reason: String,
}

impl Eip3009Payload {
    /// The authorization's fields: EIP-55 or lowercase addresses, decimal numbers, a 0x nonce of
    /// 32 bytes.
    pub fn authorization(&self) -> Result<AuthorizationFields, FieldError> {
        let a = &self.authorization;
        Ok(AuthorizationFields {
            from: parse_address("authorization.from", &a.from)?,
            to: parse_address("authorization.to", &a.to)?,
            value: parse_decimal("authorization.value", &a.value)?,
            valid_after: parse_decimal("authorization.validAfter", &a.valid_after)?,
            valid_before: parse_decimal("authorization.validBefore", &a.valid_before)?,
            nonce: a.nonce.parse().map_err(|e| FieldError {
                field: "authorization.nonce",
                reason: format!("{e} (expected 0x and 64 hex digits)"),
            })?,
        })
    }

    /// The signature: 65 bytes `r ‖ s ‖ v` in hex.
    pub fn signature(&self) -> Result<Signature, FieldError> {
        let field = "signature";
        let bytes =
            alloy_primitives::hex::decode(&self.signature).map_err(|e| FieldError { field, reason: e.to_string() })?;
        if bytes.len() != 65 {
            return Err(FieldError { field, reason: format!("{} bytes, expected 65 (r ‖ s ‖ v)", bytes.len()) });
        }
        Signature::from_raw(&bytes).map_err(|e| FieldError { field, reason: e.to_string() })
    }
}

/// CAIP-2 id of an EVM chain, `eip155:<chain id>`: an offer's `network`.
pub fn caip2(chain_id: u64) -> String {
    format!("eip155:{chain_id}")
}

/// An address field of a payment or an offer.
pub fn parse_address(field: &'static str, s: &str) -> Result<Address, FieldError> {
    s.parse().map_err(|e| FieldError { field, reason: format!("{e} (expected an 0x address)") })
}

/// A decimal integer field (x402 writes amounts and times in decimal; no sign, no exponent).
pub fn parse_decimal(field: &'static str, s: &str) -> Result<U256, FieldError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError { field, reason: format!("{s:?} is not a decimal integer") });
    }
    U256::from_str_radix(s, 10).map_err(|e| FieldError { field, reason: e.to_string() })
}

/// An EIP-3009 authorization as x402 writes it in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// The payer.
    pub from: String,
    /// The payee: the offer's `payTo`.
    pub to: String,
    /// The amount, in the token's smallest unit.
    pub value: String,
    /// Unix time from which it may be settled.
    pub valid_after: String,
    /// Unix time until which it may be settled.
    pub valid_before: String,
    /// 32 bytes, 0x hex: the token refuses a nonce used twice.
    pub nonce: String,
}

/// Why a header could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// Not standard base64.
    #[error("the {header} header is not base64: {reason}")]
    Base64 {
        /// The header's name.
        header: &'static str,
        /// The decoder's reason.
        reason: String,
    },
    /// Base64 of something other than the expected JSON.
    #[error("the {header} header does not hold the expected JSON: {reason}")]
    Json {
        /// The header's name.
        header: &'static str,
        /// The parser's reason.
        reason: String,
    },
}

/// A message as a header value: standard, padded base64 of its JSON.
pub fn encode_header<T: Serialize>(message: &T) -> String {
    // Serializing these plain structs (string keys, no maps with other keys) cannot fail.
    STANDARD.encode(serde_json::to_vec(message).unwrap_or_default())
}

/// Reads a header value `encode_header` wrote (or a reference client did).
pub fn decode_header<T: DeserializeOwned>(header: &'static str, value: &str) -> Result<T, HeaderError> {
    let bytes = STANDARD.decode(value.trim()).map_err(|e| HeaderError::Base64 { header, reason: e.to_string() })?;
    serde_json::from_slice(&bytes).map_err(|e| HeaderError::Json { header, reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> PaymentRequirements {
        PaymentRequirements {
            scheme: "exact".into(),
            network: "eip155:31337".into(),
            amount: "1500000".into(),
            asset: "0x5FbDB2315678afecb367f032d93F642f64180aa3".into(),
            pay_to: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".into(),
            max_timeout_seconds: 60,
            extra: serde_json::json!({"name": "USD Coin", "version": "2"}),
        }
    }

    /// The field names are x402's (camelCase), and a header round-trips.
    #[test]
    fn payment_required_is_x402_json_in_base64() {
        let pr = PaymentRequired {
            x402_version: X402_VERSION,
            error: None,
            resource: Resource {
                url: "http://x/v1".into(),
                description: "d".into(),
                mime_type: "application/json".into(),
            },
            accepts: vec![offer()],
        };
        let json = serde_json::to_value(&pr).unwrap();
        assert_eq!(json["x402Version"], 2);
        assert_eq!(json["accepts"][0]["payTo"], "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        assert_eq!(json["accepts"][0]["maxTimeoutSeconds"], 60);
        assert_eq!(json["resource"]["mimeType"], "application/json");
        assert!(json.get("error").is_none());
        let h = encode_header(&pr);
        assert!(h.len().is_multiple_of(4), "padded");
        assert_eq!(decode_header::<PaymentRequired>(PAYMENT_REQUIRED, &h).unwrap(), pr);
    }

    /// A header that is not base64, or base64 of something else, is an error naming the header.
    #[test]
    fn a_bad_header_is_named() {
        let e = decode_header::<PaymentPayload>(PAYMENT_SIGNATURE, "not base64!").unwrap_err();
        assert!(matches!(e, HeaderError::Base64 { header: PAYMENT_SIGNATURE, .. }), "{e}");
        let e = decode_header::<PaymentPayload>(PAYMENT_SIGNATURE, &STANDARD.encode(b"{\"a\": 1}")).unwrap_err();
        assert!(matches!(e, HeaderError::Json { header: PAYMENT_SIGNATURE, .. }), "{e}");
        assert!(e.to_string().contains("PAYMENT-SIGNATURE"));
    }
}
