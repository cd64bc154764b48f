//! The node's prover: the keys of the profiles it serves, a bounded queue of prove jobs, and one
//! worker thread that proves them on its own rayon pool. Nothing here touches consensus state:
//! a job holds the code it read from one committed state. With a jobs directory
//! ([`ZkConfig::jobs_dir`], `<data dir>/proofs` for `opmeter node`), every job is saved as
//! `<id>.json` when accepted and again when finished, so proofs survive a restart and job ids are
//! never reused; a job the node stopped before proving comes back failed with
//! `proverInterrupted` (submit it again).
//!
//! ```text
//! proof_prove ─▶ (blocking RPC thread) read code at a height, compile, run natively + in the vm
//!            ─▶ queue (at most `queue_max` waiting, else proverBusy) ─▶ job id
//! zk-prover thread ─▶ load keys (once) ─▶ pop ─▶ prover pool: witness, Groth16 ─▶ done / failed
//! ```
//!
//! Bounds: one proof at a time (a proof of `l` holds up to ~5 GB), at most `queue_max` jobs
//! waiting (each a few KB: the compiled program and its arguments; the code is shared), at most
//! `keep_finished` finished jobs remembered (proof and statement, < 1 KB each). The worker proves
//! inside a dedicated rayon pool, so the global pool that checks block signatures and the tokio
//! threads that serve JSON-RPC never wait behind a proof (they share the cores with it).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opmeter_ledger::encoding::HexBytes;
use opmeter_prover::ErrorCode;
use opmeter_prover::{
    KeyOrigin, Keys, PreparedVerifyingKey, Profile, Progress, ProvableProgram, ProverError,
    VerifyingKey,
};
use opmeter_rpc::backend::{JobFailure, JobStage, ProofJob, Proved};
use opmeter_rpc::types::{origin_by_name, ProofJobView};
use opmeter_vm::{Address, CodeHash};
use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// How the node proves.
#[derive(Clone, Debug)]
pub struct ZkConfig {
    /// Where the keys are: `<keys_dir>/<profile>/{pk.bin, vk.bin, manifest.json}`.
    pub keys_dir: PathBuf,
    /// The profiles whose proving keys are loaded (at start, by the worker thread).
    pub profiles: Vec<Profile>,
    /// Most jobs waiting (not counting the one being proven); more are refused with
    /// `proverBusy`.
    pub queue_max: usize,
    /// Most of those waiting jobs from one client address (`NewJob::client`); more are refused
    /// with `proverBusy`. Stops one client from filling the queue and locking others out.
    pub queue_per_client_max: usize,
    /// Threads of the prover's rayon pool.
    pub threads: usize,
    /// Finished jobs remembered for `proof_job` / `proof_get` (oldest forgotten first, with
    /// their files).
    pub keep_finished: usize,
    /// Where jobs are saved (`<id>.json`) to survive a restart; `None`: in memory only.
    pub jobs_dir: Option<PathBuf>,
}

impl ZkConfig {
    /// The default queue bound.
    pub const QUEUE_MAX: usize = 4;
    /// The default bound of one client's waiting jobs.
    pub const QUEUE_PER_CLIENT_MAX: usize = 2;
    /// The default number of finished jobs remembered.
    pub const KEEP_FINISHED: usize = 256;

    /// Serves `profiles` with keys under `keys_dir`, default bounds, a pool of one thread per
    /// core.
    pub fn new(keys_dir: impl Into<PathBuf>, profiles: Vec<Profile>) -> ZkConfig {
        ZkConfig {
            keys_dir: keys_dir.into(),
            profiles,
            queue_max: ZkConfig::QUEUE_MAX,
            queue_per_client_max: ZkConfig::QUEUE_PER_CLIENT_MAX,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            keep_finished: ZkConfig::KEEP_FINISHED,
            jobs_dir: None,
        }
    }

    /// A prover that serves no profile (every prove request is `keysMissing`).
    pub fn disabled() -> ZkConfig {
        ZkConfig::new(PathBuf::new(), Vec::new())
    }
}

/// The proving time expected before this node has proven in a profile: the README's
/// measurement on the 2-core development machine.
fn measured(profile: &Profile) -> Duration {
    match profile.name {
        "s" => Duration::from_millis(400),
        "m" => Duration::from_millis(5_130),
        _ => Duration::from_millis(25_010),
    }
}

