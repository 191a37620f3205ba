//! kstoken: sign and verify OpenStack Keystone PKI and PKIZ tokens in-process.
//!
//! Keystone's PKI tokens are CMS SignedData documents over a JSON token body. The reference
//! implementation (python-keystoneclient's `cms` module) spawns `openssl cms` once per token;
//! kstoken does the same work in-process with the same verdicts and byte-identical output.
//!
//! - [`Signer`]: token bodies to CMS PEM/DER, PKI tokens and PKIZ tokens.
//! - [`Verifier`]: PKI/PKIZ tokens and CMS documents back to the signed content.
//! - [`form`], [`pkiz`], [`pem`]: the text forms, [`form::detect`] for which form a token is in,
//!   [`form::decode`] from any token text to CMS DER, and [`form::trim_token`], the whitespace rule.
//! - [`hash`], [`algorithm`]: token-id hashing (`cms_hash_token`), algorithm names and lists.
//! - [`body`], [`bind`], [`revocation`]: token bodies, bind sections, signed revocation lists;
//!   [`json`] and [`timestamp`] for the JSON and times they are made of.
//! - [`pipeline::validate`]: keystonemiddleware's offline validation as one pure function.
//! - [`error`]: the error type, with stable names and codes for every outcome ([`ErrorKind`]).
//!
//! The reference behaviour the code relies on is written down in `docs/reference-behaviour.md`.
#![forbid(unsafe_code)]

pub mod algorithm;
pub mod bind;
pub mod body;
pub mod canonical;
pub mod cms;
mod crypto;
pub mod error;
pub mod form;
pub mod hash;
pub mod json;
pub mod limits;
mod name;
pub mod oid;
pub mod pem;
pub mod pipeline;
pub mod pki_setup;
pub mod pkiz;
pub mod revocation;
pub mod signer;
pub mod timestamp;
mod trust;
pub mod verifier;

pub use algorithm::{HashAlgorithm, HashAlgorithms};
pub use canonical::ContentMode;
pub use cms::CmsProfile;
pub use error::{Error, ErrorKind, LimitKind, Result, VerifyFailure};
pub use form::{decode, detect, detect_with, trim_token, DetectionRule, TokenForm};
pub use limits::Limits;
pub use pipeline::{validate, validate_instant, Policy, Rejection, Step, ValidateError, Validated};
pub use revocation::RevocationList;
pub use signer::Signer;
pub use verifier::{unix_now, Verifier};
