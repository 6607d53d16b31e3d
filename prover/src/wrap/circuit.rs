//! The stage-1 verifier as an R1CS circuit: `stage1::protocol` itself, run under the circuit's
//! role (`Gadget`: messages are wires, checks constraints, challenges from the in-circuit
//! transcript) in its seeded form (`stage1::Binding::Seed`), for the two-round wrap
//! (`super::two_round`). Public inputs: `[model id, context,
//! packed input…, packed output…, c]`. The first witness wires are every segment's sent values,
//! unpacked (values wider than a range limb as their limbs), and the range tables'
//! multiplicities. The proof commits to them (D) before `c = H(D, public inputs)` is drawn, so the
//! transcript starts from `c` instead of absorbing the advice, and every range is a LogUp lookup
//! drawn after the values are fixed: one inverse per value (or limb) and one constraint per
//! table row, where a one-round circuit would pay a bit decomposition and a Poseidon absorption
//! per value. The multiplicities and every prover message are private witnesses.

#![warn(missing_docs)]

use std::collections::HashMap;

use ark_ff::Field;
use ark_r1cs_std::GR1CSVar;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

use crate::field::{F, eq_table, fe};
use crate::ir::{QuantGraph, Role, SegId};
use crate::lookup::{LogUpChallenges, Table};
use crate::pack::{offset, slots};
use crate::role::{ProtocolRole, SumcheckOutcome, VerifyError};
use crate::stage1::{PROTOCOL_LABEL, layout, packed_segments, protocol};
use crate::sumcheck;
use crate::wrap::public;
use crate::wrap::transcript::TranscriptVar;

type V = FpVar<F>;

/// What the prover knows: every segment's values and the stage-1 proof's messages. Absent
/// during key generation.
pub struct Witness {
    /// Full (padded) values of every segment.
    pub segments: Vec<Vec<i64>>,
    /// Packed sent values of every segment, in layout order.
    pub packed: Vec<Vec<F>>,
    /// The challenge seed `c` and the messages of the stage-1 proof seeded with it (empty while
    /// only round 1 is computed).
    pub seed: F,
    /// The stage-1 messages seeded with `seed`, in protocol order.
    pub messages: Vec<F>,
    /// Salts of the input's and the output's commitments (used when `hashed`).
    pub salts: [F; 2],
}

impl Witness {
    /// The witness of round 1, from a model's segment values
    /// (`Trace::segments`); refuses values that do not fit their segment's slots.
    pub fn from_run(g: &QuantGraph, segments: Vec<Vec<i64>>, salts: [F; 2]) -> Result<Self, crate::pack::PackError> {
        let packed = packed_segments(g, &segments)?;
        Ok(Witness { segments, packed, seed: F::from(0u64), messages: vec![], salts })
    }

    /// Whether this witness has the shape of `g`'s segments: a witness of another model must make
    /// synthesis fail, not index out of bounds.
    fn fits(&self, g: &QuantGraph) -> bool {
        self.segments.len() == g.segments.len()
            && self.segments.iter().zip(&g.segments).all(|(v, seg)| v.len() == seg.len())
            && self.packed.len() == layout(g).0.len()
    }

    fn packed_of(&self, g: &QuantGraph, s: SegId) -> &[F] {
        let k = layout(g).0.iter().position(|&(x, _)| x == s).expect("every segment is laid out");
        &self.packed[k]
    }
}

/// How much of the circuit to synthesize.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Only the round-1 wires: what the prover commits to before the seed exists.
    Round1,
    /// The whole circuit.
    All,
}

/// The wrap circuit of one model: the stage-1 verifier over the model's round-1 wires.
pub struct WrapCircuit<'a> {
    /// The model.
    pub graph: &'a QuantGraph,
    /// Its `model_id`, the first public input.
    pub id: F,
    /// The proof's context (public input 2): whatever the caller binds the proof to.
    pub context: F,
    /// The assignment when proving; none for key generation.
    pub witness: Option<&'a Witness>,
    /// Round 1 alone (what D commits to) or the whole circuit.
    pub part: Part,
}

/// The public inputs of a wrap proof in circuit order (`public::layout`), without the
/// seed (what the seed is hashed from).
pub fn public_inputs(g: &QuantGraph, id: F, context: F, w: &Witness) -> Vec<F> {
    let mut out = vec![];
    for e in public::layout(g) {
        match e.kind {
            public::Kind::Field => out.push(if e.name == "model_id" { id } else { context }),
            public::Kind::Packed(s) => out.extend(w.packed_of(g, s)),
            public::Kind::Commitment(s) => {
                out.push(public::commit(w.salts[usize::from(s == g.output)], w.packed_of(g, s)))
            }
        }
    }
    out
}

