//! BN254 arithmetic written once over any base-field type [`Fe`]: run on arkworks' `Fq` it is
//! checked against arkworks' own pairing (tests below); run on the circuit tracer
//! ([`super::circuit::Sym`]) it becomes the Cairo circuits of the generated verifier. The
//! representation is arkworks': Fp2 = Fp[u]/(u² + 1), Fp6 = Fp2[v]/(v³ − (9 + u)),
//! Fp12 = Fp6[w]/(w² − v); G2 lines and steps are those of `ark_ec::bn::g2` (homogeneous
//! projective coordinates, D-type twist), so the fixed G2 points' line coefficients can be taken
//! from `G2Prepared` and those of the proof's B computed the same way in Cairo.

use ark_bn254::{Fq, Fq2};
use ark_ff::{Field, Fp6Config, Fp12Config};

/// A base-field element: arkworks' `Fq`, or a traced circuit value.
pub trait Fe: Clone {
    fn add(&self, o: &Self) -> Self;
    fn sub(&self, o: &Self) -> Self;
    fn mul(&self, o: &Self) -> Self;
    fn inv(&self) -> Self;
    fn konst(c: Fq) -> Self;
    fn neg(&self) -> Self {
        Self::konst(Fq::from(0u64)).sub(self)
    }
    fn dbl(&self) -> Self {
        self.add(self)
    }
}

