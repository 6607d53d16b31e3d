//! Benchmark: proved inferences sold by `zkml serve`, against the bare proofs they carry.
//!
//! `cargo build --workspace --examples`, then
//! `target/debug/examples/sales_bench DIR INPUT.json [SALES [WORKERS [DATABASE_URL]]]` (DIR: a
//! compiled model with its keys, `zkml compile` then `zkml setup`; SALES: 10 by default;
//! WORKERS: the server's, 1 by default; DATABASE_URL: its job queue, SQLite in a temporary
//! directory by default, or `postgres://…`). It starts anvil with a test USDC, serves DIR from
//! this process on loopback, and times:
//! - `bare`: the wrapped proof of the input (`pipeline::prove_wrapped`, what `zkml prove --wrap`
//!   runs once the keys are loaded), SALES times;
//! - `sale`: a buyer's purchase by `exact`, end to end, one after the other: the unpaid request
//!   (402), the payment signed, the paid request checked, recorded, settled on-chain, proved and
//!   answered (200);
//! - `burst`: SALES paid requests at once (the queue admits them all), each timed to its
//!   answer, and all of them together: the throughput of the queue and its workers.
//!
//! Prints two tables: medians and 95th percentiles, sales per minute and the server's overhead
//! (the median sale over the median bare proof, less one); the burst's latencies and proofs
//! per minute.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result, bail, ensure};
use oracle_demo::anvil::{ANVIL_DEV_KEY, Anvil, ensure_toolchain, repo_root};
use oracle_demo::bindings::ITestUSDC;
use oracle_demo::chain::deploy_test_usdc;
use zkml::artifact;
use zkml::field::F;
use zkml::pipeline;
use zkml_serve::catalog::{Catalog, Pricing};
use zkml_serve::exact::{self, TransferWithAuthorization};
use zkml_serve::http::{self, Limits, Server};
use zkml_serve::jobs::JobStore;
use zkml_serve::x402::{
    PAYMENT_REQUIRED, PAYMENT_SIGNATURE, PaymentRequired, PaymentRequirements, decode_header, encode_header,
};

const PRICE: u64 = 10_000;

