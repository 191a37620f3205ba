//! Token text: the forms a token is written in, and what is computed from the text alone.
//!
//! A token is a PKI token (base64 of the CMS DER), a PKIZ token (compressed CMS PEM, [`pkiz`]) or
//! CMS PEM ([`pem`]); [`detect`] says which form a text is in (keystoneclient's `MII`/`PKIZ_` rule,
//! or the lenient DER-header rule), [`decode`] turns any of them into CMS DER, [`trim_token`] is the
//! one whitespace rule of every entry point, and [`hash_token`] the token id (`cms_hash_token`).
//! Nothing here verifies anything.

mod decode;
mod detect;
mod hash;
pub mod pem;
mod pki;
pub mod pkiz;
mod whitespace;

#[cfg(test)]
mod tests;

pub use decode::{decode, encoding, wire_token, Decoded, Encoding};
pub use detect::{
    detect, detect_with, is_asn1_token, is_pkiz, DetectionRule, TokenForm, NOT_A_PKI_TOKEN,
};
pub use hash::{hash_hex, hash_token, hash_token_all, hash_token_all_with, token_cache_keys};
pub use pki::{cms_to_token, der_to_pki_token, pki_token_to_der, token_to_cms, PKI_ASN1_PREFIX};
pub use pkiz::PKIZ_PREFIX;
pub use whitespace::{trim_token, trim_token_str};
