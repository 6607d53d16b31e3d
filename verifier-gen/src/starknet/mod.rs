//! Starknet (Cairo) Groth16 verifiers: `zkml-gen starknet DIR --out PKG` renders a Scarb package
//! (templates under `templates/starknet/`) whose contract exposes Garaga's entry point
//! `verify_groth16_proof_bn254(full_proof_with_hints: Span<felt252>) -> Option<Span<u256>>`, and
//! [`calldata`] encodes a proof for it. One-round keys and two-round (UltraGroth) keys alike
//! ([`VerifierSpec::delta1`]).
//!
//! What runs in Cairo, all on the corelib's modular circuits (`core::circuit`, u384) over the
//! BN254 base field, with the circuits traced in Rust ([`circuit`]) from the same generic code
//! ([`tower`], [`groth16`]) that computes the reference result and the prover's hint:
//! - the proof's A, C (and a two-round proof's D) on G1 (y² = x³ + 3), B on the twist
//!   (y² = x³ + 3/(9 + u)) and in G2 ([`groth16::g2_subgroup_diff`]), every coordinate a
//!   canonical u384 (< p);
//! - the public inputs: as many as the key has (less a two-round key's seed), each < r, the
//!   first equal to the model id; a two-round key's seed derived as
//!   [`zkml::wrap::groth16::challenge`] derives it (keccak256 of the tag, D and the inputs);
//! - L = IC₀ + id·IC₁ (folded at generation time) + Σ xᵢ·ICᵢ₊₁ by a windowed MSM over tables of
//!   offset multiples ([`MsmPlan`]), affine;
//! - one Miller loop over (−A, B) and the key's fixed pairs (L, γ), (C, δ) and, two-round,
//!   (D, δ₁), with affine steps and lines divided by their constant term: B's lines are
//!   computed in Cairo, the fixed points' are constants, ML(α, β) is a constant factor; two
//!   digits of 6x + 2 per circuit call ([`ate_chunks`]);
//! - instead of the final exponentiation, the residue witness ([`residue`]): the calldata
//!   carries c ∈ Fp12 and the index of a scaling factor w after the public inputs, and the
//!   contract checks ML·ML(α, β)·w = c^λ. The hint is checked, never trusted: a wrong c or w
//!   fails the equation.

pub mod circuit;
pub mod groth16;
pub mod residue;
pub mod tower;

use ark_bn254::{Bn254, Fq, Fq12, Fr, G1Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, One, PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};
use askama::Template;

use circuit::{Circuit, Sym, begin, begin_args, finish, u384_literal};
use groth16::Preps;
use tower::{F2, F12, Fe, G2Aff, Line};

/// Why no Starknet verifier, hint or calldata can be made. Each variant says what is wrong; a
/// key's points are checked as the verifier is generated, a proof's as its calldata is encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StarknetError {
    /// A precomputed table point of an input's MSM is at infinity.
    #[error("an MSM table point of input {input} is at infinity; no verifier can be generated for this key")]
    MsmTablePoint {
        /// The public input.
        input: usize,
    },
    /// The MSM's start or correction point is at infinity.
    #[error("an MSM offset is at infinity; no verifier can be generated for this key")]
    MsmOffset,
    /// A G1 point of the key is at infinity.
    #[error("the verifying key has a point at infinity; no verifier can be generated for it")]
    KeyPointAtInfinity,
    /// A G2 point of the key is at infinity.
    #[error("the verifying key has a G2 point at infinity")]
    KeyG2AtInfinity,
    /// Fewer IC points than the constant term (and a two-round key's seed) need.
    #[error("the verifying key has too few IC points ({found}) for its kind")]
    TooFewIcPoints {
        /// The key's IC points.
        found: usize,
    },
    /// A model verifier's key has no public input for the model id.
    #[error("a model verifier needs at least one public input (the model id)")]
    NoModelIdInput,
    /// The proof fails the key, so no pairing hint exists for it.
    #[error("the proof does not verify against this verifying key, so it has no Starknet calldata")]
    ProofDoesNotVerify,
    /// `point` is "A", "B", "C" or "D".
    #[error("proof point {point} is at infinity")]
    ProofPointAtInfinity {
        /// Which point.
        point: &'static str,
    },
    /// A template failed to render.
    #[error(transparent)]
    Render(#[from] askama::Error),
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] crate::io::WriteError),
}

type Result<T> = std::result::Result<T, StarknetError>;

/// Name of the generated Cairo package (and crate).
pub const DEFAULT_PACKAGE_NAME: &str = "zkml_verifier";

/// Points per MSM circuit call.
const MSM_CHUNK: usize = 8;

/// Window width in bits of the MSM for `n` variable inputs (each input has a table of 2^bits
/// points among the contract's constants). Each window is one circuit call, and a call costs
/// about as much as its additions, so wide windows pay while the tables fit: 8 bits took
/// price_mlp's two-round verifier (5 inputs) from 68.1M to 63.4M Sierra gas and its Sierra
/// program from 37.5k to 60.3k felts (about 4.5k felts per input; Starknet declares up to
/// 81,920), so 8 bits only up to 5 inputs.
fn msm_window_bits(n: usize) -> usize {
    match n {
        0..=5 => 8,
        6..=16 => 4,
        17..=64 => 2,
        _ => 1,
    }
}

