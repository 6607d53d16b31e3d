//! Interoperability with x402's reference clients, which no one here wrote: each buys one proved
//! price_mlp inference from the zkml-serve binary on anvil by `exact`, unchanged but for the
//! spend controls a buyer sets for a token its client does not know. The sale is then checked as
//! a buyer would: the price moved once, on-chain, and the proof is accepted by the model's
//! generated Solidity verifier, bound to this payment, and refused once tampered.

use std::process::Command;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use oracle_demo::anvil::{ANVIL_DEV_KEY, repo_root};
use serde_json::Value;
use zkml_serve::http::payment_context;
use zkml_serve::settle::{IERC3009, IToken};
use zkml_serve::worker::Inference;
use zkml_serve::x402::{PAYMENT_RESPONSE, SettlementResponse, decode_header};
use zkml_verifier_gen::keys::VerifierKey;
use zkml_verifier_gen::solc;

use crate::http::PRICE;

/// The reference Python client's version (the TypeScript client's is pinned in package.json).
const X402_PYTHON: &str = "2.25.0";
use crate::{Chain, price_mlp};

/// The model's Solidity verifier (`zkml-gen solidity`), compiled and deployed on `chain`.
pub(crate) async fn deploy_verifier(chain: &Chain) -> Address {
    deploy_verifier_of(chain, price_mlp()).await
}

/// The Solidity verifier of the model in `dir`, compiled and deployed on `chain`.
pub(crate) async fn deploy_verifier_of(chain: &Chain, dir: &std::path::Path) -> Address {
    let root = repo_root();
    let src = VerifierKey::load(dir, true).unwrap().solidity("ModelVerifier", Default::default()).unwrap();
    let codes = solc::compile(&root.join("script/solc"), &root, &[("ModelVerifier.sol".into(), src)]).unwrap();
    let code = codes.code("ModelVerifier").unwrap();
    let sent = chain.provider.send_transaction(TransactionRequest::default().with_deploy_code(code)).await.unwrap();
    sent.get_receipt().await.unwrap().contract_address.unwrap()
}

/// Whether the verifier at `at` accepts `calldata` (a revert counts as no).
async fn accepts(chain: &Chain, at: Address, calldata: Vec<u8>) -> bool {
    let call = TransactionRequest::default().to(at).input(Bytes::from(calldata).into());
    chain.provider.call(call).await.ok().and_then(|r| bool::abi_decode(&r).ok()).unwrap_or(false)
}

/// What the only sale to `buyer` must leave: the price moved once from the buyer to the
/// server's account, and the proof as [`check_proof`] says.
pub(crate) async fn check_sale(
    chain: &Chain,
    verifier: Address,
    answer: &Inference,
    receipt: &SettlementResponse,
    buyer: Address,
) {
    // The server's account, paid by default.
    let pay_to = ANVIL_DEV_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let token = IToken::new(chain.asset, &chain.provider);
    assert_eq!(token.balanceOf(pay_to).call().await.unwrap(), U256::from(PRICE));
    check_proof(chain, verifier, answer, receipt, buyer).await;
}

/// What a sale to `buyer` (minted the price) must leave: the buyer's price spent by the
/// receipt's transaction, and a proof that the model's Solidity verifier (at `verifier`)
/// accepts, bound to the authorization that transaction used.
pub(crate) async fn check_proof(
    chain: &Chain,
    verifier: Address,
    answer: &Inference,
    receipt: &SettlementResponse,
    buyer: Address,
) {
    assert!(receipt.success);
    assert_eq!(&answer.payment, receipt);
    assert_eq!(receipt.payer.as_deref(), Some(buyer.to_checksum(None).as_str()));
    let token = IToken::new(chain.asset, &chain.provider);
    assert_eq!(token.balanceOf(buyer).call().await.unwrap(), U256::ZERO);
    let tx: B256 = receipt.transaction.parse().unwrap();
    let mined = chain.provider.get_transaction_receipt(tx).await.unwrap().unwrap();
    assert!(mined.status());
    let used = mined.inner.logs().iter().find_map(|l| l.log_decode::<IERC3009::AuthorizationUsed>().ok()).unwrap();
    assert_eq!(used.inner.authorizer, buyer);
    let context = payment_context(chain.chain_id, chain.asset, buyer, used.inner.nonce);
    assert_eq!(answer.context, context.to_string());
    assert_eq!(answer.public_inputs[1], context.to_string(), "public input 1 is the context");

    let calldata = alloy::hex::decode(&answer.calldata).unwrap();
    assert!(accepts(chain, verifier, calldata.clone()).await, "the generated verifier accepts the proof");
    let mut tampered = calldata;
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(!accepts(chain, verifier, tampered).await, "and refuses it tampered");
}

/// Runs a reference client's driver (serve/tests/clients/`driver`) with `program`, buying
/// price_mlp from a fresh zkml-serve on anvil (`env`: the driver's own variables), and checks
/// the sale.
async fn buys_a_proved_inference(program: &str, driver: &str, env: &[(&str, String)]) {
    let chain = Chain::start().await;
    // Deployed first: the server sends from the same account, and the provider caches its nonce.
    let verifier = deploy_verifier(&chain).await;
    let (_server, base) = crate::start(crate::zkml_serve(&chain, PRICE).arg("--allow-dev-keys"));
    let buyer = PrivateKeySigner::random();
    chain.mint(buyer.address(), PRICE).await;
    let out = Command::new(program)
        .arg(repo_root().join("serve/tests/clients").join(driver))
        .arg(format!("{base}/v1/models/price_mlp/inferences"))
        .arg(crate::price_mlp_input())
        .env("BUYER_KEY", buyer.to_bytes().to_string())
        .env("NETWORK", format!("eip155:{}", chain.chain_id))
        .env("ASSET", chain.asset.to_checksum(None))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let said: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(said["status"], 200, "{said}");
    let answer: Inference = serde_json::from_str(said["body"].as_str().unwrap()).unwrap();
    let receipt: SettlementResponse =
        decode_header(PAYMENT_RESPONSE, said["paymentResponse"].as_str().unwrap()).unwrap();
    check_sale(&chain, verifier, &answer, &receipt, buyer.address()).await;
}

/// The reference TypeScript client: `@x402/fetch` + `@x402/evm` with a viem local account
/// (serve/tests/clients/buy.mjs, pinned in package.json).
#[tokio::test(flavor = "current_thread")]
async fn stock_x402_ts_client_buys_a_proved_inference() {
    buys_a_proved_inference("node", "buy.mjs", &[]).await;
}

/// The reference Python client: PyPI's `x402` with an eth-account signer and httpx
/// (serve/tests/clients/buy.py), installed at its pinned version by script/python-package.sh.
#[tokio::test(flavor = "current_thread")]
async fn stock_x402_python_client_buys_a_proved_inference() {
    let out = Command::new(repo_root().join("script/python-package.sh"))
        .args(["x402[evm,clients]", X402_PYTHON, "x402"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = String::from_utf8(out.stdout).unwrap().trim().to_string();
    buys_a_proved_inference("python3", "buy.py", &[("PYTHONPATH", path)]).await;
}
