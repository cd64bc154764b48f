//! Wire views of Groth16 proofs (`specs/proofs.md`): the proof file / `proof_get` result
//! ([`ProofView`]), prove jobs ([`ProofJobView`]), verdicts ([`ProofVerifyView`]) and the
//! provability of a contract's `provable:` methods ([`ProvabilityView`]).

use opmeter_ledger::encoding::{DecU64, Hash32, HexBytes};
use opmeter_prover::statement::{fr_from_hex, fr_hex};
use opmeter_prover::{snarkjs, KeyOrigin, Profile, Proof, ProverError, Statement, VerifyingKey};
use opmeter_vm::Address;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backend::{JobFailure, JobStage, ProofJob, ProvabilityReport, Proved, Verdict};
use crate::error::ErrorCode;

/// The name of a key origin on the wire (`development` or `ceremony`).
pub fn origin_name(origin: KeyOrigin) -> &'static str {
    match origin {
        KeyOrigin::Development => "development",
        KeyOrigin::Ceremony => "ceremony",
    }
}

/// The key origin called `name` ([`origin_name`]'s inverse).
pub fn origin_by_name(name: &str) -> Option<KeyOrigin> {
    [KeyOrigin::Development, KeyOrigin::Ceremony]
        .into_iter()
        .find(|o| origin_name(*o) == name)
}

/// A proof with the statement it proves: what `proof_get` returns, what `opmeter prove` writes
/// to a file and what `proof_verify` and `opmeter zk verify` check. Every public signal is
/// derived from these fields (`specs/proofs.md`, section 5); `publicSignals` and `snarkjs` are
/// conveniences a verifier recomputes or ignores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProofView {
    /// The profile's name (`s`, `m`, `l`).
    pub profile: String,
    /// `0x` blake3 of the schedule the gas is billed under.
    #[schemars(with = "String")]
    pub schedule_hash: Hash32,
    /// The provable method (without the `provable:` prefix).
    pub method: String,
    /// `0x` code commitment: a BN254 scalar, big-endian, re-derived from the wasm by the public
    /// compiler.
    #[schemars(with = "String")]
    pub code_commitment: Hash32,
    /// The arguments (decimal strings; `i32` zero-extended).
    #[schemars(with = "Vec<String>")]
    pub args: Vec<DecU64>,
    /// The result as an unsigned integer (decimal string; `0` without a result).
    #[schemars(with = "String")]
    pub output: DecU64,
    /// Gas used, as `Vm::call_provable` bills it (decimal string).
    #[schemars(with = "String")]
    pub gas_used: DecU64,
    /// `0x` the 128-byte Groth16 proof (arkworks compressed).
    #[schemars(with = "String")]
    pub proof: HexBytes,
    /// `0x` blake3 of the wasm the method was compiled from, when known.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub code_hash: Option<Hash32>,
    /// The contract the prover read the code of, when known.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub contract: Option<Address>,
    /// The block whose state the code was read from, when known.
    #[serde(default)]
    pub height: Option<u64>,
    /// Who generated the prover's keys (`development`: whoever ran the setup could forge
    /// proofs; `ceremony`). Informational: a verifier trusts its own verifying key.
    #[serde(default)]
    pub key_origin: Option<String>,
    /// blake3 (hex) of the prover's `vk.bin`, to compare with the verifier's manifest.
    #[serde(default)]
    pub vk_blake3: Option<String>,
    /// The fourteen public signals as decimal strings (snarkjs `public.json`), in circuit order.
    #[serde(default)]
    pub public_signals: Vec<String>,
    /// snarkjs Groth16 JSON: `{proof, verificationKey}` (bn128), for `snarkjs groth16 verify`.
    #[serde(default)]
    pub snarkjs: Option<serde_json::Value>,
}

impl ProofView {
    /// The view of a proof (`snarkjs` included when the verifying key is given).
    pub fn new(statement: &Statement, proof: &Proof, vk: Option<&VerifyingKey>) -> ProofView {
        let mut commitment = [0u8; 32];
        let text = fr_hex(&statement.code_commitment);
        // fr_hex writes 64 hex digits.
        if let Ok(bytes) = hex::decode(&text[2..]) {
            commitment.copy_from_slice(&bytes);
        }
        ProofView {
            profile: statement.profile.name.to_string(),
            schedule_hash: Hash32(statement.schedule_hash),
            method: statement.method.clone(),
            code_commitment: Hash32(commitment),
            args: statement.args.iter().copied().map(DecU64).collect(),
            output: DecU64(statement.output),
            gas_used: DecU64(statement.gas_used),
            proof: HexBytes(proof.to_bytes()),
            code_hash: None,
            contract: None,
            height: None,
            key_origin: None,
            vk_blake3: None,
            public_signals: statement.public_signals_decimal(),
            snarkjs: vk.map(|vk| {
                serde_json::json!({
                    "proof": snarkjs::proof_json(proof),
                    "verificationKey": snarkjs::verification_key_json(vk),
                })
            }),
        }
    }

