//! The demo itself: model → keys → verifier → contracts → signed, proved rounds → the attack →
//! the payment flow (payment/).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, I256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use zkml::artifact::{Compiled, Packing};
use zkml::quantize::QuantConfig;
use zkml::wrap::two_round::ProverKey;
use zkml_verifier_gen::{calldata, hooks, solc, solidity};

use crate::anvil::{ANVIL_DEV_KEY, ATTACKER_KEY, Anvil, DATA_SIGNER_KEY, repo_root};
use crate::bindings::{ICollateralMonitor, IZkmlSignedOracle, IZkmlVerifier, ZkmlOracle};
use crate::ceremony;
use crate::chain::{confirm, deploy, refused, revert, send_reverting};
use crate::data::{InputFile, RoundRow, RoundsFile};
use crate::payment::{self, PaymentReport};
use crate::proving::prove_wrapped;

/// What the demo does; see the binary's `--help`.
#[derive(Clone, Debug)]
pub struct Options {
    /// Oracle rounds to prove and post.
    pub rounds: usize,
    /// Leave the anvil this demo started running at the end.
    pub keep_chain: bool,
    /// Start anvil on this loopback port (default: a free one); an error if it is taken.
    pub port: Option<u16>,
    /// A node to use instead of starting anvil.
    pub rpc_url: Option<String>,
    /// Hex private key of the account that deploys and updates (with `rpc_url`).
    pub private_key: Option<String>,
    /// Lookup-table bits of the quantization.
    pub lookup_bits: u32,
    /// Where to keep the compiled model, keys and verifier (default: a temporary folder).
    pub work_dir: Option<PathBuf>,
    /// Where to write the [`Summary`] as JSON.
    pub summary: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rounds: 3,
            keep_chain: false,
            port: None,
            rpc_url: None,
            private_key: None,
            lookup_bits: 12,
            work_dir: None,
            summary: None,
        }
    }
}

/// One oracle round as proved and posted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoundReport {
    /// The round's number, from 1.
    pub round: u64,
    /// Hour of the synthetic series the features describe.
    pub hour: u64,
    /// The report's data timestamp, which the proof's context binds.
    pub data_timestamp: u64,
    /// The model's quantized output (the proof's public output value).
    pub output_q: i64,
    /// `output_q * 10^decimals / 2^output_frac_bits`, as posted to `update` (decimal string).
    pub answer: String,
    /// The price at the round's hour (feature 0), USD.
    pub price_now: f64,
    /// The series' next price, which the model forecasts.
    pub actual_next: f64,
    /// Proving time (stage 1 and the wrap), ms.
    pub prove_ms: u64,
    /// Gas of the `update` transaction.
    pub update_gas: u64,
    /// Gas of the monitor's `check` transaction.
    pub check_gas: u64,
    /// The monitor's verdict.
    pub healthy: bool,
    /// The `update` transaction's hash.
    pub update_tx: String,
}

/// The attacker's doctored update, refused on-chain twice.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttackReport {
    /// The attacker's account.
    pub attacker: String,
    /// The doctored report's data timestamp.
    pub data_timestamp: u64,
    /// Feature [0] (the current price, USD) of the last honest round, and as the attacker set it.
    pub honest_price: f64,
    /// Feature [0] as the attacker set it.
    pub doctored_price: f64,
    /// What the model says on the doctored features (decimal string, the feed's decimals).
    pub answer: String,
    /// The monitor's verdict had that answer been posted.
    pub would_be_healthy: bool,
    /// `verifyProof` of the attacker's proof against the oracle's own public inputs for the
    /// doctored features, data timestamp and answer (eth_call): the proof itself is valid.
    pub proof_valid: bool,
    /// The attacker's proving time, ms.
    pub prove_ms: u64,
    /// From the attacker's account, the report signed with the data signer's key (as if it had
    /// leaked): the mined, reverted transaction, its gas and its revert.
    pub attacker_tx: String,
    /// Its gas.
    pub attacker_gas: u64,
    /// Its revert, decoded.
    pub attacker_error: String,
    /// Through the keeper's (allowlisted) account, the report signed with the attacker's key.
    pub keeper_tx: String,
    /// Its gas.
    pub keeper_gas: u64,
    /// Its revert, decoded.
    pub keeper_error: String,
}

