//! The public, deterministic compiler from a provable export to [`Program`]: anyone re-derives
//! the code commitment from the wasm bytes with it.
//!
//! ```text
//! wasm ─▶ parse (wasmparser) ─▶ subset check (first instruction outside it, with its offset)
//!      ─▶ charge sites (vm::instrument::charge_sites: the billing definition)
//!      ─▶ translate: locals and operand-stack slots → registers, calls inlined, charges
//!         attached to the instruction that runs exactly when the charge point is passed
//!      ─▶ labels resolved ─▶ Program
//! ```
//!
//! **The provable subset:** `i32`/`i64` parameters and result (at most [`MAX_ARGS`] parameters);
//! `i32`/`i64` constants, `add/sub/mul`, `div_u/rem_u`, `and/or/xor`, shifts and rotations (by
//! constants or registers), every comparison, `eqz`, `popcnt`, `wrap`, `extend`; locals; `drop`,
//! `select`, `nop`, `unreachable`; `block/loop/if/else/end/br/br_if/br_table/return`; calls to
//! functions of the module (inlined, so no recursion). Not in it: floats, linear memory, globals,
//! indirect calls, imports (host functions), signed division, `clz/ctz`. At most
//! `REGISTERS − SCRATCH` = 13 registers for the locals and operand-stack slots of the function
//! and of every inlined call active at once.
//!
//! **Gas:** every charge the production instrumentation places before original instruction `i`
//! of a function ([`opmeter_vm::instrument::charge_sites`]) is added to the gas of the first
//! instruction emitted after that point in straight-line order; when a branch target comes
//! first, a no-op (`Mov` to nothing) carries it. So a charge is paid exactly when control passes
//! its point, in every inlined copy: the program's gas is the vm's gas.

use std::collections::BTreeMap;
use std::fmt;

use opmeter_vm::instrument::{charge_sites, Charge};
use opmeter_vm::{Schedule, PROVABLE_EXPORT_PREFIX};
use wasmparser::{BlockType, FunctionBody, Operator, Parser, Payload, TypeRef};

use crate::isa::{
    Instr, Op, Program, Src, ValType, MAX_ARGS, MAX_INSTRUCTION_GAS, REGISTERS, SCRATCH,
};

/// Why a provable export is not in the provable subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotProvable {
    /// The method (export name without the `provable:` prefix).
    pub method: String,
    /// Why, e.g. `i64.load: linear memory is outside the provable subset`.
    pub reason: String,
    /// Byte offset of the offending instruction in the module, when one is to blame.
    pub offset: Option<usize>,
}

impl fmt::Display for NotProvable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "method `{}` is not provable: {}",
            self.method, self.reason
        )?;
        if let Some(offset) = self.offset {
            write!(f, " (at offset {offset:#x})")?;
        }
        Ok(())
    }
}

/// Every provable export of a module, each compiled or refused with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provability {
    /// By method name (sorted).
    pub methods: BTreeMap<String, Result<Program, NotProvable>>,
}

/// Compiles every `provable:` export of `wasm` (which must already pass validation).
///
/// # Errors
/// A message when the module cannot be parsed or costed.
pub fn compile_module(wasm: &[u8], schedule: &Schedule) -> Result<Provability, String> {
    let module = Module::parse(wasm)?;
    let charges = charge_sites(wasm, schedule)?;
    let mut methods = BTreeMap::new();
    for (name, index) in &module.exports {
        let Some(method) = name.strip_prefix(PROVABLE_EXPORT_PREFIX) else {
            continue;
        };
        let compiled = compile_export(&module, &charges, method, *index);
        methods.insert(method.to_string(), compiled);
    }
    Ok(Provability { methods })
}

/// Compiles the provable export `provable:<method>` of `wasm`.
///
/// # Errors
/// [`NotProvable`] when there is no such export or it is outside the subset; a module that
/// cannot be parsed is reported the same way (without an offset).
pub fn compile_method(
    wasm: &[u8],
    schedule: &Schedule,
    method: &str,
) -> Result<Program, NotProvable> {
    let refuse = |reason: String| NotProvable {
        method: method.to_string(),
        reason,
        offset: None,
    };
    let module = Module::parse(wasm).map_err(refuse)?;
    let charges = charge_sites(wasm, schedule).map_err(refuse)?;
    let export = format!("{PROVABLE_EXPORT_PREFIX}{method}");
    let Some((_, index)) = module.exports.iter().find(|(name, _)| *name == export) else {
        return Err(refuse(format!("the module has no export `{export}`")));
    };
    compile_export(&module, &charges, method, *index)
}

struct Function<'a> {
    params: Vec<wasmparser::ValType>,
    results: Vec<wasmparser::ValType>,
    body: Option<FunctionBody<'a>>,
}

struct Module<'a> {
    types: Vec<(Vec<wasmparser::ValType>, Vec<wasmparser::ValType>)>,
    imported: u32,
    functions: Vec<Function<'a>>,
    exports: Vec<(String, u32)>,
}

