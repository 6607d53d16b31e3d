//! The stage-1 proof: every prover message, challenge and check of the protocol, run by one
//! function for both roles (see `channel`).
//!
//! 1. Absorb the model id and every segment in packed form: input and output (the statement),
//!    then the advice (quotients, remainders, lookup outputs, multiplicities) — or, for the
//!    two-round wrap (`Binding::Seed`), the seed derived from its commitment to all of them.
//! 2. LogUp over all lookups (α, β drawn after step 1).
//! 3. For each requantization `z + o = 2^k·q + Σ limbs`: a random point ρ, the prover's claims
//!    `q(ρ)`, `limb(ρ)`, and the reduction of `z(ρ)` through the linear nodes by sumcheck
//!    (matmul, sparse map, elementwise product) down to claims on segments and constants.
//! 4. All segment claims batched (powers of γ) into one sumcheck over the packed layout of the
//!    claimed segments (`batch_layout`), ending in one evaluation of that vector at one random
//!    point.

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use ark_ff::{One, PrimeField, Zero};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use sha3::{Digest, Keccak256};

use crate::channel::Channel;
use crate::field::{Elem, F, eq_eval, eq_index, eq_table, fe, mle_eval, values_of};
use crate::ir::{Kind, NodeId, QuantGraph, Role, SegId, Trace};
use crate::lookup::LogUpChallenges;
use crate::pack::{pack, packed_len, unpack};
use crate::role::{ProtocolRole, VerifyError};
use crate::transcript::Transcript;

/// The transcript's domain label: a proof of another protocol (or version) squeezes other challenges.
pub const PROTOCOL_LABEL: &[u8] = b"zkml/stage1/v1";

/// A standalone stage-1 proof: the statement (model, input, output), the packed advice and the
/// prover's messages.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Stage1Proof {
    /// `model_id` of the compiled model it proves.
    pub model_id: F,
    /// The quantized input and output, in logical order: the public statement.
    pub input: Vec<i64>,
    /// The quantized output, in logical order.
    pub output: Vec<i64>,
    /// Advice and multiplicity segments, packed, in layout order.
    pub advice: Vec<F>,
    /// Every prover message, in the order the protocol sends them.
    pub messages: Vec<F>,
}

/// Keccak-256 of the canonical JSON of the quantized graph, reduced into the field.
#[allow(clippy::expect_used, reason = "a graph in memory always serializes: plain structs, string keys")]
pub fn model_id(g: &QuantGraph) -> F {
    let bytes = serde_json::to_vec(g).expect("the graph serializes");
    F::from_be_bytes_mod_order(&Keccak256::digest(&bytes))
}

/// Segments in layout order (larger first) with their offsets in the packed vector; offsets
/// are multiples of the segment's length, so each segment is a subcube.
pub fn layout(g: &QuantGraph) -> (Vec<(SegId, usize)>, u32) {
    place(g, (0..g.segments.len()).collect())
}

/// The layout of the batched evaluation: only the segments some claim is about, placed as
/// `layout` places them. The others — the multiplicities, read by LogUp alone — would only pad
/// the batch's sumcheck (price_mlp: 2^13 positions for 210 claimed values) and its final
/// evaluation. Which segments are claimed follows from the graph, not from values, so the
/// prover, the verifier and the circuit place them alike.
pub fn batch_layout(g: &QuantGraph, claimed: impl IntoIterator<Item = SegId>) -> (Vec<(SegId, usize)>, u32) {
    let mut segs: Vec<SegId> = claimed.into_iter().collect();
    segs.sort_unstable();
    segs.dedup();
    place(g, segs)
}

#[allow(
    clippy::indexing_slicing,
    reason = "ids and lengths of a graph `QuantGraph::check` accepted (`segments` checks)"
)]
fn place(g: &QuantGraph, mut order: Vec<SegId>) -> (Vec<(SegId, usize)>, u32) {
    order.sort_by_key(|&s| (std::cmp::Reverse(g.segments[s].log_len), s));
    let mut off = 0;
    let placed = order
        .into_iter()
        .map(|s| {
            let o = off;
            off += g.segments[s].len();
            (s, o)
        })
        .collect();
    (placed, off.next_power_of_two().trailing_zeros())
}

