//! keystonemiddleware's offline validation of a PKI/PKIZ token, as one pure function.
//!
//! The order is the middleware's (spec §8.2): detect the form, hash with every configured
//! algorithm, check the revocation list by hash, verify the signature, decode the body, check the
//! revocation list by audit id, reject an expired token, enforce the bind section.

use std::fmt;

use time::OffsetDateTime;

use crate::algorithm::HashAlgorithm;
use crate::bind::{enforce, AuthContext, BindMode, BindRejection};
use crate::body::{self, TokenBody};
use crate::error::Error;
use crate::form::{detect_with, DetectionRule, TokenForm};
use crate::hash::hash_hex;
use crate::revocation::RevocationList;
use crate::verifier::Verifier;

/// What the validation enforces, the middleware's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `hash_algorithms`: token hashes to compute (cache keys) and to check for revocation.
    pub hash_algorithms: Vec<HashAlgorithm>,
    /// `enforce_token_bind`.
    pub bind_mode: BindMode,
    /// How PKI tokens are recognised.
    pub detection: DetectionRule,
}

impl Default for Policy {
    /// keystonemiddleware's defaults: md5 hashes, permissive bind enforcement, the `MII` rule.
    fn default() -> Self {
        Policy {
            hash_algorithms: vec![HashAlgorithm::Md5],
            bind_mode: BindMode::Permissive,
            detection: DetectionRule::Upstream,
        }
    }
}

/// A token that passed every step.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The token's form.
    pub form: TokenForm,
    /// The token's hashes, one per configured algorithm, in order (the middleware's cache keys).
    pub hashes: Vec<String>,
    /// The verified content bytes.
    pub content: Vec<u8>,
    /// The decoded body.
    pub body: TokenBody,
}

/// The step of the validation that rejected a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Form detection: not a PKI or PKIZ token.
    Detect,
    /// Revocation list, by token hash.
    RevokedByHash,
    /// CMS signature verification.
    Signature,
    /// Body decoding.
    Body,
    /// Revocation list, by audit id.
    RevokedByAuditId,
    /// Expiry.
    Expiry,
    /// Bind enforcement.
    Bind,
}

/// Why a token was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not a PKI or PKIZ token: only online validation can decide it.
    NotPki,
    /// The token is on the revocation list.
    Revoked {
        /// Whether it was found by audit id rather than by hash.
        by_audit_id: bool,
    },
    /// The CMS document is malformed or did not verify.
    Verification(Error),
    /// The verified content is not a readable token body.
    Body(Error),
    /// The token expired at or before the validation time.
    Expired,
    /// The bind section does not allow this request.
    Bind(BindRejection),
}

impl Rejection {
    /// The step that rejected the token.
    pub fn step(&self) -> Step {
        match self {
            Rejection::NotPki => Step::Detect,
            Rejection::Revoked { by_audit_id: false } => Step::RevokedByHash,
            Rejection::Revoked { by_audit_id: true } => Step::RevokedByAuditId,
            Rejection::Verification(_) => Step::Signature,
            Rejection::Body(_) => Step::Body,
            Rejection::Expired => Step::Expiry,
            Rejection::Bind(_) => Step::Bind,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotPki => f.write_str("not a PKI or PKIZ token"),
            Rejection::Revoked { by_audit_id: false } => f.write_str("Token has been revoked"),
            Rejection::Revoked { by_audit_id: true } => {
                f.write_str("Token has been revoked (by audit id)")
            }
            Rejection::Verification(e) => write!(f, "Token authorization failed: {e}"),
            Rejection::Body(e) => write!(f, "invalid token body: {e}"),
            Rejection::Expired => f.write_str("Token has expired"),
            Rejection::Bind(e) => write!(f, "bind check failed: {e}"),
        }
    }
}

impl std::error::Error for Rejection {}

/// Validates `token` (surrounding whitespace ignored, as the middleware strips the header) at `now`.
pub fn validate(
    token: &str,
    verifier: &Verifier,
    revocations: Option<&RevocationList>,
    policy: &Policy,
    auth: &AuthContext<'_>,
    now: OffsetDateTime,
) -> Result<Validated, Rejection> {
    let token = token.trim();
    let form = detect_with(token, policy.detection);
    if form == TokenForm::Other {
        return Err(Rejection::NotPki);
    }
    let hashes: Vec<String> = policy
        .hash_algorithms
        .iter()
        .map(|a| hash_hex(token.as_bytes(), *a))
        .collect();
    if revocations.is_some_and(|r| r.is_revoked(&hashes, &[])) {
        return Err(Rejection::Revoked { by_audit_id: false });
    }
    let content = verifier
        .verify_at(token.as_bytes(), now.unix_timestamp())
        .map_err(Rejection::Verification)?;
    let body = body::parse(&content, verifier.limits()).map_err(Rejection::Body)?;
    if revocations.is_some_and(|r| r.is_revoked(&[], &body.audit_ids)) {
        return Err(Rejection::Revoked { by_audit_id: true });
    }
    if body.is_expired(now) {
        return Err(Rejection::Expired);
    }
    enforce(&policy.bind_mode, body.bind.as_ref(), auth).map_err(Rejection::Bind)?;
    Ok(Validated {
        form,
        hashes,
        content,
        body,
    })
}
