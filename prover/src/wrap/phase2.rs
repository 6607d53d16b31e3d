//! Phase 2 of a Groth16 setup from a ceremony's powers (`ptau`), the circuit-specific part of a
//! production setup, as snarkjs's `zkey new/contribute/beacon/verify` and gnark's `mpcsetup` run it
//! (Bowe, Gabizon, Miers, "A Scalable Multi-party Computation for zk-SNARK Parameters in the
//! Random Beacon Model", IACR ePrint 2017/1050; DESIGN.md, "Production keys").
//!
//! `initial_keys` gives the keys in their initial state, as `snarkjs zkey new` makes them —
//! γ = δ = 1 (the generators), α and β the ceremony's. A key in this state is NOT safe to use:
//! whoever knows δ can forge proofs. Each `contribute` replaces δ by δ·δ′ for a fresh secret δ′
//! and proves knowledge of δ′; the key is safe once one contributor destroyed their δ′. A
//! `beacon` adds public randomness last, so that the final key depends on a value no contributor
//! could predict. `verify` checks every step and that the keys derive from the powers and the
//! circuit. `crate::setup` runs it on a model directory (`zkml setup --ptau`, `contribute`,
//! `beacon`, `verify`).
//!
//! A two-round (UltraGroth) key has a second secret, δ₁, under the round-1 wires' bases (its
//! commitment key, `groth16::CommitKey`): it starts at 1 too, and every contribution and the
//! beacon also replace δ₁ by δ₁·δ₁′ for a second secret δ₁′, with its own proof of knowledge
//! (as gnark's phase 2 updates each commitment's key beside δ). Whoever knows δ₁ can move
//! round-1 values after the challenges, so it must be as unknown as δ.
//!
//! Every query of the initial keys is a linear function of the powers, so no secret is needed:
//! with Lⱼ the domain's Lagrange polynomials, Lⱼ(τ)·G = IFFT(τᵏ·G)ⱼ in G1 and G2, αLⱼ(τ)·G1 and
//! βLⱼ(τ)·G1 from the α- and β-scaled powers, and the QAP's u, v, w at τ are sums of those
//! (`R1cs::qap`). H's points are τⁱ·t(τ)·G1 = τⁿ⁺ⁱ·G1 − τⁱ·G1 (t = Xⁿ − 1, the radix-2 domain's
//! vanishing polynomial).

// Keys from a file someone else made: no panic on any input (Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use std::borrow::Cow;

use ark_bn254::{
    Bn254, Fq, Fq2, Fr as F, G1Affine, G1Projective as G1, G2Affine, G2Projective as G2, g2::Config as G2Config,
};
use ark_ec::pairing::Pairing;
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{BigInteger, Field, PrimeField, UniformRand, Zero};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use blake2::{Blake2b512, Digest};
use rand::Rng;
use rayon::prelude::*;

use super::groth16::{CommitKey, Groth16Error, R1cs};
use super::ptau::{self, Powers, coefficients};

/// A ceremony's keys: Groth16's proving key and, for a two-round system, the round-1 wires'
/// commitment key.
#[derive(Clone, Debug, PartialEq)]
pub struct Keys {
    /// Groth16's proving key (its verifying key inside).
    pub pk: ProvingKey<Bn254>,
    /// The round-1 commitment key of a two-round system (none for one-round).
    pub ck: Option<CommitKey>,
}

/// The keys for `r1cs` in phase 2's initial state (γ = δ = 1, and δ₁ = 1 for a two-round
/// system), from `powers` of a ceremony.
pub fn initial_keys(powers: &Powers, r1cs: &R1cs) -> Result<Keys, Groth16Error> {
    let domain = r1cs.domain()?;
    let n = domain.size();
    if powers.tau_g1.len() < 2 * n - 1 {
        return Err(Groth16Error::Format(format!(
            "the circuit's domain has 2^{} rows; these powers are for 2^{}: read the ptau for power {}",
            domain.log_size_of_group(),
            powers.power,
            domain.log_size_of_group()
        )));
    }
    let bases = Bases::of(powers, &domain)?;
    let (l_g1, l_alpha, l_beta, l_g2) =
        (projective(&bases.tau_g1), projective(&bases.alpha_g1), projective(&bases.beta_g1), projective(&bases.tau_g2));
    drop(bases);
    // k: β·u_i(τ) + α·v_i(τ) + w_i(τ), over γ = 1 for the instance variables, δ₁ = 1 for the
    // round-1 wires and δ = 1 for the rest.
    let (a, (b, k)) = rayon::join(
        || r1cs.qap(0, &l_g1),
        || rayon::join(|| r1cs.qap(1, &l_g1), || r1cs.qap_sum(&[(0, &l_beta), (1, &l_alpha), (2, &l_g1)])),
    );
    let b_g2 = r1cs.qap(1, &l_g2);
    let (ni, round2) = (r1cs.num_instance, r1cs.num_instance + r1cs.num_round1);
    let too_few = || {
        Groth16Error::Format(format!(
            "{} powers of τ in G1, the circuit's H query needs {}",
            powers.tau_g1.len(),
            2 * n - 1
        ))
    };
    let (low, high) = powers.tau_g1.get(..2 * n - 1).ok_or_else(too_few)?.split_at(n);
    let h: Vec<G1> = high.par_iter().zip(low).map(|(hi, lo)| hi.into_group() - lo).collect();

    // One base per variable: the instance's, the round-1 wires', the rest's.
    let part = |vars: std::ops::Range<usize>| {
        let bases = k.get(vars).ok_or_else(|| Groth16Error::Format("impossible variable counts".into()))?;
        Ok::<_, Groth16Error>(G1::normalize_batch(bases))
    };
    let (alpha_g1, beta_g1) = alpha_beta(powers)?;
    let vk = VerifyingKey::<Bn254> {
        alpha_g1,
        beta_g2: powers.beta_g2,
        gamma_g2: G2Affine::generator(),
        delta_g2: G2Affine::generator(),
        gamma_abc_g1: part(0..ni)?,
    };
    let pk = ProvingKey {
        vk,
        beta_g1,
        delta_g1: G1Affine::generator(),
        a_query: G1::normalize_batch(&a),
        b_g1_query: G1::normalize_batch(&b),
        b_g2_query: G2::normalize_batch(&b_g2),
        h_query: G1::normalize_batch(&h),
        l_query: part(round2..k.len())?,
    };
    let ck = (round2 > ni).then(|| part(ni..round2)).transpose()?.map(|k_query| CommitKey {
        k_query,
        delta1_g1: G1Affine::generator(),
        delta1_g2: G2Affine::generator(),
    });
    Ok(Keys { pk, ck })
}

