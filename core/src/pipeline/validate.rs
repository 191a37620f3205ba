//! keystonemiddleware's offline validation of a PKI/PKIZ token, as one pure function.
//!
//! The order is the middleware's (`docs/reference-behaviour.md#validation-order`): detect the form,
//! hash with every configured algorithm, check the revocation list by hash, verify the signature,
//! decode the body, check the revocation list by audit id, reject an expired token, enforce the
//! bind section.

use time::OffsetDateTime;

use crate::body::bind::{enforce, AuthContext};
use crate::body::model::{self, TokenBody};
use crate::error::{Error, LimitKind};
use crate::pipeline::policy::Policy;
use crate::pipeline::rejection::{Rejection, ValidateError};
use crate::revocation::RevocationList;
use crate::timestamp::unix_time;
use crate::token_text::hash_hex;
use crate::token_text::{detect_with, trim_token, TokenForm};
use crate::verifier::Verifier;

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
