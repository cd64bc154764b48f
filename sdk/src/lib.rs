//! Write Opmeter contracts in Rust.
//!
//! A contract is a `#![no_std]` library built for `wasm32v1-none`. `#[contract]` on an `impl` block
//! turns each `pub fn` without `self` into an exported entry point whose arguments arrive as a JSON
//! object of named parameters and whose result leaves as JSON:
//!
//! ```
//! use opmeter_sdk::{contract, env, Event, Item};
//!
//! const COUNT: Item<u64> = Item::new("count");
//!
//! #[derive(Event)]
//! struct Incremented {
//!     by: u64,
//!     count: u64,
//! }
//!
//! /// A counter.
//! pub struct Counter;
//!
//! #[contract]
//! impl Counter {
//!     /// Runs once at deployment: `{"start": 5}`.
//!     pub fn init(start: u64) {
//!         COUNT.save(&start);
//!     }
//!
//!     /// Adds `by` (`{"by": 2}`); returns the new count.
//!     pub fn increment(by: u64) -> Result<u64, &'static str> {
//!         let count = COUNT.load().checked_add(by).ok_or("overflow")?;
//!         COUNT.save(&count);
//!         Incremented { by, count }.emit();
//!         Ok(count)
//!     }
//!
//!     /// The count (input empty or `{}`).
//!     pub fn get() -> u64 {
//!         COUNT.load()
//!     }
//! }
//!
//! # fn main() {
//! // Natively the same code runs against a mock host; drive it like the host would.
//! assert_eq!(Counter::__dispatch("init", br#"{"start":5}"#), Ok(vec![]));
//! assert_eq!(Counter::__dispatch("increment", br#"{"by":2}"#), Ok(b"7".to_vec()));
//! assert_eq!(Counter::__dispatch("get", b""), Ok(b"7".to_vec()));
//! assert_eq!(Counter::__dispatch("init", br#"{"start":0}"#), Err(b"already initialized".to_vec()));
//! assert_eq!(
//!     Counter::__dispatch("increment", br#"{"by":18446744073709551615}"#),
//!     Err(b"overflow".to_vec())
//! );
//! # }
//! ```
//!
//! # Entry points
//!
//! On wasm32 each entry point is an exported `() -> ()` function named after the method, as the
//! host ABI requires (module `sys` imports the host functions on wasm32, [`env`](mod@env) wraps
//! them safely). Generated code:
//!
//! - reads the input: a JSON object of the named parameters (`{"to": "0x…", "amount": "10"}`);
//!   empty input means `{}`; unknown fields are rejected; `Option` parameters may be omitted. A bad
//!   input reverts with `invalid arguments: …`;
//! - calls the method, then writes its result as JSON to the output (nothing for `()`); a method
//!   returning `Result<T, E>` with `E: Display` reverts with the error's text on `Err` (a text
//!   error — `&str`, `String` — without `core::fmt`);
//! - `init` runs once at deployment; the sdk records that it ran and reverts a second `init` with
//!   `already initialized`.
//!
//! Arguments and results use the sdk's own JSON codec ([`json`]): no serde, no floats, no
//! `core::fmt`, so contracts stay small (code bytes cost gas).
//!
//! A panic reverts the call with the panic message as revert data (the sdk's `#[panic_handler]`).
//! A message with formatted arguments (`panic!("{x}")`, `.expect(..)`, index out of bounds) is
//! formatted only with the feature `panic-fmt`; otherwise it reverts with
//! [`FORMATTED_PANIC_MESSAGE`], so that `core::fmt` stays out of the contract.
//!
//! # Building
//!
//! ```text
//! cargo build --release --target wasm32v1-none
//! ```
//!
//! with `crate-type = ["cdylib", "rlib"]`, and in the workspace: `[profile.release]` `opt-level = 3`,
//! `lto = true`, `codegen-units = 1`, `panic = "abort"`, plus
//! `rustflags = ["-C", "link-arg=-zstack-size=65536"]` for the target (a 64 KiB stack: two initial
//! pages instead of seventeen). `wasm32v1-none` emits WebAssembly 1.0 plus mutable globals only,
//! which is what the host accepts. See `contracts/` in the repository for a complete setup.
//!
//! # Testing
//!
//! Natively (any non-wasm target) every [`env`](mod@env) function is served by an in-memory mock
//! host, so contract logic is unit-tested with plain `cargo test`; see [`testing`].
//!
//! # Features
//!
//! | feature | default | effect (wasm32 only) |
//! |---|---|---|
//! | `bump-allocator` | yes | installs `bump::BumpAllocator` as the `#[global_allocator]` |
//! | `panic-handler` | yes | installs a `#[panic_handler]` that reverts with the panic message |
//! | `panic-fmt` | no | the panic handler also formats messages with arguments (links `core::fmt`, a few KB) |
//!
//! Turn them off to bring your own allocator or panic handler.

#![no_std]

extern crate alloc;
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

// Lets the derive macros' `::opmeter_sdk::…` paths resolve inside this crate's own tests.
extern crate self as opmeter_sdk;