/// `points` in projective form, what the FFTs and `R1cs::qap` add up.
fn projective<A: AffineRepr>(points: &[A]) -> Vec<A::Group> {
    points.par_iter().map(|p| p.into_group()).collect()
}

/// α·G1 and β·G1, the first of the α- and β-scaled powers.
fn alpha_beta(powers: &Powers) -> Result<(G1Affine, G1Affine), Groth16Error> {
    match (powers.alpha_tau_g1.first(), powers.beta_tau_g1.first()) {
        (Some(a), Some(b)) => Ok((*a, *b)),
        _ => Err(Groth16Error::Format("the powers have no α·G1 or β·G1".into())),
    }
}

/// The domain's Lagrange points Lⱼ(τ)·G1, αLⱼ(τ)·G1, βLⱼ(τ)·G1 and Lⱼ(τ)·G2: a prepared ptau's
/// sections (`ptau::read` checked them), or inverse FFTs over the powers.
struct Bases<'a> {
    tau_g1: Cow<'a, [G1Affine]>,
    alpha_g1: Cow<'a, [G1Affine]>,
    beta_g1: Cow<'a, [G1Affine]>,
    tau_g2: Cow<'a, [G2Affine]>,
}

impl<'a> Bases<'a> {
    fn of(powers: &'a Powers, domain: &GeneralEvaluationDomain<F>) -> Result<Self, Groth16Error> {
        let n = domain.size();
        if let Some(l) = powers.lagrange.as_ref().filter(|l| l.tau_g1.len() == n) {
            return Ok(Bases {
                tau_g1: Cow::Borrowed(&l.tau_g1),
                alpha_g1: Cow::Borrowed(&l.alpha_tau_g1),
                beta_g1: Cow::Borrowed(&l.beta_tau_g1),
                tau_g2: Cow::Borrowed(&l.tau_g2),
            });
        }
        // A file without the Lagrange sections: the inverse FFTs over points, a hundred times
        // slower than reading them (`snarkjs powersoftau prepare phase2` adds them). A prepared
        // file keeps τ·G2 only to τ¹ (`ptau::read`): powers read for another domain than the
        // circuit's have no basis to compute here.
        let too_few = || {
            Groth16Error::Format(format!(
                "the powers were read for 2^{} points, the circuit's domain has 2^{}: read the ptau for power {}",
                powers.power,
                domain.log_size_of_group(),
                domain.log_size_of_group()
            ))
        };
        let tau_g2 = powers.tau_g2.get(..n).ok_or_else(too_few)?;
        let first_n = |points: &'a [G1Affine]| points.get(..n).ok_or_else(too_few);
        let (tau_g1, alpha_tau_g1, beta_tau_g1) =
            (first_n(&powers.tau_g1)?, first_n(&powers.alpha_tau_g1)?, first_n(&powers.beta_tau_g1)?);
        let lagrange = |points: &[G1Affine]| {
            let mut v = projective(points);
            domain.ifft_in_place(&mut v);
            Cow::Owned(G1::normalize_batch(&v))
        };
        let (tau_g1, (alpha_g1, beta_g1)) =
            rayon::join(|| lagrange(tau_g1), || rayon::join(|| lagrange(alpha_tau_g1), || lagrange(beta_tau_g1)));
        // G2's through `Glv`: arkworks multiplies BN254's G2 points by plain double-and-add.
        let mut l_g2: Vec<Glv<G2Config>> = tau_g2.par_iter().map(|p| Glv(p.into_group())).collect();
        domain.ifft_in_place(&mut l_g2);
        let l_g2: Vec<G2> = l_g2.into_iter().map(|p| p.0).collect();
        Ok(Bases { tau_g1, alpha_g1, beta_g1, tau_g2: Cow::Owned(G2::normalize_batch(&l_g2)) })
    }
}

