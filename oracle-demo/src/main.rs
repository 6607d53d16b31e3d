use std::path::PathBuf;

use clap::Parser;

/// zkml's main job end to end: a price model's inferences on signed market data, proved and
/// wrapped into Groth16, feed a ZkmlSignedOracle on a local chain that a consumer contract reads;
/// an attacker's doctored update is refused on-chain; then an agent pays for one proved inference
/// through an x402 escrow and the ERC-8004 Validation Registry records it.
///
/// Starts the pinned anvil on a free loopback port (stopped at the end, on error and on
/// Ctrl-C), compiles the model in oracle-demo/model/, makes Groth16 keys by a setup ceremony (a
/// snarkjs Powers of Tau made on the first run, one contribution, a beacon), renders
/// and deploys the verifier, ZkmlSignedOracle (data signer: anvil's dev account #2; updates only
/// from the deployer) and a CollateralMonitor, runs the rounds and the attack (anvil's dev
/// account #3), then the payment flow (TestUSDC, ZkmlEscrow, ZkmlValidator, the ERC-8004 test
/// registries).
#[derive(Parser)]
#[command(name = "oracle-demo")]
struct Cli {
    /// Oracle rounds to prove and post.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Leave the anvil this demo started running at the end (prints its URL and pid).
    #[arg(long, conflicts_with = "rpc_url")]
    keep_chain: bool,
    /// Start anvil on this loopback port instead of a free one (an error if it is taken).
    #[arg(long, conflicts_with = "rpc_url")]
    port: Option<u16>,
    /// Use this node instead of starting anvil; the key comes from $ZKML_PRIVATE_KEY or
    /// --private-key. The refund step needs anvil's evm_increaseTime (skipped without it).
    #[arg(long)]
    rpc_url: Option<String>,
    /// Hex private key of the account that deploys and updates (with --rpc-url). Prefer the
    /// environment variable ZKML_PRIVATE_KEY: command lines are visible to other users.
    #[arg(long)]
    private_key: Option<String>,
    /// Lookup-table bits of the quantization (more: finer prices, slower proofs).
    #[arg(long, default_value_t = 12)]
    lookup_bits: u32,
    /// Keep the compiled model, keys and rendered verifier here (default: a temporary folder).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Write the deployed addresses, every round's proved values and the payment flow as JSON here.
    #[arg(long)]
    summary: Option<PathBuf>,
}

/// The deployer's key from the environment: ZKML_PRIVATE_KEY (ZKML_DEMO_PRIVATE_KEY, its older
/// name, is still read).
fn key_from_env() -> Option<String> {
    ["ZKML_PRIVATE_KEY", "ZKML_DEMO_PRIVATE_KEY"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|k| !k.trim().is_empty()))
}

fn main() {
    let cli = Cli::parse();
    oracle_demo::anvil::install_ctrlc_handler();
    let opts = oracle_demo::Options {
        rounds: cli.rounds,
        keep_chain: cli.keep_chain,
        port: cli.port,
        rpc_url: cli.rpc_url,
        private_key: cli.private_key.or_else(key_from_env),
        lookup_bits: cli.lookup_bits,
        work_dir: cli.work_dir,
        summary: cli.summary,
    };
    if let Err(e) = oracle_demo::run(opts) {
        eprintln!("oracle-demo failed: {e:#}");
        std::process::exit(1);
    }
}