/// Deployed addresses and rounds (`--summary`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// The chain's RPC URL.
    pub rpc_url: String,
    /// The model's Solidity verifier.
    pub verifier: String,
    /// keccak256 of the verifier's runtime code as solc built it (`zkml_verifier_gen::solc`).
    pub verifier_code_hash: String,
    /// The ZkmlSignedOracle.
    pub oracle: String,
    /// The health monitor that checks each round's answer against the oracle's bounds.
    pub monitor: String,
    /// Who signs the reports (the oracle's only signer; quorum 1) and who may post them.
    pub data_signer: String,
    /// The account allowed to post reports.
    pub keeper: String,
    /// Signatures a report needs.
    pub quorum: u8,
    /// Seconds an upgrade of the verifier waits before it takes effect.
    pub upgrade_delay: u64,
    /// Seconds a report may wait between its data timestamp and its posting.
    pub max_post_delay: u64,
    /// The model id its proofs carry (decimal).
    pub model_id: String,
    /// The feed's decimals.
    pub decimals: u8,
    /// Fractional bits of the model's quantized output.
    pub output_frac_bits: u32,
    /// The setup ceremony's time, ms.
    pub setup_ms: u64,
    /// Gas of deploying the verifier, the oracle and the monitor.
    pub deploy_gas: [u64; 3],
    /// Each round.
    pub rounds: Vec<RoundReport>,
    /// The revert of `update` with the last round's proof and its answer plus one unit.
    pub forged_answer_refused: Option<String>,
    /// The attacker's doctored update after the rounds.
    pub attack: Option<AttackReport>,
    /// The agent-payment flow (x402 escrow + ERC-8004 validation) on the same chain.
    pub payment: Option<PaymentReport>,
}

const MAX_AGE: u64 = 3600;
/// The most seconds between a report's data timestamp and its posting: a round here is proved
/// in about 2 s; the bound keeps the keeper from choosing among an hour of signed reports.
const MAX_POST_DELAY: u64 = 60;
/// Seconds between proposing and applying a model upgrade or a new signer set.
const UPGRADE_DELAY: u64 = 86_400;
/// Signatures a report needs (of the one data signer).
const QUORUM: u8 = 1;
/// Gas limit of the attacker's updates: set, so that they are sent and mined (and revert
/// on-chain) instead of failing at gas estimation.
const ATTACK_GAS_LIMIT: u64 = 1_000_000;
/// ETH the deployer gives the attacker if the node did not fund anvil's account #3 (0.01 ETH).
const ATTACKER_GAS_FUNDS: u128 = 10_000_000_000_000_000;
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
            let key = opts
                .private_key
                .clone()
                .context("--rpc-url needs a key: set ZKML_PRIVATE_KEY (or pass --private-key)")?;
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
    if let (Some(a), true) = (anvil, opts.keep_chain)
        && result.is_ok()
    {
        let pid = a.keep();
        println!("--keep-chain: anvil keeps running at {url} (pid {pid}); stop it with `kill {pid}`");
    }
    result
}