/// The MSM circuits' (doublings, points) per call of a window, in order.
fn msm_chunks(n: usize, bits: usize) -> Vec<(usize, std::ops::Range<usize>)> {
    (0..n).step_by(MSM_CHUNK).map(|s| (if s == 0 { bits } else { 0 }, s..(s + MSM_CHUNK).min(n))).collect()
}

fn msm_circuit_name(dbls: usize, len: usize) -> String {
    format!("g1_msm_d{dbls}_a{len}")
}

/// The windowed MSM L = base + Σ xⱼ·ICⱼ as the contract runs it, in affine coordinates: acc
/// starts at an offset point S and each window does acc ← 2^bits·acc + Σⱼ Tⱼ[digitⱼ] with
/// Tⱼ[d] = d·ICⱼ + Qⱼ (the offsets Qⱼ keep every table point and sum away from infinity); the
/// constant `correction` = base − 2²⁵⁶·S − Σⱼ (2²⁵⁶ − 1)/(2^bits − 1)·Qⱼ ends it: L = acc + correction.
/// S and Qⱼ are multiples of the generator by hashes: any exceptional case (equal x) has
/// negligible probability for honest inputs and panics in Cairo for crafted ones.
pub struct MsmPlan {
    /// The window's bits.
    pub bits: usize,
    /// S, the accumulator's start.
    pub start: G1Affine,
    /// Tⱼ[d] = d·ICⱼ + Qⱼ for each input j and digit d.
    pub tables: Vec<Vec<G1Affine>>,
    /// base − 2²⁵⁶·S − Σⱼ (2²⁵⁶ − 1)/(2^bits − 1)·Qⱼ.
    pub correction: G1Affine,
}

fn offset_point(tag: &str, j: usize) -> ark_bn254::G1Projective {
    let h = alloy_primitives::keccak256(format!("zkml starknet msm offset {tag} {j}"));
    G1Affine::generator() * Fr::from_be_bytes_mod_order(h.as_slice())
}

impl MsmPlan {
    /// The plan for the inputs' IC points `ics` and the constant part `base`; an error when a
    /// table point or an offset is at infinity.
    pub fn new(ics: &[G1Affine], base: &G1Affine) -> Result<MsmPlan> {
        use ark_ff::Field;
        let bits = msm_window_bits(ics.len());
        let start = offset_point("start", 0);
        let two_256 = Fr::from(2u64).pow([256]);
        let radix = Fr::from(1u64 << bits);
        let per_offset = (two_256 - Fr::from(1u64)) * (radix - Fr::from(1u64)).inverse().unwrap();
        let mut correction = base.into_group() - start * two_256;
        let mut tables = vec![];
        for (j, ic) in ics.iter().enumerate() {
            let q = offset_point("table", j);
            correction -= q * per_offset;
            let row: Vec<_> = (0..1u64 << bits).map(|d| (q + *ic * Fr::from(d)).into_affine()).collect();
            if row.iter().any(|p| p.is_zero()) {
                return Err(StarknetError::MsmTablePoint { input: j });
            }
            tables.push(row);
        }
        let (start, correction) = (start.into_affine(), correction.into_affine());
        if start.is_zero() || correction.is_zero() {
            return Err(StarknetError::MsmOffset);
        }
        Ok(MsmPlan { bits, start, tables, correction })
    }

    /// The contract's computation of L (None where the contract would panic).
    fn run(&self, scalars: &[Fr]) -> Option<(Fq, Fq)> {
        let pt = |p: &G1Affine| p.xy();
        let mut acc = pt(&self.start)?;
        for i in (0..256 / self.bits).rev() {
            let mut pts = vec![];
            for (j, s) in scalars.iter().enumerate() {
                let b = s.into_bigint();
                let d = (0..self.bits).fold(0, |d, k| d | (b.get_bit(i * self.bits + k) as usize) << k);
                pts.push(pt(&self.tables[j][d])?);
            }
            for (dbls, r) in msm_chunks(pts.len(), self.bits) {
                acc = groth16::msm_window(&acc, dbls, &pts[r]);
            }
        }
        Some(tower::g1_add(&acc, &pt(&self.correction)?))
    }
}

/// The names of the fixed G2 points' line arguments: γ, δ and a two-round key's δ₁.
const LINE_ARGS: [&str; 3] = ["lg", "ld", "l1"];

/// Digits of 6x + 2 per Miller circuit call. Each call feeds f, T and the preps and reads f
/// and T back (about 20 Cairo steps per u384), so two digits per call save half of that: with
/// one digit per call, that I/O was a fifth of the verifier's gas.
const MILLER_CHUNK: usize = 2;

/// The loop's digits ([`groth16::ate_digits`]) as the contract's calls take them: chunks of
/// `MILLER_CHUNK` from the most significant, each digit marked non-zero or not (its sign is
/// read from `ATE_DIGITS` at run time).
pub fn ate_chunks() -> Vec<Vec<bool>> {
    groth16::ate_digits().chunks(MILLER_CHUNK).map(|c| c.iter().map(|d| *d != 0).collect()).collect()
}

