//! What clients sign and send: [`Transaction`] and its [`Payload`], [`SignedTransaction`], and a
//! numbering signer ([`Wallet`]). The node decodes exactly these bytes.
//!
//! ```
//! use opmeter_ledger::tx::Wallet;
//! use opmeter_vm::{Address, U256};
//! let mut wallet = Wallet::new(ed25519_dalek::SigningKey::from_bytes(&[1; 32]), "opmeter-dev");
//! let tx = wallet.transfer(Address([2; 32]), U256::from(5u64));
//! assert_eq!(tx.tx.nonce, 0);
//! assert_eq!(wallet.nonce, 1);
//! tx.verify(&tx.hash()).unwrap();
//! ```

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use opmeter_vm::{Address, U256};

use crate::encoding::{borsh_u256, Hash32};

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
    /// Registers a free name for a contract the sender deployed with `salt` (first come, first
    /// served); the sender owns it. See [`crate::name`].
    RegisterName {
        /// The name ([`crate::name::Name`] rules; refused at admission otherwise).
        name: String,
        /// The contract it names.
        target: Address,
        /// The salt `target` was deployed with by the sender: `target` must be
        /// `Address::for_contract(sender, its code hash, salt)`.
        salt: Vec<u8>,
    },
    /// Re-points a name the sender owns to another contract the sender deployed with `salt`.
    PointName {
        /// The name.
        name: String,
        /// The contract it names from now on.
        target: Address,
        /// The salt `target` was deployed with by the sender.
        salt: Vec<u8>,
    },
    /// Gives a name the sender owns to `new_owner` (any account); the target is unchanged.
    TransferName {
        /// The name.
        name: String,
        /// Its next owner.
        new_owner: Address,
    },
}

impl Payload {
    /// The value the payload moves out of the sender's balance.
    pub fn value(&self) -> U256 {
        match self {
            Payload::Transfer { amount, .. } => *amount,
            Payload::Deploy { value, .. } | Payload::Call { value, .. } => *value,
            Payload::RegisterName { .. }
            | Payload::PointName { .. }
            | Payload::TransferName { .. } => U256::zero(),
        }
    }

