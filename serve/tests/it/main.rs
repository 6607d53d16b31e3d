//! zkml-serve's integration tests, one binary: the `exact` scheme's offline checks, its
//! settlement on anvil, and the HTTP routes that sell proved inferences.

mod catalog;
mod crash;
mod exact;
mod http;
mod jobs;
mod settle;
mod stock;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use oracle_demo::anvil::{ANVIL_DEV_KEY, Anvil, ensure_toolchain, repo_root};
use zkml::artifact;
use zkml::pipeline;
use zkml::quantize::QuantConfig;
use zkml_serve::exact::TransferWithAuthorization;
use zkml_serve::x402::{PaymentPayload, PaymentRequirements};

/// What a stock client sends for `offer` on chain `chain_id`: `t` signed by `signer`.
fn signed_payment(
    offer: &PaymentRequirements,
    chain_id: u64,
    t: &TransferWithAuthorization,
    signer: &PrivateKeySigner,
) -> PaymentPayload {
    zkml_serve::exact::sign(offer, chain_id, t, signer).unwrap()
}

alloy::sol! {
    /// contracts/testing/TestUSDC.sol: anyone may mint.
    #[sol(rpc)]
    interface ITestUsdc {
        function mint(address to, uint256 amount) external;
    }
}

/// anvil with contracts/testing/TestUSDC.sol ("USD Coin", version "2": USDC's EIP-3009) deployed,
/// and a provider whose wallet is anvil's first account.
struct Chain {
    provider: DynProvider,
    chain_id: u64,
    /// The token.
    asset: Address,
    /// anvil itself (it stops when dropped).
    anvil: Anvil,
}

impl Chain {
    async fn start() -> Chain {
        let root = repo_root();
        ensure_toolchain(&root).unwrap();
        let anvil = Anvil::start(None).unwrap();
        let server: PrivateKeySigner = ANVIL_DEV_KEY.parse().unwrap();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(server))
            .connect_http(anvil.url.parse().unwrap())
            .erased();
        let chain_id = provider.get_chain_id().await.unwrap();
        let asset = oracle_demo::chain::deploy_test_usdc(&provider, &root).await.unwrap();
        Chain { provider, chain_id, asset, anvil }
    }

    /// Mints `amount` to `to`: TestUSDC lets anyone.
    async fn mint(&self, to: Address, amount: u64) {
        let token = ITestUsdc::new(self.asset, &self.provider);
        token.mint(to, U256::from(amount)).send().await.unwrap().get_receipt().await.unwrap();
    }

    /// The latest block's timestamp: anvil's clock, which the token checks authorizations by.
    async fn now(&self) -> u64 {
        self.provider.get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp
    }
}

/// tests/data/price_mlp.input.json.
fn price_mlp_input() -> PathBuf {
    repo_root().join("tests/data/price_mlp.input.json")
}

/// price_mlp compiled, with development keys (seed 1), once per test run.
fn price_mlp() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-it").join("price_mlp");
        let _ = std::fs::remove_dir_all(&dir);
        let samples = artifact::read_inputs(&price_mlp_input()).unwrap();
        let onnx = repo_root().join("tests/data/price_mlp.onnx");
        pipeline::compile(&onnx, &samples, QuantConfig::default(), &dir).unwrap();
        zkml::setup::dev(&dir, 1).unwrap();
        dir
    })
}

/// The `zkml-serve` binary (what `zkml serve` runs) selling price_mlp at `price` in `chain`'s
/// token, on any free port, its gas paid by anvil's first account.
fn zkml_serve(chain: &Chain, price: u64) -> Command {
    zkml_serve_in(chain, price, &data_dir())
}

/// The same, its state in `dir`.
fn zkml_serve_in(chain: &Chain, price: u64, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zkml-serve"));
    c.env("ZKML_SERVER_KEY", ANVIL_DEV_KEY)
        .args(["--models", price_mlp().to_str().unwrap(), "--rpc-url", &chain.anvil.url])
        .args(["--asset", &chain.asset.to_string(), "--price", &price.to_string(), "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir);
    c
}

/// A fresh directory for a server's state.
fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("serve-it")
        .join("data")
        .join(alloy::hex::encode(rand::random::<[u8; 8]>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child process killed when dropped, so that a failing test leaves no server behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server command; the process and the base URL its first line of output gives.
fn start(cmd: &mut Command) -> (Child, String) {
    let mut child = Child(cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap());
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").expect("the first line says where").to_string();
    (child, base)
}
