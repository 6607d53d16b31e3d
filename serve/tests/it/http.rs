//! The HTTP routes, over loopback: what is on sale, the 402 that asks for payment, every request
//! refused before money moves (with its status and an error naming the problem), and on anvil a
//! purchase end to end — settled once, answered with a proof that verifies, bound to the payment.

use std::path::Path;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use reqwest::StatusCode;
use serde_json::{Value, json};
use zkml::artifact::{self, Compiled};
use zkml::pipeline;
use zkml_serve::catalog::{Catalog, KeySetup, Pricing};
use zkml_serve::exact::TransferWithAuthorization;
use zkml_serve::http::{Limits, Server, payment_context, serve};
use zkml_serve::jobs::JobStore;
use zkml_serve::settle::IToken;
use zkml_serve::worker::Inference;
use zkml_serve::x402::{
    PAYMENT_REQUIRED, PAYMENT_RESPONSE, PAYMENT_SIGNATURE, PaymentRequired, SettlementResponse, decode_header,
    encode_header,
};

use crate::{Chain, price_mlp};

/// What price_mlp costs here.
pub(crate) const PRICE: u64 = 10_000;

pub(crate) fn input() -> Value {
    serde_json::from_slice(&std::fs::read(crate::price_mlp_input()).unwrap()).unwrap()
}

pub(crate) fn pricing(chain_id: u64, asset: Address, pay_to: Address) -> Pricing {
    Pricing {
        chain_id,
        asset,
        token_name: "USD Coin".into(),
        token_version: "2".into(),
        pay_to,
        amount: U256::from(PRICE),
        max_timeout_seconds: 300,
        escrow_deadline_seconds: 900,
    }
}

/// A server for `pricing` on loopback; its base URL.
async fn open(pricing: &Pricing, provider: DynProvider, limits: Limits) -> String {
    let catalog = Catalog::load(&[price_mlp().to_path_buf()], true).unwrap();
    let server = Server::start(catalog, pricing, provider, limits, jobs().await).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { serve(listener, server, std::future::pending()).await.unwrap() });
    url
}

/// A job queue of its own, in a fresh SQLite file.
pub(crate) async fn jobs() -> JobStore {
    JobStore::open(&format!("sqlite://{}", crate::data_dir().join("jobs.sqlite").display())).await.unwrap()
}

/// A server with no chain behind it: for everything refused before settlement.
pub(crate) async fn offline(limits: Limits) -> (String, Pricing) {
    let p = pricing(31337, Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));
    let nowhere = ProviderBuilder::new().connect_http("http://127.0.0.1:9".parse().unwrap()).erased();
    (open(&p, nowhere, limits).await, p)
}

fn inference_url(base: &str, model: &str) -> String {
    format!("{base}/v1/models/{model}/inferences")
}

/// price_mlp's input posted to `base` with the payment header `paid`.
async fn post_paid(base: &str, paid: &str) -> reqwest::Response {
    let client = reqwest::Client::new();
    let post = client.post(inference_url(base, "price_mlp")).header(PAYMENT_SIGNATURE, paid).json(&input());
    post.send().await.unwrap()
}

