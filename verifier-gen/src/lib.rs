//! zkml-verifier-gen: on-chain verifiers for zkml's Groth16 (stage-2) proofs over BN254.
//!
//! - [`solidity::render`] renders a self-contained Solidity verifier contract (template
//!   `templates/Groth16Verifier.sol` at the repository root) with the verifying key hard-coded.
//! - [`calldata`] encodes a proof into the contract's layout and builds the ABI calldata
//!   of `verifyProof(bytes,uint256[])` with alloy's `sol!` types.
//! - [`model`] reads a compiled model directory's public-input layout (settings.json) and
//!   renders the typed entry point `verify(...)` and its calldata.
//! - [`io`] reads verifying keys, proofs and public inputs from files.
//! - [`solc`] compiles Solidity (the generated verifier, the hooks) with one set of settings, so
//!   the runtime code hash of a generated verifier is reproducible.
//! - [`x402`] x402 v2's messages and headers, which the escrow's offer ([`hooks::payment_required`])
//!   and `zkml serve` speak.
//!
//! Proof layout (shared by the contract and the encoder, [`calldata::ProofWords`]): 8 big-endian
//! 32-byte words, `A.x, A.y, B.x_im, B.x_re, B.y_im, B.y_re, C.x, C.y`, and `D.x, D.y` after them
//! for a two-round proof ([`solidity::render_two_round`]). `A` is encoded as the prover produced it
//! (not negated): the contract negates it before the pairing check. The point at infinity is
//! encoded as all-zero coordinates, as the EIP-196/197 precompiles expect.

#![warn(missing_docs)]

pub mod calldata;
pub mod hookgen;
pub mod hooks;
pub mod ident;
pub mod io;
pub mod keys;
pub mod model;
pub mod solc;
pub mod solidity;
pub mod starknet;
pub mod x402;

use ark_bn254::{Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use zkml::field::word;

/// `text` with control characters (line breaks) as spaces: for text inside a generated comment.
pub(crate) fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A G1 point as `[x, y]` words; infinity is `[0, 0]`.
pub(crate) fn g1_words(p: &G1Affine) -> [[u8; 32]; 2] {
    match p.xy() {
        None => [[0; 32]; 2],
        Some((x, y)) => [word(&x), word(&y)],
    }
}

fn fq2_words(x: &Fq2) -> [[u8; 32]; 2] {
    // EIP-197: imaginary part (c1) first, then real part (c0).
    [word(&x.c1), word(&x.c0)]
}

/// A G2 point as `[x_im, x_re, y_im, y_re]` words (EIP-197 order); infinity is all zeros.
pub(crate) fn g2_words(p: &G2Affine) -> [[u8; 32]; 4] {
    match p.xy() {
        None => [[0; 32]; 4],
        Some((x, y)) => {
            let [a, b] = fq2_words(&x);
            let [c, d] = fq2_words(&y);
            [a, b, c, d]
        }
    }
}
