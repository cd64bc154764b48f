//! The WebAssembly spec testsuite through the metered engine.
//!
//! Every module of every `.wast` file goes through the vm's validation (twice: with every rule,
//! and in *conformance mode*, which relaxes only the ABI-shape rules, see
//! `specs/conformance.md`), then the vm's gas injection, then a wasmi engine configured by the
//! vm's own [`engine_config`] and [`store_limits`], with a generous gas counter. Every
//! assertion on a module conformance mode accepts must give exactly the spec's values and traps;
//! every module it rejects is counted under the rules that rejected it; `assert_invalid` and
//! `assert_malformed` modules must be rejected.
//!
//! The suite itself is not part of the project: it is read from `../shared/wasm-testsuite`
//! (next to the repository) or from `$OPMETER_WASM_TESTSUITE`, and the test is skipped with a
//! message when it is absent. Run `cargo test -p opmeter-vm --test all conformance --
//! --nocapture` to see the report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use opmeter_vm::abi::GAS_GLOBAL_EXPORT;
use opmeter_vm::instrument::instrument;
use opmeter_vm::validate::validate;
use opmeter_vm::{engine_config, store_limits, Metering, Rule, Schedule, ValidationReport};
use wasmi::{
    Caller, Engine, Extern, Global, Instance, Linker, Memory, MemoryType, Module, Mutability, Ref,
    RefType, Store, StoreLimits, Table, TableType, TrapCode, Val, F32, F64,
};
use wast::core::{NanPattern, WastArgCore, WastRetCore};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

/// The gas counter every instance starts each invocation with: far more than any spec test
/// needs, far from wrapping.
const GAS: i64 = 1 << 62;

/// The commit of the testsuite whose numbers are pinned below (see its README).
const PINNED_COMMIT: &str = "193e551ff22663995b1ac95dc62344133669e14b";

/// Where the testsuite is: `$OPMETER_WASM_TESTSUITE`, else `../shared/wasm-testsuite` next to
/// the repository.
fn testsuite_dir() -> PathBuf {
    match std::env::var_os("OPMETER_WASM_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/wasm-testsuite"),
    }
}

/// Rules conformance mode does not apply, and why (kept in sync with `specs/conformance.md`).
///
/// They describe the *shape* Opmeter requires of a contract (its ABI), not which WebAssembly it
/// may run; the spec testsuite's modules are not contracts: they import from `spectest` and from
/// each other and export functions with parameters and results, which is how their assertions
/// observe the engine.
fn relaxed(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::ImportNotAllowed
            | Rule::ImportKind
            | Rule::MissingMemoryExport
            | Rule::NoEntryPoints
            | Rule::EntryPointSignature
    )
}

/// The verdict of conformance mode: every rule, except the ABI-shape rules. Imported *globals*
/// stay rejected under `importKind` even here: an imported global could alias the gas counter,
/// and the instrumenter refuses them. `segmentOutOfBounds` is not applied to segments into an
/// imported memory or table: validation measures segments against the module's own memory and
/// table (a contract cannot import one), so for an imported one it has no size to check against;
/// the engine checks those segments at instantiation, as the spec says.
fn conformance_rules(wasm: &[u8], strict: &Result<(), ValidationReport>) -> Vec<Rule> {
    let Err(report) = strict else {
        return Vec::new();
    };
    let imports = Imports::of(wasm);
    let mut rules: Vec<Rule> = report
        .violations
        .iter()
        .filter(|v| {
            let location = v.location.as_deref().unwrap_or("");
            match v.rule {
                Rule::ImportKind => imports.globals.contains(location),
                Rule::SegmentOutOfBounds => {
                    !(imports.memory && location.starts_with("data segment")
                        || imports.table && location.starts_with("element segment"))
                }
                rule => !relaxed(rule),
            }
        })
        .map(|v| v.rule)
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

/// What a module imports besides functions.
struct Imports {
    /// The validation report's locations of global imports (`import m.n`).
    globals: BTreeSet<String>,
    memory: bool,
    table: bool,
}

impl Imports {
    fn of(wasm: &[u8]) -> Imports {
        let mut imports = Imports {
            globals: BTreeSet::new(),
            memory: false,
            table: false,
        };
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            if let Ok(wasmparser::Payload::ImportSection(reader)) = payload {
                for import in reader.into_iter().flatten() {
                    match import.ty {
                        wasmparser::TypeRef::Global(_) => {
                            imports
                                .globals
                                .insert(format!("import {}.{}", import.module, import.name));
                        }
                        wasmparser::TypeRef::Memory(_) => imports.memory = true,
                        wasmparser::TypeRef::Table(_) => imports.table = true,
                        _ => {}
                    }
                }
            }
        }
        imports
    }
}

