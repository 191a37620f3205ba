//! Reading tokens, bodies and files; writing results; option value parsers shared by subcommands.

use std::io::{self, Read, Write};
use std::path::Path;

use kstoken::form::trim_token_str;
use kstoken::timestamp::unix_time;
use kstoken::{HashAlgorithm, HashAlgorithms};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::exit::Failure;

/// Reads a configuration file (certificate, key, CA bundle); failure is a configuration error (3).
pub fn read_config(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|e| Failure::config(format!("cannot read {what} {}: {e}", path.display())))
}

/// Reads an input file (token, body, batch); failure is an I/O error (4).
pub fn read_input(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|e| Failure::io(format!("cannot read {what} {}: {e}", path.display())))
}

/// Reads all of standard input; failure is an I/O error (4).
pub fn read_stdin() -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .map_err(|e| Failure::io(format!("cannot read standard input: {e}")))?;
    Ok(buf)
}

/// Reads `path`, or standard input when `path` is `None` or `-`.
pub fn read_input_or_stdin(path: Option<&Path>, what: &str) -> Result<Vec<u8>, Failure> {
    match path {
        Some(p) if p != Path::new("-") => read_input(p, what),
        _ => read_stdin(),
    }
}

/// The token given as argument, or read from standard input when absent or `-`, without the
/// surrounding whitespace (a trailing newline in particular), by the core's whitespace rule.
pub fn token_text(arg: Option<&str>) -> Result<String, Failure> {
    let raw = match arg {
        Some(t) if t != "-" => t.as_bytes().to_vec(),
        _ => read_stdin()?,
    };
    let text = String::from_utf8(raw)
        .map_err(|_| Failure::invalid("token is not UTF-8 text".to_owned()))?;
    let token = trim_token_str(&text);
    if token.is_empty() {
        return Err(Failure::invalid("no token given (empty input)".to_owned()));
    }
    Ok(token.to_owned())
}

/// Writes `bytes` to standard output; failure is an I/O error (4).
pub fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                // The reader went away (`kstoken inspect ... | head`): nothing worth saying.
                Failure::silent(crate::exit::IO)
            } else {
                Failure::io(format!("cannot write standard output: {e}"))
            }
        })
}

/// Writes `text` to standard error, ignoring failures (there is nowhere left to report them).
pub fn print_error(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
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

/// clap parser for a time: Unix seconds (`1893456000`) or RFC 3339 (`2030-01-01T00:00:00Z`), in
/// the range every kstoken clock takes (the years 1 to 9999).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let seconds = match s.trim().parse::<i64>() {
        Ok(seconds) => seconds,
        Err(_) => OffsetDateTime::parse(s.trim(), &Rfc3339)
            .map(OffsetDateTime::unix_timestamp)
            .map_err(|e| {
                format!("expected Unix seconds or an RFC 3339 time like 2030-01-01T00:00:00Z ({e})")
            })?,
    };
    unix_time(seconds).map_err(|e| e.detail().to_owned())?;
    Ok(seconds)
}

/// clap parser for a hash algorithm name (`md5`, `sha1`, `sha224`, `sha256`, `sha384`, `sha512`).
pub fn parse_algorithm(s: &str) -> Result<HashAlgorithm, String> {
    s.trim()
        .parse::<HashAlgorithm>()
        .map_err(|e| e.detail().to_owned())
}

/// clap parser for a comma-separated list of hash algorithm names (`md5,sha256`).
pub fn parse_algorithms(s: &str) -> Result<HashAlgorithms, String> {
    s.parse::<HashAlgorithms>()
        .map_err(|e| e.detail().to_owned())
}

/// The algorithms of repeated list options, in order, each once.
pub fn merge_algorithms(lists: &[HashAlgorithms]) -> Result<HashAlgorithms, Failure> {
    HashAlgorithms::new(lists.iter().flat_map(|l| l.iter().copied()))
        .map_err(|e| Failure::usage(e.detail().to_owned()))
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

    #[test]
    fn times() {
        assert_eq!(parse_time("1893456000"), Ok(1_893_456_000));
        assert_eq!(parse_time("2030-01-01T00:00:00Z"), Ok(1_893_456_000));
        assert_eq!(parse_time("2030-01-01T01:00:00+01:00"), Ok(1_893_456_000));
        assert!(parse_time("tomorrow").is_err());
        assert!(parse_time("253402300800").is_err());
        assert!(parse_time("-9223372036854775808").is_err());
    }
}
