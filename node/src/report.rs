//! Stable JSON shapes of the CLI (scripts depend on them: change them only additively).

use opmeter_vm::{Outcome, ValidationReport};
use serde_json::{json, Map, Value};

/// `0x`-prefixed hex.
pub fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// The `--json` form of a rejection: an array of `{rule, limit, actual, location, message}`.
pub fn violations_json(report: &ValidationReport) -> Value {
    Value::Array(
        report
            .violations
            .iter()
            .map(|v| {
                json!({
                    "rule": v.rule.as_str(),
                    "limit": v.limit,
                    "actual": v.actual,
                    "location": v.location,
                    "message": v.message,
                })
            })
            .collect(),
    )
}

/// The `--json` form of an execution outcome.
pub fn outcome_json(outcome: &Outcome) -> Value {
    let mut breakdown = Map::new();
    for (key, gas) in outcome.breakdown_by_key() {
        breakdown.insert(key.to_string(), json!(gas));
    }
    let mut object = json!({
        "status": outcome.status.as_str(),
        "gasUsed": outcome.gas_used,
        "gasLimit": outcome.gas_limit,
        "gasBreakdown": breakdown,
        "output": hex0x(&outcome.output),
        "events": outcome.events.iter().map(|e| json!({
            "contract": e.contract.to_hex(),
            "topics": e.topics.iter().map(|t| hex0x(t)).collect::<Vec<_>>(),
            "data": hex0x(&e.data),
        })).collect::<Vec<_>>(),
        "logs": outcome.logs,
        "scheduleHash": hex0x(&outcome.schedule_hash),
    });
    if let Some(code) = outcome.trap_code() {
        object["trapCode"] = json!(code.code());
        object["trapName"] = json!(code.name());
    }
    if let Ok(text) = std::str::from_utf8(&outcome.output) {
        if !text.is_empty() {
            object["outputText"] = json!(text);
        }
    }
    object
}
