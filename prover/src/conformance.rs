//! The conformance runner: the ONNX test models that the `onnx` package ships
//! (`onnx/backend/test/data/pytorch-converted`, `pytorch-operator`), each compiled (calibrated
//! on its own test input), proved, verified, and its proved output compared with the expected
//! one at a tolerance derived from the output's scale.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use prost::Message;

use crate::field::F;
use crate::ir::QuantGraph;
use crate::lower::LowerError;
use crate::onnx::{self, FTensor};
use crate::quantize::{QuantConfig, calibrate, quantize};
use crate::{lower, stage1};

/// The output may differ from the expected one by this many quantization steps of the output
/// scale (a step is `2^−scale`; calibration puts the largest output near `2^(lookup_bits−2)`
/// steps, so 16 steps is about 1.5 % of the output range at the default 12 bits).
pub const TOLERANCE_STEPS: f64 = 16.0;

/// Models whose float program is larger than this (the sum of all padded node lengths) are
/// reported as too large instead of being proved.
pub const DEFAULT_MAX_VALUES: usize = 1 << 22;

/// How one test model fared.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Proved, verified, and the output within the tolerance.
    Pass,
    /// An operator (or an attribute of one) we do not support; the message names it.
    Unsupported(String),
    /// The model is larger than the runner's limit.
    TooLarge(String),
    /// Proved and verified, but the output is outside the tolerance.
    Accuracy(String),
    /// Compilation, execution (a range error), proving or verification failed.
    ProofFailure(String),
    /// The test folder itself could not be read.
    BadData(String),
    /// A panic: a bug, whatever the model.
    Panic(String),
}

impl Outcome {
    /// Its name in the table.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Unsupported(_) => "unsupported",
            Outcome::TooLarge(_) => "too large",
            Outcome::Accuracy(_) => "accuracy",
            Outcome::ProofFailure(_) => "proof failure",
            Outcome::BadData(_) => "bad test data",
            Outcome::Panic(_) => "PANIC (bug)",
        }
    }

    /// Its message (empty for a pass).
    pub fn detail(&self) -> &str {
        match self {
            Outcome::Pass => "",
            Outcome::Unsupported(s)
            | Outcome::TooLarge(s)
            | Outcome::Accuracy(s)
            | Outcome::ProofFailure(s)
            | Outcome::BadData(s)
            | Outcome::Panic(s) => s,
        }
    }
}

/// What to do with a test model's inputs after the first.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum ExtraInputs {
    /// Proved with the first, as one flat input (how `zkml compile` reads several inputs).
    #[default]
    Proved,
    /// Bound to the test's values as constants of the model: the `onnx` package's node tests
    /// pass an operator's weights, scales and conditions as inputs, which a deployed model holds
    /// as initializers.
    Constants,
}

/// One test model's line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// The test's directory name.
    pub name: String,
    /// The ONNX operators it uses.
    pub ops: Vec<String>,
    /// How it fared.
    pub outcome: Outcome,
    /// Largest |proved − expected|, when the model was proved.
    pub max_err: Option<f64>,
    /// The tolerance it was held to.
    pub tol: Option<f64>,
    /// The stage-1 proof's time.
    pub prove_ms: Option<f64>,
}

/// Reads a serialized `TensorProto` (a test input or output).
pub fn read_tensor(path: &Path) -> Result<FTensor, String> {
    read_typed(path).map(|(t, _)| t)
}

/// A serialized `TensorProto` and its element type.
fn read_typed(path: &Path) -> Result<(FTensor, i32), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let t = tract_onnx::pb::TensorProto::decode(bytes.as_slice())
        .map_err(|e| format!("{} is not a TensorProto: {e}", path.display()))?;
    let v = onnx::tensor_from_proto(&t, &path.display().to_string()).map_err(|e| e.to_string())?;
    Ok((v, t.data_type))
}

