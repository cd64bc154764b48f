//! The sdk's JSON codec against `serde_json`, the codec it replaced: for every input of a corpus
//! (valid arguments and their truncations, deletions and substitutions), both must accept the
//! same value or reject it with the same message at the same position. The only accepted
//! difference is documented in `opmeter_sdk::json`: the text of a non-integer number inside an
//! `invalid type: floating point` message.

use opmeter_sdk::{json, Address, JsonDecode, JsonEncode, U256};

/// serde twins of the sdk types, with the serde impls the sdk had before its own codec.
mod twin {
    use serde::de::{self, Deserializer, Visitor};
    use std::fmt;

    pub(crate) struct Address(pub opmeter_sdk::Address);

    impl fmt::Debug for Address {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(&self.0, f)
        }
    }

    impl<'de> de::Deserialize<'de> for Address {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
            struct AddressVisitor;
            impl Visitor<'_> for AddressVisitor {
                type Value = Address;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a 0x-prefixed string of 64 hex digits")
                }
                fn visit_str<E: de::Error>(self, text: &str) -> Result<Address, E> {
                    text.parse().map(Address).map_err(E::custom)
                }
            }
            deserializer.deserialize_str(AddressVisitor)
        }
    }

    pub(crate) struct U256(pub opmeter_sdk::U256);

    impl fmt::Debug for U256 {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(&self.0, f)
        }
    }

    impl<'de> de::Deserialize<'de> for U256 {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<U256, D::Error> {
            struct U256Visitor;
            impl Visitor<'_> for U256Visitor {
                type Value = U256;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a decimal string (or 0x-prefixed hex string) of a 256-bit integer")
                }
                fn visit_str<E: de::Error>(self, text: &str) -> Result<U256, E> {
                    text.parse().map(U256).map_err(E::custom)
                }
                fn visit_u64<E: de::Error>(self, value: u64) -> Result<U256, E> {
                    Ok(U256(value.into()))
                }
            }
            deserializer.deserialize_any(U256Visitor)
        }
    }
}

/// The same struct twice: with the sdk's derive and with serde's (as the `#[contract]` macro
/// used it: `deny_unknown_fields`).
macro_rules! twins {
    ($name:ident { $($field:ident: $ours:ty => $theirs:ty),* $(,)? }) => {
        mod $name {
            use super::*;

            #[derive(Debug, PartialEq, JsonEncode, JsonDecode)]
            #[allow(dead_code)]
            pub(crate) struct Args { $(pub(crate) $field: $ours),* }

            pub(crate) mod serde_twin {
                #[allow(unused_imports)]
                use super::super::*;

                #[derive(Debug, serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                #[allow(dead_code)]
                pub(crate) struct Args { $(pub(crate) $field: $theirs),* }
            }

            pub(crate) fn check(input: &[u8]) {
                let ours = json::from_slice::<Args>(input).map(|v| format!("{v:?}"));
                let theirs =
                    serde_json::from_slice::<serde_twin::Args>(input).map(|v| format!("{v:?}"));
                super::compare(input, ours, theirs);
            }
        }
    };
}

twins!(transfer { to: Address => twin::Address, amount: U256 => twin::U256 });
twins!(increment { by: Option<u64> => Option<u64> });
twins!(token_init { name: String => String, symbol: String => String, supply: U256 => twin::U256 });
twins!(mixed {
    n: u32 => u32,
    flag: bool => bool,
    list: Vec<u8> => Vec<u8>,
    pair: (u16, i8) => (u16, i8),
    signed: i64 => i64,
    maybe: Option<String> => Option<String>,
    fixed: [u8; 2] => [u8; 2],
    unit: () => (),
});

fn compare(
    input: &[u8],
    ours: Result<String, json::Error>,
    theirs: Result<String, serde_json::Error>,
) {
    let shown = String::from_utf8_lossy(input);
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "value of {shown:?}"),
        (Err(ours), Err(theirs)) => {
            let theirs = theirs.to_string();
            if theirs.contains("floating point `") {
                // Only the float's text may differ: compare the rest.
                let cut = |text: &str| {
                    let start = text.find("floating point `").unwrap();
                    let end = text[start + 16..].find('`').unwrap() + start + 16;
                    format!("{}{}", &text[..start], &text[end..])
                };
                assert_eq!(cut(&ours.to_string()), cut(&theirs), "error for {shown:?}");
            } else {
                assert_eq!(
                    ours.to_string(),
                    unescape_non_ascii(&theirs),
                    "error for {shown:?}"
                );
            }
        }
        (ours, theirs) => panic!("{shown:?}: sdk {ours:?}, serde_json {theirs:?}"),
    }
}

