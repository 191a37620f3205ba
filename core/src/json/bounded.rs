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
    let mut i = 0;
    while let Some(&b) = content.get(i) {
        i += 1;
        match b {
            b'"' => {
                // Most of a token body is string contents: jump from quote or backslash to the next.
                loop {
                    let rest = content.get(i..).unwrap_or_default();
                    match memchr::memchr2(b'"', b'\\', rest) {
                        // An unterminated string hides the rest; the JSON parser rejects it.
                        None => return Ok(()),
                        Some(k) => {
                            let quote = rest.get(k) == Some(&b'"');
                            // A backslash escapes the byte after it.
                            i += k + if quote { 1 } else { 2 };
                            if quote {
                                break;
                            }
                        }
                    }
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

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
