//! UTF-8 validation with the answers of `core::str::from_utf8` (`valid_up_to`, `error_len`),
//! in a few hundred bytes less code: every contract reads JSON strings, and code bytes cost gas.
//! ASCII runs are checked eight bytes at a time.

use alloc::string::String;
use alloc::vec::Vec;

/// Where `bytes` stop being UTF-8, as `core::str::Utf8Error` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    /// The length of the valid prefix.
    pub(crate) valid_up_to: usize,
    /// The length of the invalid sequence there; `None` when the input ends inside it.
    pub(crate) error_len: Option<usize>,
}

/// Checks that `bytes` are UTF-8.
#[inline(never)]
pub(crate) fn check(bytes: &[u8]) -> Result<(), Invalid> {
    let mut at = 0;
    while let Some(&first) = bytes.get(at) {
        // ASCII: eight bytes at a time while they last, then one.
        if at + 8 <= bytes.len() {
            // SAFETY: `at + 8 <= bytes.len()`: eight readable bytes; any alignment.
            let word = unsafe { bytes.as_ptr().add(at).cast::<u64>().read_unaligned() };
            if word & 0x8080_8080_8080_8080 == 0 {
                at += 8;
                continue;
            }
        }
        if first < 0x80 {
            at += 1;
            continue;
        }
        // The sequence's length and the range of its second byte (no overlong forms, no
        // surrogates, nothing above U+10FFFF).
        let (width, low, high) = match first {
            0xc2..=0xdf => (2, 0x80, 0xbf),
            0xe0 => (3, 0xa0, 0xbf),
            0xe1..=0xec | 0xee..=0xef => (3, 0x80, 0xbf),
            0xed => (3, 0x80, 0x9f),
            0xf0 => (4, 0x90, 0xbf),
            0xf1..=0xf3 => (4, 0x80, 0xbf),
            0xf4 => (4, 0x80, 0x8f),
            _ => {
                return Err(Invalid {
                    valid_up_to: at,
                    error_len: Some(1),
                })
            }
        };
        let mut range = (low, high);
        for continuation in 1..width {
            let Some(&byte) = bytes.get(at + continuation) else {
                return Err(Invalid {
                    valid_up_to: at,
                    error_len: None,
                });
            };
            if byte < range.0 || byte > range.1 {
                return Err(Invalid {
                    valid_up_to: at,
                    error_len: Some(continuation),
                });
            }
            range = (0x80, 0xbf);
        }
        at += width;
    }
    Ok(())
}

/// `bytes` as text, if they are UTF-8 (`core::str::from_utf8`).
#[inline]
pub(crate) fn to_str(bytes: &[u8]) -> Result<&str, Invalid> {
    check(bytes)?;
    // SAFETY: `check` found `bytes` to be UTF-8.
    Ok(unsafe { core::str::from_utf8_unchecked(bytes) })
}

/// `bytes` as a string, if they are UTF-8 (`String::from_utf8`).
#[inline]
pub(crate) fn to_string(bytes: Vec<u8>) -> Result<String, Invalid> {
    check(&bytes)?;
    // SAFETY: `check` found `bytes` to be UTF-8.
    Ok(unsafe { String::from_utf8_unchecked(bytes) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(bytes: &[u8]) {
        let theirs = core::str::from_utf8(bytes)
            .map(|_| ())
            .map_err(|error| Invalid {
                valid_up_to: error.valid_up_to(),
                error_len: error.error_len(),
            });
        assert_eq!(check(bytes), theirs, "{bytes:02x?}");
    }

    #[test]
    fn agrees_with_core_on_every_short_sequence() {
        for a in 0..=255u8 {
            same(&[a]);
            for b in 0..=255u8 {
                same(&[a, b]);
                same(&[b'x', a, b]);
                if a >= 0xe0 {
                    for c in [0x00, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xff] {
                        same(&[a, b, c]);
                        for d in [0x00, 0x80, 0x8f, 0x90, 0xbf, 0xc0] {
                            same(&[a, b, c, d]);
                            same(&[a, b, c, d, b'a', b'b', b'c', b'd', b'e', 0xe9]);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn agrees_with_core_on_mixed_text() {
        let text = "plain ASCII text, then é, € and 😀, then ASCII again: 0123456789";
        for start in 0..text.len() {
            for end in start..=text.len() {
                same(&text.as_bytes()[start..end]);
            }
        }
    }
}