mod address;
#[cfg(target_arch = "wasm32")]
pub mod bump;
pub mod env;
pub mod event;
pub mod json;
#[cfg(not(target_arch = "wasm32"))]
mod mock;
pub mod storage;
#[cfg(target_arch = "wasm32")]
pub mod sys;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
mod u256;
mod utf8;
#[cfg(target_arch = "wasm32")]
mod wasm_host;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use address::{Address, ParseAddressError};
pub use env::{CallError, CallStatus};
pub use event::{Event, Topic};
pub use json::{JsonDecode, JsonEncode};
pub use storage::{Item, Json, Map};
pub use u256::{ParseU256Error, U256TooLarge, U256};

/// Turns the `pub fn`s (without `self`) of an `impl` block into contract entry points.
///
/// See the [crate documentation](crate#entry-points) for what the generated code does. Natively it
/// also implements [`Contract`] and adds `Type::__dispatch(method, input)`, which runs an entry
/// point with raw JSON input against the mock host ([`testing::dispatch`]).
pub use opmeter_sdk_macros::contract;

/// Marks an entry point of a `#[contract]` impl as *provable*: besides its JSON entry point, the
/// method's integer function is exported as `provable:<name>` (parameters and result `u32`, `i32`,
/// `u64`, `i64` or `bool`), which `opmeter_vm::Vm::call_provable` runs and `opmeter-prover`
/// proves. Whether the method is inside the provable subset (no memory, no host calls, no
/// floats, …) is decided when the code is checked, with the reason when it is not.
///
/// ```ignore
/// #[contract]
/// impl Math {
///     #[provable]
///     pub fn gcd(a: u64, b: u64) -> u64 { /* … */ }
/// }
/// ```
pub use opmeter_sdk_macros::provable;

/// Derives [`Event`] for a struct with named fields; mark topic fields with `#[topic]`.
///
/// See [`event`] for the encoding.
pub use opmeter_sdk_macros::Event;

/// Derives [`JsonEncode`] for a struct with named fields: an object of the fields in
/// declaration order.
pub use opmeter_sdk_macros::JsonEncode;

/// Derives [`JsonDecode`] for a struct with named fields: an object (unknown fields rejected,
/// `Option` fields may be absent) or an array of the fields in order.
pub use opmeter_sdk_macros::JsonDecode;

/// The usual imports of a contract.
pub mod prelude {
    pub use crate::env;
    pub use crate::storage::{Item, Json, Map};
    pub use crate::{
        contract, provable, Address, CallError, CallStatus, Event, JsonDecode, JsonEncode, U256,
    };
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    pub use alloc::{format, vec};
}

/// One entry point of a contract: its export name and the function that runs it.
#[derive(Clone, Copy, Debug)]
pub struct EntryPoint {
    /// The method (export) name.
    pub name: &'static str,
    /// Reads the input, runs the method and sets the output.
    pub run: fn(),
}

/// A contract type: what `#[contract]` implements, listing its entry points.
pub trait Contract {
    /// Every entry point, in declaration order.
    const ENTRY_POINTS: &'static [EntryPoint];
}

/// The global allocator of a wasm32 contract.
#[cfg(all(target_arch = "wasm32", feature = "bump-allocator"))]
#[global_allocator]
static ALLOCATOR: bump::BumpAllocator = bump::BumpAllocator::new();

/// The revert data of a panic whose message has formatted arguments, unless the feature
/// `panic-fmt` formats them.
pub const FORMATTED_PANIC_MESSAGE: &str =
    "panicked (message formatting is off: sdk feature `panic-fmt`)";

/// Reverts with the panic message (truncated to 1 KiB). A message without arguments is reverted
/// with as is; one with arguments is formatted with the feature `panic-fmt` (without allocating:
/// the panic may be an allocation failure) and replaced by [`FORMATTED_PANIC_MESSAGE`] otherwise.
#[cfg(all(target_arch = "wasm32", feature = "panic-handler"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    const LIMIT: usize = 1024;
    let message = info.message();
    if let Some(text) = message.as_str() {
        let mut take = text.len().min(LIMIT);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        env::revert(text.as_bytes().get(..take).unwrap_or_default())
    }
    #[cfg(feature = "panic-fmt")]
    {
        use core::fmt::Write;

        struct Truncating {
            buffer: [u8; LIMIT],
            len: usize,
        }

        impl Write for Truncating {
            fn write_str(&mut self, text: &str) -> core::fmt::Result {
                let room = self.buffer.len() - self.len;
                let mut take = text.len().min(room);
                while !text.is_char_boundary(take) {
                    take -= 1;
                }
                self.buffer[self.len..self.len + take].copy_from_slice(&text.as_bytes()[..take]);
                self.len += take;
                Ok(())
            }
        }

        let mut formatted = Truncating {
            buffer: [0; LIMIT],
            len: 0,
        };
        let _ = write!(formatted, "{message}");
        env::revert(&formatted.buffer[..formatted.len])
    }
    #[cfg(not(feature = "panic-fmt"))]
    env::revert(FORMATTED_PANIC_MESSAGE)
}
