//! JSON of untrusted size and nesting: the limits scan and the bounded parse every JSON input goes
//! through (token bodies, revocation lists, bind sections).

use serde_json::Value;

use crate::error::{Error, LimitKind, Result};
use crate::limits::Limits;

/// Parses a JSON document of untrusted size and nesting into a `Value`, limits first.
///
/// The size and depth limits are checked on the bytes before `serde_json` allocates anything.
/// `serde_json` has its own recursion limit of 128, so a configured depth above that still fails,
/// as [`Error::Malformed`].
pub fn parse_json(content: &[u8], limits: &Limits) -> Result<Value> {
    check_json_limits(content, limits)?;
    let text = std::str::from_utf8(content)
        .map_err(|e| Error::malformed(format!("document is not UTF-8: {e}")))?;
    serde_json::from_str(text).map_err(|e| Error::malformed(format!("document is not JSON: {e}")))
}

/// Checks a JSON document's length against `max_json_len` and its nesting against `max_json_depth`.
///
/// The depth scan skips string contents (honouring `\"` escapes), so brackets inside strings do not
/// count; it does not validate the JSON. A UTF-8 multi-byte sequence never contains an ASCII byte,
/// so scanning bytes is safe before UTF-8 validation.
pub fn check_json_limits(content: &[u8], limits: &Limits) -> Result<()> {
    limits.check(LimitKind::JsonSize, content.len())?;
    let too_deep = || Error::LimitExceeded {
        what: LimitKind::JsonDepth,
        limit: limits.max_json_depth,
    };
    let mut depth = 0usize;
    let mut rest = content;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'"' => match after_string(rest) {
                Some(after) => rest = after,
                // An unterminated string hides the rest; the JSON parser rejects it.
                None => return Ok(()),
            },
            b'{' | b'[' => {
                depth += 1;
                if depth > limits.max_json_depth {
                    return Err(too_deep());
                }
            }
            // Unbalanced closers are left for the JSON parser to reject.
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// What follows the closing quote of the string whose contents `rest` starts with, honouring `\`
/// escapes; `None` when the string is not terminated.
fn after_string(mut rest: &[u8]) -> Option<&[u8]> {
    loop {
        let (&found, after) = rest.get(quote_or_backslash(rest)?..)?.split_first()?;
        if found == b'"' {
            return Some(after);
        }
        // A backslash escapes the byte after it.
        rest = after.get(1..)?;
    }
}

/// The index of the first `"` or `\` in `text`. Most of a token body is string contents, in short
/// strings (keys, ids, names, URLs): eight bytes are tested at a time, as one word, which costs less
/// on them than a vectorised search's setup.
fn quote_or_backslash(text: &[u8]) -> Option<usize> {
    let mut chunks = text.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(word);
        let found = has_byte(word, b'"') | has_byte(word, b'\\');
        if found != 0 {
            // The lowest marked byte is exact (a borrow only marks bytes above a true match).
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\')
        .map(|k| offset + k)
}

/// The high bit of every byte of `word` that equals `byte` (and possibly of bytes above the first
/// one that does): the classic "has zero byte" test on `word ^ byte…`.
fn has_byte(word: u64, byte: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn word_at_a_time_search_finds_the_first_quote_or_backslash() {
        // Every position of the match, relative to the 8-byte words, and bytes that differ from
        // `"` and `\\` by one bit (`#`, `]`) or by a borrow (`!`, `[`) around it.
        for len in 0..40 {
            for at in 0..=len {
                for filler in [b'a', b'#', b'!', b'[', b']', 0xff] {
                    for wanted in [b'"', b'\\'] {
                        let mut text = vec![filler; len];
                        if at < len {
                            text[at] = wanted;
                        }
                        for start in 0..=len {
                            let naive = text[start..]
                                .iter()
                                .position(|&b| b == b'"' || b == b'\\')
                                .map(|k| start + k);
                            assert_eq!(
                                quote_or_backslash(&text[start..]).map(|k| start + k),
                                naive,
                                "{text:?} {start}"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(after_string(br#"ab\"c\\"x"#), Some(&b"x"[..]));
        assert_eq!(after_string(br#"abc\"#), None);
        assert_eq!(after_string(b""), None);
    }

    #[test]
    fn limits_before_parsing() {
        let tight = Limits {
            max_json_len: 8,
            max_json_depth: 2,
            ..Limits::default()
        };
        assert_eq!(parse_json(b"[[1]]", &tight), Ok(serde_json::json!([[1]])));
        assert_eq!(
            parse_json(b"[[[1]]]", &tight),
            Err(Error::LimitExceeded {
                what: LimitKind::JsonDepth,
                limit: 2
            })
        );
        assert_eq!(
            parse_json(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff", &tight),
            Err(Error::LimitExceeded {
                what: LimitKind::JsonSize,
                limit: 8
            })
        );
        assert!(
            matches!(parse_json(b"\xff", &tight), Err(Error::Malformed(m)) if m.contains("UTF-8"))
        );
        assert!(
            matches!(parse_json(b"{", &tight), Err(Error::Malformed(m)) if m.contains("not JSON"))
        );
        // Brackets inside strings do not nest.
        let deep_strings = br#"["[[[[\"{{"]"#;
        let long = Limits {
            max_json_len: deep_strings.len(),
            ..tight
        };
        assert!(check_json_limits(deep_strings, &long).is_ok());
    }
}
