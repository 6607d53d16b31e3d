//! oracle-demo: zkml's main job end to end on a local chain. A price model (model/, trained by
//! model/train.py) is compiled and proved with `zkml`; each round a data signer signs the hour's
//! features, the proof on them is wrapped into Groth16 and posted with the signature to
//! `ZkmlSignedOracle.update` by the allowlisted keeper; a consumer contract
//! (contracts/CollateralMonitor.sol) reads `latestRoundData` and re-evaluates a loan on it. An
//! attacker's valid proof on doctored features is refused on-chain (no updater, no signer's
//! signature). Then an agent buys one proved inference over HTTP from the provider's `zkml serve`
//! (x402's `zkml-escrow`: EIP-3009 into `ZkmlEscrow`), the server's proof releases the escrow to
//! the provider and the ERC-8004 Validation Registry records the validation (payment/).

#![warn(missing_docs)]

pub mod anvil;
pub mod bindings;
pub mod ceremony;
pub mod chain;
pub mod data;
pub mod demo;
pub mod payment;
mod proving;

pub use demo::{AttackReport, Options, RoundReport, Summary, run};
pub use payment::{Balances, PaymentReport};
