//! Stage 2: the stage-1 verifier as an R1CS circuit (`circuit`), proved with two-round
//! (UltraGroth) Groth16 over BN254 (`two_round`): the proof commits to the model's values (D)
//! before the circuit's challenges, so the circuit neither decomposes nor absorbs them. Keys are
//! per model (its weights are constants of the circuit); a proof is A, B, C and D, 160 bytes
//! compressed (320 uncompressed, as the EVM verifier reads it).

#![warn(missing_docs)]

pub mod circuit;
pub mod groth16;
pub mod phase2;
pub mod ptau;
pub mod public;
pub mod transcript;
pub mod two_round;

use ark_bn254::Bn254;
use ark_groth16::VerifyingKey;
use groth16::Groth16Error;

/// Why a run could not be wrapped.
#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    /// A value of the run does not fit its packed slot.
    #[error("the model's values do not fit their slots, so there is nothing to wrap: {0}")]
    Trace(#[from] crate::pack::PackError),
    /// Synthesis or the Groth16 prover failed.
    #[error("the wrap circuit could not be built or proved: {0}")]
    Groth16(#[from] Groth16Error),
    /// The circuit's public inputs are not the layout's.
    #[error(
        "the witness's public inputs differ from the statement's: the circuit and its public-input layout disagree"
    )]
    PublicInputs,
    /// The proving key's proof fails its own verifying key: withheld, as it could leak the witness.
    #[error(
        "the proving key made a proof its own verifying key rejects, so the proof is withheld: a key whose \
         proofs do not verify can make them carry the witness (its supplier would read the private input \
         in them); the keys are malformed or were tampered with: run `zkml setup` again, or get them from \
         whoever ran the ceremony"
    )]
    KeyRejectsItsProof,
}

/// The kind of a Groth16 key: one-round (plain Groth16) or two-round (with the round-1
/// commitment's `[δ₁]₂`). zkml's wrap is two-round, and vk.json records it (`"scheme"`); keys of
/// the one-round wrap that zkml had before read as one-round and are refused with a message that
/// says to run the setup again. zkml-gen renders verifiers of either kind from bare key files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// Plain Groth16: A, B, C.
    OneRound,
    /// Two-round (UltraGroth) Groth16: A, B, C and the round-1 commitment D.
    TwoRound,
}

impl Scheme {
    /// The scheme of a key that has (`true`) or lacks a two-round key's round-1 material (its
    /// commitment key, or `[δ₁]₂`).
    pub fn of_key(two_round: bool) -> Self {
        if two_round { Scheme::TwoRound } else { Scheme::OneRound }
    }

    /// The public inputs a caller gives with a proof under `vk`, a key of this scheme: the key's,
    /// less a two-round key's seed (its last, which every verifier derives).
    pub fn num_public_inputs(self, vk: &VerifyingKey<Bn254>) -> usize {
        vk.gamma_abc_g1.len().saturating_sub(1 + usize::from(self == Scheme::TwoRound))
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scheme::OneRound => "one-round",
            Scheme::TwoRound => "two-round",
        })
    }
}
