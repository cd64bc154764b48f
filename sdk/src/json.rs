//! The sdk's JSON codec: what method arguments, results and event data are encoded with.
//!
//! Small on purpose (contract bytes cost gas): no floats, no `core::fmt`, no serde. It reads
//! and writes exactly the JSON the sdk's calling convention uses, and reports errors with
//! `serde_json`'s messages and positions (`missing field `to` at line 1 column 2`), so that a
//! contract's inputs, outputs and revert messages are what they were when the sdk used
//! `serde_json`. A differential test holds the two equal. Two differences remain, both in error
//! texts only: a number that is not an integer is quoted as written (`floating point `1e3``
//! where `serde_json` prints `1000.0`), and non-ASCII characters of a quoted string are never
//! escaped.
//!
//! | Rust type | JSON |
//! |---|---|
//! | `u8`…`u64`, `usize`, `i8`…`i64`, `isize` | numbers (a decoded number must fit the type) |
//! | `bool` | `true` / `false` |
//! | `String` (`str` encodes too) | strings |
//! | `Option<T>` | `null` or `T`; an absent field is `None` |
//! | `Vec<T>`, `[T]`, `[T; N]`, tuples up to 4 | arrays |
//! | `()` | `null` |
//! | [`Address`](crate::Address) | `"0x"` + 64 hex digits |
//! | [`U256`](crate::U256) | a decimal string (decoding also takes `"0x…"` and integers) |
//! | structs with named fields | objects, with `#[derive(JsonEncode, JsonDecode)]` |
//!
//! ```
//! use opmeter_sdk::{json, JsonDecode, JsonEncode};
//!
//! #[derive(JsonEncode, JsonDecode, Debug, PartialEq)]
//! struct Point {
//!     x: u32,
//!     label: Option<String>,
//! }
//!
//! let point: Point = json::from_slice(br#"{"x": 3}"#).unwrap();
//! assert_eq!(point, Point { x: 3, label: None });
//! assert_eq!(json::to_vec(&point), br#"{"x":3,"label":null}"#);
//! let error = json::from_slice::<Point>(br#"{"x": -1}"#).unwrap_err();
//! assert_eq!(error.to_string(), "invalid value: integer `-1`, expected u32 at line 1 column 8");
//! ```

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A type that writes itself as JSON.
pub trait JsonEncode {
    /// Appends the JSON of `self` to `out`.
    fn encode_json(&self, out: &mut Vec<u8>);
}

/// A type that reads itself from JSON.
pub trait JsonDecode: Sized {
    /// Reads one value at the parser's position (leading whitespace allowed).
    ///
    /// # Errors
    /// When the JSON there is malformed or not a `Self`.
    fn decode_json(parser: &mut Parser<'_>) -> Result<Self, Error>;

    /// The value of a struct field that is absent: an error (`missing field`), except for
    /// `Option`, which is `None`.
    ///
    /// # Errors
    /// `missing field `name``.
    fn missing_field(name: &str) -> Result<Self, Error> {
        Err(Error::missing_field(name))
    }
}

/// The JSON of `value`.
pub fn to_vec<T: JsonEncode + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(crate::__private::JSON_CAPACITY);
    value.encode_json(&mut out);
    out
}

/// Decodes one `T` from the whole of `input` (whitespace around it allowed).
///
/// # Errors
/// When `input` is not the JSON of a `T`, or has more after it (`trailing characters`).
pub fn from_slice<T: JsonDecode>(input: &[u8]) -> Result<T, Error> {
    let mut parser = Parser::new(input);
    let value = T::decode_json(&mut parser)?;
    parser.finish()?;
    Ok(value)
}

/// Why JSON did not decode: a message and, when known, where (1-based line, 0-based column of
/// the byte after the problem, as `serde_json` counts).
///
/// One pointer: every `Result<_, Error>` of the parser stays small, so passing results on costs
/// little code and gas (errors are rare; they pay an allocation).
#[derive(Clone, PartialEq, Eq)]
pub struct Error(alloc::boxed::Box<ErrorAt>);

/// What an [`Error`] points to.
#[derive(Clone, PartialEq, Eq)]
struct ErrorAt {
    message: String,
    line: usize,
    column: usize,
}

impl Error {
    /// An error with this message and no position yet (the parser adds it).
    #[cold]
    #[inline(never)]
    pub fn custom(message: &str) -> Error {
        Error::message(&[message.as_bytes()])
    }

    /// The message of `parts` concatenated (each part is UTF-8 or a whole UTF-8 sequence).
    #[cold]
    #[inline(never)]
    fn message(parts: &[&[u8]]) -> Error {
        let mut message = Vec::new();
        for part in parts {
            put(&mut message, part);
        }
        Error(alloc::boxed::Box::new(ErrorAt {
            message: crate::utf8::to_string(message).unwrap_or_default(),
            line: 0,
            column: 0,
        }))
    }

    /// `missing field `name`` (one copy for every field of every type).
    #[cold]
    #[inline(never)]
    fn missing_field(name: &str) -> Error {
        Error::message(&[b"missing field `", name.as_bytes(), b"`"])
    }

    /// `invalid type: {unexpected}, expected {expected}`.
    #[cold]
    #[inline(never)]
    fn invalid_type(unexpected: Unexpected<'_>, expected: &str) -> Error {
        Error::unexpected(b"invalid type: ", unexpected, expected)
    }

    /// `invalid value: {unexpected}, expected {expected}`.
    #[cold]
    #[inline(never)]
    fn invalid_value(unexpected: Unexpected<'_>, expected: &str) -> Error {
        Error::unexpected(b"invalid value: ", unexpected, expected)
    }

