//! The `zkml` command line: compile, run, prove, verify, bench.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use zkml::artifact::{self, Compiled};
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
    },
    /// Run the quantized model on an input and print its outputs next to the float reference.
    ///
    /// Example: zkml run build/model --input input.json
    Run {
        dir: PathBuf,
        #[arg(long)]
        input: PathBuf,
    },
    /// Prove one inference; writes PROOF and PROOF.output.json ({"output_data": [[...]]}).
    ///
    /// Example: zkml prove build/model --input input.json --out proof.bin
    Prove {
        dir: PathBuf,
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
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
    },
    /// Time prove and verify on compiled models and print a table.
    ///
    /// Example: zkml bench build/price_mlp:tests/data/price_mlp.input.json
    Bench {
        /// DIR:INPUT pairs.
        #[arg(required = true)]
        models: Vec<String>,
        /// Repetitions (the median is reported).
        #[arg(long, default_value_t = 5)]
        reps: usize,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A spinner on a terminal; nothing in a pipe (indicatif hides itself there).
fn progress(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"));
    pb.enable_steady_tick(Duration::from_millis(100));
    pb.set_message(msg.to_string());
    pb
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
        Command::Compile { model, calibrate, out, lookup_bits, weight_bits } => {
            let mut samples = vec![];
            for c in &calibrate {
                samples.extend(artifact::read_inputs(c)?);
            }
            let pb = progress("compiling");
            let compiled = pipeline::compile(&model, &samples, QuantConfig { lookup_bits, weight_bits }, &out);
            pb.finish_and_clear();
            let s = compiled?.settings;
            println!("compiled {} → {}", model.display(), out.display());
            println!("  model id     {}", s.model_id);
            println!("  ops          {}", s.ops.join(", "));
            println!("  input        {:?} at scale 2^{}", s.input.shape, s.input.scale);
            println!("  output       {:?} at scale 2^{}", s.output.shape, s.output.scale);
            println!("  advice       {} values, {} requantizations, {} tables", s.advice_values, s.requantizations, s.tables.len());
            let c = &s.calibration;
            println!(
                "  accuracy     on {} calibration input(s): max |quantized − float| = {:.5}, argmax agreement {:.1}%",
                c.samples,
                c.max_abs_error,
                100.0 * c.argmax_agreement
            );
        }
        Command::Run { dir, input } => {
            let c = Compiled::load(&dir)?;
            let x = single_input(&input)?;
            let trace = c.graph.execute(&x)?;
            let q = c.graph.output_of(&trace.segments[c.graph.output]);
            let out = c.graph.dequantize_output(&q);
            let reference = pipeline::reference(&c, &x)?;
            println!("quantized output: {}", fmt(&out));
            println!("float reference:  {}", fmt(&reference));
            let err = out.iter().zip(&reference).fold(0.0f64, |a, (x, y)| a.max((x - y).abs()));
            println!("max |difference|: {err:.5}");
        }
        Command::Prove { dir, input, out } => {
            let c = Compiled::load(&dir)?;
            let x = single_input(&input)?;
            let pb = progress("proving");
            let t = Instant::now();
            let proof = pipeline::prove(&c, &x);
            pb.finish_and_clear();
            let proof = proof?;
            let elapsed = t.elapsed();
            let size = artifact::write_proof(&out, &proof)?;
            let outputs = c.graph.dequantize_output(&proof.output);
            artifact::write_outputs(&artifact::output_path(&out), &outputs)?;
            println!("proved in {:.1} ms: {} ({size} bytes)", elapsed.as_secs_f64() * 1e3, out.display());
            println!("output: {}", fmt(&outputs));
        }
        Command::Verify { dir, proof, input } => {
            let c = Compiled::load(&dir)?;
            let p = artifact::read_proof(&proof)?;
            let t = Instant::now();
            let q = zkml::stage1::verify(&c.graph, c.id, &p).context("the proof is invalid")?;
            let elapsed = t.elapsed();
            match input {
                Some(path) => {
                    if c.graph.quantize_input(&single_input(&path)?)? != p.input {
                        bail!("the proof is valid but proves another input than {}", path.display());
                    }
                }
                None => println!("proved input: {}", fmt(&c.graph.dequantize_input(&p.input))),
            }
            println!("proof is valid ({:.1} ms)", elapsed.as_secs_f64() * 1e3);
            println!("verified output: {}", fmt(&c.graph.dequantize_output(&q)));
        }
        Command::Bench { models, reps } => {
            if reps == 0 {
                bail!("--reps must be at least 1");
            }
            println!("{}", pipeline::bench_header());
            for m in &models {
                let (dir, input) = m.split_once(':').context("each model is given as DIR:INPUT")?;
                let c = Compiled::load(Path::new(dir))?;
                let x = single_input(Path::new(input))?;
                println!("{}", pipeline::bench_row(&c, &x, reps)?);
            }
        }
    }
    Ok(())
}
