//! The generated Starknet verifier, compiled and run with the Cairo compiler and runner crates,
//! on production keys: tests/data's tiny_gemm with keys from a ceremony on a snarkjs Powers of
//! Tau. Its wrapped proofs are accepted (their public inputs come back), and tampered calldata, a
//! changed public input, a commitment D that is not the proof's and another model's proof are
//! rejected (None or a panic, never Some). Prints the run's Cairo steps, Sierra gas and builtins.
//! One generated package, compiled once per run (~62 s here, while the fixture proves) and made
//! ready to run once, serves every test.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ark_bn254::{Fr, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, PrimeField};
use ark_std::rand::{SeedableRng, rngs::StdRng};
use starknet_types_core::felt::Felt as Felt252;
use zkml::artifact;
use zkml::field::F;
use zkml::pipeline;
use zkml::quantize::QuantConfig;
use zkml::setup;
use zkml::wrap;
use zkml_starknet_harness::{Compiled, Outcome, Run, Runner, compile_once_per_run, felt_span, option_span_u256};
use zkml_verifier_gen::starknet::{self, ProofPoints, VerifierSpec};

const ENTRY: &str = "verifier::verify_groth16_proof_bn254";

/// From the manifest directory cargo gives the test process, not the compiled-in one (a shared
/// target directory can hold a binary another clone built).
fn repo_root() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).parent().unwrap().to_path_buf()
}

struct Proved {
    vk: ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    /// A two-round key's `[δ₁]₂`.
    delta1: Option<G2Affine>,
    model_id: Fr,
    proof: ProofPoints,
    public_inputs: Vec<Fr>,
}

/// A two-round proof of `input` under `pk`, checked natively.
fn prove(
    c: &artifact::Compiled,
    input: &[f64],
    pk: &wrap::two_round::ProverKey,
    context: u64,
    rng: &mut StdRng,
) -> Proved {
    let vk = pk.verifying_key();
    let trace = c.graph.execute(input).unwrap();
    let w = wrap::two_round::prove(pk, &c.graph, c.id, F::from(context), [F::from(0u64); 2], &trace, rng).unwrap();
    assert!(wrap::two_round::verify(&vk, &w));
    Proved {
        vk: vk.groth16,
        delta1: Some(vk.delta1_g2),
        model_id: c.id,
        proof: (&w.proof).into(),
        public_inputs: w.public_inputs,
    }
}

/// tests/data's `model` compiled with `cfg` under `tmp`: its directory, the compiled model and
/// its samples.
fn compile(tmp: &Path, model: &str, cfg: QuantConfig) -> (PathBuf, artifact::Compiled, Vec<Vec<f64>>) {
    let data = |n: &str| repo_root().join("tests/data").join(n);
    let dir = tmp.join(model);
    let samples = artifact::read_inputs(&data(&format!("{model}.input.json"))).unwrap();
    let c = pipeline::compile(&data(&format!("{model}.onnx")), &samples, cfg, &dir).unwrap();
    (dir, c, samples)
}

struct Fixture {
    /// Two proofs of one statement (two Ds, two seeds) under the ceremony's keys.
    proofs: [Proved; 2],
    /// price_mlp's proof under its development keys.
    other: Proved,
    compiled: Compiled,
    runner: Runner,
    _tmp: tempfile::TempDir,
}

