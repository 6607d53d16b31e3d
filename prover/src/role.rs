//! The roles that run the stage-1 protocol: the native prover (computes and records each
//! message) and the native verifier (reads the messages, derives the challenges, checks), both a
//! `channel::Channel`, and the wrap circuit's verifier (`wrap::circuit`: messages are wires,
//! checks are constraints, challenges come from the in-circuit transcript). A step written
//! against `ProtocolRole` is the same step under all three, so the copies cannot drift apart (issue "One
//! protocol, three roles"): the sumcheck (`sumcheck::rounds`), the claim reduction and the
//! batched evaluation (`stage1::reduce_and_batch`), and the formulas of `field.rs` (generic over
//! `field::Elem`). Where the circuit computes the same value another way (an MLE factored by rows
//! to save constraints, a product checked in one constraint), that is a method here, not a branch
//! in the protocol.

#![warn(missing_docs)]

use crate::channel::VerifyError;
use crate::field::{Elem, F};
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