/// Whether segments of this role are advice the proof carries (and the wrap commits to), not the
/// public statement.
pub fn is_private(role: Role) -> bool {
    matches!(role, Role::Advice | Role::Multiplicity)
}

/// What binds the advice before the first challenge is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Binding {
    /// The transcript absorbs every segment, packed: a standalone stage-1 proof.
    Absorbed,
    /// A seed derived outside the protocol after the advice was committed to, and covering the
    /// statement (the two-round wrap's `c = H(D, public inputs)`): the transcript absorbs it
    /// instead of the advice. Sound only if the seed really comes after the commitment.
    Seed(F),
}

/// `id` is `model_id(g)`, computed once by whoever loaded the model.
pub fn prove(g: &QuantGraph, id: F, trace: &Trace) -> Stage1Proof {
    prove_with(g, id, trace, Binding::Absorbed)
}

/// `prove` with the advice bound as `binding` says (the wrap seeds the transcript instead).
#[allow(clippy::expect_used, reason = "the prover's side: a trace from the quantized run fits its slots")]
#[allow(clippy::indexing_slicing, reason = "the prover's own trace, of this graph")]
pub fn prove_with(g: &QuantGraph, id: F, trace: &Trace, binding: Binding) -> Stage1Proof {
    let (order, _) = layout(g);
    let packed = packed_segments(g, &trace.segments).expect("the trace respects slot widths");
    let advice = order
        .iter()
        .zip(&packed)
        .filter(|((s, _), _)| is_private(g.segments[*s].role))
        .flat_map(|(_, p)| p.clone())
        .collect();
    let public = |s: SegId| g.segments[s].sent_positions().into_iter().map(|p| trace.segments[s][p]).collect();
    Stage1Proof {
        model_id: id,
        input: public(g.input),
        output: public(g.output),
        advice,
        messages: prover_messages(g, id, trace, binding, &packed),
    }
}

/// Every segment's sent values (of a run's `segments`) packed, in layout order; refuses values
/// that do not fit their segment's slots.
#[allow(clippy::indexing_slicing, reason = "the prover's own trace, of this graph")]
pub fn packed_segments(g: &QuantGraph, segments: &[Vec<i64>]) -> Result<Vec<Vec<F>>, crate::pack::PackError> {
    layout(g)
        .0
        .iter()
        .map(|&(s, _)| {
            let seg = &g.segments[s];
            let sent: Vec<i64> = seg.sent_positions().into_iter().map(|p| segments[s][p]).collect();
            pack(&sent, seg.bits, seg.signed)
        })
        .collect()
}

/// The prover's messages for a run, the advice bound by `binding` (`packed`: what `Absorbed`
/// absorbs).
#[allow(clippy::expect_used, reason = "the prover's side: its channel records and never checks")]
fn prover_messages(g: &QuantGraph, id: F, trace: &Trace, binding: Binding, packed: &[Vec<F>]) -> Vec<F> {
    let segs: Vec<Vec<F>> = trace.segments.iter().map(|v| v.iter().map(|&x| fe(x)).collect()).collect();
    let nodes: Vec<Vec<F>> = trace.nodes.iter().map(|v| v.iter().map(|&x| fe(x)).collect()).collect();
    let mut ch = Channel::prover(Transcript::new(PROTOCOL_LABEL));
    let known = Known { segs: &segs, nodes: &nodes };
    protocol(g, &mut ch, id, &bound(&binding, packed), &segs, Some(known)).expect("the prover performs no checks");
    ch.finish().expect("a prover always finishes")
}

/// The prover messages of a stage-1 proof seeded with `seed` (`Binding::Seed`: the two-round
/// wrap's), for the wrap circuit's witness. Its commitment binds the advice, so the advice is
/// neither packed nor absorbed here.
pub fn seeded_messages(g: &QuantGraph, id: F, trace: &Trace, seed: F) -> Vec<F> {
    prover_messages(g, id, trace, Binding::Seed(seed), &[])
}