/// `text` with Rust's `\u{…}` escapes of non-ASCII characters (Debug of a non-printable
/// character) replaced by the character: the sdk never escapes non-ASCII characters.
fn unescape_non_ascii(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("\\u{") {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find('}').unwrap();
        let code = u32::from_str_radix(&rest[start + 3..end], 16).unwrap();
        match char::from_u32(code).filter(|_| code >= 0x80) {
            Some(c) => out.push(c),
            None => out.push_str(&rest[start..=end]),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

const SUBSTITUTES: &[u8] = b"\"\\,:{}[] \n-01.eExnt\x01\xff/u";

/// Every input derived from `seed`: itself, its prefixes, each byte deleted, each byte replaced
/// by each of [`SUBSTITUTES`], and each substitute inserted at each position.
fn corpus(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut inputs = vec![seed.to_vec()];
    for i in 0..=seed.len() {
        inputs.push(seed[..i].to_vec());
        if i < seed.len() {
            let mut deleted = seed.to_vec();
            deleted.remove(i);
            inputs.push(deleted);
        }
        for &byte in SUBSTITUTES {
            let mut inserted = seed.to_vec();
            inserted.insert(i, byte);
            inputs.push(inserted);
            if i < seed.len() {
                let mut replaced = seed.to_vec();
                replaced[i] = byte;
                inputs.push(replaced);
            }
        }
    }
    inputs
}

fn address() -> String {
    format!("0x{}", "ab".repeat(32))
}

#[test]
fn transfer_arguments_decode_like_serde_json() {
    let seeds = [
        format!(r#"{{"to": "{}", "amount": "10"}}"#, address()),
        format!(r#"{{"amount":5,"to":"{}"}}"#, address()),
        format!(r#"["{}", "0x1f"]"#, address()),
        r#"{"to": 5, "amount": -3}"#.to_string(),
        r#"{"to": "0x12", "amount": [1]}"#.to_string(),
        "{\n  \"to\": null,\n  \"amount\": {}\n}".to_string(),
        r#"{"amount": "115792089237316195423570985008687907853269984665640564039457584007913129639936"}"#.to_string(),
        r#"{"amount": 1.5e3, "amount": true}"#.to_string(),
    ];
    for seed in &seeds {
        for input in corpus(seed.as_bytes()) {
            transfer::check(&input);
        }
    }
}

#[test]
fn optional_and_string_arguments_decode_like_serde_json() {
    for seed in [
        r#"{"by": 2}"#,
        r#"{}"#,
        r#"{"by": null}"#,
        r#"{"by": 18446744073709551615}"#,
        r#"{"by": 18446744073709551616}"#,
        r#"{"step": 1}"#,
        r#"{"by": "x\n\u00e9\"\\"}"#,
        r#"[7]"#,
        r#"{"by": -0}"#,
    ] {
        for input in corpus(seed.as_bytes()) {
            increment::check(&input);
        }
    }
    for seed in [
        r#"{"name": "Opmeter \"T\" \u20ac \ud83d\ude00", "symbol": "OPM", "supply": "1000"}"#,
        r#"{"name": "a\/b\b\f\n\r\t", "symbol": "\u0000", "supply": 0}"#,
        r#"{"name": "\ud800", "symbol": "\udc00x", "supply": "0x"}"#,
    ] {
        for input in corpus(seed.as_bytes()) {
            token_init::check(&input);
        }
    }
}

#[test]
fn every_supported_type_decodes_like_serde_json() {
    for seed in [
        r#"{"n": 4294967295, "flag": true, "list": [1, 2, 255], "pair": [65535, -128], "signed": -9223372036854775808, "maybe": "m", "fixed": [1, 2], "unit": null}"#,
        r#"{"n": 4294967296, "flag": false, "list": [], "pair": [1], "signed": 9223372036854775808, "maybe": null, "fixed": [1, 2, 3], "unit": 0}"#,
        r#"[0, false, [256], [1, 2, 3], -1, null, [], null]"#,
        r#"{"n": 01, "flag": tru, "list": [1,], "pair": {}, "signed": 1e5, "fixed": "ab"}"#,
    ] {
        for input in corpus(seed.as_bytes()) {
            mixed::check(&input);
        }
    }
}

#[test]
fn encoding_matches_serde_json() {
    #[derive(JsonEncode)]
    struct Ours {
        text: String,
        small: i8,
        big: u64,
        list: Vec<Option<bool>>,
        pair: (u8, String),
        empty: [u32; 0],
    }
    #[derive(serde::Serialize)]
    struct Theirs {
        text: String,
        small: i8,
        big: u64,
        list: Vec<Option<bool>>,
        pair: (u8, String),
        empty: [u32; 0],
    }
    let text: String = (0u8..0x80).map(char::from).chain("é€😀".chars()).collect();
    let ours = Ours {
        text: text.clone(),
        small: -128,
        big: u64::MAX,
        list: vec![Some(true), None, Some(false)],
        pair: (7, "\u{7f}".into()),
        empty: [],
    };
    let theirs = Theirs {
        text,
        small: -128,
        big: u64::MAX,
        list: vec![Some(true), None, Some(false)],
        pair: (7, "\u{7f}".into()),
        empty: [],
    };
    assert_eq!(
        String::from_utf8(json::to_vec(&ours)).unwrap(),
        serde_json::to_string(&theirs).unwrap()
    );
    assert_eq!(
        json::to_vec(&U256::MAX),
        format!("\"{}\"", U256::MAX).into_bytes()
    );
    assert_eq!(
        json::to_vec(&Address::ZERO),
        format!("\"0x{}\"", "00".repeat(32)).into_bytes()
    );
}
