//! JSON values as Python's `json.loads` reads them and `json.dumps` writes them back, for the header
//! keystonemiddleware builds with `jsonutils.dumps` (`X-Service-Catalog`, [`super::catalog`]).
//!
//! One reader ([`parse_tree`]) keeps a value's text as it is, containers as a tree ([`Node`]); its
//! writer ([`Node::write`]) follows Python's defaults: `", "` between items, `": "` between key and
//! value, strings re-escaped as `ensure_ascii` does (the core's string writer, `crate::json`),
//! integers verbatim, floats as `repr(float)`, and an object that repeats a key keeps the key's first
//! position with its last value. The input is JSON that serde has already read (a
//! `serde_json::value::RawValue`), so the reader reports malformed input as an error but never needs
//! to recover from it. serde's own types cannot stand in: they refuse lone surrogates and repeated
//! keys, and round big integers and floats, all of which Python keeps.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::json::push_unit;

/// Deepest nesting the writer follows (the token decoders refuse deeper documents long before).
const MAX_DEPTH: usize = 128;

/// Appends `json.dumps(json.loads(raw))` to `out`, `raw` being one JSON value.
pub fn write_value(raw: &str, out: &mut String) -> Result<()> {
    parse_tree(raw)?.write(out)
}

/// `json.dumps(json.loads(raw))` for one JSON value, as a new string.
pub fn dumps(raw: &str) -> Result<String> {
    let mut out = String::with_capacity(raw.len() + raw.len() / 8);
    write_value(raw, &mut out)?;
    Ok(out)
}

/// The text of a JSON string literal (`raw` includes the quotes); lone surrogates become U+FFFD.
pub fn decode_str(raw: &str) -> Result<String> {
    let mut reader = Reader {
        text: raw.trim().as_bytes(),
        pos: 0,
    };
    let units = reader.string_units()?;
    if reader.pos != reader.text.len() {
        return Err(bad("trailing characters after a string"));
    }
    Ok(char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect())
}

/// Python truthiness of a JSON value: `false`, `null`, `0`, `0.0`, `""`, `[]` and `{}` are false.
pub fn truthy(raw: &str) -> bool {
    let t = raw.trim();
    match t.as_bytes().first() {
        None | Some(b'n') | Some(b'f') => false,
        Some(b't') => true,
        Some(b'"') => t.len() > 2,
        Some(b'[') | Some(b'{') => !t
            .get(1..)
            .unwrap_or("")
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with([']', '}']),
        // A number is false iff it equals zero.
        Some(_) => t.parse::<f64>().is_ok_and(|v| v != 0.0) || t.parse::<f64>().is_err(),
    }
}

/// A JSON value read without decoding: containers as trees, scalars and object keys as their raw
/// text (strings with their quotes). For walking small documents (a service catalog) in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node<'a> {
    /// An object's members in document order, keys raw.
    Object(Vec<(&'a str, Node<'a>)>),
    /// An array's items.
    Array(Vec<Node<'a>>),
    /// A string (with its quotes), number, `true`, `false` or `null`, raw.
    Scalar(&'a str),
}

impl<'a> Node<'a> {
    /// The member `key` of an object, as Python's `json.loads` keeps it: the last of repeated keys.
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        let Node::Object(members) = self else {
            return None;
        };
        members
            .iter()
            .rev()
            .find(|(raw, _)| key_is(raw, key))
            .map(|(_, v)| v)
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        *self == Node::Scalar("null")
    }

    /// The decoded text if this is a string.
    pub fn text(&self) -> Option<std::borrow::Cow<'a, str>> {
        match self {
            Node::Scalar(raw) if raw.starts_with('"') => {
                let inner = raw.get(1..raw.len().saturating_sub(1))?;
                if inner.contains('\\') {
                    decode_str(raw).ok().map(std::borrow::Cow::Owned)
                } else {
                    Some(std::borrow::Cow::Borrowed(inner))
                }
            }
            _ => None,
        }
    }

    /// Appends `json.dumps` of this value.
    pub fn write(&self, out: &mut String) -> Result<()> {
        match self {
            Node::Scalar(raw) => write_scalar(raw, out),
            Node::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out)?;
                }
                out.push(']');
                Ok(())
            }
            Node::Object(members) => {
                // Repeated keys keep their first position with their last value, as in a dict;
                // keys compare as Python compares them, by their code units after decoding.
                let mut order: Vec<(Vec<u16>, usize)> = Vec::with_capacity(members.len());
                let mut index: HashMap<Vec<u16>, usize> = HashMap::with_capacity(members.len());
                for (i, (raw, _)) in members.iter().enumerate() {
                    let units = key_units(raw)?;
                    match index.get(&units) {
                        Some(&slot) => {
                            if let Some(entry) = order.get_mut(slot) {
                                entry.1 = i;
                            }
                        }
                        None => {
                            index.insert(units.clone(), order.len());
                            order.push((units, i));
                        }
                    }
                }
                out.push('{');
                for (n, (units, i)) in order.iter().enumerate() {
                    if n > 0 {
                        out.push_str(", ");
                    }
                    out.push('"');
                    for unit in units {
                        push_unit(*unit, out);
                    }
                    out.push_str("\": ");
                    match members.get(*i) {
                        Some((_, value)) => value.write(out)?,
                        None => out.push_str("null"),
                    }
                }
                out.push('}');
                Ok(())
            }
        }
    }
}

