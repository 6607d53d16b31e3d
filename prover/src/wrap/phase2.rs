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
//! could predict. `verify` derives the initial keys again and checks every step. `crate::setup` runs
//! it on a model directory (`zkml setup --ptau`, `contribute`, `beacon`, `verify`).
//!
//! Every query of the initial keys is a linear function of the powers, so no secret is needed:
//! with Lⱼ the domain's Lagrange polynomials, Lⱼ(τ)·G = IFFT(τᵏ·G)ⱼ in G1 and G2, αLⱼ(τ)·G1 and
//! βLⱼ(τ)·G1 from the α- and β-scaled powers, and the QAP's u, v, w at τ are sums of those
//! (`R1cs::qap`). H's points are τⁱ·t(τ)·G1 = τⁿ⁺ⁱ·G1 − τⁱ·G1 (t = Xⁿ − 1, the radix-2 domain's
//! vanishing polynomial).

// Keys from a file someone else made: no panic on any input (Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used)]

use ark_bn254::{Bn254, Fq, Fq2, Fr as F, G1Affine, G1Projective as G1, G2Affine, G2Projective as G2};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{Field, PrimeField, UniformRand, Zero};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::EvaluationDomain;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use blake2::{Blake2b512, Digest};
use rand::Rng;
use rayon::prelude::*;

use super::groth16::{Groth16Error, R1cs};
use super::ptau::{Powers, coefficients};

/// The keys for `r1cs` in phase 2's initial state (γ = δ = 1), from `powers` of a ceremony.
pub fn initial_keys(powers: &Powers, r1cs: &R1cs) -> Result<ProvingKey<Bn254>, Groth16Error> {
    if r1cs.num_round1 > 0 {
        return Err(Groth16Error::Format("two-round keys from a ceremony are not built yet".into()));
    }
    let domain = r1cs.domain()?;
    let n = domain.size();
    if powers.tau_g2.len() < n {
        return Err(Groth16Error::Format(format!(
            "the circuit's domain has 2^{} rows; these powers are for 2^{}: read the ptau for power {}",
            domain.log_size_of_group(),
            powers.power,
            domain.log_size_of_group()
        )));
    }
    let (l_g1, l_alpha, l_beta, l_g2) = match &powers.lagrange {
        Some(l) if l.tau_g1.len() == n => {
            (projective(&l.tau_g1), projective(&l.alpha_tau_g1), projective(&l.beta_tau_g1), projective(&l.tau_g2))
        }
        // A file without the Lagrange sections (or read for another domain): the inverse FFTs
        // over points, a hundred times slower than reading them (`snarkjs powersoftau prepare
        // phase2` adds them).
        _ => {
            let lagrange = |points: &[G1Affine]| {
                let mut v = projective(&points[..n]);
                domain.ifft_in_place(&mut v);
                v
            };
            let (l_g1, (l_alpha, l_beta)) = rayon::join(
                || lagrange(&powers.tau_g1),
                || rayon::join(|| lagrange(&powers.alpha_tau_g1), || lagrange(&powers.beta_tau_g1)),
            );
            let mut l_g2 = projective(&powers.tau_g2[..n]);
            domain.ifft_in_place(&mut l_g2);
            (l_g1, l_alpha, l_beta, l_g2)
        }
    };

    let (a, (b, c)) = rayon::join(|| r1cs.qap(0, &l_g1), || rayon::join(|| r1cs.qap(1, &l_g1), || r1cs.qap(2, &l_g1)));
    let (beta_a, alpha_b) = rayon::join(|| r1cs.qap(0, &l_beta), || r1cs.qap(1, &l_alpha));
    let b_g2 = r1cs.qap(1, &l_g2);
    // β·u_i(τ) + α·v_i(τ) + w_i(τ), over γ = 1 for the instance variables and δ = 1 for the rest.
    let k: Vec<G1> = beta_a.par_iter().zip(&alpha_b).zip(&c).map(|((x, y), z)| *x + y + z).collect();
    let ni = r1cs.num_instance;
    let h: Vec<G1> = (0..n - 1).into_par_iter().map(|i| powers.tau_g1[n + i].into_group() - powers.tau_g1[i]).collect();

    let (alpha_g1, beta_g1) = match (powers.alpha_tau_g1.first(), powers.beta_tau_g1.first()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => return Err(Groth16Error::Format("the powers have no α·G1 or β·G1".into())),
    };
    let vk = VerifyingKey::<Bn254> {
        alpha_g1,
        beta_g2: powers.beta_g2,
        gamma_g2: G2Affine::generator(),
        delta_g2: G2Affine::generator(),
        gamma_abc_g1: G1::normalize_batch(&k[..ni]),
    };
    Ok(ProvingKey {
        vk,
        beta_g1,
        delta_g1: G1Affine::generator(),
        a_query: G1::normalize_batch(&a),
        b_g1_query: G1::normalize_batch(&b),
        b_g2_query: G2::normalize_batch(&b_g2),
        h_query: G1::normalize_batch(&h),
        l_query: G1::normalize_batch(&k[ni..]),
    })
}

