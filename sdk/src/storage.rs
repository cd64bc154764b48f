//! Typed storage: [`Item`] (one value under a fixed key) and [`Map`] (values under a prefix and an
//! encoded key), over deterministic encodings.
//!
//! # Encodings
//!
//! | type | value encoding ([`StorageCodec`]) and key encoding ([`StorageKey`]) |
//! |---|---|
//! | `u8`…`u128`, `i8`…`i128` | fixed width, little-endian |
//! | `bool` | one byte, `0` or `1` |
//! | [`Address`], [`U256`], `[u8; 32]` | their 32 bytes (`U256` little-endian) |
//! | `Vec<u8>`, `String` (keys also `[u8]`, `str`) | the raw bytes (UTF-8 for strings) |
//! | [`Json<T>`] (values only) | the JSON of `T` ([`crate::json`]) |
//! | `(A, B)`, `(A, B, C)` (keys only) | each part but the last prefixed by its length (`u16`, big-endian) |
//!
//! The storage key of an [`Item`] is its name's bytes. A [`Map`] entry lives under
//! `len(prefix) as u16 (big-endian) ‖ prefix ‖ key`, so two maps never share entries even when
//! one prefix starts another, and (prefixes being shorter than 256 bytes) map keys start with a
//! zero byte that readable item names never do.
//!
//! ```
//! use opmeter_sdk::storage::{Item, Map};
//! use opmeter_sdk::{Address, U256};
//!
//! const TOTAL: Item<U256> = Item::new("total");
//! const BALANCES: Map<Address, U256> = Map::new("balances");
//!
//! let alice = Address::repeat_byte(1);
//! TOTAL.save(&U256::from(10u8));
//! BALANCES.save(&alice, &U256::from(10u8));
//! assert_eq!(BALANCES.load_or_default(&alice), U256::from(10u8));
//! assert_eq!(BALANCES.may_load(&Address::repeat_byte(2)), None);
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::marker::PhantomData;

use crate::json::{put, JsonDecode, JsonEncode};
use crate::{env, Address, U256};

/// A type stored as a value, with a deterministic byte encoding.
pub trait StorageCodec: Sized {
    /// The stored bytes.
    fn encode(&self) -> Vec<u8>;
    /// Back from stored bytes; `None` if they are not a valid encoding.
    fn decode(bytes: &[u8]) -> Option<Self>;

    /// Calls `f` with the stored bytes: [`StorageCodec::encode`], without allocating for types
    /// whose encoding is at hand (integers, 32-byte values, strings and byte vectors).
    fn with_encoded<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.encode())
    }
}

/// A type usable as (part of) a storage key.
pub trait StorageKey {
    /// Appends the key bytes to `out`.
    fn write_key(&self, out: &mut Vec<u8>);

    /// The key bytes.
    fn key_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_key(&mut out);
        out
    }
}

macro_rules! impl_integer {
    ($($t:ty),*) => {$(
        impl StorageCodec for $t {
            fn encode(&self) -> Vec<u8> {
                self.to_le_bytes().to_vec()
            }

            fn decode(bytes: &[u8]) -> Option<$t> {
                Some(<$t>::from_le_bytes(bytes.try_into().ok()?))
            }

            fn with_encoded<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
                f(&self.to_le_bytes())
            }
        }

        impl StorageKey for $t {
            fn write_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

impl_integer!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

impl StorageCodec for bool {
    fn encode(&self) -> Vec<u8> {
        alloc::vec![u8::from(*self)]
    }

    fn decode(bytes: &[u8]) -> Option<bool> {
        match bytes {
            [0] => Some(false),
            [1] => Some(true),
            _ => None,
        }
    }

    fn with_encoded<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&[u8::from(*self)])
    }
}

impl StorageKey for bool {
    fn write_key(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

macro_rules! impl_bytes32 {
    ($t:ty, $to:expr, $from:expr) => {
        impl StorageCodec for $t {
            fn encode(&self) -> Vec<u8> {
                $to(self).to_vec()
            }

            fn decode(bytes: &[u8]) -> Option<$t> {
                let bytes: [u8; 32] = bytes.try_into().ok()?;
                Some($from(bytes))
            }

            fn with_encoded<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
                f(&$to(self))
            }
        }

        impl StorageKey for $t {
            fn write_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&$to(self));
            }
        }
    };
}

impl_bytes32!(Address, |a: &Address| a.to_bytes(), Address::from_bytes);
impl_bytes32!(U256, |u: &U256| u.to_le_bytes(), U256::from_le_bytes);
impl_bytes32!([u8; 32], |b: &[u8; 32]| *b, core::convert::identity);

impl StorageCodec for Vec<u8> {
    fn encode(&self) -> Vec<u8> {
        self.clone()
    }

    fn decode(bytes: &[u8]) -> Option<Vec<u8>> {
        Some(bytes.to_vec())
    }

    fn with_encoded<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self)
    }
}

