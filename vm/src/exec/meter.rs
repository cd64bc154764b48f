//! The one gas meter of an execution. Every charge is one call into [`Meter`]: the deployment's
//! flat charge, each frame's instantiation, every host function (`base + per_byte × bytes`, and
//! its further charges: bytes copied, storage bytes, topics), and at the end of each frame the
//! gas its own code took from its counter (instructions, memory growth). The meter owns the gas
//! breakdown and feeds the tracer, so the breakdown and a trace cannot disagree on a charge.
//!
//! Charges happen before the work they pay for, with checked arithmetic; a price that overflows
//! can never be paid (it takes all gas left). Each charge returns a [`Charge`] the caller must
//! apply to the frame's gas counter.

use std::collections::BTreeMap;

use crate::abi::{GasCategory, HostFn};
use crate::outcome::VmError;
use crate::trace::Tracer;

/// `base + per_unit × units`, or `u64::MAX` when that overflows: a price no gas limit can pay
/// (limits are capped at `i64::MAX`), so a huge length charges everything left instead of
/// wrapping to something cheap.
pub(super) fn price(base: u64, per_unit: u64, units: u64) -> u64 {
    per_unit
        .checked_mul(units)
        .and_then(|gas| gas.checked_add(base))
        .unwrap_or(u64::MAX)
}

/// The result of one charge against `left` gas.
#[must_use = "a charge must be applied to the gas counter, and an exhausted one must stop"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Charge {
    /// Gas taken: the amount, or everything that was left when it could not be paid.
    pub(super) paid: u64,
    /// Gas left after the charge.
    pub(super) left: u64,
    /// The amount exceeded what was left: the execution stops out of gas.
    pub(super) exhausted: bool,
}

/// The gas breakdown of one execution and its tracer (when traced).
pub(super) struct Meter {
    breakdown: BTreeMap<GasCategory, u64>,
    tracer: Option<Box<Tracer>>,
}

impl Meter {
    /// A meter with an empty breakdown, feeding `tracer` when given.
    pub(super) fn new(tracer: Option<Tracer>) -> Meter {
        Meter {
            breakdown: BTreeMap::new(),
            tracer: tracer.map(Box::new),
        }
    }

    /// Whether this execution is traced.
    pub(super) fn is_traced(&self) -> bool {
        self.tracer.is_some()
    }

    /// The tracer of a traced execution (frames, calls and hooks report to it directly; charges
    /// reach it only through the meter).
    pub(super) fn tracer(&mut self) -> Option<&mut Tracer> {
        self.tracer.as_deref_mut()
    }

    /// A deployment's flat charge, before its `init` frame exists (the trace's root holds it).
    ///
    /// # Errors
    /// [`VmError::GasAccounting`] when the breakdown overflows or the trace refuses the charge.
    #[must_use = "a charge must be applied"]
    pub(super) fn charge_deploy(&mut self, amount: u64, left: u64) -> Result<Charge, VmError> {
        let charge = self.take(GasCategory::Deploy, amount, left)?;
        if let Some(tracer) = self.tracer.as_mut() {
            tracer.root_charge(GasCategory::Deploy, charge.paid)?;
        }
        Ok(charge)
    }

    /// A frame's code loading, before its module is read or compiled (schedule v2 on).
    ///
    /// # Errors
    /// As [`Meter::charge_deploy`].
    #[must_use = "a charge must be applied"]
    pub(super) fn charge_code_load(&mut self, amount: u64, left: u64) -> Result<Charge, VmError> {
        let charge = self.take(GasCategory::CodeLoad, amount, left)?;
        if let Some(tracer) = self.tracer.as_mut() {
            tracer.frame_charge(GasCategory::CodeLoad, charge.paid)?;
        }
        Ok(charge)
    }

    /// A frame's instantiation, before the instance is created. When it is paid, the frame's
    /// counter starts at what is left.
    ///
    /// # Errors
    /// As [`Meter::charge_deploy`].
    #[must_use = "a charge must be applied"]
    pub(super) fn charge_instantiation(
        &mut self,
        amount: u64,
        left: u64,
    ) -> Result<Charge, VmError> {
        let charge = self.take(GasCategory::Instantiation, amount, left)?;
        if let Some(tracer) = self.tracer.as_mut() {
            tracer.frame_charge(GasCategory::Instantiation, charge.paid)?;
            if !charge.exhausted {
                tracer.counters_start(charge.left)?;
            }
        }
        Ok(charge)
    }

