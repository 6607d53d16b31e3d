//! `zkml pay` end to end: the `zkml-serve` binary on anvil sells price_mlp by `zkml-escrow` too
//! (its escrow given with `--escrow`, answering at once: `--wait-seconds 0`); the `zkml-pay`
//! binary (what `zkml pay` runs) buys one inference: 402, paid into the escrow, 202, the job
//! polled until proved, the proof verified against the buyer's copy of the verifying key and the
//! output read from it. Then the server releases the escrow: the price moved buyer → escrow →
//! seller, once. An offer above the buyer's price or deadline limit is refused before anything
//! is signed.

use std::process::Command;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use zkml_serve::escrow::{self, IZkmlEscrow};
use zkml_serve::settle::IToken;
use zkml_serve::worker::Inference;

use crate::escrow::{deploy_for_price_mlp, until_released};
use crate::http::PRICE;
use crate::{Chain, data_dir, price_mlp, price_mlp_input, start, zkml_serve_in};

/// `zkml-pay` buying price_mlp from `base` for `buyer`, paying at most `max_price`.
fn zkml_pay(chain: &Chain, base: &str, buyer: &PrivateKeySigner, max_price: u64, escrow: Address) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zkml-pay"));
    c.env("ZKML_PAY_KEY", buyer.to_bytes().to_string())
        .arg(base)
        .args(["--model", price_mlp().to_str().unwrap(), "--input", price_mlp_input().to_str().unwrap()])
        .args(["--chain-id", &chain.chain_id.to_string(), "--asset", &chain.asset.to_string()])
        .args(["--max-price", &max_price.to_string(), "--escrow", &escrow.to_string(), "--allow-dev-keys"]);
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn zkml_pay_buys_by_escrow_and_the_proof_releases_the_price() {
    let chain = Chain::start().await;
    let (e, _) = deploy_for_price_mlp(&chain).await;
    let dir = data_dir();
    let pin = format!("price_mlp={}", e.escrow);
    let (_server, base) =
        start(zkml_serve_in(&chain, PRICE, &dir).args(["--allow-dev-keys", "--wait-seconds", "0", "--escrow", &pin]));
    let buyer = PrivateKeySigner::random();
    chain.mint(buyer.address(), PRICE).await;
    let token = IToken::new(chain.asset, &chain.provider);
    let balance = async |a: Address| token.balanceOf(a).call().await.unwrap();
    let seller = crate::binary_pricing(&chain, PRICE).pay_to;
    let seller_before = balance(seller).await;

    let cheap = zkml_pay(&chain, &base, &buyer, PRICE - 1, e.escrow).output().unwrap();
    assert!(!cheap.status.success());
    let said = String::from_utf8_lossy(&cheap.stderr);
    assert!(said.contains("more than the most you pay"), "{said}");
    let long = zkml_pay(&chain, &base, &buyer, PRICE, e.escrow).args(["--max-deadline-seconds", "600"]).output();
    let said = String::from_utf8_lossy(&long.unwrap().stderr).to_string();
    assert!(said.contains("holds your money for 900 s"), "{said}");
    assert_eq!(balance(buyer.address()).await, U256::from(PRICE), "nothing moved");

    let out = dir.join("answer.json");
    let bought = zkml_pay(&chain, &base, &buyer, PRICE, e.escrow).arg("--out").arg(&out).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&bought.stdout), String::from_utf8_lossy(&bought.stderr));
    assert!(bought.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("402: ") && stderr.contains("proved; verifying"), "{stderr}");
    let answer: Inference = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(stdout.contains(&format!("output {:?}", answer.output)), "{stdout}");

    // The request the payment opened, from the opening's Opened event.
    let tx = answer.payment.transaction.parse().unwrap();
    let receipt = chain.provider.get_transaction_receipt(tx).await.unwrap().unwrap();
    let opened = receipt.inner.logs().iter().find_map(|l| l.log_decode::<IZkmlEscrow::Opened>().ok()).unwrap();
    let request_id = opened.inner.requestId;
    assert!(stdout.contains(&request_id.to_string()), "{stdout}");
    assert_eq!(opened.inner.payer, buyer.address());
    until_released(&chain, e.escrow, request_id).await;
    assert_eq!((balance(buyer.address()).await, balance(e.escrow).await), (U256::ZERO, U256::ZERO));
    assert_eq!(balance(seller).await, seller_before + U256::from(PRICE), "the seller is paid once, by the proof");
    assert_eq!(escrow::status(&chain.provider, e.escrow, request_id).await.unwrap(), escrow::Status::Released);
}

#[test]
fn zkml_pay_without_a_key_names_the_variable_and_pays_nothing() {
    let out = Command::new(env!("CARGO_BIN_EXE_zkml-pay"))
        .env_remove("ZKML_PAY_KEY")
        .args(["http://127.0.0.1:9", "--model", price_mlp().to_str().unwrap(), "--input", "in.json"])
        .args(["--chain-id", "31337", "--asset", &Address::ZERO.to_string(), "--max-price", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("set ZKML_PAY_KEY to the private key"), "{said}");
}
