//! The register machine the circuit executes (`zkisa v1`): 16 registers, 30 operations, one
//! instruction per step, gas carried by the instructions.
//!
//! Every instruction reads operand `a` and operand `b` (each a register, the immediate, or zero),
//! computes one result and writes it to `dst` (a register, or nothing). Branches jump to the
//! immediate. The interpreter here is the reference semantics: the circuit constrains exactly
//! what [`step`] computes, and the tests check both against the wasm semantics (`vm`).
//!
//! | op | result | notes |
//! |---|---|---|
//! | `Halt` | — | stays at the same `pc`; the last step of every trace |
//! | `Mov` | `b` | with `dst` = none: a no-op that only carries gas |
//! | `Add64/32`, `Sub64/32`, `Mul64/32` | wrapping | `Mul` by `2^k` is a left shift |
//! | `And`, `Or`, `Xor` | bitwise | 32-bit values have zero high bits |
//! | `Shr64/32` | `(a · b) >> 64` / `>> 32` | `b = 2^(64−k)` / `2^(32−k)`: logical right shift by `k` |
//! | `Rot64/32` | `lo(a · b) + hi(a · b)` | `b = 2^k`: rotate left by `k` |
//! | `Ltu`, `Geu` | `a < b`, `a ≥ b` unsigned | signed: both operands `xor` the sign bit first |
//! | `Eq`, `Ne` | `a = b`, `a ≠ b` | |
//! | `Wrap` | `a mod 2^32` | `i32.wrap_i64` |
//! | `Exts` | `a` sign-extended from 32 bits | `i64.extend_i32_s` |
//! | `Popcnt` | ones in `a` | |
//! | `Pow2_64/32` | `2^(a mod 64)` / `2^(a mod 32)` | variable shift amounts |
//! | `Pow2c64/32` | `2^(64 − a mod 64)` / `2^(32 − a mod 32)` | |
//! | `Divq` | some `q` with `a = q·b + r`, `q, r < 2^64` | always followed by the check sequence |
//! | `AssertLt` | — | `a < b`, else the trace is not provable |
//! | `Br`, `Brnz`, `Brz` | — | jump to the immediate (always, if `a ≠ 0`, if `a = 0`) |

use std::fmt;

/// Registers of the machine.
pub const REGISTERS: usize = 16;
/// Registers the compiler uses for sequences (division checks, signed compares, shifts).
pub const SCRATCH: usize = 3;
/// Most arguments of a provable method (they arrive in registers `0..MAX_ARGS`).
pub const MAX_ARGS: usize = 8;
/// Gas an instruction carries at most (16 bits); larger charges are split over no-ops.
pub const MAX_INSTRUCTION_GAS: u64 = (1 << 16) - 1;
/// Version of this instruction set: part of every profile id and code commitment.
pub const ISA_VERSION: u64 = 1;

