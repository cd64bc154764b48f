//! Setup, proving and verification.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, VerifyingKey};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, Matrix, OptimizationGoal, SynthesisMode,
    R1CS_PREDICATE_LABEL,
};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_snark::SNARK;
use ark_std::rand::{CryptoRng, RngCore};
use ark_std::UniformRand;
use opmeter_vm::{CodeHash, Schedule};

use crate::circuit::{VmCircuit, Witness};
use crate::compile::compile_method;
use crate::error::ProverError;
use crate::isa::{self, Program, Stop, ValType};
use crate::keys::{KeyOrigin, Keys, Reduction};
use crate::profile::Profile;
use crate::reduction::SnarkjsReduction;
use crate::statement::{code_commitment, program_words, Statement};

/// Generates development keys for `profile` (see [`KeyOrigin::Development`]: whoever runs this
/// could forge proofs). `rng` must be a cryptographic generator; its state is the toxic waste.
///
/// # Errors
/// [`ProverError::Internal`] when the circuit cannot be built.
pub fn setup<R: RngCore + CryptoRng>(profile: Profile, rng: &mut R) -> Result<Keys, ProverError> {
    setup_for(profile, Reduction::Snarkjs, rng)
}

/// [`setup`] for a chosen reduction (keys for [`Reduction::Libsnark`] are what this crate made
/// before it used snarkjs' reduction; they still prove).
///
/// # Errors
/// As [`setup`].
pub fn setup_for<R: RngCore + CryptoRng>(
    profile: Profile,
    reduction: Reduction,
    rng: &mut R,
) -> Result<Keys, ProverError> {
    let circuit = VmCircuit {
        profile,
        witness: None,
    };
    let (pk, vk) = match reduction {
        Reduction::Libsnark => Groth16::<Bn254>::circuit_specific_setup(circuit, rng)?,
        Reduction::Snarkjs => {
            Groth16::<Bn254, SnarkjsReduction>::circuit_specific_setup(circuit, rng)?
        }
    };
    Ok(Keys {
        profile,
        origin: KeyOrigin::Development,
        reduction,
        pvk: ark_groth16::prepare_verifying_key(&vk),
        pk,
        matrices: std::sync::OnceLock::new(),
    })
}

/// A provable method, compiled: what a prover proves and a verifier re-derives from the wasm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvableProgram {
    /// `blake3` of the wasm it was compiled from.
    pub code_hash: CodeHash,
    /// The method.
    pub method: String,
    /// The schedule's hash (the gas of every instruction depends on it).
    pub schedule_hash: [u8; 32],
    /// The compiled program.
    pub program: Program,
}

impl ProvableProgram {
    /// Compiles `provable:<method>` of `wasm` under `schedule`.
    ///
    /// # Errors
    /// [`ProverError::NotProvable`] with the reason (and the offset of the first instruction
    /// outside the subset).
    pub fn compile(
        wasm: &[u8],
        schedule: &Schedule,
        method: &str,
    ) -> Result<ProvableProgram, ProverError> {
        let program = compile_method(wasm, schedule, method).map_err(ProverError::NotProvable)?;
        Ok(ProvableProgram {
            code_hash: CodeHash::of(wasm),
            method: method.to_string(),
            schedule_hash: schedule.hash(),
            program,
        })
    }

    /// The `code` signal of this program in `profile`.
    pub fn code_commitment(&self, profile: &Profile) -> Fr {
        code_commitment(&self.program, profile, &self.schedule_hash, &self.method)
    }

    /// Checks that `args` match the parameters (count and width).
    ///
    /// # Errors
    /// [`ProverError::WrongArguments`].
    pub fn check_args(&self, args: &[u64]) -> Result<(), ProverError> {
        if args.len() != self.program.params.len() {
            return Err(ProverError::WrongArguments(format!(
                "{} arguments for {} parameters",
                args.len(),
                self.program.params.len()
            )));
        }
        for (i, (arg, ty)) in args.iter().zip(&self.program.params).enumerate() {
            if *ty == ValType::I32 && *arg > u64::from(u32::MAX) {
                return Err(ProverError::WrongArguments(format!(
                    "argument {i} is an i32 but {arg} does not fit 32 bits"
                )));
            }
        }
        Ok(())
    }

    /// Runs the program natively until it halts (at most `max_steps` steps): the steps it takes
    /// (the final `halt` included), its output and its gas. What [`prove`] will prove, without
    /// the proof.
    ///
    /// # Errors
    /// [`ProverError::WrongArguments`], [`ProverError::ExecutionTrapped`],
    /// [`ProverError::StepBoundExceeded`] (with profile `-`).
    pub fn run(&self, args: &[u64], max_steps: usize) -> Result<Execution, ProverError> {
        self.check_args(args)?;
        let (executed, output, gas_used) = isa::execute(&self.program.code, args, max_steps)
            .map_err(|stop| stop_error(stop, "-"))?;
        Ok(Execution {
            steps: executed + 1,
            output: if self.program.result.is_some() {
                output
            } else {
                0
            },
            gas_used,
        })
    }
}

