//! Token text forms: which form a token is in, the one whitespace rule, and the one decoder from
//! any token text (PKI token, PKIZ token, CMS PEM) to CMS DER.
//!
//! A PKI token is the base64 body of the CMS PEM with newlines removed and every `/` replaced by
//! `-` (keystoneclient's `cms_to_token`); a PKIZ token is handled in [`crate::token_text::pkiz`]. See
//! `docs/reference-behaviour.md#token-forms`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use base64::alphabet::Alphabet;
use base64::engine::general_purpose::{GeneralPurpose, PAD, STANDARD};
use base64::Engine;

use crate::error::{Error, LimitKind, Result};
use crate::limits::Limits;
use crate::token_text::pem::{pem_to_der, BEGIN_CMS, END_CMS};
use crate::token_text::pkiz;

/// keystoneclient's `PKI_ASN1_PREFIX`: what every PKI token of 256 to 16383 DER bytes starts with.
pub const PKI_ASN1_PREFIX: &str = "MII";
/// keystoneclient's `PKIZ_PREFIX`.
pub const PKIZ_PREFIX: &str = "PKIZ_";
/// How every PEM armour line starts; token text starting with it is CMS PEM.
const PEM_ARMOUR: &[u8] = b"-----BEGIN";

/// The base64 alphabet of PKI tokens: standard, with `-` in place of `/`.
const PKI_ALPHABET: Alphabet =
    match Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-") {
        Ok(a) => a,
        Err(_) => panic!("invalid PKI token alphabet"),
    };
/// Decodes and encodes PKI token text directly, without building the PEM text in between.
const PKI_ENGINE: GeneralPurpose = GeneralPurpose::new(&PKI_ALPHABET, PAD);

/// Whether `b` is whitespace that may surround a token: ASCII space, tab, CR or LF.
fn is_token_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The token without surrounding ASCII space, tab, CR and LF: the whitespace rule of every entry
/// point that takes a token (verify, validate, hash, detect, decode).
///
/// HTTP servers strip the whitespace around a header value before the middleware sees it, so a
/// padded token reaches keystonemiddleware as the bare token. Ignoring it everywhere makes the hash
/// of a padded revoked token equal to its revocation entry instead of a new, unlisted value.
pub fn trim_token(token: &[u8]) -> &[u8] {
    let start = token
        .iter()
        .position(|b| !is_token_space(*b))
        .unwrap_or(token.len());
    let end = token
        .iter()
        .rposition(|b| !is_token_space(*b))
        .map_or(start, |i| i + 1);
    token.get(start..end).unwrap_or_default()
}

/// [`trim_token`] for text.
pub fn trim_token_str(token: &str) -> &str {
    token.trim_matches(|c: char| u8::try_from(c).is_ok_and(is_token_space))
}

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

impl TokenForm {
    /// The stable name: `pki`, `pkiz` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenForm::Pki => "pki",
            TokenForm::Pkiz => "pkiz",
            TokenForm::Other => "other",
        }
    }

    /// The stable number, the C ABI's `kst_token_form`: 0 other, 1 PKI, 2 PKIZ.
    pub fn code(self) -> u32 {
        match self {
            TokenForm::Other => 0,
            TokenForm::Pki => 1,
            TokenForm::Pkiz => 2,
        }
    }
}

impl fmt::Display for TokenForm {
    /// The stable name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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

impl DetectionRule {
    /// The rule for a `lenient` flag, as the bindings expose it.
    pub fn from_lenient(lenient: bool) -> Self {
        if lenient {
            DetectionRule::Lenient
        } else {
            DetectionRule::Upstream
        }
    }

    /// Whether this is the lenient rule.
    pub fn is_lenient(self) -> bool {
        self == DetectionRule::Lenient
    }

    /// The stable name: `upstream` or `lenient`.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionRule::Upstream => "upstream",
            DetectionRule::Lenient => "lenient",
        }
    }
}

impl fmt::Display for DetectionRule {
    /// The stable name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DetectionRule {
    type Err = Error;

    /// Parses `upstream` or `lenient` (exactly, as configuration values).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "upstream" => Ok(DetectionRule::Upstream),
            "lenient" => Ok(DetectionRule::Lenient),
            other => Err(Error::InvalidArgument(format!(
                "unknown detection rule {other:?} (expected upstream or lenient)"
            ))),
        }
    }
}