fn numbered(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, String> {
    let mut v = vec![];
    for i in 0.. {
        let p = dir.join(format!("{prefix}_{i}.pb"));
        if !p.exists() {
            break;
        }
        v.push(p);
    }
    if v.is_empty() {
        return Err(format!("{} has no {prefix}_0.pb", dir.display()));
    }
    Ok(v)
}

/// The model directories under each of `roots` (a directory holding `model.onnx` is taken as
/// is), sorted by name.
pub fn model_dirs(roots: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = vec![];
    for r in roots {
        if r.join("model.onnx").exists() {
            out.push(r.clone());
            continue;
        }
        let rd = std::fs::read_dir(r).map_err(|e| format!("cannot list {}: {e}", r.display()))?;
        let mut dirs: Vec<PathBuf> =
            rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("model.onnx").exists()).collect();
        if dirs.is_empty() {
            return Err(format!("{} holds no model directories (DIR/model.onnx)", r.display()));
        }
        dirs.sort();
        out.extend(dirs);
    }
    Ok(out)
}

/// Compiles, proves and verifies one test model; never panics (a panic is caught and reported).
pub fn run_model(dir: &Path, cfg: QuantConfig, max_values: usize, extra: ExtraInputs) -> Row {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string());
    let mut row = Row { name, ops: vec![], outcome: Outcome::Pass, max_err: None, tol: None, prove_ms: None };
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let res =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_inner(dir, cfg, max_values, extra, &mut row)));
    std::panic::set_hook(hook);
    row.outcome = match res {
        Ok(o) => o,
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            Outcome::Panic(msg.unwrap_or_else(|| "a panic without a message".into()))
        }
    };
    row
}

fn run_inner(dir: &Path, cfg: QuantConfig, max_values: usize, extra: ExtraInputs, row: &mut Row) -> Outcome {
    let model = onnx::load(&dir.join("model.onnx"));
    let mut model = match model {
        Ok(m) => m,
        Err(e) => return Outcome::BadData(e.to_string()),
    };
    let mut ops: Vec<String> = model.nodes.iter().map(|n| n.op_type.clone()).collect();
    ops.sort();
    ops.dedup();
    row.ops = ops;
    let data = dir.join("test_data_set_0");
    let read = |prefix: &str| -> Result<Vec<FTensor>, String> {
        numbered(&data, prefix)?.iter().map(|p| read_tensor(p)).collect()
    };
    let (mut inputs, outputs) = match (read("input"), read("output")) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), _) | (_, Err(e)) => return Outcome::BadData(e),
    };
    if extra == ExtraInputs::Constants && model.inputs.len() > 1 {
        if inputs.len() != model.inputs.len() {
            return Outcome::BadData(format!("{} test inputs for {} model inputs", inputs.len(), model.inputs.len()));
        }
        for (j, (name, _)) in model.inputs.iter().enumerate().skip(1) {
            match read_typed(&data.join(format!("input_{j}.pb"))) {
                Ok((_, dtype)) => {
                    model.dtypes.insert(name.clone(), dtype);
                }
                Err(e) => return Outcome::BadData(e),
            }
            model.constants.insert(name.clone(), inputs[j].clone());
        }
        inputs.truncate(1);
        model.inputs.truncate(1);
        model.input_name = model.inputs[0].0.clone();
        model.input_shape = inputs[0].shape.clone();
    }
    // Several outputs are proved as one, concatenated.
    let outputs = [FTensor {
        shape: vec![outputs.iter().map(|t| t.data.len()).sum()],
        data: outputs.iter().flat_map(|t| t.data.iter().copied()).collect(),
    }];
    let input: Vec<f64> = inputs.iter().flat_map(|t| t.data.iter().copied()).collect();
    // Some upstream test files were written from uninitialized memory (values like 2e-316
    // next to 2e198): no fixed-point format, ours or anyone's, can represent those.
    let garbage = |x: &f64| x.is_infinite() || x.abs() > 1e30 || (*x != 0.0 && x.abs() < 1e-30);
    if input.iter().chain(&outputs[0].data).any(garbage) {
        return Outcome::BadData(
            "the test data holds uninitialized memory (values above 1e30 or below 1e-30 in magnitude, or not finite)"
                .into(),
        );
    }
    if outputs[0].data.iter().any(|x| x.is_nan()) {
        return Outcome::BadData("the expected output holds NaN (e.g. the square root of a negative input)".into());
    }
    let program = match lower::lower(&model) {
        Ok(p) => p,
        Err(e @ LowerError::Invalid { .. }) | Err(e @ LowerError::Unsupported { .. }) => {
            return Outcome::Unsupported(e.to_string());
        }
        Err(e) => return Outcome::ProofFailure(format!("lowering: {e}")),
    };
    let size: usize = program.nodes.iter().map(|n| n.len()).sum();
    if size > max_values {
        return Outcome::TooLarge(format!("{size} values in the lowered program; the limit is {max_values}"));
    }
    if input.len() != program.input_shape.iter().product::<usize>() {
        return Outcome::BadData(format!(
            "the test input has {} values; the model takes {:?}",
            input.len(),
            program.input_shape
        ));
    }
    let graph = match calibrate(&program, std::slice::from_ref(&input)).and_then(|c| quantize(&program, &c, cfg)) {
        Ok(g) => g,
        Err(e) => return Outcome::ProofFailure(format!("quantization: {e}")),
    };
    let id = stage1::model_id(&graph);
    let t = Instant::now();
    let trace = match graph.execute(&input) {
        Ok(t) => t,
        Err(e) => return Outcome::ProofFailure(format!("execution: {e}")),
    };
    let proof = stage1::prove(&graph, id, &trace);
    row.prove_ms = Some(t.elapsed().as_secs_f64() * 1e3);
    compare(&graph, id, &proof, &outputs[0], row)
}