    #[cold]
    #[inline(never)]
    fn unexpected(prefix: &[u8], unexpected: Unexpected<'_>, expected: &str) -> Error {
        let mut text = Vec::new();
        put(&mut text, prefix);
        unexpected.write(&mut text);
        put(&mut text, b", expected ");
        put(&mut text, expected.as_bytes());
        Error::message(&[&text])
    }

    /// The message without the position.
    pub fn text(&self) -> &str {
        &self.0.message
    }

    /// The 1-based line of the problem, 0 when unknown.
    pub fn line(&self) -> usize {
        self.0.line
    }

    /// The column of the problem (see [`Error`]).
    pub fn column(&self) -> usize {
        self.0.column
    }

    /// Appends the message and its position (`… at line 1 column 7`) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        put(out, self.0.message.as_bytes());
        if self.0.line != 0 {
            put(out, b" at line ");
            write_u64(out, self.0.line as u64);
            put(out, b" column ");
            write_u64(out, self.0.column as u64);
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = Vec::new();
        self.write_to(&mut text);
        f.write_str(core::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What was found instead of the expected value (serde's `Unexpected`).
#[derive(Clone, Copy)]
enum Unexpected<'a> {
    Unit,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    /// A number that is not an integer (or does not fit 64 bits), as written.
    Float(&'a [u8]),
    Str(&'a str),
    Seq,
    Map,
}

impl Unexpected<'_> {
    #[cold]
    #[inline(never)]
    fn write(self, out: &mut Vec<u8>) {
        match self {
            Unexpected::Unit => put(out, b"null"),
            Unexpected::Bool(value) => {
                put(
                    out,
                    if value {
                        b"boolean `true`"
                    } else {
                        b"boolean `false`"
                    },
                );
            }
            Unexpected::Unsigned(value) => {
                put(out, b"integer `");
                write_u64(out, value);
                put(out, b"`");
            }
            Unexpected::Signed(value) => {
                put(out, b"integer `");
                write_i64(out, value);
                put(out, b"`");
            }
            Unexpected::Float(text) => {
                put(out, b"floating point `");
                put(out, text);
                // serde prints a float with a decimal point.
                if !text.iter().any(|&b| matches!(b, b'.' | b'e' | b'E')) {
                    put(out, b".0");
                }
                put(out, b"`");
            }
            Unexpected::Str(text) => {
                put(out, b"string \"");
                write_debug_escaped(out, text);
                put(out, b"\"");
            }
            Unexpected::Seq => put(out, b"sequence"),
            Unexpected::Map => put(out, b"map"),
        }
    }
}

/// `text` escaped like Rust's `{:?}` for ASCII (quotes, backslashes, control characters);
/// other characters unchanged.
#[cold]
#[inline(never)]
fn write_debug_escaped(out: &mut Vec<u8>, text: &str) {
    for &byte in text.as_bytes() {
        // `\u{1f}`, or `\u{f}` below 0x10.
        let unicode = [
            b'\\',
            b'u',
            b'{',
            HEX_DIGITS[usize::from(byte >> 4)],
            HEX_DIGITS[usize::from(byte & 0x0f)],
            b'}',
        ];
        let short = [b'\\', b'u', b'{', unicode[4], b'}'];
        put(
            out,
            match byte {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\t' => b"\\t",
                b'\r' => b"\\r",
                b'\n' => b"\\n",
                b'\0' => b"\\0",
                0x01..=0x0f => &short,
                0x10..=0x1f | 0x7f => &unicode,
                _ => core::slice::from_ref(&byte),
            },
        );
    }
}

/// Appends `bytes` (one call site for the cold paths, instead of inlined copies).
#[inline(never)]
pub(crate) fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
}

pub(crate) const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The value of a hex digit (either case). Out of line: its callers (escapes, `0x` numbers)
/// are rare, and their loops are unrolled.
#[inline(never)]
pub(crate) fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Two decimal digits of every number below 100 (one division per two digits: `div` costs
/// gas).
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends the decimal digits of `value`.
pub fn write_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while value >= 100 {
        let pair = (value % 100) as usize * 2;
        value /= 100;
        start -= 2;
        if let (Some(slot), Some(pair)) = (
            digits.get_mut(start..start + 2),
            DIGIT_PAIRS.get(pair..pair + 2),
        ) {
            slot.copy_from_slice(pair);
        }
    }
    if value >= 10 {
        let pair = value as usize * 2;
        start -= 2;
        if let (Some(slot), Some(pair)) = (
            digits.get_mut(start..start + 2),
            DIGIT_PAIRS.get(pair..pair + 2),
        ) {
            slot.copy_from_slice(pair);
        }
    } else {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            *slot = b'0' + value as u8;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// Appends the decimal digits of `value`, with a `-` when negative.
pub fn write_i64(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    write_u64(out, value.unsigned_abs());
}

/// Appends `text` as a JSON string, escaped as `serde_json` escapes it.
#[inline(never)]
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    if !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        return;
    }
    // Strings with escapes are rare: one appending call per byte, one copy of the code.
    for &byte in text.as_bytes() {
        let unicode = [
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX_DIGITS[usize::from(byte >> 4)],
            HEX_DIGITS[usize::from(byte & 0x0f)],
        ];
        put(
            out,
            match byte {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0x00..=0x1f => &unicode,
                _ => core::slice::from_ref(&byte),
            },
        );
    }
    out.push(b'"');
}

/// A number as read: an integer that fits 64 bits, or any other number as written.
enum Number<'a> {
    Unsigned(u64),
    Signed(i64),
    Float(&'a [u8]),
}

/// Reads JSON from a byte slice, the way `serde_json::from_slice` does (same errors at the same
/// positions). Used by [`JsonDecode`] implementations.
pub struct Parser<'a> {
    input: &'a [u8],
    index: usize,
    /// Inside an object, a field's value follows a `:` that [`Parser::field`] must read.
    colon_pending: bool,
}

const EOF_LIST: &str = "EOF while parsing a list";
const EOF_OBJECT: &str = "EOF while parsing an object";
const EOF_STRING: &str = "EOF while parsing a string";
const EOF_VALUE: &str = "EOF while parsing a value";
const TRAILING_COMMA: &str = "trailing comma";
const TRAILING_CHARACTERS: &str = "trailing characters";
const INVALID_NUMBER: &str = "invalid number";
const INVALID_ESCAPE: &str = "invalid escape";
const KEY_MUST_BE_A_STRING: &str = "key must be a string";
const LONE_SURROGATE: &str = "lone leading surrogate in hex escape";
const NUMBER_OUT_OF_RANGE: &str = "number out of range";

/// Whether `significand × 10^exponent` is beyond `f64::MAX` (where `serde_json` reports
/// `number out of range`; exact but for values within 10^-16 of `f64::MAX`).
#[cold]
#[inline(never)]
fn overflows_f64(significand: u64, exponent: i64) -> bool {
    if significand == 0 {
        return false;
    }
    let digits = significand.ilog10() as i64 + 1;
    let magnitude = digits + exponent;
    if magnitude != 309 {
        return magnitude > 309;
    }
    // 0.d₁d₂… × 10^309 against f64::MAX = 1.7976931348623157e308, on 17 leading digits.
    let mut leading = significand;
    for _ in 17..digits {
        leading /= 10;
    }
    for _ in digits..17 {
        leading *= 10;
    }
    leading > 17_976_931_348_623_157
}

impl<'a> Parser<'a> {
    /// A parser at the start of `input`.
    pub fn new(input: &'a [u8]) -> Parser<'a> {
        Parser {
            input,
            index: 0,
            colon_pending: false,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.index).copied()
    }

    fn eat(&mut self) {
        self.index += 1;
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.index += 1;
        Some(byte)
    }

    /// An error located at byte `index` (line and column as `serde_json` counts them).
    #[cold]
    #[inline(never)]
    fn error_at(&self, index: usize, message: &str) -> Error {
        self.locate(Error::custom(message), index)
    }

    #[cold]
    #[inline(never)]
    fn locate(&self, mut error: Error, index: usize) -> Error {
        let before = self.input.get(..index).unwrap_or(self.input);
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |newline| newline + 1);
        error.0.line = 1 + before
            .iter()
            .take(line_start)
            .filter(|&&b| b == b'\n')
            .count();
        error.0.column = index - line_start;
        error
    }

    /// An error caused by the byte just read.
    #[cold]
    #[inline(never)]
    fn error(&self, message: &str) -> Error {
        self.error_at(self.index, message)
    }

    /// An error caused by the byte about to be read.
    #[cold]
    #[inline(never)]
    fn peek_error(&self, message: &str) -> Error {
        self.error_at((self.index + 1).min(self.input.len()), message)
    }

    /// Gives `error` the current position unless it has one.
    #[cold]
    #[inline(never)]
    pub fn fix(&self, error: Error) -> Error {
        if error.0.line == 0 {
            self.locate(error, self.index)
        } else {
            error
        }
    }

    /// Skips whitespace; the next byte, not consumed.
    fn whitespace(&mut self) -> Option<u8> {
        while let Some(byte) = self.peek() {
            if !matches!(byte, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(byte);
            }
            self.eat();
        }
        None
    }

    /// The next non-whitespace byte, or `EOF while parsing a value`.
    fn value_start(&mut self) -> Result<u8, Error> {
        self.whitespace().ok_or_else(|| self.peek_error(EOF_VALUE))
    }

    /// Checks that only whitespace is left.
    ///
    /// # Errors
    /// `trailing characters`.
    pub fn finish(&mut self) -> Result<(), Error> {
        match self.whitespace() {
            Some(_) => Err(self.peek_error(TRAILING_CHARACTERS)),
            None => Ok(()),
        }
    }

    #[inline(never)]
    fn ident(&mut self, rest: &[u8]) -> Result<(), Error> {
        for &expected in rest {
            match self.next() {
                None => return Err(self.error(EOF_VALUE)),
                Some(byte) if byte != expected => return Err(self.error("expected ident")),
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Reads whatever value starts here and reports it as not the `expected` one.
    #[cold]
    #[inline(never)]
    fn invalid_type(&mut self, expected: &str) -> Error {
        let error = match self.peek().unwrap_or(0) {
            b'n' => {
                self.eat();
                if let Err(error) = self.ident(b"ull") {
                    return error;
                }
                Error::invalid_type(Unexpected::Unit, expected)
            }
            b't' => {
                self.eat();
                if let Err(error) = self.ident(b"rue") {
                    return error;
                }
                Error::invalid_type(Unexpected::Bool(true), expected)
            }
            b'f' => {
                self.eat();
                if let Err(error) = self.ident(b"alse") {
                    return error;
                }
                Error::invalid_type(Unexpected::Bool(false), expected)
            }
            b'-' | b'0'..=b'9' => match self.number() {
                Ok(number) => number_error(number, expected, false),
                Err(error) => return error,
            },
            b'"' => {
                self.eat();
                match self.string() {
                    Ok(text) => Error::invalid_type(Unexpected::Str(&text), expected),
                    Err(error) => return error,
                }
            }
            b'[' => Error::invalid_type(Unexpected::Seq, expected),
            b'{' => Error::invalid_type(Unexpected::Map, expected),
            _ => return self.peek_error("expected value"),
        };
        self.fix(error)
    }

    /// Reads a number starting here (at `-` or a digit).
    fn number(&mut self) -> Result<Number<'a>, Error> {
        let start = self.index;
        let positive = self.peek() != Some(b'-');
        if !positive {
            self.eat();
        }
        let mut significand: u64 = match self.next() {
            None => return Err(self.error(EOF_VALUE)),
            Some(b'0') => {
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(self.peek_error(INVALID_NUMBER));
                }
                0
            }
            Some(digit @ b'1'..=b'9') => u64::from(digit - b'0'),
            Some(_) => return Err(self.error(INVALID_NUMBER)),
        };
        // As serde_json: the significand keeps the digits that fit a u64; digits of the integer
        // part past that scale it up, digits of the fraction that fit scale it down.
        let (_, skipped) = self.digits(&mut significand);
        let mut exponent = skipped;
        let mut float = skipped != 0;
        if self.peek() == Some(b'.') {
            self.eat();
            float = true;
            let (taken, skipped) = self.digits(&mut significand);
            if taken + skipped == 0 {
                return Err(match self.peek() {
                    Some(_) => self.peek_error(INVALID_NUMBER),
                    None => self.peek_error(EOF_VALUE),
                });
            }
            exponent -= taken;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            float = true;
            exponent = self.exponent(significand, exponent)?;
            if exponent == i64::MIN {
                significand = 0;
                exponent = 0;
            }
        }
        if float && overflows_f64(significand, exponent) {
            return Err(self.error(NUMBER_OUT_OF_RANGE));
        }
        if float
            || (!positive && significand > i64::MIN.unsigned_abs())
            || (!positive && significand == 0)
        {
            return Ok(Number::Float(
                self.input.get(start..self.index).unwrap_or_default(),
            ));
        }
        Ok(if positive {
            Number::Unsigned(significand)
        } else {
            Number::Signed(0i64.wrapping_sub_unsigned(significand))
        })
    }

    /// Reads decimal digits into `significand` while it fits a u64, then skips the rest: how
    /// many were taken and how many skipped. (Compared with `u64::MAX / 10`, not
    /// `checked_mul`, whose overflow check costs a 128-bit multiplication call on wasm32.)
    fn digits(&mut self, significand: &mut u64) -> (i64, i64) {
        const MAX_TENTH: u64 = u64::MAX / 10;
        const MAX_LAST: u64 = u64::MAX % 10;
        let (mut taken, mut skipped) = (0, 0);
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            self.eat();
            let digit = u64::from(digit - b'0');
            if skipped == 0
                && (*significand < MAX_TENTH || (*significand == MAX_TENTH && digit <= MAX_LAST))
            {
                *significand = *significand * 10 + digit;
                taken += 1;
            } else {
                skipped += 1;
            }
        }
        (taken, skipped)
    }

    /// Reads the exponent part of a number at its `e`/`E` and adds it to `exponent`;
    /// `i64::MIN` when the number is zero (an exponent past `i32` towards zero).
    #[cold]
    #[inline(never)]
    fn exponent(&mut self, significand: u64, exponent: i64) -> Result<i64, Error> {
        self.eat();
        let positive_exponent = match self.peek() {
            Some(b'-') => {
                self.eat();
                false
            }
            Some(b'+') => {
                self.eat();
                true
            }
            _ => true,
        };
        let mut value: i64 = match self.next() {
            Some(digit @ b'0'..=b'9') => i64::from(digit - b'0'),
            Some(_) => return Err(self.error(INVALID_NUMBER)),
            None => return Err(self.error(EOF_VALUE)),
        };
        let mut zero = false;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            self.eat();
            if zero {
                continue;
            }
            value = value * 10 + i64::from(digit - b'0');
            if value > i64::from(i32::MAX) {
                // An exponent past i32: infinity is an error, zero is zero.
                if significand != 0 && positive_exponent {
                    return Err(self.error(NUMBER_OUT_OF_RANGE));
                }
                zero = true;
            }
        }
        if zero {
            return Ok(i64::MIN);
        }
        Ok(exponent + if positive_exponent { value } else { -value })
    }

    /// Reads a number for an integer type (`expected` names it when the value is no number).
    fn integer(&mut self, expected: &str) -> Result<Number<'a>, Error> {
        match self.value_start()? {
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.invalid_type(expected)),
        }
    }

    /// Reads an unsigned integer of at most `max`.
    ///
    /// # Errors
    /// When the value is not such an integer (`expected` names the type).
    pub fn unsigned(&mut self, max: u64, expected: &str) -> Result<u64, Error> {
        match self.integer(expected)? {
            Number::Unsigned(value) if value <= max => Ok(value),
            number => Err(self.fix(number_error(number, expected, true))),
        }
    }

    /// Reads a signed integer in `min..=max`.
    ///
    /// # Errors
    /// When the value is not such an integer (`expected` names the type).
    pub fn signed(&mut self, min: i64, max: i64, expected: &str) -> Result<i64, Error> {
        let number = self.integer(expected)?;
        let value = match number {
            Number::Unsigned(value) => i64::try_from(value).ok(),
            Number::Signed(value) => Some(value),
            Number::Float(_) => None,
        };
        match value {
            Some(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(self.fix(number_error(number, expected, true))),
        }
    }

    /// Reads a string value (`expected` names the type when it is not a string).
    ///
    /// # Errors
    /// When the value is not a well-formed string.
    pub fn string_value(&mut self, expected: &str) -> Result<String, Error> {
        self.text_value(expected).map(Cow::into_owned)
    }

    /// [`Parser::string_value`], borrowed from the input when it has no escape.
    fn text_value(&mut self, expected: &str) -> Result<Cow<'a, str>, Error> {
        if self.value_start()? != b'"' {
            return Err(self.invalid_type(expected));
        }
        self.eat();
        self.text()
    }

    /// Reads a string value and converts it; a conversion error gets the position after the
    /// string.
    ///
    /// # Errors
    /// When the value is not a string, or `convert` fails.
    pub fn parse_string<T>(
        &mut self,
        expected: &str,
        convert: impl FnOnce(&str) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let text = self.text_value(expected)?;
        convert(&text).map_err(|error| self.fix(error))
    }

    /// Reads the rest of a string whose opening `"` was read.
    fn string(&mut self) -> Result<String, Error> {
        self.text().map(Cow::into_owned)
    }

    /// [`Parser::string`], borrowed from the input when it has no escape (no allocation).
    fn text(&mut self) -> Result<Cow<'a, str>, Error> {
        // Fast path (as serde_json's): no escape, the bytes borrowed from the input.
        let start = self.index;
        let rest = self.input.get(start..).unwrap_or_default();
        if let Some(len) = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        {
            if rest.get(len) == Some(&b'"') {
                self.index = start + len + 1;
                let bytes = rest.get(..len).unwrap_or_default();
                return match crate::utf8::to_str(bytes) {
                    Ok(text) => Ok(Cow::Borrowed(text)),
                    Err(error) => Err(self.invalid_utf8(bytes.len() - error.valid_up_to)),
                };
            }
        }
        let mut bytes = Vec::new();
        loop {
            let Some(byte) = self.next() else {
                return Err(self.error(EOF_STRING));
            };
            match byte {
                b'"' => break,
                b'\\' => self.escape(&mut bytes)?,
                0x00..=0x1f => {
                    return Err(self
                        .error("control character (\\u0000-\\u001F) found while parsing a string"))
                }
                _ => bytes.push(byte),
            }
        }
        let len = bytes.len();
        crate::utf8::to_string(bytes)
            .map(Cow::Owned)
            .map_err(|error| self.invalid_utf8(len - error.valid_up_to))
    }

    /// `invalid unicode code point`, `bad` bytes before the end of the string just read.
    #[cold]
    #[inline(never)]
    fn invalid_utf8(&self, bad: usize) -> Error {
        let mut located = self.error("invalid unicode code point");
        located.0.column = located.0.column.saturating_sub(bad);
        located
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        let Some(byte) = self.next() else {
            return Err(self.error(EOF_STRING));
        };
        let decoded = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => return self.unicode_escape(out),
            _ => return Err(self.error(INVALID_ESCAPE)),
        };
        out.push(decoded);
        Ok(())
    }

    #[inline(never)]
    fn hex_escape(&mut self) -> Result<u32, Error> {
        // Four digits, a count hidden from the compiler so that it keeps the loop (escapes are
        // rare; code bytes are paid on every call).
        let four = core::hint::black_box(4);
        let Some(digits) = self.input.get(self.index..self.index + four) else {
            self.index = self.input.len();
            return Err(self.error(EOF_STRING));
        };
        self.index += four;
        let mut value = 0;
        for &digit in digits {
            let Some(nibble) = hex_value(digit) else {
                return Err(self.error(INVALID_ESCAPE));
            };
            value = (value << 4) | u32::from(nibble);
        }
        Ok(value)
    }

    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        let first = self.hex_escape()?;
        let code = match first {
            0xdc00..=0xdfff => return Err(self.error(LONE_SURROGATE)),
            0xd800..=0xdbff => {
                for expected in [b'\\', b'u'] {
                    match self.peek() {
                        None => return Err(self.error(EOF_STRING)),
                        Some(byte) => {
                            self.eat();
                            if byte != expected {
                                return Err(self.error("unexpected end of hex escape"));
                            }
                        }
                    }
                }
                let second = self.hex_escape()?;
                if !(0xdc00..=0xdfff).contains(&second) {
                    return Err(self.error(LONE_SURROGATE));
                }
                (((first - 0xd800) << 10) | (second - 0xdc00)) + 0x1_0000
            }
            code => code,
        };
        let mut buffer = [0u8; 4];
        // Surrogates were handled above, so `code` is a scalar value.
        let text = char::from_u32(code)
            .unwrap_or_default()
            .encode_utf8(&mut buffer);
        out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    /// Reads an array: `element(parser, index)` reads each element; at most `len` of them when
    /// given, and then exactly `len` (`invalid length` names `expected` otherwise).
    ///
    /// # Errors
    /// When the value is not such an array.
    pub fn array(
        &mut self,
        len: Option<usize>,
        expected: &str,
        mut element: impl FnMut(&mut Parser<'a>, usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.array_dyn(len, expected, &mut element)
    }

    /// [`Parser::array`] without the generic (one copy in a contract).
    #[inline(never)]
    fn array_dyn(
        &mut self,
        len: Option<usize>,
        expected: &str,
        element: &mut dyn ReadPart<'a>,
    ) -> Result<(), Error> {
        if self.value_start()? != b'[' {
            return Err(self.invalid_type(expected));
        }
        self.eat();
        let read = self.elements(len, expected, element);
        self.close(read, b']')
    }

    /// The elements of an array whose `[` was read (not its `]`).
    fn elements(
        &mut self,
        len: Option<usize>,
        expected: &str,
        element: &mut dyn ReadPart<'a>,
    ) -> Result<(), Error> {
        let mut index = 0;
        while len.is_none_or(|len| index < len) {
            let more = match self.whitespace() {
                None => return Err(self.peek_error(EOF_LIST)),
                Some(b']') => false,
                Some(_) if index == 0 => true,
                Some(b',') => {
                    self.eat();
                    match self.whitespace() {
                        Some(b']') => return Err(self.peek_error(TRAILING_COMMA)),
                        Some(_) => true,
                        None => return Err(self.peek_error(EOF_VALUE)),
                    }
                }
                Some(_) => return Err(self.peek_error("expected `,` or `]`")),
            };
            if !more {
                if len.is_none() {
                    break;
                }
                return Err(invalid_length(index, expected));
            }
            element.read(self, index)?;
            index += 1;
        }
        Ok(())
    }

    /// Reads the closing `]` or `}` after the elements or fields read with `result`, as
    /// `serde_json` does even when they failed (the error's position is taken after it).
    fn close(&mut self, result: Result<(), Error>, bracket: u8) -> Result<(), Error> {
        let end = self.end(bracket);
        result.and(end).map_err(|error| self.fix(error))
    }

    fn end(&mut self, bracket: u8) -> Result<(), Error> {
        match self.whitespace() {
            Some(byte) if byte == bracket => {
                self.eat();
                Ok(())
            }
            Some(b',') if bracket == b']' => {
                self.eat();
                match self.whitespace() {
                    Some(b']') => Err(self.peek_error(TRAILING_COMMA)),
                    _ => Err(self.peek_error(TRAILING_CHARACTERS)),
                }
            }
            Some(b',') => Err(self.peek_error(TRAILING_COMMA)),
            Some(_) => Err(self.peek_error(TRAILING_CHARACTERS)),
            None => Err(self.peek_error(if bracket == b']' {
                EOF_LIST
            } else {
                EOF_OBJECT
            })),
        }
    }

    /// Reads a struct with named `fields`: an object (unknown fields are rejected) or, as serde
    /// allows, an array of the fields in order. `field(parser, index)` reads the value of field
    /// `index` with [`Parser::field`]. `expected` is `struct Name`, `expected_len` is
    /// `struct Name with N elements`.
    ///
    /// # Errors
    /// When the value is not such a struct.
    pub fn object(
        &mut self,
        expected: &str,
        expected_len: &str,
        fields: &[&str],
        mut field: impl FnMut(&mut Parser<'a>, usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.object_dyn(expected, expected_len, fields, &mut field)
    }

    /// [`Parser::object`] without the generic (one copy in a contract).
    #[inline(never)]
    fn object_dyn(
        &mut self,
        expected: &str,
        expected_len: &str,
        fields: &[&str],
        field: &mut dyn ReadPart<'a>,
    ) -> Result<(), Error> {
        match self.value_start()? {
            b'[' => {
                self.eat();
                let read = self.elements(Some(fields.len()), expected_len, field);
                self.close(read, b']')
            }
            b'{' => {
                self.eat();
                let read = self.members(fields, field);
                self.close(read, b'}')
            }
            _ => Err(self.invalid_type(expected)),
        }
    }

    /// The members of an object whose `{` was read (not its `}`).
    fn members(&mut self, fields: &[&str], field: &mut dyn ReadPart<'a>) -> Result<(), Error> {
        let mut first = true;
        loop {
            match self.whitespace() {
                None => return Err(self.peek_error(EOF_OBJECT)),
                Some(b'}') => return Ok(()),
                Some(byte) if first => {
                    first = false;
                    if byte != b'"' {
                        return Err(self.peek_error(KEY_MUST_BE_A_STRING));
                    }
                }
                Some(b',') => {
                    self.eat();
                    match self.whitespace() {
                        Some(b'"') => {}
                        Some(b'}') => return Err(self.peek_error(TRAILING_COMMA)),
                        Some(_) => return Err(self.peek_error(KEY_MUST_BE_A_STRING)),
                        None => return Err(self.peek_error(EOF_VALUE)),
                    }
                }
                Some(_) => return Err(self.peek_error("expected `,` or `}`")),
            }
            self.eat();
            let key = self.text()?;
            let Some(index) = fields.iter().position(|name| *name == key) else {
                return Err(unknown_field(&key, fields));
            };
            self.colon_pending = true;
            field.read(self, index)?;
        }
    }

    /// Reads the value of a struct field into `slot` (inside [`Parser::object`]).
    ///
    /// # Errors
    /// `duplicate field` when the slot is filled already, or the value's error.
    #[inline(never)]
    pub fn field<T: JsonDecode>(&mut self, slot: &mut Option<T>, name: &str) -> Result<(), Error> {
        self.field_start(slot.is_some(), name)?;
        *slot = Some(T::decode_json(self)?);
        Ok(())
    }

    /// What [`Parser::field`] does before the value, whatever its type (one copy in a
    /// contract): `duplicate field` when `filled`, else the `:` when it is pending.
    fn field_start(&mut self, filled: bool, name: &str) -> Result<(), Error> {
        if filled {
            return Err(Error::message(&[
                b"duplicate field `",
                name.as_bytes(),
                b"`",
            ]));
        }
        if core::mem::take(&mut self.colon_pending) {
            match self.whitespace() {
                Some(b':') => self.eat(),
                Some(_) => return Err(self.peek_error("expected `:`")),
                None => return Err(self.peek_error(EOF_OBJECT)),
            }
        }
        Ok(())
    }

    /// The value of a field after [`Parser::object`]: the one read, else
    /// [`JsonDecode::missing_field`].
    ///
    /// # Errors
    /// `missing field`, positioned after the object.
    pub fn take<T: JsonDecode>(&self, slot: Option<T>, name: &str) -> Result<T, Error> {
        match slot {
            Some(value) => Ok(value),
            None => T::missing_field(name).map_err(|error| self.fix(error)),
        }
    }

    /// Reads a value of any kind and hands what it found to `visit` (serde's `deserialize_any`,
    /// for types that take several kinds: [`U256`](crate::U256) takes strings and integers).
    fn any<T>(
        &mut self,
        expected: &str,
        visit: impl FnOnce(Found<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let found = match self.value_start()? {
            b'"' => {
                self.eat();
                let text = self.text()?;
                visit(Found::Str(&text))
            }
            b'-' | b'0'..=b'9' => match self.number()? {
                Number::Unsigned(value) => visit(Found::Unsigned(value)),
                number => Err(number_error(number, expected, false)),
            },
            open @ (b'[' | b'{') => {
                self.eat();
                let (unexpected, bracket) = if open == b'[' {
                    (Unexpected::Seq, b']')
                } else {
                    (Unexpected::Map, b'}')
                };
                // The closing bracket is read (or not) as `serde_json` does; its error loses.
                let _ = self.end(bracket);
                return Err(self.fix(Error::invalid_type(unexpected, expected)));
            }
            _ => return Err(self.invalid_type(expected)),
        };
        found.map_err(|error| self.fix(error))
    }
}

/// Reads the element or field `index` of an array or object (any `FnMut(&mut Parser, usize)`).
///
/// A trait of its own rather than `dyn FnMut`: the vtable of a `dyn FnMut` also holds a
/// `call_once` shim, a second copy of every closure that nothing calls.
trait ReadPart<'a> {
    fn read(&mut self, parser: &mut Parser<'a>, index: usize) -> Result<(), Error>;
}

impl<'a, F: FnMut(&mut Parser<'a>, usize) -> Result<(), Error>> ReadPart<'a> for F {
    fn read(&mut self, parser: &mut Parser<'a>, index: usize) -> Result<(), Error> {
        self(parser, index)
    }
}

