//! Starknet (Cairo) Groth16 verifiers: `zkml-gen starknet DIR --out PKG` renders a Scarb package
//! (templates under `templates/starknet/`) whose contract exposes Garaga's entry point
//! `verify_groth16_proof_bn254(full_proof_with_hints: Span<felt252>) -> Option<Span<u256>>`, and
//! [`calldata`] encodes a proof for it.
//!
//! What runs in Cairo, all on the corelib's modular circuits (`core::circuit`, u384) over the
//! BN254 base field, with the circuits traced in Rust from [`tower`]'s arithmetic
//! ([`circuit`]):
//! - the proof's A and C on G1 (y² = x³ + 3), B on the twist (y² = x³ + 3/(9 + u)) and in G2
//!   (ψ(B) = [6x²]B, as arkworks checks it), every coordinate a canonical u384 (< p);
//! - the public inputs: as many as the key has, each < r, the first equal to the model id;
//! - L = IC₀ + id·IC₁ (folded at generation time) + Σ xᵢ·ICᵢ₊₁ by a joint double-and-add with
//!   complete projective formulas (Renes–Costello–Batina, a = 0);
//! - one Miller loop over (−A, B), (L, γ), (C, δ): the lines of B are computed in Cairo (arkworks'
//!   homogeneous-projective doubling and addition steps), those of γ and δ are constants taken
//!   from arkworks' `G2Prepared` at generation time, and the Miller value of (α, β) is a
//!   constant Fp12 factor;
//! - the full final exponentiation (arkworks' algorithm), and the check that the result is 1.
//!
//! The calldata carries no hints: nothing the prover supplies besides the proof and the public
//! inputs enters the computation.

pub mod circuit;
pub mod tower;

use anyhow::{Result, bail};
use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::bn::G2Prepared;
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};
use askama::Template;

use circuit::{Circuit, Sym, begin, finish, u384_literal};
use tower::{F2, F12, Fe, G2Hom, Line};

/// Name of the generated Cairo package (and crate).
pub const DEFAULT_PACKAGE_NAME: &str = "zkml_verifier";

/// Complete projective addition on y² = x³ + b (Renes–Costello–Batina 2016, algorithm 7, a = 0),
/// over any ring-like type given by closures; `b3` = 3b.
macro_rules! complete_add {
    ($x1:expr, $y1:expr, $z1:expr, $x2:expr, $y2:expr, $z2:expr, $b3:expr) => {{
        let (x1, y1, z1, x2, y2, z2, b3) = ($x1, $y1, $z1, $x2, $y2, $z2, $b3);
        let t0 = x1.mul(x2);
        let t1 = y1.mul(y2);
        let t2 = z1.mul(z2);
        let t3 = x1.add(y1).mul(&x2.add(y2)).sub(&t0.add(&t1));
        let t4 = y1.add(z1).mul(&y2.add(z2)).sub(&t1.add(&t2));
        let y3 = x1.add(z1).mul(&x2.add(z2)).sub(&t0.add(&t2));
        let x3 = t0.add(&t0);
        let t0 = x3.add(&t0);
        let t2 = b3.mul(&t2);
        let z3 = t1.add(&t2);
        let t1 = t1.sub(&t2);
        let y3 = b3.mul(&y3);
        let x3 = t3.mul(&t1).sub(&t4.mul(&y3));
        let y3 = t1.mul(&z3).add(&y3.mul(&t0));
        let z3 = z3.mul(&t4).add(&t0.mul(&t3));
        (x3, y3, z3)
    }};
}

/// G1 complete addition (b = 3).
pub fn g1_add<T: Fe>(p: &[T; 3], q: &[T; 3]) -> [T; 3] {
    let b3 = T::konst(Fq::from(9u64));
    let (x, y, z) = complete_add!(&p[0], &p[1], &p[2], &q[0], &q[1], &q[2], &b3);
    [x, y, z]
}

