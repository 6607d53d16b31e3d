//! The prover's multi-scalar multiplications, Σ sᵢ·Pᵢ over a key's bases, with the buckets of
//! Pippenger's method kept in affine coordinates and filled by additions in batches that share
//! one inversion (Montgomery's trick), as gnark's and Aztec's provers do: an affine addition then
//! costs ~5 multiplications and a squaring where arkworks' bucket (extended Jacobian, XYZZ) pays
//! 8 and 2. A wrap's MSMs are mostly over full-size scalars (the transcript's states, the LogUp
//! inverses, H's coefficients): those go through the batches; the rest (limbs, small values,
//! their negations) through arkworks' MSM, which sorts scalars by size and does them cheaply.

use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AffineRepr, VariableBaseMSM};
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField, Zero};
use rayon::prelude::*;

type BigInt<P> = <<P as ark_ec::CurveConfig>::ScalarField as PrimeField>::BigInt;

/// Σ sᵢ·Pᵢ over the shorter of the two lists.
pub(crate) fn msm<P: SWCurveConfig>(bases: &[Affine<P>], scalars: &[BigInt<P>]) -> Projective<P> {
    let modulus = <P::ScalarField as PrimeField>::MODULUS;
    let full = |s: &BigInt<P>| {
        let mut neg = modulus;
        neg.sub_with_borrow(s);
        s.num_bits() > 64 && neg.num_bits() > 64
    };
    let (big, small): (Vec<usize>, Vec<usize>) = (0..bases.len().min(scalars.len()))
        .filter(|&i| !scalars[i].is_zero() && !bases[i].is_zero())
        .partition(|&i| full(&scalars[i]));
    let gather =
        |idx: &[usize]| -> (Vec<Affine<P>>, Vec<BigInt<P>>) { idx.iter().map(|&i| (bases[i], scalars[i])).unzip() };
    let (sb, ss) = gather(&small);
    let (bb, bs) = gather(&big);
    let (small, big) = rayon::join(|| Projective::<P>::msm_bigint(&sb, &ss), || batch_affine(&bb, &bs));
    small + big
}

/// Σ sᵢ·Pᵢ for bases that are not the identity, by signed windows of `c` bits (digits in
/// −2^(c−1) … 2^(c−1), 2^(c−1) buckets a window), the windows in parallel.
fn batch_affine<P: SWCurveConfig>(bases: &[Affine<P>], scalars: &[BigInt<P>]) -> Projective<P> {
    if bases.is_empty() {
        return Projective::zero();
    }
    // ln n + 2 bits, arkworks' width too (12 bits for 2^15 points, 13 for 2^17): the best of
    // ln n + 0…3 measured on price_mlp and lenet (ln n + 1 the same, ln n 5–10% slower).
    let c = ((bases.len() as f64).ln() as usize + 2).max(3);
    // A ceremony's checks combine with 128-bit coefficients: their top windows would be empty.
    let bits = scalars.iter().map(|s| s.num_bits()).max().unwrap_or(0) as usize;
    let windows = windows(bits, c);
    let digits: Vec<i32> = scalars.par_iter().flat_map_iter(|s| signed_digits(s, c, windows)).collect();
    let sums: Vec<Projective<P>> =
        (0..windows).into_par_iter().map(|w| window_sum(bases, &digits, windows, w, c)).collect();
    let mut acc = Projective::zero();
    for s in sums.iter().rev() {
        for _ in 0..c {
            acc.double_in_place();
        }
        acc += s;
    }
    acc
}

/// How many signed `c`-bit digits a scalar of `bits` bits needs: one more than its bits fill, so
/// that the last digit's carry has a window (the top window then holds at most c − 2 of them).
fn windows(bits: usize, c: usize) -> usize {
    (bits + 1) / c + 1
}

