//! PKI token text: the base64 body of the CMS PEM with newlines removed and every `/` replaced by
//! `-` (keystoneclient's `cms_to_token`; `docs/reference-behaviour.md#token-forms`).

use base64::alphabet::Alphabet;
use base64::engine::general_purpose::{GeneralPurpose, PAD, STANDARD};
use base64::Engine;

use crate::error::{Error, LimitKind, Result};
use crate::limits::Limits;
use crate::token_text::pem::{BEGIN_CMS, END_CMS};

/// keystoneclient's `PKI_ASN1_PREFIX`: what every PKI token of 256 to 16383 DER bytes starts with.
pub const PKI_ASN1_PREFIX: &str = "MII";

/// The base64 alphabet of PKI tokens: standard, with `-` in place of `/`.
const PKI_ALPHABET: Alphabet =
    match Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-") {
        Ok(a) => a,
        Err(_) => panic!("invalid PKI token alphabet"),
    };
/// Decodes and encodes PKI token text directly, without building the PEM text in between.
pub(super) const PKI_ENGINE: GeneralPurpose = GeneralPurpose::new(&PKI_ALPHABET, PAD);

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
pub(super) fn reference_decode(token: &[u8]) -> std::result::Result<Vec<u8>, base64::DecodeError> {
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