/// Whether the module exports a memory or a table.
fn exports_state(wasm: &[u8]) -> bool {
    wasmparser::Parser::new(0).parse_all(wasm).any(|payload| {
        matches!(payload, Ok(wasmparser::Payload::ExportSection(reader))
        if reader.clone().into_iter().flatten().any(|e| {
            matches!(e.kind, wasmparser::ExternalKind::Table | wasmparser::ExternalKind::Memory)
        }))
    })
}

/// Whether instantiating the module writes anywhere (segments, a start function).
fn writes_at_instantiation(wasm: &[u8]) -> bool {
    wasmparser::Parser::new(0).parse_all(wasm).any(|payload| {
        matches!(
            payload,
            Ok(wasmparser::Payload::DataSection(_)
                | wasmparser::Payload::ElementSection(_)
                | wasmparser::Payload::StartSection { .. })
        )
    })
}

/// Module names the module imports from.
fn import_modules(wasm: &[u8]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::ImportSection(reader)) = payload {
            for import in reader.into_iter().flatten() {
                out.insert(import.module.to_string());
            }
        }
    }
    out
}

fn rules_key(rules: &[Rule]) -> String {
    rules
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join("+")
}

#[derive(Default)]
struct Stats {
    files: usize,
    modules: usize,
    /// Accepted by every rule (a valid contract as uploaded).
    strict_accepted: usize,
    /// Modules rejected by each rule (a module breaking several rules counts under each).
    strict_rules: BTreeMap<Rule, usize>,
    /// Accepted in conformance mode (instrumented and run).
    accepted: usize,
    /// Rejected in conformance mode, by the set of rules that rejected the module.
    rejected: BTreeMap<String, usize>,
    /// Accepted, but importing from a module that was rejected: not runnable.
    unlinkable_dependants: usize,
    /// Assertions run on accepted modules, and how many passed.
    run: BTreeMap<&'static str, usize>,
    passed: usize,
    /// Assertions not run because their module was rejected, by the rules that rejected it.
    skipped: BTreeMap<String, usize>,
    /// `assert_invalid` / `assert_malformed`: total, rejected by the text parser (never reach the
    /// vm), rejected by validation (by rule).
    negative: usize,
    negative_text: usize,
    negative_rules: BTreeMap<Rule, usize>,
    failures: Vec<String>,
}

impl Stats {
    fn assertion(&mut self, kind: &'static str, result: Result<(), String>, at: &str) {
        *self.run.entry(kind).or_insert(0) += 1;
        match result {
            Ok(()) => self.passed += 1,
            Err(message) => self.failures.push(format!("{at}: {kind}: {message}")),
        }
    }

    fn report(&self) -> String {
        let mut s = String::new();
        let run: usize = self.run.values().sum();
        let skipped: usize = self.skipped.values().sum();
        let rejected: usize = self.rejected.values().sum();
        let _ = writeln!(s, "files: {}", self.files);
        let _ = writeln!(s, "modules: {}", self.modules);
        let _ = writeln!(
            s,
            "strict validation: {} accepted, {} rejected",
            self.strict_accepted,
            self.modules - self.strict_accepted
        );
        for (rule, n) in &self.strict_rules {
            let _ = writeln!(s, "  {rule}: {n}");
        }
        let _ = writeln!(
            s,
            "conformance mode: {} accepted, {} rejected",
            self.accepted, rejected
        );
        for (rules, n) in &self.rejected {
            let _ = writeln!(s, "  {rules}: {n}");
        }
        let _ = writeln!(
            s,
            "accepted but importing from a rejected module: {}",
            self.unlinkable_dependants
        );
        let _ = writeln!(s, "assertions run: {run}, passed: {}", self.passed);
        for (kind, n) in &self.run {
            let _ = writeln!(s, "  {kind}: {n}");
        }
        let _ = writeln!(s, "assertions on rejected modules (not run): {skipped}");
        for (rules, n) in &self.skipped {
            let _ = writeln!(s, "  {rules}: {n}");
        }
        let _ = writeln!(
            s,
            "assert_invalid/assert_malformed: {}, rejected by the text parser: {}, by validation: {}",
            self.negative,
            self.negative_text,
            self.negative - self.negative_text
        );
        for (rule, n) in &self.negative_rules {
            let _ = writeln!(s, "  {rule}: {n}");
        }
        s
    }
}

/// Store data: the vm's resource limits.
struct Host {
    limits: StoreLimits,
}

