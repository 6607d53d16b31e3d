//! Settling an `exact` payment that passed `exact::check`: first the reference facilitator's
//! on-chain checks — the nonce unused (`authorizationState`), the payer's balance enough, the
//! transfer simulated (`eth_call`) — then `transferWithAuthorization` sent from the server's
//! account, whose receipt must succeed and hold the token's `Transfer(from, payTo, value)`. A
//! payment refused before the transaction costs the payer nothing and the server no gas.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;

use crate::exact::Authorized;

#[allow(
    clippy::too_many_arguments,
    reason = "sol! gives each contract function a builder with one argument per Solidity parameter"
)]
mod token {
    alloy::sol! {
        /// The EIP-3009 token calls settling needs (contracts/interfaces/IERC3009.sol, whose import
        /// of OpenZeppelin's IERC20 `sol!` cannot follow).
        #[sol(rpc)]
        interface IEip3009Token {
            event Transfer(address indexed from, address indexed to, uint256 value);
            function balanceOf(address account) external view returns (uint256);
            function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);
            function transferWithAuthorization(
                address from,
                address to,
                uint256 value,
                uint256 validAfter,
                uint256 validBefore,
                bytes32 nonce,
                uint8 v,
                bytes32 r,
                bytes32 s
            ) external;
        }
    }
}
pub use token::IEip3009Token;

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
    let token = IEip3009Token::new(payment.asset, provider);
    let t = &payment.transfer;
    if token.authorizationState(t.from, t.nonce).call().await.map_err(rpc)? {
        return Err(SettleError::NonceUsed { from: t.from, nonce: t.nonce });
    }
    let balance = token.balanceOf(t.from).call().await.map_err(rpc)?;
    if balance < t.value {
        return Err(SettleError::Balance { from: t.from, balance, value: t.value });
    }
    let sig = &payment.signature;
    let call = token.transferWithAuthorization(
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
    let transferred = receipt.inner.logs().iter().any(|log| {
        log.address() == payment.asset
            && log
                .log_decode::<IEip3009Token::Transfer>()
                .is_ok_and(|e| e.inner.from == t.from && e.inner.to == t.to && e.inner.value == t.value)
    });
    if !transferred {
        return Err(SettleError::NoTransfer { tx });
    }
    Ok(Settled { tx, block: receipt.block_number })
}
