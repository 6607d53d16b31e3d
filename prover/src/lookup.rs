//! Lookup tables and the LogUp argument, for the non-linear functions. (Ranges need no table
//! natively: packed values are decoded from slots exactly as wide as their range. The wrap
//! circuit adds range tables of its own, `wrap::circuit::RangePlan`.)
//!
//! Every looked-up pair `(x, y)` must appear in its table as `(t, f(t))`. With challenges α, β
//! drawn after all advice (multiplicities included) is absorbed, LogUp checks
//!   Σ_lookups 1 / (α − (x + β·y + β²·tag)) = Σ_tables Σ_t m_t / (α − (t + β·f(t) + β²·tag)).
//! Both sums are computed directly: the advice is in the clear here and a witness in the wrap,
//! so each term costs one inversion natively and one constraint in R1CS — the same order as
//! the packed-advice evaluation, which GKR over the fractions would not undercut.

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use std::collections::HashMap;

use ark_ff::Zero;
use serde::{Deserialize, Serialize};

use crate::field::{Elem, F, fe};

/// What a table tabulates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TableKind {
    /// Signed domain `[−2^(bits−1), 2^(bits−1))`, `f(t) = max(t, 0)`.
    Relu,
    /// Signed domain, `f(t) = clamp(t, lo, hi)` (bounds in quantized units).
    Clip {
        /// The lower bound.
        lo: i64,
        /// The upper bound.
        hi: i64,
    },
    /// Signed domain, `f(t) = round(g(t·2^−in_scale)·2^out_scale)` saturated to the signed
    /// `bits`-bit range (NaN, as `sqrt` of a negative, gives 0). Both the native verifier and
    /// the wrap circuit compute the table's rows from this description (only rows with a
    /// non-zero multiplicity natively, every row in the circuit, as constants): the prover
    /// supplies nothing but the multiplicities.
    Func {
        /// The real function.
        g: UnaryFn,
        /// The input's scale: `t` stands for `t·2^−in_scale`.
        in_scale: i32,
        /// The output's scale.
        out_scale: i32,
    },
}

/// The real functions the lookup tables tabulate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum UnaryFn {
    /// `1/(1 + e^−x)`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
    /// `e^x`.
    Exp,
    /// `ln x`.
    Log,
    /// `√x`.
    Sqrt,
    /// `1/x`.
    Reciprocal,
    /// The error function.
    Erf,
    /// `x·Φ(x)`; with `tanh` the tanh approximation.
    Gelu {
        /// ONNX's `approximate = "tanh"`.
        tanh: bool,
    },
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x/(1 + |x|)`.
    Softsign,
    /// `x` for `x > 0`, else `α·(e^x − 1)`.
    Elu {
        /// α.
        alpha: f64,
    },
    /// `γ·x` for `x > 0`, else `γ·α·(e^x − 1)`.
    Selu {
        /// α.
        alpha: f64,
        /// γ.
        gamma: f64,
    },
    /// `clamp(α·x + β, 0, 1)`.
    HardSigmoid {
        /// α.
        alpha: f64,
        /// β.
        beta: f64,
    },
    /// `x·clamp(x/6 + 1/2, 0, 1)`.
    HardSwish,
    /// `x^p` for a constant exponent.
    Pow {
        /// The exponent.
        p: f64,
    },
    /// 1 where `x > 0` (`x ≥ 0` with `or_equal`), else 0: a comparison of `a − b` with zero.
    Step {
        /// Whether 0 maps to 1.
        or_equal: bool,
    },
}

impl UnaryFn {
    /// `g(x)`. This is the one definition of the tabulated functions, used for calibration, by
    /// the prover and by both verifiers (native, and the wrap circuit's table constants). Every
    /// transcendental is the `libm` crate's (a port of musl's libm, in Rust): the platform's
    /// libm (`f64::exp` and friends) may round differently on another system, and then two
    /// verifiers of one proof would disagree on a table row. The rest is IEEE-754 arithmetic
    /// (`+ − × ÷`, `abs`, `clamp`, correctly rounded everywhere; Rust does not fuse `a·b + c`).
    pub fn apply(&self, x: f64) -> f64 {
        use libm::{erf, exp, expm1, log, log1p, pow, sqrt, tanh};
        match *self {
            UnaryFn::Sigmoid => 1.0 / (1.0 + exp(-x)),
            UnaryFn::Tanh => tanh(x),
            UnaryFn::Exp => exp(x),
            UnaryFn::Log => log(x),
            UnaryFn::Sqrt => sqrt(x),
            UnaryFn::Reciprocal => 1.0 / x,
            UnaryFn::Erf => erf(x),
            UnaryFn::Gelu { tanh: false } => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            UnaryFn::Gelu { tanh: true } => {
                0.5 * x * (1.0 + tanh(sqrt(2.0 / std::f64::consts::PI) * (x + 0.044715 * x * x * x)))
            }
            UnaryFn::Softplus => {
                if x > 30.0 {
                    x
                } else {
                    log1p(exp(x))
                }
            }
            UnaryFn::Softsign => x / (1.0 + x.abs()),
            UnaryFn::Elu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * expm1(x)
                }
            }
            UnaryFn::Selu { alpha, gamma } => gamma * if x > 0.0 { x } else { alpha * expm1(x) },
            UnaryFn::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            UnaryFn::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            UnaryFn::Pow { p } => pow(x, p),
            UnaryFn::Step { or_equal } => f64::from(u8::from(x > 0.0 || (or_equal && x == 0.0))),
        }
    }
}

/// A lookup table: every `t` of the signed `bits`-bit domain with its image `f(t)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// What it tabulates.
    pub kind: TableKind,
    /// The domain's (and the images') width.
    pub bits: u32,
}

