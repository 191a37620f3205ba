//! Strings as Python's `json.dumps` writes them (`ensure_ascii`): what keystone's lists and
//! keystonemiddleware's headers are made of.
//!
//! Every character outside `' '..='~'` is escaped as `\uXXXX` with lower-case hex (astral
//! characters as surrogate pairs), `\b \f \n \r \t` as short escapes, `"` and `\\` with a backslash.

use std::fmt::Write as _;

/// `json.dumps(s)` for a Rust string: a quoted, ASCII-only JSON string.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    if is_plain(s.as_bytes()) {
        out.push_str(s);
    } else {
        for c in s.chars() {
            push_char(c, out);
        }
    }
    out.push('"');
}

/// Whether `bytes` are written by `json.dumps` exactly as they are: printable ASCII, no `"` or `\`.
fn is_plain(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

fn push_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        ' '..='~' => out.push(c),
        _ => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                push_unit_escape(*unit, out);
            }
        }
    }
}

/// Appends one UTF-16 code unit of a string as `json.dumps` writes it (a lone surrogate escaped).
#[cfg(feature = "auth_token")]
pub(crate) fn push_unit(unit: u16, out: &mut String) {
    match char::from_u32(u32::from(unit)) {
        Some(c) if unit < 0x80 => push_char(c, out),
        _ => push_unit_escape(unit, out),
    }
}

fn push_unit_escape(unit: u16, out: &mut String) {
    let _ = write!(out, "\\u{unit:04x}");
}
