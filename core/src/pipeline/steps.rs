//! The steps of the validation, each written once: [`crate::pipeline::validate`] runs them in
//! keystonemiddleware's order, and the `auth_token` authenticator runs the same functions on
//! cached tokens (`docs/reference-behaviour.md#validation-order`).

use time::OffsetDateTime;

use crate::algorithm::HashAlgorithm;
use crate::body::bind::{enforce, AuthContext, BindMode};
use crate::body::has_expired;
use crate::error::Error;
use crate::pipeline::rejection::Rejection;
use crate::revocation::RevocationList;
use crate::token_text::hash_hex;
use crate::verifier::Verifier;
use serde_json::{Map, Value};

/// The token's hashes, one per configured algorithm, in order: the revocation list's keys and the
/// shared cache's. An error only when OpenSSL lacks an algorithm (md5 under FIPS).
pub fn token_hashes(token: &[u8], algorithms: &[HashAlgorithm]) -> Result<Vec<String>, Error> {
    algorithms.iter().map(|a| hash_hex(token, *a)).collect()
}

/// The revocation list's first check, before the signature: is any of the token's hashes listed?
pub fn check_revoked_hashes(list: &RevocationList, hashes: &[String]) -> Result<(), Rejection> {
    if list.is_revoked(hashes, &[]) {
        return Err(Rejection::Revoked { by_audit_id: false });
    }
    Ok(())
}

/// The revocation list's second check, once the body is read: is any of its audit ids listed?
pub fn check_revoked_audit_ids(
    list: &RevocationList,
    audit_ids: &[String],
) -> Result<(), Rejection> {
    if list.is_revoked(&[], audit_ids) {
        return Err(Rejection::Revoked { by_audit_id: true });
    }
    Ok(())
}

/// Both revocation checks, in their order, for a token whose body is already known (a cached one).
pub fn check_revocation(
    list: &RevocationList,
    hashes: &[String],
    audit_ids: &[String],
) -> Result<(), Rejection> {
    check_revoked_hashes(list, hashes)?;
    check_revoked_audit_ids(list, audit_ids)
}

/// The expiry step: [`has_expired`], keystonemiddleware's rule, at `now`.
pub fn check_expiry(expires: Option<OffsetDateTime>, now: OffsetDateTime) -> Result<(), Rejection> {
    if has_expired(expires, now) {
        return Err(Rejection::Expired);
    }
    Ok(())
}

/// The bind step: `enforce_token_bind` on the token's bind section for this request.
pub fn check_bind(
    mode: &BindMode,
    bind: Option<&Map<String, Value>>,
    auth: &AuthContext<'_>,
) -> Result<(), Rejection> {
    enforce(mode, bind, auth).map_err(Rejection::Bind)
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
    if let Some(list) = revocations {
        check_revoked_hashes(list, hashes)?;
    }
    let content = verifier
        .verify_at(token, at)
        .map_err(Rejection::Verification)?;
    let body = decode(content).map_err(Rejection::Body)?;
    if let Some(list) = revocations {
        check_revoked_audit_ids(list, audit_ids(&body))?;
    }
    Ok(body)
}