/// A [`ProverError`] again (it is not `Clone`: its I/O source is not).
pub fn copy_error(error: &ProverError) -> ProverError {
    match error {
        ProverError::KeysMissing { profile, path } => ProverError::KeysMissing {
            profile: profile.clone(),
            path: path.clone(),
        },
        ProverError::KeysCorrupt { path, reason } => ProverError::KeysCorrupt {
            path: path.clone(),
            reason: reason.clone(),
        },
        ProverError::UnknownProfile(name) => ProverError::UnknownProfile(name.clone()),
        ProverError::Io { path, source } => ProverError::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        other => ProverError::Internal(other.to_string()),
    }
}

enum KeyState {
    Loading,
    Ready { keys: Arc<Keys>, vk_blake3: String },
    Failed(ProverError),
}

/// What a job needs to be proven.
#[derive(Debug)]
pub struct NewJob {
    /// The contract.
    pub contract: Address,
    /// The code's hash.
    pub code_hash: CodeHash,
    /// The height the code was read at.
    pub height: u64,
    /// The compiled method.
    pub program: ProvableProgram,
    /// Its arguments (checked).
    pub args: Vec<u64>,
    /// The profile (served; the call fits it).
    pub profile: Profile,
    /// Who asked (the client key of its address); `None`: not counted per client (a local
    /// caller).
    pub client: Option<std::net::IpAddr>,
}

struct Entry {
    contract: Address,
    code_hash: CodeHash,
    height: u64,
    method: String,
    args: Vec<u64>,
    profile: Profile,
    client: Option<std::net::IpAddr>,
    /// The compiled method, until the worker takes it to prove (restored jobs have none).
    program: Option<ProvableProgram>,
    stage: JobStage,
    steps: Option<usize>,
    accepted: Instant,
    proving_since: Option<Instant>,
    proving_took: Option<Duration>,
    expected: Duration,
    result: Option<Result<Proved, JobFailure>>,
}

#[derive(Default)]
struct Jobs {
    next_id: u64,
    queue: VecDeque<u64>,
    entries: BTreeMap<u64, Entry>,
    finished: VecDeque<u64>,
}

/// The node's prover service. Share it as `Arc<ProofService>`.
pub struct ProofService {
    config: ZkConfig,
    keys: Mutex<BTreeMap<&'static str, KeyState>>,
    /// Verifying keys read for verification only (profiles not served).
    vks: Mutex<HashMap<&'static str, (Arc<PreparedVerifyingKey>, KeyOrigin)>>,
    jobs: Mutex<Jobs>,
    work: Condvar,
    expected: Mutex<HashMap<&'static str, Duration>>,
    updates: broadcast::Sender<u64>,
    stopping: AtomicBool,
}

impl std::fmt::Debug for ProofService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ProofService {
    /// Starts the service: checks each served profile's manifest now (a missing or unreadable
    /// one is reported for that profile and the node keeps serving), then the `zk-prover`
    /// thread loads the keys and proves jobs.
    pub fn start(config: ZkConfig) -> Arc<ProofService> {
        let mut keys = BTreeMap::new();
        for profile in &config.profiles {
            let state = match Keys::manifest(&config.keys_dir, profile) {
                Ok(_) => KeyState::Loading,
                Err(e) => {
                    tracing::warn!("zk profile `{}`: {e}", profile.name);
                    KeyState::Failed(e)
                }
            };
            keys.insert(profile.name, state);
        }
        let (updates, _) = broadcast::channel(1024);
        let jobs = match &config.jobs_dir {
            Some(dir) => restore(dir, config.keep_finished),
            None => Jobs {
                next_id: 1,
                ..Jobs::default()
            },
        };
        let service = Arc::new(ProofService {
            keys: Mutex::new(keys),
            vks: Mutex::new(HashMap::new()),
            jobs: Mutex::new(jobs),
            work: Condvar::new(),
            expected: Mutex::new(HashMap::new()),
            updates,
            stopping: AtomicBool::new(false),
            config,
        });
        if !service.config.profiles.is_empty() {
            let worker = Arc::clone(&service);
            let spawned = std::thread::Builder::new()
                .name("zk-prover".into())
                .spawn(move || worker.run());
            if let Err(e) = spawned {
                tracing::error!("cannot start the prover thread; prove jobs will wait: {e}");
            }
        }
        service
    }