/// tests/data's tiny_gemm at 6 bits (the smallest model the tests run a ceremony on: power 12)
/// with keys from a ceremony on a snarkjs Powers of Tau and two beacons, each updating δ and δ₁
/// (`zkml setup DIR --ptau`, then `zkml setup beacon` twice); its generated verifier, compiled;
/// two proofs of one statement (fixed randomness); and a proof of price_mlp under its
/// development keys (seed 1). Beacons rather than contributions: their secrets follow from
/// public values, so every test process under nextest derives the same keys and shares one
/// compiled package (a contribution's secret is fresh randomness; the prover's and forge's
/// ceremony tests run contributions).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let six_bits = QuantConfig { lookup_bits: 6, weight_bits: 6, ..QuantConfig::default() };
        let (dir, c, samples) = compile(tmp.path(), "tiny_gemm", six_bits);
        setup::from_ptau(&dir, &test_ptau(13)).unwrap();
        setup::beacon(&dir, b"a value announced in advance", 2).unwrap();
        setup::beacon(&dir, b"\x00\x11\x22\x33", 3).unwrap();
        let pk = artifact::read_prover_keys(&dir, None).unwrap();
        let vk = pk.verifying_key();
        let spec =
            VerifierSpec { vk: &vk.groth16, delta1: Some(&vk.delta1_g2), model_id: Some(c.id), unsafe_keys: None };
        let pkg = tmp.path().join("pkg");
        starknet::write_package(&spec, &pkg).unwrap();
        // The package needs only the keys: it compiles (mostly on one core) while the proofs
        // are made.
        let (proofs, other, (compiled, runner)) = std::thread::scope(|s| {
            let compiled = s.spawn(|| {
                let t = std::time::Instant::now();
                // Once per test run, also under nextest (a process per test).
                let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("starknet-packages");
                let compiled = compile_once_per_run(&pkg, &cache)
                    .unwrap_or_else(|e| panic!("the generated package does not compile: {e:#}"));
                eprintln!("compiled the generated package in {:.1} s", t.elapsed().as_secs_f64());
                let runner = Runner::new(&compiled.program).unwrap();
                (compiled, runner)
            });
            let rng = &mut StdRng::seed_from_u64(7);
            let proofs = [prove(&c, &samples[0], &pk, 7, rng), prove(&c, &samples[0], &pk, 7, rng)];
            let (_, price, price_samples) = compile(tmp.path(), "price_mlp", QuantConfig::default());
            let (price_pk, _) = wrap::two_round::dev_setup(&price.graph, price.id, 1).unwrap();
            let other = prove(&price, &price_samples[0], &price_pk, 7, rng);
            (proofs, other, compiled.join().unwrap())
        });
        assert_eq!(
            zkml_verifier_gen::keys::unsafe_keys(Some(&dir), &proofs[0].vk, proofs[0].delta1.as_ref(), false).unwrap(),
            None,
            "a ceremony's keys, which zkml-gen renders without --allow-dev-keys"
        );
        Fixture { proofs, other, compiled, runner, _tmp: tmp }
    })
}

fn felts(hex: &[String]) -> Vec<Felt252> {
    hex.iter().map(|h| Felt252::from_hex(h).unwrap()).collect()
}

fn spec(p: &Proved) -> VerifierSpec<'_> {
    VerifierSpec { vk: &p.vk, delta1: p.delta1.as_ref(), model_id: Some(p.model_id), unsafe_keys: None }
}

fn hint(p: &Proved) -> starknet::Hint {
    starknet::hint(&spec(p), p.proof.clone(), &p.public_inputs).unwrap()
}

fn calldata(p: &Proved) -> Vec<Felt252> {
    felts(&starknet::calldata(&spec(p), p.proof.clone(), &p.public_inputs).unwrap())
}

/// Calldata for a proof and inputs that do not verify, with a valid proof's hint.
fn encode(proof: &ProofPoints, inputs: &[Fr], h: &starknet::Hint) -> Vec<Felt252> {
    felts(&starknet::encode_calldata(proof.clone(), inputs, h).unwrap())
}

fn verify(cd: &[Felt252]) -> Run {
    fixture().runner.run(ENTRY, vec![felt_span(cd)]).unwrap()
}

/// Never Some: None, or a panic.
fn assert_rejected(cd: &[Felt252], what: &str) {
    let r = verify(cd);
    match &r.outcome {
        Outcome::Panicked(data) => eprintln!("{what}: panicked {data:?} ({} steps)", r.steps),
        Outcome::Returned(_) => {
            assert_eq!(option_span_u256(&r).unwrap(), None, "{what}: accepted");
            eprintln!("{what}: None ({} steps)", r.steps);
        }
    }
}

fn u256_halves(x: &Fr) -> (u128, u128) {
    let b = x.into_bigint().0;
    (b[0] as u128 | (b[1] as u128) << 64, b[2] as u128 | (b[3] as u128) << 64)
}