async fn run_on(opts: &Options, url: &str, key: &str) -> Result<Summary> {
    let root = repo_root();
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
    let model = compile_model(opts, &root.join("oracle-demo/model"), &work)?;

    // 2. Groth16 keys from a ceremony, and the rendered verifier.
    let t = Instant::now();
    let listing =
        ceremony::run(&root, model.compiled.clone(), &work.join("price_mlp")).context("the setup ceremony")?;
    let (compiled, pk): (&Compiled, &ProverKey) = (&listing.compiled, &listing.keys);
    let vk = pk.verifying_key();
    let setup_ms = t.elapsed().as_millis() as u64;
    // With the model's layout, as `zkml-gen solidity` renders it: its MODEL_ID and public-input
    // count are what `zkml serve` checks before it sells through an escrow of this verifier.
    let layout = Some(&listing.layout);
    let verifier_src =
        solidity::render_two_round(&vk.groth16, &vk.delta1_g2, "ZkmlPriceVerifier", layout, Default::default(), None)?;
    std::fs::write(work.join("ZkmlPriceVerifier.sol"), &verifier_src)?;

    // 3. Solidity, with the pinned solc-js.
    let codes = compile_contracts(&root, verifier_src)?;

    // 4. Deploy, and set the oracle's guards.
    let signer: PrivateKeySigner =
        key.trim().parse().map_err(|_| anyhow!("the private key is not a 32-byte hex key"))?;
    let me = signer.address();
    if me == ATTACKER_KEY.parse::<PrivateKeySigner>().expect("a key").address() {
        bail!(
            "the deployer key is anvil's dev account #3, which the demo plays the attacker with: deploy with another key"
        );
    }
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse().context("--rpc-url is not a URL")?);
    let chain_id = provider.get_chain_id().await.with_context(|| format!("cannot reach the node at {url}"))?;
    let data_signer: PrivateKeySigner = DATA_SIGNER_KEY.parse().expect("a key");
    let feed = Feed::deploy(&provider, &codes, &model, me, &data_signer, chain_id).await?;
    feed.guard(&provider, me, &data_signer).await?;
    let mut summary = Summary {
        rpc_url: url.to_string(),
        verifier: feed.verifier.to_string(),
        verifier_code_hash: feed.verifier_code_hash.to_string(),
        oracle: feed.oracle.to_string(),
        monitor: feed.monitor.to_string(),
        data_signer: data_signer.address().to_string(),
        keeper: me.to_string(),
        quorum: QUORUM,
        upgrade_delay: UPGRADE_DELAY,
        max_post_delay: MAX_POST_DELAY,
        model_id: feed.model_id.to_string(),
        decimals: model.decimals,
        output_frac_bits: model.frac,
        setup_ms,
        deploy_gas: feed.gas,
        rounds: vec![],
        forged_answer_refused: None,
        attack: None,
        payment: None,
    };

    // 5. Rounds, and what the chain says after them.
    let rounds = Rounds {
        chain_id,
        compiled,
        pk,
        oracle_addr: feed.oracle,
        monitor_addr: feed.monitor,
        decimals: model.decimals,
        frac: model.frac,
        data_signer: &data_signer,
        keeper: me,
    };
    let last_ts = rounds.post_all(&provider, &model.rows, opts.rounds, &mut summary).await?;
    let latest = feed.check_latest(&provider, &summary, model.frac).await?;

    // 6. An attacker posts a doctored price.
    let attack = Attack {
        chain_id,
        compiled,
        pk,
        oracle_addr: feed.oracle,
        verifier: feed.verifier,
        monitor_addr: feed.monitor,
        decimals: model.decimals,
        frac: model.frac,
        last_ts,
        row: &model.rows.rounds[(opts.rounds - 1) % model.rows.rounds.len()],
        data_signer: &data_signer,
    };
    summary.attack = Some(attack.run(&provider, url, me).await.context("the attacker's update")?);
    feed.check_unchanged(&provider, &latest, me).await?;

    // 7. An agent pays for one inference through the x402 escrow; ERC-8004 records the validation.
    let next = |k: usize| model.rows.rounds[(opts.rounds + k) % model.rows.rounds.len()].clone();
    let setup = payment::Setup {
        url,
        me: &provider,
        chain_id,
        codes: &codes,
        listing: &listing,
        verifier: feed.verifier,
        model_id: feed.model_id,
        input_slot_bits: model.pin.slot_bits,
        output_slot_bits: model.pout.slot_bits,
        output_frac_bits: model.frac,
        decimals: model.decimals,
        paid_row: next(0),
        tampered_row: next(1),
    };
    summary.payment = Some(payment::run(&setup).await.context("the agent-payment flow")?);

    if let Some(p) = &opts.summary {
        std::fs::write(p, serde_json::to_string_pretty(&summary)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(summary)
}

/// The price feed as deployed: the model's verifier, the oracle and the loan's health monitor.
struct Feed {
    verifier: Address,
    verifier_code_hash: B256,
    oracle: Address,
    monitor: Address,
    model_id: U256,
    /// Gas of deploying the verifier, the oracle and the monitor.
    gas: [u64; 3],
}

impl Feed {
    /// Deploys the verifier, the oracle (the data signer its only signer) and a loan's monitor
    /// that starts at [`START_RATIO_BPS`] on the first round's price.
    async fn deploy<P: Provider>(
        provider: &P,
        codes: &solc::Artifacts,
        model: &Model,
        me: Address,
        data_signer: &PrivateKeySigner,
        chain_id: u64,
    ) -> Result<Feed> {
        let code = |n: &str| codes.code(n);
        let model_id = calldata::fr_to_u256(&model.compiled.id);
        let (verifier, g_v) =
            deploy(provider, code("ZkmlPriceVerifier")?, vec![]).await.context("deploying the verifier")?;
        // What an upgrade of the oracle to this verifier would pin (`proposeUpgrade`), and what
        // `zkml-gen solidity --solc` prints for these keys.
        let verifier_code_hash = codes.get("ZkmlPriceVerifier")?.code_hash();
        println!("verifier deployed at {verifier}, runtime code hash {verifier_code_hash}");
        let narrow = |v: u64, what: &str| {
            u8::try_from(v).map_err(|_| anyhow!("the model's {what} ({v}) does not fit the oracle's uint8"))
        };
        let config = ZkmlOracle::Config {
            verifier,
            modelId: model_id,
            io: ZkmlOracle::ModelIO {
                numInputs: narrow(model.pin.values as u64, "input count")?,
                inputBits: narrow(model.pin.slot_bits as u64, "input slot width")?,
                outputBits: narrow(model.pout.slot_bits as u64, "output slot width")?,
                outputFracBits: narrow(model.frac as u64, "output scale")?,
            },
            decimals: model.decimals,
            description: "SYN/USD (zkml price model)".to_string(),
            maxAge: MAX_AGE,
            upgradeDelay: UPGRADE_DELAY,
            owner: me,
        };
        // (Config, uint64 maxPostDelay, address[] signers, uint8 quorum): a uint8 or uint64
        // encodes as a full word.
        let oracle_args =
            (config, U256::from(MAX_POST_DELAY), vec![data_signer.address()], U256::from(QUORUM)).abi_encode_params();
        let (oracle, g_o) =
            deploy(provider, code("ZkmlSignedOracle")?, oracle_args).await.context("deploying ZkmlSignedOracle")?;
        let first = model.rows.rounds.first().context("rounds.json has no rows")?;
        let price0 = (first.price * 10f64.powi(model.decimals as i32)) as u128;
        let value0 = U256::from(price0) * U256::from(COLLATERAL_TOKENS);
        let debt = value0 * U256::from(10_000u64) / U256::from(START_RATIO_BPS);
        let monitor_args = (
            oracle,
            U256::from(COLLATERAL_TOKENS) * U256::from(10u64).pow(U256::from(18u64)),
            debt,
            U256::from(LIQUIDATION_RATIO_BPS),
            U256::from(MAX_AGE),
        )
            .abi_encode_params();
        let (monitor, g_m) =
            deploy(provider, code("CollateralMonitor")?, monitor_args).await.context("deploying CollateralMonitor")?;
        println!(
            "chain {chain_id}: verifier {verifier} ({g_v} gas), ZkmlSignedOracle {oracle} ({g_o} gas), CollateralMonitor {monitor} ({g_m} gas)"
        );
        println!(
            "loan: {COLLATERAL_TOKENS} SYN against {:.2} USD of debt, liquidation below {}% collateralization",
            debt.to_string().parse::<f64>().unwrap_or(0.0) / 10f64.powi(model.decimals as i32),
            LIQUIDATION_RATIO_BPS / 100
        );
        Ok(Feed { verifier, verifier_code_hash, oracle, monitor, model_id, gas: [g_v, g_o, g_m] })
    }

    /// The oracle's guards: only the data signer's reports count (set at deployment), and only
    /// the keeper (`me`) may post them; read back from the chain.
    async fn guard<P: Provider>(&self, provider: &P, me: Address, data_signer: &PrivateKeySigner) -> Result<()> {
        let oracle = IZkmlSignedOracle::new(self.oracle, provider);
        confirm("ZkmlSignedOracle.setUpdater", oracle.setUpdater(me, true).send().await).await?;
        confirm("ZkmlSignedOracle.setUpdatersRestricted", oracle.setUpdatersRestricted(true).send().await).await?;
        let (signers, quorum) = (oracle.signers().call().await?, oracle.quorum().call().await?);
        if signers != [data_signer.address()]
            || quorum != QUORUM
            || oracle.maxPostDelay().call().await? != MAX_POST_DELAY
            || !oracle.updatersRestricted().call().await?
            || !oracle.isUpdater(me).call().await?
        {
            bail!("the oracle's guards are not as deployed: signers {signers:?}, quorum {quorum}");
        }
        println!(
            "guards: a round needs a report signed by the data signer {} (anvil account #2; quorum {QUORUM} of 1), posted by the keeper {me} (updater allowlist on) within {MAX_POST_DELAY} s of its data timestamp; model and signer-set changes wait {} h",
            data_signer.address(),
            UPGRADE_DELAY / 3600
        );
        Ok(())
    }

    /// The oracle's latest round is the last one posted, stamped with its report's data
    /// timestamp; returns it.
    async fn check_latest<P: Provider>(
        &self,
        provider: &P,
        summary: &Summary,
        frac: u32,
    ) -> Result<IZkmlSignedOracle::latestRoundDataReturn> {
        let oracle = IZkmlSignedOracle::new(self.oracle, provider);
        let monitor = ICollateralMonitor::new(self.monitor, provider);
        let latest = oracle.latestRoundData().call().await?;
        let last = summary.rounds.last().context("no round was posted")?;
        let rounds = summary.rounds.len() as u64;
        if latest.answer.to_string() != last.answer || u64::try_from(latest.roundId).unwrap_or(0) != rounds {
            bail!(
                "the oracle's latest round ({}, answer {}) is not the last proved one ({rounds}, {})",
                latest.roundId,
                latest.answer,
                last.answer
            );
        }
        if latest.startedAt != U256::from(last.data_timestamp) || latest.updatedAt != latest.startedAt {
            bail!(
                "the latest round's startedAt {} / updatedAt {} are not its data timestamp {}",
                latest.startedAt,
                latest.updatedAt,
                last.data_timestamp
            );
        }
        println!(
            "\nlatestRoundData: round {}, answer {} ({} decimals), startedAt = updatedAt = {} (the report's data timestamp); the monitor saw round {} and {} checks",
            latest.roundId,
            latest.answer,
            summary.decimals,
            latest.updatedAt,
            monitor.lastRound().call().await?,
            monitor.checks().call().await?
        );
        println!(
            "the last round's proof and signed report with its answer raised by one unit ({}): refused, ZkmlSignedOracle.{}",
            1.0 / f64::from(1u32 << frac),
            summary.forged_answer_refused.as_deref().unwrap_or("?")
        );
        Ok(latest)
    }

    /// After the attack the feed still reads the keeper's `latest` round and the monitor finds
    /// the loan healthy.
    async fn check_unchanged<P: Provider>(
        &self,
        provider: &P,
        latest: &IZkmlSignedOracle::latestRoundDataReturn,
        me: Address,
    ) -> Result<()> {
        let oracle = IZkmlSignedOracle::new(self.oracle, provider);
        let monitor = ICollateralMonitor::new(self.monitor, provider);
        let after = oracle.latestRoundData().call().await?;
        if after.roundId != latest.roundId || after.answer != latest.answer || !monitor.healthy().call().await? {
            bail!("the attack changed the feed: round {}, answer {}", after.roundId, after.answer);
        }
        let still =
            monitor.check().from(me).call().await.map_err(|e| revert("CollateralMonitor.check (eth_call)", e))?;
        println!(
            "  the feed still reads round {}, answer {} (the keeper's); CollateralMonitor.check() (eth_call): {}",
            after.roundId,
            after.answer,
            if still { "healthy" } else { "LIQUIDATE" }
        );
        if !still {
            bail!("the monitor would liquidate after the attack");
        }
        Ok(())
    }
}

/// The demo's model, compiled, with the rounds it is run on: the packings of its public input
/// and output, its output's fractional bits and the decimals the oracle reports in.
struct Model {
    compiled: Arc<Compiled>,
    rows: RoundsFile,
    pin: Packing,
    pout: Packing,
    frac: u32,
    decimals: u8,
}

/// Compiles (quantizes) oracle-demo/model's price model with its calibration rows into `work`.
fn compile_model(opts: &Options, model_dir: &Path, work: &Path) -> Result<Model> {
    let t = Instant::now();
    let cal: InputFile = serde_json::from_slice(&std::fs::read(model_dir.join("calibration.json"))?)?;
    let cfg = QuantConfig { lookup_bits: opts.lookup_bits, ..QuantConfig::default() };
    let compiled =
        zkml::pipeline::compile(&model_dir.join("price_mlp.onnx"), &cal.input_data, cfg, &work.join("price_mlp"))
            .context("compiling oracle-demo/model/price_mlp.onnx")?;
    let rows: RoundsFile = serde_json::from_slice(&std::fs::read(model_dir.join("rounds.json"))?)?;
    let s = &compiled.settings;
    let packing = |name: &str| {
        s.public_inputs
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.packing.clone())
            .ok_or_else(|| anyhow!("the model's {name} is not public"))
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
    Ok(Model { compiled: Arc::new(compiled), rows, pin, pout, frac, decimals })
}

/// Compiles the verifier rendered as `verifier_src` and the demo's contracts with the pinned
/// solc-js, and checks the bindings' ABI against what it compiled.
fn compile_contracts(root: &Path, verifier_src: String) -> Result<solc::Artifacts> {
    let t = Instant::now();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).with_context(|| format!("reading {p}"));
    crate::anvil::ensure_toolchain(root)?;
    let codes = solc::compile(
        &root.join("script/solc"),
        root,
        &[
            ("generated/ZkmlPriceVerifier.sol".into(), verifier_src),
            ("contracts/ZkmlSignedOracle.sol".into(), read("contracts/ZkmlSignedOracle.sol")?),
            (
                "oracle-demo/contracts/CollateralMonitor.sol".into(),
                read("oracle-demo/contracts/CollateralMonitor.sol")?,
            ),
            ("contracts/ZkmlEscrow.sol".into(), read("contracts/ZkmlEscrow.sol")?),
            ("contracts/ZkmlValidator.sol".into(), read("contracts/ZkmlValidator.sol")?),
            ("contracts/testing/TestUSDC.sol".into(), read("contracts/testing/TestUSDC.sol")?),
            ("contracts/testing/TestIdentityRegistry.sol".into(), read("contracts/testing/TestIdentityRegistry.sol")?),
            (
                "contracts/testing/TestValidationRegistry.sol".into(),
                read("contracts/testing/TestValidationRegistry.sol")?,
            ),
        ],
    )?;
    crate::bindings::check(&codes.abis())?;
    println!(
        "compiled ZkmlPriceVerifier, ZkmlSignedOracle, CollateralMonitor, ZkmlEscrow, ZkmlValidator and the test USDC and ERC-8004 registries with solc-js 0.8.28: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(codes)
}

/// What posting a round needs: the model and its keys, the oracle and its consumer, the data
/// signer and the keeper who posts.
struct Rounds<'a> {
    chain_id: u64,
    compiled: &'a Compiled,
    pk: &'a ProverKey,
    oracle_addr: Address,
    monitor_addr: Address,
    decimals: u8,
    frac: u32,
    data_signer: &'a PrivateKeySigner,
    keeper: Address,
}