impl Fe for Fq {
    fn add(&self, o: &Self) -> Self {
        *self + o
    }
    fn sub(&self, o: &Self) -> Self {
        *self - o
    }
    fn mul(&self, o: &Self) -> Self {
        *self * o
    }
    fn inv(&self) -> Self {
        self.inverse().expect("inverse of zero")
    }
    fn konst(c: Fq) -> Self {
        c
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct F2<T> {
    pub c0: T,
    pub c1: T,
}
#[derive(Clone, Debug, PartialEq)]
pub struct F6<T> {
    pub c0: F2<T>,
    pub c1: F2<T>,
    pub c2: F2<T>,
}
#[derive(Clone, Debug, PartialEq)]
pub struct F12<T> {
    pub c0: F6<T>,
    pub c1: F6<T>,
}

impl<T: Fe> F2<T> {
    pub fn konst(c: Fq2) -> Self {
        F2 { c0: T::konst(c.c0), c1: T::konst(c.c1) }
    }
    pub fn zero() -> Self {
        Self::konst(Fq2::from(0u64))
    }
    pub fn one() -> Self {
        Self::konst(Fq2::from(1u64))
    }
    pub fn add(&self, o: &Self) -> Self {
        F2 { c0: self.c0.add(&o.c0), c1: self.c1.add(&o.c1) }
    }
    pub fn sub(&self, o: &Self) -> Self {
        F2 { c0: self.c0.sub(&o.c0), c1: self.c1.sub(&o.c1) }
    }
    pub fn neg(&self) -> Self {
        F2 { c0: self.c0.neg(), c1: self.c1.neg() }
    }
    pub fn dbl(&self) -> Self {
        self.add(self)
    }
    pub fn mul(&self, o: &Self) -> Self {
        // Karatsuba: 3 multiplications.
        let v0 = self.c0.mul(&o.c0);
        let v1 = self.c1.mul(&o.c1);
        let s = self.c0.add(&self.c1).mul(&o.c0.add(&o.c1));
        F2 { c0: v0.sub(&v1), c1: s.sub(&v0).sub(&v1) }
    }
    pub fn square(&self) -> Self {
        // (a + bu)² = (a + b)(a − b) + 2ab·u
        let ab = self.c0.mul(&self.c1);
        F2 { c0: self.c0.add(&self.c1).mul(&self.c0.sub(&self.c1)), c1: ab.dbl() }
    }
    pub fn mul_fp(&self, s: &T) -> Self {
        F2 { c0: self.c0.mul(s), c1: self.c1.mul(s) }
    }
    pub fn conj(&self) -> Self {
        F2 { c0: self.c0.clone(), c1: self.c1.neg() }
    }
    /// Multiplication by ξ = 9 + u.
    pub fn mul_xi(&self) -> Self {
        let nine = T::konst(Fq::from(9u64));
        F2 { c0: self.c0.mul(&nine).sub(&self.c1), c1: self.c1.mul(&nine).add(&self.c0) }
    }
    pub fn inv(&self) -> Self {
        let t = self.c0.mul(&self.c0).add(&self.c1.mul(&self.c1)).inv();
        F2 { c0: self.c0.mul(&t), c1: self.c1.mul(&t).neg() }
    }
    pub fn frob(&self, k: usize) -> Self {
        if k % 2 == 1 { self.conj() } else { self.clone() }
    }
}

impl<T: Fe> F6<T> {
    pub fn zero() -> Self {
        F6 { c0: F2::zero(), c1: F2::zero(), c2: F2::zero() }
    }
    pub fn add(&self, o: &Self) -> Self {
        F6 { c0: self.c0.add(&o.c0), c1: self.c1.add(&o.c1), c2: self.c2.add(&o.c2) }
    }
    pub fn sub(&self, o: &Self) -> Self {
        F6 { c0: self.c0.sub(&o.c0), c1: self.c1.sub(&o.c1), c2: self.c2.sub(&o.c2) }
    }
    pub fn neg(&self) -> Self {
        F6 { c0: self.c0.neg(), c1: self.c1.neg(), c2: self.c2.neg() }
    }
    pub fn mul(&self, o: &Self) -> Self {
        let v0 = self.c0.mul(&o.c0);
        let v1 = self.c1.mul(&o.c1);
        let v2 = self.c2.mul(&o.c2);
        let c0 = self.c1.add(&self.c2).mul(&o.c1.add(&o.c2)).sub(&v1).sub(&v2).mul_xi().add(&v0);
        let c1 = self.c0.add(&self.c1).mul(&o.c0.add(&o.c1)).sub(&v0).sub(&v1).add(&v2.mul_xi());
        let c2 = self.c0.add(&self.c2).mul(&o.c0.add(&o.c2)).sub(&v0).sub(&v2).add(&v1);
        F6 { c0, c1, c2 }
    }
    pub fn square(&self) -> Self {
        // CH-SQR2
        let s0 = self.c0.square();
        let ab = self.c0.mul(&self.c1);
        let s1 = ab.dbl();
        let s2 = self.c0.sub(&self.c1).add(&self.c2).square();
        let bc = self.c1.mul(&self.c2);
        let s3 = bc.dbl();
        let s4 = self.c2.square();
        F6 {
            c0: s3.mul_xi().add(&s0),
            c1: s4.mul_xi().add(&s1),
            c2: s1.add(&s2).add(&s3).sub(&s0).sub(&s4),
        }
    }
    /// Multiplication by v: (c0, c1, c2) → (ξ·c2, c0, c1).
    pub fn mul_v(&self) -> Self {
        F6 { c0: self.c2.mul_xi(), c1: self.c0.clone(), c2: self.c1.clone() }
    }
    pub fn mul_f2(&self, s: &F2<T>) -> Self {
        F6 { c0: self.c0.mul(s), c1: self.c1.mul(s), c2: self.c2.mul(s) }
    }
    pub fn inv(&self) -> Self {
        let t0 = self.c0.square().sub(&self.c1.mul(&self.c2).mul_xi());
        let t1 = self.c2.square().mul_xi().sub(&self.c0.mul(&self.c1));
        let t2 = self.c1.square().sub(&self.c0.mul(&self.c2));
        let d = self.c0.mul(&t0).add(&self.c2.mul(&t1).mul_xi()).add(&self.c1.mul(&t2).mul_xi());
        let di = d.inv();
        F6 { c0: t0.mul(&di), c1: t1.mul(&di), c2: t2.mul(&di) }
    }
    pub fn frob(&self, k: usize) -> Self {
        let c1 = ark_bn254::Fq6Config::FROBENIUS_COEFF_FP6_C1[k % 6];
        let c2 = ark_bn254::Fq6Config::FROBENIUS_COEFF_FP6_C2[k % 6];
        F6 {
            c0: self.c0.frob(k),
            c1: self.c1.frob(k).mul(&F2::konst(c1)),
            c2: self.c2.frob(k).mul(&F2::konst(c2)),
        }
    }
}

impl<T: Fe> F12<T> {
    pub fn one() -> Self {
        F12 { c0: F6 { c0: F2::one(), c1: F2::zero(), c2: F2::zero() }, c1: F6::zero() }
    }
    pub fn mul(&self, o: &Self) -> Self {
        let v0 = self.c0.mul(&o.c0);
        let v1 = self.c1.mul(&o.c1);
        let c1 = self.c0.add(&self.c1).mul(&o.c0.add(&o.c1)).sub(&v0).sub(&v1);
        F12 { c0: v0.add(&v1.mul_v()), c1 }
    }
    pub fn square(&self) -> Self {
        // Complex squaring: (a + bw)² = (a + b)(a + vb) − ab − v·ab + 2ab·w
        let ab = self.c0.mul(&self.c1);
        let t = self.c0.add(&self.c1).mul(&self.c0.add(&self.c1.mul_v()));
        F12 { c0: t.sub(&ab).sub(&ab.mul_v()), c1: ab.add(&ab) }
    }
    pub fn conj(&self) -> Self {
        F12 { c0: self.c0.clone(), c1: self.c1.neg() }
    }
    /// Squaring in the cyclotomic subgroup (Granger–Scott), as arkworks' `cyclotomic_square`.
    pub fn cyclotomic_square(&self) -> Self {
        let (r0, r4, r3) = (&self.c0.c0, &self.c0.c1, &self.c0.c2);
        let (r2, r1, r5) = (&self.c1.c0, &self.c1.c1, &self.c1.c2);
        let sq = |a: &F2<T>, b: &F2<T>| {
            let tmp = a.mul(b);
            (a.add(b).mul(&b.mul_xi().add(a)).sub(&tmp).sub(&tmp.mul_xi()), tmp.dbl())
        };
        let (t0, t1) = sq(r0, r1);
        let (t2, t3) = sq(r2, r3);
        let (t4, t5) = sq(r4, r5);
        let three_minus_two = |t: &F2<T>, z: &F2<T>| t.sub(z).dbl().add(t);
        let three_plus_two = |t: &F2<T>, z: &F2<T>| t.add(z).dbl().add(t);
        let z0 = three_minus_two(&t0, r0);
        let z1 = three_plus_two(&t1, r1);
        let t5x = t5.mul_xi();
        let z2 = three_plus_two(&t5x, r2);
        let z3 = three_minus_two(&t4, r3);
        let z4 = three_minus_two(&t2, r4);
        let z5 = three_plus_two(&t3, r5);
        F12 { c0: F6 { c0: z0, c1: z4, c2: z3 }, c1: F6 { c0: z2, c1: z1, c2: z5 } }
    }
    pub fn inv(&self) -> Self {
        let t = self.c0.square().sub(&self.c1.square().mul_v()).inv();
        F12 { c0: self.c0.mul(&t), c1: self.c1.mul(&t).neg() }
    }
    pub fn frob(&self, k: usize) -> Self {
        let c = F2::konst(ark_bn254::Fq12Config::FROBENIUS_COEFF_FP12_C1[k % 12]);
        F12 { c0: self.c0.frob(k), c1: self.c1.frob(k).mul_f2(&c) }
    }
    /// Multiplication by a D-type line (c0 + (d0 + d1·v)·w), as `ark_ff`'s `mul_by_034`.
    pub fn mul_by_034(&self, c0: &F2<T>, d0: &F2<T>, d1: &F2<T>) -> Self {
        let a = F6 { c0: self.c0.c0.mul(c0), c1: self.c0.c1.mul(c0), c2: self.c0.c2.mul(c0) };
        let b = mul_by_01(&self.c1, d0, d1);
        let e = mul_by_01(&self.c0.add(&self.c1), &c0.add(d0), d1);
        F12 { c0: b.mul_v().add(&a), c1: e.sub(&a.add(&b)) }
    }
    pub fn to_vec(&self) -> Vec<T> {
        let mut v = Vec::with_capacity(12);
        for c in [&self.c0, &self.c1] {
            for e in [&c.c0, &c.c1, &c.c2] {
                v.push(e.c0.clone());
                v.push(e.c1.clone());
            }
        }
        v
    }
    pub fn from_slice(s: &[T]) -> Self {
        let f2 = |i: usize| F2 { c0: s[i].clone(), c1: s[i + 1].clone() };
        F12 {
            c0: F6 { c0: f2(0), c1: f2(2), c2: f2(4) },
            c1: F6 { c0: f2(6), c1: f2(8), c2: f2(10) },
        }
    }
}

/// `Fp6::mul_by_01`: multiplication by c0 + c1·v.
fn mul_by_01<T: Fe>(a: &F6<T>, c0: &F2<T>, c1: &F2<T>) -> F6<T> {
    let a_a = a.c0.mul(c0);
    let b_b = a.c1.mul(c1);
    let t1 = a.c2.mul(c1).mul_xi().add(&a_a);
    let t3 = a.c0.add(&a.c2).mul(c0).sub(&a_a).add(&b_b);
    let t2 = c0.add(c1).mul(&a.c0.add(&a.c1)).sub(&a_a).sub(&b_b);
    F6 { c0: t1, c1: t2, c2: t3 }
}

/// A line's coefficients, as `ark_ec::bn::g2::EllCoeff` (D-type: evaluated at P as
/// `f.mul_by_034(c0·P.y, c1·P.x, c2)`).
#[derive(Clone, Debug, PartialEq)]
pub struct Line<T> {
    pub c0: F2<T>,
    pub c1: F2<T>,
    pub c2: F2<T>,
}

impl<T: Fe> Line<T> {
    pub fn konst(c: &(Fq2, Fq2, Fq2)) -> Self {
        Line { c0: F2::konst(c.0), c1: F2::konst(c.1), c2: F2::konst(c.2) }
    }
    pub fn to_vec(&self) -> Vec<T> {
        vec![
            self.c0.c0.clone(),
            self.c0.c1.clone(),
            self.c1.c0.clone(),
            self.c1.c1.clone(),
            self.c2.c0.clone(),
            self.c2.c1.clone(),
        ]
    }
    pub fn from_slice(s: &[T]) -> Self {
        let f2 = |i: usize| F2 { c0: s[i].clone(), c1: s[i + 1].clone() };
        Line { c0: f2(0), c1: f2(2), c2: f2(4) }
    }
}

/// f · ℓ(P) for a line ℓ and an affine G1 point P = (px, py).
pub fn mul_line<T: Fe>(f: &F12<T>, l: &Line<T>, px: &T, py: &T) -> F12<T> {
    f.mul_by_034(&l.c0.mul_fp(py), &l.c1.mul_fp(px), &l.c2)
}

/// A G2 point in homogeneous projective coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct G2Hom<T> {
    pub x: F2<T>,
    pub y: F2<T>,
    pub z: F2<T>,
}

impl<T: Fe> G2Hom<T> {
    pub fn to_vec(&self) -> Vec<T> {
        vec![
            self.x.c0.clone(),
            self.x.c1.clone(),
            self.y.c0.clone(),
            self.y.c1.clone(),
            self.z.c0.clone(),
            self.z.c1.clone(),
        ]
    }
    pub fn from_slice(s: &[T]) -> Self {
        let f2 = |i: usize| F2 { c0: s[i].clone(), c1: s[i + 1].clone() };
        G2Hom { x: f2(0), y: f2(2), z: f2(4) }
    }
}

fn twist_b<T: Fe>() -> F2<T> {
    F2::konst(<ark_bn254::g2::Config as ark_ec::short_weierstrass::SWCurveConfig>::COEFF_B)
}

/// `G2HomProjective::double_in_place`.
pub fn dbl_step<T: Fe>(r: &G2Hom<T>) -> (G2Hom<T>, Line<T>) {
    let two_inv = T::konst(Fq::from(2u64).inverse().unwrap());
    let a = r.x.mul(&r.y).mul_fp(&two_inv);
    let b = r.y.square();
    let c = r.z.square();
    let e = twist_b::<T>().mul(&c.dbl().add(&c));
    let f = e.dbl().add(&e);
    let g = b.add(&f).mul_fp(&two_inv);
    let h = r.y.add(&r.z).square().sub(&b.add(&c));
    let i = e.sub(&b);
    let j = r.x.square();
    let e_sq = e.square();
    let out = G2Hom { x: a.mul(&b.sub(&f)), y: g.square().sub(&e_sq.dbl().add(&e_sq)), z: b.mul(&h) };
    (out, Line { c0: h.neg(), c1: j.dbl().add(&j), c2: i })
}

/// `G2HomProjective::add_in_place` with an affine q = (qx, qy).
pub fn add_step<T: Fe>(r: &G2Hom<T>, qx: &F2<T>, qy: &F2<T>) -> (G2Hom<T>, Line<T>) {
    let theta = r.y.sub(&qy.mul(&r.z));
    let lambda = r.x.sub(&qx.mul(&r.z));
    let c = theta.square();
    let d = lambda.square();
    let e = lambda.mul(&d);
    let f = r.z.mul(&c);
    let g = r.x.mul(&d);
    let h = e.add(&f).sub(&g.dbl());
    let out = G2Hom { x: lambda.mul(&h), y: theta.mul(&g.sub(&h)).sub(&e.mul(&r.y)), z: r.z.mul(&e) };
    let j = theta.mul(qx).sub(&lambda.mul(qy));
    (out, Line { c0: lambda, c1: theta.neg(), c2: j })
}

/// `mul_by_char`: the untwist-Frobenius-twist endomorphism ψ on an affine G2 point.
pub fn psi<T: Fe>(x: &F2<T>, y: &F2<T>) -> (F2<T>, F2<T>) {
    use ark_ec::bn::BnConfig;
    (
        x.frob(1).mul(&F2::konst(ark_bn254::Config::TWIST_MUL_BY_Q_X)),
        y.frob(1).mul(&F2::konst(ark_bn254::Config::TWIST_MUL_BY_Q_Y)),
    )
}

/// The digits of arkworks' `ATE_LOOP_COUNT` (6x + 2 in NAF, least significant first).
pub fn ate_loop_count() -> &'static [i8] {
    <ark_bn254::Config as ark_ec::bn::BnConfig>::ATE_LOOP_COUNT
}