impl StorageCodec for String {
    fn encode(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    fn decode(bytes: &[u8]) -> Option<String> {
        crate::utf8::to_string(bytes.to_vec()).ok()
    }

    fn with_encoded<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.as_bytes())
    }
}

impl StorageKey for [u8] {
    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl StorageKey for Vec<u8> {
    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl StorageKey for str {
    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl StorageKey for String {
    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl<T: StorageKey + ?Sized> StorageKey for &T {
    fn write_key(&self, out: &mut Vec<u8>) {
        (**self).write_key(out);
    }
}

/// Appends `part` with its length as a `u16` big-endian prefix (reverts if longer than that).
fn write_prefixed<T: StorageKey + ?Sized>(part: &T, out: &mut Vec<u8>) {
    // The part is written in place after room for its length, which is filled in after.
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    part.write_key(out);
    let Ok(len) = u16::try_from(out.len() - at - 2) else {
        env::revert("storage: key part longer than 65535 bytes");
    };
    if let Some(prefix) = out.get_mut(at..at + 2) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
}

impl<A: StorageKey, B: StorageKey> StorageKey for (A, B) {
    fn write_key(&self, out: &mut Vec<u8>) {
        write_prefixed(&self.0, out);
        self.1.write_key(out);
    }
}

impl<A: StorageKey, B: StorageKey, C: StorageKey> StorageKey for (A, B, C) {
    fn write_key(&self, out: &mut Vec<u8>) {
        write_prefixed(&self.0, out);
        write_prefixed(&self.1, out);
        self.2.write_key(out);
    }
}

/// Stores any JSON type ([`crate::json`]) as its JSON, e.g. `Item<Json<Config>>` with
/// `#[derive(JsonEncode, JsonDecode)] struct Config { … }`.
///
/// Deterministic: struct fields in declaration order, no whitespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Json<T>(pub T);

impl<T: JsonEncode + JsonDecode> StorageCodec for Json<T> {
    fn encode(&self) -> Vec<u8> {
        crate::json::to_vec(&self.0)
    }

    fn decode(bytes: &[u8]) -> Option<Json<T>> {
        crate::json::from_slice(bytes).ok().map(Json)
    }
}

/// Reads and decodes the value under `key`; reverts if it is not a valid `T`.
fn read<T: StorageCodec>(key: &[u8]) -> Option<T> {
    let bytes = env::storage_read(key)?;
    match T::decode(&bytes) {
        Some(value) => Some(value),
        None => revert_about_key(b"storage: invalid value under key ", key),
    }
}

/// Reverts with "storage: no value under key …".
fn missing(key: &[u8]) -> ! {
    revert_about_key(b"storage: no value under key ", key)
}

/// Reverts with `prefix` followed by `key` as (lossy) UTF-8.
#[cold]
#[inline(never)]
fn revert_about_key(prefix: &[u8], key: &[u8]) -> ! {
    let mut message = Vec::new();
    put(&mut message, prefix);
    push_lossy(&mut message, key);
    env::revert(message)
}

/// Appends `bytes` as UTF-8, each invalid sequence replaced by U+FFFD (as
/// `String::from_utf8_lossy`, without its machinery).
pub(crate) fn push_lossy(out: &mut Vec<u8>, mut bytes: &[u8]) {
    loop {
        match crate::utf8::check(bytes) {
            Ok(()) => {
                put(out, bytes);
                return;
            }
            Err(error) => {
                let valid = error.valid_up_to;
                put(out, bytes.get(..valid).unwrap_or_default());
                put(out, "\u{fffd}".as_bytes());
                let skip = error.error_len.unwrap_or(bytes.len());
                bytes = bytes.get(valid + skip..).unwrap_or_default();
            }
        }
    }
}

/// One value of type `T` under a fixed storage key.
pub struct Item<T> {
    key: &'static str,
    value: PhantomData<fn() -> T>,
}

impl<T: StorageCodec> Item<T> {
    /// An item stored under the bytes of `key`.
    pub const fn new(key: &'static str) -> Item<T> {
        Item {
            key,
            value: PhantomData,
        }
    }

    /// The storage key.
    pub fn key(&self) -> &'static [u8] {
        self.key.as_bytes()
    }

    /// The value, or `None` if it was never saved. Reverts if the stored bytes are not a `T`.
    pub fn may_load(&self) -> Option<T> {
        read(self.key())
    }

    /// The value; reverts if it was never saved.
    pub fn load(&self) -> T {
        self.may_load().unwrap_or_else(|| missing(self.key()))
    }

    /// The value, or `T::default()` if it was never saved.
    pub fn load_or_default(&self) -> T
    where
        T: Default,
    {
        self.may_load().unwrap_or_default()
    }

    /// Saves the value.
    pub fn save(&self, value: &T) {
        value.with_encoded(|bytes| env::storage_write(self.key(), bytes));
    }

    /// Deletes the value; whether there was one.
    pub fn remove(&self) -> bool {
        env::storage_remove(self.key())
    }

    /// Whether a value is saved.
    pub fn exists(&self) -> bool {
        env::storage_has(self.key())
    }
}

/// Values of type `V` under keys of type `K`, all under one prefix.
pub struct Map<K: ?Sized, V> {
    prefix: &'static str,
    types: PhantomData<fn(&K) -> V>,
}

impl<K: StorageKey + ?Sized, V: StorageCodec> Map<K, V> {
    /// A map whose entries live under `prefix` (shorter than 256 bytes by convention).
    pub const fn new(prefix: &'static str) -> Map<K, V> {
        Map {
            prefix,
            types: PhantomData,
        }
    }

    /// The storage key of the entry for `key`.
    pub fn key<Q>(&self, key: &Q) -> Vec<u8>
    where
        K: Borrow<Q>,
        Q: StorageKey + ?Sized,
    {
        let mut out = Vec::new();
        write_prefixed(self.prefix, &mut out);
        key.write_key(&mut out);
        out
    }

    /// The value for `key`, if any. Reverts if the stored bytes are not a `V`.
    pub fn may_load<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: StorageKey + ?Sized,
    {
        read(&self.key(key))
    }

    /// The value for `key`; reverts if there is none.
    pub fn load<Q>(&self, key: &Q) -> V
    where
        K: Borrow<Q>,
        Q: StorageKey + ?Sized,
    {
        let key = self.key(key);
        read(&key).unwrap_or_else(|| missing(&key))
    }

    /// The value for `key`, or `V::default()` if there is none.
    pub fn load_or_default<Q>(&self, key: &Q) -> V
    where
        K: Borrow<Q>,
        Q: StorageKey + ?Sized,
        V: Default,
    {
        self.may_load(key).unwrap_or_default()
    }

    /// Saves the value for `key`.
    pub fn save<Q>(&self, key: &Q, value: &V)
    where
        K: Borrow<Q>,
        Q: StorageKey + ?Sized,
    {
        let key = self.key(key);
        value.with_encoded(|bytes| env::storage_write(&key, bytes));
    }

    /// Deletes the value for `key`; whether there was one.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: StorageKey + ?Sized,
    {
        env::storage_remove(&self.key(key))
    }

    /// Whether there is a value for `key`.
    pub fn has<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: StorageKey + ?Sized,
    {
        env::storage_has(&self.key(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn integer_encodings_are_fixed_width_little_endian() {
        assert_eq!(0x0102_u16.encode(), [2, 1]);
        assert_eq!(1_u64.encode(), [1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!((-1_i32).encode(), [0xff; 4]);
        assert_eq!(u64::decode(&[1, 0]), None);
        assert_eq!(bool::decode(&[2]), None);
        assert_eq!(U256::from(1u8).encode()[0], 1);
    }

    #[test]
    fn map_keys_are_length_prefixed() {
        const M: Map<String, u8> = Map::new("ab");
        assert_eq!(M.key("c"), b"\x00\x02abc");
        const T: Map<(String, u8), u8> = Map::new("t");
        assert_eq!(T.key(&(String::from("xy"), 7)), b"\x00\x01t\x00\x02xy\x07");
    }

    #[test]
    fn item_and_map_round_trip() {
        testing::reset();
        const NAME: Item<String> = Item::new("name");
        const CONFIG: Item<Json<alloc::vec::Vec<u32>>> = Item::new("config");
        const OWNERS: Map<String, Address> = Map::new("owners");
        assert_eq!(NAME.may_load(), None);
        NAME.save(&String::from("opmeter"));
        assert_eq!(NAME.load(), "opmeter");
        CONFIG.save(&Json(alloc::vec![1, 2]));
        assert_eq!(
            testing::storage().get(b"config".as_slice()).unwrap(),
            b"[1,2]"
        );
        OWNERS.save("k", &Address::repeat_byte(3));
        assert!(OWNERS.has("k"));
        assert_eq!(OWNERS.load("k"), Address::repeat_byte(3));
        assert!(OWNERS.remove("k"));
        assert!(!OWNERS.remove("k"));
        let message = testing::expect_revert(|| OWNERS.load("k"));
        assert!(
            message.starts_with("storage: no value under key"),
            "{message}"
        );
    }

    #[test]
    fn lossy_keys_match_the_standard_library() {
        for key in [
            &b"plain"[..],
            b"\xff\xfeab",
            b"a\xe2\x82",
            b"\xe2\x82\xac\xf0\x9f",
            b"",
        ] {
            let mut ours = Vec::new();
            push_lossy(&mut ours, key);
            assert_eq!(ours, String::from_utf8_lossy(key).as_bytes(), "{key:?}");
        }
    }

    #[test]
    fn corrupt_values_revert() {
        testing::reset();
        const COUNT: Item<u64> = Item::new("count");
        env::storage_write(b"count", b"xyz");
        let message = testing::expect_revert(|| COUNT.load());
        assert_eq!(message, "storage: invalid value under key count");
    }
}