/// What [`Parser::any`] found.
pub(crate) enum Found<'t> {
    Str(&'t str),
    Unsigned(u64),
}

/// `invalid type` (or, for an integer of the wrong range, `invalid value`) for `number`.
#[cold]
#[inline(never)]
fn number_error(number: Number<'_>, expected: &str, range: bool) -> Error {
    match number {
        Number::Unsigned(value) if range => {
            Error::invalid_value(Unexpected::Unsigned(value), expected)
        }
        Number::Signed(value) if range => Error::invalid_value(Unexpected::Signed(value), expected),
        Number::Unsigned(value) => Error::invalid_type(Unexpected::Unsigned(value), expected),
        Number::Signed(value) => Error::invalid_type(Unexpected::Signed(value), expected),
        Number::Float(text) => Error::invalid_type(Unexpected::Float(text), expected),
    }
}

/// serde's `invalid length` message.
#[cold]
#[inline(never)]
fn invalid_length(len: usize, expected: &str) -> Error {
    let mut text = Vec::new();
    put(&mut text, b"invalid length ");
    write_u64(&mut text, len as u64);
    Error::message(&[&text, b", expected ", expected.as_bytes()])
}

/// serde's `unknown field` message.
#[cold]
#[inline(never)]
fn unknown_field(key: &str, fields: &[&str]) -> Error {
    let mut text = Vec::new();
    put(&mut text, b"unknown field `");
    put(&mut text, key.as_bytes());
    match fields {
        [] => put(&mut text, b"`, there are no fields"),
        [only] => {
            put(&mut text, b"`, expected `");
            put(&mut text, only.as_bytes());
            put(&mut text, b"`");
        }
        [first, second] => {
            put(&mut text, b"`, expected `");
            put(&mut text, first.as_bytes());
            put(&mut text, b"` or `");
            put(&mut text, second.as_bytes());
            put(&mut text, b"`");
        }
        _ => {
            put(&mut text, b"`, expected one of ");
            for (i, name) in fields.iter().enumerate() {
                if i > 0 {
                    put(&mut text, b", ");
                }
                put(&mut text, b"`");
                put(&mut text, name.as_bytes());
                put(&mut text, b"`");
            }
        }
    }
    Error::message(&[&text])
}