/// A module as seen by the directives that follow it.
#[derive(Clone)]
enum Slot {
    Live {
        instance: Instance,
        /// Imports or exports a memory or a table.
        shares_state: bool,
    },
    /// Shares a table with a module whose instantiation failed after writing some elements:
    /// calling those elements crashes wasmi 2.0.0 (see `specs/conformance.md`). Opmeter is not
    /// exposed (a contract cannot import or export a table, and every call instantiates one
    /// module in a fresh store), so these assertions are not run.
    PartiallyInstantiated,
    /// Shares a memory or table with a module that was rejected (by these rules) although its
    /// instantiation would have written into it (segments, start function): the spec's later
    /// assertions observe those writes, so they are not run.
    Diverged(String),
    Rejected(String),
    /// Accepted but not runnable (imports from a rejected module).
    Orphan,
    /// Something went wrong (already recorded as a failure).
    Broken,
}

struct Runner {
    schedule: Schedule,
    engine: Engine,
    store: Store<Host>,
    linker: Linker<Host>,
    current: Option<Slot>,
    named: HashMap<String, Slot>,
    definitions: HashMap<String, Vec<u8>>,
    rejected_registrations: BTreeSet<String>,
}

impl Runner {
    fn new(schedule: &Schedule) -> Runner {
        let engine = Engine::new(&engine_config(schedule, Metering::Injected));
        // The vm's per-instance limits; a spec file links several instances in one store.
        let limits = store_limits(schedule)
            .instances(10_000)
            .memories(10_000)
            .tables(10_000)
            .build();
        let mut store = Store::new(&engine, Host { limits });
        store.limiter(|host| &mut host.limits);
        let mut linker = Linker::new(&engine);
        spectest(&mut linker, &mut store);
        Runner {
            schedule: schedule.clone(),
            engine,
            store,
            linker,
            current: None,
            named: HashMap::new(),
            definitions: HashMap::new(),
            rejected_registrations: BTreeSet::new(),
        }
    }

    /// Validates, instruments and instantiates a module. `Ok(Err(..))` is an instantiation
    /// failure (link error or trap), for the assertions that expect one.
    fn load(
        &mut self,
        wasm: &[u8],
        stats: &mut Stats,
        at: &str,
    ) -> Result<Result<Slot, wasmi::Error>, String> {
        stats.modules += 1;
        let strict = validate(wasm, &self.schedule.limits);
        match &strict {
            Ok(()) => stats.strict_accepted += 1,
            Err(report) => {
                for rule in report.rules() {
                    *stats.strict_rules.entry(rule).or_insert(0) += 1;
                }
            }
        }
        let rules = conformance_rules(wasm, &strict);
        if !rules.is_empty() {
            let key = rules_key(&rules);
            *stats.rejected.entry(key.clone()).or_insert(0) += 1;
            let imports = Imports::of(wasm);
            if (imports.memory || imports.table) && writes_at_instantiation(wasm) {
                self.taint(&Slot::Diverged(key.clone()));
            }
            return Ok(Ok(Slot::Rejected(key)));
        }
        if import_modules(wasm)
            .iter()
            .any(|m| self.rejected_registrations.contains(m))
        {
            stats.unlinkable_dependants += 1;
            return Ok(Ok(Slot::Orphan));
        }
        let instrumented = match instrument(wasm, &self.schedule, Metering::Injected) {
            Ok(bytes) => bytes,
            Err(reason) => {
                // The vm would reject this module as `instrumentationFailed`: a module valid in
                // every other respect must not be refused by the instrumenter.
                let key = rules_key(&[Rule::InstrumentationFailed]);
                *stats.rejected.entry(key.clone()).or_insert(0) += 1;
                stats.failures.push(format!(
                    "{at}: accepted module not instrumentable: {reason}"
                ));
                return Ok(Ok(Slot::Rejected(key)));
            }
        };
        stats.accepted += 1;
        let module = Module::new(&self.engine, &instrumented[..])
            .map_err(|e| format!("the engine refuses an accepted, instrumented module: {e}"))?;
        let instance = match self.linker.instantiate_and_start(&mut self.store, &module) {
            Ok(instance) => instance,
            Err(e) => return Ok(Err(e)),
        };
        // The vm's gas counter, set generously.
        let gas = instance
            .get_global(&self.store, GAS_GLOBAL_EXPORT)
            .ok_or("instrumented module has no gas global")?;
        gas.set(&mut self.store, Val::I64(GAS))
            .map_err(|e| e.to_string())?;
        let imports = Imports::of(wasm);
        let shares_state = imports.memory || imports.table || exports_state(wasm);
        Ok(Ok(Slot::Live {
            instance,
            shares_state,
        }))
    }

