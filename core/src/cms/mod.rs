//! CMS SignedData, and the cryptography under it.
//!
//! The lowest layer that knows about tokens: the SignedData subset kstoken reads and writes with the
//! RustCrypto `cms`/`der` types ([`parse`], [`SignedDocument`], [`CmsProfile`]), keystone-profile
//! documents read in place, text-mode canonicalisation ([`ContentMode`]), issuer names compared as
//! OpenSSL compares them, the trust store with its cached chain verdicts, and OpenSSL's digest,
//! signature, HMAC and AES primitives. Public here is what inspecting a document needs; the rest
//! serves the [`crate::Verifier`] and [`crate::Signer`] (and the `auth_token` memcached format).

mod canonical;
pub(crate) mod crypto;
mod name;
pub mod oid;
pub(crate) mod profile_view;
pub(crate) mod signed_data;
pub(crate) mod trust;

pub use canonical::{canonicalize_text, ContentMode};
pub use signed_data::{
    parse, CmsProfile, ProfileDeviation, SignedDocument, SignerId, SignerSummary,
};
