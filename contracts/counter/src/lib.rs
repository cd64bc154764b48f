//! A counter: `init(start)`, `increment(by?)` (emits `Incremented`), `get()`, `reset()` (owner
//! only).

#![no_std]

use opmeter_sdk::prelude::*;

const COUNT: Item<u64> = Item::new("count");
const OWNER: Item<Address> = Item::new("owner");

/// Emitted by every increment.
#[derive(Event)]
pub struct Incremented {
    /// Who incremented.
    #[topic]
    pub caller: Address,
    /// By how much.
    pub by: u64,
    /// The new count.
    pub count: u64,
}

/// The counter contract.
pub struct Counter;

#[contract]
impl Counter {
    /// Starts counting at `start`; the deployer becomes the owner.
    pub fn init(start: u64) {
        COUNT.save(&start);
        OWNER.save(&env::caller());
    }

    /// Adds `by` (default 1) and returns the new count.
    ///
    /// # Errors
    ///
    /// `counter overflow` past `u64::MAX`.
    pub fn increment(by: Option<u64>) -> Result<u64, &'static str> {
        let by = by.unwrap_or(1);
        let count = COUNT
            .load_or_default()
            .checked_add(by)
            .ok_or("counter overflow")?;
        COUNT.save(&count);
        Incremented {
            caller: env::caller(),
            by,
            count,
        }
        .emit();
        Ok(count)
    }

    /// The current count.
    pub fn get() -> u64 {
        COUNT.load_or_default()
    }

    /// Sets the count back to zero.
    ///
    /// # Errors
    ///
    /// `only the owner can reset` for any caller but the deployer.
    pub fn reset() -> Result<(), &'static str> {
        if OWNER.may_load() != Some(env::caller()) {
            return Err("only the owner can reset");
        }
        COUNT.save(&0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opmeter_sdk::testing;

    #[test]
    fn counts_from_start_and_emits() {
        Counter::init(5);
        assert_eq!(Counter::increment(None), Ok(6));
        assert_eq!(Counter::increment(Some(4)), Ok(10));
        assert_eq!(Counter::get(), 10);
        assert!(testing::has_event(&Incremented {
            caller: testing::DEFAULT_CALLER,
            by: 4,
            count: 10,
        }));
        assert_eq!(testing::events().len(), 2);
    }

    #[test]
    fn dispatch_speaks_json() {
        assert_eq!(Counter::__dispatch("init", br#"{"start":1}"#), Ok(vec![]));
        assert_eq!(Counter::__dispatch("increment", b""), Ok(b"2".to_vec()));
        assert_eq!(
            Counter::__dispatch("increment", br#"{"by":3}"#),
            Ok(b"5".to_vec())
        );
        assert_eq!(Counter::__dispatch("get", b"{}"), Ok(b"5".to_vec()));
        let bad = Counter::__dispatch("increment", br#"{"by":"x"}"#).unwrap_err();
        assert!(bad.starts_with(b"invalid arguments: "));
        let unknown = Counter::__dispatch("increment", br#"{"step":1}"#).unwrap_err();
        assert!(unknown.starts_with(b"invalid arguments: unknown field `step`"));
        let extra = Counter::__dispatch("get", br#"{"by":1}"#).unwrap_err();
        assert!(extra.starts_with(b"invalid arguments: this method takes none"));
        assert_eq!(Counter::__dispatch("get", b" { } "), Ok(b"5".to_vec()));
        assert_eq!(
            Counter::__dispatch("init", br#"{"start":1}"#),
            Err(b"already initialized".to_vec())
        );
    }

    #[test]
    fn overflow_reverts_and_rolls_back() {
        Counter::__dispatch("init", br#"{"start":18446744073709551615}"#).unwrap();
        assert_eq!(
            Counter::__dispatch("increment", b""),
            Err(b"counter overflow".to_vec())
        );
        assert_eq!(Counter::get(), u64::MAX);
        assert!(testing::events().is_empty());
    }

    #[test]
    fn only_the_owner_resets() {
        Counter::init(7);
        testing::set_caller(Address::repeat_byte(2));
        assert_eq!(Counter::reset(), Err("only the owner can reset"));
        testing::set_caller(testing::DEFAULT_CALLER);
        assert_eq!(Counter::reset(), Ok(()));
        assert_eq!(Counter::get(), 0);
    }
}
