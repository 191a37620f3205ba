//! `kst_revocation_list`: keystone's signed list of revoked tokens, checked by hash or audit id.

use std::ffi::c_char;
use std::sync::Arc;

use kstoken::revocation::RevocationList;
use kstoken::LimitKind;

use crate::bytes::{clone_arc, free_arc, input, input_ref, input_str, Cap, Out, OutArc};
use crate::limits::{kst_limits, limits_or_default};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result};
use crate::verifier::kst_verifier;

/// A verified revocation list, indexed by token hash and by audit id.
///
/// Immutable and reference-counted: any number of threads may query it (and pass it to
/// `kst_validate`) at once; `kst_revocation_list_clone` takes another reference and each
/// `kst_revocation_list_free` drops one, the last one releasing the list. To refresh the list
/// while other threads validate, keep the current one in a slot guarded by a mutex: a reader
/// clones it under the lock and frees its reference when done; the refresher loads the new list,
/// swaps it in under the lock and frees the slot's old reference (the list itself lives on until
/// the last reader lets it go).
pub struct kst_revocation_list {
    // An `Arc` of its own: an authenticator (`kst_authenticator_set_revocation_list`) shares the
    // list itself, whatever becomes of this handle.
    pub(crate) inner: Arc<RevocationList>,
}

/// Loads a revocation list from its already-verified JSON text `{"revoked": [...]}`. Anything
/// but keystone's shape, an object whose only member is the `revoked` array of entries with a
/// string `id` and/or `audit_id` and an optional `expires`, is `KST_MALFORMED` (a document without
/// `revoked` too: it is some other signed document, not an empty list); a document over
/// `max_json_len` or `max_json_depth` is `KST_LIMIT_EXCEEDED` (the length is checked before the
/// text is read). `limits` may be NULL (the defaults).
///
/// # Safety
/// `json` points to `json_len` readable bytes; `limits` is NULL or points to a readable
/// `kst_limits`; `out` is valid for writing a pointer; `err` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_from_json(
    json: *const u8,
    json_len: usize,
    limits: *const kst_limits,
    out: *mut *const kst_revocation_list,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety); the length is
        // checked before the text is read.
        let (out, limits) = unsafe { (OutArc::new(out)?, limits_or_default(limits)) };
        // SAFETY: as above.
        let json = unsafe {
            input(
                json,
                json_len,
                "json",
                Cap::new(&limits, LimitKind::JsonSize),
            )
        }?;
        let inner = Arc::new(RevocationList::from_json(json, &limits)?);
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(Arc::new(kst_revocation_list { inner })) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Loads a revocation list from keystone's signed response (`{"signed": "<CMS PEM>"}`, the body
/// of `GET /v3/auth/tokens/OS-PKI/revoked`) or from the CMS PEM itself, verified with `verifier`
/// now exactly as a token is, under the verifier's limits, except that the body (and the document
/// inside it) is bounded by the revocation-list limit (64 MiB) instead of the token limit: a list
/// holds every revoked token not yet expired. Errors are those of
/// `kst_verifier_verify`, plus `KST_MALFORMED` for a response or list of the wrong shape.
///
/// # Safety
/// `signed_body` points to `signed_body_len` readable bytes; `verifier` is a live verifier;
/// `out` is valid for writing a pointer; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_from_signed(
    signed_body: *const u8,
    signed_body_len: usize,
    verifier: *const kst_verifier,
    out: *mut *const kst_revocation_list,
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
    out: *mut *const kst_revocation_list,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, verifier) = unsafe { (OutArc::new(out)?, input_ref(verifier, "verifier")?) };
        // The body is keystone's JSON response or the CMS PEM itself: the core bounds both, and
        // what is inside, by the list limit (`max_revocation_list_len`, 64 MiB).
        let cap = Cap::new(verifier.inner.limits(), LimitKind::RevocationListLength);
        // SAFETY: as above; the length is checked before the body is read.
        let signed_body = unsafe { input(signed_body, signed_body_len, "signed_body", cap) }?;
        let inner = Arc::new(RevocationList::from_signed(
            signed_body,
            &verifier.inner,
            at,
        )?);
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(Arc::new(kst_revocation_list { inner })) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// A new list enforcing `newer` and every entry of `previous` that `newer` lacks whose token has
/// not expired at `now` (Unix seconds): a revocation once seen holds until its token expires, so a
/// genuinely signed but older list (a replay, a keystone restored from a backup, a replica behind)
/// never un-revokes a token. `*carried` (optional, NULL to ignore) receives how many entries were
/// carried over from `previous` (0 in the usual case, where `newer` has them all). Neither list is
/// changed. Free the new one with `kst_revocation_list_free`.
///
/// # Safety
/// `newer` and `previous` are live lists; `out` is valid for writing a pointer; `carried` is NULL or
/// valid for writing a `size_t`; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_merge(
    newer: *const kst_revocation_list,
    previous: *const kst_revocation_list,
    now: i64,
    out: *mut *const kst_revocation_list,
    carried: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller; `carried` is cleared first.
        let (out, carried) = unsafe {
            if !carried.is_null() {
                carried.write(0);
            }
            (OutArc::new(out)?, carried)
        };
        // SAFETY: as above.
        let (newer, previous) =
            unsafe { (input_ref(newer, "newer")?, input_ref(previous, "previous")?) };
        let merged = RevocationList::clone(&newer.inner).merge(&previous.inner, now);
        if !carried.is_null() {
            // SAFETY: non-NULL and writable per the caller.
            unsafe { carried.write(merged.carried.len()) };
        }
        let inner = Arc::new(merged.list);
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(Arc::new(kst_revocation_list { inner })) };
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
        // SAFETY: `out` is NULL or writable and `list` NULL or live, per the caller.
        let (out, list) = unsafe { (Out::new(out, "out", 0)?, input_ref(list, "list")?) };
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
        // SAFETY: `out` is NULL or writable, per the caller.
        let out = unsafe { Out::new(out, "out", false) }?;
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

/// Another reference to `list` (the same pointer), released with its own
/// `kst_revocation_list_free`. NULL gives NULL.
///
/// # Safety
/// `list` is NULL or a live list the caller holds a reference to.
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_clone(
    list: *const kst_revocation_list,
) -> *const kst_revocation_list {
    // SAFETY: per the caller.
    unsafe { clone_arc(list) }
}

/// Drops one reference to a revocation list; the last one releases it. NULL is ignored.
///
/// # Safety
/// `list` is NULL or a list from this library whose reference the caller holds; the caller does
/// not use that reference afterwards (other references stay valid).
#[no_mangle]
pub unsafe extern "C" fn kst_revocation_list_free(list: *const kst_revocation_list) {
    // SAFETY: per the caller.
    unsafe { free_arc(list) }
}
