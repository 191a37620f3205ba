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
//! # What to use
//!
//! The crate root re-exports what most users need: [`Signer`] and [`Verifier`] (the two entry
//! objects), [`validate`] with its [`Policy`] and verdicts ([`Rejection`], [`Step`]), the
//! [`RevocationList`], the token forms ([`detect`], [`decode`], [`trim_token`]), [`Limits`] and the one
//! [`Error`] type with stable names and codes ([`ErrorKind`], [`VerifyFailure`], [`LimitKind`]).
//!
//! A module is public when it is a vocabulary of its own that users reach as a whole: the token
//! forms ([`token_text`]), document inspection ([`cms`]), token content and binds ([`body`]),
//! revocation lists ([`revocation`]), the validation pipeline ([`pipeline`]), keystone's PKI layout
//! ([`pki_setup`]), the JSON and clock rules bindings must apply as the core does ([`json`],
//! [`timestamp`]) and the `auth_token` decision ([`auth_token`]). The rest (the two entry objects,
//! the error type, limits, algorithm names, and inside the public modules the CMS internals, the
//! trust store and the crypto primitives) is private and reached through these re-exports, so it can
//! change without breaking callers.
//!
//! # Module map
//!
//! The folders are the layers, lowest first; a module imports only from layers below it and never
//! from a module that imports it (`core/tests/layering.rs` checks both, and that this map names every
//! module).
//!
//! | layer | module | concept |
//! |---|---|---|
//! | foundations | `error` | the error type, with stable names and codes |
//! | | `limits` | resource limits for every input |
//! | | `algorithm` | hash algorithm names, OIDs and configured lists |
//! | | `timestamp` | keystone's ISO 8601 times, the clock and its accepted range |
//! | | `json` | JSON: `json::bounded`, the limits scan and parse every document goes through; `json::python_str`, strings as Python's `json.dumps` writes them |
//! | CMS | `cms` | the facade: what inspecting a document needs |
//! | | `cms::signed_data` | the SignedData subset, parsed and built with `cms`/`der` |
//! | | `cms::profile_view` | keystone-profile documents read in place (the verifier's fast path) |
//! | | `cms::canonical` | text-mode canonicalisation, as `openssl cms -sign` without `-binary` |
//! | | `cms::name` | issuer names compared as OpenSSL compares them |
//! | | `cms::trust` | signing certificates, CA bundle, cached chain verdicts |
//! | | `cms::crypto` | OpenSSL's digest, signature, HMAC and AES primitives; the one algorithm mapping |
//! | | `cms::oid` | readable OID names |
//! | token text | `token_text` | the facade: forms, decoding, the whitespace rule, token ids |
//! | | `token_text::detect` | which form a token is in (`MII`/`PKIZ_`, or the lenient DER rule) |
//! | | `token_text::pki` | PKI token text (`cms_to_token`, `token_to_cms`) |
//! | | `token_text::pkiz` | PKIZ compression |
//! | | `token_text::pem` | the one PEM reader (every label) and the CMS PEM writer |
//! | | `token_text::decode` | the one decoder from any token text to CMS DER |
//! | | `token_text::whitespace` | the one whitespace rule around a token |
//! | | `token_text::hash` | token ids (`cms_hash_token`) |
//! | entry objects | `signer` | [`Signer`]: bodies to CMS, PKI and PKIZ tokens |
//! | | `verifier` | [`Verifier`]: tokens and CMS documents back to their content |
//! | token content | `body` | the facade: [`body::parse`], the one expiry rule |
//! | | `body::model` | the owned model ([`body::TokenBody`]) |
//! | | `body::version` | v2 or v3 ([`body::TokenVersion`]) |
//! | | `body::view` | the borrowed, typed view ([`body::TokenView`]) |
//! | | `body::diagnosis` | naming the field at fault in a refused body |
//! | | `body::bind` | bind sections: added, read, enforced |
//! | lists | `revocation` | signed revocation lists: verified, looked up, built |
//! | validation | `pipeline` | the facade: keystonemiddleware's offline validation |
//! | | `pipeline::policy` | what the validation enforces ([`Policy`]) |
//! | | `pipeline::rejection` | the verdict vocabulary ([`Rejection`], [`Step`], [`ValidateError`]) |
//! | | `pipeline::steps` | each step once: hashes, revocation, signature and body, expiry, bind |
//! | | `pipeline::validate` | the steps in the middleware's order ([`validate`]) |
//! | | `pipeline::verify_token` | one token without a middleware policy: form, signature, expiry (the CLI's `verify`) |
//! | PKI | `pki_setup` | keystone's `pki_setup` layout, generated in memory |
//! | middleware | `auth_token` | the facade: keystonemiddleware's `auth_token` decision for one request |
//! | | `auth_token::config` | the middleware's options (a [`Policy`] and the rest) |
//! | | `auth_token::refusal` | why a token is refused: the pipeline's rejections and a few more |
//! | | `auth_token::token_data` | what a validated token yields, and its cache entry |
//! | | `auth_token::outcome` | the decision, each token's report, the headers, what to fetch |
//! | | `auth_token::authenticator` | the request authenticator |
//! | | `auth_token::exchange` | the shared cache as an exchange with the host (keys out, values in) |
//! | | `auth_token::headers` | the identity headers' names and environ keys |
//! | | `auth_token::identity` | identity header values of v2 and v3 bodies |
//! | | `auth_token::catalog` | `X-Service-Catalog`: v3 catalogs converted, each once |
//! | | `auth_token::python_json` | JSON values as `json.loads`/`json.dumps` round-trip them |
//! | | `auth_token::token_cache` | the bounded, sharded process token cache |
//! | | `auth_token::shared_cache` | keystonemiddleware's memcached format (plain, MAC, ENCRYPT) |
//! | | `auth_token::stats` | counters of decisions, refusals by step and cache levels, for metrics |
//!
//! # The `auth_token` feature
//!
//! The middleware's decision is a module behind the default cargo feature `auth_token`, not a crate
//! of its own: it is built on seams that are the core's own business and not a public API to keep
//! stable — the pipeline's steps, the borrowed body view, the crypto primitives of keystonemiddleware's
//! memcached format — and every binding that serves it (Python, and the C ABI an httpd module will
//! use) already depends on this crate, with one version and one `forbid(unsafe_code)`. A separate
//! crate would have to publish those seams. The layering a crate boundary would enforce is enforced
//! here by the build without the feature (`cargo test -p kstoken --no-default-features`, part of
//! `make check` and `make test`: nothing else in the core may use it) and by the layering test.
//!
//! The reference behaviour the code relies on is written down in `docs/reference-behaviour.md`.
#![forbid(unsafe_code)]

mod algorithm;
#[cfg(feature = "auth_token")]
pub mod auth_token;
pub mod body;
pub mod cms;
mod error;
pub mod json;
mod limits;
pub mod pipeline;
pub mod pki_setup;
pub mod revocation;
mod signer;
pub mod timestamp;
pub mod token_text;
mod verifier;

pub use algorithm::{HashAlgorithm, HashAlgorithms};
pub use body::bind::{AuthContext, BindMode, BindRejection};
pub use cms::{CmsProfile, ContentMode};
pub use error::{Error, ErrorKind, LimitKind, Result, VerifyFailure};
pub use limits::Limits;
pub use pipeline::{validate, validate_instant, Policy, Rejection, Step, ValidateError, Validated};
pub use revocation::RevocationList;
pub use signer::Signer;
pub use timestamp::unix_now;
pub use token_text::{decode, detect, detect_with, trim_token, DetectionRule, TokenForm};
pub use verifier::Verifier;