macro_rules! unsigned {
    ($($t:ty => $name:literal),*) => {$(
        impl JsonEncode for $t {
            fn encode_json(&self, out: &mut Vec<u8>) {
                write_u64(out, *self as u64);
            }
        }

        impl JsonDecode for $t {
            fn decode_json(parser: &mut Parser<'_>) -> Result<$t, Error> {
                // Fits: `unsigned` checked the maximum.
                parser.unsigned(<$t>::MAX as u64, $name).map(|value| value as $t)
            }
        }
    )*};
}

unsigned!(u8 => "u8", u16 => "u16", u32 => "u32", u64 => "u64", usize => "usize");

macro_rules! signed {
    ($($t:ty => $name:literal),*) => {$(
        impl JsonEncode for $t {
            fn encode_json(&self, out: &mut Vec<u8>) {
                write_i64(out, *self as i64);
            }
        }

        impl JsonDecode for $t {
            fn decode_json(parser: &mut Parser<'_>) -> Result<$t, Error> {
                // Fits: `signed` checked the range.
                parser
                    .signed(<$t>::MIN as i64, <$t>::MAX as i64, $name)
                    .map(|value| value as $t)
            }
        }
    )*};
}

signed!(i8 => "i8", i16 => "i16", i32 => "i32", i64 => "i64", isize => "isize");

