//! Gas injection: `wasm-instrument` decides *where* and *how much* to charge (the billing
//! definition); our pass then inlines each charge instead of calling a helper function, and
//! checks for exhaustion only where it matters.
//!
//! ```text
//! wasm ─▶ wasm-instrument (mutable-global backend) ─▶ inline pass ─▶ instrumented wasm
//!          i64.const N; call $gas        ordinary block:  global.get $g; i64.const N; i64.sub; global.set $g
//!                                        entry / loop:    … the same, then
//!                                                         global.get $g; i64.const 0; i64.lt_s
//!                                                         if  i64.const -1; global.set $g; unreachable end
//! ```
//!
//! The amounts are exactly wasm-instrument's. Exhaustion is checked at every function entry and
//! every loop header (every unbounded execution passes one), before every way out of a function
//! (so an overdrawn frame cannot return into its callers), by every host function, inside the
//! memory-growth helper, and by the executor whenever a frame stops: a negative counter means out
//! of gas. Between checks only straight-line code runs, and any failure bills the whole
//! limit and discards every effect, so outcomes are identical to checking at every block (tests
//! compare against wasm-instrument as shipped). Gas limits are capped at `i64::MAX`, so the
//! counter never wraps. `memory.grow` is routed through a helper that charges
//! `memory_grow_per_page × pages` into the same counter and adds it to a second exported global,
//! so the breakdown can separate memory growth from instructions.

use parity_wasm::builder;
use parity_wasm::elements::{
    self, BlockType, External, Instruction, Instructions, Internal, Local, Module, ValueType,
};
use wasm_instrument::gas_metering::{self, mutable_global};

use crate::abi::{GAS_GLOBAL_EXPORT, GROW_GAS_GLOBAL_EXPORT};
use crate::schedule::{Schedule, ScheduleRules, ShippedRules};

/// How the code is metered. Only [`Metering::Injected`] is used for billing; the others exist
/// as comparators for benchmarks and differential tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metering {
    /// wasm-instrument's placement with inlined charges (production).
    Injected,
    /// wasm-instrument's mutable-global backend exactly as shipped (calls a helper per block).
    Shipped,
    /// wasmi's built-in fuel, one unit per instruction (benchmark comparator only: not the
    /// billing definition, host charges still apply).
    Fuel,
    /// No metering of instructions at all (comparator; host functions are still charged).
    Unmetered,
}

/// Instruments `wasm` for `metering`.
///
/// # Errors
/// A message when the module cannot be parsed by parity-wasm or costed by the schedule.
pub fn instrument(wasm: &[u8], schedule: &Schedule, metering: Metering) -> Result<Vec<u8>, String> {
    match metering {
        Metering::Fuel | Metering::Unmetered => return Ok(wasm.to_vec()),
        Metering::Injected | Metering::Shipped => {}
    }
    let module: Module = elements::deserialize_buffer(wasm)
        .map_err(|e| format!("parity-wasm cannot parse the module: {e}"))?;
    let gas_global = u32::try_from(module.globals_space()).map_err(|_| "too many globals")?;
    let gas_func = u32::try_from(module.functions_space()).map_err(|_| "too many functions")?;
    let injector = mutable_global::Injector::new(GAS_GLOBAL_EXPORT);
    let module = match metering {
        Metering::Shipped => gas_metering::inject(module, injector, &ShippedRules(schedule)),
        _ => gas_metering::inject(module, injector, &ScheduleRules(schedule)),
    }
    .map_err(|_| {
        "an instruction has no cost in the schedule or a block cost overflows".to_string()
    })?;
    let module = match metering {
        Metering::Injected => inline_charges(
            module,
            gas_global,
            gas_func,
            schedule.memory_grow_per_page,
            None,
        )?,
        _ => module,
    };
    elements::serialize(module).map_err(|e| format!("cannot encode the instrumented module: {e}"))
}

/// One charge of the production injection ([`Metering::Injected`]) in the *original* code of a
/// function: `amount` gas is charged each time control reaches the instruction at index
/// `instruction` (counting the function body's instructions from 0, the final `end` included),
/// before it runs. The amount includes the charging sequence's own cost, exactly as billed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    /// Index of the original instruction the charge precedes.
    pub instruction: u32,
    /// Gas charged.
    pub amount: u64,
}

