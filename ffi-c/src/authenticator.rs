//! `kst_authenticator`: keystonemiddleware's `auth_token` decision, one call per request
//! (`kst_authenticate`), with certificates and revocation lists replaceable while it is in use.

use std::ffi::c_char;
use std::sync::Arc;

use kstoken::auth_token::{Authentication, Authenticator, Credentials, SharedValues};

use crate::auth_config::kst_auth_config;
use crate::bind::{auth_context, kst_auth_context};
use crate::bytes::{
    clone_arc, free_arc, input_ref, optional_ref, optional_str, Out, OutArc, OutBox,
};
use crate::outcome::kst_outcome;
use crate::panic::boundary;
use crate::result::{kst_error, kst_result, Failure};
use crate::revocation::kst_revocation_list;
use crate::verifier::kst_verifier;

/// keystonemiddleware's `auth_token` decision for requests: built once from a `kst_auth_config`,
/// shared by every thread.
///
/// Reference-counted and thread-safe: any number of threads call `kst_authenticate` on one at once,
/// while another replaces its certificates (`kst_authenticator_set_verifier`) or its revocation list
/// (`kst_authenticator_set_revocation_list`): a call in flight finishes with what it started with,
/// the next one uses the new ones. It holds a bounded process token cache (the config's), shared
/// by those threads. `kst_authenticator_clone` takes another reference, each
/// `kst_authenticator_free` drops one. It does no I/O: what it lacks, it asks for
/// (`kst_outcome_wants`, `KST_DECISION_NEED_SHARED`).
///
/// A forked child process may keep using one made before the fork (nothing in it is tied to a
/// thread), but caches and state then diverge per process.
pub struct kst_authenticator {
    inner: Authenticator,
    /// The shared-cache entries' lifetime (`token_cache_time`; 0: none).
    ttl_seconds: i64,
}

/// One value the host found in the shared cache for a key `kst_outcome_shared_key` named.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kst_shared_value {
    /// The key (NUL-terminated), as the outcome named it.
    pub key: *const c_char,
    /// The bytes stored under it; NULL counts as not found.
    pub value: *const u8,
    /// Their length. A value longer than twice `max_json_len` (plus 4 KiB) cannot be token data in
    /// any format and is ignored unread (a miss).
    pub value_len: usize,
}

/// The values the host found for the keys of a `KST_DECISION_NEED_SHARED` outcome: `count` of them
/// at `values` (NULL when `count` is 0). Keys it did not find, or could not fetch, are left out.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kst_shared_values {
    /// The values found.
    pub values: *const kst_shared_value,
    /// How many.
    pub count: usize,
}