/// G2 complete addition on the twist (b' = 3/(9 + u)).
pub fn g2_add<T: Fe>(p: &[F2<T>; 3], q: &[F2<T>; 3]) -> [F2<T>; 3] {
    let b = <ark_bn254::g2::Config as ark_ec::short_weierstrass::SWCurveConfig>::COEFF_B;
    let b3 = F2::<T>::konst(b + b + b);
    let (x, y, z) = complete_add!(&p[0], &p[1], &p[2], &q[0], &q[1], &q[2], &b3);
    [x, y, z]
}

fn g2_of<T: Fe>(i: &[T]) -> [F2<T>; 3] {
    [
        F2 { c0: i[0].clone(), c1: i[1].clone() },
        F2 { c0: i[2].clone(), c1: i[3].clone() },
        F2 { c0: i[4].clone(), c1: i[5].clone() },
    ]
}

fn g2_vec<T: Fe>(p: &[F2<T>; 3]) -> Vec<T> {
    p.iter().flat_map(|c| [c.c0.clone(), c.c1.clone()]).collect()
}

/// 6x², the scalar of the G2 subgroup check ψ(Q) = [6x²]Q (x the BN254 parameter).
pub fn six_x_squared() -> u128 {
    let x = <ark_bn254::Config as ark_ec::bn::BnConfig>::X[0] as u128;
    6 * x * x
}

/// The bits of 6x² after the leading one, most significant first.
pub fn six_x_squared_tail() -> Vec<u8> {
    let s = six_x_squared();
    let n = 128 - s.leading_zeros();
    (0..n - 1).rev().map(|i| (s >> i & 1) as u8).collect()
}

/// Whether an affine twist point is in G2, as the contract checks it: ψ(Q) = [6x²]Q.
pub fn g2_in_subgroup<T: Fe + PartialEq>(x: &F2<T>, y: &F2<T>) -> bool {
    let b = [x.clone(), y.clone(), F2::one()];
    let mut acc = b.clone();
    for bit in six_x_squared_tail() {
        acc = g2_add(&acc, &acc);
        if bit == 1 {
            acc = g2_add(&acc, &b);
        }
    }
    let (px, py) = tower::psi(x, y);
    acc[0].sub(&px.mul(&acc[2])) == F2::zero() && acc[1].sub(&py.mul(&acc[2])) == F2::zero()
}

