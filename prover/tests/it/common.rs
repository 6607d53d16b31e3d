//! What the test files share: where the repository and its test data are, a compiled test
//! model and its sample input, and the `zkml` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use ark_serialize::CanonicalSerialize;
use zkml::artifact::{self, Compiled};
use zkml::pipeline;
use zkml::quantize::QuantConfig;

/// The repository root, from the manifest directory cargo gives the test process when it runs
/// it, not the one compiled in: a target directory shared by two clones can hold a test binary
/// another clone built, whose compiled-in paths point into that clone (docs/building.md).
pub(crate) fn repo_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR when it runs tests");
    Path::new(&manifest).parent().expect("prover/ has a parent").to_path_buf()
}

/// A file of tests/data.
pub(crate) fn data(name: &str) -> PathBuf {
    repo_root().join("tests/data").join(name)
}

/// tests/data's `model` compiled (default quantization, calibrated on its samples) into
/// `dir/model`.
pub(crate) fn compile(model: &str, dir: &Path) -> Compiled {
    let samples = artifact::read_inputs(&data(&format!("{model}.input.json"))).unwrap();
    pipeline::compile(&data(&format!("{model}.onnx")), &samples, QuantConfig::default(), &dir.join(model)).unwrap()
}

/// [`compile`] into a temporary directory, which lives as long as the returned handle.
pub(crate) fn compiled(model: &str) -> (tempfile::TempDir, Compiled) {
    let tmp = tempfile::tempdir().unwrap();
    let c = compile(model, tmp.path());
    (tmp, c)
}

/// tests/data's first sample input of `model`.
pub(crate) fn input(model: &str) -> Vec<f64> {
    artifact::read_inputs(&data(&format!("{model}.input.json"))).unwrap().remove(0)
}

/// `x` serialized as the proof and key files hold it (compressed).
pub(crate) fn compressed(x: &impl CanonicalSerialize) -> Vec<u8> {
    let mut b = vec![];
    x.serialize_compressed(&mut b).expect("writing to memory");
    b
}

/// Runs the `zkml` binary: whether it succeeded, and its stdout then stderr.
pub(crate) fn zkml(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zkml")).args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}
