//! oracle-demo: zkml's main job end to end on a local chain. A price model (model/, trained by
//! model/train.py) is compiled and proved with `zkml`, each proof is wrapped into Groth16 and
//! posted to `ZkmlOracle.update`; a consumer contract (contracts/CollateralMonitor.sol) reads
//! `latestRoundData` and re-evaluates a loan on it.

pub mod anvil;
pub mod demo;
pub mod solc;

pub use demo::{Options, RoundReport, Summary, run};