/// A point that an FFT multiplies by GLV (half the doublings of a full-size scalar): arkworks'
/// FFT over points multiplies with `*=`, which for BN254's G2 is plain double-and-add (its G1
/// already takes GLV). The oracle demo's initial keys from a power-15 ptau without the Lagrange
/// sections: 116.6 s → 93.7 s here.
struct Glv<P: GLVConfig>(Projective<P>);

// By hand: derived, they would ask the curve's config type for the same traits.
impl<P: GLVConfig> Clone for Glv<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: GLVConfig> Copy for Glv<P> {}

impl<P: GLVConfig> std::fmt::Debug for Glv<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<P: GLVConfig> PartialEq for Glv<P> {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}

impl<P: GLVConfig> std::ops::Add for Glv<P> {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Glv(self.0 + o.0)
    }
}

impl<P: GLVConfig> std::ops::Sub for Glv<P> {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Glv(self.0 - o.0)
    }
}

impl<P: GLVConfig> std::ops::AddAssign for Glv<P> {
    fn add_assign(&mut self, o: Self) {
        self.0 += o.0;
    }
}

impl<P: GLVConfig> std::ops::SubAssign for Glv<P> {
    fn sub_assign(&mut self, o: Self) {
        self.0 -= o.0;
    }
}

impl<P: GLVConfig<ScalarField = F>> std::ops::MulAssign<F> for Glv<P> {
    fn mul_assign(&mut self, k: F) {
        self.0 = P::glv_mul_projective(self.0, k);
    }
}

impl<P: GLVConfig> Zero for Glv<P> {
    fn zero() -> Self {
        Glv(Projective::zero())
    }
    fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

/// What phase 2 has done to a key: where it started and every contribution since, in order. With
/// the proving key it is the ceremony's state, which each contributor receives, updates and
/// passes on, and which anyone checks with `verify`.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Record {
    /// The ptau's and the circuit's hash (`origin`), which determine the initial keys: a
    /// contribution's proof of knowledge is bound to it, so it cannot be moved to another circuit
    /// or other powers.
    pub origin: [u8; 64],
    /// The contributions, oldest first.
    pub contributions: Vec<Contribution>,
}

/// One contribution: δ became δ·δ′ (and a two-round key's δ₁ became δ₁·δ₁′) for secrets δ′ (and
/// δ₁′), each with a proof of knowledge bound to every contribution before it.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Contribution {
    /// δ's update.
    pub delta: Update,
    /// δ₁'s update, in a two-round key's ceremony (none in a one-round key's).
    pub delta1: Option<Update>,
    /// BLAKE2b-512 of the record before this contribution (`Record::transcript`).
    pub transcript: [u8; 64],
    /// Set for the final public randomness: δ′ and δ₁′ follow from it, so anyone can recompute
    /// them.
    pub beacon: Option<Beacon>,
}

/// A secret's update of one of the key's δs, with a proof of knowledge of the secret x
/// (Bowe–Gabizon–Miers: a Schnorr-like proof in the pairing groups).
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Update {
    /// δ·G1 (or δ₁·G1) after this contribution.
    pub after: G1Affine,
    /// A point s·G1 (random s): with `s_x` and `r_x` it proves knowledge of x.
    pub s: G1Affine,
    /// s·x·G1.
    pub s_x: G1Affine,
    /// x·R, where R is the transcript, which δ this is, s and s·x hashed to G2.
    pub r_x: G2Affine,
}

/// A random beacon (a future block hash, a lottery draw): δ′ comes from `value` hashed
/// 2^`iterations` times, a delay no contributor can compute before the value is public.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Beacon {
    /// The public value.
    pub value: Vec<u8>,
    /// log2 of the number of hashes.
    pub iterations: u32,
}

/// The most iterations a beacon may ask for: 2^40 BLAKE2b hashes take days.
pub const MAX_BEACON_ITERATIONS: u32 = 40;

