//! `kst_verifier`: verifies PKI tokens, PKIZ tokens and CMS PEM against signing certs and a CA.

use kstoken::{Limits, Verifier};

use crate::bytes::{input, input_ref, optional_ref, OutBytes, OutHandle, OutPtr};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result};

/// A verifier: the signing-certificate bundle and the CA bundle, with resource limits.
///
/// Thread-safe: one verifier may be used from any number of threads at once (it caches each
/// signer's chain verdict internally). Only `kst_verifier_free` needs exclusive access.
pub struct kst_verifier {
    pub(crate) inner: Verifier,
}

/// Resource limits applied to untrusted input (see `kst_limits_default` for the defaults).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kst_limits {
    /// Longest accepted token, CMS PEM text or DER document, in bytes (default 1 MiB).
    pub max_token_len: usize,
    /// Largest accepted inflated PKIZ payload, in bytes (default 1 MiB).
    pub max_inflated_len: usize,
    /// Largest accepted JSON document (token body, revocation list), in bytes (default 1 MiB).
    pub max_json_len: usize,
    /// Deepest accepted JSON nesting (default 64).
    pub max_json_depth: usize,
}

impl From<Limits> for kst_limits {
    fn from(l: Limits) -> Self {
        kst_limits {
            max_token_len: l.max_token_len,
            max_inflated_len: l.max_inflated_len,
            max_json_len: l.max_json_len,
            max_json_depth: l.max_json_depth,
        }
    }
}

impl From<kst_limits> for Limits {
    fn from(l: kst_limits) -> Self {
        Limits {
            max_token_len: l.max_token_len,
            max_inflated_len: l.max_inflated_len,
            max_json_len: l.max_json_len,
            max_json_depth: l.max_json_depth,
            ..Limits::default()
        }
    }
}

/// Writes the default limits to `*out`.
///
/// # Safety
/// `out` is valid for writing a `kst_limits`; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_limits_default(
    out: *mut kst_limits,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        let out = OutPtr::new(out, "out")?;
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { out.set(Limits::default().into()) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Creates a verifier from the PEM signing-certificate bundle (every certificate may be a
/// signer; none serves as an intermediate, like `openssl cms -certfile`) and the PEM CA bundle
/// (intermediates and roots), with the default limits. Free it with `kst_verifier_free`.
///
/// Errors: `KST_CERTIFICATE_CONFIG` if a bundle is empty or unreadable, `KST_LIMIT_EXCEEDED` if
/// one is over 16 MiB (checked before it is read).
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
    out: *mut *mut kst_verifier,
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
    out: *mut *mut kst_verifier,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, signing_certs, ca, limits) = unsafe {
            (
                OutHandle::new(out)?,
                input(signing_certs, signing_certs_len, "signing_certs")?,
                input(ca, ca_len, "ca")?,
                optional_ref(limits),
            )
        };
        let limits = limits.map_or_else(Limits::default, |l| (*l).into());
        let inner = Verifier::new_with_limits(signing_certs, ca, limits)?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(kst_verifier { inner }) };
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
/// Errors: `KST_MALFORMED`, `KST_LIMIT_EXCEEDED`, or a verification failure (200-299).
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
        let (out, verifier, token) = unsafe {
            (
                OutBytes::new(out, out_len)?,
                input_ref(verifier, "verifier")?,
                input(token, token_len, "token")?,
            )
        };
        let content = verifier.inner.verify_at(token, at)?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(&content) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Releases a verifier. NULL is ignored.
///
/// # Safety
/// `verifier` is NULL or a verifier from this library, not used by any thread afterwards.
#[no_mangle]
pub unsafe extern "C" fn kst_verifier_free(verifier: *mut kst_verifier) {
    // SAFETY: per the caller.
    unsafe { crate::bytes::free_handle(verifier) }
}

/// Seconds since the Unix epoch now, the clock the functions without `_at` use.
#[no_mangle]
pub extern "C" fn kst_unix_now() -> i64 {
    crate::panic::boundary_value(0, kstoken::unix_now)
}