/// `windows` signed digits of `c` bits each of `s`, lowest first: Σ dₖ·2^(k·c) = s, each dₖ in
/// −2^(c−1) + 1 … 2^(c−1) (a digit past half carries one into the next; the QAP's Straus
/// combination takes them at 4 bits).
pub(super) fn signed_digits<B: BigInteger>(s: &B, c: usize, windows: usize) -> impl Iterator<Item = i32> + '_ {
    let limbs = s.as_ref();
    let mut carry = 0u64;
    (0..windows).map(move |w| {
        let (bit, limb) = ((w * c) % 64, (w * c) / 64);
        let mut v = limbs.get(limb).map_or(0, |l| l >> bit);
        if bit + c > 64 {
            v |= limbs.get(limb + 1).map_or(0, |l| l << (64 - bit));
        }
        let v = (v & ((1 << c) - 1)) + carry;
        if v > 1 << (c - 1) {
            carry = 1;
            v as i32 - (1 << c)
        } else {
            carry = 0;
            v as i32
        }
    })
}

/// Σ over the points of dᵢ·Pᵢ for window `w`'s digits: each point added into bucket |d|
/// (negated for d < 0), the buckets affine, then Σ k·bucket_k by running sums.
fn window_sum<P: SWCurveConfig>(
    bases: &[Affine<P>],
    digits: &[i32],
    windows: usize,
    w: usize,
    c: usize,
) -> Projective<P> {
    let mut buckets = Buckets::<P>::new(1 << (c - 1));
    for (p, d) in bases.iter().zip(digits.iter().skip(w).step_by(windows)) {
        match *d {
            0 => {}
            d if d > 0 => buckets.add(d as usize - 1, *p),
            d => buckets.add(d.unsigned_abs() as usize - 1, -*p),
        }
    }
    buckets.flush();
    let (mut running, mut sum) = (Projective::<P>::zero(), Projective::<P>::zero());
    for k in (0..buckets.points.len()).rev() {
        running += buckets.sum(k);
        sum += running;
    }
    sum
}

/// Affine buckets and the additions waiting for their batch's shared inversion. A bucket takes
/// one addition a batch; a point for a bucket already in the batch goes into the bucket's
/// projective overflow instead (a window whose digits take few values — the top one, a scalar's
/// last bits — puts nearly all its points there, and never waits for a batch to fill).
struct Buckets<P: SWCurveConfig> {
    points: Vec<Affine<P>>,
    filled: Vec<bool>,
    in_batch: Vec<bool>,
    overflow: Vec<Projective<P>>,
    batch: Vec<(usize, Affine<P>)>,
    denominators: Vec<P::BaseField>,
    capacity: usize,
}