/// Why a ceremony's state is refused; each message says which part failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Phase2Error {
    /// The initial keys could not be computed.
    #[error("the keys could not be derived from the powers and the circuit: {0}")]
    Keys(#[from] Groth16Error),
    /// The record's origin is not these powers' and this circuit's.
    #[error(
        "the ceremony did not start from these powers and this circuit (its origin hash differs): it belongs to another \
         model, another ptau or another zkml version"
    )]
    Origin,
    /// A contribution's transcript hash is not the record's before it.
    #[error("contribution {index} was made on another ceremony state (its transcript hash differs)")]
    Transcript {
        /// The contribution's position.
        index: usize,
    },
    /// A contribution's proof of knowledge fails.
    #[error("contribution {index}'s proof of knowledge of its secret for {which} does not verify")]
    ProofOfKnowledge {
        /// The contribution's position.
        index: usize,
        /// The secret whose proof fails.
        which: Secret,
    },
    /// A beacon's update is not the one its value gives.
    #[error("contribution {index} is a beacon, but its {which} is not the one the beacon's value gives")]
    Beacon {
        /// The contribution's position.
        index: usize,
        /// The secret.
        which: Secret,
    },
    /// A contribution updates δ₁ in a one-round key, or not in a two-round one.
    #[error(
        "contribution {index} {}",
        if *two_round { "does not update δ₁, which a two-round key's every contribution must" }
        else { "updates a δ₁, which a one-round key does not have" }
    )]
    Shape {
        /// The contribution's position.
        index: usize,
        /// Whether the key is two-round.
        two_round: bool,
    },
    /// A beacon asks for more than `MAX_BEACON_ITERATIONS`.
    #[error("a beacon may ask for at most 2^{MAX_BEACON_ITERATIONS} iterations, not 2^{0}")]
    BeaconIterations(u32),
    /// A key part that the contributions determine (δ, δ₁ and what they scale) differs; names it.
    #[error("the key's {0} is not the one the contributions give")]
    Delta(&'static str),
    /// A key part that the powers and the circuit determine differs; names it.
    #[error("the key's {0} is not the one the powers and the circuit give")]
    Derived(&'static str),
}

/// Which of a key's secrets an update is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secret {
    /// δ, under the L and H queries.
    Delta,
    /// δ₁, under a two-round key's round-1 bases.
    Delta1,
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Secret::Delta => "δ",
            Secret::Delta1 => "δ₁",
        })
    }
}

/// What a record's `origin` holds: BLAKE2b-512 of the ptau file's hash (`Powers::file_hash`) and
/// the circuit, which determine the initial keys.
pub fn origin(ptau_hash: &[u8; 64], r1cs: &R1cs) -> [u8; 64] {
    let mut h = Blake2b512::new();
    h.update(ORIGIN_TAG);
    h.update(ptau_hash);
    // Writing into a hash cannot fail.
    let _ = r1cs.write(&mut h);
    h.finalize().into()
}

impl Record {
    /// The record of keys fresh from `initial_keys`, from the ceremony's `origin`.
    pub fn new(origin: [u8; 64]) -> Self {
        Record { origin, contributions: vec![] }
    }

    /// The hash the next contribution is bound to: the origin and every contribution so far.
    pub fn transcript(&self) -> [u8; 64] {
        self.transcript_at(self.contributions.len())
    }

    fn transcript_at(&self, n: usize) -> [u8; 64] {
        let mut h = Blake2b512::new();
        h.update(TRANSCRIPT_TAG);
        h.update(self.origin);
        for c in self.contributions.iter().take(n) {
            let _ = c.serialize_compressed(&mut h);
        }
        h.finalize().into()
    }
}

impl Record {
    /// The contributions' hashes, in order: the chain `verify` returns and vk.json lists.
    pub fn hashes(&self) -> Vec<[u8; 64]> {
        self.contributions.iter().map(Contribution::hash).collect()
    }
}

impl Contribution {
    /// The hash a contributor publishes, so that everyone can find their contribution in the
    /// chain `verify` prints.
    pub fn hash(&self) -> [u8; 64] {
        let mut h = Blake2b512::new();
        let _ = self.serialize_compressed(&mut h);
        h.finalize().into()
    }
}

/// Adds a contribution with fresh secrets from `rng` (the caller mixes its entropy in) to `keys`,
/// records it in `record` and returns its hash. The secrets are dropped when this returns.
pub fn contribute(keys: &mut Keys, record: &mut Record, rng: &mut impl Rng) -> [u8; 64] {
    let mut secret = || loop {
        let d = F::rand(rng);
        if !d.is_zero() {
            break (d, G1::rand(rng).into_affine());
        }
    };
    let (delta, delta1) = (secret(), secret());
    update(keys, record, delta, delta1, None)
}

/// Adds the final public randomness: δ′ (and δ₁′) from `value` hashed 2^`iterations` times.
pub fn beacon(keys: &mut Keys, record: &mut Record, value: &[u8], iterations: u32) -> Result<[u8; 64], Phase2Error> {
    let [delta, delta1] = beacon_secrets(value, iterations)?;
    Ok(update(keys, record, delta, delta1, Some(Beacon { value: value.to_vec(), iterations })))
}

/// A beacon's δ′ and δ₁′ (never zero), each with the point s of its proof of knowledge, all from
/// the value after 2^`iterations` hashes.
fn beacon_secrets(value: &[u8], iterations: u32) -> Result<[(F, G1Affine); 2], Phase2Error> {
    if iterations > MAX_BEACON_ITERATIONS {
        return Err(Phase2Error::BeaconIterations(iterations));
    }
    let mut x: [u8; 64] = Blake2b512::new().chain_update(BEACON_TAG).chain_update(value).finalize().into();
    for _ in 0..1u64 << iterations {
        x = Blake2b512::digest(x).into();
    }
    let scalar = |label: &[u8]| {
        let mut counter = 0u32;
        loop {
            let h = Blake2b512::new().chain_update(label).chain_update(x).chain_update(counter.to_le_bytes());
            let v = F::from_le_bytes_mod_order(&h.finalize());
            if !v.is_zero() {
                break v;
            }
            counter += 1;
        }
    };
    let point = |label: &[u8]| (G1Affine::generator() * scalar(label)).into_affine();
    Ok([(scalar(b"delta"), point(b"s")), (scalar(b"delta1"), point(b"s1"))])
}

