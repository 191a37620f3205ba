//! `kst_validate`: keystonemiddleware's offline validation pipeline, with its policy
//! (`kst_policy`) and result (`kst_validated`).

use std::ffi::c_char;

use kstoken::bind::BindMode;
use kstoken::pipeline::{validate, Policy, Validated};
use kstoken::{DetectionRule, HashAlgorithms};
use time::OffsetDateTime;

use crate::bind::{auth_context, kst_auth_context};
use crate::bytes::{
    free_handle, input, input_ref, input_str, optional_ref, OutBytes, OutHandle, OutPtr,
};
use crate::form::kst_token_form;
use crate::panic::boundary;
use crate::result::{kst_error, kst_result, Failure};
use crate::revocation::kst_revocation_list;
use crate::verifier::kst_verifier;

/// What validation enforces (keystonemiddleware's configuration). A new policy has the
/// middleware's defaults: hash algorithm `md5`, bind mode `permissive`, the upstream detection
/// rule.
///
/// Not thread-safe to modify: configure it first, then any number of threads may pass it to
/// `kst_validate` at once as long as no setter runs concurrently.
pub struct kst_policy {
    inner: Policy,
}

/// The result of a successful validation: the verified body and the token's hashes.
///
/// An ordinary value owned by the caller: it may move between threads, and concurrent reads are
/// safe.
pub struct kst_validated {
    inner: Validated,
}

/// Creates a policy with the defaults; free it with `kst_policy_free`.
///
/// # Safety
/// `out` is valid for writing a pointer; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_new(
    out: *mut *mut kst_policy,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: `out` is NULL or writable, per the caller.
        let out = unsafe { OutHandle::new(out) }?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe {
            out.set(kst_policy {
                inner: Policy::default(),
            })
        };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Sets the hash algorithms (`hash_algorithms`): a comma-separated list such as `"sha256,md5"`,
/// names as `kst_hash_token` takes them, spaces ignored. The token's hashes are computed in this
/// order, returned by `kst_validated_hash`, and all checked against the revocation list.
///
/// Errors: `KST_INVALID_ARGUMENT` for an unknown or empty name or an empty list (the policy is
/// unchanged). A repeated algorithm counts once.
///
/// # Safety
/// `policy` is a live policy not used concurrently; `algorithms` is a NUL-terminated string;
/// `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_set_hash_algorithms(
    policy: *mut kst_policy,
    algorithms: *const c_char,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller; `policy` is not aliased.
        let (policy, algorithms) = unsafe {
            (
                policy.as_mut().ok_or_else(|| Failure::null("policy"))?,
                input_str(algorithms, "algorithms")?,
            )
        };
        policy.inner.hash_algorithms = algorithms.parse::<HashAlgorithms>()?;
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Sets the bind mode (`enforce_token_bind`): `disabled`, `permissive`, `strict`, `required` or a
/// bind type name, as `kst_check_bind` takes it.
///
/// # Safety
/// `policy` is a live policy not used concurrently; `mode` is a NUL-terminated string; `err` is
/// NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_set_bind_mode(
    policy: *mut kst_policy,
    mode: *const c_char,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller; `policy` is not aliased.
        let (policy, mode) = unsafe {
            (
                policy.as_mut().ok_or_else(|| Failure::null("policy"))?,
                input_str(mode, "mode")?,
            )
        };
        policy.inner.bind_mode = BindMode::parse(mode);
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Chooses the detection rule: `lenient` false is keystoneclient's `MII`/`PKIZ_` rule (the
/// default), true also recognises PKI tokens of unusual sizes (see `kst_detect`).
///
/// # Safety
/// `policy` is a live policy not used concurrently; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_set_lenient_detection(
    policy: *mut kst_policy,
    lenient: bool,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: `policy` is NULL or live and not aliased, per the caller.
        let policy = unsafe { policy.as_mut() }.ok_or_else(|| Failure::null("policy"))?;
        policy.inner.detection = DetectionRule::from_lenient(lenient);
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Releases a policy. NULL is ignored.
///
/// # Safety
/// `policy` is NULL or a policy from this library, not used by any thread afterwards.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_free(policy: *mut kst_policy) {
    // SAFETY: per the caller.
    unsafe { free_handle(policy) }
}

/// Validates a token as keystonemiddleware does offline, now. See `kst_validate_at`.
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
        kst_validate_at(
            token,
            token_len,
            verifier,
            revocations,
            policy,
            auth,
            kstoken::unix_now(),
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
/// `KST_INVALID_ARGUMENT` if `at` is outside the years 1 to 9999.
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
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, token, verifier, revocations, policy, auth) = unsafe {
            (
                OutHandle::new(out)?,
                input(token, token_len, "token")?,
                input_ref(verifier, "verifier")?,
                optional_ref(revocations),
                optional_ref(policy),
                auth_context(auth)?,
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
        let inner = validate(
            token,
            &verifier.inner,
            revocations.map(|r| &r.inner),
            policy,
            &auth,
            at,
        )?;
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
        let out = OutPtr::new(out, "out")?;
        // SAFETY: `validated` is NULL or live, per the caller.
        let validated = unsafe { input_ref(validated, "validated") }?;
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
        let out = OutPtr::new(out, "out")?;
        // SAFETY: `validated` is NULL or live, per the caller.
        let validated = unsafe { input_ref(validated, "validated") }?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(validated.inner.form.into()) };
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
        let out = OutPtr::new(out, "out")?;
        // SAFETY: `validated` is NULL or live, per the caller.
        let validated = unsafe { input_ref(validated, "validated") }?;
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
    unsafe { free_handle(validated) }
}
