//! A wrapped proof's public inputs: their layout (the model id, the context, then the input and
//! the output, each packed, committed to or left out as the model's visibility says), the
//! commitment a `hashed` tensor publishes, and a tensor read back from them. The circuit, the
//! prover, the verifier and settings.json (which the code generator and the contracts read) all
//! take this one layout.

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use crate::field::F;
use crate::ir::{QuantGraph, SegId, Visibility};
use crate::role::VerifyError;

/// One part of the public inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// `model_id`, `context`, `input` or `output`.
    pub name: &'static str,
    /// Its first public input's index.
    pub index: usize,
    /// How many public inputs it takes.
    pub count: usize,
    /// What they hold.
    pub kind: Kind,
}

/// What a part of the public inputs holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// One field element (the model id, the context).
    Field,
    /// The segment's values, packed.
    Packed(SegId),
    /// A salted Poseidon commitment to the segment's packed values (`commit`).
    Commitment(SegId),
}

/// How the public inputs are laid out; the code generator and the contracts read it from
/// settings.json.
#[allow(clippy::indexing_slicing, reason = "the graph's own input and output segments (`QuantGraph::check`)")]
pub fn layout(g: &QuantGraph) -> Vec<Entry> {
    let mut out = vec![
        Entry { name: "model_id", index: 0, count: 1, kind: Kind::Field },
        Entry { name: "context", index: 1, count: 1, kind: Kind::Field },
    ];
    for (name, s, v) in [("input", g.input, g.input_visibility), ("output", g.output, g.output_visibility)] {
        let index = out.last().map_or(0, |e| e.index + e.count);
        let packed = crate::pack::packed_len(g.segments[s].sent_positions().len(), g.segments[s].bits);
        match v {
            Visibility::Public => out.push(Entry { name, index, count: packed, kind: Kind::Packed(s) }),
            Visibility::Hashed => out.push(Entry { name, index, count: 1, kind: Kind::Commitment(s) }),
            Visibility::Private => {}
        }
    }
    out
}

/// How many public inputs the layout has.
pub fn count(g: &QuantGraph) -> usize {
    layout(g).last().map_or(0, |e| e.index + e.count)
}

/// The domain label of `commit`'s Poseidon sponge.
pub const COMMIT_LABEL: &[u8] = b"zkml/commit/v1";

/// The commitment a `hashed` tensor publishes: Poseidon over the salt and the packed values.
pub fn commit(salt: F, packed: &[F]) -> F {
    let mut t = crate::transcript::Transcript::new(COMMIT_LABEL);
    t.absorb(&salt);
    t.absorb_slice(packed);
    t.challenge()
}

/// The quantized values of the public tensor `name` (`input` or `output`) in a statement's
/// public inputs, if they carry it packed (None for a hashed or private tensor).
pub fn unpacked(g: &QuantGraph, public_inputs: &[F], name: &str) -> Result<Option<Vec<i64>>, VerifyError> {
    let Some(e) = layout(g).into_iter().find(|e| e.name == name) else { return Ok(None) };
    let Kind::Packed(s) = e.kind else { return Ok(None) };
    let felts = public_inputs
        .get(e.index..e.index + e.count)
        .ok_or_else(|| VerifyError::Shape("too few public inputs".into()))?;
    let seg = g.segments.get(s).ok_or_else(|| VerifyError::Shape(format!("no segment {s}")))?;
    crate::pack::unpack(felts, seg.sent_positions().len(), seg.bits, seg.signed)
        .map(Some)
        .map_err(|e| VerifyError::AdviceRange(e.to_string()))
}
