//! The readers and verifiers on bytes a fuzzer would feed them: seeded random mutations of valid
//! files (bits flipped, a run overwritten, the file cut short or extended, a 64-bit word set to a
//! huge count, one part copied over another), and random elements, counts and widths to
//! `pack::unpack`. Whatever the bytes, a reader or verifier returns an error or false, never
//! panics; and what a verifier accepts parses to the valid file's proof (a mutation can only be
//! accepted where it changes nothing the proof means). Seeded, so a failure names the iteration
//! that reproduces it; bounded, a few seconds each.

use std::panic::{AssertUnwindSafe, catch_unwind};

use ark_std::rand::{Rng, RngCore, SeedableRng, rngs::StdRng};
use zkml::artifact::{self, AnyProof};
use zkml::field::F;
use zkml::pack;
use zkml::pipeline;
use zkml::setup;
use zkml::stage1;
use zkml::wrap::groth16::R1cs;
use zkml::wrap::ptau;
use zkml::wrap::two_round;

use crate::common::{compile, compressed, input};
use crate::ptau::{POWER, rng, snarkjs_ptau};

/// One mutation of `good`, as a fuzzer makes them, and what it did.
fn mutate(good: &[u8], rng: &mut StdRng) -> (Vec<u8>, String) {
    let mut b = good.to_vec();
    let n = b.len();
    let what = match rng.gen_range(0..6) {
        0 => {
            let flips = rng.gen_range(1..=8);
            for _ in 0..flips {
                b[rng.gen_range(0..n)] ^= 1 << rng.gen_range(0..8);
            }
            format!("{flips} bits flipped")
        }
        1 => {
            let at = rng.gen_range(0..n);
            let len = rng.gen_range(1..=32).min(n - at);
            rng.fill_bytes(&mut b[at..at + len]);
            format!("{len} bytes at {at} overwritten")
        }
        2 => {
            let at = rng.gen_range(0..n);
            b.truncate(at);
            format!("cut at {at}")
        }
        3 => {
            let len = rng.gen_range(1..=64);
            b.extend((0..len).map(|_| rng.r#gen::<u8>()));
            format!("{len} bytes appended")
        }
        4 => {
            // A length or count read from the file: it must end at the end of the file, not in
            // an allocation failure or a loop over 2⁶⁴ items.
            let at = rng.gen_range(0..n.saturating_sub(8).max(1));
            let v: u64 = [u64::MAX, 1 << 40, 1 << 32, u32::MAX as u64][rng.gen_range(0..4)];
            let end = (at + 8).min(n);
            b[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
            format!("word at {at} set to {v:#x}")
        }
        _ => {
            let len = rng.gen_range(1..=64).min(n / 2).max(1);
            let (from, to) = (rng.gen_range(0..=n - len), rng.gen_range(0..=n - len));
            b.copy_within(from..from + len, to);
            format!("{len} bytes from {from} copied to {to}")
        }
    };
    (b, what)
}

/// Runs `accept` on `iterations` mutations of `good` (seed `seed`): it must never panic, and
/// where it accepts, what it returns (the accepted value, re-encoded) must be `accept(good)`'s.
fn fuzz(what: &str, good: &[u8], seed: u64, iterations: usize, accept: impl Fn(&[u8]) -> Option<Vec<u8>>) {
    let want = accept(good).unwrap_or_else(|| panic!("{what}: the valid file is refused"));
    let rng = &mut StdRng::seed_from_u64(seed);
    let (mut unchanged, mut accepted) = (0, 0);
    for i in 0..iterations {
        let (bad, how) = mutate(good, rng);
        if bad == good {
            // (a run copied over an equal one: nothing to refuse)
            unchanged += 1;
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| accept(&bad))) {
            Err(_) => panic!("{what}: mutation {i} (seed {seed}: {how}) panicked"),
            Ok(Some(got)) => {
                assert_eq!(got, want, "{what}: mutation {i} (seed {seed}: {how}) accepted as another value");
                eprintln!("{what}: mutation {i} ({how}) accepted, as the valid file's value");
                accepted += 1;
            }
            Ok(None) => {}
        }
    }
    eprintln!("{what}: {iterations} mutations, {unchanged} left the file as it was, {accepted} accepted");
}

#[test]
fn mutated_stage1_proof_files_never_panic_the_verifier() {
    let tmp = tempfile::tempdir().unwrap();
    let (c, sample) = (compile("price_mlp", tmp.path()), input("price_mlp"));
    let path = tmp.path().join("proof.bin");
    artifact::write_proof(&path, &pipeline::prove(&c, &sample).unwrap()).unwrap();
    let good = std::fs::read(&path).unwrap();
    let file = tmp.path().join("mutated.bin");
    fuzz("stage-1 proof", &good, 1, 400, |bytes| {
        std::fs::write(&file, bytes).unwrap();
        let p = artifact::read_proof(&file).ok()?;
        stage1::verify(&c.graph, c.id, &p).ok()?;
        Some(compressed(&p))
    });
}

#[test]
fn mutated_wrap_proof_files_never_panic_the_verifier() {
    let tmp = tempfile::tempdir().unwrap();
    let (c, sample) = (compile("price_mlp", tmp.path()), input("price_mlp"));
    let (pk, vk) = two_round::dev_setup(&c.graph, c.id, 1).unwrap();
    let trace = c.graph.execute(&sample).unwrap();
    let rng = &mut StdRng::seed_from_u64(2);
    let p = two_round::prove(&pk, &c.graph, c.id, F::from(9u64), [F::from(0u64); 2], &trace, rng).unwrap();
    let path = tmp.path().join("proof.bin");
    artifact::write_any_proof(&path, &AnyProof::TwoRound(p)).unwrap();
    let good = std::fs::read(&path).unwrap();
    let file = tmp.path().join("mutated.bin");
    fuzz("two-round wrap proof", &good, 2, 400, |bytes| {
        std::fs::write(&file, bytes).unwrap();
        let AnyProof::TwoRound(p) = artifact::read_any_proof(&file).ok()? else { return None };
        two_round::verify(&vk, &p).then(|| [compressed(&p.proof), compressed(&p.public_inputs)].concat())
    });
}

#[test]
fn mutated_r1cs_files_never_panic_the_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let c = compile("price_mlp", tmp.path());
    let r1cs = two_round::synthesize(&c.graph, c.id).unwrap();
    let mut good = vec![];
    r1cs.write(&mut good).unwrap();
    // Another valid system is a legal read (the keys' digests tell it from the setup's); what
    // matters is an error or a value, never a panic.
    let rng = &mut StdRng::seed_from_u64(3);
    for i in 0..60 {
        let (bad, how) = mutate(&good, rng);
        if catch_unwind(AssertUnwindSafe(|| R1cs::read(&mut &bad[..]).map(|_| ()))).is_err() {
            panic!("r1cs.bin: mutation {i} (seed 3: {how}) panicked");
        }
    }
}

/// A Powers-of-Tau file as `zkml setup --ptau` reads it (snarkjs's, with the Lagrange sections):
/// a mutation is refused or, where it touches only what the reader hashes without reading (the
/// contributions' section), read as the same powers; never a panic.
#[test]
fn mutated_ptau_files_never_panic_the_reader() {
    let good = std::fs::read(snarkjs_ptau()).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    fuzz("ptau", &good, 8, 200, |bytes| {
        std::fs::write(file.path(), bytes).unwrap();
        let p = ptau::read(file.path(), POWER, &mut rng()).ok()?;
        let l = p.lagrange.as_ref()?;
        Some(
            [
                compressed(&p.tau_g1),
                compressed(&p.tau_g2),
                compressed(&p.alpha_tau_g1),
                compressed(&p.beta_tau_g1),
                compressed(&p.beta_g2),
                compressed(&l.tau_g1),
                compressed(&l.tau_g2),
                compressed(&l.alpha_tau_g1),
                compressed(&l.beta_tau_g1),
            ]
            .concat(),
        )
    });
}

/// The key files as `zkml prove --wrap` reads them: a mutated pk.bin, r1cs.bin, vk.bin or
/// vk.json is refused (the digests vk.json records), never a panic.
#[test]
fn mutated_key_files_never_panic_the_key_reader() {
    let tmp = tempfile::tempdir().unwrap();
    compile("price_mlp", tmp.path());
    let dir = tmp.path().join("price_mlp");
    setup::dev(&dir, 1).unwrap();
    for (name, seed, iterations) in [("vk.json", 4, 40), ("vk.bin", 5, 40), ("r1cs.bin", 6, 10), ("pk.bin", 7, 10)] {
        let path = dir.join(name);
        let good = std::fs::read(&path).unwrap();
        fuzz(name, &good, seed, iterations, |bytes| {
            std::fs::write(&path, bytes).unwrap();
            let k = artifact::read_prover_keys(&dir, None).ok()?;
            Some([compressed(&k.pk), compressed(&k.ck)].concat())
        });
        std::fs::write(&path, &good).unwrap();
    }
}

/// `pack::unpack` on what a proof or a model directory could hand it: random elements (some
/// packings of random values, some not), counts and slot widths (0 and past 64 included), signed
/// or not. Never a panic; what it accepts packs back to the same elements (a packing determines
/// its values); every packing of in-range values unpacks to them.
#[test]
fn random_packings_never_panic_unpack() {
    let rng = &mut StdRng::seed_from_u64(9);
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..4000 {
        let bits: u32 = match rng.gen_range(0..4) {
            0 => rng.gen_range(0..=300),
            _ => rng.gen_range(1..=63),
        };
        let signed = rng.r#gen::<bool>();
        let len = rng.gen_range(0..=4usize);
        let felts: Vec<F> = match rng.gen_range(0..3) {
            // A packing of in-range values, when the width allows one.
            0 if (1..=63).contains(&bits) => {
                let n = len * pack::slots(bits);
                let off = if signed { 1i128 << (bits - 1) } else { 0 };
                let values: Vec<i64> = (0..n).map(|_| (rng.gen_range(0..1i128 << bits) - off) as i64).collect();
                let felts = pack::pack(&values, bits, signed).unwrap();
                assert_eq!(pack::unpack(&felts, n, bits, signed).unwrap(), values, "iteration {i}");
                felts
            }
            1 => (0..len).map(|_| F::from(rng.r#gen::<u64>() >> rng.gen_range(0..64))).collect(),
            _ => (0..len).map(|_| F::from(rng.r#gen::<u128>()) * F::from(rng.r#gen::<u128>())).collect(),
        };
        let n = match rng.gen_range(0..3) {
            0 => rng.r#gen::<usize>(),
            _ => rng.gen_range(0..=felts.len() * 256 + 2),
        };
        match catch_unwind(|| pack::unpack(&felts, n, bits, signed)) {
            Err(_) => {
                panic!("iteration {i}: unpack({} elements, n {n}, bits {bits}, signed {signed}) panicked", felts.len())
            }
            Ok(Ok(values)) => {
                assert_eq!(values.len(), n, "iteration {i}");
                assert_eq!(
                    pack::pack(&values, bits, signed).unwrap(),
                    felts,
                    "iteration {i}: accepted another packing"
                );
                accepted += 1;
            }
            Ok(Err(_)) => refused += 1,
        }
    }
    eprintln!("unpack: {accepted} accepted, {refused} refused");
}

/// Every numeric leaf and every array of a graph's JSON outside its constants' values, as JSON
/// pointers: the ids, lengths, widths and lists a malformed model.json could get wrong.
fn graph_places(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter().filter(|(k, _)| *k != "Const") {
                graph_places(x, &format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            out.push(at.to_string());
            for (i, x) in a.iter().enumerate() {
                graph_places(x, &format!("{at}/{i}"), out);
            }
        }
        serde_json::Value::Number(_) => out.push(at.to_string()),
        _ => {}
    }
}

/// A malformed model.json (ids, lengths, widths, shifts or entries changed; list items dropped or
/// repeated) with a proof that names it: the verifier refuses the model (`QuantGraph::check`) or
/// the proof, or accepts, but never panics, overflows its stack or sizes a vector past the
/// model's checked lengths. Enough of the mutations must pass the check for the protocol itself
/// to run on them.
#[test]
fn mutated_models_never_panic_the_verifier() {
    let tmp = tempfile::tempdir().unwrap();
    let (c, sample) = (compile("price_mlp", tmp.path()), input("price_mlp"));
    let good_proof = pipeline::prove(&c, &sample).unwrap();
    stage1::verify(&c.graph, c.id, &good_proof).expect("the model as compiled is well formed and its proof verifies");
    let good = serde_json::to_value(&c.graph).unwrap();
    let mut places = vec![];
    graph_places(&good, "", &mut places);
    let values: [i64; 14] = [0, 1, 2, 3, 7, 12, 27, 28, 29, 62, 63, 64, u32::MAX as i64, i64::MAX];
    const MUTATIONS: usize = 3000;
    let rng = &mut StdRng::seed_from_u64(10);
    let (mut unparsed, mut malformed, mut refused, mut accepted) = (0, 0, 0, 0);
    for i in 0..MUTATIONS {
        let mut v = good.clone();
        let mut how = vec![];
        for _ in 0..rng.gen_range(1..=3) {
            let at = &places[rng.gen_range(0..places.len())];
            match v.pointer_mut(at) {
                Some(serde_json::Value::Array(a)) if !a.is_empty() => {
                    let k = rng.gen_range(0..a.len());
                    if rng.r#gen::<bool>() {
                        a.remove(k);
                        how.push(format!("{at}/{k} removed"));
                    } else {
                        a.push(a[k].clone());
                        how.push(format!("{at}/{k} repeated"));
                    }
                }
                Some(x @ serde_json::Value::Number(_)) => {
                    let n = values[rng.gen_range(0..values.len())] - rng.gen_range(0..2);
                    *x = serde_json::json!(n);
                    how.push(format!("{at} set to {n}"));
                }
                _ => {}
            }
        }
        let Ok(g) = serde_json::from_value::<zkml::ir::QuantGraph>(v) else {
            unparsed += 1;
            continue;
        };
        let id = stage1::model_id(&g);
        let proof = stage1::Stage1Proof { model_id: id, ..good_proof.clone() };
        match catch_unwind(AssertUnwindSafe(|| stage1::verify(&g, id, &proof))) {
            Err(_) => panic!("mutation {i} ({}) panicked the verifier", how.join(", ")),
            Ok(Err(zkml::role::VerifyError::Model(_))) => malformed += 1,
            Ok(Err(_)) => refused += 1,
            Ok(Ok(_)) => accepted += 1,
        }
    }
    eprintln!(
        "model.json: {MUTATIONS} mutations, {unparsed} not a graph, {malformed} malformed, {refused} proofs refused, {accepted} accepted"
    );
    assert!(refused + accepted >= 300, "too few mutations reached the protocol: {}", refused + accepted);
}
