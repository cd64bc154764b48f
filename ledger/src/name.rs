//! Names: human-readable handles of contracts, kept in consensus state (`specs/names.md`).
//!
//! A name is 3–32 bytes of `[a-z0-9-]`, neither starting nor ending with `-`, and never starting
//! with `0x` (so it cannot be mistaken for an address). It is registered first come, first
//! served, by a signed transaction; the registering account owns it, can re-point it to another
//! contract it deployed, and can transfer it to any account. Its record ([`NameRecord`]) lives in
//! the state tree under `"name" ‖ name` ([`crate::state::StateKey::Name`]), so it is in every
//! state root and provable like any account or storage slot.
//!
//! Deployment is proven, not recorded: naming a contract carries the salt it was deployed with,
//! and the ledger checks `target == Address::for_contract(sender, target's code hash, salt)`.
//!
//! ```
//! use opmeter_ledger::name::{Name, NameRule};
//! assert_eq!(Name::parse("hello-world").unwrap().as_str(), "hello-world");
//! assert_eq!(Name::parse("0xabc").unwrap_err(), NameRule::AddressPrefix);
//! assert_eq!(Name::parse("Hello").unwrap_err(), NameRule::BadCharacter);
//! ```

use borsh::{BorshDeserialize, BorshSerialize};
use opmeter_vm::{Address, GasCategory, HostFn, Schedule};

use crate::tx::Payload;

/// Fewest bytes of a name.
pub const NAME_LEN_MIN: usize = 3;
/// Most bytes of a name (fits one DNS label, so `name.<domain>` is always a valid host).
pub const NAME_LEN_MAX: usize = 32;

crate::stable_codes! {
    /// The rule a malformed name breaks (stable codes, reported as the `reason` of an
    /// `invalidName` refusal).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
    pub enum NameRule: u8 {
        /// Fewer than [`NAME_LEN_MIN`] bytes.
        TooShort = 1 => "tooShort",
        /// More than [`NAME_LEN_MAX`] bytes.
        TooLong = 2 => "tooLong",
        /// A byte outside `[a-z0-9-]`.
        BadCharacter = 3 => "badCharacter",
        /// Starts or ends with `-`.
        EdgeHyphen = 4 => "edgeHyphen",
        /// Starts with `0x`: it would read as an address.
        AddressPrefix = 5 => "addressPrefix",
    }
}

impl std::fmt::Display for NameRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameRule::TooShort => "a name has at least 3 bytes",
            NameRule::TooLong => "a name has at most 32 bytes",
            NameRule::BadCharacter => "a name has only the characters a-z, 0-9 and -",
            NameRule::EdgeHyphen => "a name neither starts nor ends with -",
            NameRule::AddressPrefix => {
                "a name does not start with 0x (it would read as an address)"
            }
        })
    }
}

