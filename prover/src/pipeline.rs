//! The commands' work, shared by the CLI, the tests and the benchmarks.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use ark_std::UniformRand;

use crate::artifact::{AnyProof, CalibrationReport, Compiled, ONNX_FILE, Settings, TensorSettings};
use crate::field::F;
use crate::ir::{QuantGraph, Role, Trace, Visibility};
use crate::quantize::{QuantConfig, calibrate, quantize};
use crate::stage1::{Stage1Proof, model_id};
use crate::wrap::two_round::{self, ProverKey};
use crate::{artifact, lower, onnx, stage1, wrap};

/// ONNX → float program → calibration → quantized graph, written to `out`.
pub fn compile(model: &Path, samples: &[Vec<f64>], cfg: QuantConfig, out: &Path) -> Result<Compiled> {
    cfg.check()?;
    let m = onnx::load(model)?;
    let program = lower::lower(&m)?;
    let n: usize = program.input_shape.iter().product();
    for (i, s) in samples.iter().enumerate() {
        if s.len() != n {
            anyhow::bail!(
                "calibration input #{i} has {} values; the model input {:?} has {n}",
                s.len(),
                program.input_shape
            );
        }
    }
    let cal = calibrate(&program, samples)?;
    let graph = quantize(&program, &cal, cfg)?;
    let reference = onnx::Reference::load(model, &graph.input_shape)?;
    let mut report = CalibrationReport { samples: samples.len(), ..Default::default() };
    let mut agree = 0;
    for s in samples {
        let trace = graph.execute(s).context("executing the quantized model on a calibration input")?;
        let q = graph.dequantize_output(&graph.output_of(&trace.segments[graph.output]));
        let f = reference.run(s)?;
        report.max_abs_error = q.iter().zip(&f).fold(report.max_abs_error, |a, (x, y)| a.max((x - y).abs()));
        agree += usize::from(argmax(&q) == argmax(&f));
    }
    report.argmax_agreement = agree as f64 / samples.len() as f64;
    let seg = |s: usize, name: &str, shape: &[usize], v: crate::ir::Visibility| TensorSettings {
        name: name.to_string(),
        shape: shape.to_vec(),
        scale: graph.segments[s].scale,
        visibility: serde_json::to_value(v).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
    };
    let id = model_id(&graph);
    let settings = Settings {
        zkml_version: env!("CARGO_PKG_VERSION").into(),
        model_id: id.to_string(),
        input: seg(graph.input, &m.input_name, &graph.input_shape, cfg.input_visibility),
        output: seg(graph.output, &m.output_name, &graph.output_shape, cfg.output_visibility),
        lookup_bits: cfg.lookup_bits,
        weight_bits: cfg.weight_bits,
        ops: graph.ops.clone(),
        tables: graph.tables.iter().map(|t| format!("{:?} ({} bits)", t.kind, t.bits)).collect(),
        advice_values: graph
            .segments
            .iter()
            .filter(|s| matches!(s.role, Role::Advice | Role::Multiplicity))
            .map(|s| s.sent_positions().len())
            .sum(),
        linear_nodes: graph.nodes.len(),
        requantizations: graph.requants.len(),
        calibration: report,
        public_inputs: crate::wrap::public::layout(&graph)
            .into_iter()
            .map(|e| {
                let packing = match e.kind {
                    crate::wrap::public::Kind::Packed(s) => {
                        let s = &graph.segments[s];
                        Some(crate::artifact::Packing {
                            values: s.sent_positions().len(),
                            per_element: crate::pack::slots(s.bits),
                            slot_bits: s.bits,
                            signed: s.signed,
                            scale: s.scale,
                        })
                    }
                    _ => None,
                };
                let name = match e.kind {
                    crate::wrap::public::Kind::Commitment(_) => format!("{}_commitment", e.name),
                    _ => e.name.to_string(),
                };
                crate::artifact::PublicInputSettings { name, index: e.index, count: e.count, packing }
            })
            .collect(),
    };
    Compiled::write(out, &graph, &settings, model)?;
    Ok(Compiled { dir: out.to_path_buf(), graph, id, settings })
}

