//! Stage 2: the stage-1 verifier as an R1CS circuit (`circuit`), proved with Groth16 over BN254.
//! Keys are per model (its weights are constants of the circuit); the proof is 128 bytes
//! compressed (256 uncompressed, as the EVM verifier reads it).
//!
//! `two_round` is the next wrap, built beside this one: a two-round (UltraGroth) proof that
//! commits to the advice before the circuit's challenges, so the circuit neither decomposes nor
//! absorbs it. It is `zkml setup`'s default, and the key files ([`Scheme`]), the ceremony, the
//! Solidity and Cairo verifiers, the hooks and the demo take it; this one-round wrap stays
//! behind `--scheme one-round` until it is deleted.

pub mod circuit;
pub mod groth16;
pub mod phase2;
pub mod ptau;
pub mod transcript;
pub mod two_round;

use ark_bn254::Bn254;
use ark_groth16::{Proof, ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_std::rand::{CryptoRng, RngCore, SeedableRng, rngs::StdRng};
use groth16::{Groth16Error, R1cs};

use crate::channel::VerifyError;
use crate::field::F;
use crate::program::SegId;
use crate::quantize::{QuantGraph, Visibility};
use crate::stage1::{self, Stage1Proof};
use circuit::{Binding, Witness, WrapCircuit, public_inputs};

#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    #[error("the stage-1 proof does not verify, so there is nothing to wrap: {0}")]
    Stage1(#[from] VerifyError),
    #[error("the model's values do not fit their slots, so there is nothing to wrap: {0}")]
    Trace(#[from] crate::pack::PackError),
    #[error("the wrap circuit could not be built or proved: {0}")]
    Groth16(#[from] Groth16Error),
    #[error(
        "the witness's public inputs differ from the statement's: the circuit and its public-input layout disagree"
    )]
    PublicInputs,
    #[error(
        "the proving key made a proof its own verifying key rejects, so the proof is withheld: a key whose \
         proofs do not verify can make them carry the witness (its supplier would read the private input \
         in them); the keys are malformed or were tampered with: run `zkml setup` again, or get them from \
         whoever ran the ceremony"
    )]
    KeyRejectsItsProof,
}

/// Which wrap a model's keys and proofs are for; vk.json records it (`"scheme"`; keys that do
/// not record it are one-round: they predate the field). `zkml setup` makes two-round keys
/// unless asked otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// Groth16 over the circuit that decomposes and absorbs the advice (`prove`): the earlier
    /// wrap, three times the constraints.
    #[default]
    OneRound,
    /// Two-round (UltraGroth) Groth16, the advice committed in D before the circuit's challenges
    /// (`two_round`): a circuit a third the size, which every verifier, hook and the demo take.
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

/// What proving needs, made together at setup: the proving key and the circuit's matrices (a
/// proof then only computes the witness).
pub struct ProverKey {
    pub pk: ProvingKey<Bn254>,
    pub r1cs: R1cs,
}

/// A Groth16 proof with the public inputs it proves: `[model id, context, packed input…,
/// packed output…]` (layout in settings.json).
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct WrapProof {
    pub proof: Proof<Bn254>,
    pub public_inputs: Vec<F>,
}

/// Deterministic keys from a seed: anyone who knows the seed can forge proofs. For
/// development and tests only.
pub fn dev_setup(g: &QuantGraph, id: F, seed: u64) -> Result<(ProverKey, VerifyingKey<Bn254>), WrapError> {
    let r1cs = synthesize(g, id)?;
    let pk = groth16::setup(&r1cs, &mut StdRng::seed_from_u64(seed))?;
    let vk = pk.vk.clone();
    Ok((ProverKey { pk, r1cs }, vk))
}

/// The wrap circuit's matrices for the model `g` with id `id`: what every setup derives keys for.
pub fn synthesize(g: &QuantGraph, id: F) -> Result<R1cs, WrapError> {
    let circuit = WrapCircuit { graph: g, id, context: F::from(0u64), witness: None, binding: Binding::Absorbed };
    Ok(R1cs::synthesize(circuit)?)
}