/// A native run of a provable program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Execution {
    /// Steps up to and including the first `halt`: the smallest step bound that proves it.
    pub steps: usize,
    /// The output.
    pub output: u64,
    /// The gas.
    pub gas_used: u64,
}

fn stop_error(stop: Stop, profile: &str) -> ProverError {
    match stop {
        Stop::Trap { pc } => ProverError::ExecutionTrapped { pc },
        Stop::StepsExceeded { steps } => ProverError::StepBoundExceeded {
            profile: profile.to_string(),
            steps,
        },
        Stop::PcOutOfRange { pc } => {
            ProverError::Internal(format!("the program left its code at pc {pc}"))
        }
    }
}

/// A Groth16 proof over BN254: 128 bytes compressed.
#[derive(Clone, Debug, PartialEq)]
pub struct Proof(pub ark_groth16::Proof<Bn254>);

impl Proof {
    /// Size of [`Proof::to_bytes`].
    pub const BYTES: usize = 128;

    /// The proof's canonical compressed encoding (arkworks: `a`, `b`, `c`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Proof::BYTES);
        // Writing into a Vec cannot fail.
        let _ = self.0.serialize_compressed(&mut out);
        out
    }

    /// Decodes [`Proof::to_bytes`], with curve and subgroup checks.
    ///
    /// # Errors
    /// [`ProverError::MalformedProof`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Proof, ProverError> {
        if bytes.len() != Proof::BYTES {
            return Err(ProverError::MalformedProof(format!(
                "{} bytes, expected {}",
                bytes.len(),
                Proof::BYTES
            )));
        }
        ark_groth16::Proof::<Bn254>::deserialize_compressed(bytes)
            .map(Proof)
            .map_err(|e| ProverError::MalformedProof(e.to_string()))
    }
}

/// Where a proof is, for progress reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The call ran natively: `steps` of the profile's bound.
    Executed {
        /// Steps until `halt`.
        steps: usize,
    },
    /// The circuit is being built and proven (the long part).
    Proving,
    /// Done.
    Done,
}

/// Proves that `program` run on `args` returns what it returns and uses the gas it uses, in
/// the keys' profile. Returns the statement (its public signals) and the proof.
///
/// # Errors
/// [`ProverError::WrongArguments`], [`ProverError::ProfileTooSmall`],
/// [`ProverError::StepBoundExceeded`], [`ProverError::ExecutionTrapped`],
/// [`ProverError::Internal`].
pub fn prove<R: RngCore + CryptoRng>(
    keys: &Keys,
    program: &ProvableProgram,
    args: &[u64],
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Statement, Proof), ProverError> {
    let profile = keys.profile;
    program.check_args(args)?;
    if program.program.code.len() > profile.program_slots {
        return Err(ProverError::ProfileTooSmall {
            profile: profile.name.to_string(),
            instructions: program.program.code.len(),
            slots: profile.program_slots,
        });
    }
    let trace = isa::run(&program.program.code, args, profile.steps)
        .map_err(|stop| stop_error(stop, profile.name))?;
    progress(Progress::Executed {
        steps: trace.executed + 1,
    });
    let last = trace.last();
    let statement = Statement {
        profile,
        schedule_hash: program.schedule_hash,
        method: program.method.clone(),
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
    progress(Progress::Proving);
    let matrices = keys.circuit_matrices()?;
    let assignment = matrices.assignment(profile, &witness)?;
    let (r, s) = (Fr::rand(rng), Fr::rand(rng));
    let m = &matrices;
    let proof = match keys.reduction {
        Reduction::Libsnark => Groth16::<Bn254>::create_proof_with_reduction_and_matrices(
            &keys.pk,
            r,
            s,
            &m.matrices,
            m.num_instance,
            m.num_constraints,
            &assignment,
        )?,
        Reduction::Snarkjs => {
            Groth16::<Bn254, SnarkjsReduction>::create_proof_with_reduction_and_matrices(
                &keys.pk,
                r,
                s,
                &m.matrices,
                m.num_instance,
                m.num_constraints,
                &assignment,
            )?
        }
    };
    progress(Progress::Done);
    Ok((statement, Proof(proof)))
}

/// The R1CS matrices of a profile's circuit. They are the same for every proof in the profile,
/// so they are built once per key pair and kept, and a proof only computes its assignment: this
/// saves rebuilding and converting millions of constraints per proof (≈ 5 s of one core for `l`;
/// README). Memory: one entry per non-zero coefficient (`nonzeros`).
pub(crate) struct CircuitMatrices {
    /// `A`, `B`, `C`: per constraint, the (coefficient, variable) pairs.
    pub(crate) matrices: Vec<Matrix<Fr>>,
    /// Instance variables, the constant `1` included.
    pub(crate) num_instance: usize,
    /// Witness variables.
    pub(crate) num_witness: usize,
    /// Constraints.
    pub(crate) num_constraints: usize,
}

impl CircuitMatrices {
    /// Builds the matrices of `profile`'s circuit (synthesis without a witness).
    pub(crate) fn build(profile: Profile) -> Result<CircuitMatrices, ProverError> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        VmCircuit {
            profile,
            witness: None,
        }
        .generate_constraints(cs.clone())?;
        cs.finalize();
        let matrices = cs
            .to_matrices()?
            .remove(R1CS_PREDICATE_LABEL)
            .ok_or_else(|| ProverError::Internal("the circuit has no R1CS constraints".into()))?;
        Ok(CircuitMatrices {
            matrices,
            num_instance: cs.num_instance_variables(),
            num_witness: cs.num_witness_variables(),
            num_constraints: cs.num_constraints(),
        })
    }

    /// Every variable's value (instance, then witness) for `witness`: the circuit synthesized
    /// without recording its constraints.
    fn assignment(&self, profile: Profile, witness: &Witness) -> Result<Vec<Fr>, ProverError> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Prove {
            construct_matrices: false,
            generate_lc_assignments: false,
        });
        VmCircuit {
            profile,
            witness: Some(witness),
        }
        .generate_constraints(cs.clone())?;
        let mut assignment = cs.instance_assignment()?;
        assignment.extend(cs.witness_assignment()?);
        if assignment.len() != self.num_instance + self.num_witness {
            return Err(ProverError::Internal(format!(
                "the witness has {} variables, the circuit {}",
                assignment.len(),
                self.num_instance + self.num_witness
            )));
        }
        Ok(assignment)
    }

    /// Non-zero coefficients in the three matrices.
    fn nonzeros(&self) -> usize {
        self.matrices
            .iter()
            .map(|m| m.iter().map(Vec::len).sum::<usize>())
            .sum()
    }
}

