//! Consensus data types shared by the vm and everything built on it.

use std::collections::BTreeMap;
use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
pub use primitive_types::U256;

/// A 32-byte address of an account or a contract.
///
/// Contract address = `blake3(deployer ‖ code_hash ‖ salt)` ([`Address::for_contract`]);
/// account address = `blake3(ed25519 public key)`.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The address a contract deployed by `deployer` from `code_hash` with `salt` will have.
    pub fn for_contract(deployer: &Address, code_hash: &CodeHash, salt: &[u8]) -> Address {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"opmeter/contract-address/v1");
        hasher.update(&deployer.0);
        hasher.update(&code_hash.0);
        hasher.update(salt);
        Address(*hasher.finalize().as_bytes())
    }

    /// The account address of an ed25519 public key.
    pub fn for_public_key(public_key: &[u8; 32]) -> Address {
        Address(*blake3::hash(public_key).as_bytes())
    }

    /// `0x`-prefixed lowercase hex.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// Parses `0x`-prefixed (or bare) hex of exactly 32 bytes.
    ///
    /// # Errors
    /// When the text is not 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Address, hex::FromHexError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.strip_prefix("0x").unwrap_or(text), &mut out)?;
        Ok(Address(out))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        Address::from_hex(&text)
            .map_err(|e| serde::de::Error::custom(format!("address `{text}`: {e}")))
    }
}

/// `blake3` of a module's original (uninstrumented) bytes: code is content-addressed.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct CodeHash(pub [u8; 32]);

impl CodeHash {
    /// Hashes original wasm bytes.
    pub fn of(wasm: &[u8]) -> CodeHash {
        CodeHash(*blake3::hash(wasm).as_bytes())
    }

    /// `0x`-prefixed lowercase hex.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// Parses `0x`-prefixed (or bare) hex of exactly 32 bytes.
    ///
    /// # Errors
    /// When the text is not 64 hex digits.
    pub fn from_hex(text: &str) -> Result<CodeHash, hex::FromHexError> {
        Address::from_hex(text).map(|a| CodeHash(a.0))
    }
}

impl fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The block an execution belongs to. Taken once by the block producer; the vm never reads a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct BlockContext {
    /// Height of the block being executed.
    pub height: u64,
    /// Block timestamp in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

/// Final status of an execution. A trap carries its [`TrapCode`], so a trap without a code
/// cannot be represented. Receipts store the status and the trap code as separate stable numbers.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum Status {
    /// The entry point returned.
    Success = 0,
    /// The contract called `revert`.
    Revert = 1,
    /// A trap, and why.
    Trap(TrapCode) = 2,
    /// Gas ran out; the whole gas limit is billed.
    OutOfGas = 3,
}

impl Status {
    /// The name used in JSON (`success`, `revert`, `trap`, `outOfGas`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Revert => "revert",
            Status::Trap(_) => "trap",
            Status::OutOfGas => "outOfGas",
        }
    }

    /// The trap code when this is a trap.
    pub fn trap_code(self) -> Option<TrapCode> {
        match self {
            Status::Trap(code) => Some(code),
            Status::Success | Status::Revert | Status::OutOfGas => None,
        }
    }
}

/// Declares [`TrapCode`] from one table (variant = stable code, stable name), so the enum, its
/// names and [`TrapCode::ALL`] cannot drift apart.
macro_rules! trap_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal; )*) => {
        /// Why an execution trapped. Stable numeric codes, 0 unused; `specs/abi.md` lists them.
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize,
            BorshDeserialize,
        )]
        #[borsh(use_discriminant = true)]
        #[repr(u8)]
        pub enum TrapCode {
            $( $(#[$doc])* $variant = $code, )*
        }

        impl TrapCode {
            /// Every trap code, in code order.
            pub const ALL: &'static [TrapCode] = &[$(TrapCode::$variant),*];

            /// A short stable name (`stackOverflow`, …) for JSON and logs.
            pub fn name(self) -> &'static str {
                match self { $(TrapCode::$variant => $name,)* }
            }
        }
    };
}

