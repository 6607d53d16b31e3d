//! The Groth16 check the Cairo verifier runs, written once over [`Fe`]: run on `Fq` it is the
//! reference computation and the prover's hint computation, traced it is the verifier's
//! circuits ([`super::circuits`]), so the contract and the calldata cannot drift apart.
//!
//! e(A, B) = e(α, β)·Πᵢ e(Pᵢ, Qᵢ) is checked as ML(−A, B)·Πᵢ ML(Pᵢ, Qᵢ)·ML(α, β)·w = c^λ with
//! the residue witness (c, w) of [`super::residue`], where the Qᵢ are the key's fixed G2 points:
//! (L, γ), (C, δ), and for a two-round key (D, δ₁) too. The loop starts from c⁻¹ and multiplies
//! by c⁻¹ or c at each non-zero digit of 6x + 2, so the squarings raise c⁻¹ to 6x + 2 for free,
//! and [`miller_final`] multiplies in c^(−p + p² − p³) with three Frobenius maps. All points are
//! affine and every chord or tangent divides by a difference or a y: an exceptional case is an
//! inverse of zero, which panics in Cairo (a rejection), never a wrong result.

use ark_bn254::{Fq, G2Affine};
use ark_ec::bn::BnConfig;

use super::tower::{F2, F12, Fe, G2Aff, Line, add_step, ate_loop_count, dbl_step, line_prep, mul_line, psi};

/// The G1 sides of the pairs as [`line_prep`] gives them: −A, then one per fixed G2 point (L, C
/// and, for a two-round key, D).
pub type Preps<T> = Vec<(T, T)>;

/// `a` is A (negated here), `fixed` the G1 points paired with the key's fixed G2 points.
pub fn preps<T: Fe>(a: &(T, T), fixed: &[(T, T)]) -> Preps<T> {
    std::iter::once(line_prep(&a.0, &a.1.neg())).chain(fixed.iter().map(|p| line_prep(&p.0, &p.1))).collect()
}

/// The digits of 6x + 2 after the leading one, most significant first.
pub fn ate_digits() -> Vec<i8> {
    let lc = ate_loop_count();
    (1..lc.len()).rev().map(|i| lc[i - 1]).collect()
}

/// f·ℓ_B(−A)·Πᵢ ℓᵢ(Pᵢ) for one step's lines (`fixed`: one line per fixed G2 point).
fn mul_lines<T: Fe>(f: &F12<T>, lb: &Line<T>, fixed: &[&Line<T>], p: &Preps<T>) -> F12<T> {
    let f = mul_line(f, lb, &p[0]);
    fixed.iter().zip(&p[1..]).fold(f, |f, (l, q)| mul_line(&f, l, q))
}

/// The chord step of a digit ±1: ±B, c⁻¹ (digit 1) or c (digit −1), the fixed points' chords.
pub struct Chord<'a, T> {
    /// ±B, the point added.
    pub q: &'a G2Aff<T>,
    /// The Miller loop's multiplier for the digit: c⁻¹ for 1, c for −1.
    pub c: &'a F12<T>,
    /// The fixed points' chord lines.
    pub lines: Vec<&'a Line<T>>,
}

/// One digit of the loop: f ← f²·(tangents), T ← 2T; then for a digit ±1
/// f ← f·c^∓1·(chords), T ← T ± B.
pub fn miller_digit<T: Fe>(
    f: &F12<T>,
    t: &G2Aff<T>,
    p: &Preps<T>,
    tangents: &[&Line<T>],
    chord: Option<Chord<T>>,
) -> (F12<T>, G2Aff<T>) {
    let (t, lb) = dbl_step(t);
    let f = mul_lines(&f.square(), &lb, tangents, p);
    match chord {
        None => (f, t),
        Some(ch) => {
            let (t, lb) = add_step(&t, ch.q);
            (mul_lines(&f.mul(ch.c), &lb, &ch.lines, p), t)
        }
    }
}