macro_rules! ops {
    ($($(#[$doc:meta])* $name:ident = $code:literal,)*) => {
        /// An operation. The numeric value is its code in the packed instruction word.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum Op { $($(#[$doc])* $name = $code,)* }

        impl Op {
            /// Every operation, in code order.
            pub const ALL: &'static [Op] = &[$(Op::$name),*];
        }
    };
}

ops! {
    /// Stop; `pc` stays.
    Halt = 0,
    /// `b`.
    Mov = 1,
    /// `(a + b) mod 2^64`.
    Add64 = 2,
    /// `(a + b) mod 2^32`.
    Add32 = 3,
    /// `(a − b) mod 2^64`.
    Sub64 = 4,
    /// `(a − b) mod 2^32`.
    Sub32 = 5,
    /// `(a · b) mod 2^64`.
    Mul64 = 6,
    /// `(a · b) mod 2^32`.
    Mul32 = 7,
    /// `a & b`.
    And = 8,
    /// `a | b`.
    Or = 9,
    /// `a ^ b`.
    Xor = 10,
    /// `(a · b) >> 64`.
    Shr64 = 11,
    /// `((a · b) >> 32) mod 2^32`.
    Shr32 = 12,
    /// `(a · b) mod 2^64 + (a · b) >> 64`.
    Rot64 = 13,
    /// `(a · b) mod 2^32 + ((a · b) >> 32) mod 2^32`.
    Rot32 = 14,
    /// `a < b`.
    Ltu = 15,
    /// `a ≥ b`.
    Geu = 16,
    /// `a = b`.
    Eq = 17,
    /// `a ≠ b`.
    Ne = 18,
    /// `a mod 2^32`.
    Wrap = 19,
    /// `a` (32 bits) sign-extended to 64 bits.
    Exts = 20,
    /// Number of one bits of `a`.
    Popcnt = 21,
    /// `2^(a mod 64)`.
    Pow2_64 = 22,
    /// `2^(a mod 32)`.
    Pow2_32 = 23,
    /// `2^(64 − a mod 64)`.
    Pow2c64 = 24,
    /// `2^(32 − a mod 32)`.
    Pow2c32 = 25,
    /// A quotient candidate: `q` with `a = q·b + r` for some `r < 2^64`.
    Divq = 26,
    /// Requires `a < b`.
    AssertLt = 27,
    /// Jump to the immediate.
    Br = 28,
    /// Jump to the immediate if `a ≠ 0`.
    Brnz = 29,
    /// Jump to the immediate if `a = 0`.
    Brz = 30,
}

/// Number of operations.
pub const OPS: usize = 31;

impl Op {
    /// Whether the operation writes `dst` (the others must have `dst` = none).
    pub fn writes(self) -> bool {
        !matches!(self, Op::Halt | Op::AssertLt | Op::Br | Op::Brnz | Op::Brz)
    }

    /// The operation with code `code`.
    pub fn from_code(code: u8) -> Option<Op> {
        Op::ALL.get(usize::from(code)).copied()
    }
}

/// Where an operand comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Src {
    /// A register.
    Reg(u8),
    /// The instruction's immediate.
    Imm,
    /// The constant 0.
    Zero,
}

/// Number of operand sources (registers, immediate, zero).
pub const SRCS: usize = REGISTERS + 2;
/// Number of destinations (registers, none).
pub const DSTS: usize = REGISTERS + 1;

impl Src {
    /// Index in the operand one-hot: registers, then immediate, then zero.
    pub fn index(self) -> usize {
        match self {
            Src::Reg(r) => usize::from(r),
            Src::Imm => REGISTERS,
            Src::Zero => REGISTERS + 1,
        }
    }

    fn from_index(index: u64) -> Option<Src> {
        match index {
            i if i < REGISTERS as u64 => Some(Src::Reg(i as u8)),
            i if i == REGISTERS as u64 => Some(Src::Imm),
            i if i == REGISTERS as u64 + 1 => Some(Src::Zero),
            _ => None,
        }
    }
}

/// One instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instr {
    /// The operation.
    pub op: Op,
    /// Operand `a`.
    pub a: Src,
    /// Operand `b`.
    pub b: Src,
    /// Destination register (`None`: no write).
    pub dst: Option<u8>,
    /// Gas charged when this instruction executes (at most [`MAX_INSTRUCTION_GAS`]).
    pub gas: u64,
    /// The immediate: a 64-bit constant or a branch target.
    pub imm: u64,
}

impl Instr {
    /// `halt`.
    pub const HALT: Instr = Instr {
        op: Op::Halt,
        a: Src::Zero,
        b: Src::Zero,
        dst: None,
        gas: 0,
        imm: 0,
    };

    /// Index of the destination in its one-hot: registers, then none.
    pub fn dst_index(&self) -> usize {
        self.dst.map_or(REGISTERS, usize::from)
    }