impl Keys {
    /// Builds the circuit's constraint matrices now if they are not built yet (otherwise the
    /// first proof does): a node calls it when it loads keys, so no proof pays for it. Returns
    /// the number of non-zero coefficients kept.
    ///
    /// # Errors
    /// [`ProverError::Internal`] when the circuit cannot be synthesized.
    pub fn prepare(&self) -> Result<usize, ProverError> {
        Ok(self.circuit_matrices()?.nonzeros())
    }

    fn circuit_matrices(&self) -> Result<std::sync::Arc<CircuitMatrices>, ProverError> {
        if let Some(built) = self.matrices.get() {
            return Ok(std::sync::Arc::clone(built));
        }
        let built = std::sync::Arc::new(CircuitMatrices::build(self.profile)?);
        // Another thread may have built them meanwhile: keep whichever was stored first.
        Ok(std::sync::Arc::clone(self.matrices.get_or_init(|| built)))
    }
}

/// Verifies `proof` of `statement` with the profile's verifying key.
///
/// # Errors
/// [`ProverError::InvalidProof`] when it does not verify, [`ProverError::KeysCorrupt`] when the
/// key is for another number of public signals.
pub fn verify(
    vk: &VerifyingKey<Bn254>,
    statement: &Statement,
    proof: &Proof,
) -> Result<(), ProverError> {
    verify_prepared(&ark_groth16::prepare_verifying_key(vk), statement, proof)
}

/// [`verify`] with a prepared key (saves about a millisecond per proof).
///
/// # Errors
/// As [`verify`].
pub fn verify_prepared(
    pvk: &ark_groth16::PreparedVerifyingKey<Bn254>,
    statement: &Statement,
    proof: &Proof,
) -> Result<(), ProverError> {
    let inputs = statement.public_inputs();
    if pvk.vk.gamma_abc_g1.len() != inputs.len() + 1 {
        return Err(ProverError::KeysCorrupt {
            path: "verifying key".into(),
            reason: "wrong number of public inputs".into(),
        });
    }
    match Groth16::<Bn254>::verify_with_processed_vk(pvk, &inputs, &proof.0) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(ProverError::InvalidProof),
    }
}

/// A bounded prover: at most `slots` proofs at once (each holds its circuit in memory; see
/// `specs/proofs.md` for the per-profile peak), refusing more with [`ProverError::Busy`] so a
/// caller queues or rejects instead of running out of memory.
#[derive(Debug)]
pub struct Prover {
    keys: Arc<Keys>,
    slots: usize,
    busy: AtomicUsize,
}

impl Prover {
    /// A prover over `keys` with `slots` concurrent proofs (at least 1).
    pub fn new(keys: Arc<Keys>, slots: usize) -> Prover {
        Prover {
            keys,
            slots: slots.max(1),
            busy: AtomicUsize::new(0),
        }
    }

    /// The keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Proves like [`prove`] if a slot is free.
    ///
    /// # Errors
    /// [`ProverError::Busy`] when every slot is taken; otherwise as [`prove`].
    pub fn prove<R: RngCore + CryptoRng>(
        &self,
        program: &ProvableProgram,
        args: &[u64],
        rng: &mut R,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(Statement, Proof), ProverError> {
        let taken = self
            .busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |busy| {
                (busy < self.slots).then_some(busy + 1)
            });
        if taken.is_err() {
            return Err(ProverError::Busy(self.slots));
        }
        struct Release<'a>(&'a AtomicUsize);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _release = Release(&self.busy);
        prove(&self.keys, program, args, rng, progress)
    }
}
