//! Typed events: topic 0 names the event, `#[topic]` fields follow as topics, the other fields are
//! the data.
//!
//! `#[derive(Event)]` on a struct with named fields implements [`Event`]:
//!
//! - topic 0 is `blake3(name)` where `name` is the struct's name (computed at compile time);
//! - each field marked `#[topic]` (a [`Topic`] type: [`Address`], [`U256`], `[u8; 32]`) is the next
//!   topic, in declaration order (at most 3: the host allows 4 topics);
//! - the remaining fields are the data: a JSON object in declaration order, `{}` if none. Their
//!   types must implement [`JsonEncode`](crate::json::JsonEncode).
//!
//! ```
//! use opmeter_sdk::{Address, Event, U256};
//!
//! #[derive(Event)]
//! struct Transfer {
//!     #[topic]
//!     from: Address,
//!     #[topic]
//!     to: Address,
//!     amount: U256,
//! }
//!
//! let event = Transfer { from: Address::ZERO, to: Address::repeat_byte(1), amount: 5u8.into() };
//! assert_eq!(Transfer::NAME, "Transfer");
//! assert_eq!(event.topics().len(), 3);
//! assert_eq!(event.data(), br#"{"amount":"5"}"#);
//! event.emit();
//! ```

use alloc::vec::Vec;

use crate::{env, Address, U256};

/// An event a contract can emit. Implement it with `#[derive(Event)]`.
pub trait Event {
    /// The event name (the struct's name).
    const NAME: &'static str;
    /// Topic 0: `blake3(NAME)`.
    const TOPIC: [u8; 32];

    /// All topics: [`Event::TOPIC`] followed by the `#[topic]` fields.
    fn topics(&self) -> Vec<[u8; 32]>;

    /// The data: a JSON object of the fields that are not topics.
    fn data(&self) -> Vec<u8>;

    /// Emits the event through the host.
    fn emit(&self) {
        env::emit_raw_event(&self.topics(), &self.data());
    }
}

/// A value that fits one 32-byte event topic.
pub trait Topic {
    /// The topic bytes.
    fn to_topic(&self) -> [u8; 32];
}

impl Topic for Address {
    fn to_topic(&self) -> [u8; 32] {
        self.to_bytes()
    }
}

impl Topic for U256 {
    /// The little-endian bytes, as everywhere in the ABI.
    fn to_topic(&self) -> [u8; 32] {
        self.to_le_bytes()
    }
}

impl Topic for [u8; 32] {
    fn to_topic(&self) -> [u8; 32] {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[derive(crate::Event)]
    struct Ping {}

    #[derive(crate::Event)]
    struct Moved {
        #[topic]
        who: Address,
        steps: u32,
        label: alloc::string::String,
    }

    #[test]
    fn topic_zero_is_the_blake3_of_the_name() {
        assert_eq!(Ping::TOPIC, *::blake3::hash(b"Ping").as_bytes());
        assert_eq!(Ping {}.topics(), [Ping::TOPIC]);
        assert_eq!(Ping {}.data(), b"{}");
    }

    #[test]
    fn topics_then_json_data() {
        testing::reset();
        let moved = Moved {
            who: Address::repeat_byte(9),
            steps: 3,
            label: "x".into(),
        };
        assert_eq!(moved.topics(), [Moved::TOPIC, [9; 32]]);
        assert_eq!(moved.data(), br#"{"steps":3,"label":"x"}"#);
        moved.emit();
        assert!(testing::has_event(&moved));
        assert_eq!(testing::events()[0].contract, testing::DEFAULT_CONTRACT);
    }
}
