//! `zkml worker` on PostgreSQL: the server queues and settles, workers in processes of their own
//! prove. Two workers racing prove each job once; a worker killed in the middle of a proof is
//! taken over by another once its lease runs out, and the buyer gets its proof from the one
//! settlement.

use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use oracle_demo::anvil::ANVIL_DEV_KEY;
use reqwest::StatusCode;
use zkml_serve::exact;
use zkml_serve::http::{Paid, new_job};
use zkml_serve::jobs::{Job, JobStore, Stage};
use zkml_serve::settle::IToken;
use zkml_serve::worker::Inference;
use zkml_serve::x402::{PAYMENT_RESPONSE, PAYMENT_SIGNATURE, SettlementResponse, decode_header, encode_header};

use crate::http::{PRICE, input};
use crate::stock::{check_proof, check_sale, deploy_verifier};
use crate::{Chain, Child, Postgres, data_dir, spawn_ready, zkml_serve_in, zkml_worker};

/// A buyer's payment of the binary's offer on `chain` (paid to its account): the header, and
/// the key of the job it makes.
fn payment(chain: &Chain, buyer: &PrivateKeySigner, now: u64) -> (String, String) {
    let offer = crate::binary_offer(chain, PRICE);
    let payment = crate::pay(&offer, chain.chain_id, buyer, now);
    let paid = exact::check(std::slice::from_ref(&offer), chain.chain_id, &payment, now).unwrap();
    let x: Vec<f64> = serde_json::from_value(input()["input_data"][0].clone()).unwrap();
    let key = new_job(chain.chain_id, "price_mlp", &x, &payment, &Paid::Exact(paid)).payment_key;
    (encode_header(&payment), key)
}

fn server_account() -> Address {
    ANVIL_DEV_KEY.parse::<PrivateKeySigner>().unwrap().address()
}

async fn buy(base: &str, paid: &str) -> reqwest::Response {
    let post = reqwest::Client::new().post(format!("{base}/v1/models/price_mlp/inferences"));
    post.header(PAYMENT_SIGNATURE, paid).json(&input()).send().await.unwrap()
}

fn receipt_of(r: &reqwest::Response) -> SettlementResponse {
    decode_header(PAYMENT_RESPONSE, r.headers()[PAYMENT_RESPONSE].to_str().unwrap()).unwrap()
}

/// The server on `pg`'s queue, proving nothing itself, answering 202 after `wait_seconds`.
fn server(chain: &Chain, pg: &Postgres, wait_seconds: u64) -> (Child, String) {
    let mut cmd = zkml_serve_in(chain, PRICE, &data_dir());
    cmd.args(["--allow-dev-keys", "--workers", "0", "--database-url", &pg.url]);
    crate::start(cmd.args(["--wait-seconds", &wait_seconds.to_string()]))
}

/// Three buyers at once, two workers: every sale is answered with its proof, and each job was
/// proved once, by one of the two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgres_prove_each_job_once() {
    let chain = Chain::start().await;
    let verifier = deploy_verifier(&chain).await;
    let pg = Postgres::start();
    let (_server, base) = server(&chain, &pg, 120);
    let (_a, ready) = spawn_ready(&mut zkml_worker(&pg.url, "a"));
    assert!(ready.starts_with("worker a proving price_mlp"), "{ready}");
    let (_b, _) = spawn_ready(&mut zkml_worker(&pg.url, "b"));
    let now = chain.now().await;
    let buyers: Vec<PrivateKeySigner> = (0..3).map(|_| PrivateKeySigner::random()).collect();
    // Every buyer funded before the first sale: the server settles from the account that mints,
    // and a mint sent while it settles raced it for the account's nonce ("nonce too low").
    for b in &buyers {
        chain.mint(b.address(), PRICE).await;
    }
    let mut sales = vec![];
    for b in &buyers {
        let (paid, key) = payment(&chain, b, now);
        let base = base.clone();
        sales.push((key, tokio::spawn(async move { buy(&base, &paid).await })));
    }
    let jobs = JobStore::open(&pg.url).await.unwrap();
    for ((key, sale), buyer) in sales.into_iter().zip(&buyers) {
        let r = sale.await.unwrap();
        if r.status() != StatusCode::OK {
            panic!("{}: {}", r.status(), r.text().await.unwrap_or_default());
        }
        let receipt = receipt_of(&r);
        check_proof(&chain, verifier, &r.json::<Inference>().await.unwrap(), &receipt, buyer.address()).await;
        let job = jobs.by_payment(&key).await.unwrap().unwrap();
        assert_eq!((job.stage, job.attempts), (Stage::Proved, 1), "proved once");
        assert!(matches!(job.worker.as_deref(), Some("a-0" | "b-0")), "{:?}", job.worker);
    }
    let token = IToken::new(chain.asset, &chain.provider);
    assert_eq!(token.balanceOf(server_account()).call().await.unwrap(), U256::from(3 * PRICE));
}

/// A job held by a worker that died (claimed as `a-0`, never finished): another worker leaves
/// it alone while the lease runs, then proves it; the buyer, told 202, fetches its proof from
/// the job. (Killing a real worker mid-proof is crash.rs's test; here the timing is the lease's.)
#[tokio::test(flavor = "current_thread")]
async fn a_job_held_by_a_dead_worker_is_taken_over_once_its_lease_runs_out() {
    let chain = Chain::start().await;
    let verifier = deploy_verifier(&chain).await;
    let pg = Postgres::start();
    let (_server, base) = server(&chain, &pg, 0);
    let buyer = PrivateKeySigner::random();
    chain.mint(buyer.address(), PRICE).await;
    let (paid, key) = payment(&chain, &buyer, chain.now().await);
    let r = buy(&base, &paid).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let receipt = receipt_of(&r);
    let location = r.headers()["location"].to_str().unwrap().to_string();

    let jobs = JobStore::open(&pg.url).await.unwrap();
    let held = jobs.claim("a-0", Duration::from_secs(600), "price_mlp").await.unwrap().unwrap();
    assert_eq!(jobs.by_payment(&key).await.unwrap().unwrap().id, held.id);
    let (_b, _) = spawn_ready(zkml_worker(&pg.url, "b").args(["--lease-seconds", "3"]));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = jobs.by_payment(&key).await.unwrap().unwrap();
    assert_eq!((still.stage, still.worker.as_deref()), (Stage::Proving, Some("a-0")), "taken within the lease");
    let done = until(&jobs, &key, |j| j.stage == Stage::Proved).await;
    assert_eq!((done.worker.as_deref(), done.attempts), (Some("b-0"), 2));
    assert!(!jobs.proved(&held.id, "a-0", &serde_json::json!({})).await.unwrap(), "the dead worker's answer stored");

    let r = reqwest::get(format!("{base}{location}")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    check_sale(&chain, verifier, &r.json::<Inference>().await.unwrap(), &receipt, buyer.address()).await;
}

/// Polls the job `key` made until `done` says so of it.
async fn until(jobs: &JobStore, key: &str, done: impl Fn(&Job) -> bool) -> Job {
    for _ in 0..1000 {
        if let Some(job) = jobs.by_payment(key).await.unwrap().filter(|j| done(j)) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the job never got there");
}