/// The distinct chunks of [`ate_chunks`], each one circuit.
fn miller_kinds() -> Vec<Vec<bool>> {
    let mut kinds = ate_chunks();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// One kind of Miller call as the template writes it.
struct MillerKind {
    name: String,
    /// Digits it takes.
    digits: usize,
    /// Lines of each fixed point it takes.
    lines: usize,
    /// Its non-zero digits' positions.
    nonzero: Vec<usize>,
}

/// The Miller circuit of a chunk of digits: `miller_` and a 0 or 1 per digit (1: non-zero).
fn miller_circuit_name(chunk: &[bool]) -> String {
    format!("miller_{}", chunk.iter().map(|&nz| if nz { '1' } else { '0' }).collect::<String>())
}

/// The lines a chunk uses of each fixed point: a tangent per digit, a chord per non-zero one.
fn chunk_lines(chunk: &[bool]) -> usize {
    chunk.len() + chunk.iter().filter(|&&nz| nz).count()
}

/// A Miller circuit's arguments: `head` (f, T, …), the preps of the `fixed` + 1 pairs, `per`
/// lines of each fixed point, then `tail`.
fn miller_args(head: &[(&str, usize)], fixed: usize, per: usize, tail: &[(String, usize)]) -> Vec<(String, usize)> {
    let mut a: Vec<(String, usize)> = head.iter().map(|(n, l)| (n.to_string(), *l)).collect();
    a.push(("preps".into(), 2 * (fixed + 1)));
    a.extend(LINE_ARGS[..fixed].iter().map(|n| (n.to_string(), 4 * per)));
    a.extend_from_slice(tail);
    a
}

/// Starts tracing a circuit with `args` ([`begin_args`] of owned names).
fn begin_named(args: &[(String, usize)]) -> Vec<Sym> {
    begin_args(&args.iter().map(|(n, l)| (n.as_str(), *l)).collect::<Vec<_>>())
}

/// Line `j` of each of the `fixed` points' `per` lines, which start at input `start`.
fn fixed_lines_at(i: &[Sym], start: usize, fixed: usize, per: usize, j: usize) -> Vec<Line<Sym>> {
    (0..fixed).map(|k| Line::from_slice(&i[start + 4 * (k * per + j)..])).collect()
}

/// The circuit of one call of the loop over a chunk of digits: [f, T, preps, the chunk's lines
/// of each fixed point, then ±B and c∓¹ per non-zero digit] → [f, T] after the digits, each
/// as [`groth16::miller_digit`].
fn miller_chunk_circuit(chunk: &[bool], fixed: usize) -> Circuit {
    let np = 2 * (fixed + 1);
    let per = chunk_lines(chunk);
    let tail: Vec<(String, usize)> =
        (0..chunk.len()).filter(|&j| chunk[j]).flat_map(|j| [(format!("q{j}"), 4), (format!("c{j}"), 12)]).collect();
    let i = begin_named(&miller_args(&[("f", 12), ("t", 4)], fixed, per, &tail));
    let lines_start = 16 + np;
    let lines_at = |j: usize| fixed_lines_at(&i, lines_start, fixed, per, j);
    let p: Preps<Sym> = i[16..lines_start].chunks(2).map(|c| (c[0], c[1])).collect();
    let (mut f, mut t) = (F12::from_slice(&i[..12]), G2Aff::from_slice(&i[12..16]));
    let (mut line, mut rest) = (0, lines_start + 4 * per * fixed);
    for &nz in chunk {
        let tangents = lines_at(line);
        line += 1;
        let (q, c, chords);
        let chord = if nz {
            (q, c, chords) =
                (G2Aff::from_slice(&i[rest..rest + 4]), F12::from_slice(&i[rest + 4..rest + 16]), lines_at(line));
            line += 1;
            rest += 16;
            Some(groth16::Chord { q: &q, c: &c, lines: chords.iter().collect() })
        } else {
            None
        };
        (f, t) = groth16::miller_digit(&f, &t, &p, &tangents.iter().collect::<Vec<_>>(), chord);
    }
    finish(
        &miller_circuit_name(chunk),
        "[f, T, preps, the chunk's lines of each fixed point (a tangent per digit, then a chord if it is ±1), ±B and \
         c∓¹ per digit ±1] → [f, T] after the chunk's digits",
        i.clone(),
        [f.to_vec(), t.to_vec()].concat(),
    )
}

/// The circuits of a verifier with `n` variable public inputs and `fixed` fixed G2 points (2,
/// or 3 for a two-round key).
pub fn circuits(n: usize, fixed: usize) -> Vec<Circuit> {
    let mut out = Vec::new();
    let b2 = <ark_bn254::g2::Config as ark_ec::short_weierstrass::SWCurveConfig>::COEFF_B;
    let g2 = |i: &[Sym]| G2Aff::from_slice(i);
    let f12 = |i: &[Sym]| F12::from_slice(i);
    let pairs = |i: &[Sym]| -> Preps<Sym> { i.chunks(2).map(|c| (c[0], c[1])).collect() };
    let flat = |p: &Preps<Sym>| p.iter().flat_map(|(a, b)| [*a, *b]).collect::<Vec<_>>();
    let np = 2 * (fixed + 1);

    // G1 point check: y² − x³ − 3, and −y.
    let i = begin(2);
    let (x, y) = (i[0], i[1]);
    let d = y.mul(&y).sub(&x.mul(&x).mul(&x)).sub(&Sym::konst(Fq::from(3u64)));
    out.push(finish("g1_check_neg", "[x, y] → [y² − x³ − 3, −y]", i.clone(), vec![d, y.neg()]));

    // G2 point check on the twist, and −y.
    let i = begin(4);
    let q = g2(&i);
    let d = q.y.square().sub(&q.x.square().mul(&q.x)).sub(&F2::konst(b2));
    let ny = q.y.neg();
    out.push(finish(
        "g2_check_neg",
        "[x0, x1, y0, y1] → [y² − x³ − b' (2 limbs), −y (2 limbs)]",
        i.clone(),
        vec![d.c0, d.c1, ny.c0, ny.c1],
    ));

    let i = begin(4);
    out.push(finish(
        "g2_subgroup_diff",
        "B → [x + 1]B + ψ([x]B) + ψ²([x]B) − ψ³([2x]B) as coordinate differences (all zero iff B ∈ G2)",
        i.clone(),
        groth16::g2_subgroup_diff(&g2(&i)).to_vec(),
    ));

    let i = begin(np);
    let p = groth16::preps(&(i[0], i[1]), &pairs(&i[2..]));
    out.push(finish("g1_preps", "[A, L, C(, D)] → line_prep of −A, L, C(, D)", i.clone(), flat(&p)));

    let i = begin(12);
    out.push(finish("fp12_inv", "c → c⁻¹ (panics for 0)", i.clone(), f12(&i).inv().to_vec()));

    for chunk in miller_kinds() {
        out.push(miller_chunk_circuit(&chunk, fixed));
    }

    let tail = [("c".to_string(), 12), ("ci".to_string(), 12), ("abw".to_string(), 12)];
    let i = begin_named(&miller_args(&[("f", 12), ("t", 4), ("b", 4)], fixed, 2, &tail));
    let start = 20 + np;
    let rest = start + 8 * fixed;
    let (l0, l1) = (fixed_lines_at(&i, start, fixed, 2, 0), fixed_lines_at(&i, start, fixed, 2, 1));
    let r = groth16::miller_final(
        &f12(&i[..12]),
        &g2(&i[12..16]),
        &g2(&i[16..20]),
        &pairs(&i[20..20 + np]),
        [&l0.iter().collect::<Vec<_>>(), &l1.iter().collect::<Vec<_>>()],
        &f12(&i[rest..rest + 12]),
        &f12(&i[rest + 12..rest + 24]),
        &f12(&i[rest + 24..rest + 36]),
    );
    out.push(finish(
        "miller_final",
        "[f, T, B, preps, two lines of each fixed point, c, c⁻¹, ML(α, β)·w] → the residue check's product (one iff valid)",
        i.clone(),
        r.to_vec(),
    ));

    let mut seen = vec![];
    for (dbls, r) in msm_chunks(n, msm_window_bits(n)) {
        if seen.contains(&(dbls, r.len())) {
            continue;
        }
        seen.push((dbls, r.len()));
        let i = begin_args(&[("acc", 2), ("pts", 2 * r.len())]);
        let pts: Vec<_> = (0..r.len()).map(|k| (i[2 + 2 * k], i[3 + 2 * k])).collect();
        let acc = groth16::msm_window(&(i[0], i[1]), dbls, &pts);
        out.push(finish(
            &msm_circuit_name(dbls, r.len()),
            "[acc, P₁, …] → 2^d·acc + P₁ + … (affine)",
            i.clone(),
            vec![acc.0, acc.1],
        ));
    }
    let i = begin(4);
    let s = tower::g1_add(&(i[0], i[1]), &(i[2], i[3]));
    out.push(finish("g1_add", "[P, Q] → P + Q (affine; panics where x_P = x_Q)", i.clone(), vec![s.0, s.1]));
    out
}

/// What a verifier is generated from.
pub struct VerifierSpec<'a> {
    /// Groth16's verifying key.
    pub vk: &'a VerifyingKey<Bn254>,
    /// A two-round (UltraGroth) key's `[δ₁]₂` (`zkml setup`): the proof
    /// carries D, paired with δ₁, and the key's last public input is the seed the contract
    /// derives from D and the other inputs ([`zkml::wrap::groth16::challenge`]).
    pub delta1: Option<&'a ark_bn254::G2Affine>,
    /// Public input 0 fixed to this value (a compiled model's id), folded into IC₀.
    pub model_id: Option<Fr>,
    /// Why the keys are unsafe, for keys rendered anyway (`--allow-dev-keys`): said at the top
    /// of the contract's source.
    pub unsafe_keys: Option<&'a str>,
}