/// A key literal's UTF-16 code units (lone surrogates kept, as in Python).
fn key_units(raw: &str) -> Result<Vec<u16>> {
    let mut reader = Reader {
        text: raw.as_bytes(),
        pos: 0,
    };
    reader.string_units()
}

/// Appends `json.dumps` of a scalar's raw text: a string re-escaped, a number as Python prints the
/// value it reads, `true`, `false` or `null` as they are.
fn write_scalar(raw: &str, out: &mut String) -> Result<()> {
    let mut reader = Reader {
        text: raw.as_bytes(),
        pos: 0,
    };
    match reader.peek() {
        Some(b'"') if is_plain_literal(raw) => out.push_str(raw),
        Some(b'"') => {
            out.push('"');
            for unit in reader.string_units()? {
                push_unit(unit, out);
            }
            out.push('"');
        }
        Some(b't') => reader.literal("true", out)?,
        Some(b'f') => reader.literal("false", out)?,
        Some(b'n') => reader.literal("null", out)?,
        Some(b'-' | b'0'..=b'9') => reader.number(out)?,
        _ => return Err(bad("expected a value")),
    }
    if reader.pos != 0 && reader.pos != reader.text.len() {
        return Err(bad("trailing characters"));
    }
    Ok(())
}

/// Whether a string literal is written by `json.dumps` exactly as it is: printable ASCII between
/// its quotes, no escapes.
fn is_plain_literal(raw: &str) -> bool {
    raw.len() >= 2
        && raw.ends_with('"')
        && raw.as_bytes().get(1..raw.len() - 1).is_some_and(|inner| {
            inner
                .iter()
                .all(|&b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
        })
}

/// Whether the raw key literal `raw` decodes to `key`.
fn key_is(raw: &str, key: &str) -> bool {
    match raw.get(1..raw.len().saturating_sub(1)) {
        Some(inner) if !inner.contains('\\') => inner == key,
        _ => decode_str(raw).is_ok_and(|k| k == key),
    }
}

/// Reads one JSON value into a [`Node`] tree.
pub fn parse_tree(raw: &str) -> Result<Node<'_>> {
    let mut reader = Reader {
        text: raw.as_bytes(),
        pos: 0,
    };
    reader.skip_ws();
    let node = reader.node(raw, 0)?;
    reader.skip_ws();
    if reader.pos != reader.text.len() {
        return Err(bad("trailing characters"));
    }
    Ok(node)
}

fn bad(what: &str) -> Error {
    Error::Malformed(format!("JSON value: {what}"))
}

