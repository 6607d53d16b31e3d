//! The demo itself: model → keys → verifier → contracts → rounds.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::network::{Ethereum, EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, Bytes, I256, U256};
use alloy::providers::{PendingTransactionBuilder, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use anyhow::{Context, Result, anyhow, bail};
use ark_bn254::Bn254;
use ark_ff::PrimeField;
use ark_groth16::ProvingKey;
use serde::{Deserialize, Serialize};
use zkml::artifact::Compiled;
use zkml::field::F;
use zkml::quantize::QuantConfig;
use zkml::stage1::Stage1Proof;
use zkml::wrap::WrapProof;
use zkml_verifier_gen::{calldata, hooks, solidity};

use crate::anvil::{ANVIL_DEV_KEY, Anvil, repo_root};
use crate::bindings::{ICollateralMonitor, ITestUSDC, IZkmlEscrow, IZkmlOracle, IZkmlValidator};
use crate::payment::{self, PaymentReport};

/// What the demo does; see the binary's `--help`.
#[derive(Clone, Debug)]
pub struct Options {
    pub rounds: usize,
    pub keep_chain: bool,
    /// Start anvil on this loopback port (default: a free one); an error if it is taken.
    pub port: Option<u16>,
    pub rpc_url: Option<String>,
    pub private_key: Option<String>,
    pub lookup_bits: u32,
    pub work_dir: Option<PathBuf>,
    pub summary: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options { rounds: 3, keep_chain: false, port: None, rpc_url: None, private_key: None, lookup_bits: 12, work_dir: None, summary: None }
    }
}

/// One oracle round as proved and posted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoundReport {
    pub round: u64,
    /// Hour of the synthetic series the features describe.
    pub hour: u64,
    pub data_timestamp: u64,
    /// The model's quantized output (the proof's public output value).
    pub output_q: i64,
    /// `output_q * 10^decimals / 2^output_frac_bits`, as posted to `update` (decimal string).
    pub answer: String,
    pub price_now: f64,
    pub actual_next: f64,
    pub prove_ms: u64,
    pub update_gas: u64,
    pub check_gas: u64,
    pub healthy: bool,
    pub update_tx: String,
}

/// Deployed addresses and rounds (`--summary`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub rpc_url: String,
    pub verifier: String,
    pub oracle: String,
    pub monitor: String,
    pub model_id: String,
    pub decimals: u8,
    pub output_frac_bits: u32,
    pub setup_ms: u64,
    pub deploy_gas: [u64; 3],
    pub rounds: Vec<RoundReport>,
    /// The revert of `update` with the last round's proof and its answer plus one unit.
    pub forged_answer_refused: Option<String>,
    /// The agent-payment flow (x402 escrow + ERC-8004 validation) on the same chain.
    pub payment: Option<PaymentReport>,
}

#[derive(Deserialize)]
struct RoundsFile {
    meta: serde_json::Value,
    rounds: Vec<RoundRow>,
}

#[derive(Clone, Debug, Deserialize)]
/// One row of model/rounds.json: the features of an hour and the prices around it.
pub struct RoundRow {
    pub hour: u64,
    pub features: Vec<f64>,
    pub price: f64,
    pub next_price: f64,
}

#[derive(Deserialize)]
struct InputFile {
    input_data: Vec<Vec<f64>>,
}

const MAX_AGE: u64 = 3600;
/// How long to wait for a transaction's receipt.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
const COLLATERAL_TOKENS: u64 = 1000;
/// The loan starts at 122% collateralization and is unhealthy below 120%.
const START_RATIO_BPS: u64 = 12_200;
const LIQUIDATION_RATIO_BPS: u64 = 12_000;