/// Wraps a stage-1 proof; refuses one the native verifier rejects. `context` is any field
/// element the caller binds into the proof (an oracle round, a request id); `salts` salt the
/// commitments of `hashed` input and output.
pub fn prove<R: RngCore + CryptoRng>(
    key: &ProverKey,
    g: &QuantGraph,
    id: F,
    context: F,
    salts: [F; 2],
    s1: &Stage1Proof,
    rng: &mut R,
) -> Result<WrapProof, WrapError> {
    stage1::verify(g, id, s1)?;
    let w = Witness::from_proof(g, s1, salts)?;
    let z = groth16::assignment(WrapCircuit { graph: g, id, context, witness: Some(&w), binding: Binding::Absorbed })?;
    let public_inputs = public_inputs(g, id, context, &w);
    if z.get(1..key.r1cs.num_instance) != Some(&public_inputs[..]) {
        return Err(WrapError::PublicInputs);
    }
    let proof = groth16::prove(&key.pk, &key.r1cs, &z, rng)?;
    if !groth16::check_proof(&key.pk.vk, &public_inputs, &proof) {
        return Err(WrapError::KeyRejectsItsProof);
    }
    Ok(WrapProof { proof, public_inputs })
}

/// One part of the public inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicEntry {
    /// `model_id`, `context`, `input` or `output`.
    pub name: &'static str,
    pub index: usize,
    pub count: usize,
    pub kind: PublicKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PublicKind {
    Field,
    /// The segment's values, packed.
    Packed(SegId),
    /// A salted Poseidon commitment to the segment's packed values (`commit`).
    Commitment(SegId),
}

/// How the public inputs are laid out; the code generator and the contracts read it from
/// settings.json.
pub fn public_layout(g: &QuantGraph) -> Vec<PublicEntry> {
    let mut out = vec![
        PublicEntry { name: "model_id", index: 0, count: 1, kind: PublicKind::Field },
        PublicEntry { name: "context", index: 1, count: 1, kind: PublicKind::Field },
    ];
    for (name, s, v) in [("input", g.input, g.input_visibility), ("output", g.output, g.output_visibility)] {
        let index = out.last().map_or(0, |e| e.index + e.count);
        let packed = crate::pack::packed_len(g.segments[s].sent_positions().len(), g.segments[s].bits);
        match v {
            Visibility::Public => out.push(PublicEntry { name, index, count: packed, kind: PublicKind::Packed(s) }),
            Visibility::Hashed => out.push(PublicEntry { name, index, count: 1, kind: PublicKind::Commitment(s) }),
            Visibility::Private => {}
        }
    }
    out
}

pub const COMMIT_LABEL: &[u8] = b"zkml/commit/v1";

/// The commitment a `hashed` tensor publishes: Poseidon over the salt and the packed values.
pub fn commit(salt: F, packed: &[F]) -> F {
    let mut t = crate::transcript::Transcript::new(COMMIT_LABEL);
    t.absorb(&salt);
    t.absorb_slice(packed);
    t.challenge()
}

/// The quantized output a wrap proof's public inputs carry, if the output is public.
pub fn output_of(g: &QuantGraph, p: &WrapProof) -> Result<Option<Vec<i64>>, VerifyError> {
    unpacked(g, &p.public_inputs, "output")
}

/// The quantized input a wrap proof's public inputs carry, if the input is public.
pub fn input_of(g: &QuantGraph, p: &WrapProof) -> Result<Option<Vec<i64>>, VerifyError> {
    unpacked(g, &p.public_inputs, "input")
}

/// The quantized values of the public tensor `name` (`input` or `output`) in a statement's
/// public inputs, if they carry it packed (None for a hashed or private tensor).
pub fn unpacked(g: &QuantGraph, public_inputs: &[F], name: &str) -> Result<Option<Vec<i64>>, VerifyError> {
    let Some(e) = public_layout(g).into_iter().find(|e| e.name == name) else { return Ok(None) };
    let PublicKind::Packed(s) = e.kind else { return Ok(None) };
    let felts = public_inputs
        .get(e.index..e.index + e.count)
        .ok_or_else(|| VerifyError::Shape("too few public inputs".into()))?;
    let seg = &g.segments[s];
    crate::pack::unpack(felts, seg.sent_positions().len(), seg.bits, seg.signed)
        .map(Some)
        .map_err(|e| VerifyError::AdviceRange(e.to_string()))
}

pub fn verify(vk: &VerifyingKey<Bn254>, p: &WrapProof) -> bool {
    groth16::check_proof(vk, &p.public_inputs, &p.proof)
}
