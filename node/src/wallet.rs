//! Signing transactions: a key, the chain it signs for, and the next nonce.

use ed25519_dalek::SigningKey;
use opmeter_vm::{Address, U256};

use crate::types::{Payload, SignedTransaction, Transaction};

/// A signer that numbers its transactions.
///
/// ```
/// use opmeter_node::wallet::Wallet;
/// use opmeter_vm::{Address, U256};
/// let mut wallet = Wallet::new(ed25519_dalek::SigningKey::from_bytes(&[1; 32]), "opmeter-dev");
/// let tx = wallet.transfer(Address([2; 32]), U256::from(5u64));
/// assert_eq!(tx.tx.nonce, 0);
/// assert_eq!(wallet.nonce, 1);
/// tx.verify(&tx.hash()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Wallet {
    /// The signing key.
    pub key: SigningKey,
    /// The chain id it signs for.
    pub chain_id: String,
    /// The nonce of the next transaction.
    pub nonce: u64,
    /// Gas limit of the next transactions.
    pub gas_limit: u64,
    /// Gas price of the next transactions.
    pub gas_price: U256,
}

impl Wallet {
    /// A wallet starting at nonce 0, gas limit 10,000,000, gas price 1.
    pub fn new(key: SigningKey, chain_id: &str) -> Wallet {
        Wallet {
            key,
            chain_id: chain_id.into(),
            nonce: 0,
            gas_limit: 10_000_000,
            gas_price: U256::one(),
        }
    }

    /// The account address.
    pub fn address(&self) -> Address {
        Address::for_public_key(&self.key.verifying_key().to_bytes())
    }

    /// The unsigned transaction for `payload` with the next nonce (does not advance it).
    pub fn unsigned(&self, payload: Payload) -> Transaction {
        Transaction {
            chain_id: self.chain_id.clone(),
            public_key: self.key.verifying_key().to_bytes(),
            nonce: self.nonce,
            gas_limit: self.gas_limit,
            gas_price: self.gas_price,
            payload,
        }
    }

    /// Signs `payload` with the next nonce and advances it.
    pub fn sign(&mut self, payload: Payload) -> SignedTransaction {
        let signed = self.unsigned(payload).sign(&self.key);
        self.nonce += 1;
        signed
    }

    /// A value transfer.
    pub fn transfer(&mut self, to: Address, amount: U256) -> SignedTransaction {
        self.sign(Payload::Transfer { to, amount })
    }

    /// A deployment; `init` is the JSON input of `init`.
    pub fn deploy(&mut self, code: &[u8], init: &str, salt: &[u8]) -> SignedTransaction {
        self.sign(Payload::Deploy {
            code: code.to_vec(),
            init_input: init.as_bytes().to_vec(),
            salt: salt.to_vec(),
            value: U256::zero(),
        })
    }

    /// A call with JSON arguments and no value.
    pub fn call(&mut self, contract: Address, method: &str, args: &str) -> SignedTransaction {
        self.sign(Payload::Call {
            contract,
            method: method.into(),
            input: args.as_bytes().to_vec(),
            value: U256::zero(),
        })
    }
}