/// The last two chords (T + ψ(B), then − ψ²(B)) and the residue check: one iff
/// ML·ML(α, β)·w = c^λ, with `abw` = ML(α, β)·w. `lines`: the fixed points' lines of the two
/// chords.
#[allow(clippy::too_many_arguments)]
pub fn miller_final<T: Fe>(
    f: &F12<T>,
    t: &G2Aff<T>,
    b: &G2Aff<T>,
    p: &Preps<T>,
    lines: [&[&Line<T>]; 2],
    c: &F12<T>,
    ci: &F12<T>,
    abw: &F12<T>,
) -> F12<T> {
    let q1 = psi(b);
    let (t, lb) = add_step(t, &q1);
    let f = mul_lines(f, &lb, lines[0], p);
    let (_, lb) = add_step(&t, &psi(&q1).neg());
    let f = mul_lines(&f, &lb, lines[1], p);
    f.mul(abw).mul(&ci.frob(1)).mul(&c.frob(2)).mul(&ci.frob(3))
}

/// The whole loop as the contract runs it: one iff the residue witness (c, w) proves the
/// pairing product is 1. `fixed`: [`fixed_lines`] of each fixed G2 point, in the order of `p`.
pub fn miller_check<T: Fe>(b: &G2Aff<T>, p: &Preps<T>, fixed: &[Vec<Line<T>>], c: &F12<T>, abw: &F12<T>) -> F12<T> {
    let ci = c.inv();
    let nb = b.neg();
    let at = |k: usize| -> Vec<&Line<T>> { fixed.iter().map(|l| &l[k]).collect() };
    let (mut f, mut t, mut k) = (ci.clone(), b.clone(), 0);
    for d in ate_digits() {
        let chord = (d != 0).then(|| Chord {
            q: if d == 1 { b } else { &nb },
            c: if d == 1 { &ci } else { c },
            lines: at(k + 1),
        });
        (f, t) = miller_digit(&f, &t, p, &at(k), chord);
        k += if d == 0 { 1 } else { 2 };
    }
    miller_final(&f, &t, b, p, [&at(k), &at(k + 1)], c, &ci, abw)
}

/// The lines of a fixed G2 point in the order [`miller_check`] uses them: per digit the
/// tangent, then the chord where the digit is ±1; then the two Frobenius chords.
pub fn fixed_lines(q: &G2Affine) -> Vec<Line<Fq>> {
    let b = G2Aff::<Fq>::konst(q);
    let mut t = b.clone();
    let mut out = vec![];
    for d in ate_digits() {
        let (t2, l) = dbl_step(&t);
        out.push(l);
        t = t2;
        if d != 0 {
            let (t2, l) = add_step(&t, &if d == 1 { b.clone() } else { b.neg() });
            out.push(l);
            t = t2;
        }
    }
    let q1 = psi(&b);
    let (t2, l) = add_step(&t, &q1);
    out.push(l);
    out.push(add_step(&t2, &psi(&q1).neg()).1);
    out
}

/// [x + 1]Q + ψ([x]Q) + ψ²([x]Q) − ψ³([2x]Q), as the differences of the two sides' affine
/// coordinates: all zero iff a twist point Q is in G2 (El Housni, Guillevic and Piellard,
/// eprint 2022/352, for BN curves; x the BN254 parameter).
pub fn g2_subgroup_diff<T: Fe>(q: &G2Aff<T>) -> [T; 4] {
    let x = ark_bn254::Config::X[0];
    let mut xq = q.clone();
    for i in (0..63 - x.leading_zeros()).rev() {
        xq = dbl_step(&xq).0;
        if x >> i & 1 == 1 {
            xq = add_step(&xq, q).0;
        }
    }
    let lhs = add_step(&add_step(&add_step(&xq, q).0, &psi(&xq)).0, &psi(&psi(&xq))).0;
    let rhs = psi(&psi(&psi(&dbl_step(&xq).0)));
    let d = |a: &F2<T>, b: &F2<T>| a.sub(b);
    let (dx, dy) = (d(&lhs.x, &rhs.x), d(&lhs.y, &rhs.y));
    [dx.c0, dx.c1, dy.c0, dy.c1]
}

/// One window of the MSM: 2^dbls·acc + Σ pts (affine).
pub fn msm_window<T: Fe>(acc: &(T, T), dbls: usize, pts: &[(T, T)]) -> (T, T) {
    let mut acc = acc.clone();
    for _ in 0..dbls {
        acc = super::tower::g1_dbl(&acc);
    }
    for p in pts {
        acc = super::tower::g1_add(&acc, p);
    }
    acc
}