/// The form of `token` by keystoneclient's rules (`is_pkiz`, `is_asn1_token`), surrounding
/// whitespace ignored ([`trim_token`]).
pub fn detect(token: impl AsRef<[u8]>) -> TokenForm {
    detect_with(token, DetectionRule::Upstream)
}

/// The form of `token` by the given rule, surrounding whitespace ignored ([`trim_token`]).
///
/// Tokens are text: bytes that are not UTF-8 are not a PKI or PKIZ token, whatever their prefix,
/// so bytes and the string they decode to always have the same form.
pub fn detect_with(token: impl AsRef<[u8]>, rule: DetectionRule) -> TokenForm {
    let token = trim_token(token.as_ref());
    let form = if token.starts_with(PKIZ_PREFIX.as_bytes()) {
        TokenForm::Pkiz
    } else if token.starts_with(PKI_ASN1_PREFIX.as_bytes())
        || (rule == DetectionRule::Lenient && der_header_spans(token))
    {
        TokenForm::Pki
    } else {
        return TokenForm::Other;
    };
    if std::str::from_utf8(token).is_ok() {
        form
    } else {
        TokenForm::Other
    }
}

/// keystoneclient's `is_asn1_token`: exactly, no whitespace rule.
pub fn is_asn1_token(token: &str) -> bool {
    token.starts_with(PKI_ASN1_PREFIX)
}

/// keystoneclient's `is_pkiz`: exactly, no whitespace rule.
pub fn is_pkiz(token: &str) -> bool {
    token.starts_with(PKIZ_PREFIX)
}

/// Whether the token text starts with a DER SEQUENCE header whose length matches the text length.
fn der_header_spans(token: &[u8]) -> bool {
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

/// How a token text encodes its CMS document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// PKI token text: base64 of the DER with `-` for `/`.
    Pki,
    /// A PKIZ token: `PKIZ_` and URL-safe base64 of the zlib-compressed PEM text.
    Pkiz,
    /// CMS PEM text, as `openssl cms -outform PEM` writes it.
    Pem,
}

impl Encoding {
    /// The stable name: `pki`, `pkiz` or `pem`.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Pki => "pki",
            Encoding::Pkiz => "pkiz",
            Encoding::Pem => "pem",
        }
    }
}

/// The encoding [`decode`] reads `token` as, by its first bytes after surrounding whitespace:
/// `PKIZ_` is PKIZ, `-----BEGIN` is CMS PEM, anything else is taken for a PKI token.
pub fn encoding(token: impl AsRef<[u8]>) -> Encoding {
    let token = trim_token(token.as_ref());
    if token.starts_with(PKIZ_PREFIX.as_bytes()) {
        Encoding::Pkiz
    } else if token.starts_with(PEM_ARMOUR) {
        Encoding::Pem
    } else {
        Encoding::Pki
    }
}

/// A token text decoded to its CMS document (nothing verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// How the text encoded the document.
    pub encoding: Encoding,
    /// The CMS document's DER (or BER) bytes.
    pub der: Vec<u8>,
}

/// Decodes any token text, a PKI token, a PKIZ token or CMS PEM, to CMS DER: the one place that
/// does it, for every entry point and binding.
///
/// The length is checked against `limits.max_token_len` before anything else; then surrounding
/// whitespace is ignored ([`trim_token`]), an empty token is refused, and the [`encoding`] is
/// chosen by the first bytes. Each decoder is strict ([`pki_token_to_der`],
/// [`crate::token_text::pkiz::uncompress`], [`crate::token_text::pem::pem_to_der`]).
pub fn decode(token: &[u8], limits: &Limits) -> Result<Decoded> {
    limits.check(LimitKind::TokenLength, token.len())?;
    let token = trim_token(token);
    if token.is_empty() {
        return Err(Error::malformed("the token is empty"));
    }
    let encoding = encoding(token);
    let der = match encoding {
        Encoding::Pkiz => pem_to_der(&pkiz::uncompress(token, limits)?, limits)?,
        Encoding::Pem => pem_to_der(token, limits)?,
        Encoding::Pki => pki_token_to_der(token, limits)?,
    };
    Ok(Decoded { encoding, der })
}