/// `points` in projective form, what the FFTs and `R1cs::qap` add up.
fn projective<A: AffineRepr>(points: &[A]) -> Vec<A::Group> {
    points.par_iter().map(|p| p.into_group()).collect()
}

/// What phase 2 has done to a key: where it started and every contribution since, in order. With
/// the proving key it is the ceremony's state, which each contributor receives, updates and
/// passes on, and which anyone checks with `verify`.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Record {
    /// BLAKE2b-512 of the initial keys, which the powers and the circuit determine: a
    /// contribution's proof of knowledge is bound to it, so it cannot be moved to another circuit.
    pub origin: [u8; 64],
    pub contributions: Vec<Contribution>,
}

/// One contribution: δ became δ·δ′ for a secret δ′, with a proof of knowledge of δ′ (Bowe–Gabizon–
/// Miers: a Schnorr-like proof in the pairing groups) bound to every contribution before it.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Contribution {
    /// δ·G1 after this contribution.
    pub delta_after: G1Affine,
    /// A point s·G1 and s·δ′·G1: with `r_delta` they prove knowledge of δ′.
    pub s: G1Affine,
    pub s_delta: G1Affine,
    /// δ′·R, where R is `transcript`, s and s·δ′ hashed to G2.
    pub r_delta: G2Affine,
    /// BLAKE2b-512 of the record before this contribution (`Record::transcript`).
    pub transcript: [u8; 64],
    /// Set for the final public randomness: δ′ follows from it, so anyone can recompute it.
    pub beacon: Option<Beacon>,
}

/// A random beacon (a future block hash, a lottery draw): δ′ comes from `value` hashed
/// 2^`iterations` times, a delay no contributor can compute before the value is public.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Beacon {
    pub value: Vec<u8>,
    pub iterations: u32,
}