impl VerifierSpec<'_> {
    fn two_round(&self) -> bool {
        self.delta1.is_some()
    }

    /// The public inputs a proof comes with: the key's, less a two-round key's seed.
    fn num_public(&self) -> usize {
        zkml::wrap::Scheme::of_key(self.two_round()).num_public_inputs(self.vk)
    }

    /// The key's fixed G2 points, in the order of the pairs: γ, δ and a two-round key's δ₁.
    fn fixed_g2(&self) -> Vec<ark_bn254::G2Affine> {
        [self.vk.gamma_g2, self.vk.delta_g2].into_iter().chain(self.delta1.copied()).collect()
    }
}

/// The points of a proof the contract reads: A, B, C and a two-round proof's D.
#[derive(Clone, Debug, PartialEq)]
pub struct ProofPoints {
    /// A.
    pub a: G1Affine,
    /// B.
    pub b: ark_bn254::G2Affine,
    /// C.
    pub c: G1Affine,
    /// A two-round proof's round-1 commitment D.
    pub d: Option<G1Affine>,
}

impl From<&Proof<Bn254>> for ProofPoints {
    fn from(p: &Proof<Bn254>) -> Self {
        ProofPoints { a: p.a, b: p.b, c: p.c, d: None }
    }
}

impl From<&zkml::wrap::groth16::TwoRoundProof> for ProofPoints {
    fn from(p: &zkml::wrap::groth16::TwoRoundProof) -> Self {
        ProofPoints { d: Some(p.d), ..(&p.proof).into() }
    }
}

