//! Settling an `exact` payment that passed `exact::check`: first the reference facilitator's
//! on-chain checks — the nonce unused (`authorizationState`), the payer's balance enough, the
//! transfer simulated (`eth_call`) — then `transferWithAuthorization` sent from the server's
//! account, whose receipt must succeed and hold the token's `Transfer(from, payTo, value)`. A
//! payment refused before the transaction costs the payer nothing and the server no gas.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::sol_types::SolEvent;

use crate::exact::Authorized;

#[allow(
    clippy::too_many_arguments,
    reason = "sol! gives each contract function a builder with one argument per Solidity parameter"
)]
mod token {
    // EIP-3009 as USDC implements it, from the project's own interface file (`sol!` skips its
    // import of OpenZeppelin's IERC20, so the ERC-20 part is declared below).
    alloy::sol!(
        #[sol(rpc)]
        "../contracts/interfaces/IERC3009.sol"
    );
    alloy::sol! {
        /// What settling also asks of the token: IERC3009.sol's ERC-20 part (from OpenZeppelin's
        /// IERC20, which `sol!` cannot follow) and its EIP-712 domain (EIP-5267, or USDC's
        /// `name()` and `version()`).
        #[sol(rpc)]
        interface IToken {
            event Transfer(address indexed from, address indexed to, uint256 value);
            function balanceOf(address account) external view returns (uint256);
            function name() external view returns (string);
            function version() external view returns (string);
            function eip712Domain() external view returns (
                bytes1 fields,
                string name,
                string version,
                uint256 chainId,
                address verifyingContract,
                bytes32 salt,
                uint256[] extensions
            );
        }
    }
}
pub use token::{IERC3009, IToken};

/// A settled payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// The settlement transaction.
    pub tx: B256,
    /// Its block.
    pub block: Option<u64>,
}

/// Why a payment was not settled; the variants before `Reverted` are refusals before any
/// transaction.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettleError {
    /// The nonce was used (or cancelled): a replayed payment.
    #[error("authorization nonce {nonce} of {from} was used already")]
    NonceUsed {
        /// The payer.
        from: Address,
        /// The nonce.
        nonce: B256,
    },
    /// The payer cannot pay.
    #[error("the payer {from} holds {balance}, less than {value}")]
    Balance {
        /// The payer.
        from: Address,
        /// Its balance.
        balance: U256,
        /// The price.
        value: U256,
    },
    /// The token would refuse the transfer (its revert).
    #[error("the token refuses the transfer: {0}")]
    Simulation(String),
    /// The chain could not be asked or the transaction not sent.
    #[error("the chain: {0}")]
    Rpc(String),
    /// The settlement transaction was mined but reverted.
    #[error("the settlement transaction {tx} reverted")]
    Reverted {
        /// The transaction.
        tx: B256,
    },
    /// The settlement transaction succeeded without the expected transfer.
    #[error("the settlement transaction {tx} holds no Transfer of the price to payTo")]
    NoTransfer {
        /// The transaction.
        tx: B256,
    },
}

/// Settles `payment` through `provider`, whose wallet pays the gas; see the module's doc.
pub async fn settle<P: Provider>(provider: &P, payment: &Authorized) -> Result<Settled, SettleError> {
    let rpc = |e: alloy::contract::Error| SettleError::Rpc(e.to_string());
    let (eip3009, token) = (IERC3009::new(payment.asset, provider), IToken::new(payment.asset, provider));
    let t = &payment.transfer;
    if eip3009.authorizationState(t.from, t.nonce).call().await.map_err(rpc)? {
        return Err(SettleError::NonceUsed { from: t.from, nonce: t.nonce });
    }
    let balance = token.balanceOf(t.from).call().await.map_err(rpc)?;
    if balance < t.value {
        return Err(SettleError::Balance { from: t.from, balance, value: t.value });
    }
    let sig = &payment.signature;
    let call = eip3009.transferWithAuthorization(
        t.from,
        t.to,
        t.value,
        t.validAfter,
        t.validBefore,
        t.nonce,
        27 + u8::from(sig.v()),
        sig.r().into(),
        sig.s().into(),
    );
    call.call().await.map_err(|e| SettleError::Simulation(e.to_string()))?;
    let receipt = call.send().await.map_err(rpc)?.get_receipt().await.map_err(|e| SettleError::Rpc(e.to_string()))?;
    let tx = receipt.transaction_hash;
    if !receipt.status() {
        return Err(SettleError::Reverted { tx });
    }
    if !transferred(&receipt, payment) {
        return Err(SettleError::NoTransfer { tx });
    }
    Ok(Settled { tx, block: receipt.block_number })
}

