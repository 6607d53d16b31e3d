//! Crash tests of a `zkml-escrow` sale: the zkml-serve binary stopped after the escrow's opening
//! was sent and before it was recorded, or killed before releasing a proved job (which a
//! `zkml-worker` proves meanwhile: workers hold no key and cannot release), then started again on
//! the same data directory. Each time the request is opened once, released once, by the proof,
//! and the buyer's retry gets the answer.

use std::path::PathBuf;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use oracle_demo::anvil::DATA_SIGNER_KEY;
use reqwest::StatusCode;
use serde_json::Value;
use zkml_serve::catalog::Catalog;
use zkml_serve::escrow::{self, Opening};
use zkml_serve::http::{Paid, new_job};
use zkml_serve::jobs::{Admission, JobStore, Stage};
use zkml_serve::settle::IToken;
use zkml_serve::worker::Inference;
use zkml_serve::x402::{PAYMENT_SIGNATURE, PaymentPayload, encode_header};
use zkml_verifier_gen::calldata::{self, fr_to_u256};

use crate::crash::kill;
use crate::escrow::{deploy_for_price_mlp, until_released};
use crate::http::PRICE;
use crate::{Chain, Child, data_dir, spawn_ready, zkml_worker};

/// A buyer's escrow payment for price_mlp on `chain`, with the escrow deployed, and the server's
/// data directory.
struct EscrowSale {
    chain: Chain,
    escrow: Address,
    buyer: PrivateKeySigner,
    payment: PaymentPayload,
    opening: Opening,
    input: Vec<f64>,
    dir: PathBuf,
}

impl EscrowSale {
    async fn new() -> EscrowSale {
        let chain = Chain::start().await;
        let (e, _) = deploy_for_price_mlp(&chain).await;
        let buyer = PrivateKeySigner::random();
        chain.mint(buyer.address(), PRICE).await;
        let mut catalog = Catalog::load(&[crate::price_mlp().to_path_buf()], true).unwrap();
        catalog.pin_escrow(&chain.provider, "price_mlp", e.escrow, chain.asset).await.unwrap();
        let l = catalog.get("price_mlp").unwrap();
        // The offer the binary makes (its pricing: paid to its own account).
        let offer = crate::binary_pricing(&chain, PRICE).escrow_offer(l).unwrap();
        let input: Vec<f64> = serde_json::from_value(crate::http::input()["input_data"][0].clone()).unwrap();
        let words = l.input_words(&input).unwrap();
        let now = chain.now().await;
        let salt = B256::from(rand::random::<[u8; 32]>());
        let (payment, _) = escrow::sign(&offer, chain.chain_id, &buyer, &words, salt, now).unwrap();
        let opening = escrow::check(std::slice::from_ref(&offer), chain.chain_id, &payment, &words, now).unwrap();
        EscrowSale { chain, escrow: e.escrow, buyer, payment, opening, input, dir: data_dir() }
    }

    async fn jobs(&self) -> JobStore {
        JobStore::open(&format!("sqlite://{}", self.dir.join("jobs.sqlite").display())).await.unwrap()
    }

    fn job_key(&self) -> String {
        Paid::Escrow(self.opening.clone()).key(self.chain.chain_id)
    }

    /// The binary on the data directory, selling by escrow too, with `workers` workers.
    fn start(&self, workers: usize) -> (Child, String) {
        let pin = format!("price_mlp={}", self.escrow);
        let w = workers.to_string();
        crate::start(crate::zkml_serve_in(&self.chain, PRICE, &self.dir).args([
            "--allow-dev-keys",
            "--escrow",
            &pin,
            "--workers",
            &w,
            "--wait-seconds",
            "0",
        ]))
    }

    /// The buyer's request, sent (again) to `base`.
    async fn buy(&self, base: &str) -> reqwest::Response {
        let url = format!("{base}/v1/models/price_mlp/inferences");
        let body = serde_json::json!({ "input_data": [self.input] });
        let post = reqwest::Client::new().post(url).header(PAYMENT_SIGNATURE, encode_header(&self.payment));
        post.json(&body).send().await.unwrap()
    }