/// How values are range-checked: a value of `bits` bits (signed ones offset into `[0, 2^bits)`)
/// is looked up in the range table of its width when it is at most `limb` bits wide, and is
/// otherwise split into `limb`-bit limbs (the last one narrower), each looked up in the table of
/// its width. Multiplicities are not range-checked: LogUp is sound for multiplicities that are
/// any field elements as long as there are fewer lookups than the field's characteristic
/// (Haböck, eprint 2022/1530, Lemma 5).
///
/// And which ReLU tables the circuit checks without their table: a pair `(x, y)` with `x` in the
/// table's domain (its segment's range check says so) is a row of `relu` exactly when
/// `y·(y − x) = 0` and `2y − x` is in `[0, 2^bits)` (`relu_pair`). That costs a product and the
/// range check of `2y − x` a pair, where LogUp costs one constraint a pair and one a table row
/// whatever the rows' multiplicities: price_mlp looks up 64 values in a 4,096-row table.
#[derive(Clone, Debug, PartialEq)]
pub struct RangePlan {
    /// The width of the limbs a wider value is split into.
    pub limb: u32,
    /// The range tables' widths, ascending.
    pub widths: Vec<u32>,
    /// The ReLU tables checked pair by pair (their tags), ascending.
    pub direct: Vec<usize>,
}

impl RangePlan {
    /// The limb width and the directly checked tables that cost the fewest constraints for this
    /// model: one per limb looked up, one per table row and, for a table checked directly, a
    /// product and a recomposition (when `2y − x` needs more than one limb) per pair. A function
    /// of the model alone, so setup and proving agree.
    pub fn new(g: &QuantGraph) -> Self {
        let checked: Vec<(u32, usize)> = g
            .segments
            .iter()
            .filter(|s| s.role != Role::Multiplicity)
            .map(|s| (s.bits, s.sent_positions().len()))
            .collect();
        // (tag, bits, pairs) of each ReLU table that may be checked directly.
        let eligible: Vec<(usize, u32, usize)> = (0..g.tables.len())
            .filter(|&t| relu_checkable(g, t))
            .map(|t| (t, g.tables[t].bits, g.lookups.iter().filter(|l| l.table == t).map(|l| pairs(g, l).len()).sum()))
            .collect();
        // Every subset of the eligible tables, while there are few (a model has one or two).
        let subsets = if eligible.len() <= 6 { 1usize << eligible.len() } else { 1 };
        (1..=20)
            .flat_map(|limb| (0..subsets).map(move |subset| (limb, subset)))
            .map(|(limb, subset)| {
                let chosen = |k: usize| subset >> k & 1 == 1;
                let mut checks = checked.clone();
                let mut cost = 0;
                for (k, &(_, bits, n)) in eligible.iter().enumerate() {
                    if chosen(k) {
                        checks.push((bits, n));
                        cost += n * (1 + usize::from(limb_widths(bits, limb).len() > 1));
                    } else {
                        cost += n + (1 << bits);
                    }
                }
                let mut widths: Vec<u32> = checks.iter().flat_map(|&(b, _)| limb_widths(b, limb)).collect();
                widths.sort_unstable();
                widths.dedup();
                let lookups: usize = checks.iter().map(|&(b, n)| n * limb_widths(b, limb).len()).sum();
                let rows: usize = widths.iter().map(|w| 1usize << w).sum();
                let direct = eligible.iter().enumerate().filter(|&(k, _)| chosen(k)).map(|(_, e)| e.0).collect();
                (cost + lookups + rows, RangePlan { limb, widths, direct })
            })
            .min_by_key(|(cost, _)| *cost)
            .map(|(_, plan)| plan)
            .expect("a non-empty range of widths")
    }

    fn tag(&self, g: &QuantGraph, width: u32) -> usize {
        g.tables.len() + self.widths.iter().position(|&w| w == width).expect("every limb width has a table")
    }

    fn is_direct(&self, table: usize) -> bool {
        self.direct.contains(&table)
    }
}

/// Whether table `t` is a ReLU table whose every lookup's input is range-checked (as its
/// segment) within the table's domain, as `relu_pair` needs.
fn relu_checkable(g: &QuantGraph, t: usize) -> bool {
    let table = &g.tables[t];
    table.kind == crate::lookup::TableKind::Relu
        && g.lookups.iter().filter(|l| l.table == t).all(|l| {
            let x = &g.segments[l.input];
            if x.signed { x.bits <= table.bits } else { x.bits < table.bits }
        })
}

/// The positions of a lookup where the input or the output is sent (elsewhere both are the
/// model's padding, constants).
fn pairs(g: &QuantGraph, l: &crate::ir::Lookup) -> Vec<usize> {
    let mut p = g.segments[l.input].sent_positions();
    p.extend(g.segments[l.output].sent_positions());
    p.sort_unstable();
    p.dedup();
    p
}

