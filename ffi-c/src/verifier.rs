//! `kst_verifier`: verifies PKI tokens, PKIZ tokens and CMS PEM against signing certs and a CA.

use std::sync::Arc;

use kstoken::{LimitKind, Verifier};

use crate::bytes::{clone_arc, free_arc, input, input_ref, Cap, OutArc, OutBytes};
use crate::limits::{kst_limits, limits_or_default};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result};

/// A verifier: the signing-certificate bundle and the CA bundle, with resource limits.
///
/// Immutable and reference-counted: any number of threads may use one at once (it caches each
/// signer's chain verdict internally); `kst_verifier_clone` takes another reference and each
/// `kst_verifier_free` drops one, the last one releasing the verifier.
pub struct kst_verifier {
    // An `Arc` of its own: an authenticator (`kst_authenticator_set_verifier`) shares the verifier
    // itself, whatever becomes of this handle.
    pub(crate) inner: Arc<Verifier>,
}

/// Creates a verifier from the PEM signing-certificate bundle (every certificate may be a
/// signer; none serves as an intermediate, like `openssl cms -certfile`) and the PEM CA bundle
/// (intermediates and roots), with the default limits. Free it with `kst_verifier_free`.
///
/// Errors: `KST_CERTIFICATE_CONFIG` if a bundle is empty or unreadable, `KST_LIMIT_EXCEEDED` if
/// one is over 16 MiB (`max_credential_len`, checked before it is read).
///
/// # Safety
/// `signing_certs`/`ca` point to `*_len` readable bytes; `out` is valid for writing a pointer;
/// `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_verifier_new(
    signing_certs: *const u8,
    signing_certs_len: usize,
    ca: *const u8,
    ca_len: usize,
    out: *mut *const kst_verifier,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded; a NULL `limits` means the defaults.
    unsafe {
        kst_verifier_new_with_limits(
            signing_certs,
            signing_certs_len,
            ca,
            ca_len,
            std::ptr::null(),
            out,
            err,
        )
    }
}

/// As `kst_verifier_new`, with the given resource limits (NULL `limits` means the defaults).
///
/// # Safety
/// As `kst_verifier_new`; `limits` is NULL or points to a readable `kst_limits`.
#[no_mangle]
pub unsafe extern "C" fn kst_verifier_new_with_limits(
    signing_certs: *const u8,
    signing_certs_len: usize,
    ca: *const u8,
    ca_len: usize,
    limits: *const kst_limits,
    out: *mut *const kst_verifier,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety); each length
        // is checked before its buffer is read.
        let (out, limits) = unsafe { (OutArc::new(out)?, limits_or_default(limits)) };
        let cap = Cap::new(&limits, LimitKind::CredentialLength);
        // SAFETY: as above.
        let (signing_certs, ca) = unsafe {
            (
                input(signing_certs, signing_certs_len, "signing_certs", cap)?,
                input(ca, ca_len, "ca", cap)?,
            )
        };
        let inner = Arc::new(Verifier::new_with_limits(signing_certs, ca, limits)?);
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(Arc::new(kst_verifier { inner })) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Verifies a PKI token, a PKIZ token or CMS PEM text now; on success writes the signed content
/// (the token body JSON) to `*out`/`*out_len`, to be freed with `kst_bytes_free`.
///
/// Surrounding ASCII whitespace (space, tab, CR, LF) of the token is ignored.
///
/// Errors: `KST_MALFORMED`, `KST_LIMIT_EXCEEDED` (a token longer than the verifier's
/// `max_token_len`, refused before it is read), or a verification failure (200-299).
///
/// # Safety
/// `verifier` is a live verifier; `token` points to `token_len` readable bytes; `out`/`out_len`
/// are valid for writes; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_verifier_verify(
    verifier: *const kst_verifier,
    token: *const u8,
    token_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded.
    unsafe {
        kst_verifier_verify_at(
            verifier,
            token,
            token_len,
            kstoken::unix_now(),
            out,
            out_len,
            err,
        )
    }
}

