//! Groth16 (Groth, "On the Size of Pairing-based Non-interactive Arguments", EUROCRYPT 2016)
//! over stored R1CS matrices, in ark-groth16's key and proof formats and with its QAP reduction
//! (`LibsnarkReduction`): for the same randomness, `setup` gives ark-groth16's keys and
//! `prove` its proof.
//!
//! Two things differ from calling `Groth16::prove` on the circuit:
//! - **The circuit is synthesized into matrices once, at setup** (`R1cs`, stored beside the
//!   proving key). A proof runs the circuit in witness-only mode (`assignment`: no constraint
//!   is built, no linear combination inlined) and reads the stored matrices.
//! - **Independent work runs side by side.** ark-groth16 runs the QAP witness map's FFTs and the
//!   five MSMs one after the other; each is parallel inside, but each one's tail and the
//!   sequential steps between them left the second core spinning (~18% of the wrap in the
//!   scheduler on 2 cores). Only the H term depends on the FFTs, so the three FFT chains run
//!   beside each other and the H MSM beside the A, B and L ones.
//!
//! The witness map also checks every constraint (it evaluates A·z, B·z and C·z anyway), so an
//! unsatisfying witness is an error naming the constraint rather than a proof that fails later.
//!
//! Two-round proofs (UltraGroth; DESIGN.md, "Stage 2"): `R1cs::with_round1` marks the first
//! witness wires as round 1, `setup_two_round` gives them their own δ₁ (`CommitKey`), `commit`
//! makes the blinded D the challenge seed is hashed from (`challenge`), `prove_two_round`
//! finishes the proof and `verify_two_round` derives the seed itself and checks the
//! four-pairing equation.

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};

use ark_bn254::{Bn254, Fr as F, G1Affine, G1Projective as G1, G2Affine, G2Projective as G2};
use ark_ec::scalar_mul::BatchMulPreprocessing;
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Projective, SWCurveConfig};
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{BigInteger, FftField, Field, One, PrimeField, UniformRand, Zero};
use ark_groth16::{Proof, ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, R1CS_PREDICATE_LABEL, SynthesisError, SynthesisMode,
};
use ark_relations::utils::matrix::Matrix;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_std::rand::Rng;
use rayon::prelude::*;

