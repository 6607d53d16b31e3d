//! What makes a quantized graph well formed: every id it holds names something it has, every
//! node reads only nodes before it, and every length agrees with the lengths it is combined with.
//!
//! The graph comes from model.json, a file; the verifier indexes its segments, nodes and tables
//! by the ids the graph holds and sizes its vectors by the lengths it declares. Checked once,
//! those indices are in range by construction, so the verifier's indexing cannot panic and its
//! recursion through the nodes ends (`stage1::verify` checks before it reads anything else).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use super::program::Kind;
use super::quant::{QStep, QuantGraph, Role};
use crate::pack::MAX_BITS;

/// The largest `log₂` length of a segment, a node or a table: 2^28 values are 2 GiB of `i64` in
/// one vector, past what the prover holds in memory for any model it proves.
pub const MAX_LOG_LEN: u32 = 28;

/// The longest chain of linear nodes a graph may hold: the verifier's claim reduction recurses
/// along one, a stack frame per node (the models here have chains of a few nodes between
/// requantizations; 256 frames fit a test thread's 2 MiB stack with room to spare).
pub const MAX_DEPTH: usize = 256;

/// Why a quantized graph is not well formed; `at` names the part (`node 12 (conv1)`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphError {
    /// An id with nothing behind it.
    #[error("{at} refers to {kind} {index}, but the graph has {count}")]
    Dangling {
        /// Where the id is.
        at: String,
        /// What it should name (`segment`, `node`, `table`, …).
        kind: &'static str,
        /// The id.
        index: usize,
        /// How many there are.
        count: usize,
    },
    /// A node that reads itself or a node after it: the graph would not be a program.
    #[error("{at} reads node {input}, which does not come before it")]
    Order {
        /// The node.
        at: String,
        /// What it reads.
        input: usize,
    },
    /// Lengths, widths or positions that do not fit together.
    #[error("{at}: {reason}")]
    Shape {
        /// Where.
        at: String,
        /// What does not fit.
        reason: String,
    },
}

fn shape(at: impl Into<String>, reason: impl Into<String>) -> GraphError {
    GraphError::Shape { at: at.into(), reason: reason.into() }
}

/// The `kind` that `index` names among `items`, or the error naming `at`.
fn named<'a, T>(
    items: &'a [T],
    at: impl FnOnce() -> String,
    kind: &'static str,
    index: usize,
) -> Result<&'a T, GraphError> {
    items.get(index).ok_or_else(|| GraphError::Dangling { at: at(), kind, index, count: items.len() })
}

fn log_len_fits(at: impl FnOnce() -> String, log_len: u32) -> Result<(), GraphError> {
    if log_len <= MAX_LOG_LEN {
        Ok(())
    } else {
        Err(shape(at(), format!("a length of 2^{log_len}, past the largest, 2^{MAX_LOG_LEN}")))
    }
}

impl QuantGraph {
    /// Checks that the graph is well formed (see the module's doc); every reader of a graph from
    /// a file calls it before using it.
    pub fn check(&self) -> Result<(), GraphError> {
        self.check_segments()?;
        self.check_nodes()?;
        self.check_requants()?;
        self.check_lookups()?;
        self.check_steps()
    }

    /// `log₂` length of segment `s`, once checked to exist.
    fn seg_log_len(&self, at: impl FnOnce() -> String, s: usize) -> Result<u32, GraphError> {
        Ok(named(&self.segments, at, "segment", s)?.log_len)
    }

    fn node_log_len(&self, at: impl FnOnce() -> String, n: usize) -> Result<u32, GraphError> {
        Ok(named(&self.nodes, at, "node", n)?.log_len)
    }

    fn check_segments(&self) -> Result<(), GraphError> {
        for (s, seg) in self.segments.iter().enumerate() {
            let at = || format!("segment {s} ({})", seg.name);
            log_len_fits(at, seg.log_len)?;
            if !(1..=MAX_BITS).contains(&seg.bits) {
                return Err(shape(at(), format!("values of {} bits, outside 1..={MAX_BITS}", seg.bits)));
            }
            // The shape's padded layout must lie inside the segment (its values are placed there).
            let mut padded = 0u64;
            for &d in &seg.shape {
                if d > 1 << MAX_LOG_LEN {
                    return Err(shape(at(), format!("a dimension of {d}")));
                }
                padded += u64::from(d.next_power_of_two().trailing_zeros());
            }
            if padded > u64::from(seg.log_len) {
                return Err(shape(
                    at(),
                    format!("its shape {:?} needs 2^{padded} positions of 2^{}", seg.shape, seg.log_len),
                ));
            }
            let statement = match seg.role {
                Role::Input => Some(self.input),
                Role::Output => Some(self.output),
                Role::Advice | Role::Multiplicity => None,
            };
            if statement.is_some_and(|t| t != s) {
                return Err(shape(at(), format!("a {:?} segment that is not the graph's", seg.role)));
            }
        }
        for (what, s, role) in [("the input", self.input, Role::Input), ("the output", self.output, Role::Output)] {
            if named(&self.segments, || what.to_string(), "segment", s)?.role != role {
                return Err(shape(what, format!("segment {s} is not of role {role:?}")));
            }
        }
        if self.table_mults.len() != self.tables.len() {
            return Err(shape(
                "the tables",
                format!("{} tables but {} multiplicity segments", self.tables.len(), self.table_mults.len()),
            ));
        }
        for (tag, (table, &m)) in self.tables.iter().zip(&self.table_mults).enumerate() {
            let at = || format!("table {tag}");
            if !(1..=MAX_LOG_LEN).contains(&table.bits) {
                return Err(shape(at(), format!("a domain of {} bits, outside 1..={MAX_LOG_LEN}", table.bits)));
            }
            if self.seg_log_len(at, m)? != table.bits {
                return Err(shape(at(), "its multiplicities' length is not its number of rows"));
            }
        }
        Ok(())
    }

