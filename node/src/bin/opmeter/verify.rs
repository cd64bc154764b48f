//! `opmeter verify FILE`: an audit bundle checked offline, with the ledger's verifier and the vm
//! alone (no node, no database).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use opmeter_ledger::bundle::{verify_bundle, Bundle};
use serde_json::json;

use crate::render::{print_checks, print_json};

/// `opmeter verify FILE`: checks a bundle offline with the vm alone (no node, no database);
/// exits 1 when it is invalid or its receipt does not re-derive.
pub(crate) fn run(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let bundle: Bundle = serde_json::from_str(&text).map_err(|x| {
        anyhow!(
            "{} is not a bundle ({x}); get one with `opmeter audit TX --bundle FILE`",
            file.display()
        )
    })?;
    // The bundle's chain chose its schedule at genesis; the verifier checks the header names it.
    let schedule = opmeter_ledger::encoding::from_hex0x(&bundle.schedule_hash)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|hash| opmeter_vm::Schedule::by_hash(&hash))
        .unwrap_or_else(opmeter_vm::Schedule::v1);
    let vm = opmeter_vm::Vm::new(schedule);
    let verdict = verify_bundle(&bundle, &vm);
    if json {
        let value = match &verdict {
            Ok(v) => json!({
                "valid": true,
                "matches": v.matches(),
                "blockHash": v.block_hash.to_hex(),
                "height": v.height,
                "txHash": v.tx_hash.to_hex(),
                "index": v.index,
                "executed": v.executed,
                "readsProven": v.reads_proven,
                "fields": v.fields,
                "firstDifference": v.first_difference(),
            }),
            Err(error) => json!({ "valid": false, "matches": false, "error": error.to_string() }),
        };
        print_json(&value)?;
    } else {
        match &verdict {
            Ok(v) => {
                println!(
                    "bundle of {} (block #{} {}, index {})",
                    v.tx_hash.to_hex(),
                    v.height,
                    v.block_hash.to_hex(),
                    v.index
                );
                println!(
                    "  {} state values proven against the parent state root, {} transaction(s) re-executed",
                    v.reads_proven, v.executed
                );
                print_checks(&v.fields);
                match v.first_difference() {
                    None => println!("MATCH: the receipt re-derives exactly; compare the block hash with a source you trust"),
                    Some(f) => println!(
                        "DIFFERS: first difference {}: stored {}, re-executed {}",
                        f.field, f.stored, f.replayed
                    ),
                }
            }
            Err(error) => println!("INVALID: {error}"),
        }
    }
    Ok(match verdict {
        Ok(v) if v.matches() => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}
