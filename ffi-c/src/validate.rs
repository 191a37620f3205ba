//! `kst_validate`: keystonemiddleware's offline validation pipeline, and its result
//! (`kst_validated`).

use kstoken::pipeline::{validate, validate_instant, Policy, Validated};
use kstoken::LimitKind;
use time::OffsetDateTime;

use crate::bind::{auth_context, kst_auth_context};
use crate::bytes::{free_box, input, input_ref, optional_ref, Cap, Out, OutBox, OutBytes};
use crate::form::kst_token_form;
use crate::panic::boundary;
use crate::policy::kst_policy;
use crate::result::{kst_error, kst_result, Failure};
use crate::revocation::kst_revocation_list;
use crate::verifier::kst_verifier;

/// The result of a successful validation: the verified body and the token's hashes.
///
/// An ordinary value owned by the caller: it may move between threads, and concurrent reads are
/// safe.
pub struct kst_validated {
    inner: Validated,
}

/// The clock of a validation.
#[derive(Clone, Copy)]
enum Clock {
    /// The current instant, to the microsecond (the middleware compares expiry that finely).
    Now,
    /// Unix seconds given by the caller.
    At(i64),
}

/// Validates a token as keystonemiddleware does offline, now. See `kst_validate_at`.
///
/// "Now" is the current instant to the microsecond, as the middleware compares a token's expiry
/// (a token expiring at `T.5` is expired at `T.7`); certificates are checked at its whole second.
///
/// # Safety
/// As `kst_validate_at`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn kst_validate(
    token: *const u8,
    token_len: usize,
    verifier: *const kst_verifier,
    revocations: *const kst_revocation_list,
    policy: *const kst_policy,
    auth: *const kst_auth_context,
    out: *mut *mut kst_validated,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        validate_c(
            token,
            token_len,
            verifier,
            revocations,
            policy,
            auth,
            Clock::Now,
            out,
            err,
        )
    }
}

/// Validates a token as keystonemiddleware does offline, with the clock at `at` (Unix seconds):
/// detect the form, hash it with every policy algorithm, check the revocation list by hash,
/// verify the signature, decode the body, check the revocation list by audit id, reject an
/// expired token, enforce the bind section. Surrounding whitespace of the token is ignored.
///
/// `revocations` (NULL: no list), `policy` (NULL: the defaults) and `auth` (NULL: nothing
/// authenticated) are optional. On success `*out` receives a `kst_validated` to read with
/// `kst_validated_*` and free with `kst_validated_free`.
///
/// The code says which step rejected the token: `KST_NOT_PKI` (not PKI/PKIZ: validate online),
/// `KST_REVOKED`, `KST_MALFORMED`/`KST_LIMIT_EXCEEDED`/verification failures (200-299) from the
/// signature step, `KST_BODY_INVALID`, `KST_EXPIRED`, `KST_BIND_REJECTED`;
/// `KST_INVALID_ARGUMENT` if `at` is outside the years 1 to 9999. A token longer than the
/// verifier's `max_token_len` (or a client certificate longer than its `max_credential_len`) is
/// `KST_LIMIT_EXCEEDED` before it is read.
///
/// # Safety
/// `token` points to `token_len` readable bytes; `verifier` is live; `revocations`, `policy` are
/// NULL or live; `auth` is NULL or valid (see `kst_auth_context`); `out` is valid for writing a
/// pointer; `err` is NULL or valid for writing a pointer.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn kst_validate_at(
    token: *const u8,
    token_len: usize,
    verifier: *const kst_verifier,
    revocations: *const kst_revocation_list,
    policy: *const kst_policy,
    auth: *const kst_auth_context,
    at: i64,
    out: *mut *mut kst_validated,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        validate_c(
            token,
            token_len,
            verifier,
            revocations,
            policy,
            auth,
            Clock::At(at),
            out,
            err,
        )
    }
}