    /// The configuration.
    pub fn config(&self) -> &ZkConfig {
        &self.config
    }

    /// Ids of jobs whenever they change.
    pub fn subscribe(&self) -> broadcast::Receiver<u64> {
        self.updates.subscribe()
    }

    /// Stops the worker after the proof it is running (queued jobs stay queued).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _guard = self.jobs.lock();
        self.work.notify_all();
    }

    /// The served profiles whose keys are loaded or loading, smallest first.
    ///
    /// # Errors
    /// When there is none: the first served profile's key error, or
    /// [`ProverError::KeysMissing`] when no profile is served.
    pub fn usable_profiles(&self) -> Result<Vec<Profile>, ProverError> {
        let keys = self.keys.lock();
        let usable: Vec<Profile> = self
            .config
            .profiles
            .iter()
            .copied()
            .filter(|p| !matches!(keys.get(p.name), Some(KeyState::Failed(_)) | None))
            .collect();
        if !usable.is_empty() {
            return Ok(usable);
        }
        if let Some(KeyState::Failed(e)) =
            self.config.profiles.first().and_then(|p| keys.get(p.name))
        {
            return Err(copy_error(e));
        }
        Err(ProverError::KeysMissing {
            profile: "any".into(),
            path: format!(
                "{} (this node serves no profile: create keys with `opmeter zk setup --profile s` and start it with --zk-profiles)",
                self.config.keys_dir.display()
            ),
        })
    }

    /// Whether `profile` can be proven in: its keys are loaded or loading.
    ///
    /// # Errors
    /// [`ProverError::KeysMissing`] for a profile this node does not serve; the profile's key
    /// error when its keys are missing or corrupt.
    pub fn check_profile(&self, profile: &Profile) -> Result<(), ProverError> {
        match self.keys.lock().get(profile.name) {
            None => Err(ProverError::KeysMissing {
                profile: profile.name.to_string(),
                path: format!(
                    "{} (this node does not serve the profile: start it with --zk-profiles {})",
                    Keys::dir(&self.config.keys_dir, profile).display(),
                    profile.name
                ),
            }),
            Some(KeyState::Failed(e)) => Err(copy_error(e)),
            Some(_) => Ok(()),
        }
    }

    /// The prepared verifying key of `profile` and the keys' origin: the loaded keys of a served
    /// profile, else `vk.bin` read (hash-checked) from the keys directory.
    ///
    /// # Errors
    /// [`ProverError::KeysMissing`], [`ProverError::KeysCorrupt`].
    pub fn verifying_key(
        &self,
        profile: &Profile,
    ) -> Result<(Arc<PreparedVerifyingKey>, KeyOrigin), ProverError> {
        if let Some(KeyState::Ready { keys, .. }) = self.keys.lock().get(profile.name) {
            return Ok((Arc::new(keys.pvk.clone()), keys.origin));
        }
        if let Some(found) = self.vks.lock().get(profile.name) {
            return Ok(found.clone());
        }
        if self.config.keys_dir.as_os_str().is_empty() {
            return Err(ProverError::KeysMissing {
                profile: profile.name.to_string(),
                path: "(this node has no keys directory: start it with --zk-keys DIR)".into(),
            });
        }
        let manifest = Keys::manifest(&self.config.keys_dir, profile)?;
        let vk: VerifyingKey = Keys::read_vk(&self.config.keys_dir, profile)?;
        let found = (
            Arc::new(opmeter_prover::prepare_verifying_key(&vk)),
            manifest.origin,
        );
        self.vks.lock().insert(profile.name, found.clone());
        Ok(found)
    }

    /// Queues a job and returns it.
    ///
    /// # Errors
    /// [`ProverError::Busy`] when `queue_max` jobs are waiting, [`ProverError::ClientBusy`] when
    /// `queue_per_client_max` of them are the same client's; the profile's key error.
    pub fn submit(&self, job: NewJob) -> Result<ProofJob, ProverError> {
        self.check_profile(&job.profile)?;
        let expected = self
            .expected
            .lock()
            .get(job.profile.name)
            .copied()
            .unwrap_or_else(|| measured(&job.profile));
        let mut jobs = self.jobs.lock();
        if jobs.queue.len() >= self.config.queue_max {
            return Err(ProverError::Busy(self.config.queue_max));
        }
        if let Some(client) = job.client {
            let waiting = jobs
                .queue
                .iter()
                .filter(|id| {
                    jobs.entries
                        .get(id)
                        .is_some_and(|e| e.client == Some(client))
                })
                .count();
            if waiting >= self.config.queue_per_client_max {
                return Err(ProverError::ClientBusy(self.config.queue_per_client_max));
            }
        }
        let id = jobs.next_id;
        jobs.next_id += 1;
        let position = jobs.queue.len();
        jobs.queue.push_back(id);
        let NewJob {
            contract,
            code_hash,
            height,
            program,
            args,
            profile,
            client,
        } = job;
        jobs.entries.insert(
            id,
            Entry {
                contract,
                code_hash,
                height,
                method: program.method.clone(),
                args,
                profile,
                client,
                program: Some(program),
                stage: JobStage::Queued { position },
                steps: None,
                accepted: Instant::now(),
                proving_since: None,
                proving_took: None,
                expected,
                result: None,
            },
        );
        let view = Self::view(&jobs, id);
        // Saved before the worker can see the job, so its final record is always the later
        // write (not made durable: a job lost in a crash was never proven anyway).
        self.save(&jobs, id, false);
        self.work.notify_all();
        drop(jobs);
        let _ = self.updates.send(id);
        view.ok_or_else(|| ProverError::Internal("a job vanished".into()))
    }

    /// A job, `None` when unknown or forgotten.
    pub fn job(&self, id: u64) -> Option<ProofJob> {
        Self::view(&self.jobs.lock(), id)
    }

    fn view(jobs: &Jobs, id: u64) -> Option<ProofJob> {
        let entry = jobs.entries.get(&id)?;
        let stage = match entry.stage {
            JobStage::Queued { .. } => JobStage::Queued {
                position: jobs.queue.iter().position(|q| *q == id).unwrap_or(0),
            },
            other => other,
        };
        let proving = entry
            .proving_took
            .or_else(|| entry.proving_since.map(|t| t.elapsed()));
        Some(ProofJob {
            id,
            contract: entry.contract,
            code_hash: entry.code_hash,
            height: entry.height,
            method: entry.method.clone(),
            args: entry.args.clone(),
            profile: entry.profile,
            stage,
            steps: entry.steps,
            elapsed: entry.accepted.elapsed(),
            proving,
            expected_proving: entry.expected,
            result: entry.result.clone(),
        })
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut Entry)) {
        {
            let mut jobs = self.jobs.lock();
            if let Some(entry) = jobs.entries.get_mut(&id) {
                f(entry);
            }
        }
        let _ = self.updates.send(id);
    }

    fn load_keys(&self, pool: &rayon::ThreadPool) {
        for profile in &self.config.profiles {
            if !matches!(self.keys.lock().get(profile.name), Some(KeyState::Loading)) {
                continue;
            }
            let started = Instant::now();
            // The circuit's matrices are built with the keys, so no proof pays for them; on the
            // pool, whose threads trace nothing (the circuit's gadgets open tracing spans).
            let state = match Keys::read(&self.config.keys_dir, profile).and_then(|keys| {
                let manifest = Keys::manifest(&self.config.keys_dir, profile)?;
                let nonzeros = pool.install(|| keys.prepare())?;
                Ok((keys, manifest, nonzeros))
            }) {
                Ok((keys, manifest, nonzeros)) => {
                    tracing::info!(
                        "zk profile `{}`: {:?} keys loaded and {nonzeros} constraint coefficients built in {:.2} s",
                        profile.name,
                        keys.origin,
                        started.elapsed().as_secs_f64()
                    );
                    KeyState::Ready {
                        keys: Arc::new(keys),
                        vk_blake3: manifest.vk_blake3,
                    }
                }
                Err(e) => {
                    tracing::warn!("zk profile `{}`: {e}", profile.name);
                    KeyState::Failed(e)
                }
            };
            self.keys.lock().insert(profile.name, state);
        }
    }

    fn next(&self) -> Option<u64> {
        let mut jobs = self.jobs.lock();
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(id) = jobs.queue.pop_front() {
                return Some(id);
            }
            self.work.wait(&mut jobs);
        }
    }

    fn run(self: Arc<Self>) {
        // arkworks opens a tracing span per gadget call (millions per proof): with the node's
        // subscriber listening they cost minutes and gigabytes, so the pool's threads trace
        // nothing (the guard is kept for the thread's lifetime).
        let pool = match rayon::ThreadPoolBuilder::new()
            .num_threads(self.config.threads.max(1))
            .thread_name(|i| format!("zk-prover-{i}"))
            .start_handler(|_| {
                std::mem::forget(tracing::subscriber::set_default(
                    tracing::subscriber::NoSubscriber::default(),
                ));
            })
            .build()
        {
            Ok(pool) => pool,
            Err(e) => {
                tracing::error!("cannot start the prover's thread pool: {e}");
                return;
            }
        };
        self.load_keys(&pool);
        while let Some(id) = self.next() {
            self.prove_one(&pool, id);
        }
    }

    fn prove_one(&self, pool: &rayon::ThreadPool, id: u64) {
        let (program, args, profile) = {
            let mut jobs = self.jobs.lock();
            let Some(entry) = jobs.entries.get_mut(&id) else {
                return;
            };
            let Some(program) = entry.program.take() else {
                return;
            };
            (program, entry.args.clone(), entry.profile)
        };
        self.update(id, |e| e.stage = JobStage::Executing);
        let keys = match self.keys.lock().get(profile.name) {
            Some(KeyState::Ready { keys, vk_blake3 }) => Ok((Arc::clone(keys), vk_blake3.clone())),
            Some(KeyState::Failed(e)) => Err(copy_error(e)),
            _ => Err(ProverError::KeysMissing {
                profile: profile.name.to_string(),
                path: self.config.keys_dir.display().to_string(),
            }),
        };
        let outcome = keys.and_then(|(keys, vk_blake3)| {
            let mut progress = |p: Progress| match p {
                Progress::Executed { steps } => self.update(id, |e| e.steps = Some(steps)),
                Progress::Proving => self.update(id, |e| {
                    e.stage = JobStage::Proving;
                    e.proving_since = Some(Instant::now());
                }),
                Progress::Done => {}
            };
            let proved = pool.install(|| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    opmeter_prover::prove(
                        &keys,
                        &program,
                        &args,
                        &mut rand_core::OsRng,
                        &mut progress,
                    )
                }))
            });
            match proved {
                Ok(result) => result.map(|(statement, proof)| Proved {
                    statement,
                    proof,
                    origin: keys.origin,
                    vk: keys.vk().clone(),
                    vk_blake3,
                }),
                Err(_) => Err(ProverError::Internal("the prover panicked".into())),
            }
        });
        let mut jobs = self.jobs.lock();
        if let Some(entry) = jobs.entries.get_mut(&id) {
            let took = entry.proving_since.map(|t| t.elapsed());
            entry.proving_took = took;
            match outcome {
                Ok(proved) => {
                    if let Some(took) = took {
                        self.expected.lock().insert(profile.name, took);
                    }
                    entry.stage = JobStage::Done;
                    entry.result = Some(Ok(proved));
                }
                Err(e) => {
                    tracing::warn!("prove job {id} failed: {e}");
                    entry.stage = JobStage::Failed;
                    entry.result = Some(Err(JobFailure::from(&e)));
                }
            }
        }
        jobs.finished.push_back(id);
        let mut forgotten = Vec::new();
        while jobs.finished.len() > self.config.keep_finished {
            if let Some(old) = jobs.finished.pop_front() {
                jobs.entries.remove(&old);
                forgotten.push(old);
            }
        }
        let record = self.jobs_dir().and_then(|_| record(&jobs, id));
        drop(jobs);
        if let (Some(dir), Some(bytes)) = (self.jobs_dir(), record) {
            // Durable: a proof may have taken minutes.
            if let Err(e) = crate::replace_file::replace_file(&job_path(dir, id), &bytes, true) {
                tracing::warn!("cannot save prove job {id} in {}: {e}", dir.display());
            }
            for old in forgotten {
                let _ = std::fs::remove_file(job_path(dir, old));
            }
        }
        let _ = self.updates.send(id);
    }

    fn jobs_dir(&self) -> Option<&Path> {
        self.config.jobs_dir.as_deref()
    }

    /// Saves job `id` (called with the jobs locked, so writes of one job never reorder).
    fn save(&self, jobs: &Jobs, id: u64, durable: bool) {
        let Some(dir) = self.jobs_dir() else {
            return;
        };
        let Some(bytes) = record(jobs, id) else {
            return;
        };
        if let Err(e) = crate::replace_file::replace_file(&job_path(dir, id), &bytes, durable) {
            tracing::warn!("cannot save prove job {id} in {}: {e}", dir.display());
        }
    }
}

