//! Crash tests: the zkml-serve binary stopped after each step of a job and started again on the
//! same data directory. What a kill leaves is the job database and the chain; each test makes
//! that state with the server's own calls (the job admitted, the payment settled, the settlement
//! recorded, the job claimed), or by killing the process, then starts the binary on it. Each
//! time the buyer, sending the same paid request again, gets its proof, and the price moved
//! exactly once.

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use reqwest::StatusCode;
use serde_json::Value;
use zkml_serve::exact::{self, Authorized};
use zkml_serve::http::{LEASE, Paid, new_job};
use zkml_serve::jobs::{Admission, Job, JobStore, Stage};
use zkml_serve::settle;
use zkml_serve::worker::Inference;
use zkml_serve::x402::{
    PAYMENT_RESPONSE, PAYMENT_SIGNATURE, PaymentPayload, SettlementResponse, decode_header, encode_header,
};

use crate::http::PRICE;
use crate::stock::{check_sale, deploy_verifier};
use crate::{Chain, Child, data_dir};

/// A buyer's paid request for price_mlp on `chain`, and the server's data directory.
struct Sale {
    chain: Chain,
    verifier: Address,
    buyer: PrivateKeySigner,
    payment: PaymentPayload,
    paid: Authorized,
    input: Vec<f64>,
    dir: PathBuf,
}

impl Sale {
    async fn new() -> Sale {
        let chain = Chain::start().await;
        let verifier = deploy_verifier(&chain).await;
        let buyer = PrivateKeySigner::random();
        chain.mint(buyer.address(), PRICE).await;
        // The offer the binary makes (checked against its own below).
        let offer = crate::binary_offer(&chain, PRICE);
        let now = chain.now().await;
        let payment = crate::pay(&offer, chain.chain_id, &buyer, now);
        let paid = exact::check(std::slice::from_ref(&offer), chain.chain_id, &payment, now).unwrap();
        let input = serde_json::from_value(crate::http::input()["input_data"][0].clone()).unwrap();
        Sale { chain, verifier, buyer, payment, paid, input, dir: data_dir() }
    }

    /// The job database, as the server opens it.
    async fn jobs(&self) -> JobStore {
        JobStore::open(&format!("sqlite://{}", self.dir.join("jobs.sqlite").display())).await.unwrap()
    }

    /// What the server did on receiving the paid request: the job admitted (`accepted`).
    async fn admitted(&self, jobs: &JobStore) -> String {
        let job =
            new_job(self.chain.chain_id, "price_mlp", &self.input, &self.payment, &Paid::Exact(self.paid.clone()));
        match jobs.admit(job, 8).await.unwrap() {
            Admission::Added(id) => id,
            other => panic!("{other:?}"),
        }
    }

    /// The settlement, as the server sends it.
    async fn settle(&self) -> SettlementResponse {
        let settled = settle::settle(&self.chain.provider, &self.paid).await.unwrap();
        SettlementResponse {
            success: true,
            error_reason: None,
            payer: Some(self.buyer.address().to_checksum(None)),
            transaction: settled.tx.to_string(),
            network: format!("eip155:{}", self.chain.chain_id),
        }
    }

    /// The binary on the data directory.
    fn start(&self) -> (Child, String) {
        crate::start(crate::zkml_serve_in(&self.chain, PRICE, &self.dir).arg("--allow-dev-keys"))
    }

    /// The buyer's request, sent (again) to `base`.
    async fn buy(&self, base: &str) -> reqwest::Response {
        let url = format!("{base}/v1/models/price_mlp/inferences");
        let body = serde_json::json!({ "input_data": [self.input] });
        let post = reqwest::Client::new().post(url).header(PAYMENT_SIGNATURE, encode_header(&self.payment));
        post.json(&body).send().await.unwrap()
    }

    /// The buyer gets its proof from `base`, settled by `tx` if given, and the sale is what it
    /// must be: the price moved once, the proof accepted on-chain and bound to the payment.
    async fn gets_its_proof(&self, base: &str, tx: Option<&str>) {
        let models: Value = reqwest::get(format!("{base}/v1/models")).await.unwrap().json().await.unwrap();
        assert_eq!(models["models"][0]["accepts"][0], serde_json::to_value(&self.payment.accepted).unwrap());
        let r = self.buy(base).await;
        assert_eq!(r.status(), StatusCode::OK);
        let receipt: SettlementResponse =
            decode_header(PAYMENT_RESPONSE, r.headers()[PAYMENT_RESPONSE].to_str().unwrap()).unwrap();
        let answer: Inference = r.json().await.unwrap();
        if let Some(tx) = tx {
            assert_eq!(receipt.transaction, tx, "the settlement before the restart, not another");
        }
        check_sale(&self.chain, self.verifier, &answer, &receipt, self.buyer.address()).await;
    }
}

