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
//!
//! What the roles' steps share is defined here too, below them all: a failed native check's
//! [`VerifyError`] and a sumcheck's [`SumcheckOutcome`]. `sumcheck`, `channel`, `stage1` and
//! `wrap::circuit` use this module; it uses none of them.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use crate::field::{Elem, F};
use crate::lookup::{LogUpChallenges, Table};

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
    /// values at the point (`sumcheck::with_tables`); a verifying role runs the rounds alone
    /// (`sumcheck::without_tables`).
    fn sumcheck(
        &mut self,
        context: &str,
        claim: Self::E,
        n_vars: usize,
        degree: usize,
        tables: impl FnOnce() -> Vec<Vec<F>>,
    ) -> Result<SumcheckOutcome<Self::E>, Self::Error>
    where
        Self: Sized;
}

/// What a sumcheck reduced its sum to.
pub struct SumcheckOutcome<E> {
    /// The random point the sum was reduced to.
    pub point: Vec<E>,
    /// The claimed value of `Π_j f_j(point)`.
    pub claim: E,
    /// Prover only: `f_j(point)` for each factor.
    pub factors: Vec<F>,
}

/// Why a stage-1 proof is rejected: what failed, and where in the protocol.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// Fewer messages than the protocol reads.
    #[error("the proof ended early: it holds fewer messages than the protocol needs")]
    Truncated,
    /// Messages left over after the protocol's last read.
    #[error("the proof holds {0} messages more than the protocol reads")]
    TrailingMessages(usize),
    /// A sumcheck round whose g(0) + g(1) is not the running claim (`context` names the sumcheck).
    #[error("sumcheck round {round} failed in {context}: g(0) + g(1) differs from the claim")]
    SumcheckRound {
        /// Which sumcheck (what it proves).
        context: String,
        /// Which of its rounds, from 0.
        round: usize,
    },
    /// A sumcheck's final claim not matching the values it reduces to (what is named).
    #[error("final check failed in {0}")]
    FinalCheck(String),
    /// A LogUp sum that does not balance, or a vanishing denominator.
    #[error("lookup argument failed: {0}")]
    Lookup(String),
    /// A sent value outside its segment's range.
    #[error("advice does not fit its declared range: {0}")]
    AdviceRange(String),
    /// A proof of another model than the one it is checked against.
    #[error("proof is for another model (model id {found}, expected {expected})")]
    ModelMismatch {
        /// The proof's model id.
        found: String,
        /// The model's.
        expected: String,
    },
    /// Counts or lengths that do not fit the model.
    #[error("the proof's shape does not match the model: {0}")]
    Shape(String),
    /// A model that is not well formed (`QuantGraph::check`): nothing can be checked against it.
    #[error("the model is malformed: {0}")]
    Model(#[from] crate::ir::GraphError),
}
