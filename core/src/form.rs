//! Token text forms: PKI tokens and their CMS PEM/DER equivalents, and which form a token is in.
//!
//! A PKI token is the base64 body of the CMS PEM with newlines removed and every `/` replaced by
//! `-` (keystoneclient's `cms_to_token`); a PKIZ token is handled in [`crate::pkiz`].

use base64::alphabet::Alphabet;
use base64::engine::general_purpose::{GeneralPurpose, PAD, STANDARD};
use base64::Engine;

use crate::error::{Error, LimitKind, Result};
use crate::limits::Limits;
use crate::pem::{BEGIN_CMS, END_CMS};

/// keystoneclient's `PKI_ASN1_PREFIX`: what every PKI token of 256 to 16383 DER bytes starts with.
pub const PKI_ASN1_PREFIX: &str = "MII";
/// keystoneclient's `PKIZ_PREFIX`.
pub const PKIZ_PREFIX: &str = "PKIZ_";

/// The base64 alphabet of PKI tokens: standard, with `-` in place of `/`.
const PKI_ALPHABET: Alphabet =
    match Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-") {
        Ok(a) => a,
        Err(_) => panic!("invalid PKI token alphabet"),
    };
/// Decodes and encodes PKI token text directly, without building the PEM text in between.
const PKI_ENGINE: GeneralPurpose = GeneralPurpose::new(&PKI_ALPHABET, PAD);

/// The form a token is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenForm {
    /// A PKI ("ASN.1") token: CMS DER in PKI token text.
    Pki,
    /// A PKIZ token: `PKIZ_` and compressed CMS PEM.
    Pkiz,
    /// Anything else (UUID, Fernet, ...): not hashed, not verifiable offline.
    Other,
}

/// How to recognise PKI tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DetectionRule {
    /// keystoneclient's rule: a PKI token starts with exactly `MII`.
    ///
    /// It misses PKI tokens whose DER is shorter than 256 or at least 16384 bytes; keystone and
    /// keystonemiddleware treat those as UUID tokens, so compatibility depends on keeping it.
    #[default]
    Upstream,
    /// Also recognises any token whose first bytes decode to a DER SEQUENCE header whose length
    /// accounts exactly for the whole token, which catches the sizes the upstream rule misses.
    Lenient,
}

/// The form of `token` by keystoneclient's rules (`is_pkiz`, `is_asn1_token`).
pub fn detect(token: &str) -> TokenForm {
    detect_with(token, DetectionRule::Upstream)
}

/// The form of `token` by the given rule.
pub fn detect_with(token: &str, rule: DetectionRule) -> TokenForm {
    if token.starts_with(PKIZ_PREFIX) {
        TokenForm::Pkiz
    } else if token.starts_with(PKI_ASN1_PREFIX)
        || (rule == DetectionRule::Lenient && der_header_spans(token))
    {
        TokenForm::Pki
    } else {
        TokenForm::Other
    }
}

/// keystoneclient's `is_asn1_token`.
pub fn is_asn1_token(token: &str) -> bool {
    token.starts_with(PKI_ASN1_PREFIX)
}

/// keystoneclient's `is_pkiz`.
pub fn is_pkiz(token: &str) -> bool {
    token.starts_with(PKIZ_PREFIX)
}

/// Whether the token text starts with a DER SEQUENCE header whose length matches the text length.
fn der_header_spans(token: &str) -> bool {
    let Some(head) = token.get(..8).or_else(|| token.get(..4)) else {
        return false;
    };
    let Ok(bytes) = PKI_ENGINE.decode(head) else {
        return false;
    };
    let (Some(&0x30), Some(&first_len)) = (bytes.first(), bytes.get(1)) else {
        return false;
    };
    let total = if first_len < 0x80 {
        2 + usize::from(first_len)
    } else {
        let n = usize::from(first_len & 0x7f);
        if !(1..=3).contains(&n) {
            return false;
        }
        let Some(len_bytes) = bytes.get(2..2 + n) else {
            return false;
        };
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        2 + n + len
    };
    token.len() == total.div_ceil(3) * 4
}

/// keystoneclient's `cms_to_token`: PKI token text from CMS PEM text.
pub fn cms_to_token(cms_text: &str) -> String {
    cms_text
        .replace('/', "-")
        .replace(BEGIN_CMS, "")
        .replace(END_CMS, "")
        .replace('\n', "")
}

/// keystoneclient's `token_to_cms`: CMS PEM text from PKI token text (64-character lines).
pub fn token_to_cms(signed_text: &str) -> String {
    let chars: Vec<char> = signed_text.replace('-', "/").chars().collect();
    let mut lines = vec![BEGIN_CMS.to_owned()];
    lines.extend(chars.chunks(64).map(|c| c.iter().collect::<String>()));
    lines.push(format!("{END_CMS}\n"));
    lines.join("\n")
}

