//! keystonemiddleware's offline validation of a PKI/PKIZ token, as one pure function.
//!
//! The order is the middleware's (`docs/reference-behaviour.md#validation-order`): detect the form,
//! hash with every configured algorithm, check the revocation list by hash, verify the signature,
//! decode the body, check the revocation list by audit id, reject an expired token, enforce the
//! bind section.

use time::OffsetDateTime;

use crate::body::bind::AuthContext;
use crate::body::{self, TokenBody};
use crate::error::LimitKind;
use crate::pipeline::policy::Policy;
use crate::pipeline::rejection::{Rejection, ValidateError};
use crate::pipeline::steps::{check_bind, check_expiry, token_hashes, verify_and_decode};
use crate::revocation::RevocationList;
use crate::timestamp::unix_time;
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

/// Validates `token` at `now` (Unix seconds, like [`Verifier::verify_at`]): the instant
/// `now.000000`. [`validate_instant`] takes a precise instant.
///
/// The clock is checked first ([`crate::timestamp::unix_time`]), then the token's length against
/// the verifier's `max_token_len` (a signature-step rejection, before anything is read); surrounding
/// whitespace is ignored ([`crate::token_text::trim_token`]), as the middleware strips the header.
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
    let hashes =
        token_hashes(token, &policy.hash_algorithms).map_err(ValidateError::InvalidArgument)?;
    let limits = verifier.limits();
    let (content, body) = verify_and_decode(
        token,
        verifier,
        revocations,
        &hashes,
        at,
        |content| body::parse(&content, limits).map(|body| (content, body)),
        |(_, body)| &body.audit_ids,
    )?;
    check_expiry(body.expires, now)?;
    check_bind(&policy.bind_mode, body.bind.as_ref(), auth)?;
    Ok(Validated {
        form,
        hashes,
        content,
        body,
    })
}