type Domain = GeneralEvaluationDomain<F>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Groth16Error {
    #[error("constraint synthesis failed: {0}")]
    Synthesis(#[from] SynthesisError),
    #[error("the circuit has no R1CS constraints")]
    NoR1cs,
    #[error("the assignment has {got} variables but the constraint system has {expected}")]
    AssignmentLength { expected: usize, got: usize },
    #[error("the proving key does not belong to this constraint system: {0}")]
    KeyMismatch(String),
    #[error("R1CS constraint {0} is not satisfied by the witness")]
    Unsatisfied(usize),
    #[error("the constraint system is too large for BN254's FFT domain")]
    TooLarge,
    #[error("the proving key could make proofs that reveal the witness: {0}")]
    NotHiding(String),
    #[error("{0}")]
    Format(String),
}

/// A rank-1 constraint system `(A·z) ∘ (B·z) = C·z` over `z = (1, instance…, witness…)`.
///
/// Stored sparse by rows, each entry a variable and an index into one table of the distinct
/// coefficients: a wrap circuit has millions of entries but only thousands of distinct
/// coefficients (±1, powers of two, the model's constants), so an entry takes 8 bytes instead
/// of arkworks' 40, in memory and on disk.
#[derive(Clone, Debug, PartialEq)]
pub struct R1cs {
    /// Instance variables, the constant one included.
    pub num_instance: usize,
    /// Witness variables, round-1 ones included.
    pub num_witness: usize,
    /// The first `num_round1` witness variables are committed in round 1 (two-round proofs:
    /// `setup_two_round`); 0 for plain Groth16.
    pub num_round1: usize,
    /// The distinct coefficients; `coeffs[0] = 1`.
    coeffs: Vec<F>,
    /// A, B, C.
    matrices: [Sparse; 3],
}

#[derive(Clone, Debug, PartialEq)]
struct Sparse {
    /// Row i's entries are `entries[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    var: u32,
    coeff: u32,
}

impl Sparse {
    fn row(&self, i: usize) -> &[Entry] {
        &self.entries[self.starts[i]..self.starts[i + 1]]
    }
}

/// What a QAP is evaluated over: field elements (a setup that knows τ) or points (a setup from a
/// ceremony's powers), each with its fastest linear combination.
pub(crate) trait QapValue: Copy + Zero + std::ops::AddAssign + Send + Sync {
    /// Σ cᵢ·xᵢ.
    fn combination(xs: &[Self], cs: &[F]) -> Self;
}

impl QapValue for F {
    fn combination(xs: &[Self], cs: &[F]) -> Self {
        xs.iter().zip(cs).map(|(x, c)| *x * c).sum()
    }
}

/// Points: one or two terms by GLV (half the doublings of a full-size scalar, which arkworks'
/// `G2 * F` does not use); more by Straus' interleaving, whose 256 doublings all the terms share
/// (4-bit windows: 15 additions of precomputation and ~60 additions per term). Sequential: the
/// QAP runs it for many variables in parallel, and arkworks' MSM, parallel inside, overflowed a
/// rayon worker's stack there. With it a ceremony's initial keys for tiny_gemm take 10.2 s
/// instead of 18.4 s (docs/benchmarks.md).
impl<P: GLVConfig + SWCurveConfig<ScalarField = F>> QapValue for Projective<P> {
    fn combination(xs: &[Self], cs: &[F]) -> Self {
        if xs.len() <= 2 {
            return xs.iter().zip(cs).map(|(x, c)| P::glv_mul_projective(*x, *c)).sum();
        }
        // Each term's multiples 1..15, affine (one batched inversion) for mixed additions.
        let mut multiples = Vec::with_capacity(15 * xs.len());
        for x in xs {
            let mut m = *x;
            for _ in 0..15 {
                multiples.push(m);
                m += x;
            }
        }
        let tables = Self::normalize_batch(&multiples);
        let scalars: Vec<[u64; 4]> = cs.iter().map(|c| c.into_bigint().0).collect();
        let mut acc = Self::zero();
        for w in (0..64).rev() {
            for _ in 0..4 {
                acc.double_in_place();
            }
            for (t, k) in tables.chunks_exact(15).zip(&scalars) {
                let digit = (k[w / 16] >> (4 * (w % 16))) & 15;
                if digit != 0 {
                    acc += &t[digit as usize - 1];
                }
            }
        }
        acc
    }
}

impl R1cs {
    /// Synthesizes the circuit's constraints (setup mode: no assignment needed).
    pub fn synthesize<C: ConstraintSynthesizer<F>>(circuit: C) -> Result<Self, Groth16Error> {
        let cs = ConstraintSystem::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        circuit.generate_constraints(cs.clone())?;
        cs.finalize();
        let (num_instance, num_witness) = (cs.num_instance_variables(), cs.num_witness_variables());
        if num_instance + num_witness > u32::MAX as usize {
            return Err(Groth16Error::TooLarge);
        }
        let mut m = cs.to_matrices()?.remove(R1CS_PREDICATE_LABEL).ok_or(Groth16Error::NoR1cs)?.into_iter();
        drop(cs);
        let (Some(a), Some(b), Some(c)) = (m.next(), m.next(), m.next()) else { return Err(Groth16Error::NoR1cs) };
        let mut coeffs = vec![F::one()];
        let mut index = std::collections::HashMap::from([(F::one(), 0u32)]);
        let mut sparse = |m: Matrix<F>| -> Result<Sparse, Groth16Error> {
            let mut starts = Vec::with_capacity(m.len() + 1);
            starts.push(0);
            let mut entries = Vec::with_capacity(m.iter().map(Vec::len).sum());
            for row in m {
                for (k, var) in row {
                    let next = u32::try_from(coeffs.len()).map_err(|_| Groth16Error::TooLarge)?;
                    let coeff = *index.entry(k).or_insert_with(|| {
                        coeffs.push(k);
                        next
                    });
                    entries.push(Entry { var: var as u32, coeff });
                }
                starts.push(entries.len());
            }
            Ok(Sparse { starts, entries })
        };
        let matrices = [sparse(a)?, sparse(b)?, sparse(c)?];
        Ok(R1cs { num_instance, num_witness, num_round1: 0, coeffs, matrices })
    }

    /// Declares the first `n` witness variables round-1 wires: a proof commits to them (D)
    /// before any challenge is drawn. The circuit must allocate them first and must not make
    /// them depend on a challenge.
    pub fn with_round1(mut self, n: usize) -> Result<Self, Groth16Error> {
        if n > self.num_witness {
            return Err(Groth16Error::Format(format!(
                "{n} round-1 wires, but the circuit has {} witness variables",
                self.num_witness
            )));
        }
        self.num_round1 = n;
        Ok(self)
    }

    pub fn num_constraints(&self) -> usize {
        self.matrices[0].starts.len() - 1
    }

    pub fn num_variables(&self) -> usize {
        self.num_instance + self.num_witness
    }

    /// The QAP's evaluation domain: a row per constraint and one per instance variable.
    pub(crate) fn domain(&self) -> Result<Domain, Groth16Error> {
        Domain::new(self.num_constraints() + self.num_instance).ok_or(Groth16Error::TooLarge)
    }

    /// The domain's size as a power of two: the power of the Powers-of-Tau file a ceremony for
    /// these matrices needs.
    pub fn power(&self) -> Result<u32, Groth16Error> {
        u32::try_from(self.domain()?.log_size_of_group()).map_err(|_| Groth16Error::TooLarge)
    }

    /// The QAP polynomial of every variable for matrix `m` (0, 1, 2: u, v, w) in `lagrange`, the
    /// domain's Lagrange polynomials at τ: as field elements (a setup that knows τ) or as points
    /// Lⱼ(τ)·G (a setup from a ceremony's powers). The libsnark reduction also puts each instance
    /// variable i in A at row `num_constraints + i`.
    pub(crate) fn qap<T>(&self, m: usize, lagrange: &[T]) -> Vec<T>
    where
        T: QapValue,
    {
        let (nc, ni) = (self.num_constraints(), self.num_instance);
        // The entries by variable, then coefficient: a variable's Lagrange values that share a
        // coefficient are added up first, then each variable is one linear combination of its
        // sums. A circuit has far fewer distinct (variable, coefficient) pairs than entries, and
        // over points a multiplication costs about a hundred additions.
        let mut entries: Vec<(u32, u32, u32)> =
            (0..nc).flat_map(|i| self.matrices[m].row(i).iter().map(move |e| (e.var, e.coeff, i as u32))).collect();
        entries.par_sort_unstable();
        let sums: Vec<(usize, T)> = entries
            .chunk_by(|a, b| a.0 == b.0)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|var| {
                let (mut ones, mut xs, mut cs) = (T::zero(), vec![], vec![]);
                for same in var.chunk_by(|a, b| a.1 == b.1) {
                    let mut sum = T::zero();
                    for &(_, _, row) in same {
                        sum += lagrange[row as usize];
                    }
                    match same[0].1 {
                        0 => ones += sum,
                        k => {
                            xs.push(sum);
                            cs.push(self.coeffs[k as usize]);
                        }
                    }
                }
                ones += T::combination(&xs, &cs);
                (var[0].0 as usize, ones)
            })
            .collect();
        let mut v = vec![T::zero(); self.num_variables()];
        for (var, sum) in sums {
            v[var] = sum;
        }
        if m == 0 {
            for (x, l) in v[..ni].iter_mut().zip(&lagrange[nc..nc + ni]) {
                *x += *l;
            }
        }
        v
    }

    /// Row `i` of matrix `m` (0, 1, 2 for A, B, C) times `z`.
    fn dot(&self, m: usize, i: usize, z: &[F]) -> F {
        self.matrices[m].row(i).iter().fold(F::zero(), |acc, e| {
            let x = z[e.var as usize];
            if e.coeff == 0 { acc + x } else { acc + self.coeffs[e.coeff as usize] * x }
        })
    }

    /// The first constraint `z` does not satisfy, if any.
    pub fn first_unsatisfied(&self, z: &[F]) -> Result<Option<usize>, Groth16Error> {
        if z.len() != self.num_variables() {
            return Err(Groth16Error::AssignmentLength { expected: self.num_variables(), got: z.len() });
        }
        Ok((0..self.num_constraints())
            .into_par_iter()
            .find_first(|&i| self.dot(0, i, z) * self.dot(1, i, z) != self.dot(2, i, z)))
    }

    /// Writes the matrices: the coefficient table, then per matrix the row lengths and the
    /// entries.
    pub fn write(&self, w: &mut (impl Write + ?Sized)) -> std::io::Result<()> {
        w.write_all(R1CS_MAGIC)?;
        for n in [self.num_instance, self.num_witness, self.num_round1, self.num_constraints(), self.coeffs.len()] {
            w.write_all(&(n as u64).to_le_bytes())?;
        }
        for k in &self.coeffs {
            w.write_all(&k.into_bigint().to_bytes_le())?;
        }
        for m in &self.matrices {
            for r in m.starts.windows(2) {
                w.write_all(&((r[1] - r[0]) as u32).to_le_bytes())?;
            }
            for e in &m.entries {
                w.write_all(&e.var.to_le_bytes())?;
                w.write_all(&e.coeff.to_le_bytes())?;
            }
        }
        Ok(())
    }

    /// Writes the matrices in iden3's `.r1cs` format (version 1: a header, the constraints, the
    /// wire labels; coefficients little-endian in standard form), which snarkjs and the circom
    /// tools read. Wire 0 is the one, wires 1..`num_instance` the public inputs (snarkjs's public
    /// signals, in order), the rest private; `snarkjs zkey new` adds the same row per instance
    /// variable as [`R1cs::qap`], so its keys on a ptau are the ones `phase2::initial_keys`
    /// derives from it. No iden3 tool knows round-1 wires: a two-round circuit's are written as
    /// the private wires they are otherwise, so snarkjs's keys are plain Groth16 keys of the same
    /// circuit, whose verifying key is the initial two-round key's Groth16 part (round-1 bases
    /// over δ₁ = 1 = δ, `phase2::initial_keys`).
    pub fn write_iden3(&self, w: &mut (impl Write + ?Sized)) -> Result<(), Groth16Error> {
        let u32_of = |n: usize| u32::try_from(n).map_err(|_| Groth16Error::TooLarge);
        let (nc, nw, public) =
            (u32_of(self.num_constraints())?, u32_of(self.num_variables())?, u32_of(self.num_instance - 1)?);
        let entries: usize = self.matrices.iter().map(|m| m.entries.len()).sum();
        let constraints_size = 12 * u64::from(nc) + 36 * entries as u64;
        // Each distinct coefficient out of Montgomery form once, as `write` does.
        let coeffs: Vec<Vec<u8>> = self.coeffs.iter().map(|k| k.into_bigint().to_bytes_le()).collect();
        let mut body = || -> std::io::Result<()> {
            w.write_all(b"r1cs")?;
            // Version, sections; the header: its type, size, field size and prime.
            for x in [1u32, 3, 1] {
                w.write_all(&x.to_le_bytes())?;
            }
            w.write_all(&64u64.to_le_bytes())?;
            w.write_all(&32u32.to_le_bytes())?;
            w.write_all(&F::MODULUS.to_bytes_le())?;
            // Wires, public outputs, public inputs, private inputs, labels, constraints.
            for x in [nw, 0, public, 0] {
                w.write_all(&x.to_le_bytes())?;
            }
            w.write_all(&u64::from(nw).to_le_bytes())?;
            w.write_all(&nc.to_le_bytes())?;
            w.write_all(&2u32.to_le_bytes())?;
            w.write_all(&constraints_size.to_le_bytes())?;
            for i in 0..self.num_constraints() {
                for m in &self.matrices {
                    let row = m.row(i);
                    // A row names each variable at most once: its length fits as `nw` does.
                    w.write_all(&(row.len() as u32).to_le_bytes())?;
                    for e in row {
                        w.write_all(&e.var.to_le_bytes())?;
                        w.write_all(&coeffs[e.coeff as usize])?;
                    }
                }
            }
            w.write_all(&3u32.to_le_bytes())?;
            w.write_all(&(8 * u64::from(nw)).to_le_bytes())?;
            for label in 0..u64::from(nw) {
                w.write_all(&label.to_le_bytes())?;
            }
            Ok(())
        };
        body().map_err(|e| Groth16Error::Format(format!("writing the .r1cs file: {e}")))
    }

    /// Reads what `write` wrote, streaming; refuses anything out of range instead of trusting
    /// the counts it reads.
    pub fn read(r: &mut dyn Read) -> Result<Self, Groth16Error> {
        let bad = |what: &str| Groth16Error::Format(format!("not a zkml R1CS file: {what}"));
        let io = |e: std::io::Error| Groth16Error::Format(format!("not a zkml R1CS file: {e}"));
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic).map_err(io)?;
        if &magic != R1CS_MAGIC {
            return Err(bad("wrong header"));
        }
        let mut counts = [0usize; 5];
        for n in &mut counts {
            let mut b = [0u8; 8];
            r.read_exact(&mut b).map_err(io)?;
            *n = usize::try_from(u64::from_le_bytes(b)).map_err(|_| bad("a count does not fit in memory"))?;
        }
        let [num_instance, num_witness, num_round1, rows, num_coeffs] = counts;
        if num_round1 > num_witness {
            return Err(bad("more round-1 wires than witness variables"));
        }
        let vars = num_instance.checked_add(num_witness).filter(|&v| v <= u32::MAX as usize && num_instance >= 1);
        let vars = vars.ok_or_else(|| bad("impossible variable counts"))?;
        if num_coeffs == 0 || num_coeffs > u32::MAX as usize {
            return Err(bad("impossible coefficient count"));
        }
        let read_u32 = |r: &mut dyn Read| -> Result<u32, Groth16Error> {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).map_err(io)?;
            Ok(u32::from_le_bytes(b))
        };
        // Capacities from the file only up to a bound: a corrupt count must end at EOF, not in
        // an allocation failure.
        let cap = |n: usize| n.min(1 << 20);
        let mut coeffs = Vec::with_capacity(cap(num_coeffs));
        for _ in 0..num_coeffs {
            let mut b = [0u8; 32];
            r.read_exact(&mut b).map_err(io)?;
            let x = F::from_le_bytes_mod_order(&b);
            if x.into_bigint().to_bytes_le() != b {
                return Err(bad("a coefficient that is not a canonical field element"));
            }
            coeffs.push(x);
        }
        if !coeffs[0].is_one() {
            return Err(bad("the coefficient table does not start with 1"));
        }
        let sparse = |r: &mut dyn Read| -> Result<Sparse, Groth16Error> {
            let mut starts = Vec::with_capacity(cap(rows) + 1);
            starts.push(0usize);
            for _ in 0..rows {
                let len = read_u32(r)? as usize;
                if len > vars {
                    return Err(bad("a row longer than the variable count"));
                }
                starts.push(starts[starts.len() - 1] + len);
            }
            let total = starts[rows];
            let mut entries = Vec::with_capacity(cap(total));
            for _ in 0..total {
                let (var, coeff) = (read_u32(r)?, read_u32(r)?);
                if var as usize >= vars || coeff as usize >= num_coeffs {
                    return Err(bad("an entry out of range"));
                }
                entries.push(Entry { var, coeff });
            }
            Ok(Sparse { starts, entries })
        };
        let matrices = [sparse(r)?, sparse(r)?, sparse(r)?];
        if r.read(&mut [0u8; 1]).map_err(io)? != 0 {
            return Err(bad("trailing bytes"));
        }
        Ok(R1cs { num_instance, num_witness, num_round1, coeffs, matrices })
    }

    /// Checks that `pk` was made for these matrices (by length: every query has one entry per
    /// variable, H one per power of the domain).
    pub fn check_key(&self, pk: &ProvingKey<Bn254>, ck: Option<&CommitKey>) -> Result<(), Groth16Error> {
        let h = self.domain()?.size() - 1;
        let lens = [
            ("A query", pk.a_query.len(), self.num_variables()),
            ("B query (G1)", pk.b_g1_query.len(), self.num_variables()),
            ("B query (G2)", pk.b_g2_query.len(), self.num_variables()),
            ("H query", pk.h_query.len(), h),
            ("L query", pk.l_query.len(), self.num_witness - self.num_round1),
            ("public-input bases", pk.vk.gamma_abc_g1.len(), self.num_instance),
            ("commitment key", ck.map_or(0, |ck| ck.k_query.len()), self.num_round1),
        ];
        match lens.into_iter().find(|(_, got, want)| got != want) {
            Some((name, got, want)) => Err(Groth16Error::KeyMismatch(format!(
                "its {name} has {got} points, the constraint system needs {want}"
            ))),
            None => Ok(()),
        }
    }
}

