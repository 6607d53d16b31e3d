//! The job queue on SQLite: each stage written once, in order; a payment makes one job; the
//! bound; claims, leases and restarts; the rows outlive the process's connections.

use std::time::Duration;

use serde_json::json;
use zkml_serve::jobs::{Admission, Engine, JobError, JobStore, NewJob, Stage};
use zkml_serve::x402::{PaymentPayload, SettlementResponse};

use crate::Postgres;

fn payment(nonce: u32) -> PaymentPayload {
    serde_json::from_value(json!({
        "x402Version": 2,
        "accepted": {
            "scheme": "exact", "network": "eip155:31337", "amount": "10000",
            "asset": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "payTo": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "maxTimeoutSeconds": 300,
            "extra": { "name": "USD Coin", "version": "2" }
        },
        "payload": { "nonce": nonce }
    }))
    .unwrap()
}

fn job<'a>(p: &'a PaymentPayload, key: &str) -> NewJob<'a> {
    NewJob {
        model: "price_mlp",
        input: &[0.5, -1.25, 3.0],
        payment: p,
        payment_key: key.to_string(),
        context: "12345".into(),
    }
}

fn settlement(tx: &str) -> SettlementResponse {
    SettlementResponse {
        success: true,
        error_reason: None,
        payer: Some("0x70997970C51812dc3A010C7d01b50e0d17dc79C8".into()),
        transaction: tx.into(),
        network: "eip155:31337".into(),
    }
}

async fn store(dir: &tempfile::TempDir) -> JobStore {
    JobStore::open(&format!("sqlite://{}", dir.path().join("jobs.sqlite").display())).await.unwrap()
}

fn added(a: Admission) -> String {
    match a {
        Admission::Added(id) => id,
        other => panic!("not added: {other:?}"),
    }
}

const LEASE: Duration = Duration::from_secs(600);

#[tokio::test]
async fn a_job_goes_through_its_stages_in_order_and_keeps_what_each_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let q = store(&dir).await;
    let p = payment(1);
    let id = added(q.admit(job(&p, "k1"), 8).await.unwrap());
    let j = q.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (j.stage, j.model.as_str(), &j.input[..], &j.payment, j.context.as_str()),
        (Stage::Accepted, "price_mlp", &[0.5, -1.25, 3.0][..], &p, "12345")
    );
    // Not settled: no worker may take it.
    assert!(q.claim("w", LEASE, "price_mlp").await.unwrap().is_none());
    assert_eq!(q.unsettled().await.unwrap().iter().map(|j| &j.id).collect::<Vec<_>>(), [&id]);

    assert!(q.settled(&id, &settlement("0xaa")).await.unwrap());
    assert!(!q.settled(&id, &settlement("0xbb")).await.unwrap(), "settled twice");
    assert!(q.unsettled().await.unwrap().is_empty());
    assert!(q.claim("w", LEASE, "lenet").await.unwrap().is_none(), "claimed by a worker of another model");
    let claimed = q.claim("w", LEASE, "price_mlp").await.unwrap().unwrap();
    assert_eq!((claimed.id.as_str(), claimed.stage, claimed.attempts), (id.as_str(), Stage::Proving, 1));
    assert_eq!(claimed.settlement.unwrap().transaction, "0xaa");
    assert!(q.claim("w2", LEASE, "price_mlp").await.unwrap().is_none(), "a job claimed twice");

    assert!(!q.proved(&id, "w2", &json!({"output": [1.0]})).await.unwrap(), "another worker's answer stored");
    assert!(q.proved(&id, "w", &json!({"output": [1.0]})).await.unwrap());
    let done = q.get(&id).await.unwrap().unwrap();
    assert_eq!((done.stage, done.result), (Stage::Proved, Some(json!({"output": [1.0]}))));
    assert!(!q.failed(&id, "w", "late").await.unwrap(), "a proved job failed");
    assert_eq!(q.active().await.unwrap(), 0);
}

#[tokio::test]
async fn a_payment_makes_one_job_and_a_retry_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let q = store(&dir).await;
    let id = added(q.admit(job(&payment(1), "k1"), 8).await.unwrap());
    match q.admit(job(&payment(1), "k1"), 8).await.unwrap() {
        Admission::Existing(j) => assert_eq!((&j.id, j.stage), (&id, Stage::Accepted)),
        other => panic!("a second job for one payment: {other:?}"),
    }
    assert_eq!(q.active().await.unwrap(), 1);
}

#[tokio::test]
async fn the_queue_holds_its_bound_of_unfinished_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let q = store(&dir).await;
    let a = added(q.admit(job(&payment(1), "k1"), 2).await.unwrap());
    added(q.admit(job(&payment(2), "k2"), 2).await.unwrap());
    assert_eq!(q.admit(job(&payment(3), "k3"), 2).await.unwrap(), Admission::Full { active: 2 });
    // A finished job frees its place.
    q.settled(&a, &settlement("0xaa")).await.unwrap();
    let c = q.claim("w", LEASE, "price_mlp").await.unwrap().unwrap();
    assert!(q.failed(&c.id, "w", "the prover ran out of memory").await.unwrap());
    assert_eq!(q.get(&a).await.unwrap().unwrap().error.as_deref(), Some("the prover ran out of memory"));
    added(q.admit(job(&payment(3), "k3"), 2).await.unwrap());
}