/// The CMS DER encoded by a PKI token.
///
/// Stricter than the reference, which hands `token_to_cms(token)` to OpenSSL's PEM reader: the
/// token must be canonical padded base64 in the token alphabet, with no whitespace.
pub fn pki_token_to_der(token: &[u8], limits: &Limits) -> Result<Vec<u8>> {
    if token.len() > limits.max_token_len {
        return Err(Error::LimitExceeded {
            what: LimitKind::TokenLength,
            limit: limits.max_token_len,
        });
    }
    let decoded = if token.contains(&b'/') {
        // `token_to_cms` leaves a `/` alone, so OpenSSL sees plain base64: accept it too.
        let standard: Vec<u8> = token
            .iter()
            .map(|b| if *b == b'-' { b'/' } else { *b })
            .collect();
        STANDARD.decode(standard)
    } else {
        PKI_ENGINE.decode(token)
    };
    decoded.map_err(|e| Error::malformed(format!("PKI token is not valid base64: {e}")))
}

/// PKI token text for CMS DER (the same as `cms_to_token` of the PEM, without the PEM in between).
pub fn der_to_pki_token(der: &[u8]) -> String {
    PKI_ENGINE.encode(der)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::pem::der_to_pem;

    /// A SEQUENCE header for `content` bytes followed by that many filler bytes.
    fn sequence_of(content: usize) -> Vec<u8> {
        let mut v = vec![0x30];
        v.extend(encode_len(content));
        v.extend(vec![0xAB; content]);
        v
    }

    fn encode_len(n: usize) -> Vec<u8> {
        if n < 0x80 {
            vec![n as u8]
        } else if n < 0x100 {
            vec![0x81, n as u8]
        } else if n < 0x10000 {
            vec![0x82, (n >> 8) as u8, n as u8]
        } else {
            vec![0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]
        }
    }

    #[test]
    fn cms_token_round_trip_matches_reference_shape() {
        let der: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let pem = der_to_pem(&der);
        let token = cms_to_token(&pem);
        assert!(!token.contains('/') && !token.contains('\n'));
        assert_eq!(token, der_to_pki_token(&der));
        assert_eq!(token_to_cms(&token), pem);
        assert_eq!(
            pki_token_to_der(token.as_bytes(), &Limits::default()).unwrap(),
            der
        );
        // A token that kept its slashes still decodes, as it does through the reference.
        let slashed = token.replace('-', "/");
        assert_eq!(
            pki_token_to_der(slashed.as_bytes(), &Limits::default()).unwrap(),
            der
        );
    }

    #[test]
    fn token_to_cms_of_empty() {
        assert_eq!(token_to_cms(""), "-----BEGIN CMS-----\n-----END CMS-----\n");
    }

    #[test]
    fn upstream_detection() {
        assert_eq!(detect("MIIxyz"), TokenForm::Pki);
        assert_eq!(detect("PKIZ_abc"), TokenForm::Pkiz);
        assert_eq!(detect("mIIxyz"), TokenForm::Other);
        assert_eq!(detect("pkiz_abc"), TokenForm::Other);
        assert_eq!(detect("0123456789abcdef0123456789abcdef"), TokenForm::Other);
        assert!(is_asn1_token("MII") && !is_asn1_token("MI"));
        assert!(is_pkiz("PKIZ_") && !is_pkiz("PKIZ"));
    }

    #[test]
    fn lenient_detection_catches_sizes_the_mii_rule_misses() {
        // MII = SEQUENCE with a two-byte length below 0x4000: 256..16384 content bytes.
        for content in [50, 200, 255, 256, 16383, 16384, 70000] {
            let token = der_to_pki_token(&sequence_of(content));
            let upstream = detect(&token);
            let lenient = detect_with(&token, DetectionRule::Lenient);
            assert_eq!(lenient, TokenForm::Pki, "size {content}");
            assert_eq!(
                upstream == TokenForm::Pki,
                (256..16384).contains(&content),
                "size {content}"
            );
            // A truncated token no longer spans its header.
            let cut = &token[..token.len() - 4];
            if !cut.starts_with("MII") {
                assert_eq!(detect_with(cut, DetectionRule::Lenient), TokenForm::Other);
            }
        }
        for other in ["gAAAAABfernet", "M", "Mzzz", "01234567-89ab-cdef"] {
            assert_eq!(detect_with(other, DetectionRule::Lenient), TokenForm::Other);
        }
    }

    #[test]
    fn malformed_and_oversized() {
        let l = Limits::default();
        for bad in [&b"MII*"[..], b"MIIB\nAAAA", b"MIIBA"] {
            assert!(matches!(
                pki_token_to_der(bad, &l),
                Err(Error::Malformed(_))
            ));
        }
        let small = Limits {
            max_token_len: 8,
            ..l
        };
        assert!(matches!(
            pki_token_to_der(b"MIIBAAAAAAAA", &small),
            Err(Error::LimitExceeded { .. })
        ));
    }
}