impl<'a> Module<'a> {
    fn parse(wasm: &'a [u8]) -> Result<Module<'a>, String> {
        let mut module = Module {
            types: Vec::new(),
            imported: 0,
            functions: Vec::new(),
            exports: Vec::new(),
        };
        let mut defined = 0usize;
        let err = |e: wasmparser::BinaryReaderError| e.message().to_string();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(err)? {
                Payload::TypeSection(reader) => {
                    for ty in reader.into_iter_err_on_gc_types() {
                        let ty = ty.map_err(err)?;
                        module
                            .types
                            .push((ty.params().to_vec(), ty.results().to_vec()));
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader {
                        if let TypeRef::Func(ty) = import.map_err(err)?.ty {
                            module.imported += 1;
                            module.functions.push(module.function(ty, None)?);
                        }
                    }
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        let f = module.function(ty.map_err(err)?, None)?;
                        module.functions.push(f);
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.map_err(err)?;
                        if export.kind == wasmparser::ExternalKind::Func {
                            module.exports.push((export.name.to_string(), export.index));
                        }
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let index = module.imported as usize + defined;
                    let f = module
                        .functions
                        .get_mut(index)
                        .ok_or("more bodies than functions")?;
                    f.body = Some(body);
                    defined += 1;
                }
                _ => {}
            }
        }
        Ok(module)
    }

    fn function(&self, ty: u32, body: Option<FunctionBody<'a>>) -> Result<Function<'a>, String> {
        let (params, results) = self
            .types
            .get(ty as usize)
            .cloned()
            .ok_or("function type out of range")?;
        Ok(Function {
            params,
            results,
            body,
        })
    }
}

fn val_type(ty: wasmparser::ValType) -> Option<ValType> {
    match ty {
        wasmparser::ValType::I32 => Some(ValType::I32),
        wasmparser::ValType::I64 => Some(ValType::I64),
        _ => None,
    }
}

/// Why an operator is outside the subset (`None`: inside).
fn unsupported(op: &Operator<'_>) -> Option<&'static str> {
    use Operator::*;
    Some(match op {
        Unreachable
        | Nop
        | Block { .. }
        | Loop { .. }
        | If { .. }
        | Else
        | End
        | Br { .. }
        | BrIf { .. }
        | BrTable { .. }
        | Return
        | Call { .. }
        | Drop
        | Select
        | LocalGet { .. }
        | LocalSet { .. }
        | LocalTee { .. }
        | I32Const { .. }
        | I64Const { .. }
        | I32Eqz
        | I32Eq
        | I32Ne
        | I32LtS
        | I32LtU
        | I32GtS
        | I32GtU
        | I32LeS
        | I32LeU
        | I32GeS
        | I32GeU
        | I64Eqz
        | I64Eq
        | I64Ne
        | I64LtS
        | I64LtU
        | I64GtS
        | I64GtU
        | I64LeS
        | I64LeU
        | I64GeS
        | I64GeU
        | I32Popcnt
        | I32Add
        | I32Sub
        | I32Mul
        | I32DivU
        | I32RemU
        | I32And
        | I32Or
        | I32Xor
        | I32Shl
        | I32ShrS
        | I32ShrU
        | I32Rotl
        | I32Rotr
        | I64Popcnt
        | I64Add
        | I64Sub
        | I64Mul
        | I64DivU
        | I64RemU
        | I64And
        | I64Or
        | I64Xor
        | I64Shl
        | I64ShrS
        | I64ShrU
        | I64Rotl
        | I64Rotr
        | I32WrapI64
        | I64ExtendI32S
        | I64ExtendI32U => return None,
        I32DivS | I32RemS | I64DivS | I64RemS => "signed division is outside the provable subset",
        I32Clz | I32Ctz | I64Clz | I64Ctz => "clz/ctz are outside the provable subset",
        GlobalGet { .. } | GlobalSet { .. } => "globals are outside the provable subset",
        CallIndirect { .. } => "indirect calls are outside the provable subset",
        MemorySize { .. } | MemoryGrow { .. } => "linear memory is outside the provable subset",
        I32Load { .. }
        | I64Load { .. }
        | I32Load8S { .. }
        | I32Load8U { .. }
        | I32Load16S { .. }
        | I32Load16U { .. }
        | I64Load8S { .. }
        | I64Load8U { .. }
        | I64Load16S { .. }
        | I64Load16U { .. }
        | I64Load32S { .. }
        | I64Load32U { .. }
        | I32Store { .. }
        | I64Store { .. }
        | I32Store8 { .. }
        | I32Store16 { .. }
        | I64Store8 { .. }
        | I64Store16 { .. }
        | I64Store32 { .. } => "linear memory (loads and stores) is outside the provable subset",
        _ => "floats and post-MVP instructions are outside the provable subset",
    })
}

fn operator_name(op: &Operator<'_>) -> String {
    let debug = format!("{op:?}");
    let name = debug.split([' ', '{', '(']).next().unwrap_or("?");
    name.to_string()
}

/// One decoded function body: operators with their module offsets, and the locals.
struct Body<'a> {
    ops: Vec<(Operator<'a>, usize)>,
    /// Declared locals (after the parameters), with their types.
    locals: Vec<wasmparser::ValType>,
    /// Offset of the body (for errors that are not about one instruction).
    offset: usize,
}

fn decode<'a>(body: &FunctionBody<'a>) -> Result<Body<'a>, String> {
    let err = |e: wasmparser::BinaryReaderError| e.message().to_string();
    let mut locals = Vec::new();
    for local in body.get_locals_reader().map_err(err)? {
        let (count, ty) = local.map_err(err)?;
        if count as usize > REGISTERS {
            return Err(format!(
                "{count} locals do not fit in {REGISTERS} registers"
            ));
        }
        locals.extend(std::iter::repeat_n(ty, count as usize));
    }
    let mut reader = body.get_operators_reader().map_err(err)?;
    let mut ops = Vec::new();
    while !reader.eof() {
        ops.push(reader.read_with_offset().map_err(err)?);
    }
    Ok(Body {
        ops,
        locals,
        offset: body.range().start,
    })
}

fn compile_export(
    module: &Module<'_>,
    charges: &[Vec<Charge>],
    method: &str,
    index: u32,
) -> Result<Program, NotProvable> {
    let refuse = |reason: String, offset: Option<usize>| NotProvable {
        method: method.to_string(),
        reason,
        offset,
    };
    let f = module
        .functions
        .get(index as usize)
        .ok_or_else(|| refuse("export of a missing function".into(), None))?;
    if index < module.imported {
        return Err(refuse(
            "the export is an imported (host) function".into(),
            None,
        ));
    }
    if f.params.len() > MAX_ARGS {
        return Err(refuse(
            format!("{} parameters; at most {MAX_ARGS}", f.params.len()),
            None,
        ));
    }
    let params = f
        .params
        .iter()
        .map(|t| val_type(*t))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| refuse("a parameter is not i32/i64".into(), None))?;
    let result = match f.results.as_slice() {
        [] => None,
        [t] => Some(val_type(*t).ok_or_else(|| refuse("the result is not i32/i64".into(), None))?),
        _ => return Err(refuse("several results".into(), None)),
    };
    // Decode and check every function reachable from the export, depth first in call order, so
    // the first instruction outside the subset is the first one met.
    let mut bodies: BTreeMap<u32, Body<'_>> = BTreeMap::new();
    check_function(module, index, &mut Vec::new(), &mut bodies)
        .map_err(|(reason, offset)| refuse(reason, offset))?;
    let mut t = Translator {
        module,
        charges,
        bodies: &bodies,
        out: Emitter::default(),
        inlined: Vec::new(),
    };
    t.function(index, 0, None)
        .map_err(|(reason, offset)| refuse(reason, offset))?;
    let code = t.out.finish().map_err(|reason| refuse(reason, None))?;
    Ok(Program {
        params,
        result,
        code,
    })
}

