//! The `exact` scheme's offline checks: an honest payment signed as the stock clients sign it
//! passes, and each way of getting one field wrong is refused with the error naming it.

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolStruct;
use serde_json::json;
use zkml_serve::exact::{self, PaymentError, TransferWithAuthorization};
use zkml_serve::x402::{FieldError, PaymentPayload, PaymentRequirements};

const CHAIN: u64 = 31337;
const NOW: u64 = 1_800_000_000;
const PRICE: u64 = 1_500_000;

fn payer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap()
}

fn asset() -> Address {
    Address::repeat_byte(0xaa)
}

fn pay_to() -> Address {
    Address::repeat_byte(0xbb)
}

fn offer() -> PaymentRequirements {
    PaymentRequirements {
        scheme: exact::SCHEME.into(),
        network: format!("eip155:{CHAIN}"),
        amount: PRICE.to_string(),
        asset: asset().to_checksum(None),
        pay_to: pay_to().to_checksum(None),
        max_timeout_seconds: 60,
        extra: json!({"name": "USD Coin", "version": "2"}),
    }
}

fn transfer(from: Address) -> TransferWithAuthorization {
    TransferWithAuthorization {
        from,
        to: pay_to(),
        value: U256::from(PRICE),
        validAfter: U256::from(NOW - 600),
        validBefore: U256::from(NOW + 600),
        nonce: B256::repeat_byte(0x42),
    }
}

/// What a stock client sends for `offer`: `t` signed by `signer` in the token's domain.
fn payment(offer: &PaymentRequirements, t: &TransferWithAuthorization, signer: &PrivateKeySigner) -> PaymentPayload {
    crate::signed_payment(offer, CHAIN, t, signer)
}

fn check(p: &PaymentPayload) -> Result<exact::Authorized, PaymentError> {
    exact::check(&[offer()], CHAIN, p, NOW)
}

#[test]
fn an_honest_payment_passes_and_gives_the_transfer_to_settle() {
    let t = transfer(payer().address());
    let a = check(&payment(&offer(), &t, &payer())).unwrap();
    assert_eq!(a.transfer, t);
    assert_eq!(a.asset, asset());
    // The payload's JSON is x402's: camelCase authorization fields, decimal numbers.
    let json = payment(&offer(), &t, &payer()).payload;
    assert_eq!(json["authorization"]["validBefore"], (NOW + 600).to_string());
    assert_eq!(json["signature"].as_str().unwrap().len(), 2 + 130);
}

#[test]
fn refuses_another_version() {
    let mut p = payment(&offer(), &transfer(payer().address()), &payer());
    p.x402_version = 1;
    assert_eq!(check(&p).unwrap_err(), PaymentError::Version { found: 1 });
}

#[test]
fn refuses_an_offer_not_made() {
    let mut cheaper = offer();
    cheaper.amount = "1".into();
    let t = TransferWithAuthorization { value: U256::from(1), ..transfer(payer().address()) };
    assert_eq!(check(&payment(&cheaper, &t, &payer())).unwrap_err(), PaymentError::NotOffered);
}

#[test]
fn refuses_another_scheme_or_chain_even_when_offered() {
    let t = transfer(payer().address());
    let mut escrow = offer();
    escrow.scheme = "zkml-escrow".into();
    let e = exact::check(&[offer(), escrow.clone()], CHAIN, &payment(&escrow, &t, &payer()), NOW).unwrap_err();
    assert!(matches!(e, PaymentError::Scheme { .. }), "{e}");
    let mut other_chain = offer();
    other_chain.network = "eip155:1".into();
    let e = exact::check(&[other_chain.clone()], CHAIN, &payment(&other_chain, &t, &payer()), NOW).unwrap_err();
    assert!(matches!(e, PaymentError::Network { .. }), "{e}");
}

