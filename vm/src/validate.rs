//! Static validation of uploaded code: every rule, every violation reported at once.
//!
//! ```text
//! bytes ─▶ size check ─▶ parse sections ─▶ feature scan ─┬─▶ limits ─▶ imports/exports ─▶ report
//!                                        └─ wasmparser structural validation ─┘
//! ```

use std::fmt;

use serde::Serialize;
use wasmparser::{
    BlockType, CompositeInnerType, ElementItems, ElementKind, ExternalKind, FuncType, Operator,
    Parser, Payload, TypeRef, ValType, Validator, WasmFeatures,
};

use crate::abi::{
    AbiType, HostFn, HOST_MODULE, MEMORY_EXPORT, PROVABLE_EXPORT_PREFIX, RESERVED_EXPORT_PREFIX,
};
use crate::schedule::Limits;

/// Declares [`Rule`] from one table (variant = stable name), so the enum, its names (also its
/// JSON form) and [`Rule::ALL`] cannot drift apart.
macro_rules! rules {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal; )*) => {
        /// A validation rule. The string form ([`Rule::as_str`]) is stable and appears in JSON.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub enum Rule {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        impl Rule {
            /// Every rule, in declaration (and report) order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            /// The stable camelCase name.
            pub fn as_str(self) -> &'static str {
                match self { $(Rule::$variant => $name,)* }
            }
        }
    };
}

rules! {
    /// Not a WebAssembly binary, or an undecodable one.
    Malformed = "malformed";
    /// Decodes but is not valid WebAssembly (type errors, bad indices, …).
    Invalid = "invalid";
    /// Larger than `max_code_len_bytes`.
    CodeTooLarge = "codeTooLarge";
    /// Uses SIMD (`v128`).
    Simd = "simd";
    /// Uses threads/atomics or shared memory.
    Threads = "threads";
    /// Uses reference types (ref values, table ops, several tables, typed select).
    ReferenceTypes = "referenceTypes";
    /// Uses multi-value (several results, typed blocks with parameters).
    MultiValue = "multiValue";
    /// Declares more than one memory.
    MultiMemory = "multiMemory";
    /// Uses a 64-bit memory or table.
    Memory64 = "memory64";
    /// Uses tail calls.
    TailCalls = "tailCalls";
    /// Uses exception handling.
    Exceptions = "exceptions";
    /// Uses bulk memory (`memory.copy/fill/init`, passive segments, data count).
    BulkMemory = "bulkMemory";
    /// Uses sign-extension operators.
    SignExtension = "signExtension";
    /// Uses non-trapping float-to-int conversions.
    SaturatingFloatToInt = "saturatingFloatToInt";
    /// Uses another post-MVP proposal (GC, function references, stack switching, wide
    /// arithmetic, custom page sizes, components, …).
    OtherProposal = "otherProposal";
    /// More functions (imported + defined) than `max_functions`.
    TooManyFunctions = "tooManyFunctions";
    /// A function with more locals (parameters included) than `max_locals_per_function`.
    TooManyLocals = "tooManyLocals";
    /// More globals than `max_globals`.
    TooManyGlobals = "tooManyGlobals";
    /// A function type with more parameters than `max_params`.
    TooManyParams = "tooManyParams";
    /// More types than `max_types`.
    TooManyTypes = "tooManyTypes";
    /// More imports than `max_imports`.
    TooManyImports = "tooManyImports";
    /// More exports than `max_exports`.
    TooManyExports = "tooManyExports";
    /// A table larger than `max_table_elements` (initial or maximum), or element segments beyond it.
    TooManyTableElements = "tooManyTableElements";
    /// A `br_table` with more targets than `max_br_table_targets`.
    TooManyBrTableTargets = "tooManyBrTableTargets";
    /// More data segments than `max_data_segments`.
    TooManyDataSegments = "tooManyDataSegments";
    /// Initial or maximum memory above `memory_pages_max`.
    TooManyMemoryPages = "tooManyMemoryPages";
    /// An import outside the host ABI allow-list.
    ImportNotAllowed = "importNotAllowed";
    /// An allowed host function imported with the wrong signature.
    ImportSignature = "importSignature";
    /// An import of a global, memory, table or tag: only functions can be imported (an imported
    /// global could alias the gas counter).
    ImportKind = "importKind";
    /// An export under the reserved `opmeter_` prefix (the injected gas globals).
    ReservedExport = "reservedExport";
    /// A `start` function (code that would run outside any metered entry point).
    StartFunction = "startFunction";
    /// The module does not export its memory as `memory`.
    MissingMemoryExport = "missingMemoryExport";
    /// The module exports no function (no entry point).
    NoEntryPoints = "noEntryPoints";
    /// An exported function whose type is not `() -> ()` (or, for a `provable:` export, whose
    /// parameters are not all `i32`/`i64` or that has a result other than one `i32`/`i64`).
    EntryPointSignature = "entryPointSignature";
    /// An active data or element segment that does not fit the initial memory or table, or
    /// whose offset is not a constant: instantiation would fail at every call.
    SegmentOutOfBounds = "segmentOutOfBounds";
    /// The gas instrumenter could not process the module (reported by `Vm::prepare`, after
    /// every validation rule passed).
    InstrumentationFailed = "instrumentationFailed";
}