    /// Every instance sharing a memory or a table becomes `with` from now on.
    fn taint(&mut self, with: &Slot) {
        let taint = |slot: &mut Slot| {
            if matches!(
                slot,
                Slot::Live {
                    shares_state: true,
                    ..
                }
            ) {
                *slot = with.clone();
            }
        };
        self.named.values_mut().for_each(taint);
        if let Some(slot) = self.current.as_mut() {
            taint(slot);
        }
    }

    fn slot(&self, id: Option<wast::token::Id<'_>>) -> Option<Slot> {
        match id {
            Some(id) => self.named.get(id.name()).cloned(),
            None => self.current.clone(),
        }
    }

    /// Invokes an export: `Ok(Ok(results))`, `Ok(Err(trap))` or `Err(harness problem)`.
    fn invoke(
        &mut self,
        instance: Instance,
        invoke: &WastInvoke<'_>,
    ) -> Result<Result<Vec<Val>, wasmi::Error>, String> {
        let func = instance
            .get_func(&self.store, invoke.name)
            .ok_or_else(|| format!("no exported function `{}`", invoke.name))?;
        let args = invoke
            .args
            .iter()
            .map(arg_value)
            .collect::<Result<Vec<_>, _>>()?;
        let ty = func.ty(&self.store);
        let mut results: Vec<Val> = ty
            .results()
            .iter()
            .map(|t| Val::default_for_ty(*t))
            .collect();
        let gas = instance
            .get_global(&self.store, GAS_GLOBAL_EXPORT)
            .ok_or("no gas global")?;
        gas.set(&mut self.store, Val::I64(GAS))
            .map_err(|e| e.to_string())?;
        let outcome = func.call(&mut self.store, &args, &mut results);
        let left = gas.get(&self.store).i64().ok_or("gas global is not i64")?;
        if left < 0 {
            return Err(format!(
                "ran out of gas ({left}) with a limit of {GAS}: the metering is broken"
            ));
        }
        if left > GAS {
            return Err(format!("gas counter grew from {GAS} to {left}"));
        }
        Ok(outcome.map(|()| results))
    }

    fn get_global(&self, instance: Instance, name: &str) -> Result<Val, String> {
        match instance.get_export(&self.store, name) {
            Some(Extern::Global(global)) => Ok(global.get(&self.store)),
            _ => Err(format!("no exported global `{name}`")),
        }
    }
}