type Refusal = (String, Option<usize>);

fn check_function<'a>(
    module: &Module<'a>,
    index: u32,
    stack: &mut Vec<u32>,
    bodies: &mut BTreeMap<u32, Body<'a>>,
) -> Result<(), Refusal> {
    if stack.contains(&index) {
        return Err((format!("function {index} is called recursively"), None));
    }
    if bodies.contains_key(&index) {
        return Ok(());
    }
    let f = &module.functions[index as usize];
    let body = f
        .body
        .as_ref()
        .ok_or_else(|| (format!("function {index} has no body"), None))?;
    let body = decode(body).map_err(|e| (e, Some(body.range().start)))?;
    let types = f.params.iter().chain(&f.results).chain(&body.locals);
    if types.clone().any(|t| val_type(*t).is_none()) {
        return Err((
            format!("function {index} has a float parameter, result or local"),
            Some(body.offset),
        ));
    }
    stack.push(index);
    for (op, offset) in &body.ops {
        if let Some(reason) = unsupported(op) {
            return Err((format!("{}: {reason}", operator_name(op)), Some(*offset)));
        }
        let block_type_ok = match op {
            Operator::Block { blockty } | Operator::Loop { blockty } | Operator::If { blockty } => {
                match blockty {
                    BlockType::Empty => true,
                    BlockType::Type(t) => val_type(*t).is_some(),
                    BlockType::FuncType(_) => false,
                }
            }
            _ => true,
        };
        if !block_type_ok {
            return Err((
                format!("{}: a block type outside i32/i64", operator_name(op)),
                Some(*offset),
            ));
        }
        if let Operator::Call { function_index } = op {
            if *function_index < module.imported {
                return Err((
                    format!(
                        "call {function_index}: host functions are outside the provable subset"
                    ),
                    Some(*offset),
                ));
            }
            if stack.contains(function_index) {
                return Err((
                    format!("call {function_index}: recursion is outside the provable subset"),
                    Some(*offset),
                ));
            }
            check_function(module, *function_index, stack, bodies)
                .map_err(|(r, o)| (r, o.or(Some(*offset))))?;
        }
    }
    stack.pop();
    bodies.insert(index, body);
    Ok(())
}

/// An instruction whose immediate may still be a label.
#[derive(Clone, Copy)]
struct Pending {
    instr: Instr,
    label: Option<usize>,
}

/// Emits instructions, places labels and attaches pending gas.
#[derive(Default)]
struct Emitter {
    code: Vec<Pending>,
    labels: Vec<Option<usize>>,
    pending_gas: u64,
    /// Index of the last instruction when no label was placed after it (for retargeting).
    last_open: Option<usize>,
}

/// An operand before encoding: a register or a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
    Reg(u8),
    Const(u64),
    Zero,
}

impl Emitter {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn place(&mut self, label: usize) {
        if self.pending_gas > 0 {
            self.emit(Op::Mov, Val::Zero, Val::Zero, None);
        }
        self.labels[label] = Some(self.code.len());
        self.last_open = None;
    }

    fn charge(&mut self, gas: u64) {
        self.pending_gas += gas;
    }

    /// Emits `dst = op(a, b)` (at most one constant operand), carrying the pending gas.
    fn emit(&mut self, op: Op, a: Val, b: Val, dst: Option<u8>) {
        self.emit_full(op, a, b, dst, None);
    }

