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
use zkml::wrap::phase2::{self, Keys, Phase2Error, Record, Secret};
use zkml::wrap::ptau::{self, Powers};

use crate::common::zkml;
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

/// `Cubic(1)` with a second public input, the seed of a two-round proof (the last one, which
/// the verifier derives), and x and y its round-1 wires.
struct Seeded {
    x: Option<Fr>,
    y: Option<Fr>,
    seed: Option<Fr>,
}

impl Seeded {
    fn shape() -> R1cs {
        R1cs::synthesize(Seeded { x: None, y: None, seed: None }).unwrap().with_round1(2).unwrap()
    }
}

impl ConstraintSynthesizer<Fr> for Seeded {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        Cubic { x: self.x, y: self.y, c: 1 }.generate_constraints(cs.clone())?;
        let seed = cs.new_input_variable(|| self.seed.ok_or(SynthesisError::AssignmentMissing))?;
        let one = LinearCombination::sum_vars(&[Variable::One]);
        cs.enforce_r1cs_constraint(|| seed.into(), || one, || seed.into())?;
        Ok(())
    }
}

/// Whether two-round `keys` prove `Seeded` for x = 3, y = 7 (committing to x and y, then the
/// seed from D) and refuse the statement out + 1.
fn proves_two_round(keys: &Keys, r1cs: &R1cs) -> bool {
    let ck = keys.ck.as_ref().unwrap();
    let (x, y) = (Fr::from(3u64), Fr::from(7u64));
    let out = x * y * (x + Fr::from(1u64));
    let round1 = g16::commit(&keys.pk, ck, &[x, y], &mut rng()).unwrap();
    let seed = g16::challenge(&round1.d, &[out]);
    let z = g16::assignment(Seeded { x: Some(x), y: Some(y), seed: Some(seed) }).unwrap();
    let proof = g16::prove_two_round(&keys.pk, ck, r1cs, &z, &round1, &mut rng()).unwrap();
    g16::verify_two_round(&keys.pk.vk, &ck.delta1_g2, &[out], &proof)
        && !g16::verify_two_round(&keys.pk.vk, &ck.delta1_g2, &[out + Fr::from(1u64)], &proof)
}