trap_codes! {
    /// `unreachable` executed.
    Unreachable = 1, "unreachable";
    /// Load or store outside linear memory.
    MemoryOutOfBounds = 2, "memoryOutOfBounds";
    /// `call_indirect` index outside the table.
    TableOutOfBounds = 3, "tableOutOfBounds";
    /// `call_indirect` to an uninitialised table element.
    IndirectCallToNull = 4, "indirectCallToNull";
    /// Integer division or remainder by zero.
    IntegerDivisionByZero = 5, "integerDivisionByZero";
    /// Signed division overflow.
    IntegerOverflow = 6, "integerOverflow";
    /// Float to integer conversion of NaN or an out-of-range value.
    BadConversionToInteger = 7, "badConversionToInteger";
    /// The engine's recursion or value-stack limit.
    StackOverflow = 8, "stackOverflow";
    /// `call_indirect` signature mismatch.
    BadSignature = 9, "badSignature";
    /// `memory.grow` beyond the schedule's page limit.
    MemoryLimit = 10, "memoryLimit";
    /// A cross-contract call beyond the depth limit.
    CallDepthExceeded = 11, "callDepthExceeded";
    /// Output or revert data above the limit.
    OutputTooLarge = 12, "outputTooLarge";
    /// Storage key above the limit.
    KeyTooLarge = 13, "keyTooLarge";
    /// Storage value above the limit.
    ValueTooLarge = 14, "valueTooLarge";
    /// Too many events or topics, or event data too large.
    EventLimit = 15, "eventLimit";
    /// The method is not an exported `() -> ()` function.
    MethodNotFound = 16, "methodNotFound";
    /// A host function was given a memory range outside linear memory.
    HostMemoryOutOfBounds = 17, "hostMemoryOutOfBounds";
    /// A `call` method name that is not UTF-8 or too long.
    InvalidMethodName = 18, "invalidMethodName";
    /// The top-level call's attached value exceeds the caller's balance.
    InsufficientBalance = 19, "insufficientBalance";
    /// A `call` input above the limit.
    InputTooLarge = 20, "inputTooLarge";
    /// No contract at the called address.
    ContractNotFound = 21, "contractNotFound";
    /// A deployment to an address that already holds a contract.
    ContractExists = 22, "contractExists";
}

impl TrapCode {
    /// The stable numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The trap code with this numeric code, if any.
    pub fn from_code(code: u8) -> Option<TrapCode> {
        TrapCode::ALL.iter().copied().find(|t| t.code() == code)
    }

    /// The trap code with this stable name ([`TrapCode::name`]), if any.
    pub fn from_name(name: &str) -> Option<TrapCode> {
        TrapCode::ALL.iter().copied().find(|t| t.name() == name)
    }
}

/// An event emitted by a contract.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Event {
    /// The emitting contract.
    pub contract: Address,
    /// Up to `max_event_topics` 32-byte topics.
    pub topics: Vec<[u8; 32]>,
    /// Opaque data.
    pub data: Vec<u8>,
}

/// What to execute: one entry point of one deployed contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRequest {
    /// The immediate caller (an account at top level).
    pub caller: Address,
    /// The contract to run.
    pub contract: Address,
    /// The exported method name.
    pub method: String,
    /// Input bytes (JSON for sdk contracts).
    pub input: Vec<u8>,
    /// Value moved from `caller` to `contract` before the call runs.
    pub value: U256,
    /// Most gas the call may use.
    pub gas_limit: u64,
}

/// Storage and balance changes of a successful execution, in deterministic (sorted) order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSet {
    /// `(contract, key) → Some(value)` for a write, `None` for a removal.
    pub storage: BTreeMap<(Address, Vec<u8>), Option<Vec<u8>>>,
    /// New balances of every account whose balance changed.
    pub balances: BTreeMap<Address, U256>,
    /// Contracts created (by a deployment): address → code hash.
    pub contracts: BTreeMap<Address, CodeHash>,
}

impl WriteSet {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.storage.is_empty() && self.balances.is_empty() && self.contracts.is_empty()
    }
}
