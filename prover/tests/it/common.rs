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

/// `input` proved on `c`, the proof verified natively, and the output it proves, dequantized.
pub(crate) fn proved_output(c: &Compiled, input: &[f64]) -> Vec<f64> {
    let p = pipeline::prove(c, input).unwrap();
    let out = zkml::stage1::verify(&c.graph, c.id, &p).expect("the proof verifies");
    c.graph.dequantize_output(&out)
}

/// The largest |got − want| over want's largest |value| (at least `floor`).
pub(crate) fn relative_error(got: &[f64], want: &[f64], floor: f64) -> f64 {
    assert_eq!(got.len(), want.len(), "output lengths");
    let range = want.iter().fold(floor, |a, x| a.max(x.abs()));
    got.iter().zip(want).fold(0.0f64, |a, (x, y)| a.max((x - y).abs())) / range
}

/// The onnxruntime version the operator tests compare with (and script/model_zoo.py records).
const ONNXRUNTIME_VERSION: &str = "1.23.2";

/// One `script/onnxruntime-reference.py` process for the whole test binary: importing
/// onnxruntime is most of a Python start, so the tests share it, one request at a time.
struct OnnxRuntime {
    // Never waited for: it ends when the test binary does, and with it its stdin.
    _process: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl OnnxRuntime {
    fn start() -> OnnxRuntime {
        use std::process::Stdio;
        let root = repo_root();
        let out = Command::new(root.join("script/python-package.sh"))
            .args(["onnxruntime", ONNXRUNTIME_VERSION])
            .output()
            .expect("running script/python-package.sh");
        assert!(out.status.success(), "script/python-package.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        let pythonpath = String::from_utf8(out.stdout).expect("a UTF-8 path").trim().to_string();
        let mut child = Command::new("python3")
            .arg(root.join("script/onnxruntime-reference.py"))
            .env("PYTHONPATH", pythonpath)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting python3 script/onnxruntime-reference.py");
        let stdin = child.stdin.take().expect("a piped stdin");
        let stdout = std::io::BufReader::new(child.stdout.take().expect("a piped stdout"));
        OnnxRuntime { _process: child, stdin, stdout }
    }

    fn run(&mut self, model: &Path, input: &[f64]) -> Vec<f64> {
        use std::io::{BufRead, Write};
        let request = serde_json::json!({ "model": model, "input": input });
        writeln!(self.stdin, "{request}").expect("writing to the onnxruntime process");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("reading from the onnxruntime process");
        let answer: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("onnxruntime's answer {line:?}: {e}"));
        if let Some(e) = answer.get("error") {
            panic!("onnxruntime on {}: {e}", model.display());
        }
        serde_json::from_value(answer["output"].clone()).expect("a list of numbers")
    }
}

/// onnxruntime's float output of the one-input model at `model` for `input` (every output
/// flattened, concatenated in the graph's order).
pub(crate) fn onnxruntime(model: &Path, input: &[f64]) -> Vec<f64> {
    static SERVER: std::sync::OnceLock<std::sync::Mutex<OnnxRuntime>> = std::sync::OnceLock::new();
    // A test that panicked while holding it left the process between two requests: still usable.
    let mut server =
        SERVER.get_or_init(|| std::sync::Mutex::new(OnnxRuntime::start())).lock().unwrap_or_else(|e| e.into_inner());
    server.run(model, input)
}