/// `y = relu(x)` for an `x` known to be in `[−2^(bits−1), 2^(bits−1))`: enforces `y·(y − x) = 0`
/// and returns `2y − x`, which the caller range-checks to `[0, 2^bits)`. The product leaves
/// `y = 0` or `y = x`, and `2y − x` is then `−x` or `x`: in range exactly when `y = 0` with
/// `x ≤ 0` or `y = x ≥ 0`, that is when `y = max(x, 0)`. (A field element `−x` for `x > 0` is
/// `r − x`, far outside.)
fn relu_pair(x: &V, y: &V) -> Result<V, SynthesisError> {
    y.mul_equals(&(y - x), &V::zero())?;
    Ok(y.double()? - x)
}

/// The widths of the limbs a `bits`-bit value is split into (one limb if it fits), lowest first.
pub fn limb_widths(bits: u32, limb: u32) -> Vec<u32> {
    let mut out = vec![limb; (bits / limb) as usize];
    if !bits.is_multiple_of(limb) {
        out.push(bits % limb);
    }
    out
}

fn missing<T>() -> Result<T, SynthesisError> {
    Err(SynthesisError::AssignmentMissing)
}

struct Gadget<'a> {
    cs: ConstraintSystemRef<F>,
    g: &'a QuantGraph,
    w: Option<&'a Witness>,
    t: TranscriptVar,
    pos: usize,
    segs: Vec<Vec<V>>,
    plan: RangePlan,
    /// Range lookups: (table tag, value offset into the table's range).
    ranges: Vec<(usize, V)>,
    /// Each range table's multiplicities (round-1 wires).
    range_counts: Vec<Vec<V>>,
}

impl ConstraintSynthesizer<F> for WrapCircuit<'_> {
    fn generate_constraints(self, cs: ConstraintSystemRef<F>) -> Result<(), SynthesisError> {
        let g = self.graph;
        if self.witness.is_some_and(|w| !w.fits(g)) {
            return Err(SynthesisError::Unsatisfiable);
        }
        let t = TranscriptVar::new(cs.clone(), PROTOCOL_LABEL)?;
        let plan = RangePlan::new(g);
        let mut gd = Gadget {
            cs: cs.clone(),
            g,
            w: self.witness,
            t,
            pos: 0,
            segs: vec![vec![]; g.segments.len()],
            plan,
            ranges: vec![],
            range_counts: vec![],
        };
        // Round 1 first: the first witness wires are the ones D commits to.
        gd.round1()?;
        if self.part == Part::Round1 {
            return Ok(());
        }
        let id = V::new_input(cs.clone(), || Ok(self.id))?;
        id.enforce_equal(&V::constant(self.id))?;
        let context = V::new_input(cs.clone(), || Ok(self.context))?;
        // An input no constraint touches would not be bound by the proof.
        let _ = context.square()?;
        gd.statement()?;
        let seed = V::new_input(cs.clone(), || gd.w.map(|w| w.seed).map_or_else(missing, Ok))?;
        let segs = std::mem::take(&mut gd.segs);
        protocol(g, &mut gd, id, &[std::slice::from_ref(&seed)], &segs, None)?;
        if let Some(w) = gd.w
            && gd.pos != w.messages.len()
        {
            return Err(SynthesisError::Unsatisfiable);
        }
        Ok(())
    }
}