/// Runs the demo; the chain it starts is stopped when this returns (unless `keep_chain`).
pub fn run(opts: Options) -> Result<Summary> {
    if opts.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let (anvil, url, key) = match &opts.rpc_url {
        Some(url) => {
            let key = opts.private_key.clone().context("--rpc-url needs a key: set ZKML_PRIVATE_KEY (or pass --private-key)")?;
            (None, url.clone(), key)
        }
        None => {
            let a = Anvil::start(opts.port)?;
            println!("anvil (pinned, node_modules/.bin/anvil) at {} (pid {})", a.url, a.pid().unwrap_or(0));
            let url = a.url.clone();
            (Some(a), url, opts.private_key.clone().unwrap_or_else(|| ANVIL_DEV_KEY.to_string()))
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = rt.block_on(run_on(&opts, &url, &key));
    if let (Some(a), true) = (anvil, opts.keep_chain) {
        if result.is_ok() {
            let pid = a.keep();
            println!("--keep-chain: anvil keeps running at {url} (pid {pid}); stop it with `kill {pid}`");
        }
    }
    result
}

async fn run_on(opts: &Options, url: &str, key: &str) -> Result<Summary> {
    let root = repo_root();
    let model_dir = root.join("oracle-demo/model");
    let tmp;
    let work = match &opts.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };

    // 1. The model: compile (quantize) with the calibration rows.
    let t = Instant::now();
    let cal: InputFile = serde_json::from_slice(&std::fs::read(model_dir.join("calibration.json"))?)?;
    let cfg = QuantConfig { lookup_bits: opts.lookup_bits, ..QuantConfig::default() };
    let compiled = zkml::pipeline::compile(&model_dir.join("price_mlp.onnx"), &cal.input_data, cfg, &work.join("price_mlp"))
        .context("compiling oracle-demo/model/price_mlp.onnx")?;
    let rows: RoundsFile = serde_json::from_slice(&std::fs::read(model_dir.join("rounds.json"))?)?;
    let s = &compiled.settings;
    let packing = |name: &str| {
        s.public_inputs.iter().find(|p| p.name == name).and_then(|p| p.packing.clone()).ok_or_else(|| anyhow!("the model's {name} is not public"))
    };
    let (pin, pout) = (packing("input")?, packing("output")?);
    if pout.values != 1 {
        bail!("the oracle needs one output value; the model has {}", pout.values);
    }
    let frac = s.output.scale;
    if !(0..=38).contains(&frac) {
        bail!("output scale 2^{frac} cannot be reported exactly in decimals");
    }
    let frac = frac as u32;
    let decimals = frac.max(8) as u8;
    println!(
        "model: {} — {} features, {} ({:.1} s); quantized max error {:.4} USD on {} calibration rows",
        rows.meta["description"].as_str().unwrap_or("price model"),
        pin.values,
        s.ops.join("/"),
        t.elapsed().as_secs_f64(),
        s.calibration.max_abs_error,
        s.calibration.samples
    );

    // 2. Development Groth16 keys and the rendered verifier.
    let t = Instant::now();
    let (pk, vk) = zkml::wrap::dev_setup(&compiled.graph, compiled.id, 1).map_err(|e| anyhow!("{e}"))?;
    let setup_ms = t.elapsed().as_millis() as u64;
    println!("Groth16 dev setup (seed 1, UNSAFE for production): {:.1} s", setup_ms as f64 / 1e3);
    let verifier_src = solidity::render(&vk, "ZkmlPriceVerifier");
    std::fs::write(work.join("ZkmlPriceVerifier.sol"), &verifier_src)?;

    // 3. Solidity, with the pinned solc-js.
    let t = Instant::now();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).with_context(|| format!("reading {p}"));
    let codes = crate::solc::compile(
        &root,
        &[
            ("generated/ZkmlPriceVerifier.sol".into(), verifier_src),
            ("contracts/ZkmlOracle.sol".into(), read("contracts/ZkmlOracle.sol")?),
            ("oracle-demo/contracts/CollateralMonitor.sol".into(), read("oracle-demo/contracts/CollateralMonitor.sol")?),
            ("contracts/ZkmlEscrow.sol".into(), read("contracts/ZkmlEscrow.sol")?),
            ("contracts/ZkmlValidator.sol".into(), read("contracts/ZkmlValidator.sol")?),
            ("contracts/testing/TestUSDC.sol".into(), read("contracts/testing/TestUSDC.sol")?),
            ("contracts/testing/TestIdentityRegistry.sol".into(), read("contracts/testing/TestIdentityRegistry.sol")?),
            ("contracts/testing/TestValidationRegistry.sol".into(), read("contracts/testing/TestValidationRegistry.sol")?),
        ],
    )?;
    let code = |n: &str| codes.get(n).cloned().ok_or_else(|| anyhow!("solc produced no bytecode for {n}"));
    println!(
        "compiled ZkmlPriceVerifier, ZkmlOracle, CollateralMonitor, ZkmlEscrow, ZkmlValidator and the test USDC and ERC-8004 registries with solc-js 0.8.28: {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // 4. Deploy.
    let signer: PrivateKeySigner = key.trim().parse().map_err(|_| anyhow!("the private key is not a 32-byte hex key"))?;
    let me = signer.address();
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url.parse().context("--rpc-url is not a URL")?);
    let chain_id = provider.get_chain_id().await.with_context(|| format!("cannot reach the node at {url}"))?;
    let model_id = calldata::fr_to_u256(&compiled.id);
    let (verifier, g_v) = deploy(&provider, code("ZkmlPriceVerifier")?, vec![]).await.context("deploying the verifier")?;
    let description = "SYN/USD (zkml price model)".to_string();
    // (verifier, modelId, ModelIO{numInputs, inputBits, outputBits, outputFracBits}, decimals,
    // description, maxAge, owner); small uints encode as full words, ModelIO (static) inline.
    let u = |v: u64| U256::from(v);
    let oracle_args = (
        verifier,
        model_id,
        u(pin.values as u64),
        u(pin.slot_bits as u64),
        u(pout.slot_bits as u64),
        u(frac as u64),
        u(decimals as u64),
        description,
        u(MAX_AGE),
        me,
    )
        .abi_encode_params();
    let (oracle_addr, g_o) = deploy(&provider, code("ZkmlOracle")?, oracle_args).await.context("deploying ZkmlOracle")?;
    let first = rows.rounds.first().context("rounds.json has no rows")?;
    let price0 = (first.price * 10f64.powi(decimals as i32)) as u128;
    let value0 = U256::from(price0) * U256::from(COLLATERAL_TOKENS);
    let debt = value0 * U256::from(10_000u64) / U256::from(START_RATIO_BPS);
    let monitor_args = (
        oracle_addr,
        U256::from(COLLATERAL_TOKENS) * U256::from(10u64).pow(U256::from(18u64)),
        debt,
        U256::from(LIQUIDATION_RATIO_BPS),
        U256::from(MAX_AGE),
    )
        .abi_encode_params();
    let (monitor_addr, g_m) = deploy(&provider, code("CollateralMonitor")?, monitor_args).await.context("deploying CollateralMonitor")?;
    println!("chain {chain_id}: verifier {verifier} ({g_v} gas), ZkmlOracle {oracle_addr} ({g_o} gas), CollateralMonitor {monitor_addr} ({g_m} gas)");
    println!(
        "loan: {COLLATERAL_TOKENS} SYN against {:.2} USD of debt, liquidation below {}% collateralization",
        debt.to_string().parse::<f64>().unwrap_or(0.0) / 10f64.powi(decimals as i32),
        LIQUIDATION_RATIO_BPS / 100
    );

    let oracle = IZkmlOracle::new(oracle_addr, &provider);
    let monitor = ICollateralMonitor::new(monitor_addr, &provider);
    let mut summary = Summary {
        rpc_url: url.to_string(),
        verifier: verifier.to_string(),
        oracle: oracle_addr.to_string(),
        monitor: monitor_addr.to_string(),
        model_id: model_id.to_string(),
        decimals,
        output_frac_bits: frac,
        setup_ms,
        deploy_gas: [g_v, g_o, g_m],
        rounds: vec![],
        forged_answer_refused: None,
        payment: None,
    };

    // 5. Rounds.
    println!();
    println!(
        "{:>5} {:>5} {:>9} {:>11} {:>11} {:>8} {:>10} {:>9} {:>9}  update tx",
        "round", "hour", "price now", "proved next", "actual next", "prove s", "update gas", "check gas", "loan"
    );
    let mut last_ts = 0u64;
    for i in 0..opts.rounds {
        let row = &rows.rounds[i % rows.rounds.len()];
        let ts = next_timestamp(last_ts).await;
        let (s1, w, prove_ms) =
            prove_wrapped(&compiled, &pk, &row.features, hooks::oracle_context(ts)).with_context(|| format!("proving round {}", i + 1))?;
        let q = s1.output[0];
        let answer = i128::from(q) * 10i128.pow(decimals as u32) / (1i128 << frac);
        let inputs: Vec<I256> = s1.input.iter().map(|&v| I256::try_from(v).expect("i64 fits")).collect();
        let answer_i = I256::try_from(answer).expect("i128 fits");
        let proof = Bytes::copy_from_slice(&calldata::encode_proof(&w.proof));

        // The contract must rebuild exactly the statement the proof is about.
        let expected: Vec<U256> = w.public_inputs.iter().map(calldata::fr_to_u256).collect();
        let onchain = oracle.publicInputs(inputs.clone(), ts, answer_i).call().await.map_err(|e| revert("publicInputs", e))?;
        if onchain != expected {
            bail!("ZkmlOracle.publicInputs disagrees with the proof's public inputs:\n  contract {onchain:?}\n  proof    {expected:?}");
        }

        // A forged answer with the honest proof: the verifier refuses it (checked once, in the
        // last round, with eth_call: no transaction, so no nonce is used up).
        if i + 1 == opts.rounds {
            let forged = answer_i + I256::try_from(10i128.pow(decimals as u32) >> frac).expect("fits");
            match oracle.update(proof.clone(), inputs.clone(), ts, forged).call().await {
                Ok(r) => bail!("a forged answer was accepted (round {r})"),
                Err(e) => match e.as_decoded_interface_error::<IZkmlOracle::IZkmlOracleErrors>() {
                    Some(IZkmlOracle::IZkmlOracleErrors::InvalidProof(_)) => {
                        summary.forged_answer_refused = Some("InvalidProof".into());
                    }
                    _ => bail!("a forged answer was refused, but not as InvalidProof: {}", revert("forged update", e)),
                },
            }
        }

        let r = confirm(&format!("round {}: ZkmlOracle.update", i + 1), oracle.update(proof, inputs, ts, answer_i).send().await).await?;
        let c = confirm(&format!("round {}: CollateralMonitor.check", i + 1), monitor.check().send().await).await?;
        let healthy = monitor.healthy().call().await?;
        let rep = RoundReport {
            round: i as u64 + 1,
            hour: row.hour,
            data_timestamp: ts,
            output_q: q,
            answer: answer.to_string(),
            price_now: row.price,
            actual_next: row.next_price,
            prove_ms,
            update_gas: r.gas_used,
            check_gas: c.gas_used,
            healthy,
            update_tx: r.transaction_hash.to_string(),
        };
        println!(
            "{:>5} {:>5} {:>9.4} {:>11.4} {:>11.4} {:>8.2} {:>10} {:>9} {:>9}  {}",
            rep.round,
            rep.hour,
            rep.price_now,
            answer as f64 / 10f64.powi(decimals as i32),
            rep.actual_next,
            prove_ms as f64 / 1e3,
            rep.update_gas,
            rep.check_gas,
            if healthy { "healthy" } else { "LIQUIDATE" },
            rep.update_tx
        );
        summary.rounds.push(rep);
        last_ts = ts;
    }

    // 6. What the chain says now.
    let latest = oracle.latestRoundData().call().await?;
    let last = summary.rounds.last().expect("at least one round");
    if latest.answer.to_string() != last.answer || u64::try_from(latest.roundId).unwrap_or(0) != opts.rounds as u64 {
        bail!("the oracle's latest round ({}, answer {}) is not the last proved one ({}, {})", latest.roundId, latest.answer, opts.rounds, last.answer);
    }
    println!(
        "\nlatestRoundData: round {}, answer {} ({} decimals), updatedAt {}; the monitor saw round {} and {} checks",
        latest.roundId,
        latest.answer,
        decimals,
        latest.updatedAt,
        monitor.lastRound().call().await?,
        monitor.checks().call().await?
    );
    println!(
        "the last round's proof with its answer raised by one unit ({}): refused, ZkmlOracle.{}",
        1.0 / f64::from(1u32 << frac),
        summary.forged_answer_refused.as_deref().unwrap_or("?")
    );

    // 7. An agent pays for one inference through the x402 escrow; ERC-8004 records the validation.
    let next = |k: usize| rows.rounds[(opts.rounds + k) % rows.rounds.len()].clone();
    let setup = payment::Setup {
        url,
        me: &provider,
        me_address: me,
        chain_id,
        codes: &codes,
        compiled: &compiled,
        pk: &pk,
        verifier,
        model_id,
        input_slot_bits: pin.slot_bits,
        output_slot_bits: pout.slot_bits,
        output_frac_bits: frac,
        decimals,
        paid_row: next(0),
        tampered_row: next(1),
    };
    summary.payment = Some(payment::run(&setup).await.context("the agent-payment flow")?);

    if let Some(p) = &opts.summary {
        std::fs::write(p, serde_json::to_string_pretty(&summary)?).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(summary)
}

/// Stage-1 proof of `features`, wrapped into Groth16 bound to `context`; and the time both took.
pub(crate) fn prove_wrapped(compiled: &Compiled, pk: &ProvingKey<Bn254>, features: &[f64], context: U256) -> Result<(Stage1Proof, WrapProof, u64)> {
    let t = Instant::now();
    let s1 = zkml::pipeline::prove(compiled, features).context("stage-1 proof")?;
    let context = F::from_be_bytes_mod_order(&context.to_be_bytes::<32>());
    let w = zkml::wrap::prove(pk, &compiled.graph, compiled.id, context, [F::from(0u64); 2], &s1, &mut rand::rngs::OsRng)
        .map_err(|e| anyhow!("Groth16 wrap: {e}"))?;
    Ok((s1, w, t.elapsed().as_millis() as u64))
}

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
        "ZkmlOracle" => IZkmlOracle::IZkmlOracleErrors,
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

/// The round's data timestamp: now (wall clock), strictly after the previous round's.
async fn next_timestamp(last: u64) -> u64 {
    loop {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs();
        if now > last {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