/// The most iterations a beacon may ask for: 2^40 BLAKE2b hashes take days.
pub const MAX_BEACON_ITERATIONS: u32 = 40;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Phase2Error {
    #[error("the keys could not be derived from the powers and the circuit: {0}")]
    Keys(#[from] Groth16Error),
    #[error(
        "the ceremony did not start from these powers and this circuit (its origin hash differs): it belongs to another \
         model, another ptau or another zkml version"
    )]
    Origin,
    #[error("contribution {index} was made on another ceremony state (its transcript hash differs)")]
    Transcript { index: usize },
    #[error("contribution {index}'s proof of knowledge of its secret does not verify")]
    ProofOfKnowledge { index: usize },
    #[error("contribution {index} is a beacon, but its δ is not the one the beacon's value gives")]
    Beacon { index: usize },
    #[error("a beacon may ask for at most 2^{MAX_BEACON_ITERATIONS} iterations, not 2^{0}")]
    BeaconIterations(u32),
    #[error("the key's {0} is not the one the contributions give")]
    Delta(&'static str),
    #[error("the key's {0} is not the one the powers and the circuit give")]
    Derived(&'static str),
}

/// The proving key's hash that a record's `origin` holds.
pub fn origin(pk: &ProvingKey<Bn254>) -> [u8; 64] {
    let mut h = Blake2b512::new();
    h.update(ORIGIN_TAG);
    // Writing into a hash cannot fail.
    let _ = pk.serialize_uncompressed(&mut h);
    h.finalize().into()
}

impl Record {
    /// The record of keys fresh from `initial_keys`.
    pub fn new(initial: &ProvingKey<Bn254>) -> Self {
        Record { origin: origin(initial), contributions: vec![] }
    }

    /// The hash the next contribution is bound to: the origin and every contribution so far.
    pub fn transcript(&self) -> [u8; 64] {
        self.transcript_at(self.contributions.len())
    }

    fn transcript_at(&self, n: usize) -> [u8; 64] {
        let mut h = Blake2b512::new();
        h.update(TRANSCRIPT_TAG);
        h.update(self.origin);
        for c in &self.contributions[..n] {
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

/// Adds a contribution with a fresh secret from `rng` (the caller mixes its entropy in) to `pk`,
/// records it in `record` and returns its hash. The secret is dropped when this returns.
pub fn contribute(pk: &mut ProvingKey<Bn254>, record: &mut Record, rng: &mut impl Rng) -> [u8; 64] {
    let delta = loop {
        let d = F::rand(rng);
        if !d.is_zero() {
            break d;
        }
    };
    update(pk, record, delta, G1::rand(rng).into_affine(), None)
}

/// Adds the final public randomness: δ′ from `value` hashed 2^`iterations` times.
pub fn beacon(
    pk: &mut ProvingKey<Bn254>,
    record: &mut Record,
    value: &[u8],
    iterations: u32,
) -> Result<[u8; 64], Phase2Error> {
    let (delta, s) = beacon_secret(value, iterations)?;
    Ok(update(pk, record, delta, s, Some(Beacon { value: value.to_vec(), iterations })))
}

/// A beacon's δ′ (never zero) and the point s of its proof of knowledge, both from the value
/// after 2^`iterations` hashes.
fn beacon_secret(value: &[u8], iterations: u32) -> Result<(F, G1Affine), Phase2Error> {
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
    Ok((scalar(b"delta"), (G1Affine::generator() * scalar(b"s")).into_affine()))
}

/// δ := δ·`delta`: δ·G1 and δ·G2 times it, the L and H queries (which are over δ) divided by it,
/// and the proof of knowledge.
fn update(pk: &mut ProvingKey<Bn254>, record: &mut Record, delta: F, s: G1Affine, beacon: Option<Beacon>) -> [u8; 64] {
    // δ′ ≠ 0 (both callers draw until it is).
    let inv = delta.inverse().unwrap_or_default();
    let scale = |points: &mut Vec<G1Affine>| {
        let scaled: Vec<G1> = points.par_iter().map(|p| *p * inv).collect();
        *points = G1::normalize_batch(&scaled);
    };
    scale(&mut pk.l_query);
    scale(&mut pk.h_query);
    pk.delta_g1 = (pk.delta_g1 * delta).into_affine();
    pk.vk.delta_g2 = (pk.vk.delta_g2 * delta).into_affine();

    let transcript = record.transcript();
    let s_delta = (s * delta).into_affine();
    let r = hash_to_g2(&transcript, &s, &s_delta);
    let c =
        Contribution { delta_after: pk.delta_g1, s, s_delta, r_delta: (r * delta).into_affine(), transcript, beacon };
    let hash = c.hash();
    record.contributions.push(c);
    hash
}

/// Checks that `pk` is the key of `r1cs` derived from `powers` and then updated by every
/// contribution of `record`, each with a valid proof of knowledge; returns the contributions'
/// hashes in order. `rng` draws the random linear combinations of the L and H checks.
pub fn verify(
    powers: &Powers,
    r1cs: &R1cs,
    pk: &ProvingKey<Bn254>,
    record: &Record,
    rng: &mut impl Rng,
) -> Result<Vec<[u8; 64]>, Phase2Error> {
    let initial = initial_keys(powers, r1cs)?;
    if origin(&initial) != record.origin {
        return Err(Phase2Error::Origin);
    }
    // The key comes from whoever ran the last step: its δ-dependent points are checked by
    // pairings, which mean nothing off the curve (G1's cofactor is 1; `check_record` checks δ·G2).
    if !pk.l_query.par_iter().chain(&pk.h_query).chain([&pk.delta_g1]).all(|p| p.is_on_curve()) {
        return Err(Phase2Error::Delta("δ-dependent points (one is not on the curve)"));
    }
    if pk.delta_g1 != check_record(record, &pk.vk.delta_g2)? {
        return Err(Phase2Error::Delta("δ·G1"));
    }
    let unchanged = [
        (pk.vk.alpha_g1 == initial.vk.alpha_g1, "α·G1"),
        (pk.vk.beta_g2 == initial.vk.beta_g2, "β·G2"),
        (pk.beta_g1 == initial.beta_g1, "β·G1"),
        (pk.vk.gamma_g2 == initial.vk.gamma_g2, "γ·G2"),
        (pk.vk.gamma_abc_g1 == initial.vk.gamma_abc_g1, "public-input bases"),
        (pk.a_query == initial.a_query, "A query"),
        (pk.b_g1_query == initial.b_g1_query, "B query (G1)"),
        (pk.b_g2_query == initial.b_g2_query, "B query (G2)"),
        (pk.l_query.len() == initial.l_query.len(), "L query length"),
        (pk.h_query.len() == initial.h_query.len(), "H query length"),
    ];
    if let Some((_, what)) = unchanged.into_iter().find(|(ok, _)| !ok) {
        return Err(Phase2Error::Derived(what));
    }
    // The initial L and H are over δ = 1: each final point times δ is the initial one, which a
    // random linear combination checks in two pairings.
    for (now, then, what) in [(&pk.l_query, &initial.l_query, "L query"), (&pk.h_query, &initial.h_query, "H query")] {
        let r = coefficients(now.len(), rng);
        let (now, then) = rayon::join(|| G1::msm_unchecked(now, &r), || G1::msm_unchecked(then, &r));
        if !same_ratio((now.into_affine(), then.into_affine()), (G2Affine::generator(), pk.vk.delta_g2)) {
            return Err(Phase2Error::Delta(what));
        }
    }
    Ok(record.hashes())
}

/// Checks the chain of `record`'s contributions — every transcript, proof of knowledge and beacon
/// — and that `delta_g2` is δ·G2 after the last one; returns δ·G1 after the last. Needs no powers:
/// it is what a verifying key's user (`zkml-gen`) can check alone; `verify` checks the rest.
pub fn check_record(record: &Record, delta_g2: &G2Affine) -> Result<G1Affine, Phase2Error> {
    let mut delta = G1Affine::generator();
    for (index, c) in record.contributions.iter().enumerate() {
        if c.transcript != record.transcript_at(index) {
            return Err(Phase2Error::Transcript { index });
        }
        // A zero point would make both ratio checks hold for any δ′.
        if c.s.is_zero() || c.s_delta.is_zero() || c.delta_after.is_zero() || c.r_delta.is_zero() {
            return Err(Phase2Error::ProofOfKnowledge { index });
        }
        let r = hash_to_g2(&c.transcript, &c.s, &c.s_delta);
        // s·δ′ / s = δ′·R / R (the contributor knows δ′) and δ_after / δ_before = the same δ′.
        if !same_ratio((c.s, c.s_delta), (r, c.r_delta)) || !same_ratio((delta, c.delta_after), (r, c.r_delta)) {
            return Err(Phase2Error::ProofOfKnowledge { index });
        }
        if let Some(b) = &c.beacon {
            let (d, s) = beacon_secret(&b.value, b.iterations)?;
            if c.s != s || c.delta_after != (delta * d).into_affine() {
                return Err(Phase2Error::Beacon { index });
            }
        }
        delta = c.delta_after;
    }
    let in_g2 = delta_g2.is_on_curve() && delta_g2.is_in_correct_subgroup_assuming_on_curve();
    if !in_g2 || !same_ratio((G1Affine::generator(), delta), (G2Affine::generator(), *delta_g2)) {
        return Err(Phase2Error::Delta("δ·G2"));
    }
    Ok(delta)
}

/// Whether b/a = d/c in the exponent: e(a, d) = e(b, c).
fn same_ratio((a, b): (G1Affine, G1Affine), (c, d): (G2Affine, G2Affine)) -> bool {
    Bn254::pairing(a, d) == Bn254::pairing(b, c)
}

/// A point of G2 no one knows the discrete logarithm of, from the transcript and the contributor's
/// s and s·δ′ (try-and-increment on x, then the cofactor cleared): the random oracle of the
/// proof of knowledge.
fn hash_to_g2(transcript: &[u8; 64], s: &G1Affine, s_delta: &G1Affine) -> G2Affine {
    let mut seed = Blake2b512::new();
    seed.update(HASH_TO_G2_TAG);
    seed.update(transcript);
    let _ = s.serialize_compressed(&mut seed);
    let _ = s_delta.serialize_compressed(&mut seed);
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

const ORIGIN_TAG: &[u8] = b"zkml/phase2/origin/v1";
const TRANSCRIPT_TAG: &[u8] = b"zkml/phase2/transcript/v1";
const BEACON_TAG: &[u8] = b"zkml/phase2/beacon/v1";
const HASH_TO_G2_TAG: &[u8] = b"zkml/phase2/hash-to-g2/v1";