impl Rule {
    /// The rule with this stable name ([`Rule::as_str`]), if any.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule, with the limit and the offending value where the rule has them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which rule.
    pub rule: Rule,
    /// The schedule's limit, for limit rules.
    pub limit: Option<u64>,
    /// The offending value, for limit rules.
    pub actual: Option<u64>,
    /// Where: `function 3`, `import opmeter.foo`, `export bar`, `offset 0x1f`, …
    pub location: Option<String>,
    /// A human-readable explanation.
    pub message: String,
}

impl Violation {
    fn new(rule: Rule, message: impl Into<String>) -> Violation {
        Violation {
            rule,
            limit: None,
            actual: None,
            location: None,
            message: message.into(),
        }
    }

    fn at(mut self, location: impl Into<String>) -> Violation {
        self.location = Some(location.into());
        self
    }

    fn limit(rule: Rule, what: &str, limit: u64, actual: u64) -> Violation {
        Violation {
            rule,
            limit: Some(limit),
            actual: Some(actual),
            location: None,
            message: format!("{what}: {actual} exceeds the limit of {limit}"),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.rule, self.message)?;
        if let Some(location) = &self.location {
            write!(f, " (at {location})")?;
        }
        Ok(())
    }
}

/// All violations of one module, in the order they were found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("code rejected: {} violation(s), first: {}", .violations.len(), .violations[0])]
pub struct ValidationReport {
    /// Never empty.
    pub violations: Vec<Violation>,
}

impl ValidationReport {
    /// The distinct rules broken, sorted.
    pub fn rules(&self) -> Vec<Rule> {
        let mut rules: Vec<Rule> = self.violations.iter().map(|v| v.rule).collect();
        rules.sort();
        rules.dedup();
        rules
    }

    pub(crate) fn single(violation: Violation) -> ValidationReport {
        ValidationReport {
            violations: vec![violation],
        }
    }
}

/// The features `wasm32v1-none` emits: WebAssembly 1.0 plus mutable globals (and floats).
pub fn accepted_features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL | WasmFeatures::FLOATS
}

macro_rules! define_proposal_of {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
        /// The proposal an operator belongs to, as named by wasmparser's operator table.
        fn proposal_of(op: &Operator<'_>) -> &'static str {
            match op {
                $( Operator::$op { .. } => stringify!($proposal), )*
                #[allow(unreachable_patterns)]
                _ => "unknown",
            }
        }
    };
}
wasmparser::for_each_operator!(define_proposal_of);