impl JsonEncode for bool {
    fn encode_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

impl JsonDecode for bool {
    fn decode_json(parser: &mut Parser<'_>) -> Result<bool, Error> {
        let value = match parser.value_start()? {
            b't' => true,
            b'f' => false,
            _ => return Err(parser.invalid_type("a boolean")),
        };
        parser.eat();
        parser.ident(if value { b"rue" } else { b"alse" })?;
        Ok(value)
    }
}

impl JsonEncode for str {
    fn encode_json(&self, out: &mut Vec<u8>) {
        write_str(out, self);
    }
}

impl JsonEncode for String {
    fn encode_json(&self, out: &mut Vec<u8>) {
        write_str(out, self);
    }
}

impl JsonDecode for String {
    fn decode_json(parser: &mut Parser<'_>) -> Result<String, Error> {
        parser.string_value("a string")
    }
}

impl JsonEncode for () {
    fn encode_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"null");
    }
}

impl JsonDecode for () {
    fn decode_json(parser: &mut Parser<'_>) -> Result<(), Error> {
        if parser.value_start()? != b'n' {
            return Err(parser.invalid_type("unit"));
        }
        parser.eat();
        parser.ident(b"ull")
    }
}

impl<T: JsonEncode + ?Sized> JsonEncode for &T {
    fn encode_json(&self, out: &mut Vec<u8>) {
        (**self).encode_json(out);
    }
}

