//! Stage 2: the stage-1 verifier as an R1CS circuit (`circuit`), proved with Groth16 over BN254.
//! Keys are per model (its weights are constants of the circuit); the proof is 128 bytes
//! compressed (256 uncompressed, as the EVM verifier reads it).

pub mod circuit;
pub mod transcript;

use ark_bn254::Bn254;
use ark_groth16::{Groth16, Proof, ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_snark::SNARK;
use ark_std::rand::{CryptoRng, RngCore, SeedableRng, rngs::StdRng};

use crate::channel::VerifyError;
use crate::field::F;
use crate::quantize::QuantGraph;
use crate::stage1::{self, Stage1Proof};
use circuit::{Witness, WrapCircuit, public_inputs};

#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    #[error("the stage-1 proof does not verify, so there is nothing to wrap: {0}")]
    Stage1(#[from] VerifyError),
    #[error("the wrap circuit could not be built or proved: {0}")]
    Synthesis(String),
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
pub fn dev_setup(g: &QuantGraph, id: F, seed: u64) -> Result<(ProvingKey<Bn254>, VerifyingKey<Bn254>), WrapError> {
    let circuit = WrapCircuit { graph: g, id, context: F::from(0u64), witness: None };
    Groth16::<Bn254>::circuit_specific_setup(circuit, &mut StdRng::seed_from_u64(seed)).map_err(|e| WrapError::Synthesis(e.to_string()))
}

/// Wraps a stage-1 proof; refuses one the native verifier rejects. `context` is any field
/// element the caller binds into the proof (an oracle round, a request id).
pub fn prove<R: RngCore + CryptoRng>(
    pk: &ProvingKey<Bn254>,
    g: &QuantGraph,
    id: F,
    context: F,
    s1: &Stage1Proof,
    rng: &mut R,
) -> Result<WrapProof, WrapError> {
    stage1::verify(g, id, s1)?;
    let w = Witness::new(g, s1)?;
    let circuit = WrapCircuit { graph: g, id, context, witness: Some(&w) };
    let proof = Groth16::<Bn254>::prove(pk, circuit, rng).map_err(|e| WrapError::Synthesis(e.to_string()))?;
    Ok(WrapProof { proof, public_inputs: public_inputs(g, id, context, &w) })
}

/// How the public inputs are laid out: `(name, first index, count)`; the code generator and the
/// contracts read this from settings.json.
pub fn public_layout(g: &QuantGraph) -> Vec<(String, usize, usize)> {
    let n = |s: usize| crate::pack::packed_len(g.segments[s].sent_positions().len(), g.segments[s].bits);
    let (ni, no) = (n(g.input), n(g.output));
    vec![("model_id".into(), 0, 1), ("context".into(), 1, 1), ("input".into(), 2, ni), ("output".into(), 2 + ni, no)]
}

/// The quantized output a wrap proof's public inputs carry.
pub fn output_of(g: &QuantGraph, p: &WrapProof) -> Result<Vec<i64>, VerifyError> {
    let (_, start, count) = public_layout(g).pop().expect("the output is last");
    let felts = p.public_inputs.get(start..start + count).ok_or_else(|| VerifyError::Shape("too few public inputs".into()))?;
    let seg = &g.segments[g.output];
    crate::pack::unpack(felts, seg.sent_positions().len(), seg.bits, seg.signed).map_err(|e| VerifyError::AdviceRange(e.to_string()))
}

pub fn verify(vk: &VerifyingKey<Bn254>, p: &WrapProof) -> bool {
    Groth16::<Bn254>::verify(vk, &p.public_inputs, &p.proof).unwrap_or(false)
}
