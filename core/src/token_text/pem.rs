//! PEM armour: the one reader for every label kstoken reads (CMS documents, certificates), and the
//! CMS writer, as `openssl cms -outform PEM` writes it.
//!
//! One text must mean one document. OpenSSL's PEM readers skip text before the first block whose
//! label they accept, and its CMS reader accepts `CERTIFICATE` as well as `CMS` and `PKCS7`
//! (`docs/reference-behaviour.md#pem-armour`), so a text holding
//! several blocks can mean one document to OpenSSL and another to a reader that picks a different
//! block. [`pem_to_der`] therefore accepts exactly one block labelled `CMS` or `PKCS7` with nothing
//! but whitespace around it, which is every text keystone ever produced.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::{Error, LimitKind, Result};
use crate::limits::Limits;

/// The armour line before the base64 body.
pub const BEGIN_CMS: &str = "-----BEGIN CMS-----";
/// The armour line after the base64 body.
pub const END_CMS: &str = "-----END CMS-----";

/// Labels of a CMS document: what keystone writes (`CMS`) and the older PKCS#7 one.
pub const CMS_LABELS: [&str; 2] = ["CMS", "PKCS7"];
/// The label of an X.509 certificate.
pub const CERTIFICATE_LABEL: &str = "CERTIFICATE";

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

/// What [`decode_single`] does with text outside the PEM block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutsideText {
    /// Only whitespace may surround the block (token text: one text, one document).
    Refused,
    /// Lines of other text around the block are skipped, as `openssl x509 -text` output has them;
    /// lines that look like armour still count, so a second block is never missed.
    Ignored,
}

/// CMS PEM text for a DER document: `CMS` label, base64 in 64-column lines, `\n` line ends.
pub fn der_to_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::with_capacity(body.len() + body.len() / 64 + BEGIN_CMS.len() + 20);
    pem.push_str(BEGIN_CMS);
    pem.push('\n');
    let mut rest = body.as_str();
    while !rest.is_empty() {
        // base64 output is ASCII, so any byte offset is a char boundary.
        let (line, tail) = rest.split_at(rest.len().min(64));
        pem.push_str(line);
        pem.push('\n');
        rest = tail;
    }
    pem.push_str(END_CMS);
    pem.push('\n');
    pem
}

/// The DER bytes of the CMS document in `text`: exactly one block labelled `CMS` or `PKCS7`,
/// nothing but whitespace before or after it.
///
/// Body lines may have any length and `\r\n` ends, as OpenSSL reads them. Refused: any other label
/// (OpenSSL's CMS reader would take a `CERTIFICATE` block), a second block, other text around the
/// block (OpenSSL skips it), and encapsulated headers (`Proc-Type:`, encrypted PEM).
pub fn pem_to_der(text: &[u8], limits: &Limits) -> Result<Vec<u8>> {
    limits.check(LimitKind::TokenLength, text.len())?;
    decode_single(text, &CMS_LABELS, OutsideText::Refused)
}

/// The DER bytes of the one PEM block of `text`, whose label must be one of `labels`.
///
/// Errors are [`Error::Malformed`] saying what is wrong: no block, more than one block, a label
/// not in `labels`, an `END` line that does not match, encapsulated headers, invalid base64, or
/// (with [`OutsideText::Refused`]) text around the block.
pub fn decode_single(text: &[u8], labels: &[&str], outside: OutsideText) -> Result<Vec<u8>> {
    let mut found: Option<Vec<u8>> = None;
    let mut lines = Lines(text);
    while let Some(line) = lines.next() {
        let Some(label) = armour_label(line, BEGIN) else {
            if memchr::memmem::find(line, DASHES).is_some() {
                return Err(Error::malformed(
                    "PEM text has an armour line that is not a BEGIN line at the start of a line",
                ));
            }
            if outside == OutsideText::Refused && !line.trim_ascii().is_empty() {
                return Err(Error::malformed(
                    "PEM text has text before or after the block",
                ));
            }
            continue;
        };
        if found.is_some() {
            return Err(Error::malformed(
                "PEM text has more than one block (one text must be one document)",
            ));
        }
        if !labels.iter().any(|l| l.as_bytes() == label) {
            return Err(Error::malformed(format!(
                "PEM block is labelled {:?}, expected {}",
                String::from_utf8_lossy(label),
                labels.join(" or ")
            )));
        }
        found = Some(block_body(&mut lines, label)?);
    }
    found.ok_or_else(|| Error::malformed(format!("no {} PEM block found", labels.join(" or "))))
}

/// Reads body lines up to the `END` line matching `label` and decodes them.
fn block_body(lines: &mut Lines<'_>, label: &[u8]) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(lines.0.len());
    for line in lines.by_ref() {
        if let Some(end) = armour_label(line, END) {
            if end != label {
                return Err(Error::malformed("PEM END label does not match BEGIN label"));
            }
            return STANDARD
                .decode(&body)
                .map_err(|e| Error::malformed(format!("invalid base64 in PEM block: {e}")));
        }
        if line.starts_with(DASHES) {
            return Err(Error::malformed(
                "PEM block has an armour line before its END line",
            ));
        }
        if memchr::memchr(b':', line).is_some() {
            return Err(Error::malformed("PEM headers are not supported"));
        }
        if memchr::memchr2(b' ', b'\t', line).is_some() {
            body.extend(line.iter().filter(|b| !matches!(b, b' ' | b'\t')));
        } else {
            body.extend_from_slice(line);
        }
    }
    Err(Error::malformed("PEM block has no END line"))
}

/// The lines of a text, without their `\n`, `\r` and trailing blanks (memchr: PEM bodies are long).
struct Lines<'a>(&'a [u8]);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.0.is_empty() {
            return None;
        }
        let (line, rest) = match memchr::memchr(b'\n', self.0) {
            Some(i) => (self.0.get(..i)?, self.0.get(i + 1..)?),
            None => (self.0, &b""[..]),
        };
        self.0 = rest;
        Some(trim_line_end(line))
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line.get(end - 1), Some(b'\r' | b' ' | b'\t')) {
        end -= 1;
    }
    line.get(..end).unwrap_or(line)
}

/// The label of an armour line `<prefix>LABEL-----`, if `line` is one.
fn armour_label<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    line.strip_prefix(prefix)?.strip_suffix(DASHES)
}

#[cfg(test)]
mod tests;
