//! zkml-serve's integration tests, one binary: the `exact` scheme's offline checks and its
//! settlement on anvil.

mod exact;
mod settle;

use alloy::primitives::hex;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolStruct;
use zkml_serve::exact::{TransferWithAuthorization, domain};
use zkml_serve::x402::{Authorization, Eip3009Payload, PaymentPayload, PaymentRequirements, X402_VERSION};

/// What a stock client sends for `offer` on chain `chain_id`: `t` signed by `signer` with EIP-712
/// in the token's domain, as x402's `exact` payload.
fn signed_payment(
    offer: &PaymentRequirements,
    chain_id: u64,
    t: &TransferWithAuthorization,
    signer: &PrivateKeySigner,
) -> PaymentPayload {
    let sig = signer.sign_hash_sync(&t.eip712_signing_hash(&domain(offer, chain_id).unwrap())).unwrap();
    let payload = Eip3009Payload {
        signature: hex::encode_prefixed(sig.as_bytes()),
        authorization: Authorization {
            from: t.from.to_checksum(None),
            to: t.to.to_checksum(None),
            value: t.value.to_string(),
            valid_after: t.validAfter.to_string(),
            valid_before: t.validBefore.to_string(),
            nonce: t.nonce.to_string(),
        },
    };
    PaymentPayload {
        x402_version: X402_VERSION,
        resource: None,
        accepted: offer.clone(),
        payload: serde_json::to_value(payload).unwrap(),
        extensions: None,
    }
}