/// δ := δ·δ′: δ·G1 and δ·G2 times δ′, the L and H queries (which are over δ) divided by it; for
/// a two-round key δ₁ := δ₁·δ₁′ likewise, its round-1 bases divided by δ₁′; and the proofs of
/// knowledge. Each secret comes with the point s of its proof.
fn update(
    keys: &mut Keys,
    record: &mut Record,
    (delta, s): (F, G1Affine),
    (delta1, s1): (F, G1Affine),
    beacon: Option<Beacon>,
) -> [u8; 64] {
    // The secrets are not zero (every caller draws until they are not).
    let scale = |points: &mut Vec<G1Affine>, x: F| scale_all(points, x.inverse().unwrap_or_default());
    let pk = &mut keys.pk;
    scale(&mut pk.l_query, delta);
    scale(&mut pk.h_query, delta);
    pk.delta_g1 = (pk.delta_g1 * delta).into_affine();
    pk.vk.delta_g2 = (pk.vk.delta_g2 * delta).into_affine();
    let transcript = record.transcript();
    let prove = |which: Secret, after: G1Affine, x: F, s: G1Affine| {
        let s_x = (s * x).into_affine();
        let r = hash_to_g2(&transcript, which, &s, &s_x);
        Update { after, s, s_x, r_x: (r * x).into_affine() }
    };
    let delta_update = prove(Secret::Delta, pk.delta_g1, delta, s);
    let delta1_update = keys.ck.as_mut().map(|ck| {
        scale(&mut ck.k_query, delta1);
        ck.delta1_g1 = (ck.delta1_g1 * delta1).into_affine();
        ck.delta1_g2 = (ck.delta1_g2 * delta1).into_affine();
        prove(Secret::Delta1, ck.delta1_g1, delta1, s1)
    });
    let c = Contribution { delta: delta_update, delta1: delta1_update, transcript, beacon };
    let hash = c.hash();
    record.contributions.push(c);
    hash
}

/// Every point times `k`: an update's L, H and round-1 bases over 1/δ′, ~250k points for lenet,
/// where a contribution spends nearly all its time. `k` is split once into its GLV halves
/// (k = k₁ + λ·k₂, ~128 bits each; arkworks' `glv_mul_projective` splits it again for every
/// point, in heap-allocated big integers) and each half into width-5 NAF digits (odd, ±1…±15,
/// one in six nonzero). A point gets a table of its odd multiples P, 3P … 15P, made affine with
/// a chunk's others by one batched inversion, and their endomorphism images φ(iP) = λ·iP at one
/// multiplication each; then ~128 doublings and ~43 mixed additions, where bit by bit over
/// projective P, φ(P) and their sum it took ~96 full additions.
fn scale_all<P: GLVConfig>(points: &mut [Affine<P>], k: P::ScalarField) {
    const WIDTH: usize = 5;
    const ODD: usize = 1 << (WIDTH - 2);
    let ((k1_positive, k1), (k2_positive, k2)) = P::scalar_decomposition(k);
    let naf = |k: P::ScalarField, positive: bool| -> Vec<i64> {
        // `find_wnaf` refuses only a width outside 2..64.
        let digits = k.into_bigint().find_wnaf(WIDTH).unwrap_or_default();
        digits.into_iter().map(|d| if positive { d } else { -d }).collect()
    };
    let (mut d1, mut d2) = (naf(k1, k1_positive), naf(k2, k2_positive));
    let len = d1.len().max(d2.len());
    d1.resize(len, 0);
    d2.resize(len, 0);
    #[allow(clippy::indexing_slicing, reason = "a width-5 NAF digit is odd and at most 15 in size: (|d| − 1)/2 < ODD")]
    let add = |acc: &mut Projective<P>, table: &[Affine<P>], d: i64| match d {
        0 => {}
        d if d > 0 => *acc += &table[(d as usize - 1) / 2],
        d => *acc -= &table[(d.unsigned_abs() as usize - 1) / 2],
    };
    points.par_chunks_mut(512).for_each(|chunk| {
        let mut multiples = Vec::with_capacity(ODD * chunk.len());
        for p in chunk.iter() {
            let double = p.into_group().double();
            let mut m = p.into_group();
            for _ in 0..ODD {
                multiples.push(m);
                m += double;
            }
        }
        let tables = Projective::normalize_batch(&multiples);
        let scaled: Vec<Projective<P>> = tables
            .chunks_exact(ODD)
            .map(|table| {
                let images: Vec<Affine<P>> = table.iter().map(P::endomorphism_affine).collect();
                let mut acc = Projective::zero();
                for (&k1, &k2) in d1.iter().zip(&d2).rev() {
                    acc.double_in_place();
                    add(&mut acc, table, k1);
                    add(&mut acc, &images, k2);
                }
                acc
            })
            .collect();
        chunk.copy_from_slice(&Projective::normalize_batch(&scaled));
    });
}