    /// The packed instruction word (mixed radix, little end first):
    /// `op + 31·(a + 18·(b + 18·(dst + 17·(gas + 2^16·imm))))` with `a`, `b` the operand
    /// indices ([`Src::index`]) and `dst` the destination index ([`Instr::dst_index`]).
    /// Below `2^98`, so it is one field element; every field is bounded, so it is injective.
    pub fn pack(&self) -> u128 {
        let mut word = u128::from(self.imm);
        word = (word << 16) + u128::from(self.gas);
        word = word * DSTS as u128 + self.dst_index() as u128;
        word = word * SRCS as u128 + self.b.index() as u128;
        word = word * SRCS as u128 + self.a.index() as u128;
        word * OPS as u128 + u128::from(self.op as u8)
    }

    /// The instruction a packed word encodes, if any.
    pub fn unpack(word: u128) -> Option<Instr> {
        let op = Op::from_code((word % OPS as u128) as u8)?;
        let word = word / OPS as u128;
        let a = Src::from_index((word % SRCS as u128) as u64)?;
        let word = word / SRCS as u128;
        let b = Src::from_index((word % SRCS as u128) as u64)?;
        let word = word / SRCS as u128;
        let dst = (word % DSTS as u128) as u8;
        let word = word / DSTS as u128;
        let gas = (word & 0xffff) as u64;
        let imm = u64::try_from(word >> 16).ok()?;
        Some(Instr {
            op,
            a,
            b,
            dst: (usize::from(dst) < REGISTERS).then_some(dst),
            gas,
            imm,
        })
    }
}

impl fmt::Display for Src {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Src::Reg(r) => write!(f, "r{r}"),
            Src::Imm => f.write_str("imm"),
            Src::Zero => f.write_str("0"),
        }
    }
}

impl fmt::Display for Instr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.dst {
            Some(d) => write!(f, "r{d} = ")?,
            None => f.write_str("     ")?,
        }
        write!(f, "{:?} {}, {}", self.op, self.a, self.b)?;
        if self.a == Src::Imm
            || self.b == Src::Imm
            || matches!(self.op, Op::Br | Op::Brnz | Op::Brz)
        {
            write!(f, " imm={:#x}", self.imm)?;
        }
        if self.gas > 0 {
            write!(f, " gas={}", self.gas)?;
        }
        Ok(())
    }
}

/// The type of a parameter or result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32 bits.
    I32,
    /// 64 bits.
    I64,
}

/// A compiled provable method: its signature and its instructions (`pc` 0 is the entry, and the
/// program ends with `halt` in every path that returns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// Parameter types (at most [`MAX_ARGS`]), in registers `0..params.len()`.
    pub params: Vec<ValType>,
    /// Result type, left in register 0 at `halt`.
    pub result: Option<ValType>,
    /// The instructions.
    pub code: Vec<Instr>,
}

impl Program {
    /// The header word: bit `i` = parameter `i` exists, bit `8 + i` = parameter `i` is `i32`,
    /// bit 16 = a result exists, bit 17 = the result is `i32`.
    pub fn header(&self) -> u64 {
        let mut header = 0u64;
        for (i, ty) in self.params.iter().enumerate() {
            header |= 1 << i;
            if *ty == ValType::I32 {
                header |= 1 << (8 + i);
            }
        }
        if let Some(ty) = self.result {
            header |= 1 << 16;
            if ty == ValType::I32 {
                header |= 1 << 17;
            }
        }
        header
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "; params {:?} -> {:?}", self.params, self.result)?;
        for (pc, instr) in self.code.iter().enumerate() {
            writeln!(f, "{pc:4}: {instr}")?;
        }
        Ok(())
    }
}

/// The machine state before a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Program counter.
    pub pc: u64,
    /// Registers. Values are below `2^64` except a `Pow2c64` of 0, which is exactly `2^64`.
    pub regs: [u128; REGISTERS],
    /// Gas charged so far.
    pub gas: u64,
}

/// Why a trace could not be produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// An `AssertLt` failed (a division by zero, or `unreachable`): the call traps.
    Trap {
        /// Where.
        pc: u64,
    },
    /// The program did not halt within the step bound.
    StepsExceeded {
        /// The bound.
        steps: usize,
    },
    /// `pc` left the program (a compiler bug; never for compiled programs).
    PcOutOfRange {
        /// Where.
        pc: u64,
    },
}

