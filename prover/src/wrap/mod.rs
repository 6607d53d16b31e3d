//! Stage 2: the R1CS circuit that runs the stage-1 verifier, wrapped by Groth16 (issue 3).
//! Built piece by piece, each piece tested against its native twin.

pub mod circuit;
pub mod transcript;