/// Every charge [`instrument`] places for [`Metering::Injected`], per defined function (in
/// code-section order), in the order they appear. This is the billing definition seen from the
/// original code: a tool that re-executes a function another way (the prover) charges exactly
/// these amounts at exactly these places and so bills exactly what the vm bills.
///
/// # Errors
/// A message when the module cannot be parsed or costed (as [`instrument`]).
pub fn charge_sites(wasm: &[u8], schedule: &Schedule) -> Result<Vec<Vec<Charge>>, String> {
    let module: Module = elements::deserialize_buffer(wasm)
        .map_err(|e| format!("parity-wasm cannot parse the module: {e}"))?;
    let gas_func = u32::try_from(module.functions_space()).map_err(|_| "too many functions")?;
    let injector = mutable_global::Injector::new(GAS_GLOBAL_EXPORT);
    let module =
        gas_metering::inject(module, injector, &ScheduleRules(schedule)).map_err(|_| {
            "an instruction has no cost in the schedule or a block cost overflows".to_string()
        })?;
    let bodies = module.code_section().map_or(&[][..], |c| c.bodies());
    // The last body is the injected gas helper.
    let guest = bodies.len().saturating_sub(1);
    let mut out = Vec::with_capacity(guest);
    for body in &bodies[..guest] {
        let mut charges = Vec::new();
        let mut original: u32 = 0;
        let mut iter = body.code().elements().iter().peekable();
        while let Some(instr) = iter.next() {
            match instr {
                Instruction::I64Const(cost) if matches!(iter.peek(), Some(Instruction::Call(f)) if *f == gas_func) =>
                {
                    iter.next();
                    let amount = u64::try_from(*cost).map_err(|_| "a negative charge")?;
                    charges.push(Charge {
                        instruction: original,
                        amount,
                    });
                }
                Instruction::Call(f) if *f == gas_func => {
                    return Err("a gas charge without a constant cost".into());
                }
                _ => original += 1,
            }
        }
        out.push(charges);
    }
    Ok(out)
}

/// A metered block of a traced module: one charge site of the injected code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChargeSite {
    /// Index of the function in the original module.
    pub(crate) function: u32,
    /// Gas the site charges each time it runs.
    pub(crate) cost_gas: u64,
    /// Original instructions from this charge to the next charge site (or the end of the
    /// function) in code order.
    pub(crate) instructions: u32,
}

/// A module instrumented for tracing: the production charges plus calls to the tracer.
#[derive(Clone, Debug)]
pub(crate) struct TracedCode {
    /// The traced module (never stored, cached or validated: the vm produces it itself).
    pub(crate) wasm: Vec<u8>,
    /// Every charge site, by site id.
    pub(crate) sites: Vec<ChargeSite>,
}

/// The module of the tracer's imports (`enter(i32)`, `exit()`, `block(i32)`).
pub(crate) const TRACE_MODULE: &str = "opmeter_trace";

/// What the inlining pass adds to a traced module, and what it learns while doing so.
struct HookPlan {
    enter: u32,
    exit: u32,
    /// `block(site)` after every charge, when the per-block profile is wanted.
    block: Option<u32>,
    /// Function imports of the original module: original index = this + body index.
    original_imported: u32,
    /// Original index of the function being rewritten.
    function: u32,
    /// The site instructions are being counted for.
    current: Option<usize>,
    sites: Vec<ChargeSite>,
}

impl HookPlan {
    /// Registers a charge site of `cost` and emits its `block(site)` call.
    fn site(&mut self, cost: i64, out: &mut Vec<Instruction>) -> Result<(), String> {
        let id = self.sites.len();
        let cost_gas = u64::try_from(cost).map_err(|_| "a negative charge")?;
        self.sites.push(ChargeSite {
            function: self.function,
            cost_gas,
            instructions: 0,
        });
        self.current = Some(id);
        if let Some(block) = self.block {
            let id = i32::try_from(id).map_err(|_| "too many charge sites")?;
            out.extend([Instruction::I32Const(id), Instruction::Call(block)]);
        }
        Ok(())
    }
}

fn count_instruction(hooks: &mut Option<&mut HookPlan>) {
    if let Some(plan) = hooks.as_deref_mut() {
        if let Some(site) = plan.current.and_then(|id| plan.sites.get_mut(id)) {
            site.instructions = site.instructions.saturating_add(1);
        }
    }
}

