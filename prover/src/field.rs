//! The field, multilinear extensions and `eq` tables.
//!
//! Convention used everywhere: a vector of length `2^n` is the table of a multilinear polynomial
//! in `n` variables, index `i = Σ b_j·2^j`, and point coordinate `j` binds bit `j` (little endian).
//! A row-major tensor therefore has its last dimension in the low variables.

// Every role's formulas, the verifier's among them: no panic on any input.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use std::ops::{Add, Mul, Sub};

use ark_ff::{BigInteger, One, PrimeField, Zero};
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;

/// The scalar field of BN254: stage 1's field and the wrap circuit's.
pub type F = ark_bn254::Fr;

/// An element of either of BN254's fields as a 32-byte big-endian word: an EVM word, as
/// Solidity's `abi.encode` and `abi.encodePacked` write a `uint256` (contexts, the two-round
/// seed's preimage, calldata, the generated verifiers' constants).
pub fn word<P: PrimeField>(x: &P) -> [u8; 32] {
    be_word(x.into_bigint())
}

/// A BN254 field's modulus as a 32-byte big-endian word.
pub fn modulus_word<P: PrimeField>() -> [u8; 32] {
    be_word(P::MODULUS)
}

fn be_word(b: impl BigInteger) -> [u8; 32] {
    // Both of BN254's moduli are below 2^256: their integers are at most 32 bytes.
    let mut w = [0u8; 32];
    for (d, s) in w.iter_mut().rev().zip(b.to_bytes_be().into_iter().rev()) {
        *d = s;
    }
    w
}

/// A signed integer as a field element (negative values as `r − |v|`).
pub fn fe(v: i64) -> F {
    F::from(v)
}

/// What the protocol's arithmetic asks of its elements, so that one definition of each formula
/// serves the native prover and verifier (`F`) and the wrap circuit (`FpVar<F>`, where a product
/// of two variables is a constraint and everything else a linear combination). The generic
/// functions below are written for the circuit's count: a product by a constant or a sum costs
/// nothing there, so each formula's products are the ones it needs.
pub trait Elem:
    Clone
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Add<F, Output = Self>
    + Sub<F, Output = Self>
    + Mul<F, Output = Self>
    + std::iter::Sum
{
    /// The element for a constant (free in the circuit).
    fn lift(c: F) -> Self;

    /// Its value, where it has one: always natively, in the circuit only when proving.
    fn value(&self) -> Option<F>;
}

impl Elem for F {
    fn lift(c: F) -> F {
        c
    }

    fn value(&self) -> Option<F> {
        Some(*self)
    }
}

impl Elem for FpVar<F> {
    fn lift(c: F) -> Self {
        <Self as FieldVar<F, F>>::constant(c)
    }

    fn value(&self) -> Option<F> {
        ark_r1cs_std::GR1CSVar::value(self).ok()
    }
}

/// A point's values, for the native prover's computations in a step written for every role
/// (`role::ProtocolRole`): only the prover, whose elements are values, runs them.
pub fn values_of<T: Elem>(point: &[T]) -> Vec<F> {
    point.iter().map(|x| x.value().unwrap_or_default()).collect()
}

/// `eq(point, i)` for every `i` in `0..2^point.len()`.
pub fn eq_table<T: Elem>(point: &[T]) -> Vec<T> {
    let mut t = Vec::with_capacity(1 << point.len());
    t.push(T::lift(F::one()));
    for r in point {
        let n = t.len();
        t.resize(2 * n, T::lift(F::zero()));
        let (lo, hi) = t.split_at_mut(n);
        // From the top, as the circuit has always allocated them: its constraints keep their order.
        for (l, h) in lo.iter_mut().zip(hi).rev() {
            *h = l.clone() * r.clone();
            *l = l.clone() - h.clone();
        }
    }
    t
}

/// `eq(a, b)` for two points of the same length: `Π (2·aᵢ·bᵢ − aᵢ − bᵢ + 1)`, one product a
/// coordinate and one to accumulate.
pub fn eq_eval<T: Elem>(a: &[T], b: &[T]) -> T {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(T::lift(F::one()), |acc, (x, y)| {
        let xy = x.clone() * y.clone();
        acc * (xy.clone() + xy - x.clone() - y.clone() + F::one())
    })
}

/// `eq(point, bits of index)` for a fixed integer index.
pub fn eq_index<T: Elem>(point: &[T], index: usize) -> T {
    point.iter().enumerate().fold(T::lift(F::one()), |acc, (j, r)| {
        acc * if index >> j & 1 == 1 { r.clone() } else { T::lift(F::one()) - r.clone() }
    })
}

/// Evaluates the multilinear extension of `values` (length `2^point.len()`) at `point`.
pub fn mle_eval(values: &[F], point: &[F]) -> F {
    debug_assert_eq!(values.len(), 1 << point.len());
    dot(values, &eq_table(point))
}

/// The same for integer tables, without converting them first.
pub fn mle_eval_int(values: &[i64], point: &[F]) -> F {
    debug_assert_eq!(values.len(), 1 << point.len());
    let eq = eq_table(point);
    values.iter().zip(&eq).filter(|(v, _)| **v != 0).map(|(&v, &e)| fe(v) * e).sum()
}

/// `Σ aᵢ·bᵢ`.
pub fn dot(a: &[F], b: &[F]) -> F {
    a.iter().zip(b).map(|(x, y)| *x * y).sum()
}

/// Interpolates the polynomial through `(0, e[0]), (1, e[1]), …` and evaluates it at `x`.
pub fn interpolate<T: Elem>(evals: &[T], x: &T) -> T {
    let n = evals.len();
    let mut acc = T::lift(F::zero());
    for (i, yi) in evals.iter().enumerate() {
        let mut num = T::lift(F::one());
        let mut den = F::one();
        for j in 0..n {
            if j != i {
                num = num * (x.clone() - fe(j as i64));
                den *= fe(i as i64 - j as i64);
            }
        }
        acc = acc + yi.clone() * num * den.inverse_or_zero();
    }
    acc
}

trait InverseOrZero {
    fn inverse_or_zero(&self) -> Self;
}
impl InverseOrZero for F {
    fn inverse_or_zero(&self) -> F {
        ark_ff::Field::inverse(self).unwrap_or_default()
    }
}

/// `log₂ n` for a power of two `n`.
pub fn log2_exact(n: usize) -> u32 {
    debug_assert!(n.is_power_of_two());
    n.trailing_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq_table_matches_pointwise_eq() {
        let p = [fe(3), fe(7), fe(-2)];
        let t = eq_table(&p);
        for (i, v) in t.iter().enumerate() {
            assert_eq!(*v, eq_index(&p, i));
        }
        assert_eq!(t.iter().copied().sum::<F>(), F::one());
    }

    #[test]
    fn mle_agrees_on_the_hypercube_and_interpolates() {
        let vals: Vec<i64> = vec![5, -1, 4, 9];
        let fv: Vec<F> = vals.iter().map(|&v| fe(v)).collect();
        assert_eq!(mle_eval(&fv, &[F::one(), F::zero()]), fe(-1));
        assert_eq!(mle_eval(&fv, &[F::zero(), F::one()]), fe(4));
        let p = [fe(11), fe(-4)];
        assert_eq!(mle_eval(&fv, &p), mle_eval_int(&vals, &p));
        let poly = |x: F| x * x * fe(3) + fe(2);
        let ev: Vec<F> = (0..3).map(|i| poly(fe(i))).collect();
        assert_eq!(interpolate(&ev, &fe(10)), poly(fe(10)));
    }
}
