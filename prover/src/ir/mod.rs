//! The representation the stages share: the linear-algebra program lowering writes and
//! calibration runs (`program`), the quantized graph stage 1 proves (`quant`), and the padded
//! layout of every tensor in them (`layout`). Lowering, quantization, the prover, the verifier
//! and the wrap circuit all read it; it reads none of them.

mod check;
mod layout;
mod program;
mod quant;

pub use check::*;
pub use layout::*;
pub use program::*;
pub use quant::*;
