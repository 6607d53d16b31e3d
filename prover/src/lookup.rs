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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TableKind {
    /// Signed domain `[−2^(bits−1), 2^(bits−1))`, `f(t) = max(t, 0)`.
    Relu,
    /// Signed domain, `f(t) = clamp(t, lo, hi)` (bounds in quantized units).
    Clip { lo: i64, hi: i64 },
    /// Signed domain, `f(t) = round(g(t·2^−in_scale)·2^out_scale)` saturated to the signed
    /// `bits`-bit range (NaN, as `sqrt` of a negative, gives 0). Both the native verifier and
    /// the wrap circuit compute the table's rows from this description (only rows with a
    /// non-zero multiplicity natively, every row in the circuit, as constants): the prover
    /// supplies nothing but the multiplicities.
    Func { g: UnaryFn, in_scale: i32, out_scale: i32 },
}

/// The real functions the lookup tables tabulate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum UnaryFn {
    Sigmoid,
    Tanh,
    Exp,
    Log,
    Sqrt,
    Reciprocal,
    Erf,
    /// `x·Φ(x)`; with `tanh` the tanh approximation.
    Gelu { tanh: bool },
    Softplus,
    Softsign,
    Elu { alpha: f64 },
    Selu { alpha: f64, gamma: f64 },
    HardSigmoid { alpha: f64, beta: f64 },
    HardSwish,
    /// `x^p` for a constant exponent.
    Pow { p: f64 },
}

/// The error function (Abramowitz–Stegun 7.1.26, |error| < 1.5e−7: far below any table step).
pub fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.3275911 * x.abs());
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * (-x * x).exp();
    if x < 0.0 { -y } else { y }
}

impl UnaryFn {
    pub fn apply(&self, x: f64) -> f64 {
        match *self {
            UnaryFn::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            UnaryFn::Tanh => x.tanh(),
            UnaryFn::Exp => x.exp(),
            UnaryFn::Log => x.ln(),
            UnaryFn::Sqrt => x.sqrt(),
            UnaryFn::Reciprocal => 1.0 / x,
            UnaryFn::Erf => erf(x),
            UnaryFn::Gelu { tanh: false } => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            UnaryFn::Gelu { tanh: true } => 0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh()),
            UnaryFn::Softplus => if x > 30.0 { x } else { x.exp().ln_1p() },
            UnaryFn::Softsign => x / (1.0 + x.abs()),
            UnaryFn::Elu { alpha } => if x > 0.0 { x } else { alpha * x.exp_m1() },
            UnaryFn::Selu { alpha, gamma } => gamma * if x > 0.0 { x } else { alpha * x.exp_m1() },
            UnaryFn::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            UnaryFn::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            UnaryFn::Pow { p } => x.powf(p),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
            TableKind::Func { g, in_scale, out_scale } => {
                let y = (g.apply(t as f64 * 2f64.powi(-in_scale)) * 2f64.powi(out_scale)).round();
                let half = (1i64 << (self.bits - 1)) as f64;
                if y.is_nan() { 0 } else { y.clamp(-half, half - 1.0) as i64 }
            }
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

    #[test]
    fn function_tables_round_saturate_and_reject_other_values() {
        let t = Table { kind: TableKind::Func { g: UnaryFn::Sigmoid, in_scale: 4, out_scale: 6 }, bits: 8 };
        assert_eq!(t.f(0), 32);
        assert_eq!(t.f(16), (64.0 / (1.0 + (-1.0f64).exp())).round() as i64);
        assert_eq!(t.f(-128), 0);
        // exp(7.9) at scale 6 is far beyond the signed 8-bit range: saturated.
        let e = Table { kind: TableKind::Func { g: UnaryFn::Exp, in_scale: 4, out_scale: 6 }, bits: 8 };
        assert_eq!(e.f(127), 127);
        // NaN (sqrt of a negative) maps to 0.
        let s = Table { kind: TableKind::Func { g: UnaryFn::Sqrt, in_scale: 4, out_scale: 6 }, bits: 8 };
        assert_eq!(s.f(-5), 0);
        let xs = [0, 16, -20, 16];
        let ys: Vec<i64> = xs.iter().map(|&x| t.f(x)).collect();
        assert!(run(&xs, &ys, &t));
        let mut off = ys.clone();
        off[1] += 1;
        assert!(!run(&xs, &off, &t));
    }
}
