//! Starknet (Cairo) Groth16 verifiers: `zkml-gen starknet DIR --out PKG` renders a Scarb package
//! (templates under `templates/starknet/`) whose contract exposes Garaga's entry point
//! `verify_groth16_proof_bn254(full_proof_with_hints: Span<felt252>) -> Option<Span<u256>>`, and
//! [`calldata`] encodes a proof for it.
//!
//! What runs in Cairo, all on the corelib's modular circuits (`core::circuit`, u384) over the
//! BN254 base field, with the circuits traced in Rust ([`circuit`]) from the same generic code
//! ([`tower`], [`groth16`]) that computes the reference result and the prover's hint:
//! - the proof's A and C on G1 (y² = x³ + 3), B on the twist (y² = x³ + 3/(9 + u)) and in G2
//!   ([`groth16::g2_subgroup_diff`]), every coordinate a canonical u384 (< p);
//! - the public inputs: as many as the key has, each < r, the first equal to the model id;
//! - L = IC₀ + id·IC₁ (folded at generation time) + Σ xᵢ·ICᵢ₊₁ by a windowed MSM over tables of
//!   offset multiples ([`MsmPlan`]), affine;
//! - one Miller loop over (−A, B), (L, γ), (C, δ) with affine steps and lines divided by their
//!   constant term: B's lines are computed in Cairo, γ's and δ's are constants, ML(α, β) is a
//!   constant factor;
//! - instead of the final exponentiation, the residue witness ([`residue`]): the calldata
//!   carries c ∈ Fp12 and the index of a scaling factor w after the public inputs, and the
//!   contract checks ML·ML(α, β)·w = c^λ. The hint is checked, never trusted: a wrong c or w
//!   fails the equation.

pub mod circuit;
pub mod groth16;
pub mod residue;
pub mod tower;

use anyhow::{Result, bail};
use ark_bn254::{Bn254, Fq, Fq12, Fr, G1Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, One, PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};
use askama::Template;

use circuit::{Circuit, Sym, begin, begin_args, finish, u384_literal};
use groth16::Preps;
use tower::{F2, F12, Fe, G2Aff, Line};

/// Name of the generated Cairo package (and crate).
pub const DEFAULT_PACKAGE_NAME: &str = "zkml_verifier";

/// Points per MSM circuit call.
const MSM_CHUNK: usize = 8;

