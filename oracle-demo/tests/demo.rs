//! Runs the demo binary for 2 rounds against an anvil this test starts, then reads the chain:
//! the signed oracle's rounds and guards, the attacker's refused updates, and the agent-payment
//! flow (bought over HTTP from zkml serve, escrow, ERC-8004 validation, tampered proof, refund).

use std::process::Command;

use alloy::primitives::{Address, B256, I256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use oracle_demo::Summary;
use oracle_demo::anvil::{ANVIL_DEV_KEY, ATTACKER_KEY, Anvil, DATA_SIGNER_KEY, ensure_toolchain, repo_root};
use oracle_demo::bindings::{
    ICollateralMonitor, IERC8004Validation, ITestUSDC, IZkmlEscrow, IZkmlSignedOracle, IZkmlValidator,
};
use oracle_demo::payment::{DEADLINE_SECONDS, PRICE};
use zkml_serve::escrow::Status;

#[test]
fn two_rounds_and_a_paid_inference_land_on_chain_as_proved() {
    let anvil = Anvil::start(None).expect("start anvil");
    let tmp = tempfile::tempdir().unwrap();
    let summary_path = tmp.path().join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_oracle-demo"))
        .args(["--rounds", "2", "--rpc-url", &anvil.url, "--summary"])
        .arg(&summary_path)
        .arg("--work-dir")
        .arg(tmp.path().join("work"))
        .env("ZKML_PRIVATE_KEY", ANVIL_DEV_KEY)
        .env_remove("ZKML_DEMO_PRIVATE_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed\n{stdout}\n{stderr}");
    for key in [ANVIL_DEV_KEY, DATA_SIGNER_KEY, ATTACKER_KEY] {
        assert!(!stdout.contains(&key[2..]) && !stderr.contains(&key[2..]), "a key was printed");
    }
    let s: Summary = serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    assert_eq!(s.rounds.len(), 2);
    assert_eq!(s.forged_answer_refused.as_deref(), Some("InvalidProof"));
    // The keys come from a ceremony: two contributions (the run's own and the beacon) whose
    // record checks and ends at the verifying key's δ and δ₁, on the snarkjs ptau.
    let keys = tmp.path().join("work/price_mlp");
    let vk = zkml::artifact::read_verifier_key(&keys).unwrap();
    assert!(matches!(
        zkml::setup::trust(&keys, &vk.groth16, Some(&vk.delta1_g2)).unwrap(),
        zkml::setup::Trust::Ceremony { contributions: 2 }
    ));
    assert!(stdout.contains("snarkjs-0.7.6-power14.unprepared.ptau"), "{stdout}");

    let provider = ProviderBuilder::new().connect_http(anvil.url.parse().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let oracle_a = s.oracle.parse::<Address>().unwrap();
        let oracle = IZkmlSignedOracle::new(oracle_a, &provider);
        let monitor = ICollateralMonitor::new(s.monitor.parse::<Address>().unwrap(), &provider);
        assert_eq!(oracle.modelId().call().await.unwrap().to_string(), s.model_id);
        // The code on chain is the code whose hash the demo printed (an upgrade pins that hash).
        let code = provider.get_code_at(s.verifier.parse::<Address>().unwrap()).await.unwrap();
        assert_eq!(alloy::primitives::keccak256(&code).to_string(), s.verifier_code_hash);
        assert_eq!(oracle.decimals().call().await.unwrap(), s.decimals);
        assert_eq!(u64::try_from(oracle.latestRound().call().await.unwrap()).unwrap(), 2);

        // The guards: the data signer (anvil #2) alone signs reports, the keeper alone posts them.
        let signer_a = DATA_SIGNER_KEY.parse::<PrivateKeySigner>().unwrap().address();
        let keeper_a = ANVIL_DEV_KEY.parse::<PrivateKeySigner>().unwrap().address();
        let attacker_a = ATTACKER_KEY.parse::<PrivateKeySigner>().unwrap().address();
        assert_eq!(
            (s.data_signer.parse::<Address>().unwrap(), s.keeper.parse::<Address>().unwrap()),
            (signer_a, keeper_a)
        );
        assert_eq!(oracle.signers().call().await.unwrap(), vec![signer_a]);
        assert_eq!(oracle.quorum().call().await.unwrap(), 1);
        assert!(oracle.updatersRestricted().call().await.unwrap());
        assert!(oracle.isUpdater(keeper_a).call().await.unwrap());
        assert!(!oracle.isUpdater(attacker_a).call().await.unwrap());
        assert_eq!(oracle.upgradeDelay().call().await.unwrap(), s.upgrade_delay);
        assert!(s.upgrade_delay >= 3600);
        assert_eq!(oracle.maxPostDelay().call().await.unwrap(), s.max_post_delay);
        assert!(s.max_post_delay <= 60, "the keeper may choose among {} s of signed reports", s.max_post_delay);
        for r in &s.rounds {
            // The answer is exactly the proved output value, scaled to the feed's decimals.
            let expect = i128::from(r.output_q) * 10i128.pow(s.decimals as u32) / (1i128 << s.output_frac_bits);
            assert_eq!(r.answer, expect.to_string());
            assert!(r.update_gas > 0 && r.check_gas > 0);
            let got = oracle.getRoundData(alloy::primitives::Uint::from(r.round)).call().await.unwrap();
            assert_eq!(got.answer, r.answer.parse::<I256>().unwrap(), "round {}", r.round);
            assert_eq!(u64::try_from(got.updatedAt).unwrap(), r.data_timestamp);
            assert!(got.startedAt <= got.updatedAt, "Chainlink's order");
            assert_eq!(u64::try_from(got.startedAt).unwrap(), r.data_timestamp, "startedAt is the data timestamp too");
            // The update came from the keeper and succeeded.
            let rr = provider.get_transaction_receipt(r.update_tx.parse().unwrap()).await.unwrap().unwrap();
            assert!(rr.status() && rr.from == keeper_a && rr.to == Some(oracle_a));
            let block = provider.get_block_by_number(rr.block_number.unwrap().into()).await.unwrap().unwrap();
            assert!(block.header.timestamp - r.data_timestamp <= s.max_post_delay, "posted within the post delay");
        }
        let latest = oracle.latestRoundData().call().await.unwrap();
        let last = s.rounds.last().unwrap();
        assert_eq!(latest.answer, last.answer.parse::<I256>().unwrap());
        assert_eq!(u64::try_from(latest.roundId).unwrap(), 2);
        assert!(latest.startedAt <= latest.updatedAt);
        assert_eq!(u64::try_from(latest.updatedAt).unwrap(), last.data_timestamp);

        // The attacker's doctored update: a valid proof of a crash price, sent twice as real
        // transactions, both reverted on-chain; the feed and the loan are as the keeper left them.
        let a = s.attack.as_ref().expect("the attack ran");
        assert_eq!(a.attacker.parse::<Address>().unwrap(), attacker_a);
        assert!(a.proof_valid, "the attacker's proof itself verifies");
        assert!(!a.would_be_healthy, "the doctored answer would have liquidated the loan");
        assert!((a.doctored_price - a.honest_price / 2.0).abs() < 1e-9);
        let doctored = a.answer.parse::<f64>().unwrap() / 10f64.powi(s.decimals as i32);
        assert!(doctored < 0.75 * last.price_now, "doctored answer {doctored}");
        assert_eq!(a.attacker_error, format!("ZkmlSignedOracle.NotAnUpdater({attacker_a})"));
        assert_eq!(a.keeper_error, format!("ZkmlSignedOracle.NotASigner(0, {attacker_a})"));
        for (tx, from, gas) in [(&a.attacker_tx, attacker_a, a.attacker_gas), (&a.keeper_tx, keeper_a, a.keeper_gas)] {
            let r =
                provider.get_transaction_receipt(tx.parse().unwrap()).await.unwrap().expect("the attack tx was mined");
            assert!(!r.status(), "the attacker's update must revert on-chain");
            assert_eq!((r.from, r.to, r.gas_used), (from, Some(oracle_a), gas));
        }
        assert!(a.data_timestamp > last.data_timestamp, "fresh data: not refused for its time");
        assert!(monitor.healthy().call().await.unwrap(), "the loan stays healthy");
        assert_eq!(monitor.lastPrice().call().await.unwrap(), latest.answer, "the consumer read the latest answer");
        assert_eq!(u64::try_from(monitor.lastRound().call().await.unwrap()).unwrap(), 2);
        assert_eq!(u64::try_from(monitor.checks().call().await.unwrap()).unwrap(), 2);

        // The agent-payment flow.
        let p = s.payment.as_ref().expect("the payment flow ran");
        let addr = |a: &str| a.parse::<Address>().unwrap();
        let (escrow_a, validator_a, agent, provider_a) =
            (addr(&p.escrow), addr(&p.validator), addr(&p.agent), addr(&p.provider));
        let usdc = ITestUSDC::new(addr(&p.usdc), &provider);
        let escrow = IZkmlEscrow::new(escrow_a, &provider);
        let registry = IERC8004Validation::new(addr(&p.validation_registry), &provider);
        let request_id: B256 = p.request_id.parse().unwrap();
        let request2: B256 = p.tampered_request_id.parse().unwrap();
        let bal = |a: Address| {
            let usdc = &usdc;
            async move { u64::try_from(usdc.balanceOf(a).call().await.unwrap()).unwrap() }
        };

        // The provider was paid exactly once: one Released event, for the paid request.
        let logs = provider
            .get_logs(
                &Filter::new().address(escrow_a).event_signature(IZkmlEscrow::Released::SIGNATURE_HASH).from_block(0),
            )
            .await
            .unwrap();
        assert_eq!(logs.len(), 1, "Released events");
        let rel = logs[0].log_decode::<IZkmlEscrow::Released>().unwrap().inner.data;
        assert_eq!((rel.requestId, rel.provider, rel.amount), (request_id, provider_a, U256::from(PRICE)));
        assert_eq!(bal(provider_a).await, PRICE);
        assert_eq!(escrow.requests(request_id).call().await.unwrap().status, Status::Released);
        assert_eq!(p.double_release_refused, "ZkmlEscrow.NotOpen(Released)");
        // Sold over HTTP: the provider's zkml serve, from the provider's account, opened the
        // request and released it with its proof, in the Released event's transaction.
        assert!(p.server_url.starts_with("http://127.0.0.1:"), "{}", p.server_url);
        for (tx, what) in [(&p.open_tx, "opening"), (&p.release_tx, "release")] {
            let r = provider.get_transaction_receipt(tx.parse().unwrap()).await.unwrap().expect(what);
            assert_eq!((r.from, r.to, r.status()), (provider_a, Some(escrow_a), true), "the {what}");
        }
        assert_eq!(logs[0].transaction_hash.unwrap().to_string(), p.release_tx);

        // The payment was the agent's signed EIP-3009 authorization: its nonce is spent.
        let nonce: B256 = p.payment_payload["payload"]["authorization"]["nonce"].as_str().unwrap().parse().unwrap();
        assert!(usdc.authorizationState(agent, nonce).call().await.unwrap());
        assert_eq!(
            p.payment_payload["payload"]["authorization"]["from"].as_str().unwrap().parse::<Address>().unwrap(),
            agent
        );

        // ERC-8004: the registry holds response 100 from our validator, and the validator kept
        // the proved input and output.
        let st = registry.getValidationStatus(request_id).call().await.unwrap();
        assert_eq!((st.validatorAddress, st.response, st.tag.as_str()), (validator_a, 100, "zkml"));
        assert_eq!(u64::try_from(st.agentId).unwrap(), p.provider_agent_id);
        let sum = registry.getSummary(st.agentId, vec![validator_a], "zkml".into()).call().await.unwrap();
        assert_eq!((sum.count, sum.avgResponse), (1, 100));
        let res = IZkmlValidator::new(validator_a, &provider).resultOf(request_id).call().await.unwrap();
        assert_eq!(
            res.client, agent,
            "the validation's client is the payer: its request hash is the escrow's request id"
        );
        assert_eq!(res.inputHash, escrow.requests(request_id).call().await.unwrap().inputHash);
        assert_ne!(res.outputHash, B256::ZERO);
        assert_eq!(res.outputHash, rel.outputHash, "both proofs prove the same output");
        assert_eq!(
            p.cross_context_refused,
            ["ZkmlValidator.WrongRequest".to_string(), "ZkmlEscrow.WrongRequest".to_string()]
        );
        assert_eq!(p.unasked_validation_refused, "ZkmlValidator.ClientDidNotAsk");
        assert!(p.respond_gas > 0 && p.release_gas > 0);

        // The tampered proof: a mined transaction to the escrow that reverted, before the deadline.
        assert_eq!(p.tampered_error, "ZkmlEscrow.InvalidProof");
        let tr = provider
            .get_transaction_receipt(p.tampered_tx.parse().unwrap())
            .await
            .unwrap()
            .expect("the tampered tx was mined");
        assert!(!tr.status(), "the tampered release must revert");
        assert_eq!(tr.to, Some(escrow_a));
        assert_eq!(tr.from, provider_a);
        let tblock = provider.get_block_by_number(tr.block_number.unwrap().into()).await.unwrap().unwrap();
        assert!(tblock.header.timestamp <= p.tampered_deadline, "it reverted for the proof, not the deadline");

        // The refund after the deadline (anvil's clock moved): the agent got the second payment back.
        assert_eq!(p.early_refund_refused, "ZkmlEscrow.DeadlineNotReached");
        let rr = provider
            .get_transaction_receipt(p.refund_tx.as_deref().expect("refunded").parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(rr.status());
        let rblock = provider.get_block_by_number(rr.block_number.unwrap().into()).await.unwrap().unwrap();
        assert!(rblock.header.timestamp > p.tampered_deadline);
        assert!(
            p.tampered_deadline >= tblock.header.timestamp + DEADLINE_SECONDS - 120,
            "deadline ~{DEADLINE_SECONDS} s after opening"
        );
        assert_eq!(escrow.requests(request2).call().await.unwrap().status, Status::Refunded);
        assert_eq!(bal(agent).await, 10_000_000 - PRICE, "the agent paid once and was refunded once");
        assert_eq!(bal(escrow_a).await, 0);
        let last = p.balances.last().unwrap();
        assert_eq!((last.agent, last.escrow, last.provider), (10_000_000 - PRICE, 0, PRICE));
    });
    // The paid forecast is a price too.
    let p = s.payment.as_ref().unwrap();
    let paid = p.answer.parse::<f64>().unwrap() / 10f64.powi(s.decimals as i32);
    assert!(paid > 0.5 && paid < 10.0, "paid forecast {paid}");
    // The proved price is a price: near the series' price (within 5%).
    for r in &s.rounds {
        let p = r.answer.parse::<f64>().unwrap() / 10f64.powi(s.decimals as i32);
        assert!((p / r.price_now - 1.0).abs() < 0.05, "round {}: proved {p}, price {}", r.round, r.price_now);
    }
}

#[test]
fn a_missing_anvil_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_oracle-demo"))
        .args(["--rounds", "1"])
        .env("ZKML_DEMO_ANVIL", "/nonexistent/anvil")
        .env_remove("ZKML_PRIVATE_KEY")
        .env_remove("ZKML_DEMO_PRIVATE_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot start anvil"), "{stderr}");
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let e = Anvil::start(Some(port)).err().expect("the port is taken").to_string();
    assert!(e.contains("already taken"), "{e}");
    // The binary with --port: exit 1 and the reason.
    let out = Command::new(env!("CARGO_BIN_EXE_oracle-demo"))
        .args(["--rounds", "1", "--port", &port.to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("port {port}")) && stderr.contains("already taken"), "{stderr}");
    drop(l);
}

