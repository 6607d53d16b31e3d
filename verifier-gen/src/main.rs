//! `zkml-gen`: renders on-chain verifiers and their calldata.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use zkml_verifier_gen::keys::VerifierKey;
use zkml_verifier_gen::{calldata, ident, io, solidity, starknet};

const EXAMPLES: &str = "\
Examples:
  # Render the verifier of a compiled model (zkml compile + zkml setup): verifyProof plus the
  # typed entry point, e.g. verify(bytes proof, uint256 context, int256[16] input, int256 output)
  zkml-gen solidity build/price_mlp --out PriceMlpVerifier.sol --contract-name PriceMlpVerifier

  # ...and print its runtime code hash (what an oracle's proposeUpgrade pins), compiled with the
  # repository's solc-js wrapper (optimizer 200 runs, cancun, no metadata)
  zkml-gen solidity build/price_mlp --out PriceMlpVerifier.sol --solc script/solc

  # Hex calldata of the typed entry point for a wrapped proof (zkml prove --wrap)
  zkml-gen calldata build/price_mlp proof.bin

  # The smallest calldata: verifyCompact(uint256[8] proof, uint256[N] inputs)
  zkml-gen calldata build/price_mlp proof.bin --compact

  # Render a Solidity verifier for a bare Groth16 verifying key (verifyProof only)
  zkml-gen solidity model.vk --out Verifier.sol --contract-name PriceMlpVerifier

  # Render the Starknet (Cairo) verifier package of a compiled model, and a proof's calldata
  zkml-gen starknet build/price_mlp --out price_mlp_verifier
  zkml-gen starknet-calldata build/price_mlp proof.bin > calldata.json

  # Print the hex calldata of verifyProof(bytes,uint256[]) for a proof and its public inputs
  zkml-gen calldata model.vk proof.bin --public-inputs '[\"12\", \"0x2a\"]'

  # ...and send it with any Ethereum client, e.g.
  cast call $VERIFIER \"$(zkml-gen calldata model.vk proof.bin --public-inputs '[\"12\",\"42\"]')\"

A model directory holds vk.bin and settings.json; its PROOF is a wrap proof file (zkml prove
--wrap). A VK_FILE is an ark-serialize compressed Groth16 VerifyingKey<Bn254>, and its PROOF an
ark-serialize compressed Proof<Bn254> with --public-inputs. `solidity`, `starknet` and `hooks`
also take two-round keys (a directory set up with `zkml setup`, or its vk.bin:
the VerifyingKey followed by its compressed [δ₁]₂): their verifiers take proofs with D (320
bytes in Solidity) and derive the seed themselves.";