impl Rounds<'_> {
    /// Posts `n` rounds on the rows in turn, each at a fresh data timestamp, into `summary` (the
    /// last one also checks that a forged answer is refused); the last round's data timestamp.
    async fn post_all<P: Provider>(
        &self,
        provider: &P,
        rows: &RoundsFile,
        n: usize,
        summary: &mut Summary,
    ) -> Result<u64> {
        println!();
        println!(
            "{:>5} {:>5} {:>9} {:>11} {:>11} {:>8} {:>10} {:>9} {:>9}  update tx",
            "round", "hour", "price now", "proved next", "actual next", "prove s", "update gas", "check gas", "loan"
        );
        let mut last_ts = 0u64;
        for i in 0..n {
            let row = &rows.rounds[i % rows.rounds.len()];
            let ts = next_timestamp(provider, last_ts).await?;
            let (rep, forged) = self.post(provider, i, row, ts, i + 1 == n).await?;
            if forged.is_some() {
                summary.forged_answer_refused = forged;
            }
            summary.rounds.push(rep);
            last_ts = ts;
        }
        Ok(last_ts)
    }

    /// Round `i` (from 0) on `row` at data timestamp `ts`: the data signer signs the report, the
    /// keeper proves the model on its features and posts the update, the monitor checks the
    /// loan. With `forge_check`, first a forged answer with the honest proof is refused; the
    /// round's report, and the error that refused the forgery.
    async fn post<P: Provider>(
        &self,
        provider: &P,
        i: usize,
        row: &RoundRow,
        ts: u64,
        forge_check: bool,
    ) -> Result<(RoundReport, Option<String>)> {
        let oracle = IZkmlSignedOracle::new(self.oracle_addr, provider);
        let monitor = ICollateralMonitor::new(self.monitor_addr, provider);
        // The data signer's report: the hour's features, quantized as the model reads them, at ts.
        let features = self
            .compiled
            .graph
            .quantize_input(&row.features)
            .map_err(|e| anyhow!("quantizing round {}'s features: {e:?}", i + 1))?;
        let inputs: Vec<I256> = features.iter().map(|&v| I256::try_from(v).expect("i64 fits")).collect();
        let digest = hooks::report_digest(self.chain_id, self.oracle_addr, ts, &features);
        if oracle.reportDigest(inputs.clone(), ts).call().await.map_err(|e| revert("reportDigest", e))? != digest {
            bail!("ZkmlSignedOracle.reportDigest disagrees with hooks::report_digest");
        }
        let signatures = sign_report(&[self.data_signer], digest)?;
        // The keeper proves the model on the report's features, bound to this oracle and ts.
        let (s1, w, prove_ms) = prove_wrapped(
            self.compiled,
            self.pk,
            &row.features,
            hooks::oracle_context(self.chain_id, self.oracle_addr, ts),
        )
        .with_context(|| format!("proving round {}", i + 1))?;
        if s1.input != features {
            bail!("round {}: the proof's input is not the signed report's features", i + 1);
        }
        let q = s1.output[0];
        let answer = i128::from(q) * 10i128.pow(self.decimals as u32) / (1i128 << self.frac);
        let answer_i = I256::try_from(answer).expect("i128 fits");
        let proof = Bytes::copy_from_slice(&calldata::encode_proof(&w.proof));

        // The contract must rebuild exactly the statement the proof is about.
        let expected: Vec<U256> = w.public_inputs.iter().map(calldata::fr_to_u256).collect();
        let onchain =
            oracle.publicInputs(inputs.clone(), ts, answer_i).call().await.map_err(|e| revert("publicInputs", e))?;
        if onchain != expected {
            bail!(
                "ZkmlSignedOracle.publicInputs disagrees with the proof's public inputs:\n  contract {onchain:?}\n  proof    {expected:?}"
            );
        }

        // A forged answer with the honest proof and report: the verifier refuses it (checked
        // once, in the last round, with eth_call: no transaction, so no nonce is used up). The
        // call runs in the pending block, as the update transaction will: the latest block can
        // be older than the report's timestamp (taken from the clock after it was mined), and
        // there the oracle would refuse the report as FutureData before looking at the proof.
        let forged_answer_refused = if forge_check {
            let forged = answer_i + I256::try_from(10i128.pow(self.decimals as u32) >> self.frac).expect("fits");
            let call = oracle.update(proof.clone(), inputs.clone(), ts, forged, signatures.clone()).from(self.keeper);
            Some(refused(
                "a forged answer",
                call.block(alloy::eips::BlockId::pending()).call().await,
                "InvalidProof",
                |e| matches!(e, IZkmlSignedOracle::IZkmlSignedOracleErrors::InvalidProof(_)),
            )?)
        } else {
            None
        };

        let r = confirm(
            &format!("round {}: ZkmlSignedOracle.update", i + 1),
            oracle.update(proof, inputs, ts, answer_i, signatures).send().await,
        )
        .await?;
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
            answer as f64 / 10f64.powi(self.decimals as i32),
            rep.actual_next,
            prove_ms as f64 / 1e3,
            rep.update_gas,
            rep.check_gas,
            if healthy { "healthy" } else { "LIQUIDATE" },
            rep.update_tx
        );
        Ok((rep, forged_answer_refused))
    }
}