/// What one step computes besides the next state: everything the circuit's witness needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepValues {
    /// Operand `a`.
    pub a: u128,
    /// Operand `b`.
    pub b: u128,
    /// The 128-bit value the arithmetic unit decomposes.
    pub t: u128,
    /// The result (written to `dst` when there is one).
    pub result: u128,
    /// Whether the jump is taken.
    pub jump: bool,
}

fn src_value(src: Src, instr: &Instr, regs: &[u128; REGISTERS]) -> u128 {
    match src {
        Src::Reg(r) => regs[usize::from(r)],
        Src::Imm => u128::from(instr.imm),
        Src::Zero => 0,
    }
}

const TWO_64: u128 = 1 << 64;

/// The value the arithmetic unit decomposes into 128 bits for `op` (0 when unused).
pub fn alu_input(op: Op, a: u128, b: u128) -> u128 {
    match op {
        Op::Add64 | Op::Add32 => a + b,
        Op::Sub64 | Op::Sub32 | Op::Ltu | Op::Geu | Op::AssertLt => a + TWO_64 - b,
        Op::Mul64 | Op::Mul32 | Op::Shr64 | Op::Shr32 | Op::Rot64 | Op::Rot32 => a.wrapping_mul(b),
        Op::And | Op::Or | Op::Xor => a + (b << 64),
        Op::Wrap
        | Op::Exts
        | Op::Popcnt
        | Op::Pow2_64
        | Op::Pow2_32
        | Op::Pow2c64
        | Op::Pow2c32 => a,
        Op::Divq => match (a.checked_div(b), a.checked_rem(b)) {
            (Some(q), Some(r)) => q + (r << 64),
            // Division by zero: `a = 0·0 + a`; the check that follows fails (`a < 0`).
            _ => a << 64,
        },
        Op::Halt | Op::Mov | Op::Eq | Op::Ne | Op::Br | Op::Brnz | Op::Brz => 0,
    }
}

const LO64: u128 = (1 << 64) - 1;
const LO32: u128 = (1 << 32) - 1;

/// The result of `op` given its operands and the decomposed value `t` (see [`alu_input`]).
pub fn alu_result(op: Op, a: u128, b: u128, t: u128) -> u128 {
    let lo64 = t & LO64;
    let hi64 = t >> 64;
    let lo32 = t & LO32;
    let mid32 = (t >> 32) & LO32;
    let and = (a & LO64) & (b & LO64);
    let k6 = (t & 63) as u32;
    let k5 = (t & 31) as u32;
    match op {
        Op::Halt | Op::AssertLt | Op::Br | Op::Brnz | Op::Brz => 0,
        Op::Mov => b,
        Op::Add64 | Op::Sub64 | Op::Mul64 | Op::Divq => lo64,
        Op::Add32 | Op::Sub32 | Op::Mul32 | Op::Wrap => lo32,
        Op::And => and,
        Op::Or => a + b - and,
        Op::Xor => a + b - 2 * and,
        Op::Shr64 => hi64,
        Op::Shr32 => mid32,
        Op::Rot64 => lo64 + hi64,
        Op::Rot32 => lo32 + mid32,
        Op::Ltu => u128::from((t >> 64) & 1 == 0),
        Op::Geu => (t >> 64) & 1,
        Op::Eq => u128::from(a == b),
        Op::Ne => u128::from(a != b),
        Op::Exts => lo32 + ((t >> 31) & 1) * (TWO_64 - (1 << 32)),
        Op::Popcnt => u128::from(lo64.count_ones()),
        Op::Pow2_64 => 1 << k6,
        Op::Pow2_32 => 1 << k5,
        Op::Pow2c64 => 1 << (64 - k6),
        Op::Pow2c32 => 1 << (32 - k5),
    }
}

