//! keystonemiddleware's offline validation of a PKI/PKIZ token, as one pure function.
//!
//! The order is the middleware's (`docs/reference-behaviour.md#validation-order`): detect the form,
//! hash with every configured algorithm, check the revocation list by hash, verify the signature,
//! decode the body, check the revocation list by audit id, reject an expired token, enforce the
//! bind section.

use std::fmt;

use time::OffsetDateTime;

use crate::algorithm::HashAlgorithms;
use crate::body::bind::{enforce, AuthContext, BindMode, BindRejection};
use crate::body::model::{self, TokenBody};
use crate::error::{Error, LimitKind};
use crate::revocation::RevocationList;
use crate::timestamp::unix_time;
use crate::token_text::hash::hash_hex;
use crate::token_text::{detect_with, trim_token, DetectionRule, TokenForm};
use crate::verifier::Verifier;

/// What the validation enforces, the middleware's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `hash_algorithms`: token hashes to compute (cache keys) and to check for revocation.
    pub hash_algorithms: HashAlgorithms,
    /// `enforce_token_bind`.
    pub bind_mode: BindMode,
    /// How PKI tokens are recognised.
    pub detection: DetectionRule,
}

impl Default for Policy {
    /// keystonemiddleware's defaults: md5 hashes, permissive bind enforcement, the `MII` rule.
    fn default() -> Self {
        Policy {
            hash_algorithms: HashAlgorithms::default(),
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

impl Step {
    /// Every step, in the pipeline's order.
    pub const ALL: [Step; 7] = [
        Step::Detect,
        Step::RevokedByHash,
        Step::Signature,
        Step::Body,
        Step::RevokedByAuditId,
        Step::Expiry,
        Step::Bind,
    ];

    /// The stable name: `detect`, `revoked_by_hash`, `signature`, `body`, `revoked_by_audit_id`,
    /// `expiry`, `bind` (what Python's `TokenRejected.step` and the CLI report).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Detect => "detect",
            Step::RevokedByHash => "revoked_by_hash",
            Step::Signature => "signature",
            Step::Body => "body",
            Step::RevokedByAuditId => "revoked_by_audit_id",
            Step::Expiry => "expiry",
            Step::Bind => "bind",
        }
    }

    /// The stable number: the step's place in the pipeline, 1 (detect) to 7 (bind).
    pub fn code(self) -> u32 {
        match self {
            Step::Detect => 1,
            Step::RevokedByHash => 2,
            Step::Signature => 3,
            Step::Body => 4,
            Step::RevokedByAuditId => 5,
            Step::Expiry => 6,
            Step::Bind => 7,
        }
    }

    /// What the step checks, in words for people (the CLI prints it before the stable name).
    pub fn description(self) -> &'static str {
        match self {
            Step::Detect => "detect (form)",
            Step::RevokedByHash => "revocation (token hash)",
            Step::Signature => "signature",
            Step::Body => "body",
            Step::RevokedByAuditId => "revocation (audit id)",
            Step::Expiry => "expiry",
            Step::Bind => "bind",
        }
    }
}

impl fmt::Display for Step {
    /// The stable name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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

    /// The stable number, the C ABI's `kst_result`: 300 not PKI, 301 revoked, 302 expired, 303 bind,
    /// 304 body; a signature-step rejection has its error's code ([`Error::code`]).
    pub fn code(&self) -> u32 {
        match self {
            Rejection::NotPki => 300,
            Rejection::Revoked { .. } => 301,
            Rejection::Expired => 302,
            Rejection::Bind(b) => b.code(),
            Rejection::Body(_) => 304,
            Rejection::Verification(e) => e.code(),
        }
    }

    /// The error behind a signature or body rejection.
    pub fn error(&self) -> Option<&Error> {
        match self {
            Rejection::Verification(e) | Rejection::Body(e) => Some(e),
            _ => None,
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

/// Why [`validate`] returned no token: a rejection at one of its steps, or a call it cannot serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidateError {
    /// The token was rejected at a step (the middleware's 401).
    Rejected(Rejection),
    /// The call itself is invalid: the clock is out of range ([`crate::timestamp::unix_time`]) or a
    /// configured hash algorithm is unavailable in this OpenSSL. Not a verdict on the token.
    InvalidArgument(Error),
}

impl ValidateError {
    /// The rejection, if the token was rejected.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            ValidateError::Rejected(r) => Some(r),
            ValidateError::InvalidArgument(_) => None,
        }
    }

    /// The step that rejected the token, if it was rejected.
    pub fn step(&self) -> Option<Step> {
        self.rejection().map(Rejection::step)
    }

    /// The stable number, the C ABI's `kst_result`: the rejection's, or the error's (2).
    pub fn code(&self) -> u32 {
        match self {
            ValidateError::Rejected(r) => r.code(),
            ValidateError::InvalidArgument(e) => e.code(),
        }
    }
}

impl From<Rejection> for ValidateError {
    fn from(rejection: Rejection) -> Self {
        ValidateError::Rejected(rejection)
    }
}