    /// A short name: `transfer`, `deploy`, `call`, `registerName`, `pointName` or
    /// `transferName`.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Transfer { .. } => "transfer",
            Payload::Deploy { .. } => "deploy",
            Payload::Call { .. } => "call",
            Payload::RegisterName { .. } => "registerName",
            Payload::PointName { .. } => "pointName",
            Payload::TransferName { .. } => "transferName",
        }
    }

    /// The name a name payload is about.
    pub fn name(&self) -> Option<&str> {
        match self {
            Payload::RegisterName { name, .. }
            | Payload::PointName { name, .. }
            | Payload::TransferName { name, .. } => Some(name),
            _ => None,
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
/// use opmeter_ledger::tx::Wallet;
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
    /// A wallet starting at nonce 0, gas limit 50,000,000 (a deploy of an sdk contract under
    /// schedule v2 fits), gas price 1.
    pub fn new(key: SigningKey, chain_id: &str) -> Wallet {
        Wallet {
            key,
            chain_id: chain_id.into(),
            nonce: 0,
            gas_limit: 50_000_000,
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

    /// Registers `name` for `target`, which this wallet deployed with `salt`.
    pub fn register_name(&mut self, name: &str, target: Address, salt: &[u8]) -> SignedTransaction {
        self.sign(Payload::RegisterName {
            name: name.into(),
            target,
            salt: salt.to_vec(),
        })
    }

    /// Re-points `name` (owned by this wallet) to `target`, deployed by this wallet with `salt`.
    pub fn point_name(&mut self, name: &str, target: Address, salt: &[u8]) -> SignedTransaction {
        self.sign(Payload::PointName {
            name: name.into(),
            target,
            salt: salt.to_vec(),
        })
    }

    /// Gives `name` (owned by this wallet) to `new_owner`.
    pub fn transfer_name(&mut self, name: &str, new_owner: Address) -> SignedTransaction {
        self.sign(Payload::TransferName {
            name: name.into(),
            new_owner,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn transfer(seed: u8, nonce: u64) -> Transaction {
        Transaction {
            chain_id: "test".into(),
            public_key: key(seed).verifying_key().to_bytes(),
            nonce,
            gas_limit: 100_000,
            gas_price: U256::from(2u64),
            payload: Payload::Transfer {
                to: Address([9; 32]),
                amount: U256::from(5u64),
            },
        }
    }

    #[test]
    fn signed_transactions_round_trip_and_verify() {
        let signed = transfer(1, 0).sign(&key(1));
        let bytes = signed.encode();
        let decoded = SignedTransaction::decode(&bytes).unwrap();
        assert_eq!(decoded, signed);
        decoded.verify(&decoded.hash()).unwrap();
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(SignedTransaction::decode(&extra).is_err(), "trailing bytes");
    }

    #[test]
    fn a_signature_by_another_key_or_over_another_tx_fails() {
        let forged = transfer(1, 0).sign(&key(2));
        assert!(forged.verify(&forged.hash()).is_err());
        let mut changed = transfer(1, 0).sign(&key(1));
        changed.tx.nonce = 1;
        assert!(changed.verify(&changed.hash()).is_err());
    }

    #[test]
    fn max_cost_is_checked() {
        let mut tx = transfer(1, 0);
        assert_eq!(tx.max_cost(), Some(U256::from(200_005u64)));
        tx.gas_price = U256::MAX;
        assert_eq!(tx.max_cost(), None);
    }

    /// The bytes every client must produce: pinned so an encoding change is a reviewed diff.
    #[test]
    fn known_answers_for_the_three_payloads() {
        let mut wallet = Wallet::new(key(7), "opmeter-dev");
        wallet.gas_limit = 1_234_567;
        wallet.gas_price = U256::from(1_000_000_007u64);
        let signed = [
            wallet.transfer(Address([0xaa; 32]), U256::exp10(21) + 1),
            wallet.deploy(
                &[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
                r#"{"start":5}"#,
                b"salt",
            ),
            wallet.call(Address([0xbb; 32]), "increment", r#"{"by":2}"#),
        ];
        let text: Vec<String> = signed
            .iter()
            .map(|s| {
                format!(
                    "unsigned {}\nhash {}\nsigning {}\nsigned {}",
                    hex::encode(s.tx.encode()),
                    s.hash(),
                    hex::encode(s.tx.signing_bytes()),
                    hex::encode(s.encode()),
                )
            })
            .collect();
        expect![[r#"
            unsigned 0b0000006f706d657465722d646576ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c000000000000000087d612000000000007ca9a3b0000000000000000000000000000000000000000000000000000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0100a0dec5adc935360000000000000000000000000000000000000000000000
            hash 0xdbc745eac8a09ea974a27406a5616ed352628195fcbc481224b8d3e60ed6372c
            signing 6f706d657465722f74782f7631dbc745eac8a09ea974a27406a5616ed352628195fcbc481224b8d3e60ed6372c
            signed 0b0000006f706d657465722d646576ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c000000000000000087d612000000000007ca9a3b0000000000000000000000000000000000000000000000000000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0100a0dec5adc9353600000000000000000000000000000000000000000000006581294c37a9b9caa0e28e6d76b30c42b8af57767592e5cc60a90848a872bff995c6d7add4b1972571c9a4e3afd8bf9bd062b2717e4ee90a3b9e09e1a4c8870e

            unsigned 0b0000006f706d657465722d646576ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c010000000000000087d612000000000007ca9a3b0000000000000000000000000000000000000000000000000000000001080000000061736d010000000b0000007b227374617274223a357d0400000073616c740000000000000000000000000000000000000000000000000000000000000000
            hash 0xa7930f93ef9e5ee37d4a8019bd7ee572aca360f389769f2ccb892fb6678cf277
            signing 6f706d657465722f74782f7631a7930f93ef9e5ee37d4a8019bd7ee572aca360f389769f2ccb892fb6678cf277
            signed 0b0000006f706d657465722d646576ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c010000000000000087d612000000000007ca9a3b0000000000000000000000000000000000000000000000000000000001080000000061736d010000000b0000007b227374617274223a357d0400000073616c74000000000000000000000000000000000000000000000000000000000000000036b15807c0ecb14c6c4c744c1ba72dc490d44a6cfe7a848c922d9fbf61fed6e77e3e71d4b32a8c0a5c1b21200a83aad09d625ec896f09cff435efb0e8762ee03

            unsigned 0b0000006f706d657465722d646576ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c020000000000000087d612000000000007ca9a3b0000000000000000000000000000000000000000000000000000000002bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb09000000696e6372656d656e74080000007b226279223a327d0000000000000000000000000000000000000000000000000000000000000000
            hash 0x3afcfcda2f81c50cbd744d7ba09d1257c49cb0413a687018e271b6ec0e7d0de3
            signing 6f706d657465722f74782f76313afcfcda2f81c50cbd744d7ba09d1257c49cb0413a687018e271b6ec0e7d0de3
            signed 0b0000006f706d657465722d646576ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c020000000000000087d612000000000007ca9a3b0000000000000000000000000000000000000000000000000000000002bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb09000000696e6372656d656e74080000007b226279223a327d0000000000000000000000000000000000000000000000000000000000000000908bf5208f641aced0938850ab660857b0715aeb4e8299ef3fe27757a7c9e882828ca6bd8f7b4b9b94ba29f3311f38a0948c1df28760b015697742bb95253c07"#]].assert_eq(&text.join("\n\n"));
        for s in &signed {
            s.verify(&s.hash()).unwrap();
        }
    }
}
