//! The `zkml-escrow` scheme: its checks that need no chain (a payment signed by `escrow::sign`
//! opens the request the escrow computes; each term that is not the offer's or the request's,
//! and a nonce that does not bind them, is refused and named), then on anvil the escrow opened
//! with the checked payment and released by the proof.

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use oracle_demo::anvil::{ANVIL_DEV_KEY, repo_root};
use reqwest::StatusCode;
use serde_json::Value;
use zkml::artifact::AnyProof;
use zkml::{context, pipeline};
use zkml_serve::catalog::{Catalog, EscrowPinError};
use zkml_serve::escrow::{self, EscrowError, MIN_DEADLINE_SECONDS, Terms};
use zkml_serve::exact::{self, PaymentError, TransferWithAuthorization};
use zkml_serve::http::{Limits, Server, serve};
use zkml_serve::pay;
use zkml_serve::settle::IToken;
use zkml_serve::worker::Inference;
use zkml_serve::x402::{
    PAYMENT_REQUIRED, PAYMENT_SIGNATURE, PaymentPayload, PaymentRequired, PaymentRequirements, decode_header,
    encode_header,
};
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
    let (e, _) = deploy_for_price_mlp(&chain).await;
    let catalog = Catalog::load(&[price_mlp().to_path_buf()], true).unwrap();
    let l = catalog.get("price_mlp").unwrap();
    let x: Vec<f64> = serde_json::from_value(crate::http::input()["input_data"][0].clone()).unwrap();
    // The payer's packing, written out here: the rule the escrow's input hash is taken over.
    let q = l.compiled.graph.quantize_input(&x).unwrap();
    let input = l.compiled.settings.public_inputs.iter().find(|p| p.name == "input").unwrap();
    let bits = input.packing.as_ref().unwrap().slot_bits;
    let words = hooks::pack_signed(&q, bits).unwrap();
    assert_eq!(l.input_words(&x).unwrap(), words);
    let model_id = fr_to_u256(&l.compiled.id);
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
    assert!(matches!(again, EscrowError::Status { status: escrow::Status::Open, .. }), "{again}");

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
    assert!(matches!(twice, EscrowError::Status { status: escrow::Status::Released, .. }), "{twice}");
}

/// price_mlp's verifier and ZkmlEscrow (with the ERC-8004 registries and validator it is built
/// with), deployed on `chain` for its token: the escrow's contracts and the verifier.
pub(crate) async fn deploy_for_price_mlp(chain: &Chain) -> (oracle_demo::chain::EscrowContracts, Address) {
    let verifier = crate::stock::deploy_verifier(chain).await;
    let c = zkml::artifact::Compiled::load(price_mlp()).unwrap();
    let words = escrow::input_slots(&c.settings).unwrap().count;
    let codes = oracle_demo::chain::compile_escrow(&repo_root()).unwrap();
    let e = oracle_demo::chain::deploy_escrow(&chain.provider, &codes, chain.asset, verifier, fr_to_u256(&c.id), words)
        .await
        .unwrap();
    (e, verifier)
}