/// A job as saved in `<jobs dir>/<id>.json`: what `proof_job` serves, and once done the verifying
/// key it was proven with (so `proof_get` serves the same snarkjs export after a restart).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobRecord {
    /// Format version: 1.
    version: u32,
    /// The job.
    job: ProofJobView,
    /// `vk.bin`'s bytes, once done.
    #[serde(default)]
    vk: Option<HexBytes>,
}

impl JobRecord {
    const VERSION: u32 = 1;

    /// The entry this record describes; unfinished jobs have no result.
    fn entry(self) -> Result<Entry, String> {
        if self.version != JobRecord::VERSION {
            return Err(format!("record version {}", self.version));
        }
        let view = self.job;
        let profile = Profile::by_name(&view.profile)
            .ok_or_else(|| format!("unknown profile `{}`", view.profile))?;
        let (stage, result) = match view.state.as_str() {
            "done" => {
                let proof = view.proof.ok_or("a done job without its proof")?;
                let (statement, bytes) = proof.statement().map_err(|e| e.to_string())?;
                let vk = self.vk.ok_or("a done job without its verifying key")?;
                let proved = Proved {
                    statement,
                    proof: bytes,
                    origin: proof
                        .key_origin
                        .as_deref()
                        .and_then(origin_by_name)
                        .ok_or("a done job without its key origin")?,
                    vk: opmeter_prover::keys::vk_from_bytes(&vk.0)?,
                    vk_blake3: proof.vk_blake3.unwrap_or_default(),
                };
                (JobStage::Done, Some(Ok(proved)))
            }
            "failed" => {
                let error = view.error.ok_or("a failed job without its error")?;
                let code = ErrorCode::ALL
                    .iter()
                    .copied()
                    .find(|c| c.name() == error.name)
                    .unwrap_or(ErrorCode::Internal);
                let failure = JobFailure {
                    code,
                    message: error.message,
                };
                (JobStage::Failed, Some(Err(failure)))
            }
            _ => (JobStage::Executing, None),
        };
        let ms = Duration::from_millis;
        Ok(Entry {
            contract: view.contract,
            code_hash: CodeHash(view.code_hash.0),
            height: view.height,
            method: view.method,
            args: view.args.iter().map(|a| a.0).collect(),
            profile,
            client: None,
            program: None,
            stage,
            steps: view.steps.and_then(|s| usize::try_from(s).ok()),
            accepted: Instant::now()
                .checked_sub(ms(view.elapsed_ms))
                .unwrap_or_else(Instant::now),
            proving_since: None,
            proving_took: view.proving_ms.map(ms),
            expected: ms(view.expected_proving_ms),
            result,
        })
    }
}

