//! The vm and an in-memory state: what the execution and trace tests run contracts in.

use opmeter_vm::{Address, MemoryState, Metering, Schedule, Vm, VmConfig};

/// A vm (schedule v1) and the state its calls read; each file adds the calls it needs.
pub(crate) struct World {
    pub(crate) vm: Vm,
    pub(crate) state: MemoryState,
}

impl World {
    /// Production metering (injected gas).
    pub(crate) fn new() -> World {
        World::with(Metering::Injected)
    }

    /// The given metering strategy.
    pub(crate) fn with(metering: Metering) -> World {
        World::with_schedule(Schedule::v1(), metering)
    }

    /// The given schedule and metering strategy.
    pub(crate) fn with_schedule(schedule: Schedule, metering: Metering) -> World {
        let vm = Vm::with_config(
            schedule,
            VmConfig {
                metering,
                ..VmConfig::default()
            },
        );
        World {
            vm,
            state: MemoryState::default(),
        }
    }

    /// Puts `wasm` at `address` (it must pass validation).
    pub(crate) fn deploy(&mut self, address: Address, wasm: &[u8]) {
        self.vm
            .validate(wasm)
            .unwrap_or_else(|r| panic!("test module rejected: {r}"));
        self.state.put_contract(address, wasm);
    }
}
