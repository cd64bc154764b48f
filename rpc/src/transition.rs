//! The transaction state transition: what one signed transaction does to the ledger and the
//! receipt it gets. The node's block executor, its replay audit and the offline bundle verifier
//! all run this one function, each over its own [`LedgerState`] (the node's staged overlay, an
//! overlay over a past height, the proven values of a bundle), so a bill is re-derived by the
//! very code that produced it.
//!
//! ```text
//! nonce ─▶ afford gas_limit × gas_price + value ─▶ debit upfront, nonce + 1 ─▶ intrinsic gas
//!       ─▶ transfer | deploy (validate, vm.deploy) | call (vm.execute) ─▶ apply writes on success
//!       ─▶ refund unused gas ─▶ credit the fee collector ─▶ receipt (breakdown sums to gas_used)
//! ```
//!
//! ```
//! use opmeter_rpc::transition::TransitionError;
//! let e = TransitionError::Invariant("balance overflows".into());
//! assert_eq!(e.to_string(), "invariant broken: balance overflows");
//! ```

use std::sync::Arc;

use opmeter_vm::{
    Address, BlockContext, CallRequest, CodeHash, DeployRequest, PreparedCode, StateError,
    StateView, Status, Trace, TraceOptions, Vm, VmError, WriteSet, U256,
};

use crate::ledger::{breakdown_with_intrinsic, Account, Receipt, ReceiptStatus};
use crate::tx::{Hash32, Payload, Transaction};

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
    /// `tx_base + tx_per_byte × encoded length` (see [`crate::ledger::intrinsic_gas`]).
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

/// Runs one transaction against `state`: nonce and funds checks, upfront debit, intrinsic gas,
/// the payload, refund and fee. A guest failure is a receipt; only faults are errors.
///
/// # Errors
/// [`TransitionError`] on node faults (the block must not be committed).
pub fn execute_transaction<S: LedgerState + 'static>(
    env: TxEnv<'_>,
    state: &Arc<S>,
    input: TxInput<'_>,
) -> Result<Executed, TransitionError> {
    let TxInput {
        tx,
        hash,
        sender,
        intrinsic_gas,
    } = input;
    let vm = env.vm;
    let mut receipt = Receipt {
        tx_hash: hash,
        sender,
        height: env.block.height,
        index: env.index,
        status: ReceiptStatus::Success,
        trap_code: None,
        gas_used: 0,
        gas_limit: tx.gas_limit,
        gas_breakdown: Default::default(),
        gas_price: tx.gas_price,
        fee: U256::zero(),
        output: Vec::new(),
        events: Vec::new(),
        schedule_hash: vm.schedule_hash(),
        contract_address: None,
    };
    let mut deployed = None;
    let mut trace = None;
    let mut account = state.account(&sender)?;
    if account.nonce != tx.nonce {
        receipt.status = ReceiptStatus::NonceMismatch;
        return Ok(Executed {
            receipt,
            deployed,
            trace: None,
        });
    }
    let upfront = U256::from(tx.gas_limit).checked_mul(tx.gas_price);
    let affordable = tx
        .max_cost()
        .is_some_and(|max_cost| account.balance >= max_cost);
    let Some(upfront) = upfront.filter(|_| affordable) else {
        receipt.status = ReceiptStatus::InsufficientFunds;
        return Ok(Executed {
            receipt,
            deployed,
            trace: None,
        });
    };
    account.balance -= upfront;
    account.nonce += 1;
    state.set_account(sender, account)?;

    if intrinsic_gas > tx.gas_limit {
        receipt.status = ReceiptStatus::OutOfGas;
        receipt.gas_used = tx.gas_limit;
        receipt.gas_breakdown = breakdown_with_intrinsic(None, tx.gas_limit);
    } else {
        let vm_gas = tx.gas_limit - intrinsic_gas;
        let view: Arc<dyn StateView> = Arc::clone(state) as Arc<dyn StateView>;
        let outcome = match &tx.payload {
            Payload::Transfer { to, amount } => {
                let mut from = state.account(&sender)?;
                from.balance = from.balance.checked_sub(*amount).ok_or_else(|| {
                    TransitionError::Invariant("transfer beyond the checked balance".into())
                })?;
                state.set_account(sender, from)?;
                state.credit(*to, *amount)?;
                None
            }
            Payload::Deploy {
                code,
                init_input,
                salt,
                value,
            } => match vm.prepare(code) {
                Err(_) => {
                    receipt.status = ReceiptStatus::InvalidCode;
                    None
                }
                Ok(prepared) => {
                    let request = DeployRequest {
                        deployer: sender,
                        code: prepared.clone(),
                        salt: salt.clone(),
                        init_input: init_input.clone(),
                        value: *value,
                        gas_limit: vm_gas,
                    };
                    let (address, outcome, traced) =
                        vm.deploy_with(view, env.block, request, env.trace)?;
                    trace = traced;
                    receipt.contract_address = Some(address);
                    if outcome.status == Status::Success {
                        state.put_code(prepared.code_hash, Arc::clone(&prepared.original));
                        state.apply(&outcome.writes)?;
                        deployed = Some(prepared);
                    }
                    Some(outcome)
                }
            },
            Payload::Call {
                contract,
                method,
                input,
                value,
            } => {
                let call = CallRequest {
                    caller: sender,
                    contract: *contract,
                    method: method.clone(),
                    input: input.clone(),
                    value: *value,
                    gas_limit: vm_gas,
                };
                let (outcome, traced) = vm.execute_with(view, env.block, call, env.trace)?;
                trace = traced;
                if outcome.status == Status::Success {
                    state.apply(&outcome.writes)?;
                }
                Some(outcome)
            }
        };
        receipt.gas_breakdown = breakdown_with_intrinsic(outcome.as_ref(), intrinsic_gas);
        receipt.gas_used = intrinsic_gas + outcome.as_ref().map_or(0, |o| o.gas_used);
        if let Some(outcome) = outcome {
            receipt.status = ReceiptStatus::from_vm(outcome.status);
            receipt.trap_code = outcome.trap_code().map(|t| t.code());
            receipt.output = outcome.output;
            receipt.events = outcome.events;
        }
    }
    if receipt.gas_used > tx.gas_limit || receipt.breakdown_total() != receipt.gas_used {
        return Err(TransitionError::Invariant(format!(
            "receipt of {hash} uses {} gas of {}, breakdown {}",
            receipt.gas_used,
            tx.gas_limit,
            receipt.breakdown_total()
        )));
    }
    let fee = U256::from(receipt.gas_used) * tx.gas_price;
    let refund = upfront - fee;
    let mut payer = state.account(&sender)?;
    payer.balance = payer
        .balance
        .checked_add(refund)
        .ok_or_else(|| TransitionError::Invariant("refund overflows".into()))?;
    state.set_account(sender, payer)?;
    state.credit(env.fee_collector, fee)?;
    receipt.fee = fee;
    Ok(Executed {
        receipt,
        deployed,
        trace,
    })
}