const R1CS_MAGIC: &[u8; 8] = b"ZKMLR1C2";

/// Checks what zero knowledge needs of a proving key someone else made, whatever its other
/// elements are (DESIGN.md, "What a key supplier can learn"): every point on its curve, so that
/// the MSMs stay in the groups; δ·G1 not the identity, so that A = X + r·δ·G1 is uniform in G1
/// (prime order); δ·G2 in G2 and not the identity, so that B = Y + s·δ·G2 is uniform in G2 once
/// the prover sees B in G2. C is then the one point the verification equation leaves, which
/// [`check_proof`] makes sure of. O(points), no pairing and no subgroup check but δ·G2's.
pub fn check_hiding(pk: &ProvingKey<Bn254>) -> Result<(), Groth16Error> {
    let not_hiding = |what: String| Err(Groth16Error::NotHiding(what));
    let g1: [(&str, &[G1Affine]); 5] = [
        ("A query", &pk.a_query),
        ("B query (G1)", &pk.b_g1_query),
        ("H query", &pk.h_query),
        ("L query", &pk.l_query),
        ("public-input bases", &pk.vk.gamma_abc_g1),
    ];
    for (name, points) in g1 {
        if let Some(i) = points.par_iter().position_any(|p| !p.is_on_curve()) {
            return not_hiding(format!("point {i} of its {name} is not on BN254's G1"));
        }
    }
    if let Some(i) = pk.b_g2_query.par_iter().position_any(|p| !p.is_on_curve()) {
        return not_hiding(format!("point {i} of its B query (G2) is not on BN254's twist"));
    }
    for (name, p) in [("α·G1", pk.vk.alpha_g1), ("β·G1", pk.beta_g1), ("δ·G1", pk.delta_g1)] {
        if !p.is_on_curve() {
            return not_hiding(format!("its {name} is not on BN254's G1"));
        }
    }
    for (name, p) in [("β·G2", pk.vk.beta_g2), ("γ·G2", pk.vk.gamma_g2), ("δ·G2", pk.vk.delta_g2)] {
        if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
            return not_hiding(format!("its {name} is not in BN254's G2"));
        }
    }
    if pk.delta_g1.is_zero() {
        return not_hiding("its δ·G1 is the identity, so nothing blinds a proof's A".into());
    }
    if pk.vk.delta_g2.is_zero() {
        return not_hiding("its δ·G2 is the identity, so nothing blinds a proof's B".into());
    }
    Ok(())
}

