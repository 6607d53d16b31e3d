//! The `zkml` command line: compile, run, setup, prove, verify, context, conformance, bench, and
//! serve and worker (which run `zkml-serve` and `zkml-worker`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use zkml::artifact::{self, Compiled};
use zkml::field::F;
use zkml::ir::Visibility;
use zkml::pipeline;
use zkml::quantize::QuantConfig;

#[derive(Parser)]
#[command(name = "zkml", version, about = "Prove a quantized ONNX model's inference and verify it", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Quantize an ONNX model: calibrate scales on sample inputs and write a compiled model
    /// directory (model.json, settings.json, model.onnx).
    ///
    /// Example: zkml compile model.onnx --calibrate input.json --out build/model
    Compile {
        /// The ONNX model.
        model: PathBuf,
        /// Sample inputs ({"input_data": [[...], ...]}); repeat the flag for more files.
        #[arg(long, required = true)]
        calibrate: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Width of the signed lookup tables (activation range), 6 to 14.
        #[arg(long, default_value_t = QuantConfig::default().lookup_bits)]
        lookup_bits: u32,
        /// Width of quantized weights.
        #[arg(long, default_value_t = QuantConfig::default().weight_bits)]
        weight_bits: u32,
        /// What a wrapped proof reveals of the input: its values, a salted Poseidon commitment, or
        /// nothing. (A stage-1 proof reveals everything: `prove` then insists on --wrap.)
        #[arg(long, value_enum, default_value = "public")]
        input_visibility: Visibility,
        /// The same for the output: public or hashed. private is refused: the proof would then
        /// say nothing about the output.
        #[arg(long, value_enum, default_value = "public")]
        output_visibility: Visibility,
    },
    /// Run the quantized model on an input and print its outputs next to the float reference.
    ///
    /// Example: zkml run build/model --input input.json
    Run {
        dir: PathBuf,
        #[arg(long)]
        input: PathBuf,
    },
    /// Make the Groth16 keys of a compiled model: DIR/pk.bin and DIR/r1cs.bin (the circuit's
    /// matrices, which proving reads instead of rebuilding them), DIR/vk.bin, and DIR/vk.json
    /// (the verifying key, readable, with the SHA3-256 of pk.bin and r1cs.bin, which proving
    /// checks, and where the keys came from).
    ///
    /// Production keys come from a ceremony (docs/setup.md): `zkml setup DIR --ptau FILE` starts
    /// it from a Powers-of-Tau file, each participant runs `zkml setup contribute DIR` in turn, a
    /// `zkml setup beacon` ends it, and anyone checks it with `zkml setup verify DIR --ptau FILE`.
    ///
    /// Examples: zkml setup build/model --ptau powersOfTau28_hez_final_17.ptau
    ///           zkml setup build/model --dev-seed 1
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true, verbatim_doc_comment)]
    Setup {
        #[command(subcommand)]
        step: Option<SetupStep>,
        #[arg(required = true)]
        dir: Option<PathBuf>,
        /// Start a ceremony from this Powers-of-Tau file (snarkjs/iden3 format, e.g. the Hermez
        /// files powersOfTau28_hez_final_NN.ptau, NN at least the power the model needs). The keys
        /// are NOT safe until someone runs `zkml setup contribute DIR`.
        #[arg(long, conflicts_with = "dev_seed")]
        ptau: Option<PathBuf>,
        /// Derive the keys deterministically from this seed. UNSAFE: whoever knows the seed can
        /// forge proofs; for development and tests only.
        #[arg(long)]
        dev_seed: Option<u64>,
    },
    /// Prove one inference; writes PROOF and PROOF.output.json ({"output_data": [[...]]}).
    ///
    /// Without --wrap the proof is the stage-1 proof, which carries the quantized input, the
    /// output and every intermediate value in the clear; for a model compiled with a hashed or
    /// private input or output it is therefore refused unless --reveal-private is given.
    ///
    /// Example: zkml prove build/model --input input.json --out proof.bin [--wrap --context oracle:1:0xORACLE:1800000000]
    Prove {
        dir: PathBuf,
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Wrap the stage-1 proof into a zero-knowledge Groth16 proof (needs `zkml setup`).
        #[arg(long)]
        wrap: bool,
        /// What the wrapped proof is bound to (public input 1): a field element or a hook's context.
        ///
        /// One of (`zkml context SPEC` prints the value):
        ///   <field element>  decimal, or 0x hex, below the BN254 scalar modulus r
        ///   oracle:<chain id>:<0x oracle address>:<data timestamp>                 (ZkmlOracle's round)
        ///   erc8004:<chain id>:<0x validator address>:<agent id>:<0x request hash>  (ZkmlValidator)
        ///   escrow:<chain id>:<0x escrow address>:<0x request id>                  (ZkmlEscrow)
        #[arg(long, default_value = "0", requires = "wrap", verbatim_doc_comment)]
        context: String,
        /// The SHA3-256 of the vk.bin the deployed verifier was made from (`zkml setup` prints
        /// it, vk.json records it): proving refuses keys that are not those.
        ///
        /// Without it the keys in DIR are used as they are, and the digest they have is printed.
        /// Either way a key that could make its proofs carry the input is refused, and a proof
        /// is written only after it verifies.
        #[arg(long, requires = "wrap", value_name = "HEX")]
        vk_digest: Option<String>,
        /// Write the stage-1 proof of a model with a hashed or private input or output anyway:
        /// it reveals them.
        ///
        /// Without --wrap, the proof file holds the quantized input, the output and every
        /// intermediate value in the clear: whoever gets it learns them all, which is what the
        /// visibility was chosen to prevent. For debugging, or for a verifier already trusted
        /// with the data.
        #[arg(long, conflicts_with = "wrap")]
        reveal_private: bool,
    },
    /// Print the context a wrapped proof is bound to, as a decimal field element and as 0x and
    /// 64 hex digits (what `prove --wrap --context SPEC` binds and a hook contract checks).
    ///
    /// A hook's context is uint256(keccak256(abi.encode(tag, chainId, hook, use...))) >> 8, as
    /// contracts/ZkmlPublicInputs.sol computes it: tag = keccak256("zkml.oracle.v2") with
    /// use = (dataTimestamp), keccak256("zkml.erc8004.v2") with use = (agentId, requestHash),
    /// keccak256("zkml.escrow.v2") with use = (requestId).
    ///
    /// Example: zkml context oracle:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3:1800000000
    Context {
        /// One of:
        ///   <field element>  decimal, or 0x hex, below r
        ///   oracle:<chain id>:<0x oracle address>:<data timestamp>
        ///   erc8004:<chain id>:<0x validator address>:<agent id>:<0x request hash>
        ///   escrow:<chain id>:<0x escrow address>:<0x request id>
        /// Chain ids and timestamps are decimal, the agent id decimal or 0x hex, addresses 40
        /// hex digits, hashes and request ids 64.
        #[arg(verbatim_doc_comment)]
        spec: String,
    },
    /// Verify a proof against a compiled model; prints the verified outputs. Exits 1 if invalid.
    ///
    /// Example: zkml verify build/model proof.bin --input input.json
    Verify {
        dir: PathBuf,
        proof: PathBuf,
        /// Also require the proof to be about this input (otherwise the proof's own public
        /// input is printed).
        #[arg(long)]
        input: Option<PathBuf>,
        /// The salt of a hashed input's commitment (written beside the proof by `prove`).
        #[arg(long, requires = "input")]
        input_salt: Option<String>,
    },
    /// Run the ONNX conformance models: for each DIR/model.onnx with DIR/test_data_set_0
    /// (input_*.pb, output_*.pb), compile (calibrated on that input), prove, verify and compare
    /// the proved output with the expected one. Prints a Markdown table and the totals.
    ///
    /// Example: zkml conformance $(python3 -c "import onnx,os;print(os.path.dirname(onnx.__file__))")/backend/test/data/pytorch-converted
    Conformance {
        /// Model directories, or directories of model directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        #[arg(long, default_value_t = QuantConfig::default().lookup_bits)]
        lookup_bits: u32,
        #[arg(long, default_value_t = QuantConfig::default().weight_bits)]
        weight_bits: u32,
        /// Skip (report as too large) models whose lowered program holds more values than this.
        #[arg(long, default_value_t = zkml::conformance::DEFAULT_MAX_VALUES)]
        max_values: usize,
        /// Also write the table to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Bind every input after the first to its test value as a constant of the model (the
        /// `onnx` package's node tests pass weights, scales and conditions as inputs:
        /// `script/onnx-node-tests.py` writes them); by default several inputs are proved as one.
        #[arg(long)]
        extra_inputs_as_constants: bool,
    },
    /// Time prove and verify on compiled models and print a table (with --wrap: setup, stage 1
    /// and the Groth16 wrap end to end).
    ///
    /// Example: zkml bench build/price_mlp:tests/data/price_mlp.input.json
    Bench {
        /// DIR:INPUT pairs.
        #[arg(required = true)]
        models: Vec<String>,
        /// Repetitions (the median is reported).
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Time the Groth16 wrap end to end instead of stage 1: a development setup, then
        /// loading the keys, stage 1, the wrap and writing the proof file.
        #[arg(long)]
        wrap: bool,
    },
    /// Sell proved inferences over HTTP 402 (x402): runs `zkml-serve`, installed beside `zkml`,
    /// with the same arguments (`zkml serve --help` lists them).
    ///
    /// Example: zkml serve --models build/price_mlp --rpc-url http://127.0.0.1:8545 --asset ADDRESS --price 10000
    #[command(disable_help_flag = true)]
    Serve {
        /// zkml-serve's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Prove the paid jobs `zkml serve` queued, in a process of its own: runs `zkml-worker`,
    /// installed beside `zkml`, with the same arguments (`zkml worker --help` lists them).
    ///
    /// Example: zkml worker --models build/price_mlp --database-url postgres://zkml@db/zkml
    #[command(disable_help_flag = true)]
    Worker {
        /// zkml-worker's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Buy a proved inference from a `zkml serve` by zkml-escrow (pay on proof) and verify it
    /// against your copy of the model's verifying key: runs `zkml-pay`, installed beside `zkml`,
    /// with the same arguments (`zkml pay --help` lists them).
    ///
    /// Example: zkml pay http://127.0.0.1:8402 --model build/price_mlp --input input.json --chain-id 31337 --asset ADDRESS --max-price 10000
    #[command(disable_help_flag = true)]
    Pay {
        /// zkml-pay's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

/// The steps of a setup ceremony after `zkml setup DIR --ptau FILE`.
#[derive(Subcommand)]
enum SetupStep {
    /// Add a contribution to the ceremony in DIR; prints its hash.
    ///
    /// A fresh secret from the operating system's randomness (and --entropy) multiplies the
    /// keys' δ and is then forgotten, with a proof that it was known. Publish the hash, so that
    /// everyone can find the contribution in the chain `zkml setup verify` prints. The keys are
    /// safe if any one contributor forgot their secret.
    ///
    /// Example: zkml setup contribute build/model --entropy "some text only I know"
    Contribute {
        dir: PathBuf,
        /// Text mixed into the secret's randomness.
        #[arg(long)]
        entropy: Option<String>,
    },
    /// End the ceremony with public randomness.
    ///
    /// A value no contributor could predict (e.g. a block hash announced in advance): the last
    /// δ comes from HASH hashed 2^ITERATIONS times.
    ///
    /// Example: zkml setup beacon build/model --hash 0x5f3c... --iterations 10
    Beacon {
        dir: PathBuf,
        /// The beacon's value, in hex (0x optional).
        #[arg(long)]
        hash: String,
        /// The delay: 2^ITERATIONS hashes (at most 40).
        #[arg(long)]
        iterations: u32,
    },
    /// Write the model's wrap circuit in iden3's .r1cs format, for snarkjs and the circom tools.
    ///
    /// `snarkjs zkey new OUT FILE.ptau` derives from it the verifying key `zkml setup DIR --ptau
    /// FILE.ptau` does: a second implementation to check ours against, and a way to compare
    /// timings. snarkjs takes the circuit's round-1 wires for plain witnesses; its key equals the
    /// initial key but for [δ₁]₂ (the generator, as δ).
    ///
    /// Example: zkml setup r1cs build/model --out build/model.r1cs
    R1cs {
        dir: PathBuf,
        /// The .r1cs file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the ceremony's state in DIR to one file, for the next participant.
    ///
    /// The file holds DIR's keys and the ceremony's record (pk.bin, r1cs.bin, vk.bin, phase2.bin,
    /// vk.json) and nothing else; the model's own files come from its owner. The same state
    /// always gives the same bytes, so its hash can be published beside the contribution's.
    ///
    /// Example: zkml setup export build/model --out state.tar
    Export {
        dir: PathBuf,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Make the ceremony state in FILE (from `zkml setup export`) DIR's keys.
    ///
    /// DIR is the compiled model (from its owner); its keys, if any, are replaced. The file is
    /// refused, leaving DIR as it was, if it holds anything but the state's files or is cut
    /// short, or if its record does not end at its keys. Then run `zkml setup verify DIR --ptau
    /// FILE` before contributing: that checks the keys derive from the ptau and the model.
    ///
    /// Example: zkml setup import build/model --from state.tar
    Import {
        dir: PathBuf,
        /// The state file to read.
        #[arg(long)]
        from: PathBuf,
    },
    /// Check the ceremony in DIR from the start; prints the chain of contribution hashes.
    ///
    /// The keys must derive from PTAU and the model's circuit, every contribution's proof
    /// must verify and the beacon must be its value's. Exits 1 if anything does not check.
    ///
    /// Example: zkml setup verify build/model --ptau powersOfTau28_hez_final_17.ptau
    Verify {
        dir: PathBuf,
        #[arg(long)]
        ptau: PathBuf,
    },
}

/// `println!` that returns the write's error instead of panicking on it: a reader that stops
/// early (`zkml verify … | head -1`) closes the pipe, and `main` then ends quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
    }};
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // As a process killed by SIGPIPE reports itself (128 + 13), without claiming success:
        // whatever had not been printed yet may not have been checked yet either.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::from(141)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `program` (`zkml-serve`, `zkml-worker`, `zkml-pay`) from `zkml`'s own directory (the server is its
/// own package: it depends on this one) and exits with its status.
fn beside(program: &str, args: &[std::ffi::OsString]) -> Result<()> {
    let exe = std::env::current_exe().context("finding zkml's own path")?;
    let server = exe.with_file_name(format!("{program}{}", std::env::consts::EXE_SUFFIX));
    if !server.is_file() {
        bail!("{} is missing: `cargo build --workspace --bins` builds it beside zkml", server.display());
    }
    let status = std::process::Command::new(&server)
        .args(args)
        .status()
        .with_context(|| format!("running {}", server.display()))?;
    if !status.success() {
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}

/// A spinner on a terminal; nothing in a pipe (indicatif hides itself there).
fn progress(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"));
    pb.enable_steady_tick(Duration::from_millis(100));
    pb.set_message(msg.to_string());
    pb
}

/// What a prover pins its keys by (`zkml prove --wrap --vk-digest`).
fn print_vk_digest(dir: &Path) -> Result<()> {
    say!("vk.bin SHA3-256: {} (`zkml prove --wrap --vk-digest` pins it)", artifact::vk_digest(dir)?)?;
    Ok(())
}

fn setup_step(step: SetupStep) -> Result<()> {
    let t = Instant::now();
    match step {
        SetupStep::Contribute { dir, entropy } => {
            let pb = progress("contributing");
            let hash = zkml::setup::contribute(&dir, entropy.as_deref().map(str::as_bytes));
            pb.finish_and_clear();
            let hash = hash?;
            print_vk_digest(&dir)?;
            say!("contribution added in {:.1} s; its hash:\n{}", t.elapsed().as_secs_f64(), hex::encode(hash))?;
        }
        SetupStep::Beacon { dir, hash, iterations } => {
            let value = hex::decode(hash.trim_start_matches("0x")).context("--hash is not hex")?;
            if value.is_empty() {
                bail!("--hash is empty");
            }
            let pb = progress("applying the beacon");
            let hash = zkml::setup::beacon(&dir, &value, iterations);
            pb.finish_and_clear();
            let hash = hash?;
            print_vk_digest(&dir)?;
            say!("beacon applied in {:.1} s; its hash:\n{}", t.elapsed().as_secs_f64(), hex::encode(hash))?;
        }
        SetupStep::R1cs { dir, out } => {
            let constraints = zkml::setup::export_r1cs(&dir, &out)?;
            say!(
                "wrote {} ({constraints} constraints, iden3 .r1cs) in {:.1} s",
                out.display(),
                t.elapsed().as_secs_f64()
            )?;
        }
        SetupStep::Export { dir, out } => {
            let n = zkml::setup::export(&dir, &out)?;
            say!(
                "wrote the ceremony's state ({n} contribution{}) to {} in {:.1} s: send it to the next participant",
                if n == 1 { "" } else { "s" },
                out.display(),
                t.elapsed().as_secs_f64()
            )?;
        }
        SetupStep::Import { dir, from } => {
            let n = zkml::setup::import(&dir, &from)?;
            say!(
                "imported a ceremony's state with {n} contribution{} into {}; check it before contributing: \
                 `zkml setup verify {} --ptau FILE`",
                if n == 1 { "" } else { "s" },
                dir.display(),
                dir.display()
            )?;
        }
        SetupStep::Verify { dir, ptau } => {
            let pb = progress("verifying the ceremony");
            let chain = zkml::setup::verify(&dir, &ptau);
            pb.finish_and_clear();
            let chain = chain?;
            for (i, h) in chain.iter().enumerate() {
                say!("contribution {}: {}", i + 1, hex::encode(h))?;
            }
            if chain.is_empty() {
                say!("no contribution yet: the keys are NOT safe")?;
            }
            say!("ceremony verified in {:.1} s: the keys derive from {}", t.elapsed().as_secs_f64(), ptau.display())?;
        }
    }
    Ok(())
}

fn single_input(path: &Path) -> Result<Vec<f64>> {
    let mut inputs = artifact::read_inputs(path)?;
    if inputs.len() > 1 {
        eprintln!("note: {} holds {} inputs; using the first", path.display(), inputs.len());
    }
    Ok(inputs.swap_remove(0))
}

fn fmt(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
    format!("[{}]", parts.join(", "))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve { args } => beside("zkml-serve", &args)?,
        Command::Worker { args } => beside("zkml-worker", &args)?,
        Command::Pay { args } => beside("zkml-pay", &args)?,
        Command::Compile { model, calibrate, out, lookup_bits, weight_bits, input_visibility, output_visibility } => {
            let mut samples = vec![];
            for c in &calibrate {
                samples.extend(artifact::read_inputs(c)?);
            }
            let pb = progress("compiling");
            let compiled = pipeline::compile(
                &model,
                &samples,
                QuantConfig { lookup_bits, weight_bits, input_visibility, output_visibility },
                &out,
            );
            pb.finish_and_clear();
            let s = compiled?.settings;
            say!("compiled {} → {}", model.display(), out.display())?;
            say!("  model id     {}", s.model_id)?;
            say!("  ops          {}", s.ops.join(", "))?;
            say!("  input        {:?} at scale 2^{}", s.input.shape, s.input.scale)?;
            say!("  output       {:?} at scale 2^{}", s.output.shape, s.output.scale)?;
            say!(
                "  advice       {} values, {} requantizations, {} tables",
                s.advice_values,
                s.requantizations,
                s.tables.len()
            )?;
            let c = &s.calibration;
            say!(
                "  accuracy     on {} calibration input(s): max |quantized − float| = {:.5}, argmax agreement {:.1}%",
                c.samples,
                c.max_abs_error,
                100.0 * c.argmax_agreement
            )?;
        }
        Command::Run { dir, input } => {
            let c = Compiled::load(&dir)?;
            let x = single_input(&input)?;
            let trace = c.graph.execute(&x)?;
            let q = c.graph.output_of(&trace.segments[c.graph.output]);
            let out = c.graph.dequantize_output(&q);
            let reference = pipeline::reference(&c, &x)?;
            say!("quantized output: {}", fmt(&out))?;
            say!("float reference:  {}", fmt(&reference))?;
            let err = out.iter().zip(&reference).fold(0.0f64, |a, (x, y)| a.max((x - y).abs()));
            say!("max |difference|: {err:.5}")?;
        }
        Command::Setup { step: Some(step), .. } => setup_step(step)?,
        Command::Setup { step: None, dir, ptau, dev_seed } => {
            let Some(dir) = dir else { bail!("give the compiled model's directory") };
            let t = Instant::now();
            match (ptau, dev_seed) {
                (Some(ptau), _) => {
                    let pb = progress("reading the Powers of Tau and deriving the keys");
                    let start = zkml::setup::from_ptau(&dir, &ptau);
                    pb.finish_and_clear();
                    let start = start?;
                    say!(
                        "initial keys written to {} in {:.1} s (pk {:.1} MB) from {} (power {} used, BLAKE2b {}{})",
                        dir.display(),
                        t.elapsed().as_secs_f64(),
                        start.pk_size as f64 / 1e6,
                        ptau.display(),
                        start.power,
                        hex::encode(start.ptau_blake2b),
                        start.hermez.map(|h| format!(": the Hermez ceremony's {h}")).unwrap_or_default()
                    )?;
                    eprintln!(
                        "WARNING: these keys are NOT safe until at least one contribution: run `zkml setup contribute {}`, \
                         then a beacon",
                        dir.display()
                    );
                }
                (None, Some(seed)) => {
                    eprintln!(
                        "WARNING: development setup from seed {seed}: anyone who knows the seed can forge proofs. Do not use these keys in production."
                    );
                    let pb = progress("generating Groth16 keys");
                    let written = zkml::setup::dev(&dir, seed);
                    pb.finish_and_clear();
                    let written = written?;
                    say!(
                        "keys written to {} in {:.1} s: {} constraints (a 2^{} domain), pk {:.1} MB",
                        dir.display(),
                        t.elapsed().as_secs_f64(),
                        written.constraints,
                        written.power,
                        written.pk_size as f64 / 1e6
                    )?;
                    print_vk_digest(&dir)?;
                }
                (None, None) => bail!(
                    "give --ptau FILE to start a setup ceremony from a Powers-of-Tau file (docs/setup.md), \
                     or --dev-seed N for a deterministic development setup (unsafe for production)"
                ),
            }
        }
        Command::Prove { dir, input, out, wrap, context, vk_digest, reveal_private } => {
            let context: F = zkml::context::parse(&context).context("--context")?;
            let c = Compiled::load(&dir)?;
            let hidden: Vec<String> = [("input", c.graph.input_visibility), ("output", c.graph.output_visibility)]
                .into_iter()
                .filter(|(_, v)| *v != Visibility::Public)
                .map(|(name, v)| format!("{name} is {}", if v == Visibility::Hashed { "hashed" } else { "private" }))
                .collect();
            if !wrap && !hidden.is_empty() {
                if !reveal_private {
                    bail!(
                        "this model's {}, but a stage-1 proof (prove without --wrap) carries the quantized input, the output \
                         and every intermediate value in the clear: use --wrap for a zero-knowledge proof that reveals only \
                         the public inputs (or --reveal-private to write the stage-1 proof anyway)",
                        hidden.join(" and its ")
                    );
                }
                eprintln!(
                    "WARNING: --reveal-private: this model's {}, yet {} will hold the plaintext input, output and every intermediate value",
                    hidden.join(" and its "),
                    out.display()
                );
            }
            let x = single_input(&input)?;
            let keys = if wrap { Some(artifact::read_prover_keys_recorded(&dir, vk_digest.as_deref())?) } else { None };
            if let Some((_, record)) = &keys {
                if vk_digest.is_none() {
                    eprintln!(
                        "proving for the verifying key {}/vk.bin, SHA3-256 {} (check it is the deployed verifier's, \
                         or pin it with --vk-digest)",
                        dir.display(),
                        record.vk_digest
                    );
                }
                match &record.setup {
                    Some(artifact::Provenance::Ceremony { contributions, .. }) if !contributions.is_empty() => {}
                    Some(artifact::Provenance::Ceremony { .. }) => eprintln!(
                        "WARNING: the keys are a ceremony's initial state, which anyone can forge proofs for: \
                         run `zkml setup contribute {}` first",
                        dir.display()
                    ),
                    _ => eprintln!(
                        "WARNING: the keys come from a development setup (--dev-seed): anyone can forge proofs for them"
                    ),
                }
            }
            let pb = progress(if wrap { "proving and wrapping (Groth16)" } else { "proving" });
            let t = Instant::now();
            let proved = match &keys {
                Some((keys, _)) => pipeline::prove_wrapped(&c, &x, context, keys),
                None => pipeline::prove(&c, &x).map(|p| pipeline::Proved {
                    output: p.output.clone(),
                    proof: artifact::AnyProof::Stage1(p),
                    salts: None,
                }),
            };
            pb.finish_and_clear();
            let proved = proved?;
            let elapsed = t.elapsed();
            let (size, salt_files) = proved.write(&out, &c.graph)?;
            for (name, path) in salt_files {
                eprintln!("the {name} commitment's salt is in {} (keep it to open the commitment)", path.display());
            }
            let outputs = c.graph.dequantize_output(&proved.output);
            say!("proved in {:.1} ms: {} ({size} bytes)", elapsed.as_secs_f64() * 1e3, out.display())?;
            say!("output: {}", fmt(&outputs))?;
        }
        Command::Verify { dir, proof, input, input_salt } => {
            let c = Compiled::load(&dir)?;
            let proof = artifact::read_any_proof(&proof)?;
            let t = Instant::now();
            let v = pipeline::verify(&c, &proof)?;
            let elapsed = t.elapsed();
            if let Some(context) = v.context {
                say!("context: {context}")?;
            }
            for (name, h) in &v.commitments {
                say!("{name} commitment: {h}")?;
            }
            if let Some(path) = input {
                let x = c.graph.quantize_input(&single_input(&path)?)?;
                let salt = input_salt
                    .as_deref()
                    .map(|s| {
                        s.trim()
                            .parse::<F>()
                            .map_err(|_| anyhow::anyhow!("--input-salt must be a decimal field element"))
                    })
                    .transpose()?;
                if !v.proves_input(&c, &x, salt)? {
                    bail!("the proof is valid but proves another input than {}", path.display());
                }
            } else if let Some(x) = &v.input {
                say!("proved input: {}", fmt(&c.graph.dequantize_input(x)))?;
            }
            say!("proof is valid ({:.1} ms)", elapsed.as_secs_f64() * 1e3)?;
            match &v.output {
                Some(q) => say!("verified output: {}", fmt(&c.graph.dequantize_output(q)))?,
                None => say!("the output is not public in this proof")?,
            }
        }
        Command::Context { spec } => {
            let c = zkml::context::parse(&spec)?;
            say!("{c}")?;
            say!("0x{}", zkml::context::hex(&zkml::field::word(&c)))?;
        }
        Command::Conformance { dirs, lookup_bits, weight_bits, max_values, out, extra_inputs_as_constants } => {
            let extra = if extra_inputs_as_constants {
                zkml::conformance::ExtraInputs::Constants
            } else {
                zkml::conformance::ExtraInputs::Proved
            };
            let dirs = zkml::conformance::model_dirs(&dirs).map_err(anyhow::Error::msg)?;
            let cfg = QuantConfig { lookup_bits, weight_bits, ..QuantConfig::default() };
            let mut rows = vec![];
            for d in &dirs {
                let row = zkml::conformance::run_model(d, cfg, max_values, extra);
                eprintln!("{:<48} {}", row.name, row.outcome.label());
                rows.push(row);
            }
            let table = zkml::conformance::markdown(&rows);
            print!("{table}");
            if let Some(out) = out {
                std::fs::write(&out, &table).with_context(|| format!("writing {}", out.display()))?;
            }
        }
        Command::Bench { models, reps, wrap } => {
            if reps == 0 {
                bail!("--reps must be at least 1");
            }
            say!("{}", if wrap { pipeline::wrap_bench_header() } else { pipeline::bench_header() })?;
            for m in &models {
                let (dir, input) = m.split_once(':').context("each model is given as DIR:INPUT")?;
                let c = Compiled::load(Path::new(dir))?;
                let x = single_input(Path::new(input))?;
                let pb = progress(&format!("{dir}: {}", if wrap { "setup, then stage 1 + wrap" } else { "stage 1" }));
                let row = if wrap { pipeline::wrap_bench_row(&c, &x, reps) } else { pipeline::bench_row(&c, &x, reps) };
                pb.finish_and_clear();
                say!("{}", row?)?;
            }
        }
    }
    Ok(())
}