/// Checks that `keys` are the keys of `r1cs` derived from `powers` and then updated by every
/// contribution of `record`, each with valid proofs of knowledge; returns the contributions'
/// hashes in order.
///
/// Without deriving the initial keys again: every query is a linear function of the Lagrange
/// points, so for random rᵢ, Σ rᵢ·Aᵢ(τ)·G1 must be Σⱼ (A·r)ⱼ·Lⱼ(τ)·G1 — an MSM over the key and
/// one over the points, where the QAP costs a multiplication per (wire, row) entry. A key that
/// differs anywhere passes one such check with probability at most 2⁻¹²⁸ over `rng`'s
/// coefficients (Schwartz–Zippel; G1 has no cofactor, and B's G2 points are checked to be in
/// G2 first). The δ- and δ₁-dependent queries are checked the same way through a pairing with
/// δ·G2 (δ₁·G2).
pub fn verify(
    powers: &Powers,
    r1cs: &R1cs,
    keys: &Keys,
    record: &Record,
    rng: &mut impl Rng,
) -> Result<Vec<[u8; 64]>, Phase2Error> {
    if origin(&powers.file_hash, r1cs) != record.origin {
        return Err(Phase2Error::Origin);
    }
    let (pk, ck) = (&keys.pk, keys.ck.as_ref());
    if ck.is_some() != (r1cs.num_round1 > 0) {
        return Err(Phase2Error::Derived("commitment key (the circuit's rounds)"));
    }
    let domain = r1cs.domain()?;
    let n = domain.size();
    let (ni, round2) = (r1cs.num_instance, r1cs.num_instance + r1cs.num_round1);
    let vars = r1cs.num_variables();
    let round1 = ck.map(|c| c.k_query.as_slice()).unwrap_or_default();
    r1cs.check_key(pk, ck)?;
    // The keys come from whoever ran the last step: the checks below mean something only for
    // points of the groups (G1's cofactor is 1; `check_record` checks δ·G2 and δ₁·G2).
    let g1_points = pk.a_query.par_iter().chain(&pk.b_g1_query).chain(&pk.vk.gamma_abc_g1);
    if !g1_points.all(|p| p.is_on_curve()) || !pk.b_g2_query.par_iter().all(|p| p.is_on_curve()) {
        return Err(Phase2Error::Derived("A or B query (a point is not on its curve)"));
    }
    ptau::all_in_g2(&pk.b_g2_query, "B query (G2)", rng)
        .map_err(|_| Phase2Error::Derived("B query (G2) outside G2"))?;
    let delta1_g1 = ck.map(|c| c.delta1_g1);
    let points = pk.l_query.par_iter().chain(&pk.h_query).chain(round1).chain([&pk.delta_g1]);
    if !points.all(|p| p.is_on_curve()) || !delta1_g1.is_none_or(|p| p.is_on_curve()) {
        return Err(Phase2Error::Delta("δ- and δ₁-dependent points (one is not on the curve)"));
    }
    let (delta_g1, recorded_delta1_g1) = check_record(record, &pk.vk.delta_g2, ck.map(|c| &c.delta1_g2))?;
    if pk.delta_g1 != delta_g1 {
        return Err(Phase2Error::Delta("δ·G1"));
    }
    if delta1_g1 != recorded_delta1_g1 {
        return Err(Phase2Error::Delta("δ₁·G1"));
    }
    let (alpha_g1, beta_g1) = alpha_beta(powers)?;
    let unchanged = [
        (pk.vk.alpha_g1 == alpha_g1, "α·G1"),
        (pk.vk.beta_g2 == powers.beta_g2, "β·G2"),
        (pk.beta_g1 == beta_g1, "β·G1"),
        (pk.vk.gamma_g2 == G2Affine::generator(), "γ·G2"),
    ];
    if let Some((_, what)) = unchanged.into_iter().find(|(ok, _)| !ok) {
        return Err(Phase2Error::Derived(what));
    }

    let l = Bases::of(powers, &domain)?;
    // A and B: Σ rᵢ·(query)ᵢ against the rows' combination of Lagrange points.
    let r = coefficients(vars, rng);
    let s = coefficients(vars, rng);
    let (ar, bs) = rayon::join(|| r1cs.rows(0, &r, n), || r1cs.rows(1, &s, n));
    let same_g1 = |key: &[G1Affine], k: &[F], bases: &[G1Affine], c: &[F]| {
        let (x, y) = rayon::join(|| G1::msm_unchecked(key, k), || G1::msm_unchecked(bases, c));
        x == y
    };
    if !same_g1(&pk.a_query, &r, &l.tau_g1, &ar) {
        return Err(Phase2Error::Derived("A query"));
    }
    if !same_g1(&pk.b_g1_query, &s, &l.tau_g1, &bs) {
        return Err(Phase2Error::Derived("B query (G1)"));
    }
    let (x, y) = rayon::join(|| G2::msm_unchecked(&pk.b_g2_query, &s), || G2::msm_unchecked(&l.tau_g2, &bs));
    if x != y {
        return Err(Phase2Error::Derived("B query (G2)"));
    }
    // β·uᵢ(τ) + α·vᵢ(τ) + wᵢ(τ) over γ = 1 (the public inputs), δ₁ (round-1 wires) and δ (the
    // rest): the combination over one range of variables, r zero elsewhere.
    let k_of = |range: std::ops::Range<usize>, r: &[F]| -> G1 {
        let mut full = vec![F::zero(); vars];
        for (x, ri) in full.iter_mut().skip(range.start).zip(r) {
            *x = *ri;
        }
        let ((u, v), w) = rayon::join(
            || rayon::join(|| r1cs.rows(0, &full, n), || r1cs.rows(1, &full, n)),
            || r1cs.rows(2, &full, n),
        );
        let ((x, y), z) = rayon::join(
            || rayon::join(|| G1::msm_unchecked(&l.beta_g1, &u), || G1::msm_unchecked(&l.alpha_g1, &v)),
            || G1::msm_unchecked(&l.tau_g1, &w),
        );
        x + y + z
    };
    let r = coefficients(ni, rng);
    if G1::msm_unchecked(&pk.vk.gamma_abc_g1, &r) != k_of(0..ni, &r) {
        return Err(Phase2Error::Derived("public-input bases"));
    }
    // Each final point times its δ is the initial one: e(Σ rᵢ·Kᵢ, δ·G2) = e(Σ rᵢ·Kᵢ⁰, G2).
    let over = |key: &[G1Affine], initial: G1, delta_g2: G2Affine, r: &[F]| {
        same_ratio((G1::msm_unchecked(key, r).into_affine(), initial.into_affine()), (G2Affine::generator(), delta_g2))
    };
    if let Some(ck) = ck {
        let r = coefficients(round1.len(), rng);
        if !over(round1, k_of(ni..round2, &r), ck.delta1_g2, &r) {
            return Err(Phase2Error::Delta("round-1 bases"));
        }
    }
    let r = coefficients(vars - round2, rng);
    if !over(&pk.l_query, k_of(round2..vars, &r), pk.vk.delta_g2, &r) {
        return Err(Phase2Error::Delta("L query"));
    }
    // H's points over δ = 1 are τⁱ·t(τ)·G1 = τⁿ⁺ⁱ·G1 − τⁱ·G1.
    let r = coefficients(n - 1, rng);
    let mut c = vec![F::zero(); 2 * n - 1];
    let (low, high) = c.split_at_mut(n);
    for ((lo, hi), ri) in low.iter_mut().zip(high).zip(&r) {
        *lo = -*ri;
        *hi = *ri;
    }
    let tau_g1 = powers.tau_g1.get(..2 * n - 1).ok_or(Phase2Error::Derived("H query (too few powers)"))?;
    if !over(&pk.h_query, G1::msm_unchecked(tau_g1, &c), pk.vk.delta_g2, &r) {
        return Err(Phase2Error::Delta("H query"));
    }
    Ok(record.hashes())
}