#[test]
fn generated_package_compiles_without_warnings() {
    let c = &fixture().compiled;
    assert!(c.contract_ok);
    assert!(c.warnings.trim().is_empty(), "compiler warnings:\n{}", c.warnings);
    println!("tiny_gemm Starknet verifier: Sierra program of {} felts", c.sierra_felts);
    assert!(
        c.sierra_felts <= zkml_starknet_harness::MAX_CONTRACT_BYTECODE_SIZE,
        "the contract class is too large to declare: {} Sierra felts",
        c.sierra_felts
    );
}

#[test]
fn valid_proof_returns_its_public_inputs() {
    for p in &fixture().proofs {
        let r = verify(&calldata(p));
        let got = option_span_u256(&r).unwrap_or_else(|e| panic!("{e}: {:?}", r.outcome));
        let want: Vec<_> = p.public_inputs.iter().map(u256_halves).collect();
        assert_eq!(got, Some(want), "the valid proof must verify");
        assert_within_twice_garaga(&r, "tiny_gemm's");
    }
}

/// Counts, not timings: deterministic for a given proof. Garaga's Groth16 BN254 verifier takes
/// 185,383 steps and 31.2M Sierra gas (docs/benchmarks.md); stay within twice that.
fn assert_within_twice_garaga(r: &Run, what: &str) {
    println!("{what} Starknet verifier: {} Cairo steps, {} Sierra gas, builtins {:?}", r.steps, r.gas, r.builtins);
    assert!(r.steps <= 2 * 185_383 && r.gas <= 62_400_000, "{what}: cost regression: {} steps, {} gas", r.steps, r.gas);
}

#[test]
fn changed_public_input_is_rejected() {
    let p = &fixture().proofs[0];
    let mut inputs = p.public_inputs.clone();
    inputs[1] += Fr::from(1u64); // the context: passes every check but the pairing
    assert!(starknet::calldata(&spec(p), p.proof.clone(), &inputs).is_err(), "no hint exists");
    assert_rejected(&encode(&p.proof, &inputs, &hint(p)), "context + 1");
    let mut inputs = p.public_inputs.clone();
    inputs[0] += Fr::from(1u64); // the model id
    assert_rejected(&encode(&p.proof, &inputs, &hint(p)), "model id + 1");
    // The seed given as one more input: the verifier derives it and takes no more inputs.
    let mut inputs = p.public_inputs.clone();
    inputs.push(zkml::wrap::groth16::challenge(&p.proof.d.unwrap(), &p.public_inputs));
    assert_rejected(&encode(&p.proof, &inputs, &hint(p)), "the seed as an input");
}

/// After A, B, C and D (20 felts: two per u384 coordinate).
const POINTS_FELTS: usize = 20;

#[test]
fn tampered_proof_is_rejected() {
    let p = &fixture().proofs[0];
    let cd = calldata(p);
    // Flip one felt of each coordinate of A, B, C and D.
    for i in (0..POINTS_FELTS).step_by(2) {
        let mut bad = cd.clone();
        bad[i] += Felt252::ONE;
        assert_rejected(&bad, &format!("felt {i} + 1"));
    }
    // A valid curve point that is not the proof's A: only the pairing can tell.
    let moved = ProofPoints { a: (p.proof.a + G1Affine::generator()).into_affine(), ..p.proof.clone() };
    assert_rejected(&encode(&moved, &p.public_inputs, &hint(p)), "A + G");
    // Truncated and extended calldata.
    assert_rejected(&cd[..cd.len() - 1], "truncated");
    let mut long = cd.clone();
    long.push(Felt252::ZERO);
    assert_rejected(&long, "trailing felt");
    // A public input ≥ r.
    let mut inputs = cd.clone();
    let rb = Fr::MODULUS.to_bytes_le();
    let half = |b: &[u8]| b.iter().rev().fold(0u128, |a, x| a << 8 | *x as u128);
    let at = POINTS_FELTS + 1 + 2; // after the points, the length, and input 0
    inputs[at] = Felt252::from(half(&rb[..16]));
    inputs[at + 1] = Felt252::from(half(&rb[16..]));
    assert_rejected(&inputs, "public input = r");
}

