//! `zkml-serve`, which `zkml serve` runs: sells proved inferences of compiled models over
//! HTTP 402 (x402's `exact` scheme), settling each payment on-chain before proving.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::Address;
use alloy::providers::{Provider, ProviderBuilder};
use anyhow::{Context, Result};
use clap::Parser;
use zkml_serve::catalog::{Catalog, Pricing};
use zkml_serve::cli;
use zkml_serve::http::{self, Limits, Server};
use zkml_serve::jobs::JobStore;
use zkml_serve::settle::discover_domain;
use zkml_serve::x402::{parse_address, parse_decimal};

const EXAMPLES: &str = "\
Examples:
  # Sell proved inferences of price_mlp for 0.01 USDC each on a local chain (anvil), the
  # server's account paying the settlements' gas
  ZKML_SERVER_KEY=0xac09...ff80 zkml serve --models build/price_mlp --rpc-url http://127.0.0.1:8545 \\
      --asset 0x5FbDB2315678afecb367f032d93F642f64180aa3 --price 10000 --allow-dev-keys

  # What is on sale, and a first (unpaid) request: 402 with the offer in PAYMENT-REQUIRED
  curl http://127.0.0.1:8402/v1/models
  curl -i -X POST http://127.0.0.1:8402/v1/models/price_mlp/inferences -d @input.json";

/// Sell proved inferences over HTTP 402 (x402 `exact`): each payment checked and settled
/// on-chain, then the input proved (Groth16 over BN254) and answered with the output, the proof
/// and its verifier calldata.
#[derive(Parser)]
#[command(name = "zkml serve", version, after_help = EXAMPLES)]
struct Args {
    /// Compiled model directories with their keys (`zkml compile`, `zkml setup`); each is sold at
    /// /v1/models/NAME/inferences, NAME the directory's name.
    #[arg(long, required = true, num_args = 1..)]
    models: Vec<PathBuf>,
    /// The chain's JSON-RPC URL.
    #[arg(long)]
    rpc_url: String,
    /// Where to listen (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8402")]
    listen: SocketAddr,
    /// The EIP-3009 token buyers pay in (USDC's address on the chain).
    #[arg(long)]
    asset: String,
    /// The price of one proved inference, in the token's smallest unit (USDC: 1000000 is 1 USDC).
    #[arg(long)]
    price: String,
    /// Who is paid [default: the server's account].
    #[arg(long)]
    pay_to: Option<String>,
    /// The token's EIP-712 domain name [default: the token's own, asked of it].
    #[arg(long)]
    token_name: Option<String>,
    /// The token's EIP-712 domain version [default: the token's own, asked of it].
    #[arg(long)]
    token_version: Option<String>,
    /// The environment variable that holds the server's private key (hex): its account sends
    /// the settlements and pays their gas.
    #[arg(long, default_value = "ZKML_SERVER_KEY")]
    key_env: String,
    /// Paid requests admitted at once; more are answered 503 before they pay.
    #[arg(long, default_value_t = Limits::default().queue)]
    queue: usize,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = Limits::default().max_body)]
    max_body: usize,
    /// How long a buyer's authorization should stay valid, in seconds (the offer's
    /// maxTimeoutSeconds).
    #[arg(long, default_value_t = 300)]
    max_timeout_seconds: u64,
    /// Where the server keeps its state: the job queue's SQLite file (jobs.sqlite), unless
    /// --database-url names another database.
    #[arg(long, default_value = "zkml-serve-data")]
    data_dir: PathBuf,
    /// The job queue's database: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in
    /// --data-dir].
    #[arg(long)]
    database_url: Option<String>,
    /// Workers proving in this process, each one proof at a time.
    #[arg(long, default_value_t = Limits::default().workers)]
    workers: usize,
    /// How long a paid request waits for its proof before it is answered 202 with the job's URL
    /// (GET /v1/jobs/ID), in seconds.
    #[arg(long, default_value_t = Limits::default().wait.as_secs())]
    wait_seconds: u64,
    /// Where a model's generated Solidity verifier is deployed on the chain, NAME=ADDRESS (once per
    /// model): `GET /v1/models` tells buyers, once the contract reports the model's id and
    /// public-input count.
    #[arg(long, value_name = "NAME=ADDRESS")]
    verifier: Vec<String>,
    /// Where a model's ZkmlEscrow is deployed, NAME=ADDRESS (once per model): the model is then
    /// sold by `zkml-escrow` too (pay on proof: the buyer's money goes to the escrow, and to
    /// --pay-to when the server's proof releases it), once the contract reports the token, the
    /// model's id and input-word count, and a verifier of the model.
    #[arg(long, value_name = "NAME=ADDRESS")]
    escrow: Vec<String>,
    /// How long after its opening an escrow request may be released by its proof, in seconds;
    /// after it, the buyer may take the money back.
    #[arg(long, default_value_t = 900)]
    escrow_deadline_seconds: u64,
    /// Serve models whose keys anyone can forge proofs for (`zkml setup --dev-seed`, or a
    /// ceremony without contributions): for tests and local chains only.
    #[arg(long)]
    allow_dev_keys: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    cli::exit(run(Args::parse()).await)
}