impl fmt::Display for ValidateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidateError::Rejected(r) => r.fmt(f),
            ValidateError::InvalidArgument(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ValidateError {}

/// The part of the validation that does not depend on the request (what a token cache keeps):
/// revocation by hash, signature, body, revocation by audit id, in that order.
///
/// `token` is trimmed and known to be PKI/PKIZ; `hashes` are its configured hashes; `decode` turns
/// the verified content into the caller's body type, and `audit_ids` reads that body's audit ids.
/// Expiry and bind, which depend on the request, are the caller's.
pub fn verify_and_decode<B>(
    token: &[u8],
    verifier: &Verifier,
    revocations: Option<&RevocationList>,
    hashes: &[String],
    at: i64,
    decode: impl FnOnce(Vec<u8>) -> Result<B, Error>,
    audit_ids: impl FnOnce(&B) -> &[String],
) -> Result<B, Rejection> {
    if revocations.is_some_and(|r| r.is_revoked(hashes, &[])) {
        return Err(Rejection::Revoked { by_audit_id: false });
    }
    let content = verifier
        .verify_at(token, at)
        .map_err(Rejection::Verification)?;
    let body = decode(content).map_err(Rejection::Body)?;
    if revocations.is_some_and(|r| r.is_revoked(&[], audit_ids(&body))) {
        return Err(Rejection::Revoked { by_audit_id: true });
    }
    Ok(body)
}

/// Validates `token` at `now` (Unix seconds, like [`Verifier::verify_at`]): the instant
/// `now.000000`. [`validate_instant`] takes a precise instant.
///
/// The clock is checked first ([`crate::timestamp::unix_time`]), then the token's length against
/// the verifier's `max_token_len` (a signature-step rejection, before anything is read); surrounding
/// whitespace is ignored ([`crate::token_text::whitespace::trim_token`]), as the middleware strips the header.
pub fn validate(
    token: impl AsRef<[u8]>,
    verifier: &Verifier,
    revocations: Option<&RevocationList>,
    policy: &Policy,
    auth: &AuthContext<'_>,
    now: i64,
) -> Result<Validated, ValidateError> {
    let now = unix_time(now).map_err(ValidateError::InvalidArgument)?;
    validate_instant(token, verifier, revocations, policy, auth, now)
}

/// As [`validate`], at a precise instant: keystonemiddleware compares the expiry with a
/// microsecond clock, so a token that expires at `T.5` is already expired at `T.7`, which whole
/// seconds cannot say. The certificate chain is checked at the instant's whole second, as OpenSSL
/// does. Callers validating "now" pass `OffsetDateTime::now_utc()`.
pub fn validate_instant(
    token: impl AsRef<[u8]>,
    verifier: &Verifier,
    revocations: Option<&RevocationList>,
    policy: &Policy,
    auth: &AuthContext<'_>,
    now: OffsetDateTime,
) -> Result<Validated, ValidateError> {
    let at = now.unix_timestamp();
    unix_time(at).map_err(ValidateError::InvalidArgument)?;
    let token = token.as_ref();
    verifier
        .limits()
        .check(LimitKind::TokenLength, token.len())
        .map_err(Rejection::Verification)?;
    let token = trim_token(token);
    let form = detect_with(token, policy.detection);
    if form == TokenForm::Other {
        return Err(Rejection::NotPki.into());
    }
    let hashes = policy
        .hash_algorithms
        .iter()
        .map(|a| hash_hex(token, *a))
        .collect::<Result<Vec<String>, Error>>()
        .map_err(ValidateError::InvalidArgument)?;
    let limits = verifier.limits();
    let (content, body) = verify_and_decode(
        token,
        verifier,
        revocations,
        &hashes,
        at,
        |content| model::parse(&content, limits).map(|body| (content, body)),
        |(_, body)| &body.audit_ids,
    )?;
    if body.is_expired(now) {
        return Err(Rejection::Expired.into());
    }
    enforce(&policy.bind_mode, body.bind.as_ref(), auth).map_err(Rejection::Bind)?;
    Ok(Validated {
        form,
        hashes,
        content,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn step_names_and_codes() {
        let names: Vec<&str> = Step::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "detect",
                "revoked_by_hash",
                "signature",
                "body",
                "revoked_by_audit_id",
                "expiry",
                "bind"
            ]
        );
        let codes: Vec<u32> = Step::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(Step::RevokedByHash.to_string(), "revoked_by_hash");
        let descriptions: HashSet<&str> = Step::ALL.iter().map(|s| s.description()).collect();
        assert_eq!(descriptions.len(), Step::ALL.len());
    }

    #[test]
    fn rejection_codes() {
        assert_eq!(Rejection::NotPki.code(), 300);
        assert_eq!(Rejection::Revoked { by_audit_id: true }.code(), 301);
        assert_eq!(Rejection::Expired.code(), 302);
        assert_eq!(Rejection::Bind(BindRejection::MissingBind).code(), 303);
        assert_eq!(Rejection::Body(Error::malformed("x")).code(), 304);
        let bad = Error::verify(crate::VerifyFailure::BadSignature, "");
        assert_eq!(Rejection::Verification(bad.clone()).code(), 201);
        assert_eq!(Rejection::Verification(bad.clone()).error(), Some(&bad));
        let invalid = ValidateError::InvalidArgument(Error::InvalidArgument("clock".into()));
        assert_eq!((invalid.code(), invalid.step()), (2, None));
        let rejected = ValidateError::from(Rejection::Expired);
        assert_eq!(rejected.step(), Some(Step::Expiry));
        assert_eq!(rejected.to_string(), "Token has expired");
    }
}