#[test]
fn rpc_url_without_a_key_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_oracle-demo"))
        .args(["--rounds", "1", "--rpc-url", "http://127.0.0.1:9"])
        .env_remove("ZKML_PRIVATE_KEY")
        .env_remove("ZKML_DEMO_PRIVATE_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs a key"), "{stderr}");
}

#[test]
fn a_reverting_transaction_is_a_clear_error() {
    // Move the chain's clock 10 days ahead: round 1's data (stamped with the wall clock) is then
    // stale and ZkmlOracle.update reverts.
    let anvil = Anvil::start(None).expect("start anvil");
    let provider = ProviderBuilder::new().connect_http(anvil.url.parse().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        provider.raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (864_000u64,)).await.unwrap();
        provider.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await.unwrap();
    });
    let out = Command::new(env!("CARGO_BIN_EXE_oracle-demo"))
        .args(["--rounds", "2", "--rpc-url", &anvil.url]) // (round 2 would check a forged answer first)
        .env("ZKML_PRIVATE_KEY", ANVIL_DEV_KEY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("round 1: ZkmlSignedOracle.update reverted: ZkmlSignedOracle.StaleData"), "{stderr}");
    assert!(!stderr.contains(&ANVIL_DEV_KEY[2..]), "the key was printed");
}

/// oracle-demo/abi/ is the ABI solc compiles for the contracts bound from it, entry for entry;
/// with ZKML_WRITE_ABI=1 this writes it again from the contracts.
#[test]
fn abi_files_are_the_contracts_abi() {
    use oracle_demo::bindings::{ABI_FILES, check_abi_files};
    let root = repo_root();
    ensure_toolchain(&root).unwrap();
    let sources: Vec<(String, String)> = ABI_FILES
        .iter()
        .map(|f| (f.source.to_string(), std::fs::read_to_string(root.join(f.source)).unwrap()))
        .collect();
    let abis = zkml_verifier_gen::solc::compile(&root.join("script/solc"), &root, &sources).unwrap().abis();
    if std::env::var_os("ZKML_WRITE_ABI").is_some() {
        for f in ABI_FILES {
            std::fs::write(root.join(f.file), serde_json::to_string_pretty(&abis[f.contract]).unwrap() + "\n").unwrap();
        }
        return;
    }
    let problems = check_abi_files(&abis).unwrap();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
