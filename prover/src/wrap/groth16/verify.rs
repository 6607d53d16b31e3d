//! The verifier: one-round proofs (`check_proof`) and two-round proofs (`verify_two_round`,
//! which derives the challenge seed itself: `challenge`). False for any malformed input; never
//! panics.

#![deny(clippy::indexing_slicing)]

use ark_bn254::{Bn254, Fr as F, G1Affine, G1Projective as G1, G2Affine};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::PrimeField;
use ark_groth16::{Proof, VerifyingKey};

use super::TwoRoundProof;

/// Groth16 verification: one public input per base after the first (ark-groth16's `verify`
/// zips them, so a short list would count the missing inputs as zero), A and C on G1 (a
/// deserialized proof is curve-checked; this checks it for one made in memory too), B in G2.
///
/// The prover runs it too, before anyone sees a proof: with a key [`check_hiding`](super::check_hiding) accepts, A
/// and B are uniform and independent, and C is the one point
/// `e(A, B) = e(α, β)·e(Σ xᵢ·ICᵢ, γ)·e(C, δ)` leaves, so a proof that passes says nothing about
/// the witness beyond the statement; a key made to leak (chosen bases, δ's blinding removed)
/// makes proofs that fail here.
pub fn check_proof(vk: &VerifyingKey<Bn254>, publics: &[F], proof: &Proof<Bn254>) -> bool {
    publics.len() + 1 == vk.gamma_abc_g1.len()
        && proof.a.is_on_curve()
        && proof.c.is_on_curve()
        && proof.b.is_on_curve()
        && proof.b.is_in_correct_subgroup_assuming_on_curve()
        && ark_groth16::Groth16::<Bn254>::verify_proof(&ark_groth16::prepare_verifying_key(vk), proof, publics)
            .unwrap_or(false)
}

/// Verifies a two-round proof of the statement `publics`: derives the challenge seed
/// `c = challenge(D, publics)` itself (a caller never supplies it) and checks the equation for
/// the public inputs `(publics…, c)`, with A, C and D on G1 and B in G2 (as [`check_proof`]: a
/// deserialized proof is checked already, one made in memory from a key someone else supplied
/// is not). False for any malformed input; never panics.
pub fn verify_two_round(vk: &VerifyingKey<Bn254>, delta1_g2: &G2Affine, publics: &[F], p: &TwoRoundProof) -> bool {
    let on_curve = p.proof.a.is_on_curve() && p.proof.c.is_on_curve() && p.d.is_on_curve();
    if !on_curve || !p.proof.b.is_on_curve() || !p.proof.b.is_in_correct_subgroup_assuming_on_curve() {
        return false;
    }
    let mut x = publics.to_vec();
    x.push(challenge(&p.d, publics));
    pairing_check(vk, delta1_g2, &x, p)
}

/// The two-round verification equation,
/// `e(A, B) = e(α, β) · e(Σ xᵢ·ICᵢ, γ) · e(D, δ₁) · e(C, δ)`, for the public inputs `x`, the
/// seed included.
pub(super) fn pairing_check(vk: &VerifyingKey<Bn254>, delta1_g2: &G2Affine, x: &[F], p: &TwoRoundProof) -> bool {
    use ark_ec::pairing::Pairing;
    let Some((ic0, ics)) = vk.gamma_abc_g1.split_first() else { return false };
    if x.len() != ics.len() {
        return false;
    }
    let ic = *ic0 + G1::msm_unchecked(ics, x);
    let lhs = Bn254::multi_pairing(
        [p.proof.a, (-ic).into_affine(), (-p.d.into_group()).into_affine(), (-p.proof.c.into_group()).into_affine()],
        [p.proof.b, vk.gamma_g2, *delta1_g2, vk.delta_g2],
    );
    lhs == Bn254::pairing(vk.alpha_g1, vk.beta_g2)
}

/// The domain tag the challenge seed's hash starts with (protocol and version; Solidity's
/// `bytes32("zkml/wrap/ultragroth/v1")`): a seed of this protocol is never a hash that another
/// protocol over the same words computes.
pub const CHALLENGE_TAG: [u8; 32] = *b"zkml/wrap/ultragroth/v1\0\0\0\0\0\0\0\0\0";

/// The challenge seed of a two-round proof: keccak256 over the domain tag, D's coordinates and
/// the public inputs (each a 32-byte big-endian word, as Solidity's `abi.encodePacked` of
/// `bytes32` and `uint256`s), reduced mod r. It commits to every public input, so a proof's D
/// cannot be reused for another statement.
pub fn challenge(d: &G1Affine, publics: &[F]) -> F {
    use sha3::{Digest, Keccak256};
    let mut h = Keccak256::new();
    h.update(CHALLENGE_TAG);
    let (x, y) = d.xy().unwrap_or_default();
    h.update(crate::field::word(&x));
    h.update(crate::field::word(&y));
    for p in publics {
        h.update(crate::field::word(p));
    }
    F::from_be_bytes_mod_order(&h.finalize())
}