/// The NAF digits of x (most significant first), as `cyclotomic_exp` uses them.
pub fn x_naf_msb_first() -> Vec<i8> {
    let x = <ark_bn254::Config as ark_ec::bn::BnConfig>::X;
    let mut naf = ark_ff::biginteger::arithmetic::find_naf(x);
    naf.reverse();
    while naf.first() == Some(&0) {
        naf.remove(0);
    }
    naf
}

/// f^x for f in the cyclotomic subgroup (inverse = conjugate), as `cyclotomic_exp`.
pub fn cyclotomic_exp_x<T: Fe>(f: &F12<T>) -> F12<T> {
    let finv = f.conj();
    let mut res: Option<F12<T>> = None;
    for d in x_naf_msb_first() {
        if let Some(r) = res.as_mut() {
            *r = r.cyclotomic_square();
        }
        if d != 0 {
            let m = if d > 0 { f } else { &finv };
            res = Some(match res {
                None => m.clone(),
                Some(r) => r.mul(m),
            });
        }
    }
    res.expect("x is not zero")
}

/// `exp_by_neg_x` (x is positive for BN254).
pub fn exp_by_neg_x<T: Fe>(f: &F12<T>) -> F12<T> {
    cyclotomic_exp_x(f).conj()
}

/// The easy part of the final exponentiation: f^((p⁶ − 1)(p² + 1)).
pub fn final_exp_easy<T: Fe>(f: &F12<T>) -> F12<T> {
    let r = f.conj().mul(&f.inv());
    r.frob(2).mul(&r)
}