/// The test ptau's powers for `r1cs`'s domain (a prepared file's Lagrange basis is read for one
/// domain).
fn powers_for(r1cs: &R1cs) -> Powers {
    ptau::read(&snarkjs_ptau(), r1cs.power().unwrap(), &mut rng()).unwrap()
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

/// The keys of `r1cs` after two contributions and a beacon, with their record and hashes.
fn ceremony(powers: &Powers, r1cs: &R1cs) -> (Keys, Record, Vec<[u8; 64]>) {
    let mut keys = phase2::initial_keys(powers, r1cs).unwrap();
    let mut record = Record::new(phase2::origin(&powers.file_hash, r1cs));
    let hashes = vec![
        phase2::contribute(&mut keys, &mut record, &mut StdRng::seed_from_u64(11)),
        phase2::contribute(&mut keys, &mut record, &mut StdRng::seed_from_u64(12)),
        phase2::beacon(&mut keys, &mut record, b"block 0xabc", 4).unwrap(),
    ];
    (keys, record, hashes)
}

#[test]
fn initial_keys_from_a_snarkjs_ceremony_prove_and_verify() {
    let r1cs = Cubic::shape(1);
    let powers = powers_for(&r1cs);
    let keys = phase2::initial_keys(&powers, &r1cs).unwrap();
    let pk = &keys.pk;
    assert!(keys.ck.is_none());
    r1cs.check_key(pk, None).unwrap();
    // The ceremony's α and β, γ = δ = 1: phase 2's starting point, as snarkjs zkey new makes it.
    assert_eq!((pk.vk.alpha_g1, pk.vk.beta_g2), (powers.alpha_tau_g1[0], powers.beta_g2));
    assert_eq!(pk.vk.delta_g2, G2Affine::generator());
    assert!(proves(pk, &r1cs, 1));
    assert_eq!(
        phase2::verify(&powers, &r1cs, &keys, &Record::new(phase2::origin(&powers.file_hash, &r1cs)), &mut rng())
            .unwrap(),
        Vec::<[u8; 64]>::new()
    );
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
    let r1cs = Cubic::shape(1);
    let powers = powers_for(&r1cs);
    let (keys, record, hashes) = ceremony(&powers, &r1cs);
    assert_eq!(phase2::verify(&powers, &r1cs, &keys, &record, &mut rng()).unwrap(), hashes);
    let pk = &keys.pk;
    assert_ne!(pk.vk.delta_g2, G2Affine::generator());
    assert!(proves(pk, &r1cs, 1));
    // The record round-trips through its file format, and the beacon is reproducible.
    let mut bytes = vec![];
    record.serialize_compressed(&mut bytes).unwrap();
    assert_eq!(Record::deserialize_compressed(&bytes[..]).unwrap(), record);
    assert_eq!(ceremony(&powers, &r1cs).0.pk.vk.delta_g2, pk.vk.delta_g2);
}

#[test]
fn a_contribution_without_knowledge_of_its_secret_is_refused() {
    let r1cs = Cubic::shape(1);
    let powers = powers_for(&r1cs);
    let (keys, record, _) = ceremony(&powers, &r1cs);
    let refused = |record: &Record, keys: &Keys| phase2::verify(&powers, &r1cs, keys, record, &mut rng());
    // δ′·R from another δ′.
    let mut r = record.clone();
    r.contributions[1].delta.r_x = (r.contributions[1].delta.r_x * Fr::from(2u64)).into_affine();
    assert!(matches!(refused(&r, &keys), Err(Phase2Error::ProofOfKnowledge { index: 1, which: Secret::Delta })));
    // s = s·δ′ = O satisfies the first ratio for any δ′.
    let mut r = record.clone();
    (r.contributions[0].delta.s, r.contributions[0].delta.s_x) = (G1Affine::zero(), G1Affine::zero());
    assert!(matches!(refused(&r, &keys), Err(Phase2Error::ProofOfKnowledge { index: 0, .. })));
    // A contributor who rescales δ by a known factor without a matching proof: the key and its
    // record's last δ agree, but the ratio δ_after/δ_before is not the proven δ′.
    let mut r = record.clone();
    let mut forged = keys.clone();
    let c = &mut r.contributions[1];
    c.delta.after = (c.delta.after * Fr::from(5u64)).into_affine();
    forged.pk.delta_g1 = (forged.pk.delta_g1 * Fr::from(5u64)).into_affine();
    r.contributions.truncate(2);
    assert!(matches!(refused(&r, &forged), Err(Phase2Error::ProofOfKnowledge { index: 1, .. })));
    // A one-round key's contribution that claims a δ₁ update.
    let mut r = record.clone();
    r.contributions[0].delta1 = Some(r.contributions[0].delta.clone());
    assert!(matches!(refused(&r, &keys), Err(Phase2Error::Shape { index: 0, two_round: false })));
}

#[test]
fn a_tampered_beacon_or_record_is_refused() {
    let r1cs = Cubic::shape(1);
    let powers = powers_for(&r1cs);
    let (keys, record, _) = ceremony(&powers, &r1cs);
    let check = |record: &Record, keys: &Keys| phase2::verify(&powers, &r1cs, keys, record, &mut rng());
    let mut r = record.clone();
    r.contributions[2].beacon.as_mut().unwrap().value = b"block 0xabd".to_vec();
    assert!(matches!(check(&r, &keys), Err(Phase2Error::Beacon { index: 2, .. })));
    let mut r = record.clone();
    r.contributions[2].beacon.as_mut().unwrap().iterations = 5;
    assert!(matches!(check(&r, &keys), Err(Phase2Error::Beacon { index: 2, .. })));
    // Contributions reordered or dropped: the transcript chain breaks, or the key's δ is not
    // the record's.
    let mut r = record.clone();
    r.contributions.swap(0, 1);
    assert!(matches!(check(&r, &keys), Err(Phase2Error::Transcript { index: 0 })));
    let mut r = record.clone();
    r.contributions.pop();
    assert!(matches!(check(&r, &keys), Err(Phase2Error::Delta("δ·G2"))));
    assert!(matches!(
        phase2::beacon(&mut keys.clone(), &mut record.clone(), b"x", 41),
        Err(Phase2Error::BeaconIterations(41))
    ));
}

#[test]
fn a_two_round_ceremony_updates_delta1_and_proves() {
    let r1cs = Seeded::shape();
    let powers = powers_for(&r1cs);
    let initial = phase2::initial_keys(&powers, &r1cs).unwrap();
    let ck = initial.ck.as_ref().unwrap();
    r1cs.check_key(&initial.pk, Some(ck)).unwrap();
    assert_eq!((ck.delta1_g1, ck.delta1_g2), (G1Affine::generator(), G2Affine::generator()));
    assert!(proves_two_round(&initial, &r1cs));
    let (keys, record, hashes) = ceremony(&powers, &r1cs);
    assert_eq!(phase2::verify(&powers, &r1cs, &keys, &record, &mut rng()).unwrap(), hashes);
    let ck = keys.ck.as_ref().unwrap();
    assert_ne!(ck.delta1_g2, G2Affine::generator());
    assert_ne!(ck.delta1_g2, keys.pk.vk.delta_g2);
    assert!(proves_two_round(&keys, &r1cs));
    assert!(record.contributions.iter().all(|c| c.delta1.is_some()));
}

#[test]
fn a_two_round_ceremony_refuses_what_it_cannot_check() {
    let r1cs = Seeded::shape();
    let powers = powers_for(&r1cs);
    let (keys, record, _) = ceremony(&powers, &r1cs);
    let check = |record: &Record, keys: &Keys| phase2::verify(&powers, &r1cs, keys, record, &mut rng());
    // A contribution that leaves δ₁ alone.
    let mut r = record.clone();
    r.contributions[1].delta1 = None;
    assert!(matches!(check(&r, &keys), Err(Phase2Error::Shape { index: 1, two_round: true })));
    // δ₁′·R from another δ₁′.
    let mut r = record.clone();
    let u = r.contributions[1].delta1.as_mut().unwrap();
    u.r_x = (u.r_x * Fr::from(2u64)).into_affine();
    assert!(matches!(check(&r, &keys), Err(Phase2Error::ProofOfKnowledge { index: 1, which: Secret::Delta1 })));
    // The proof for δ′ passed off as the one for δ₁′: the random oracle names the secret.
    let mut r = record.clone();
    r.contributions[0].delta1 = Some(r.contributions[0].delta.clone());
    assert!(matches!(check(&r, &keys), Err(Phase2Error::ProofOfKnowledge { index: 0, which: Secret::Delta1 })));
    let g1 = G1Affine::generator();
    let mut k = keys.clone();
    k.ck.as_mut().unwrap().k_query[0] = g1;
    assert!(matches!(check(&record, &k), Err(Phase2Error::Delta("round-1 bases"))));
    let mut k = keys.clone();
    k.ck.as_mut().unwrap().delta1_g1 = g1;
    assert!(matches!(check(&record, &k), Err(Phase2Error::Delta("δ₁·G1"))));
    // δ₁·G2 put back to 1, so that whoever knows the round-1 bases' discrete logs could move D.
    let mut k = keys.clone();
    k.ck.as_mut().unwrap().delta1_g2 = G2Affine::generator();
    assert!(matches!(check(&record, &k), Err(Phase2Error::Delta("δ₁·G2"))));
    let k = Keys { pk: keys.pk.clone(), ck: None };
    assert!(matches!(check(&record, &k), Err(Phase2Error::Derived(_))));
}

#[test]
fn a_contribution_moved_to_another_circuit_is_refused() {
    let (one, two) = (Cubic::shape(1), Cubic::shape(2));
    let powers = powers_for(&one);
    let (keys, record, _) = ceremony(&powers, &one);
    assert!(matches!(phase2::verify(&powers, &two, &keys, &record, &mut rng()), Err(Phase2Error::Origin)));
    // The other circuit's own origin with this ceremony's contributions: the first proof of
    // knowledge was bound to the first circuit's origin.
    let (keys_two, record_two, _) = ceremony(&powers, &two);
    let moved = Record { origin: record_two.origin, contributions: record.contributions.clone() };
    assert!(matches!(
        phase2::verify(&powers, &two, &keys_two, &moved, &mut rng()),
        Err(Phase2Error::Transcript { index: 0 })
    ));
}

#[test]
fn a_key_that_does_not_derive_from_the_ptau_is_refused() {
    let r1cs = Cubic::shape(1);
    let powers = powers_for(&r1cs);
    // A record of other powers (or of the v1 format, which hashed the initial keys).
    let dev = Keys { pk: g16::setup(&r1cs, &mut rng()).unwrap(), ck: None };
    let origin = phase2::origin(&powers.file_hash, &r1cs);
    let other = Record::new(phase2::origin(&[7; 64], &r1cs));
    assert!(matches!(phase2::verify(&powers, &r1cs, &dev, &other, &mut rng()), Err(Phase2Error::Origin)));
    // Dev keys under this ceremony's origin: their δ is not the chain's (nor their α the ptau's).
    let e = phase2::verify(&powers, &r1cs, &dev, &Record::new(origin), &mut rng());
    assert!(matches!(e, Err(Phase2Error::Delta("δ·G2"))), "{e:?}");
    // With the chain's δ, the α is what gives them away.
    let mut dev = dev;
    (dev.pk.delta_g1, dev.pk.vk.delta_g2) = (G1Affine::generator(), G2Affine::generator());
    let e = phase2::verify(&powers, &r1cs, &dev, &Record::new(origin), &mut rng());
    assert!(matches!(e, Err(Phase2Error::Derived("α·G1"))), "{e:?}");
    let (keys, record, _) = ceremony(&powers, &r1cs);
    let check = |keys: &Keys| phase2::verify(&powers, &r1cs, keys, &record, &mut rng());
    let g1 = G1Affine::generator();
    let mut k = keys.clone();
    k.pk.a_query[1] = g1;
    assert!(matches!(check(&k), Err(Phase2Error::Derived("A query"))));
    let mut k = keys.clone();
    k.pk.b_g1_query[2] = g1;
    assert!(matches!(check(&k), Err(Phase2Error::Derived("B query (G1)"))));
    let mut k = keys.clone();
    k.pk.b_g2_query[2] = G2Affine::generator();
    assert!(matches!(check(&k), Err(Phase2Error::Derived("B query (G2)"))));
    // Two points swapped: every point is one the right keys have, only the order is wrong.
    let mut k = keys.clone();
    let j = (1..k.pk.a_query.len()).find(|&j| k.pk.a_query[j] != k.pk.a_query[0]).unwrap();
    k.pk.a_query.swap(0, j);
    assert!(matches!(check(&k), Err(Phase2Error::Derived("A query"))));
    let mut k = keys.clone();
    k.pk.h_query.pop();
    let e = check(&k);
    assert!(matches!(&e, Err(Phase2Error::Keys(g16::Groth16Error::KeyMismatch(m))) if m.contains("H query")), "{e:?}");
    let mut k = keys.clone();
    k.pk.vk.gamma_abc_g1[0] = g1;
    assert!(matches!(check(&k), Err(Phase2Error::Derived("public-input bases"))));
    let mut k = keys.clone();
    k.pk.h_query[0] = g1;
    assert!(matches!(check(&k), Err(Phase2Error::Delta("H query"))));
    let mut k = keys.clone();
    k.pk.l_query[0] = g1;
    assert!(matches!(check(&k), Err(Phase2Error::Delta("L query"))));
    let mut k = keys.clone();
    k.pk.vk.delta_g2 = G2Affine::generator();
    assert!(matches!(check(&k), Err(Phase2Error::Delta("δ·G2"))));
}

/// A model small enough for a test ceremony (its wrap circuit needs power 12): tests/data's
/// tiny_gemm (a Gemm and a Relu, `script/tiny_gemm.py`) compiled at 6 bits with the command line
/// into `dir`; its input is copied to `dir`/input.json.
fn tiny_model(dir: &Path) -> PathBuf {
    let data = crate::common::repo_root().join("tests/data");
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
/// `model`: `zkml setup r1cs` writes its wrap circuit as an iden3 .r1cs (the round-1 wires as plain
/// witnesses), then `snarkjs zkey new` and `zkey export verificationkey` (about 40 s here). Its
/// answer is kept beside the test ptau (`~/.cache/zkml-ptau/`), keyed by the SHA3-256 of the .r1cs
/// and the ptau, so snarkjs runs again whenever either changes, and only then.
fn snarkjs_initial_vk(tmp: &Path, model: &Path, ptau: &Path) -> ark_groth16::VerifyingKey<Bn254> {
    use sha3::{Digest, Sha3_256};
    use std::str::FromStr;
    let (r1cs, zkey, json) = (tmp.join("wrap.r1cs"), tmp.join("wrap.zkey"), tmp.join("vk.json"));
    let (ok, log) = zkml(&["setup", "r1cs", model.to_str().unwrap(), "--out", r1cs.to_str().unwrap()]);
    assert!(ok && log.contains("constraints, iden3 .r1cs"), "{log}");
    let key = Sha3_256::new().chain_update(std::fs::read(&r1cs).unwrap()).chain_update(std::fs::read(ptau).unwrap());
    let cached = ptau.with_file_name(format!("snarkjs-vk-{}.json", hex::encode(key.finalize())));
    if !cached.exists() {
        let snarkjs = |args: &[&Path]| {
            let o = std::process::Command::new(crate::common::repo_root().join("node_modules/.bin/snarkjs"))
                .args(args)
                .output()
                .expect("run snarkjs");
            assert!(o.status.success(), "snarkjs {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        snarkjs(&["zkey".as_ref(), "new".as_ref(), &r1cs, ptau, &zkey]);
        snarkjs(&["zkey".as_ref(), "export".as_ref(), "verificationkey".as_ref(), &zkey, &json]);
        // Renamed into place, so a test running beside this one never reads half a file.
        let partial = cached.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::copy(&json, &partial).unwrap();
        std::fs::rename(&partial, &cached).unwrap();
    }
    let vk: serde_json::Value = serde_json::from_slice(&std::fs::read(&cached).unwrap()).unwrap();
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

/// The initial keys through the binary are snarkjs's for the same circuit (its round-1 wires
/// plain witnesses) with [δ₁]₂ = [δ]₂ = the generator; a ptau of too small a power and a
/// contribution before the setup are refused, saying what to do.
#[test]
fn cli_initial_keys_are_snarkjs_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let d = model.to_str().unwrap();
    let ptau = snarkjs_ptau_of(13);
    let c = zkml::artifact::Compiled::load(&model).unwrap();
    let power = zkml::wrap::two_round::synthesize(&c.graph, c.id).unwrap().power().unwrap();
    assert!(power > POWER && power <= 13, "the tiny model's circuit needs power {power}");
    let (ok, log) = zkml(&["setup", "contribute", d]);
    assert!(!ok && log.contains("run `zkml setup`"), "{log}");
    let (ok, log) = zkml(&["setup", d, "--ptau", snarkjs_ptau().to_str().unwrap()]);
    assert!(!ok && log.contains(&format!("needs a ptau of power {power}")), "{log}");
    let (ok, log) = zkml(&["setup", d, "--ptau", ptau.to_str().unwrap()]);
    assert!(ok && log.contains("NOT safe") && log.contains(&format!("power {power} used")), "{log}");
    let initial: zkml::wrap::two_round::VerifyingKey = zkml::artifact::read_key(&model.join("vk.bin")).unwrap();
    assert_eq!(snarkjs_initial_vk(tmp.path(), &model, &ptau), initial.groth16);
    assert_eq!(initial.delta1_g2, initial.groth16.delta_g2);
}

/// A ceremony through the binary (as docs/setup.md runs it): each contribution and the beacon
/// move δ and δ₁; `setup verify` checks the chain against the ptau, and refuses another ptau file
/// and a record that is not vk.json's; the keys prove without the warning unsafe keys get; dev
/// keys are not a ceremony to contribute to.
#[test]
fn cli_ceremony_then_prove_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let d = model.to_str().unwrap();
    let ptau = snarkjs_ptau_of(13);
    let p = ptau.to_str().unwrap();
    let (ok, log) = zkml(&["setup", d, "--ptau", p]);
    assert!(ok, "{log}");

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
    assert_eq!(
        (&vk["scheme"], &vk["setup"]["kind"]),
        (&serde_json::json!("two_round"), &serde_json::json!("ceremony"))
    );
    assert_eq!(vk["setup"]["contributions"], serde_json::json!([first, second, beacon]));
    assert_ne!(vk["delta1_g2"], vk["delta_g2"]);
    // What zkml-gen checks before it renders a verifier: the record's chains end at vk.bin's δ and δ₁.
    let key: zkml::wrap::two_round::VerifyingKey = zkml::artifact::read_key(&model.join("vk.bin")).unwrap();
    assert!(matches!(
        zkml::setup::trust(&model, &key.groth16, Some(&key.delta1_g2)).unwrap(),
        zkml::setup::Trust::Ceremony { contributions: 3 }
    ));

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

/// A ceremony passed between participants as one file (docs/setup.md): the coordinator exports
/// the state after the first contribution; the next participant imports it into the model they
/// compiled themselves, verifies it, contributes and exports it back; the chain verifies with
/// both contributions. Refused, each leaving the directory as it was: an archive with an entry
/// outside the state (a path elsewhere), one without the record, one cut short, a record from
/// another point of the ceremony, a file that is no archive, and exporting dev keys.
#[test]
fn cli_ceremony_state_passes_from_one_participant_to_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let d = model.to_str().unwrap();
    let ptau = snarkjs_ptau_of(13);
    let p = ptau.to_str().unwrap();
    let state = tmp.path().join("state.tar");
    let s = state.to_str().unwrap();
    let (ok, log) = zkml(&["setup", d, "--ptau", p]);
    assert!(ok, "{log}");
    let initial = std::fs::read(model.join("phase2.bin")).unwrap();
    let (ok, log) = zkml(&["setup", "contribute", d]);
    assert!(ok, "{log}");
    let first = last_line(&log);
    let (ok, log) = zkml(&["setup", "export", d, "--out", s]);
    assert!(ok && log.contains("1 contribution)"), "{log}");
    let (ok, _) = zkml(&["setup", "export", d, "--out", tmp.path().join("again.tar").to_str().unwrap()]);
    assert!(ok);
    assert_eq!(std::fs::read(&state).unwrap(), std::fs::read(tmp.path().join("again.tar")).unwrap());

    // The next participant: the model from its owner, the state from the coordinator.
    let theirs = tempfile::tempdir().unwrap();
    let other = tiny_model(theirs.path());
    let o = other.to_str().unwrap();
    let (ok, log) = zkml(&["setup", "import", o, "--from", s]);
    assert!(ok && log.contains("with 1 contribution into"), "{log}");
    let (ok, log) = zkml(&["setup", "verify", o, "--ptau", p]);
    assert!(ok && log.contains(&format!("contribution 1: {first}")), "{log}");
    let (ok, log) = zkml(&["setup", "contribute", o]);
    assert!(ok, "{log}");
    let second = last_line(&log);
    let back = theirs.path().join("back.tar");
    let (ok, log) = zkml(&["setup", "export", o, "--out", back.to_str().unwrap()]);
    assert!(ok && log.contains("2 contributions)"), "{log}");
    let (ok, log) = zkml(&["setup", "import", d, "--from", back.to_str().unwrap()]);
    assert!(ok, "{log}");
    let (ok, log) = zkml(&["setup", "verify", d, "--ptau", p]);
    assert!(
        ok && log.contains(&format!("contribution 1: {first}")) && log.contains(&format!("contribution 2: {second}")),
        "{log}"
    );

    // Archives someone else made: each refused, the directory's state unchanged.
    let files: Vec<(String, Vec<u8>)> = ["pk.bin", "r1cs.bin", "vk.bin", "phase2.bin", "vk.json"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(model.join(n)).unwrap()))
        .collect();
    let archive = |entries: &[(String, Vec<u8>)]| -> PathBuf {
        let path = tmp.path().join("made.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
        for (name, bytes) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            // set_path refuses "..": write the name into the header as a hostile tool would.
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, &bytes[..]).unwrap();
        }
        b.into_inner().unwrap();
        path
    };
    let refused = |path: &Path, says: &str| {
        let (ok, log) = zkml(&["setup", "import", d, "--from", path.to_str().unwrap()]);
        assert!(!ok && log.contains(says), "{says}: {log}");
        for (name, bytes) in &files {
            assert_eq!(&std::fs::read(model.join(name)).unwrap(), bytes, "{name} changed");
        }
    };
    let mut outside = files.clone();
    outside.push(("../escaped".into(), b"x".to_vec()));
    refused(&archive(&outside), "it holds \"../escaped\"");
    assert!(!model.join("../escaped").exists() && !model.parent().unwrap().join("escaped").exists());
    refused(&archive(&files[..3]), "[\"phase2.bin\", \"vk.json\"] missing");
    let mut old_record = files.clone();
    old_record[3].1 = initial;
    refused(&archive(&old_record), "list different contributions");
    let whole = std::fs::read(&back).unwrap();
    let cut = tmp.path().join("cut.tar");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    refused(&cut, "is not a ceremony's state");
    refused(&ptau, "is not a ceremony's state");

    // Dev keys are no ceremony to pass on.
    let (ok, log) = zkml(&["setup", o, "--dev-seed", "1"]);
    assert!(ok, "{log}");
    let (ok, log) = zkml(&["setup", "export", o, "--out", s]);
    assert!(!ok && log.contains("development setup, not a ceremony"), "{log}");
}
