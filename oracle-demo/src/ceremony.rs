//! The demo's Groth16 keys, made the way docs/setup.md tells a production user to make them: a
//! phase-2 ceremony (`zkml::setup`) on a Powers of Tau, one contribution from fresh randomness and
//! a beacon. The Powers of Tau is one snarkjs makes on this machine's first run
//! (`script/test-ptau.sh`, cached under ~/.cache/zkml-ptau), where a user would take a published
//! Hermez file; the phase-2 initial keys derived from it (~1.5 min) are kept under
//! ~/.cache/zkml-demo for the next runs, keyed by the ptau and the circuit. The contribution and
//! the beacon run every time, so every run's keys are new and nobody knows their secrets.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use blake2::{Blake2b512, Digest};
use zkml::artifact::{self, Compiled, PHASE2_FILE, PK_FILE, R1CS_FILE, VK_FILE, VK_JSON};
use zkml::setup::{self, Trust};
use zkml::wrap::two_round;
use zkml_serve::catalog::Listing;

/// What a phase-2 ceremony's directory holds (`zkml::setup`'s `Ceremony::save`).
const KEY_FILES: [&str; 5] = [PK_FILE, R1CS_FILE, VK_FILE, PHASE2_FILE, VK_JSON];

/// The beacon: public randomness applied after the last contribution. A production ceremony
/// takes a value nobody could know before that contribution (a future block's hash, a drand
/// round); the demo's chain starts empty, so it takes a fixed value, and the secret that makes the
/// keys safe is the contribution's.
const BEACON: &[u8] = b"zkml oracle demo: beacon";
/// The beacon's value is hashed 2^this times.
const BEACON_ITERATIONS: u32 = 10;

/// Runs the ceremony for the compiled model in `dir` (where it writes the keys), printing a line
/// per step; returns the model with its keys, read once, as `zkml serve` lists a model (the demo
/// proves with the same copy and sells it over HTTP).
pub fn run(root: &Path, compiled: Arc<Compiled>, dir: &Path) -> Result<Listing> {
    let r1cs = two_round::synthesize(&compiled.graph, compiled.id)?;
    let power = r1cs.power()?;

    let t = Instant::now();
    let ptau = snarkjs_ptau(root, power)?;
    println!(
        "Powers of Tau: {} (snarkjs, power {power}, made once per machine; a production ceremony reads a Hermez file, docs/setup.md): {:.1} s",
        ptau.display(),
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut circuit = Vec::new();
    r1cs.write(&mut circuit)?;
    let cache = cache_dir()?.join(hex::encode(&cache_key(&ptau, &circuit)?[..16]));
    drop(circuit);
    let cached = if cache.join(VK_JSON).exists() {
        copy_keys(&cache, dir)?;
        true
    } else {
        setup::from_ptau_for(dir, r1cs, &ptau)?;
        keep(dir, &cache)?;
        false
    };
    println!(
        "phase-2 initial keys (not safe yet: their δ is public): {:.1} s{}",
        t.elapsed().as_secs_f64(),
        if cached {
            format!(", made on an earlier run, from {}", cache.display())
        } else {
            format!(", kept in {}", cache.display())
        }
    );

    let t = Instant::now();
    let contribution = setup::contribute(dir, Some(b"zkml oracle demo"))?;
    println!(
        "contribution (fresh randomness): {}…, {:.1} s",
        &hex::encode(contribution)[..16],
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let beacon = setup::beacon(dir, BEACON, BEACON_ITERATIONS)?;
    println!(
        "beacon ({:?} hashed 2^{BEACON_ITERATIONS} times): {}…, {:.1} s; `zkml setup verify DIR --ptau FILE` checks the whole chain",
        String::from_utf8_lossy(BEACON),
        &hex::encode(beacon)[..16],
        t.elapsed().as_secs_f64()
    );

    let (keys, record) = artifact::read_prover_keys_recorded(dir, None)?;
    let listing = Listing::from_parts(dir, compiled, Arc::new(keys), record)?;
    match &listing.trust {
        Trust::Ceremony { contributions: 2 } => {}
        Trust::Ceremony { contributions } => bail!("the ceremony's record lists {contributions} contributions, not 2"),
        Trust::Unsafe(why) => bail!("the ceremony's keys are not safe: {why}"),
    }
    Ok(listing)
}

/// `script/test-ptau.sh POWER --unprepared`: a ptau without the Lagrange sections, which snarkjs
/// takes ~12 min to add at power 15 and `zkml setup --ptau` computes in about a minute.
fn snarkjs_ptau(root: &Path, power: u32) -> Result<PathBuf> {
    let out = Command::new("bash")
        .arg(root.join("script/test-ptau.sh"))
        .arg(power.to_string())
        .arg("--unprepared")
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running script/test-ptau.sh")?;
    if !out.status.success() {
        bail!("script/test-ptau.sh {power} --unprepared failed ({})", out.status);
    }
    let path = String::from_utf8(out.stdout).context("script/test-ptau.sh printed a path that is not UTF-8")?;
    Ok(PathBuf::from(path.trim()))
}

fn cache_dir() -> Result<PathBuf> {
    let home = std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set: no place for the demo's cache"))?;
    Ok(PathBuf::from(home).join(".cache/zkml-demo/initial-keys"))
}

/// The initial keys depend on the ptau and the circuit only; their record on the format of its
/// origin too (`phase2::ORIGIN_TAG`), so keys kept by a zkml with another format are not reused.
fn cache_key(ptau: &Path, circuit: &[u8]) -> Result<[u8; 64]> {
    let mut h = Blake2b512::new();
    h.update(zkml::wrap::phase2::ORIGIN_TAG);
    let mut file = BufReader::new(File::open(ptau).with_context(|| format!("opening {}", ptau.display()))?);
    std::io::copy(&mut file, &mut h).with_context(|| format!("reading {}", ptau.display()))?;
    h.update(circuit);
    Ok(h.finalize().into())
}

fn copy_keys(from: &Path, to: &Path) -> Result<()> {
    for f in KEY_FILES {
        std::fs::copy(from.join(f), to.join(f)).with_context(|| format!("copying {}", from.join(f).display()))?;
    }
    Ok(())
}

/// Copies the initial keys in `dir` to `cache`, through a temporary directory renamed into place:
/// a run that stops halfway leaves no half-copied entry, and of two runs that made the same entry
/// the second finds it there.
fn keep(dir: &Path, cache: &Path) -> Result<()> {
    let parent = cache.parent().ok_or_else(|| anyhow!("{} has no parent", cache.display()))?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = tempfile::tempdir_in(parent)?;
    copy_keys(dir, tmp.path())?;
    if let Err(e) = std::fs::rename(tmp.path(), cache)
        && !cache.join(VK_JSON).exists()
    {
        return Err(e).with_context(|| format!("moving the initial keys to {}", cache.display()));
    }
    Ok(())
}