fn job_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id}.json"))
}

/// The saved form of job `id`.
fn record(jobs: &Jobs, id: u64) -> Option<Vec<u8>> {
    let job = ProofService::view(jobs, id)?;
    let vk = match &job.result {
        Some(Ok(proved)) => Some(HexBytes(opmeter_prover::keys::vk_to_bytes(&proved.vk))),
        _ => None,
    };
    let record = JobRecord {
        version: JobRecord::VERSION,
        job: ProofJobView::from(&job),
        vk,
    };
    serde_json::to_vec(&record).ok()
}

/// The jobs saved under `dir`: finished ones as they were; unfinished ones (the node stopped
/// first) failed with [`ProverError::Interrupted`] and saved so. The newest `keep_finished` are
/// kept (older files are removed); ids continue after the largest seen. An unreadable file is
/// reported and left alone.
fn restore(dir: &Path, keep_finished: usize) -> Jobs {
    let mut jobs = Jobs {
        next_id: 1,
        ..Jobs::default()
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        tracing::warn!(
            "prove jobs directory {}: {e}; jobs are kept in memory only",
            dir.display()
        );
        return jobs;
    }
    let Ok(listing) = std::fs::read_dir(dir) else {
        return jobs;
    };
    let mut found = BTreeMap::new();
    for file in listing.flatten() {
        let path = file.path();
        let Some(id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        jobs.next_id = jobs.next_id.max(id.saturating_add(1));
        let entry = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                serde_json::from_slice::<JobRecord>(&bytes).map_err(|e| e.to_string())
            })
            .and_then(JobRecord::entry);
        match entry {
            Ok(entry) => {
                found.insert(id, entry);
            }
            Err(e) => tracing::warn!("prove job file {}: {e}; skipped", path.display()),
        }
    }
    let mut interrupted = Vec::new();
    for (id, mut entry) in found {
        if entry.result.is_none() {
            entry.stage = JobStage::Failed;
            entry.result = Some(Err(JobFailure::from(&ProverError::Interrupted)));
            interrupted.push(id);
        }
        jobs.entries.insert(id, entry);
        jobs.finished.push_back(id);
    }
    while jobs.finished.len() > keep_finished {
        if let Some(old) = jobs.finished.pop_front() {
            jobs.entries.remove(&old);
            let _ = std::fs::remove_file(job_path(dir, old));
        }
    }
    for id in interrupted {
        if let Some(bytes) = jobs
            .entries
            .contains_key(&id)
            .then(|| record(&jobs, id))
            .flatten()
        {
            if let Err(e) = crate::replace_file::replace_file(&job_path(dir, id), &bytes, true) {
                tracing::warn!("cannot save prove job {id} in {}: {e}", dir.display());
            }
        }
    }
    if !jobs.entries.is_empty() {
        tracing::info!(
            "{} prove jobs restored from {}",
            jobs.entries.len(),
            dir.display()
        );
    }
    jobs
}