impl Gadget<'_> {
    fn wire(&self, value: impl FnOnce(&Witness) -> i64) -> Result<V, SynthesisError> {
        let w = self.w;
        V::new_witness(self.cs.clone(), || w.map(|w| fe(value(w))).map_or_else(missing, Ok))
    }

    /// The round-1 wires, in layout order: every segment's sent values (or their limbs), then
    /// the limbs of the directly checked ReLU pairs' `2y − x` (where it has more than one), then
    /// each range table's multiplicities. Padded positions are constants; the multiplicities of
    /// a directly checked table are no wires at all.
    fn round1(&mut self) -> Result<(), SynthesisError> {
        let (order, _) = layout(self.g);
        let mut counts: Vec<Vec<u64>> = self.plan.widths.iter().map(|w| vec![0; 1 << w]).collect();
        for &(s, _) in &order {
            let seg = &self.g.segments[s];
            if seg.role == Role::Multiplicity
                && self.g.table_mults.iter().position(|&m| m == s).is_some_and(|t| self.plan.is_direct(t))
            {
                continue;
            }
            let off = offset(seg.bits, seg.signed);
            let mut full: Vec<V> = vec![V::constant(fe(seg.pad.unwrap_or(0))); seg.len()];
            for p in seg.sent_positions() {
                let value = move |w: &Witness| w.segments[s][p];
                full[p] = if seg.role == Role::Multiplicity {
                    self.wire(value)?
                } else {
                    self.range_checked(&mut counts, seg.bits, off, value, None)?
                };
            }
            self.segs[s] = full;
        }
        let g = self.g;
        let direct: Vec<&crate::ir::Lookup> = g.lookups.iter().filter(|l| self.plan.is_direct(l.table)).collect();
        for l in direct {
            let bits = g.tables[l.table].bits;
            for p in 0..g.segments[l.input].len() {
                let (x, y) = (&self.segs[l.input][p], &self.segs[l.output][p]);
                if let (V::Constant(_), V::Constant(_)) = (x, y) {
                    // Both the model's padding: arkworks would not check a product of constants.
                    let pad = |s: SegId| g.segments[s].pad.unwrap_or(0);
                    if g.tables[l.table].f(pad(l.input)) != pad(l.output) {
                        return Err(SynthesisError::Unsatisfiable);
                    }
                    continue;
                }
                let v = relu_pair(x, y)?;
                let value = move |w: &Witness| 2 * w.segments[l.output][p] - w.segments[l.input][p];
                let _ = self.range_checked(&mut counts, bits, 0, value, Some(v))?;
            }
        }
        let w = self.w;
        for (k, width) in self.plan.widths.clone().into_iter().enumerate() {
            let row = |t: usize| {
                V::new_witness(self.cs.clone(), || w.map(|_| F::from(counts[k][t])).map_or_else(missing, Ok))
            };
            self.range_counts.push((0..1usize << width).map(row).collect::<Result<_, _>>()?);
        }
        Ok(())
    }

    /// Range-checks a `bits`-bit value (`off` shifts it into `[0, 2^bits)`) and returns it: its
    /// circuit value `whole` if it has one, else a new wire when one limb holds it, else the
    /// recomposition of its limbs (new wires, one lookup each; equal to `whole`, if given, by one
    /// constraint). `value` is its integer in a witness, for the wires and the tables' counts.
    fn range_checked(
        &mut self,
        counts: &mut [Vec<u64>],
        bits: u32,
        off: i64,
        value: impl Fn(&Witness) -> i64 + Copy,
        whole: Option<V>,
    ) -> Result<V, SynthesisError> {
        let widths = limb_widths(bits, self.plan.limb);
        let mut at = 0;
        let mut parts = vec![];
        for &width in &widths {
            let part = move |w: &Witness| (value(w) + off) >> at & ((1i64 << width) - 1);
            if let Some(w) = self.w {
                let k = self.plan.widths.iter().position(|&x| x == width).expect("planned");
                // A value outside its range has no limbs; its count lands nowhere and the
                // lookup fails.
                if let Some(c) = counts[k].get_mut(part(w) as usize) {
                    *c += 1;
                }
            }
            let v = match (&whole, widths.len()) {
                (Some(v), 1) => v + fe(off),
                (None, 1) => self.wire(value)? + fe(off),
                _ => self.wire(part)?,
            };
            self.ranges.push((self.plan.tag(self.g, width), v.clone()));
            parts.push(v * fe(1i64 << at));
            at += width;
        }
        let recomposed = parts.iter().sum::<V>() - fe(off);
        match whole {
            Some(v) if widths.len() > 1 => {
                v.enforce_equal(&recomposed)?;
                Ok(v)
            }
            _ => Ok(recomposed),
        }
    }

    /// The public inputs after the model id and the context, as `public::layout` orders them:
    /// packed public segments, or the salted commitments of hashed ones. Packing is a linear
    /// combination of range-checked values, so it determines them.
    fn statement(&mut self) -> Result<(), SynthesisError> {
        for e in public::layout(self.g) {
            let (public::Kind::Packed(s) | public::Kind::Commitment(s)) = e.kind else { continue };
            let seg = &self.g.segments[s];
            let off = offset(seg.bits, seg.signed);
            let sent = seg.sent_positions();
            let felts: Vec<V> = sent
                .chunks(slots(seg.bits))
                .map(|chunk| {
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(i, &p)| (&self.segs[s][p] + fe(off)) * F::from(2u64).pow([i as u64 * seg.bits as u64]))
                        .sum::<V>()
                })
                .collect();
            self.public(e.kind, s, &felts)?;
        }
        Ok(())
    }

    /// A public segment's entries of the statement: its packed field elements `felts` equal to
    /// their public inputs, or (hashed) their salted commitment equal to its one.
    fn public(&mut self, kind: public::Kind, s: SegId, felts: &[V]) -> Result<(), SynthesisError> {
        let w = self.w;
        let expected = match kind {
            public::Kind::Packed(_) => felts.to_vec(),
            _ => {
                let which = usize::from(s == self.g.output);
                let salt = V::new_witness(self.cs.clone(), || w.map(|w| w.salts[which]).map_or_else(missing, Ok))?;
                let mut h = TranscriptVar::new(self.cs.clone(), public::COMMIT_LABEL)?;
                h.absorb(&[salt])?;
                h.absorb(felts)?;
                vec![h.challenge()?]
            }
        };
        let values: Vec<F> = match (w, kind) {
            (Some(w), public::Kind::Packed(_)) => w.packed_of(self.g, s).to_vec(),
            (Some(w), _) => vec![public::commit(w.salts[usize::from(s == self.g.output)], w.packed_of(self.g, s))],
            (None, _) => vec![],
        };
        for (j, f) in expected.iter().enumerate() {
            let public = V::new_input(self.cs.clone(), || values.get(j).copied().map_or_else(missing, Ok))?;
            f.enforce_equal(&public)?;
        }
        Ok(())
    }
}