async fn run(args: Args) -> Result<()> {
    let signer = cli::key_from_env(&args.key_env, "settles payments and pays their gas (the server's)")?;
    let server_account = signer.address();
    let url = args.rpc_url.parse().with_context(|| format!("--rpc-url {}", args.rpc_url))?;
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url).erased();
    let chain_id =
        provider.get_chain_id().await.with_context(|| format!("asking {} for its chain id", args.rpc_url))?;
    let asset = parse_address("--asset", &args.asset)?;
    let pay_to: Address = match &args.pay_to {
        Some(a) => parse_address("--pay-to", a)?,
        None => server_account,
    };
    let amount = parse_decimal("--price", &args.price)?;
    let (token_name, token_version) =
        discover_domain(&provider, asset, chain_id, args.token_name, args.token_version).await?;
    let pricing = Pricing {
        chain_id,
        asset,
        token_name,
        token_version,
        pay_to,
        amount,
        max_timeout_seconds: args.max_timeout_seconds,
        escrow_deadline_seconds: args.escrow_deadline_seconds,
    };
    eprintln!("loading {} model(s) and their keys", args.models.len());
    let mut catalog = Catalog::load(&args.models, args.allow_dev_keys)?;
    for pin in &args.verifier {
        let (name, address) =
            pin.split_once('=').with_context(|| format!("--verifier {pin}: expected NAME=ADDRESS"))?;
        let address = parse_address("--verifier", address)?;
        catalog.pin_verifier(&provider, name, address).await?;
    }
    for pin in &args.escrow {
        let (name, address) = pin.split_once('=').with_context(|| format!("--escrow {pin}: expected NAME=ADDRESS"))?;
        let address = parse_address("--escrow", address)?;
        catalog.pin_escrow(&provider, name, address, asset).await?;
    }
    for (name, why) in catalog.unsound() {
        eprintln!("WARNING: anyone can forge proofs for {name}'s keys ({why}); served anyway (--allow-dev-keys)");
    }
    let names = catalog.names().join(", ");
    let limits = Limits {
        queue: args.queue,
        max_body: args.max_body,
        wait: Duration::from_secs(args.wait_seconds),
        workers: args.workers,
        ..Limits::default()
    };
    let database_url = match args.database_url {
        Some(url) => url,
        None => {
            std::fs::create_dir_all(&args.data_dir)
                .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
            format!("sqlite://{}", args.data_dir.join("jobs.sqlite").display())
        }
    };
    let jobs = JobStore::open(&database_url).await.with_context(|| format!("opening the job queue {database_url}"))?;
    let server = Server::start(catalog, &pricing, provider, limits, jobs).await?;
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let at = listener.local_addr()?;
    // The first line on stdout, for scripts that listen on port 0.
    println!("listening on http://{at}");
    eprintln!(
        "selling {names} at http://{at}/v1/models/NAME/inferences: {amount} of {asset} on eip155:{chain_id} each, \
         paid to {pay_to}"
    );
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    http::serve(listener, server, ctrl_c).await.context("serving")
}