#[derive(Parser)]
#[command(
    name = "zkml-gen",
    version,
    about = "Generate on-chain verifiers (Solidity, Starknet/Cairo) for zkml Groth16 proofs over BN254",
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
        after_help = "Examples:\n  zkml-gen solidity model.vk --out Verifier.sol --contract-name PriceMlpVerifier\n  zkml-gen solidity build/price_mlp --out Verifier.sol --precompile-gas eip1108"
    )]
    Solidity {
        /// A compiled model directory (vk.bin, settings.json), or a verifying key file
        /// (ark-serialize compressed VerifyingKey<Bn254>).
        vk: PathBuf,
        /// Where to write the contract.
        #[arg(long, short)]
        out: PathBuf,
        /// Solidity contract name.
        #[arg(long, default_value = solidity::DEFAULT_CONTRACT_NAME)]
        contract_name: String,
        /// Gas the verifier gives each precompile call (ecAdd, ecMul, the pairing).
        #[arg(long, value_enum, default_value_t = solidity::PrecompileGas::Forward)]
        precompile_gas: solidity::PrecompileGas,
        /// Render a verifier even for keys someone can forge proofs for (a dev setup, a ceremony
        /// with no contribution, keys with no recorded setup): for tests. The contract says so.
        #[arg(long)]
        allow_dev_keys: bool,
        /// The solc to compile the verifier with, to print its runtime code hash (what
        /// `proposeUpgrade` pins): a native solc 0.8.x or the repository's script/solc. Default:
        /// `solc` on the PATH, if there is one.
        #[arg(long, value_name = "PATH")]
        solc: Option<PathBuf>,
    },
    /// Print hex ABI calldata: of the typed entry point for a model directory and a wrap proof,
    /// of verifyProof(bytes,uint256[]) for a verifying key file.
    #[command(
        after_help = "Examples:\n  zkml-gen calldata build/price_mlp proof.bin\n  zkml-gen calldata model.vk proof.bin --public-inputs '[\"12\", \"0x2a\"]'"
    )]
    Calldata {
        /// A compiled model directory (vk.bin, settings.json), or a verifying key file.
        vk: PathBuf,
        /// With a directory: a wrap proof file (`zkml prove --wrap`). With a key file: an
        /// ark-serialize compressed Proof<Bn254>.
        proof: PathBuf,
        /// With a key file: the public inputs as a JSON array of decimal / 0x-hex strings or
        /// integers, each < r. With a directory, from the proof file (and --verify-proof).
        #[arg(long)]
        public_inputs: Option<String>,
        /// Calldata of verifyProof(bytes,uint256[]) instead of the typed entry point (a directory)
        /// or in any case.
        #[arg(long, conflicts_with = "compact")]
        verify_proof: bool,
        /// Calldata of verifyCompact(uint256[8],uint256[N]), the smallest: the proof and the
        /// public inputs (after the fixed model id, for a model directory) as static words.
        #[arg(long)]
        compact: bool,
    },
    /// Render a Starknet verifier: a Cairo package (Scarb layout) whose contract exposes
    /// verify_groth16_proof_bn254(full_proof_with_hints: Span<felt252>) -> Option<Span<u256>>.
    #[command(after_help = "Example:\n  zkml-gen starknet build/price_mlp --out price_mlp_verifier")]
    Starknet {
        /// A compiled model directory (vk.bin, settings.json), or a verifying key file.
        vk: PathBuf,
        /// Output folder of the package (created if missing; its files are overwritten).
        #[arg(long, short)]
        out: PathBuf,
        /// Render a verifier even for keys someone can forge proofs for (a dev setup, a ceremony
        /// with no contribution, keys with no recorded setup): for tests. The contract says so.
        #[arg(long)]
        allow_dev_keys: bool,
    },
    /// Print the felt252 calldata of verify_groth16_proof_bn254 for a wrap proof, as a JSON array
    /// of 0x-hex strings: the proof, the public inputs, then the pairing hint (the residue
    /// witness c and the index of w, which the contract checks). Fails for a proof that does not
    /// verify against the model's key (it has no hint).
    #[command(after_help = "Example:\n  zkml-gen starknet-calldata build/price_mlp proof.bin")]
    StarknetCalldata {
        /// A compiled model directory (vk.bin, settings.json).
        dir: PathBuf,
        /// A wrap proof file (`zkml prove --wrap`), of the kind of DIR's keys.
        proof: PathBuf,
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
        /// Render a verifier even for keys someone can forge proofs for (a dev setup, a ceremony
        /// with no contribution, keys with no recorded setup): for tests. The contract says so.
        #[arg(long)]
        allow_dev_keys: bool,
    },
}