/// The circuit's verifier as the protocol's steps see it: a message is a new wire, absorbed
/// as the native verifier absorbs it; a check is a constraint.
impl ProtocolRole for Gadget<'_> {
    type E = V;
    type Error = SynthesisError;

    /// A prover message: the next witness of the stage-1 messages, absorbed as the native
    /// verifier absorbs it.
    fn receive(&mut self, _: impl FnOnce() -> F) -> Result<V, SynthesisError> {
        let pos = self.pos;
        self.pos += 1;
        let w = self.w;
        let v = V::new_witness(self.cs.clone(), || match w {
            Some(w) => w.messages.get(pos).copied().ok_or(SynthesisError::Unsatisfiable),
            None => missing(),
        })?;
        self.t.absorb(std::slice::from_ref(&v))?;
        Ok(v)
    }

    fn absorb(&mut self, values: &[V]) -> Result<(), SynthesisError> {
        self.t.absorb(values)
    }

    fn challenge(&mut self) -> Result<V, SynthesisError> {
        self.t.challenge()
    }

    fn require_equal(&mut self, a: &V, b: &V, _: impl FnOnce() -> VerifyError) -> Result<(), SynthesisError> {
        a.enforce_equal(b)
    }

    fn require_product(&mut self, a: &V, b: &V, c: &V, _: impl FnOnce() -> VerifyError) -> Result<(), SynthesisError> {
        a.mul_equals(b, c)
    }

    fn require_logup(
        &mut self,
        tables: &[Table],
        ch: &LogUpChallenges<V>,
        lookups: impl Iterator<Item = (usize, V, V)>,
        rows: impl Iterator<Item = (usize, V, i64)>,
    ) -> Result<(), SynthesisError> {
        let den = |tag: usize, x: V, y: V| ch.denominator(tag, x, y);
        // Sums are built as one linear combination each: `+=` in a loop nests combinations,
        // which costs quadratic time and memory when the system is finalized.
        // Every denominator first — the lookups' (each with its count, > 1 for a constant pair
        // looked up repeatedly) and the table rows' (each with its multiplicity) — so that a
        // proof inverts all their values at once (lenet: tens of thousands of inversions, one
        // at a time ~0.1 s of its wrap).
        let mut dens: Vec<(V, u64)> = vec![];
        let mut constant_pairs: HashMap<(usize, F, F), u64> = HashMap::new();
        for (tag, x, y) in lookups.filter(|(t, _, _)| !self.plan.is_direct(*t)) {
            if let (V::Constant(cx), V::Constant(cy)) = (&x, &y) {
                *constant_pairs.entry((tag, *cx, *cy)).or_default() += 1;
                continue;
            }
            dens.push((den(tag, x, y), 1));
        }
        for (tag, x) in &self.ranges {
            dens.push((den(*tag, x.clone(), V::zero()), 1));
        }
        let mut keys: Vec<_> = constant_pairs.into_iter().collect();
        keys.sort_by_key(|((t, x, y), _)| (*t, x.to_string(), y.to_string()));
        for ((tag, x, y), n) in keys {
            dens.push((den(tag, V::constant(x), V::constant(y)), n));
        }
        let mut terms: Vec<(V, V)> = vec![];
        for (tag, m, t) in rows.filter(|(tag, _, _)| !self.plan.is_direct(*tag)) {
            terms.push((m, den(tag, V::constant(fe(t)), V::constant(fe(tables[tag].f(t))))));
        }
        // The range tables' rows, tagged after the function tables.
        for (counts, &width) in self.range_counts.iter().zip(&self.plan.widths) {
            let tag = self.plan.tag(self.g, width);
            for (t, m) in counts.iter().enumerate() {
                terms.push((m.clone(), den(tag, V::constant(fe(t as i64)), V::zero())));
            }
        }
        // Values exist when proving; at setup nothing is evaluated.
        let inverses: Option<Vec<F>> =
            dens.iter().map(|(d, _)| d).chain(terms.iter().map(|(_, d)| d)).map(|d| d.value().ok()).collect();
        let inverses = inverses.map(|mut v| {
            // Zeros stay zero, as `inverse().unwrap_or_default()` left them: unsatisfiable rows.
            ark_ff::batch_inversion(&mut v);
            v
        });
        let inverse = |k: usize| inverses.as_ref().map(|v| v[k]);
        let mut lhs = vec![];
        for (k, (d, n)) in dens.iter().enumerate() {
            let inv = inverse_of(&self.cs, d, inverse(k))?;
            lhs.push(if *n == 1 { inv } else { inv * F::from(*n) });
        }
        let mut rhs = vec![];
        for (k, (m, d)) in terms.iter().enumerate() {
            rhs.push(table_term(&self.cs, m, d, inverse(dens.len() + k))?);
        }
        lhs.iter().sum::<V>().enforce_equal(&rhs.iter().sum::<V>())
    }

    fn const_mle(&mut self, c: &[i64], point: &[V]) -> Result<V, SynthesisError> {
        const_mle(c, point)
    }

    fn sparse_mle(&mut self, entries: &[(u32, u32, i64)], rho: &[V], xi: &[V]) -> Result<V, SynthesisError> {
        sparse_mle(entries, rho, xi)
    }

    fn mle_at(&mut self, values: impl IntoIterator<Item = (usize, V)>, point: &[V]) -> Result<V, SynthesisError> {
        mle_at(values, point)
    }

    fn sumcheck(
        &mut self,
        context: &str,
        claim: V,
        n_vars: usize,
        degree: usize,
        _tables: impl FnOnce() -> Vec<Vec<F>>,
    ) -> Result<SumcheckOutcome<V>, SynthesisError> {
        sumcheck::without_tables(self, context, claim, n_vars, degree)
    }
}

