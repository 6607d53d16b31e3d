//! Runs the demo binary for 2 rounds against an anvil this test starts, then reads the chain.

use std::process::Command;

use alloy::primitives::{Address, I256};
use alloy::providers::ProviderBuilder;
use alloy::sol;
use oracle_demo::Summary;
use oracle_demo::anvil::{ANVIL_DEV_KEY, Anvil};

sol! {
    #[sol(rpc)]
    interface IOracle {
        function latestRoundData() external view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
        function getRoundData(uint80 roundId) external view returns (uint80, int256 answer, uint256, uint256 updatedAt, uint80);
        function latestRound() external view returns (uint80);
        function modelId() external view returns (uint256);
        function decimals() external view returns (uint8);
    }
    #[sol(rpc)]
    interface IMonitor {
        function lastPrice() external view returns (int256);
        function lastRound() external view returns (uint80);
        function checks() external view returns (uint256);
    }
}

#[test]
fn two_rounds_land_on_chain_as_proved() {
    let anvil = Anvil::start(None).expect("start anvil");
    let tmp = tempfile::tempdir().unwrap();
    let summary_path = tmp.path().join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_oracle-demo"))
        .args(["--rounds", "2", "--rpc-url", &anvil.url, "--summary"])
        .arg(&summary_path)
        .env("ZKML_DEMO_PRIVATE_KEY", ANVIL_DEV_KEY)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed\n{stdout}\n{stderr}");
    assert!(!stdout.contains(&ANVIL_DEV_KEY[2..]) && !stderr.contains(&ANVIL_DEV_KEY[2..]), "the key was printed");
    let s: Summary = serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    assert_eq!(s.rounds.len(), 2);
    assert_eq!(s.forged_answer_refused.as_deref(), Some("InvalidProof"));

    let provider = ProviderBuilder::new().connect_http(anvil.url.parse().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let oracle = IOracle::new(s.oracle.parse::<Address>().unwrap(), &provider);
        let monitor = IMonitor::new(s.monitor.parse::<Address>().unwrap(), &provider);
        assert_eq!(oracle.modelId().call().await.unwrap().to_string(), s.model_id);
        assert_eq!(oracle.decimals().call().await.unwrap(), s.decimals);
        assert_eq!(u64::try_from(oracle.latestRound().call().await.unwrap()).unwrap(), 2);
        for r in &s.rounds {
            // The answer is exactly the proved output value, scaled to the feed's decimals.
            let expect = i128::from(r.output_q) * 10i128.pow(s.decimals as u32) / (1i128 << s.output_frac_bits);
            assert_eq!(r.answer, expect.to_string());
            assert!(r.update_gas > 0 && r.check_gas > 0);
            let got = oracle.getRoundData(alloy::primitives::Uint::from(r.round)).call().await.unwrap();
            assert_eq!(got.answer, r.answer.parse::<I256>().unwrap(), "round {}", r.round);
            assert_eq!(u64::try_from(got.updatedAt).unwrap(), r.data_timestamp);
        }
        let latest = oracle.latestRoundData().call().await.unwrap();
        let last = s.rounds.last().unwrap();
        assert_eq!(latest.answer, last.answer.parse::<I256>().unwrap());
        assert_eq!(monitor.lastPrice().call().await.unwrap(), latest.answer, "the consumer read the latest answer");
        assert_eq!(u64::try_from(monitor.lastRound().call().await.unwrap()).unwrap(), 2);
        assert_eq!(u64::try_from(monitor.checks().call().await.unwrap()).unwrap(), 2);
    });
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
}

#[test]
fn rpc_url_without_a_key_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_oracle-demo"))
        .args(["--rounds", "1", "--rpc-url", "http://127.0.0.1:9"])
        .env_remove("ZKML_DEMO_PRIVATE_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs a key"), "{stderr}");
}