impl<P: SWCurveConfig> Buckets<P> {
    fn new(n: usize) -> Self {
        // A quarter of the buckets a batch: a point finds its bucket in the batch (an overflow
        // addition) ~1/8 of the time, and one inversion (a few microseconds) is shared by
        // hundreds of additions; an eighth measured the same, a half and all of them slower.
        let capacity = (n / 4).max(1);
        Buckets {
            points: vec![Affine::identity(); n],
            filled: vec![false; n],
            in_batch: vec![false; n],
            overflow: vec![Projective::zero(); n],
            batch: Vec::with_capacity(capacity),
            denominators: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// Bucket k += p.
    fn add(&mut self, k: usize, p: Affine<P>) {
        if self.in_batch[k] {
            self.overflow[k] += &p;
        } else if !self.filled[k] {
            self.points[k] = p;
            self.filled[k] = true;
        } else {
            self.in_batch[k] = true;
            self.batch.push((k, p));
            if self.batch.len() == self.capacity {
                self.flush();
            }
        }
    }

    /// Bucket k's sum: its affine point and its overflow.
    fn sum(&self, k: usize) -> Projective<P> {
        let mut s = self.overflow[k];
        if self.filled[k] {
            s += &self.points[k];
        }
        s
    }

    /// The batch's additions, with one inversion.
    fn flush(&mut self) {
        // λ = (y₂ − y₁)/(x₂ − x₁); a pair with x₁ = x₂ (P + P or P − P, which a key's distinct
        // bases make rare) is done in projective coordinates instead.
        self.denominators.clear();
        for &(k, p) in &self.batch {
            let b = self.points[k];
            self.denominators.push(if b.x == p.x { P::BaseField::ONE } else { p.x - b.x });
        }
        // Serial: the windows already run in parallel. None is zero (x₁ = x₂ gave 1 above).
        ark_ff::serial_batch_inversion_and_mul(&mut self.denominators, &P::BaseField::ONE);
        for (&(k, p), inv) in self.batch.iter().zip(&self.denominators) {
            let b = self.points[k];
            self.in_batch[k] = false;
            if b.x == p.x {
                let sum: Affine<P> = (Projective::from(b) + p).into();
                self.filled[k] = !sum.is_zero();
                self.points[k] = sum;
                continue;
            }
            let lambda = (p.y - b.y) * inv;
            let x = lambda.square() - b.x - p.x;
            let y = lambda * (b.x - x) - b.y;
            self.points[k] = Affine::new_unchecked(x, y);
        }
        self.batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::Fr;
    use ark_ec::CurveGroup;
    use ark_ff::UniformRand;
    use ark_std::rand::{SeedableRng, rngs::StdRng};

    /// The MSM is arkworks' for every mix a wrap has — full-size scalars, small ones and their
    /// negations, zeros, identity bases — on G1 and G2, for sizes on both sides of the window
    /// choices, and for a base repeated many times (its bucket then adds P + P and P − P).
    #[test]
    fn msm_is_the_sum_of_products() {
        fn check<P: SWCurveConfig<ScalarField = Fr>>(rng: &mut StdRng) {
            for n in [0, 1, 5, 31, 200, 3000] {
                let mut bases: Vec<Affine<P>> = (0..n).map(|_| Projective::<P>::rand(rng).into_affine()).collect();
                let scalars: Vec<Fr> = (0..n)
                    .map(|i| match i % 7 {
                        0 => Fr::from(i as u64),
                        1 => -Fr::from((i * 1000) as u64),
                        2 => Fr::zero(),
                        3 => -Fr::from(1u64),
                        _ => Fr::rand(rng),
                    })
                    .collect();
                if n > 30 {
                    bases[9] = Affine::identity();
                    // One point many times, with scalars that put it in one bucket of a window
                    // twice in a batch, as itself and negated.
                    for i in (10..n).step_by(3) {
                        bases[i] = bases[10];
                    }
                }
                let big: Vec<_> = scalars.iter().map(|s| s.into_bigint()).collect();
                let want: Projective<P> = bases.iter().zip(&scalars).map(|(b, s)| *b * s).sum();
                assert_eq!(msm(&bases, &big), want, "{n} terms");
            }
        }
        let mut rng = StdRng::seed_from_u64(11);
        check::<ark_bn254::g1::Config>(&mut rng);
        check::<ark_bn254::g2::Config>(&mut rng);
    }

    /// The signed digits give the scalar back, for every window width the MSM picks.
    #[test]
    fn signed_digits_recompose() {
        let mut rng = StdRng::seed_from_u64(12);
        for c in 3..=20 {
            // r − 1 and r − 2^k fill the top window, whose carry needs the extra one.
            let top = [-Fr::from(1u64), -Fr::from(1u64 << 40), -Fr::from(u64::MAX)];
            for s in [Fr::zero(), Fr::from(1u64), Fr::rand(&mut rng), Fr::rand(&mut rng)].into_iter().chain(top) {
                let windows = windows(254, c);
                let mut back = Fr::zero();
                let digits: Vec<i32> = signed_digits(&s.into_bigint(), c, windows).collect();
                for d in digits.iter().rev() {
                    back *= Fr::from(1u64 << c);
                    back += if *d < 0 { -Fr::from(d.unsigned_abs() as u64) } else { Fr::from(*d as u64) };
                    assert!(*d > -(1 << (c - 1)) && *d <= 1 << (c - 1), "c {c}: digit {d}");
                }
                assert_eq!(back, s, "c {c}");
            }
        }
    }
}