#[tokio::test]
async fn concurrent_admissions_never_pass_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    admissions_race(store(&dir).await).await;
}

#[tokio::test]
async fn concurrent_admissions_never_pass_the_bound_on_postgres() {
    let pg = Postgres::start();
    admissions_race(JobStore::open(&pg.url).await.unwrap()).await;
}

/// 20 admissions at once at a bound of 5: five added.
async fn admissions_race(q: JobStore) {
    let q = std::sync::Arc::new(q);
    let tries = (0..20u32).map(|i| {
        let q = q.clone();
        tokio::spawn(async move { q.admit(job(&payment(i), &format!("k{i}")), 5).await.unwrap() })
    });
    let mut n = 0;
    for t in tries {
        n += matches!(t.await.unwrap(), Admission::Added(_)) as usize;
    }
    assert_eq!((n, q.active().await.unwrap()), (5, 5));
}

#[tokio::test]
async fn a_refused_payment_is_forgotten_and_only_before_settlement() {
    let dir = tempfile::tempdir().unwrap();
    let q = store(&dir).await;
    let id = added(q.admit(job(&payment(1), "k1"), 8).await.unwrap());
    q.forget(&id).await.unwrap();
    assert!(q.get(&id).await.unwrap().is_none());
    let id = added(q.admit(job(&payment(1), "k1"), 8).await.unwrap());
    q.settled(&id, &settlement("0xaa")).await.unwrap();
    q.forget(&id).await.unwrap();
    assert_eq!(q.get(&id).await.unwrap().unwrap().stage, Stage::Settled, "a settled job forgotten");
}

#[tokio::test]
async fn jobs_are_claimed_oldest_first_and_each_once_by_racing_workers() {
    let dir = tempfile::tempdir().unwrap();
    claims_race(store(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_claimed_oldest_first_and_each_once_by_racing_workers_on_postgres() {
    let pg = Postgres::start();
    let q = JobStore::open(&pg.url).await.unwrap();
    assert_eq!(q.engine(), Engine::Postgres);
    claims_race(q).await;
}

/// Six settled jobs: the first claim takes the oldest, then eight workers at once take the other
/// five, each exactly once.
async fn claims_race(q: JobStore) {
    let q = std::sync::Arc::new(q);
    let mut ids = vec![];
    for i in 0..6u32 {
        let id = added(q.admit(job(&payment(i), &format!("k{i}")), 8).await.unwrap());
        q.settled(&id, &settlement("0xaa")).await.unwrap();
        ids.push(id);
        // Distinct acceptance times, so that "oldest" is well defined.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert_eq!(q.claim("first", LEASE, "price_mlp").await.unwrap().unwrap().id, ids[0]);
    let workers = (0..8).map(|w| {
        let q = q.clone();
        tokio::spawn(async move { q.claim(&format!("w{w}"), LEASE, "price_mlp").await.unwrap().map(|j| j.id) })
    });
    let mut got: Vec<String> = vec![];
    for w in workers {
        got.extend(w.await.unwrap());
    }
    got.sort();
    let mut want = ids[1..].to_vec();
    want.sort();
    assert_eq!(got, want, "each job claimed exactly once");
}

#[tokio::test]
async fn a_lease_that_runs_out_passes_the_job_to_another_worker() {
    let dir = tempfile::tempdir().unwrap();
    let q = store(&dir).await;
    let id = added(q.admit(job(&payment(1), "k1"), 8).await.unwrap());
    q.settled(&id, &settlement("0xaa")).await.unwrap();
    q.claim("gone", LEASE, "price_mlp").await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let again = q.claim("next", Duration::from_millis(1), "price_mlp").await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempts), (id.as_str(), 2));
    assert!(!q.proved(&id, "gone", &json!(1)).await.unwrap(), "the lost worker's answer stored");
    assert!(q.proved(&id, "next", &json!(2)).await.unwrap());
}

#[tokio::test]
async fn a_restarted_worker_gives_back_its_jobs_and_the_rows_outlive_the_connections() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let q = store(&dir).await;
        let id = added(q.admit(job(&payment(1), "k1"), 8).await.unwrap());
        q.settled(&id, &settlement("0xaa")).await.unwrap();
        q.claim("server", LEASE, "price_mlp").await.unwrap().unwrap();
        id
    };
    let q = store(&dir).await;
    assert_eq!(q.get(&id).await.unwrap().unwrap().stage, Stage::Proving);
    assert_eq!(q.release("other").await.unwrap(), 0);
    assert_eq!(q.release("server").await.unwrap(), 1);
    let j = q.claim("server", LEASE, "price_mlp").await.unwrap().unwrap();
    assert_eq!((j.id, j.attempts), (id, 2));
}

#[tokio::test]
async fn an_unknown_engine_is_refused_by_name() {
    let e = JobStore::open("mysql://localhost/jobs").await.err().expect("mysql accepted");
    assert!(matches!(e, JobError::Engine { .. }), "{e}");
    assert!(e.to_string().contains("mysql://localhost/jobs"), "{e}");
}