/// The default keys directory of a node: `<data dir>/zk`.
pub fn default_keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("zk")
}

/// Where a node saves its prove jobs: `<data dir>/proofs`.
pub fn default_jobs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("proofs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use opmeter_ledger::encoding::{DecU64, Hash32};
    use opmeter_rpc::types::ProofErrorView;

    fn saved(dir: &Path, id: u64, state: &str) {
        let view = ProofJobView {
            id,
            state: state.into(),
            queue_position: (state == "queued").then_some(0),
            contract: Address([7; 32]),
            code_hash: Hash32([9; 32]),
            height: 3,
            method: "fib".into(),
            args: vec![DecU64(20)],
            profile: "s".into(),
            steps: None,
            step_bound: 112,
            elapsed_ms: 5,
            proving_ms: None,
            expected_proving_ms: 1_630,
            proof: None,
            error: (state == "failed").then(|| ProofErrorView {
                code: 3009,
                name: "executionTrapped".into(),
                message: "the call traps".into(),
            }),
        };
        let record = JobRecord {
            version: JobRecord::VERSION,
            job: view,
            vk: None,
        };
        std::fs::write(job_path(dir, id), serde_json::to_vec(&record).unwrap()).unwrap();
    }

    #[test]
    fn restore_keeps_the_newest_fails_the_unfinished_and_never_reuses_an_id() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        for id in 1..=3 {
            saved(dir, id, "failed");
        }
        saved(dir, 4, "queued");
        std::fs::write(dir.join("9.json"), b"{ torn").unwrap();
        std::fs::write(dir.join("notes.txt"), b"not a job").unwrap();

        let jobs = restore(dir, 3);
        // The oldest beyond the bound is forgotten with its file; the torn file is left alone
        // but its id is never given again.
        assert_eq!(jobs.entries.keys().copied().collect::<Vec<_>>(), [2, 3, 4]);
        assert!(!job_path(dir, 1).exists());
        assert!(dir.join("9.json").exists() && dir.join("notes.txt").exists());
        assert_eq!(jobs.next_id, 10);
        assert!(jobs.queue.is_empty());
        let failure = |id: u64| match &jobs.entries[&id].result {
            Some(Err(failure)) => failure.clone(),
            other => panic!("job {id}: {other:?}"),
        };
        assert_eq!(failure(2).code, ErrorCode::ExecutionTrapped);
        assert_eq!(failure(2).message, "the call traps");
        // The queued job was never proven: failed as interrupted, and saved so.
        assert_eq!(failure(4).code, ErrorCode::Interrupted);
        let again = restore(dir, 3);
        assert_eq!(
            match &again.entries[&4].result {
                Some(Err(failure)) => failure.code,
                other => panic!("{other:?}"),
            },
            ErrorCode::Interrupted
        );
        assert_eq!(again.entries[&4].stage, JobStage::Failed);
    }
}