impl<T: JsonEncode> JsonEncode for Option<T> {
    fn encode_json(&self, out: &mut Vec<u8>) {
        match self {
            Some(value) => value.encode_json(out),
            None => out.extend_from_slice(b"null"),
        }
    }
}

impl<T: JsonDecode> JsonDecode for Option<T> {
    fn decode_json(parser: &mut Parser<'_>) -> Result<Option<T>, Error> {
        if parser.whitespace() == Some(b'n') {
            parser.eat();
            parser.ident(b"ull")?;
            return Ok(None);
        }
        T::decode_json(parser).map(Some)
    }

    fn missing_field(_name: &str) -> Result<Option<T>, Error> {
        Ok(None)
    }
}

impl<T: JsonEncode> JsonEncode for [T] {
    fn encode_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, value) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            value.encode_json(out);
        }
        out.push(b']');
    }
}

impl<T: JsonEncode> JsonEncode for Vec<T> {
    fn encode_json(&self, out: &mut Vec<u8>) {
        self.as_slice().encode_json(out);
    }
}

impl<T: JsonDecode> JsonDecode for Vec<T> {
    fn decode_json(parser: &mut Parser<'_>) -> Result<Vec<T>, Error> {
        let mut values = Vec::new();
        parser.array(None, "a sequence", |parser, _| {
            values.push(T::decode_json(parser)?);
            Ok(())
        })?;
        Ok(values)
    }
}