/// [`check_hiding`]'s part for a two-round key's commitment key: its points on their curves, so
/// that D's MSM stays in G1, where δ·G1 (checked there) blinds D. With A, B and D uniform, C is
/// again the one point the equation leaves, which the prover's [`verify_two_round`] makes sure of.
pub fn check_commit_key(ck: &CommitKey) -> Result<(), Groth16Error> {
    if let Some(i) = ck.k_query.par_iter().position_any(|p| !p.is_on_curve()) {
        return Err(Groth16Error::NotHiding(format!("point {i} of its commitment key is not on BN254's G1")));
    }
    if !ck.delta1_g1.is_on_curve() {
        return Err(Groth16Error::NotHiding("its δ₁·G1 is not on BN254's G1".into()));
    }
    if !ck.delta1_g2.is_on_curve() || !ck.delta1_g2.is_in_correct_subgroup_assuming_on_curve() {
        return Err(Groth16Error::NotHiding("its δ₁·G2 is not in BN254's G2".into()));
    }
    Ok(())
}

/// Groth16 verification: one public input per base after the first (ark-groth16's `verify`
/// zips them, so a short list would count the missing inputs as zero), A and C on G1 (a
/// deserialized proof is curve-checked; this checks it for one made in memory too), B in G2.
///
/// The prover runs it too, before anyone sees a proof: with a key [`check_hiding`] accepts, A
/// and B are uniform and independent, and C is the one point
/// `e(A, B) = e(α, β)·e(Σ xᵢ·ICᵢ, γ)·e(C, δ)` leaves, so a proof that passes says nothing about
/// the witness beyond the statement; a key made to leak (chosen bases, δ's blinding removed)
/// makes proofs that fail here.
pub fn check_proof(vk: &VerifyingKey<Bn254>, publics: &[F], proof: &Proof<Bn254>) -> bool {
    publics.len() + 1 == vk.gamma_abc_g1.len()
        && proof.a.is_on_curve()
        && proof.c.is_on_curve()
        && proof.b.is_on_curve()
        && proof.b.is_in_correct_subgroup_assuming_on_curve()
        && ark_groth16::Groth16::<Bn254>::verify_proof(&ark_groth16::prepare_verifying_key(vk), proof, publics)
            .unwrap_or(false)
}

/// The number of witness variables a circuit allocates, from a synthesis in setup mode (no
/// values needed).
pub fn witness_count<C: ConstraintSynthesizer<F>>(circuit: C) -> Result<usize, Groth16Error> {
    let cs = ConstraintSystem::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    circuit.generate_constraints(cs.clone())?;
    Ok(cs.num_witness_variables())
}

/// The full assignment `z = (1, instance…, witness…)` of a circuit, synthesized in witness-only
/// mode: the gadgets compute their values, no constraint is recorded.
pub fn assignment<C: ConstraintSynthesizer<F>>(circuit: C) -> Result<Vec<F>, Groth16Error> {
    let cs = ConstraintSystem::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove { construct_matrices: false, generate_lc_assignments: false });
    circuit.generate_constraints(cs.clone())?;
    let cs = cs.into_inner().ok_or(SynthesisError::MissingCS)?;
    Ok([cs.instance_assignment()?, cs.witness_assignment()?].concat())
}

/// Groth16 keys for `r1cs` (which has no round-1 wires) from `rng`'s toxic waste, drawn as
/// ark-groth16 draws it (α, β, γ, δ, the two generators, then τ), so the same rng gives
/// ark-groth16's keys.
pub fn setup(r1cs: &R1cs, rng: &mut impl Rng) -> Result<ProvingKey<Bn254>, Groth16Error> {
    match generate(r1cs, rng)? {
        (pk, None) => Ok(pk),
        (_, Some(_)) => {
            Err(Groth16Error::Format("the constraint system has round-1 wires: use setup_two_round".into()))
        }
    }
}

/// UltraGroth keys for `r1cs` and its round-1 wires: Groth16's, with the round-1 wires' bases
/// over their own δ₁ (drawn after τ) instead of in the L query.
pub fn setup_two_round(r1cs: &R1cs, rng: &mut impl Rng) -> Result<(ProvingKey<Bn254>, CommitKey), Groth16Error> {
    match generate(r1cs, rng)? {
        (pk, Some(ck)) => Ok((pk, ck)),
        (_, None) => Err(Groth16Error::Format("the constraint system has no round-1 wires: use setup".into())),
    }
}

