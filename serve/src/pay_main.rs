//! `zkml-pay`, which `zkml pay` runs: buys one proved inference from a `zkml serve` by
//! `zkml-escrow` (pay on proof) and verifies the proof locally before printing the output.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use zkml::artifact::{self, Compiled};
use zkml::setup::Trust;
use zkml_serve::pay::{self, Limits, Purchase};
use zkml_serve::x402::{parse_address, parse_decimal};
use zkml_serve::{catalog, cli};

const EXAMPLES: &str = "\
Examples:
  # One proved inference of price_mlp, paid into its escrow on a local chain (anvil), at most
  # 0.01 USDC; the proof checked against build/price_mlp's verifying key
  ZKML_PAY_KEY=0x59c6...690d zkml pay http://127.0.0.1:8402 --model build/price_mlp \\
      --input input.json --chain-id 31337 --asset 0x5FbDB2315678afecb367f032d93F642f64180aa3 \\
      --max-price 10000";

/// Buy one proved inference by zkml-escrow: the price goes into the model's escrow and reaches
/// the seller only with a proof bound to this request; the proof is verified here against your
/// copy of the model's verifying key, and the output read from it.
#[derive(Parser)]
#[command(name = "zkml pay", version, after_help = EXAMPLES)]
struct Args {
    /// The server's URL (`zkml serve --listen`).
    url: String,
    /// Your copy of the compiled model directory, with its verifying key (vk.bin, vk.json): the
    /// proof is checked against it, never against a key the server sends.
    #[arg(long)]
    model: PathBuf,
    /// The model's name on the server [default: the directory's name].
    #[arg(long)]
    name: Option<String>,
    /// The input, EZKL format (`{"input_data": [[...]]}`).
    #[arg(long)]
    input: PathBuf,
    /// The chain you pay on (anvil: 31337).
    #[arg(long)]
    chain_id: u64,
    /// The EIP-3009 token you pay in (USDC's address on the chain).
    #[arg(long)]
    asset: String,
    /// The most you pay, in the token's smallest unit (USDC: 1000000 is 1 USDC).
    #[arg(long)]
    max_price: String,
    /// The escrow you pay into; without it, the server's offer names it.
    #[arg(long)]
    escrow: Option<String>,
    /// The longest your money may stay in the escrow before you can take it back, should the
    /// server never prove (the offer's deadline), in seconds.
    #[arg(long, default_value_t = 3600)]
    max_deadline_seconds: u64,
    /// The environment variable that holds your private key (hex).
    #[arg(long, default_value = "ZKML_PAY_KEY")]
    key_env: String,
    /// Write the server's answer (output, proof, public inputs, calldata, the escrow's
    /// transactions) here as JSON.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Accept proofs under keys anyone can forge proofs for (`zkml setup --dev-seed`): for tests
    /// and local chains only; such a proof proves nothing.
    #[arg(long)]
    allow_dev_keys: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    cli::exit(run(Args::parse()).await)
}

async fn run(args: Args) -> Result<()> {
    let signer = cli::key_from_env(&args.key_env, "pays (yours)")?;
    let model = Compiled::load(&args.model)?;
    let vk = artifact::read_verifier_key(&args.model)?;
    match zkml::setup::trust(&args.model, &vk.groth16, Some(&vk.delta1_g2))? {
        Trust::Unsafe(why) if !args.allow_dev_keys => {
            bail!(
                "anyone can forge proofs for {}'s keys ({why}): a proof under them proves nothing",
                args.model.display()
            )
        }
        Trust::Unsafe(why) => eprintln!("WARNING: anyone can forge proofs for these keys ({why}) (--allow-dev-keys)"),
        Trust::Ceremony { .. } => {}
    }
    let name = match args.name {
        Some(n) => n,
        None => catalog::model_name(&args.model)
            .with_context(|| format!("{} has no name a server sells it under: give --name", args.model.display()))?,
    };
    let bytes = std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let mut inputs = artifact::parse_inputs(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", args.input.display()))?;
    if inputs.len() != 1 {
        bail!("{} holds {} inputs; one purchase takes one", args.input.display(), inputs.len());
    }
    let input = inputs.remove(0);
    let limits = Limits {
        chain_id: args.chain_id,
        asset: parse_address("--asset", &args.asset)?,
        max_price: parse_decimal("--max-price", &args.max_price)?,
        escrow: args.escrow.as_deref().map(|e| parse_address("--escrow", e)).transpose()?,
        max_deadline_seconds: args.max_deadline_seconds,
    };
    if limits.escrow.is_none() {
        eprintln!("note: paying into the escrow the server names (--escrow pins one you checked)");
    }
    let t = Instant::now();
    let purchase =
        Purchase { server: &args.url, name: &name, model: &model, vk: &vk, input: &input, signer: &signer, limits };
    let bought = pay::buy(&purchase, |step| eprintln!("{step}")).await?;
    if let Some(out) = &args.out {
        let json = serde_json::to_vec_pretty(&bought.answer)?;
        std::fs::write(out, json).with_context(|| format!("writing {}", out.display()))?;
    }
    println!("output {:?}", bought.output);
    println!(
        "proof valid under {}'s verifying key, bound to escrow {} request {}",
        args.model.display(),
        bought.escrow,
        bought.request_id
    );
    println!(
        "paid {} into the escrow (tx {}), which the proof releases to the seller; {:.2} s",
        bought.amount,
        bought.answer.payment.transaction,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