/// A u256 literal from 32 little-endian bytes.
fn u256_literal(le: &[u8]) -> String {
    let half = |b: &[u8]| b.iter().rev().fold(0u128, |acc, x| acc << 8 | *x as u128);
    format!("u256 {{ low: {:#x}, high: {:#x} }}", half(&le[..16]), half(&le[16..32]))
}

fn fq_of_fr(x: &Fr) -> String {
    u256_literal(&x.into_bigint().to_bytes_le())
}

/// A key's point's coordinates.
fn xy(p: &G1Affine) -> Result<(Fq, Fq)> {
    p.xy().ok_or(StarknetError::KeyPointAtInfinity)
}

/// ML(α, β)·w for the three scaling factors w of [`residue`].
fn alpha_beta_w(vk: &VerifyingKey<Bn254>) -> [Fq12; 3] {
    let ab = Bn254::multi_miller_loop([vk.alpha_g1], [vk.beta_g2]).0;
    residue::scaling_factors().map(|w| ab * w)
}

#[derive(Template)]
#[template(path = "starknet/verifier.cairo", escape = "none")]
struct VerifierTemplate {
    generator_version: &'static str,
    /// As `VerifierSpec::unsafe_keys`; empty for none.
    unsafe_keys: String,
    num_public: usize,
    has_model_id: bool,
    model_id: String,
    n_var: usize,
    ic_base: (String, String),
    msm_radix: usize,
    msm_digits_per_half: usize,
    /// The distinct MSM circuits.
    msm_circuits: Vec<String>,
    msm_start: (String, String),
    msm_table: Vec<String>,
    msm_correction: (String, String),
    /// (circuit, first input, end) per MSM call of a window.
    msm_calls: Vec<(String, usize, usize)>,
    abw: Vec<Vec<String>>,
    gamma_lines: Vec<String>,
    delta_lines: Vec<String>,
    /// A two-round key: D in the calldata, the seed derived, δ₁'s lines.
    two_round: bool,
    delta1_lines: Vec<String>,
    challenge_tag: String,
    ate_digits: Vec<u8>,
    miller_kinds: Vec<MillerKind>,
    /// Per call of the loop, its index in `miller_kinds`.
    ate_chunks: Vec<usize>,
    p_literal: String,
    p_u256: String,
    r_u256: String,
    first_var: usize,
}

#[derive(Template)]
#[template(path = "starknet/circuits.cairo", escape = "none")]
struct CircuitsTemplate {
    generator_version: &'static str,
    circuits: Vec<String>,
}

#[derive(Template)]
#[template(path = "starknet/lib.cairo", escape = "none")]
struct LibTemplate {
    generator_version: &'static str,
    num_public: usize,
}

#[derive(Template)]
#[template(path = "starknet/Scarb.toml", escape = "none")]
struct ScarbTemplate {
    generator_version: &'static str,
    package: String,
}

#[derive(Template)]
#[template(path = "starknet/cairo_project.toml", escape = "none")]
struct ProjectTemplate {
    package: String,
}

/// IC₀ (+ id·IC₁ for a model's key) and the IC points of the variable inputs.
fn key_base<'a>(spec: &VerifierSpec<'a>) -> Result<(G1Affine, &'a [G1Affine])> {
    let vk = spec.vk;
    // IC₀, and a two-round key's seed.
    let fixed = 1 + usize::from(spec.two_round());
    if vk.gamma_abc_g1.len() < fixed {
        return Err(StarknetError::TooFewIcPoints { found: vk.gamma_abc_g1.len() });
    }
    match spec.model_id {
        Some(id) => {
            if vk.gamma_abc_g1.len() < fixed + 1 {
                return Err(StarknetError::NoModelIdInput);
            }
            Ok(((vk.gamma_abc_g1[0].into_group() + vk.gamma_abc_g1[1] * id).into_affine(), &vk.gamma_abc_g1[2..]))
        }
        None => Ok((vk.gamma_abc_g1[0], &vk.gamma_abc_g1[1..])),
    }
}