/// Checks the chain of `record`'s contributions — every transcript, proof of knowledge and beacon
/// — and that `delta_g2` is δ·G2 after the last one (and `delta1_g2` δ₁·G2, for a two-round key,
/// whose every contribution must update δ₁); returns δ·G1 (and δ₁·G1) after the last. Needs no
/// powers: it is what a verifying key's user (`zkml-gen`) can check alone; `verify` checks the
/// rest.
pub fn check_record(
    record: &Record,
    delta_g2: &G2Affine,
    delta1_g2: Option<&G2Affine>,
) -> Result<(G1Affine, Option<G1Affine>), Phase2Error> {
    let two_round = delta1_g2.is_some();
    let (mut delta, mut delta1) = (G1Affine::generator(), two_round.then(G1Affine::generator));
    for (index, c) in record.contributions.iter().enumerate() {
        if c.transcript != record.transcript_at(index) {
            return Err(Phase2Error::Transcript { index });
        }
        if c.delta1.is_some() != two_round {
            return Err(Phase2Error::Shape { index, two_round });
        }
        let beacon = c.beacon.as_ref().map(|b| beacon_secrets(&b.value, b.iterations)).transpose()?;
        let step = |u: &Update, before: G1Affine, which: Secret, secret: Option<(F, G1Affine)>| {
            check_update(u, before, which, index, &c.transcript, secret)
        };
        delta = step(&c.delta, delta, Secret::Delta, beacon.map(|b| b[0]))?;
        if let (Some(u), Some(before)) = (&c.delta1, delta1) {
            delta1 = Some(step(u, before, Secret::Delta1, beacon.map(|b| b[1]))?);
        }
    }
    let in_g2 = |p: &G2Affine| p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve();
    let ends_at = |g1: G1Affine, g2: &G2Affine| {
        in_g2(g2) && same_ratio((G1Affine::generator(), g1), (G2Affine::generator(), *g2))
    };
    if !ends_at(delta, delta_g2) {
        return Err(Phase2Error::Delta("δ·G2"));
    }
    if let (Some(d1), Some(d1_g2)) = (delta1, delta1_g2)
        && !ends_at(d1, d1_g2)
    {
        return Err(Phase2Error::Delta("δ₁·G2"));
    }
    Ok((delta, delta1))
}