/// The token as keystone would send it on the wire, whose hash is its id: CMS PEM text becomes its
/// PKI token (`cms_to_token`), any other text is returned without surrounding whitespace.
pub fn wire_token(text: &str) -> Cow<'_, str> {
    let text = trim_token_str(text);
    if encoding(text) == Encoding::Pem {
        Cow::Owned(cms_to_token(text))
    } else {
        Cow::Borrowed(text)
    }
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
/// token must be canonical padded base64 in the token alphabet, with no whitespace. A token that
/// kept its `/` (`token_to_cms` leaves one alone, so OpenSSL sees plain base64) reads the same.
///
/// The token is translated to the standard alphabet (`-` to `/`) and decoded in place by
/// `base64-simd` (four times faster than the `base64` crate on a 9 KB token), which accepts
/// exactly the canonical padded base64 the `base64` crate's strict decoder accepts; the tests of
/// this module compare the two. A token the fast decoder refuses goes to the `base64` crate,
/// which words the error.
pub fn pki_token_to_der(token: &[u8], limits: &Limits) -> Result<Vec<u8>> {
    limits.check(LimitKind::TokenLength, token.len())?;
    let mut buf = standard_alphabet(token);
    if let Ok(der) = base64_simd::STANDARD.decode_inplace(&mut buf) {
        let len = der.len();
        buf.truncate(len);
        return Ok(buf);
    }
    reference_decode(token)
        .map_err(|e| Error::malformed(format!("PKI token is not valid base64: {e}")))
}

/// The `base64` crate's strict decoding of PKI token text (`/` accepted as well as `-`).
fn reference_decode(token: &[u8]) -> std::result::Result<Vec<u8>, base64::DecodeError> {
    if token.contains(&b'/') {
        STANDARD.decode(standard_alphabet(token))
    } else {
        PKI_ENGINE.decode(token)
    }
}

/// PKI token text in the standard base64 alphabet: every `-` becomes `/`.
fn standard_alphabet(token: &[u8]) -> Vec<u8> {
    token
        .iter()
        .map(|&b| if b == b'-' { b'/' } else { b })
        .collect()
}