/// Checks a proof against a compiled model (`id` is `model_id(g)`); returns the verified
/// quantized output.
pub fn verify(g: &QuantGraph, id: F, proof: &Stage1Proof) -> Result<Vec<i64>, VerifyError> {
    verify_with(g, id, proof, Binding::Absorbed)
}

/// `verify` for a proof made with `binding`.
pub fn verify_with(g: &QuantGraph, id: F, proof: &Stage1Proof, binding: Binding) -> Result<Vec<i64>, VerifyError> {
    if proof.model_id != id {
        return Err(VerifyError::ModelMismatch { found: proof.model_id.to_string(), expected: id.to_string() });
    }
    let (segs, packed) = segments(g, proof)?;
    let fsegs: Vec<Vec<F>> = segs.iter().map(|v| v.iter().map(|&x| fe(x)).collect()).collect();
    let mut ch = Channel::verifier(Transcript::new(PROTOCOL_LABEL), &proof.messages);
    protocol(g, &mut ch, id, &bound(&binding, &packed), &fsegs, None)?;
    ch.finish()?;
    Ok(proof.output.clone())
}

/// What the transcript absorbs after the model id under `binding`: every packed segment, or the
/// seed.
fn bound<'a>(binding: &'a Binding, packed: &'a [Vec<F>]) -> Vec<&'a [F]> {
    match binding {
        Binding::Absorbed => packed.iter().map(Vec::as_slice).collect(),
        Binding::Seed(c) => vec![std::slice::from_ref(c)],
    }
}

/// Every segment's full (padded) values, from the statement and the unpacked advice, and each
/// segment's packed elements in layout order.
#[allow(clippy::indexing_slicing, reason = "ids and lengths of the graph it has just checked")]
pub fn segments(g: &QuantGraph, proof: &Stage1Proof) -> Result<(Vec<Vec<i64>>, Vec<Vec<F>>), VerifyError> {
    // Every index below, and the protocol's, is into what the graph declares.
    g.check()?;
    let (order, _) = layout(g);
    let mut segs: Vec<Vec<i64>> = vec![vec![]; g.segments.len()];
    let mut packed = Vec::with_capacity(order.len());
    let mut pos = 0;
    for &(s, _) in &order {
        let seg = &g.segments[s];
        let range_err = |e: crate::pack::PackError| VerifyError::AdviceRange(format!("{}: {e}", seg.name));
        let sent = seg.sent_positions();
        let (values, felts) = if is_private(seg.role) {
            let n = packed_len(sent.len(), seg.bits);
            let felts = proof
                .advice
                .get(pos..pos + n)
                .ok_or_else(|| VerifyError::Shape("advice is shorter than the model needs".into()))?;
            pos += n;
            (unpack(felts, sent.len(), seg.bits, seg.signed).map_err(range_err)?, felts.to_vec())
        } else {
            let (what, v) = if s == g.input { ("input", &proof.input) } else { ("output", &proof.output) };
            if v.len() != sent.len() {
                return Err(VerifyError::Shape(format!("{what}: {} values, expected {}", v.len(), sent.len())));
            }
            // The public values must fit the slots the transcript packs them into.
            (v.clone(), pack(v, seg.bits, seg.signed).map_err(range_err)?)
        };
        let mut full = vec![seg.pad.unwrap_or(0); seg.len()];
        for (p, v) in sent.into_iter().zip(values) {
            full[p] = v;
        }
        segs[s] = full;
        packed.push(felts);
    }
    if proof.advice.len() != pos {
        return Err(VerifyError::Shape(format!("{} packed advice elements, expected {pos}", proof.advice.len())));
    }
    Ok((segs, packed))
}