struct Reader<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn node(&mut self, src: &'a str, depth: usize) -> Result<Node<'a>> {
        if depth > MAX_DEPTH {
            return Err(bad("nested too deeply"));
        }
        let slice = |a: usize, b: usize| src.get(a..b).ok_or_else(|| bad("not UTF-8"));
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::with_capacity(8);
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Node::Object(members));
                }
                loop {
                    self.skip_ws();
                    let start = self.pos;
                    self.skip_string()?;
                    let key = slice(start, self.pos)?;
                    self.skip_ws();
                    self.expect(b':')?;
                    self.skip_ws();
                    members.push((key, self.node(src, depth + 1)?));
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Node::Object(members));
                        }
                        _ => return Err(bad("expected , or }")),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::with_capacity(8);
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Node::Array(items));
                }
                loop {
                    self.skip_ws();
                    items.push(self.node(src, depth + 1)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Node::Array(items));
                        }
                        _ => return Err(bad("expected , or ]")),
                    }
                }
            }
            Some(b'"') => {
                let start = self.pos;
                self.skip_string()?;
                Ok(Node::Scalar(slice(start, self.pos)?))
            }
            Some(_) => {
                let start = self.pos;
                let mut sink = String::new();
                match self.peek() {
                    Some(b't') => self.literal("true", &mut sink)?,
                    Some(b'f') => self.literal("false", &mut sink)?,
                    Some(b'n') => self.literal("null", &mut sink)?,
                    _ => self.number(&mut sink)?,
                }
                Ok(Node::Scalar(slice(start, self.pos)?))
            }
            None => Err(bad("expected a value")),
        }
    }

    /// Moves past a string literal, checking its escapes.
    fn skip_string(&mut self) -> Result<()> {
        self.expect(b'"')?;
        loop {
            // Strings here are short: a plain loop beats a vectorised search.
            let b = *self
                .text
                .get(self.pos)
                .ok_or_else(|| bad("unterminated string"))?;
            self.pos += 1;
            match b {
                b'"' => return Ok(()),
                b'\\' => match self.peek() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                    Some(b'u') => {
                        let hex = self
                            .text
                            .get(self.pos + 1..self.pos + 5)
                            .ok_or_else(|| bad("bad \\u escape"))?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(bad("bad \\u escape"));
                        }
                        self.pos += 5;
                    }
                    _ => return Err(bad("bad escape")),
                },
                _ => {}
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(bad("unexpected character"))
        }
    }

    fn literal(&mut self, word: &str, out: &mut String) -> Result<()> {
        let end = self.pos + word.len();
        if self.text.get(self.pos..end) == Some(word.as_bytes()) {
            self.pos = end;
            out.push_str(word);
            Ok(())
        } else {
            Err(bad("unknown literal"))
        }
    }

    /// Reads a string literal into UTF-16 code units (lone surrogates survive, as in Python).
    fn string_units(&mut self) -> Result<Vec<u16>> {
        self.expect(b'"')?;
        let mut units = Vec::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            let chunk = self
                .text
                .get(start..self.pos)
                .ok_or_else(|| bad("string"))?;
            let chunk = std::str::from_utf8(chunk).map_err(|_| bad("string is not UTF-8"))?;
            units.extend(chunk.encode_utf16());
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(units);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = self.peek().ok_or_else(|| bad("unterminated escape"))?;
                    self.pos += 1;
                    units.push(match escaped {
                        b'"' => 0x22,
                        b'\\' => 0x5c,
                        b'/' => 0x2f,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => 0x0a,
                        b'r' => 0x0d,
                        b't' => 0x09,
                        b'u' => {
                            let hex = self
                                .text
                                .get(self.pos..self.pos + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u16::from_str_radix(h, 16).ok())
                                .ok_or_else(|| bad("bad \\u escape"))?;
                            self.pos += 4;
                            hex
                        }
                        _ => return Err(bad("bad escape")),
                    });
                }
                _ => return Err(bad("unterminated string")),
            }
        }
    }

    fn number(&mut self, out: &mut String) -> Result<()> {
        let start = self.pos;
        let mut float = false;
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' | b'-' | b'+' => {}
                b'.' | b'e' | b'E' => float = true,
                _ => break,
            }
            self.pos += 1;
        }
        let text = self
            .text
            .get(start..self.pos)
            .and_then(|t| std::str::from_utf8(t).ok())
            .ok_or_else(|| bad("number"))?;
        if float {
            let value: f64 = text.parse().map_err(|_| bad("number"))?;
            push_float(value, out);
        } else if text.trim_start_matches('-').bytes().all(|b| b == b'0')
            && text.trim_start_matches('-').len() == 1
        {
            // Python's int("-0") is 0.
            out.push('0');
        } else if text.is_empty() || text == "-" || text.get(1..).unwrap_or("").contains(['-', '+'])
        {
            return Err(bad("number"));
        } else {
            out.push_str(text);
        }
        Ok(())
    }
}

/// `repr(float)` as `json.dumps` writes it (`Infinity`, `-Infinity`, `NaN` for the non-finite).
fn push_float(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // `{:e}` gives the shortest digits that round-trip, like Python's repr: "-1.25e-7".
    let sci = format!("{value:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    out.push_str(sign);
    if !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
    } else if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = usize::try_from(exponent).unwrap_or(0) + 1;
        if digits.len() > point {
            let (int, frac) = digits.split_at(point);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
            out.push_str(".0");
        }
    }
}

#[cfg(test)]
mod tests;