/// `kst_validate` and `kst_validate_at`.
///
/// # Safety
/// As `kst_validate_at`.
#[allow(clippy::too_many_arguments)]
unsafe fn validate_c(
    token: *const u8,
    token_len: usize,
    verifier: *const kst_verifier,
    revocations: *const kst_revocation_list,
    policy: *const kst_policy,
    auth: *const kst_auth_context,
    clock: Clock,
    out: *mut *mut kst_validated,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, verifier, revocations, policy) = unsafe {
            (
                OutBox::new(out)?,
                &input_ref(verifier, "verifier")?.inner,
                optional_ref(revocations).map(|r| &*r.inner),
                optional_ref(policy),
            )
        };
        let limits = verifier.limits();
        // SAFETY: as above; lengths are checked before their buffers are read.
        let (token, auth) = unsafe {
            (
                input(
                    token,
                    token_len,
                    "token",
                    Cap::new(limits, LimitKind::TokenLength),
                )?,
                auth_context(auth, limits)?,
            )
        };
        let default_policy;
        let policy = match policy {
            Some(p) => &p.inner,
            None => {
                default_policy = Policy::default();
                &default_policy
            }
        };
        let inner = match clock {
            Clock::Now => validate_instant(
                token,
                verifier,
                revocations,
                policy,
                &auth,
                OffsetDateTime::now_utc(),
            ),
            Clock::At(at) => validate(token, verifier, revocations, policy, &auth, at),
        }
        .map_err(Failure::from)?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(kst_validated { inner }) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Copies the verified content (the token body JSON) to `*out`/`*out_len`, freed with
/// `kst_bytes_free`.
///
/// # Safety
/// `validated` is live; `out`/`out_len` are valid for writes; `err` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_validated_content(
    validated: *const kst_validated,
    out: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller.
        let (out, validated) = unsafe {
            (
                OutBytes::new(out, out_len)?,
                input_ref(validated, "validated")?,
            )
        };
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(&validated.inner.content) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Writes the number of hashes (one per policy algorithm) to `*out`.
///
/// # Safety
/// `validated` is live; `out` is valid for writing a `size_t`; `err` is NULL or valid for writing
/// a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_validated_hash_count(
    validated: *const kst_validated,
    out: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: `out` is NULL or writable and `validated` NULL or live, per the caller.
        let (out, validated) =
            unsafe { (Out::new(out, "out", 0)?, input_ref(validated, "validated")?) };
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(validated.inner.hashes.len()) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Copies hash number `index` (in the policy's algorithm order; lowercase hex, the middleware's
/// cache key) to `*out`/`*out_len`, freed with `kst_bytes_free`. `KST_INVALID_ARGUMENT` if
/// `index` is not below the hash count.
///
/// # Safety
/// `validated` is live; `out`/`out_len` are valid for writes; `err` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_validated_hash(
    validated: *const kst_validated,
    index: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller.
        let (out, validated) = unsafe {
            (
                OutBytes::new(out, out_len)?,
                input_ref(validated, "validated")?,
            )
        };
        let hashes = &validated.inner.hashes;
        let hash = hashes.get(index).ok_or_else(|| {
            Failure::invalid(format!(
                "hash index {index} out of range ({})",
                hashes.len()
            ))
        })?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(hash.as_bytes()) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Writes the token's form (`KST_FORM_PKI` or `KST_FORM_PKIZ`) to `*out`.
///
/// # Safety
/// `validated` is live; `out` is valid for writing a `kst_token_form`; `err` is NULL or valid for
/// writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_validated_form(
    validated: *const kst_validated,
    out: *mut kst_token_form,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: `out` is NULL or writable and `validated` NULL or live, per the caller.
        let (out, validated) = unsafe {
            (
                Out::new(out, "out", kst_token_form::KST_FORM_OTHER)?,
                input_ref(validated, "validated")?,
            )
        };
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(kst_token_form::of(validated.inner.form)) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Writes the token's expiry (Unix seconds) to `*out`: how long a cache may keep it. A token
/// without expiry gives `INT64_MAX`.
///
/// # Safety
/// `validated` is live; `out` is valid for writing an `int64_t`; `err` is NULL or valid for
/// writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_validated_expires(
    validated: *const kst_validated,
    out: *mut i64,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: `out` is NULL or writable and `validated` NULL or live, per the caller.
        let (out, validated) =
            unsafe { (Out::new(out, "out", 0)?, input_ref(validated, "validated")?) };
        let expires = validated
            .inner
            .body
            .expires
            .map_or(i64::MAX, OffsetDateTime::unix_timestamp);
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(expires) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Releases a validation result. NULL is ignored.
///
/// # Safety
/// `validated` is NULL or a result from this library, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kst_validated_free(validated: *mut kst_validated) {
    // SAFETY: per the caller.
    unsafe { free_box(validated) }
}
