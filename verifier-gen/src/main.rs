//! `zkml-gen`: renders on-chain verifiers and their calldata.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use zkml_verifier_gen::{calldata, io, solidity};

const EXAMPLES: &str = "\
Examples:
  # Render a Solidity verifier for a Groth16 verifying key
  zkml-gen solidity model.vk --out Verifier.sol --contract-name PriceMlpVerifier

  # Print the hex calldata of verifyProof(bytes,uint256[]) for a proof and its public inputs
  zkml-gen calldata model.vk proof.bin --public-inputs '[\"12\", \"0x2a\"]'

  # ...and send it with any Ethereum client, e.g.
  cast call $VERIFIER \"$(zkml-gen calldata model.vk proof.bin --public-inputs '[\"12\",\"42\"]')\"

VK_FILE is an ark-serialize compressed Groth16 VerifyingKey<Bn254>; PROOF_FILE an ark-serialize
compressed Proof<Bn254>.";

#[derive(Parser)]
#[command(
    name = "zkml-gen",
    version,
    about = "Generate on-chain verifiers (Solidity) for zkml Groth16 proofs over BN254",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a Solidity verifier contract with the verifying key hard-coded.
    #[command(
        after_help = "Example:\n  zkml-gen solidity model.vk --out Verifier.sol --contract-name PriceMlpVerifier"
    )]
    Solidity {
        /// Verifying key file (ark-serialize compressed VerifyingKey<Bn254>).
        vk: PathBuf,
        /// Where to write the contract.
        #[arg(long, short)]
        out: PathBuf,
        /// Solidity contract name.
        #[arg(long, default_value = solidity::DEFAULT_CONTRACT_NAME)]
        contract_name: String,
    },
    /// Print the hex ABI calldata of verifyProof(bytes,uint256[]) for a proof.
    #[command(
        after_help = "Example:\n  zkml-gen calldata model.vk proof.bin --public-inputs '[\"12\", \"0x2a\"]'"
    )]
    Calldata {
        /// Verifying key file (ark-serialize compressed VerifyingKey<Bn254>).
        vk: PathBuf,
        /// Proof file (ark-serialize compressed Proof<Bn254>).
        proof: PathBuf,
        /// Public inputs as a JSON array of decimal / 0x-hex strings or integers, each < r.
        #[arg(long)]
        public_inputs: String,
    },
    /// Render a model's hook contracts and forge deploy scripts (oracle, ERC-8004 validator, x402 escrow).
    #[command(
        group(clap::ArgGroup::new("hook").required(true).args(["oracle", "erc8004", "x402"])),
        after_help = "Example:\n  zkml-gen hooks build/price_mlp --oracle --name PriceMlp --decimals 8 --out script/price_mlp"
    )]
    Hooks {
        /// Compiled model directory (settings.json from `zkml compile`, vk.bin from `zkml setup`).
        dir: PathBuf,
        /// A Chainlink-compatible ZkmlOracle wrapper with typed inputs, and its deploy script.
        #[arg(long)]
        oracle: bool,
        /// A deploy script for the ERC-8004 ZkmlValidator and the ERC-8274 adapter.
        #[arg(long)]
        erc8004: bool,
        /// A deploy script for the x402 ZkmlEscrow.
        #[arg(long)]
        x402: bool,
        /// Output directory.
        #[arg(long, short)]
        out: PathBuf,
        /// Contract name prefix.
        #[arg(long, default_value = "Model")]
        name: String,
        /// Oracle: decimals of the answer (at least the output's fractional bits).
        #[arg(long, default_value_t = 8)]
        decimals: u8,
        /// Oracle: the feed's description.
        #[arg(long)]
        description: Option<String>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Solidity {
            vk,
            out,
            contract_name,
        } => {
            if !solidity::is_valid_contract_name(&contract_name) {
                bail!("--contract-name {contract_name:?} is not a valid Solidity identifier");
            }
            let vk = io::load_vk(&vk)?;
            let src = solidity::render(&vk, &contract_name);
            std::fs::write(&out, src).with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "wrote {} (contract {contract_name}, {} public inputs)",
                out.display(),
                vk.gamma_abc_g1.len() - 1
            );
        }
        Command::Calldata {
            vk,
            proof,
            public_inputs,
        } => {
            let vk = io::load_vk(&vk)?;
            let proof = io::load_proof(&proof)?;
            let inputs = io::parse_public_inputs(&public_inputs)?;
            let expected = vk.gamma_abc_g1.len() - 1;
            if inputs.len() != expected {
                bail!(
                    "the verifying key expects {expected} public inputs, got {}",
                    inputs.len()
                );
            }
            println!(
                "0x{}",
                hex::encode(calldata::verify_proof_calldata(&proof, &inputs))
            );
        }
        Command::Hooks {
            dir,
            oracle,
            erc8004,
            x402,
            out,
            name,
            decimals,
            description,
        } => {
            use zkml_verifier_gen::hookgen::{self, Hook, OracleOptions};
            // clap's "hook" group makes exactly one of the three true.
            let hook = match (oracle, erc8004, x402) {
                (true, _, _) => Hook::Oracle,
                (_, true, _) => Hook::Erc8004,
                _ => Hook::X402,
            };
            for p in hookgen::generate(
                &dir,
                hook,
                &out,
                &name,
                &OracleOptions {
                    decimals,
                    description,
                },
            )? {
                eprintln!("wrote {}", p.display());
            }
        }
    }
    Ok(())
}
