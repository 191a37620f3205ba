//! Which form a token is in: keystoneclient's `MII` / `PKIZ_` prefixes, or the lenient DER-header
//! rule (`docs/reference-behaviour.md#token-forms`).

use std::fmt;
use std::str::FromStr;

use base64::Engine;

use crate::error::{Error, Result};
use crate::token_text::pki::{PKI_ASN1_PREFIX, PKI_ENGINE};
use crate::token_text::pkiz::PKIZ_PREFIX;
use crate::token_text::whitespace::trim_token;

/// What to say of a text that is no token kstoken can read (a UUID or Fernet token, a file name):
/// the words `inspect` and `verify` use.
pub const NOT_A_PKI_TOKEN: &str =
    "not a PKI or PKIZ token (no \"MII\" or \"PKIZ_\" prefix), nor CMS PEM";

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