/// Compiles the rendered verifier and prints its runtime code hash on stdout. With no `--solc`,
/// uses `solc` from the PATH, and only says how to get the hash when there is none.
fn print_code_hash(solc: Option<&Path>, name: &str, src: String) -> Result<()> {
    let program = solc.unwrap_or(Path::new("solc"));
    let version = match zkml_verifier_gen::solc::version(program).map_err(anyhow::Error::from) {
        Ok(v) => v,
        Err(e) if solc.is_none() => {
            eprintln!("no runtime code hash: no solc on the PATH ({e:#}); pass --solc PATH to print it");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    // No metadata trailer: the unit's name does not reach the code.
    let artifacts =
        zkml_verifier_gen::solc::compile(program, &std::env::current_dir()?, &[(format!("{name}.sol"), src)])?;
    eprintln!("compiled with {} ({version}; {})", program.display(), zkml_verifier_gen::solc::SETTINGS);
    println!("runtime code hash: {}", artifacts.get(name)?.code_hash());
    Ok(())
}

/// The wrapped proof in the proof file `path`; a clear error for a stage-1 proof.
fn wrapped_proof(path: &Path) -> Result<zkml::wrap::two_round::Proof> {
    match zkml::artifact::read_any_proof(path)? {
        zkml::artifact::AnyProof::TwoRound(w) => Ok(w),
        zkml::artifact::AnyProof::Stage1(_) => bail!(
            "{} is a stage-1 proof; the on-chain verifier needs a wrapped one (zkml prove --wrap)",
            path.display()
        ),
    }
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Solidity { vk, out, contract_name, precompile_gas, allow_dev_keys, solc } => {
            if !ident::is_valid(&contract_name) {
                bail!("--contract-name {contract_name:?} is not a valid Solidity identifier");
            }
            let k = VerifierKey::load(&vk, allow_dev_keys)?;
            // Rendering refuses a contract over EIP-170's limit itself (RenderError::CodeSize).
            let src = k.solidity(&contract_name, precompile_gas)?;
            let num_public = k.num_public();
            std::fs::write(&out, &src).with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("wrote {} (contract {contract_name}, {num_public} public inputs)", out.display());
            print_code_hash(solc.as_deref(), &contract_name, src)?;
        }
        Command::Calldata { vk, proof, public_inputs, verify_proof, compact } if vk.is_dir() => {
            if public_inputs.is_some() {
                bail!("--public-inputs is for a verifying key file; a wrap proof file carries its public inputs");
            }
            let w = wrapped_proof(&proof)?;
            let k = VerifierKey::load_dir(&vk)?;
            let layout = k.layout.context("a model directory has a layout")?;
            let publics = &w.public_inputs;
            let cd = if verify_proof || compact {
                layout.typed_words(publics)?; // same model, same layout
                if compact {
                    calldata::verify_compact_calldata(&w.proof, publics, 1)
                } else {
                    calldata::verify_proof_calldata(&w.proof, publics)
                }
            } else {
                layout.typed_calldata(&w.proof, publics)?
            };
            println!("0x{}", hex::encode(cd));
        }
        Command::Calldata { vk, proof, public_inputs, verify_proof: _, compact } => {
            let public_inputs = public_inputs.context("--public-inputs is required with a verifying key file")?;
            let vk = io::load_vk(&vk)?;
            let proof = io::load_proof(&proof)?;
            let inputs = io::parse_public_inputs(&public_inputs)?;
            let expected = vk.gamma_abc_g1.len() - 1;
            if inputs.len() != expected {
                bail!("the verifying key expects {expected} public inputs, got {}", inputs.len());
            }
            let cd = if compact {
                calldata::verify_compact_calldata(&proof, &inputs, 0)
            } else {
                calldata::verify_proof_calldata(&proof, &inputs)
            };
            println!("0x{}", hex::encode(cd));
        }
        Command::Starknet { vk, out, allow_dev_keys } => {
            let k = VerifierKey::load(&vk, allow_dev_keys)?;
            let files = starknet::write_package(&k.starknet_spec(), &out)?;
            eprintln!(
                "wrote {} files under {} (package {}, {} public inputs)",
                files.len(),
                out.display(),
                starknet::DEFAULT_PACKAGE_NAME,
                k.num_public()
            );
        }
        Command::StarknetCalldata { dir, proof } => {
            if !dir.is_dir() {
                bail!("{} is not a compiled model directory", dir.display());
            }
            let w = wrapped_proof(&proof)?;
            let k = VerifierKey::load_dir(&dir)?;
            let layout = k.layout.as_ref().context("a model directory has a layout")?;
            layout.typed_words(&w.public_inputs)?; // same model, same layout
            if w.public_inputs.len() != k.num_public() {
                bail!("the proof has {} public inputs, the key {}", w.public_inputs.len(), k.num_public());
            }
            let felts = starknet::calldata(&k.starknet_spec(), &w.proof, &w.public_inputs)?;
            println!("{}", serde_json::to_string(&felts)?);
        }
        Command::Hooks { dir, oracle, erc8004, x402, out, name, decimals, description, allow_dev_keys } => {
            use zkml_verifier_gen::hookgen::{self, Hook, OracleOptions};
            // clap's "hook" group makes exactly one of the three true.
            let hook = match (oracle, erc8004, x402) {
                (true, _, _) => Hook::Oracle,
                (_, true, _) => Hook::Erc8004,
                _ => Hook::X402,
            };
            let options = OracleOptions { decimals, description };
            for p in hookgen::generate(&dir, hook, &out, &name, &options, allow_dev_keys)? {
                eprintln!("wrote {}", p.display());
            }
        }
    }
    Ok(())
}
