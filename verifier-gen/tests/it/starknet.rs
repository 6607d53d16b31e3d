//! The Starknet verifier's computation run in Rust (`starknet::reference_verify`: what the
//! generated Cairo does, from the same generic code) on real proofs of both key kinds; the
//! Cairo itself runs in the starknet-harness tests.

use crate::circuits::{fixture, two_round_fixture};
use ark_bn254::{Fq, Fr, G1Affine};
use ark_ec::{AffineRepr, CurveGroup};
use zkml::wrap::groth16::TwoRoundProof;
use zkml_verifier_gen::starknet::{Hint, ProofPoints, VerifierSpec, calldata, hint, reference_verify, render};

/// Every way `proof` (valid for `inputs` under `spec`) can be changed without the computation
/// accepting it: another input, A moved, c changed, every other w index.
fn assert_only_the_proof_verifies(spec: &VerifierSpec, proof: &ProofPoints, inputs: &[Fr]) {
    let h = hint(spec, proof.clone(), inputs).unwrap();
    assert_eq!(reference_verify(spec, proof.clone(), inputs, &h), Some(inputs.to_vec()));
    let mut bad = inputs.to_vec();
    bad[1] += Fr::from(1u64);
    assert_eq!(reference_verify(spec, proof.clone(), &bad, &h), None);
    assert!(hint(spec, proof.clone(), &bad).is_err(), "an invalid proof has no hint");
    let bad_proof = ProofPoints { a: (proof.a + G1Affine::generator()).into_affine(), ..proof.clone() };
    assert_eq!(reference_verify(spec, bad_proof.clone(), inputs, &h), None);
    assert!(calldata(spec, bad_proof, inputs).is_err());
    let mut c = h.c;
    c.c1.c2.c1 += Fq::from(1u64);
    assert_eq!(reference_verify(spec, proof.clone(), inputs, &Hint { c, w_index: h.w_index }), None);
    for w_index in [(h.w_index + 1) % 3, (h.w_index + 2) % 3, 3] {
        assert_eq!(reference_verify(spec, proof.clone(), inputs, &Hint { c: h.c, w_index }), None);
    }
}

/// The computation the contract does accepts a real proof with its hint and rejects a wrong
/// input, a tampered proof and an altered hint, with and without a fixed first input; an
/// invalid proof has no hint (so no calldata).
#[test]
fn starknet_reference_computation_verifies_groth16() {
    let fx = fixture();
    for model_id in [None, Some(fx.inputs[0])] {
        let spec = VerifierSpec { vk: &fx.vk, delta1: None, model_id, unsafe_keys: None };
        assert_only_the_proof_verifies(&spec, &(&fx.proof).into(), &fx.inputs);
    }
}

/// The same for a two-round key, whose seed the computation derives from D and the inputs: a D
/// moved, another proof's D (so another seed), a D off the curve, the seed passed as an input,
/// and a one-round proof are refused; each of two proofs of one statement verifies with its own
/// D only.
#[test]
fn starknet_reference_computation_verifies_two_round_proofs() {
    let fx = two_round_fixture();
    for model_id in [None, Some(fx.inputs[0])] {
        let spec = VerifierSpec { vk: &fx.vk, delta1: Some(&fx.delta1_g2), model_id, unsafe_keys: None };
        let [p, q] = &fx.proofs;
        for proof in [p, q] {
            assert_only_the_proof_verifies(&spec, &proof.into(), &fx.inputs);
        }
        let h = hint(&spec, p, &fx.inputs).unwrap();
        let with_d = |d: G1Affine| TwoRoundProof { d, ..p.clone() };
        assert_eq!(reference_verify(&spec, &with_d((p.d + G1Affine::generator()).into_affine()), &fx.inputs, &h), None);
        assert_eq!(reference_verify(&spec, &with_d(q.d), &fx.inputs, &h), None, "another proof's D");
        assert!(hint(&spec, &with_d(q.d), &fx.inputs).is_err());
        let off_curve = G1Affine::new_unchecked(p.d.x, p.d.y + Fq::from(1u64));
        assert_eq!(reference_verify(&spec, &with_d(off_curve), &fx.inputs, &h), None, "D off the curve");
        let mut with_seed = fx.inputs.clone();
        with_seed.push(zkml::wrap::groth16::challenge(&p.d, &fx.inputs));
        assert_eq!(reference_verify(&spec, p, &with_seed, &h), None, "the seed given as an input");
        assert!(hint(&spec, &p.proof, &fx.inputs).is_err(), "a proof without D");
    }
}

#[test]
fn starknet_rendering_is_deterministic() {
    let fx = fixture();
    let spec = VerifierSpec { vk: &fx.vk, delta1: None, model_id: Some(fx.inputs[0]), unsafe_keys: None };
    let a = render(&spec).unwrap();
    assert_eq!(a, render(&spec).unwrap());
    assert!(a.iter().any(|(p, _)| p == "src/verifier.cairo"));
    let two = two_round_fixture();
    let spec = VerifierSpec { vk: &two.vk, delta1: Some(&two.delta1_g2), model_id: None, unsafe_keys: None };
    let b = render(&spec).unwrap();
    assert_eq!(b, render(&spec).unwrap());
    let src = &b.iter().find(|(p, _)| p == "src/verifier.cairo").unwrap().1;
    assert!(src.contains("DELTA1_LINES") && src.contains("fn seed("), "a two-round key's verifier derives the seed");
}
