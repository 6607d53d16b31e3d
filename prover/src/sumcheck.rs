//! The sumcheck protocol for `Σ_x Π_j f_j(x)` over the boolean hypercube, every `f_j` multilinear.
//! Variables are bound low bit first, matching `field::eq_table`.

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use ark_ff::Zero;

use crate::field::{F, interpolate};
use crate::role::{ProtocolRole, SumcheckOutcome, VerifyError};

/// The prover's sumcheck: the factors' `tables` (each of length `2^n_vars`) folded round by
/// round; returns their values at the point as `factors`.
pub fn with_tables<R: ProtocolRole<E = F>>(
    role: &mut R,
    context: &str,
    claim: F,
    n_vars: usize,
    degree: usize,
    tables: Vec<Vec<F>>,
) -> Result<SumcheckOutcome<F>, R::Error> {
    let mut tables = Tables(tables);
    debug_assert!(tables.0.iter().all(|t| t.len() == 1 << n_vars));
    let (point, claim) = rounds(role, context, claim, n_vars, degree, &mut tables)?;
    Ok(SumcheckOutcome {
        point,
        claim,
        factors: tables.0.iter().map(|t| t.first().copied().unwrap_or_default()).collect(),
    })
}

/// A verifier's sumcheck: the rounds alone.
pub fn without_tables<R: ProtocolRole>(
    role: &mut R,
    context: &str,
    claim: R::E,
    n_vars: usize,
    degree: usize,
) -> Result<SumcheckOutcome<R::E>, R::Error> {
    let (point, claim) = rounds(role, context, claim, n_vars, degree, &mut ())?;
    Ok(SumcheckOutcome { point, claim, factors: Vec::new() })
}

/// The sumcheck's rounds under any role (`role::ProtocolRole`): each round's `degree + 1` evaluations
/// received, their first two summing to the claim, a challenge, the claim interpolated there.
/// Returns the point and the final claim. `prover` is what the proving role keeps across rounds.
#[allow(
    clippy::indexing_slicing,
    reason = "`g` holds degree + 1 ≥ 3 evaluations: every sumcheck of the protocol has degree 2 or 3"
)]
pub fn rounds<R: ProtocolRole>(
    role: &mut R,
    context: &str,
    claim: R::E,
    n_vars: usize,
    degree: usize,
    prover: &mut impl RoundProver<R::E>,
) -> Result<(Vec<R::E>, R::E), R::Error> {
    let mut claim = claim;
    let mut point = Vec::with_capacity(n_vars);
    for round in 0..n_vars {
        let mut evals: Option<Vec<F>> = None;
        let mut g = Vec::with_capacity(degree + 1);
        for k in 0..=degree {
            g.push(
                role.receive(|| evals.get_or_insert_with(|| prover.evals(degree)).get(k).copied().unwrap_or_default())?,
            );
        }
        let sum = g[0].clone() + g[1].clone();
        role.require_equal(&sum, &claim, || VerifyError::SumcheckRound { context: context.to_string(), round })?;
        let r = role.challenge()?;
        claim = interpolate(&g, &r);
        prover.bind(&r);
        point.push(r);
    }
    Ok((point, claim))
}

/// What the proving role keeps across a sumcheck's rounds: the factors' tables, whose round
/// evaluations it sends and which it binds to each challenge. The verifying roles keep nothing
/// (`()`) and never ask for evaluations.
pub trait RoundProver<E> {
    /// This round's evaluations `g(0), …, g(degree)`.
    fn evals(&mut self, degree: usize) -> Vec<F>;
    /// Binds the tables' lowest variable to the challenge `r`.
    fn bind(&mut self, r: &E);
}

impl<E> RoundProver<E> for () {
    fn evals(&mut self, degree: usize) -> Vec<F> {
        vec![F::zero(); degree + 1]
    }

    fn bind(&mut self, _: &E) {}
}

struct Tables(Vec<Vec<F>>);

impl RoundProver<F> for Tables {
    fn evals(&mut self, degree: usize) -> Vec<F> {
        round_evals(&self.0, degree)
    }

    fn bind(&mut self, r: &F) {
        for t in self.0.iter_mut() {
            fold(t, *r);
        }
    }
}

/// `g(t) = Σ_{x'} Π_j f_j(t, x')` at `t = 0..=degree`.
#[allow(clippy::indexing_slicing, reason = "the proving role's own tables, each of 2^n_vars values")]
fn round_evals(tables: &[Vec<F>], degree: usize) -> Vec<F> {
    let half = tables[0].len() / 2;
    let mut out = vec![F::zero(); degree + 1];
    let mut vals = vec![F::zero(); tables.len()];
    let mut steps = vec![F::zero(); tables.len()];
    for i in 0..half {
        for (j, t) in tables.iter().enumerate() {
            vals[j] = t[2 * i];
            steps[j] = t[2 * i + 1] - t[2 * i];
        }
        for o in out.iter_mut() {
            *o += vals.iter().product::<F>();
            for (v, s) in vals.iter_mut().zip(&steps) {
                *v += s;
            }
        }
    }
    out
}

#[allow(clippy::indexing_slicing, reason = "i < half: 2i + 1 < the table's length")]
fn fold(t: &mut Vec<F>, r: F) {
    let half = t.len() / 2;
    for i in 0..half {
        let (a, b) = (t[2 * i], t[2 * i + 1]);
        t[i] = a + r * (b - a);
    }
    t.truncate(half);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Channel;
    use crate::field::{fe, mle_eval};
    use crate::role::ProtocolRole;
    use crate::transcript::Transcript;

    fn sum_of_products(tables: &[Vec<F>]) -> F {
        (0..tables[0].len()).map(|i| tables.iter().map(|t| t[i]).product::<F>()).sum()
    }

    fn tables() -> Vec<Vec<F>> {
        let a: Vec<F> = (0..8).map(|i| fe(i * 3 - 5)).collect();
        let b: Vec<F> = (0..8).map(|i| fe(i * i + 1)).collect();
        let c: Vec<F> = (0..8).map(|i| fe(7 - i)).collect();
        vec![a, b, c]
    }

    #[test]
    fn honest_sumcheck_verifies_and_reduces_to_the_factors() {
        let t = tables();
        let claim = sum_of_products(&t);
        let mut p = Channel::prover(Transcript::new(b"sc"));
        let out = p.sumcheck("test", claim, 3, 3, || t.clone()).unwrap();
        for (j, tab) in t.iter().enumerate() {
            assert_eq!(out.factors[j], mle_eval(tab, &out.point));
        }
        let msgs = p.finish().unwrap();
        let mut v = Channel::verifier(Transcript::new(b"sc"), &msgs);
        let vo = v.sumcheck("test", claim, 3, 3, Vec::new).unwrap();
        assert_eq!(vo.point, out.point);
        assert_eq!(vo.claim, t.iter().map(|tab| mle_eval(tab, &vo.point)).product::<F>());
        v.finish().unwrap();
    }

    #[test]
    fn wrong_claim_is_rejected() {
        let t = tables();
        let claim = sum_of_products(&t) + fe(1);
        let mut p = Channel::prover(Transcript::new(b"sc"));
        p.sumcheck("test", claim, 3, 3, || t.clone()).unwrap();
        let msgs = p.finish().unwrap();
        let mut v = Channel::verifier(Transcript::new(b"sc"), &msgs);
        let err = v.sumcheck("test", claim, 3, 3, Vec::new).err().unwrap();
        assert!(matches!(err, VerifyError::SumcheckRound { round: 0, .. }));
    }
}