    fn emit_full(&mut self, op: Op, a: Val, b: Val, dst: Option<u8>, label: Option<usize>) {
        while self.pending_gas > MAX_INSTRUCTION_GAS {
            self.pending_gas -= MAX_INSTRUCTION_GAS;
            self.code.push(Pending {
                instr: Instr {
                    op: Op::Mov,
                    a: Src::Zero,
                    b: Src::Zero,
                    dst: None,
                    gas: MAX_INSTRUCTION_GAS,
                    imm: 0,
                },
                label: None,
            });
        }
        let mut imm = 0;
        let mut src = |v: Val| match v {
            Val::Reg(r) => Src::Reg(r),
            Val::Zero => Src::Zero,
            Val::Const(c) => {
                imm = c;
                Src::Imm
            }
        };
        let (a, b) = (src(a), src(b));
        debug_assert!(!(a == Src::Imm && b == Src::Imm), "two constant operands");
        debug_assert!(label.is_none() || (a != Src::Imm && b != Src::Imm));
        self.code.push(Pending {
            instr: Instr {
                op,
                a,
                b,
                dst,
                gas: std::mem::take(&mut self.pending_gas),
                imm,
            },
            label,
        });
        self.last_open = Some(self.code.len() - 1);
    }

    fn branch(&mut self, op: Op, cond: Val, label: usize) {
        self.emit_full(op, cond, Val::Zero, None, Some(label));
        self.last_open = None;
    }

    fn finish(mut self) -> Result<Vec<Instr>, String> {
        if self.pending_gas > 0 {
            return Err("gas charged after the end of the program".into());
        }
        let mut out = Vec::with_capacity(self.code.len());
        for p in self.code.drain(..) {
            let mut instr = p.instr;
            // A halt repeats until the last step: it must not charge, or the gas would depend on
            // the profile.
            if instr.op == Op::Halt && instr.gas != 0 {
                return Err("a halt carries gas".into());
            }
            if let Some(label) = p.label {
                let target = self
                    .labels
                    .get(label)
                    .copied()
                    .flatten()
                    .ok_or("a branch to a label that was never placed")?;
                instr.imm = target as u64;
            }
            out.push(instr);
        }
        Ok(out)
    }
}

const S0: u8 = (REGISTERS - SCRATCH) as u8;
const S1: u8 = S0 + 1;
const S2: u8 = S0 + 2;
const FRAME_REGISTERS: usize = REGISTERS - SCRATCH;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Func,
    Block,
    Loop,
    If,
}

struct Frame {
    kind: Kind,
    result: bool,
    height: usize,
    /// Branch target: the start of a loop, else the end.
    target: usize,
    else_label: Option<usize>,
    has_else: bool,
    /// Some path reaches the end (a branch to it, or falling through).
    end_reached: bool,
    /// Pushed inside unreachable code: ignored up to its `end`.
    dead: bool,
}

struct Translator<'m, 'a> {
    module: &'m Module<'a>,
    charges: &'m [Vec<Charge>],
    bodies: &'m BTreeMap<u32, Body<'a>>,
    out: Emitter,
    inlined: Vec<u32>,
}

/// The state of one inlined copy of a function.
struct Instance {
    base: usize,
    nlocals: usize,
    stack: Vec<Val>,
    frames: Vec<Frame>,
    reachable: bool,
    offset: usize,
}

impl Instance {
    fn reg(&self, index: usize) -> Result<u8, Refusal> {
        if index >= FRAME_REGISTERS {
            return Err((
                format!(
                    "needs more than {FRAME_REGISTERS} registers for locals and operand-stack slots"
                ),
                Some(self.offset),
            ));
        }
        Ok(index as u8)
    }

    fn local(&self, x: u32) -> Result<u8, Refusal> {
        self.reg(self.base + x as usize)
    }

    fn slot(&self, depth: usize) -> Result<u8, Refusal> {
        self.reg(self.base + self.nlocals + depth)
    }

    fn pop(&mut self) -> Result<Val, Refusal> {
        self.stack
            .pop()
            .ok_or_else(|| ("operand stack underflow".to_string(), Some(self.offset)))
    }
}

fn const_val(c: u64) -> Val {
    if c == 0 {
        Val::Zero
    } else {
        Val::Const(c)
    }
}

impl Translator<'_, '_> {
    /// Moves stack entry `depth` into its own slot.
    fn materialize(&mut self, inst: &mut Instance, depth: usize) -> Result<(), Refusal> {
        let slot = inst.slot(depth)?;
        let v = inst.stack[depth];
        if v != Val::Reg(slot) {
            self.out.emit(Op::Mov, Val::Zero, v, Some(slot));
            inst.stack[depth] = Val::Reg(slot);
        }
        Ok(())
    }

    fn materialize_all(&mut self, inst: &mut Instance) -> Result<(), Refusal> {
        for depth in 0..inst.stack.len() {
            self.materialize(inst, depth)?;
        }
        Ok(())
    }

    /// Before `reg` is written: stack entries that still read it get their own slot.
    fn protect(&mut self, inst: &mut Instance, reg: u8) -> Result<(), Refusal> {
        for depth in 0..inst.stack.len() {
            if inst.stack[depth] == Val::Reg(reg) && inst.slot(depth)? != reg {
                self.materialize(inst, depth)?;
            }
        }
        Ok(())
    }

    /// Pushes `op(a, b)` computed into the slot of the result.
    fn binop(&mut self, inst: &mut Instance, op: Op, a: Val, b: Val) -> Result<(), Refusal> {
        let depth = inst.stack.len();
        let dst = inst.slot(depth)?;
        let a = if matches!(a, Val::Const(_)) && matches!(b, Val::Const(_)) {
            self.out.emit(Op::Mov, Val::Zero, a, Some(dst));
            Val::Reg(dst)
        } else {
            a
        };
        self.out.emit(op, a, b, Some(dst));
        inst.stack.push(Val::Reg(dst));
        Ok(())
    }

    /// `v` in a register (a constant goes to `scratch`).
    fn in_reg(&mut self, v: Val, scratch: u8) -> Val {
        if matches!(v, Val::Const(_)) {
            self.out.emit(Op::Mov, Val::Zero, v, Some(scratch));
            Val::Reg(scratch)
        } else {
            v
        }
    }

