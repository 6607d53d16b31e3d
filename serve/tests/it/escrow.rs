//! The `zkml-escrow` scheme: its checks that need no chain (a payment signed by `escrow::sign`
//! opens the request the escrow computes; each term that is not the offer's or the request's,
//! and a nonce that does not bind them, is refused and named), then on anvil the escrow opened
//! with the checked payment and released by the proof.

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use oracle_demo::anvil::repo_root;
use zkml::artifact::AnyProof;
use zkml::{context, pipeline};
use zkml_serve::catalog::Catalog;
use zkml_serve::escrow::{self, EscrowError, MIN_DEADLINE_SECONDS, Terms};
use zkml_serve::exact::{self, PaymentError, TransferWithAuthorization};
use zkml_serve::settle::IToken;
use zkml_serve::x402::{PaymentPayload, PaymentRequirements};
use zkml_verifier_gen::calldata::{self, fr_to_u256};
use zkml_verifier_gen::hooks::{self, EscrowOffer};

use crate::http::PRICE;
use crate::{Chain, price_mlp};

const CHAIN: u64 = 31337;
const NOW: u64 = 1_800_000_000;

fn offer_with(deadline_seconds: u64) -> PaymentRequirements {
    let o = EscrowOffer {
        chain_id: CHAIN,
        escrow: Address::repeat_byte(0xee),
        asset: Address::repeat_byte(0xaa),
        asset_name: "USD Coin".into(),
        asset_version: "2".into(),
        amount: U256::from(10_000u64),
        max_timeout_seconds: 300,
        provider: Address::repeat_byte(0xbb),
        deadline_seconds,
        model_id: U256::from(42u64),
        num_input_words: 2,
        resource_url: "http://127.0.0.1/v1/models/price_mlp/inferences".into(),
        description: "one proved inference".into(),
        mime_type: "application/json".into(),
    };
    hooks::payment_required(&o).accepts.remove(0)
}

fn offer() -> PaymentRequirements {
    offer_with(600)
}

fn words() -> Vec<U256> {
    vec![U256::from(7u64), U256::from(1u64) << 200]
}

fn signed(payer: &PrivateKeySigner) -> (PaymentPayload, B256) {
    escrow::sign(&offer(), CHAIN, payer, &words(), B256::repeat_byte(5), NOW).unwrap()
}

fn check(p: &PaymentPayload) -> Result<escrow::Opening, PaymentError> {
    escrow::check(&[offer()], CHAIN, p, &words(), NOW + 1)
}

/// The payment's terms, edited.
fn with_terms(p: &PaymentPayload, edit: impl Fn(&mut Terms)) -> PaymentPayload {
    let mut p = p.clone();
    let ext = p.extensions.as_mut().unwrap();
    let mut t: Terms = serde_json::from_value(ext["zkml"].clone()).unwrap();
    edit(&mut t);
    ext["zkml"] = serde_json::to_value(t).unwrap();
    p
}

fn terms_refused(r: Result<escrow::Opening, PaymentError>, says: &str) {
    match r {
        Err(e @ PaymentError::Terms(_)) => assert!(e.to_string().contains(says), "{e}"),
        other => panic!("not refused for its terms ({says}): {other:?}"),
    }
}

#[test]
fn a_signed_payment_opens_the_request_the_escrow_computes() {
    let payer = PrivateKeySigner::random();
    let (p, request_id) = signed(&payer);
    let o = check(&p).unwrap();
    let input_hash = hooks::words_hash(&words());
    assert_eq!(o.request_id, request_id);
    assert_eq!(request_id, hooks::request_hash(payer.address(), U256::from(42u64), input_hash, B256::repeat_byte(5)));
    assert_eq!(
        (o.escrow, o.asset, o.payer, o.provider, o.amount, o.deadline, o.input_hash),
        (
            Address::repeat_byte(0xee),
            Address::repeat_byte(0xaa),
            payer.address(),
            Address::repeat_byte(0xbb),
            U256::from(10_000u64),
            NOW + 600,
            input_hash
        )
    );
}

#[test]
fn another_input_than_the_one_paid_for_is_refused() {
    let (p, _) = signed(&PrivateKeySigner::random());
    let other = vec![U256::from(8u64), U256::from(1u64) << 200];
    terms_refused(escrow::check(&[offer()], CHAIN, &p, &other, NOW + 1), "input words");
}

#[test]
fn terms_that_the_nonce_does_not_bind_are_refused() {
    let (p, _) = signed(&PrivateKeySigner::random());
    terms_refused(check(&with_terms(&p, |t| t.deadline += 3600)), "nonce does not bind");
    terms_refused(check(&with_terms(&p, |t| t.salt = B256::repeat_byte(6).to_string())), "nonce does not bind");
    let other = Address::repeat_byte(0xcc).to_checksum(None);
    terms_refused(check(&with_terms(&p, |t| t.provider = other.clone())), "not the offer's");
}

#[test]
fn a_deadline_too_close_to_prove_is_refused() {
    let short = offer_with(MIN_DEADLINE_SECONDS - 1);
    let (p, _) = escrow::sign(&short, CHAIN, &PrivateKeySigner::random(), &words(), B256::ZERO, NOW).unwrap();
    terms_refused(escrow::check(&[short], CHAIN, &p, &words(), NOW), "to prove");
}