/// The files of the generated package: (path relative to the package root, contents).
pub fn render(spec: &VerifierSpec) -> Result<Vec<(String, String)>> {
    let vk = spec.vk;
    let (base, ics) = key_base(spec)?;
    let num_public = spec.num_public();
    let n_var = ics.len();
    let lit = |x: &Fq| u384_literal(x);
    let g1 = |p: &G1Affine| -> Result<(String, String)> {
        let (x, y) = xy(p)?;
        Ok((lit(&x), lit(&y)))
    };
    for q in std::iter::once(vk.beta_g2).chain(spec.fixed_g2()) {
        if q.is_zero() {
            return Err(StarknetError::KeyG2AtInfinity);
        }
    }
    xy(&vk.alpha_g1)?;
    for p in ics {
        xy(p)?;
    }
    let line_lits = |q: &ark_bn254::G2Affine| -> Vec<String> {
        groth16::fixed_lines(q).iter().flat_map(|l| l.to_vec()).map(|x| lit(&x)).collect()
    };
    let ate_digits: Vec<u8> = groth16::ate_digits()
        .into_iter()
        .map(|d| match d {
            0 => 0u8,
            1 => 1,
            _ => 2,
        })
        .collect();
    let plan = MsmPlan::new(ics, &base)?;
    let kinds = miller_kinds();
    let mut msm_table = vec![];
    for row in &plan.tables {
        for p in row {
            let (x, y) = g1(p)?;
            msm_table.push(x);
            msm_table.push(y);
        }
    }
    let t = VerifierTemplate {
        generator_version: env!("CARGO_PKG_VERSION"),
        unsafe_keys: crate::one_line(spec.unsafe_keys.unwrap_or_default()),
        num_public,
        has_model_id: spec.model_id.is_some(),
        model_id: spec.model_id.map(|id| fq_of_fr(&id)).unwrap_or_default(),
        n_var,
        ic_base: g1(&base)?,
        msm_radix: 1 << plan.bits,
        msm_digits_per_half: 128 / plan.bits,
        msm_circuits: {
            let mut names: Vec<String> =
                msm_chunks(n_var, plan.bits).into_iter().map(|(d, r)| msm_circuit_name(d, r.len())).collect();
            names.dedup();
            names
        },
        msm_start: g1(&plan.start)?,
        msm_table,
        msm_correction: g1(&plan.correction)?,
        msm_calls: msm_chunks(n_var, plan.bits)
            .into_iter()
            .map(|(d, r)| (msm_circuit_name(d, r.len()), r.start, r.end))
            .collect(),
        abw: alpha_beta_w(vk).iter().map(|f| F12::from_ark(f).to_vec().iter().map(lit).collect()).collect(),
        gamma_lines: line_lits(&vk.gamma_g2),
        delta_lines: line_lits(&vk.delta_g2),
        two_round: spec.two_round(),
        delta1_lines: spec.delta1.map(line_lits).unwrap_or_default(),
        challenge_tag: {
            let mut le = zkml::wrap::groth16::CHALLENGE_TAG;
            le.reverse();
            u256_literal(&le)
        },
        ate_digits,
        miller_kinds: kinds
            .iter()
            .map(|k| MillerKind {
                name: miller_circuit_name(k),
                digits: k.len(),
                lines: chunk_lines(k),
                nonzero: (0..k.len()).filter(|&j| k[j]).collect(),
            })
            .collect(),
        ate_chunks: ate_chunks().iter().map(|c| kinds.iter().position(|k| k == c).unwrap_or(0)).collect(),
        p_literal: {
            let l = circuit::le_bytes_limbs(&Fq::MODULUS.to_bytes_le());
            format!("[{:#x}, {:#x}, {:#x}, {:#x}]", l[0], l[1], l[2], l[3])
        },
        p_u256: u256_literal(&Fq::MODULUS.to_bytes_le()),
        r_u256: u256_literal(&Fr::MODULUS.to_bytes_le()),
        first_var: num_public + usize::from(spec.two_round()) - n_var,
    };
    let package = DEFAULT_PACKAGE_NAME.to_string();
    let version = env!("CARGO_PKG_VERSION");
    Ok(vec![
        ("Scarb.toml".into(), ScarbTemplate { generator_version: version, package: package.clone() }.render()?),
        ("cairo_project.toml".into(), ProjectTemplate { package: package.clone() }.render()?),
        ("src/lib.cairo".into(), LibTemplate { generator_version: version, num_public }.render()?),
        ("src/verifier.cairo".into(), t.render()?),
        (
            "src/circuits.cairo".into(),
            CircuitsTemplate {
                generator_version: version,
                circuits: circuits(n_var, spec.fixed_g2().len()).iter().map(|c| c.emit()).collect(),
            }
            .render()?,
        ),
    ])
}

/// Writes the package under `out`.
pub fn write_package(spec: &VerifierSpec, out: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    Ok(crate::io::write_files(out, render(spec)?)?)
}

/// A u384 as the corelib's `Serde<u384>` writes it: two felts, limb0 + limb1·2⁹⁶ then
/// limb2 + limb3·2⁹⁶ (the low and high 192 bits).
fn push_fq(out: &mut Vec<String>, x: &Fq) {
    let b = x.into_bigint().0;
    let lo = [b[0], b[1], b[2]];
    let hi = [b[3], 0, 0];
    for w in [lo, hi] {
        out.push(hex_words(&w));
    }
}

fn hex_words(w: &[u64; 3]) -> String {
    let s = format!("{:016x}{:016x}{:016x}", w[2], w[1], w[0]);
    let t = s.trim_start_matches('0');
    format!("0x{}", if t.is_empty() { "0" } else { t })
}

/// The hint the calldata carries after the public inputs (see [`residue`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Hint {
    /// c with ML·ML(α, β)·w = c^λ.
    pub c: Fq12,
    /// Which scaling factor w ∈ {1, ω, ω²}.
    pub w_index: usize,
}

