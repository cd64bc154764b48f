//! The R1CS circuit of a profile: `steps` copies of one step of the machine ([`crate::isa`]).
//!
//! ```text
//! public: profile, schedule, method, code, arg0..7, output, gas
//! private: header, program words w_0..w_{P−1}, and per step every value below
//!
//! Poseidon(tag, profile, schedule, method, header, w_0..w_{P−1}) == code
//! regs_0 = (arg0..arg7, 0..0), pc_0 = 0, gas_0 = 0, args range-checked (64 or 32 bits)
//! per step: pc one-hot (P) ─▶ word = Σ pc_j·w_j ─▶ decode (op, a, b, dst one-hots; gas 16 bits;
//!           imm 64 bits) ─▶ operands ─▶ 128-bit decomposition of the op's input t ─▶ result
//!           ─▶ register writes, next pc, gas += instruction gas
//! last step is `halt`; regs[0] == output; gas == gas
//! ```
//!
//! Constraints per step: `2P + 454` (P program slots); see `specs/proofs.md` for the count.

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::constraints::CryptographicSpongeVar;
use ark_crypto_primitives::sponge::poseidon::constraints::PoseidonSpongeVar;
use ark_ff::{AdditiveGroup, Field, One, Zero};
use ark_r1cs_std::fields::fp::{AllocatedFp, FpVar};
use ark_r1cs_std::GR1CSVar;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable,
};

use crate::isa::{Op, Trace, DSTS, MAX_ARGS, OPS, REGISTERS, SRCS};
use crate::profile::Profile;
use crate::statement::{poseidon_config, CODE_TAG};

type Lc = LinearCombination<Fr>;

fn lc(v: Variable) -> Lc {
    Lc::from(v)
}

fn constant(c: Fr) -> Lc {
    Lc::from((c, Variable::One))
}

/// `2^i` for `i ≤ 128` (a table: synthesis asks for them millions of times).
fn pow2(i: u32) -> Fr {
    static TABLE: std::sync::OnceLock<Vec<Fr>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut out = Vec::with_capacity(129);
        let mut x = Fr::one();
        for _ in 0..=128 {
            out.push(x);
            x.double_in_place();
        }
        out
    });
    table
        .get(i as usize)
        .copied()
        .unwrap_or_else(|| Fr::from(2u64).pow([u64::from(i)]))
}

/// Everything the prover knows (absent during setup).
pub(crate) struct Witness {
    /// The public signals, in order.
    pub(crate) public: Vec<Fr>,
    /// The program header.
    pub(crate) header: u64,
    /// Packed program words, `program_slots` of them.
    pub(crate) words: Vec<u128>,
    /// The run: `steps + 1` states.
    pub(crate) trace: Trace,
}

/// The circuit of `profile` (a witness when proving).
pub(crate) struct VmCircuit<'a> {
    pub(crate) profile: Profile,
    pub(crate) witness: Option<&'a Witness>,
}

struct Cs<'a> {
    cs: ConstraintSystemRef<Fr>,
    witness: Option<&'a Witness>,
}

