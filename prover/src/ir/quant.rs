//! The quantized graph: the integer program stage 1 proves (`Node<i64>`, its requantizations and
//! lookups), its segments (the input, the output, the advice and the tables' multiplicities) and
//! what a wrapped proof reveals of them. `quantize` writes it; `QuantGraph::execute` runs it.

use serde::{Deserialize, Serialize};

use super::layout::padded_positions;
use super::program::{Node, NodeId, SegId};
use crate::lookup::Table;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Input,
    Output,
    Advice,
    Multiplicity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub name: String,
    pub role: Role,
    pub log_len: u32,
    /// Logical shape inside the padded layout.
    pub shape: Vec<usize>,
    /// The value every padded position holds whatever the input, when there is one: such
    /// positions are filled in by the verifier instead of being sent.
    pub pad: Option<i64>,
    /// Width of one packed slot; signed values are stored offset by `2^(bits−1)`.
    pub bits: u32,
    pub signed: bool,
    pub scale: i32,
}

impl Segment {
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
    pub z: NodeId,
    pub offset: i64,
    pub shift: u32,
    pub q: SegId,
    /// Remainder limbs, least significant first, with their widths.
    pub limbs: Vec<(SegId, u32)>,
    pub origin: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    pub table: usize,
    pub input: SegId,
    pub output: SegId,
    pub origin: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum QStep {
    Eval(NodeId),
    Requant(usize),
    Lookup(usize),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantGraph {
    pub nodes: Vec<Node<i64>>,
    pub steps: Vec<QStep>,
    pub requants: Vec<Requant>,
    pub lookups: Vec<Lookup>,
    pub tables: Vec<Table>,
    /// The multiplicity segment of each table.
    pub table_mults: Vec<SegId>,
    pub segments: Vec<Segment>,
    pub input: SegId,
    pub output: SegId,
    pub input_shape: Vec<usize>,
    pub output_shape: Vec<usize>,
    pub lookup_bits: u32,
    pub ops: Vec<String>,
    /// What a wrapped proof reveals of the input and the output.
    pub input_visibility: Visibility,
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
    pub nodes: Vec<Vec<i64>>,
    pub segments: Vec<Vec<i64>>,
}
