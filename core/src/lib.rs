//! kstoken: sign and verify OpenStack Keystone PKI and PKIZ tokens in-process.
//!
//! Keystone's PKI tokens are CMS SignedData documents over a JSON token body. The reference
//! implementation (python-keystoneclient's `cms` module) spawns `openssl cms` once per token;
//! kstoken does the same work in-process with the same verdicts and byte-identical output.
//!
//! - [`Signer`]: token bodies to CMS PEM/DER, PKI tokens and PKIZ tokens.
//! - [`Verifier`]: PKI/PKIZ tokens and CMS documents back to the signed content.
//! - [`form`], [`pkiz`], [`pem`]: the text forms, and [`form::detect`] for which form a token is in.
//! - [`hash`]: token-id hashing (`cms_hash_token`).
//! - [`body`], [`bind`], [`revocation`]: token bodies, bind sections, signed revocation lists.
//! - [`pipeline::validate`]: keystonemiddleware's offline validation as one pure function.
#![forbid(unsafe_code)]

pub mod algorithm;
pub mod authenticate;
pub mod bind;
pub mod body;
pub mod canonical;
pub mod cms;
mod crypto;
pub mod error;
pub mod form;
pub mod hash;
pub mod identity;
pub mod limits;
mod name;
pub mod pem;
pub mod pipeline;
pub mod pki_setup;
pub mod pkiz;
pub mod python_json;
pub mod revocation;
pub mod shared_cache;
pub mod signer;
pub mod token_cache;
pub mod token_view;
mod trust;
pub mod verifier;

pub use algorithm::HashAlgorithm;
pub use canonical::ContentMode;
pub use error::{Error, LimitKind, Result, VerifyFailure};
pub use form::{detect, detect_with, DetectionRule, TokenForm};
pub use limits::Limits;
pub use pipeline::{validate, Policy, Rejection, Step, Validated};
pub use revocation::RevocationList;
pub use signer::Signer;
pub use verifier::{unix_now, Verifier};