/// One step of `program` from `state`.
///
/// # Errors
/// [`Stop::Trap`] when an assertion fails, [`Stop::PcOutOfRange`] when `pc` leaves the program.
pub fn step(program: &[Instr], state: &State) -> Result<(State, StepValues), Stop> {
    let instr = program
        .get(usize::try_from(state.pc).unwrap_or(usize::MAX))
        .ok_or(Stop::PcOutOfRange { pc: state.pc })?;
    let a = src_value(instr.a, instr, &state.regs);
    let b = src_value(instr.b, instr, &state.regs);
    let t = alu_input(instr.op, a, b);
    let result = alu_result(instr.op, a, b, t);
    if instr.op == Op::AssertLt && a >= b {
        return Err(Stop::Trap { pc: state.pc });
    }
    let jump = match instr.op {
        Op::Br => true,
        Op::Brnz => a != b,
        Op::Brz => a == b,
        _ => false,
    };
    let mut next = state.clone();
    next.gas += instr.gas;
    next.pc = if jump {
        instr.imm
    } else if instr.op == Op::Halt {
        state.pc
    } else {
        state.pc + 1
    };
    if let Some(d) = instr.dst {
        next.regs[usize::from(d)] = result;
    }
    Ok((
        next,
        StepValues {
            a,
            b,
            t,
            result,
            jump,
        },
    ))
}

/// The initial state for `args` (registers `0..args.len()`, the rest zero).
pub fn initial_state(args: &[u64]) -> State {
    let mut regs = [0u128; REGISTERS];
    for (reg, arg) in regs.iter_mut().zip(args) {
        *reg = u128::from(*arg);
    }
    State {
        pc: 0,
        regs,
        gas: 0,
    }
}

/// A complete run: the state before every step (`steps + 1` states, the last after the final
/// step) and the per-step values.
#[derive(Clone, Debug)]
pub struct Trace {
    /// States `0..=steps`.
    pub states: Vec<State>,
    /// Per-step values.
    pub values: Vec<StepValues>,
    /// Steps before the machine first reached `halt`.
    pub executed: usize,
}

impl Trace {
    /// The final state.
    pub fn last(&self) -> &State {
        &self.states[self.states.len() - 1]
    }
}

/// Runs `program` on `args` for exactly `steps` steps (halting early and then repeating `halt`).
///
/// # Errors
/// [`Stop`] when the run traps, leaves the program, or has not halted after `steps` steps.
pub fn run(program: &[Instr], args: &[u64], steps: usize) -> Result<Trace, Stop> {
    let mut state = initial_state(args);
    let mut states = Vec::with_capacity(steps + 1);
    let mut values = Vec::with_capacity(steps);
    let mut executed = None;
    for index in 0..steps {
        let halted = program
            .get(usize::try_from(state.pc).unwrap_or(usize::MAX))
            .is_some_and(|i| i.op == Op::Halt);
        if halted && executed.is_none() {
            executed = Some(index);
        }
        let (next, v) = step(program, &state)?;
        states.push(state);
        values.push(v);
        state = next;
    }
    // The last step must be a `halt` (which keeps `pc`): the machine has stopped.
    let stopped = states
        .last()
        .and_then(|s| program.get(usize::try_from(s.pc).unwrap_or(usize::MAX)))
        .is_some_and(|i| i.op == Op::Halt);
    if !stopped {
        return Err(Stop::StepsExceeded { steps });
    }
    states.push(state);
    Ok(Trace {
        states,
        values,
        executed: executed.unwrap_or(steps),
    })
}

/// Runs `program` on `args` until it halts, at most `max_steps` steps: the number of steps it
/// executes before `halt`, its result (register 0) and the gas it charged.
///
/// # Errors
/// As [`run`].
pub fn execute(
    program: &[Instr],
    args: &[u64],
    max_steps: usize,
) -> Result<(usize, u64, u64), Stop> {
    let mut state = initial_state(args);
    for executed in 0..=max_steps {
        let instr = program
            .get(usize::try_from(state.pc).unwrap_or(usize::MAX))
            .ok_or(Stop::PcOutOfRange { pc: state.pc })?;
        if instr.op == Op::Halt {
            return Ok((executed, state.regs[0] as u64, state.gas));
        }
        state = step(program, &state)?.0;
    }
    Err(Stop::StepsExceeded { steps: max_steps })
}