/// Instruments `wasm` exactly as [`instrument`] does for [`Metering::Injected`] (same charges,
/// same amounts, same places) and adds calls to the tracer: `enter(original function index)` at
/// every function entry, `exit()` before every `return` and after the body (which is wrapped in
/// a block of the function's result type, so branches to the function's label pass through it),
/// and, when `blocks` is set, `block(site)` after every charge. The three imports are appended to
/// the function imports, so every defined function index (calls, exports, elements, start) is
/// shifted by three; the name section is dropped (names come from the original).
///
/// # Errors
/// A message when the module cannot be parsed, costed or encoded.
pub(crate) fn instrument_traced(
    wasm: &[u8],
    schedule: &Schedule,
    blocks: bool,
) -> Result<TracedCode, String> {
    const HOOKS: u32 = 3;
    let module: Module = elements::deserialize_buffer(wasm)
        .map_err(|e| format!("parity-wasm cannot parse the module: {e}"))?;
    let original_imported = module.import_count(elements::ImportCountType::Function) as u32;
    let mut b = builder::from_module(module);
    let with_i32 = b.push_signature(builder::signature().with_param(ValueType::I32).build_sig());
    let unit = b.push_signature(builder::signature().build_sig());
    for (field, signature) in [("enter", with_i32), ("exit", unit), ("block", with_i32)] {
        b.push_import(elements::ImportEntry::new(
            TRACE_MODULE.into(),
            field.into(),
            External::Function(signature),
        ));
    }
    let mut module = b.build();
    if module.import_count(elements::ImportCountType::Function) as u32 != original_imported + HOOKS
    {
        return Err("unexpected import layout when adding the trace hooks".into());
    }
    let shift = |f: &mut u32| {
        if *f >= original_imported {
            *f += HOOKS;
        }
    };
    if let Some(code) = module.code_section_mut() {
        for body in code.bodies_mut() {
            for instr in body.code_mut().elements_mut() {
                if let Instruction::Call(f) = instr {
                    shift(f);
                }
            }
        }
    }
    if let Some(exports) = module.export_section_mut() {
        for export in exports.entries_mut() {
            if let Internal::Function(f) = export.internal_mut() {
                shift(f);
            }
        }
    }
    if let Some(elements) = module.elements_section_mut() {
        for segment in elements.entries_mut() {
            segment.members_mut().iter_mut().for_each(shift);
        }
    }
    if let Some(mut start) = module.start_section() {
        shift(&mut start);
        module.set_start_section(start);
    }
    module.sections_mut().retain(|section| match section {
        elements::Section::Name(_) => false,
        elements::Section::Custom(custom) => custom.name() != "name",
        _ => true,
    });
    let gas_global = u32::try_from(module.globals_space()).map_err(|_| "too many globals")?;
    let gas_func = u32::try_from(module.functions_space()).map_err(|_| "too many functions")?;
    let injector = mutable_global::Injector::new(GAS_GLOBAL_EXPORT);
    let module =
        gas_metering::inject(module, injector, &ScheduleRules(schedule)).map_err(|_| {
            "an instruction has no cost in the schedule or a block cost overflows".to_string()
        })?;
    let mut plan = HookPlan {
        enter: original_imported,
        exit: original_imported + 1,
        block: blocks.then_some(original_imported + 2),
        original_imported,
        function: 0,
        current: None,
        sites: Vec::new(),
    };
    let module = inline_charges(
        module,
        gas_global,
        gas_func,
        schedule.memory_grow_per_page,
        Some(&mut plan),
    )?;
    let wasm =
        elements::serialize(module).map_err(|e| format!("cannot encode the traced module: {e}"))?;
    Ok(TracedCode {
        wasm,
        sites: plan.sites,
    })
}

/// The instructions that charge `cost` into `gas_global`. At a check point (`scratch` is the
/// function's scratch `i64` local) they also trap with the sentinel when the counter went
/// negative; the new value is kept in the scratch local so the check does not re-read the global.
fn charge_sequence(gas_global: u32, cost: i64, scratch: Option<u32>, out: &mut Vec<Instruction>) {
    out.extend([
        Instruction::GetGlobal(gas_global),
        Instruction::I64Const(cost),
        Instruction::I64Sub,
    ]);
    match scratch {
        None => out.push(Instruction::SetGlobal(gas_global)),
        Some(local) => {
            out.extend([
                Instruction::TeeLocal(local),
                Instruction::SetGlobal(gas_global),
                Instruction::GetLocal(local),
            ]);
            trap_if_negative(gas_global, out);
        }
    }
}

