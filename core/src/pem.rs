//! The PEM armour of a CMS document, as `openssl cms -outform PEM` writes it and as
//! `PEM_read_bio_CMS` reads it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::{Error, LimitKind, Result};
use crate::limits::Limits;

/// The armour line before the base64 body.
pub const BEGIN_CMS: &str = "-----BEGIN CMS-----";
/// The armour line after the base64 body.
pub const END_CMS: &str = "-----END CMS-----";

/// Labels `PEM_read_bio_CMS` accepts for a CMS document.
const LABELS: [&str; 2] = ["CMS", "PKCS7"];

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

/// The DER bytes inside the first CMS (or PKCS7) PEM block of `text`.
///
/// Like OpenSSL, text before the block and blocks with other labels are skipped, text after the
/// `END` line is ignored, and body lines may have any length and `\r\n` ends. Unlike OpenSSL,
/// encapsulated headers (`Proc-Type:`, encrypted PEM) are refused.
pub fn pem_to_der(text: &[u8], limits: &Limits) -> Result<Vec<u8>> {
    if text.len() > limits.max_token_len {
        return Err(Error::LimitExceeded {
            what: LimitKind::TokenLength,
            limit: limits.max_token_len,
        });
    }
    let mut lines = Lines(text);
    let label = loop {
        let Some(line) = lines.next() else {
            return Err(Error::malformed("no CMS PEM block found"));
        };
        if let Some(label) = armour_label(line, b"-----BEGIN ") {
            if LABELS.iter().any(|l| l.as_bytes() == label) {
                break label;
            }
        }
    };
    let mut body = Vec::with_capacity(text.len());
    for line in lines {
        if let Some(end) = armour_label(line, b"-----END ") {
            if end != label {
                return Err(Error::malformed("PEM END label does not match BEGIN label"));
            }
            return STANDARD
                .decode(&body)
                .map_err(|e| Error::malformed(format!("invalid base64 in CMS PEM: {e}")));
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
    Err(Error::malformed("CMS PEM block has no END line"))
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
    line.strip_prefix(prefix)?.strip_suffix(b"-----")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrapping() {
        let der: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let pem = der_to_pem(&der);
        assert!(pem.starts_with("-----BEGIN CMS-----\n"));
        assert!(pem.ends_with("\n-----END CMS-----\n"));
        let body_lines: Vec<&str> = pem.lines().skip(1).collect();
        assert!(body_lines[..body_lines.len() - 2]
            .iter()
            .all(|l| l.len() == 64));
        assert_eq!(pem_to_der(pem.as_bytes(), &Limits::default()).unwrap(), der);
        let crlf = pem.replace('\n', "\r\n");
        assert_eq!(
            pem_to_der(crlf.as_bytes(), &Limits::default()).unwrap(),
            der
        );
    }

    #[test]
    fn empty_document() {
        assert_eq!(der_to_pem(&[]), "-----BEGIN CMS-----\n-----END CMS-----\n");
    }

    #[test]
    fn pkcs7_label_and_leading_text() {
        let text = b"junk\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN PKCS7-----\nAAEC\n-----END PKCS7-----\ntrailer";
        assert_eq!(pem_to_der(text, &Limits::default()).unwrap(), vec![0, 1, 2]);
    }

    #[test]
    fn malformed_inputs() {
        let l = Limits::default();
        for bad in [
            &b""[..],
            b"MIIB",
            b"-----BEGIN CMS-----\nAAEC\n",
            b"-----BEGIN CMS-----\nAAEC\n-----END PKCS7-----\n",
            b"-----BEGIN CMS-----\nAA*C\n-----END CMS-----\n",
            b"-----BEGIN CMS-----\nProc-Type: 4,ENCRYPTED\n\nAAEC\n-----END CMS-----\n",
        ] {
            assert!(
                matches!(pem_to_der(bad, &l), Err(Error::Malformed(_))),
                "{bad:?}"
            );
        }
        let small = Limits {
            max_token_len: 10,
            ..Limits::default()
        };
        assert!(matches!(
            pem_to_der(&[b'A'; 11], &small),
            Err(Error::LimitExceeded { .. })
        ));
    }
}
