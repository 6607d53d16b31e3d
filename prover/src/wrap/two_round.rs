//! The wrap: the stage-1 verifier's circuit (`super::circuit`), proved with two-round
//! (UltraGroth) Groth16 (`super::groth16`). The proof commits to the advice (D) before the
//! challenge seed `c = H(tag, D, public inputs)` that the circuit's transcript starts from,
//! so the circuit neither decomposes nor absorbs the advice: its ranges are LogUp lookups. Keys
//! are per model; the proof is 160 bytes compressed (A, B, C and D).

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use ark_bn254::{Bn254, G2Affine};
use ark_groth16::ProvingKey;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_std::rand::{CryptoRng, RngCore, SeedableRng, rngs::StdRng};

use super::WrapError;
use super::circuit::{Part, Witness, WrapCircuit, public_inputs};
use super::groth16::{self, CommitKey, R1cs, TwoRoundProof};
use crate::field::F;
use crate::ir::{QuantGraph, Trace};
use crate::role::VerifyError;
use crate::stage1;

/// What proving needs, made together at setup: the proving key, the round-1 wires' commitment
/// key and the circuit's matrices (a proof then only computes the witness).
pub struct ProverKey {
    /// Groth16's proving key.
    pub pk: ProvingKey<Bn254>,
    /// The round-1 wires' commitment key.
    pub ck: CommitKey,
    /// The circuit's matrices, with the round-1 count.
    pub r1cs: R1cs,
}

impl ProverKey {
    /// The verifying key this proving key's proofs verify under.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey { groth16: self.pk.vk.clone(), delta1_g2: self.ck.delta1_g2 }
    }
}

/// A two-round verifying key: Groth16's, and `[δ₁]₂`, which the commitment D pairs with.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct VerifyingKey {
    /// Groth16's verifying key (its last IC point is the seed's).
    pub groth16: ark_groth16::VerifyingKey<Bn254>,
    /// `[δ₁]₂`, which D pairs with.
    pub delta1_g2: G2Affine,
}

impl VerifyingKey {
    /// The number of public inputs a caller gives (the seed `c`, derived, not among them).
    pub fn num_public_inputs(&self) -> usize {
        super::Scheme::TwoRound.num_public_inputs(&self.groth16)
    }
}

/// A two-round proof with the public inputs it proves: `[model id, context, packed input…,
/// packed output…]`, the layout of `super::public::layout`. The seed `c`, the circuit's last
/// public input, is not stored: every verifier derives it from D and these (`seed`).
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Proof {
    /// A, B, C and the round-1 commitment D.
    pub proof: TwoRoundProof,
    /// `[model id, context, packed input…, packed output…]`, without the seed.
    pub public_inputs: Vec<F>,
}

impl Proof {
    /// `c = keccak256(tag, D, public inputs) mod r` (`groth16::challenge`).
    pub fn seed(&self) -> F {
        groth16::challenge(&self.proof.d, &self.public_inputs)
    }
}

/// The two-round circuit of `g`: without a witness for key generation, with one for proving.
fn circuit<'a>(g: &'a QuantGraph, id: F, context: F, witness: Option<&'a Witness>, part: Part) -> WrapCircuit<'a> {
    WrapCircuit { graph: g, id, context, witness, part }
}

/// The two-round wrap circuit's matrices for the model `g` with id `id` (its round-1 wires
/// declared): what every setup derives keys for.
pub fn synthesize(g: &QuantGraph, id: F) -> Result<R1cs, WrapError> {
    let n1 = groth16::witness_count(circuit(g, id, F::from(0u64), None, Part::Round1))?;
    Ok(R1cs::synthesize(circuit(g, id, F::from(0u64), None, Part::All))?.with_round1(n1)?.oriented())
}

/// Deterministic keys from a seed: anyone who knows the seed can forge proofs. For development
/// and tests only.
pub fn dev_setup(g: &QuantGraph, id: F, seed: u64) -> Result<(ProverKey, VerifyingKey), WrapError> {
    let r1cs = synthesize(g, id)?;
    let (pk, ck) = groth16::setup_two_round(&r1cs, &mut StdRng::seed_from_u64(seed))?;
    let key = ProverKey { pk, ck, r1cs };
    let vk = key.verifying_key();
    Ok((key, vk))
}

/// Proves a model's inference from its run (`QuantGraph::execute`): commits to the advice,
/// derives the seed, runs stage 1 seeded with it and proves the circuit. `context` is any field
/// element the caller binds into the proof (an oracle round, a request id); `salts` salt the
/// commitments of `hashed` input and output. A run that is not the model's is an error naming the
/// unsatisfied constraint. The proof is returned only once it verifies under the key's verifying
/// key (`WrapError::KeyRejectsItsProof` otherwise).
pub fn prove<R: RngCore + CryptoRng>(
    key: &ProverKey,
    g: &QuantGraph,
    id: F,
    context: F,
    salts: [F; 2],
    trace: &Trace,
    rng: &mut R,
) -> Result<Proof, WrapError> {
    let mut w = Witness::from_run(g, trace.segments.clone(), salts)?;
    let z1 = groth16::assignment(circuit(g, id, context, Some(&w), Part::Round1))?;
    let round1 = groth16::commit(&key.pk, &key.ck, z1.get(1..).unwrap_or_default(), rng)?;
    let publics = public_inputs(g, id, context, &w);
    w.seed = groth16::challenge(&round1.d, &publics);
    w.messages = stage1::seeded_messages(g, id, trace, w.seed);
    let z = groth16::assignment(circuit(g, id, context, Some(&w), Part::All))?;
    let ni = key.r1cs.num_instance;
    if z.get(1..ni - 1) != Some(&publics[..]) || z.get(ni - 1) != Some(&w.seed) {
        return Err(WrapError::PublicInputs);
    }
    let proof = Proof {
        proof: groth16::prove_two_round(&key.pk, &key.ck, &key.r1cs, &z, &round1, rng)?,
        public_inputs: publics,
    };
    if !verify(&key.verifying_key(), &proof) {
        return Err(WrapError::KeyRejectsItsProof);
    }
    Ok(proof)
}

/// Checks a two-round proof: derives the seed from D and the public inputs, then the pairing
/// equation. False for any malformed proof; never panics.
pub fn verify(vk: &VerifyingKey, p: &Proof) -> bool {
    groth16::verify_two_round(&vk.groth16, &vk.delta1_g2, &p.public_inputs, &p.proof)
}

/// The quantized output a proof's public inputs carry, if the output is public.
pub fn output_of(g: &QuantGraph, p: &Proof) -> Result<Option<Vec<i64>>, VerifyError> {
    super::public::unpacked(g, &p.public_inputs, "output")
}