fn rule_for_proposal(proposal: &str) -> Option<Rule> {
    Some(match proposal {
        "mvp" => return None,
        "simd" | "relaxed_simd" => Rule::Simd,
        "threads" | "shared_everything_threads" => Rule::Threads,
        "reference_types" => Rule::ReferenceTypes,
        "bulk_memory" => Rule::BulkMemory,
        "sign_extension" => Rule::SignExtension,
        "saturating_float_to_int" => Rule::SaturatingFloatToInt,
        "tail_call" => Rule::TailCalls,
        "exceptions" | "legacy_exceptions" => Rule::Exceptions,
        "memory_control" => Rule::BulkMemory,
        _ => Rule::OtherProposal,
    })
}

fn valtype_rule(ty: ValType) -> Option<Rule> {
    match ty {
        ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64 => None,
        ValType::V128 => Some(Rule::Simd),
        ValType::Ref(_) => Some(Rule::ReferenceTypes),
    }
}

fn abi_matches(expected: &[AbiType], actual: &[ValType]) -> bool {
    expected.len() == actual.len()
        && expected.iter().zip(actual).all(|(e, a)| {
            matches!(
                (e, a),
                (AbiType::I32, ValType::I32) | (AbiType::I64, ValType::I64)
            )
        })
}

/// Collects violations; reports each (rule, location) once.
struct Collector {
    violations: Vec<Violation>,
}

impl Collector {
    fn push(&mut self, violation: Violation) {
        let duplicate = self.violations.iter().any(|v| {
            v.rule == violation.rule
                && v.location == violation.location
                && v.message == violation.message
        });
        if !duplicate {
            self.violations.push(violation);
        }
    }

    fn feature(&mut self, rule: Rule, what: &str, location: String) {
        self.push(
            Violation::new(
                rule,
                format!("{what} uses the `{rule}` proposal, which is not supported"),
            )
            .at(location),
        );
    }

    /// An active segment of `len` units at a constant offset must end within `size` units.
    fn check_segment(
        &mut self,
        offset: &wasmparser::ConstExpr<'_>,
        len: u64,
        size: u64,
        unit: &str,
        location: &str,
    ) {
        let mut ops = offset.get_operators_reader();
        let constant = match (ops.read(), ops.read()) {
            (Ok(Operator::I32Const { value }), Ok(Operator::End)) => Some(u64::from(value as u32)),
            _ => None,
        };
        let violation = match constant {
            None => Some(Violation::new(
                Rule::SegmentOutOfBounds,
                "a segment offset must be an `i32.const`",
            )),
            Some(start) if start.saturating_add(len) > size => Some(Violation {
                rule: Rule::SegmentOutOfBounds,
                limit: Some(size),
                actual: Some(start.saturating_add(len)),
                location: None,
                message: format!(
                    "segment ends at {} {unit} but the initial size is {size}",
                    start.saturating_add(len)
                ),
            }),
            Some(_) => None,
        };
        if let Some(v) = violation {
            self.push(v.at(location));
        }
    }

    fn check_limit(
        &mut self,
        rule: Rule,
        what: &str,
        limit: u32,
        actual: u64,
        location: Option<String>,
    ) {
        if actual > u64::from(limit) {
            let mut v = Violation::limit(rule, what, u64::from(limit), actual);
            v.location = location;
            self.push(v);
        }
    }
}