/// A witness `1/d` whose value (when proving) is `inv`, constrained; unsatisfiable when `d = 0`.
fn inverse_of(cs: &ConstraintSystemRef<F>, d: &V, inv: Option<F>) -> Result<V, SynthesisError> {
    let inv = V::new_witness(cs.clone(), || inv.ok_or(SynthesisError::AssignmentMissing))?;
    inv.mul_equals(d, &V::one())?;
    Ok(inv)
}

/// A table row's LogUp term `q = m/d`, one constraint `q·d = m`. A row's denominator is
/// `α − v − β·f(v) − β²·tag` with `v`, `f(v)` and the tag constants of the circuit, so it vanishes
/// only where α hits one value fixed by β: for α and β drawn from the transcript after the
/// multiplicities are committed, probability at most (rows)/|F| per seed the prover can try
/// (DESIGN.md, "Wrap circuit"). Only then is `q` free (`d = m = 0`), or the row unsatisfiable
/// (`d = 0 ≠ m`, which the native verifier refuses too).
fn table_term(cs: &ConstraintSystemRef<F>, m: &V, d: &V, inv: Option<F>) -> Result<V, SynthesisError> {
    let q = V::new_witness(cs.clone(), || Ok(m.value()? * inv.ok_or(SynthesisError::AssignmentMissing)?))?;
    q.mul_equals(d, m)?;
    Ok(q)
}

/// The MLE of a sparse map at `(ρ, ξ)`, `Σ c·eq(ρ, o)·eq(ξ, i)` over its entries `(o, i, c)`,
/// factored by splitting both indices into low and high bits:
/// `eq(ρ, o) = eq(ρ_lo, o_lo)·eq(ρ_hi, o_hi)`, and so for `i`. One product per distinct
/// `(o_lo, i_lo)` pair is shared by every entry with those low bits, and each `(o_hi, i_hi)`
/// block costs two products (its eq factors, then their product with the block's linear
/// combination). im2col and pooling maps repeat the same pattern of offsets in every block, so
/// for the split `sparse_split` picks this costs a few thousand constraints (lenet: ~4.9k for its
/// four maps) instead of one per entry plus both full eq tables (~92k).
fn sparse_mle(entries: &[(u32, u32, i64)], rho: &[V], xi: &[V]) -> Result<V, SynthesisError> {
    let (ko, ki) = sparse_split(entries, rho.len(), xi.len());
    let (o_lo, o_hi) = (eq_table(&rho[..ko]), eq_table(&rho[ko..]));
    let (i_lo, i_hi) = (eq_table(&xi[..ki]), eq_table(&xi[ki..]));
    let (mo, mi) = ((1u32 << ko) - 1, (1u32 << ki) - 1);
    let mut lo: HashMap<(u32, u32), V> = HashMap::new();
    let mut blocks: std::collections::BTreeMap<(u32, u32), Vec<V>> = Default::default();
    for &(o, i, c) in entries {
        let key = (o & mo, i & mi);
        let product = lo.entry(key).or_insert_with(|| &o_lo[key.0 as usize] * &i_lo[key.1 as usize]).clone();
        blocks.entry((o >> ko, i >> ki)).or_default().push(product * fe(c));
    }
    let terms: Vec<V> = blocks
        .into_iter()
        .map(|((oh, ih), lc)| (&o_hi[oh as usize] * &i_hi[ih as usize]) * lc.iter().sum::<V>())
        .collect();
    Ok(terms.iter().sum())
}

