//! A key directory spies on no one (review round 2, item 7). Whoever ships the keys (the model's
//! owner) can make a proving key that looks valid and whose honest proofs carry the prover's
//! private input; proving refuses such a key, writes a proof only after it verifies, and
//! `--vk-digest` pins the keys to the deployed verifier's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ark_bn254::{Bn254, G1Affine, G1Projective};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{Field, Zero};
use ark_groth16::ProvingKey;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use sha3::{Digest, Sha3_256};
use zkml::artifact::{self, Compiled};
use zkml::field::{F, fe};
use zkml::stage1;
use zkml::wrap::circuit::{Part, RangePlan, Witness, WrapCircuit, limb_widths, public_inputs};
use zkml::wrap::{WrapError, groth16, two_round};

use crate::common::{data, zkml};

/// price_mlp compiled into TMP/NAME with a private input and given development keys from `seed`.
fn private_input_model(tmp: &Path, name: &str, seed: &str) -> PathBuf {
    let d = tmp.join(name);
    let (m, i) = (data("price_mlp.onnx"), data("price_mlp.input.json"));
    let args = ["--calibrate", i.to_str().unwrap(), "--out", d.to_str().unwrap(), "--input-visibility", "private"];
    let (ok, log) = zkml(&[&["compile", m.to_str().unwrap()][..], &args].concat());
    assert!(ok, "{log}");
    let (ok, log) = zkml(&["setup", d.to_str().unwrap(), "--dev-seed", seed]);
    assert!(ok, "{log}");
    d
}

fn sha3_hex(bytes: &[u8]) -> String {
    hex::encode(Sha3_256::digest(bytes))
}