/// Validates `wasm` against every rule and limit.
///
/// # Errors
/// A [`ValidationReport`] listing every violation found.
pub fn validate(wasm: &[u8], limits: &Limits) -> Result<(), ValidationReport> {
    let mut c = Collector {
        violations: Vec::new(),
    };
    c.check_limit(
        Rule::CodeTooLarge,
        "code size in bytes",
        limits.max_code_len_bytes,
        wasm.len() as u64,
        None,
    );
    if let Err(message) = scan(wasm, limits, &mut c) {
        c.push(Violation::new(Rule::Malformed, message));
    }
    let decodable = !c.violations.iter().any(|v| v.rule == Rule::Malformed);
    if decodable {
        // Structural validity independent of features: every feature use was reported by the scan.
        let mut all = Validator::new_with_features(WasmFeatures::all());
        if let Err(e) = all.validate_all(wasm) {
            c.push(
                Violation::new(
                    Rule::Invalid,
                    format!("invalid WebAssembly: {}", e.message()),
                )
                .at(format!("offset {:#x}", e.offset())),
            );
        } else {
            let mut strict = Validator::new_with_features(accepted_features());
            if let Err(e) = strict.validate_all(wasm) {
                let feature_reported = c.violations.iter().any(|v| {
                    matches!(
                        v.rule,
                        Rule::Simd
                            | Rule::Threads
                            | Rule::ReferenceTypes
                            | Rule::MultiValue
                            | Rule::MultiMemory
                            | Rule::Memory64
                            | Rule::TailCalls
                            | Rule::Exceptions
                            | Rule::BulkMemory
                            | Rule::SignExtension
                            | Rule::SaturatingFloatToInt
                            | Rule::OtherProposal
                    )
                });
                if !feature_reported {
                    c.push(
                        Violation::new(
                            Rule::OtherProposal,
                            format!("uses an unsupported WebAssembly feature: {}", e.message()),
                        )
                        .at(format!("offset {:#x}", e.offset())),
                    );
                }
            }
        }
    }
    if c.violations.is_empty() {
        Ok(())
    } else {
        Err(ValidationReport {
            violations: c.violations,
        })
    }
}

/// The flags (a LEB128 `u32`) that start a segment at `offset`.
fn segment_flags(wasm: &[u8], offset: usize) -> Option<u32> {
    let mut reader = wasmparser::BinaryReader::new(wasm.get(offset..)?, 0);
    reader.read_var_u32().ok()
}