/// The index of the largest value (the first of equal ones; 0 for an empty slice).
pub fn argmax(v: &[f64]) -> usize {
    v.iter().enumerate().fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &x)| if x > bv { (i, x) } else { (bi, bv) }).0
}

/// The float model's output (tract) for an input.
pub fn reference(c: &Compiled, input: &[f64]) -> Result<Vec<f64>> {
    Ok(onnx::Reference::load(&c.dir.join(ONNX_FILE), &c.graph.input_shape)?.run(input)?)
}

/// A standalone stage-1 proof of `c` on `input` (the integer run, then stage 1).
pub fn prove(c: &Compiled, input: &[f64]) -> Result<Stage1Proof> {
    let trace = c.graph.execute(input)?;
    Ok(stage1::prove(&c.graph, c.id, &trace))
}

/// The header of `zkml bench`'s stage-1 table.
pub fn bench_header() -> String {
    format!(
        "| {:<12} | {:>10} | {:>10} | {:>11} | {:>13} |\n|{:-<14}|{:->12}|{:->12}|{:->13}|{:->15}|",
        "model", "prove ms", "verify ms", "proof bytes", "peak RSS MB", "", "", "", "", ""
    )
}

/// Median prove and verify times over `reps` runs, proof size and the process's peak RSS.
pub fn bench_row(c: &Compiled, input: &[f64], reps: usize) -> Result<String> {
    let mut prove_ms = vec![];
    let mut verify_ms = vec![];
    let mut size = 0;
    for _ in 0..reps {
        let t = Instant::now();
        let p = prove(c, input)?;
        prove_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        stage1::verify(&c.graph, c.id, &p)?;
        verify_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let tmp = std::env::temp_dir().join(format!("zkml-bench-{}.proof", std::process::id()));
        size = artifact::write_proof(&tmp, &p)?;
        let _ = std::fs::remove_file(tmp);
    }
    let name = c.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(format!(
        "| {:<12} | {:>10.1} | {:>10.1} | {:>11} | {:>13} |",
        name,
        median(prove_ms),
        median(verify_ms),
        size,
        peak_rss_mb().map_or("n/a".into(), |m| format!("{m:.0}"))
    ))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The header of `zkml bench --wrap`'s table.
pub fn wrap_bench_header() -> String {
    let cols = [
        "model",
        "constraints",
        "setup s",
        "pk MB",
        "load s",
        "stage 1 s",
        "wrap s",
        "total s",
        "constr/s",
        "peak RSS MB",
    ];
    let head: Vec<String> = cols.iter().map(|c| format!(" {c:>11} ")).collect();
    let rule: Vec<String> = cols.iter().map(|_| "-".repeat(13)).collect();
    format!("|{}|\n|{}|", head.join("|"), rule.join("|"))
}

/// A proof with what `zkml prove` writes beside it.
pub struct Proved {
    /// The proof: stage 1 alone, or wrapped.
    pub proof: AnyProof,
    /// A wrapped proof's salts of the input's and the output's commitments (for `hashed`
    /// tensors; none for a stage-1 proof, which carries the values).
    pub salts: Option<[F; 2]>,
    /// The quantized output it proves.
    pub output: Vec<i64>,
}

impl Proved {
    /// Writes what `zkml prove` leaves: the proof at `out`, the dequantized output beside it
    /// (`artifact::output_path`) and, for each `hashed` tensor of `graph`, its commitment's salt
    /// (`OUT.input.salt`, `OUT.output.salt`: whoever must open a commitment needs it, and it is
    /// not in the proof). Returns the proof's size and the salt files written, by tensor.
    pub fn write(&self, out: &Path, graph: &QuantGraph) -> Result<(usize, Vec<(&'static str, PathBuf)>)> {
        let mut salt_files = vec![];
        if let Some(salts) = self.salts {
            for (name, v, salt) in
                [("input", graph.input_visibility, salts[0]), ("output", graph.output_visibility, salts[1])]
            {
                if v == Visibility::Hashed {
                    let path = PathBuf::from(format!("{}.{name}.salt", out.display()));
                    std::fs::write(&path, salt.to_string()).with_context(|| format!("writing {}", path.display()))?;
                    salt_files.push((name, path));
                }
            }
        }
        let size = artifact::write_any_proof(out, &self.proof)?;
        artifact::write_outputs(&artifact::output_path(out), &graph.dequantize_output(&self.output))?;
        Ok((size, salt_files))
    }
}

/// Proves `input` with the model's wrap keys (`zkml prove --wrap`): the run, committed, then the
/// seeded stage 1 inside the wrap. Fresh salts and blinding from the operating system's
/// randomness.
pub fn prove_wrapped(c: &Compiled, input: &[f64], context: F, keys: &ProverKey) -> Result<Proved> {
    prove_run(c, &c.graph.execute(input)?, context, keys)
}

/// [`prove_wrapped`] of a run already made (`c.graph.execute`): `zkml serve` runs the model on a
/// buyer's input before it takes the payment, and proves that run.
pub fn prove_run(c: &Compiled, trace: &Trace, context: F, keys: &ProverKey) -> Result<Proved> {
    let salts = [F::rand(&mut rand::rngs::OsRng), F::rand(&mut rand::rngs::OsRng)];
    wrap_run(c, trace, context, salts, keys)
}

/// The wrap of the run `trace` with the commitments' `salts`.
fn wrap_run(c: &Compiled, trace: &Trace, context: F, salts: [F; 2], key: &ProverKey) -> Result<Proved> {
    let w = two_round::prove(key, &c.graph, c.id, context, salts, trace, &mut rand::rngs::OsRng)?;
    let output = c.graph.output_of(&trace.segments[c.graph.output]);
    Ok(Proved { proof: AnyProof::TwoRound(w), salts: Some(salts), output })
}

/// What a valid proof establishes about its model's run, as far as the proof reveals it.
pub struct Verified {
    /// The context a wrapped proof is bound to (none for a stage-1 proof).
    pub context: Option<F>,
    /// The proved input's integers, when the proof makes them public.
    pub input: Option<Vec<i64>>,
    /// The proved output's integers, when the proof makes them public.
    pub output: Option<Vec<i64>>,
    /// The commitments a wrapped proof carries in place of `hashed` tensors, by name.
    pub commitments: Vec<(&'static str, F)>,
}

/// Verifies `proof` of the compiled model `c`: a stage-1 proof natively, a wrapped one against
/// the verifying key in `c.dir` (its model id must be `c`'s). An error says why it is not valid.
pub fn verify(c: &Compiled, proof: &AnyProof) -> Result<Verified> {
    match proof {
        AnyProof::Stage1(p) => {
            let q = stage1::verify(&c.graph, c.id, p).context("the proof is invalid")?;
            Ok(Verified { context: None, input: Some(p.input.clone()), output: Some(q), commitments: vec![] })
        }
        AnyProof::TwoRound(w) => verify_wrapped(c, &artifact::read_verifier_key(&c.dir)?, w),
    }
}

/// Verifies the wrapped proof `w` of the compiled model `c` against `vk`, the verifying key the
/// caller read once (its model id must be `c`'s). An error says why it is not valid.
pub fn verify_wrapped(c: &Compiled, vk: &two_round::VerifyingKey, w: &two_round::Proof) -> Result<Verified> {
    let (valid, publics) = (two_round::verify(vk, w), &w.public_inputs);
    if publics.first() != Some(&c.id) {
        bail!("the proof is invalid: it is for another model (its model id differs from {})", c.id);
    }
    // A key in the model's directory from another circuit could accept a proof with another count
    // (`two_round::verify` holds the proof to the key's): the layout read below is the model's.
    let expected = wrap::public::count(&c.graph);
    if publics.len() != expected {
        bail!("the proof is invalid: it has {} public inputs, the model's layout has {expected}", publics.len());
    }
    if !valid {
        bail!("the proof is invalid: the Groth16 check failed");
    }
    let output = wrap::public::unpacked(&c.graph, publics, "output").context("the proof's public output")?;
    let input = wrap::public::unpacked(&c.graph, publics, "input").context("the proof's public input")?;
    let public = |i: usize| publics.get(i).copied().context("the proof's public inputs end before the model's layout");
    let commitments = wrap::public::layout(&c.graph)
        .into_iter()
        .filter(|e| matches!(e.kind, wrap::public::Kind::Commitment(_)))
        .map(|e| Ok((e.name, public(e.index)?)))
        .collect::<Result<_>>()?;
    Ok(Verified { context: Some(public(1)?), input, output, commitments })
}

impl Verified {
    /// Whether the proof is of the quantized input `x`: its public input, or the opening of its
    /// input commitment with `salt`. An error when the input is committed and no salt is given,
    /// or when the proof says nothing of the input (private).
    pub fn proves_input(&self, c: &Compiled, x: &[i64], salt: Option<F>) -> Result<bool> {
        match (&self.input, self.commitments.iter().find(|(n, _)| *n == "input")) {
            (Some(p), _) => Ok(p == x),
            (None, Some((_, h))) => {
                let salt = salt.context("the input is committed (hashed): give its salt with --input-salt")?;
                let seg = &c.graph.segments[c.graph.input];
                Ok(wrap::public::commit(salt, &crate::pack::pack(x, seg.bits, seg.signed)?) == *h)
            }
            (None, None) => bail!("the input is private: the proof says nothing about it"),
        }
    }
}

/// The wrap end to end, as `zkml setup --dev-seed 1` and `zkml prove --wrap` run it: the keys
/// written to a scratch directory, then per repetition the keys loaded and checked, the model
/// proved and wrapped, and the proof file written (`total`, from the input to the proof file).
/// Medians. `stage 1 s` is the model's run, which the wrap commits to first; the seeded stage 1
/// is proved inside `wrap s`.
pub fn wrap_bench_row(c: &Compiled, input: &[f64], reps: usize) -> Result<String> {
    let scratch = tempfile::tempdir().context("a scratch directory for the keys")?;
    let t = Instant::now();
    let written = crate::setup::dev_keys(c, scratch.path(), 1)?;
    let setup_s = t.elapsed().as_secs_f64();
    let (mut load, mut s1, mut wrapped, mut total) = (vec![], vec![], vec![], vec![]);
    for _ in 0..reps {
        let t = Instant::now();
        let keys = artifact::read_prover_keys(scratch.path(), None)?;
        load.push(t.elapsed().as_secs_f64());
        let t1 = Instant::now();
        let trace = c.graph.execute(input)?;
        let t2 = Instant::now();
        let proved = wrap_run(c, &trace, F::from(0u64), [F::from(0u64); 2], &keys)?;
        s1.push((t2 - t1).as_secs_f64());
        wrapped.push(t2.elapsed().as_secs_f64());
        artifact::write_any_proof(&scratch.path().join("proof.bin"), &proved.proof)?;
        total.push(t.elapsed().as_secs_f64());
    }
    Ok(wrap_bench_cells(c, written.constraints, setup_s, written.pk_size, [load, s1, wrapped, total]))
}

/// A row of the wrap table from the timings of each repetition (medians).
fn wrap_bench_cells(c: &Compiled, constraints: usize, setup_s: f64, pk_bytes: u64, times: [Vec<f64>; 4]) -> String {
    let [load, s1, wrap, total] = times;
    let name = c.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let wrap_s = median(wrap);
    let cells = [
        name,
        constraints.to_string(),
        format!("{setup_s:.2}"),
        format!("{:.1}", pk_bytes as f64 / 1e6),
        format!("{:.2}", median(load)),
        format!("{:.3}", median(s1)),
        format!("{wrap_s:.2}"),
        format!("{:.2}", median(total)),
        format!("{:.0}", constraints as f64 / wrap_s),
        peak_rss_mb().map_or("n/a".into(), |m| format!("{m:.0}")),
    ];
    let cells: Vec<String> = cells.iter().map(|c| format!(" {c:>11} ")).collect();
    format!("|{}|", cells.join("|"))
}

/// Peak resident memory of this process (Linux `VmHWM`).
pub fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