/// What the contract checks before the Miller loop: B, the G1 sides, in the form the loop takes
/// (None where the contract returns None or panics).
fn loop_inputs(spec: &VerifierSpec, proof: &ProofPoints, public_inputs: &[Fr]) -> Option<(G2Aff<Fq>, Preps<Fq>)> {
    let (base, ics) = key_base(spec).ok()?;
    if public_inputs.len() != spec.num_public() || proof.d.is_some() != spec.two_round() {
        return None;
    }
    if let Some(id) = spec.model_id
        && public_inputs[0] != id
    {
        return None;
    }
    let (ax, ay) = proof.a.xy()?;
    let (cx, cy) = proof.c.xy()?;
    let b = G2Aff::<Fq>::konst(&proof.b);
    let d = match proof.d {
        Some(d) => Some(d.xy()?),
        None => None,
    };
    for (x, y) in [(ax, ay), (cx, cy)].into_iter().chain(d) {
        if y * y - x * x * x - Fq::from(3u64) != Fq::zero() {
            return None;
        }
    }
    // A two-round key's last input is the seed, derived from D and the others.
    let mut inputs = public_inputs.to_vec();
    if let Some(d) = proof.d {
        inputs.push(zkml::wrap::groth16::challenge(&d, public_inputs));
    }
    let b2 = <ark_bn254::g2::Config as ark_ec::short_weierstrass::SWCurveConfig>::COEFF_B;
    if b.y.square().sub(&b.x.square().mul(&b.x)).sub(&F2::konst(b2)) != F2::zero() {
        return None;
    }
    if groth16::g2_subgroup_diff(&b).iter().any(|d| !d.is_zero()) {
        return None;
    }
    let l = if ics.is_empty() {
        base.xy()?
    } else {
        MsmPlan::new(ics, &base).ok()?.run(&inputs[inputs.len() - ics.len()..])?
    };
    Some((b, groth16::preps(&(ax, ay), &[l, (cx, cy)].into_iter().chain(d).collect::<Vec<_>>())))
}

/// The contract's Miller loop and residue check for (c, w index): one iff valid.
fn miller_check(spec: &VerifierSpec, b: &G2Aff<Fq>, p: &Preps<Fq>, c: &Fq12, abw: &Fq12) -> F12<Fq> {
    let fixed: Vec<_> = spec.fixed_g2().iter().map(groth16::fixed_lines).collect();
    groth16::miller_check(b, p, &fixed, &F12::from_ark(c), &F12::from_ark(abw))
}

/// The prover's hint for a valid proof; an error if the proof does not verify against the key
/// (then no hint exists).
pub fn hint(spec: &VerifierSpec, proof: impl Into<ProofPoints>, public_inputs: &[Fr]) -> Result<Hint> {
    let (b, p) = loop_inputs(spec, &proof.into(), public_inputs).ok_or(StarknetError::ProofDoesNotVerify)?;
    let ab = Bn254::multi_miller_loop([spec.vk.alpha_g1], [spec.vk.beta_g2]).0;
    // With c = 1 the check's product is the Miller value itself.
    let f = miller_check(spec, &b, &p, &Fq12::one(), &ab).to_ark();
    let (c, w_index) = residue::residue_witness(&f).ok_or(StarknetError::ProofDoesNotVerify)?;
    Ok(Hint { c, w_index })
}

/// The felt252 calldata of `verify_groth16_proof_bn254` for a valid proof, as 0x-hex strings
/// ([`encode_calldata`] with its [`hint`]). Fails for a proof that does not verify.
pub fn calldata(spec: &VerifierSpec, proof: impl Into<ProofPoints>, public_inputs: &[Fr]) -> Result<Vec<String>> {
    let proof = proof.into();
    encode_calldata(proof.clone(), public_inputs, &hint(spec, proof, public_inputs)?)
}

/// Encodes calldata: A, B, C as u384 (two felts each: A.x, A.y, B.x.c0, B.x.c1, B.y.c0, B.y.c1,
/// C.x, C.y), then a two-round proof's D.x, D.y, the public inputs as a `Span<u256>` (length,
/// then low/high 128-bit halves; not a two-round key's seed, which the contract derives), then
/// the hint: c as 12 u384 (arkworks' Fp12 coefficient order) and the index of w.
pub fn encode_calldata(proof: impl Into<ProofPoints>, public_inputs: &[Fr], hint: &Hint) -> Result<Vec<String>> {
    let proof = proof.into();
    let mut out = vec![];
    let at_infinity = |point| StarknetError::ProofPointAtInfinity { point };
    let (ax, ay) = proof.a.xy().ok_or(at_infinity("A"))?;
    let (cx, cy) = proof.c.xy().ok_or(at_infinity("C"))?;
    let (bx, by) = proof.b.xy().ok_or(at_infinity("B"))?;
    let d: Vec<Fq> = match proof.d {
        Some(d) => {
            let (x, y) = d.xy().ok_or(at_infinity("D"))?;
            vec![x, y]
        }
        None => vec![],
    };
    for x in [ax, ay, bx.c0, bx.c1, by.c0, by.c1, cx, cy].into_iter().chain(d) {
        push_fq(&mut out, &x);
    }
    out.push(format!("{:#x}", public_inputs.len()));
    for x in public_inputs {
        let b = x.into_bigint().0;
        out.push(format!("{:#x}", b[0] as u128 | (b[1] as u128) << 64));
        out.push(format!("{:#x}", b[2] as u128 | (b[3] as u128) << 64));
    }
    for x in F12::from_ark(&hint.c).to_vec() {
        push_fq(&mut out, &x);
    }
    out.push(format!("{:#x}", hint.w_index));
    Ok(out)
}