/// The circuits every verifier uses, and the MSM step for `n` variable public inputs.
pub fn circuits(n: usize) -> Vec<Circuit> {
    let mut out = Vec::new();
    let b2 = <ark_bn254::g2::Config as ark_ec::short_weierstrass::SWCurveConfig>::COEFF_B;

    // G1 point check: y² − x³ − 3, and −y.
    let i = begin(2);
    let (x, y) = (i[0], i[1]);
    let d = y.mul(&y).sub(&x.mul(&x).mul(&x)).sub(&Sym::konst(Fq::from(3u64)));
    out.push(finish("g1_check_neg", "[x, y] → [y² − x³ − 3, −y]", i.clone(), vec![d, y.neg()]));

    // G2 point check on the twist, and −y.
    let i = begin(4);
    let x = F2 { c0: i[0], c1: i[1] };
    let y = F2 { c0: i[2], c1: i[3] };
    let d = y.square().sub(&x.square().mul(&x)).sub(&F2::konst(b2));
    let ny = y.neg();
    out.push(finish(
        "g2_check_neg",
        "[x0, x1, y0, y1] → [y² − x³ − b' (2 limbs), −y (2 limbs)]",
        i.clone(),
        vec![d.c0, d.c1, ny.c0, ny.c1],
    ));

    // B in G2: ψ(B) = [6x²]B, by double-and-add over the known bits of 6x².
    let i = begin(6);
    let acc = g2_of(&i);
    out.push(finish("g2_dbl", "acc → 2·acc (projective, complete)", i.clone(), g2_vec(&g2_add(&acc, &acc))));
    let i = begin(10);
    let acc = g2_of(&i);
    let d = g2_add(&acc, &acc);
    let b = [F2 { c0: i[6], c1: i[7] }, F2 { c0: i[8], c1: i[9] }, F2::one()];
    out.push(finish("g2_dbl_add", "[acc, B] → 2·acc + B", i.clone(), g2_vec(&g2_add(&d, &b))));
    let i = begin(10);
    let acc = g2_of(&i);
    let (px, py) = tower::psi(&F2 { c0: i[6], c1: i[7] }, &F2 { c0: i[8], c1: i[9] });
    let dx = acc[0].sub(&px.mul(&acc[2]));
    let dy = acc[1].sub(&py.mul(&acc[2]));
    out.push(finish(
        "g2_subgroup_diff",
        "[acc = [6x²]B, B] → [X − ψ(B).x·Z, Y − ψ(B).y·Z] (all zero iff ψ(B) = acc)",
        i.clone(),
        vec![dx.c0, dx.c1, dy.c0, dy.c1],
    ));

    // Miller-loop steps on B (homogeneous projective T).
    let i = begin(6);
    let (t, l) = tower::dbl_step(&G2Hom::from_slice(&i));
    out.push(finish("g2_dbl_step", "T → [2T, line]", i.clone(), [t.to_vec(), l.to_vec()].concat()));
    let i = begin(10);
    let q = (F2 { c0: i[6], c1: i[7] }, F2 { c0: i[8], c1: i[9] });
    let (t, l) = tower::add_step(&G2Hom::from_slice(&i[..6]), &q.0, &q.1);
    out.push(finish("g2_add_step", "[T, Q] → [T + Q, line]", i.clone(), [t.to_vec(), l.to_vec()].concat()));
    let i = begin(4);
    let (q1x, q1y) = tower::psi(&F2 { c0: i[0], c1: i[1] }, &F2 { c0: i[2], c1: i[3] });
    let (q2x, q2y) = tower::psi(&q1x, &q1y);
    let q2y = q2y.neg();
    out.push(finish(
        "g2_psi_twice",
        "Q → [ψ(Q), −ψ²(Q)] as the last two Miller steps use them",
        i.clone(),
        vec![q1x.c0, q1x.c1, q1y.c0, q1y.c1, q2x.c0, q2x.c1, q2y.c0, q2y.c1],
    ));

    // f ← (f² or f) · ℓ_B(−A) · ℓ_γ(L) · ℓ_δ(C).
    for (name, square) in [("miller_sq_lines", true), ("miller_lines", false)] {
        let i = begin(36);
        let mut f = F12::from_slice(&i[..12]);
        if square {
            f = f.square();
        }
        let mut k = 12;
        for _ in 0..3 {
            let l = Line::from_slice(&i[k..k + 6]);
            f = tower::mul_line(&f, &l, &i[k + 6], &i[k + 7]);
            k += 8;
        }
        out.push(finish(
            name,
            "[f, ℓ_B, −A, ℓ_γ, L, ℓ_δ, C] → f' (f squared first in miller_sq_lines)",
            i.clone(),
            f.to_vec(),
        ));
    }

    // Final exponentiation pieces.
    let i = begin(24);
    let (a, b) = (F12::from_slice(&i[..12]), F12::from_slice(&i[12..]));
    out.push(finish("fp12_mul", "[a, b] → a·b", i.clone(), a.mul(&b).to_vec()));
    let i = begin(12);
    let f = F12::from_slice(&i);
    out.push(finish(
        "fp12_cyc_sqr",
        "f → f² for f in the cyclotomic subgroup (Granger–Scott)",
        i.clone(),
        f.cyclotomic_square().to_vec(),
    ));
    let i = begin(24);
    let (a, b) = (F12::from_slice(&i[..12]), F12::from_slice(&i[12..]));
    out.push(finish(
        "fp12_cyc_sqr_mul",
        "[a, b] → a²·b for a in the cyclotomic subgroup",
        i.clone(),
        a.cyclotomic_square().mul(&b).to_vec(),
    ));
    let i = begin(12);
    let f = F12::from_slice(&i);
    out.push(finish("fp12_conj", "f → f̄ (the inverse in the cyclotomic subgroup)", i.clone(), f.conj().to_vec()));
    let i = begin(24);
    let (f, m) = (F12::from_slice(&i[..12]), F12::from_slice(&i[12..]));
    out.push(finish(
        "final_exp_easy",
        "[f, m] → (f·m)^((p⁶ − 1)(p² + 1))",
        i.clone(),
        tower::final_exp_easy(&f.mul(&m)).to_vec(),
    ));
    let i = begin(60);
    let r = F12::from_slice(&i[..12]);
    let y1 = F12::from_slice(&i[12..24]);
    let y3 = F12::from_slice(&i[24..36]);
    let y4 = F12::from_slice(&i[36..48]);
    let y6 = F12::from_slice(&i[48..60]);
    out.push(finish(
        "final_exp_tail",
        "[r, y1, y3, y4, y6] → the final exponentiation's result (arkworks' y7 … y16)",
        i.clone(),
        final_exp_tail(&r, &y1, &y3, &y4, &y6).to_vec(),
    ));

    // MSM: acc ← 2·acc + Σ Sⱼ, and the final affine L = acc + base.
    let i = begin(3 + 3 * n);
    let acc = [i[0], i[1], i[2]];
    let mut acc = g1_add(&acc, &acc);
    for j in 0..n {
        acc = g1_add(&acc, &[i[3 + 3 * j], i[4 + 3 * j], i[5 + 3 * j]]);
    }
    out.push(finish(
        "g1_msm_step",
        "[acc, S₁, …, Sₙ] (projective) → 2·acc + S₁ + … + Sₙ",
        i.clone(),
        acc.to_vec(),
    ));
    let i = begin(5);
    let acc = g1_add(&[i[0], i[1], i[2]], &[i[3], i[4], Sym::konst(Fq::from(1u64))]);
    let zi = acc[2].inv();
    out.push(finish(
        "g1_msm_finish",
        "[acc, base (affine)] → acc + base in affine coordinates (panics at infinity)",
        i.clone(),
        vec![acc[0].mul(&zi), acc[1].mul(&zi)],
    ));
    out
}