/// Checks one update of the secret `which` in contribution `index` (bound to `transcript`) from
/// the point `before`: its proof of knowledge, and for a beacon that the secret and the point s
/// are the beacon's. Returns the point after it.
fn check_update(
    u: &Update,
    before: G1Affine,
    which: Secret,
    index: usize,
    transcript: &[u8; 64],
    beacon: Option<(F, G1Affine)>,
) -> Result<G1Affine, Phase2Error> {
    // A zero point would make both ratio checks hold for any secret.
    if u.s.is_zero() || u.s_x.is_zero() || u.after.is_zero() || u.r_x.is_zero() {
        return Err(Phase2Error::ProofOfKnowledge { index, which });
    }
    let r = hash_to_g2(transcript, which, &u.s, &u.s_x);
    // s·x / s = x·R / R (the contributor knows x) and after / before = the same x.
    if !same_ratio((u.s, u.s_x), (r, u.r_x)) || !same_ratio((before, u.after), (r, u.r_x)) {
        return Err(Phase2Error::ProofOfKnowledge { index, which });
    }
    if let Some((x, s)) = beacon
        && (u.s != s || u.after != (before * x).into_affine())
    {
        return Err(Phase2Error::Beacon { index, which });
    }
    Ok(u.after)
}

/// Whether b/a = d/c in the exponent: e(a, d) = e(b, c).
fn same_ratio((a, b): (G1Affine, G1Affine), (c, d): (G2Affine, G2Affine)) -> bool {
    Bn254::pairing(a, d) == Bn254::pairing(b, c)
}

/// A point of G2 no one knows the discrete logarithm of, from the transcript, which secret is
/// proved and the contributor's s and s·x (try-and-increment on x, then the cofactor cleared):
/// the random oracle of the proof of knowledge. Naming the secret keeps a proof for δ′ from
/// passing as one for δ₁′.
fn hash_to_g2(transcript: &[u8; 64], which: Secret, s: &G1Affine, s_x: &G1Affine) -> G2Affine {
    let mut seed = Blake2b512::new();
    seed.update(HASH_TO_G2_TAG);
    seed.update(transcript);
    seed.update([match which {
        Secret::Delta => 0u8,
        Secret::Delta1 => 1,
    }]);
    let _ = s.serialize_compressed(&mut seed);
    let _ = s_x.serialize_compressed(&mut seed);
    let seed = seed.finalize();
    let mut counter = 0u32;
    loop {
        let coord = |i: u8| {
            let h = Blake2b512::new().chain_update(seed).chain_update(counter.to_le_bytes()).chain_update([i]);
            Fq::from_le_bytes_mod_order(&h.finalize())
        };
        if let Some(p) = G2Affine::get_point_from_x_unchecked(Fq2::new(coord(0), coord(1)), false) {
            let p = p.clear_cofactor();
            if !p.is_zero() {
                return p;
            }
        }
        counter += 1;
    }
}

/// Where a record starts: part of its origin, so that a record of another format (v1 hashed the
/// initial keys) is another ceremony. Public for caches of initial keys.
pub const ORIGIN_TAG: &[u8] = b"zkml/phase2/origin/v2";
const TRANSCRIPT_TAG: &[u8] = b"zkml/phase2/transcript/v1";
const BEACON_TAG: &[u8] = b"zkml/phase2/beacon/v1";
const HASH_TO_G2_TAG: &[u8] = b"zkml/phase2/hash-to-g2/v2";

#[cfg(test)]
mod tests {
    use super::*;
    use ark_std::rand::{SeedableRng, rngs::StdRng};

    /// `scale_all` is each point times the scalar, for scalars whose GLV halves take either sign
    /// (random ones), 1, −1, small ones and past r/2, over points that include the identity.
    #[test]
    fn scaling_all_points_is_each_point_times_the_scalar() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut points: Vec<G1Affine> = (0..1100).map(|_| G1::rand(&mut rng).into_affine()).collect();
        points[3] = G1Affine::zero();
        points[700] = G1Affine::zero();
        let mut scalars = vec![F::from(1u64), -F::from(1u64), F::from(2u64), F::from(0xffffu64), -F::from(12345u64)];
        scalars.extend((0..6).map(|_| F::rand(&mut rng)));
        for k in scalars {
            let mut scaled = points.clone();
            scale_all(&mut scaled, k);
            for (i, (p, q)) in points.iter().zip(&scaled).enumerate() {
                assert_eq!((*p * k).into_affine(), *q, "point {i}, scalar {k}");
            }
        }
    }
}