/// `payer`'s payment of `offer`, valid for ten minutes from `now − 60`.
fn payment_header(p: &Pricing, payer: &PrivateKeySigner, value: u64, nonce: u8, now: u64) -> String {
    let t = TransferWithAuthorization {
        from: payer.address(),
        to: p.pay_to,
        value: U256::from(value),
        validAfter: U256::from(now - 60),
        validBefore: U256::from(now + 600),
        nonce: B256::repeat_byte(nonce),
    };
    encode_header(&crate::signed_payment(&p.offer(), p.chain_id, &t, payer))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The error of a refusal, after checking its status.
async fn refused(r: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(r.status(), status);
    let body: Value = r.json().await.unwrap();
    body["error"].as_str().expect("every refusal is {\"error\": ...}").to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn the_catalog_lists_each_model_with_its_offer() {
    let (base, p) = offline(Limits::default()).await;
    let body: Value = reqwest::get(format!("{base}/v1/models")).await.unwrap().json().await.unwrap();
    let models = body["models"].as_array().unwrap();
    assert_eq!(models.len(), 1);
    let m = &models[0];
    let c = Compiled::load(price_mlp()).unwrap();
    assert_eq!(m["id"], "price_mlp");
    assert_eq!(m["modelId"], c.settings.model_id.as_str());
    assert_eq!(m["input"]["shape"], json!(c.settings.input.shape));
    assert_eq!(m["setup"], serde_json::to_value(KeySetup::Development).unwrap());
    assert_eq!(m["vkDigest"], artifact::vk_digest(price_mlp()).unwrap().as_str());
    assert_eq!(m["accepts"], json!([p.offer()]));
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().text().await.unwrap(), "ok");
}

#[tokio::test(flavor = "current_thread")]
async fn an_unpaid_request_is_answered_402_with_the_offer() {
    let (base, p) = offline(Limits::default()).await;
    let url = inference_url(&base, "price_mlp");
    let r = reqwest::Client::new().post(&url).json(&input()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    let header = r.headers()[PAYMENT_REQUIRED].to_str().unwrap().to_string();
    let pr: PaymentRequired = decode_header(PAYMENT_REQUIRED, &header).unwrap();
    assert_eq!(pr.accepts, vec![p.offer()]);
    assert_eq!(pr.resource.url, url);
    assert!(pr.error.unwrap().contains(PAYMENT_SIGNATURE));
    let body: PaymentRequired = r.json().await.unwrap();
    assert_eq!(body.accepts, pr.accepts, "the body repeats the header");
}

/// Each request the server cannot serve, refused with its status and an error naming the
/// problem, before any payment is looked at (the server has no chain to take one from).
#[tokio::test(flavor = "current_thread")]
async fn requests_that_cannot_be_served_are_refused_before_payment() {
    let (base, p) = offline(Limits { max_body: 4096, ..Limits::default() }).await;
    let client = reqwest::Client::new();
    let url = inference_url(&base, "price_mlp");
    let n = input()["input_data"][0].as_array().unwrap().len();
    let paid = payment_header(&p, &PrivateKeySigner::random(), PRICE, 1, unix_now());
    let post = |url: String, body: Vec<u8>| client.post(url).header(PAYMENT_SIGNATURE, &paid).body(body).send();

    let e = refused(post(inference_url(&base, "lenet"), vec![]).await.unwrap(), StatusCode::NOT_FOUND).await;
    assert!(e.contains("lenet") && e.contains("price_mlp"), "{e}");
    let e = refused(post(url.clone(), b"not json".to_vec()).await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert!(e.contains("not an input"), "{e}");
    let two = json!({"input_data": [vec![0.5; n], vec![0.5; n]]});
    let e = refused(post(url.clone(), two.to_string().into()).await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert!(e.contains("2 inputs"), "{e}");
    let short = json!({"input_data": [vec![0.5; n - 1]]});
    let e = refused(post(url.clone(), short.to_string().into()).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(e.contains(&format!("{}", n - 1)), "names the length: {e}");
    let unpaid = client.post(&url).body(short.to_string()).send().await.unwrap();
    refused(unpaid, StatusCode::UNPROCESSABLE_ENTITY).await; // before the 402: nothing to sign for
    let mut far = vec![0.5; n];
    far[0] = 1e12;
    let far = json!({ "input_data": [far] });
    let e = refused(post(url.clone(), far.to_string().into()).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(e.contains("1000000000000"), "names the value: {e}");
    let e = refused(post(url.clone(), vec![b' '; 5000]).await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(e.contains("body"), "{e}");
    let r = post_paid(&base, "not base64!").await;
    let e = refused(r, StatusCode::BAD_REQUEST).await;
    assert!(e.contains(PAYMENT_SIGNATURE), "{e}");
}

/// A payment that fails a check of `exact` is a 402 with the offer again and the check named.
#[tokio::test(flavor = "current_thread")]
async fn a_payment_that_fails_a_check_is_refused_with_402_naming_it() {
    let (base, p) = offline(Limits::default()).await;
    let payer = PrivateKeySigner::random();
    let underpaid = payment_header(&p, &payer, PRICE - 1, 1, unix_now());
    let r = post_paid(&base, &underpaid).await;
    let header = r.headers()[PAYMENT_REQUIRED].to_str().unwrap().to_string();
    let e = refused(r, StatusCode::PAYMENT_REQUIRED).await;
    assert!(e.contains(&(PRICE - 1).to_string()) && e.contains(&PRICE.to_string()), "names both amounts: {e}");
    let pr: PaymentRequired = decode_header(PAYMENT_REQUIRED, &header).unwrap();
    assert_eq!(pr.accepts, vec![p.offer()]);
}

/// Each way a payment can be wrong, over HTTP: a 402 with the offer again and an error naming
/// the check, before the server asks the chain anything (it has none here).
#[tokio::test(flavor = "current_thread")]
async fn each_bad_payment_is_refused_with_402_naming_the_check() {
    let (base, p) = offline(Limits::default()).await;
    let (payer, someone) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let now = unix_now();
    let transfer = |to: Address, valid_after: u64, valid_before: u64| TransferWithAuthorization {
        from: payer.address(),
        to,
        value: U256::from(PRICE),
        validAfter: U256::from(valid_after),
        validBefore: U256::from(valid_before),
        nonce: B256::repeat_byte(9),
    };
    let honest = transfer(p.pay_to, now - 60, now + 600);
    let sign = |offer: &zkml_serve::x402::PaymentRequirements, t: &TransferWithAuthorization, by: &PrivateKeySigner| {
        encode_header(&zkml_serve::exact::sign(offer, p.chain_id, t, by).unwrap())
    };
    let offer = p.offer();
    let mut other_asset = p.offer();
    other_asset.asset = Address::repeat_byte(0xcc).to_checksum(None);
    let mut other_chain = p.offer();
    other_chain.network = "eip155:1".into();
    let cases = [
        ("another token", sign(&other_asset, &honest, &payer), "not one of this resource's offers"),
        ("another chain", sign(&other_chain, &honest, &payer), "not one of this resource's offers"),
        (
            "another payee",
            sign(&offer, &transfer(Address::repeat_byte(0xdd), now - 60, now + 600), &payer),
            "not payTo",
        ),
        ("not yet valid", sign(&offer, &transfer(p.pay_to, now + 600, now + 900), &payer), "valid only after"),
        ("expired", sign(&offer, &transfer(p.pay_to, now - 600, now - 60), &payer), "expires at"),
        ("someone else's signature", sign(&offer, &honest, &someone), "not the payer"),
    ];
    for (what, header, check) in cases {
        let r = post_paid(&base, &header).await;
        assert!(r.headers().contains_key(PAYMENT_REQUIRED), "{what}");
        let e = refused(r, StatusCode::PAYMENT_REQUIRED).await;
        assert!(e.contains(check), "{what}: {e}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_is_503_before_payment() {
    let (base, p) = offline(Limits { queue: 0, ..Limits::default() }).await;
    let paid = payment_header(&p, &PrivateKeySigner::random(), PRICE, 1, unix_now());
    let r = post_paid(&base, &paid).await;
    assert_eq!(r.headers()["retry-after"], "5");
    let e = refused(r, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(e.contains("nothing was charged"), "{e}");
}

/// A purchase on anvil as a client makes it: 402, then the same request with the payment; the
/// price moves once, the answer's proof verifies against the model's key, is bound to this
/// payment, and proves the output it reports; the same payment again gets the same answer and
/// is not settled again, and for another input it is refused.
#[tokio::test(flavor = "current_thread")]
async fn an_exact_purchase_is_settled_once_and_answered_with_a_valid_proof() {
    let chain = Chain::start().await;
    let pay_to = Address::repeat_byte(0xbb);
    let p = pricing(chain.chain_id, chain.asset, pay_to);
    let base = open(&p, chain.provider.clone(), Limits::default()).await;
    let url = inference_url(&base, "price_mlp");
    let payer = PrivateKeySigner::random();
    chain.mint(payer.address(), PRICE).await;
    let client = reqwest::Client::new();

    let r = client.post(&url).json(&input()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    let pr: PaymentRequired = decode_header(PAYMENT_REQUIRED, r.headers()[PAYMENT_REQUIRED].to_str().unwrap()).unwrap();
    assert_eq!(pr.accepts, vec![p.offer()]);
    let paid = payment_header(&p, &payer, PRICE, 1, chain.now().await);
    let r = post_paid(&base, &paid).await;
    assert_eq!(r.status(), StatusCode::OK);
    let receipt: SettlementResponse =
        decode_header(PAYMENT_RESPONSE, r.headers()[PAYMENT_RESPONSE].to_str().unwrap()).unwrap();
    let answer: Inference = r.json().await.unwrap();
    assert!(receipt.success);
    assert_eq!(answer.payment, receipt);
    assert_eq!(receipt.network, format!("eip155:{}", chain.chain_id));
    let tx: B256 = receipt.transaction.parse().unwrap();
    assert!(chain.provider.get_transaction_receipt(tx).await.unwrap().unwrap().status());
    let token = IToken::new(chain.asset, &chain.provider);
    assert_eq!(token.balanceOf(pay_to).call().await.unwrap(), U256::from(PRICE));
    assert_eq!(token.balanceOf(payer.address()).call().await.unwrap(), U256::ZERO);

    // The proof, as a buyer checks it: valid for the model's key, bound to this payment, and of
    // the output reported, which is the model's on this input.
    let c = Compiled::load(price_mlp()).unwrap();
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-it").join("answer.proof");
    std::fs::write(&file, alloy::hex::decode(&answer.proof).unwrap()).unwrap();
    let v = pipeline::verify(&c, &artifact::read_any_proof(&file).unwrap()).unwrap();
    let x: Vec<f64> = serde_json::from_value(input()["input_data"][0].clone()).unwrap();
    let expected = c.graph.output_of(&c.graph.execute(&x).unwrap().segments[c.graph.output]);
    assert_eq!(v.output.as_deref(), Some(&expected[..]));
    assert_eq!(answer.output, c.graph.dequantize_output(&expected));
    let context = payment_context(chain.chain_id, chain.asset, payer.address(), B256::repeat_byte(1));
    assert_eq!(v.context, Some(context));
    assert_eq!(answer.context, context.to_string());
    assert!(answer.calldata.starts_with("0x") && answer.calldata.len() > 2 + 8 + 64 * 10);

    // The same payment again (a client that lost the answer): the same answer, not settled again.
    let again = post_paid(&base, &paid).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Inference>().await.unwrap(), answer);
    // The same payment for another input: refused, nothing more moves.
    let mut other = input();
    other["input_data"][0][0] = json!(other["input_data"][0][0].as_f64().unwrap() / 2.0);
    let r = client.post(&url).header(PAYMENT_SIGNATURE, &paid).json(&other).send().await.unwrap();
    let e = refused(r, StatusCode::PAYMENT_REQUIRED).await;
    assert!(e.contains("paid for another request"), "{e}");
    assert_eq!(token.balanceOf(pay_to).call().await.unwrap(), U256::from(PRICE));

    // The counters say the same: one settlement, one proof, no failure.
    let m = metrics(&base).await;
    for line in ["zkml_settlements_total 1", "zkml_proofs_total 1", "zkml_proof_failures_total 0"] {
        assert!(m.lines().any(|l| l == line), "{line} in\n{m}");
    }
    assert!(m.lines().any(|l| l == "zkml_prove_seconds_count 1"), "{m}");
    assert!(m.contains("zkml_inference_requests_total{status=\"200\"} 2"), "{m}");
    assert!(m.contains("zkml_inference_requests_total{status=\"402\"} 2"), "{m}");
}

/// `GET /metrics`, checked for its media type.
async fn metrics(base: &str) -> String {
    let r = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    r.text().await.unwrap()
}

/// The counters count every answer by status, and say how full the queue is.
#[tokio::test(flavor = "current_thread")]
async fn metrics_count_answers_by_status() {
    let (base, p) = offline(Limits { queue: 0, ..Limits::default() }).await;
    let client = reqwest::Client::new();
    let url = inference_url(&base, "price_mlp");
    let unpaid = client.post(&url).json(&input()).send().await.unwrap();
    assert_eq!(unpaid.status(), StatusCode::PAYMENT_REQUIRED);
    let paid = payment_header(&p, &PrivateKeySigner::random(), PRICE, 1, unix_now());
    for _ in 0..2 {
        let full = post_paid(&base, &paid).await;
        assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let m = metrics(&base).await;
    for line in [
        "zkml_inference_requests_total{status=\"402\"} 1",
        "zkml_inference_requests_total{status=\"503\"} 2",
        "zkml_queue_capacity 0",
        "zkml_queue_depth 0",
        "zkml_proofs_total 0",
    ] {
        assert!(m.lines().any(|l| l == line), "{line} in\n{m}");
    }
}

/// The `zkml-serve` binary (what `zkml serve` runs): it refuses development keys unless told,
/// asks the token its EIP-712 domain, pays to its own account by default, and serves.
#[tokio::test(flavor = "current_thread")]
async fn the_binary_serves_what_it_is_given() {
    let chain = Chain::start().await;
    let out = crate::zkml_serve(&chain, PRICE).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--allow-dev-keys") && stderr.contains("development setup"), "{stderr}");

    let (_server, base) = crate::start(crate::zkml_serve(&chain, PRICE).arg("--allow-dev-keys"));
    let body: Value = reqwest::get(format!("{base}/v1/models")).await.unwrap().json().await.unwrap();
    let offer = &body["models"][0]["accepts"][0];
    let server: PrivateKeySigner = oracle_demo::anvil::ANVIL_DEV_KEY.parse().unwrap();
    assert_eq!(offer["payTo"], server.address().to_checksum(None), "paid to the server's account by default");
    assert_eq!(offer["extra"], json!({"name": "USD Coin", "version": "2"}), "the token's domain, asked of it");
    assert_eq!(offer["amount"], PRICE.to_string());
    assert_eq!(offer["network"], format!("eip155:{}", chain.chain_id));
}

/// `--verifier NAME=ADDRESS`: `GET /v1/models` names the model's verifier once the contract there
/// reports the model's id and public-input count; a contract that is no verifier, another
/// model's verifier, and a model not served are refused at start, each named.
#[tokio::test(flavor = "current_thread")]
async fn the_binary_names_each_models_verifier_once_it_checks_it() {
    let chain = Chain::start().await;
    let verifier = crate::stock::deploy_verifier(&chain).await;
    let other = crate::stock::deploy_verifier_of(&chain, crate::tiny_gemm()).await;
    let refused = |pin: String| {
        let out = crate::zkml_serve(&chain, PRICE).args(["--allow-dev-keys", "--verifier", &pin]).output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = refused(format!("price_mlp={}", chain.asset));
    assert!(e.contains("not a zkml verifier") && e.contains("MODEL_ID()"), "{e}");
    let e = refused(format!("price_mlp={other}"));
    assert!(e.contains("its MODEL_ID is") && e.contains("price_mlp's is"), "{e}");
    let e = refused(format!("lenet={verifier}"));
    assert!(e.contains("no model lenet is served (this server sells: price_mlp)"), "{e}");
    let e = refused("price_mlp".into());
    assert!(e.contains("expected NAME=ADDRESS"), "{e}");

    let pin = format!("price_mlp={verifier}");
    let (_server, base) = crate::start(crate::zkml_serve(&chain, PRICE).args(["--allow-dev-keys", "--verifier", &pin]));
    let body: Value = reqwest::get(format!("{base}/v1/models")).await.unwrap().json().await.unwrap();
    assert_eq!(body["models"][0]["verifier"], verifier.to_checksum(None));
}

/// Load: 50 paid requests at once at a server that admits 8. Every answer is a sale (200) or a
/// refusal before payment (503); the buyer is charged exactly for the sales, each proved once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_queue_is_refused_before_payment_and_the_rest_is_sold_once() {
    const REQUESTS: u64 = 50;
    const QUEUE: usize = 8;
    let chain = Chain::start().await;
    let pay_to = Address::repeat_byte(0xbb);
    let p = pricing(chain.chain_id, chain.asset, pay_to);
    let base = open(&p, chain.provider.clone(), Limits { queue: QUEUE, ..Limits::default() }).await;
    let payer = PrivateKeySigner::random();
    chain.mint(payer.address(), PRICE * REQUESTS).await;
    let now = chain.now().await;
    let client = reqwest::Client::new();
    let mut burst = tokio::task::JoinSet::new();
    for nonce in 1..=REQUESTS {
        let paid = payment_header(&p, &payer, PRICE, nonce as u8, now);
        let post = client.post(inference_url(&base, "price_mlp")).header(PAYMENT_SIGNATURE, paid).json(&input());
        burst.spawn(async move { post.send().await.unwrap().status() });
    }
    let statuses = burst.join_all().await;
    let sold = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE).count();
    assert_eq!(sold + refused, REQUESTS as usize, "{statuses:?}");
    assert!(sold >= QUEUE && refused > 0, "{sold} sold, {refused} refused");
    let token = IToken::new(chain.asset, &chain.provider);
    assert_eq!(token.balanceOf(pay_to).call().await.unwrap(), U256::from(PRICE * sold as u64));
    let m = metrics(&base).await;
    for line in [format!("zkml_settlements_total {sold}"), format!("zkml_proofs_total {sold}")] {
        assert!(m.lines().any(|l| l == line), "{line} in\n{m}");
    }
}

/// A proof that takes longer than the server waits: `202` with the job's URL and the
/// settlement; `GET /v1/jobs/{id}` then gives the stage and, once proved, the answer, which
/// verifies. An unknown job is a 404.
#[tokio::test(flavor = "current_thread")]
async fn a_slow_proof_is_answered_202_and_fetched_from_its_job() {
    let chain = Chain::start().await;
    let pay_to = Address::repeat_byte(0xbb);
    let p = pricing(chain.chain_id, chain.asset, pay_to);
    let base = open(&p, chain.provider.clone(), Limits { wait: std::time::Duration::ZERO, ..Limits::default() }).await;
    let payer = PrivateKeySigner::random();
    chain.mint(payer.address(), PRICE).await;
    let r = post_paid(&base, &payment_header(&p, &payer, PRICE, 1, chain.now().await)).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let receipt: SettlementResponse =
        decode_header(PAYMENT_RESPONSE, r.headers()[PAYMENT_RESPONSE].to_str().unwrap()).unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], location);
    assert!(["settled", "proving"].contains(&body["stage"].as_str().unwrap()), "{body}");
    let token = IToken::new(chain.asset, &chain.provider);
    assert_eq!(token.balanceOf(pay_to).call().await.unwrap(), U256::from(PRICE), "paid before the answer");

    let answer: Inference = loop {
        let r = reqwest::get(format!("{base}{location}")).await.unwrap();
        match r.status() {
            StatusCode::ACCEPTED => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            StatusCode::OK => break r.json().await.unwrap(),
            s => panic!("{s}: {}", r.text().await.unwrap()),
        }
    };
    assert_eq!(answer.payment, receipt);
    let c = Compiled::load(price_mlp()).unwrap();
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-it").join("job.proof");
    std::fs::write(&file, alloy::hex::decode(&answer.proof).unwrap()).unwrap();
    let v = pipeline::verify(&c, &artifact::read_any_proof(&file).unwrap()).unwrap();
    assert_eq!(v.context, Some(payment_context(chain.chain_id, chain.asset, payer.address(), B256::repeat_byte(1))));

    let e = refused(reqwest::get(format!("{base}/v1/jobs/0123")).await.unwrap(), StatusCode::NOT_FOUND).await;
    assert!(e.contains("no job"), "{e}");
}
