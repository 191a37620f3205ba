//! JSON of untrusted size and nesting: the limits scan and the bounded parse every JSON input goes
//! through (token bodies, revocation lists, bind sections).

use serde_json::Value;
use wide::u8x16;

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
///
/// The scan reads 64 bytes at a time with SIMD compares (`wide`): masks of the quotes, backslashes
/// and brackets, the string contents by a prefix XOR of the quotes, and the depth from the brackets
/// outside strings by counting. A block with a backslash, or one in which the depth could pass the
/// limit or go below zero, is scanned byte by byte instead, with the same rules.
pub fn check_json_limits(content: &[u8], limits: &Limits) -> Result<()> {
    limits.check(LimitKind::JsonSize, content.len())?;
    let limit = limits.max_json_depth;
    let mut scan = Scan::default();
    let mut blocks = content.chunks_exact(64);
    for block in &mut blocks {
        if !scan.block(block, limit) {
            scan.bytes(block, limit)?;
        }
    }
    scan.bytes(blocks.remainder(), limit)
}

/// Where the depth scan stands between two bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Scan {
    depth: usize,
    in_string: bool,
    /// The previous byte was a backslash inside a string.
    escaped: bool,
}

impl Scan {
    /// Scans a 64-byte block at once; `false` (nothing changed) when it must go byte by byte.
    fn block(&mut self, block: &[u8], limit: usize) -> bool {
        if self.escaped {
            return false;
        }
        let Some([quotes, backslashes, opens, closes]) = masks(block) else {
            return false;
        };
        if backslashes != 0 {
            return false;
        }
        // Bit i set: byte i is inside a string (an opening quote counts as inside, a closing one
        // as outside).
        let carry = if self.in_string { u64::MAX } else { 0 };
        let inside = prefix_xor(quotes) ^ carry;
        let opens = (opens & !inside).count_ones() as usize;
        let closes = (closes & !inside).count_ones() as usize;
        // Within the block the depth stays between `depth - closes` and `depth + opens`.
        if closes > self.depth || self.depth + opens > limit {
            return false;
        }
        self.depth = self.depth + opens - closes;
        self.in_string = inside >> 63 == 1;
        true
    }

    /// Scans `bytes` one at a time.
    fn bytes(&mut self, bytes: &[u8], limit: usize) -> Result<()> {
        for &b in bytes {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    // A backslash escapes the byte after it.
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth > limit {
                        return Err(Error::LimitExceeded {
                            what: LimitKind::JsonDepth,
                            limit,
                        });
                    }
                }
                // Unbalanced closers are left for the JSON parser to reject.
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Bit masks of a 64-byte block: its quotes, backslashes, opening and closing brackets.
fn masks(block: &[u8]) -> Option<[u64; 4]> {
    let mut out = [0u64; 4];
    for (lane, chunk) in block.chunks_exact(16).enumerate() {
        let bytes = u8x16::from(<[u8; 16]>::try_from(chunk).ok()?);
        // `{` and `[` differ only in the bit 0x20, as do `}` and `]`.
        let folded = bytes | u8x16::splat(0x20);
        let shift = 16 * lane;
        for (mask, (v, byte)) in out.iter_mut().zip([
            (bytes, b'"'),
            (bytes, b'\\'),
            (folded, b'{'),
            (folded, b'}'),
        ]) {
            *mask |= u64::from(v.simd_eq(u8x16::splat(byte)).to_bitmask()) << shift;
        }
    }
    Some(out)
}

/// Bit i of the result is the XOR of bits 0 to i of `x`.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The scan as it was written before it read blocks: one byte at a time.
    fn reference(content: &[u8], limit: usize) -> bool {
        let mut depth = 0usize;
        let mut i = 0;
        while let Some(&b) = content.get(i) {
            i += 1;
            match b {
                b'"' => loop {
                    match content
                        .get(i..)
                        .and_then(|r| memchr::memchr2(b'"', b'\\', r))
                    {
                        None => return true,
                        Some(k) => {
                            let quote = content[i + k] == b'"';
                            i += k + if quote { 1 } else { 2 };
                            if quote {
                                break;
                            }
                        }
                    }
                },
                b'{' | b'[' => {
                    depth += 1;
                    if depth > limit {
                        return false;
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        true
    }

    #[test]
    fn block_scan_agrees_with_the_byte_scan() {
        // Random texts of JSON's structural bytes, across block boundaries and limits.
        let alphabet = b"\"\"\"\\{}[]{{[[a 0:,\xff";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        // Without backslashes most blocks take the fast path.
        let plain = b"\"{}[]aaaaaaaaa  ,:";
        for round in 0..40_000 {
            let len = next(300);
            let alphabet: &[u8] = if round % 2 == 0 { alphabet } else { plain };
            let text: Vec<u8> = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            let limit = next(12);
            let limits = Limits {
                max_json_depth: limit,
                ..Limits::default()
            };
            assert_eq!(
                check_json_limits(&text, &limits).is_ok(),
                reference(&text, limit),
                "round {round}: {:?} limit {limit}",
                String::from_utf8_lossy(&text)
            );
        }
        // Long plain blocks, nested past 64 bytes, strings across blocks.
        for depth in [10, 63, 64, 65, 200] {
            let doc = format!(
                "{}\"{}\"{}",
                "[".repeat(depth),
                "x".repeat(130),
                "]".repeat(depth)
            );
            for limit in [9, 10, 63, 64, 65, 199, 200] {
                let limits = Limits {
                    max_json_depth: limit,
                    ..Limits::default()
                };
                assert_eq!(
                    check_json_limits(doc.as_bytes(), &limits).is_ok(),
                    depth <= limit,
                    "{depth} {limit}"
                );
            }
        }
        assert_eq!(prefix_xor(0b1001), 0b0111);
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