    fn function(
        &mut self,
        index: u32,
        base: usize,
        caller_slot: Option<u8>,
    ) -> Result<(), Refusal> {
        let module = self.module;
        let f = &module.functions[index as usize];
        let body = &self.bodies[&index];
        let defined = (index - module.imported) as usize;
        let charges: BTreeMap<u32, u64> = self
            .charges
            .get(defined)
            .map(|c| c.iter().map(|c| (c.instruction, c.amount)).collect())
            .unwrap_or_default();
        self.inlined.push(index);
        let mut inst = Instance {
            base,
            nlocals: f.params.len() + body.locals.len(),
            stack: Vec::new(),
            frames: Vec::new(),
            reachable: true,
            offset: body.offset,
        };
        let exit = self.out.label();
        inst.frames.push(Frame {
            kind: Kind::Func,
            result: !f.results.is_empty(),
            height: 0,
            target: exit,
            else_label: None,
            has_else: false,
            end_reached: false,
            dead: false,
        });
        for (position, (op, offset)) in body.ops.iter().enumerate() {
            inst.offset = *offset;
            if inst.reachable {
                if let Some(gas) = charges.get(&(position as u32)) {
                    self.out.charge(*gas);
                }
            }
            let done = self.operator(&mut inst, op)?;
            if done {
                break;
            }
        }
        // The function's end: its result is in slot 0.
        let result = !f.results.is_empty();
        match caller_slot {
            Some(slot) => {
                if result {
                    let from = inst.slot(0)?;
                    if from != slot {
                        self.out
                            .emit(Op::Mov, Val::Zero, Val::Reg(from), Some(slot));
                    }
                }
            }
            None => {
                let value = if result {
                    Val::Reg(inst.slot(0)?)
                } else {
                    Val::Zero
                };
                if value != Val::Reg(0) {
                    self.out.emit(Op::Mov, Val::Zero, value, Some(0));
                }
                self.out.emit(Op::Halt, Val::Zero, Val::Zero, None);
            }
        }
        self.inlined.pop();
        Ok(())
    }