#[test]
fn a_payment_without_terms_or_signed_as_exact_is_refused() {
    let payer = PrivateKeySigner::random();
    let (p, _) = signed(&payer);
    let mut bare = p.clone();
    bare.extensions = None;
    assert!(matches!(check(&bare), Err(PaymentError::Field(f)) if f.field == "extensions.zkml"));
    // The same authorization signed as exact's TransferWithAuthorization: another EIP-712 struct,
    // so its signature does not recover the payer.
    let a: zkml_serve::x402::Eip3009Payload = serde_json::from_value(p.payload.clone()).unwrap();
    let a = a.authorization().unwrap();
    let t = TransferWithAuthorization::from(&a);
    let mut as_exact = exact::sign(&offer(), CHAIN, &t, &payer).unwrap();
    as_exact.extensions = p.extensions.clone();
    assert!(matches!(check(&as_exact), Err(PaymentError::Signer { .. })), "{:?}", check(&as_exact));
    // And an escrow payment is no exact payment.
    let e = exact::check(&[offer()], CHAIN, &p, NOW + 1).unwrap_err();
    assert!(matches!(e, PaymentError::Scheme { expected: "exact", .. }), "{e}");
}

/// On anvil, with ZkmlEscrow deployed for price_mlp: the payer's checked payment opens the
/// request (the price moves into the escrow, not to the server) and cannot open it twice; a
/// tampered proof is refused; the model's proof bound to the request releases the price to the
/// provider, once.
#[tokio::test(flavor = "current_thread")]
async fn on_anvil_a_checked_payment_opens_the_request_and_its_proof_releases_it() {
    let chain = Chain::start().await;
    let verifier = crate::stock::deploy_verifier(&chain).await;
    let catalog = Catalog::load(&[price_mlp().to_path_buf()], true).unwrap();
    let l = catalog.get("price_mlp").unwrap();
    let x: Vec<f64> = serde_json::from_value(crate::http::input()["input_data"][0].clone()).unwrap();
    let q = l.compiled.graph.quantize_input(&x).unwrap();
    let input = l.compiled.settings.public_inputs.iter().find(|p| p.name == "input").unwrap();
    let bits = input.packing.as_ref().unwrap().slot_bits;
    let words = hooks::pack_signed(&q.iter().map(|&v| v as i128).collect::<Vec<_>>(), bits).unwrap();
    let model_id = fr_to_u256(&l.compiled.id);
    let codes = oracle_demo::chain::compile_escrow(&repo_root()).unwrap();
    let e = oracle_demo::chain::deploy_escrow(&chain.provider, &codes, chain.asset, verifier, model_id, words.len())
        .await
        .unwrap();
    let provider = Address::repeat_byte(0xbb);
    let offer = hooks::payment_required(&EscrowOffer {
        chain_id: chain.chain_id,
        escrow: e.escrow,
        asset: chain.asset,
        asset_name: "USD Coin".into(),
        asset_version: "2".into(),
        amount: U256::from(PRICE),
        max_timeout_seconds: 300,
        provider,
        deadline_seconds: 600,
        model_id,
        num_input_words: words.len(),
        resource_url: "http://127.0.0.1/v1/models/price_mlp/inferences".into(),
        description: "one proved inference".into(),
        mime_type: "application/json".into(),
    })
    .accepts
    .remove(0);
    let payer = PrivateKeySigner::random();
    chain.mint(payer.address(), PRICE).await;
    let now = chain.now().await;
    let (payment, request_id) =
        escrow::sign(&offer, chain.chain_id, &payer, &words, B256::repeat_byte(9), now).unwrap();
    let o = escrow::check(std::slice::from_ref(&offer), chain.chain_id, &payment, &words, now).unwrap();

    escrow::open(&chain.provider, &o).await.unwrap();
    let token = IToken::new(chain.asset, &chain.provider);
    let balance = async |a: Address| token.balanceOf(a).call().await.unwrap();
    assert_eq!((balance(payer.address()).await, balance(e.escrow).await), (U256::ZERO, U256::from(PRICE)));
    let again = escrow::open(&chain.provider, &o).await.unwrap_err();
    assert!(matches!(again, EscrowError::Status { status: escrow::STATUS_OPEN, .. }), "{again}");

    let context = context::to_field(context::escrow(chain.chain_id, e.escrow.into_array(), request_id.0));
    let proved = pipeline::prove_wrapped(&l.compiled, &x, context, &l.keys).unwrap();
    let AnyProof::TwoRound(w) = &proved.proof else { panic!("a wrapped proof") };
    let public: Vec<U256> = w.public_inputs.iter().map(fr_to_u256).collect();
    let proof = calldata::encode_proof(&w.proof);
    let mut tampered = proof.clone();
    tampered[40] ^= 1;
    let bad =
        escrow::release(&chain.provider, e.escrow, request_id, tampered.into(), public.clone()).await.unwrap_err();
    assert!(matches!(bad, EscrowError::Refused(_)), "{bad}");
    escrow::release(&chain.provider, e.escrow, request_id, proof.clone().into(), public.clone()).await.unwrap();
    assert_eq!((balance(e.escrow).await, balance(provider).await), (U256::ZERO, U256::from(PRICE)));
    let twice = escrow::release(&chain.provider, e.escrow, request_id, proof.into(), public).await.unwrap_err();
    assert!(matches!(twice, EscrowError::Status { status: escrow::STATUS_RELEASED, .. }), "{twice}");
}
