//! Lookup tables and the LogUp argument, for the non-linear functions. (Ranges need no table:
//! packed values are decoded from slots exactly as wide as their range, natively, and
//! bit-decomposed in the wrap circuit.)
//!
//! Every looked-up pair `(x, y)` must appear in its table as `(t, f(t))`. With challenges α, β
//! drawn after all advice (multiplicities included) is absorbed, LogUp checks
//!   Σ_lookups 1 / (α − (x + β·y + β²·tag)) = Σ_tables Σ_t m_t / (α − (t + β·f(t) + β²·tag)).
//! Both sums are computed directly: the advice is in the clear here and a witness in the wrap,
//! so each term costs one inversion natively and one constraint in R1CS — the same order as
//! the packed-advice evaluation, which GKR over the fractions would not undercut.

use std::collections::HashMap;

use ark_ff::Zero;
use serde::{Deserialize, Serialize};

use crate::field::{F, fe};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableKind {
    /// Signed domain `[−2^(bits−1), 2^(bits−1))`, `f(t) = max(t, 0)`.
    Relu,
    /// Signed domain, `f(t) = clamp(t, lo, hi)` (bounds in quantized units).
    Clip { lo: i64, hi: i64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub kind: TableKind,
    pub bits: u32,
}

impl Table {
    pub fn len(&self) -> usize {
        1 << self.bits
    }

    /// The smallest value of the domain; entry `i` is `t = min + i`.
    pub fn min(&self) -> i64 {
        -(1i64 << (self.bits - 1))
    }

    pub fn f(&self, t: i64) -> i64 {
        match self.kind {
            TableKind::Relu => t.max(0),
            TableKind::Clip { lo, hi } => t.clamp(lo, hi),
        }
    }

    /// Index of `t` in the table, if `t` is in the domain.
    pub fn index(&self, t: i64) -> Option<usize> {
        let i = t.checked_sub(self.min())?;
        (0..self.len() as i64).contains(&i).then_some(i as usize)
    }
}

pub struct LogUpChallenges {
    pub alpha: F,
    pub beta: F,
    pub beta2: F,
}

impl LogUpChallenges {
    pub fn new(alpha: F, beta: F) -> Self {
        LogUpChallenges { alpha, beta, beta2: beta * beta }
    }

    fn denominator(&self, tag: usize, x: F, y: F) -> F {
        self.alpha - (x + self.beta * y + self.beta2 * fe(tag as i64 + 1))
    }
}

/// The two LogUp sums, or `None` when a denominator vanishes (a proof must then be rejected).
/// Equal looked-up pairs share one inverse and table rows with zero multiplicity contribute
/// nothing, so the native cost follows the distinct values, not the padded lengths.
pub fn logup_sums(
    ch: &LogUpChallenges,
    tables: &[Table],
    multiplicities: &[&[F]],
    lookups: &[(usize, &[F], &[F])],
) -> Option<(F, F)> {
    let mut counts: HashMap<(usize, F, F), u64> = HashMap::new();
    for &(tag, xs, ys) in lookups {
        for (i, &x) in xs.iter().enumerate() {
            *counts.entry((tag, x, ys[i])).or_default() += 1;
        }
    }
    let mut weights = Vec::with_capacity(counts.len());
    let mut dens = Vec::with_capacity(counts.len());
    for ((tag, x, y), n) in counts {
        weights.push(F::from(n));
        dens.push(ch.denominator(tag, x, y));
    }
    let n_lookups = dens.len();
    for ((tag, t), m) in tables.iter().enumerate().zip(multiplicities) {
        let min = t.min();
        for (i, &mi) in m.iter().enumerate().filter(|(_, m)| !m.is_zero()) {
            let v = min + i as i64;
            weights.push(mi);
            dens.push(ch.denominator(tag, fe(v), fe(t.f(v))));
        }
    }
    if dens.iter().any(|d| d.is_zero()) {
        return None;
    }
    ark_ff::batch_inversion(&mut dens);
    let dot = |r: std::ops::Range<usize>| -> F { r.map(|i| weights[i] * dens[i]).sum() };
    Some((dot(0..n_lookups), dot(n_lookups..dens.len())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::Field;

    fn run(xs: &[i64], ys: &[i64], t: &Table) -> bool {
        let mut m = vec![F::zero(); t.len()];
        for &x in xs {
            if let Some(i) = t.index(x) {
                m[i] += F::ONE;
            }
        }
        let xf: Vec<F> = xs.iter().map(|&x| fe(x)).collect();
        let yf: Vec<F> = ys.iter().map(|&y| fe(y)).collect();
        let ch = LogUpChallenges::new(fe(987654321), fe(123456789));
        let (l, r) = logup_sums(&ch, std::slice::from_ref(t), &[&m], &[(0, &xf, &yf)]).unwrap();
        l == r
    }

    #[test]
    fn relu_pairs_pass_and_wrong_outputs_fail() {
        let t = Table { kind: TableKind::Relu, bits: 4 };
        assert!(run(&[-3, 5, 0, 7], &[0, 5, 0, 7], &t));
        assert!(!run(&[-3, 5], &[-3, 5], &t));
        // Out of the domain: no multiplicity can account for it.
        assert!(!run(&[8], &[8], &t));
    }
}