    /// A host function starts (before its first charge): the trace opens its entry.
    ///
    /// # Errors
    /// [`VmError::GasAccounting`] when the trace is inconsistent.
    pub(super) fn begin_host(&mut self, function: HostFn) -> Result<(), VmError> {
        match self.tracer.as_mut() {
            Some(tracer) => tracer.host_begin(function),
            None => Ok(()),
        }
    }

    /// A charge of the running host function, before its work. `grow` is the frame's
    /// memory-growth accumulator (read only when traced).
    ///
    /// # Errors
    /// As [`Meter::charge_deploy`].
    #[must_use = "a charge must be applied"]
    pub(super) fn charge_host(
        &mut self,
        category: GasCategory,
        amount: u64,
        left: u64,
        grow: i64,
    ) -> Result<Charge, VmError> {
        let charge = self.take(category, amount, left)?;
        if let Some(tracer) = self.tracer.as_mut() {
            tracer.host_charge(category, left, charge.paid, grow)?;
        }
        Ok(charge)
    }

    /// A stopped frame's own code: the gas its instrumented blocks (`instructions`) and its
    /// memory-growth helper (`memory_growth`) took from its counter, which the injected code
    /// charged before running each block.
    ///
    /// # Errors
    /// As [`Meter::charge_deploy`].
    pub(super) fn settle_frame(
        &mut self,
        instructions: u64,
        memory_growth: u64,
    ) -> Result<(), VmError> {
        if let Some(tracer) = self.tracer.as_mut() {
            tracer.frame_memory(memory_growth)?;
        }
        self.add(GasCategory::Instructions, instructions)?;
        self.add(GasCategory::MemoryGrowth, memory_growth)
    }

    /// The breakdown and the tracer of a finished execution that used `gas_used`.
    ///
    /// # Errors
    /// [`VmError::GasAccounting`] when the breakdown does not sum to `gas_used`.
    pub(super) fn finish(
        self,
        gas_used: u64,
    ) -> Result<(BTreeMap<GasCategory, u64>, Option<Tracer>), VmError> {
        let total = self
            .breakdown
            .values()
            .try_fold(0u64, |acc, gas| acc.checked_add(*gas));
        if total != Some(gas_used) {
            return Err(VmError::GasAccounting(format!(
                "breakdown sums to {total:?} but {gas_used} gas was used"
            )));
        }
        Ok((self.breakdown, self.tracer.map(|tracer| *tracer)))
    }

    /// Takes `amount` (or everything left when it cannot be paid) and books it under `category`.
    fn take(&mut self, category: GasCategory, amount: u64, left: u64) -> Result<Charge, VmError> {
        let (paid, exhausted) = if amount > left {
            (left, true)
        } else {
            (amount, false)
        };
        self.add(category, paid)?;
        Ok(Charge {
            paid,
            left: left - paid,
            exhausted,
        })
    }

    fn add(&mut self, category: GasCategory, gas: u64) -> Result<(), VmError> {
        let entry = self.breakdown.entry(category).or_insert(0);
        *entry = entry
            .checked_add(gas)
            .ok_or_else(|| VmError::GasAccounting(format!("{} overflows", category.key())))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflowing_price_can_never_be_paid() {
        assert_eq!(price(7, 3, 5), 22);
        assert_eq!(price(1, u64::MAX, 2), u64::MAX);
        assert_eq!(price(u64::MAX, 1, 1), u64::MAX);
    }

    #[test]
    fn a_charge_pays_what_is_left_and_books_exactly_that() {
        let mut meter = Meter::new(None);
        let paid = meter.charge_deploy(40, 100).unwrap();
        assert_eq!((paid.paid, paid.left, paid.exhausted), (40, 60, false));
        let short = meter.charge_instantiation(70, paid.left).unwrap();
        assert_eq!((short.paid, short.left, short.exhausted), (60, 0, true));
        meter.settle_frame(0, 0).unwrap();
        assert!(meter.finish(99).is_err(), "the breakdown sums to 100");
        let mut meter = Meter::new(None);
        let _ = meter.charge_deploy(40, 100).unwrap();
        let (breakdown, tracer) = meter.finish(40).unwrap();
        assert_eq!(breakdown.get(&GasCategory::Deploy), Some(&40));
        assert!(tracer.is_none());
    }
}
