//! Phase 2 on a snarkjs ceremony's powers (`ptau::snarkjs_ptau`): the initial keys, contributions,
//! a beacon and `phase2::verify`, and every tampering a verifier must refuse, each with its own
//! error.

use std::path::{Path, PathBuf};

use ark_bn254::{Bn254, Fr, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::{Groth16, ProvingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand::SeedableRng;
use rand::rngs::StdRng;
use zkml::wrap::groth16::{self as g16, R1cs};
use zkml::wrap::phase2::{self, Phase2Error, Record};
use zkml::wrap::ptau::{self, Powers};

use crate::models::zkml;
use crate::ptau::{POWER, rng, snarkjs_ptau, snarkjs_ptau_of, unprepared};

/// out = x·y·(x + c), public out: two constraints, one public input (with the constant one, a
/// domain of 4 rows). Another `c` is another circuit.
#[derive(Clone)]
struct Cubic {
    x: Option<Fr>,
    y: Option<Fr>,
    c: u64,
}

impl Cubic {
    fn shape(c: u64) -> R1cs {
        R1cs::synthesize(Cubic { x: None, y: None, c }).unwrap()
    }
}

impl ConstraintSynthesizer<Fr> for Cubic {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let val = |v: Option<Fr>| v.ok_or(SynthesisError::AssignmentMissing);
        let c = Fr::from(self.c);
        let out_value = self.x.zip(self.y).map(|(x, y)| x * y * (x + c));
        let out = cs.new_input_variable(|| val(out_value))?;
        let x = cs.new_witness_variable(|| val(self.x))?;
        let y = cs.new_witness_variable(|| val(self.y))?;
        let xy = cs.new_witness_variable(|| val(self.x.zip(self.y).map(|(x, y)| x * y)))?;
        let lc = |vars: &[Variable]| LinearCombination::sum_vars(vars);
        cs.enforce_r1cs_constraint(|| lc(&[x]), || lc(&[y]), || lc(&[xy]))?;
        let x_plus_c = LinearCombination::from(x) + (c, Variable::One);
        cs.enforce_r1cs_constraint(|| lc(&[xy]), || x_plus_c, || lc(&[out]))?;
        Ok(())
    }
}

fn powers() -> Powers {
    ptau::read(&snarkjs_ptau(), POWER, &mut rng()).unwrap()
}

/// Whether `pk` proves x·y·(x + c) for x = 3, y = 7 and refuses the statement out + 1.
fn proves(pk: &ProvingKey<Bn254>, r1cs: &R1cs, c: u64) -> bool {
    let (x, y) = (Fr::from(3u64), Fr::from(7u64));
    let z = g16::assignment(Cubic { x: Some(x), y: Some(y), c }).unwrap();
    let proof = g16::prove(pk, r1cs, &z, &mut rng()).unwrap();
    let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
    let out = x * y * (x + Fr::from(c));
    Groth16::<Bn254>::verify_proof(&pvk, &proof, &[out]).unwrap()
        && !Groth16::<Bn254>::verify_proof(&pvk, &proof, &[out + Fr::from(1u64)]).unwrap()
}

/// The keys of `Cubic(c)` after two contributions and a beacon, with their record and hashes.
fn ceremony(powers: &Powers, r1cs: &R1cs) -> (ProvingKey<Bn254>, Record, Vec<[u8; 64]>) {
    let mut pk = phase2::initial_keys(powers, r1cs).unwrap();
    let mut record = Record::new(&pk);
    let hashes = vec![
        phase2::contribute(&mut pk, &mut record, &mut StdRng::seed_from_u64(11)),
        phase2::contribute(&mut pk, &mut record, &mut StdRng::seed_from_u64(12)),
        phase2::beacon(&mut pk, &mut record, b"block 0xabc", 4).unwrap(),
    ];
    (pk, record, hashes)
}

#[test]
fn initial_keys_from_a_snarkjs_ceremony_prove_and_verify() {
    let powers = powers();
    let r1cs = Cubic::shape(1);
    let pk = phase2::initial_keys(&powers, &r1cs).unwrap();
    r1cs.check_key(&pk, None).unwrap();
    // The ceremony's α and β, γ = δ = 1: phase 2's starting point, as snarkjs zkey new makes it.
    assert_eq!((pk.vk.alpha_g1, pk.vk.beta_g2), (powers.alpha_tau_g1[0], powers.beta_g2));
    assert_eq!(pk.vk.delta_g2, G2Affine::generator());
    assert!(proves(&pk, &r1cs, 1));
    assert_eq!(phase2::verify(&powers, &r1cs, &pk, &Record::new(&pk), &mut rng()).unwrap(), Vec::<[u8; 64]>::new());
}

#[test]
fn the_lagrange_sections_give_the_keys_an_fft_gives() {
    // The same powers with and without `prepare phase2`'s sections.
    let prepared = snarkjs_ptau_of(13);
    let r1cs = Cubic::shape(1);
    let with = ptau::read(&prepared, r1cs.power().unwrap(), &mut rng()).unwrap();
    let without = ptau::read(&unprepared(&prepared), r1cs.power().unwrap(), &mut rng()).unwrap();
    assert!(with.lagrange.is_some() && without.lagrange.is_none());
    assert_eq!(phase2::initial_keys(&with, &r1cs).unwrap(), phase2::initial_keys(&without, &r1cs).unwrap());
}

#[test]
fn initial_keys_need_enough_powers() {
    // Power 1: a domain of 2 rows, fewer than the circuit's constraints and public inputs.
    let powers = ptau::read(&snarkjs_ptau(), 1, &mut rng()).unwrap();
    let e = phase2::initial_keys(&powers, &Cubic::shape(1)).err().unwrap().to_string();
    assert!(e.contains("read the ptau for power 2"), "{e}");
}

#[test]
fn two_contributions_and_a_beacon_verify_and_prove() {
    let powers = powers();
    let r1cs = Cubic::shape(1);
    let (pk, record, hashes) = ceremony(&powers, &r1cs);
    assert_eq!(phase2::verify(&powers, &r1cs, &pk, &record, &mut rng()).unwrap(), hashes);
    assert_ne!(pk.vk.delta_g2, G2Affine::generator());
    assert!(proves(&pk, &r1cs, 1));
    // The record round-trips through its file format, and the beacon is reproducible.
    let mut bytes = vec![];
    record.serialize_compressed(&mut bytes).unwrap();
    assert_eq!(Record::deserialize_compressed(&bytes[..]).unwrap(), record);
    assert_eq!(ceremony(&powers, &r1cs).0.vk.delta_g2, pk.vk.delta_g2);
}

#[test]
fn a_contribution_without_knowledge_of_its_secret_is_refused() {
    let powers = powers();
    let r1cs = Cubic::shape(1);
    let (pk, record, _) = ceremony(&powers, &r1cs);
    let refused = |record: &Record, pk: &ProvingKey<Bn254>| phase2::verify(&powers, &r1cs, pk, record, &mut rng());
    // δ′·R from another δ′.
    let mut r = record.clone();
    r.contributions[1].r_delta = (r.contributions[1].r_delta * Fr::from(2u64)).into_affine();
    assert!(matches!(refused(&r, &pk), Err(Phase2Error::ProofOfKnowledge { index: 1 })));
    // s = s·δ′ = O satisfies the first ratio for any δ′.
    let mut r = record.clone();
    (r.contributions[0].s, r.contributions[0].s_delta) = (G1Affine::zero(), G1Affine::zero());
    assert!(matches!(refused(&r, &pk), Err(Phase2Error::ProofOfKnowledge { index: 0 })));
    // A contributor who rescales δ by a known factor without a matching proof: the key and its
    // record's last δ agree, but the ratio δ_after/δ_before is not the proven δ′.
    let mut r = record.clone();
    let mut forged = pk.clone();
    let c = &mut r.contributions[1];
    c.delta_after = (c.delta_after * Fr::from(5u64)).into_affine();
    forged.delta_g1 = (forged.delta_g1 * Fr::from(5u64)).into_affine();
    r.contributions.truncate(2);
    assert!(matches!(refused(&r, &forged), Err(Phase2Error::ProofOfKnowledge { index: 1 })));
}

#[test]
fn a_tampered_beacon_or_record_is_refused() {
    let powers = powers();
    let r1cs = Cubic::shape(1);
    let (pk, record, _) = ceremony(&powers, &r1cs);
    let check = |record: &Record, pk: &ProvingKey<Bn254>| phase2::verify(&powers, &r1cs, pk, record, &mut rng());
    let mut r = record.clone();
    r.contributions[2].beacon.as_mut().unwrap().value = b"block 0xabd".to_vec();
    assert!(matches!(check(&r, &pk), Err(Phase2Error::Beacon { index: 2 })));
    let mut r = record.clone();
    r.contributions[2].beacon.as_mut().unwrap().iterations = 5;
    assert!(matches!(check(&r, &pk), Err(Phase2Error::Beacon { index: 2 })));
    // Contributions reordered or dropped: the transcript chain breaks, or the key's δ is not
    // the record's.
    let mut r = record.clone();
    r.contributions.swap(0, 1);
    assert!(matches!(check(&r, &pk), Err(Phase2Error::Transcript { index: 0 })));
    let mut r = record.clone();
    r.contributions.pop();
    assert!(matches!(check(&r, &pk), Err(Phase2Error::Delta("δ·G2"))));
    assert!(matches!(
        phase2::beacon(&mut pk.clone(), &mut record.clone(), b"x", 41),
        Err(Phase2Error::BeaconIterations(41))
    ));
}

#[test]
fn a_contribution_moved_to_another_circuit_is_refused() {
    let powers = powers();
    let (one, two) = (Cubic::shape(1), Cubic::shape(2));
    let (pk, record, _) = ceremony(&powers, &one);
    assert!(matches!(phase2::verify(&powers, &two, &pk, &record, &mut rng()), Err(Phase2Error::Origin)));
    // The other circuit's own origin with this ceremony's contributions: the first proof of
    // knowledge was bound to the first circuit's origin.
    let (pk_two, record_two, _) = ceremony(&powers, &two);
    let moved = Record { origin: record_two.origin, contributions: record.contributions.clone() };
    assert!(matches!(
        phase2::verify(&powers, &two, &pk_two, &moved, &mut rng()),
        Err(Phase2Error::Transcript { index: 0 })
    ));
}

#[test]
fn a_key_that_does_not_derive_from_the_ptau_is_refused() {
    let powers = powers();
    let r1cs = Cubic::shape(1);
    // Dev keys, or keys from other powers, start from another origin.
    let dev = g16::setup(&r1cs, &mut rng()).unwrap();
    assert!(matches!(phase2::verify(&powers, &r1cs, &dev, &Record::new(&dev), &mut rng()), Err(Phase2Error::Origin)));
    let (pk, record, _) = ceremony(&powers, &r1cs);
    let check = |pk: &ProvingKey<Bn254>| phase2::verify(&powers, &r1cs, pk, &record, &mut rng());
    let g1 = G1Affine::generator();
    let mut k = pk.clone();
    k.a_query[1] = g1;
    assert!(matches!(check(&k), Err(Phase2Error::Derived("A query"))));
    let mut k = pk.clone();
    k.vk.gamma_abc_g1[0] = g1;
    assert!(matches!(check(&k), Err(Phase2Error::Derived("public-input bases"))));
    let mut k = pk.clone();
    k.h_query[0] = g1;
    assert!(matches!(check(&k), Err(Phase2Error::Delta("H query"))));
    let mut k = pk.clone();
    k.l_query[0] = g1;
    assert!(matches!(check(&k), Err(Phase2Error::Delta("L query"))));
    let mut k = pk.clone();
    k.vk.delta_g2 = G2Affine::generator();
    assert!(matches!(check(&k), Err(Phase2Error::Delta("δ·G2"))));
}

/// A model small enough for a test ceremony (its wrap circuit needs power 13): tests/data's
/// tiny_gemm (a Gemm and a Relu, `script/tiny_gemm.py`) compiled at 6 bits with the command line
/// into `dir`; its input is copied to `dir`/input.json.
fn tiny_model(dir: &Path) -> PathBuf {
    let data = crate::models::repo_root().join("tests/data");
    let input = dir.join("input.json");
    std::fs::copy(data.join("tiny_gemm.input.json"), &input).unwrap();
    let out = dir.join("model");
    let (o, i, d) = (data.join("tiny_gemm.onnx"), input.to_str().unwrap(), out.to_str().unwrap());
    let (ok, log) = zkml(&[
        "compile",
        o.to_str().unwrap(),
        "--calibrate",
        i,
        "--out",
        d,
        "--lookup-bits",
        "6",
        "--weight-bits",
        "6",
    ]);
    assert!(ok, "{log}");
    out
}

/// The last line a command printed: a contribution's hash.
fn last_line(log: &str) -> String {
    log.lines().last().unwrap_or_default().to_string()
}

/// The verifying key snarkjs (a second implementation) derives from `ptau` for the model in
/// `model`: `zkml setup r1cs` writes its wrap circuit as an iden3 .r1cs, then `snarkjs zkey new`
/// and `zkey export verificationkey`.
fn snarkjs_initial_vk(tmp: &Path, model: &Path, ptau: &Path) -> ark_groth16::VerifyingKey<Bn254> {
    use std::str::FromStr;
    let (r1cs, zkey, json) = (tmp.join("wrap.r1cs"), tmp.join("wrap.zkey"), tmp.join("vk.json"));
    let (ok, log) = zkml(&["setup", "r1cs", model.to_str().unwrap(), "--out", r1cs.to_str().unwrap()]);
    assert!(ok && log.contains("constraints, iden3 .r1cs"), "{log}");
    let snarkjs = |args: &[&Path]| {
        let o = std::process::Command::new(crate::models::repo_root().join("node_modules/.bin/snarkjs"))
            .args(args)
            .output()
            .expect("run snarkjs");
        assert!(o.status.success(), "snarkjs {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    snarkjs(&["zkey".as_ref(), "new".as_ref(), &r1cs, ptau, &zkey]);
    snarkjs(&["zkey".as_ref(), "export".as_ref(), "verificationkey".as_ref(), &zkey, &json]);
    let vk: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let fq = |v: &serde_json::Value| ark_bn254::Fq::from_str(v.as_str().unwrap()).unwrap();
    let g1 = |v: &serde_json::Value| G1Affine::new(fq(&v[0]), fq(&v[1]));
    let fq2 = |v: &serde_json::Value| ark_bn254::Fq2::new(fq(&v[0]), fq(&v[1]));
    let g2 = |v: &serde_json::Value| G2Affine::new(fq2(&v[0]), fq2(&v[1]));
    let ic: Vec<G1Affine> = vk["IC"].as_array().unwrap().iter().map(g1).collect();
    assert_eq!(vk["nPublic"].as_u64(), Some(ic.len() as u64 - 1));
    ark_groth16::VerifyingKey {
        alpha_g1: g1(&vk["vk_alpha_1"]),
        beta_g2: g2(&vk["vk_beta_2"]),
        gamma_g2: g2(&vk["vk_gamma_2"]),
        delta_g2: g2(&vk["vk_delta_2"]),
        gamma_abc_g1: ic,
    }
}

#[test]
fn cli_ceremony_then_prove_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let d = model.to_str().unwrap();
    let ptau = snarkjs_ptau_of(13);
    let p = ptau.to_str().unwrap();
    let (ok, log) = zkml(&["setup", "contribute", d]);
    assert!(!ok && log.contains("run `zkml setup`"), "{log}");
    let (ok, log) = zkml(&["setup", d, "--ptau", snarkjs_ptau().to_str().unwrap()]);
    assert!(!ok && log.contains("needs a ptau of power 13"), "{log}");
    let (ok, log) = zkml(&["setup", d, "--ptau", p]);
    assert!(ok && log.contains("NOT safe") && log.contains("power 13 used"), "{log}");
    assert_eq!(snarkjs_initial_vk(tmp.path(), &model, &ptau), zkml::artifact::read_key(&model.join("vk.bin")).unwrap());

    let (ok, log) = zkml(&["setup", "contribute", d, "--entropy", "the first contributor's text"]);
    assert!(ok, "{log}");
    let first = last_line(&log);
    let (ok, log) = zkml(&["setup", "contribute", d]);
    assert!(ok, "{log}");
    let second = last_line(&log);
    let (ok, log) = zkml(&["setup", "beacon", d, "--hash", "0x00112233445566778899", "--iterations", "3"]);
    assert!(ok, "{log}");
    let beacon = last_line(&log);
    assert_eq!(first.len(), 128);
    let (ok, log) = zkml(&["setup", "verify", d, "--ptau", p]);
    assert!(ok, "{log}");
    for (i, h) in [&first, &second, &beacon].into_iter().enumerate() {
        assert!(log.contains(&format!("contribution {}: {h}", i + 1)), "{log}");
    }
    let vk: serde_json::Value = serde_json::from_slice(&std::fs::read(model.join("vk.json")).unwrap()).unwrap();
    assert_eq!(vk["setup"]["kind"], "ceremony");
    assert_eq!(vk["setup"]["contributions"], serde_json::json!([first, second, beacon]));
    // What zkml-gen checks before it renders a verifier: the record's chain ends at vk.bin's δ.
    let key: ark_groth16::VerifyingKey<Bn254> = zkml::artifact::read_key(&model.join("vk.bin")).unwrap();
    assert!(matches!(zkml::setup::trust(&model, &key).unwrap(), zkml::setup::Trust::Ceremony { contributions: 3 }));

    // The keys prove, without the warning unsafe keys get, and the proof verifies.
    let (proof, input) = (tmp.path().join("p.bin"), tmp.path().join("input.json"));
    let (ok, log) = zkml(&["prove", d, "--input", input.to_str().unwrap(), "--out", proof.to_str().unwrap(), "--wrap"]);
    assert!(ok && !log.contains("WARNING"), "{log}");
    let (ok, log) = zkml(&["verify", d, proof.to_str().unwrap()]);
    assert!(ok && log.contains("proof is valid"), "{log}");

    // The same powers in another file: the keys derive from them, but not from that file.
    let (ok, log) = zkml(&["setup", "verify", d, "--ptau", unprepared(&ptau).to_str().unwrap()]);
    assert!(!ok && log.contains("records a ceremony on the ptau with BLAKE2b"), "{log}");
    // A record that is not the one vk.json lists.
    let record = model.join("phase2.bin");
    let bytes = std::fs::read(&record).unwrap();
    std::fs::write(&record, &bytes[..bytes.len() - 1]).unwrap();
    let (ok, log) = zkml(&["setup", "verify", d, "--ptau", p]);
    assert!(!ok && log.contains("phase2.bin"), "{log}");
    // Dev keys are not a ceremony.
    let (ok, log) = zkml(&["setup", d, "--dev-seed", "1"]);
    assert!(ok, "{log}");
    let (ok, log) = zkml(&["setup", "contribute", d]);
    assert!(!ok && log.contains("development setup, not a ceremony"), "{log}");
}
