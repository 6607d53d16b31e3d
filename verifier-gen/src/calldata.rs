//! Proof encoding and ABI calldata for the generated verifier.

use alloy_primitives::{Bytes, U256};
use alloy_sol_types::{SolCall, sol};
use ark_bn254::{Bn254, Fr};
use ark_groth16::Proof;
use zkml::wrap::groth16::TwoRoundProof;

use crate::{g1_words, g2_words};

sol! {
    /// The generated verifier's entry point.
    function verifyProof(bytes proof, uint256[] pubInputs) external view returns (bool);
}

/// A proof as the verifier's words: `A.x, A.y, B.x_im, B.x_re, B.y_im, B.y_re, C.x, C.y`, and
/// `D.x, D.y` for a two-round proof; big-endian. `A` is *not* negated (the contract negates it).
pub trait ProofWords {
    /// The proof's words, in the order above.
    fn words(&self) -> Vec<[u8; 32]>;
}

impl ProofWords for Proof<Bn254> {
    fn words(&self) -> Vec<[u8; 32]> {
        g1_words(&self.a).into_iter().chain(g2_words(&self.b)).chain(g1_words(&self.c)).collect()
    }
}

impl ProofWords for TwoRoundProof {
    fn words(&self) -> Vec<[u8; 32]> {
        let mut w = self.proof.words();
        w.extend(g1_words(&self.d));
        w
    }
}

/// Encodes `proof` in the verifier's layout ([`ProofWords`]): 256 bytes, 320 for a two-round
/// proof.
pub fn encode_proof(proof: &impl ProofWords) -> Vec<u8> {
    proof.words().concat()
}

/// A scalar-field element as the uint256 the contract expects.
pub fn fr_to_u256(x: &Fr) -> U256 {
    U256::from_be_bytes(zkml::field::word(x))
}

/// ABI calldata (selector included) for `verifyProof(proof, pubInputs)`.
pub fn verify_proof_calldata(proof: &impl ProofWords, public_inputs: &[Fr]) -> Vec<u8> {
    verifyProofCall {
        proof: Bytes::copy_from_slice(&encode_proof(proof)),
        pubInputs: public_inputs.iter().map(fr_to_u256).collect(),
    }
    .abi_encode()
}

/// ABI calldata of `verifyCompact(uint256[W] proof, uint256[N] inputs)`: the selector, the
/// proof's W words (8, or 10 for a two-round proof) and the public inputs after the first `skip`
/// (1 for a model verifier, whose public input 0 is its fixed model id; 0 for a bare key's).
pub fn verify_compact_calldata(proof: &impl ProofWords, public_inputs: &[Fr], skip: usize) -> Vec<u8> {
    let inputs = &public_inputs[skip.min(public_inputs.len())..];
    let words = proof.words();
    let signature = format!("verifyCompact(uint256[{}],uint256[{}])", words.len(), inputs.len());
    let mut out = alloy_primitives::keccak256(signature.as_bytes())[..4].to_vec();
    out.extend_from_slice(&words.concat());
    for x in inputs {
        out.extend_from_slice(&fr_to_u256(x).to_be_bytes::<32>());
    }
    out
}

/// The 4-byte selector of `verifyProof(bytes,uint256[])`.
pub const VERIFY_PROOF_SELECTOR: [u8; 4] = verifyProofCall::SELECTOR;