    /// Waits (up to 60 s) for the job to reach `stage`; its stored answer.
    async fn until(&self, jobs: &JobStore, stage: Stage) -> Option<Value> {
        for _ in 0..600 {
            if let Some(job) = jobs.by_payment(&self.job_key()).await.unwrap().filter(|j| j.stage == stage) {
                return job.result;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the job never reached {stage:?}");
    }

    /// The price moved once: from the buyer through the escrow to the seller (anvil's first
    /// account, the binary's), released; the buyer's retry answered with the release `tx`.
    async fn paid_once(&self, base: &str, seller_before: U256, tx: Option<String>) {
        until_released(&self.chain, self.escrow, self.opening.request_id).await;
        let token = IToken::new(self.chain.asset, &self.chain.provider);
        let balance = async |a: Address| token.balanceOf(a).call().await.unwrap();
        let seller = crate::binary_pricing(&self.chain, PRICE).pay_to;
        assert_eq!((balance(self.buyer.address()).await, balance(self.escrow).await), (U256::ZERO, U256::ZERO));
        assert_eq!(balance(seller).await, seller_before + U256::from(PRICE));
        let r = self.buy(base).await;
        assert_eq!(r.status(), StatusCode::OK);
        let answer: Value = r.json().await.unwrap();
        let found = escrow::find::<_, escrow::IZkmlEscrow::Released>(
            &self.chain.provider,
            self.escrow,
            self.opening.request_id,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(answer["release"].as_str(), Some(found.tx.to_string().as_str()));
        if let Some(tx) = tx {
            assert_eq!(found.tx.to_string(), tx, "the release before the restart, not another");
        }
    }

    async fn seller_balance(&self) -> U256 {
        let token = IToken::new(self.chain.asset, &self.chain.provider);
        token.balanceOf(crate::binary_pricing(&self.chain, PRICE).pay_to).call().await.unwrap()
    }
}

/// Stopped after the escrow's opening was mined, before it was recorded: the restarted server
/// finds the opening instead of refusing the request as opened by someone else, proves, and
/// releases once.
#[tokio::test(flavor = "multi_thread")]
async fn stopped_after_opening_before_recording_finds_the_opening() {
    let sale = EscrowSale::new().await;
    let before = sale.seller_balance().await;
    let jobs = sale.jobs().await;
    let new =
        new_job(sale.chain.chain_id, "price_mlp", &sale.input, &sale.payment, &Paid::Escrow(sale.opening.clone()));
    let Admission::Added(id) = jobs.admit(new, 8).await.unwrap() else { panic!("not added") };
    let opened = escrow::open(&sale.chain.provider, &sale.opening).await.unwrap();
    let (_server, base) = sale.start(1);
    let job = jobs.get(&id).await.unwrap().unwrap();
    assert_eq!(job.settlement.map(|s| s.transaction), Some(opened.tx.to_string()));
    sale.until(&jobs, Stage::Released).await;
    sale.paid_once(&base, before, None).await;
}

/// Killed before it released a job a worker proved (the server proves nothing itself here: a
/// `zkml-worker` on its SQLite queue does, and holds no key): the restarted server releases it.
#[tokio::test(flavor = "multi_thread")]
async fn killed_before_releasing_a_proved_job_releases_it_on_restart() {
    proved_while_stopped(false).await;
}

/// The same, the release mined and not recorded: the restarted server finds it and records it
/// instead of sending another.
#[tokio::test(flavor = "multi_thread")]
async fn stopped_after_releasing_before_recording_finds_the_release() {
    proved_while_stopped(true).await;
}

/// The server killed with a job settled, a worker proving it meanwhile; with `released`, the
/// release (what the server would send) mined before the restart.
async fn proved_while_stopped(released: bool) {
    let sale = EscrowSale::new().await;
    let before = sale.seller_balance().await;
    let jobs = sale.jobs().await;
    let (server, base) = sale.start(0);
    assert_eq!(sale.buy(&base).await.status(), StatusCode::ACCEPTED);
    sale.until(&jobs, Stage::Settled).await;
    kill(server);
    let url = format!("sqlite://{}", sale.dir.join("jobs.sqlite").display());
    let (worker, _) = spawn_ready(&mut zkml_worker(&url, "box-1"));
    let result = sale.until(&jobs, Stage::Proved).await.unwrap();
    drop(worker);
    let status = escrow::status(&sale.chain.provider, sale.escrow, sale.opening.request_id).await.unwrap();
    assert_eq!(status, escrow::Status::Open, "a worker cannot release");

    let mut sent = None;
    if released {
        let answer: Inference = serde_json::from_value(result).unwrap();
        let w = answer.wrapped_proof().unwrap();
        let public = w.public_inputs.iter().map(fr_to_u256).collect();
        let proof = calldata::encode_proof(&w.proof).into();
        // Sent from another account (anyone may release; the provider is paid): the binary's
        // transactions since this test's provider last asked leave its nonce stale.
        let other: PrivateKeySigner = DATA_SIGNER_KEY.parse().unwrap();
        let p = ProviderBuilder::new()
            .wallet(EthereumWallet::from(other))
            .connect_http(sale.chain.anvil.url.parse().unwrap());
        let r = escrow::release(&p, sale.escrow, sale.opening.request_id, proof, public).await;
        sent = Some(r.unwrap().tx.to_string());
    }
    let (_server, base) = sale.start(0);
    sale.until(&jobs, Stage::Released).await;
    sale.paid_once(&base, before, sent).await;
}
