//! Transactions on the demo's chain: sending, waiting for receipts, and reverts named by the
//! demo contracts' custom errors.

use std::path::Path;
use std::time::Duration;

use alloy::contract::SolCallBuilder;
use alloy::network::{Ethereum, TransactionBuilder};
use alloy::primitives::{Address, U256};
use alloy::providers::{PendingTransactionBuilder, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol_types::{SolCall, SolInterface, SolValue};
use anyhow::{Context, Result, anyhow, bail};

use crate::bindings::{ICollateralMonitor, ITestUSDC, IZkmlEscrow, IZkmlSignedOracle, IZkmlValidator};

/// The test USDC's EIP-712 domain name and version, USDC's own.
pub(crate) const USDC_NAME: &str = "USD Coin";
pub(crate) const USDC_VERSION: &str = "2";

/// How long to wait for a transaction's receipt.
pub(crate) const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Waits for the receipt of a sent transaction; an error (with the decoded revert) if sending
/// failed (a revert at gas estimation) or the transaction reverted.
pub(crate) async fn confirm(
    what: &str,
    sent: std::result::Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error>,
) -> Result<TransactionReceipt> {
    let r = sent
        .map_err(|e| revert(what, e))?
        .with_timeout(Some(RECEIPT_TIMEOUT))
        .get_receipt()
        .await
        .with_context(|| format!("{what}: no receipt"))?;
    if !r.status() {
        bail!("{what}: transaction {} reverted", r.transaction_hash);
    }
    Ok(r)
}

/// Sends a contract creation; returns its address and gas used.
pub(crate) async fn deploy<P: Provider>(p: &P, mut code: Vec<u8>, args: Vec<u8>) -> Result<(Address, u64)> {
    code.extend(args);
    let tx = TransactionRequest::default().with_deploy_code(code);
    let r = p.send_transaction(tx).await?.with_timeout(Some(RECEIPT_TIMEOUT)).get_receipt().await?;
    if !r.status() {
        bail!("the creation transaction {} reverted", r.transaction_hash);
    }
    Ok((r.contract_address.context("receipt without a contract address")?, r.gas_used))
}

/// contracts/testing/TestUSDC.sol (an EIP-3009 token, named "USD Coin", version "2" as USDC's
/// EIP-712 domain is) compiled with `root`'s script/solc and deployed through `p`: its address.
/// For tests and benchmarks that pay on anvil.
pub async fn deploy_test_usdc<P: Provider>(p: &P, root: &Path) -> Result<Address> {
    let path = "contracts/testing/TestUSDC.sol";
    let source = std::fs::read_to_string(root.join(path)).with_context(|| format!("reading {path}"))?;
    let codes = zkml_verifier_gen::solc::compile(&root.join("script/solc"), root, &[(path.into(), source)])?;
    let args = (USDC_NAME.to_string(), USDC_VERSION.to_string()).abi_encode_params();
    Ok(deploy(p, codes.code("TestUSDC")?, args).await.context("deploying TestUSDC")?.0)
}

/// ZkmlEscrow and what it names, as deployed by [`deploy_escrow`]: the ERC-8004 identity and
/// validation registries, the ZkmlValidator, the escrow; and the gas each creation took, in that
/// order.
pub struct EscrowContracts {
    /// contracts/testing/TestIdentityRegistry.sol.
    pub identity: Address,
    /// contracts/testing/TestValidationRegistry.sol.
    pub registry: Address,
    /// ZkmlValidator.
    pub validator: Address,
    /// ZkmlEscrow.
    pub escrow: Address,
    /// Gas of each creation.
    pub gas: [u64; 4],
}

/// The sources of [`deploy_escrow`]'s contracts, compiled with `root`'s script/solc (the demo
/// compiles them with its other contracts).
pub fn compile_escrow(root: &Path) -> Result<zkml_verifier_gen::solc::Artifacts> {
    let sources = [
        "contracts/ZkmlEscrow.sol",
        "contracts/ZkmlValidator.sol",
        "contracts/testing/TestIdentityRegistry.sol",
        "contracts/testing/TestValidationRegistry.sol",
    ]
    .into_iter()
    .map(|p| Ok((p.into(), std::fs::read_to_string(root.join(p)).with_context(|| format!("reading {p}"))?)))
    .collect::<Result<Vec<_>>>()?;
    Ok(zkml_verifier_gen::solc::compile(&root.join("script/solc"), root, &sources)?)
}

/// ZkmlEscrow for the model `model_id` whose input packs into `k` words, paid in `usdc` and
/// released by proofs that `verifier` accepts, with the ERC-8004 registries (contracts/testing)
/// and the ZkmlValidator it names: deployed from `codes` through `p`.
pub async fn deploy_escrow<P: Provider>(
    p: &P,
    codes: &zkml_verifier_gen::solc::Artifacts,
    usdc: Address,
    verifier: Address,
    model_id: U256,
    k: usize,
) -> Result<EscrowContracts> {
    let k = U256::from(k);
    let (identity, g_id) =
        deploy(p, codes.code("TestIdentityRegistry")?, vec![]).await.context("deploying TestIdentityRegistry")?;
    let (registry, g_reg) = deploy(p, codes.code("TestValidationRegistry")?, (identity,).abi_encode_params())
        .await
        .context("deploying TestValidationRegistry")?;
    let (validator, g_val) =
        deploy(p, codes.code("ZkmlValidator")?, (registry, verifier, model_id, k).abi_encode_params())
            .await
            .context("deploying ZkmlValidator")?;
    let escrow_args = (usdc, verifier, model_id, k, registry, validator).abi_encode_params();
    let (escrow, g_esc) = deploy(p, codes.code("ZkmlEscrow")?, escrow_args).await.context("deploying ZkmlEscrow")?;
    Ok(EscrowContracts { identity, registry, validator, escrow, gas: [g_id, g_reg, g_val, g_esc] })
}

/// The name of a demo contract's custom error in a call error (`ZkmlEscrow.InvalidProof(..)`), if
/// the call reverted with one.
pub fn decoded_revert(e: &alloy::contract::Error) -> Option<String> {
    macro_rules! try_decode {
        ($($contract:literal => $errors:ty),* $(,)?) => {
            $(if let Some(err) = e.as_decoded_interface_error::<$errors>() {
                return Some(format!("{}.{err:?}", $contract));
            })*
        };
    }
    try_decode!(
        "ZkmlSignedOracle" => IZkmlSignedOracle::IZkmlSignedOracleErrors,
        "CollateralMonitor" => ICollateralMonitor::ICollateralMonitorErrors,
        "ZkmlEscrow" => IZkmlEscrow::IZkmlEscrowErrors,
        "ZkmlValidator" => IZkmlValidator::IZkmlValidatorErrors,
        "TestUSDC" => ITestUSDC::ITestUSDCErrors,
    );
    // The registries revert with strings ("Not authorized", "unknown", ...).
    e.as_revert_data().and_then(|d| alloy::sol_types::decode_revert_reason(&d)).map(|r| format!("\"{r}\""))
}

/// A contract call error, with the revert decoded where it is one of the demo contracts' errors.
pub(crate) fn revert(what: &str, e: alloy::contract::Error) -> anyhow::Error {
    match decoded_revert(&e) {
        Some(r) => anyhow!("{what} reverted: {r}"),
        None => anyhow!("{what} failed: {e}"),
    }
}

/// A contract call error as the demo prints it: the decoded revert, else alloy's message.
pub(crate) fn describe(e: &alloy::contract::Error) -> String {
    decoded_revert(e).unwrap_or_else(|| e.to_string())
}

/// `name` (`ZkmlEscrow.InvalidProof`), when `call`, which must fail, reverted with the custom
/// error of interface `E` that `expected` picks; an error if it went through or reverted
/// otherwise.
pub(crate) fn refused<T, E: SolInterface>(
    what: &str,
    call: std::result::Result<T, alloy::contract::Error>,
    name: &str,
    expected: impl FnOnce(&E) -> bool,
) -> Result<String> {
    let e = match call {
        Ok(_) => bail!("{what} would be accepted"),
        Err(e) => e,
    };
    match e.as_decoded_interface_error::<E>() {
        Some(err) if expected(&err) => Ok(name.to_string()),
        _ => bail!("{what} was refused, but not as {name}: {}", describe(&e)),
    }
}

/// Sends a call that must revert as a real transaction: with a fixed gas limit, so that it is
/// mined instead of failing at gas estimation. Its receipt, whose status must be 0.
pub(crate) async fn send_reverting<P: Provider, C: SolCall>(
    what: &str,
    call: SolCallBuilder<P, C>,
    gas: u64,
) -> Result<TransactionReceipt> {
    let r = call
        .gas(gas)
        .send()
        .await
        .map_err(|e| anyhow!("sending {what}: {e}"))?
        .with_timeout(Some(RECEIPT_TIMEOUT))
        .get_receipt()
        .await
        .with_context(|| format!("{what}: no receipt"))?;
    if r.status() {
        bail!("{what} {} succeeded on-chain", r.transaction_hash);
    }
    Ok(r)
}
