//! Raw imports of host ABI v1 (module `opmeter`), exactly as `specs/abi.md` lists them.
//!
//! Only present on `wasm32`. Every pointer is an offset into this module's linear memory, every
//! length is read as unsigned by the host. Prefer the safe wrappers in [`crate::env`]; these exist
//! for contracts that need to drive the host by hand (e.g. tests of the host itself).
//!
//! Architecture invariant: this block imports nothing the ABI does not list, with exactly the
//! ABI's signatures, because the host rejects any other import at upload.

#[link(wasm_import_module = "opmeter")]
extern "C" {
    /// `input_len() -> i32`: length of the call input in bytes.
    pub fn input_len() -> i32;
    /// `input_read(ptr)`: copies the whole input to `ptr`.
    pub fn input_read(ptr: i32);
    /// `output_set(ptr, len)`: sets (replaces) the call's output.
    pub fn output_set(ptr: i32, len: i32);
    /// `revert(ptr, len)`: stops with status `revert`; the bytes become the revert data.
    pub fn revert(ptr: i32, len: i32) -> !;
    /// `storage_read(key_ptr, key_len, val_ptr, val_cap) -> i32`: `-1` if absent, else the full
    /// length of the value (at most `val_cap` bytes are copied).
    pub fn storage_read(key_ptr: i32, key_len: i32, val_ptr: i32, val_cap: i32) -> i32;
    /// `storage_write(key_ptr, key_len, val_ptr, val_len)`: sets a value.
    pub fn storage_write(key_ptr: i32, key_len: i32, val_ptr: i32, val_len: i32);
    /// `storage_remove(key_ptr, key_len) -> i32`: `1` if the key existed, else `0`.
    pub fn storage_remove(key_ptr: i32, key_len: i32) -> i32;
    /// `caller(out_ptr)`: writes the 32-byte address of the immediate caller.
    pub fn caller(out_ptr: i32);
    /// `address(out_ptr)`: writes this contract's 32-byte address.
    pub fn address(out_ptr: i32);
    /// `value(out_ptr)`: writes the little-endian `U256` attached to this call.
    pub fn value(out_ptr: i32);
    /// `block_height() -> i64`.
    pub fn block_height() -> i64;
    /// `block_timestamp() -> i64`: milliseconds since the Unix epoch.
    pub fn block_timestamp() -> i64;
    /// `balance(addr_ptr, out_ptr)`: writes the `U256` balance of any address.
    pub fn balance(addr_ptr: i32, out_ptr: i32);
    /// `gas_left() -> i64`: gas remaining in this call frame.
    pub fn gas_left() -> i64;
    /// `event_emit(topics_ptr, topic_count, data_ptr, data_len)`.
    pub fn event_emit(topics_ptr: i32, topic_count: i32, data_ptr: i32, data_len: i32);
    /// `debug_log(ptr, len)`: a UTF-8 (lossy) debug line, not consensus data.
    pub fn debug_log(ptr: i32, len: i32);
    /// `blake3(ptr, len, out_ptr)`: writes the 32-byte BLAKE3 hash.
    pub fn blake3(ptr: i32, len: i32, out_ptr: i32);
    /// `u256_add(a, b, out) -> i32`: wrapping sum; `1` on overflow.
    pub fn u256_add(a_ptr: i32, b_ptr: i32, out_ptr: i32) -> i32;
    /// `u256_sub(a, b, out) -> i32`: wrapping difference; `1` on underflow.
    pub fn u256_sub(a_ptr: i32, b_ptr: i32, out_ptr: i32) -> i32;
    /// `u256_mul(a, b, out) -> i32`: wrapping product; `1` on overflow.
    pub fn u256_mul(a_ptr: i32, b_ptr: i32, out_ptr: i32) -> i32;
    /// `u256_div(a, b, out) -> i32`: quotient; `2` (and zero written) when `b == 0`.
    pub fn u256_div(a_ptr: i32, b_ptr: i32, out_ptr: i32) -> i32;
    /// `u256_mod(a, b, out) -> i32`: remainder; `2` (and zero written) when `b == 0`.
    pub fn u256_mod(a_ptr: i32, b_ptr: i32, out_ptr: i32) -> i32;
    /// `u256_pow(a, b, out) -> i32`: wrapping power; `1` on overflow.
    pub fn u256_pow(a_ptr: i32, b_ptr: i32, out_ptr: i32) -> i32;
    /// `call(addr, method_ptr, method_len, input_ptr, input_len, value_ptr, gas_limit) -> i32`:
    /// a synchronous cross-contract call; returns the call status (`0` success).
    pub fn call(
        addr_ptr: i32,
        method_ptr: i32,
        method_len: i32,
        input_ptr: i32,
        input_len: i32,
        value_ptr: i32,
        gas_limit: i64,
    ) -> i32;
    /// `return_data_len() -> i32`: length of the last call's return data.
    pub fn return_data_len() -> i32;
    /// `return_data_read(ptr)`: copies the last call's return data to `ptr`.
    pub fn return_data_read(ptr: i32);
}
