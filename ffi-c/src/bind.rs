//! `kst_check_bind`: bind enforcement (keystone's `enforce_token_bind`), and the request's
//! authentication context (`kst_auth_context`).

use std::ffi::c_char;

use kstoken::body::bind::{enforce, parse_section, AuthContext, BindMode};
use kstoken::{LimitKind, Limits};

use crate::bytes::{input_str, optional_input, optional_ref, optional_str, Cap};
use crate::limits::{kst_limits, limits_or_default};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result, Failure};

/// What the web server authenticated the request with (the WSGI environ of the reference).
/// Every member may be NULL (absent); a NULL `kst_auth_context *` means all absent.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kst_auth_context {
    /// `AUTH_TYPE`, e.g. `"Negotiate"` after Kerberos/SPNEGO (NUL-terminated; compared
    /// case-insensitively).
    pub auth_type: *const c_char,
    /// `REMOTE_USER`, the authenticated principal (NUL-terminated; compared exactly).
    pub remote_user: *const c_char,
    /// The TLS client certificate, PEM or DER (`client_cert_len` bytes, at most
    /// `max_credential_len`).
    pub client_cert: *const u8,
    /// Length of `client_cert` in bytes.
    pub client_cert_len: usize,
}

/// The core's view of an optional C authentication context; the client certificate's length is
/// checked against `limits` before it is read.
///
/// # Safety
/// `auth` is NULL or points to a readable `kst_auth_context` whose non-NULL members are valid
/// (NUL-terminated strings; `client_cert_len` readable bytes) for `'a`.
pub(crate) unsafe fn auth_context<'a>(
    auth: *const kst_auth_context,
    limits: &Limits,
) -> Result<AuthContext<'a>, Failure> {
    // SAFETY: per the caller.
    let Some(auth) = (unsafe { optional_ref(auth) }) else {
        return Ok(AuthContext::default());
    };
    // SAFETY: the members are NULL or valid, per the caller.
    unsafe {
        Ok(AuthContext {
            auth_type: optional_str(auth.auth_type, "auth->auth_type")?,
            remote_user: optional_str(auth.remote_user, "auth->remote_user")?,
            client_cert: optional_input(
                auth.client_cert,
                auth.client_cert_len,
                Cap::new(limits, LimitKind::CredentialLength),
            )?,
        })
    }
}

/// Checks a token's bind section against the bind mode and the request's authentication.
///
/// `mode` is the `enforce_token_bind` setting, parsed exactly as keystone does: `disabled`,
/// `permissive`, `strict`, `required`, or any other string naming a bind type the token must
/// carry (e.g. `kerberos`, `x509`). `bind_json` is the token's `bind` object as JSON text, e.g.
/// `{"kerberos": "alice@REALM"}` or `{"x509": {"sha256": "<hex>"}}`; NULL (or JSON `null`)
/// means the token has no bind section. `auth` may be NULL (nothing authenticated), `limits` too
/// (the defaults).
///
/// Returns `KST_OK` if the request may use the token, `KST_BIND_REJECTED` if not (the message says
/// why), `KST_MALFORMED` if `bind_json` is not a JSON object or `null`, `KST_LIMIT_EXCEEDED` if it
/// is larger or deeper than `max_json_len`/`max_json_depth` (1 MiB, 64 levels by default; the
/// length is checked before the text is read) or the client certificate is longer than
/// `max_credential_len`.
///
/// # Safety
/// `mode` is a NUL-terminated string; `bind_json` is NULL or points to `bind_json_len` readable
/// bytes; `auth` is NULL or valid (see `kst_auth_context`); `limits` is NULL or points to a
/// readable `kst_limits`; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_check_bind(
    mode: *const c_char,
    bind_json: *const u8,
    bind_json_len: usize,
    auth: *const kst_auth_context,
    limits: *const kst_limits,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety); lengths are
        // checked before their buffers are read.
        let limits = unsafe { limits_or_default(limits) };
        // SAFETY: as above.
        let (mode, bind_json, auth) = unsafe {
            (
                input_str(mode, "mode")?,
                optional_input(
                    bind_json,
                    bind_json_len,
                    Cap::new(&limits, LimitKind::JsonSize),
                )?,
                auth_context(auth, &limits)?,
            )
        };
        let bind = match bind_json {
            None => None,
            Some(json) => parse_section(json, &limits)?,
        };
        enforce(&BindMode::parse(mode), bind.as_ref(), &auth)?;
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}