/// PKI token text for CMS DER (the same as `cms_to_token` of the PEM, without the PEM in between).
pub fn der_to_pki_token(der: &[u8]) -> String {
    PKI_ENGINE.encode(der)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::token_text::pem::der_to_pem;

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
    fn whitespace_rule() {
        assert_eq!(trim_token(b" \t\r\nMIIabc\r\n \t"), b"MIIabc");
        assert_eq!(trim_token(b"   "), b"");
        assert_eq!(trim_token(b""), b"");
        assert_eq!(trim_token(b"M I I"), b"M I I");
        // Only space, tab, CR and LF: form feed, vertical tab and NBSP are part of the token.
        assert_eq!(trim_token(b"\x0cMII\x0b"), b"\x0cMII\x0b");
        assert_eq!(trim_token_str("\u{a0}MII \n"), "\u{a0}MII");
        assert_eq!(trim_token_str(" \tPKIZ_x\r\n"), "PKIZ_x");
        for padded in [" MIIabc", "MIIabc\n", "\t MIIabc \r\n"] {
            assert_eq!(detect(padded), TokenForm::Pki, "{padded:?}");
        }
        assert_eq!(detect(" PKIZ_x\n"), TokenForm::Pkiz);
        assert_eq!(detect("\x0cMIIabc"), TokenForm::Other);
        assert_eq!(detect(b"MII\xff\xfe"), TokenForm::Other);
        assert_eq!(detect(b"PKIZ_\xff"), TokenForm::Other);
        assert_eq!(detect("MII\u{e9}".as_bytes()), TokenForm::Pki);
        assert_eq!(detect(b"\xffMII"), TokenForm::Other);
        let token = der_to_pki_token(&sequence_of(100));
        assert_eq!(
            detect_with(format!("\n{token}\r\n"), DetectionRule::Lenient),
            TokenForm::Pki
        );
    }

    #[test]
    fn decode_every_form_and_whitespace() {
        let l = Limits::default();
        let der = sequence_of(300);
        let pki = der_to_pki_token(&der);
        let pem = der_to_pem(&der);
        let pkiz = crate::token_text::pkiz::compress(pem.as_bytes(), 6).unwrap();
        for (text, encoding) in [
            (pki.clone(), Encoding::Pki),
            (pkiz.clone(), Encoding::Pkiz),
            (pem.clone(), Encoding::Pem),
        ] {
            for padded in [
                text.clone(),
                format!(" \t{text}\r\n"),
                format!("\n\n{text} "),
            ] {
                assert_eq!(
                    decode(padded.as_bytes(), &l).unwrap(),
                    Decoded {
                        encoding,
                        der: der.clone()
                    },
                    "{padded:?}"
                );
            }
        }
        assert_eq!(Encoding::Pem.as_str(), "pem");
        assert_eq!(encoding(" PKIZ_"), Encoding::Pkiz);
        assert_eq!(encoding("\n-----BEGIN PKCS7-----"), Encoding::Pem);
        assert_eq!(encoding("anything"), Encoding::Pki);
        // Inner whitespace is not trimmed: still refused.
        assert!(decode(format!("{}\n{}", &pki[..8], &pki[8..]).as_bytes(), &l).is_err());
        // The length limit applies to the text as received, before anything else.
        let tight = Limits {
            max_token_len: pki.len(),
            ..l
        };
        assert!(decode(pki.as_bytes(), &tight).is_ok());
        assert_eq!(
            decode(format!("{pki}\n").as_bytes(), &tight),
            Err(Error::LimitExceeded {
                what: LimitKind::TokenLength,
                limit: pki.len()
            })
        );
        assert_eq!(
            decode(&vec![b' '; pki.len() + 1], &tight),
            Err(Error::LimitExceeded {
                what: LimitKind::TokenLength,
                limit: pki.len()
            })
        );
        for bad in [
            &b""[..],
            b"  \n",
            b"hello",
            b"PKIZ_!!",
            b"-----BEGIN CMS-----\n",
        ] {
            assert!(
                matches!(decode(bad, &l), Err(Error::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn wire_token_of_pem_and_token() {
        let der = sequence_of(300);
        let pki = der_to_pki_token(&der);
        assert_eq!(wire_token(&der_to_pem(&der)), pki);
        assert_eq!(wire_token(&format!(" {pki}\n")), pki);
        assert_eq!(wire_token(" uuid-token\n"), "uuid-token");
    }

    #[test]
    fn stable_names() {
        let forms = [TokenForm::Other, TokenForm::Pki, TokenForm::Pkiz];
        for (i, f) in forms.into_iter().enumerate() {
            assert_eq!(f.code() as usize, i);
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!(forms.map(TokenForm::as_str), ["other", "pki", "pkiz"]);
        for rule in [DetectionRule::Upstream, DetectionRule::Lenient] {
            assert_eq!(rule.as_str().parse::<DetectionRule>(), Ok(rule));
            assert_eq!(DetectionRule::from_lenient(rule.is_lenient()), rule);
        }
        assert!(matches!(
            "Lenient".parse::<DetectionRule>(),
            Err(Error::InvalidArgument(_))
        ));
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

    /// A small deterministic generator (xorshift), so the comparison is reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// The fast decoder accepts exactly what the `base64` crate's strict decoder accepts and
    /// decodes it to the same bytes: valid texts of every length around the SIMD block sizes,
    /// each with one byte replaced, inserted or removed at every kind of position.
    #[test]
    fn fast_decoder_agrees_with_the_reference() {
        let limits = Limits::default();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let symbols = b"AQgw+-/=_ \n.\x00\xff";
        let mut checked = 0;
        for len in (0..200).chain([765, 766, 767, 768, 1000, 4096, 9300]) {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let text = der_to_pki_token(&bytes).into_bytes();
            let mut variants = vec![text.clone()];
            for _ in 0..12 {
                let mut t = text.clone();
                let at = match rng.below(3) {
                    0 => rng.below(t.len() + 1),
                    1 => t.len().saturating_sub(1 + rng.below(4)),
                    _ => rng.below(64.min(t.len() + 1)),
                };
                let symbol = symbols[rng.below(symbols.len())];
                match rng.below(3) {
                    0 if at < t.len() => t[at] = symbol,
                    1 if at < t.len() => {
                        t.remove(at);
                    }
                    _ => t.insert(at.min(t.len()), symbol),
                }
                variants.push(t);
            }
            for t in variants {
                let fast = pki_token_to_der(&t, &limits).ok();
                assert_eq!(
                    fast,
                    reference_decode(&t).ok(),
                    "{:?}",
                    String::from_utf8_lossy(&t)
                );
                checked += 1;
            }
        }
        assert!(checked > 2500);
        // Non-canonical final bits and padding are refused by both.
        for bad in [
            &b"QR=="[..],
            b"QUF=",
            b"QQ=",
            b"QQ",
            b"Q===",
            b"QU=B",
            b"QQ==QUFB",
        ] {
            assert!(pki_token_to_der(bad, &limits).is_err(), "{bad:?}");
        }
    }
}
