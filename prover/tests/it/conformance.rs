//! The ONNX conformance models (`onnx/backend/test/data/pytorch-converted` and
//! `pytorch-operator`, located or installed by `script/onnx-test-data.sh`): each is compiled,
//! proved, verified and compared with its expected output. The pass count must not drop below
//! the figure recorded in docs/conformance.md, and no model may panic.

use std::path::PathBuf;

use zkml::conformance::{self, Outcome};
use zkml::quantize::QuantConfig;

/// Models that pass today (docs/conformance.md); raise it when more pass.
const MIN_PASS: usize = 105;

fn data_dir() -> PathBuf {
    let root = crate::common::repo_root();
    let out = std::process::Command::new(root.join("script/onnx-test-data.sh"))
        .output()
        .expect("running script/onnx-test-data.sh");
    assert!(out.status.success(), "script/onnx-test-data.sh failed: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).expect("a UTF-8 path").trim())
}

#[test]
fn onnx_conformance_models() {
    let data = data_dir();
    let dirs = conformance::model_dirs(&[data.join("pytorch-converted"), data.join("pytorch-operator")]).unwrap();
    assert!(dirs.len() >= 100, "only {} model directories under {}", dirs.len(), data.display());
    let rows: Vec<_> = dirs
        .iter()
        .map(|d| conformance::run_model(d, QuantConfig::default(), conformance::DEFAULT_MAX_VALUES))
        .collect();
    let table = conformance::markdown(&rows);
    println!("{table}");
    let panics: Vec<_> =
        rows.iter().filter(|r| matches!(r.outcome, Outcome::Panic(_))).map(|r| (&r.name, r.outcome.detail())).collect();
    assert!(panics.is_empty(), "models panicked: {panics:?}");
    let pass = rows.iter().filter(|r| r.outcome == Outcome::Pass).count();
    assert!(pass >= MIN_PASS, "{pass} models pass, fewer than the {MIN_PASS} recorded:\n{table}");
}