/// Creates an authenticator from `config`, with no certificates and no revocation list yet; free it
/// with `kst_authenticator_free`.
///
/// # Safety
/// `config` is a live configuration; `out` is valid for writing a pointer; `err` is NULL or valid
/// for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_authenticator_new(
    config: *const kst_auth_config,
    out: *mut *const kst_authenticator,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller.
        let (out, config) = unsafe { (OutArc::new(out)?, input_ref(config, "config")?) };
        let config = config.inner.clone();
        let ttl_seconds = config
            .cache
            .and_then(|c| c.ttl_us)
            .map_or(0, |us| us / 1_000_000);
        let authenticator = kst_authenticator {
            inner: Authenticator::new(config),
            ttl_seconds,
        };
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(Arc::new(authenticator)) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Installs `verifier`'s certificates (NULL removes them: PKI tokens are then
/// `KST_DECISION_UNAVAILABLE`). The authenticator takes its own reference: the caller may free its
/// own at once. Cached refusals are dropped (new certificates may accept tokens the old ones could
/// not verify). To rotate keystone's signing key under the CA already trusted, make the new
/// verifier with `kst_verifier_rotate` from the current one (`kst_authenticator_verifier`).
///
/// # Safety
/// `authenticator` is live; `verifier` is NULL or live; `err` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_authenticator_set_verifier(
    authenticator: *const kst_authenticator,
    verifier: *const kst_verifier,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or live, per the caller.
        let (authenticator, verifier) = unsafe {
            (
                input_ref(authenticator, "authenticator")?,
                optional_ref(verifier),
            )
        };
        authenticator
            .inner
            .set_verifier(verifier.map(|v| Arc::clone(&v.inner)));
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Writes a new reference to the verifier in use to `*out` (NULL when none is installed), for
/// `kst_verifier_rotate`; free it with `kst_verifier_free`.
///
/// # Safety
/// `authenticator` is live; `out` is valid for writing a pointer; `err` is NULL or valid for
/// writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_authenticator_verifier(
    authenticator: *const kst_authenticator,
    out: *mut *const kst_verifier,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller.
        let (out, authenticator) = unsafe {
            (
                OutArc::new(out)?,
                input_ref(authenticator, "authenticator")?,
            )
        };
        if let Some(inner) = authenticator.inner.verifier() {
            // SAFETY: `out` was checked and is writable per the caller.
            unsafe { out.set(Arc::new(kst_verifier { inner })) };
        }
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Installs a verified revocation list (NULL removes it), enforced until `enforce_until_us` (Unix
/// microseconds): after that, with revocation enforced, PKI tokens are `KST_DECISION_UNAVAILABLE`
/// (`KST_WANTS_REVOCATION_LIST`) until a newer one is installed. The authenticator takes its own
/// reference. To keep revocations seen in earlier lists, install
/// `kst_revocation_list_merge(new, current)`.
///
/// # Safety
/// `authenticator` is live; `list` is NULL or live; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_authenticator_set_revocation_list(
    authenticator: *const kst_authenticator,
    list: *const kst_revocation_list,
    enforce_until_us: i64,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or live, per the caller.
        let (authenticator, list) = unsafe {
            (
                input_ref(authenticator, "authenticator")?,
                optional_ref(list),
            )
        };
        authenticator
            .inner
            .set_revocation_list(list.map(|l| Arc::clone(&l.inner)), enforce_until_us);
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Writes a new reference to the revocation list in force to `*out` (NULL when none is installed)
/// and its enforcement deadline to `*enforce_until_us` (optional: NULL to ignore; 0 without a list);
/// free the list with `kst_revocation_list_free`.
///
/// # Safety
/// `authenticator` is live; `out` is valid for writing a pointer; `enforce_until_us` is NULL or
/// valid for writing an `int64_t`; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_authenticator_revocation_list(
    authenticator: *const kst_authenticator,
    out: *mut *const kst_revocation_list,
    enforce_until_us: *mut i64,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller; the optional output is cleared first.
        let (out, until) = unsafe {
            let until = if enforce_until_us.is_null() {
                None
            } else {
                Some(Out::new(enforce_until_us, "enforce_until_us", 0)?)
            };
            (OutArc::new(out)?, until)
        };
        // SAFETY: NULL or live, per the caller.
        let authenticator = unsafe { input_ref(authenticator, "authenticator") }?;
        if let Some((inner, deadline)) = authenticator.inner.revocation_list() {
            // SAFETY: both were checked and are writable per the caller.
            unsafe {
                out.set(Arc::new(kst_revocation_list { inner }));
                if let Some(until) = until {
                    until.set(deadline);
                }
            }
        }
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Writes how many tokens the process cache holds to `*entries` and the heap they take to `*bytes`
/// (each optional: NULL to ignore).
///
/// # Safety
/// `authenticator` is live; `entries` and `bytes` are NULL or valid for writing a `size_t`; `err`
/// is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_authenticator_cache_usage(
    authenticator: *const kst_authenticator,
    entries: *mut usize,
    bytes: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller.
        let authenticator = unsafe { input_ref(authenticator, "authenticator") }?;
        let (n, b) = authenticator.inner.cache_usage();
        // SAFETY: NULL or writable, per the caller.
        unsafe {
            if let Some(e) = entries.as_mut() {
                *e = n;
            }
            if let Some(x) = bytes.as_mut() {
                *x = b;
            }
        }
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Empties the process token cache.
///
/// # Safety
/// `authenticator` is live; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_authenticator_clear_cache(
    authenticator: *const kst_authenticator,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: NULL or live, per the caller.
        unsafe { input_ref(authenticator, "authenticator") }?
            .inner
            .clear_cache();
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// An optional token: NULL or empty is absent. Its length is not checked against `max_token_len`
/// here: a longer token is a refusal (the core's, without reading it), not an error.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes.
unsafe fn token<'a>(data: *const u8, len: usize, name: &str) -> Result<Option<&'a [u8]>, Failure> {
    if data.is_null() || len == 0 {
        return Ok(None);
    }
    if len > isize::MAX as usize {
        return Err(Failure::new(
            kst_result::KST_LIMIT_EXCEEDED,
            format!("argument `{name}` of {len} bytes is longer than any buffer"),
        ));
    }
    // SAFETY: non-NULL, at most isize::MAX bytes, readable per the caller.
    Ok(Some(unsafe { std::slice::from_raw_parts(data, len) }))
}

/// Decides one request, as keystonemiddleware's `auth_token` would, at `now_us` (Unix
/// microseconds: token expiry is compared to the microsecond; `kst_unix_now_us()` gives the clock).
///
/// `user_token` (`X-Auth-Token`, else `X-Storage-Token`) and `service_token` (`X-Service-Token`) are
/// optional: NULL or empty is absent (surrounding ASCII whitespace is not part of a token). `auth`
/// is what the server authenticated (NULL: nothing): `REMOTE_USER` and `AUTH_TYPE` for a Kerberos
/// bind (mod_auth_gssapi's `Negotiate`), the client certificate (PEM or DER) for an `x509` bind.
///
/// `shared` is NULL on the first call. With a shared cache configured, a token that misses the
/// process cache makes the outcome `KST_DECISION_NEED_SHARED`: fetch its keys
/// (`kst_outcome_shared_key`), then call again with the same arguments and `shared` pointing to what
/// was found (possibly nothing); that call always decides. Values that do not check out (a MAC
/// mismatch, undecryptable, not token data) are misses: the token is validated.
///
/// On success `*out` receives the outcome (`kst_outcome_*`), freed with `kst_outcome_free`. A
/// refused token is not an error: it is the outcome's `KST_DECISION_REJECT`. Errors are for the
/// call itself: `KST_NULL_PARAMETER`, `KST_INVALID_ARGUMENT` (a string that is not UTF-8),
/// `KST_LIMIT_EXCEEDED` (a client certificate over `max_credential_len`, checked before it is read).
///
/// # Safety
/// `authenticator` is live; `user_token`/`service_token` are NULL or point to their length of
/// readable bytes; `auth` is NULL or valid (see `kst_auth_context`); `shared` is NULL or points to a
/// readable `kst_shared_values` whose `values` point to `count` readable entries (keys
/// NUL-terminated, values NULL or readable for their length); `out` is valid for writing a
/// pointer; `err` is NULL or valid for writing a pointer.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn kst_authenticate(
    authenticator: *const kst_authenticator,
    user_token: *const u8,
    user_token_len: usize,
    service_token: *const u8,
    service_token_len: usize,
    auth: *const kst_auth_context,
    now_us: i64,
    shared: *const kst_shared_values,
    out: *mut *mut kst_outcome,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, authenticator) = unsafe {
            (
                OutBox::new(out)?,
                input_ref(authenticator, "authenticator")?,
            )
        };
        let limits = authenticator.inner.config().limits;
        // SAFETY: as above; the certificate's length is checked before it is read.
        let (user_token, service_token, auth, shared) = unsafe {
            (
                token(user_token, user_token_len, "user_token")?,
                token(service_token, service_token_len, "service_token")?,
                auth_context(auth, &limits)?,
                optional_ref(shared),
            )
        };
        let found = match shared {
            None => None,
            // SAFETY: as above.
            Some(s) => Some(unsafe { shared_values(s, &limits) }?),
        };
        let values = found.as_deref().map(SharedValues::new);
        let credentials = Credentials {
            user_token,
            service_token,
            auth,
        };
        let outcome = match authenticator
            .inner
            .authenticate(&credentials, now_us, values.as_ref())
        {
            Authentication::Decided(o) => kst_outcome::decided(o, authenticator.ttl_seconds),
            Authentication::NeedShared { keys } => kst_outcome::need_shared(keys),
        };
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(outcome) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// The shared values as the core takes them; over-long values are left out unread.
///
/// # Safety
/// As `kst_authenticate`'s `shared`.
unsafe fn shared_values<'a>(
    shared: &kst_shared_values,
    limits: &kstoken::Limits,
) -> Result<Vec<(&'a str, &'a [u8])>, Failure> {
    // Token data in the ENCRYPT format: base64 of the IV and ciphertext (4/3 of the JSON, plus a
    // block) after a 64-byte MAC.
    let longest = limits.max_json_len.saturating_mul(2).saturating_add(4096);
    let entries: &[kst_shared_value] = if shared.count == 0 {
        &[]
    } else if shared.values.is_null() {
        return Err(Failure::null("shared->values"));
    } else {
        // A count the address space cannot hold is refused before anything is read.
        if shared.count > isize::MAX as usize / std::mem::size_of::<kst_shared_value>() {
            return Err(Failure::invalid("shared->count is larger than any array"));
        }
        // SAFETY: `count` readable entries, per the caller.
        unsafe { std::slice::from_raw_parts(shared.values, shared.count) }
    };
    let mut found = Vec::with_capacity(entries.len());
    for e in entries {
        // SAFETY: NUL-terminated or NULL, per the caller.
        let Some(key) = (unsafe { optional_str(e.key, "shared->values[i].key") })? else {
            return Err(Failure::null("shared->values[i].key"));
        };
        if e.value.is_null() || e.value_len > longest {
            continue;
        }
        // SAFETY: non-NULL, bounded, readable per the caller.
        found.push((key, unsafe {
            std::slice::from_raw_parts(e.value, e.value_len)
        }));
    }
    Ok(found)
}

/// Another reference to `authenticator` (the same pointer), released with its own
/// `kst_authenticator_free`. NULL gives NULL.
///
/// # Safety
/// `authenticator` is NULL or a live authenticator the caller holds a reference to.
#[no_mangle]
pub unsafe extern "C" fn kst_authenticator_clone(
    authenticator: *const kst_authenticator,
) -> *const kst_authenticator {
    // SAFETY: per the caller.
    unsafe { clone_arc(authenticator) }
}

/// Drops one reference to an authenticator; the last one releases it (its cache, and its references
/// to the certificates and the list). NULL is ignored.
///
/// # Safety
/// `authenticator` is NULL or an authenticator from this library whose reference the caller holds;
/// the caller does not use that reference afterwards.
#[no_mangle]
pub unsafe extern "C" fn kst_authenticator_free(authenticator: *const kst_authenticator) {
    // SAFETY: per the caller.
    unsafe { free_arc(authenticator) }
}
