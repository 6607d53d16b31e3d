//! Helpers shared by the tests that drive the pinned Solidity toolchain.
// Each test crate that includes this module uses a subset of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

// Each forge suite is a foundry profile (foundry.toml) that compiles only its own sources into
// its own out/ and cache/: `verifiers` (tests/forge.rs: the generated verifiers and their
// generated tests), `hooks` (tests/hooks.rs: contracts/, tests/forge/hooks/ and the generated
// hooks' deploy scripts) and `models` (tests/models.rs: tests/forge/models/). No compile holds
// two suites' sources, so none depends on what another suite left in tests/forge/generated/ or
// in a cache (solc-js 0.8.28 crashed with "memory access out of bounds" on a compile that held
// the hook contracts with the generated verifiers' tests).

/// Installs the pinned toolchain unless the stamp that `script/install-toolchain.sh` writes last is
/// there; the script holds a lock, so tests that call this at once install it once. Panics (never
/// skips) when it cannot.
pub fn toolchain(root: &Path) {
    if root.join("node_modules/.zkml-toolchain").exists() {
        return;
    }
    let script = root.join("script/install-toolchain.sh");
    eprintln!("node_modules/ lacks the pinned toolchain: running {}", script.display());
    let status = Command::new("bash")
        .arg(&script)
        .current_dir(root)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(status.success(), "{} failed ({status})", script.display());
}

/// The pinned forge (see `toolchain`).
pub fn forge(root: &Path) -> PathBuf {
    toolchain(root);
    let forge = root.join("node_modules/.bin/forge");
    assert!(forge.exists(), "forge not found at {}", forge.display());
    forge
}

/// `forge` from the repo root with the foundry profile of one suite. `instance` gives a test
/// that runs beside another test of its suite (threads under `cargo test`, processes under
/// nextest) an out/ and cache/ of its own, so no two runs write the same file.
pub fn forge_command(root: &Path, profile: &str, instance: Option<&str>) -> Command {
    let mut c = Command::new(forge(root));
    c.current_dir(root).env("FOUNDRY_PROFILE", profile);
    if let Some(i) = instance {
        c.env("FOUNDRY_OUT", format!("out/{profile}-{i}")).env("FOUNDRY_CACHE_PATH", format!("cache/{profile}-{i}"));
    }
    c
}

/// Runs `forge test ARGS` in the suite `profile` (see `forge_command`); prints the output,
/// asserts success and returns stdout for the caller's own checks.
pub fn forge_test(root: &Path, profile: &str, instance: Option<&str>, args: &[&str]) -> String {
    let out = forge_command(root, profile, instance).arg("test").args(args).output().expect("run forge");
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
    toolchain(root);
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
