//! zkml: prove a quantized ONNX model's inference with a sumcheck-based proof (stage 1).
//! See DESIGN.md at the repository root for the architecture.

#![warn(missing_docs)]

pub mod artifact;
pub mod channel;
pub mod conformance;
pub mod context;
pub mod field;
pub mod ir;
pub mod lookup;
pub mod lower;
pub mod onnx;
pub mod pack;
pub mod pipeline;
pub mod quantize;
pub mod role;
pub mod setup;
pub mod stage1;
pub mod sumcheck;
pub mod transcript;
pub mod wrap;