/// The settlement of `payment` already on the chain, if there is one: the transaction that
/// used its nonce (the token's `AuthorizationUsed` log), holding the transfer. A server stopped
/// after sending a settlement and before recording it finds it here instead of refusing the
/// payment as replayed. (The nonce's only use is this transfer: EIP-3009 binds it to the
/// signed terms, and a cancelled authorization logs no `AuthorizationUsed`.)
pub async fn find<P: Provider>(provider: &P, payment: &Authorized) -> Result<Option<Settled>, SettleError> {
    let rpc = |e: alloy::transports::TransportError| SettleError::Rpc(e.to_string());
    let t = &payment.transfer;
    let used = Filter::new()
        .address(payment.asset)
        .event_signature(IERC3009::AuthorizationUsed::SIGNATURE_HASH)
        .topic1(t.from.into_word())
        .topic2(t.nonce)
        .from_block(0u64);
    let logs = provider.get_logs(&used).await.map_err(rpc)?;
    let Some(tx) = logs.iter().find_map(|l| l.transaction_hash) else { return Ok(None) };
    let receipt = provider.get_transaction_receipt(tx).await.map_err(rpc)?;
    let receipt = receipt.ok_or_else(|| SettleError::Rpc(format!("no receipt for the settlement {tx}")))?;
    if !receipt.status() || !transferred(&receipt, payment) {
        return Err(SettleError::NoTransfer { tx });
    }
    Ok(Some(Settled { tx, block: receipt.block_number }))
}

/// Whether `receipt` holds the token's `Transfer` of `payment`.
fn transferred(receipt: &TransactionReceipt, payment: &Authorized) -> bool {
    let t = &payment.transfer;
    receipt.inner.logs().iter().any(|log| {
        log.address() == payment.asset
            && log
                .log_decode::<IToken::Transfer>()
                .is_ok_and(|e| e.inner.from == t.from && e.inner.to == t.to && e.inner.value == t.value)
    })
}

/// Why the token's EIP-712 domain could not be settled on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// The token tells neither its domain (EIP-5267 `eip712Domain()`) nor `version()`.
    #[error("the token {asset} does not say its EIP-712 {what} (no eip712Domain(), no {what}()): give it")]
    Unknown {
        /// The token.
        asset: Address,
        /// `name` or `version`.
        what: &'static str,
    },
    /// The domain named does not hash to the token's `DOMAIN_SEPARATOR()`: buyers' signatures
    /// would be refused.
    #[error(
        "the EIP-712 domain (name {name:?}, version {version:?}, chain {chain_id}, token {asset}) is not the \
         token's: its DOMAIN_SEPARATOR() is {expected}, the domain's {found}"
    )]
    Mismatch {
        /// The token.
        asset: Address,
        /// The name.
        name: String,
        /// The version.
        version: String,
        /// The chain.
        chain_id: u64,
        /// The token's separator.
        expected: B256,
        /// The domain's.
        found: B256,
    },
}

/// The token's EIP-712 domain name and version, which an `exact` offer names in `extra` and
/// buyers sign in: `name` and `version` as given, else as the token says (EIP-5267's
/// `eip712Domain()`, else `name()` / `version()`). Checked against the token's
/// `DOMAIN_SEPARATOR()` when it has one, so that a misconfigured offer is found before a buyer
/// signs for it.
pub async fn discover_domain<P: Provider>(
    provider: &P,
    asset: Address,
    chain_id: u64,
    name: Option<String>,
    version: Option<String>,
) -> Result<(String, String), DomainError> {
    let token = IToken::new(asset, provider);
    let declared = token.eip712Domain().call().await.ok();
    let name = match (name, &declared) {
        (Some(n), _) => n,
        (None, Some(d)) => d.name.clone(),
        (None, None) => token.name().call().await.map_err(|_| DomainError::Unknown { asset, what: "name" })?,
    };
    let version = match (version, &declared) {
        (Some(v), _) => v,
        (None, Some(d)) => d.version.clone(),
        (None, None) => token.version().call().await.map_err(|_| DomainError::Unknown { asset, what: "version" })?,
    };
    if let Ok(expected) = IERC3009::new(asset, provider).DOMAIN_SEPARATOR().call().await {
        let found = crate::exact::token_domain(name.clone(), version.clone(), chain_id, asset).separator();
        if found != expected {
            return Err(DomainError::Mismatch { asset, name, version, chain_id, expected, found });
        }
    }
    Ok((name, version))
}
