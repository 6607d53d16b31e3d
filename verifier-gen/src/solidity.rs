//! Solidity verifier rendering.

use ark_bn254::{Bn254, G2Affine};
use ark_groth16::VerifyingKey;
use askama::Template;

use crate::{g1_words, g2_words};

/// Contract name used when none is given.
pub const DEFAULT_CONTRACT_NAME: &str = "Groth16Verifier";

/// The gas the verifier gives each precompile call (ecAdd, ecMul, the pairing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecompileGas {
    /// All the available gas (`gas()`): works whatever the chain's precompile prices. A B on
    /// the twist but outside the prime-order subgroup (the one input the contract's own checks
    /// leave to the pairing precompile) makes the pairing fail and consume 63/64 of the gas left.
    #[default]
    #[value(name = "forward")]
    Forward,
    /// Fixed caps at EIP-1108 prices plus a margin (ecAdd 1,000, ecMul 10,000, pairing 200,000):
    /// a bad proof costs at most that, but on a chain that prices the precompiles higher every
    /// proof fails.
    #[value(name = "eip1108")]
    Eip1108,
}

#[derive(Template)]
#[template(path = "Groth16Verifier.sol", escape = "none")]
struct VerifierTemplate {
    generator_version: &'static str,
    contract_name: String,
    num_public: usize,
    has_model_id: bool,
    model_id: String,
    ic_base: (String, String),
    ic_first: usize,
    ic_table: bool,
    ic_table_hex: String,
    compact_len: usize,
    has_typed: bool,
    typed_doc: String,
    typed_params: String,
    typed_body: String,
    alpha: (String, String),
    beta: (String, String, String, String),
    gamma: (String, String, String, String),
    delta: (String, String, String, String),
    ics: Vec<(String, String)>,
    /// A two-round (UltraGroth) key: D in the proof, the seed derived, a fifth pair `(D, δ₁)`.
    two_round: bool,
    delta1: (String, String, String, String),
    challenge_tag: String,
    proof_words: usize,
    pairs: usize,
    pairing_gas: &'static str,
    /// Where the public inputs and the pairing input lie in memory (see the template).
    mem_pub: String,
    mem_pairing: String,
    /// Fixed EIP-1108 gas caps on the precompile calls ([`PrecompileGas::Eip1108`]).
    capped: bool,
    /// Why the keys are unsafe, for keys rendered anyway (`--allow-dev-keys`); empty otherwise.
    unsafe_keys: String,
}

/// Up to this many IC points (the public inputs not fixed at generation time) the linear
/// combination is unrolled, which is cheapest in gas; above it the points are a table read in a
/// loop, which is half the code per point.
const UNROLL_MAX: usize = 16;

/// EIP-170: the largest runtime code a contract may have.
pub const CODE_SIZE_LIMIT: usize = 24_576;

/// An upper bound on the runtime code of the rendered verifier, in bytes, from measured sizes:
/// the fixed part (entry points, pairing) is under 2.5 KB, an unrolled IC point costs under 130
/// bytes and a table entry 64, a typed value unrolled into the packing under 60 and a looped
/// typed tensor under 200 (`tests/it/forge.rs` and `tests/it/models.rs` check this bound against the
/// compiled code).
pub fn code_size_bound(vk: &VerifyingKey<Bn254>, layout: Option<&crate::model::ModelLayout>) -> usize {
    let ic_first = if layout.is_some() { 2 } else { 1 };
    let n = vk.gamma_abc_g1.len().saturating_sub(ic_first);
    let ics = if n <= UNROLL_MAX { 130 * n } else { 64 * n + 200 };
    let typed: usize = layout
        .map_or(0, |l| l.typed_values().map(|v| if v <= crate::model::UNROLL_VALUES_MAX { 60 * v } else { 200 }).sum());
    2_500 + ics + typed
}

/// [`code_size_bound`] for a two-round key's verifier ([`render_two_round`]): the seed's hash,
/// D's checks and the fifth pair add under 400 bytes (the seed's IC point is among `vk`'s).
pub fn two_round_code_size_bound(vk: &VerifyingKey<Bn254>, layout: Option<&crate::model::ModelLayout>) -> usize {
    code_size_bound(vk, layout) + 400
}

/// Checks that the verifier of `vk` (with `layout`, for a model) fits EIP-170's code size limit:
/// each public input not fixed at generation time costs 64 bytes of code in the IC table, so a
/// model with hundreds of public field elements cannot have an on-chain verifier. Such a model
/// should make its large tensor `hashed` (`zkml compile --input-visibility hashed`), which turns
/// it into a single public commitment.
pub fn check_code_size(
    vk: &VerifyingKey<Bn254>,
    layout: Option<&crate::model::ModelLayout>,
) -> Result<(), RenderError> {
    let bound = code_size_bound(vk, layout);
    if bound > CODE_SIZE_LIMIT {
        return Err(RenderError::CodeSize { public_inputs: vk.gamma_abc_g1.len().saturating_sub(1), bound });
    }
    Ok(())
}