#[test]
fn refuses_another_recipient_or_amount() {
    let t = TransferWithAuthorization { to: Address::repeat_byte(0xcc), ..transfer(payer().address()) };
    assert!(matches!(check(&payment(&offer(), &t, &payer())).unwrap_err(), PaymentError::Recipient { .. }));
    let t = TransferWithAuthorization { value: U256::from(PRICE - 1), ..transfer(payer().address()) };
    let e = check(&payment(&offer(), &t, &payer())).unwrap_err();
    assert_eq!(e, PaymentError::Amount { value: U256::from(PRICE - 1), amount: U256::from(PRICE) });
}

#[test]
fn refuses_an_authorization_outside_its_window() {
    let t = TransferWithAuthorization { validAfter: U256::from(NOW + 1), ..transfer(payer().address()) };
    assert!(matches!(check(&payment(&offer(), &t, &payer())).unwrap_err(), PaymentError::NotYetValid { .. }));
    // Valid for 5 more seconds: too short to settle.
    let t = TransferWithAuthorization { validBefore: U256::from(NOW + 5), ..transfer(payer().address()) };
    assert!(matches!(check(&payment(&offer(), &t, &payer())).unwrap_err(), PaymentError::Expired { .. }));
    let t = TransferWithAuthorization { validBefore: U256::from(NOW + 6), ..transfer(payer().address()) };
    check(&payment(&offer(), &t, &payer())).unwrap();
}

#[test]
fn refuses_a_signature_by_someone_else() {
    let other = PrivateKeySigner::from_bytes(&B256::repeat_byte(8)).unwrap();
    let e = check(&payment(&offer(), &transfer(payer().address()), &other)).unwrap_err();
    assert_eq!(e, PaymentError::Signer { signer: other.address(), from: payer().address() });
}

#[test]
fn refuses_a_field_changed_after_signing() {
    let mut p = payment(&offer(), &transfer(payer().address()), &payer());
    p.payload["authorization"]["nonce"] = json!(B256::repeat_byte(0x43).to_string());
    assert!(matches!(check(&p).unwrap_err(), PaymentError::Signer { .. }));
    // Signed in another token's domain.
    let mut other_token = offer();
    other_token.extra = json!({"name": "USD Coin", "version": "1"});
    let mut p = payment(&other_token, &transfer(payer().address()), &payer());
    p.accepted = offer();
    assert!(matches!(check(&p).unwrap_err(), PaymentError::Signer { .. }));
}

#[test]
fn refuses_malformed_fields_with_their_name() {
    let good = payment(&offer(), &transfer(payer().address()), &payer());
    for (path, value, field) in [
        (&["signature"][..], json!("0x1234"), "signature"),
        (&["signature"][..], json!("not hex"), "signature"),
        (&["authorization", "value"][..], json!("-1"), "authorization.value"),
        (&["authorization", "value"][..], json!("1e6"), "authorization.value"),
        (&["authorization", "nonce"][..], json!("0x42"), "authorization.nonce"),
        (&["authorization", "from"][..], json!("alice"), "authorization.from"),
    ] {
        let mut p = good.clone();
        let mut v = &mut p.payload;
        for k in &path[..path.len() - 1] {
            v = &mut v[*k];
        }
        v[path[path.len() - 1]] = value.clone();
        match check(&p).unwrap_err() {
            PaymentError::Field(FieldError { field: f, .. }) => assert_eq!(f, field, "{value}"),
            e => panic!("{value}: {e}"),
        }
    }
    let mut p = good;
    p.payload = json!({"signature": "0x"});
    assert!(matches!(check(&p).unwrap_err(), PaymentError::Field(FieldError { field: "payload", .. })));
}

/// The struct signed is EIP-3009's as USDC (FiatTokenV2) and contracts/testing/TestUSDC.sol hash
/// it: the EIP-712 type hash is USDC's `TRANSFER_WITH_AUTHORIZATION_TYPEHASH`.
#[test]
fn the_signed_struct_is_usdcs_transfer_with_authorization() {
    let t = transfer(payer().address());
    assert_eq!(
        t.eip712_type_hash(),
        "0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267".parse::<B256>().unwrap()
    );
}