/// The protocol under any role (`role::ProtocolRole`): the native prover and verifier, and the
/// wrap circuit's verifier. `id`: the model id; `bound`: what binds the advice before the first
/// challenge (every segment packed, in layout order, for `Binding::Absorbed`; the seed alone for
/// `Binding::Seed`); `segs`: every segment's full values as the role's elements; `known`: the
/// prover's values, for the proving role alone.
#[allow(
    clippy::indexing_slicing,
    reason = "ids and lengths of a graph `QuantGraph::check` accepted (`segments` checks)"
)]
pub fn protocol<R: ProtocolRole>(
    g: &QuantGraph,
    role: &mut R,
    id: R::E,
    bound: &[&[R::E]],
    segs: &[Vec<R::E>],
    known: Option<Known>,
) -> Result<(), R::Error> {
    // 1. The statement and all advice, or the seed that commits to them, before any challenge.
    role.absorb(&[id])?;
    for b in bound {
        role.absorb(b)?;
    }

    // 2. LogUp.
    let lc = LogUpChallenges::new(role.challenge()?, role.challenge()?);
    let lookups = g.lookups.iter().flat_map(|l| {
        let (x, y) = (&segs[l.input], &segs[l.output]);
        x.iter().zip(y).map(|(x, y)| (l.table, x.clone(), y.clone()))
    });
    let rows = g.tables.iter().enumerate().flat_map(|(tag, t)| {
        segs[g.table_mults[tag]].iter().enumerate().map(move |(i, m)| (tag, m.clone(), t.min() + i as i64))
    });
    role.require_logup(&g.tables, &lc, lookups, rows)?;

    // 3 and 4.
    reduce_and_batch(g, role, segs, known)
}

/// What the prover knows besides its messages: every segment's and node's values. Only the
/// proving role's computations (a message's value, a sumcheck's tables) read it.
#[derive(Clone, Copy)]
pub struct Known<'a> {
    /// Full (padded) values of every segment.
    pub segs: &'a [Vec<F>],
    /// Every node's values.
    pub nodes: &'a [Vec<F>],
}

/// Steps 3 and 4: each requantization's claims at a random
/// point, reduced through the linear nodes to claims on segments, and all segment claims batched
/// into one sumcheck over the packed claimed segments, ending in one evaluation of them.
#[allow(
    clippy::indexing_slicing,
    reason = "ids and lengths of a graph `QuantGraph::check` accepted (`segments` checks)"
)]
fn reduce_and_batch<R: ProtocolRole>(
    g: &QuantGraph,
    role: &mut R,
    segs: &[Vec<R::E>],
    known: Option<Known>,
) -> Result<(), R::Error> {
    let mut r = Reducer { g, role: &mut *role, known, claims: vec![] };
    for rq in &g.requants {
        let rho = (0..g.nodes[rq.z].log_len).map(|_| r.role.challenge()).collect::<Result<Vec<_>, _>>()?;
        let qv = r.seg_claim(rq.q, &rho)?;
        let mut z = qv * fe(1i64 << rq.shift) - fe(rq.offset);
        let mut at = 0;
        for &(limb, w) in &rq.limbs {
            z = z + r.seg_claim(limb, &rho)? * fe(1i64 << at);
            at += w;
        }
        r.reduce(rq.z, rho, z)?;
    }
    let claims = r.claims;
    batch(g, role, segs, known, claims)
}

