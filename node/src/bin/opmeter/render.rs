//! How the CLI shows things: the stable JSON shapes of `--json` (scripts depend on them: change
//! them only additively) and the text tables and trees.

use opmeter_ledger::compare::FieldCheck;
use opmeter_ledger::encoding::{to_hex0x, DecU64, HexBytes};
use opmeter_rpc::types::{
    FrameTraceView, ReceiptView, ReplayReportView, TraceEntryView, TraceView,
};
use opmeter_vm::{Outcome, ValidationReport};
use serde_json::{json, Map, Value};

/// The `--json` form of a rejection: an array of `{rule, limit, actual, location, message}`.
pub(crate) fn violations_json(report: &ValidationReport) -> Value {
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
pub(crate) fn outcome_json(outcome: &Outcome) -> Value {
    let mut breakdown = Map::new();
    for (key, gas) in outcome.breakdown_by_key() {
        breakdown.insert(key.to_string(), json!(gas));
    }
    let mut object = json!({
        "status": outcome.status.as_str(),
        "gasUsed": outcome.gas_used,
        "gasLimit": outcome.gas_limit,
        "gasBreakdown": breakdown,
        "output": to_hex0x(&outcome.output),
        "events": outcome.events.iter().map(|e| json!({
            "contract": e.contract.to_hex(),
            "topics": e.topics.iter().map(|t| to_hex0x(t)).collect::<Vec<_>>(),
            "data": to_hex0x(&e.data),
        })).collect::<Vec<_>>(),
        "logs": outcome.logs,
        "scheduleHash": to_hex0x(&outcome.schedule_hash),
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

/// An execution outcome as text.
pub(crate) fn print_outcome(outcome: &Outcome) {
    let status = match outcome.trap_code() {
        Some(code) => format!("trap {} ({})", code.code(), code.name()),
        None => outcome.status.as_str().to_string(),
    };
    println!("status:    {status}");
    match std::str::from_utf8(&outcome.output) {
        Ok(text) if !text.is_empty() => println!("output:    {text}"),
        _ => println!("output:    {}", to_hex0x(&outcome.output)),
    }
    println!("gas used:  {} of {}", outcome.gas_used, outcome.gas_limit);
    for (key, gas) in outcome.breakdown_by_key() {
        println!("  {key:<18} {gas:>12}");
    }
    for event in &outcome.events {
        let topics: Vec<String> = event.topics.iter().map(|t| to_hex0x(t)).collect();
        println!(
            "event:     topics [{}] data {}",
            topics.join(", "),
            to_hex0x(&event.data)
        );
    }
    for line in &outcome.logs {
        println!("log:       {line}");
    }
    println!("schedule:  {}", to_hex0x(&outcome.schedule_hash));
}

/// A rejected module: every violation (as JSON with `--json`).
pub(crate) fn print_rejection(vm_report: &ValidationReport, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&violations_json(vm_report)).unwrap_or_default()
        );
    } else {
        eprintln!("rejected: {} violation(s)", vm_report.violations.len());
        for violation in &vm_report.violations {
            eprintln!("  - {violation}");
        }
    }
}

/// Pretty JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `1234567` as `1,234,567`.
pub(crate) fn group(n: impl std::fmt::Display) -> String {
    let digits: Vec<char> = n.to_string().chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*c);
    }
    out
}

/// `part` of `total` with one decimal, `-` for no total.
pub(crate) fn percent(part: u128, total: u128) -> String {
    if total == 0 {
        return "-".into();
    }
    let tenths = part * 1000 / total;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// Output bytes as text when they are printable UTF-8, else as `0x` hex.
pub(crate) fn output_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.is_empty() && !text.chars().any(|c| c.is_control()) => text.into(),
        _ if bytes.is_empty() => "(none)".into(),
        _ => to_hex0x(bytes),
    }
}