fn generate(r1cs: &R1cs, rng: &mut impl Rng) -> Result<(ProvingKey<Bn254>, Option<CommitKey>), Groth16Error> {
    let [alpha, beta, gamma, delta] = [(); 4].map(|_| F::rand(rng));
    let (g1, g2) = (G1::rand(rng), G2::rand(rng));
    let domain = r1cs.domain()?;
    let t = domain.sample_element_outside_domain(rng);
    let delta1 = (r1cs.num_round1 > 0).then(|| F::rand(rng));

    // The QAP polynomials at τ: u_i(τ), v_i(τ), w_i(τ) for every variable i.
    let lagrange = domain.evaluate_all_lagrange_coefficients(t);
    let (ni, nv) = (r1cs.num_instance, r1cs.num_variables());
    let at_tau = |m: usize| r1cs.qap(m, &lagrange);
    let (a, (b, c)) = rayon::join(|| at_tau(0), || rayon::join(|| at_tau(1), || at_tau(2)));
    drop(lagrange);

    let inv =
        |x: F| x.inverse().ok_or_else(|| Groth16Error::Format("degenerate toxic waste (γ, δ or δ₁ is zero)".into()));
    let (gamma_inv, delta_inv) = (inv(gamma)?, inv(delta)?);
    let k = |i: usize, scale: F| (beta * a[i] + alpha * b[i] + c[i]) * scale;
    let gamma_abc: Vec<F> = (0..ni).into_par_iter().map(|i| k(i, gamma_inv)).collect();
    let round2 = ni + r1cs.num_round1;
    let l: Vec<F> = (round2..nv).into_par_iter().map(|i| k(i, delta_inv)).collect();
    let round1: Vec<F> = match delta1 {
        Some(d1) => {
            let d1_inv = inv(d1)?;
            (ni..round2).into_par_iter().map(|i| k(i, d1_inv)).collect()
        }
        None => vec![],
    };
    drop(c);
    let zt_delta = domain.evaluate_vanishing_polynomial(t) * delta_inv;
    let h: Vec<F> = std::iter::successors(Some(zt_delta), |x| Some(*x * t)).take(domain.size() - 1).collect();

    let nonzero = |v: &[F]| v.par_iter().filter(|x| !x.is_zero()).count();
    let (nz_a, nz_b) = (nonzero(&a), nonzero(&b));
    let (b_g2_query, (a_query, b_g1_query, h_query, l_query, gamma_abc_g1)) = rayon::join(
        || BatchMulPreprocessing::new(g2, nz_b).batch_mul(&b),
        || {
            let table = BatchMulPreprocessing::new(g1, nz_a + nz_b + nv + domain.size());
            (
                table.batch_mul(&a),
                table.batch_mul(&b),
                table.batch_mul(&h),
                table.batch_mul(&l),
                table.batch_mul(&gamma_abc),
            )
        },
    );
    let ck = delta1.map(|d1| CommitKey {
        k_query: BatchMulPreprocessing::new(g1, round1.len()).batch_mul(&round1),
        delta1_g1: (g1 * d1).into_affine(),
        delta1_g2: (g2 * d1).into_affine(),
    });
    let vk = VerifyingKey::<Bn254> {
        alpha_g1: (g1 * alpha).into_affine(),
        beta_g2: (g2 * beta).into_affine(),
        gamma_g2: (g2 * gamma).into_affine(),
        delta_g2: (g2 * delta).into_affine(),
        gamma_abc_g1,
    };
    let pk = ProvingKey {
        vk,
        beta_g1: (g1 * beta).into_affine(),
        delta_g1: (g1 * delta).into_affine(),
        a_query,
        b_g1_query,
        b_g2_query,
        h_query,
        l_query,
    };
    Ok((pk, ck))
}

/// A zero-knowledge proof of the assignment `z` (fresh `r`, `s`).
pub fn prove(pk: &ProvingKey<Bn254>, r1cs: &R1cs, z: &[F], rng: &mut impl Rng) -> Result<Proof<Bn254>, Groth16Error> {
    prove_with(pk, r1cs, z, F::rand(rng), F::rand(rng))
}

/// The proof for the blinding factors `r`, `s`.
pub fn prove_with(pk: &ProvingKey<Bn254>, r1cs: &R1cs, z: &[F], r: F, s: F) -> Result<Proof<Bn254>, Groth16Error> {
    if r1cs.num_round1 > 0 {
        return Err(Groth16Error::Format(
            "the constraint system has round-1 wires: use commit and prove_two_round".into(),
        ));
    }
    prove_inner(pk, r1cs, z, r, s, None)
}

/// UltraGroth's round-1 key part: the bases of the round-1 wires over δ₁ and δ₁ itself.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct CommitKey {
    /// `[(β·u_i(τ) + α·v_i(τ) + w_i(τ)) / δ₁]₁` for each round-1 wire i.
    pub k_query: Vec<G1Affine>,
    /// `[δ₁]₁`, which takes D's blinding out of C.
    pub delta1_g1: G1Affine,
    /// `[δ₁]₂`, the verifier's.
    pub delta1_g2: G2Affine,
}

/// Round 1 of a two-round proof: `d = Σ wᵢ·Kᵢ + ρ·[δ]₁`, the blinded commitment to the round-1
/// wires, with what round 2 needs to finish the proof.
pub struct Commitment {
    pub d: G1Affine,
    rho: F,
    values: Vec<F>,
}

/// Commits to the round-1 wires' values (fresh blinding ρ).
pub fn commit(
    pk: &ProvingKey<Bn254>,
    ck: &CommitKey,
    values: &[F],
    rng: &mut impl Rng,
) -> Result<Commitment, Groth16Error> {
    if values.len() != ck.k_query.len() {
        return Err(Groth16Error::AssignmentLength { expected: ck.k_query.len(), got: values.len() });
    }
    let rho = F::rand(rng);
    let big: Vec<_> = values.par_iter().map(|x| x.into_bigint()).collect();
    let d = msm_g1(&ck.k_query, &big) + pk.delta_g1 * rho;
    Ok(Commitment { d: d.into_affine(), rho, values: values.to_vec() })
}

/// A two-round (UltraGroth) proof `(A, B, C, D)`.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct TwoRoundProof {
    pub proof: Proof<Bn254>,
    pub d: G1Affine,
}

/// Round 2: the proof of the full assignment `z`, whose round-1 wires must be the values
/// `round1` committed to (the challenges in `z` were derived from `round1.d`).
pub fn prove_two_round(
    pk: &ProvingKey<Bn254>,
    ck: &CommitKey,
    r1cs: &R1cs,
    z: &[F],
    round1: &Commitment,
    rng: &mut impl Rng,
) -> Result<TwoRoundProof, Groth16Error> {
    let (ni, k) = (r1cs.num_instance, r1cs.num_round1);
    if ck.k_query.len() != k {
        return Err(Groth16Error::KeyMismatch(format!(
            "its commitment key has {} bases, the constraint system {k} round-1 wires",
            ck.k_query.len()
        )));
    }
    if z.get(ni..ni + k) != Some(&round1.values[..]) {
        return Err(Groth16Error::Format("the assignment's round-1 wires are not the values committed to".into()));
    }
    let proof = prove_inner(pk, r1cs, z, F::rand(rng), F::rand(rng), Some((ck, round1.rho)))?;
    Ok(TwoRoundProof { proof, d: round1.d })
}

/// Verifies a two-round proof of the statement `publics`: derives the challenge seed
/// `c = challenge(D, publics)` itself (a caller never supplies it) and checks the equation for
/// the public inputs `(publics…, c)`, with A, C and D on G1 and B in G2 (as [`check_proof`]: a
/// deserialized proof is checked already, one made in memory from a key someone else supplied
/// is not). False for any malformed input; never panics.
pub fn verify_two_round(vk: &VerifyingKey<Bn254>, delta1_g2: &G2Affine, publics: &[F], p: &TwoRoundProof) -> bool {
    let on_curve = p.proof.a.is_on_curve() && p.proof.c.is_on_curve() && p.d.is_on_curve();
    if !on_curve || !p.proof.b.is_on_curve() || !p.proof.b.is_in_correct_subgroup_assuming_on_curve() {
        return false;
    }
    let mut x = publics.to_vec();
    x.push(challenge(&p.d, publics));
    pairing_check(vk, delta1_g2, &x, p)
}

