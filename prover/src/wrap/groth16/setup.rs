//! Key generation from toxic waste (`setup`, `setup_two_round`): the dev setup's, drawn as
//! ark-groth16 draws it; the ceremony's keys come from `wrap::phase2`.

use ark_bn254::{Bn254, Fr as F, G1Projective as G1, G2Projective as G2};
use ark_ec::CurveGroup;
use ark_ec::scalar_mul::BatchMulPreprocessing;
use ark_ff::{Field, UniformRand, Zero};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::EvaluationDomain;
use ark_std::rand::Rng;
use rayon::prelude::*;

use super::{CommitKey, Groth16Error, R1cs};

/// Groth16 keys for `r1cs` (which has no round-1 wires) from `rng`'s toxic waste, drawn as
/// ark-groth16 draws it (α, β, γ, δ, the two generators, then τ), so the same rng gives
/// ark-groth16's keys.
pub fn setup(r1cs: &R1cs, rng: &mut impl Rng) -> Result<ProvingKey<Bn254>, Groth16Error> {
    match generate(r1cs, rng)? {
        (pk, None) => Ok(pk),
        (_, Some(_)) => {
            Err(Groth16Error::Format("the constraint system has round-1 wires: use setup_two_round".into()))
        }
    }
}

/// UltraGroth keys for `r1cs` and its round-1 wires: Groth16's, with the round-1 wires' bases
/// over their own δ₁ (drawn after τ) instead of in the L query.
pub fn setup_two_round(r1cs: &R1cs, rng: &mut impl Rng) -> Result<(ProvingKey<Bn254>, CommitKey), Groth16Error> {
    match generate(r1cs, rng)? {
        (pk, Some(ck)) => Ok((pk, ck)),
        (_, None) => Err(Groth16Error::Format("the constraint system has no round-1 wires: use setup".into())),
    }
}

pub(super) fn generate(
    r1cs: &R1cs,
    rng: &mut impl Rng,
) -> Result<(ProvingKey<Bn254>, Option<CommitKey>), Groth16Error> {
    let [alpha, beta, gamma, delta] = [(); 4].map(|_| F::rand(rng));
    let (g1, g2) = (G1::rand(rng), G2::rand(rng));
    let domain = r1cs.domain()?;
    let t = domain.sample_element_outside_domain(rng);
    let delta1 = (r1cs.num_round1 > 0).then(|| F::rand(rng));

    // The QAP polynomials at τ: u_i(τ), v_i(τ), w_i(τ) for every variable i.
    let lagrange = domain.evaluate_all_lagrange_coefficients(t);
    let (ni, nv) = (r1cs.num_instance, r1cs.num_variables());
    let at_tau = |m: usize| r1cs.qap(m, &lagrange);
    let (a, (b, c)) = rayon::join(|| at_tau(0), || rayon::join(|| at_tau(1), || at_tau(2)));
    drop(lagrange);

    let inv =
        |x: F| x.inverse().ok_or_else(|| Groth16Error::Format("degenerate toxic waste (γ, δ or δ₁ is zero)".into()));
    let (gamma_inv, delta_inv) = (inv(gamma)?, inv(delta)?);
    let k = |i: usize, scale: F| (beta * a[i] + alpha * b[i] + c[i]) * scale;
    let gamma_abc: Vec<F> = (0..ni).into_par_iter().map(|i| k(i, gamma_inv)).collect();
    let round2 = ni + r1cs.num_round1;
    let l: Vec<F> = (round2..nv).into_par_iter().map(|i| k(i, delta_inv)).collect();
    let round1: Vec<F> = match delta1 {
        Some(d1) => {
            let d1_inv = inv(d1)?;
            (ni..round2).into_par_iter().map(|i| k(i, d1_inv)).collect()
        }
        None => vec![],
    };
    drop(c);
    let zt_delta = domain.evaluate_vanishing_polynomial(t) * delta_inv;
    let h: Vec<F> = std::iter::successors(Some(zt_delta), |x| Some(*x * t)).take(domain.size() - 1).collect();

    let nonzero = |v: &[F]| v.par_iter().filter(|x| !x.is_zero()).count();
    let (nz_a, nz_b) = (nonzero(&a), nonzero(&b));
    let (b_g2_query, (a_query, b_g1_query, h_query, l_query, gamma_abc_g1)) = rayon::join(
        || BatchMulPreprocessing::new(g2, nz_b).batch_mul(&b),
        || {
            let table = BatchMulPreprocessing::new(g1, nz_a + nz_b + nv + domain.size());
            (
                table.batch_mul(&a),
                table.batch_mul(&b),
                table.batch_mul(&h),
                table.batch_mul(&l),
                table.batch_mul(&gamma_abc),
            )
        },
    );
    let ck = delta1.map(|d1| CommitKey {
        k_query: BatchMulPreprocessing::new(g1, round1.len()).batch_mul(&round1),
        delta1_g1: (g1 * d1).into_affine(),
        delta1_g2: (g2 * d1).into_affine(),
    });
    let vk = VerifyingKey::<Bn254> {
        alpha_g1: (g1 * alpha).into_affine(),
        beta_g2: (g2 * beta).into_affine(),
        gamma_g2: (g2 * gamma).into_affine(),
        delta_g2: (g2 * delta).into_affine(),
        gamma_abc_g1,
    };
    let pk = ProvingKey {
        vk,
        beta_g1: (g1 * beta).into_affine(),
        delta_g1: (g1 * delta).into_affine(),
        a_query,
        b_g1_query,
        b_g2_query,
        h_query,
        l_query,
    };
    Ok((pk, ck))
}