/// Puts `pk` and the commitment key `ck` in DIR as pk.bin with its digest in vk.json, as a
/// supplier who ships the whole directory can.
fn supply(dir: &Path, pk: &ProvingKey<Bn254>, ck: &groth16::CommitKey) {
    let mut bytes = Vec::new();
    pk.serialize_uncompressed(&mut bytes).unwrap();
    ck.serialize_uncompressed(&mut bytes).unwrap();
    std::fs::write(dir.join("pk.bin"), &bytes).unwrap();
    let json_path = dir.join("vk.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    json["sha3_256"]["pk.bin"] = sha3_hex(&bytes).into();
    std::fs::write(&json_path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
}

fn prove_cli(dir: &Path, out: &Path, extra: &[&str]) -> (bool, String) {
    let i = data("price_mlp.input.json");
    let args =
        ["prove", dir.to_str().unwrap(), "--input", i.to_str().unwrap(), "--out", out.to_str().unwrap(), "--wrap"];
    zkml(&[&args[..], extra].concat())
}

/// The attack: δ·G1 = O removes the blinding of A, and A bases chosen on the wires of the first
/// two input values (round-1 wires, one per value: G and 2^bits·G, the constant wire's base
/// adding the packing offset to both, the others O) make A = α + (u₀ + 2^bits·u₁)·G, where uᵢ is
/// value i plus the offset: the supplier reads both values off any proof. The raw two-round
/// Groth16 prover makes such proofs; the wrap, the key reader and the CLI refuse, and nothing is
/// written.
#[test]
fn a_proving_key_made_to_read_the_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = private_input_model(tmp.path(), "m", "5");
    let c = Compiled::load(&dir).unwrap();
    let x = artifact::read_inputs(&data("price_mlp.input.json")).unwrap().remove(0);
    let trace = c.graph.execute(&x).unwrap();
    let honest = artifact::read_prover_keys(&dir, None).unwrap();
    let q = c.graph.quantize_input(&x).unwrap();

    // The wires of input values 0 and 1 (the supplier knows the circuit's layout; here they are
    // found by their values among the round-1 wires): the value itself if it fits one range
    // limb, else the limbs of the value plus its offset, lowest first.
    let seg = &c.graph.segments[c.graph.input];
    let (bits, off) = (seg.bits as usize, zkml::pack::offset(seg.bits, seg.signed));
    let widths: Vec<usize> =
        limb_widths(seg.bits, RangePlan::new(&c.graph).limb).into_iter().map(|w| w as usize).collect();
    let places: Vec<usize> = widths.iter().scan(0, |at, &w| Some(std::mem::replace(at, *at + w))).collect();
    let wires = |v: i64| -> Vec<F> {
        match widths.len() {
            1 => vec![fe(v)],
            _ => widths.iter().zip(&places).map(|(&w, &at)| fe((v + off) >> at & ((1 << w) - 1))).collect(),
        }
    };
    let want: Vec<F> = wires(q[0]).into_iter().chain(wires(q[1])).collect();
    let mut w = Witness::from_run(&c.graph, trace.segments.clone(), [F::from(1u64), F::from(2u64)]).unwrap();
    fn circuit<'a>(c: &'a Compiled, w: &'a Witness, part: Part) -> WrapCircuit<'a> {
        WrapCircuit { graph: &c.graph, id: c.id, context: F::zero(), witness: Some(w), part }
    }
    let z1 = groth16::assignment(circuit(&c, &w, Part::Round1)).unwrap();
    let first = z1[1..].windows(want.len()).position(|x| x == want.as_slice()).expect("the input's wires")
        + honest.r1cs.num_instance;

    // A's bases: 2^(i·bits + the limb's place)·G on value i's wires (for values that are one wire
    // each, the constant wire adds their offsets), O elsewhere.
    let g = G1Projective::generator();
    let mut spy = honest.pk.clone();
    spy.delta_g1 = G1Affine::zero();
    spy.a_query.iter_mut().for_each(|p| *p = G1Affine::zero());
    if widths.len() == 1 {
        spy.a_query[0] = (g * (fe(off) * F::from(1 + (1u64 << bits)))).into_affine();
    }
    let both = [0, bits].into_iter().flat_map(|shift| places.iter().map(move |at| at + shift));
    for (k, at) in both.enumerate() {
        spy.a_query[first + k] = (g * F::from(1u64 << at)).into_affine();
    }
    // A real proof from the raw prover: round 1, the seed, round 2. A − α = k·G with
    // k < 2^(2·bits): baby steps j·G for j < 2^bits, giant steps of 2^bits·G.
    let rng = &mut rand::rngs::OsRng;
    let round1 = groth16::commit(&spy, &honest.ck, &z1[1..], rng).unwrap();
    w.seed = groth16::challenge(&round1.d, &public_inputs(&c.graph, c.id, F::zero(), &w));
    w.messages = stage1::seeded_messages(&c.graph, c.id, &trace, w.seed);
    let z = groth16::assignment(circuit(&c, &w, Part::All)).unwrap();
    let proof = groth16::prove_two_round(&spy, &honest.ck, &honest.r1cs, &z, &round1, rng).unwrap();
    let leaked = proof.proof.a.into_group() - spy.vk.alpha_g1;
    let m = 1u64 << bits;
    let mut baby = Vec::with_capacity(m as usize);
    let mut acc = G1Projective::zero();
    for _ in 0..m {
        baby.push(acc);
        acc += g;
    }
    let table: HashMap<G1Affine, u64> = G1Projective::normalize_batch(&baby).into_iter().zip(0..).collect();
    let giant = g * F::from(m);
    let mut rest = leaked;
    let k = (0..m)
        .find_map(|i| {
            let hit = table.get(&rest.into_affine()).map(|j| i * m + j);
            rest -= giant;
            hit
        })
        .expect("A encodes the two values");
    let read = |i: usize| (k >> (i * bits) & ((1 << bits) - 1)) as i64 - off;
    assert_eq!([read(0), read(1)], [q[0], q[1]], "the supplier reads the private input off the proof");

    // The wrap withholds the proof: it does not verify under the key's own verifying key.
    let spy_key = two_round::ProverKey { pk: spy.clone(), ck: honest.ck.clone(), r1cs: honest.r1cs.clone() };
    let err =
        two_round::prove(&spy_key, &c.graph, c.id, F::zero(), [F::zero(); 2], &trace, rng).map(|_| ()).unwrap_err();
    assert!(matches!(err, WrapError::KeyRejectsItsProof), "{err}");

    // Shipped in the directory, with vk.json's digest updated: refused on read, nothing written.
    supply(&dir, &spy, &honest.ck);
    let out = tmp.path().join("p.bin");
    let (ok, log) = prove_cli(&dir, &out, &[]);
    assert!(!ok && log.contains("pk.bin") && log.contains("δ·G1 is the identity"), "{log}");
    assert!(!out.exists() && !artifact::output_path(&out).exists(), "nothing written");

    // The same chosen bases with δ·G1 left alone: A is blinded, the key reads as well formed, and
    // the proof it makes does not verify, so the CLI withholds it.
    let mut chosen = honest.pk.clone();
    chosen.a_query.clone_from(&spy.a_query);
    supply(&dir, &chosen, &honest.ck);
    assert!(artifact::read_prover_keys(&dir, None).is_ok());
    let (ok, log) = prove_cli(&dir, &out, &[]);
    assert!(!ok && log.contains("proof is withheld"), "{log}");
    assert!(!out.exists(), "nothing written");

    // A base off the curve (the supplier could pick points of a weak curve): refused on read.
    let mut bad = honest.pk.clone();
    let p = bad.a_query[first];
    bad.a_query[first] = G1Affine::new_unchecked(p.x, p.y + ark_bn254::Fq::ONE);
    supply(&dir, &bad, &honest.ck);
    let (ok, log) = prove_cli(&dir, &out, &[]);
    assert!(!ok && log.contains(&format!("point {first} of its A query is not on BN254's G1")), "{log}");

    // The honest key again: proved, verified, written.
    supply(&dir, &honest.pk, &honest.ck);
    let (ok, log) = prove_cli(&dir, &out, &[]);
    assert!(ok && out.exists(), "{log}");
}

/// `check_hiding` on keys whose δ would not blind: either δ the identity is refused.
#[test]
fn check_hiding_refuses_an_identity_delta() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = private_input_model(tmp.path(), "m", "5");
    let key = artifact::read_prover_keys(&dir, None).unwrap();
    groth16::check_hiding(&key.pk).unwrap();
    let mut pk = key.pk.clone();
    pk.vk.delta_g2 = ark_bn254::G2Affine::zero();
    let err = groth16::check_hiding(&pk).unwrap_err().to_string();
    assert!(err.contains("δ·G2 is the identity"), "{err}");
}

