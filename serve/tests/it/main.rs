//! zkml-serve's integration tests, one binary: the `exact` scheme's offline checks and its
//! settlement on anvil.

mod exact;
mod settle;

use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolStruct;
use zkml_serve::exact::{TransferWithAuthorization, domain};
use zkml_serve::x402::{Eip3009Payload, PaymentPayload, PaymentRequirements, X402_VERSION};

/// What a stock client sends for `offer` on chain `chain_id`: `t` signed by `signer` with EIP-712
/// in the token's domain, as x402's `exact` payload.
fn signed_payment(
    offer: &PaymentRequirements,
    chain_id: u64,
    t: &TransferWithAuthorization,
    signer: &PrivateKeySigner,
) -> PaymentPayload {
    let sig = signer.sign_hash_sync(&t.eip712_signing_hash(&domain(offer, chain_id).unwrap())).unwrap();
    let payload = Eip3009Payload::new(&sig, t.from, t.to, t.value, t.validAfter, t.validBefore, t.nonce);
    PaymentPayload {
        x402_version: X402_VERSION,
        resource: None,
        accepted: offer.clone(),
        payload: serde_json::to_value(payload).unwrap(),
        extensions: None,
    }
}
