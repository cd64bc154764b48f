//! A key-value registry: whoever first sets a key owns it; only the owner can overwrite or remove
//! it.

#![no_std]

use opmeter_sdk::prelude::*;

/// Longest key in bytes (the storage key adds the map prefix; the host allows 256 bytes).
pub const MAX_KEY_BYTES: usize = 128;
/// Longest value in bytes (the host allows 16 KiB per stored value).
pub const MAX_VALUE_BYTES: usize = 16 * 1024;

const VALUES: Map<String, String> = Map::new("v");
const OWNERS: Map<String, Address> = Map::new("o");
const COUNT: Item<u64> = Item::new("count");

/// A key was set (created or overwritten).
#[derive(Event)]
pub struct KeySet {
    /// The key's owner.
    #[topic]
    pub owner: Address,
    /// The key.
    pub key: String,
}

/// A key was removed.
#[derive(Event)]
pub struct KeyRemoved {
    /// The key's owner.
    #[topic]
    pub owner: Address,
    /// The key.
    pub key: String,
}

/// The registry contract.
pub struct Registry;

#[contract]
impl Registry {
    /// Sets `key` to `value`. A new key becomes the caller's.
    ///
    /// # Errors
    ///
    /// `empty key`, `key too long`, `value too long`, `not the owner`.
    pub fn set(key: String, value: String) -> Result<(), &'static str> {
        if key.is_empty() {
            return Err("empty key");
        }
        if key.len() > MAX_KEY_BYTES {
            return Err("key too long");
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err("value too long");
        }
        let caller = env::caller();
        match OWNERS.may_load(&key) {
            Some(owner) if owner != caller => return Err("not the owner"),
            Some(_) => {}
            None => {
                OWNERS.save(&key, &caller);
                COUNT.save(&COUNT.load_or_default().saturating_add(1));
            }
        }
        VALUES.save(&key, &value);
        KeySet { owner: caller, key }.emit();
        Ok(())
    }

    /// The value of `key`, or `null`.
    pub fn get(key: String) -> Option<String> {
        VALUES.may_load(&key)
    }

    /// Removes `key`.
    ///
    /// # Errors
    ///
    /// `not found`, `not the owner`.
    pub fn remove(key: String) -> Result<(), &'static str> {
        let owner = OWNERS.may_load(&key).ok_or("not found")?;
        if owner != env::caller() {
            return Err("not the owner");
        }
        OWNERS.remove(&key);
        VALUES.remove(&key);
        COUNT.save(&COUNT.load_or_default().saturating_sub(1));
        KeyRemoved { owner, key }.emit();
        Ok(())
    }

    /// The owner of `key`, or `null`.
    pub fn owner_of(key: String) -> Option<Address> {
        OWNERS.may_load(&key)
    }

    /// How many keys are set.
    pub fn count() -> u64 {
        COUNT.load_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opmeter_sdk::testing;

    const ALICE: Address = testing::DEFAULT_CALLER;
    const BOB: Address = Address::repeat_byte(0xb0);

    #[test]
    fn set_get_and_count() {
        assert_eq!(Registry::get("a".into()), None);
        assert_eq!(Registry::set("a".into(), "1".into()), Ok(()));
        assert_eq!(Registry::set("b".into(), "2".into()), Ok(()));
        assert_eq!(Registry::set("a".into(), "3".into()), Ok(()));
        assert_eq!(Registry::get("a".into()).as_deref(), Some("3"));
        assert_eq!(Registry::owner_of("a".into()), Some(ALICE));
        assert_eq!(Registry::count(), 2);
        assert!(testing::has_event(&KeySet {
            owner: ALICE,
            key: "a".into(),
        }));
    }

    #[test]
    fn only_the_owner_overwrites_or_removes() {
        Registry::set("k".into(), "mine".into()).unwrap();
        testing::set_caller(BOB);
        assert_eq!(
            Registry::set("k".into(), "theirs".into()),
            Err("not the owner")
        );
        assert_eq!(Registry::remove("k".into()), Err("not the owner"));
        testing::set_caller(ALICE);
        assert_eq!(Registry::remove("k".into()), Ok(()));
        assert_eq!(Registry::remove("k".into()), Err("not found"));
        assert_eq!(Registry::get("k".into()), None);
        assert_eq!(Registry::owner_of("k".into()), None);
        assert_eq!(Registry::count(), 0);
        // Free again: anyone may take it.
        testing::set_caller(BOB);
        assert_eq!(Registry::set("k".into(), "theirs".into()), Ok(()));
        assert_eq!(Registry::owner_of("k".into()), Some(BOB));
    }

    #[test]
    fn validates_sizes() {
        assert_eq!(Registry::set(String::new(), "x".into()), Err("empty key"));
        let long_key = "k".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(Registry::set(long_key, "x".into()), Err("key too long"));
        let long_value = "v".repeat(MAX_VALUE_BYTES + 1);
        assert_eq!(Registry::set("k".into(), long_value), Err("value too long"));
        let longest = "k".repeat(MAX_KEY_BYTES);
        assert_eq!(Registry::set(longest, "v".repeat(MAX_VALUE_BYTES)), Ok(()));
    }

    #[test]
    fn json_interface() {
        let set = br#"{"key":"greeting","value":"hello"}"#;
        assert_eq!(Registry::__dispatch("set", set), Ok(vec![]));
        assert_eq!(
            Registry::__dispatch("get", br#"{"key":"greeting"}"#),
            Ok(br#""hello""#.to_vec())
        );
        assert_eq!(
            Registry::__dispatch("get", br#"{"key":"nope"}"#),
            Ok(b"null".to_vec())
        );
        assert_eq!(Registry::__dispatch("count", b""), Ok(b"1".to_vec()));
        testing::set_caller(BOB);
        assert_eq!(
            Registry::__dispatch("remove", br#"{"key":"greeting"}"#),
            Err(b"not the owner".to_vec())
        );
    }
}
