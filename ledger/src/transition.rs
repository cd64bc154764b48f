//! The transaction state transition: what one signed transaction does to the ledger and the
//! receipt it gets. The node's block executor, its replay audit and the offline bundle verifier
//! all run this one function, each over its own [`LedgerState`] (the node's staged overlay, an
//! overlay over a past height, the proven values of a bundle), so a bill is re-derived by the
//! very code that produced it.
//!
//! It runs in four named phases (as revm's handler does):
//!
//! ```text
//! validate        nonce is the sender's next; balance ≥ gas_limit × gas_price + value
//!                 (else a receipt without fee: nonceMismatch / insufficientFunds)
//! pre_execution   debit gas_limit × gas_price, nonce + 1
//! execute_payload intrinsic gas, then transfer | deploy (validate, vm.deploy) | call (vm.execute)
//!                 | a name operation (its fixed name gas, then the ownership and deployer
//!                 checks); a successful execution's writes are applied
//! post_execution  breakdown sums to gas_used ≤ gas_limit; refund unused gas; credit the fee
//! ```
//!
//! ```
//! use opmeter_ledger::transition::TransitionError;
//! let e = TransitionError::Invariant("balance overflows".into());
//! assert_eq!(e.to_string(), "invariant broken: balance overflows");
//! ```

use std::sync::Arc;

use opmeter_vm::warm_set;
use opmeter_vm::{
    Address, BlockContext, CallRequest, CodeHash, DeployRequest, GasCategory, Outcome,
    PreparedCode, StateError, StateView, Status, Trace, TraceOptions, Vm, VmError, WriteSet, U256,
};

use crate::block::{breakdown_with_intrinsic, Account, Receipt, ReceiptStatus};
use crate::encoding::Hash32;
use crate::name::{name_gas, Name, NameRecord};
use crate::tx::{Payload, Transaction};

/// The ledger as a transaction sees it: accounts plus everything the vm reads.
/// Implementations decide where values come from (committed state, a staged block, a bundle's
/// proven values) and may record what was read.
pub trait LedgerState: StateView {
    /// The account record (default when absent).
    ///
    /// # Errors
    /// When the backend fails or does not hold the value.
    fn account(&self, address: &Address) -> Result<Account, StateError>;

    /// Replaces an account record.
    ///
    /// # Errors
    /// When the backend fails.
    fn set_account(&self, address: Address, account: Account) -> Result<(), StateError>;

    /// Adds `amount` to a balance without the transaction observing it (fees, transfer
    /// recipients): nothing in the receipt depends on the balance before. An overlay may still
    /// read it; a recorder must not count it as a dependency.
    ///
    /// # Errors
    /// When the backend fails; [`TransitionError::Invariant`] when the balance overflows.
    fn credit(&self, address: Address, amount: U256) -> Result<(), TransitionError>;

    /// Stores uploaded code under its hash.
    fn put_code(&self, code_hash: CodeHash, wasm: Arc<[u8]>);

    /// Replaces (`Some`) or removes (`None`) one storage slot of `contract`.
    ///
    /// # Errors
    /// When the backend fails.
    fn set_storage(
        &self,
        contract: Address,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
    ) -> Result<(), StateError>;

    /// A name's record (`None` when nobody registered it).
    ///
    /// # Errors
    /// When the backend fails or does not hold the value.
    fn name(&self, name: &Name) -> Result<Option<NameRecord>, StateError>;

    /// Replaces a name's record (names are never removed).
    ///
    /// # Errors
    /// When the backend fails.
    fn set_name(&self, name: &Name, record: NameRecord) -> Result<(), StateError>;

    /// Applies a successful execution's writes: new balances, new contracts' code hashes, storage.
    ///
    /// # Errors
    /// When the backend fails.
    fn apply(&self, writes: &WriteSet) -> Result<(), StateError> {
        for (address, balance) in &writes.balances {
            let mut account = self.account(address)?;
            account.balance = *balance;
            self.set_account(*address, account)?;
        }
        for (address, code_hash) in &writes.contracts {
            let mut account = self.account(address)?;
            account.code_hash = Some(*code_hash);
            self.set_account(*address, account)?;
        }
        for ((contract, key), value) in &writes.storage {
            self.set_storage(*contract, key.clone(), value.clone())?;
        }
        Ok(())
    }
}