/// The two-round verification equation,
/// `e(A, B) = e(α, β) · e(Σ xᵢ·ICᵢ, γ) · e(D, δ₁) · e(C, δ)`, for the public inputs `x`, the
/// seed included.
fn pairing_check(vk: &VerifyingKey<Bn254>, delta1_g2: &G2Affine, x: &[F], p: &TwoRoundProof) -> bool {
    use ark_ec::pairing::Pairing;
    if x.len() + 1 != vk.gamma_abc_g1.len() {
        return false;
    }
    let ic = vk.gamma_abc_g1[0] + G1::msm_unchecked(&vk.gamma_abc_g1[1..], x);
    let lhs = Bn254::multi_pairing(
        [p.proof.a, (-ic).into_affine(), (-p.d.into_group()).into_affine(), (-p.proof.c.into_group()).into_affine()],
        [p.proof.b, vk.gamma_g2, *delta1_g2, vk.delta_g2],
    );
    lhs == Bn254::pairing(vk.alpha_g1, vk.beta_g2)
}

/// The domain tag the challenge seed's hash starts with (protocol and version; Solidity's
/// `bytes32("zkml/wrap/ultragroth/v1")`): a seed of this protocol is never a hash that another
/// protocol over the same words computes.
pub const CHALLENGE_TAG: [u8; 32] = *b"zkml/wrap/ultragroth/v1\0\0\0\0\0\0\0\0\0";

/// The challenge seed of a two-round proof: keccak256 over the domain tag, D's coordinates and
/// the public inputs (each a 32-byte big-endian word, as Solidity's `abi.encodePacked` of
/// `bytes32` and `uint256`s), reduced mod r. It commits to every public input, so a proof's D
/// cannot be reused for another statement.
pub fn challenge(d: &G1Affine, publics: &[F]) -> F {
    use sha3::{Digest, Keccak256};
    let mut h = Keccak256::new();
    h.update(CHALLENGE_TAG);
    let (x, y) = d.xy().unwrap_or_default();
    h.update(crate::field::word(&x));
    h.update(crate::field::word(&y));
    for p in publics {
        h.update(crate::field::word(p));
    }
    F::from_be_bytes_mod_order(&h.finalize())
}

fn prove_inner(
    pk: &ProvingKey<Bn254>,
    r1cs: &R1cs,
    z: &[F],
    r: F,
    s: F,
    round1: Option<(&CommitKey, F)>,
) -> Result<Proof<Bn254>, Groth16Error> {
    if z.len() != r1cs.num_variables() {
        return Err(Groth16Error::AssignmentLength { expected: r1cs.num_variables(), got: z.len() });
    }
    if z[0] != F::one() {
        return Err(Groth16Error::Format("the assignment's first variable must be the constant 1".into()));
    }
    r1cs.check_key(pk, round1.map(|(ck, _)| ck))?;
    // Every variable but the constant one, as the queries' tails index them.
    let big: Vec<_> = z[1..].par_iter().map(|x| x.into_bigint()).collect();
    let round2 = &big[r1cs.num_instance - 1 + r1cs.num_round1..];
    let ((h_acc, l_acc), ((a, b1), b2)) = rayon::join(
        || {
            rayon::join(
                || -> Result<G1, Groth16Error> {
                    let h: Vec<_> = quotient(r1cs, z)?.par_iter().map(|x| x.into_bigint()).collect();
                    Ok(msm_g1(&pk.h_query, &h))
                },
                || msm_g1(&pk.l_query, round2),
            )
        },
        || {
            rayon::join(
                || rayon::join(|| msm_g1(&pk.a_query[1..], &big), || msm_g1(&pk.b_g1_query[1..], &big)),
                || G2::msm_bigint(&pk.b_g2_query[1..], &big),
            )
        },
    );
    let a = a + pk.a_query[0] + pk.vk.alpha_g1 + pk.delta_g1 * r;
    let b1 = b1 + pk.b_g1_query[0] + pk.beta_g1 + pk.delta_g1 * s;
    let b2 = b2 + pk.b_g2_query[0] + pk.vk.beta_g2 + pk.vk.delta_g2 * s;
    let mut c = a * s + b1 * r - pk.delta_g1 * (r * s) + l_acc + h_acc?;
    if let Some((ck, rho)) = round1 {
        c -= ck.delta1_g1 * rho;
    }
    Ok(Proof { a: a.into_affine(), b: b2.into_affine(), c: c.into_affine() })
}

fn msm_g1(bases: &[G1Affine], scalars: &[<F as PrimeField>::BigInt]) -> G1 {
    G1::msm_bigint(bases, scalars)
}

