//! Receipt comparison, field by field: what the node's replay audit and the offline verifier
//! report. Values are rendered as text (hex for bytes, decimal for numbers) so a report reads the
//! same wherever it is shown.
//!
//! ```
//! use opmeter_ledger::block::{Receipt, ReceiptStatus};
//! use opmeter_ledger::compare::compare_receipts;
//! use opmeter_ledger::encoding::Hash32;
//! use opmeter_vm::{Address, U256};
//! let stored = Receipt {
//!     tx_hash: Hash32([1; 32]), sender: Address([2; 32]), height: 1, index: 0,
//!     status: ReceiptStatus::Success, trap_code: None, gas_used: 21, gas_limit: 30,
//!     gas_breakdown: [("transaction".to_string(), 21)].into(), gas_price: U256::one(),
//!     fee: U256::from(21u64), output: vec![], events: vec![], schedule_hash: [0; 32],
//!     contract_address: None,
//! };
//! let mut replayed = stored.clone();
//! assert!(compare_receipts(&stored, &replayed).iter().all(|f| f.matches));
//! replayed.gas_used = 22;
//! let differs: Vec<_> = compare_receipts(&stored, &replayed).into_iter().filter(|f| !f.matches).collect();
//! assert_eq!(differs[0].field, "gasUsed");
//! ```

use std::collections::{BTreeMap, BTreeSet};

use opmeter_vm::Address;
use serde::{Deserialize, Serialize};

use crate::block::Receipt;
use crate::encoding::{to_hex0x, Hash32};

/// One compared field: its stored and replayed values, rendered as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FieldCheck {
    /// The field (`status`, `gasUsed`, `gasBreakdown.instructions`, `events[0]`,
    /// `block.stateRoot`, …).
    pub field: String,
    /// The committed value.
    pub stored: String,
    /// The re-derived value.
    pub replayed: String,
    /// Whether they are equal.
    pub matches: bool,
}

impl FieldCheck {
    /// A check of `field`.
    pub fn new(field: impl Into<String>, stored: String, replayed: String) -> FieldCheck {
        FieldCheck {
            field: field.into(),
            matches: stored == replayed,
            stored,
            replayed,
        }
    }
}

fn event_text(event: &opmeter_vm::Event) -> String {
    let topics: Vec<String> = event.topics.iter().map(|t| to_hex0x(t)).collect();
    format!(
        "{} [{}] {}",
        event.contract,
        topics.join(", "),
        to_hex0x(&event.data)
    )
}

/// Compares every field of two receipts: identity, status, trap code, gas used and limit, every
/// breakdown entry (the union of both key sets), price, fee, output, every event, the schedule
/// hash and the deployed address. Equal receipts give only matching checks.
pub fn compare_receipts(stored: &Receipt, replayed: &Receipt) -> Vec<FieldCheck> {
    let opt = |v: Option<u8>| v.map_or_else(|| "none".to_string(), |c| c.to_string());
    let addr = |v: Option<Address>| v.map_or_else(|| "none".to_string(), |a| a.to_hex());
    let mut checks = vec![
        FieldCheck::new("txHash", stored.tx_hash.to_hex(), replayed.tx_hash.to_hex()),
        FieldCheck::new("sender", stored.sender.to_hex(), replayed.sender.to_hex()),
        FieldCheck::new(
            "height",
            stored.height.to_string(),
            replayed.height.to_string(),
        ),
        FieldCheck::new(
            "index",
            stored.index.to_string(),
            replayed.index.to_string(),
        ),
        FieldCheck::new(
            "status",
            stored.status.name().into(),
            replayed.status.name().into(),
        ),
        FieldCheck::new("trapCode", opt(stored.trap_code), opt(replayed.trap_code)),
        FieldCheck::new(
            "gasUsed",
            stored.gas_used.to_string(),
            replayed.gas_used.to_string(),
        ),
        FieldCheck::new(
            "gasLimit",
            stored.gas_limit.to_string(),
            replayed.gas_limit.to_string(),
        ),
    ];
    let keys: BTreeSet<&String> = stored
        .gas_breakdown
        .keys()
        .chain(replayed.gas_breakdown.keys())
        .collect();
    let gas = |map: &BTreeMap<String, u64>, key: &str| map.get(key).copied().unwrap_or(0);
    for key in keys {
        checks.push(FieldCheck::new(
            format!("gasBreakdown.{key}"),
            gas(&stored.gas_breakdown, key).to_string(),
            gas(&replayed.gas_breakdown, key).to_string(),
        ));
    }
    checks.extend([
        FieldCheck::new(
            "gasPrice",
            stored.gas_price.to_string(),
            replayed.gas_price.to_string(),
        ),
        FieldCheck::new("fee", stored.fee.to_string(), replayed.fee.to_string()),
        FieldCheck::new(
            "output",
            to_hex0x(&stored.output),
            to_hex0x(&replayed.output),
        ),
        FieldCheck::new(
            "events.length",
            stored.events.len().to_string(),
            replayed.events.len().to_string(),
        ),
    ]);
    let count = stored.events.len().max(replayed.events.len());
    for i in 0..count {
        let text = |events: &[opmeter_vm::Event]| {
            events.get(i).map_or_else(|| "none".to_string(), event_text)
        };
        checks.push(FieldCheck::new(
            format!("events[{i}]"),
            text(&stored.events),
            text(&replayed.events),
        ));
    }
    checks.extend([
        FieldCheck::new(
            "scheduleHash",
            to_hex0x(&stored.schedule_hash),
            to_hex0x(&replayed.schedule_hash),
        ),
        FieldCheck::new(
            "contractAddress",
            addr(stored.contract_address),
            addr(replayed.contract_address),
        ),
    ]);
    checks
}

/// What a replay of a committed transaction found: its receipt re-derived and compared field by
/// field, then the block's roots after replaying all of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    /// The transaction.
    pub tx_hash: Hash32,
    /// Its block.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
    /// The receipt's fields, then `block.stateRoot` and `block.receiptsRoot`.
    pub fields: Vec<FieldCheck>,
    /// Transactions executed (the whole block).
    pub replayed_transactions: u32,
}

impl ReplayReport {
    /// Whether every field matched.
    pub fn matches(&self) -> bool {
        self.fields.iter().all(|f| f.matches)
    }

    /// The first field that differs.
    pub fn first_difference(&self) -> Option<&FieldCheck> {
        self.fields.iter().find(|f| !f.matches)
    }
}