fn topics_text(topics: &[HexBytes]) -> String {
    topics
        .iter()
        .map(HexBytes::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints a receipt with its gas breakdown as a table.
pub(crate) fn print_receipt(receipt: &ReceiptView) {
    let used = u128::from(receipt.gas_used.0);
    let limit = u128::from(receipt.gas_limit.0);
    println!("transaction {}", receipt.tx_hash);
    let status = match receipt.trap_code {
        Some(code) => format!("{} (trap code {code})", receipt.status),
        None => receipt.status.clone(),
    };
    println!("  status      {status}");
    println!(
        "  block       #{} (index {})",
        receipt.height, receipt.index
    );
    println!("  sender      {}", receipt.sender);
    if let Some(address) = receipt.contract_address {
        println!("  contract    {address}");
    }
    println!(
        "  gas used    {} of {} ({})",
        group(receipt.gas_used),
        group(receipt.gas_limit),
        percent(used, limit)
    );
    println!(
        "  fee         {} (gas price {})",
        group(receipt.fee),
        receipt.gas_price
    );
    println!("  output      {}", output_text(&receipt.output.0));
    for (i, event) in receipt.events.iter().enumerate() {
        println!(
            "  event {i}     {} topics [{}] data {}",
            event.contract,
            topics_text(&event.topics),
            event.data
        );
    }
    println!();
    println!("  {:<20} {:>14} {:>7}", "gas breakdown", "gas", "share");
    let mut total: u128 = 0;
    for (category, gas) in &receipt.gas_breakdown {
        let gas_n = u128::from(gas.0);
        total += gas_n;
        println!(
            "  {:<20} {:>14} {:>7}",
            category,
            group(gas),
            percent(gas_n, used)
        );
    }
    println!(
        "  {:<20} {:>14} {:>7}",
        "total",
        group(total),
        percent(total, used)
    );
}

/// Renders a gas trace as an indented tree: one line per frame, function, host function and
/// charge, with its inclusive gas (functions also show their own instructions' gas).
pub(crate) fn print_trace(view: &TraceView) {
    println!("gas trace ({} gas, {})", group(view.gas_used), view.status);
    println!(
        "{:<60} {:>14}",
        "  transaction (intrinsic)",
        group(view.intrinsic_gas)
    );
    match &view.root {
        Some(root) => print_frame(root, 1),
        None => println!("  (no code ran)"),
    }
    if view.truncated {
        println!("  (truncated: folded entries still count)");
    }
    if !view.blocks.is_empty() {
        println!();
        println!("most expensive metered blocks:");
        println!(
            "  {:<40} {:>6} {:>10} {:>8} {:>14}",
            "function", "site", "hits", "instrs", "gas"
        );
        for b in &view.blocks {
            println!(
                "  {:<40} {:>6} {:>10} {:>8} {:>14}",
                shorten(&b.name, 40),
                b.site,
                b.hits,
                b.instructions,
                group(b.gas)
            );
        }
        if view.blocks_truncated {
            println!("  (more blocks ran)");
        }
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    } else {
        text.to_string()
    }
}

fn print_line(depth: usize, label: &str, gas: DecU64) {
    let label = format!("{}{}", "  ".repeat(depth + 1), label);
    println!("{:<60} {:>14}", shorten(&label, 60), group(gas));
}

fn print_frame(frame: &FrameTraceView, depth: usize) {
    let times = if frame.calls > 1 {
        format!(" ×{}", frame.calls)
    } else {
        String::new()
    };
    let label = format!(
        "▸ {}.{}{} ({})",
        shorten(&frame.contract.to_hex(), 12),
        frame.method,
        times,
        frame.status
    );
    print_line(depth, &label, frame.gas_used);
    for entry in &frame.entries {
        print_entry(entry, depth + 1);
    }
}

fn print_entry(entry: &TraceEntryView, depth: usize) {
    let times = |calls: u64| {
        if calls > 1 {
            format!(" ×{calls}")
        } else {
            String::new()
        }
    };
    match entry {
        TraceEntryView::Charge { category, gas } => print_line(depth, category, *gas),
        TraceEntryView::Function {
            name,
            calls,
            gas,
            instructions_gas,
            children,
            ..
        } => {
            let label = format!(
                "{}{} [self {}]",
                name,
                times(*calls),
                group(instructions_gas)
            );
            print_line(depth, &label, *gas);
            for child in children {
                print_entry(child, depth + 1);
            }
        }
        TraceEntryView::Host {
            function,
            calls,
            gas,
            storage_bytes_gas,
            callees,
        } => {
            let mut label = format!("host {function}{}", times(*calls));
            if storage_bytes_gas.0 != 0 {
                label.push_str(&format!(" (+{} storage bytes)", group(storage_bytes_gas)));
            }
            print_line(depth, &label, *gas);
            for callee in callees {
                print_frame(callee, depth + 1);
            }
        }
        TraceEntryView::Truncated { gas, .. } => print_line(depth, "(truncated)", *gas),
    }
}

/// The compared fields as a table.
pub(crate) fn print_checks(fields: &[FieldCheck]) {
    println!("  {:<28} {:<24} {:<24}", "field", "stored", "re-executed");
    for f in fields {
        let short = |text: &str| {
            if text.chars().count() > 24 {
                format!("{}…", text.chars().take(23).collect::<String>())
            } else {
                text.to_string()
            }
        };
        println!(
            "  {:<28} {:<24} {:<24} {}",
            f.field,
            short(&f.stored),
            short(&f.replayed),
            if f.matches { "ok" } else { "DIFFERS" }
        );
    }
}

/// A replay report: every field, then the verdict.
pub(crate) fn print_replay(report: &ReplayReportView) {
    println!(
        "replay of {} (block #{}, index {}, {} transactions re-executed)",
        report.tx_hash, report.height, report.index, report.replayed_transactions
    );
    print_checks(&report.fields);
    match &report.first_difference {
        None => println!("MATCH: every field re-derives exactly"),
        Some(f) => println!(
            "DIFFERS: first difference {}: stored {}, re-executed {}",
            f.field, f.stored, f.replayed
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_digits_and_percentages() {
        assert_eq!(group("1234567"), "1,234,567");
        assert_eq!(group("123"), "123");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), "-");
        assert_eq!(group(DecU64(1000)), "1,000");
        assert_eq!(output_text(b"7"), "7");
        assert_eq!(output_text(b""), "(none)");
        assert_eq!(output_text(&[0, 0xff]), "0x00ff");
    }
}