/// Step 4: the segment claims, combined with powers of γ, reduced by one sumcheck over the packed
/// claimed segments (`batch_layout`) to one evaluation of them at one point.
#[allow(
    clippy::indexing_slicing,
    reason = "ids and lengths of a graph `QuantGraph::check` accepted (`segments` checks)"
)]
fn batch<R: ProtocolRole>(
    g: &QuantGraph,
    role: &mut R,
    segs: &[Vec<R::E>],
    known: Option<Known>,
    claims: Vec<Claim<R::E>>,
) -> Result<(), R::Error> {
    let (order, total_log) = batch_layout(g, claims.iter().map(|c| c.0));
    let gamma = role.challenge()?;
    let mut powers = Vec::with_capacity(claims.len());
    let mut gp = R::E::lift(F::one());
    for _ in &claims {
        powers.push(gp.clone());
        gp = gp * gamma.clone();
    }
    let mut offset = vec![0; g.segments.len()];
    for &(s, off) in &order {
        offset[s] = off;
    }
    let combined: R::E = claims.iter().zip(&powers).map(|((_, _, v), p)| v.clone() * p.clone()).sum();
    let out = role.sumcheck("the batched segment claims", combined, total_log as usize, 2, || {
        let segs = prover_knowledge(known).segs;
        let mut w = vec![F::zero(); 1 << total_log];
        for ((s, point, _), p) in claims.iter().zip(&powers) {
            let p = p.value().unwrap_or_default();
            for (i, e) in eq_table(&values_of(point)).into_iter().enumerate() {
                w[offset[*s] + i] += e * p;
            }
        }
        let mut packed = vec![F::zero(); 1 << total_log];
        for &(s, off) in &order {
            packed[off..off + segs[s].len()].copy_from_slice(&segs[s]);
        }
        vec![w, packed]
    })?;
    let xi = &out.point;
    let w: R::E = claims
        .iter()
        .zip(&powers)
        .map(|((s, point, _), p)| {
            let n = point.len();
            p.clone() * eq_eval(point, &xi[..n]) * eq_index(&xi[n..], offset[*s] >> n)
        })
        .sum();
    let pv = role.mle_at(
        order.iter().flat_map(|&(s, off)| segs[s].iter().enumerate().map(move |(j, v)| (off + j, v.clone()))),
        xi,
    )?;
    role.require_product(&w, &pv, &out.claim, || VerifyError::FinalCheck("the packed segment evaluation".into()))
}

/// A claim that a segment's MLE at a point has a value.
type Claim<E> = (SegId, Vec<E>, E);

/// The prover's values; only the proving role's computations ask, and it always has them.
#[allow(clippy::expect_used, reason = "called only by the proving role, which always knows its values")]
fn prover_knowledge(known: Option<Known>) -> Known {
    known.expect("only the prover computes messages and tables")
}

struct Reducer<'a, 'k, R: ProtocolRole> {
    g: &'a QuantGraph,
    role: &'a mut R,
    known: Option<Known<'k>>,
    claims: Vec<Claim<R::E>>,
}

#[allow(
    clippy::indexing_slicing,
    reason = "ids and lengths of a graph `QuantGraph::check` accepted (`segments` checks)"
)]
impl<R: ProtocolRole> Reducer<'_, '_, R> {
    fn seg_claim(&mut self, s: SegId, point: &[R::E]) -> Result<R::E, R::Error> {
        let known = self.known;
        let v = self.role.receive(|| mle_eval(&prover_knowledge(known).segs[s], &values_of(point)))?;
        self.claims.push((s, point.to_vec(), v.clone()));
        Ok(v)
    }

    /// The value of a node at a point: the constant's MLE (`false`), or a prover message
    /// (`true`: the claim must be reduced further) whose value the prover computes with `value`.
    fn operand(&mut self, id: NodeId, point: &[R::E], value: impl FnOnce() -> F) -> Result<(R::E, bool), R::Error> {
        match &self.g.nodes[id].kind {
            Kind::Const(c) => Ok((self.role.const_mle(c, point)?, false)),
            _ => Ok((self.role.receive(value)?, true)),
        }
    }