/// Waits (up to 30 s) for `request_id` to be released at `escrow`.
pub(crate) async fn until_released(chain: &Chain, escrow: Address, request_id: B256) {
    for _ in 0..300 {
        if escrow::status(&chain.provider, escrow, request_id).await.unwrap() == escrow::Status::Released {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the server did not release the escrow's request {request_id}");
}

/// Over HTTP on anvil, price_mlp sold by `zkml-escrow` beside `exact` (its escrow pinned at start,
/// after the contract's token, model and verifier are checked): a payment for another input is
/// refused before anything moves; the buyer's payment opens the request (the price goes to the
/// escrow, never to the server), the answer is a proof bound to the request, and the server
/// releases the escrow with it: the price reaches the provider once; the same payment again gets
/// the answer with the release.
#[tokio::test(flavor = "multi_thread")]
async fn over_http_an_escrow_payment_is_opened_proved_and_released() {
    let chain = Chain::start().await;
    let (e, verifier) = deploy_for_price_mlp(&chain).await;
    let mut catalog = Catalog::load(&[price_mlp().to_path_buf()], true).unwrap();
    let x: Vec<f64> = serde_json::from_value(crate::http::input()["input_data"][0].clone()).unwrap();
    let words = catalog.get("price_mlp").unwrap().input_words(&x).unwrap();
    let other_token = catalog.pin_escrow(&chain.provider, "price_mlp", e.escrow, Address::repeat_byte(0xaa)).await;
    assert!(matches!(other_token, Err(EscrowPinError::Mismatch { what: "token", .. })), "{other_token:?}");
    let not_escrow = catalog.pin_escrow(&chain.provider, "price_mlp", verifier, chain.asset).await;
    assert!(matches!(not_escrow, Err(EscrowPinError::NotAnEscrow { .. })), "{not_escrow:?}");
    catalog.pin_escrow(&chain.provider, "price_mlp", e.escrow, chain.asset).await.unwrap();
    assert_eq!(catalog.get("price_mlp").unwrap().verifier, Some(verifier));

    let provider = Address::repeat_byte(0xbb);
    let pricing = crate::http::pricing(chain.chain_id, chain.asset, provider);
    let server = Server::start(catalog, &pricing, chain.provider.clone(), Limits::default(), crate::http::jobs().await)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/models/price_mlp/inferences", listener.local_addr().unwrap());
    tokio::spawn(async move { serve(listener, server, std::future::pending()).await.unwrap() });
    let client = reqwest::Client::new();
    let post = |header: Option<String>| {
        let mut r = client.post(&url).json(&crate::http::input());
        if let Some(h) = header {
            r = r.header(PAYMENT_SIGNATURE, h);
        }
        r.send()
    };

    let unpaid = post(None).await.unwrap();
    assert_eq!(unpaid.status(), StatusCode::PAYMENT_REQUIRED);
    let required: PaymentRequired =
        decode_header(PAYMENT_REQUIRED, unpaid.headers()[PAYMENT_REQUIRED].to_str().unwrap()).unwrap();
    let schemes: Vec<&str> = required.accepts.iter().map(|o| o.scheme.as_str()).collect();
    assert_eq!(schemes, ["exact", escrow::SCHEME]);
    let offer = &required.accepts[1];
    assert_eq!(offer.pay_to, e.escrow.to_checksum(None));

    let payer = PrivateKeySigner::random();
    chain.mint(payer.address(), PRICE).await;
    let token = IToken::new(chain.asset, &chain.provider);
    let server_account = ANVIL_DEV_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let before = token.balanceOf(server_account).call().await.unwrap();
    let now = chain.now().await;
    let mut other = words.clone();
    other[0] += U256::from(1u64);
    let (wrong, _) = escrow::sign(offer, chain.chain_id, &payer, &other, B256::repeat_byte(3), now).unwrap();
    let r = post(Some(encode_header(&wrong))).await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("input words"), "{body}");

    let (payment, request_id) = escrow::sign(offer, chain.chain_id, &payer, &words, B256::repeat_byte(4), now).unwrap();
    let r = post(Some(encode_header(&payment))).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    let answer: Inference = r.json().await.unwrap();
    let context = context::to_field(context::escrow(chain.chain_id, e.escrow.into_array(), request_id.0));
    assert_eq!(answer.context, context.to_string());
    let w = answer.wrapped_proof().unwrap();
    assert_eq!(w.public_inputs[1], context);
    let opened = escrow::find::<_, escrow::IZkmlEscrow::Opened>(&chain.provider, e.escrow, request_id).await.unwrap();
    assert_eq!(Some(answer.payment.transaction.clone()), opened.map(|s| s.tx.to_string()));

    let balance = async |a: Address| token.balanceOf(a).call().await.unwrap();
    until_released(&chain, e.escrow, request_id).await;
    assert_eq!(
        (balance(payer.address()).await, balance(e.escrow).await, balance(provider).await),
        (U256::ZERO, U256::ZERO, U256::from(PRICE))
    );
    assert_eq!(balance(server_account).await, before, "the server's account never holds the money");

    // The release is recorded in the answer (a moment after it is mined).
    let mut again = Value::Null;
    for _ in 0..50 {
        again = post(Some(encode_header(&payment))).await.unwrap().json().await.unwrap();
        if !again["release"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let release = escrow::find::<_, escrow::IZkmlEscrow::Released>(&chain.provider, e.escrow, request_id).await;
    assert_eq!(again["release"].as_str(), release.unwrap().map(|s| s.tx.to_string()).as_deref());
    assert_eq!(again["proof"], serde_json::to_value(&answer.proof).unwrap());
    assert_eq!(balance(provider).await, U256::from(PRICE), "released once");
}

/// A server that has no escrow for the model offers `exact` only: an escrow payment is refused
/// with a 402 (nothing is opened), and `zkml pay` says the model is not sold by escrow there
/// before it signs anything.
#[tokio::test(flavor = "current_thread")]
async fn where_no_escrow_is_offered_an_escrow_payment_is_refused_and_pay_says_so() {
    let (base, _) = crate::http::offline(Limits::default()).await;
    let x: Vec<f64> = serde_json::from_value(crate::http::input()["input_data"][0].clone()).unwrap();
    let c = zkml::artifact::Compiled::load(price_mlp()).unwrap();
    let words = escrow::input_words(&c, &x).unwrap();
    let (payment, _) = escrow::sign(&offer(), CHAIN, &PrivateKeySigner::random(), &words, B256::ZERO, NOW).unwrap();
    let url = format!("{base}/v1/models/price_mlp/inferences");
    let r = reqwest::Client::new()
        .post(url)
        .header(PAYMENT_SIGNATURE, encode_header(&payment))
        .json(&crate::http::input())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains(&PaymentError::NotOffered.to_string()), "{body}");

    let buyer = PrivateKeySigner::random();
    let limits = pay::Limits {
        chain_id: CHAIN,
        asset: Address::repeat_byte(0xaa),
        max_price: U256::from(PRICE),
        escrow: None,
        max_deadline_seconds: 3600,
    };
    let vk = zkml::artifact::read_verifier_key(price_mlp()).unwrap();
    let p = pay::Purchase { server: &base, name: "price_mlp", model: &c, vk: &vk, input: &x, signer: &buyer, limits };
    match pay::buy(&p, |_| {}).await {
        Err(pay::PayError::NoEscrowOffer { offered }) => assert_eq!(offered, "exact"),
        other => panic!("{other:?}"),
    }
}