/// The `q`-quantile of `v` (nearest rank), in seconds.
fn quantile(v: &[Duration], q: f64) -> f64 {
    let mut s: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
    s.sort_by(f64::total_cmp);
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, input, rest @ ..] = &args[..] else {
        bail!("usage: sales_bench DIR INPUT.json [SALES [WORKERS [DATABASE_URL]]]")
    };
    let sales: usize = rest.first().map(|s| s.parse()).transpose().context("SALES")?.unwrap_or(10);
    let workers: usize = rest.get(1).map(|s| s.parse()).transpose().context("WORKERS")?.unwrap_or(1);
    ensure!(sales > 0 && workers > 0, "SALES and WORKERS must be at least 1");
    let root = repo_root();
    ensure_toolchain(&root)?;
    let anvil = Anvil::start(None)?;
    let server_key: PrivateKeySigner = ANVIL_DEV_KEY.parse()?;
    let provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(server_key)).connect_http(anvil.url.parse()?).erased();
    let chain_id = provider.get_chain_id().await?;
    let asset = deploy_test_usdc(&provider, &root).await?;
    let pricing = Pricing {
        chain_id,
        asset,
        token_name: "USD Coin".into(),
        token_version: "2".into(),
        pay_to: Address::repeat_byte(0xbb),
        amount: U256::from(PRICE),
        max_timeout_seconds: 300,
        escrow_deadline_seconds: 900,
    };
    let catalog = Catalog::load(&[dir.into()], true)?;
    let name = catalog.names()[0].to_string();
    let x = artifact::read_inputs(input.as_ref())?.remove(0);

    eprintln!("{name}: {sales} bare proofs");
    let listing = catalog.get(&name).context("the model just loaded")?;
    let mut bare = vec![];
    for _ in 0..sales {
        let t = Instant::now();
        pipeline::prove_wrapped(&listing.compiled, &x, F::from(1u64), &listing.keys)?;
        bare.push(t.elapsed());
    }

    eprintln!("{name}: {sales} sales");
    let data = tempfile::tempdir()?;
    let database = match rest.get(2) {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", data.path().join("jobs.sqlite").display()),
    };
    let jobs = JobStore::open(&database).await?;
    let engine = jobs.engine();
    let limits = Limits { queue: sales.max(8), workers, ..Limits::default() };
    let server = Server::start(catalog, &pricing, provider.clone(), limits, jobs).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/models/{name}/inferences", listener.local_addr()?);
    tokio::spawn(http::serve(listener, server, std::future::pending()));
    let buyer = PrivateKeySigner::random();
    let usdc = ITestUSDC::new(asset, &provider);
    usdc.mint(buyer.address(), U256::from(PRICE * 2 * sales as u64)).send().await?.get_receipt().await?;
    let body = std::fs::read(input)?;
    let client = reqwest::Client::new();
    let post = || client.post(&url).header("content-type", "application/json").body(body.clone());
    // The buyer's payment header for `offer`, with the `n`-th nonce.
    let pay = |offer: &PaymentRequirements, n: usize| -> Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let transfer = TransferWithAuthorization {
            from: buyer.address(),
            to: pricing.pay_to,
            value: U256::from(PRICE),
            validAfter: U256::ZERO,
            validBefore: U256::from(now + 300),
            nonce: B256::from(U256::from(n)),
        };
        Ok(encode_header(&exact::sign(offer, chain_id, &transfer, &buyer)?))
    };
    let mut sale = vec![];
    let all = Instant::now();
    for i in 0..sales {
        let t = Instant::now();
        let r = post().send().await?;
        ensure!(r.status() == 402, "the unpaid request: {}", r.status());
        let offer: PaymentRequired =
            decode_header(PAYMENT_REQUIRED, r.headers()[PAYMENT_REQUIRED].to_str()?).context("the 402's offer")?;
        let r = post().header(PAYMENT_SIGNATURE, pay(&offer.accepts[0], i + 1)?).send().await?;
        ensure!(r.status() == 200, "sale {i}: {} {}", r.status(), r.text().await?);
        r.bytes().await?;
        sale.push(t.elapsed());
    }
    let per_minute = sales as f64 / all.elapsed().as_secs_f64() * 60.0;

    eprintln!("{name}: a burst of {sales} sales, {workers} worker(s), {engine:?} queue");
    let offer = pricing.offer();
    let mut burst = tokio::task::JoinSet::new();
    let all_burst = Instant::now();
    for i in 0..sales {
        let request = post().header(PAYMENT_SIGNATURE, pay(&offer, sales + i + 1)?);
        burst.spawn(async move {
            let t = Instant::now();
            let r = request.send().await?;
            ensure!(r.status() == 200, "a sale of the burst: {} {}", r.status(), r.text().await?);
            r.bytes().await?;
            Ok(t.elapsed())
        });
    }
    let mut latencies = vec![];
    for r in burst.join_all().await {
        latencies.push(r?);
    }
    let burst_per_minute = sales as f64 / all_burst.elapsed().as_secs_f64() * 60.0;
    let (b50, s50, s95) = (quantile(&bare, 0.5), quantile(&sale, 0.5), quantile(&sale, 0.95));
    println!("| model | sales | bare proof p50 s | sale p50 s | sale p95 s | sales/min | overhead |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {name} | {sales} | {b50:.3} | {s50:.3} | {s95:.3} | {per_minute:.1} | {:+.1}% |",
        (s50 / b50 - 1.0) * 100.0
    );
    println!();
    println!("| model | queue | workers | burst | p50 s | p95 s | proofs/min |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    println!(
        "| {name} | {engine:?} | {workers} | {sales} | {:.3} | {:.3} | {burst_per_minute:.1} |",
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.95)
    );
    drop(anvil);
    Ok(())
}
