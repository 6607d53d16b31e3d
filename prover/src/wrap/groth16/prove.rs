//! The prover: what it checks of a proving key someone else made (`check_hiding`,
//! `check_commit_key`), the one-round proof, and the two-round proof's commitment (round 1) and
//! finish (round 2); the witness map checks every constraint.

use ark_bn254::{Bn254, Fr as F, G1Affine, G1Projective as G1};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{FftField, Field, One, PrimeField, UniformRand};
use ark_groth16::{Proof, ProvingKey};
use ark_poly::EvaluationDomain;
use ark_std::rand::Rng;
use rayon::prelude::*;

use super::msm::msm;
use super::{CommitKey, Commitment, Groth16Error, R1cs, TwoRoundProof};

/// Checks what zero knowledge needs of a proving key someone else made, whatever its other
/// elements are (DESIGN.md, "What a key supplier can learn"): every point on its curve, so that
/// the MSMs stay in the groups; δ·G1 not the identity, so that A = X + r·δ·G1 is uniform in G1
/// (prime order); δ·G2 in G2 and not the identity, so that B = Y + s·δ·G2 is uniform in G2 once
/// the prover sees B in G2. C is then the one point the verification equation leaves, which
/// [`check_proof`](super::check_proof) makes sure of. O(points), no pairing and no subgroup check but δ·G2's.
pub fn check_hiding(pk: &ProvingKey<Bn254>) -> Result<(), Groth16Error> {
    let not_hiding = |what: String| Err(Groth16Error::NotHiding(what));
    let g1: [(&str, &[G1Affine]); 5] = [
        ("A query", &pk.a_query),
        ("B query (G1)", &pk.b_g1_query),
        ("H query", &pk.h_query),
        ("L query", &pk.l_query),
        ("public-input bases", &pk.vk.gamma_abc_g1),
    ];
    for (name, points) in g1 {
        if let Some(i) = points.par_iter().position_any(|p| !p.is_on_curve()) {
            return not_hiding(format!("point {i} of its {name} is not on BN254's G1"));
        }
    }
    if let Some(i) = pk.b_g2_query.par_iter().position_any(|p| !p.is_on_curve()) {
        return not_hiding(format!("point {i} of its B query (G2) is not on BN254's twist"));
    }
    for (name, p) in [("α·G1", pk.vk.alpha_g1), ("β·G1", pk.beta_g1), ("δ·G1", pk.delta_g1)] {
        if !p.is_on_curve() {
            return not_hiding(format!("its {name} is not on BN254's G1"));
        }
    }
    for (name, p) in [("β·G2", pk.vk.beta_g2), ("γ·G2", pk.vk.gamma_g2), ("δ·G2", pk.vk.delta_g2)] {
        if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
            return not_hiding(format!("its {name} is not in BN254's G2"));
        }
    }
    if pk.delta_g1.is_zero() {
        return not_hiding("its δ·G1 is the identity, so nothing blinds a proof's A".into());
    }
    if pk.vk.delta_g2.is_zero() {
        return not_hiding("its δ·G2 is the identity, so nothing blinds a proof's B".into());
    }
    Ok(())
}

/// [`check_hiding`]'s part for a two-round key's commitment key: its points on their curves, so
/// that D's MSM stays in G1, where δ·G1 (checked there) blinds D. With A, B and D uniform, C is
/// again the one point the equation leaves, which the prover's [`verify_two_round`](super::verify_two_round) makes sure of.
pub fn check_commit_key(ck: &CommitKey) -> Result<(), Groth16Error> {
    if let Some(i) = ck.k_query.par_iter().position_any(|p| !p.is_on_curve()) {
        return Err(Groth16Error::NotHiding(format!("point {i} of its commitment key is not on BN254's G1")));
    }
    if !ck.delta1_g1.is_on_curve() {
        return Err(Groth16Error::NotHiding("its δ₁·G1 is not on BN254's G1".into()));
    }
    if !ck.delta1_g2.is_on_curve() || !ck.delta1_g2.is_in_correct_subgroup_assuming_on_curve() {
        return Err(Groth16Error::NotHiding("its δ₁·G2 is not in BN254's G2".into()));
    }
    Ok(())
}

/// A zero-knowledge proof of the assignment `z` (fresh `r`, `s`).
pub fn prove(pk: &ProvingKey<Bn254>, r1cs: &R1cs, z: &[F], rng: &mut impl Rng) -> Result<Proof<Bn254>, Groth16Error> {
    prove_with(pk, r1cs, z, F::rand(rng), F::rand(rng))
}

/// The proof for the blinding factors `r`, `s`.
pub fn prove_with(pk: &ProvingKey<Bn254>, r1cs: &R1cs, z: &[F], r: F, s: F) -> Result<Proof<Bn254>, Groth16Error> {
    if r1cs.num_round1 > 0 {
        return Err(Groth16Error::Format(
            "the constraint system has round-1 wires: use commit and prove_two_round".into(),
        ));
    }
    prove_inner(pk, r1cs, z, r, s, None)
}