/// A fault while executing a transaction: never a receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The vm reported a node fault.
    #[error("vm fault: {0}")]
    Vm(#[from] VmError),
    /// The state backend failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// Arithmetic overflowed where the rules make it impossible, or the receipt's breakdown does
    /// not sum to its gas (a bug).
    #[error("invariant broken: {0}")]
    Invariant(String),
}

/// The transaction to run, with what was derived from it when it was checked.
#[derive(Clone, Copy, Debug)]
pub struct TxInput<'a> {
    /// The transaction.
    pub tx: &'a Transaction,
    /// Its hash.
    pub hash: Hash32,
    /// The sender (derived from the public key).
    pub sender: Address,
    /// `tx_base + tx_per_byte × encoded length` (see [`crate::block::intrinsic_gas`]).
    pub intrinsic_gas: u64,
}

/// Where and how a transaction runs.
#[derive(Clone, Copy, Debug)]
pub struct TxEnv<'a> {
    /// The vm (its schedule prices the transaction).
    pub vm: &'a Vm,
    /// The block's height and timestamp.
    pub block: BlockContext,
    /// Position in the block.
    pub index: u32,
    /// Receives the fee.
    pub fee_collector: Address,
    /// Trace the execution ([`Executed::trace`]); never changes the receipt.
    pub trace: Option<&'a TraceOptions>,
}

/// What [`execute_transaction`] produced.
#[derive(Clone, Debug)]
pub struct Executed {
    /// The receipt.
    pub receipt: Receipt,
    /// Code a successful deployment stored (so the node can compile it while the deployer pays).
    pub deployed: Option<PreparedCode>,
    /// The gas trace of the vm execution, when asked for and the payload ran code.
    pub trace: Option<Trace>,
}

/// Runs one transaction against `state` through the four phases: [`validate`],
/// [`pre_execution`], [`execute_payload`], [`post_execution`]. A guest failure is a receipt;
/// only faults are errors.
///
/// # Errors
/// [`TransitionError`] on node faults (the block must not be committed).
pub fn execute_transaction<S: LedgerState + 'static>(
    env: TxEnv<'_>,
    state: &Arc<S>,
    input: TxInput<'_>,
) -> Result<Executed, TransitionError> {
    let mut receipt = Receipt {
        tx_hash: input.hash,
        sender: input.sender,
        height: env.block.height,
        index: env.index,
        status: ReceiptStatus::Success,
        trap_code: None,
        gas_used: 0,
        gas_limit: input.tx.gas_limit,
        gas_breakdown: Default::default(),
        gas_price: input.tx.gas_price,
        fee: U256::zero(),
        output: Vec::new(),
        events: Vec::new(),
        schedule_hash: env.vm.schedule_hash(),
        contract_address: None,
    };
    let validated = match validate(state.as_ref(), input)? {
        Ok(validated) => validated,
        Err(refused) => {
            receipt.status = refused;
            return Ok(Executed {
                receipt,
                deployed: None,
                trace: None,
            });
        }
    };
    let upfront = validated.upfront;
    pre_execution(state.as_ref(), input, validated)?;
    let payload = execute_payload(env, state, input)?;
    receipt.contract_address = payload.contract_address;
    receipt.gas_breakdown =
        breakdown_with_intrinsic(payload.outcome.as_ref(), payload.intrinsic_gas);
    receipt.gas_used = payload.intrinsic_gas + payload.outcome.as_ref().map_or(0, |o| o.gas_used);
    for (category, gas) in payload.name_gas.into_iter().filter(|(_, gas)| *gas > 0) {
        let entry = receipt
            .gas_breakdown
            .entry(category.key().to_string())
            .or_insert(0);
        *entry = entry.saturating_add(gas);
        receipt.gas_used = receipt.gas_used.saturating_add(gas);
    }
    receipt.status = payload.status;
    if let Some(outcome) = payload.outcome {
        receipt.trap_code = outcome.trap_code().map(|t| t.code());
        receipt.output = outcome.output;
        receipt.events = outcome.events;
    }
    post_execution(env, state.as_ref(), input, upfront, &mut receipt)?;
    Ok(Executed {
        receipt,
        deployed: payload.deployed,
        trace: payload.trace,
    })
}

