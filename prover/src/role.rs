//! The roles that run the stage-1 protocol: the native prover (computes and records each
//! message) and the native verifier (reads the messages, derives the challenges, checks), both a
//! `channel::Channel`, and the wrap circuit's verifier (`wrap::circuit`: messages are wires,
//! checks are constraints, challenges come from the in-circuit transcript). A step written
//! against `ProtocolRole` is the same step under all three, so the copies cannot drift apart (issue "One
//! protocol, three roles"); so far the sumcheck rounds (`sumcheck::rounds`) and the formulas of
//! `field.rs` (generic over `field::Elem`).

#![warn(missing_docs)]

use crate::channel::VerifyError;
use crate::field::{Elem, F};

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
}
