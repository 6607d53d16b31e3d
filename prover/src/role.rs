//! The roles that run the stage-1 protocol: the native prover (computes and records each
//! message) and the native verifier (reads the messages, derives the challenges, checks), both a
//! `channel::Channel`, and the wrap circuit's verifier (`wrap::circuit`: messages are wires,
//! checks are constraints, challenges come from the in-circuit transcript). A step written
//! against `ProtocolRole` is the same step under all three, so the copies cannot drift apart (issue "One
//! protocol, three roles"): the whole of `stage1::protocol` (the binding, LogUp's lookups, the
//! claim reduction, the batched evaluation), the sumcheck (`sumcheck::rounds`) and the formulas
//! of `field.rs` (generic over `field::Elem`). Where a role computes the same value or check
//! another way (an MLE factored by rows to save constraints, a product checked in one
//! constraint, LogUp's sums with shared inverses natively and with the circuit's range tables),
//! that is a method here, not a branch in the protocol.

#![warn(missing_docs)]

use crate::channel::VerifyError;
use crate::field::{Elem, F};
use crate::lookup::{LogUpChallenges, Table};
use crate::sumcheck::{SumcheckOutcome, without_tables};

/// What a role does at the protocol's steps: receive a prover message, draw a challenge, check an
/// equation. Each role implements it once; each step is written once against it.
pub trait ProtocolRole {
    /// The protocol's elements under this role: `F` natively, circuit variables in the wrap.
    type E: Elem;
    /// What a failed step returns: `VerifyError` natively, `SynthesisError` in the circuit.
    type Error;

    /// A prover message, absorbed into the transcript: `compute`d by the prover (no other role
    /// calls `compute`), read from the proof by the native verifier, a new wire in the circuit.
    fn receive(&mut self, compute: impl FnOnce() -> F) -> Result<Self::E, Self::Error>;

    /// Data the verifier holds (the statement, the advice or the seed that binds it), absorbed
    /// into the transcript, never sent.
    fn absorb(&mut self, values: &[Self::E]) -> Result<(), Self::Error>;

    /// The next challenge, squeezed from the transcript.
    fn challenge(&mut self) -> Result<Self::E, Self::Error>;

    /// The check `a = b`: the native verifier's error `err` (the prover checks nothing), a
    /// constraint in the circuit.
    fn require_equal(&mut self, a: &Self::E, b: &Self::E, err: impl FnOnce() -> VerifyError)
    -> Result<(), Self::Error>;

    /// The check `a·b = c` (one constraint in the circuit, where `a·b` and an equality cost two).
    fn require_product(
        &mut self,
        a: &Self::E,
        b: &Self::E,
        c: &Self::E,
        err: impl FnOnce() -> VerifyError,
    ) -> Result<(), Self::Error>;

    /// The MLE of a constant table at `point`.
    fn const_mle(&mut self, c: &[i64], point: &[Self::E]) -> Result<Self::E, Self::Error>;

    /// LogUp's check that every looked-up pair `(tag, x, y)` is a row of its table, given each
    /// row's multiplicity (`(tag, m, t)`: the row `(t, f(t))` of `tables[tag]`):
    /// `Σ 1/den(pair) = Σ m/den(row)`. Natively equal pairs share an inverse and empty rows are
    /// skipped; the circuit also looks up its range checks in range tables of its own and checks
    /// some ReLU tables pair by pair (`wrap::circuit::RangePlan`).
    fn require_logup(
        &mut self,
        tables: &[Table],
        ch: &LogUpChallenges<Self::E>,
        lookups: impl Iterator<Item = (usize, Self::E, Self::E)>,
        rows: impl Iterator<Item = (usize, Self::E, i64)>,
    ) -> Result<(), Self::Error>;

    // The evaluations below feed only checks: the prover, which checks nothing, may skip them
    // (natively it does where they cost time: a sparse map's, the packed segments').

    /// The MLE of a sparse map's entries `(o, i, c)` at `(rho, xi)`: `Σ c·eq(rho, o)·eq(xi, i)`.
    fn sparse_mle(
        &mut self,
        entries: &[(u32, u32, i64)],
        rho: &[Self::E],
        xi: &[Self::E],
    ) -> Result<Self::E, Self::Error>;

    /// `Σ v_k·eq(point, k)` over the given `(k, v_k)`: the MLE at `point` of a vector zero
    /// elsewhere (the batch's packed segments).
    fn mle_at(
        &mut self,
        values: impl IntoIterator<Item = (usize, Self::E)>,
        point: &[Self::E],
    ) -> Result<Self::E, Self::Error>;

    /// A sumcheck of `claim = Σ_x Π_j f_j(x)` over `n_vars` variables, a product of `degree`
    /// factors. Only a proving role calls `tables` (the factors' tables) and returns the factors'
    /// values at the point; a verifying role runs the rounds alone.
    fn sumcheck(
        &mut self,
        context: &str,
        claim: Self::E,
        n_vars: usize,
        degree: usize,
        tables: impl FnOnce() -> Vec<Vec<F>>,
    ) -> Result<SumcheckOutcome<Self::E>, Self::Error>
    where
        Self: Sized,
    {
        let _ = tables;
        without_tables(self, context, claim, n_vars, degree)
    }
}