impl<T: JsonEncode, const N: usize> JsonEncode for [T; N] {
    fn encode_json(&self, out: &mut Vec<u8>) {
        self.as_slice().encode_json(out);
    }
}

impl<T: JsonDecode, const N: usize> JsonDecode for [T; N] {
    fn decode_json(parser: &mut Parser<'_>) -> Result<[T; N], Error> {
        let mut expected = Vec::from(&b"an array of length "[..]);
        write_u64(&mut expected, N as u64);
        let expected = crate::utf8::to_string(expected).unwrap_or_default();
        let mut values = Vec::with_capacity(N);
        parser.array(Some(N), &expected, |parser, _| {
            values.push(T::decode_json(parser)?);
            Ok(())
        })?;
        values.try_into().map_err(|_| Error::custom("array length"))
    }
}

macro_rules! tuple {
    ($len:literal => $expected:literal: $($name:ident $index:tt),*) => {
        impl<$($name: JsonEncode),*> JsonEncode for ($($name,)*) {
            fn encode_json(&self, out: &mut Vec<u8>) {
                out.push(b'[');
                $(
                    if $index > 0 {
                        out.push(b',');
                    }
                    self.$index.encode_json(out);
                )*
                out.push(b']');
            }
        }

        impl<$($name: JsonDecode),*> JsonDecode for ($($name,)*) {
            #[allow(non_snake_case)]
            fn decode_json(parser: &mut Parser<'_>) -> Result<($($name,)*), Error> {
                $( let mut $name: Option<$name> = None; )*
                parser.array(Some($len), $expected, |parser, index| {
                    match index {
                        $( $index => $name = Some($name::decode_json(parser)?), )*
                        _ => {}
                    }
                    Ok(())
                })?;
                Ok(($($name.ok_or_else(|| Error::custom("tuple"))?,)*))
            }
        }
    };
}