/// The commitment D: one moved by G (it commits to other round-1 values, and the seed
/// changes), another valid proof's D for the same statement (another seed), a D off the curve
/// and the identity (encoded (0, 0), off the curve) are refused; each proof verifies with its
/// own D only (`valid_proof_returns_its_public_inputs`).
#[test]
fn a_commitment_that_is_not_the_proofs_is_rejected() {
    let [p, q] = &fixture().proofs;
    let d = p.proof.d.unwrap();
    let with_d = |d: G1Affine| ProofPoints { d: Some(d), ..p.proof.clone() };
    assert_rejected(&encode(&with_d((d + G1Affine::generator()).into_affine()), &p.public_inputs, &hint(p)), "D + G");
    assert_rejected(&encode(&with_d(q.proof.d.unwrap()), &p.public_inputs, &hint(p)), "another proof's D");
    assert_rejected(&encode(&with_d(q.proof.d.unwrap()), &p.public_inputs, &hint(q)), "another proof's D and hint");
    let mut cd = calldata(p);
    cd[16] = Felt252::ONE; // D.x's low felt: (1, D.y) is off the curve
    assert_rejected(&cd, "D off the curve");
    let mut cd = calldata(p);
    cd[16..20].fill(Felt252::ZERO);
    assert_rejected(&cd, "D = (0, 0)");
}

#[test]
fn another_models_proof_is_rejected() {
    let f = fixture();
    assert_rejected(&calldata(&f.other), "price_mlp's proof");
    // price_mlp's proof with tiny_gemm's public inputs (same count or not, never Some).
    assert_rejected(
        &encode(&f.other.proof, &f.proofs[0].public_inputs, &hint(&f.other)),
        "price_mlp's proof, tiny_gemm's inputs",
    );
}

#[test]
fn altered_hint_is_rejected() {
    let f = fixture();
    let p = &f.proofs[0];
    let cd = calldata(p);
    let c_at = POINTS_FELTS + 1 + 2 * p.public_inputs.len(); // after the points, the inputs
    assert_eq!(cd.len(), c_at + 24 + 1);
    // One felt of each of c's 12 coordinates.
    for k in 0..12 {
        let mut bad = cd.clone();
        bad[c_at + 2 * k] += Felt252::ONE;
        assert_rejected(&bad, &format!("c coordinate {k} + 1"));
    }
    // c's first coordinate + p (the same residue, not canonical).
    let mut bad = cd.clone();
    let mut c0 = starknet::tower::F12::from_ark(&hint(p).c).to_vec()[0].into_bigint();
    c0.add_with_carry(&ark_bn254::Fq::MODULUS);
    let b = c0.to_bytes_le();
    bad[c_at] = Felt252::from_bytes_le_slice(&b[..24]);
    bad[c_at + 1] = Felt252::from_bytes_le_slice(&b[24..]);
    assert_rejected(&bad, "c + p");
    // Every other w index.
    for w in 0..4u8 {
        if Felt252::from(w) != cd[c_at + 24] {
            let mut bad = cd.clone();
            bad[c_at + 24] = Felt252::from(w);
            assert_rejected(&bad, &format!("w index {w}"));
        }
    }
    // Another valid proof's hint: the other proof of the same statement, and price_mlp's.
    assert_rejected(&encode(&p.proof, &p.public_inputs, &hint(&f.proofs[1])), "the other proof's hint");
    assert_rejected(&encode(&p.proof, &p.public_inputs, &hint(&f.other)), "price_mlp's hint");
}

/// A test Powers-of-Tau file of power `power` (`script/test-ptau.sh`: snarkjs, made once per
/// machine).
fn test_ptau(power: u32) -> PathBuf {
    let o = std::process::Command::new("bash")
        .arg(repo_root().join("script/test-ptau.sh"))
        .arg(power.to_string())
        .output()
        .expect("run script/test-ptau.sh");
    assert!(o.status.success(), "script/test-ptau.sh {power}: {}", String::from_utf8_lossy(&o.stderr));
    PathBuf::from(String::from_utf8(o.stdout).unwrap().trim())
}