/// Commits to the round-1 wires' values (fresh blinding ρ).
pub fn commit(
    pk: &ProvingKey<Bn254>,
    ck: &CommitKey,
    values: &[F],
    rng: &mut impl Rng,
) -> Result<Commitment, Groth16Error> {
    if values.len() != ck.k_query.len() {
        return Err(Groth16Error::AssignmentLength { expected: ck.k_query.len(), got: values.len() });
    }
    let rho = F::rand(rng);
    let big: Vec<_> = values.par_iter().map(|x| x.into_bigint()).collect();
    let d = msm(&ck.k_query, &big) + pk.delta_g1 * rho;
    Ok(Commitment { d: d.into_affine(), rho, values: values.to_vec() })
}

/// Round 2: the proof of the full assignment `z`, whose round-1 wires must be the values
/// `round1` committed to (the challenges in `z` were derived from `round1.d`).
pub fn prove_two_round(
    pk: &ProvingKey<Bn254>,
    ck: &CommitKey,
    r1cs: &R1cs,
    z: &[F],
    round1: &Commitment,
    rng: &mut impl Rng,
) -> Result<TwoRoundProof, Groth16Error> {
    let (ni, k) = (r1cs.num_instance, r1cs.num_round1);
    if ck.k_query.len() != k {
        return Err(Groth16Error::KeyMismatch(format!(
            "its commitment key has {} bases, the constraint system {k} round-1 wires",
            ck.k_query.len()
        )));
    }
    if z.get(ni..ni + k) != Some(&round1.values[..]) {
        return Err(Groth16Error::Format("the assignment's round-1 wires are not the values committed to".into()));
    }
    let proof = prove_inner(pk, r1cs, z, F::rand(rng), F::rand(rng), Some((ck, round1.rho)))?;
    Ok(TwoRoundProof { proof, d: round1.d })
}

pub(super) fn prove_inner(
    pk: &ProvingKey<Bn254>,
    r1cs: &R1cs,
    z: &[F],
    r: F,
    s: F,
    round1: Option<(&CommitKey, F)>,
) -> Result<Proof<Bn254>, Groth16Error> {
    if z.len() != r1cs.num_variables() {
        return Err(Groth16Error::AssignmentLength { expected: r1cs.num_variables(), got: z.len() });
    }
    if z[0] != F::one() {
        return Err(Groth16Error::Format("the assignment's first variable must be the constant 1".into()));
    }
    r1cs.check_key(pk, round1.map(|(ck, _)| ck))?;
    // Every variable but the constant one, as the queries' tails index them.
    let big: Vec<_> = z[1..].par_iter().map(|x| x.into_bigint()).collect();
    let round2 = &big[r1cs.num_instance - 1 + r1cs.num_round1..];
    let ((h_acc, l_acc), ((a, b1), b2)) = rayon::join(
        || {
            rayon::join(
                || -> Result<G1, Groth16Error> {
                    let h: Vec<_> = quotient(r1cs, z)?.par_iter().map(|x| x.into_bigint()).collect();
                    Ok(msm(&pk.h_query, &h))
                },
                || msm(&pk.l_query, round2),
            )
        },
        || {
            rayon::join(
                || rayon::join(|| msm(&pk.a_query[1..], &big), || msm(&pk.b_g1_query[1..], &big)),
                || msm(&pk.b_g2_query[1..], &big),
            )
        },
    );
    let a = a + pk.a_query[0] + pk.vk.alpha_g1 + pk.delta_g1 * r;
    let b1 = b1 + pk.b_g1_query[0] + pk.beta_g1 + pk.delta_g1 * s;
    let b2 = b2 + pk.b_g2_query[0] + pk.vk.beta_g2 + pk.vk.delta_g2 * s;
    let mut c = a * s + b1 * r - pk.delta_g1 * (r * s) + l_acc + h_acc?;
    if let Some((ck, rho)) = round1 {
        c -= ck.delta1_g1 * rho;
    }
    Ok(Proof { a: a.into_affine(), b: b2.into_affine(), c: c.into_affine() })
}

/// The coefficients of h = (A(X)·B(X) − C(X)) / Z(X), the libsnark reduction's witness map,
/// after checking every constraint.
pub(super) fn quotient(r1cs: &R1cs, z: &[F]) -> Result<Vec<F>, Groth16Error> {
    let domain = r1cs.domain()?;
    let (n, nc) = (domain.size(), r1cs.num_constraints());
    let eval = |m: usize| r1cs.rows(m, z, n);
    let (mut a, (mut b, mut c)) = rayon::join(|| eval(0), || rayon::join(|| eval(1), || eval(2)));
    if let Some(i) = (0..nc).into_par_iter().find_first(|&i| a[i] * b[i] != c[i]) {
        return Err(Groth16Error::Unsatisfied(i));
    }
    let coset = domain.get_coset(F::GENERATOR).ok_or(Groth16Error::TooLarge)?;
    let to_coset = |v: &mut Vec<F>| {
        domain.ifft_in_place(v);
        coset.fft_in_place(v);
    };
    rayon::join(|| to_coset(&mut a), || rayon::join(|| to_coset(&mut b), || to_coset(&mut c)));
    let z_inv = domain.evaluate_vanishing_polynomial(F::GENERATOR).inverse().ok_or(Groth16Error::TooLarge)?;
    a.par_iter_mut().zip(&b).zip(&c).for_each(|((a, b), c)| *a = (*a * b - c) * z_inv);
    coset.ifft_in_place(&mut a);
    Ok(a)
}
