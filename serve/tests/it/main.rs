//! zkml-serve's integration tests, one binary: the `exact` scheme's offline checks, its
//! settlement on anvil, and the HTTP routes that sell proved inferences.

mod catalog;
mod crash;
mod crash_escrow;
mod escrow;
mod exact;
mod http;
mod jobs;
mod pay;
mod settle;
mod stock;
mod workers;

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
    DIR.get_or_init(|| compiled("price_mlp"))
}

/// tiny_gemm the same way: another model.
fn tiny_gemm() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| compiled("tiny_gemm"))
}

/// tests/data/`name`.onnx compiled on its input, with development keys (seed 1).
fn compiled(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-it").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let data = repo_root().join("tests/data");
    let samples = artifact::read_inputs(&data.join(format!("{name}.input.json"))).unwrap();
    pipeline::compile(&data.join(format!("{name}.onnx")), &samples, QuantConfig::default(), &dir).unwrap();
    zkml::setup::dev(&dir, 1).unwrap();
    dir
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

/// The offer the `zkml-serve` binary makes on `chain` at `price` (`zkml_serve`): paid to its own
/// account, anvil's first.
fn binary_offer(chain: &Chain, price: u64) -> PaymentRequirements {
    binary_pricing(chain, price).offer()
}

/// The `zkml-serve` binary's pricing on `chain` at `price`, its defaults.
fn binary_pricing(chain: &Chain, price: u64) -> zkml_serve::catalog::Pricing {
    zkml_serve::catalog::Pricing {
        chain_id: chain.chain_id,
        asset: chain.asset,
        token_name: "USD Coin".into(),
        token_version: "2".into(),
        pay_to: ANVIL_DEV_KEY.parse::<PrivateKeySigner>().unwrap().address(),
        amount: U256::from(price),
        max_timeout_seconds: 300,
        escrow_deadline_seconds: 900,
    }
}

/// `buyer`'s `exact` payment of `offer`, valid from `now` − 60 for ten minutes, with a random nonce.
fn pay(offer: &PaymentRequirements, chain_id: u64, buyer: &PrivateKeySigner, now: u64) -> PaymentPayload {
    let t = TransferWithAuthorization {
        from: buyer.address(),
        to: offer.pay_to.parse().unwrap(),
        value: offer.amount.parse().unwrap(),
        validAfter: U256::from(now - 60),
        validBefore: U256::from(now + 600),
        nonce: alloy::primitives::B256::from(rand::random::<[u8; 32]>()),
    };
    signed_payment(offer, chain_id, &t, buyer)
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
    let (child, line) = spawn_ready(cmd);
    let base = line.strip_prefix("listening on ").expect("the first line says where").to_string();
    (child, base)
}

/// Starts `cmd`; the process, once it printed its first line, and that line.
fn spawn_ready(cmd: &mut Command) -> (Child, String) {
    let mut child = Child(cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap());
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "{cmd:?} ended before it was ready");
    (child, line.trim().to_string())
}

/// A `zkml-worker` (what `zkml worker` runs) proving price_mlp from the queue at `url` as `name`.
fn zkml_worker(url: &str, name: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zkml-worker"));
    c.args(["--models", price_mlp().to_str().unwrap(), "--database-url", url, "--name", name, "--allow-dev-keys"]);
    c
}

/// A PostgreSQL server of its own (Debian's package), its cluster in a fresh directory, on a
/// free loopback port; stopped when dropped. As root, the cluster is run by the `postgres`
/// account (PostgreSQL refuses root).
struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    /// Its URL, user `zkml` (trusted) and the `postgres` database.
    url: String,
}

impl Postgres {
    fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server (Debian's package postgresql) is installed")
            .map(|e| e.unwrap().path().join("bin"))
            .filter(|b| b.join("initdb").is_file())
            .max()
            .expect("a PostgreSQL version with initdb");
        let dir = tempfile::Builder::new().prefix("zkml-pg").tempdir_in("/tmp").unwrap().keep();
        if as_root() {
            assert!(Command::new("chown").args(["postgres:postgres"]).arg(&dir).status().unwrap().success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = Postgres { url: format!("postgres://zkml@127.0.0.1:{port}/postgres"), dir, bin };
        let data = pg.dir.join("data");
        pg.run("initdb", &["-D", data.to_str().unwrap(), "-U", "zkml", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            pg.dir.display()
        );
        let log = pg.dir.join("log");
        pg.run("pg_ctl", &["-D", data.to_str().unwrap(), "-o", &options, "-l", log.to_str().unwrap(), "-w", "start"]);
        pg
    }

    /// Runs one of PostgreSQL's programs, which must succeed.
    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).output().unwrap();
        assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// One of PostgreSQL's programs, run as `postgres` when this process is root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.command("pg_ctl").arg("-D").arg(data).args(["-m", "immediate", "-w", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n")
}