impl Cs<'_> {
    fn alloc(&self, value: impl FnOnce(&Witness) -> Fr) -> Result<Variable, SynthesisError> {
        let w = self.witness;
        self.cs
            .new_witness_variable(|| w.map(value).ok_or(SynthesisError::AssignmentMissing))
    }

    fn enforce(&self, a: Lc, b: Lc, c: Lc) -> Result<(), SynthesisError> {
        self.cs.enforce_r1cs_constraint(|| a, || b, || c)
    }

    /// A witness bit with its booleanity constraint.
    fn bit(&self, value: impl FnOnce(&Witness) -> bool) -> Result<Variable, SynthesisError> {
        let v = self.alloc(|w| Fr::from(u64::from(value(w))))?;
        self.enforce(lc(v), constant(Fr::one()) - v, Lc::zero())?;
        Ok(v)
    }

    /// `a · b` as a new witness.
    fn product(
        &self,
        a: Lc,
        b: Lc,
        value: impl FnOnce(&Witness) -> Fr,
    ) -> Result<Variable, SynthesisError> {
        let p = self.alloc(value)?;
        self.enforce(a, b, lc(p))?;
        Ok(p)
    }

    /// `n` witness bits of `value`, and the sum `Σ 2^i bit_i` as a combination.
    fn bits(
        &self,
        n: u32,
        value: impl Fn(&Witness) -> u128,
    ) -> Result<(Vec<Variable>, Lc), SynthesisError> {
        let mut bits = Vec::with_capacity(n as usize);
        let mut sum = Lc::zero();
        for i in 0..n {
            let b = self.bit(|w| (value(w) >> i) & 1 == 1)?;
            sum += (pow2(i), b);
            bits.push(b);
        }
        Ok((bits, sum))
    }

    /// A one-hot vector of `n` bits selecting `index`, with the sum-is-one constraint; returns the
    /// bits and `Σ k · bit_k`.
    fn one_hot(
        &self,
        n: usize,
        index: impl Fn(&Witness) -> usize,
    ) -> Result<(Vec<Variable>, Lc), SynthesisError> {
        let mut bits = Vec::with_capacity(n);
        let mut sum = Lc::zero();
        let mut weighted = Lc::zero();
        for k in 0..n {
            let b = self.bit(|w| index(w) == k)?;
            sum = sum + b;
            weighted += (Fr::from(k as u64), b);
            bits.push(b);
        }
        self.enforce(sum, constant(Fr::one()), constant(Fr::one()))?;
        Ok((bits, weighted))
    }
}

fn sum_of(vars: &[Variable], ops: &[Op]) -> Lc {
    let mut out = Lc::zero();
    for op in ops {
        out = out + vars[*op as usize];
    }
    out
}

fn fr(x: u128) -> Fr {
    Fr::from(x)
}

