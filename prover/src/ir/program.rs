//! The linear-algebra program every model is lowered to: a DAG of linear nodes over flat,
//! power-of-two padded vectors whose leaves are segments (the model input and the advice).
//! The float program (`C = f64`) is what calibration runs; the quantized graph (`C = i64`) is
//! what the prover executes and proves. One engine runs both.

#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

use crate::lookup::UnaryFn;

/// A node's index in its program's `nodes`.
pub type NodeId = usize;
/// A segment's index in its program's segments.
pub type SegId = usize;

/// What a node computes, over scalars `C` (`f64` in the float program, `i64` quantized).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum Kind<C> {
    /// A leaf: the values of a segment (input or advice).
    Segment(SegId),
    /// A constant of the model (weights, biases, broadcast constants), padded with zeros.
    Const(Vec<C>),
    /// `Σ c·x` over nodes of the same length.
    Lin(Vec<(NodeId, C)>),
    /// `Z[i,j] = Σ_k L[i,k]·R[k,j]`, `L` of `2^a × 2^b`, `R` of `2^b × 2^c` (log sizes).
    MatMul {
        /// The left factor.
        l: NodeId,
        /// The right factor.
        r: NodeId,
        /// `log₂` of `L`'s rows.
        a: u32,
        /// `log₂` of the inner dimension.
        b: u32,
        /// `log₂` of `R`'s columns.
        c: u32,
    },
    /// `Y[o] = Σ c·X[i]` over the listed `(o, i, c)`: im2col, pooling windows, transposes,
    /// broadcasts and every other data movement.
    Sparse {
        /// The node moved from.
        src: NodeId,
        /// `(o, i, c)`: output position, source position, coefficient.
        entries: Vec<(u32, u32, C)>,
    },
    /// Elementwise product.
    Hadamard(NodeId, NodeId),
}

impl<C> Kind<C> {
    /// The nodes it reads (none for a leaf).
    pub fn inputs(&self) -> Vec<NodeId> {
        match self {
            Kind::Segment(_) | Kind::Const(_) => vec![],
            Kind::Lin(terms) => terms.iter().map(|(id, _)| *id).collect(),
            Kind::MatMul { l, r, .. } => vec![*l, *r],
            Kind::Sparse { src, .. } => vec![*src],
            Kind::Hadamard(a, b) => vec![*a, *b],
        }
    }

    /// The nodes it reads, to renumber.
    pub fn inputs_mut(&mut self) -> Vec<&mut NodeId> {
        match self {
            Kind::Segment(_) | Kind::Const(_) => vec![],
            Kind::Lin(terms) => terms.iter_mut().map(|(id, _)| id).collect(),
            Kind::MatMul { l, r, .. } => vec![l, r],
            Kind::Sparse { src, .. } => vec![src],
            Kind::Hadamard(a, b) => vec![a, b],
        }
    }
}

/// A node of the program: a flat vector of `2^log_len` values computed by `kind`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Node<C> {
    /// What it computes.
    pub kind: Kind<C>,
    /// `log₂` of its (padded) length.
    pub log_len: u32,
    /// The ONNX node this came from, for error messages.
    pub origin: String,
}

impl<C> Node<C> {
    /// Its padded length, `2^log_len`.
    pub fn len(&self) -> usize {
        1 << self.log_len
    }
}

/// Scalar arithmetic of an execution: floats never fail; integers report overflow.
pub trait Scalar: Copy + Default + PartialEq + std::fmt::Debug {
    /// `self + o`, or none on overflow.
    fn add(self, o: Self) -> Option<Self>;
    /// `self · o`, or none on overflow.
    fn mul(self, o: Self) -> Option<Self>;
}

impl Scalar for f64 {
    fn add(self, o: Self) -> Option<Self> {
        Some(self + o)
    }
    fn mul(self, o: Self) -> Option<Self> {
        Some(self * o)
    }
}

impl Scalar for i64 {
    fn add(self, o: Self) -> Option<Self> {
        self.checked_add(o)
    }
    fn mul(self, o: Self) -> Option<Self> {
        self.checked_mul(o)
    }
}

/// An integer execution whose values left `i64`.
#[derive(Debug, thiserror::Error)]
#[error("integer overflow while executing node {origin:?}: the quantized values grew beyond 64 bits")]
pub struct Overflow {
    /// The ONNX node of the node that overflowed.
    pub origin: String,
}

