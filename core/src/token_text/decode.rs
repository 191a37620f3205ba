//! The one decoder from any token text (PKI token, PKIZ token, CMS PEM) to CMS DER.

use std::borrow::Cow;

use crate::error::{Error, LimitKind, Result};
use crate::limits::Limits;
use crate::token_text::pem::pem_to_der;
use crate::token_text::pki::{cms_to_token, pki_token_to_der};
use crate::token_text::pkiz::{self, PKIZ_PREFIX};
use crate::token_text::whitespace::{trim_token, trim_token_str};

/// How every PEM armour line starts; token text starting with it is CMS PEM.
const PEM_ARMOUR: &[u8] = b"-----BEGIN";

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