/// Stopped after admitting the job, before settling it: the restarted server settles it once.
#[tokio::test(flavor = "current_thread")]
async fn stopped_after_accepting_the_payment_settles_it_on_restart() {
    let sale = Sale::new().await;
    let id = sale.admitted(&sale.jobs().await).await;
    let (_server, base) = sale.start();
    assert_ne!(sale.jobs().await.get(&id).await.unwrap().unwrap().stage, Stage::Accepted);
    sale.gets_its_proof(&base, None).await;
}

/// Stopped after the settlement was mined, before it was recorded: the restarted server finds
/// it instead of refusing its own payment as replayed, and sends none.
#[tokio::test(flavor = "current_thread")]
async fn stopped_after_settling_before_recording_finds_the_settlement() {
    let sale = Sale::new().await;
    let id = sale.admitted(&sale.jobs().await).await;
    let sent = sale.settle().await;
    let (_server, base) = sale.start();
    let job = sale.jobs().await.get(&id).await.unwrap().unwrap();
    assert_eq!(job.settlement.map(|s| s.transaction), Some(sent.transaction.clone()));
    sale.gets_its_proof(&base, Some(&sent.transaction)).await;
}

/// Stopped after recording the settlement, before a worker took the job: proved on restart.
#[tokio::test(flavor = "current_thread")]
async fn stopped_after_recording_the_settlement_proves_on_restart() {
    let sale = Sale::new().await;
    let jobs = sale.jobs().await;
    let id = sale.admitted(&jobs).await;
    let sent = sale.settle().await;
    assert!(jobs.settled(&id, &sent).await.unwrap());
    let (_server, base) = sale.start();
    sale.gets_its_proof(&base, Some(&sent.transaction)).await;
}

/// Stopped while its worker was proving: the restarted server takes the job back at once (not
/// after the lease) and proves it.
#[tokio::test(flavor = "current_thread")]
async fn stopped_while_proving_proves_again_on_restart() {
    let sale = Sale::new().await;
    let jobs = sale.jobs().await;
    let id = sale.admitted(&jobs).await;
    let sent = sale.settle().await;
    jobs.settled(&id, &sent).await.unwrap();
    assert_eq!(jobs.claim("serve-0", LEASE, "price_mlp").await.unwrap().unwrap().stage, Stage::Proving);
    let (_server, base) = sale.start();
    sale.gets_its_proof(&base, Some(&sent.transaction)).await;
    assert_eq!(jobs.get(&id).await.unwrap().unwrap().attempts, 2);
}

/// Killed (SIGKILL) while proving a real request, then after answering: each time, restarted,
/// the same request gets the proof, from the one settlement.
#[tokio::test(flavor = "current_thread")]
async fn killed_during_and_after_the_proof_answers_from_the_one_settlement() {
    let sale = Sale::new().await;
    let (server, base) = sale.start();
    let pending = tokio::spawn({
        let (url, payment, input) = (base.clone(), encode_header(&sale.payment), sale.input.clone());
        async move {
            let post = reqwest::Client::new().post(format!("{url}/v1/models/price_mlp/inferences"));
            let body = serde_json::json!({ "input_data": [input] });
            post.header(PAYMENT_SIGNATURE, payment).json(&body).send().await
        }
    });
    let jobs = sale.jobs().await;
    let job = wait_for(&sale, &jobs, |s| s != Stage::Accepted).await;
    kill(server);
    assert!(pending.await.unwrap().is_err(), "an answer from a killed server");
    let tx = job.settlement.expect("settled before it was taken up").transaction;

    let (server, base) = sale.start();
    sale.gets_its_proof(&base, Some(&tx)).await;
    kill(server);
    let (_server, base) = sale.start();
    sale.gets_its_proof(&base, Some(&tx)).await;
}

/// Polls the sale's job until `done` says of its stage.
async fn wait_for(sale: &Sale, jobs: &JobStore, done: impl Fn(Stage) -> bool) -> Job {
    let key = new_job(sale.chain.chain_id, "price_mlp", &sale.input, &sale.payment, &Paid::Exact(sale.paid.clone()))
        .payment_key;
    for _ in 0..2000 {
        if let Some(job) = jobs.by_payment(&key).await.unwrap().filter(|j| done(j.stage)) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the job never got there");
}

/// Kills `server` (SIGKILL) and waits for it.
pub(crate) fn kill(mut server: Child) {
    server.0.kill().unwrap();
    server.0.wait().unwrap();
}