/// A transaction that [`validate`] found able to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validated {
    /// The sender's account as read.
    pub account: Account,
    /// What it pays up front: `gas_limit × gas_price`.
    pub upfront: U256,
}

/// Phase 1: whether the transaction can run at all in this state. `Ok(Err(status))` when the
/// nonce is not the sender's next or the balance cannot pay `gas_limit × gas_price + value` (a
/// receipt without fee; nothing changes).
///
/// # Errors
/// State faults.
pub fn validate<S: LedgerState + ?Sized>(
    state: &S,
    input: TxInput<'_>,
) -> Result<Result<Validated, ReceiptStatus>, TransitionError> {
    let tx = input.tx;
    let account = state.account(&input.sender)?;
    if account.nonce != tx.nonce {
        return Ok(Err(ReceiptStatus::NonceMismatch));
    }
    let upfront = U256::from(tx.gas_limit).checked_mul(tx.gas_price);
    let affordable = tx
        .max_cost()
        .is_some_and(|max_cost| account.balance >= max_cost);
    Ok(match upfront.filter(|_| affordable) {
        Some(upfront) => Ok(Validated { account, upfront }),
        None => Err(ReceiptStatus::InsufficientFunds),
    })
}

/// Phase 2: debits the upfront payment and consumes the nonce.
///
/// # Errors
/// State faults; [`TransitionError::Invariant`] when the balance does not cover the payment
/// (phase 1 checked it).
pub fn pre_execution<S: LedgerState + ?Sized>(
    state: &S,
    input: TxInput<'_>,
    validated: Validated,
) -> Result<(), TransitionError> {
    let Validated {
        mut account,
        upfront,
    } = validated;
    account.balance = account
        .balance
        .checked_sub(upfront)
        .ok_or_else(|| TransitionError::Invariant("upfront debit beyond the balance".into()))?;
    account.nonce = account
        .nonce
        .checked_add(1)
        .ok_or_else(|| TransitionError::Invariant("nonce overflows u64".into()))?;
    state.set_account(input.sender, account)?;
    Ok(())
}

/// What [`execute_payload`] did.
#[derive(Clone, Debug)]
pub struct PayloadResult {
    /// The receipt status it leads to.
    pub status: ReceiptStatus,
    /// The intrinsic gas charged (the gas limit when it does not cover it).
    pub intrinsic_gas: u64,
    /// The vm's outcome, when code ran.
    pub outcome: Option<Outcome>,
    /// Code a successful deployment stored.
    pub deployed: Option<PreparedCode>,
    /// The deployment's address (also when it failed).
    pub contract_address: Option<Address>,
    /// The gas trace, when asked for and code ran.
    pub trace: Option<Trace>,
    /// The name gas charged by a name payload, by category (see [`crate::name::name_gas`]).
    pub name_gas: Vec<(GasCategory, u64)>,
}

