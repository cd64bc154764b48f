//! The typed async Rust client. [`OpmeterApiClient`] (generated from the same trait that serves
//! the methods) works over [`HttpClient`] and [`WsClient`]; [`Signer`] adds an account that
//! estimates, signs, sends and waits, so a Rust dapp never writes JSON.
//!
//! ```no_run
//! # async fn demo() -> Result<(), opmeter_rpc::client::ClientError> {
//! use opmeter_rpc::client::{http, OpmeterApiClient, Signer};
//! let client = http("http://127.0.0.1:8645")?;
//! let head = client.chain_head().await?;
//! let signer = Signer::new(&client, ed25519_dalek::SigningKey::from_bytes(&[1; 32])).await?;
//! let receipt = signer.transfer(opmeter_vm::Address([2; 32]), 5u64.into()).await?;
//! assert_eq!(receipt.status, "success");
//! # let _ = head; Ok(()) }
//! ```

use ed25519_dalek::SigningKey;
use opmeter_vm::{Address, U256};
use parking_lot::Mutex;
use serde_json::Value;

pub use crate::api::OpmeterApiClient;
use crate::types::*;
pub use jsonrpsee::http_client::HttpClient;
pub use jsonrpsee::ws_client::WsClient;
use opmeter_ledger::encoding::HexBytes;
use opmeter_ledger::tx::{Payload, Transaction};

/// What a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The transport failed, or the server returned an error (its code is in the error object).
    #[error(transparent)]
    Rpc(#[from] jsonrpsee::core::client::Error),
    /// The server answered something this client cannot use.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

impl ClientError {
    /// The JSON-RPC error code, when the server returned an error.
    pub fn code(&self) -> Option<i32> {
        match self {
            ClientError::Rpc(jsonrpsee::core::client::Error::Call(object)) => Some(object.code()),
            ClientError::Rpc(_) | ClientError::Unexpected(_) => None,
        }
    }
}

/// An HTTP client for `url` (`http://host:port`).
///
/// # Errors
/// A malformed URL.
pub fn http(url: &str) -> Result<HttpClient, ClientError> {
    Ok(jsonrpsee::http_client::HttpClientBuilder::default()
        .request_timeout(std::time::Duration::from_secs(120))
        .build(url)?)
}

/// A WebSocket client for `url` (`ws://host:port`); needed for subscriptions.
///
/// # Errors
/// The connection failed.
pub async fn ws(url: &str) -> Result<WsClient, ClientError> {
    Ok(jsonrpsee::ws_client::WsClientBuilder::default()
        .request_timeout(std::time::Duration::from_secs(120))
        .build(url)
        .await?)
}

/// The input bytes of JSON arguments: their compact encoding, nothing for `null`.
pub fn json_input(args: &Value) -> Vec<u8> {
    if args.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(args).unwrap_or_default()
    }
}

/// Extra gas on top of the verified estimate, in percent, so that a state change between the
/// estimate and the block does not fail the transaction. Only used gas is paid.
pub const GAS_MARGIN_PERCENT: u64 = 20;

/// An account that sends transactions through a client: fetches the chain id, gas price and
/// nonce, estimates gas (verified by the node), signs, sends and waits for the receipt. Sends
/// from one signer are meant to be sequential (each waits for its receipt).
#[derive(Debug)]
pub struct Signer<'c, C> {
    client: &'c C,
    key: SigningKey,
    chain_id: String,
    gas_price: U256,
    block_gas_limit: u64,
    next_nonce: Mutex<Option<u64>>,
}

impl<'c, C: OpmeterApiClient + Sync> Signer<'c, C> {
    /// A signer for `key` on the chain `client` talks to.
    ///
    /// # Errors
    /// When `chain_info` fails.
    pub async fn new(client: &'c C, key: SigningKey) -> Result<Signer<'c, C>, ClientError> {
        let info = client.chain_info().await?;
        Ok(Signer {
            client,
            key,
            chain_id: info.chain_id,
            gas_price: info.min_gas_price.0,
            block_gas_limit: info.block_gas_limit.0,
            next_nonce: Mutex::new(None),
        })
    }

    /// The account's address.
    pub fn address(&self) -> Address {
        Address::for_public_key(&self.key.verifying_key().to_bytes())
    }

    /// The chain id it signs for.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    async fn nonce(&self) -> Result<u64, ClientError> {
        let cached = *self.next_nonce.lock();
        match cached {
            Some(nonce) => Ok(nonce),
            None => Ok(self
                .client
                .account_get(self.address().into(), None)
                .await?
                .pending_nonce),
        }
    }