/// The low-bit counts `(ko, ki)` that minimize `sparse_mle`'s constraints: the four eq tables
/// (`2^k` products each), one product per distinct low pair and two per distinct high pair. A
/// function of the map alone, so setup and proving build the same circuit.
fn sparse_split(entries: &[(u32, u32, i64)], no: usize, ni: usize) -> (usize, usize) {
    use rayon::prelude::*;
    let distinct = |mut keys: Vec<u64>| {
        keys.sort_unstable();
        keys.dedup();
        keys.len()
    };
    let cost = |ko: usize, ki: usize| {
        let (mo, mi) = ((1u64 << ko) - 1, (1u64 << ki) - 1);
        let lo = distinct(entries.iter().map(|&(o, i, _)| (o as u64 & mo) << 32 | (i as u64 & mi)).collect());
        let hi = distinct(entries.iter().map(|&(o, i, _)| (o as u64 >> ko) << 32 | (i as u64 >> ki)).collect());
        (1usize << ko) + (1 << (no - ko)) + (1 << ki) + (1 << (ni - ki)) + lo + 2 * hi
    };
    let splits: Vec<(usize, usize)> = (0..=no).flat_map(|ko| (0..=ni).map(move |ki| (ko, ki))).collect();
    splits.into_par_iter().map(|(ko, ki)| (cost(ko, ki), ko, ki)).min().map_or((0, 0), |(_, ko, ki)| (ko, ki))
}

/// `Σ v_k·eq(point, k)` over `(k, v_k)`, factored by rows and columns:
/// `eq(point, k) = eq(point_lo, k_lo)·eq(point_hi, k_hi)`, so two eq tables of about `√len`
/// entries replace the full one, each value costs one product with its column's entry (none if
/// it is a constant) and each row one more.
fn mle_at(values: impl IntoIterator<Item = (usize, V)>, point: &[V]) -> Result<V, SynthesisError> {
    let k = point.len() / 2;
    let lo = eq_table(&point[..k]);
    let hi = eq_table(&point[k..]);
    let mut rows: std::collections::BTreeMap<usize, Vec<V>> = Default::default();
    for (i, v) in values {
        rows.entry(i >> k).or_default().push(v * &lo[i & ((1 << k) - 1)]);
    }
    let terms: Vec<V> = rows.into_iter().map(|(h, row)| &hi[h] * row.iter().sum::<V>()).collect();
    Ok(terms.iter().sum())
}