/// The coefficients of h = (A(X)·B(X) − C(X)) / Z(X), the libsnark reduction's witness map,
/// after checking every constraint.
fn quotient(r1cs: &R1cs, z: &[F]) -> Result<Vec<F>, Groth16Error> {
    let domain = r1cs.domain()?;
    let (n, nc) = (domain.size(), r1cs.num_constraints());
    let eval = |m: usize| {
        let mut v = vec![F::zero(); n];
        v[..nc].par_iter_mut().enumerate().for_each(|(i, x)| *x = r1cs.dot(m, i, z));
        v
    };
    let (mut a, (mut b, mut c)) = rayon::join(|| eval(0), || rayon::join(|| eval(1), || eval(2)));
    if let Some(i) = (0..nc).into_par_iter().find_first(|&i| a[i] * b[i] != c[i]) {
        return Err(Groth16Error::Unsatisfied(i));
    }
    a[nc..nc + r1cs.num_instance].copy_from_slice(&z[..r1cs.num_instance]);
    let coset = domain.get_coset(F::GENERATOR).ok_or(Groth16Error::TooLarge)?;
    let to_coset = |v: &mut Vec<F>| {
        domain.ifft_in_place(v);
        coset.fft_in_place(v);
    };
    rayon::join(|| to_coset(&mut a), || rayon::join(|| to_coset(&mut b), || to_coset(&mut c)));
    let z_inv = domain.evaluate_vanishing_polynomial(F::GENERATOR).inverse().ok_or(Groth16Error::TooLarge)?;
    a.par_iter_mut().zip(&b).zip(&c).for_each(|((a, b), c)| *a = (*a * b - c) * z_inv);
    coset.ifft_in_place(&mut a);
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_groth16::Groth16;
    use ark_r1cs_std::alloc::AllocVar;
    use ark_r1cs_std::eq::EqGadget;
    use ark_r1cs_std::fields::{FieldVar, fp::FpVar};
    use ark_relations::gr1cs::ConstraintSystemRef;
    use ark_snark::SNARK;
    use ark_std::rand::{SeedableRng, rngs::StdRng};

    /// The points' linear combination (GLV for one or two terms, Straus above) is the sum of the
    /// products, on G1 and G2, for scalars of every size: 0, 1, small, −1, random.
    #[test]
    fn combination_of_points_is_the_sum_of_products() {
        fn check<P: GLVConfig + SWCurveConfig<ScalarField = F>>(rng: &mut StdRng) {
            for n in [1, 2, 3, 17] {
                let xs: Vec<Projective<P>> = (0..n).map(|_| Projective::<P>::rand(rng)).collect();
                let mut cs: Vec<F> = (0..n).map(|_| F::rand(rng)).collect();
                let special = [F::zero(), F::one(), F::from(1u64 << 40), -F::one()];
                for (c, s) in cs.iter_mut().zip(special) {
                    *c = s;
                }
                let want: Projective<P> = xs.iter().zip(&cs).map(|(x, c)| *x * c).sum();
                assert_eq!(QapValue::combination(&xs, &cs), want, "{n} terms");
            }
        }
        let mut rng = StdRng::seed_from_u64(3);
        check::<ark_bn254::g1::Config>(&mut rng);
        check::<ark_bn254::g2::Config>(&mut rng);
    }

    /// `x³ + x·y + 5 = out` with `out` public, a chain of products so the queries are long, and
    /// a non-unit coefficient.
    #[derive(Clone)]
    struct Poly {
        x: Option<F>,
        y: Option<F>,
    }

    impl Poly {
        fn some(x: u64, y: u64) -> Self {
            Poly { x: Some(F::from(x)), y: Some(F::from(y)) }
        }
        fn out(&self) -> F {
            let (x, y) = (self.x.unwrap(), self.y.unwrap());
            x * x * x + x * y + F::from(5u64)
        }
    }

    impl ConstraintSynthesizer<F> for Poly {
        fn generate_constraints(self, cs: ConstraintSystemRef<F>) -> Result<(), SynthesisError> {
            let out =
                FpVar::new_input(cs.clone(), || self.x.map(|_| self.out()).ok_or(SynthesisError::AssignmentMissing))?;
            let x = FpVar::new_witness(cs.clone(), || self.x.ok_or(SynthesisError::AssignmentMissing))?;
            let y = FpVar::new_witness(cs.clone(), || self.y.ok_or(SynthesisError::AssignmentMissing))?;
            (&x * &x * &x + &x * &y + F::from(5u64)).enforce_equal(&out)?;
            let mut acc = x.clone();
            for _ in 0..40 {
                acc = &acc * &y + &x * F::from(3u64);
            }
            let _ = acc.square()?;
            Ok(())
        }
    }

    #[test]
    fn keys_and_proofs_equal_ark_groth16s_for_the_same_randomness() {
        let r1cs = R1cs::synthesize(Poly { x: None, y: None }).unwrap();
        let ours = setup(&r1cs, &mut StdRng::seed_from_u64(7)).unwrap();
        let (theirs, vk) =
            Groth16::<Bn254>::circuit_specific_setup(Poly { x: None, y: None }, &mut StdRng::seed_from_u64(7)).unwrap();
        assert!(ours == theirs, "setup differs from ark-groth16's");
        let c = Poly::some(3, 11);
        let z = assignment(c.clone()).unwrap();
        let (r, s) = (F::from(1234u64), F::from(5678u64));
        let proof = prove_with(&ours, &r1cs, &z, r, s).unwrap();
        assert_eq!(proof, Groth16::<Bn254>::create_proof_with_reduction(c.clone(), &theirs, r, s).unwrap());
        assert!(Groth16::<Bn254>::verify(&vk, &[c.out()], &proof).unwrap());
        assert!(!Groth16::<Bn254>::verify(&vk, &[c.out() + F::one()], &proof).unwrap());
    }

    #[test]
    fn witness_only_synthesis_gives_the_full_synthesis_assignment() {
        let cs = ConstraintSystem::<F>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        Poly::some(3, 11).generate_constraints(cs.clone()).unwrap();
        let full = {
            let cs = cs.borrow().unwrap();
            [cs.instance_assignment().unwrap(), cs.witness_assignment().unwrap()].concat()
        };
        assert_eq!(assignment(Poly::some(3, 11)).unwrap(), full);
    }

    #[test]
    fn an_unsatisfying_assignment_is_refused_with_its_constraint() {
        let r1cs = R1cs::synthesize(Poly { x: None, y: None }).unwrap();
        let pk = setup(&r1cs, &mut StdRng::seed_from_u64(1)).unwrap();
        let mut z = assignment(Poly::some(3, 11)).unwrap();
        z[1] += F::one();
        assert!(matches!(prove(&pk, &r1cs, &z, &mut StdRng::seed_from_u64(2)), Err(Groth16Error::Unsatisfied(_))));
        assert!(matches!(
            prove(&pk, &r1cs, &z[1..], &mut StdRng::seed_from_u64(2)),
            Err(Groth16Error::AssignmentLength { .. })
        ));
    }

    #[test]
    fn a_key_for_another_circuit_is_refused() {
        let small = R1cs::synthesize(Small).unwrap();
        let pk = setup(&small, &mut StdRng::seed_from_u64(8)).unwrap();
        let r1cs = R1cs::synthesize(Poly { x: None, y: None }).unwrap();
        let z = assignment(Poly::some(3, 11)).unwrap();
        assert!(matches!(prove(&pk, &r1cs, &z, &mut StdRng::seed_from_u64(2)), Err(Groth16Error::KeyMismatch(_))));
    }

    #[test]
    fn matrices_round_trip_and_corrupt_files_are_errors() {
        let r1cs = R1cs::synthesize(Poly { x: None, y: None }).unwrap();
        let mut bytes = vec![];
        r1cs.write(&mut bytes).unwrap();
        assert_eq!(R1cs::read(&mut bytes.as_slice()).unwrap(), r1cs);
        assert!(R1cs::read(&mut &bytes[..bytes.len() - 1]).is_err(), "truncated");
        assert!(R1cs::read(&mut [bytes.as_slice(), &[0]].concat().as_slice()).is_err(), "trailing byte");
        // Every single-byte change either is refused or reads back as different matrices; none
        // panics or allocates without bound.
        for pos in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[pos] ^= flip;
                if let Ok(m) = R1cs::read(&mut b.as_slice()) {
                    assert_ne!(m, r1cs, "byte {pos} ^ {flip:#x} read back unchanged");
                }
            }
        }
    }

    /// Round 1: x, y with `x·y = out` public; round 2: the inverse of `c − x` for the public
    /// challenge seed c, the shape of a LogUp term.
    #[derive(Clone)]
    struct TwoRound {
        x: Option<F>,
        y: Option<F>,
        c: Option<F>,
    }

    impl ConstraintSynthesizer<F> for TwoRound {
        fn generate_constraints(self, cs: ConstraintSystemRef<F>) -> Result<(), SynthesisError> {
            let get = |v: Option<F>| v.ok_or(SynthesisError::AssignmentMissing);
            let out = FpVar::new_input(cs.clone(), || Ok(get(self.x)? * get(self.y)?))?;
            let c = FpVar::new_input(cs.clone(), || get(self.c))?;
            let x = FpVar::new_witness(cs.clone(), || get(self.x))?;
            let y = FpVar::new_witness(cs.clone(), || get(self.y))?;
            x.mul_equals(&y, &out)?;
            let inv =
                FpVar::new_witness(cs.clone(), || Ok((get(self.c)? - get(self.x)?).inverse().unwrap_or_default()))?;
            (&c - &x).mul_equals(&inv, &FpVar::one())
        }
    }

    /// (keys, matrices, statement, proof) for x = 3, y = 11.
    fn two_round_fixture(rng: &mut StdRng) -> (ProvingKey<Bn254>, CommitKey, R1cs, Vec<F>, TwoRoundProof) {
        let r1cs = R1cs::synthesize(TwoRound { x: None, y: None, c: None }).unwrap().with_round1(2).unwrap();
        let (pk, ck) = setup_two_round(&r1cs, rng).unwrap();
        let (x, y) = (F::from(3u64), F::from(11u64));
        let round1 = commit(&pk, &ck, &[x, y], rng).unwrap();
        let c = challenge(&round1.d, &[x * y]);
        let z = assignment(TwoRound { x: Some(x), y: Some(y), c: Some(c) }).unwrap();
        let proof = prove_two_round(&pk, &ck, &r1cs, &z, &round1, rng).unwrap();
        (pk, ck, r1cs, vec![x * y, c], proof)
    }

    #[test]
    fn two_round_proofs_verify_and_are_blinded() {
        let rng = &mut StdRng::seed_from_u64(21);
        let (pk, ck, r1cs, x, p) = two_round_fixture(rng);
        assert!(verify_two_round(&pk.vk, &ck.delta1_g2, &x[..1], &p));
        // D is blinded: the same round-1 values commit to another point each time.
        let again = commit(&pk, &ck, &[F::from(3u64), F::from(11u64)], rng).unwrap();
        assert_ne!(again.d, p.d);
        // Plain Groth16 on a two-round system is refused rather than silently unsound.
        let z = assignment(TwoRound { x: Some(F::from(3u64)), y: Some(F::from(11u64)), c: Some(x[1]) }).unwrap();
        assert!(prove(&pk, &r1cs, &z, rng).is_err());
    }

    #[test]
    fn two_round_rejects_a_changed_statement_challenge_or_commitment() {
        use ark_ec::PrimeGroup;
        let rng = &mut StdRng::seed_from_u64(22);
        let (pk, ck, _, x, p) = two_round_fixture(rng);
        let vk = &pk.vk;
        assert!(verify_two_round(vk, &ck.delta1_g2, &x[..1], &p));
        assert!(!verify_two_round(vk, &ck.delta1_g2, &[x[0] + F::one()], &p), "another output");
        // Even with the seed the pairing needs for the other output: the seed is not the
        // hash of D and that output.
        assert!(!pairing_check(vk, &ck.delta1_g2, &[x[0] + F::one(), x[1]], &p), "another output, the old seed");
        assert!(!pairing_check(vk, &ck.delta1_g2, &[x[0], x[1] + F::one()], &p), "another challenge");
        assert!(!verify_two_round(vk, &ck.delta1_g2, &[], &p), "a missing input");
        assert!(!verify_two_round(vk, &ck.delta1_g2, &x, &p), "the seed given as a public input");
        let mut d = p.clone();
        d.d = (d.d + G1::generator()).into_affine();
        assert!(!verify_two_round(vk, &ck.delta1_g2, &x[..1], &d), "D + G");
        assert!(!pairing_check(vk, &ck.delta1_g2, &x, &d), "D + G, the old seed");
        for i in 0..3 {
            let mut t = p.clone();
            match i {
                0 => t.proof.a = (t.proof.a + G1::generator()).into_affine(),
                1 => t.proof.b = (t.proof.b + G2::generator()).into_affine(),
                _ => t.proof.c = (t.proof.c + G1::generator()).into_affine(),
            }
            assert!(!verify_two_round(vk, &ck.delta1_g2, &x[..1], &t), "tampered element {i}");
        }
        // The attack that a shared γ would allow (D pairing with γ, as public inputs do):
        // move part of the public-input sum into D to present the proof as one for another
        // statement. D pairs with δ₁ here, so it fails.
        let shift = (vk.gamma_abc_g1[1] * F::from(5u64)).into_affine();
        let mut moved = p.clone();
        moved.d = (moved.d + shift).into_affine();
        assert!(!pairing_check(vk, &ck.delta1_g2, &[x[0] - F::from(5u64), x[1]], &moved), "public input moved into D");
    }

    #[test]
    fn two_round_rejects_round1_values_changed_after_the_challenge() {
        let rng = &mut StdRng::seed_from_u64(23);
        let r1cs = R1cs::synthesize(TwoRound { x: None, y: None, c: None }).unwrap().with_round1(2).unwrap();
        let (pk, ck) = setup_two_round(&r1cs, rng).unwrap();
        // Committed to (3, 11); after seeing c, the prover wants (1, 33) (same output).
        let first = commit(&pk, &ck, &[F::from(3u64), F::from(11u64)], rng).unwrap();
        let c = challenge(&first.d, &[F::from(33u64)]);
        let z = assignment(TwoRound { x: Some(F::one()), y: Some(F::from(33u64)), c: Some(c) }).unwrap();
        assert!(prove_two_round(&pk, &ck, &r1cs, &z, &first, rng).is_err(), "refused by the prover");
        // Forced: the old D with the new values' assignment does not verify.
        let forged = Commitment { d: first.d, rho: first.rho, values: vec![F::one(), F::from(33u64)] };
        let p = prove_two_round(&pk, &ck, &r1cs, &z, &forged, rng).unwrap();
        assert!(!pairing_check(&pk.vk, &ck.delta1_g2, &[F::from(33u64), c], &p));
        assert!(!verify_two_round(&pk.vk, &ck.delta1_g2, &[F::from(33u64)], &p));
        // Honestly re-committed, the new values give a new D and so a new challenge.
        let second = commit(&pk, &ck, &[F::one(), F::from(33u64)], rng).unwrap();
        assert_ne!(challenge(&second.d, &[F::from(33u64)]), c);
    }

    #[test]
    fn the_challenge_binds_d_and_every_public_input() {
        use ark_ec::PrimeGroup;
        let d = G1::generator().into_affine();
        let c = challenge(&d, &[F::from(1u64), F::from(2u64)]);
        assert_ne!(c, challenge(&(d + d).into_affine(), &[F::from(1u64), F::from(2u64)]));
        assert_ne!(c, challenge(&d, &[F::from(1u64), F::from(3u64)]));
        assert_ne!(c, challenge(&d, &[F::from(1u64)]));
        // Solidity's uint256(keccak256(abi.encodePacked(bytes32("zkml/wrap/ultragroth/v1"), 1,
        // 2, 1, 2))) % r for D = G = (1, 2).
        let mut words = b"zkml/wrap/ultragroth/v1".to_vec();
        words.resize(32, 0);
        for v in [1u8, 2, 1, 2] {
            let mut w = [0u8; 32];
            w[31] = v;
            words.extend(w);
        }
        use sha3::{Digest, Keccak256};
        assert_eq!(c, F::from_be_bytes_mod_order(&Keccak256::digest(&words)));
    }

    struct Small;
    impl ConstraintSynthesizer<F> for Small {
        fn generate_constraints(self, cs: ConstraintSystemRef<F>) -> Result<(), SynthesisError> {
            let x = FpVar::new_witness(cs, || Ok(F::from(2u64)))?;
            x.square()?.enforce_equal(&FpVar::constant(F::from(4u64)))
        }
    }
}