    /// Signs `payload` with `gas_limit` (or the verified estimate plus
    /// [`GAS_MARGIN_PERCENT`]) and the next nonce; returns the signed encoding.
    ///
    /// # Errors
    /// Estimation fails (the transaction would fail at any limit); transport errors.
    pub async fn sign(
        &self,
        payload: Payload,
        gas_limit: Option<u64>,
    ) -> Result<(HexBytes, Transaction), ClientError> {
        let gas_limit = match gas_limit {
            Some(limit) => limit,
            None => {
                let limit = self.estimate(&payload).await?.gas_limit.0;
                limit
                    .saturating_add(limit / 100 * GAS_MARGIN_PERCENT)
                    .min(self.block_gas_limit)
                    .max(limit)
            }
        };
        let tx = Transaction {
            chain_id: self.chain_id.clone(),
            public_key: self.key.verifying_key().to_bytes(),
            nonce: self.nonce().await?,
            gas_limit,
            gas_price: self.gas_price,
            payload,
        };
        let signed = tx.clone().sign(&self.key);
        Ok((HexBytes(signed.encode()), tx))
    }

    /// The node's verified estimate for `payload` from this account.
    ///
    /// # Errors
    /// [`crate::ErrorCode::ExecutionFailed`] when it fails at any limit; transport errors.
    pub async fn estimate(&self, payload: &Payload) -> Result<EstimateView, ClientError> {
        let tx = TxRequest::from(payload);
        Ok(self
            .client
            .contract_estimate_gas(EstimateArgs {
                from: self.address(),
                tx,
            })
            .await?)
    }

    /// Signs and sends `payload`, waits for the receipt, and advances the nonce.
    ///
    /// # Errors
    /// Admission refusals (the nonce is re-read next time), estimation, transport errors.
    pub async fn send(
        &self,
        payload: Payload,
        gas_limit: Option<u64>,
    ) -> Result<ReceiptView, ClientError> {
        let (raw, tx) = self.sign(payload, gas_limit).await?;
        match self.client.tx_send_raw_and_wait(raw).await {
            Ok(receipt) => {
                *self.next_nonce.lock() = Some(tx.nonce + 1);
                Ok(receipt)
            }
            Err(e) => {
                *self.next_nonce.lock() = None;
                Err(e.into())
            }
        }
    }

    /// Sends `amount` to `to`.
    ///
    /// # Errors
    /// As [`Signer::send`].
    pub async fn transfer(&self, to: Address, amount: U256) -> Result<ReceiptView, ClientError> {
        self.send(Payload::Transfer { to, amount }, None).await
    }

    /// Deploys `code`, running `init` with `args` (JSON); the receipt carries the address.
    ///
    /// # Errors
    /// As [`Signer::send`].
    pub async fn deploy(
        &self,
        code: &[u8],
        args: &Value,
        salt: &[u8],
    ) -> Result<ReceiptView, ClientError> {
        self.send(
            Payload::Deploy {
                code: code.to_vec(),
                init_input: json_input(args),
                salt: salt.to_vec(),
                value: U256::zero(),
            },
            None,
        )
        .await
    }

    /// Calls `method` of `contract` with JSON `args` in a transaction.
    ///
    /// # Errors
    /// As [`Signer::send`].
    pub async fn call(
        &self,
        contract: Address,
        method: &str,
        args: &Value,
    ) -> Result<ReceiptView, ClientError> {
        self.send(
            Payload::Call {
                contract,
                method: method.into(),
                input: json_input(args),
                value: U256::zero(),
            },
            None,
        )
        .await
    }

    /// Runs `method` read-only as this account.
    ///
    /// # Errors
    /// Transport errors, limits.
    pub async fn query(
        &self,
        contract: Address,
        method: &str,
        args: &Value,
    ) -> Result<CallResultView, ClientError> {
        Ok(self
            .client
            .contract_call(
                CallArgs {
                    from: Some(self.address().into()),
                    contract: contract.into(),
                    method: method.into(),
                    args: Some(args.clone()).filter(|a| !a.is_null()),
                    ..CallArgs::default()
                },
                None,
            )
            .await?)
    }
}
