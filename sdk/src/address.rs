//! [`Address`]: the 32-byte identity of an account or a contract.

use core::fmt;
use core::str::FromStr;

/// A 32-byte address (account: `blake3(ed25519 public key)`; contract:
/// `blake3(deployer ‖ code_hash ‖ salt)`).
///
/// Text form (`Display`, `FromStr`, JSON): `0x` followed by 64 lowercase hex digits; parsing also
/// accepts uppercase digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The all-zero address.
    pub const ZERO: Address = Address([0; 32]);

    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Address {
        Address(bytes)
    }

    /// An address whose 32 bytes are all `byte` (handy in tests).
    pub const fn repeat_byte(byte: u8) -> Address {
        Address([byte; 32])
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The raw bytes, by value.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// Whether every byte is zero.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }

    /// The text form, `0x` + 64 lowercase hex digits, as bytes.
    pub fn to_hex_bytes(&self) -> [u8; 66] {
        let mut text = [b'0'; 66];
        text[1] = b'x';
        for (pair, byte) in text[2..].chunks_exact_mut(2).zip(self.0) {
            pair[0] = crate::json::HEX_DIGITS[usize::from(byte >> 4)];
            pair[1] = crate::json::HEX_DIGITS[usize::from(byte & 0x0f)];
        }
        text
    }

    /// Appends the text form to `out`.
    pub(crate) fn write_hex(&self, out: &mut alloc::vec::Vec<u8>) {
        out.extend_from_slice(&self.to_hex_bytes());
    }
}

impl From<[u8; 32]> for Address {
    fn from(bytes: [u8; 32]) -> Address {
        Address(bytes)
    }
}

impl From<Address> for [u8; 32] {
    fn from(address: Address) -> [u8; 32] {
        address.0
    }
}

impl AsRef<[u8]> for Address {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_hex_bytes();
        // Only ASCII hex digits were written.
        f.write_str(core::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not an [`Address`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseAddressError {
    /// The string does not start with `0x`.
    MissingPrefix,
    /// The string does not have exactly 64 digits after `0x`.
    BadLength,
    /// A character is not a hex digit.
    BadDigit,
}

impl ParseAddressError {
    /// The message (also the `Display` text).
    pub fn text(self) -> &'static str {
        match self {
            ParseAddressError::MissingPrefix => "address must start with 0x",
            ParseAddressError::BadLength => "address must have 64 hex digits after 0x",
            ParseAddressError::BadDigit => "address has a non-hex character",
        }
    }
}

impl fmt::Display for ParseAddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl FromStr for Address {
    type Err = ParseAddressError;

    fn from_str(text: &str) -> Result<Address, ParseAddressError> {
        let digits = text
            .strip_prefix("0x")
            .ok_or(ParseAddressError::MissingPrefix)?
            .as_bytes();
        if digits.len() != 64 {
            return Err(ParseAddressError::BadLength);
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Ok(Address(bytes))
    }
}

fn hex_value(digit: u8) -> Result<u8, ParseAddressError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(ParseAddressError::BadDigit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn text_round_trip() {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8 * 7;
        }
        let address = Address(bytes);
        let text = address.to_string();
        assert_eq!(text.len(), 66);
        assert!(text.starts_with("0x00070e15"));
        assert_eq!(text.parse::<Address>(), Ok(address));
        assert_eq!(
            text.to_uppercase().replace("0X", "0x").parse::<Address>(),
            Ok(address)
        );
    }

    #[test]
    fn rejects_malformed_text() {
        let zeros = "0".repeat(64);
        assert_eq!(
            zeros.parse::<Address>(),
            Err(ParseAddressError::MissingPrefix)
        );
        assert_eq!("0x00".parse::<Address>(), Err(ParseAddressError::BadLength));
        let bad = alloc::format!("0x{}g", "0".repeat(63));
        assert_eq!(bad.parse::<Address>(), Err(ParseAddressError::BadDigit));
    }

    #[test]
    fn json_is_the_hex_string() {
        let address = Address::repeat_byte(0xab);
        let json = crate::json::to_vec(&address);
        assert_eq!(
            json,
            alloc::format!("\"0x{}\"", "ab".repeat(32)).into_bytes()
        );
        assert_eq!(crate::json::from_slice::<Address>(&json).unwrap(), address);
        assert_eq!(
            crate::json::from_slice::<Address>(b"\"0x12\"")
                .unwrap_err()
                .to_string(),
            "address must have 64 hex digits after 0x at line 1 column 6"
        );
    }
}
