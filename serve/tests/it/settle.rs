//! Settling `exact` payments on a real chain (anvil) against contracts/testing/TestUSDC.sol, an
//! EIP-3009 token as USDC implements it: an honest payment, checked by `exact::check` and settled,
//! moves the price from the payer to payTo; a replay, a payer without the funds and a payment the
//! token refuses (signed in the domain a misconfigured offer names) are refused before any
//! transaction.

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use oracle_demo::anvil::{ANVIL_DEV_KEY, Anvil, ensure_toolchain, repo_root};
use serde_json::json;
use zkml_serve::exact::{self, TransferWithAuthorization};
use zkml_serve::settle::{IEip3009Token, SettleError, settle};
use zkml_serve::x402::{PaymentPayload, PaymentRequirements};
use zkml_verifier_gen::solc;

const PRICE: u64 = 1_500_000;

alloy::sol! {
    /// contracts/testing/TestUSDC.sol: anyone may mint.
    #[sol(rpc)]
    interface ITestUsdc {
        function mint(address to, uint256 amount) external;
    }
}

fn offer(chain_id: u64, asset: Address, pay_to: Address) -> PaymentRequirements {
    PaymentRequirements {
        scheme: exact::SCHEME.into(),
        network: format!("eip155:{chain_id}"),
        amount: PRICE.to_string(),
        asset: asset.to_checksum(None),
        pay_to: pay_to.to_checksum(None),
        max_timeout_seconds: 60,
        extra: json!({"name": "USD Coin", "version": "2"}),
    }
}

/// `payer`'s signed payment of `offer` with `nonce`, valid from `now − 60` for ten minutes.
fn payment(
    offer: &PaymentRequirements,
    chain_id: u64,
    payer: &PrivateKeySigner,
    nonce: u8,
    now: u64,
) -> PaymentPayload {
    let t = TransferWithAuthorization {
        from: payer.address(),
        to: offer.pay_to.parse().unwrap(),
        value: U256::from(PRICE),
        validAfter: U256::from(now - 60),
        validBefore: U256::from(now + 600),
        nonce: B256::repeat_byte(nonce),
    };
    crate::signed_payment(offer, chain_id, &t, payer)
}

/// Mints the price to `to`: TestUSDC lets anyone.
async fn mint<P: Provider>(provider: &P, token: Address, to: Address) {
    ITestUsdc::new(token, provider).mint(to, U256::from(PRICE)).send().await.unwrap().get_receipt().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn an_exact_payment_is_settled_once_and_only_when_the_payer_can_pay() {
    let root = repo_root();
    ensure_toolchain(&root).unwrap();
    let source = std::fs::read_to_string(root.join("contracts/testing/TestUSDC.sol")).unwrap();
    let codes =
        solc::compile(&root.join("script/solc"), &root, &[("contracts/testing/TestUSDC.sol".into(), source)]).unwrap();
    let anvil = Anvil::start(None).unwrap();
    let server: PrivateKeySigner = ANVIL_DEV_KEY.parse().unwrap();
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(server)).connect_http(anvil.url.parse().unwrap());
    let chain_id = provider.get_chain_id().await.unwrap();
    let mut code = codes.code("TestUSDC").unwrap();
    code.extend(("USD Coin".to_string(), "2".to_string()).abi_encode_params());
    let deployed = provider.send_transaction(TransactionRequest::default().with_deploy_code(code)).await.unwrap();
    let asset = deployed.get_receipt().await.unwrap().contract_address.unwrap();
    let token = IEip3009Token::new(asset, &provider);

    let payer = PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap();
    let pay_to = Address::repeat_byte(0xbb);
    mint(&provider, asset, payer.address()).await;

    let now = provider.get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp;
    let offers = [offer(chain_id, asset, pay_to)];
    let paid = exact::check(&offers, chain_id, &payment(&offers[0], chain_id, &payer, 1, now), now).unwrap();
    let settled = settle(&provider, &paid).await.unwrap();
    assert!(settled.block.is_some());
    assert_eq!(token.balanceOf(pay_to).call().await.unwrap(), U256::from(PRICE));
    assert_eq!(token.balanceOf(payer.address()).call().await.unwrap(), U256::ZERO);

    // The same payment again: its nonce is spent.
    let e = settle(&provider, &paid).await.unwrap_err();
    assert!(matches!(e, SettleError::NonceUsed { .. }), "{e}");
    // A fresh nonce, but the payer has nothing left.
    let broke = exact::check(&offers, chain_id, &payment(&offers[0], chain_id, &payer, 2, now), now).unwrap();
    let e = settle(&provider, &broke).await.unwrap_err();
    assert!(matches!(e, SettleError::Balance { .. }), "{e}");
    // An offer naming the token's EIP-712 domain wrongly (version 1): the signature checks
    // against the offer, but the token refuses it, before any transaction.
    mint(&provider, asset, payer.address()).await;
    let mut wrong = offer(chain_id, asset, pay_to);
    wrong.extra = json!({"name": "USD Coin", "version": "1"});
    let misdomained =
        exact::check(&[wrong.clone()], chain_id, &payment(&wrong, chain_id, &payer, 3, now), now).unwrap();
    let e = settle(&provider, &misdomained).await.unwrap_err();
    assert!(matches!(e, SettleError::Simulation(_)), "{e}");
    assert_eq!(token.balanceOf(pay_to).call().await.unwrap(), U256::from(PRICE), "nothing more moved");
}