/// Walks every section once; `Err` only when the bytes cannot be decoded at all.
fn scan(wasm: &[u8], limits: &Limits, c: &mut Collector) -> Result<(), String> {
    let mut types: Vec<Option<FuncType>> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new(); // type index of every function (imports first)
    let mut imported_funcs = 0u32;
    let mut globals = 0u64;
    let mut memories = 0u64;
    let mut tables = 0u64;
    // Initial sizes of memory 0 (in bytes) and table 0 (in elements), for segment bounds.
    let mut memory_initial_bytes: Option<u64> = None;
    let mut table_initial: Option<u64> = None;
    let mut imports = 0u64;
    let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();
    let mut code_index = 0u32;
    let mut saw_version = false;

    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| {
            let message: Vec<&str> = e.message().split_whitespace().collect();
            format!("not a decodable WebAssembly module: {}", message.join(" "))
        })?;
        match payload {
            Payload::Version { encoding, .. } => {
                saw_version = true;
                if encoding != wasmparser::Encoding::Module {
                    c.push(Violation::new(
                        Rule::OtherProposal,
                        "a component, not a core module",
                    ));
                    return Ok(());
                }
            }
            Payload::TypeSection(reader) => {
                for (index, group) in reader.into_iter().enumerate() {
                    let group = group.map_err(|e| e.message().to_string())?;
                    let explicit = group.is_explicit_rec_group();
                    for sub in group.types() {
                        let location = format!("type {index}");
                        if explicit || !sub.is_final || sub.supertype_idx.is_some() {
                            c.feature(Rule::OtherProposal, "a GC type", location.clone());
                        }
                        match &sub.composite_type.inner {
                            CompositeInnerType::Func(ft) => {
                                c.check_limit(
                                    Rule::TooManyParams,
                                    "function parameters",
                                    limits.max_params,
                                    ft.params().len() as u64,
                                    Some(location.clone()),
                                );
                                if ft.results().len() > 1 {
                                    c.feature(
                                        Rule::MultiValue,
                                        "a function type with several results",
                                        location.clone(),
                                    );
                                }
                                for ty in ft.params().iter().chain(ft.results()) {
                                    if let Some(rule) = valtype_rule(*ty) {
                                        c.feature(rule, "a function type", location.clone());
                                    }
                                }
                                types.push(Some(ft.clone()));
                            }
                            _ => {
                                c.feature(Rule::OtherProposal, "a GC type", location);
                                types.push(None);
                            }
                        }
                    }
                }
                c.check_limit(
                    Rule::TooManyTypes,
                    "types",
                    limits.max_types,
                    types.len() as u64,
                    None,
                );
            }
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import = import.map_err(|e| e.message().to_string())?;
                    imports += 1;
                    let location = format!("import {}.{}", import.module, import.name);
                    match import.ty {
                        TypeRef::Func(type_index) => {
                            imported_funcs += 1;
                            func_types.push(type_index);
                            let host_fn = (import.module == HOST_MODULE)
                                .then(|| HostFn::by_name(import.name))
                                .flatten();
                            match host_fn {
                                None => c.push(
                                    Violation::new(
                                        Rule::ImportNotAllowed,
                                        format!(
                                            "`{}.{}` is not a host function of ABI v1",
                                            import.module, import.name
                                        ),
                                    )
                                    .at(location),
                                ),
                                Some(f) => {
                                    let ok = types
                                        .get(type_index as usize)
                                        .and_then(Option::as_ref)
                                        .is_some_and(|ft| {
                                            abi_matches(f.params(), ft.params())
                                                && abi_matches(f.results(), ft.results())
                                        });
                                    if !ok {
                                        c.push(
                                            Violation::new(
                                                Rule::ImportSignature,
                                                format!(
                                                    "`{}` must have signature {:?} -> {:?}",
                                                    f.name(),
                                                    f.params(),
                                                    f.results()
                                                ),
                                            )
                                            .at(location),
                                        );
                                    }
                                }
                            }
                        }
                        TypeRef::Memory(_)
                        | TypeRef::Table(_)
                        | TypeRef::Global(_)
                        | TypeRef::Tag(_) => {
                            if let TypeRef::Global(_) = import.ty {
                                globals += 1;
                            }
                            c.push(
                                Violation::new(Rule::ImportKind, "only functions may be imported")
                                    .at(location),
                            );
                        }
                    }
                }
                c.check_limit(
                    Rule::TooManyImports,
                    "imports",
                    limits.max_imports,
                    imports,
                    None,
                );
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    func_types.push(ty.map_err(|e| e.message().to_string())?);
                }
                c.check_limit(
                    Rule::TooManyFunctions,
                    "functions",
                    limits.max_functions,
                    func_types.len() as u64,
                    None,
                );
            }
            Payload::TableSection(reader) => {
                for (index, table) in reader.into_iter().enumerate() {
                    let table = table.map_err(|e| e.message().to_string())?;
                    tables += 1;
                    table_initial.get_or_insert(table.ty.initial);
                    let ty = table.ty;
                    let location = format!("table {index}");
                    if ty.table64 {
                        c.feature(Rule::Memory64, "a 64-bit table", location.clone());
                    }
                    if ty.shared {
                        c.feature(Rule::Threads, "a shared table", location.clone());
                    }
                    if !ty.element_type.is_func_ref() || !ty.element_type.is_nullable() {
                        c.feature(
                            Rule::ReferenceTypes,
                            "a non-funcref table",
                            location.clone(),
                        );
                    }
                    if !matches!(table.init, wasmparser::TableInit::RefNull) {
                        c.feature(
                            Rule::OtherProposal,
                            "a table with an initialiser",
                            location.clone(),
                        );
                    }
                    c.check_limit(
                        Rule::TooManyTableElements,
                        "table initial size",
                        limits.max_table_elements,
                        ty.initial,
                        Some(location.clone()),
                    );
                    if let Some(max) = ty.maximum {
                        c.check_limit(
                            Rule::TooManyTableElements,
                            "table maximum size",
                            limits.max_table_elements,
                            max,
                            Some(location),
                        );
                    }
                }
                if tables > 1 {
                    c.feature(
                        Rule::ReferenceTypes,
                        "several tables",
                        "table section".into(),
                    );
                }
            }
            Payload::MemorySection(reader) => {
                for (index, memory) in reader.into_iter().enumerate() {
                    let memory = memory.map_err(|e| e.message().to_string())?;
                    memories += 1;
                    memory_initial_bytes.get_or_insert(memory.initial.saturating_mul(65_536));
                    let location = format!("memory {index}");
                    if memory.memory64 {
                        c.feature(Rule::Memory64, "a 64-bit memory", location.clone());
                    }
                    if memory.shared {
                        c.feature(Rule::Threads, "a shared memory", location.clone());
                    }
                    if memory.page_size_log2.is_some() {
                        c.feature(Rule::OtherProposal, "a custom page size", location.clone());
                    }
                    c.check_limit(
                        Rule::TooManyMemoryPages,
                        "initial memory pages",
                        limits.memory_pages_max,
                        memory.initial,
                        Some(location.clone()),
                    );
                    if let Some(max) = memory.maximum {
                        c.check_limit(
                            Rule::TooManyMemoryPages,
                            "maximum memory pages",
                            limits.memory_pages_max,
                            max,
                            Some(location),
                        );
                    }
                }
                if memories > 1 {
                    c.feature(
                        Rule::MultiMemory,
                        "several memories",
                        "memory section".into(),
                    );
                }
            }
            Payload::TagSection(_) => {
                c.feature(Rule::Exceptions, "a tag section", "tag section".into())
            }
            Payload::GlobalSection(reader) => {
                for (index, global) in reader.into_iter().enumerate() {
                    let global = global.map_err(|e| e.message().to_string())?;
                    globals += 1;
                    if let Some(rule) = valtype_rule(global.ty.content_type) {
                        c.feature(rule, "a global", format!("global {index}"));
                    }
                    if global.ty.shared {
                        c.feature(Rule::Threads, "a shared global", format!("global {index}"));
                    }
                    let mut ops = global.init_expr.get_operators_reader();
                    while !ops.eof() {
                        let op = ops.read().map_err(|e| e.message().to_string())?;
                        if let Some(rule) = rule_for_proposal(proposal_of(&op)) {
                            c.feature(rule, "a constant expression", format!("global {index}"));
                        } else if !matches!(
                            op,
                            Operator::I32Const { .. }
                                | Operator::I64Const { .. }
                                | Operator::F32Const { .. }
                                | Operator::F64Const { .. }
                                | Operator::GlobalGet { .. }
                                | Operator::End
                        ) {
                            c.feature(
                                Rule::OtherProposal,
                                "an extended constant expression",
                                format!("global {index}"),
                            );
                        }
                    }
                }
                c.check_limit(
                    Rule::TooManyGlobals,
                    "globals",
                    limits.max_globals,
                    globals,
                    None,
                );
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| e.message().to_string())?;
                    if export.name.starts_with(RESERVED_EXPORT_PREFIX) {
                        c.push(
                            Violation::new(
                                Rule::ReservedExport,
                                format!("export names starting with `{RESERVED_EXPORT_PREFIX}` are reserved for the gas counter"),
                            )
                            .at(format!("export {}", export.name)),
                        );
                    }
                    exports.push((export.name.to_string(), export.kind, export.index));
                }
                c.check_limit(
                    Rule::TooManyExports,
                    "exports",
                    limits.max_exports,
                    exports.len() as u64,
                    None,
                );
            }
            Payload::StartSection { func, .. } => c.push(
                Violation::new(
                    Rule::StartFunction,
                    "a start function would run outside any metered entry point",
                )
                .at(format!("function {func}")),
            ),
            Payload::ElementSection(reader) => {
                let mut total = 0u64;
                for (index, element) in reader.into_iter().enumerate() {
                    let element = element.map_err(|e| e.message().to_string())?;
                    let location = format!("element segment {index}");
                    let count = match &element.items {
                        ElementItems::Functions(items) => u64::from(items.count()),
                        ElementItems::Expressions(_, items) => u64::from(items.count()),
                    };
                    match element.kind {
                        ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => {
                            c.check_segment(
                                &offset_expr,
                                count,
                                table_initial.unwrap_or(0),
                                "elements",
                                &location,
                            );
                            if table_index.is_some_and(|t| t != 0) {
                                c.feature(
                                    Rule::ReferenceTypes,
                                    "an element segment for another table",
                                    location.clone(),
                                );
                            } else if table_index.is_some() {
                                // Flags 2: WebAssembly 1.0 has no such encoding (the
                                // instrumenter cannot read it either).
                                c.feature(
                                    Rule::BulkMemory,
                                    "an element segment with an explicit table index",
                                    location.clone(),
                                );
                            }
                        }
                        ElementKind::Passive | ElementKind::Declared => {
                            c.feature(
                                Rule::BulkMemory,
                                "a passive or declared element segment",
                                location.clone(),
                            );
                        }
                    }
                    match element.items {
                        ElementItems::Functions(items) => total += u64::from(items.count()),
                        ElementItems::Expressions(_, items) => {
                            c.feature(
                                Rule::ReferenceTypes,
                                "an element segment of expressions",
                                location,
                            );
                            total += u64::from(items.count());
                        }
                    }
                }
                c.check_limit(
                    Rule::TooManyTableElements,
                    "table elements in segments",
                    limits.max_table_elements,
                    total,
                    None,
                );
            }
            Payload::DataCountSection { .. } => c.feature(
                Rule::BulkMemory,
                "a data count section",
                "data count section".into(),
            ),
            Payload::DataSection(reader) => {
                let count = reader.count();
                for (index, data) in reader.into_iter().enumerate() {
                    let data = data.map_err(|e| e.message().to_string())?;
                    match data.kind {
                        wasmparser::DataKind::Passive => c.feature(
                            Rule::BulkMemory,
                            "a passive data segment",
                            format!("data segment {index}"),
                        ),
                        wasmparser::DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => {
                            c.check_segment(
                                &offset_expr,
                                data.data.len() as u64,
                                memory_initial_bytes.unwrap_or(0),
                                "bytes",
                                &format!("data segment {index}"),
                            );
                            if memory_index != 0 {
                                c.feature(
                                    Rule::MultiMemory,
                                    "a data segment for another memory",
                                    format!("data segment {index}"),
                                );
                            } else if segment_flags(wasm, data.range.start) != Some(0) {
                                // Flags 2 (an explicit memory index): not WebAssembly 1.0.
                                c.feature(
                                    Rule::BulkMemory,
                                    "a data segment with an explicit memory index",
                                    format!("data segment {index}"),
                                );
                            }
                        }
                    }
                }
                c.check_limit(
                    Rule::TooManyDataSegments,
                    "data segments",
                    limits.max_data_segments,
                    u64::from(count),
                    None,
                );
            }
            Payload::CodeSectionEntry(body) => {
                let function_index = imported_funcs + code_index;
                code_index += 1;
                let location = format!("function {function_index}");
                let params = func_types
                    .get(function_index as usize)
                    .and_then(|t| types.get(*t as usize))
                    .and_then(Option::as_ref)
                    .map_or(0, |ft| ft.params().len() as u64);
                let mut locals = params;
                for local in body
                    .get_locals_reader()
                    .map_err(|e| e.message().to_string())?
                {
                    let (count, ty) = local.map_err(|e| e.message().to_string())?;
                    locals = locals.saturating_add(u64::from(count));
                    if let Some(rule) = valtype_rule(ty) {
                        c.feature(rule, "a local", location.clone());
                    }
                }
                c.check_limit(
                    Rule::TooManyLocals,
                    "locals of a function",
                    limits.max_locals_per_function,
                    locals,
                    Some(location.clone()),
                );
                let mut ops = body
                    .get_operators_reader()
                    .map_err(|e| e.message().to_string())?;
                while !ops.eof() {
                    let op = ops.read().map_err(|e| e.message().to_string())?;
                    if let Some(rule) = rule_for_proposal(proposal_of(&op)) {
                        c.feature(rule, "an instruction", location.clone());
                    }
                    match &op {
                        Operator::Block { blockty }
                        | Operator::Loop { blockty }
                        | Operator::If { blockty } => match blockty {
                            BlockType::Empty => {}
                            BlockType::Type(ty) => {
                                if let Some(rule) = valtype_rule(*ty) {
                                    c.feature(rule, "a block type", location.clone());
                                }
                            }
                            BlockType::FuncType(_) => c.feature(
                                Rule::MultiValue,
                                "a block with a function type",
                                location.clone(),
                            ),
                        },
                        Operator::BrTable { targets } => {
                            // The default label counts as a target.
                            let count = u64::from(targets.len()) + 1;
                            c.check_limit(
                                Rule::TooManyBrTableTargets,
                                "br_table targets",
                                limits.max_br_table_targets,
                                count,
                                Some(location.clone()),
                            );
                        }
                        Operator::CallIndirect { table_index, .. } if *table_index != 0 => c
                            .feature(
                                Rule::ReferenceTypes,
                                "call_indirect on another table",
                                location.clone(),
                            ),
                        Operator::TypedSelect { .. } => {
                            c.feature(Rule::ReferenceTypes, "a typed select", location.clone())
                        }
                        _ => {}
                    }
                }
            }
            Payload::CustomSection(_) | Payload::CodeSectionStart { .. } | Payload::End(_) => {}
            Payload::UnknownSection { id, .. } => {
                return Err(format!("unknown section id {id}"));
            }
            _ => c.feature(Rule::OtherProposal, "a section", "module".into()),
        }
    }
    if !saw_version {
        return Err("empty input: not a WebAssembly module".into());
    }

    let memory_export = exports
        .iter()
        .any(|(name, kind, _)| name == MEMORY_EXPORT && *kind == ExternalKind::Memory);
    if !memory_export {
        c.push(Violation::new(
            Rule::MissingMemoryExport,
            "the module must define its memory and export it as `memory`",
        ));
    }
    let mut entry_points = 0;
    for (name, kind, index) in &exports {
        if *kind != ExternalKind::Func {
            continue;
        }
        let ft = func_types
            .get(*index as usize)
            .and_then(|t| types.get(*t as usize))
            .and_then(Option::as_ref);
        if name.starts_with(PROVABLE_EXPORT_PREFIX) {
            let integer = |ty: &ValType| matches!(ty, ValType::I32 | ValType::I64);
            if let Some(ft) = ft {
                if !ft.params().iter().all(integer)
                    || ft.results().len() > 1
                    || !ft.results().iter().all(integer)
                {
                    c.push(
                        Violation::new(
                            Rule::EntryPointSignature,
                            "a `provable:` export takes i32/i64 parameters and returns at most one i32/i64",
                        )
                        .at(format!("export {name}")),
                    );
                }
            }
            continue;
        }
        entry_points += 1;
        if let Some(ft) = ft {
            if !ft.params().is_empty() || !ft.results().is_empty() {
                c.push(
                    Violation::new(
                        Rule::EntryPointSignature,
                        "exported functions are entry points and must have type `() -> ()`",
                    )
                    .at(format!("export {name}")),
                );
            }
        }
    }
    if entry_points == 0 {
        c.push(Violation::new(
            Rule::NoEntryPoints,
            "the module exports no function",
        ));
    }
    Ok(())
}