/// The MLE of a constant at a point (`mle_at` over its non-zero entries).
fn const_mle(c: &[i64], point: &[V]) -> Result<V, SynthesisError> {
    mle_at(c.iter().enumerate().filter(|(_, x)| **x != 0).map(|(i, &x)| (i, V::constant(fe(x)))), point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_relations::gr1cs::ConstraintSystem;

    fn witness(cs: &ConstraintSystemRef<F>, v: i64) -> V {
        V::new_witness(cs.clone(), || Ok(fe(v))).unwrap()
    }

    /// The factored sparse-map MLE equals the entry-by-entry sum at any point, for maps with
    /// repeated, scattered and coinciding entries, and costs fewer constraints on an im2col map.
    #[test]
    fn sparse_mle_equals_the_direct_sum() {
        use ark_std::rand::{Rng, SeedableRng, rngs::StdRng};
        let rng = &mut StdRng::seed_from_u64(5);
        // im2col of a 6×6 image with a 3×3 kernel (16 patches of 9), then random maps.
        let mut im2col = vec![];
        for p in 0..16u32 {
            for k in 0..9u32 {
                let (y, x) = (p / 4 + k / 3, p % 4 + k % 3);
                im2col.push((p * 16 + k, y * 8 + x, 1));
            }
        }
        let scattered: Vec<(u32, u32, i64)> =
            (0..200).map(|_| (rng.gen_range(0..256), rng.gen_range(0..64), rng.gen_range(-9..9))).collect();
        for (entries, no, ni, structured) in
            [(im2col, 8usize, 6usize, true), (scattered, 8, 6, false), (vec![(3, 5, 2), (3, 5, 7)], 2, 3, false)]
        {
            let cs = ConstraintSystem::<F>::new_ref();
            let rho: Vec<V> =
                (0..no).map(|_| V::new_witness(cs.clone(), || Ok(F::from(rng.r#gen::<u64>()))).unwrap()).collect();
            let xi: Vec<V> =
                (0..ni).map(|_| V::new_witness(cs.clone(), || Ok(F::from(rng.r#gen::<u64>()))).unwrap()).collect();
            let before = cs.num_constraints();
            let got = sparse_mle(&entries, &rho, &xi).unwrap().value().unwrap();
            let factored = cs.num_constraints() - before;
            let (er, ex) = (eq_table(&rho), eq_table(&xi));
            let direct: F = entries
                .iter()
                .map(|&(o, i, c)| er[o as usize].value().unwrap() * ex[i as usize].value().unwrap() * fe(c))
                .sum();
            assert_eq!(got, direct);
            assert!(cs.is_satisfied().unwrap());
            let unfactored = (1 << no) + (1 << ni) + entries.len();
            assert!(factored <= unfactored, "{factored} constraints");
            if structured {
                assert!(3 * factored < unfactored, "im2col: {factored} of {unfactored} constraints");
            }
        }
    }

    /// The factored MLE equals `Σ v_k·eq(point, k)` for witness and constant values, with
    /// the full eq table's cost replaced by two of about √len entries.
    #[test]
    fn mle_at_equals_the_eq_table_sum() {
        use ark_std::rand::{Rng, SeedableRng, rngs::StdRng};
        let rng = &mut StdRng::seed_from_u64(6);
        let cs = ConstraintSystem::<F>::new_ref();
        let point: Vec<V> =
            (0..9).map(|_| V::new_witness(cs.clone(), || Ok(F::from(rng.r#gen::<u64>()))).unwrap()).collect();
        let mut values: Vec<(usize, V)> = vec![];
        for k in 0..512 {
            if rng.gen_bool(0.7) {
                values.push((
                    k,
                    if k % 3 == 0 { V::constant(fe(k as i64 - 7)) } else { witness(&cs, rng.gen_range(-50..50)) },
                ));
            }
        }
        let before = cs.num_constraints();
        let got = mle_at(values.clone(), &point).unwrap().value().unwrap();
        let cost = cs.num_constraints() - before;
        let eq = eq_table(&point);
        let want: F = values.iter().map(|(k, v)| v.value().unwrap() * eq[*k].value().unwrap()).sum();
        assert_eq!(got, want);
        assert!(cs.is_satisfied().unwrap());
        assert!(cost < values.len() + 128, "{cost} constraints for {} values", values.len());
    }

    /// A row's term is `m/d` in one constraint, and a row with multiplicity whose denominator
    /// vanishes is unsatisfiable, as the native verifier refuses it (`logup_sums` returns `None`).
    #[test]
    fn a_table_row_is_its_multiplicity_over_its_denominator() {
        for (m, d, ok) in [(6, 3, true), (0, 5, true), (-7, 11, true), (4, 0, false)] {
            let cs = ConstraintSystem::<F>::new_ref();
            let before = cs.num_constraints();
            let inv = fe(d).inverse().unwrap_or_default();
            let q = table_term(&cs, &witness(&cs, m), &witness(&cs, d), Some(inv)).unwrap();
            assert_eq!(cs.num_constraints() - before, 1);
            assert_eq!(cs.is_satisfied().unwrap(), ok, "m = {m}, d = {d}");
            if ok {
                assert_eq!(q.value().unwrap() * fe(d), fe(m));
            }
        }
    }

    /// `relu_pair`'s product and range hold together exactly for the table's rows: every `x` of a
    /// 4-bit domain against every `y` from well below to well above it, a field element `−1`
    /// (what a wrap-around would look like) included.
    #[test]
    fn a_relu_pair_passes_exactly_when_it_is_a_row() {
        use ark_ff::PrimeField;
        let bits = 4;
        for x in -8i64..8 {
            for y in -20i64..20 {
                let cs = ConstraintSystem::<F>::new_ref();
                let v = relu_pair(&witness(&cs, x), &witness(&cs, y)).unwrap();
                assert_eq!(cs.num_constraints(), 1, "one product");
                let in_range = v.value().unwrap().into_bigint() < F::from(1u64 << bits).into_bigint();
                assert_eq!(cs.is_satisfied().unwrap() && in_range, y == x.max(0), "x = {x}, y = {y}");
            }
        }
    }
}
