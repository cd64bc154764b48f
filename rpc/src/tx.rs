//! The wire format clients sign and send: [`Hash32`], [`Transaction`] and its [`Payload`],
//! [`SignedTransaction`], and a numbering signer ([`Wallet`]). The node decodes exactly these bytes;
//! they live here so a client links them without the node's storage.
//!
//! ```
//! use opmeter_rpc::tx::Wallet;
//! use opmeter_vm::{Address, U256};
//! let mut wallet = Wallet::new(ed25519_dalek::SigningKey::from_bytes(&[1; 32]), "opmeter-dev");
//! let tx = wallet.transfer(Address([2; 32]), U256::from(5u64));
//! assert_eq!(tx.tx.nonce, 0);
//! assert_eq!(wallet.nonce, 1);
//! tx.verify(&tx.hash()).unwrap();
//! ```

use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use opmeter_vm::{Address, U256};

/// Borsh encoding of [`U256`] as 32 little-endian bytes.
pub mod borsh_u256 {
    use super::U256;
    use std::io::{Read, Result, Write};

    /// Writes 32 little-endian bytes.
    ///
    /// # Errors
    /// When the writer fails.
    pub fn serialize<W: Write>(value: &U256, writer: &mut W) -> Result<()> {
        writer.write_all(&value.to_little_endian())
    }

    /// Reads 32 little-endian bytes.
    ///
    /// # Errors
    /// When the reader runs out of bytes.
    pub fn deserialize<R: Read>(reader: &mut R) -> Result<U256> {
        let mut bytes = [0u8; 32];
        reader.read_exact(&mut bytes)?;
        Ok(U256::from_little_endian(&bytes))
    }
}

/// A 32-byte blake3 hash (transactions, blocks, roots).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// `0x`-prefixed lowercase hex.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// Parses 32 bytes of hex, with or without `0x`.
    ///
    /// # Errors
    /// When the text is not 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Hash32, hex::FromHexError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.strip_prefix("0x").unwrap_or(text), &mut out)?;
        Ok(Hash32(out))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Domain separator prepended to the bytes an account signs.
pub const TX_SIGNING_DOMAIN: &[u8] = b"opmeter/tx/v1";

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Payload {
    /// Moves `amount` from the sender to `to`.
    Transfer {
        /// Recipient.
        to: Address,
        /// Amount moved.
        #[borsh(
            serialize_with = "borsh_u256::serialize",
            deserialize_with = "borsh_u256::deserialize"
        )]
        amount: U256,
    },
    /// Uploads code (stored once per code hash) and creates an instance at
    /// `Address::for_contract(sender, blake3(code), salt)`, running `init` with `init_input`.
    Deploy {
        /// The original wasm bytes.
        code: Vec<u8>,
        /// Input of `init` (JSON for sdk contracts).
        init_input: Vec<u8>,
        /// Salt of the address derivation.
        salt: Vec<u8>,
        /// Value moved to the new contract.
        #[borsh(
            serialize_with = "borsh_u256::serialize",
            deserialize_with = "borsh_u256::deserialize"
        )]
        value: U256,
    },
    /// Calls a method of a deployed contract.
    Call {
        /// The contract.
        contract: Address,
        /// The exported method.
        method: String,
        /// Input bytes (JSON for sdk contracts).
        input: Vec<u8>,
        /// Value moved to the contract before the call runs.
        #[borsh(
            serialize_with = "borsh_u256::serialize",
            deserialize_with = "borsh_u256::deserialize"
        )]
        value: U256,
    },
}

impl Payload {
    /// The value the payload moves out of the sender's balance.
    pub fn value(&self) -> U256 {
        match self {
            Payload::Transfer { amount, .. } => *amount,
            Payload::Deploy { value, .. } | Payload::Call { value, .. } => *value,
        }
    }

    /// A short name: `transfer`, `deploy` or `call`.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Transfer { .. } => "transfer",
            Payload::Deploy { .. } => "deploy",
            Payload::Call { .. } => "call",
        }
    }
}

/// An unsigned transaction. Its canonical encoding is borsh; its hash is blake3 of that encoding.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Transaction {
    /// The chain this transaction is valid on (replay protection across chains).
    pub chain_id: String,
    /// The sender's ed25519 public key; the sender's address is derived from it.
    pub public_key: [u8; 32],
    /// The sender's next nonce (replay protection on this chain).
    pub nonce: u64,
    /// Most gas the transaction may use, intrinsic gas included.
    pub gas_limit: u64,
    /// Price of one unit of gas, in the chain's smallest unit.
    #[borsh(
        serialize_with = "borsh_u256::serialize",
        deserialize_with = "borsh_u256::deserialize"
    )]
    pub gas_price: U256,
    /// What it does.
    pub payload: Payload,
}

impl Transaction {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    /// `blake3` of the canonical encoding.
    pub fn hash(&self) -> Hash32 {
        Hash32(*blake3::hash(&self.encode()).as_bytes())
    }

    /// The sender's address.
    pub fn sender(&self) -> Address {
        Address::for_public_key(&self.public_key)
    }

    /// The bytes a sender signs: the domain separator followed by the transaction hash.
    pub fn signing_bytes(&self) -> Vec<u8> {
        signing_bytes(&self.hash())
    }

    /// Signs the transaction with `key` (whose public key must be `self.public_key`).
    pub fn sign(self, key: &SigningKey) -> SignedTransaction {
        let signature = key.sign(&self.signing_bytes()).to_bytes();
        SignedTransaction {
            tx: self,
            signature,
        }
    }

    /// The most the sender can spend: `gas_limit × gas_price + value`, `None` on overflow.
    pub fn max_cost(&self) -> Option<U256> {
        U256::from(self.gas_limit)
            .checked_mul(self.gas_price)?
            .checked_add(self.payload.value())
    }
}

fn signing_bytes(hash: &Hash32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(TX_SIGNING_DOMAIN.len() + 32);
    bytes.extend_from_slice(TX_SIGNING_DOMAIN);
    bytes.extend_from_slice(&hash.0);
    bytes
}

/// A transaction with the sender's ed25519 signature over
/// [`TX_SIGNING_DOMAIN`] ‖ `blake3(borsh(tx))`. This is what travels and what blocks contain.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// Ed25519 signature (64 bytes).
    pub signature: [u8; 64],
}

impl SignedTransaction {
    /// The encoding sent over the wire and stored in blocks.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    /// Decodes wire bytes; trailing bytes are an error.
    ///
    /// # Errors
    /// When the bytes are not exactly one encoded signed transaction.
    pub fn decode(bytes: &[u8]) -> Result<SignedTransaction, std::io::Error> {
        borsh::from_slice(bytes)
    }

    /// The transaction hash (of the unsigned transaction).
    pub fn hash(&self) -> Hash32 {
        self.tx.hash()
    }

    /// Checks the signature (strict: rejects malleable signatures and small-order keys).
    ///
    /// # Errors
    /// When the public key is invalid or the signature does not verify.
    pub fn verify(&self, hash: &Hash32) -> Result<(), ed25519_dalek::SignatureError> {
        let key = VerifyingKey::from_bytes(&self.tx.public_key)?;
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(&signing_bytes(hash), &signature)
    }
}

/// A signer that numbers its transactions.
///
/// ```
/// use opmeter_rpc::tx::Wallet;
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