/// Window width in bits of the MSM for `n` variable inputs (each input has a table of 2^bits
/// points among the contract's constants).
fn msm_window_bits(n: usize) -> usize {
    match n {
        0..=16 => 4,
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
    pub bits: usize,
    pub start: G1Affine,
    pub tables: Vec<Vec<G1Affine>>,
    pub correction: G1Affine,
}

fn offset_point(tag: &str, j: usize) -> ark_bn254::G1Projective {
    let h = alloy_primitives::keccak256(format!("zkml starknet msm offset {tag} {j}"));
    G1Affine::generator() * Fr::from_be_bytes_mod_order(h.as_slice())
}

impl MsmPlan {
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
                bail!("an MSM table point of input {j} is at infinity; no verifier can be generated for this key");
            }
            tables.push(row);
        }
        let (start, correction) = (start.into_affine(), correction.into_affine());
        if start.is_zero() || correction.is_zero() {
            bail!("an MSM offset is at infinity; no verifier can be generated for this key");
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

/// The circuits of a verifier with `n` variable public inputs.
pub fn circuits(n: usize) -> Vec<Circuit> {
    let mut out = Vec::new();
    let b2 = <ark_bn254::g2::Config as ark_ec::short_weierstrass::SWCurveConfig>::COEFF_B;
    let g2 = |i: &[Sym]| G2Aff::from_slice(i);
    let line = |i: &[Sym]| Line::from_slice(i);
    let f12 = |i: &[Sym]| F12::from_slice(i);
    let pair = |i: &[Sym]| -> Preps<Sym> { [(i[0], i[1]), (i[2], i[3]), (i[4], i[5])] };
    let flat = |p: &Preps<Sym>| p.iter().flat_map(|(a, b)| [*a, *b]).collect::<Vec<_>>();

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

    let i = begin(6);
    let p = groth16::preps(&(i[0], i[1]), &(i[2], i[3]), &(i[4], i[5]));
    out.push(finish("g1_preps", "[A, L, C] → line_prep of −A, L, C", i.clone(), flat(&p)));

    let i = begin(12);
    out.push(finish("fp12_inv", "c → c⁻¹ (panics for 0)", i.clone(), f12(&i).inv().to_vec()));

    let i = begin_args(&[("f", 12), ("t", 4), ("preps", 6), ("lg", 4), ("ld", 4)]);
    let (f, t) = groth16::miller_digit(
        &f12(&i[..12]),
        &g2(&i[12..16]),
        &pair(&i[16..22]),
        &line(&i[22..26]),
        &line(&i[26..30]),
        None,
    );
    out.push(finish(
        "miller_dbl",
        "[f, T, preps, ℓγ, ℓδ] → [f²·tangents, 2T] (a digit 0)",
        i.clone(),
        [f.to_vec(), t.to_vec()].concat(),
    ));

    let i = begin_args(&[("f", 12), ("t", 4), ("preps", 6), ("lg", 8), ("ld", 8), ("q", 4), ("c", 12)]);
    let chord =
        groth16::Chord { q: &g2(&i[38..42]), c: &f12(&i[42..54]), lg: &line(&i[26..30]), ld: &line(&i[34..38]) };
    let (f, t) = groth16::miller_digit(
        &f12(&i[..12]),
        &g2(&i[12..16]),
        &pair(&i[16..22]),
        &line(&i[22..26]),
        &line(&i[30..34]),
        Some(chord),
    );
    out.push(finish(
        "miller_dbl_add",
        "[f, T, preps, (ℓγ, ℓγ'), (ℓδ, ℓδ'), ±B, c∓¹] → [(f²·tangents)·c∓¹·chords, 2T ± B] (a digit ±1)",
        i.clone(),
        [f.to_vec(), t.to_vec()].concat(),
    ));

    let i = begin_args(&[
        ("f", 12),
        ("t", 4),
        ("b", 4),
        ("preps", 6),
        ("lg", 8),
        ("ld", 8),
        ("c", 12),
        ("ci", 12),
        ("abw", 12),
    ]);
    let r = groth16::miller_final(
        &f12(&i[..12]),
        &g2(&i[12..16]),
        &g2(&i[16..20]),
        &pair(&i[20..26]),
        [&line(&i[26..30]), &line(&i[30..34])],
        [&line(&i[34..38]), &line(&i[38..42])],
        &f12(&i[42..54]),
        &f12(&i[54..66]),
        &f12(&i[66..78]),
    );
    out.push(finish(
        "miller_final",
        "[f, T, B, preps, ℓγ ×2, ℓδ ×2, c, c⁻¹, ML(α, β)·w] → the residue check's product (one iff valid)",
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
    pub vk: &'a VerifyingKey<Bn254>,
    /// Public input 0 fixed to this value (a compiled model's id), folded into IC₀.
    pub model_id: Option<Fr>,
    /// Why the keys are unsafe, for keys rendered anyway (`--allow-dev-keys`): said at the top
    /// of the contract's source.
    pub unsafe_keys: Option<&'a str>,
}

/// A u256 literal from 32 little-endian bytes.
fn u256_literal(le: &[u8]) -> String {
    let half = |b: &[u8]| b.iter().rev().fold(0u128, |acc, x| acc << 8 | *x as u128);
    format!("u256 {{ low: {:#x}, high: {:#x} }}", half(&le[..16]), half(&le[16..32]))
}

fn fq_of_fr(x: &Fr) -> String {
    u256_literal(&x.into_bigint().to_bytes_le())
}

fn xy(p: &G1Affine) -> Result<(Fq, Fq)> {
    match p.xy() {
        Some((x, y)) => Ok((x, y)),
        None => bail!("the verifying key has a point at infinity; no verifier can be generated for it"),
    }
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
    ate_digits: Vec<u8>,
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
    if vk.gamma_abc_g1.is_empty() {
        bail!("the verifying key has no IC points");
    }
    match spec.model_id {
        Some(id) => {
            if vk.gamma_abc_g1.len() < 2 {
                bail!("a model verifier needs at least one public input (the model id)");
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
    let num_public = vk.gamma_abc_g1.len() - 1;
    let n_var = ics.len();
    let lit = |x: &Fq| u384_literal(x);
    let g1 = |p: &G1Affine| -> Result<(String, String)> {
        let (x, y) = xy(p)?;
        Ok((lit(&x), lit(&y)))
    };
    for q in [&vk.beta_g2, &vk.gamma_g2, &vk.delta_g2] {
        if q.is_zero() {
            bail!("the verifying key has a G2 point at infinity");
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
        ate_digits,
        p_literal: {
            let l = circuit::le_bytes_limbs(&Fq::MODULUS.to_bytes_le());
            format!("[{:#x}, {:#x}, {:#x}, {:#x}]", l[0], l[1], l[2], l[3])
        },
        p_u256: u256_literal(&Fq::MODULUS.to_bytes_le()),
        r_u256: u256_literal(&Fr::MODULUS.to_bytes_le()),
        first_var: num_public - n_var,
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
                circuits: circuits(n_var).iter().map(|c| c.emit()).collect(),
            }
            .render()?,
        ),
    ])
}

/// Writes the package under `out`.
pub fn write_package(spec: &VerifierSpec, out: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    use anyhow::Context;
    let mut written = vec![];
    for (rel, text) in render(spec)? {
        let p = out.join(&rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
        written.push(p);
    }
    Ok(written)
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
fn loop_inputs(spec: &VerifierSpec, proof: &Proof<Bn254>, public_inputs: &[Fr]) -> Option<(G2Aff<Fq>, Preps<Fq>)> {
    let (base, ics) = key_base(spec).ok()?;
    if public_inputs.len() + 1 != spec.vk.gamma_abc_g1.len() {
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
    for (x, y) in [(ax, ay), (cx, cy)] {
        if y * y - x * x * x - Fq::from(3u64) != Fq::zero() {
            return None;
        }
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
        MsmPlan::new(ics, &base).ok()?.run(&public_inputs[public_inputs.len() - ics.len()..])?
    };
    Some((b, groth16::preps(&(ax, ay), &l, &(cx, cy))))
}

/// The contract's Miller loop and residue check for (c, w index): one iff valid.
fn miller_check(spec: &VerifierSpec, b: &G2Aff<Fq>, p: &Preps<Fq>, c: &Fq12, abw: &Fq12) -> F12<Fq> {
    let (gl, dl) = (groth16::fixed_lines(&spec.vk.gamma_g2), groth16::fixed_lines(&spec.vk.delta_g2));
    groth16::miller_check(b, p, &gl, &dl, &F12::from_ark(c), &F12::from_ark(abw))
}

/// The prover's hint for a valid proof; an error if the proof does not verify against the key
/// (then no hint exists).
pub fn hint(spec: &VerifierSpec, proof: &Proof<Bn254>, public_inputs: &[Fr]) -> Result<Hint> {
    let invalid =
        || anyhow::anyhow!("the proof does not verify against this verifying key, so it has no Starknet calldata");
    let (b, p) = loop_inputs(spec, proof, public_inputs).ok_or_else(invalid)?;
    let ab = Bn254::multi_miller_loop([spec.vk.alpha_g1], [spec.vk.beta_g2]).0;
    // With c = 1 the check's product is the Miller value itself.
    let f = miller_check(spec, &b, &p, &Fq12::one(), &ab).to_ark();
    let (c, w_index) = residue::residue_witness(&f).ok_or_else(invalid)?;
    Ok(Hint { c, w_index })
}

/// The felt252 calldata of `verify_groth16_proof_bn254` for a valid proof, as 0x-hex strings
/// ([`encode_calldata`] with its [`hint`]). Fails for a proof that does not verify.
pub fn calldata(spec: &VerifierSpec, proof: &Proof<Bn254>, public_inputs: &[Fr]) -> Result<Vec<String>> {
    encode_calldata(proof, public_inputs, &hint(spec, proof, public_inputs)?)
}

/// Encodes calldata: A, B, C as u384 (two felts each: A.x, A.y, B.x.c0, B.x.c1, B.y.c0, B.y.c1,
/// C.x, C.y), the public inputs as a `Span<u256>` (length, then low/high 128-bit halves), then
/// the hint: c as 12 u384 (arkworks' Fp12 coefficient order) and the index of w.
pub fn encode_calldata(proof: &Proof<Bn254>, public_inputs: &[Fr], hint: &Hint) -> Result<Vec<String>> {
    let mut out = vec![];
    let (ax, ay) = xy(&proof.a).map_err(|_| anyhow::anyhow!("proof point A is at infinity"))?;
    let (cx, cy) = xy(&proof.c).map_err(|_| anyhow::anyhow!("proof point C is at infinity"))?;
    let Some((bx, by)) = proof.b.xy() else { bail!("proof point B is at infinity") };
    for x in [ax, ay, bx.c0, bx.c1, by.c0, by.c1, cx, cy] {
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
    proof: &Proof<Bn254>,
    public_inputs: &[Fr],
    hint: &Hint,
) -> Option<Vec<Fr>> {
    let (b, p) = loop_inputs(spec, proof, public_inputs)?;
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
        for n in [1, 4, 17, 70] {
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

    /// Knowledge of x, y with x·y = z and x + y = w (z, w public).
    #[derive(Clone)]
    struct MulAdd {
        x: Option<Fr>,
        y: Option<Fr>,
    }

    impl ark_relations::gr1cs::ConstraintSynthesizer<Fr> for MulAdd {
        fn generate_constraints(
            self,
            cs: ark_relations::gr1cs::ConstraintSystemRef<Fr>,
        ) -> Result<(), ark_relations::gr1cs::SynthesisError> {
            use ark_relations::gr1cs::{LinearCombination, SynthesisError, Variable};
            let missing = || SynthesisError::AssignmentMissing;
            let z = cs.new_input_variable(|| Ok(self.x.ok_or_else(missing)? * self.y.ok_or_else(missing)?))?;
            let w = cs.new_input_variable(|| Ok(self.x.ok_or_else(missing)? + self.y.ok_or_else(missing)?))?;
            let x = cs.new_witness_variable(|| self.x.ok_or_else(missing))?;
            let y = cs.new_witness_variable(|| self.y.ok_or_else(missing))?;
            let lc = |vars: &[Variable]| LinearCombination::sum_vars(vars);
            cs.enforce_r1cs_constraint(|| lc(&[x]), || lc(&[y]), || lc(&[z]))?;
            cs.enforce_r1cs_constraint(|| lc(&[x, y]), || lc(&[Variable::One]), || lc(&[w]))?;
            Ok(())
        }
    }

    fn groth16_fixture() -> (VerifyingKey<Bn254>, Proof<Bn254>, Vec<Fr>) {
        use ark_snark::SNARK;
        let mut rng = StdRng::seed_from_u64(5);
        let (pk, vk) =
            ark_groth16::Groth16::<Bn254>::circuit_specific_setup(MulAdd { x: None, y: None }, &mut rng).unwrap();
        let (x, y) = (Fr::from(3u64), Fr::from(11u64));
        let proof = ark_groth16::Groth16::<Bn254>::prove(&pk, MulAdd { x: Some(x), y: Some(y) }, &mut rng).unwrap();
        (vk, proof, vec![x * y, x + y])
    }

    /// The computation the contract does accepts a real proof with its hint and rejects a
    /// wrong input, a tampered proof and an altered hint, with and without a fixed first
    /// input; an invalid proof has no hint (so no calldata).
    #[test]
    fn reference_computation_verifies_groth16() {
        let (vk, proof, inputs) = groth16_fixture();
        for model_id in [None, Some(inputs[0])] {
            let spec = VerifierSpec { vk: &vk, model_id, unsafe_keys: None };
            let h = hint(&spec, &proof, &inputs).unwrap();
            assert_eq!(reference_verify(&spec, &proof, &inputs, &h), Some(inputs.clone()));
            let mut bad = inputs.clone();
            bad[1] += Fr::from(1u64);
            assert_eq!(reference_verify(&spec, &proof, &bad, &h), None);
            assert!(hint(&spec, &proof, &bad).is_err());
            let mut bad_proof = proof.clone();
            bad_proof.a = (bad_proof.a + G1Affine::generator()).into_affine();
            assert_eq!(reference_verify(&spec, &bad_proof, &inputs, &h), None);
            assert!(calldata(&spec, &bad_proof, &inputs).is_err());
            let mut c = h.c;
            c.c1.c2.c1 += Fq::from(1u64);
            assert_eq!(reference_verify(&spec, &proof, &inputs, &Hint { c, w_index: h.w_index }), None);
            for w_index in [(h.w_index + 1) % 3, (h.w_index + 2) % 3, 3] {
                assert_eq!(reference_verify(&spec, &proof, &inputs, &Hint { c: h.c, w_index }), None);
            }
        }
    }

    #[test]
    fn rendering_is_deterministic() {
        let (vk, _, inputs) = groth16_fixture();
        let spec = VerifierSpec { vk: &vk, model_id: Some(inputs[0]), unsafe_keys: None };
        let a = render(&spec).unwrap();
        assert_eq!(a, render(&spec).unwrap());
        assert!(a.iter().any(|(p, _)| p == "src/verifier.cairo"));
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
}