/// Decimal representation of a big-endian word (Solidity accepts decimal literals of any size
/// that fits in uint256).
fn dec(word: &[u8; 32]) -> String {
    alloy_primitives::U256::from_be_bytes(*word).to_string()
}

fn g2(p: &ark_bn254::G2Affine) -> (String, String, String, String) {
    let [a, b, c, d] = g2_words(p);
    (dec(&a), dec(&b), dec(&c), dec(&d))
}

fn g1(p: &ark_bn254::G1Affine) -> (String, String) {
    let [x, y] = g1_words(p);
    (dec(&x), dec(&y))
}

/// Why a verifier cannot be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The name is no Solidity identifier.
    #[error("invalid Solidity contract name {0:?}")]
    ContractName(String),
    /// A key without the constant term's IC point.
    #[error("the verifying key has no IC points")]
    NoIcPoints,
    /// A two-round key too short to hold its seed's IC point (how many it has).
    #[error("a two-round key has an IC point for its seed: this key has {0} IC point(s)")]
    NoSeedPoint(usize),
    /// The model's public-input layout does not match the key ([`crate::model::ModelLayout::check_vk`]).
    #[error("the public-input layout does not match the verifying key: {0}")]
    Layout(#[from] crate::model::LayoutMismatch),
    /// The contract would not fit EIP-170's limit ([`check_code_size`]): its runtime code has up
    /// to `bound` bytes, about 64 per public input.
    #[error(
        "a verifier for {public_inputs} public inputs would have up to {bound} bytes of runtime code, over the \
         {limit}-byte limit of EIP-170 (about 64 bytes per public input); make the large tensors hashed \
         (`zkml compile --input-visibility hashed` / `--output-visibility hashed`): a hashed tensor is one public \
         input",
        limit = CODE_SIZE_LIMIT
    )]
    CodeSize {
        /// The key's public inputs.
        public_inputs: usize,
        /// The runtime code's bound, in bytes.
        bound: usize,
    },
    /// The template failed to render.
    #[error("rendering the verifier template: {0}")]
    Template(#[from] askama::Error),
}

/// Renders a Solidity contract named `contract_name` that verifies Groth16 proofs for `vk`,
/// forwarding the available gas to the precompiles ([`PrecompileGas::Forward`]).
///
/// The output is deterministic: the same vk and name always give the same bytes. The contract
/// exposes `verifyProof(bytes calldata proof, uint256[] calldata pubInputs) external view
/// returns (bool)`; see the crate docs for the proof layout.
///
/// # Errors
/// If `contract_name` is not a valid Solidity identifier ([`crate::ident::is_valid`]), or the
/// contract would not fit EIP-170's limit ([`check_code_size`]).
pub fn render(vk: &VerifyingKey<Bn254>, contract_name: &str) -> Result<String, RenderError> {
    render_with(vk, contract_name, None, PrecompileGas::default(), None)
}

/// Renders the verifier of a compiled model: as [`render`], plus `MODEL_ID` (public input 0 is
/// fixed to it, and its ecMul is folded into the first IC point at generation time) and the
/// typed entry point `verify(bytes proof, uint256 context, <typed public values>...)` that packs
/// values as the circuit does (see [`crate::model`]).
///
/// # Errors
/// If `contract_name` is not a valid Solidity identifier, `layout` does not match `vk`
/// ([`crate::model::ModelLayout::check_vk`]) or the contract would not fit EIP-170's limit
/// ([`check_code_size`]).
pub fn render_model(
    vk: &VerifyingKey<Bn254>,
    contract_name: &str,
    layout: &crate::model::ModelLayout,
) -> Result<String, RenderError> {
    render_with(vk, contract_name, Some(layout), PrecompileGas::default(), None)
}

/// [`render`] (`layout` = `None`) or [`render_model`], with the precompile gas policy `gas`;
/// `unsafe_keys`, for keys someone can forge proofs for, says why in the contract's NatSpec.
///
/// # Errors
/// As [`render_model`].
pub fn render_with(
    vk: &VerifyingKey<Bn254>,
    contract_name: &str,
    layout: Option<&crate::model::ModelLayout>,
    gas: PrecompileGas,
    unsafe_keys: Option<&str>,
) -> Result<String, RenderError> {
    render_key(vk, None, contract_name, layout, gas, unsafe_keys)
}