fn compare(graph: &QuantGraph, id: F, proof: &stage1::Stage1Proof, expected: &FTensor, row: &mut Row) -> Outcome {
    let out = match stage1::verify(graph, id, proof) {
        Ok(o) => o,
        Err(e) => return Outcome::ProofFailure(format!("the proof does not verify: {e}")),
    };
    let got = graph.dequantize_output(&out);
    if got.len() != expected.data.len() {
        return Outcome::ProofFailure(format!(
            "{} output values, expected {} (shape {:?})",
            got.len(),
            expected.data.len(),
            expected.shape
        ));
    }
    let step = crate::quantize::pow2(-graph.segments[graph.output].scale);
    let tol = TOLERANCE_STEPS * step;
    let err = got.iter().zip(&expected.data).fold(0.0f64, |a, (x, y)| a.max((x - y).abs()));
    row.max_err = Some(err);
    row.tol = Some(tol);
    if err <= tol {
        Outcome::Pass
    } else {
        Outcome::Accuracy(format!(
            "max |proved − expected| = {err:.3e} > {tol:.3e} ({TOLERANCE_STEPS} steps of 2^-{})",
            graph.segments[graph.output].scale
        ))
    }
}

/// Totals per outcome, in a fixed order.
pub fn totals(rows: &[Row]) -> Vec<(&'static str, usize)> {
    let labels = ["pass", "unsupported", "too large", "accuracy", "proof failure", "bad test data", "PANIC (bug)"];
    labels.iter().map(|l| (*l, rows.iter().filter(|r| r.outcome.label() == *l).count())).collect()
}

/// The results as a Markdown table with totals.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| model | ops | result | max error / tolerance | prove ms | detail |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let err = match (r.max_err, r.tol) {
            (Some(e), Some(t)) => format!("{e:.2e} / {t:.2e}"),
            _ => String::new(),
        };
        let ms = r.prove_ms.map(|m| format!("{m:.0}")).unwrap_or_default();
        let detail = r.outcome.detail().replace('|', "\\|").replace('\n', " ");
        let detail = if detail.chars().count() > 160 {
            format!("{}…", detail.chars().take(160).collect::<String>())
        } else {
            detail
        };
        s +=
            &format!("| {} | {} | {} | {} | {} | {} |\n", r.name, r.ops.join(", "), r.outcome.label(), err, ms, detail);
    }
    let pass = rows.iter().filter(|r| r.outcome == Outcome::Pass).count();
    s += &format!("\n**{pass} / {} pass**", rows.len());
    for (l, n) in totals(rows).into_iter().skip(1).filter(|(_, n)| *n > 0) {
        s += &format!(", {n} {l}");
    }
    s += "\n";
    s
}