/// 65-byte (r, s, v) signatures of `digest` by `signers`, sorted by signer address, ascending
/// (the order ZkmlSignedOracle.update wants).
pub fn sign_report(signers: &[&PrivateKeySigner], digest: B256) -> Result<Vec<Bytes>> {
    let mut s: Vec<&PrivateKeySigner> = signers.to_vec();
    s.sort_by_key(|k| k.address());
    s.iter()
        .map(|k| Ok(Bytes::copy_from_slice(&k.sign_hash_sync(&digest).context("signing a report")?.as_bytes())))
        .collect()
}

/// The attacker: proves the model on doctored features (the honest row with its current price
/// halved, which would flip the loan), binds the proof to this oracle and a fresh data timestamp
/// (a valid proof), and sends `update` twice as real transactions, both of which revert: from its
/// own account with the report signed by the data signer's key (as if that key had leaked), and
/// through the keeper's allowlisted account with the report signed by its own key.
struct Attack<'a> {
    chain_id: u64,
    compiled: &'a Compiled,
    pk: &'a ProverKey,
    oracle_addr: Address,
    verifier: Address,
    monitor_addr: Address,
    decimals: u8,
    frac: u32,
    last_ts: u64,
    row: &'a RoundRow,
    data_signer: &'a PrivateKeySigner,
}

