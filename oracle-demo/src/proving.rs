//! The demo's proofs: a run of the model, proved and wrapped into the two-round Groth16 proof
//! the contracts verify, bound to a context (the oracle, the escrow or the validator and the
//! request it answers).

use std::time::Instant;

use alloy::primitives::U256;
use anyhow::{Result, anyhow};
use ark_ff::PrimeField;
use zkml::artifact::Compiled;
use zkml::field::F;
use zkml::ir::Trace;
use zkml::wrap::two_round::{self, ProverKey};

/// A run of the model: its trace, which a proof commits to, and the quantized input and output
/// a proof of it carries.
pub(crate) struct Run {
    trace: Trace,
    pub(crate) input: Vec<i64>,
    pub(crate) output: Vec<i64>,
}

/// Runs the model on `features` and proves the run (the two-round wrap: the run committed, then
/// stage 1 seeded inside the Groth16 proof) bound to `context`; and the time both took.
pub(crate) fn prove_wrapped(
    compiled: &Compiled,
    pk: &ProverKey,
    features: &[f64],
    context: U256,
) -> Result<(Run, two_round::Proof, u64)> {
    let t = Instant::now();
    let g = &compiled.graph;
    let input = g.quantize_input(features).map_err(|e| anyhow!("quantizing the features: {e:?}"))?;
    let trace = g.execute(features).map_err(|e| anyhow!("running the model: {e:?}"))?;
    let output = g.output_of(&trace.segments[g.output]);
    let run = Run { trace, input, output };
    let (w, _) = wrap(compiled, pk, &run, context)?;
    Ok((run, w, t.elapsed().as_millis() as u64))
}

/// A proof of `run` bound to `context` (one run can be proved for several contexts); and the
/// time it took.
pub(crate) fn wrap(compiled: &Compiled, pk: &ProverKey, run: &Run, context: U256) -> Result<(two_round::Proof, u64)> {
    let t = Instant::now();
    let context = F::from_be_bytes_mod_order(&context.to_be_bytes::<32>());
    let w = two_round::prove(
        pk,
        &compiled.graph,
        compiled.id,
        context,
        [F::from(0u64); 2],
        &run.trace,
        &mut rand::rngs::OsRng,
    )
    .map_err(|e| anyhow!("Groth16 wrap: {e}"))?;
    Ok((w, t.elapsed().as_millis() as u64))
}