/// The hard part, as arkworks' `final_exponentiation` (Fuentes-Castañeda et al.).
pub fn final_exp_hard<T: Fe>(r: &F12<T>) -> F12<T> {
    let y0 = exp_by_neg_x(r);
    let y1 = y0.cyclotomic_square();
    let y2 = y1.cyclotomic_square();
    let y3 = y2.mul(&y1);
    let y4 = exp_by_neg_x(&y3);
    let y5 = y4.cyclotomic_square();
    let y6 = exp_by_neg_x(&y5);
    let y3 = y3.conj();
    let y6 = y6.conj();
    let y7 = y6.mul(&y4);
    let y8 = y7.mul(&y3);
    let y9 = y8.mul(&y1);
    let y10 = y8.mul(&y4);
    let y11 = y10.mul(r);
    let y13 = y9.frob(1).mul(&y11);
    let y14 = y8.frob(2).mul(&y13);
    let y15 = r.conj().mul(&y9).frob(3);
    y15.mul(&y14)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Bn254, Fq12, G1Affine, G2Affine};
    use ark_ec::pairing::Pairing;
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::UniformRand;
    use ark_std::rand::{SeedableRng, rngs::StdRng};

    fn to_ark(f: &F12<Fq>) -> Fq12 {
        let v = f.to_vec();
        let f2 = |i: usize| Fq2::new(v[i], v[i + 1]);
        Fq12::new(
            ark_bn254::Fq6::new(f2(0), f2(2), f2(4)),
            ark_bn254::Fq6::new(f2(6), f2(8), f2(10)),
        )
    }
    fn from_ark(f: &Fq12) -> F12<Fq> {
        let mut v = vec![];
        for c in [f.c0, f.c1] {
            for e in [c.c0, c.c1, c.c2] {
                v.push(e.c0);
                v.push(e.c1);
            }
        }
        F12::from_slice(&v)
    }

    #[test]
    fn tower_ops_match_arkworks() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = Fq12::rand(&mut rng);
        let b = Fq12::rand(&mut rng);
        let (ga, gb) = (from_ark(&a), from_ark(&b));
        assert_eq!(to_ark(&ga.mul(&gb)), a * b);
        assert_eq!(to_ark(&ga.square()), a.square());
        assert_eq!(to_ark(&ga.inv()), a.inverse().unwrap());
        for k in 1..4 {
            let mut ak = a;
            ak.frobenius_map_in_place(k);
            assert_eq!(to_ark(&ga.frob(k)), ak);
        }
        // In the cyclotomic subgroup: a^((p⁶ − 1)(p² + 1)).
        let cyc = to_ark(&final_exp_easy(&ga));
        assert_eq!(to_ark(&from_ark(&cyc).cyclotomic_square()), cyc.square());
        let (c0, d0, d1) = (Fq2::rand(&mut rng), Fq2::rand(&mut rng), Fq2::rand(&mut rng));
        let mut am = a;
        am.mul_by_034(&c0, &d0, &d1);
        assert_eq!(to_ark(&ga.mul_by_034(&F2::konst(c0), &F2::konst(d0), &F2::konst(d1))), am);
    }

    /// The generic Miller loop (lines of B computed by [`dbl_step`]/[`add_step`]) and final
    /// exponentiation give arkworks' pairing.
    #[test]
    fn pairing_matches_arkworks() {
        let mut rng = StdRng::seed_from_u64(2);
        let p = (G1Affine::generator() * ark_bn254::Fr::rand(&mut rng)).into_affine();
        let q = (G2Affine::generator() * ark_bn254::Fr::rand(&mut rng)).into_affine();
        let prepared = ark_ec::bn::G2Prepared::<ark_bn254::Config>::from(q);
        let (px, py) = (p.x, p.y);
        let qx = F2::konst(q.x);
        let qy = F2::konst(q.y);
        let nqy = qy.neg();
        let mut t = G2Hom { x: qx.clone(), y: qy.clone(), z: F2::one() };
        let mut f = F12::<Fq>::one();
        let mut k = 0;
        let lc = ate_loop_count();
        for i in (1..lc.len()).rev() {
            if i != lc.len() - 1 {
                f = f.square();
            }
            let (t2, l) = dbl_step(&t);
            assert_eq!(l, Line::konst(&prepared.ell_coeffs[k]));
            k += 1;
            t = t2;
            f = mul_line(&f, &l, &px, &py);
            let bit = lc[i - 1];
            if bit != 0 {
                let (t2, l) = add_step(&t, &qx, if bit == 1 { &qy } else { &nqy });
                assert_eq!(l, Line::konst(&prepared.ell_coeffs[k]));
                k += 1;
                t = t2;
                f = mul_line(&f, &l, &px, &py);
            }
        }
        let (q1x, q1y) = psi(&qx, &qy);
        let (q2x, q2y) = psi(&q1x, &q1y);
        let (t2, l) = add_step(&t, &q1x, &q1y);
        f = mul_line(&f, &l, &px, &py);
        let (_, l2) = add_step(&t2, &q2x, &q2y.neg());
        f = mul_line(&f, &l2, &px, &py);
        assert_eq!(l2, Line::konst(&prepared.ell_coeffs[k + 1]));
        let ml = Bn254::multi_miller_loop([p], [q]).0;
        assert_eq!(to_ark(&f), ml);
        let fe = final_exp_hard(&final_exp_easy(&f));
        assert_eq!(to_ark(&fe), Bn254::pairing(p, q).0);
    }
}