impl Attack<'_> {
    async fn run<P: Provider>(&self, keeper: &P, url: &str, keeper_a: Address) -> Result<AttackReport> {
        let attacker: PrivateKeySigner = ATTACKER_KEY.parse().expect("a key");
        let attacker_a = attacker.address();
        let ap = ProviderBuilder::new()
            .wallet(EthereumWallet::from(attacker.clone()))
            .connect_http(url.parse().context("the RPC URL")?);
        if ap.get_balance(attacker_a).await? < U256::from(ATTACKER_GAS_FUNDS) {
            confirm(
                "funding the attacker's gas",
                keeper
                    .send_transaction(
                        TransactionRequest::default().with_to(attacker_a).with_value(U256::from(ATTACKER_GAS_FUNDS)),
                    )
                    .await
                    .map_err(alloy::contract::Error::from),
            )
            .await?;
        }
        println!("\n-- an attacker posts a doctored price");

        let mut doctored = self.row.features.clone();
        doctored[0] /= 2.0;
        let ts = next_timestamp(keeper, self.last_ts).await?;
        let (s1, w, prove_ms) = prove_wrapped(
            self.compiled,
            self.pk,
            &doctored,
            hooks::oracle_context(self.chain_id, self.oracle_addr, ts),
        )
        .context("proving the doctored features")?;
        let q = s1.output[0];
        let answer = i128::from(q) * 10i128.pow(self.decimals as u32) / (1i128 << self.frac);
        let answer_i = I256::try_from(answer).expect("i128 fits");
        let features: Vec<I256> = s1.input.iter().map(|&v| I256::try_from(v).expect("i64 fits")).collect();
        let proof = Bytes::copy_from_slice(&calldata::encode_proof(&w.proof));

        // It is a valid proof of exactly the statement the oracle would check.
        let oracle = IZkmlSignedOracle::new(self.oracle_addr, keeper);
        let public =
            oracle.publicInputs(features.clone(), ts, answer_i).call().await.map_err(|e| revert("publicInputs", e))?;
        if public != w.public_inputs.iter().map(calldata::fr_to_u256).collect::<Vec<_>>() {
            bail!("the oracle's public inputs for the doctored report are not the attacker's proof's");
        }
        let proof_valid = IZkmlVerifier::new(self.verifier, keeper).verifyProof(proof.clone(), public).call().await?;
        if !proof_valid {
            bail!("the attacker's proof does not verify");
        }
        let monitor = ICollateralMonitor::new(self.monitor_addr, keeper);
        let (collateral, debt, ratio) = (
            monitor.collateral().call().await?,
            monitor.debt().call().await?,
            monitor.liquidationRatioBps().call().await?,
        );
        let would_be_healthy = answer > 0
            && U256::from(answer as u128) * collateral / U256::from(10u64).pow(U256::from(18u64))
                * U256::from(10_000u64)
                >= debt * ratio;
        let usd = |v: i128| v as f64 / 10f64.powi(self.decimals as i32);
        println!(
            "attacker {attacker_a} (anvil account #3): proves the model on doctored features (price now {:.4} -> {:.4} USD, {:.2} s); the proof, bound to this oracle and data timestamp {ts}, is valid (verifyProof: {proof_valid}); its answer {:.4} USD would mark the loan {}",
            self.row.features[0],
            doctored[0],
            prove_ms as f64 / 1e3,
            usd(answer),
            if would_be_healthy { "healthy" } else { "LIQUIDATE" }
        );

        let digest = hooks::report_digest(self.chain_id, self.oracle_addr, ts, &s1.input);
        // 1. From its own account, the report signed with the data signer's key: the allowlist.
        let by_attacker = IZkmlSignedOracle::new(self.oracle_addr, &ap);
        let (r1, e1) = mined_revert(
            "the attacker's update",
            by_attacker
                .update(proof.clone(), features.clone(), ts, answer_i, sign_report(&[self.data_signer], digest)?)
                .from(attacker_a),
        )
        .await?;
        let attacker_error = match e1 {
            IZkmlSignedOracle::IZkmlSignedOracleErrors::NotAnUpdater(e) if e.caller == attacker_a => {
                format!("ZkmlSignedOracle.NotAnUpdater({})", e.caller)
            }
            e => bail!("the attacker's update was refused, but not as NotAnUpdater({attacker_a}): {e:?}"),
        };
        println!(
            "  from the attacker's account, the report signed with the data signer's key (as if it had leaked): update reverted on-chain (tx {}, status 0, {} gas): {attacker_error}",
            r1.transaction_hash, r1.gas_used
        );
        // 2. Through the keeper's account, the report signed with its own key: the signature check.
        let (r2, e2) = mined_revert(
            "the keeper-relayed update",
            oracle.update(proof, features, ts, answer_i, sign_report(&[&attacker], digest)?).from(keeper_a),
        )
        .await?;
        let keeper_error = match e2 {
            IZkmlSignedOracle::IZkmlSignedOracleErrors::NotASigner(e) if e.recovered == attacker_a => {
                format!("ZkmlSignedOracle.NotASigner({}, {})", e.index, e.recovered)
            }
            e => bail!("the keeper-relayed update was refused, but not as NotASigner(0, {attacker_a}): {e:?}"),
        };
        println!(
            "  through the keeper's allowlisted account, the report signed with the attacker's key: update reverted on-chain (tx {}, status 0, {} gas): {keeper_error}",
            r2.transaction_hash, r2.gas_used
        );
        if r1.from != attacker_a || r2.from != keeper_a {
            bail!("the attack's transactions were not sent from the attacker and the keeper");
        }
        Ok(AttackReport {
            attacker: attacker_a.to_string(),
            data_timestamp: ts,
            honest_price: self.row.features[0],
            doctored_price: doctored[0],
            answer: answer.to_string(),
            would_be_healthy,
            proof_valid,
            prove_ms,
            attacker_tx: r1.transaction_hash.to_string(),
            attacker_gas: r1.gas_used,
            attacker_error,
            keeper_tx: r2.transaction_hash.to_string(),
            keeper_gas: r2.gas_used,
            keeper_error,
        })
    }
}

