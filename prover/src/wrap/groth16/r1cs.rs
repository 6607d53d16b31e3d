//! The wrap circuit's constraint system as stored matrices (`R1cs`, written beside the proving
//! key and read back), its QAP (the polynomials' values at a point, over scalars or points), and
//! synthesis: the witness-only assignment a proof runs, the witness count setup needs.

use std::io::{Read, Write};

use ark_bn254::{Bn254, Fr as F};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Projective, SWCurveConfig};
use ark_ec::{AdditiveGroup, CurveGroup};
use ark_ff::{BigInteger, One, PrimeField, Zero};
use ark_groth16::ProvingKey;
use ark_poly::EvaluationDomain;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, R1CS_PREDICATE_LABEL, SynthesisError, SynthesisMode,
};
use ark_relations::utils::matrix::Matrix;
use rayon::prelude::*;

use super::{CommitKey, Domain, Groth16Error};

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
pub(super) struct Sparse {
    /// Row i's entries are `entries[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Entry {
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
/// `G2 * F` does not use) where a coefficient is large; otherwise Straus' interleaving, whose
/// doublings all the terms share (4 a window, up to the largest coefficient's top one: 256 for
/// a full-size coefficient, 16 for a circuit's 16-bit constant or its negation), with signed
/// 4-bit digits (−7…8): each term's table is 1·x … 8·x, affine (one batched
/// inversion) for mixed additions, a digit's sign a free negation, ~60 additions per term. An
/// unsigned table of 15 multiples made the tables a third of the work. Sequential: the QAP runs
/// it for many variables in parallel, and arkworks' MSM, parallel inside, overflowed a rayon
/// worker's stack there. With it a ceremony's initial keys for tiny_gemm take 10.2 s instead of
/// 18.4 s by GLV alone (docs/benchmarks.md).
impl<P: GLVConfig + SWCurveConfig<ScalarField = F>> QapValue for Projective<P> {
    fn combination(xs: &[Self], cs: &[F]) -> Self {
        // A coefficient past r/2 is a small one negated (a circuit's −k): over the point negated
        // it takes as few windows as k. The doublings then stop at the largest magnitude's top
        // window: 16 for a 16-bit constant, not 256.
        let (signed, digits): (Vec<Self>, Vec<[i8; DIGITS]>) = xs
            .iter()
            .zip(cs)
            .map(|(x, c)| {
                if c.into_bigint() > F::MODULUS_MINUS_ONE_DIV_TWO {
                    (-*x, signed_digits(&-*c))
                } else {
                    (*x, signed_digits(c))
                }
            })
            .unzip();
        let windows = digits.iter().filter_map(|d| d.iter().rposition(|&k| k != 0)).max().map_or(0, |top| top + 1);
        if xs.len() <= 2 && windows > DIGITS / 2 {
            return xs.iter().zip(cs).map(|(x, c)| P::glv_mul_projective(*x, *c)).sum();
        }
        let mut multiples = Vec::with_capacity(8 * xs.len());
        for x in &signed {
            let mut m = *x;
            for _ in 0..8 {
                multiples.push(m);
                m += x;
            }
        }
        let tables = Self::normalize_batch(&multiples);
        let mut acc = Self::zero();
        for w in (0..windows).rev() {
            for _ in 0..4 {
                acc.double_in_place();
            }
            for (t, d) in tables.chunks_exact(8).zip(&digits) {
                match d[w] {
                    0 => {}
                    k if k > 0 => acc += &t[k as usize - 1],
                    k => acc -= &t[k.unsigned_abs() as usize - 1],
                }
            }
        }
        acc
    }
}

/// 4-bit windows of a 254-bit scalar, and one for the last carry.
const DIGITS: usize = 65;

/// `c` as Σ dᵢ·16ⁱ with every dᵢ in −7…8 (the MSM's signed digits at 4 bits): a window of 9…15
/// becomes −7…−1 and carries 1.
fn signed_digits(c: &F) -> [i8; DIGITS] {
    let mut d = [0i8; DIGITS];
    for (digit, v) in d.iter_mut().zip(super::msm::signed_digits(&c.into_bigint(), 4, DIGITS)) {
        *digit = v as i8;
    }
    d
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

    /// The same constraints with A and B swapped in the rows where that leaves fewer round-2
    /// variables in B. A proof's B is an MSM over G2 (a point addition ~3× G1's) and again over
    /// G1, A one over G1, and round-2 values are mostly full-size (transcript states, inverses,
    /// messages; round-1 ones are limbs), so a round-2 variable in B costs ~4 of one in A. Greedy:
    /// rows whose A and B hold the same variables first (their variables are in B whichever way),
    /// then by the fewer round-2 variables of their two sides, each row keeping or swapping
    /// whichever adds less 4·(new in B) + (new in A). lenet: 55,595 round-2 variables in B →
    /// 30,757, in A 76,184 → 105,916. Satisfaction is unchanged (a·b = b·a), and so is every
    /// row's length.
    pub fn oriented(mut self) -> Self {
        let first = self.num_instance + self.num_round1;
        // A row's variables from index `from` on, as a sorted set.
        let vars = |m: usize, i: usize, from: usize| -> Vec<usize> {
            let mut v: Vec<usize> =
                self.matrices[m].row(i).iter().map(|e| e.var as usize).filter(|&v| v >= from).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let n = self.num_constraints();
        let sides: Vec<(Vec<usize>, Vec<usize>)> = (0..n).map(|i| (vars(0, i, first), vars(1, i, first))).collect();
        let same = |i: usize| vars(0, i, 0) == vars(1, i, 0);
        let mut order: Vec<(bool, usize, usize)> =
            (0..n).map(|i| (!same(i), sides[i].0.len().min(sides[i].1.len()), i)).collect();
        order.sort_unstable();
        let (mut in_a, mut in_b) = (vec![false; self.num_variables()], vec![false; self.num_variables()]);
        let new = |set: &[bool], vs: &[usize]| vs.iter().filter(|&&v| !set[v]).count();
        let mut swap = vec![false; n];
        for (_, _, i) in order {
            let (a, b) = &sides[i];
            let keep = 4 * new(&in_b, b) + new(&in_a, a);
            let swapped = 4 * new(&in_b, a) + new(&in_a, b);
            let (to_a, to_b) = if swapped < keep {
                swap[i] = true;
                (b, a)
            } else {
                (a, b)
            };
            to_a.iter().for_each(|&v| in_a[v] = true);
            to_b.iter().for_each(|&v| in_b[v] = true);
        }
        let side = |m: usize| {
            let mut out = Sparse { starts: vec![0], entries: Vec::with_capacity(self.matrices[m].entries.len()) };
            for (i, &s) in swap.iter().enumerate() {
                out.entries.extend_from_slice(self.matrices[if s { 1 - m } else { m }].row(i));
                out.starts.push(out.entries.len());
            }
            out
        };
        let (a, b) = (side(0), side(1));
        self.matrices[0] = a;
        self.matrices[1] = b;
        self
    }

    /// The matrices' rows.
    pub fn num_constraints(&self) -> usize {
        self.matrices[0].starts.len() - 1
    }

    /// Instance and witness variables, the constant 1 included.
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
        self.qap_sum(&[(m, lagrange)])
    }

    /// Σ over `sources` of [`qap`](Self::qap)(m, lagrange), as one linear combination a variable:
    /// over points the doublings of a variable's terms are shared by all its sources (the L query
    /// is β·u + α·v + w, over three lists of points).
    pub(crate) fn qap_sum<T>(&self, sources: &[(usize, &[T])]) -> Vec<T>
    where
        T: QapValue,
    {
        let (nc, ni) = (self.num_constraints(), self.num_instance);
        // The entries by variable, then source and coefficient: a variable's Lagrange values that
        // share a source and a coefficient are added up first, then each variable is one linear
        // combination of its sums. A circuit has far fewer distinct (variable, coefficient)
        // pairs than entries, and over points a multiplication costs about a hundred additions.
        let mut entries: Vec<(u32, u32, u32, u32)> = sources
            .iter()
            .enumerate()
            .flat_map(|(s, &(m, _))| {
                (0..nc).flat_map(move |i| {
                    self.matrices[m].row(i).iter().map(move |e| (e.var, s as u32, e.coeff, i as u32))
                })
            })
            .collect();
        entries.par_sort_unstable();
        let sums: Vec<(usize, T)> = entries
            .chunk_by(|a, b| a.0 == b.0)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|var| {
                let (mut ones, mut xs, mut cs) = (T::zero(), vec![], vec![]);
                for same in var.chunk_by(|a, b| (a.1, a.2) == (b.1, b.2)) {
                    let lagrange = sources[same[0].1 as usize].1;
                    let mut sum = T::zero();
                    for &(.., row) in same {
                        sum += lagrange[row as usize];
                    }
                    match same[0].2 {
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
        for &(m, lagrange) in sources {
            if m == 0 {
                for (x, l) in v[..ni].iter_mut().zip(&lagrange[nc..nc + ni]) {
                    *x += *l;
                }
            }
        }
        v
    }

    /// Matrix `m` (0, 1, 2: A, B, C) times `z`, row by row over a QAP domain of `n` rows: the
    /// libsnark reduction's rows of the instance variables in A included, the rest zero.
    pub(crate) fn rows(&self, m: usize, z: &[F], n: usize) -> Vec<F> {
        let (nc, ni) = (self.num_constraints(), self.num_instance);
        let mut v = vec![F::zero(); n];
        v[..nc].par_iter_mut().enumerate().for_each(|(i, x)| *x = self.dot(m, i, z));
        if m == 0 {
            v[nc..nc + ni].copy_from_slice(&z[..ni]);
        }
        v
    }

    /// Row `i` of matrix `m` (0, 1, 2 for A, B, C) times `z`.
    pub(super) fn dot(&self, m: usize, i: usize, z: &[F]) -> F {
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
    #[deny(clippy::indexing_slicing)]
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
        if !coeffs.first().is_some_and(F::is_one) {
            return Err(bad("the coefficient table does not start with 1"));
        }
        let sparse = |r: &mut dyn Read| -> Result<Sparse, Groth16Error> {
            let mut starts = Vec::with_capacity(cap(rows) + 1);
            let mut total = 0usize;
            starts.push(total);
            for _ in 0..rows {
                let len = read_u32(r)? as usize;
                if len > vars {
                    return Err(bad("a row longer than the variable count"));
                }
                total = total.checked_add(len).ok_or_else(|| bad("more entries than memory holds"))?;
                starts.push(total);
            }
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

pub(super) const R1CS_MAGIC: &[u8; 8] = b"ZKMLR1C2";

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Orienting swaps exactly the rows whose swap keeps round-2 variables out of B — here the
    /// third, whose B variable u is otherwise only in A while its A variable v is in B anyway
    /// (v·v) — keeps the others, and leaves a satisfying assignment satisfying.
    #[test]
    fn orienting_moves_round2_variables_out_of_b() {
        // z = (1, x | r | u, v, w, t, s, q): instance 1, x; round 1 r; round 2 the rest.
        let (u, v, w, t, s, r, q) = (3u32, 4, 5, 6, 7, 2, 8);
        let rows = [([u], [v], [w]), ([v], [v], [t]), ([v], [u], [s]), ([w], [r], [q])];
        let sparse = |side: usize| {
            let mut m = Sparse { starts: vec![0], entries: Vec::new() };
            for row in &rows {
                let var = [row.0[0], row.1[0], row.2[0]][side];
                m.entries.push(Entry { var, coeff: 0 });
                m.starts.push(m.entries.len());
            }
            m
        };
        let r1cs = R1cs {
            num_instance: 2,
            num_witness: 7,
            num_round1: 1,
            coeffs: vec![F::one()],
            matrices: [sparse(0), sparse(1), sparse(2)],
        };
        let z: Vec<F> = [1u64, 3, 2, 5, 7, 35, 49, 35, 70].map(F::from).to_vec();
        assert_eq!(r1cs.first_unsatisfied(&z).unwrap(), None);
        let oriented = r1cs.clone().oriented();
        let b_vars = |r: &R1cs| (0..4).map(|i| r.matrices[1].row(i)[0].var).collect::<Vec<_>>();
        assert_eq!(b_vars(&r1cs), [v, v, u, r]);
        assert_eq!(b_vars(&oriented), [v, v, v, r]);
        assert_eq!(oriented.matrices[0].row(2)[0].var, u);
        assert_eq!(oriented.matrices[2], r1cs.matrices[2]);
        assert_eq!(oriented.first_unsatisfied(&z).unwrap(), None);
        let mut wrong = z.clone();
        wrong[7] += F::one();
        assert_eq!(oriented.first_unsatisfied(&wrong).unwrap(), Some(2));
    }
}