impl ConstraintSynthesizer<Fr> for VmCircuit<'_> {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let profile = self.profile;
        let c = Cs {
            cs: cs.clone(),
            witness: self.witness,
        };
        let pw = |i: usize| move |w: &Witness| w.public[i];

        // ---- Public signals (order fixed by `statement`).
        let mut public = Vec::with_capacity(6 + MAX_ARGS);
        for i in 0..6 + MAX_ARGS {
            let w = self.witness;
            public.push(
                cs.new_input_variable(|| w.map(pw(i)).ok_or(SynthesisError::AssignmentMissing))?,
            );
        }
        let (profile_var, schedule_var, method_var, code_var) =
            (public[0], public[1], public[2], public[3]);
        let args = &public[4..4 + MAX_ARGS];
        let output_var = public[4 + MAX_ARGS];
        let gas_var = public[5 + MAX_ARGS];
        c.enforce(
            lc(profile_var),
            constant(Fr::one()),
            constant(Fr::from(profile.id())),
        )?;

        // ---- Program: header and words, bound to `code`.
        let header = c.alloc(|w| Fr::from(w.header))?;
        let (header_bits, header_sum) = c.bits(18, |w| u128::from(w.header))?;
        c.enforce(header_sum, constant(Fr::one()), lc(header))?;
        let mut words = Vec::with_capacity(profile.program_slots);
        for j in 0..profile.program_slots {
            words.push(c.alloc(|w| fr(w.words[j]))?);
        }
        {
            let fp =
                |v: Variable, value: Option<Fr>| FpVar::Var(AllocatedFp::new(value, v, cs.clone()));
            let value = |f: &dyn Fn(&Witness) -> Fr| self.witness.map(f);
            let mut absorbed = vec![
                FpVar::Constant(Fr::from(CODE_TAG)),
                fp(profile_var, value(&|w| w.public[0])),
                fp(schedule_var, value(&|w| w.public[1])),
                fp(method_var, value(&|w| w.public[2])),
                fp(header, value(&|w| Fr::from(w.header))),
            ];
            for (j, v) in words.iter().enumerate() {
                absorbed.push(fp(*v, value(&|w| fr(w.words[j]))));
            }
            let mut sponge = PoseidonSpongeVar::new(cs.clone(), poseidon_config());
            sponge.absorb(&absorbed)?;
            let digest = sponge.squeeze_field_elements(1)?.remove(0);
            let digest_lc = match &digest {
                FpVar::Var(v) => lc(v.variable),
                FpVar::Constant(k) => constant(*k),
            };
            if self.witness.is_some() {
                debug_assert_eq!(digest.value().ok(), self.witness.map(|w| w.public[3]));
            }
            c.enforce(digest_lc, constant(Fr::one()), lc(code_var))?;
        }

        // ---- Arguments: 64-bit, 32-bit for i32 parameters, zero beyond the parameters.
        for (i, arg) in args.iter().enumerate() {
            let (bits, sum) = c.bits(64, |w| {
                use ark_ff::PrimeField;
                let limbs = w.public[4 + i].into_bigint().0;
                u128::from(limbs[0])
            })?;
            c.enforce(sum, constant(Fr::one()), lc(*arg))?;
            let mut high = Lc::zero();
            for (k, b) in bits.iter().enumerate().skip(32) {
                high += (pow2(k as u32), *b);
            }
            // i32 parameter: the high half is zero.
            c.enforce(lc(header_bits[8 + i]), high, Lc::zero())?;
            // No parameter: the argument is zero.
            c.enforce(constant(Fr::one()) - header_bits[i], lc(*arg), Lc::zero())?;
        }
        // No result: the output is zero. An i32 result is below 2^32 (it is register 0, which the
        // program fills from a 32-bit operation; checked here too).
        c.enforce(
            constant(Fr::one()) - header_bits[16],
            lc(output_var),
            Lc::zero(),
        )?;
        {
            let (bits, sum) = c.bits(64, |w| {
                use ark_ff::PrimeField;
                u128::from(w.public[4 + MAX_ARGS].into_bigint().0[0])
            })?;
            c.enforce(sum, constant(Fr::one()), lc(output_var))?;
            let mut high = Lc::zero();
            for (k, b) in bits.iter().enumerate().skip(32) {
                high += (pow2(k as u32), *b);
            }
            c.enforce(lc(header_bits[17]), high, Lc::zero())?;
        }

        // ---- The machine.
        let mut regs: Vec<Lc> = (0..REGISTERS)
            .map(|r| {
                if r < MAX_ARGS {
                    lc(args[r])
                } else {
                    Lc::zero()
                }
            })
            .collect();
        let mut next_pc = Lc::zero();
        let mut gas = Lc::zero();
        let mut last_halt = Lc::zero();
        for s in 0..profile.steps {
            let instr_of = move |w: &Witness| {
                let word = w.words[state_at(w, s).pc as usize];
                crate::isa::Instr::unpack(word).unwrap_or(crate::isa::Instr::HALT)
            };

            // Fetch: pc one-hot over the program slots, word = Σ pc_j · w_j.
            let (pc_bits, pc_lc) =
                c.one_hot(profile.program_slots, |w| state_at(w, s).pc as usize)?;
            c.enforce(pc_lc.clone(), constant(Fr::one()), next_pc)?;
            let mut word = Lc::zero();
            for (j, (b, wv)) in pc_bits.iter().zip(&words).enumerate() {
                let p = c.product(lc(*b), lc(*wv), |w| {
                    if state_at(w, s).pc as usize == j {
                        fr(w.words[j])
                    } else {
                        Fr::zero()
                    }
                })?;
                word = word + p;
            }

            // Decode.
            let (op, op_idx) = c.one_hot(OPS, |w| instr_of(w).op as usize)?;
            let (sa, sa_idx) = c.one_hot(SRCS, |w| instr_of(w).a.index())?;
            let (sb, sb_idx) = c.one_hot(SRCS, |w| instr_of(w).b.index())?;
            let (dst, dst_idx) = c.one_hot(DSTS, |w| instr_of(w).dst_index())?;
            let (_, gas_field) = c.bits(16, |w| u128::from(instr_of(w).gas))?;
            let (_, imm) = c.bits(64, |w| u128::from(instr_of(w).imm))?;
            let r1 = Fr::from(OPS as u64);
            let r2 = r1 * Fr::from(SRCS as u64);
            let r3 = r2 * Fr::from(SRCS as u64);
            let r4 = r3 * Fr::from(DSTS as u64);
            let r5 = r4 * pow2(16);
            let packed = op_idx
                + &(sa_idx * r1)
                + &(sb_idx * r2)
                + &(dst_idx * r3)
                + &(gas_field.clone() * r4)
                + &(imm.clone() * r5);
            c.enforce(word - &packed, constant(Fr::one()), Lc::zero())?;

            // Operands.
            let operand = |sel: &[Variable], is_a: bool| -> Result<Lc, SynthesisError> {
                let mut out = Lc::zero();
                for (r, reg) in regs.iter().enumerate() {
                    let p = c.product(lc(sel[r]), reg.clone(), |w| {
                        let i = instr_of(w);
                        let src = if is_a { i.a } else { i.b };
                        if src == crate::isa::Src::Reg(r as u8) {
                            fr(state_at(w, s).regs[r])
                        } else {
                            Fr::zero()
                        }
                    })?;
                    out = out + p;
                }
                let p = c.product(lc(sel[REGISTERS]), imm.clone(), |w| {
                    let i = instr_of(w);
                    let src = if is_a { i.a } else { i.b };
                    if src == crate::isa::Src::Imm {
                        Fr::from(i.imm)
                    } else {
                        Fr::zero()
                    }
                })?;
                Ok(out + p)
            };
            let a = operand(&sa, true)?;
            let b = operand(&sb, false)?;

            // Arithmetic unit: t per group, decomposed into 128 bits.
            let is = |o: Op| op[o as usize];
            let g_add = sum_of(&op, &[Op::Add64, Op::Add32]);
            let g_sub = sum_of(&op, &[Op::Sub64, Op::Sub32, Op::Ltu, Op::Geu, Op::AssertLt]);
            let g_mul = sum_of(
                &op,
                &[
                    Op::Mul64,
                    Op::Mul32,
                    Op::Shr64,
                    Op::Shr32,
                    Op::Rot64,
                    Op::Rot32,
                ],
            );
            let g_bit = sum_of(&op, &[Op::And, Op::Or, Op::Xor]);
            let g_a = sum_of(
                &op,
                &[
                    Op::Wrap,
                    Op::Exts,
                    Op::Popcnt,
                    Op::Pow2_64,
                    Op::Pow2_32,
                    Op::Pow2c64,
                    Op::Pow2c32,
                ],
            );
            let group_of = |o: Op| -> u8 {
                match o {
                    Op::Add64 | Op::Add32 => 1,
                    Op::Sub64 | Op::Sub32 | Op::Ltu | Op::Geu | Op::AssertLt => 2,
                    Op::Mul64 | Op::Mul32 | Op::Shr64 | Op::Shr32 | Op::Rot64 | Op::Rot32 => 3,
                    Op::And | Op::Or | Op::Xor => 4,
                    Op::Wrap
                    | Op::Exts
                    | Op::Popcnt
                    | Op::Pow2_64
                    | Op::Pow2_32
                    | Op::Pow2c64
                    | Op::Pow2c32 => 5,
                    _ => 0,
                }
            };
            let two64 = pow2(64);
            let m = c.product(a.clone(), b.clone(), |w| {
                fr(values_at(w, s).a) * fr(values_at(w, s).b)
            })?;
            let t_value = move |w: &Witness, g: u8| {
                if group_of(instr_of(w).op) == g {
                    fr(values_at(w, s).t)
                } else {
                    Fr::zero()
                }
            };
            let ta = c.product(g_add, a.clone() + &b, move |w| t_value(w, 1))?;
            let ts = c.product(g_sub, a.clone() - &b + (two64, Variable::One), move |w| {
                t_value(w, 2)
            })?;
            let tm = c.product(g_mul, lc(m), move |w| t_value(w, 3))?;
            let tb = c.product(g_bit, a.clone() + &(b.clone() * two64), move |w| {
                t_value(w, 4)
            })?;
            let tg = c.product(g_a, a.clone(), move |w| t_value(w, 5))?;
            let (u, t_bits) = c.bits(128, |w| values_at(w, s).t)?;
            let divq = is(Op::Divq);
            c.enforce(
                constant(Fr::one()) - divq,
                lc(ta) + ta_plus(&[ts, tm, tb, tg]) - &t_bits,
                Lc::zero(),
            )?;
            let range = |from: u32, to: u32| {
                let mut out = Lc::zero();
                for i in from..to {
                    out += (pow2(i - from), u[i as usize]);
                }
                out
            };
            let lo64 = range(0, 64);
            let hi64 = range(64, 128);
            let lo32 = range(0, 32);
            let mid32 = range(32, 64);
            // Divq: a = lo64 · b + hi64.
            let qb = c.product(lo64.clone(), b.clone(), |w| {
                fr(values_at(w, s).t & ((1 << 64) - 1)) * fr(values_at(w, s).b)
            })?;
            c.enforce(lc(divq), lc(qb) + &hi64 - &a, Lc::zero())?;
            // Bitwise: and_i = u_i · u_{64+i} (t = a + 2^64 b).
            let mut and_v = Lc::zero();
            for i in 0..64 {
                let p = c.product(lc(u[i]), lc(u[64 + i]), |w| {
                    let t = values_at(w, s).t;
                    Fr::from(u64::from((t >> i) & 1 == 1 && (t >> (64 + i)) & 1 == 1))
                })?;
                and_v += (pow2(i as u32), p);
            }
            // Powers of two of the low bits of t (= a).
            let factor = |i: usize, complement: bool| -> Lc {
                let k = pow2(1 << i);
                if complement {
                    constant(k) - &(lc(u[i]) * (k - Fr::one()))
                } else {
                    constant(Fr::one()) + &(lc(u[i]) * (k - Fr::one()))
                }
            };
            let chain = |complement: bool| -> Result<(Variable, Variable), SynthesisError> {
                let native = move |w: &Witness, upto: usize| {
                    let t = values_at(w, s).t;
                    let mut acc = Fr::one();
                    for i in 0..upto {
                        let bit = (t >> i) & 1;
                        let k = pow2(1 << i);
                        acc *= if complement {
                            k - Fr::from(bit as u64) * (k - Fr::one())
                        } else {
                            Fr::one() + Fr::from(bit as u64) * (k - Fr::one())
                        };
                    }
                    acc
                };
                let mut acc =
                    c.product(factor(0, complement), factor(1, complement), move |w| {
                        native(w, 2)
                    })?;
                for i in 2..5 {
                    acc = c.product(lc(acc), factor(i, complement), move |w| native(w, i + 1))?;
                }
                let p32 = acc;
                let p64 = c.product(lc(p32), factor(5, complement), move |w| native(w, 6))?;
                Ok((p32, p64))
            };
            let (p32, p64) = chain(false)?;
            let (c32, c64) = chain(true)?;
            // Equality: z = (a − b == 0).
            let z = c.alloc(|w| Fr::from(u64::from(values_at(w, s).a == values_at(w, s).b)))?;
            let inv = c.alloc(|w| {
                (fr(values_at(w, s).a) - fr(values_at(w, s).b))
                    .inverse()
                    .unwrap_or_else(Fr::zero)
            })?;
            let d = a.clone() - &b;
            c.enforce(d.clone(), lc(inv), constant(Fr::one()) - z)?;
            c.enforce(d, lc(z), Lc::zero())?;

            // Result.
            let form = |sel: Lc, f: Lc, value: fn(&Witness, usize) -> Fr| {
                c.product(sel, f, move |w| value(w, s))
            };
            let sel = |ops: &[Op]| sum_of(&op, ops);
            let r_mov = form(sel(&[Op::Mov]), b.clone(), |w, s| {
                let v = &w.trace.values[s];
                if step_op(w, s) == Op::Mov {
                    fr(v.b)
                } else {
                    Fr::zero()
                }
            })?;
            let r_lo64 = form(
                sel(&[Op::Add64, Op::Sub64, Op::Mul64, Op::Divq, Op::Rot64]),
                lo64.clone(),
                |w, s| {
                    let o = step_op(w, s);
                    if matches!(o, Op::Add64 | Op::Sub64 | Op::Mul64 | Op::Divq | Op::Rot64) {
                        fr(w.trace.values[s].t & ((1 << 64) - 1))
                    } else {
                        Fr::zero()
                    }
                },
            )?;
            let r_hi64 = form(sel(&[Op::Shr64, Op::Rot64]), hi64, |w, s| {
                if matches!(step_op(w, s), Op::Shr64 | Op::Rot64) {
                    fr(w.trace.values[s].t >> 64)
                } else {
                    Fr::zero()
                }
            })?;
            let r_lo32 = form(
                sel(&[
                    Op::Add32,
                    Op::Sub32,
                    Op::Mul32,
                    Op::Wrap,
                    Op::Rot32,
                    Op::Exts,
                ]),
                lo32,
                |w, s| {
                    let o = step_op(w, s);
                    if matches!(
                        o,
                        Op::Add32 | Op::Sub32 | Op::Mul32 | Op::Wrap | Op::Rot32 | Op::Exts
                    ) {
                        fr(w.trace.values[s].t & ((1 << 32) - 1))
                    } else {
                        Fr::zero()
                    }
                },
            )?;
            let r_mid32 = form(sel(&[Op::Shr32, Op::Rot32]), mid32, |w, s| {
                if matches!(step_op(w, s), Op::Shr32 | Op::Rot32) {
                    fr((w.trace.values[s].t >> 32) & ((1 << 32) - 1))
                } else {
                    Fr::zero()
                }
            })?;
            let r_orxor = form(sel(&[Op::Or, Op::Xor]), a.clone() + &b, |w, s| {
                let v = &w.trace.values[s];
                if matches!(step_op(w, s), Op::Or | Op::Xor) {
                    fr(v.a) + fr(v.b)
                } else {
                    Fr::zero()
                }
            })?;
            let and_sel = lc(is(Op::And)) - is(Op::Or) - &(lc(is(Op::Xor)) * Fr::from(2u64));
            let r_and = form(and_sel, and_v, |w, s| {
                let v = &w.trace.values[s];
                let and = fr((v.a & v.b) & ((1 << 64) - 1));
                match step_op(w, s) {
                    Op::And => and,
                    Op::Or => -and,
                    Op::Xor => -and.double(),
                    _ => Fr::zero(),
                }
            })?;
            let r_cmp = form(lc(is(Op::Geu)) - is(Op::Ltu), lc(u[64]), |w, s| {
                let bit = Fr::from(((w.trace.values[s].t >> 64) & 1) as u64);
                match step_op(w, s) {
                    Op::Geu => bit,
                    Op::Ltu => -bit,
                    _ => Fr::zero(),
                }
            })?;
            let r_eq = form(lc(is(Op::Eq)) - is(Op::Ne), lc(z), |w, s| {
                let v = &w.trace.values[s];
                let zv = Fr::from(u64::from(v.a == v.b));
                match step_op(w, s) {
                    Op::Eq => zv,
                    Op::Ne => -zv,
                    _ => Fr::zero(),
                }
            })?;
            let r_exts = form(lc(is(Op::Exts)), lc(u[31]), |w, s| {
                if step_op(w, s) == Op::Exts {
                    Fr::from(((w.trace.values[s].t >> 31) & 1) as u64)
                } else {
                    Fr::zero()
                }
            })?;
            let mut popc = Lc::zero();
            for bit in u.iter().take(64) {
                popc = popc + *bit;
            }
            let r_popc = form(lc(is(Op::Popcnt)), popc, |w, s| {
                if step_op(w, s) == Op::Popcnt {
                    Fr::from(u64::from(
                        (w.trace.values[s].t & ((1 << 64) - 1)).count_ones(),
                    ))
                } else {
                    Fr::zero()
                }
            })?;
            let pow_form = |o: Op, p: Variable, base: u32, comp: bool| {
                c.product(lc(is(o)), lc(p), move |w| {
                    if step_op(w, s) == o {
                        let k = (w.trace.values[s].t & u128::from(base - 1)) as u32;
                        if comp {
                            pow2(base - 1 - k)
                        } else {
                            pow2(k)
                        }
                    } else {
                        Fr::zero()
                    }
                })
            };
            let r_p64 = pow_form(Op::Pow2_64, p64, 64, false)?;
            let r_p32 = pow_form(Op::Pow2_32, p32, 32, false)?;
            let r_c64 = pow_form(Op::Pow2c64, c64, 64, true)?;
            let r_c32 = pow_form(Op::Pow2c32, c32, 32, true)?;
            let two = Fr::from(2u64);
            let result = lc(r_mov)
                + r_lo64
                + r_hi64
                + r_lo32
                + r_mid32
                + r_orxor
                + r_and
                + r_cmp
                + is(Op::Ltu)
                + r_eq
                + is(Op::Ne)
                + (two64 - pow2(32), r_exts)
                + r_popc
                + r_p64
                + r_p32
                + (two, r_c64)
                + (two, r_c32);
            // AssertLt: a < b, i.e. the borrow bit of a − b + 2^64 is clear.
            c.enforce(lc(is(Op::AssertLt)), lc(u[64]), Lc::zero())?;

            // Register writes: new_r − r = dst_r · (result − r).
            let mut new_regs = Vec::with_capacity(REGISTERS);
            for (r, reg) in regs.iter().enumerate() {
                let nr = c.alloc(|w| fr(w.trace.states[s + 1].regs[r]))?;
                c.enforce(lc(dst[r]), result.clone() - reg, lc(nr) - reg)?;
                new_regs.push(lc(nr));
            }
            regs = new_regs;

            // Control: jump = br + brnz·(1 − z) + brz·z; next = fall + jump·(imm − fall).
            let jnz = c.product(lc(is(Op::Brnz)), constant(Fr::one()) - z, |w| {
                Fr::from(u64::from(
                    step_op(w, s) == Op::Brnz && w.trace.values[s].jump,
                ))
            })?;
            let jz = c.product(lc(is(Op::Brz)), lc(z), |w| {
                Fr::from(u64::from(
                    step_op(w, s) == Op::Brz && w.trace.values[s].jump,
                ))
            })?;
            let jump = lc(is(Op::Br)) + jnz + jz;
            let fall = pc_lc + (Fr::one(), Variable::One) - is(Op::Halt);
            let jd = c.product(jump, imm - &fall, |w| {
                let st = &w.trace.states[s];
                if w.trace.values[s].jump {
                    let fall = st.pc + 1;
                    fr(u128::from(instr_of(w).imm)) - fr(u128::from(fall))
                } else {
                    Fr::zero()
                }
            })?;
            next_pc = fall + jd;

            // Gas.
            let g = c.alloc(|w| Fr::from(w.trace.states[s + 1].gas))?;
            c.enforce(gas + &gas_field, constant(Fr::one()), lc(g))?;
            gas = lc(g);
            last_halt = lc(is(Op::Halt));
        }
        // The machine stopped, and its register 0 and gas are the public output and gas.
        c.enforce(last_halt, constant(Fr::one()), constant(Fr::one()))?;
        c.enforce(regs[0].clone(), constant(Fr::one()), lc(output_var))?;
        c.enforce(gas, constant(Fr::one()), lc(gas_var))?;
        Ok(())
    }
}