impl Table {
    /// Its rows, `2^bits`.
    pub fn len(&self) -> usize {
        1 << self.bits
    }

    /// The smallest value of the domain; entry `i` is `t = min + i`.
    pub fn min(&self) -> i64 {
        -(1i64 << (self.bits - 1))
    }

    /// The image of `t`, saturated to the signed `bits`-bit range.
    pub fn f(&self, t: i64) -> i64 {
        match self.kind {
            TableKind::Relu => t.max(0),
            TableKind::Clip { lo, hi } => t.clamp(lo, hi),
            TableKind::Func { g, in_scale, out_scale } => {
                // Scaling by powers of two is exact; `round` (half away from zero) is exact.
                let y = libm::scalbn(g.apply(libm::scalbn(t as f64, -in_scale)), out_scale).round();
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

/// LogUp's challenges α, β (and β²), as the role's elements: `F` natively, circuit variables in
/// the wrap.
pub struct LogUpChallenges<E = F> {
    /// α, the point the fractions' denominators are taken at.
    pub alpha: E,
    /// β, which combines a pair and its tag into one value.
    pub beta: E,
    /// β².
    pub beta2: E,
}

impl<E: Elem> LogUpChallenges<E> {
    /// The challenges α and β (β² computed: one product in the circuit).
    pub fn new(alpha: E, beta: E) -> Self {
        let beta2 = beta.clone() * beta.clone();
        LogUpChallenges { alpha, beta, beta2 }
    }

    /// The denominator of the pair `(x, y)` in the table tagged `tag`: `α − x − β·y − β²·(tag + 1)`
    /// (one product in the circuit when `y` is a variable, none when it is a constant).
    pub fn denominator(&self, tag: usize, x: E, y: E) -> E {
        self.alpha.clone() - x - self.beta.clone() * y - self.beta2.clone() * fe(tag as i64 + 1)
    }
}

/// The two LogUp sums over the looked-up pairs `(tag, x, y)` and the tables' rows `(tag,
/// multiplicity, t)`, or `None` when a denominator vanishes (a proof must then be rejected).
/// Equal looked-up pairs share one inverse and table rows with zero multiplicity contribute
/// nothing (their `f(t)` is not even computed), so the native cost follows the distinct values,
/// not the padded lengths.
pub fn logup_sums(
    ch: &LogUpChallenges,
    tables: &[Table],
    lookups: impl IntoIterator<Item = (usize, F, F)>,
    rows: impl IntoIterator<Item = (usize, F, i64)>,
) -> Option<(F, F)> {
    let mut counts: HashMap<(usize, F, F), u64> = HashMap::new();
    for key in lookups {
        *counts.entry(key).or_default() += 1;
    }
    let mut weights = Vec::with_capacity(counts.len());
    let mut dens = Vec::with_capacity(counts.len());
    for ((tag, x, y), n) in counts {
        weights.push(F::from(n));
        dens.push(ch.denominator(tag, x, y));
    }
    let n_lookups = dens.len();
    for (tag, m, t) in rows.into_iter().filter(|(_, m, _)| !m.is_zero()) {
        weights.push(m);
        dens.push(ch.denominator(tag, fe(t), fe(tables.get(tag)?.f(t))));
    }
    if dens.iter().any(|d| d.is_zero()) {
        return None;
    }
    ark_ff::batch_inversion(&mut dens);
    let terms = weights.iter().zip(&dens).map(|(w, d)| *w * d);
    Some((terms.clone().take(n_lookups).sum(), terms.skip(n_lookups).sum()))
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
        let lookups = xs.iter().zip(ys).map(|(&x, &y)| (0, fe(x), fe(y)));
        let rows = m.iter().enumerate().map(|(i, &m)| (0, m, t.min() + i as i64));
        let ch = LogUpChallenges::new(fe(987654321), fe(123456789));
        let (l, r) = logup_sums(&ch, std::slice::from_ref(t), lookups, rows).unwrap();
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
        assert_eq!(t.f(16), (64.0 / (1.0 + libm::exp(-1.0))).round() as i64);
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

    fn func(g: UnaryFn, in_scale: i32, out_scale: i32) -> Table {
        Table { kind: TableKind::Func { g, in_scale, out_scale }, bits: 12 }
    }

    const PINNED_T: [i64; 9] = [-2048, -777, -3, 0, 1, 5, 333, 1234, 2047];

    /// Rows of 12-bit function tables, pinned to known answers: `round(g(t·2^−in)·2^out)`
    /// computed independently with mpmath at 300 bits (none of these rows is within 10^−6 of a
    /// rounding tie, so any correct evaluation gives them), saturated; NaN gives 0.
    #[test]
    fn function_table_rows_match_known_answers() {
        let cases: [(UnaryFn, i32, i32, [i64; 9]); 15] = [
            (UnaryFn::Sigmoid, 8, 11, [1, 94, 1018, 1024, 1026, 1034, 1610, 2032, 2047]),
            (UnaryFn::Tanh, 9, 10, [-1023, -930, -6, 0, 2, 10, 586, 1008, 1023]),
            (UnaryFn::Exp, 8, 6, [0, 3, 63, 64, 64, 65, 235, 2047, 2047]),
            (UnaryFn::Log, 8, 8, [0, 0, 0, -2048, -1420, -1008, 67, 403, 532]),
            (UnaryFn::Sqrt, 6, 8, [0, 0, 0, 0, 32, 72, 584, 1124, 1448]),
            (UnaryFn::Reciprocal, 6, 6, [-2, -5, -1365, 2047, 2047, 819, 12, 3, 2]),
            (UnaryFn::Erf, 9, 10, [-1024, -991, -7, 0, 2, 11, 658, 1023, 1024]),
            (UnaryFn::Gelu { tanh: false }, 8, 8, [0, -1, -1, 0, 1, 3, 301, 1234, 2047]),
            (UnaryFn::Gelu { tanh: true }, 8, 8, [0, -1, -1, 0, 1, 3, 301, 1234, 2047]),
            (UnaryFn::Softplus, 8, 8, [0, 12, 176, 177, 178, 180, 395, 1236, 2047]),
            (UnaryFn::Elu { alpha: 1.5 }, 8, 9, [-768, -731, -9, 0, 2, 10, 666, 2047, 2047]),
            (UnaryFn::Pow { p: -0.5 }, 6, 9, [0, 0, 0, 2047, 2047, 1832, 224, 117, 91]),
            (UnaryFn::Pow { p: 3.0 }, 8, 4, [-2048, -447, 0, 0, 0, 0, 35, 1792, 2047]),
            (UnaryFn::Step { or_equal: false }, 8, 10, [0, 0, 0, 0, 1024, 1024, 1024, 1024, 1024]),
            (UnaryFn::Step { or_equal: true }, 8, 10, [0, 0, 0, 1024, 1024, 1024, 1024, 1024, 1024]),
        ];
        for (g, i, o, want) in cases {
            let t = func(g, i, o);
            let got: Vec<i64> = PINNED_T.iter().map(|&x| t.f(x)).collect();
            assert_eq!(got, want, "{g:?} at scales 2^{i} → 2^{o}");
        }
    }

    /// Every row of these tables, hashed: the rows come from the `libm` crate and IEEE-754
    /// arithmetic only, so this digest is the same on every platform. If it changes, a verifier
    /// built from this code disagrees with existing provers on some row: find out why (a `libm`
    /// upgrade, a changed `g`) before updating it.
    #[test]
    fn function_tables_are_the_same_everywhere() {
        use sha3::{Digest, Keccak256};
        let tables = [
            func(UnaryFn::Sigmoid, 8, 11),
            func(UnaryFn::Sigmoid, 9, 10),
            func(UnaryFn::Tanh, 9, 10),
            func(UnaryFn::Exp, 8, 6),
            func(UnaryFn::Exp, 9, 9),
            func(UnaryFn::Log, 8, 8),
            func(UnaryFn::Sqrt, 6, 8),
            func(UnaryFn::Reciprocal, 6, 6),
            func(UnaryFn::Reciprocal, 10, 3),
            func(UnaryFn::Erf, 9, 10),
            func(UnaryFn::Gelu { tanh: false }, 8, 8),
            func(UnaryFn::Gelu { tanh: true }, 8, 8),
            func(UnaryFn::Softplus, 8, 8),
            func(UnaryFn::Softsign, 8, 10),
            func(UnaryFn::Elu { alpha: 1.5 }, 8, 9),
            func(UnaryFn::Selu { alpha: 1.6732632423543772, gamma: 1.0507010221481323 }, 8, 9),
            func(UnaryFn::HardSigmoid { alpha: 0.2, beta: 0.5 }, 8, 10),
            func(UnaryFn::HardSwish, 8, 8),
            func(UnaryFn::Pow { p: -0.5 }, 6, 9),
            func(UnaryFn::Pow { p: 3.0 }, 8, 4),
            func(UnaryFn::Pow { p: 0.7 }, 7, 9),
        ];
        let mut h = Keccak256::new();
        for t in &tables {
            for x in t.min()..t.min() + t.len() as i64 {
                h.update(t.f(x).to_le_bytes());
            }
        }
        let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(digest, "58d53c0044f0f405d83e09a60dd5d794159a96eaea640cdd8bc263f1c55a2797");
    }
}
