//! The residue witness that replaces the final exponentiation in the Cairo verifier
//! (Novakovic and Eagen, "On Proving Pairings", eprint 2024/640, section 4).
//!
//! With n = p¹² − 1 and λ = 6x + 2 + p − p² + p³ (a multiple of r), a Miller-loop value F has
//! F^(n/r) = 1 (the pairing product is 1) if and only if F·w = c^λ for some c ∈ Fp12 and some w
//! in the 3-Sylow subgroup of Fp12* (order 27, so w^(n/r) = 1):
//! - if F·w = c^λ then F^(n/r) = c^(λ·n/r)·w^(−n/r) = (c^n)^(λ/r) = 1;
//! - conversely F·w is an r-th power for every such w, and one of w ∈ {1, ω, ω²} (ω a generator
//!   of the 3-Sylow subgroup, not a cube) makes it a cube too, hence a λ-th power.
//!
//! The contract gets c and the index of w, computes c^(−λ) alongside the Miller loop (the
//! squarings are shared) and checks the product is 1: a few Fp12 multiplications instead of an
//! exponentiation by (p¹² − 1)/r. [`residue_witness`] computes the hint for the prover.

use std::sync::OnceLock;

use ark_bn254::{Fq, Fq12, Fr};
use ark_ff::{BigInteger, Field, One, PrimeField};
use num_bigint::BigUint;

struct Params {
    /// (p¹² − 1)/r.
    h: BigUint,
    /// (p¹² − 1)/3.
    n3: BigUint,
    /// (λ/(3r))⁻¹ mod p¹² − 1.
    e_m: BigUint,
    /// r⁻¹ mod (p¹² − 1)/r.
    e_r: BigUint,
    /// 3⁻¹ mod s, where p¹² − 1 = 27·s.
    e_3: BigUint,
    /// 3·e_3 − 1, a multiple of s.
    j_s: BigUint,
    /// A generator of the 3-Sylow subgroup (order 27).
    omega: Fq12,
}

fn big<F: PrimeField>() -> BigUint {
    BigUint::from_bytes_le(&F::MODULUS.to_bytes_le())
}

/// λ = 6x + 2 + p − p² + p³.
pub fn lambda() -> BigUint {
    let p = big::<Fq>();
    let x = BigUint::from(<ark_bn254::Config as ark_ec::bn::BnConfig>::X[0]);
    BigUint::from(6u8) * x + 2u8 + &p + p.pow(3) - p.pow(2)
}

fn params() -> &'static Params {
    static P: OnceLock<Params> = OnceLock::new();
    P.get_or_init(|| {
        let (p, r) = (big::<Fq>(), big::<Fr>());
        let n = p.pow(12) - 1u8;
        let lambda = lambda();
        let zero = BigUint::ZERO;
        assert_eq!(&lambda % &r, zero, "r divides λ");
        let h = &n / &r;
        // 3 divides λ/r exactly once and p¹² − 1 exactly three times (BN254's parameters).
        let m = &lambda / &r;
        assert_eq!(&m % 3u8, zero);
        let m1 = &m / 3u8;
        let s = &n / 27u8;
        assert_eq!(&n % 27u8, zero);
        assert_ne!(&s % 3u8, zero, "the 3-Sylow subgroup of Fp12* has order 27");
        let e_m = m1.modinv(&n).expect("λ/(3r) is prime to p¹² − 1");
        let e_r = r.modinv(&h).expect("r² does not divide p¹² − 1");
        let e_3 = BigUint::from(3u8).modinv(&s).expect("3 is prime to s");
        let j_s = BigUint::from(3u8) * &e_3 - 1u8;
        let one = Fq12::one();
        let omega = (2u64..)
            .map(|k| {
                let mut g = Fq12::one();
                g.c1.c0.c0 = Fq::from(k);
                pow(&g, &s)
            })
            .find(|w| pow(w, &BigUint::from(9u8)) != one)
            .unwrap();
        Params { h, n3: &n / 3u8, e_m, e_r, e_3, j_s, omega }
    })
}

fn pow(f: &Fq12, e: &BigUint) -> Fq12 {
    f.pow(e.to_u64_digits())
}

/// The scaling factors w ∈ {1, ω, ω²}; the calldata names one by its index.
pub fn scaling_factors() -> [Fq12; 3] {
    let w = params().omega;
    [Fq12::one(), w, w * w]
}

/// The hint for a Miller-loop value `f`: c and the index of w with f·w = c^λ, or None when
/// f^((p¹² − 1)/r) ≠ 1 (the pairing check fails, so no hint exists).
pub fn residue_witness(f: &Fq12) -> Option<(Fq12, usize)> {
    let pr = params();
    if pow(f, &pr.h) != Fq12::one() {
        return None;
    }
    let ws = scaling_factors();
    let (k, x) = ws.iter().enumerate().map(|(k, w)| (k, *f * w)).find(|(_, x)| pow(x, &pr.n3).is_one())?;
    // x = c^(3·r·m₁): undo m₁ (invertible), then r (x is an r-th power), then take a cube root.
    let x2 = pow(&pow(&x, &pr.e_m), &pr.e_r);
    let x0 = pow(&x2, &pr.e_3);
    // x0³ = x2·t with t = x2^(3·e₃ − 1) in the 3-Sylow subgroup, a cube there: t = z³.
    let t = pow(&x2, &pr.j_s);
    let mut z = Fq12::one();
    for _ in 0..27 {
        if z * z * z == t {
            let c = x0 * z.inverse()?;
            return Some((c, k));
        }
        z *= pr.omega;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Bn254, G1Affine, G2Affine};
    use ark_ec::pairing::Pairing;
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::UniformRand;
    use ark_std::rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn witness_exists_exactly_for_pairing_products_equal_to_one() {
        let mut rng = StdRng::seed_from_u64(9);
        let a = Fr::rand(&mut rng);
        let (p, q) = (G1Affine::generator(), G2Affine::generator());
        // e(a·P, Q)·e(−P, a·Q) = 1.
        let pa = (p * a).into_affine();
        let qa = (q * a).into_affine();
        let f = Bn254::multi_miller_loop([pa, -p], [q, qa]).0;
        let (c, k) = residue_witness(&f).expect("a hint exists");
        assert_eq!(pow(&c, &lambda()), f * scaling_factors()[k]);
        // The scaling factors are killed by the final exponentiation.
        for w in scaling_factors() {
            assert!(pow(&w, &params().h).is_one());
        }
        // A product that is not 1 has no hint.
        let g = Bn254::multi_miller_loop([pa, -p], [q, q]).0;
        assert!(residue_witness(&g).is_none());
    }
}