/// Phase 3: charges the intrinsic gas, then runs the payload with the rest of the gas limit
/// (transfer, deploy or call) and applies a successful execution's writes.
///
/// # Errors
/// Node faults from the vm or the state.
pub fn execute_payload<S: LedgerState + 'static>(
    env: TxEnv<'_>,
    state: &Arc<S>,
    input: TxInput<'_>,
) -> Result<PayloadResult, TransitionError> {
    let (tx, vm) = (input.tx, env.vm);
    let mut result = PayloadResult {
        status: ReceiptStatus::Success,
        intrinsic_gas: input.intrinsic_gas,
        outcome: None,
        deployed: None,
        contract_address: None,
        trace: None,
        name_gas: Vec::new(),
    };
    if input.intrinsic_gas > tx.gas_limit {
        result.status = ReceiptStatus::OutOfGas;
        result.intrinsic_gas = tx.gas_limit;
        return Ok(result);
    }
    let vm_gas = tx.gas_limit - input.intrinsic_gas;
    let view: Arc<dyn StateView> = Arc::clone(state) as Arc<dyn StateView>;
    match &tx.payload {
        Payload::Transfer { to, amount } => {
            let mut from = state.account(&input.sender)?;
            from.balance = from.balance.checked_sub(*amount).ok_or_else(|| {
                TransitionError::Invariant("transfer beyond the checked balance".into())
            })?;
            state.set_account(input.sender, from)?;
            state.credit(*to, *amount)?;
        }
        Payload::Deploy {
            code,
            init_input,
            salt,
            value,
        } => match vm.prepare(code) {
            Err(_) => result.status = ReceiptStatus::InvalidCode,
            Ok(prepared) => {
                let request = DeployRequest {
                    deployer: input.sender,
                    code: prepared.clone(),
                    salt: salt.clone(),
                    init_input: init_input.clone(),
                    value: *value,
                    gas_limit: vm_gas,
                };
                let (address, outcome, traced) =
                    vm.deploy_with(view, env.block, request, env.trace)?;
                result.trace = traced;
                result.contract_address = Some(address);
                if outcome.status == Status::Success {
                    state.put_code(prepared.code_hash, Arc::clone(&prepared.original));
                    state.apply(&outcome.writes)?;
                    result.deployed = Some(prepared);
                }
                join_warm_set(vm, state.as_ref(), &outcome)?;
                result.status = ReceiptStatus::from_vm(outcome.status);
                result.outcome = Some(outcome);
            }
        },
        Payload::Call {
            contract,
            method,
            input: call_input,
            value,
        } => {
            let call = CallRequest {
                caller: input.sender,
                contract: *contract,
                method: method.clone(),
                input: call_input.clone(),
                value: *value,
                gas_limit: vm_gas,
            };
            let (outcome, traced) = vm.execute_with(view, env.block, call, env.trace)?;
            result.trace = traced;
            if outcome.status == Status::Success {
                state.apply(&outcome.writes)?;
            }
            join_warm_set(vm, state.as_ref(), &outcome)?;
            result.status = ReceiptStatus::from_vm(outcome.status);
            result.outcome = Some(outcome);
        }
        Payload::RegisterName { .. } | Payload::PointName { .. } | Payload::TransferName { .. } => {
            let parts = name_gas(vm.schedule(), &tx.payload).ok_or_else(|| {
                TransitionError::Invariant("a name payload without name gas".into())
            })?;
            // Charged in order until the gas left runs out (then the whole limit is used).
            let mut left = vm_gas;
            for (category, gas) in parts {
                let charged = gas.min(left);
                left -= charged;
                result.name_gas.push((category, charged));
            }
            let total: u64 = parts.iter().map(|(_, gas)| *gas).sum();
            result.status = if total > vm_gas {
                ReceiptStatus::OutOfGas
            } else {
                name_operation(state.as_ref(), env.block.height, input.sender, &tx.payload)?
            };
        }
    }
    Ok(result)
}

