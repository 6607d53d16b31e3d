//! Phase 2 of a Groth16 setup from a ceremony's powers (`ptau`): the circuit-specific keys in
//! their initial state, as `snarkjs zkey new` makes them — γ = δ = 1 (the generators), α and β
//! the ceremony's. A key in this state is NOT safe to use: whoever knows δ = 1 can forge proofs
//! (DESIGN.md, "Stage 2"); phase-2 contributions, each replacing δ by δ·δ', make it safe once one
//! contributor destroyed their δ'. Built beside the dev setup; nothing uses it yet (the issue
//! "Production keys" has the rest).
//!
//! Every query is a linear function of the powers, so no secret is needed: with Lⱼ the domain's
//! Lagrange polynomials, Lⱼ(τ)·G = IFFT(τᵏ·G)ⱼ in G1 and G2, αLⱼ(τ)·G1 and βLⱼ(τ)·G1 from the α- and
//! β-scaled powers, and the QAP's u, v, w at τ are sums of those (`R1cs::qap`). H's points are
//! τⁱ·t(τ)·G1 = τⁿ⁺ⁱ·G1 − τⁱ·G1 (t = Xⁿ − 1, the radix-2 domain's vanishing polynomial).

// Keys from a file someone else made: no panic on any input (Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used)]

use ark_bn254::{Bn254, G1Affine, G1Projective as G1, G2Affine, G2Projective as G2};
use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::EvaluationDomain;
use rayon::prelude::*;

use super::groth16::{Groth16Error, R1cs};
use super::ptau::Powers;

/// The keys for `r1cs` in phase 2's initial state (γ = δ = 1), from `powers` of a ceremony.
pub fn initial_keys(powers: &Powers, r1cs: &R1cs) -> Result<ProvingKey<Bn254>, Groth16Error> {
    if r1cs.num_round1 > 0 {
        return Err(Groth16Error::Format("two-round keys from a ceremony are not built yet".into()));
    }
    let domain = r1cs.domain()?;
    let n = domain.size();
    if powers.tau_g2.len() < n {
        return Err(Groth16Error::Format(format!(
            "the circuit's domain has 2^{} rows; these powers are for 2^{}: read the ptau for power {}",
            domain.log_size_of_group(),
            powers.power,
            domain.log_size_of_group()
        )));
    }
    let lagrange_g1 = |points: &[G1Affine]| {
        let mut v: Vec<G1> = points[..n].par_iter().map(|p| p.into_group()).collect();
        domain.ifft_in_place(&mut v);
        v
    };
    let (l_g1, (l_alpha, l_beta)) = rayon::join(
        || lagrange_g1(&powers.tau_g1),
        || rayon::join(|| lagrange_g1(&powers.alpha_tau_g1), || lagrange_g1(&powers.beta_tau_g1)),
    );
    let mut l_g2: Vec<G2> = powers.tau_g2[..n].par_iter().map(|p| p.into_group()).collect();
    domain.ifft_in_place(&mut l_g2);

    let (a, (b, c)) = rayon::join(|| r1cs.qap(0, &l_g1), || rayon::join(|| r1cs.qap(1, &l_g1), || r1cs.qap(2, &l_g1)));
    let (beta_a, alpha_b) = rayon::join(|| r1cs.qap(0, &l_beta), || r1cs.qap(1, &l_alpha));
    let b_g2 = r1cs.qap(1, &l_g2);
    // β·u_i(τ) + α·v_i(τ) + w_i(τ), over γ = 1 for the instance variables and δ = 1 for the rest.
    let k: Vec<G1> = beta_a.par_iter().zip(&alpha_b).zip(&c).map(|((x, y), z)| *x + y + z).collect();
    let ni = r1cs.num_instance;
    let h: Vec<G1> = (0..n - 1).into_par_iter().map(|i| powers.tau_g1[n + i].into_group() - powers.tau_g1[i]).collect();

    let (alpha_g1, beta_g1) = match (powers.alpha_tau_g1.first(), powers.beta_tau_g1.first()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => return Err(Groth16Error::Format("the powers have no α·G1 or β·G1".into())),
    };
    let vk = VerifyingKey::<Bn254> {
        alpha_g1,
        beta_g2: powers.beta_g2,
        gamma_g2: G2Affine::generator(),
        delta_g2: G2Affine::generator(),
        gamma_abc_g1: G1::normalize_batch(&k[..ni]),
    };
    Ok(ProvingKey {
        vk,
        beta_g1,
        delta_g1: G1Affine::generator(),
        a_query: G1::normalize_batch(&a),
        b_g1_query: G1::normalize_batch(&b),
        b_g2_query: G2::normalize_batch(&b_g2),
        h_query: G1::normalize_batch(&h),
        l_query: G1::normalize_batch(&k[ni..]),
    })
}