/// Consumes the `i64` counter value on the stack; if it is negative, sets the sentinel and traps.
fn trap_if_negative(gas_global: u32, out: &mut Vec<Instruction>) {
    out.extend([
        Instruction::I64Const(0),
        Instruction::I64LtS,
        Instruction::If(BlockType::NoResult),
        Instruction::I64Const(-1),
        Instruction::SetGlobal(gas_global),
        Instruction::Unreachable,
        Instruction::End,
    ]);
}

/// A check point without a charge, placed before every way out of a function (`return`, the
/// final `end`, a branch to the function's label): a frame that overdrew its counter in
/// straight-line code cannot hand control back to its caller, so only that one frame can run
/// unchecked code, never every frame of a deep call chain.
fn exit_check(gas_global: u32, out: &mut Vec<Instruction>) {
    out.push(Instruction::GetGlobal(gas_global));
    trap_if_negative(gas_global, out);
}

fn inline_charges(
    module: Module,
    gas_global: u32,
    gas_func: u32,
    per_page: u32,
    mut hooks: Option<&mut HookPlan>,
) -> Result<Module, String> {
    let grow_global = gas_global + 1;
    let grow_func = gas_func + 1;
    // A module without a memory gets no grow helper: its body (`memory.grow 0`) would not be
    // valid there, and nothing could call it.
    let has_memory = module
        .memory_section()
        .is_some_and(|section| !section.entries().is_empty())
        || module.import_count(elements::ImportCountType::Memory) > 0;
    let mut b = builder::from_module(module);
    // Memory-growth accumulator: exported so the host can attribute it in the breakdown.
    b.push_global(
        builder::global()
            .with_type(ValueType::I64)
            .mutable()
            .init_expr(Instruction::I64Const(0))
            .build(),
    );
    b.push_export(
        builder::export()
            .field(GROW_GAS_GLOBAL_EXPORT)
            .with_internal(Internal::Global(grow_global))
            .build(),
    );
    // grow helper: (pages: i32) -> i32, with an i64 scratch local for the cost.
    let mut body = vec![
        Instruction::GetLocal(0),
        Instruction::I64ExtendUI32,
        Instruction::I64Const(i64::from(per_page)),
        Instruction::I64Mul, // < 2^32 × 2^32: cannot overflow
        Instruction::SetLocal(1),
        Instruction::GetGlobal(gas_global),
        Instruction::GetLocal(1),
        Instruction::I64LtS, // signed: a negative counter is exhausted
        Instruction::If(BlockType::NoResult),
        Instruction::I64Const(-1),
        Instruction::SetGlobal(gas_global),
        Instruction::Unreachable,
        Instruction::End,
        Instruction::GetGlobal(gas_global),
        Instruction::GetLocal(1),
        Instruction::I64Sub,
        Instruction::SetGlobal(gas_global),
        Instruction::GetGlobal(grow_global),
        Instruction::GetLocal(1),
        Instruction::I64Add,
        Instruction::SetGlobal(grow_global),
        Instruction::GetLocal(0),
        Instruction::GrowMemory(0),
        Instruction::End,
    ];
    let function = builder::function()
        .signature()
        .with_param(ValueType::I32)
        .with_result(ValueType::I32)
        .build()
        .body()
        .with_locals(vec![Local::new(1, ValueType::I64)])
        .with_instructions(Instructions::new(std::mem::take(&mut body)))
        .build()
        .build();
    let location = has_memory.then(|| b.push_function(function));
    let mut module = b.build();
    let imported = module.import_count(elements::ImportCountType::Function) as u32;
    if location.is_some_and(|location| location.body + imported != grow_func) {
        return Err("unexpected function layout after gas injection".into());
    }
    // Parameter count and result of every defined function: the scratch local's index comes
    // after the parameters; a traced body is wrapped in a block of the result type.
    let types: Vec<(u32, BlockType)> = module
        .type_section()
        .map(|section| {
            section
                .types()
                .iter()
                .map(|elements::Type::Function(ft)| {
                    let result = ft
                        .results()
                        .first()
                        .map_or(BlockType::NoResult, |t| BlockType::Value(*t));
                    (ft.params().len() as u32, result)
                })
                .collect()
        })
        .unwrap_or_default();
    let signatures: Vec<(u32, BlockType)> = module
        .function_section()
        .map(|section| {
            section
                .entries()
                .iter()
                .map(|f| {
                    types
                        .get(f.type_ref() as usize)
                        .copied()
                        .unwrap_or((0, BlockType::NoResult))
                })
                .collect()
        })
        .unwrap_or_default();
    let code = module
        .code_section_mut()
        .ok_or("no code section after gas injection")?;
    let bodies = code.bodies_mut();
    // The last bodies are the gas helper and the grow helper (when there is a memory): leave
    // them alone.
    let guest_bodies = bodies
        .len()
        .checked_sub(if has_memory { 2 } else { 1 })
        .ok_or("missing injected functions")?;
    for (index, func_body) in bodies[..guest_bodies].iter_mut().enumerate() {
        let declared: u32 = func_body.locals().iter().map(Local::count).sum();
        let (params, result) = signatures
            .get(index)
            .copied()
            .unwrap_or((0, BlockType::NoResult));
        let scratch = params + declared;
        func_body.locals_mut().push(Local::new(1, ValueType::I64));
        let old = std::mem::take(func_body.code_mut().elements_mut());
        let mut new = Vec::with_capacity(old.len() + old.len() / 2);
        let mut iter = old.into_iter().peekable();
        // The function entry and the first instruction of every loop are check points.
        let mut at_check_point = true;
        // Open blocks inside the function: a branch with this label depth leaves the function.
        let mut depth: u32 = 0;
        // Traced: `enter(index)` first, then the body inside a block of the function's result
        // type, so a branch to the function's label lands before the final `exit()`.
        if let Some(plan) = hooks.as_deref_mut() {
            let original_index = plan
                .original_imported
                .checked_add(index as u32)
                .ok_or("too many functions")?;
            new.extend([
                Instruction::I32Const(original_index as i32),
                Instruction::Call(plan.enter),
                Instruction::Block(result),
            ]);
            plan.current = None;
            plan.function = original_index;
        }
        while let Some(instr) = iter.next() {
            let check = at_check_point;
            at_check_point = matches!(instr, Instruction::Loop(_));
            let leaves_function = match &instr {
                Instruction::Return => true,
                Instruction::End => depth == 0,
                Instruction::Br(label) | Instruction::BrIf(label) => *label == depth,
                Instruction::BrTable(table) => {
                    table.default == depth || table.table.contains(&depth)
                }
                _ => false,
            };
            if leaves_function {
                exit_check(gas_global, &mut new);
                if let Some(plan) = hooks.as_deref() {
                    match &instr {
                        Instruction::Return => new.push(Instruction::Call(plan.exit)),
                        // The final `end`: close the wrapper block, then `exit()`.
                        Instruction::End if depth == 0 => {
                            new.extend([Instruction::End, Instruction::Call(plan.exit)]);
                        }
                        _ => {}
                    }
                }
            }
            match &instr {
                Instruction::Block(_) | Instruction::Loop(_) | Instruction::If(_) => depth += 1,
                Instruction::End => depth = depth.saturating_sub(1),
                _ => {}
            }
            match instr {
                Instruction::I64Const(cost) if matches!(iter.peek(), Some(Instruction::Call(f)) if *f == gas_func) =>
                {
                    iter.next();
                    charge_sequence(gas_global, cost, check.then_some(scratch), &mut new);
                    if let Some(plan) = hooks.as_deref_mut() {
                        plan.site(cost, &mut new)?;
                    }
                }
                Instruction::GrowMemory(0) => {
                    count_instruction(&mut hooks);
                    new.push(Instruction::Call(grow_func));
                }
                Instruction::Call(f) if f == gas_func => {
                    return Err("a gas charge without a constant cost".into());
                }
                other => {
                    count_instruction(&mut hooks);
                    new.push(other);
                }
            }
        }
        *func_body.code_mut().elements_mut() = new;
    }
    // Sanity: nothing may import or re-export our globals under another name.
    if module.import_section().is_some_and(|s| {
        s.entries()
            .iter()
            .any(|e| matches!(e.external(), External::Global(_)))
    }) {
        return Err("global imports are not allowed".into());
    }
    Ok(module)
}