fn ta_plus(vars: &[Variable]) -> Lc {
    let mut out = Lc::zero();
    for v in vars {
        out = out + *v;
    }
    out
}

/// The operation executed at step `s`.
fn step_op(w: &Witness, s: usize) -> Op {
    crate::isa::Instr::unpack(w.words[w.trace.states[s].pc as usize]).map_or(Op::Halt, |i| i.op)
}

fn state_at(w: &Witness, s: usize) -> &crate::isa::State {
    &w.trace.states[s]
}

fn values_at(w: &Witness, s: usize) -> &crate::isa::StepValues {
    &w.trace.values[s]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prove::ProvableProgram;
    use crate::statement::{program_words, Statement};
    use ark_relations::gr1cs::ConstraintSystem;
    use opmeter_vm::Schedule;

    /// Synthesizes `profile`'s circuit with the witness of `method(args)` and checks it.
    fn satisfied(wat: &str, method: &str, args: &[u64], profile: Profile) -> (bool, usize) {
        let wasm = wat::parse_str(wat).expect("wat");
        let program = ProvableProgram::compile(&wasm, &Schedule::v1(), method).expect("compiles");
        let trace = crate::isa::run(&program.program.code, args, profile.steps).expect("runs");
        let last = trace.last().clone();
        let statement = Statement {
            profile,
            schedule_hash: program.schedule_hash,
            method: method.into(),
            code_commitment: program.code_commitment(&profile),
            args: args.to_vec(),
            output: if program.program.result.is_some() {
                last.regs[0] as u64
            } else {
                0
            },
            gas_used: last.gas,
        };
        let witness = Witness {
            public: statement.public_inputs(),
            header: program.program.header(),
            words: program_words(&program.program, &profile),
            trace,
        };
        let cs = ConstraintSystem::<Fr>::new_ref();
        VmCircuit {
            profile,
            witness: Some(&witness),
        }
        .generate_constraints(cs.clone())
        .expect("synthesizes");
        let ok = cs.is_satisfied().expect("checks");
        if !ok {
            eprintln!("unsatisfied: {:?}", cs.which_is_unsatisfied());
        }
        (ok, cs.num_constraints())
    }

    const TINY: Profile = Profile {
        name: "tiny",
        steps: 40,
        program_slots: 40,
    };

    #[test]
    fn the_witness_of_every_operation_satisfies_the_circuit() {
        let wat = r#"(module (memory (export "memory") 1) (func (export "run"))
          (func (export "provable:f") (param i64 i64 i32) (result i64) (local i64)
            (local.set 3 (i64.add (local.get 0) (local.get 1)))
            (local.set 3 (i64.xor (local.get 3) (i64.mul (local.get 0) (i64.const 0x9E3779B97F4A7C15))))
            (local.set 3 (i64.or (local.get 3) (i64.shr_u (local.get 3) (i64.const 7))))
            (local.set 3 (i64.and (local.get 3) (i64.rotl (local.get 3) (local.get 1))))
            (local.set 3 (i64.sub (local.get 3) (i64.shr_s (local.get 0) (i64.const 3))))
            (local.set 3 (i64.add (local.get 3) (i64.extend_i32_s (local.get 2))))
            (local.set 3 (i64.add (local.get 3) (i64.popcnt (local.get 3))))
            (local.set 3 (i64.add (local.get 3) (i64.div_u (local.get 3) (i64.const 10))))
            (local.set 3 (i64.add (local.get 3) (i64.extend_i32_u (i32.wrap_i64 (i64.shl (local.get 3) (local.get 1))))))
            (if (i64.lt_s (local.get 0) (local.get 1)) (then (local.set 3 (i64.add (local.get 3) (i64.const 1)))))
            (if (i32.eqz (local.get 2)) (then (local.set 3 (i64.const 0))))
            (i64.add (local.get 3) (i64.extend_i32_u (i32.rotr (local.get 2) (i32.const 5))))))"#;
        for args in [[3u64, 5, 7], [u64::MAX, 64, 0xffff_ffff], [1 << 63, 0, 1]] {
            let (ok, constraints) = satisfied(wat, "f", &args, TINY);
            assert!(ok, "{args:?}");
            assert!(constraints > 0);
        }
    }

    #[test]
    fn constraints_per_step_are_as_documented() {
        let count = |steps| {
            crate::constraint_count(Profile {
                name: "x",
                steps,
                program_slots: 40,
            })
            .expect("counts")
        };
        let per_step = count(3) - count(2);
        assert_eq!(per_step, 2 * 40 + 454, "update specs/proofs.md");
    }
}