/// The `spectest` host module of the reference interpreter.
fn spectest(linker: &mut Linker<Host>, store: &mut Store<Host>) {
    let m = "spectest";
    let defined = [
        linker
            .func_wrap(m, "print", |_: Caller<'_, Host>| {})
            .is_ok(),
        linker
            .func_wrap(m, "print_i32", |_: Caller<'_, Host>, _: i32| {})
            .is_ok(),
        linker
            .func_wrap(m, "print_i64", |_: Caller<'_, Host>, _: i64| {})
            .is_ok(),
        linker
            .func_wrap(m, "print_f32", |_: Caller<'_, Host>, _: f32| {})
            .is_ok(),
        linker
            .func_wrap(m, "print_f64", |_: Caller<'_, Host>, _: f64| {})
            .is_ok(),
        linker
            .func_wrap(m, "print_i32_f32", |_: Caller<'_, Host>, _: i32, _: f32| {})
            .is_ok(),
        linker
            .func_wrap(m, "print_f64_f64", |_: Caller<'_, Host>, _: f64, _: f64| {})
            .is_ok(),
    ];
    assert!(defined.iter().all(|ok| *ok), "spectest functions");
    let globals = [
        ("global_i32", Val::I32(666)),
        ("global_i64", Val::I64(666)),
        ("global_f32", Val::F32(F32::from(666.6f32))),
        ("global_f64", Val::F64(F64::from(666.6f64))),
    ];
    for (name, value) in globals {
        let global = Global::new(&mut *store, value, Mutability::Const);
        linker.define(m, name, global).expect("spectest global");
    }
    let table = Table::new(
        &mut *store,
        TableType::new(RefType::Func, 10, Some(20)),
        Ref::Func(Default::default()),
    )
    .expect("spectest table");
    linker.define(m, "table", table).expect("spectest table");
    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2))).expect("spectest memory");
    linker.define(m, "memory", memory).expect("spectest memory");
}

fn arg_value(arg: &WastArg<'_>) -> Result<Val, String> {
    match arg {
        WastArg::Core(WastArgCore::I32(v)) => Ok(Val::I32(*v)),
        WastArg::Core(WastArgCore::I64(v)) => Ok(Val::I64(*v)),
        WastArg::Core(WastArgCore::F32(v)) => Ok(Val::F32(F32::from_bits(v.bits))),
        WastArg::Core(WastArgCore::F64(v)) => Ok(Val::F64(F64::from_bits(v.bits))),
        other => Err(format!("unsupported argument {other:?}")),
    }
}

fn f32_matches(pattern: &NanPattern<wast::token::F32>, bits: u32) -> bool {
    match pattern {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn f64_matches(pattern: &NanPattern<wast::token::F64>, bits: u64) -> bool {
    match pattern {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn ret_matches(expected: &WastRetCore<'_>, actual: &Val) -> Result<bool, String> {
    Ok(match (expected, actual) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(e), Val::F32(a)) => f32_matches(e, a.to_bits()),
        (WastRetCore::F64(e), Val::F64(a)) => f64_matches(e, a.to_bits()),
        (WastRetCore::Either(options), actual) => {
            for option in options {
                if ret_matches(option, actual)? {
                    return Ok(true);
                }
            }
            false
        }
        (
            WastRetCore::I32(_) | WastRetCore::I64(_) | WastRetCore::F32(_) | WastRetCore::F64(_),
            _,
        ) => false,
        (other, _) => return Err(format!("unsupported expected value {other:?}")),
    })
}

fn check_results(expected: &[WastRet<'_>], actual: &[Val]) -> Result<(), String> {
    if expected.len() != actual.len() {
        return Err(format!(
            "expected {} results, got {actual:?}",
            expected.len()
        ));
    }
    for (e, a) in expected.iter().zip(actual) {
        let WastRet::Core(e) = e else {
            return Err(format!("unsupported expected value {e:?}"));
        };
        if !ret_matches(e, a)? {
            return Err(format!("expected {e:?}, got {a:?}"));
        }
    }
    Ok(())
}

/// The spec's trap message for a wasmi trap code (the reference interpreter's wording; the
/// testsuite asserts message prefixes).
fn spec_message(code: TrapCode) -> &'static str {
    match code {
        TrapCode::UnreachableCodeReached => "unreachable",
        TrapCode::MemoryOutOfBounds => "out of bounds memory access",
        TrapCode::TableOutOfBounds => "undefined element",
        TrapCode::IndirectCallToNull => "uninitialized element",
        TrapCode::IntegerDivisionByZero => "integer divide by zero",
        TrapCode::IntegerOverflow => "integer overflow",
        TrapCode::BadConversionToInteger => "invalid conversion to integer",
        TrapCode::StackOverflow => "call stack exhausted",
        TrapCode::BadSignature => "indirect call type mismatch",
        TrapCode::GrowthOperationLimited => "memory limit (opmeter)",
        TrapCode::OutOfFuel => "out of fuel",
        TrapCode::OutOfSystemMemory => "out of system memory",
    }
}

fn check_trap(outcome: Result<Vec<Val>, wasmi::Error>, message: &str) -> Result<(), String> {
    match outcome {
        Ok(values) => Err(format!("expected trap `{message}`, got {values:?}")),
        Err(error) => match error.as_trap_code() {
            // The spec's messages are prefixes ("uninitialized element 2", "out of bounds memory
            // access" for both loads and segments, …).
            Some(code) if message.starts_with(spec_message(code)) => Ok(()),
            // Instantiation reports a table segment out of bounds in its own words.
            Some(TrapCode::TableOutOfBounds) if message == "out of bounds table access" => Ok(()),
            Some(code) => Err(format!(
                "expected trap `{message}`, got `{}`",
                spec_message(code)
            )),
            // Segments that do not fit are instantiation errors in wasmi, not trap codes.
            None if matches!(error.kind(), wasmi::errors::ErrorKind::Instantiation(_))
                && error.to_string().starts_with(message) =>
            {
                Ok(())
            }
            None => Err(format!("expected trap `{message}`, got error {error}")),
        },
    }
}

fn encode(module: &mut QuoteWat<'_>) -> Result<Vec<u8>, String> {
    module.encode().map_err(|e| e.to_string())
}

fn location(file: &str, text: &str, span: wast::token::Span) -> String {
    let (line, col) = span.linecol_in(text);
    format!("{file}:{}:{}", line + 1, col + 1)
}

fn run_file(path: &Path, schedule: &Schedule, stats: &mut Stats) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut lexer = Lexer::new(&text);
    // names.wast deliberately uses bidirectional-override characters in names.
    lexer.allow_confusing_unicode(true);
    let buf = ParseBuffer::new_with_lexer(lexer).unwrap_or_else(|e| panic!("{name}: {e}"));
    let wast: Wast<'_> = parser::parse(&buf).unwrap_or_else(|e| panic!("{name}: {e}"));
    stats.files += 1;
    if std::env::var_os("OPMETER_CONFORMANCE_TRACE").is_some() {
        eprintln!("conformance: {name}");
    }
    let mut runner = Runner::new(schedule);
    for directive in wast.directives {
        let at = location(&name, &text, directive.span());
        if std::env::var_os("OPMETER_CONFORMANCE_TRACE").is_some() {
            eprintln!("conformance: {at}");
        }
        directive_in(&mut runner, directive, stats, &at);
    }
}

/// Runs an assertion body on the slot, or counts it as skipped.
fn on_slot(
    stats: &mut Stats,
    slot: Option<Slot>,
    kind: &'static str,
    at: &str,
    check: impl FnOnce(Instance) -> Result<(), String>,
) {
    match slot {
        Some(Slot::Live { instance, .. }) => {
            let result = check(instance);
            stats.assertion(kind, result, at);
        }
        Some(Slot::Rejected(rules)) => *stats.skipped.entry(rules).or_insert(0) += 1,
        Some(Slot::PartiallyInstantiated) => {
            *stats
                .skipped
                .entry("wasmiPartialInstantiation".into())
                .or_insert(0) += 1
        }
        Some(Slot::Diverged(rules)) => {
            *stats
                .skipped
                .entry(format!("sharesStateWithRejected({rules})"))
                .or_insert(0) += 1
        }
        Some(Slot::Orphan) => {
            *stats
                .skipped
                .entry("importsFromRejectedModule".into())
                .or_insert(0) += 1
        }
        Some(Slot::Broken) => stats.assertion(kind, Err("module is broken".into()), at),
        None => stats.assertion(kind, Err("no module".into()), at),
    }
}

fn directive_in(runner: &mut Runner, directive: WastDirective<'_>, stats: &mut Stats, at: &str) {
    match directive {
        WastDirective::Module(mut module) => {
            let id = module.name().map(|id| id.name().to_string());
            let slot = match encode(&mut module) {
                Err(e) => {
                    stats.failures.push(format!("{at}: cannot encode: {e}"));
                    Slot::Broken
                }
                Ok(wasm) => match runner.load(&wasm, stats, at) {
                    Ok(Ok(slot)) => slot,
                    Ok(Err(e)) => {
                        stats
                            .failures
                            .push(format!("{at}: instantiation failed: {e}"));
                        Slot::Broken
                    }
                    Err(e) => {
                        stats.failures.push(format!("{at}: {e}"));
                        Slot::Broken
                    }
                },
            };
            if let Some(id) = id {
                runner.named.insert(id, slot.clone());
            }
            runner.current = Some(slot);
        }
        WastDirective::ModuleDefinition(mut module) => {
            let id = module.name().map(|id| id.name().to_string());
            match (encode(&mut module), id) {
                (Ok(wasm), Some(id)) => {
                    runner.definitions.insert(id, wasm);
                }
                (Ok(_), None) => {}
                (Err(e), _) => stats.failures.push(format!("{at}: cannot encode: {e}")),
            }
        }
        WastDirective::ModuleInstance {
            instance, module, ..
        } => {
            let wasm = module.and_then(|m| runner.definitions.get(m.name()).cloned());
            let slot = match wasm {
                None => {
                    stats
                        .failures
                        .push(format!("{at}: unknown module definition"));
                    Slot::Broken
                }
                Some(wasm) => match runner.load(&wasm, stats, at) {
                    Ok(Ok(slot)) => slot,
                    Ok(Err(e)) => {
                        stats
                            .failures
                            .push(format!("{at}: instantiation failed: {e}"));
                        Slot::Broken
                    }
                    Err(e) => {
                        stats.failures.push(format!("{at}: {e}"));
                        Slot::Broken
                    }
                },
            };
            if let Some(id) = instance {
                runner.named.insert(id.name().to_string(), slot.clone());
            }
            runner.current = Some(slot);
        }
        WastDirective::Register { name, module, .. } => match runner.slot(module) {
            Some(Slot::Live { instance, .. }) => {
                if let Err(e) = runner.linker.instance(&mut runner.store, name, instance) {
                    stats.failures.push(format!("{at}: register: {e}"));
                }
            }
            _ => {
                runner.rejected_registrations.insert(name.to_string());
            }
        },
        WastDirective::Invoke(invoke) => {
            let slot = runner.slot(invoke.module);
            on_slot(stats, slot, "invoke", at, |instance| {
                // A bare invoke may trap or not: only the engine's integrity is checked.
                runner.invoke(instance, &invoke).map(|_| ())
            });
        }
        WastDirective::AssertReturn { exec, results, .. } => match exec {
            WastExecute::Invoke(invoke) => {
                let slot = runner.slot(invoke.module);
                on_slot(stats, slot, "assert_return", at, |instance| {
                    match runner.invoke(instance, &invoke)? {
                        Ok(values) => check_results(&results, &values),
                        Err(e) => Err(format!("expected {results:?}, trapped: {e}")),
                    }
                });
            }
            WastExecute::Get { module, global, .. } => {
                let slot = runner.slot(module);
                on_slot(stats, slot, "assert_return", at, |instance| {
                    let value = runner.get_global(instance, global)?;
                    check_results(&results, &[value])
                });
            }
            WastExecute::Wat(_) => stats
                .failures
                .push(format!("{at}: assert_return on a module is not supported")),
        },
        WastDirective::AssertTrap { exec, message, .. } => match exec {
            WastExecute::Invoke(invoke) => {
                let slot = runner.slot(invoke.module);
                on_slot(stats, slot, "assert_trap", at, |instance| {
                    check_trap(runner.invoke(instance, &invoke)?, message)
                });
            }
            WastExecute::Wat(Wat::Module(module)) => {
                let mut module = QuoteWat::Wat(Wat::Module(module));
                match encode(&mut module) {
                    Err(e) => stats.failures.push(format!("{at}: cannot encode: {e}")),
                    Ok(wasm) => match runner.load(&wasm, stats, at) {
                        Ok(Ok(Slot::Live { .. })) => stats.assertion(
                            "assert_trap",
                            Err(format!("instantiation should trap with `{message}`")),
                            at,
                        ),
                        Ok(Ok(slot)) => on_slot(stats, Some(slot), "assert_trap", at, |_| Ok(())),
                        Ok(Err(e)) => {
                            if Imports::of(&wasm).table {
                                runner.taint(&Slot::PartiallyInstantiated);
                            }
                            stats.assertion("assert_trap", check_trap(Err(e), message), at)
                        }
                        Err(e) => stats.assertion("assert_trap", Err(e), at),
                    },
                }
            }
            other => stats
                .failures
                .push(format!("{at}: unsupported assert_trap {other:?}")),
        },
        WastDirective::AssertExhaustion { call, message, .. } => {
            let slot = runner.slot(call.module);
            on_slot(
                stats,
                slot,
                "assert_exhaustion",
                at,
                |instance| match runner.invoke(instance, &call)? {
                    Err(e) if e.as_trap_code() == Some(TrapCode::StackOverflow) => Ok(()),
                    other => Err(format!("expected `{message}`, got {other:?}")),
                },
            );
        }
        WastDirective::AssertUnlinkable {
            module, message, ..
        } => {
            let mut module = QuoteWat::Wat(module);
            match encode(&mut module) {
                Err(e) => stats.failures.push(format!("{at}: cannot encode: {e}")),
                Ok(wasm) => match runner.load(&wasm, stats, at) {
                    Ok(Ok(Slot::Live { .. })) => stats.assertion(
                        "assert_unlinkable",
                        Err(format!("linking should fail with `{message}`")),
                        at,
                    ),
                    Ok(Ok(slot)) => on_slot(stats, Some(slot), "assert_unlinkable", at, |_| Ok(())),
                    Ok(Err(e)) if e.as_trap_code().is_none() => {
                        stats.assertion("assert_unlinkable", Ok(()), at)
                    }
                    Ok(Err(e)) => stats.assertion(
                        "assert_unlinkable",
                        Err(format!("expected a link error, got trap {e}")),
                        at,
                    ),
                    Err(e) => stats.assertion("assert_unlinkable", Err(e), at),
                },
            }
        }
        WastDirective::AssertInvalid { mut module, .. }
        | WastDirective::AssertMalformed { mut module, .. } => {
            stats.negative += 1;
            match module.encode() {
                // Text the `wat` parser refuses never reaches the vm, which takes binaries only.
                Err(_) => stats.negative_text += 1,
                Ok(wasm) => {
                    let strict = validate(&wasm, &runner.schedule.limits);
                    let relaxed = conformance_rules(&wasm, &strict);
                    match strict {
                        Ok(()) => stats
                            .failures
                            .push(format!("{at}: an invalid/malformed module was accepted")),
                        Err(report) if relaxed.is_empty() => stats.failures.push(format!(
                            "{at}: an invalid/malformed module is rejected only by ABI rules: {report}"
                        )),
                        Err(report) => {
                            for rule in report.rules() {
                                if !relaxed.contains(&rule) {
                                    continue;
                                }
                                *stats.negative_rules.entry(rule).or_insert(0) += 1;
                            }
                        }
                    }
                }
            }
        }
        other => stats
            .failures
            .push(format!("{at}: unsupported directive {other:?}")),
    }
}

#[test]
fn spec_testsuite_through_the_metered_engine() {
    let dir = testsuite_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!(
            "SKIPPED: the WebAssembly spec testsuite is not at {} (set OPMETER_WASM_TESTSUITE)",
            dir.display()
        );
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .wast file in {}", dir.display());
    let schedule = Schedule::v1();
    let mut stats = Stats::default();
    for file in &files {
        run_file(file, &schedule, &mut stats);
    }
    let report = stats.report();
    println!("{report}");
    let shown: Vec<&String> = stats.failures.iter().take(60).collect();
    assert!(
        stats.failures.is_empty(),
        "{} conformance failure(s):\n{}\n\n{report}",
        stats.failures.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let run: usize = stats.run.values().sum();
    assert_eq!(stats.passed, run);
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
    if readme.contains(PINNED_COMMIT) {
        // The numbers of the pinned testsuite: a change in validation, instrumentation or the
        // engine that changes what runs shows up here.
        expect_test::expect![[r#"
            files: 71
            modules: 1167
            strict validation: 0 accepted, 1167 rejected
              referenceTypes: 54
              multiValue: 9
              multiMemory: 3
              exceptions: 1
              bulkMemory: 89
              signExtension: 2
              saturatingFloatToInt: 2
              otherProposal: 69
              tooManyLocals: 1
              tooManyParams: 1
              tooManyExports: 1
              tooManyBrTableTargets: 1
              tooManyMemoryPages: 2
              importNotAllowed: 54
              importKind: 220
              startFunction: 8
              missingMemoryExport: 1165
              noEntryPoints: 613
              entryPointSignature: 538
              segmentOutOfBounds: 83
            conformance mode: 894 accepted, 239 rejected
              bulkMemory: 45
              exceptions: 1
              importKind: 34
              importKind+segmentOutOfBounds: 5
              multiMemory: 3
              multiValue: 3
              multiValue+bulkMemory: 5
              multiValue+bulkMemory+tooManyParams: 1
              otherProposal: 12
              otherProposal+importKind: 32
              otherProposal+importKind+segmentOutOfBounds: 1
              otherProposal+segmentOutOfBounds: 7
              referenceTypes: 12
              referenceTypes+bulkMemory: 18
              referenceTypes+bulkMemory+importKind+segmentOutOfBounds: 1
              referenceTypes+bulkMemory+otherProposal: 12
              referenceTypes+bulkMemory+otherProposal+importKind: 1
              referenceTypes+bulkMemory+otherProposal+importKind+segmentOutOfBounds: 1
              referenceTypes+bulkMemory+segmentOutOfBounds: 4
              referenceTypes+bulkMemory+tooManyBrTableTargets: 1
              referenceTypes+importKind: 1
              referenceTypes+otherProposal: 3
              saturatingFloatToInt: 2
              segmentOutOfBounds: 20
              signExtension: 2
              startFunction: 8
              tooManyExports: 1
              tooManyLocals: 1
              tooManyMemoryPages: 2
            accepted but importing from a rejected module: 34
            assertions run: 13405, passed: 13405
              assert_return: 13027
              assert_trap: 294
              assert_unlinkable: 46
              invoke: 38
            assertions on rejected modules (not run): 3585
              bulkMemory: 549
              importKind: 39
              importKind+segmentOutOfBounds: 1
              importsFromRejectedModule: 27
              multiMemory: 47
              multiValue: 96
              multiValue+bulkMemory: 452
              multiValue+bulkMemory+tooManyParams: 72
              otherProposal: 9
              otherProposal+importKind: 31
              referenceTypes: 10
              referenceTypes+bulkMemory: 124
              referenceTypes+bulkMemory+importKind+segmentOutOfBounds: 2
              referenceTypes+bulkMemory+otherProposal+importKind: 62
              referenceTypes+bulkMemory+otherProposal+importKind+segmentOutOfBounds: 5
              referenceTypes+bulkMemory+segmentOutOfBounds: 18
              referenceTypes+bulkMemory+tooManyBrTableTargets: 161
              referenceTypes+importKind: 1
              saturatingFloatToInt: 593
              segmentOutOfBounds: 20
              sharesStateWithRejected(segmentOutOfBounds): 1
              sharesStateWithRejected(startFunction): 2
              signExtension: 758
              startFunction: 12
              tooManyExports: 479
              tooManyLocals: 10
              wasmiPartialInstantiation: 4
            assert_invalid/assert_malformed: 2454, rejected by the text parser: 562, by validation: 1892
              malformed: 670
              invalid: 1222
              referenceTypes: 23
              multiValue: 90
              multiMemory: 4
              exceptions: 1
              bulkMemory: 33
              otherProposal: 13
              tooManyLocals: 2
              tooManyMemoryPages: 6
              importKind: 21
              startFunction: 7
              segmentOutOfBounds: 36
        "#]]
        .assert_eq(&report);
    } else {
        println!("(another testsuite version: the pinned numbers are not checked)");
    }
}