/// The verifier of a two-round (UltraGroth) key, Groth16's `vk` and `[δ₁]₂` (`zkml setup`): as
/// [`render_with`], with proofs of 10 words (A, B, C, D) and the seed, the key's
/// last public input, derived in the contract as `zkml::wrap::groth16::challenge` derives it
/// (callers give the other public inputs, and the typed entry point the model's values).
///
/// # Errors
/// As [`render_with`], and for a key with fewer than two IC points (no seed).
pub fn render_two_round(
    vk: &VerifyingKey<Bn254>,
    delta1_g2: &G2Affine,
    contract_name: &str,
    layout: Option<&crate::model::ModelLayout>,
    gas: PrecompileGas,
    unsafe_keys: Option<&str>,
) -> Result<String, RenderError> {
    if vk.gamma_abc_g1.len() < 2 {
        return Err(RenderError::NoSeedPoint(vk.gamma_abc_g1.len()));
    }
    render_key(vk, Some(delta1_g2), contract_name, layout, gas, unsafe_keys)
}

fn render_key(
    vk: &VerifyingKey<Bn254>,
    delta1_g2: Option<&G2Affine>,
    contract_name: &str,
    layout: Option<&crate::model::ModelLayout>,
    gas: PrecompileGas,
    unsafe_keys: Option<&str>,
) -> Result<String, RenderError> {
    if let Some(l) = layout {
        l.check_vk(vk, zkml::wrap::Scheme::of_key(delta1_g2.is_some()))?;
    }
    if !crate::ident::is_valid(contract_name) {
        return Err(RenderError::ContractName(contract_name.to_string()));
    }
    if vk.gamma_abc_g1.is_empty() {
        return Err(RenderError::NoIcPoints);
    }
    check_code_size(vk, layout)?;
    let ic_first = if layout.is_some() { 2 } else { 1 };
    let ic_table = vk.gamma_abc_g1.len().saturating_sub(ic_first) > UNROLL_MAX;
    let ic_table_hex = if ic_table {
        vk.gamma_abc_g1[ic_first..].iter().flat_map(g1_words).map(hex::encode).collect()
    } else {
        String::new()
    };
    let (ic_base, typed) = match layout {
        None => (vk.gamma_abc_g1[0], None),
        Some(l) => (l.ic_base(vk), Some(l.typed_entry())),
    };
    let typed = typed.unwrap_or_default();
    let two_round = delta1_g2.is_some();
    // The seed is the last IC point's input, derived: not among the inputs callers give.
    let num_public = zkml::wrap::Scheme::of_key(two_round).num_public_inputs(vk);
    let pairs = 4 + usize::from(two_round);
    // Memory from 0x80 (the free memory pointer when an entry point starts): IC_TABLE's copy
    // (its length word and the table), the seed's preimage before the public inputs (the tag
    // and D), the public inputs, the seed, the pairing input.
    let table_bytes = if ic_table { 32 + ic_table_hex.len() / 2 } else { 0 };
    let mem_pub = 0x80 + table_bytes + if two_round { 0x60 } else { 0 };
    let t = VerifierTemplate {
        generator_version: env!("CARGO_PKG_VERSION"),
        contract_name: contract_name.to_string(),
        num_public,
        has_model_id: layout.is_some(),
        model_id: layout.map(|l| l.model_id.to_string()).unwrap_or_default(),
        ic_base: g1(&ic_base),
        ic_first,
        ic_table,
        ic_table_hex,
        compact_len: num_public + 1 - ic_first,
        has_typed: layout.is_some(),
        typed_doc: typed.doc,
        typed_params: typed.params,
        typed_body: typed.body,
        alpha: g1(&vk.alpha_g1),
        beta: g2(&vk.beta_g2),
        gamma: g2(&vk.gamma_g2),
        delta: g2(&vk.delta_g2),
        ics: vk.gamma_abc_g1.iter().map(g1).collect(),
        two_round,
        delta1: delta1_g2.map(g2).unwrap_or_default(),
        challenge_tag: format!("0x{}", hex::encode(zkml::wrap::groth16::CHALLENGE_TAG)),
        proof_words: 8 + 2 * usize::from(two_round),
        pairs,
        // 45,000 + 34,000 per pair, plus a margin.
        pairing_gas: if two_round { "250_000" } else { "200_000" },
        mem_pub: format!("{mem_pub:#x}"),
        mem_pairing: format!("{:#x}", mem_pub + 32 * (num_public + usize::from(two_round))),
        capped: gas == PrecompileGas::Eip1108,
        unsafe_keys: crate::one_line(unsafe_keys.unwrap_or_default()),
    };
    Ok(t.render()?)
}