    fn reduce(&mut self, id: NodeId, point: Vec<R::E>, value: R::E) -> Result<(), R::Error> {
        let node = &self.g.nodes[id];
        let known = self.known;
        let values = move |id: NodeId| -> &[F] { &prover_knowledge(known).nodes[id] };
        let ctx = |what: &str| format!("{what} of node {:?}", node.origin);
        match &node.kind {
            Kind::Segment(s) => self.claims.push((*s, point, value)),
            Kind::Const(c) => {
                let v = self.role.const_mle(c, &point)?;
                self.role.require_equal(&v, &value, || VerifyError::FinalCheck(ctx("a constant")))?;
            }
            Kind::Lin(terms) => {
                let mut sum = vec![];
                let mut pending = vec![];
                for &(t, c) in terms {
                    let (v, sent) = self.operand(t, &point, || mle_eval(values(t), &values_of(&point)))?;
                    if sent {
                        pending.push((t, v.clone()));
                    }
                    sum.push(v * fe(c));
                }
                let sum: R::E = sum.into_iter().sum();
                self.role.require_equal(&sum, &value, || VerifyError::FinalCheck(ctx("the sum")))?;
                for (t, v) in pending {
                    self.reduce(t, point.clone(), v)?;
                }
            }
            &Kind::MatMul { l, r, b, c, .. } => {
                let (rho_c, rho_a) = point.split_at(c as usize);
                let out = self.role.sumcheck(&ctx("the matrix product"), value, b as usize, 2, || {
                    let (lv, rv) = (values(l), values(r));
                    let (ea, ec) = (eq_table(&values_of(rho_a)), eq_table(&values_of(rho_c)));
                    let (bn, cn) = (1usize << b, 1usize << c);
                    let mut ta = vec![F::zero(); bn];
                    for (i, e) in ea.iter().enumerate() {
                        for (k, t) in ta.iter_mut().enumerate() {
                            let x = lv[i * bn + k];
                            if !x.is_zero() {
                                *t += *e * x;
                            }
                        }
                    }
                    let tb =
                        (0..bn).map(|k| rv[k * cn..(k + 1) * cn].iter().zip(&ec).map(|(x, e)| *x * e).sum()).collect();
                    vec![ta, tb]
                })?;
                let lp: Vec<R::E> = out.point.iter().chain(rho_a).cloned().collect();
                let rp: Vec<R::E> = rho_c.iter().chain(&out.point).cloned().collect();
                let f = |j: usize| out.factors.get(j).copied().unwrap_or_default();
                let (lval, lsent) = self.operand(l, &lp, || f(0))?;
                let (rval, rsent) = self.operand(r, &rp, || f(1))?;
                self.role
                    .require_product(&lval, &rval, &out.claim, || VerifyError::FinalCheck(ctx("the matrix product")))?;
                if lsent {
                    self.reduce(l, lp, lval)?;
                }
                if rsent {
                    self.reduce(r, rp, rval)?;
                }
            }
            Kind::Sparse { src, entries } => {
                let src = *src;
                let n_src = self.g.nodes[src].log_len as usize;
                let out = self.role.sumcheck(&ctx("the data movement"), value, n_src, 2, || {
                    let eq_rho = eq_table(&values_of(&point));
                    let mut s = vec![F::zero(); 1 << n_src];
                    for &(o, i, c) in entries {
                        s[i as usize] += eq_rho[o as usize] * fe(c);
                    }
                    vec![s, values(src).to_vec()]
                })?;
                let xi = out.point.clone();
                let sv = self.role.sparse_mle(entries, &point, &xi)?;
                let (xv, sent) = self.operand(src, &xi, || out.factors.get(1).copied().unwrap_or_default())?;
                self.role
                    .require_product(&sv, &xv, &out.claim, || VerifyError::FinalCheck(ctx("the data movement")))?;
                if sent {
                    self.reduce(src, xi, xv)?;
                }
            }
            &Kind::Hadamard(a, b) => {
                let n = node.log_len as usize;
                let out = self.role.sumcheck(&ctx("the elementwise product"), value, n, 3, || {
                    vec![eq_table(&values_of(&point)), values(a).to_vec(), values(b).to_vec()]
                })?;
                let xi = out.point.clone();
                let e = eq_eval(&point, &xi);
                let f = |j: usize| out.factors.get(j).copied().unwrap_or_default();
                let (aval, asent) = self.operand(a, &xi, || f(1))?;
                let (bval, bsent) = self.operand(b, &xi, || f(2))?;
                self.role.require_product(&(e * aval.clone()), &bval, &out.claim, || {
                    VerifyError::FinalCheck(ctx("the elementwise product"))
                })?;
                if asent {
                    self.reduce(a, xi.clone(), aval)?;
                }
                if bsent {
                    self.reduce(b, xi, bval)?;
                }
            }
        }
        Ok(())
    }
}