/// Sends an `update` that must revert as a real transaction (fixed gas limit, so it is mined),
/// after an eth_call that decodes why; its receipt (status 0) and the oracle's error.
async fn mined_revert<P: Provider>(
    what: &str,
    call: alloy::contract::SolCallBuilder<P, IZkmlSignedOracle::updateCall>,
) -> Result<(TransactionReceipt, IZkmlSignedOracle::IZkmlSignedOracleErrors)> {
    let err = match call.call().await {
        Ok(r) => bail!("{what} would be accepted (round {r})"),
        Err(e) => e
            .as_decoded_interface_error::<IZkmlSignedOracle::IZkmlSignedOracleErrors>()
            .ok_or_else(|| revert(what, e))?,
    };
    let r = send_reverting(what, call, ATTACK_GAS_LIMIT).await?;
    Ok((r, err))
}

/// The round's data timestamp: the wall clock (the data source's), strictly after the previous
/// round's, and never ahead of the node's clock — the pending block's timestamp, the earliest the
/// update's block can have. Anvil's clock can trail the wall clock by a second, and the oracle
/// refuses a report from its future (`FutureData`); a chain whose clock runs ahead (the stale-data
/// test moves anvil's by ten days) still gets the wall clock's time.
async fn next_timestamp<P: Provider>(provider: &P, last: u64) -> Result<u64> {
    loop {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).context("the clock is before 1970")?.as_secs();
        let pending = provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Pending)
            .await
            .context("reading the pending block's timestamp")?
            .context("the node has no pending block")?;
        let now = wall.min(pending.header.timestamp);
        if now > last {
            return Ok(now);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
