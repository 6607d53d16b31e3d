//! The ONNX conformance models (`onnx/backend/test/data/pytorch-converted` and
//! `pytorch-operator`, located or installed by `script/onnx-test-data.sh`): each is compiled,
//! proved, verified and compared with its expected output. The pass count must not drop below
//! the figure recorded in docs/conformance.md, and no model may panic.

use std::path::PathBuf;

use zkml::conformance::{self, ExtraInputs, Outcome};
use zkml::quantize::QuantConfig;

/// Models that pass today (docs/conformance.md); raise it when more pass.
const MIN_PASS: usize = 105;

/// Node test models of the families issue #31 added that pass today (docs/conformance.md).
const MIN_NODE_PASS: usize = 142;

/// The directory a script under `script/` prints.
fn printed_dir(script: &str) -> PathBuf {
    let root = crate::common::repo_root();
    let out =
        std::process::Command::new(root.join(script)).output().unwrap_or_else(|e| panic!("running {script}: {e}"));
    assert!(out.status.success(), "{script} failed: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).expect("a UTF-8 path").trim())
}

fn data_dir() -> PathBuf {
    printed_dir("script/onnx-test-data.sh")
}

/// Runs every model of `dirs`: no model may panic, and at least `min` must pass.
fn run_all(dirs: &[PathBuf], extra: ExtraInputs, min: usize) {
    let rows: Vec<_> = dirs
        .iter()
        .map(|d| conformance::run_model(d, QuantConfig::default(), conformance::DEFAULT_MAX_VALUES, extra))
        .collect();
    let table = conformance::markdown(&rows);
    println!("{table}");
    let panics: Vec<_> =
        rows.iter().filter(|r| matches!(r.outcome, Outcome::Panic(_))).map(|r| (&r.name, r.outcome.detail())).collect();
    assert!(panics.is_empty(), "models panicked: {panics:?}");
    let pass = rows.iter().filter(|r| r.outcome == Outcome::Pass).count();
    assert!(pass >= min, "{pass} models pass, fewer than the {min} recorded:\n{table}");
}

#[test]
fn onnx_conformance_models() {
    let data = data_dir();
    let dirs = conformance::model_dirs(&[data.join("pytorch-converted"), data.join("pytorch-operator")]).unwrap();
    assert!(dirs.len() >= 100, "only {} model directories under {}", dirs.len(), data.display());
    run_all(&dirs, ExtraInputs::Proved, MIN_PASS);
}

/// The `onnx` package's node test models of the operator families that issue #31 added (LSTM,
/// GRU, Resize, Where, QuantizeLinear, DequantizeLinear, QLinearMatMul, the comparisons and
/// logic; `script/onnx-node-tests.sh` writes them), their inputs after the first bound to the
/// test's values as constants, as a deployed model holds its weights.
#[test]
fn onnx_node_models_of_the_new_operator_families() {
    let dirs = conformance::model_dirs(&[printed_dir("script/onnx-node-tests.sh")]).unwrap();
    assert!(dirs.len() >= 100, "only {} node test models", dirs.len());
    run_all(&dirs, ExtraInputs::Constants, MIN_NODE_PASS);
}