/// Evaluates one node from the values of earlier nodes and of the segments.
pub fn eval_node<C: Scalar>(node: &Node<C>, nodes: &[Vec<C>], segments: &[Vec<C>]) -> Result<Vec<C>, Overflow> {
    let of = || Overflow { origin: node.origin.clone() };
    let n = node.len();
    let out = match &node.kind {
        Kind::Segment(s) => segments[*s].clone(),
        Kind::Const(v) => v.clone(),
        Kind::Lin(terms) => {
            let mut out = vec![C::default(); n];
            for (id, c) in terms {
                for (o, x) in out.iter_mut().zip(&nodes[*id]) {
                    *o = o.add(x.mul(*c).ok_or_else(of)?).ok_or_else(of)?;
                }
            }
            out
        }
        Kind::MatMul { l, r, a, b, c } => {
            let (lv, rv) = (&nodes[*l], &nodes[*r]);
            let (bn, cn) = (1usize << b, 1usize << c);
            let mut out = vec![C::default(); n];
            for i in 0..1usize << a {
                for k in 0..bn {
                    let x = lv[i * bn + k];
                    if x == C::default() {
                        continue;
                    }
                    let row = &rv[k * cn..(k + 1) * cn];
                    let dst = &mut out[i * cn..(i + 1) * cn];
                    for (d, y) in dst.iter_mut().zip(row) {
                        *d = d.add(x.mul(*y).ok_or_else(of)?).ok_or_else(of)?;
                    }
                }
            }
            out
        }
        Kind::Sparse { src, entries } => {
            let x = &nodes[*src];
            let mut out = vec![C::default(); n];
            for &(o, i, c) in entries {
                let o = &mut out[o as usize];
                *o = o.add(x[i as usize].mul(c).ok_or_else(of)?).ok_or_else(of)?;
            }
            out
        }
        Kind::Hadamard(a, b) => {
            nodes[*a].iter().zip(&nodes[*b]).map(|(x, y)| x.mul(*y).ok_or_else(of)).collect::<Result<_, _>>()?
        }
    };
    debug_assert_eq!(out.len(), n);
    Ok(out)
}

/// What a materialization applies to the value it makes advice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Func {
    /// The value itself (rescaled only).
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `clamp(x, lo, hi)`.
    Clip {
        /// The lower bound.
        lo: f64,
        /// The upper bound.
        hi: f64,
    },
    /// A function table: the input is rounded to its own scale, the output gets another.
    Table(UnaryFn),
}

impl Func {
    /// Its value at `x`, in floats.
    pub fn apply(&self, x: f64) -> f64 {
        match self {
            Func::Identity => x,
            Func::Relu => x.max(0.0),
            Func::Clip { lo, hi } => x.clamp(*lo, *hi),
            Func::Table(g) => g.apply(x),
        }
    }
}

/// `seg := func(z)`: the value of node `z` becomes advice. `keep_scale` asks for no rounding
/// (a max of two values must stay exact).
#[derive(Clone, Debug)]
pub struct Materialize {
    /// The node whose value it takes.
    pub z: NodeId,
    /// What it applies.
    pub func: Func,
    /// The segment it writes.
    pub seg: SegId,
    /// Keep the value's scale (no rescaling, no rounding).
    pub keep_scale: bool,
}

/// The float program's order of work: evaluate a node, or run a materialization.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Evaluate a node.
    Eval(NodeId),
    /// Run `materials[k]`.
    Materialize(usize),
}

/// The program lowering writes (`C = f64`): what calibration runs and quantization turns into
/// the quantized graph.
pub struct FloatProgram {
    /// The linear nodes.
    pub nodes: Vec<Node<f64>>,
    /// The order of work.
    pub steps: Vec<Step>,
    /// The materializations, each writing one segment.
    pub materials: Vec<Materialize>,
    /// Logical shapes of the segments. Segment 0 is the model input; segment `k > 0` is written
    /// by `materials[k - 1]`.
    pub seg_shape: Vec<Vec<usize>>,
    /// The ONNX node each segment comes from, for messages.
    pub seg_origin: Vec<String>,
    /// The model input's logical shape.
    pub input_shape: Vec<usize>,
    /// The segment that holds the model's output.
    pub output: SegId,
    /// The output's logical shape.
    pub output_shape: Vec<usize>,
    /// The ONNX operators the model uses.
    pub ops: Vec<String>,
}