/// Runs a name payload whose gas is paid: checks the name, its owner and the target's deployer,
/// and writes the record when they hold. Returns the receipt status.
///
/// # Errors
/// State faults.
fn name_operation<S: LedgerState + ?Sized>(
    state: &S,
    height: u64,
    sender: Address,
    payload: &Payload,
) -> Result<ReceiptStatus, TransitionError> {
    let Some(Ok(name)) = payload.name().map(Name::parse) else {
        return Ok(ReceiptStatus::InvalidName);
    };
    let existing = state.name(&name)?;
    let deployed_by_sender = |target: &Address, salt: &[u8]| -> Result<bool, TransitionError> {
        Ok(match state.account(target)?.code_hash {
            Some(code_hash) => Address::for_contract(&sender, &code_hash, salt) == *target,
            None => false,
        })
    };
    let record = match (payload, existing) {
        (Payload::RegisterName { .. }, Some(_)) => return Ok(ReceiptStatus::NameTaken),
        (Payload::RegisterName { target, salt, .. }, None) => {
            if !deployed_by_sender(target, salt)? {
                return Ok(ReceiptStatus::NotDeployer);
            }
            NameRecord {
                owner: sender,
                target: *target,
                registered_height: height,
            }
        }
        (_, None) => return Ok(ReceiptStatus::NameNotFound),
        (_, Some(record)) if record.owner != sender => return Ok(ReceiptStatus::NotNameOwner),
        (Payload::PointName { target, salt, .. }, Some(record)) => {
            if !deployed_by_sender(target, salt)? {
                return Ok(ReceiptStatus::NotDeployer);
            }
            NameRecord {
                target: *target,
                ..record
            }
        }
        (Payload::TransferName { new_owner, .. }, Some(record)) => NameRecord {
            owner: *new_owner,
            ..record
        },
        (_, Some(_)) => {
            return Err(TransitionError::Invariant(format!(
                "{} is not a name payload",
                payload.kind()
            )))
        }
    };
    state.set_name(&name, record)?;
    Ok(ReceiptStatus::Success)
}

/// Adds the codes an execution paid the cold load of, and a deployment's code, to the warm set
/// (schedule v2 on; see `opmeter_vm::warm_set`), whatever the execution's status: the load was
/// done and paid for, so every node now holds the module compiled.
///
/// # Errors
/// State faults; [`TransitionError::Invariant`] when a reported code is not in state.
fn join_warm_set<S: LedgerState>(
    vm: &Vm,
    state: &S,
    outcome: &Outcome,
) -> Result<(), TransitionError> {
    let Some(costs) = vm.schedule().code_loading else {
        return Ok(());
    };
    if outcome.code_paid.is_empty() {
        return Ok(());
    }
    let mut update = warm_set::Update::new(state);
    for code_hash in &outcome.code_paid {
        let len_bytes = state
            .code_len_bytes(code_hash)?
            .and_then(|len| u32::try_from(len).ok())
            .ok_or_else(|| {
                TransitionError::Invariant(format!(
                    "paid code {} is not in state",
                    code_hash.to_hex()
                ))
            })?;
        update.insert(*code_hash, len_bytes, &costs)?;
    }
    for (key, value) in update.into_writes() {
        state.set_storage(warm_set::ADDRESS, key, value)?;
    }
    Ok(())
}

/// Phase 4: checks the receipt's gas (at most the limit; the breakdown sums to it), refunds the
/// unused part of `upfront` and credits the fee to the fee collector.
///
/// # Errors
/// [`TransitionError::Invariant`] when the receipt's gas does not add up (a bug); state faults.
pub fn post_execution<S: LedgerState + ?Sized>(
    env: TxEnv<'_>,
    state: &S,
    input: TxInput<'_>,
    upfront: U256,
    receipt: &mut Receipt,
) -> Result<(), TransitionError> {
    let tx = input.tx;
    if receipt.gas_used > tx.gas_limit || receipt.breakdown_total() != receipt.gas_used {
        return Err(TransitionError::Invariant(format!(
            "receipt of {} uses {} gas of {}, breakdown {}",
            input.hash,
            receipt.gas_used,
            tx.gas_limit,
            receipt.breakdown_total()
        )));
    }
    // gas_used ≤ gas_limit, so the fee is at most `upfront` and the subtraction cannot wrap.
    let fee = U256::from(receipt.gas_used) * tx.gas_price;
    let refund = upfront - fee;
    let mut payer = state.account(&input.sender)?;
    payer.balance = payer
        .balance
        .checked_add(refund)
        .ok_or_else(|| TransitionError::Invariant("refund overflows".into()))?;
    state.set_account(input.sender, payer)?;
    state.credit(env.fee_collector, fee)?;
    receipt.fee = fee;
    Ok(())
}