/// arkworks' final exponentiation from y7 on, given r (after the easy part), y1, y3, y4 and
/// y6 (before the conjugations).
pub fn final_exp_tail<T: Fe>(r: &F12<T>, y1: &F12<T>, y3: &F12<T>, y4: &F12<T>, y6: &F12<T>) -> F12<T> {
    let y3 = y3.conj();
    let y6 = y6.conj();
    let y7 = y6.mul(y4);
    let y8 = y7.mul(&y3);
    let y9 = y8.mul(y1);
    let y10 = y8.mul(y4);
    let y11 = y10.mul(r);
    let y13 = y9.frob(1).mul(&y11);
    let y14 = y8.frob(2).mul(&y13);
    let y15 = r.conj().mul(&y9).frob(3);
    y15.mul(&y14)
}

/// What a verifier is generated from.
pub struct VerifierSpec<'a> {
    pub vk: &'a VerifyingKey<Bn254>,
    /// Public input 0 fixed to this value (a compiled model's id), folded into IC₀.
    pub model_id: Option<Fr>,
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

fn lines(q: &G2Affine) -> Vec<(Fq2, Fq2, Fq2)> {
    G2Prepared::<ark_bn254::Config>::from(*q).ell_coeffs
}

/// The Miller value of (α, β) as 12 base-field elements (arkworks' Fp12 order).
fn alpha_beta_miller(vk: &VerifyingKey<Bn254>) -> Vec<Fq> {
    let f = Bn254::multi_miller_loop([vk.alpha_g1], [vk.beta_g2]).0;
    let mut v = vec![];
    for c in [f.c0, f.c1] {
        for e in [c.c0, c.c1, c.c2] {
            v.push(e.c0);
            v.push(e.c1);
        }
    }
    v
}