    fn check_nodes(&self) -> Result<(), GraphError> {
        // The longest chain of nodes ending at each node.
        let mut depth: Vec<usize> = Vec::with_capacity(self.nodes.len());
        for (n, node) in self.nodes.iter().enumerate() {
            let at = || format!("node {n} ({})", node.origin);
            log_len_fits(at, node.log_len)?;
            let mut longest = 0;
            for input in node.kind.inputs() {
                if input >= n {
                    return Err(GraphError::Order { at: at(), input });
                }
                longest = longest.max(depth.get(input).copied().unwrap_or_default());
            }
            if longest >= MAX_DEPTH {
                return Err(shape(at(), format!("it ends a chain of more than {MAX_DEPTH} linear nodes")));
            }
            depth.push(longest + 1);
            // Inputs come before the node, so they exist.
            let len_of = |i: usize| self.node_log_len(at, i);
            let same = |i: usize| -> Result<(), GraphError> {
                if len_of(i)? == node.log_len {
                    Ok(())
                } else {
                    Err(shape(at(), format!("node {i}'s length differs from the node's")))
                }
            };
            match &node.kind {
                Kind::Segment(s) => {
                    if self.seg_log_len(at, *s)? != node.log_len {
                        return Err(shape(at(), format!("segment {s}'s length differs from the node's")));
                    }
                }
                Kind::Const(c) => {
                    if c.len() > node.len() {
                        return Err(shape(at(), format!("{} constants in 2^{} positions", c.len(), node.log_len)));
                    }
                }
                Kind::Lin(terms) => {
                    for &(t, _) in terms {
                        same(t)?;
                    }
                }
                &Kind::MatMul { l, r, a, b, c } => {
                    let sum = |x: u32, y: u32| u64::from(x) + u64::from(y);
                    let fits = u64::from(len_of(l)?) == sum(a, b)
                        && u64::from(len_of(r)?) == sum(b, c)
                        && u64::from(node.log_len) == sum(a, c);
                    if !fits {
                        return Err(shape(
                            at(),
                            format!("a product of 2^{a}×2^{b} by 2^{b}×2^{c} that its factors or it do not have"),
                        ));
                    }
                }
                Kind::Sparse { src, entries } => {
                    let n_src = len_of(*src)?;
                    if let Some(&(o, i, _)) = entries
                        .iter()
                        .find(|&&(o, i, _)| u64::from(o) >> node.log_len != 0 || u64::from(i) >> n_src != 0)
                    {
                        return Err(shape(at(), format!("an entry ({o}, {i}) outside 2^{} × 2^{n_src}", node.log_len)));
                    }
                }
                &Kind::Hadamard(a, b) => {
                    same(a)?;
                    same(b)?;
                }
            }
        }
        Ok(())
    }

    fn check_requants(&self) -> Result<(), GraphError> {
        for (k, rq) in self.requants.iter().enumerate() {
            let at = || format!("requantization {k} ({})", rq.origin);
            let len = self.node_log_len(at, rq.z)?;
            // The claims on q and the limbs are at the point drawn for z.
            for s in std::iter::once(rq.q).chain(rq.limbs.iter().map(|l| l.0)) {
                if self.seg_log_len(at, s)? != len {
                    return Err(shape(at(), format!("segment {s}'s length differs from node {}'s", rq.z)));
                }
            }
            // Its weights 2^shift and 2^(offset of each limb) are i64s.
            let mut offset = 0u64;
            for &(_, w) in &rq.limbs {
                offset += u64::from(w);
            }
            if rq.shift >= 63 || offset >= 63 {
                return Err(shape(at(), format!("a shift of {} and limbs of {offset} bits in all", rq.shift)));
            }
        }
        Ok(())
    }

    fn check_lookups(&self) -> Result<(), GraphError> {
        for (k, l) in self.lookups.iter().enumerate() {
            let at = || format!("lookup {k} ({})", l.origin);
            named(&self.tables, at, "table", l.table)?;
            if self.seg_log_len(at, l.input)? != self.seg_log_len(at, l.output)? {
                return Err(shape(at(), "its input and output differ in length"));
            }
        }
        Ok(())
    }

    fn check_steps(&self) -> Result<(), GraphError> {
        for (k, step) in self.steps.iter().enumerate() {
            let at = || format!("step {k}");
            match *step {
                QStep::Eval(n) => _ = named(&self.nodes, at, "node", n)?,
                QStep::Requant(r) => _ = named(&self.requants, at, "requantization", r)?,
                QStep::Lookup(l) => _ = named(&self.lookups, at, "lookup", l)?,
            }
        }
        Ok(())
    }
}
