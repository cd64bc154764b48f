//! How ledger data is written as bytes and as text, defined once: the borsh form of [`U256`]
//! (32 little-endian bytes), [`Hash32`], and the text forms every JSON document of Opmeter uses
//! (the audit bundle, the JSON-RPC wire types, the CLI's `--json`): `0x` hex for bytes and hashes
//! ([`HexBytes`], [`Hash32`]), decimal strings for gas and amounts, which exceed 2^53 ([`DecU64`],
//! [`DecU256`]). Parsing is strict: hex must carry its `0x`, decimals are ASCII digits only.
//!
//! ```
//! use opmeter_ledger::encoding::{DecU256, DecU64, Hash32, HexBytes};
//! let bytes: HexBytes = serde_json::from_str("\"0x0aff\"").unwrap();
//! assert_eq!(bytes.0, [0x0a, 0xff]);
//! assert_eq!(serde_json::to_string(&bytes).unwrap(), "\"0x0aff\"");
//! assert!(serde_json::from_str::<HexBytes>("\"0aff\"").is_err(), "the 0x is required");
//! let gas: DecU64 = serde_json::from_str("\"18446744073709551615\"").unwrap();
//! assert_eq!(gas.0, u64::MAX);
//! assert!(DecU64::parse("1e3").is_err());
//! assert_eq!(DecU256::parse("12").unwrap().to_string(), "12");
//! assert_eq!(Hash32([1; 32]).to_hex().len(), 66);
//! ```

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use opmeter_vm::U256;

/// Borsh encoding of [`U256`] as 32 little-endian bytes.
pub mod borsh_u256 {
    use super::U256;
    use std::io::{Read, Result, Write};

    /// Writes 32 little-endian bytes.
    ///
    /// # Errors
    /// When the writer fails.
    pub fn serialize<W: Write>(value: &U256, writer: &mut W) -> Result<()> {
        writer.write_all(&value.to_little_endian())
    }

    /// Reads 32 little-endian bytes.
    ///
    /// # Errors
    /// When the reader runs out of bytes.
    pub fn deserialize<R: Read>(reader: &mut R) -> Result<U256> {
        let mut bytes = [0u8; 32];
        reader.read_exact(&mut bytes)?;
        Ok(U256::from_little_endian(&bytes))
    }
}

/// Why a text form did not parse. The messages are what clients see (`{field}: {message}`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TextError {
    /// Hex without its `0x` prefix.
    #[error("expected 0x-prefixed hex")]
    MissingPrefix,
    /// Not hex digits, or an odd number of them.
    #[error("{0}")]
    Hex(#[from] hex::FromHexError),
    /// Hex of the wrong length.
    #[error("expected {expected} bytes")]
    Length {
        /// Bytes required.
        expected: u32,
    },
    /// Not a decimal integer string.
    #[error("expected a decimal integer string")]
    NotDecimal,
    /// A decimal too large for its type.
    #[error("does not fit in {bits} bits")]
    Overflow {
        /// Width of the type.
        bits: u32,
    },
}

/// `0x`-prefixed lowercase hex of `bytes`: the one text form of bytes.
pub fn to_hex0x(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 + 2 * bytes.len());
    text.push_str("0x");
    text.push_str(&hex::encode(bytes));
    text
}

/// Parses `0x`-prefixed hex (either case).
///
/// # Errors
/// [`TextError::MissingPrefix`] or [`TextError::Hex`].
pub fn from_hex0x(text: &str) -> Result<Vec<u8>, TextError> {
    let digits = text.strip_prefix("0x").ok_or(TextError::MissingPrefix)?;
    Ok(hex::decode(digits)?)
}

fn decimal_digits(text: &str) -> Result<(), TextError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TextError::NotDecimal);
    }
    Ok(())
}

/// Serde through the type's `Display`/`FromStr` text form.
macro_rules! text_serde {
    ($type:ty, $expecting:literal) => {
        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<$type, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $type;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$type, E> {
                        text.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    };
}

/// A 32-byte blake3 hash (transactions, blocks, roots, code). Text form: `0x` + 64 hex digits.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// `blake3(bytes)`.
    pub fn of(bytes: &[u8]) -> Hash32 {
        Hash32(*blake3::hash(bytes).as_bytes())
    }

    /// `0x`-prefixed lowercase hex.
    pub fn to_hex(&self) -> String {
        to_hex0x(&self.0)
    }

    /// Parses 32 bytes of hex, with or without `0x` (lenient, for command lines).
    ///
    /// # Errors
    /// When the text is not 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Hash32, hex::FromHexError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.strip_prefix("0x").unwrap_or(text), &mut out)?;
        Ok(Hash32(out))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for Hash32 {
    type Err = TextError;

    /// Strict: `0x` and exactly 32 bytes.
    fn from_str(text: &str) -> Result<Hash32, TextError> {
        from_hex0x(text)?
            .try_into()
            .map(Hash32)
            .map_err(|_| TextError::Length { expected: 32 })
    }
}

text_serde!(Hash32, "a 0x-prefixed 32-byte hex string");

/// Bytes whose text form is `0x` hex.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HexBytes(pub Vec<u8>);

impl fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex0x(&self.0))
    }
}

