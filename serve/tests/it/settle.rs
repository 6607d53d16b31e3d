//! Settling `exact` payments on a real chain (anvil) against contracts/testing/TestUSDC.sol, an
//! EIP-3009 token as USDC implements it: an honest payment, checked by `exact::check` and settled,
//! moves the price from the payer to payTo; a replay, a payer without the funds and a payment the
//! token refuses (signed in the domain a misconfigured offer names) are refused before any
//! transaction.

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use serde_json::json;
use zkml_serve::catalog::Pricing;
use zkml_serve::exact::{self, TransferWithAuthorization};
use zkml_serve::settle::{DomainError, IToken, SettleError, discover_domain, settle};
use zkml_serve::x402::{PaymentPayload, PaymentRequirements};

use crate::Chain;

const PRICE: u64 = 1_500_000;

fn offer(chain_id: u64, asset: Address, pay_to: Address) -> PaymentRequirements {
    let (token_name, token_version) = ("USD Coin".into(), "2".into());
    let amount = U256::from(PRICE);
    Pricing {
        chain_id,
        asset,
        token_name,
        token_version,
        pay_to,
        amount,
        max_timeout_seconds: 60,
        escrow_deadline_seconds: 900,
    }
    .offer()
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

#[tokio::test(flavor = "current_thread")]
async fn an_exact_payment_is_settled_once_and_only_when_the_payer_can_pay() {
    let chain = Chain::start().await;
    let (provider, chain_id, asset) = (&chain.provider, chain.chain_id, chain.asset);
    let token = IToken::new(asset, provider);

    let payer = PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap();
    let pay_to = Address::repeat_byte(0xbb);
    chain.mint(payer.address(), PRICE).await;

    let now = chain.now().await;
    let offers = [offer(chain_id, asset, pay_to)];
    let paid = exact::check(&offers, chain_id, &payment(&offers[0], chain_id, &payer, 1, now), now).unwrap();
    let settled = settle(provider, &paid).await.unwrap();
    assert!(settled.block.is_some());
    assert_eq!(token.balanceOf(pay_to).call().await.unwrap(), U256::from(PRICE));
    assert_eq!(token.balanceOf(payer.address()).call().await.unwrap(), U256::ZERO);

    // The same payment again: its nonce is spent.
    let e = settle(provider, &paid).await.unwrap_err();
    assert!(matches!(e, SettleError::NonceUsed { .. }), "{e}");
    // A fresh nonce, but the payer has nothing left.
    let broke = exact::check(&offers, chain_id, &payment(&offers[0], chain_id, &payer, 2, now), now).unwrap();
    let e = settle(provider, &broke).await.unwrap_err();
    assert!(matches!(e, SettleError::Balance { .. }), "{e}");
    // An offer naming the token's EIP-712 domain wrongly (version 1): the signature checks
    // against the offer, but the token refuses it, before any transaction.
    chain.mint(payer.address(), PRICE).await;
    let mut wrong = offer(chain_id, asset, pay_to);
    wrong.extra = json!({"name": "USD Coin", "version": "1"});
    let misdomained =
        exact::check(&[wrong.clone()], chain_id, &payment(&wrong, chain_id, &payer, 3, now), now).unwrap();
    let e = settle(provider, &misdomained).await.unwrap_err();
    assert!(matches!(e, SettleError::Simulation(_)), "{e}");
    assert_eq!(token.balanceOf(pay_to).call().await.unwrap(), U256::from(PRICE), "nothing more moved");
}

/// The token's EIP-712 domain is found on-chain (TestUSDC says it by EIP-5267), and a domain
/// named wrongly is refused at start, before any buyer signs in it.
#[tokio::test(flavor = "current_thread")]
async fn the_token_domain_is_asked_of_the_token_and_checked() {
    let chain = Chain::start().await;
    let (p, id, asset) = (&chain.provider, chain.chain_id, chain.asset);
    let found = discover_domain(p, asset, id, None, None).await.unwrap();
    assert_eq!(found, ("USD Coin".to_string(), "2".to_string()));
    let given = discover_domain(p, asset, id, Some("USD Coin".into()), Some("2".into())).await.unwrap();
    assert_eq!(given, found);
    let e = discover_domain(p, asset, id, None, Some("1".into())).await.unwrap_err();
    assert!(matches!(e, DomainError::Mismatch { .. }), "{e}");
    let e = discover_domain(p, asset, id + 1, None, None).await.unwrap_err();
    assert!(matches!(e, DomainError::Mismatch { .. }), "another chain's domain: {e}");
}