    /// The view of a finished job's proof.
    pub fn of_proved(proved: &Proved, job: &ProofJob) -> ProofView {
        let mut view = ProofView::new(&proved.statement, &proved.proof, Some(&proved.vk));
        view.code_hash = Some(Hash32(job.code_hash.0));
        view.contract = Some(job.contract);
        view.height = Some(job.height);
        view.key_origin = Some(origin_name(proved.origin).to_string());
        view.vk_blake3 = Some(proved.vk_blake3.clone());
        view
    }

    /// The statement and proof this view describes.
    ///
    /// # Errors
    /// [`ProverError::UnknownProfile`]; [`ProverError::MalformedProof`] for a code commitment
    /// that is not a field element, more than eight arguments, or proof bytes that do not decode.
    pub fn statement(&self) -> Result<(Statement, Proof), ProverError> {
        let profile = Profile::by_name(&self.profile)
            .ok_or_else(|| ProverError::UnknownProfile(self.profile.clone()))?;
        let code_commitment = fr_from_hex(&self.code_commitment.to_string()).ok_or_else(|| {
            ProverError::MalformedProof("the code commitment is not a BN254 scalar".into())
        })?;
        if self.args.len() > opmeter_prover::isa::MAX_ARGS {
            return Err(ProverError::MalformedProof(format!(
                "{} arguments; a statement has at most {}",
                self.args.len(),
                opmeter_prover::isa::MAX_ARGS
            )));
        }
        let proof = Proof::from_bytes(&self.proof.0)?;
        Ok((
            Statement {
                profile,
                schedule_hash: self.schedule_hash.0,
                method: self.method.clone(),
                code_commitment,
                args: self.args.iter().map(|a| a.0).collect(),
                output: self.output.0,
                gas_used: self.gas_used.0,
            },
            proof,
        ))
    }
}

/// A typed proof error: the JSON-RPC code (`3000 + n`), its stable name and a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProofErrorView {
    /// `3000 + n` for prover error `n` (`specs/proofs.md`, section 9).
    pub code: u32,
    /// The stable name (`notProvable`, `stepBoundExceeded`, `invalidProof`, …).
    pub name: String,
    /// What went wrong.
    pub message: String,
}

impl From<&JobFailure> for ProofErrorView {
    fn from(failure: &JobFailure) -> ProofErrorView {
        ProofErrorView {
            code: ErrorCode::Prover(failure.code).code().unsigned_abs(),
            name: failure.code.name().to_string(),
            message: failure.message.clone(),
        }
    }
}

/// What `proof_prove` takes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProveArgs {
    /// The contract: `0x` address or registered name (resolved at `height`).
    #[schemars(with = "String")]
    pub contract: crate::types::AddressOrName,
    /// The provable method (its export is `provable:<method>`).
    pub method: String,
    /// Its integer arguments (decimal strings; an `i32` argument must fit 32 bits).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub args: Vec<DecU64>,
    /// The profile (`s`, `m`, `l`); default: the smallest served profile the call fits.
    #[serde(default)]
    pub profile: Option<String>,
    /// Read the contract's code at this height (default: the head).
    #[serde(default)]
    pub height: Option<u64>,
}

/// A prove job as served by `proof_job`, `proof_prove` and the `proofJob` notifications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProofJobView {
    /// The job id.
    pub id: u64,
    /// `queued`, `executing`, `proving`, `done` or `failed`.
    pub state: String,
    /// Jobs ahead of it while queued (0: next).
    pub queue_position: Option<u32>,
    /// The contract.
    #[schemars(with = "String")]
    pub contract: Address,
    /// `0x` blake3 of its code, read at `height`.
    #[schemars(with = "String")]
    pub code_hash: Hash32,
    /// The block whose committed state the code was read from.
    pub height: u64,
    /// The method.
    pub method: String,
    /// The arguments (decimal strings).
    #[schemars(with = "Vec<String>")]
    pub args: Vec<DecU64>,
    /// The profile.
    pub profile: String,
    /// Steps the call runs, `halt` included (known once executed).
    pub steps: Option<u64>,
    /// The profile's step bound.
    pub step_bound: u64,
    /// Milliseconds since the job was accepted.
    pub elapsed_ms: u64,
    /// Milliseconds spent proving so far (or in total, once done).
    pub proving_ms: Option<u64>,
    /// How long proving is expected to take (this node's last proof in the profile, or the
    /// README's measurement).
    pub expected_proving_ms: u64,
    /// The proof, once `done`.
    pub proof: Option<ProofView>,
    /// Why it failed, once `failed`.
    pub error: Option<ProofErrorView>,
}

