//! One protocol description drives both roles. The prover computes each message and records it;
//! the verifier reads the same message from the proof. Either way the message is absorbed into
//! the transcript before the next challenge is squeezed, so no challenge can precede the data it
//! depends on.

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use crate::field::{F, eq_table, fe, mle_eval_int};
use crate::lookup::{LogUpChallenges, Table, logup_sums};
use crate::role::{SumcheckOutcome, VerifyError};
use crate::sumcheck;
use crate::transcript::Transcript;

enum Side<'a> {
    Prover { messages: Vec<F> },
    Verifier { messages: &'a [F], pos: usize },
}

/// The stage-1 protocol's channel: the transcript and the messages, as the native prover
/// (recording what it computes) or the native verifier (reading the proof) runs it.
pub struct Channel<'a> {
    transcript: Transcript,
    side: Side<'a>,
}

impl<'a> Channel<'a> {
    /// The prover's side: `send` computes and records each message.
    pub fn prover(transcript: Transcript) -> Self {
        Channel { transcript, side: Side::Prover { messages: Vec::new() } }
    }

    /// The verifier's side, reading the proof's `messages` in order.
    pub fn verifier(transcript: Transcript, messages: &'a [F]) -> Self {
        Channel { transcript, side: Side::Verifier { messages, pos: 0 } }
    }

    /// Whether this is the prover's side (which computes and checks nothing).
    fn is_prover(&self) -> bool {
        matches!(self.side, Side::Prover { .. })
    }

    /// A prover message: computed by `compute` when proving, read from the proof when verifying.
    pub fn send(&mut self, compute: impl FnOnce() -> F) -> Result<F, VerifyError> {
        let v = match &mut self.side {
            Side::Prover { messages } => {
                let v = compute();
                messages.push(v);
                v
            }
            Side::Verifier { messages, pos } => {
                let v = *messages.get(*pos).ok_or(VerifyError::Truncated)?;
                *pos += 1;
                v
            }
        };
        self.transcript.absorb(&v);
        Ok(v)
    }

    /// Data both sides already hold (the statement, the advice): absorbed, never sent.
    pub fn absorb(&mut self, v: &[F]) {
        self.transcript.absorb_slice(v);
    }

    /// The next challenge from the transcript.
    pub fn challenge(&mut self) -> F {
        self.transcript.challenge()
    }

    /// A check of the protocol: fails verification; the prover does not check (a malicious prover
    /// would not either, and tests rely on the verifier alone catching a bad trace).
    pub fn check(&self, ok: bool, err: impl FnOnce() -> VerifyError) -> Result<(), VerifyError> {
        if ok || self.is_prover() { Ok(()) } else { Err(err()) }
    }

    /// The prover's messages, or an error if a verifier left some unread.
    pub fn finish(self) -> Result<Vec<F>, VerifyError> {
        match self.side {
            Side::Prover { messages } => Ok(messages),
            Side::Verifier { messages, pos } if pos == messages.len() => Ok(Vec::new()),
            Side::Verifier { messages, pos } => Err(VerifyError::TrailingMessages(messages.len() - pos)),
        }
    }
}

/// The native prover and verifier, as the protocol's steps see them.
impl crate::role::ProtocolRole for Channel<'_> {
    type E = F;
    type Error = VerifyError;

    fn receive(&mut self, compute: impl FnOnce() -> F) -> Result<F, VerifyError> {
        self.send(compute)
    }

    fn absorb(&mut self, values: &[F]) -> Result<(), VerifyError> {
        Channel::absorb(self, values);
        Ok(())
    }

    fn challenge(&mut self) -> Result<F, VerifyError> {
        Ok(Channel::challenge(self))
    }

    fn require_equal(&mut self, a: &F, b: &F, err: impl FnOnce() -> VerifyError) -> Result<(), VerifyError> {
        self.check(a == b, err)
    }

    fn require_product(&mut self, a: &F, b: &F, c: &F, err: impl FnOnce() -> VerifyError) -> Result<(), VerifyError> {
        self.check(*a * b == *c, err)
    }

    fn require_logup(
        &mut self,
        tables: &[Table],
        ch: &LogUpChallenges,
        lookups: impl Iterator<Item = (usize, F, F)>,
        rows: impl Iterator<Item = (usize, F, i64)>,
    ) -> Result<(), VerifyError> {
        if self.is_prover() {
            return Ok(());
        }
        let (lhs, rhs) = logup_sums(ch, tables, lookups, rows)
            .ok_or_else(|| VerifyError::Lookup("a denominator vanished".into()))?;
        self.check(lhs == rhs, || VerifyError::Lookup("the looked-up values are not all in their tables".into()))
    }

    fn const_mle(&mut self, c: &[i64], point: &[F]) -> Result<F, VerifyError> {
        Ok(mle_eval_int(c, point))
    }

    fn sparse_mle(&mut self, entries: &[(u32, u32, i64)], rho: &[F], xi: &[F]) -> Result<F, VerifyError> {
        if self.is_prover() {
            return Ok(F::default());
        }
        let (eq_rho, eq_xi) = (eq_table(rho), eq_table(xi));
        let term = |&(o, i, c): &(u32, u32, i64)| Some(*eq_rho.get(o as usize)? * eq_xi.get(i as usize)? * fe(c));
        // `QuantGraph::check` keeps every entry inside the map's dimensions.
        entries.iter().map(term).sum::<Option<F>>().ok_or_else(|| VerifyError::Shape("a sparse map's entry".into()))
    }

    fn mle_at(&mut self, values: impl IntoIterator<Item = (usize, F)>, point: &[F]) -> Result<F, VerifyError> {
        if self.is_prover() {
            return Ok(F::default());
        }
        let eq = eq_table(point);
        values
            .into_iter()
            .map(|(k, v)| {
                eq.get(k).map(|e| v * e).ok_or(VerifyError::Shape(format!("index {k} beyond the point's cube")))
            })
            .sum()
    }

    fn sumcheck(
        &mut self,
        context: &str,
        claim: F,
        n_vars: usize,
        degree: usize,
        tables: impl FnOnce() -> Vec<Vec<F>>,
    ) -> Result<SumcheckOutcome<F>, VerifyError> {
        if self.is_prover() {
            sumcheck::with_tables(self, context, claim, n_vars, degree, tables())
        } else {
            sumcheck::without_tables(self, context, claim, n_vars, degree)
        }
    }
}
