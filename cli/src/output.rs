//! Writing results: standard output through [`stdio::stdout`], so a closed or unwritable output is
//! an I/O error (4) instead of a silent success; pretty JSON and times for people.
//!
//! A reader that goes away (`kstoken inspect ... | head`) is not worth a message, but the output
//! was not all written, so the exit code is still 4.

use std::io::{self, Write};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::exit::{Failure, IO};
use crate::stdio;

/// Writes `bytes` to standard output; failure is an I/O error (4), silent for a broken pipe.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = stdio::stdout()?;
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                Failure::silent(IO)
            } else {
                Failure::io(format!("cannot write standard output: {e}"))
            }
        })
}

/// Writes `text` and a newline to standard output.
pub fn print_line(text: &str) -> Result<(), Failure> {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    write_stdout(line.as_bytes())
}

/// Writes content bytes, adding a final newline unless they end with one.
pub fn print_content(content: &[u8]) -> Result<(), Failure> {
    let mut bytes = content.to_vec();
    if !bytes.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    write_stdout(&bytes)
}

/// JSON pretty-printed (two-space indent) when `content` is JSON, `None` otherwise.
///
/// The text is re-indented rather than re-serialised, so key order and string escapes stay
/// exactly as signed.
pub fn pretty_json(content: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(content).ok()?;
    let text = std::str::from_utf8(content).ok()?;
    Some(reindent(text))
}

/// Re-indents valid JSON text: one member or element per line, two spaces per level.
fn reindent(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', depth * 2));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|n| n.is_ascii_whitespace()) {
                    chars.next();
                }
                if let Some(&close @ ('}' | ']')) = chars.peek() {
                    chars.next();
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// A time as RFC 3339.
pub fn format_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_json_keeps_order_and_strings() {
        let text = br#"{"b":1, "a":[ ],"s":"x{,}:\"[\\","o":{"z":[1,{}]}}"#;
        let expected = "{\n  \"b\": 1,\n  \"a\": [],\n  \"s\": \"x{,}:\\\"[\\\\\",\n  \"o\": {\n    \"z\": [\n      1,\n      {}\n    ]\n  }\n}";
        assert_eq!(pretty_json(text).as_deref(), Some(expected));
        assert_eq!(pretty_json(b"not json"), None);
    }
}
