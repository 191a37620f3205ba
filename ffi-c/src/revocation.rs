//! `kst_revocation_list`: keystone's signed list of revoked tokens, checked by hash or audit id.

use std::ffi::c_char;

use kstoken::revocation::RevocationList;
use kstoken::Limits;

use crate::bytes::{free_handle, input, input_ref, input_str, OutHandle, OutPtr};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result};
use crate::verifier::kst_verifier;

/// A verified revocation list, indexed by token hash and by audit id.
///
/// Thread-safe: immutable once created; any number of threads may query it (and pass it to
/// `kst_validate`) at once. Only `kst_revocation_list_free` needs exclusive access. To refresh
/// the list, load a new one and swap the pointer.
pub struct kst_revocation_list {
    pub(crate) inner: RevocationList,
}

/// Loads a revocation list from its already-verified JSON text `{"revoked": [...]}` (default
/// limits). Anything but keystone's shape, an object whose only member is the `revoked` array of
/// entries with a string `id` and/or `audit_id` and an optional `expires`, is `KST_MALFORMED`
/// (a document without `revoked` too: it is some other signed document, not an empty list).
///
/// # Safety
/// `json` points to `json_len` readable bytes; `out` is valid for writing a pointer; `err` is
/// NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_from_json(
    json: *const u8,
    json_len: usize,
    out: *mut *mut kst_revocation_list,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, json) = unsafe { (OutHandle::new(out)?, input(json, json_len, "json")?) };
        let inner = RevocationList::from_json(json, &Limits::default())?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(kst_revocation_list { inner }) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Loads a revocation list from keystone's signed response (`{"signed": "<CMS PEM>"}`, the body
/// of `GET /v3/auth/tokens/OS-PKI/revoked`) or from the CMS PEM itself, verified with `verifier`
/// now exactly as a token is. Errors are those of `kst_verifier_verify`, plus `KST_MALFORMED`
/// for a response or list of the wrong shape.
///
/// # Safety
/// `signed_body` points to `signed_body_len` readable bytes; `verifier` is a live verifier;
/// `out` is valid for writing a pointer; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_from_signed(
    signed_body: *const u8,
    signed_body_len: usize,
    verifier: *const kst_verifier,
    out: *mut *mut kst_revocation_list,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        kst_revocation_list_from_signed_at(
            signed_body,
            signed_body_len,
            verifier,
            kstoken::unix_now(),
            out,
            err,
        )
    }
}

/// As `kst_revocation_list_from_signed`, verifying at `at` (Unix seconds; outside the years 1 to
/// 9999 it is `KST_INVALID_ARGUMENT`).
///
/// # Safety
/// As `kst_revocation_list_from_signed`.
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_from_signed_at(
    signed_body: *const u8,
    signed_body_len: usize,
    verifier: *const kst_verifier,
    at: i64,
    out: *mut *mut kst_revocation_list,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, signed_body, verifier) = unsafe {
            (
                OutHandle::new(out)?,
                input(signed_body, signed_body_len, "signed_body")?,
                input_ref(verifier, "verifier")?,
            )
        };
        let inner = RevocationList::from_signed(signed_body, &verifier.inner, at)?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(kst_revocation_list { inner }) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Writes the number of entries of `list` to `*out`.
///
/// # Safety
/// `list` is a live list; `out` is valid for writing a `size_t`; `err` is NULL or valid for
/// writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_len(
    list: *const kst_revocation_list,
    out: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        let out = OutPtr::new(out, "out")?;
        // SAFETY: `list` is NULL or live, per the caller.
        let list = unsafe { input_ref(list, "list") }?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(list.inner.len()) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Which index a lookup uses.
#[derive(Clone, Copy)]
enum Key {
    Hash,
    AuditId,
}

/// Looks `key` up in `list` and writes whether it is listed to `*out`.
///
/// # Safety
/// As `kst_revocation_list_contains_hash`.
unsafe fn contains(
    list: *const kst_revocation_list,
    key: *const c_char,
    kind: Key,
    out: *mut bool,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        let out = OutPtr::new(out, "out")?;
        let name = match kind {
            Key::Hash => "hash",
            Key::AuditId => "audit_id",
        };
        // SAFETY: pointers are NULL or valid, per the caller.
        let (list, key) = unsafe { (input_ref(list, "list")?, input_str(key, name)?) };
        let listed = match kind {
            Key::Hash => list.inner.contains_hash(key),
            Key::AuditId => list.inner.contains_audit_id(key),
        };
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(listed) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Writes to `*out` whether the token hash `hash` (lowercase hex, as `kst_hash_token` gives;
/// compared exactly) or UUID token is on the list.
///
/// # Safety
/// `list` is a live list; `hash` is a NUL-terminated string; `out` is valid for writing a `bool`;
/// `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_contains_hash(
    list: *const kst_revocation_list,
    hash: *const c_char,
    out: *mut bool,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe { contains(list, hash, Key::Hash, out, err) }
}

/// Writes to `*out` whether the audit id `audit_id` is on the list.
///
/// # Safety
/// As `kst_revocation_list_contains_hash`.
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_contains_audit_id(
    list: *const kst_revocation_list,
    audit_id: *const c_char,
    out: *mut bool,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe { contains(list, audit_id, Key::AuditId, out, err) }
}

/// Releases a revocation list. NULL is ignored.
///
/// # Safety
/// `list` is NULL or a list from this library, not used by any thread afterwards.
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_free(list: *mut kst_revocation_list) {
    // SAFETY: per the caller.
    unsafe { free_handle(list) }
}