    /// Where a branch to relative depth `depth` goes, after moving the carried value.
    fn branch_target(
        &mut self,
        inst: &mut Instance,
        depth: u32,
        value: Option<Val>,
    ) -> Result<usize, Refusal> {
        let index = inst
            .frames
            .len()
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| ("branch depth out of range".to_string(), Some(inst.offset)))?;
        let (kind, result, height, target) = {
            let frame = &mut inst.frames[index];
            if frame.kind != Kind::Loop {
                frame.end_reached = true;
            }
            (frame.kind, frame.result, frame.height, frame.target)
        };
        if kind != Kind::Loop && result {
            let v =
                value.ok_or_else(|| ("branch without its value".to_string(), Some(inst.offset)))?;
            let slot = inst.slot(height)?;
            if v != Val::Reg(slot) {
                self.out.emit(Op::Mov, Val::Zero, v, Some(slot));
            }
        }
        Ok(target)
    }

    fn carries_value(inst: &Instance, depth: u32) -> bool {
        inst.frames
            .len()
            .checked_sub(1 + depth as usize)
            .map(|i| &inst.frames[i])
            .is_some_and(|f| f.kind != Kind::Loop && f.result)
    }

    /// A conditional branch on `cond` (taken when non-zero) to relative depth `depth`.
    fn branch_if(&mut self, inst: &mut Instance, cond: Val, depth: u32) -> Result<(), Refusal> {
        let value = inst.stack.last().copied();
        match cond {
            Val::Zero => Ok(()),
            Val::Const(_) => {
                let target = self.branch_target(inst, depth, value)?;
                self.out.branch(Op::Br, Val::Zero, target);
                // Code after an always-taken branch is unreachable, but the stack stays as it
                // is for validation's sake.
                inst.reachable = false;
                Ok(())
            }
            Val::Reg(_) => {
                let needs_move = Self::carries_value(inst, depth) && {
                    let index = inst.frames.len() - 1 - depth as usize;
                    let slot = inst.slot(inst.frames[index].height)?;
                    value != Some(Val::Reg(slot))
                };
                if needs_move {
                    let skip = self.out.label();
                    self.out.branch(Op::Brz, cond, skip);
                    let target = self.branch_target(inst, depth, value)?;
                    self.out.branch(Op::Br, Val::Zero, target);
                    self.out.place(skip);
                } else {
                    let target = self.branch_target(inst, depth, value)?;
                    self.out.branch(Op::Brnz, cond, target);
                }
                Ok(())
            }
        }
    }

    /// Translates one operator; `Ok(true)` at the function's final `end`.
    fn operator(&mut self, inst: &mut Instance, op: &Operator<'_>) -> Result<bool, Refusal> {
        use Operator as O;
        // Inside unreachable code only the block structure matters.
        if !inst.reachable {
            match op {
                O::Block { .. } | O::Loop { .. } | O::If { .. } => {
                    inst.frames.push(Frame {
                        kind: Kind::Block,
                        result: false,
                        height: inst.stack.len(),
                        target: 0,
                        else_label: None,
                        has_else: false,
                        end_reached: false,
                        dead: true,
                    });
                    return Ok(false);
                }
                O::Else | O::End => {
                    if inst.frames.last().is_some_and(|f| f.dead) {
                        if matches!(op, O::End) {
                            inst.frames.pop();
                        }
                        return Ok(false);
                    }
                }
                _ => return Ok(false),
            }
        }
        let block_result = |blockty: &BlockType| matches!(blockty, BlockType::Type(_));
        match op {
            O::Nop => {}
            O::Unreachable => {
                self.out.emit(Op::AssertLt, Val::Zero, Val::Zero, None);
                inst.reachable = false;
            }
            O::Block { blockty } => {
                self.materialize_all(inst)?;
                let end = self.out.label();
                inst.frames.push(Frame {
                    kind: Kind::Block,
                    result: block_result(blockty),
                    height: inst.stack.len(),
                    target: end,
                    else_label: None,
                    has_else: false,
                    end_reached: false,
                    dead: false,
                });
            }
            O::Loop { blockty } => {
                self.materialize_all(inst)?;
                let start = self.out.label();
                self.out.place(start);
                inst.frames.push(Frame {
                    kind: Kind::Loop,
                    result: block_result(blockty),
                    height: inst.stack.len(),
                    target: start,
                    else_label: None,
                    has_else: false,
                    end_reached: false,
                    dead: false,
                });
            }
            O::If { blockty } => {
                let cond = inst.pop()?;
                self.materialize_all(inst)?;
                let end = self.out.label();
                let else_label = self.out.label();
                match cond {
                    Val::Zero => self.out.branch(Op::Br, Val::Zero, else_label),
                    Val::Const(_) => {}
                    Val::Reg(_) => self.out.branch(Op::Brz, cond, else_label),
                }
                inst.frames.push(Frame {
                    kind: Kind::If,
                    result: block_result(blockty),
                    height: inst.stack.len(),
                    target: end,
                    else_label: Some(else_label),
                    has_else: false,
                    end_reached: false,
                    dead: false,
                });
            }
            O::Else => {
                let (result, height, end, else_label) = {
                    let f = inst
                        .frames
                        .last()
                        .ok_or(("else outside if".to_string(), None))?;
                    (f.result, f.height, f.target, f.else_label)
                };
                if inst.reachable {
                    if result {
                        self.materialize(inst, height)?;
                    }
                    self.out.branch(Op::Br, Val::Zero, end);
                    if let Some(f) = inst.frames.last_mut() {
                        f.end_reached = true;
                    }
                }
                if let Some(l) = else_label {
                    self.out.place(l);
                }
                if let Some(f) = inst.frames.last_mut() {
                    f.has_else = true;
                }
                inst.stack.truncate(height);
                inst.reachable = true;
            }
            O::End => {
                let mut frame = inst
                    .frames
                    .pop()
                    .ok_or(("unbalanced end".to_string(), None))?;
                if inst.reachable {
                    if frame.result {
                        self.materialize(inst, frame.height)?;
                    }
                    frame.end_reached = true;
                }
                if frame.kind == Kind::If && !frame.has_else {
                    if let Some(l) = frame.else_label {
                        self.out.place(l);
                    }
                    frame.end_reached = true;
                }
                if frame.kind != Kind::Loop {
                    self.out.place(frame.target);
                }
                inst.stack.truncate(frame.height);
                if frame.result && frame.end_reached {
                    let slot = inst.slot(frame.height)?;
                    inst.stack.push(Val::Reg(slot));
                }
                inst.reachable = frame.end_reached;
                if frame.kind == Kind::Func {
                    return Ok(true);
                }
            }
            O::Br { relative_depth } => {
                let value = inst.stack.last().copied();
                let target = self.branch_target(inst, *relative_depth, value)?;
                self.out.branch(Op::Br, Val::Zero, target);
                inst.reachable = false;
            }
            O::BrIf { relative_depth } => {
                let cond = inst.pop()?;
                self.branch_if(inst, cond, *relative_depth)?;
            }
            O::BrTable { targets } => {
                let index = inst.pop()?;
                let default = targets.default();
                let list = targets
                    .targets()
                    .collect::<Result<Vec<u32>, _>>()
                    .map_err(|e| (e.message().to_string(), Some(inst.offset)))?;
                let value = inst.stack.last().copied();
                match index {
                    Val::Zero | Val::Const(_) => {
                        let i = match index {
                            Val::Const(c) => c,
                            _ => 0,
                        };
                        let depth = usize::try_from(i)
                            .ok()
                            .and_then(|i| list.get(i).copied())
                            .unwrap_or(default);
                        let target = self.branch_target(inst, depth, value)?;
                        self.out.branch(Op::Br, Val::Zero, target);
                    }
                    Val::Reg(_) => {
                        for (k, depth) in list.iter().enumerate() {
                            self.out.emit(Op::Eq, index, const_val(k as u64), Some(S0));
                            self.branch_if(inst, Val::Reg(S0), *depth)?;
                        }
                        let target = self.branch_target(inst, default, value)?;
                        self.out.branch(Op::Br, Val::Zero, target);
                    }
                }
                inst.reachable = false;
            }
            O::Return => {
                let depth = (inst.frames.len() - 1) as u32;
                let value = inst.stack.last().copied();
                let target = self.branch_target(inst, depth, value)?;
                self.out.branch(Op::Br, Val::Zero, target);
                inst.reachable = false;
            }
            O::Call { function_index } => self.call(inst, *function_index)?,
            O::Drop => {
                inst.pop()?;
            }
            O::Select => {
                let cond = inst.pop()?;
                let second = inst.pop()?;
                let first = inst.pop()?;
                let depth = inst.stack.len();
                let slot = inst.slot(depth)?;
                match cond {
                    Val::Zero => inst.stack.push(second),
                    Val::Const(_) => inst.stack.push(first),
                    Val::Reg(_) => {
                        let skip = self.out.label();
                        if first == Val::Reg(slot) {
                            self.out.branch(Op::Brnz, cond, skip);
                            self.out.emit(Op::Mov, Val::Zero, second, Some(slot));
                        } else {
                            self.out.emit(Op::Mov, Val::Zero, second, Some(slot));
                            self.out.branch(Op::Brz, cond, skip);
                            self.out.emit(Op::Mov, Val::Zero, first, Some(slot));
                        }
                        self.out.place(skip);
                        inst.stack.push(Val::Reg(slot));
                    }
                }
            }
            O::LocalGet { local_index } => {
                let r = inst.local(*local_index)?;
                inst.stack.push(Val::Reg(r));
            }
            O::LocalSet { local_index } | O::LocalTee { local_index } => {
                let r = inst.local(*local_index)?;
                let v = inst.pop()?;
                self.protect(inst, r)?;
                let depth = inst.stack.len();
                let retarget = match (v, self.out.last_open) {
                    (Val::Reg(s), Some(last)) if s == inst.slot(depth)? => {
                        self.out.code[last].instr.dst == Some(s) && self.out.pending_gas == 0
                    }
                    _ => false,
                };
                if retarget {
                    if let Some(last) = self.out.last_open {
                        self.out.code[last].instr.dst = Some(r);
                    }
                } else if v != Val::Reg(r) {
                    self.out.emit(Op::Mov, Val::Zero, v, Some(r));
                }
                if matches!(op, O::LocalTee { .. }) {
                    inst.stack.push(Val::Reg(r));
                }
            }
            O::I32Const { value } => inst.stack.push(const_val(u64::from(*value as u32))),
            O::I64Const { value } => inst.stack.push(const_val(*value as u64)),
            O::I32Eqz | O::I64Eqz => {
                let a = inst.pop()?;
                self.binop(inst, Op::Eq, a, Val::Zero)?;
            }
            O::I32Popcnt | O::I64Popcnt => {
                let a = inst.pop()?;
                self.binop(inst, Op::Popcnt, a, Val::Zero)?;
            }
            O::I32WrapI64 => {
                let a = inst.pop()?;
                self.binop(inst, Op::Wrap, a, Val::Zero)?;
            }
            O::I64ExtendI32U => {}
            O::I64ExtendI32S => {
                let a = inst.pop()?;
                self.binop(inst, Op::Exts, a, Val::Zero)?;
            }
            _ => self.numeric(inst, op)?,
        }
        Ok(false)
    }

    fn call(&mut self, inst: &mut Instance, index: u32) -> Result<(), Refusal> {
        let module = self.module;
        if self.inlined.contains(&index) {
            return Err((
                format!("call {index}: recursion is outside the provable subset"),
                Some(inst.offset),
            ));
        }
        let f = &module.functions[index as usize];
        let nparams = f.params.len();
        let first = inst
            .stack
            .len()
            .checked_sub(nparams)
            .ok_or(("operand stack underflow".to_string(), Some(inst.offset)))?;
        // Every entry into its slot: the arguments' slots are the callee's parameters.
        self.materialize_all(inst)?;
        let base = inst.base + inst.nlocals + first;
        let body = &self.bodies[&index];
        for k in 0..body.locals.len() {
            let r = inst.reg(base + nparams + k)?;
            self.out.emit(Op::Mov, Val::Zero, Val::Zero, Some(r));
        }
        inst.stack.truncate(first);
        let slot = inst.slot(first)?;
        self.function(index, base, Some(slot))?;
        if !f.results.is_empty() {
            inst.stack.push(Val::Reg(slot));
        }
        Ok(())
    }

    fn numeric(&mut self, inst: &mut Instance, op: &Operator<'_>) -> Result<(), Refusal> {
        use Operator as O;
        let b = inst.pop()?;
        let a = inst.pop()?;
        let w64 = matches!(
            op,
            O::I64Eq
                | O::I64Ne
                | O::I64LtS
                | O::I64LtU
                | O::I64GtS
                | O::I64GtU
                | O::I64LeS
                | O::I64LeU
                | O::I64GeS
                | O::I64GeU
                | O::I64Add
                | O::I64Sub
                | O::I64Mul
                | O::I64DivU
                | O::I64RemU
                | O::I64And
                | O::I64Or
                | O::I64Xor
                | O::I64Shl
                | O::I64ShrS
                | O::I64ShrU
                | O::I64Rotl
                | O::I64Rotr
        );
        let bits: u32 = if w64 { 64 } else { 32 };
        let sign: u64 = 1 << (bits - 1);
        let (add, sub, mul, shr, rot, pow2, pow2c) = if w64 {
            (
                Op::Add64,
                Op::Sub64,
                Op::Mul64,
                Op::Shr64,
                Op::Rot64,
                Op::Pow2_64,
                Op::Pow2c64,
            )
        } else {
            (
                Op::Add32,
                Op::Sub32,
                Op::Mul32,
                Op::Shr32,
                Op::Rot32,
                Op::Pow2_32,
                Op::Pow2c32,
            )
        };
        match op {
            O::I32Eq | O::I64Eq => self.binop(inst, Op::Eq, a, b),
            O::I32Ne | O::I64Ne => self.binop(inst, Op::Ne, a, b),
            O::I32LtU | O::I64LtU => self.binop(inst, Op::Ltu, a, b),
            O::I32GtU | O::I64GtU => self.binop(inst, Op::Ltu, b, a),
            O::I32LeU | O::I64LeU => self.binop(inst, Op::Geu, b, a),
            O::I32GeU | O::I64GeU => self.binop(inst, Op::Geu, a, b),
            O::I32LtS
            | O::I64LtS
            | O::I32GtS
            | O::I64GtS
            | O::I32LeS
            | O::I64LeS
            | O::I32GeS
            | O::I64GeS => {
                // Signed order is unsigned order of the operands with their sign bit flipped.
                let bias = |t: &mut Self, v: Val, scratch: u8| match v {
                    Val::Zero => const_val(sign),
                    Val::Const(c) => const_val(c ^ sign),
                    Val::Reg(_) => {
                        t.out.emit(Op::Xor, v, Val::Const(sign), Some(scratch));
                        Val::Reg(scratch)
                    }
                };
                let a = bias(self, a, S0);
                let b = bias(self, b, S1);
                match op {
                    O::I32LtS | O::I64LtS => self.binop(inst, Op::Ltu, a, b),
                    O::I32GtS | O::I64GtS => self.binop(inst, Op::Ltu, b, a),
                    O::I32LeS | O::I64LeS => self.binop(inst, Op::Geu, b, a),
                    _ => self.binop(inst, Op::Geu, a, b),
                }
            }
            O::I32Add | O::I64Add => self.binop(inst, add, a, b),
            O::I32Sub | O::I64Sub => self.binop(inst, sub, a, b),
            O::I32Mul | O::I64Mul => self.binop(inst, mul, a, b),
            O::I32And | O::I64And => self.binop(inst, Op::And, a, b),
            O::I32Or | O::I64Or => self.binop(inst, Op::Or, a, b),
            O::I32Xor | O::I64Xor => self.binop(inst, Op::Xor, a, b),
            O::I32DivU | O::I64DivU | O::I32RemU | O::I64RemU => {
                // q candidate, then r = a − q·b and the check r < b pin q = ⌊a / b⌋.
                let a = if matches!(a, Val::Const(_)) && matches!(b, Val::Const(_)) {
                    self.in_reg(a, S2)
                } else {
                    a
                };
                self.out.emit(Op::Divq, a, b, Some(S0));
                self.out.emit(Op::Mul64, Val::Reg(S0), b, Some(S1));
                self.out.emit(Op::Sub64, a, Val::Reg(S1), Some(S1));
                self.out.emit(Op::AssertLt, Val::Reg(S1), b, None);
                let result = if matches!(op, O::I32DivU | O::I64DivU) {
                    S0
                } else {
                    S1
                };
                self.binop(inst, Op::Mov, Val::Zero, Val::Reg(result))
            }
            O::I32Shl
            | O::I64Shl
            | O::I32ShrU
            | O::I64ShrU
            | O::I32ShrS
            | O::I64ShrS
            | O::I32Rotl
            | O::I64Rotl
            | O::I32Rotr
            | O::I64Rotr => self.shift(
                inst,
                op,
                a,
                b,
                bits,
                sign,
                (mul, shr, rot, sub, pow2, pow2c),
            ),
            _ => Err((
                format!("{}: not supported by the compiler", operator_name(op)),
                Some(inst.offset),
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn shift(
        &mut self,
        inst: &mut Instance,
        op: &Operator<'_>,
        a: Val,
        b: Val,
        bits: u32,
        sign: u64,
        (mul, shr, rot, sub, pow2, pow2c): (Op, Op, Op, Op, Op, Op),
    ) -> Result<(), Refusal> {
        use Operator as O;
        let left = matches!(op, O::I32Shl | O::I64Shl);
        let logical_right = matches!(op, O::I32ShrU | O::I64ShrU);
        let arith_right = matches!(op, O::I32ShrS | O::I64ShrS);
        let rotl = matches!(op, O::I32Rotl | O::I64Rotl);
        match b {
            Val::Zero | Val::Const(_) => {
                let k = match b {
                    Val::Const(c) => (c % u64::from(bits)) as u32,
                    _ => 0,
                };
                if k == 0 {
                    inst.stack.push(a);
                    return Ok(());
                }
                let a = self.in_reg(a, S2);
                if left {
                    self.binop(inst, mul, a, Val::Const(1 << k))
                } else if logical_right {
                    self.binop(inst, shr, a, Val::Const(1 << (bits - k)))
                } else if rotl {
                    self.binop(inst, rot, a, Val::Const(1 << k))
                } else if arith_right {
                    self.out.emit(Op::Xor, a, Val::Const(sign), Some(S0));
                    self.out
                        .emit(shr, Val::Reg(S0), Val::Const(1 << (bits - k)), Some(S0));
                    self.binop(inst, sub, Val::Reg(S0), Val::Const(sign >> k))
                } else {
                    self.binop(inst, rot, a, Val::Const(1 << (bits - k)))
                }
            }
            Val::Reg(_) => {
                if left || rotl {
                    self.out.emit(pow2, b, Val::Zero, Some(S0));
                    self.binop(inst, if left { mul } else { rot }, a, Val::Reg(S0))
                } else if logical_right {
                    self.out.emit(pow2c, b, Val::Zero, Some(S0));
                    self.binop(inst, shr, a, Val::Reg(S0))
                } else if arith_right {
                    let a = self.in_reg(a, S2);
                    self.out.emit(Op::Xor, a, Val::Const(sign), Some(S1));
                    self.out.emit(pow2c, b, Val::Zero, Some(S0));
                    self.out.emit(shr, Val::Reg(S1), Val::Reg(S0), Some(S1));
                    self.out.emit(shr, Val::Const(sign), Val::Reg(S0), Some(S0));
                    self.binop(inst, sub, Val::Reg(S1), Val::Reg(S0))
                } else {
                    self.out.emit(pow2c, b, Val::Zero, Some(S0));
                    self.binop(inst, rot, a, Val::Reg(S0))
                }
            }
        }
    }
}
