//! kstoken: sign and verify OpenStack Keystone PKI and PKIZ tokens in-process.
//!
//! Keystone's PKI tokens are CMS SignedData documents over a JSON token body. The reference
//! implementation (python-keystoneclient's `cms` module) spawns `openssl cms` once per token;
//! kstoken does the same work in-process with the same verdicts and byte-identical output.
//!
//! ```
//! use kstoken::pki_setup::{generate, PkiOptions};
//! use kstoken::{Signer, Verifier};
//!
//! # fn main() -> kstoken::Result<()> {
//! // keystone's `pki_setup` layout, in memory: a CA and a token signing certificate.
//! let pki = generate(&PkiOptions::default())?;
//! let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem)?;
//! let verifier = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem)?;
//!
//! let body = br#"{"token": {"methods": ["password"], "expires_at": "2099-01-01T00:00:00Z"}}"#;
//! let token = signer.sign_pkiz(body)?; // or sign_pki, or sign_cms for the PEM document
//! assert_eq!(verifier.verify(token.as_bytes())?, body);
//!
//! let mut forged = token.into_bytes();
//! let last = forged.len() - 1;
//! forged[last] ^= 1;
//! assert!(verifier.verify(&forged).is_err());
//! # Ok(())
//! # }
//! ```
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
pub mod auth_token;
pub mod body;
pub mod cms;
pub mod error;
pub mod json;
pub mod limits;
pub mod pipeline;
pub mod pki_setup;
pub mod revocation;
pub mod signer;
pub mod timestamp;
pub mod token_text;
pub mod verifier;

// The paths of the flat layout, until the bindings move to the new ones.
pub use auth_token as authenticate;
pub use body::{bind, view as token_view};
pub use cms::{canonical, oid};
pub use token_text as form;
pub use token_text::{hash, pem, pkiz};

pub use algorithm::{HashAlgorithm, HashAlgorithms};
pub use cms::canonical::ContentMode;
pub use cms::signed_data::CmsProfile;
pub use error::{Error, ErrorKind, LimitKind, Result, VerifyFailure};
pub use limits::Limits;
pub use pipeline::{validate, validate_instant, Policy, Rejection, Step, ValidateError, Validated};
pub use revocation::RevocationList;
pub use signer::Signer;
pub use timestamp::unix_now;
pub use token_text::{decode, detect, detect_with, trim_token, DetectionRule, TokenForm};
pub use verifier::Verifier;