/// A well-formed name (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    /// Checks `text` against every rule, in the order of [`NameRule`]'s codes.
    ///
    /// # Errors
    /// The first [`NameRule`] it breaks.
    pub fn parse(text: &str) -> Result<Name, NameRule> {
        let bytes = text.as_bytes();
        if bytes.len() < NAME_LEN_MIN {
            return Err(NameRule::TooShort);
        }
        if bytes.len() > NAME_LEN_MAX {
            return Err(NameRule::TooLong);
        }
        if !bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        {
            return Err(NameRule::BadCharacter);
        }
        if bytes.first() == Some(&b'-') || bytes.last() == Some(&b'-') {
            return Err(NameRule::EdgeHyphen);
        }
        if bytes.starts_with(b"0x") {
            return Err(NameRule::AddressPrefix);
        }
        Ok(Name(text.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Name {
    type Err = NameRule;

    fn from_str(text: &str) -> Result<Name, NameRule> {
        Name::parse(text)
    }
}

/// A name's record in the state tree (`borsh`, 72 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct NameRecord {
    /// The account that may re-point and transfer it.
    pub owner: Address,
    /// The contract it names.
    pub target: Address,
    /// The block that registered it (unchanged by re-pointing and transfers).
    pub registered_height: u64,
}

/// Length of a [`NameRecord`]'s encoding.
pub const NAME_RECORD_LEN: u64 = 72;

/// The gas a name payload pays on top of the intrinsic gas, by breakdown key: what the ledger
/// does, priced as the vm prices the same state accesses (`storage_read` of the record,
/// `balance` for the target's account lookup when naming a contract, `storage_write` of the
/// record and `storage_byte_written` for its key and value bytes). Fixed by the payload's kind
/// and name length, charged whatever the outcome; `None` for other payloads.
pub fn name_gas(schedule: &Schedule, payload: &Payload) -> Option<[(GasCategory, u64); 4]> {
    let (name, names_target) = match payload {
        Payload::RegisterName { name, .. } | Payload::PointName { name, .. } => (name, true),
        Payload::TransferName { name, .. } => (name, false),
        _ => return None,
    };
    let host = &schedule.host;
    // "name" ‖ name, then the record.
    let key_len = 4u64.saturating_add(name.len() as u64);
    let bytes = key_len.saturating_add(NAME_RECORD_LEN);
    let read = host
        .storage_read
        .per_byte
        .saturating_mul(bytes)
        .saturating_add(host.storage_read.base);
    let lookup = if names_target { host.balance.base } else { 0 };
    let write = host
        .storage_write
        .per_byte
        .saturating_mul(bytes)
        .saturating_add(host.storage_write.base);
    let grown = host.storage_byte_written.saturating_mul(bytes);
    Some([
        (GasCategory::Host(HostFn::StorageRead), read),
        (GasCategory::Host(HostFn::Balance), lookup),
        (GasCategory::Host(HostFn::StorageWrite), write),
        (GasCategory::StorageBytes, grown),
    ])
}

/// The total of [`name_gas`] (0 for other payloads).
pub fn payload_gas(schedule: &Schedule, payload: &Payload) -> u64 {
    name_gas(schedule, payload).map_or(0, |parts| {
        parts
            .iter()
            .fold(0u64, |total, (_, gas)| total.saturating_add(*gas))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    /// Every rule, each with names on both sides of it.
    #[test]
    fn names_are_checked_against_every_rule() {
        let table: &[(&str, Result<(), NameRule>)] = &[
            ("abc", Ok(())),
            ("hello", Ok(())),
            ("hello-world", Ok(())),
            ("a-b", Ok(())),
            ("a--b", Ok(())),
            ("123", Ok(())),
            ("x0x", Ok(())),
            ("0xa", Err(NameRule::AddressPrefix)),
            ("0x0123456789abcdef", Err(NameRule::AddressPrefix)),
            ("0-x", Ok(())),
            ("ab", Err(NameRule::TooShort)),
            ("", Err(NameRule::TooShort)),
            ("abcdefghijklmnopqrstuvwxyz012345", Ok(())),
            ("abcdefghijklmnopqrstuvwxyz0123456", Err(NameRule::TooLong)),
            ("Hello", Err(NameRule::BadCharacter)),
            ("hello_world", Err(NameRule::BadCharacter)),
            ("hello.test", Err(NameRule::BadCharacter)),
            ("héllo", Err(NameRule::BadCharacter)),
            ("hi ", Err(NameRule::BadCharacter)),
            ("-abc", Err(NameRule::EdgeHyphen)),
            ("abc-", Err(NameRule::EdgeHyphen)),
            ("---", Err(NameRule::EdgeHyphen)),
        ];
        for (text, expected) in table {
            let got = Name::parse(text).map(|n| assert_eq!(n.as_str(), *text));
            assert_eq!(got, *expected, "{text:?}");
        }
        let pinned: Vec<(u8, &str)> = NameRule::ALL.iter().map(|r| (r.code(), r.name())).collect();
        expect![[r#"[(1, "tooShort"), (2, "tooLong"), (3, "badCharacter"), (4, "edgeHyphen"), (5, "addressPrefix")]"#]]
            .assert_eq(&format!("{pinned:?}"));
    }

    /// The name gas of both schedules, per payload kind, for a 5-byte name: consensus numbers.
    #[test]
    fn name_gas_is_pinned() {
        let payloads = [
            Payload::RegisterName {
                name: "hello".into(),
                target: Address([1; 32]),
                salt: vec![],
            },
            Payload::PointName {
                name: "hello".into(),
                target: Address([1; 32]),
                salt: vec![],
            },
            Payload::TransferName {
                name: "hello".into(),
                new_owner: Address([1; 32]),
            },
        ];
        let mut text = String::new();
        for schedule in [Schedule::v1(), Schedule::v2()] {
            for payload in &payloads {
                let parts = name_gas(&schedule, payload).unwrap();
                let parts: Vec<String> = parts
                    .iter()
                    .map(|(category, gas)| format!("{} {gas}", category.key()))
                    .collect();
                text.push_str(&format!(
                    "v{} {}: {} = {}\n",
                    schedule.version,
                    payload.kind(),
                    parts.join(", "),
                    payload_gas(&schedule, payload)
                ));
            }
        }
        expect![[r#"
            v1 registerName: storage_read 2162, balance 1000, storage_write 5162, storage_bytes 4050 = 12374
            v1 pointName: storage_read 2162, balance 1000, storage_write 5162, storage_bytes 4050 = 12374
            v1 transferName: storage_read 2162, balance 0, storage_write 5162, storage_bytes 4050 = 11374
            v2 registerName: storage_read 2162, balance 1000, storage_write 90162, storage_bytes 4050 = 97374
            v2 pointName: storage_read 2162, balance 1000, storage_write 90162, storage_bytes 4050 = 97374
            v2 transferName: storage_read 2162, balance 0, storage_write 90162, storage_bytes 4050 = 96374
        "#]].assert_eq(&text);
        let call = Payload::Transfer {
            to: Address([1; 32]),
            amount: opmeter_vm::U256::one(),
        };
        assert_eq!(name_gas(&Schedule::v1(), &call), None);
        assert_eq!(payload_gas(&Schedule::v1(), &call), 0);
    }

    #[test]
    fn a_record_is_72_bytes() {
        let record = NameRecord {
            owner: Address([1; 32]),
            target: Address([2; 32]),
            registered_height: 3,
        };
        assert_eq!(
            borsh::to_vec(&record).unwrap().len() as u64,
            NAME_RECORD_LEN
        );
    }

    mod transition {
        use std::collections::BTreeMap;
        use std::sync::Arc;

        use ed25519_dalek::SigningKey;
        use opmeter_vm::{BlockContext, CodeHash, StateError, StateView, Vm, U256};
        use parking_lot::RwLock;

        use super::super::*;
        use crate::block::{intrinsic_gas, Account, Receipt, ReceiptStatus};
        use crate::transition::{
            execute_transaction, LedgerState, TransitionError, TxEnv, TxInput,
        };
        use crate::tx::{SignedTransaction, Wallet};

        /// Accounts and names in memory (no contract code runs in these tests).
        #[derive(Default)]
        struct Ledger {
            accounts: RwLock<BTreeMap<Address, Account>>,
            names: RwLock<BTreeMap<Name, NameRecord>>,
        }

        impl StateView for Ledger {
            fn storage(&self, _: &Address, _: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
                Ok(None)
            }
            fn balance(&self, account: &Address) -> Result<U256, StateError> {
                Ok(LedgerState::account(self, account)?.balance)
            }
            fn contract_code(&self, address: &Address) -> Result<Option<CodeHash>, StateError> {
                Ok(LedgerState::account(self, address)?.code_hash)
            }
            fn code(&self, _: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError> {
                Ok(None)
            }
        }

        impl LedgerState for Ledger {
            fn account(&self, address: &Address) -> Result<Account, StateError> {
                Ok(self
                    .accounts
                    .read()
                    .get(address)
                    .cloned()
                    .unwrap_or_default())
            }
            fn set_account(&self, address: Address, account: Account) -> Result<(), StateError> {
                self.accounts.write().insert(address, account);
                Ok(())
            }
            fn credit(&self, address: Address, amount: U256) -> Result<(), TransitionError> {
                let mut accounts = self.accounts.write();
                let account = accounts.entry(address).or_default();
                account.balance += amount;
                Ok(())
            }
            fn put_code(&self, _: CodeHash, _: Arc<[u8]>) {}
            fn set_storage(
                &self,
                _: Address,
                _: Vec<u8>,
                _: Option<Vec<u8>>,
            ) -> Result<(), StateError> {
                Ok(())
            }
            fn name(&self, name: &Name) -> Result<Option<NameRecord>, StateError> {
                Ok(self.names.read().get(name).copied())
            }
            fn set_name(&self, name: &Name, record: NameRecord) -> Result<(), StateError> {
                self.names.write().insert(name.clone(), record);
                Ok(())
            }
        }

        struct World {
            vm: Vm,
            ledger: Arc<Ledger>,
            alice: Wallet,
            bob: Wallet,
            height: u64,
        }

        impl World {
            fn new() -> World {
                let ledger = Arc::new(Ledger::default());
                let alice = Wallet::new(SigningKey::from_bytes(&[1; 32]), "t");
                let bob = Wallet::new(SigningKey::from_bytes(&[2; 32]), "t");
                for wallet in [&alice, &bob] {
                    ledger
                        .set_account(
                            wallet.address(),
                            Account {
                                balance: U256::from(u64::MAX),
                                ..Account::default()
                            },
                        )
                        .unwrap();
                }
                World {
                    vm: Vm::new(Schedule::v1()),
                    ledger,
                    alice,
                    bob,
                    height: 1,
                }
            }

            /// A contract deployed by `deployer` with `salt` (its account only).
            fn contract(&self, deployer: Address, salt: &[u8]) -> Address {
                let code_hash = CodeHash([salt.len() as u8; 32]);
                let address = Address::for_contract(&deployer, &code_hash, salt);
                self.ledger
                    .set_account(
                        address,
                        Account {
                            code_hash: Some(code_hash),
                            ..Account::default()
                        },
                    )
                    .unwrap();
                address
            }

            fn run(&mut self, signed: SignedTransaction) -> Receipt {
                let len = u32::try_from(signed.encode().len()).unwrap();
                let env = TxEnv {
                    vm: &self.vm,
                    block: BlockContext {
                        height: self.height,
                        timestamp_ms: self.height,
                    },
                    index: 0,
                    fee_collector: Address([0xfe; 32]),
                    trace: None,
                };
                let input = TxInput {
                    tx: &signed.tx,
                    hash: signed.hash(),
                    sender: signed.tx.sender(),
                    intrinsic_gas: intrinsic_gas(self.vm.schedule(), len),
                };
                self.height += 1;
                let receipt = execute_transaction(env, &self.ledger, input)
                    .unwrap()
                    .receipt;
                assert_eq!(receipt.breakdown_total(), receipt.gas_used);
                receipt
            }

            fn record(&self, name: &str) -> Option<NameRecord> {
                self.ledger.name(&Name::parse(name).unwrap()).unwrap()
            }
        }

        #[test]
        fn register_taken_transfer_and_repoint() {
            let mut w = World::new();
            let (alice, bob) = (w.alice.address(), w.bob.address());
            let first = w.contract(alice, b"one");
            let second = w.contract(alice, b"two");
            let bobs = w.contract(bob, b"three");

            // Registering someone else's contract, or with the wrong salt, is refused.
            let tx = w.alice.register_name("hello", bobs, b"three");
            assert_eq!(w.run(tx).status, ReceiptStatus::NotDeployer);
            let tx = w.alice.register_name("hello", first, b"two");
            assert_eq!(w.run(tx).status, ReceiptStatus::NotDeployer);
            let tx = w.alice.register_name("hello", alice, b"");
            assert_eq!(
                w.run(tx).status,
                ReceiptStatus::NotDeployer,
                "not a contract"
            );
            assert_eq!(w.record("hello"), None);

            let tx = w.alice.register_name("hello", first, b"one");
            let receipt = w.run(tx);
            assert_eq!(receipt.status, ReceiptStatus::Success);
            let registered = receipt.height;
            assert_eq!(
                w.record("hello"),
                Some(NameRecord {
                    owner: alice,
                    target: first,
                    registered_height: registered
                })
            );

            // Taken: by the owner as by anyone else.
            let tx = w.bob.register_name("hello", bobs, b"three");
            assert_eq!(w.run(tx).status, ReceiptStatus::NameTaken);
            let tx = w.alice.register_name("hello", second, b"two");
            assert_eq!(w.run(tx).status, ReceiptStatus::NameTaken);

            // Only the owner re-points, to a contract it deployed.
            let tx = w.bob.point_name("hello", bobs, b"three");
            assert_eq!(w.run(tx).status, ReceiptStatus::NotNameOwner);
            let tx = w.alice.point_name("hello", bobs, b"three");
            assert_eq!(w.run(tx).status, ReceiptStatus::NotDeployer);
            let tx = w.alice.point_name("hello", second, b"two");
            assert_eq!(w.run(tx).status, ReceiptStatus::Success);
            assert_eq!(w.record("hello").unwrap().target, second);

            // Only the owner transfers; the new owner may re-point to its own contracts.
            let tx = w.bob.transfer_name("hello", bob);
            assert_eq!(w.run(tx).status, ReceiptStatus::NotNameOwner);
            let tx = w.alice.transfer_name("hello", bob);
            assert_eq!(w.run(tx).status, ReceiptStatus::Success);
            assert_eq!(
                w.record("hello"),
                Some(NameRecord {
                    owner: bob,
                    target: second,
                    registered_height: registered
                })
            );
            let tx = w.alice.transfer_name("hello", alice);
            assert_eq!(w.run(tx).status, ReceiptStatus::NotNameOwner);
            let tx = w.bob.point_name("hello", bobs, b"three");
            assert_eq!(w.run(tx).status, ReceiptStatus::Success);
            assert_eq!(w.record("hello").unwrap().target, bobs);

            // Unknown and malformed names.
            let tx = w.bob.transfer_name("nobody", alice);
            assert_eq!(w.run(tx).status, ReceiptStatus::NameNotFound);
            let tx = w.bob.point_name("nobody", bobs, b"three");
            assert_eq!(w.run(tx).status, ReceiptStatus::NameNotFound);
            let tx = w.bob.register_name("Bad_Name", bobs, b"three");
            assert_eq!(w.run(tx).status, ReceiptStatus::InvalidName);
        }

        /// A failed name operation pays its gas and consumes the nonce; nothing else changes.
        #[test]
        fn failures_pay_and_out_of_gas_uses_the_limit() {
            let mut w = World::new();
            let alice = w.alice.address();
            let first = w.contract(alice, b"one");
            let before = w.ledger.account(&alice).unwrap();
            let tx = w.alice.register_name("hello", first, b"wrong");
            let receipt = w.run(tx);
            assert_eq!(receipt.status, ReceiptStatus::NotDeployer);
            let after = w.ledger.account(&alice).unwrap();
            assert_eq!(after.nonce, before.nonce + 1);
            assert_eq!(before.balance - after.balance, receipt.fee);
            assert_eq!(receipt.fee, U256::from(receipt.gas_used));

            // Enough for the intrinsic gas, not for the name gas.
            let len = w.alice.register_name("hello", first, b"one").encode().len();
            w.alice.nonce -= 1;
            w.alice.gas_limit = intrinsic_gas(w.vm.schedule(), len as u32) + 2_000;
            let tx = w.alice.register_name("hello", first, b"one");
            let receipt = w.run(tx);
            assert_eq!(receipt.status, ReceiptStatus::OutOfGas);
            assert_eq!(receipt.gas_used, receipt.gas_limit);
            assert_eq!(w.record("hello"), None);
        }
    }
}
