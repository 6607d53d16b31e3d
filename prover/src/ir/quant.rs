//! The quantized graph: the integer program stage 1 proves (`Node<i64>`, its requantizations and
//! lookups), its segments (the input, the output, the advice and the tables' multiplicities) and
//! what a wrapped proof reveals of them. `quantize` writes it; `QuantGraph::execute` runs it.

#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

use super::layout::padded_positions;
use super::program::{Node, NodeId, SegId};
use crate::lookup::Table;

/// What a segment's values are to the proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// The model's input: part of the statement.
    Input,
    /// The model's output: part of the statement.
    Output,
    /// Values the prover supplies (quotients, remainder limbs, lookup outputs): sent, packed,
    /// in a stage-1 proof; committed to (round 1) in the wrap.
    Advice,
    /// A table's multiplicities, for LogUp: advice too.
    Multiplicity,
}

/// A vector of integers the prover sends or the statement holds, in the padded layout of its
/// tensor; the protocol's claims end on segments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Where it comes from, for messages (`input`, `relu_3.q`, …).
    pub name: String,
    /// What it is to the proof.
    pub role: Role,
    /// `log₂` of its padded length.
    pub log_len: u32,
    /// Logical shape inside the padded layout.
    pub shape: Vec<usize>,
    /// The value every padded position holds whatever the input, when there is one: such
    /// positions are filled in by the verifier instead of being sent.
    pub pad: Option<i64>,
    /// Width of one packed slot; signed values are stored offset by `2^(bits−1)`.
    pub bits: u32,
    /// Whether values are signed.
    pub signed: bool,
    /// Values are `round(x · 2^scale)`.
    pub scale: i32,
}

impl Segment {
    /// Its padded length, `2^log_len`.
    pub fn len(&self) -> usize {
        1 << self.log_len
    }

    /// Positions whose values are sent (all of them when padding is not fixed).
    pub fn sent_positions(&self) -> Vec<usize> {
        if self.pad.is_some() { padded_positions(&self.shape) } else { (0..self.len()).collect() }
    }
}

/// `z + offset = 2^shift·q + Σ 2^(offset of limb)·limb`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Requant {
    /// The node rescaled: a product at a finer scale.
    pub z: NodeId,
    /// Added before the division, to round to nearest.
    pub offset: i64,
    /// The division is by `2^shift`.
    pub shift: u32,
    /// The quotient, the rescaled value (advice).
    pub q: SegId,
    /// Remainder limbs, least significant first, with their widths.
    pub limbs: Vec<(SegId, u32)>,
    /// The ONNX node it comes from, for messages.
    pub origin: String,
}

/// `output[i] = f(input[i])` for every position, with `f` the table's function: a LogUp lookup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    /// The table (an index into `QuantGraph::tables`).
    pub table: usize,
    /// The looked-up values.
    pub input: SegId,
    /// Their images (advice).
    pub output: SegId,
    /// The ONNX node it comes from, for messages.
    pub origin: String,
}

/// One step of the integer execution, in order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum QStep {
    /// Evaluate a linear node.
    Eval(NodeId),
    /// Rescale a node into its quotient and remainder segments (`QuantGraph::requants`).
    Requant(usize),
    /// Look a segment up in a table (`QuantGraph::lookups`).
    Lookup(usize),
}

/// The quantized model: the integer program stage 1 proves and the segments it is proved over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantGraph {
    /// The linear nodes (sums, products, data movement, constants, segments).
    pub nodes: Vec<Node<i64>>,
    /// The execution order.
    pub steps: Vec<QStep>,
    /// The rescalings, each proved by a claim at a random point.
    pub requants: Vec<Requant>,
    /// The non-linear functions, as lookups.
    pub lookups: Vec<Lookup>,
    /// The lookup tables.
    pub tables: Vec<Table>,
    /// The multiplicity segment of each table.
    pub table_mults: Vec<SegId>,
    /// Every segment; `input` and `output` index into it.
    pub segments: Vec<Segment>,
    /// The input segment.
    pub input: SegId,
    /// The output segment.
    pub output: SegId,
    /// The input tensor's logical shape.
    pub input_shape: Vec<usize>,
    /// The output tensor's logical shape.
    pub output_shape: Vec<usize>,
    /// The width of the function tables' domains.
    pub lookup_bits: u32,
    /// The ONNX operators the model uses.
    pub ops: Vec<String>,
    /// What a wrapped proof reveals of the input.
    pub input_visibility: Visibility,
    /// What a wrapped proof reveals of the output.
    pub output_visibility: Visibility,
}

/// What a wrapped proof makes public of a tensor (as EZKL's users know it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// The values, packed into few field elements.
    #[default]
    Public,
    /// A salted Poseidon commitment to the values.
    Hashed,
    /// Nothing (refused for the output, of which the proof would then say nothing: use `hashed`).
    Private,
}

/// Every node's and every segment's integer values for one input.
pub struct Trace {
    /// Each node's values, padded.
    pub nodes: Vec<Vec<i64>>,
    /// Each segment's values, padded.
    pub segments: Vec<Vec<i64>>,
}