tuple!(1 => "a tuple of size 1": A 0);
tuple!(2 => "a tuple of size 2": A 0, B 1);
tuple!(3 => "a tuple of size 3": A 0, B 1, C 2);
tuple!(4 => "a tuple of size 4": A 0, B 1, C 2, D 3);

/// [`crate::Address`] and [`crate::U256`] as JSON strings.
mod ids {
    use super::*;
    use crate::{Address, U256};

    impl JsonEncode for Address {
        fn encode_json(&self, out: &mut Vec<u8>) {
            out.push(b'"');
            self.write_hex(out);
            out.push(b'"');
        }
    }

    impl JsonDecode for Address {
        fn decode_json(parser: &mut Parser<'_>) -> Result<Address, Error> {
            parser.parse_string("a 0x-prefixed string of 64 hex digits", |text| {
                text.parse()
                    .map_err(|error: crate::ParseAddressError| Error::custom(error.text()))
            })
        }
    }

    impl JsonEncode for U256 {
        #[inline(never)]
        fn encode_json(&self, out: &mut Vec<u8>) {
            out.push(b'"');
            self.write_decimal(out);
            out.push(b'"');
        }
    }

    impl JsonDecode for U256 {
        fn decode_json(parser: &mut Parser<'_>) -> Result<U256, Error> {
            const EXPECTED: &str =
                "a decimal string (or 0x-prefixed hex string) of a 256-bit integer";
            parser.any(EXPECTED, |found| match found {
                Found::Str(text) => text
                    .parse()
                    .map_err(|error: crate::ParseU256Error| Error::custom(error.text())),
                Found::Unsigned(value) => Ok(U256::from(value)),
            })
        }
    }
}