/// `--vk-digest` pins vk.bin; the digest `zkml setup` and `zkml prove` print is vk.json's; a
/// vk.bin from another setup is refused even with its digest recorded.
#[test]
fn vk_digest_pins_the_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = private_input_model(tmp.path(), "m", "5");
    let digest = artifact::vk_digest(&dir).unwrap();
    assert_eq!(digest, sha3_hex(&std::fs::read(dir.join("vk.bin")).unwrap()));
    let (ok, log) = zkml(&["setup", dir.to_str().unwrap(), "--dev-seed", "5"]);
    assert!(ok && log.contains(&format!("vk.bin SHA3-256: {digest}")), "{log}");

    let out = tmp.path().join("p.bin");
    let (ok, log) = prove_cli(&dir, &out, &[]);
    assert!(ok && log.contains(&format!("SHA3-256 {digest}")) && log.contains("--vk-digest"), "{log}");
    std::fs::remove_file(&out).unwrap();
    let (ok, log) = prove_cli(&dir, &out, &["--vk-digest", &format!("0x{}", digest.to_uppercase())]);
    assert!(ok && out.exists() && !log.contains("pin it"), "{log}");
    std::fs::remove_file(&out).unwrap();

    let wrong = sha3_hex(b"another verifier");
    let (ok, log) = prove_cli(&dir, &out, &["--vk-digest", &wrong]);
    assert!(!ok && log.contains("vk.bin") && log.contains(&format!("--vk-digest gives {wrong}")), "{log}");
    assert!(!out.exists(), "nothing written");

    // Another setup's vk.bin, its digest recorded in vk.json: not pk.bin's verifying key.
    let other = private_input_model(tmp.path(), "other", "6");
    let vk = std::fs::read(other.join("vk.bin")).unwrap();
    two_round::VerifyingKey::deserialize_compressed(&vk[..]).unwrap();
    std::fs::write(dir.join("vk.bin"), &vk).unwrap();
    let json_path = dir.join("vk.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    json["sha3_256"]["vk.bin"] = sha3_hex(&vk).into();
    std::fs::write(&json_path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let (ok, log) = prove_cli(&dir, &out, &[]);
    assert!(!ok && log.contains("its verifying key is not"), "{log}");
    assert!(!out.exists(), "nothing written");
}