#[derive(Template)]
#[template(path = "starknet/verifier.cairo", escape = "none")]
struct VerifierTemplate {
    generator_version: &'static str,
    num_public: usize,
    has_model_id: bool,
    model_id: String,
    n_var: usize,
    ic_base: (String, String),
    ics: Vec<(String, String)>,
    alpha_beta: Vec<String>,
    gamma_lines: Vec<String>,
    delta_lines: Vec<String>,
    ate_digits: Vec<u8>,
    x_naf: Vec<u8>,
    p_literal: String,
    p_u256: String,
    r_u256: String,
    first_var: usize,
    six_x2: Vec<u8>,
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

/// The files of the generated package: (path relative to the package root, contents).
pub fn render(spec: &VerifierSpec) -> Result<Vec<(String, String)>> {
    let vk = spec.vk;
    if vk.gamma_abc_g1.is_empty() {
        bail!("the verifying key has no IC points");
    }
    let num_public = vk.gamma_abc_g1.len() - 1;
    let (base, first) = match spec.model_id {
        Some(id) => {
            if num_public < 1 {
                bail!("a model verifier needs at least one public input (the model id)");
            }
            ((vk.gamma_abc_g1[0].into_group() + vk.gamma_abc_g1[1] * id).into_affine(), 2)
        }
        None => (vk.gamma_abc_g1[0], 1),
    };
    let n_var = vk.gamma_abc_g1.len() - first;
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
    let line_lits = |q: &G2Affine| -> Vec<String> {
        lines(q)
            .iter()
            .flat_map(|(a, b, c)| [a.c0, a.c1, b.c0, b.c1, c.c0, c.c1])
            .map(|x| lit(&x))
            .collect()
    };
    let digit = |d: i8| match d {
        0 => 0u8,
        1 => 1,
        _ => 2,
    };
    let lc = tower::ate_loop_count();
    // For i = len − 1 down to 1: the digit that follows the doubling, ATE_LOOP_COUNT[i − 1].
    let ate_digits: Vec<u8> = (1..lc.len()).rev().map(|i| digit(lc[i - 1])).collect();
    let base_xy = g1(&base)?;
    let ics = vk.gamma_abc_g1[first..].iter().map(g1).collect::<Result<Vec<_>>>()?;
    let t = VerifierTemplate {
        generator_version: env!("CARGO_PKG_VERSION"),
        num_public,
        has_model_id: spec.model_id.is_some(),
        model_id: spec.model_id.map(|id| fq_of_fr(&id)).unwrap_or_default(),
        n_var,
        ic_base: base_xy,
        ics,
        alpha_beta: alpha_beta_miller(vk).iter().map(lit).collect(),
        gamma_lines: line_lits(&vk.gamma_g2),
        delta_lines: line_lits(&vk.delta_g2),
        ate_digits,
        x_naf: tower::x_naf_msb_first().into_iter().map(digit).collect(),
        p_literal: {
            let l = circuit::le_bytes_limbs(&Fq::MODULUS.to_bytes_le());
            format!("[{:#x}, {:#x}, {:#x}, {:#x}]", l[0], l[1], l[2], l[3])
        },
        p_u256: u256_literal(&Fq::MODULUS.to_bytes_le()),
        r_u256: u256_literal(&Fr::MODULUS.to_bytes_le()),
        first_var: first - 1,
        six_x2: six_x_squared_tail(),
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
            CircuitsTemplate { generator_version: version, circuits: circuits(n_var).iter().map(|c| c.emit()).collect() }
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

/// The felt252 calldata of `verify_groth16_proof_bn254`, as 0x-hex strings: A, B, C as u384
/// (two felts each: A.x, A.y, B.x.c0, B.x.c1, B.y.c0, B.y.c1, C.x, C.y), then the public inputs as a
/// `Span<u256>` (length, then low/high 128-bit halves). No hints follow.
pub fn calldata(proof: &Proof<Bn254>, public_inputs: &[Fr]) -> Result<Vec<String>> {
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
    Ok(out)
}

/// The verifier's computation, run in Rust on arkworks' field: what the generated Cairo does,
/// step by step (for tests; `None` where the contract returns `None` or panics).
pub fn reference_verify(spec: &VerifierSpec, proof: &Proof<Bn254>, public_inputs: &[Fr]) -> Option<Vec<Fr>> {
    let vk = spec.vk;
    if public_inputs.len() + 1 != vk.gamma_abc_g1.len() {
        return None;
    }
    let (mut base, first) = (vk.gamma_abc_g1[0].into_group(), 1);
    let first = match spec.model_id {
        Some(id) => {
            if public_inputs[0] != id {
                return None;
            }
            base += vk.gamma_abc_g1[1] * id;
            2
        }
        None => first,
    };
    let base = base.into_affine();
    let (ax, ay) = proof.a.xy()?;
    let (cx, cy) = proof.c.xy()?;
    let (bx, by) = proof.b.xy()?;
    for (x, y) in [(ax, ay), (cx, cy)] {
        if y * y - x * x * x - Fq::from(3u64) != Fq::zero() {
            return None;
        }
    }
    let b2 = <ark_bn254::g2::Config as ark_ec::short_weierstrass::SWCurveConfig>::COEFF_B;
    if by * by - bx * bx * bx - b2 != Fq2::zero() {
        return None;
    }
    if !g2_in_subgroup(&F2::<Fq>::konst(bx), &F2::konst(by)) {
        return None;
    }
    // MSM, as the contract: acc ← 2·acc + Σ bit·ICⱼ from bit 253 down.
    let mut acc = [Fq::zero(), Fq::from(1u64), Fq::zero()];
    let scalars: Vec<_> = public_inputs[first - 1..].iter().map(|s| s.into_bigint()).collect();
    for bit in (0..254).rev() {
        let mut next = g1_add(&acc, &acc);
        for (j, s) in scalars.iter().enumerate() {
            if s.get_bit(bit) {
                let (x, y) = xy(&vk.gamma_abc_g1[first + j]).ok()?;
                next = g1_add(&next, &[x, y, Fq::from(1u64)]);
            }
        }
        acc = next;
    }
    let (bxs, bys) = xy(&base).ok()?;
    let l = g1_add(&acc, &[bxs, bys, Fq::from(1u64)]);
    let zi = l[2].inv();
    let (lx, ly) = (l[0] * zi, l[1] * zi);
    let (qx, qy) = (F2::<Fq>::konst(bx), F2::<Fq>::konst(by));
    let nqy = qy.neg();
    let (gl, dl) = (lines(&vk.gamma_g2), lines(&vk.delta_g2));
    let mut t = G2Hom { x: qx.clone(), y: qy.clone(), z: F2::one() };
    let mut f = F12::<Fq>::one();
    let lc = tower::ate_loop_count();
    let mut k = 0;
    let nay = -ay;
    let step = |f: &F12<Fq>, lb: &Line<Fq>, k: usize| {
        let f = tower::mul_line(f, lb, &ax, &nay);
        let f = tower::mul_line(&f, &Line::konst(&gl[k]), &lx, &ly);
        tower::mul_line(&f, &Line::konst(&dl[k]), &cx, &cy)
    };
    for i in (1..lc.len()).rev() {
        if i != lc.len() - 1 {
            f = f.square();
        }
        let (t2, lb) = tower::dbl_step(&t);
        t = t2;
        f = step(&f, &lb, k);
        k += 1;
        if lc[i - 1] != 0 {
            let (t2, lb) = tower::add_step(&t, &qx, if lc[i - 1] == 1 { &qy } else { &nqy });
            t = t2;
            f = step(&f, &lb, k);
            k += 1;
        }
    }
    let (q1x, q1y) = tower::psi(&qx, &qy);
    let (q2x, q2y) = tower::psi(&q1x, &q1y);
    let (t2, lb) = tower::add_step(&t, &q1x, &q1y);
    f = step(&f, &lb, k);
    let (_, lb) = tower::add_step(&t2, &q2x, &q2y.neg());
    f = step(&f, &lb, k + 1);
    let ab = F12::from_slice(&alpha_beta_miller(vk));
    let r = tower::final_exp_easy(&f.mul(&ab));
    let y0 = tower::exp_by_neg_x(&r);
    let y1 = y0.cyclotomic_square();
    let y2 = y1.cyclotomic_square();
    let y3 = y2.mul(&y1);
    let y4 = tower::exp_by_neg_x(&y3);
    let y5 = y4.cyclotomic_square();
    let y6 = tower::exp_by_neg_x(&y5);
    let res = final_exp_tail(&r, &y1, &y3, &y4, &y6);
    (res == F12::one()).then(|| public_inputs.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;
    use ark_ff::UniformRand;
    use ark_std::rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn complete_addition_matches_arkworks() {
        let mut rng = StdRng::seed_from_u64(3);
        let p = ark_bn254::G1Projective::rand(&mut rng).into_affine();
        let q = ark_bn254::G1Projective::rand(&mut rng).into_affine();
        let one = Fq::from(1u64);
        let aff = |v: [Fq; 3]| {
            let zi = v[2].inv();
            (v[0] * zi, v[1] * zi)
        };
        let (px, py) = p.xy().unwrap();
        let (qx, qy) = q.xy().unwrap();
        let s = (p + q).into_affine();
        assert_eq!(aff(g1_add(&[px, py, one], &[qx, qy, one])), s.xy().unwrap());
        let d = (p + p).into_affine();
        assert_eq!(aff(g1_add(&[px, py, one], &[px, py, one])), d.xy().unwrap());
        // Infinity is (0 : 1 : 0) and is neutral.
        assert_eq!(aff(g1_add(&[Fq::zero(), one, Fq::zero()], &[px, py, one])), (px, py));
        let p2 = ark_bn254::G2Projective::rand(&mut rng).into_affine();
        let (x, y) = p2.xy().unwrap();
        let (x, y) = (F2::<Fq>::konst(x), F2::<Fq>::konst(y));
        let r = g2_add(&[x.clone(), y.clone(), F2::one()], &[x, y, F2::one()]);
        let zi = r[2].inv();
        let d2 = (p2 + p2).into_affine();
        assert_eq!((r[0].mul(&zi), r[1].mul(&zi)), (F2::konst(d2.x), F2::konst(d2.y)));
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

    /// The computation the contract does (constant lines of γ and δ, ML(α, β), the lines of B,
    /// the MSM with complete formulas, the final exponentiation) accepts a real proof and
    /// rejects a wrong input, with and without a fixed first input.
    #[test]
    fn reference_computation_verifies_groth16() {
        let (vk, proof, inputs) = groth16_fixture();
        for model_id in [None, Some(inputs[0])] {
            let spec = VerifierSpec { vk: &vk, model_id };
            assert_eq!(reference_verify(&spec, &proof, &inputs), Some(inputs.clone()));
            let mut bad = inputs.clone();
            bad[1] += Fr::from(1u64);
            assert_eq!(reference_verify(&spec, &proof, &bad), None);
            let mut bad_proof = proof.clone();
            bad_proof.a = (bad_proof.a + G1Affine::generator()).into_affine();
            assert_eq!(reference_verify(&spec, &bad_proof, &inputs), None);
        }
    }

    #[test]
    fn rendering_is_deterministic() {
        let (vk, _, inputs) = groth16_fixture();
        let spec = VerifierSpec { vk: &vk, model_id: Some(inputs[0]) };
        let a = render(&spec).unwrap();
        assert_eq!(a, render(&spec).unwrap());
        assert!(a.iter().any(|(p, _)| p == "src/verifier.cairo"));
    }

    #[test]
    fn g2_subgroup_check() {
        use ark_ff::Field;
        let mut rng = StdRng::seed_from_u64(4);
        let q = ark_bn254::G2Projective::rand(&mut rng).into_affine();
        assert!(g2_in_subgroup(&F2::<Fq>::konst(q.x), &F2::konst(q.y)));
        // A twist point outside G2 (the twist's cofactor is not 1).
        let mut x = Fq2::rand(&mut rng);
        let p = loop {
            if let Some(p) = G2Affine::get_point_from_x_unchecked(x, false) {
                break p;
            }
            x += Fq2::ONE;
        };
        assert!(p.is_on_curve() && !p.is_in_correct_subgroup_assuming_on_curve());
        assert!(!g2_in_subgroup(&F2::<Fq>::konst(p.x), &F2::konst(p.y)));
    }
}
