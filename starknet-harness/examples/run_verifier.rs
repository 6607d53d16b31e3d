//! Compiles a generated Cairo verifier package and runs its entry point on a calldata file:
//! `cargo build --workspace --examples`, then `target/debug/examples/run_verifier PKG CALLDATA.json`
//! (CALLDATA.json as `zkml-gen starknet-calldata` prints it). Prints the compiler's warnings,
//! the result, the Cairo steps, the Sierra gas and the builtins used.
use starknet_types_core::felt::Felt as Felt252;
use zkml_starknet_harness::{Runner, compile, felt_span, option_span_u256};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 3, "usage: run_verifier PKG CALLDATA.json");
    let t = std::time::Instant::now();
    let c = compile(std::path::Path::new(&args[1]))?;
    eprintln!("compiled in {:.1} s; warnings: {:?}", t.elapsed().as_secs_f64(), c.warnings);
    let hex: Vec<String> = serde_json::from_slice(&std::fs::read(&args[2])?)?;
    let felts: Vec<Felt252> = hex
        .iter()
        .map(|h| Felt252::from_hex(h).map_err(|_| anyhow::anyhow!("not a felt252: {h}")))
        .collect::<anyhow::Result<_>>()?;
    let t = std::time::Instant::now();
    let r = Runner::new(&c.program)?.run("verifier::verify_groth16_proof_bn254", vec![felt_span(&felts)])?;
    eprintln!("ran in {:.1} s", t.elapsed().as_secs_f64());
    match option_span_u256(&r) {
        Ok(v) => println!("result: {v:?}"),
        Err(e) => println!("result: {e} {:?}", r.outcome),
    }
    println!("steps {} gas {} builtins {:?}", r.steps, r.gas, r.builtins);
    Ok(())
}