impl From<&ProofJob> for ProofJobView {
    fn from(job: &ProofJob) -> ProofJobView {
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let (state, queue_position) = match job.stage {
            JobStage::Queued { position } => {
                ("queued", Some(u32::try_from(position).unwrap_or(u32::MAX)))
            }
            JobStage::Executing => ("executing", None),
            JobStage::Proving => ("proving", None),
            JobStage::Done => ("done", None),
            JobStage::Failed => ("failed", None),
        };
        let (proof, error) = match &job.result {
            Some(Ok(proved)) => (Some(ProofView::of_proved(proved, job)), None),
            Some(Err(failure)) => (None, Some(ProofErrorView::from(failure))),
            None => (None, None),
        };
        ProofJobView {
            id: job.id,
            state: state.to_string(),
            queue_position,
            contract: job.contract,
            code_hash: Hash32(job.code_hash.0),
            height: job.height,
            method: job.method.clone(),
            args: job.args.iter().copied().map(DecU64).collect(),
            profile: job.profile.name.to_string(),
            steps: job.steps.map(|s| s as u64),
            step_bound: job.profile.steps as u64,
            elapsed_ms: ms(job.elapsed),
            proving_ms: job.proving.map(ms),
            expected_proving_ms: ms(job.expected_proving),
            proof,
            error,
        }
    }
}

/// What `proof_verify` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProofVerifyView {
    /// Whether the proof verifies against the statement (and, when `codeHash` names code this
    /// node has, whether the code commitment is the one compiled from that code).
    pub valid: bool,
    /// Why not, when not valid (`malformedProof`, `invalidProof`, …).
    pub reason: Option<ProofErrorView>,
    /// The profile verified in.
    pub profile: String,
    /// The origin of this node's verifying key (`development` or `ceremony`).
    pub key_origin: String,
    /// Whether the code commitment was re-derived from the code (`codeHash` known here).
    pub code_checked: bool,
}

impl From<&Verdict> for ProofVerifyView {
    fn from(verdict: &Verdict) -> ProofVerifyView {
        ProofVerifyView {
            valid: verdict.result.is_ok(),
            reason: verdict.result.as_ref().err().map(ProofErrorView::from),
            profile: verdict.profile.name.to_string(),
            key_origin: origin_name(verdict.origin).to_string(),
            code_checked: verdict.code_checked,
        }
    }
}

/// Whether one `provable:` export is in the provable subset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvableMethodView {
    /// The method (the export without `provable:`).
    pub method: String,
    /// Whether it compiles for the circuit.
    pub provable: bool,
    /// Instructions of the compiled program (a profile needs at least as many slots).
    pub instructions: Option<u32>,
    /// Why not: the first instruction outside the subset, or another reason.
    pub reason: Option<String>,
    /// The module offset of that instruction, when there is one.
    pub offset: Option<u64>,
}

/// What `contract_provability` returns: per `provable:` export of a contract's code, whether it
/// is in the provable subset and why not. Node-side information, not consensus data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvabilityView {
    /// The contract.
    #[schemars(with = "String")]
    pub contract: Address,
    /// `0x` blake3 of its code.
    #[schemars(with = "String")]
    pub code_hash: Hash32,
    /// The block whose state the code was read from.
    pub height: u64,
    /// Every `provable:` export, by name.
    pub methods: Vec<ProvableMethodView>,
}

impl ProvabilityView {
    /// The view of a report read at `height`.
    pub fn new(report: &ProvabilityReport, height: u64) -> ProvabilityView {
        ProvabilityView {
            contract: report.contract,
            code_hash: Hash32(report.code_hash.0),
            height,
            methods: report
                .methods
                .iter()
                .map(|(method, verdict)| match verdict {
                    Ok(instructions) => ProvableMethodView {
                        method: method.clone(),
                        provable: true,
                        instructions: Some(u32::try_from(*instructions).unwrap_or(u32::MAX)),
                        reason: None,
                        offset: None,
                    },
                    Err(not) => ProvableMethodView {
                        method: method.clone(),
                        provable: false,
                        instructions: None,
                        reason: Some(not.reason.clone()),
                        offset: not.offset.map(|o| o as u64),
                    },
                })
                .collect(),
        }
    }
}
