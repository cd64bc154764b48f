//! # opmeter-prover
//!
//! Groth16 proofs (BN254, arkworks) that *method `M` of the contract with code hash `C`, on
//! input `I`, returned `O` and used exactly `G` gas under schedule `S`*: 128 bytes, verified in
//! about a millisecond by [`verify`] or by any standard Groth16 verifier ([`snarkjs`]).
//!
//! ```text
//! wasm ─▶ compile (public, deterministic) ─▶ Program ─▶ code commitment (Poseidon) ─┐
//!   │                                           │                                    ▼
//!   └─▶ vm::Vm::call_provable (the billed gas)  └─▶ native run ─▶ witness ─▶ Groth16 proof
//!                                                                              │
//! Statement { profile, schedule, method, code, args, output, gas } ─▶ verify ◀─┘
//! ```
//!
//! One circuit per [`Profile`] (steps, program size), shared by every contract; its keys come
//! from [`setup`] (development keys: whoever ran it could forge proofs) or a ceremony
//! (`specs/proofs.md`). The provable subset, the instruction set, the circuit and each public
//! signal are specified in `specs/proofs.md`.
//!
//! ```
//! use opmeter_prover::{prove, setup, verify, Profile, ProvableProgram};
//! use opmeter_vm::Schedule;
//! use rand_chacha::rand_core::SeedableRng;
//!
//! let wasm = wat::parse_str(r#"(module (memory (export "memory") 1)
//!   (func (export "run"))
//!   (func (export "provable:double") (param i64) (result i64)
//!     (i64.add (local.get 0) (local.get 0))))"#).unwrap();
//! let schedule = Schedule::v1();
//! let program = ProvableProgram::compile(&wasm, &schedule, "double").unwrap();
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1); // development keys only
//! let keys = setup(Profile::S, &mut rng).unwrap();
//! let (statement, proof) = prove(&keys, &program, &[21], &mut rng, &mut |_| {}).unwrap();
//! assert_eq!(statement.output, 42);
//! verify(keys.vk(), &statement, &proof).unwrap();
//! ```
//!
//! | piece | module |
//! |---|---|
//! | the instruction set and its interpreter | [`isa`] |
//! | the compiler and the provable subset | [`compile`] |
//! | profiles | [`profile`] |
//! | the statement and its public signals | [`statement`] |
//! | key pairs on disk | [`keys`] |
//! | ceremony keys: `.r1cs` export, `.zkey` import | [`ceremony`] |
//! | the R1CS-to-QAP reduction snarkjs uses | [`reduction`] |
//! | snarkjs JSON | [`snarkjs`] |
//! | errors and their codes | [`error`] |

pub mod ceremony;
mod circuit;
pub mod compile;
pub mod error;
pub mod isa;
pub mod keys;
pub mod profile;
mod prove;
pub mod reduction;
pub mod snarkjs;
pub mod statement;

pub use compile::{compile_method, compile_module, NotProvable, Provability};
pub use error::{ErrorCode, ProverError};
pub use keys::{KeyOrigin, Keys, Manifest, Reduction};
pub use profile::Profile;
pub use prove::{
    prove, setup, setup_for, verify, verify_prepared, Execution, Progress, Proof, ProvableProgram,
    Prover,
};
pub use statement::Statement;

/// The verifying key type.
pub type VerifyingKey = ark_groth16::VerifyingKey<ark_bn254::Bn254>;

/// A verifying key prepared for fast verification ([`verify_prepared`]).
pub type PreparedVerifyingKey = ark_groth16::PreparedVerifyingKey<ark_bn254::Bn254>;

/// Prepares a verifying key for [`verify_prepared`].
pub fn prepare_verifying_key(vk: &VerifyingKey) -> PreparedVerifyingKey {
    ark_groth16::prepare_verifying_key(vk)
}

/// Counts the constraints of `profile`'s circuit (for benchmarks and the spec's table).
pub fn constraint_count(profile: Profile) -> Result<usize, ProverError> {
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, SynthesisMode};
    let cs = ConstraintSystem::<ark_bn254::Fr>::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    circuit::VmCircuit {
        profile,
        witness: None,
    }
    .generate_constraints(cs.clone())?;
    Ok(cs.num_constraints())
}

/// Times circuit synthesis with a witness (constraint system built as the prover builds it,
/// matrices included) for `program(args)` in `profile`: seconds to synthesize and to finalize.
/// For benchmarks.
#[doc(hidden)]
pub fn synthesis_seconds(
    profile: Profile,
    program: &ProvableProgram,
    args: &[u64],
) -> Result<(f64, f64), ProverError> {
    use ark_relations::gr1cs::{
        ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
    };
    let trace = isa::run(&program.program.code, args, profile.steps)
        .map_err(|_| ProverError::Internal("the program does not run".into()))?;
    let last = trace.last().clone();
    let statement = Statement {
        profile,
        schedule_hash: program.schedule_hash,
        method: program.method.clone(),
        code_commitment: program.code_commitment(&profile),
        args: args.to_vec(),
        output: last.regs[0] as u64,
        gas_used: last.gas,
    };
    let witness = circuit::Witness {
        public: statement.public_inputs(),
        header: program.program.header(),
        words: statement::program_words(&program.program, &profile),
        trace,
    };
    let cs = ConstraintSystem::<ark_bn254::Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
        generate_lc_assignments: false,
    });
    let t = std::time::Instant::now();
    circuit::VmCircuit {
        profile,
        witness: Some(&witness),
    }
    .generate_constraints(cs.clone())?;
    let synth = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    cs.finalize();
    Ok((synth, t.elapsed().as_secs_f64()))
}