impl FromStr for HexBytes {
    type Err = TextError;

    fn from_str(text: &str) -> Result<HexBytes, TextError> {
        from_hex0x(text).map(HexBytes)
    }
}

impl From<Vec<u8>> for HexBytes {
    fn from(bytes: Vec<u8>) -> HexBytes {
        HexBytes(bytes)
    }
}

impl From<&[u8]> for HexBytes {
    fn from(bytes: &[u8]) -> HexBytes {
        HexBytes(bytes.to_vec())
    }
}

text_serde!(HexBytes, "a 0x-prefixed hex string");

/// A number type whose text form is a decimal string: `Display`, strict `FromStr`, serde.
macro_rules! decimal_text {
    ($(#[$doc:meta])* $name:ident($inner:ty), $bits:literal, $parse:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub $inner);

        impl $name {
            /// Parses ASCII decimal digits.
            ///
            /// # Errors
            /// [`TextError::NotDecimal`] or [`TextError::Overflow`].
            pub fn parse(text: &str) -> Result<$name, TextError> {
                text.parse()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = TextError;

            fn from_str(text: &str) -> Result<$name, TextError> {
                decimal_digits(text)?;
                let parse: fn(&str) -> Option<$inner> = $parse;
                parse(text)
                    .map($name)
                    .ok_or(TextError::Overflow { bits: $bits })
            }
        }

        impl From<$inner> for $name {
            fn from(value: $inner) -> $name {
                $name(value)
            }
        }

        text_serde!($name, "a decimal integer string");
    };
}

decimal_text!(
    /// A `u64` whose text form is a decimal string (gas: JSON numbers lose precision above 2^53).
    DecU64(u64),
    64,
    |text| text.parse().ok()
);

decimal_text!(
    /// A [`U256`] whose text form is a decimal string (balances, prices, fees).
    DecU256(U256),
    256,
    |text| U256::from_dec_str(text).ok()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip_and_reject_what_is_not_canonical_input() {
        let hash = Hash32([0xab; 32]);
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(json, format!("\"0x{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<Hash32>(&json).unwrap(), hash);
        assert_eq!(
            "0xab".parse::<Hash32>(),
            Err(TextError::Length { expected: 32 })
        );
        assert_eq!(
            "ab".repeat(32).parse::<Hash32>(),
            Err(TextError::MissingPrefix)
        );
        assert_eq!(Hash32::from_hex(&"ab".repeat(32)).unwrap(), hash);
        assert_eq!("0x".parse::<HexBytes>().unwrap(), HexBytes(Vec::new()));
        assert!(matches!(
            "0xabc".parse::<HexBytes>(),
            Err(TextError::Hex(_))
        ));
        assert!(matches!("0xzz".parse::<HexBytes>(), Err(TextError::Hex(_))));
        for bad in ["", "-1", "+1", " 1", "1.0", "0x10"] {
            assert_eq!(DecU64::parse(bad), Err(TextError::NotDecimal), "{bad:?}");
            assert_eq!(DecU256::parse(bad), Err(TextError::NotDecimal), "{bad:?}");
        }
        assert_eq!(
            DecU64::parse("18446744073709551616"),
            Err(TextError::Overflow { bits: 64 })
        );
        assert_eq!(
            DecU256::parse(&"9".repeat(78)),
            Err(TextError::Overflow { bits: 256 })
        );
        let max = DecU256(U256::MAX);
        let json = serde_json::to_string(&max).unwrap();
        assert_eq!(serde_json::from_str::<DecU256>(&json).unwrap(), max);
        assert!(
            serde_json::from_str::<DecU64>("5").is_err(),
            "numbers are not accepted"
        );
    }

    #[test]
    fn u256_borsh_is_32_little_endian_bytes() {
        let mut bytes = Vec::new();
        borsh_u256::serialize(&U256::from(0x0102u64), &mut bytes).unwrap();
        let mut expected = [0u8; 32];
        expected[0] = 0x02;
        expected[1] = 0x01;
        assert_eq!(bytes, expected);
        assert_eq!(
            borsh_u256::deserialize(&mut &bytes[..]).unwrap(),
            U256::from(0x0102u64)
        );
        assert!(borsh_u256::deserialize(&mut &bytes[..31]).is_err());
    }
}
