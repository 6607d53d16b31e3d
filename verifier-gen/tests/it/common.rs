//! Helpers shared by the tests that drive the pinned Solidity toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;

/// From the manifest directory cargo gives the test process, not the compiled-in one (a shared
/// target directory can hold a binary another clone built).
pub fn repo_root() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).parent().unwrap().to_path_buf()
}

// Each forge suite is a foundry profile (foundry.toml) that compiles only its own sources into
// its own out/ and cache/: `verifiers` (tests/it/forge.rs: the generated verifiers and their
// generated tests), `hooks` (tests/it/hooks.rs: contracts/, tests/forge/hooks/ and the generated
// hooks' deploy scripts) and `models` (tests/it/models.rs: tests/forge/models/). No compile holds
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

/// A test Powers-of-Tau file of power `power`, made once per machine by `script/test-ptau.sh`
/// (snarkjs: a contribution, a beacon, `prepare phase2`).
pub fn test_ptau(power: u32) -> PathBuf {
    let script = repo_root().join("script/test-ptau.sh");
    let o = Command::new("bash").arg(&script).arg(power.to_string()).output().expect("run script/test-ptau.sh");
    assert!(o.status.success(), "script/test-ptau.sh {power}: {}", String::from_utf8_lossy(&o.stderr));
    PathBuf::from(String::from_utf8(o.stdout).unwrap().trim())
}

/// The pinned forge (see `toolchain`).
pub fn forge(root: &Path) -> PathBuf {
    toolchain(root);
    let forge = root.join("node_modules/.bin/forge");
    assert!(forge.exists(), "forge not found at {}", forge.display());
    forge
}

/// `forge` from the repo root with the foundry profile of one suite.
pub fn forge_command(root: &Path, profile: &str) -> Command {
    let mut c = Command::new(forge(root));
    c.current_dir(root).env("FOUNDRY_PROFILE", profile);
    c
}

/// Runs `forge test ARGS` in the suite `profile` (see `forge_command`); prints the output,
/// asserts success and returns stdout for the caller's own checks. One run of a profile at a
/// time, in this process or another (nextest): forge rewrites the profile's cache file on every
/// run, and the tests that share a profile (one per model) then compile its sources once — the
/// first run compiles, the others find the cache fresh.
pub fn forge_test(root: &Path, profile: &str, args: &[&str]) -> String {
    let cache = root.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let lock = std::fs::File::create(cache.join(format!("{profile}.lock"))).unwrap();
    lock.lock().unwrap();
    let out = forge_command(root, profile).arg("test").args(args).output().expect("run forge");
    drop(lock);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(out.status.success(), "forge test failed:\n{stdout}\n{stderr}");
    stdout
}

/// Compiles `sources` (unit name, text) as one compilation unit with the pinned solc
/// (`script/solc`, solc-js, which starts afresh: no cache) and the settings of
/// `zkml_verifier_gen::solc`; imports not among the sources are read from the repository. Panics
/// when solc does not run or reports an error.
pub fn solc_unit(root: &Path, sources: &[(String, String)]) -> zkml_verifier_gen::solc::Artifacts {
    toolchain(root);
    zkml_verifier_gen::solc::compile(&root.join("script/solc"), root, sources).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Compiles one source alone (see `solc_unit`); returns (creation, runtime) bytecode.
pub fn solc(root: &Path, name: &str, source: &str) -> (Vec<u8>, Vec<u8>) {
    let out = solc_unit(root, &[(format!("{name}.sol"), source.to_string())]);
    let c = out.get(name).unwrap();
    (c.creation.clone(), c.runtime.clone())
}

/// Every contract under `contracts/` (the hooks, their interfaces and test stand-ins) as
/// (unit name, text), unit names relative to the repository root.
pub fn hook_contract_sources(root: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "sol") {
                let name = p.strip_prefix(root).unwrap().display().to_string();
                out.push((name, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("contracts"), root, &mut out);
    out.sort();
    assert!(out.len() >= 7, "contracts/ holds only {} Solidity files", out.len());
    out
}

/// `proof` with B replaced by a point on the twist y^2 = x^3 + 3 / (9 + u) that is not in G2
/// (the first x = i + u with a square right-hand side; such a point is in the r-torsion with
/// probability ~1/cofactor): the one malformed B the verifier leaves to the pairing precompile.
pub fn with_b_outside_g2(proof: &ark_groth16::Proof<ark_bn254::Bn254>) -> ark_groth16::Proof<ark_bn254::Bn254> {
    use ark_bn254::{Fq, Fq2, G2Affine};
    let b = (1u64..)
        .filter_map(|i| G2Affine::get_point_from_x_unchecked(Fq2::new(Fq::from(i), Fq::from(1u64)), false))
        .find(|b| !b.is_in_correct_subgroup_assuming_on_curve())
        .unwrap();
    assert!(b.is_on_curve());
    ark_groth16::Proof { a: proof.a, b, c: proof.c }
}

/// Writes `text` unless the file already holds it, so forge's cache keeps what did not change.
pub fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).unwrap();
    }
}

/// That forge's output `stdout` shows each of `tests` passed in the test contract `suite`, and
/// nothing there failed or was skipped. (forge prints a suite's results after the line `Ran N
/// tests for FILE:SUITE`.)
pub fn assert_forge_passed(stdout: &str, suite: &str, tests: &[&str]) {
    let results = stdout
        .split("\nRan ")
        .find(|s| s.lines().next().is_some_and(|l| l.trim_end().ends_with(&format!(":{suite}"))))
        .unwrap_or_else(|| panic!("forge ran no suite {suite}:\n{stdout}"));
    for name in tests {
        assert!(results.contains(&format!("[PASS] {name}")), "forge did not pass {suite}.{name}:\n{stdout}");
    }
    assert!(!results.contains("[FAIL") && !results.contains("[SKIP"), "{suite}:\n{results}");
}