/// The verifier's computation, run in Rust on arkworks' field: what the generated Cairo does,
/// step by step, from the same generic code (for tests; `None` where the contract returns
/// `None`; panics where it panics).
pub fn reference_verify(
    spec: &VerifierSpec,
    proof: impl Into<ProofPoints>,
    public_inputs: &[Fr],
    hint: &Hint,
) -> Option<Vec<Fr>> {
    let (b, p) = loop_inputs(spec, &proof.into(), public_inputs)?;
    let abw = *alpha_beta_w(spec.vk).get(hint.w_index)?;
    (miller_check(spec, &b, &p, &hint.c, &abw) == F12::one()).then(|| public_inputs.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;
    use ark_ff::UniformRand;
    use ark_std::rand::{SeedableRng, rngs::StdRng};

    /// The windowed MSM gives base + Σ xⱼ·ICⱼ for every window width and chunking, small
    /// and zero scalars included.
    #[test]
    fn msm_plan_computes_the_linear_combination() {
        let mut rng = StdRng::seed_from_u64(3);
        let base = ark_bn254::G1Projective::rand(&mut rng).into_affine();
        for n in [1, 4, 5, 6, 17, 70] {
            let ics: Vec<G1Affine> = (0..n).map(|_| ark_bn254::G1Projective::rand(&mut rng).into_affine()).collect();
            let plan = MsmPlan::new(&ics, &base).unwrap();
            assert_eq!(plan.bits, msm_window_bits(n));
            let mut xs: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            xs[0] = Fr::zero();
            if n > 1 {
                xs[1] = Fr::from(5u64);
            }
            let want = (base.into_group() + ics.iter().zip(&xs).map(|(p, x)| *p * x).sum::<ark_bn254::G1Projective>())
                .into_affine();
            assert_eq!(plan.run(&xs), want.xy());
        }
    }

    #[test]
    fn g2_subgroup_check() {
        use ark_ff::Field;
        let mut rng = StdRng::seed_from_u64(4);
        let in_g2 =
            |p: &ark_bn254::G2Affine| groth16::g2_subgroup_diff(&G2Aff::<Fq>::konst(p)).iter().all(|d| d.is_zero());
        for _ in 0..3 {
            assert!(in_g2(&ark_bn254::G2Projective::rand(&mut rng).into_affine()));
        }
        // A twist point outside G2 (the twist's cofactor is not 1).
        let mut x = ark_bn254::Fq2::rand(&mut rng);
        let p = loop {
            if let Some(p) = ark_bn254::G2Affine::get_point_from_x_unchecked(x, false) {
                break p;
            }
            x += ark_bn254::Fq2::ONE;
        };
        assert!(p.is_on_curve() && !p.is_in_correct_subgroup_assuming_on_curve());
        assert!(!in_g2(&p));
    }

    /// Each refusal is its own variant with the message it had under anyhow.
    #[test]
    fn starknet_errors_name_what_is_wrong() {
        let mut rng = StdRng::seed_from_u64(5);
        let g1 = |rng: &mut StdRng| ark_bn254::G1Projective::rand(rng).into_affine();
        let g2 = |rng: &mut StdRng| ark_bn254::G2Projective::rand(rng).into_affine();
        let vk = VerifyingKey::<Bn254> {
            alpha_g1: g1(&mut rng),
            beta_g2: g2(&mut rng),
            gamma_g2: g2(&mut rng),
            delta_g2: g2(&mut rng),
            gamma_abc_g1: (0..3).map(|_| g1(&mut rng)).collect(),
        };
        fn spec(vk: &VerifyingKey<Bn254>) -> VerifierSpec<'_> {
            VerifierSpec { vk, delta1: None, model_id: None, unsafe_keys: None }
        }
        let err = |vk: &VerifyingKey<Bn254>| render(&spec(vk)).err().map(|e| (e.to_string(), e));
        let no_ic = VerifyingKey { gamma_abc_g1: vec![], ..vk.clone() };
        assert!(matches!(err(&no_ic), Some((_, StarknetError::TooFewIcPoints { found: 0 }))));
        let only_ic0 = VerifyingKey { gamma_abc_g1: vec![vk.gamma_abc_g1[0]], ..vk.clone() };
        let with_id = VerifierSpec { model_id: Some(Fr::from(7u64)), ..spec(&only_ic0) };
        assert!(matches!(render(&with_id), Err(StarknetError::NoModelIdInput)));
        let beta_zero = VerifyingKey { beta_g2: ark_bn254::G2Affine::zero(), ..vk.clone() };
        assert!(matches!(err(&beta_zero), Some((_, StarknetError::KeyG2AtInfinity))));
        let alpha_zero = VerifyingKey { alpha_g1: G1Affine::zero(), ..vk.clone() };
        let (msg, e) = err(&alpha_zero).unwrap();
        assert!(matches!(e, StarknetError::KeyPointAtInfinity));
        assert_eq!(msg, "the verifying key has a point at infinity; no verifier can be generated for it");

        let proof = ProofPoints { a: g1(&mut rng), b: g2(&mut rng), c: g1(&mut rng), d: None };
        let inputs = [Fr::from(1u64), Fr::from(2u64)];
        let e = hint(&spec(&vk), proof.clone(), &inputs).unwrap_err();
        assert!(matches!(e, StarknetError::ProofDoesNotVerify), "{e}");
        let h = Hint { c: Fq12::one(), w_index: 0 };
        for (point, p) in [
            ("A", ProofPoints { a: G1Affine::zero(), ..proof.clone() }),
            ("B", ProofPoints { b: ark_bn254::G2Affine::zero(), ..proof.clone() }),
            ("C", ProofPoints { c: G1Affine::zero(), ..proof.clone() }),
            ("D", ProofPoints { d: Some(G1Affine::zero()), ..proof.clone() }),
        ] {
            let e = encode_calldata(p, &inputs, &h).unwrap_err();
            assert!(matches!(e, StarknetError::ProofPointAtInfinity { point: q } if q == point));
            assert_eq!(e.to_string(), format!("proof point {point} is at infinity"));
        }
        assert!(encode_calldata(proof, &inputs, &h).is_ok());
    }
}