/// As `kst_verifier_verify`, with the clock at `at` (Unix seconds, like `openssl cms -attime`;
/// outside the years 1 to 9999 it is `KST_INVALID_ARGUMENT`).
///
/// # Safety
/// As `kst_verifier_verify`.
#[no_mangle]
pub unsafe extern "C" fn kst_verifier_verify_at(
    verifier: *const kst_verifier,
    token: *const u8,
    token_len: usize,
    at: i64,
    out: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, verifier) = unsafe {
            (
                OutBytes::new(out, out_len)?,
                input_ref(verifier, "verifier")?,
            )
        };
        let cap = Cap::new(verifier.inner.limits(), LimitKind::TokenLength);
        // SAFETY: as above; the length is checked before the token is read.
        let token = unsafe { input(token, token_len, "token", cap) }?;
        let content = verifier.inner.verify_at(token, at)?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(&content) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// A new verifier with the signing certificates `signing_certs` (PEM) under the CA bundle and
/// limits of `verifier`: a key rotation. Every certificate of the new bundle must chain to that CA
/// at `at` (Unix seconds); nothing a token or keystone sends can change what is trusted. `verifier`
/// is unchanged. Free the new one with `kst_verifier_free`.
///
/// Errors: `KST_CERTIFICATE_CONFIG` if the bundle is unreadable or a certificate does not chain to
/// the CA (the message says which and why), `KST_LIMIT_EXCEEDED` if it is over
/// `max_credential_len` (checked before it is read), `KST_INVALID_ARGUMENT` for an `at` outside
/// the years 1 to 9999.
///
/// # Safety
/// `verifier` is a live verifier; `signing_certs` points to `signing_certs_len` readable bytes;
/// `out` is valid for writing a pointer; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_verifier_rotate(
    verifier: *const kst_verifier,
    signing_certs: *const u8,
    signing_certs_len: usize,
    at: i64,
    out: *mut *const kst_verifier,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, verifier) = unsafe { (OutArc::new(out)?, input_ref(verifier, "verifier")?) };
        let cap = Cap::new(verifier.inner.limits(), LimitKind::CredentialLength);
        // SAFETY: as above; the length is checked before the bundle is read.
        let signing_certs =
            unsafe { input(signing_certs, signing_certs_len, "signing_certs", cap) }?;
        let inner = Arc::new(verifier.inner.rotate(signing_certs, at)?);
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(Arc::new(kst_verifier { inner })) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Another reference to `verifier` (the same pointer), released with its own `kst_verifier_free`.
/// NULL gives NULL.
///
/// # Safety
/// `verifier` is NULL or a live verifier the caller holds a reference to.
#[no_mangle]
pub unsafe extern "C" fn kst_verifier_clone(verifier: *const kst_verifier) -> *const kst_verifier {
    // SAFETY: per the caller.
    unsafe { clone_arc(verifier) }
}

/// Drops one reference to a verifier; the last one releases it. NULL is ignored.
///
/// # Safety
/// `verifier` is NULL or a verifier from this library whose reference the caller holds; the caller
/// does not use that reference afterwards (other references stay valid).
#[no_mangle]
pub unsafe extern "C" fn kst_verifier_free(verifier: *const kst_verifier) {
    // SAFETY: per the caller.
    unsafe { free_arc(verifier) }
}

/// Seconds since the Unix epoch now, the clock the functions without `_at` use.
#[no_mangle]
pub extern "C" fn kst_unix_now() -> i64 {
    crate::panic::boundary_value(0, kstoken::unix_now)
}

/// Microseconds since the Unix epoch now: the clock of `kst_authenticate` (token expiry is
/// compared to the microsecond, as keystonemiddleware compares it).
#[no_mangle]
pub extern "C" fn kst_unix_now_us() -> i64 {
    crate::panic::boundary_value(0, || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    })
}
