//! Helpers shared by the tests that drive the pinned Solidity toolchain.
// Each test crate that includes this module uses a subset of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

// solc-js 0.8.28 crashes ("memory access out of bounds") on a compile that holds both
// SumVerifier's test (the 341-input verifier that tests/forge.rs writes into
// tests/forge/generated/) and the hook contracts with their tests, which a clean cache compiles
// in one go. Each forge run therefore leaves out the half it does not test.

/// For runs of the hook and model suites.
pub const SKIP_SUM_VERIFIER: [&str; 2] = ["--skip", "SumVerifier"];

/// For the generated-verifier run: everything but tests/forge/generated/.
pub const SKIP_HAND_WRITTEN: [&str; 8] =
    ["--skip", "Zkml", "--skip", "HookFixtures", "--skip", "ModelVerifiers", "--skip", "contracts/"];

/// The pinned forge, installing the toolchain first if needed. Panics (never skips) when forge
/// cannot be found.
pub fn forge(root: &Path) -> PathBuf {
    let forge = root.join("node_modules/.bin/forge");
    if !forge.exists() {
        let script = root.join("script/install-toolchain.sh");
        eprintln!("{} missing: running {}", forge.display(), script.display());
        let status = Command::new("bash")
            .arg(&script)
            .current_dir(root)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(status.success(), "{} failed ({status})", script.display());
    }
    assert!(forge.exists(), "forge not found at {}", forge.display());
    forge
}

/// Runs `forge test ARGS` from the repo root; prints the output, asserts success and returns
/// stdout for the caller's own checks.
pub fn forge_test(root: &Path, args: &[&str]) -> String {
    let out = Command::new(forge(root)).arg("test").args(args).current_dir(root).output().expect("run forge");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(out.status.success(), "forge test failed:\n{stdout}\n{stderr}");
    stdout
}

/// Compiles one source with the pinned solc (`script/solc`, solc-js) and foundry.toml's
/// settings (optimizer, 200 runs, cancun); returns (creation, runtime) bytecode.
pub fn solc(root: &Path, name: &str, source: &str) -> (Vec<u8>, Vec<u8>) {
    use std::io::Write;
    let input = serde_json::json!({
        "language": "Solidity",
        "sources": { format!("{name}.sol"): { "content": source } },
        "settings": {
            "optimizer": { "enabled": true, "runs": 200 },
            "evmVersion": "cancun",
            "outputSelection": { "*": { "*": ["evm.bytecode.object", "evm.deployedBytecode.object"] } },
        },
    });
    let mut child = Command::new(root.join("script/solc"))
        .arg("--standard-json")
        .current_dir(root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run script/solc");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "script/solc failed");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("solc output JSON");
    for e in v["errors"].as_array().into_iter().flatten() {
        assert_ne!(e["severity"], "error", "solc: {}", e["formattedMessage"]);
    }
    let c = &v["contracts"][format!("{name}.sol")][name]["evm"];
    let get = |k: &str| hex::decode(c[k]["object"].as_str().expect("bytecode")).unwrap();
    (get("bytecode"), get("deployedBytecode"))
}
