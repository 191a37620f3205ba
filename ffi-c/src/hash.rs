//! `kst_hash_token`: token-id hashing with keystoneclient's `cms_hash_token` semantics.

use std::ffi::c_char;

use kstoken::token_text::hash_token;
use kstoken::{HashAlgorithm, LimitKind, Rejection};

use crate::bytes::{input, input_str, Cap, OutBytes};
use crate::limits::{kst_limits, limits_or_default};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result, Failure};

/// Hashes a PKI or PKIZ token as sent on the wire (the id keystone stores and revokes it by):
/// writes the lowercase hex digest to `*out`/`*out_len` (a NUL-terminated string), freed with
/// `kst_bytes_free`. `algorithm_name` is `md5`, `sha1`, `sha224`, `sha256`, `sha384` or `sha512`
/// (case-insensitive). Surrounding ASCII whitespace (space, tab, CR, LF) is not part of the token.
/// `limits` may be NULL (the defaults).
///
/// Errors: `KST_NOT_PKI` if the token is neither `MII...` nor `PKIZ_...` (keystoneclient returns
/// such tokens unhashed: use the token itself as its id), `KST_INVALID_ARGUMENT` for an unknown
/// algorithm, `KST_LIMIT_EXCEEDED` for a token longer than `max_token_len` (refused before it is
/// read).
///
/// # Safety
/// `token` points to `token_len` readable bytes; `algorithm_name` is a NUL-terminated string;
/// `limits` is NULL or points to a readable `kst_limits`; `out`/`out_len` are valid for writes;
/// `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_hash_token(
    token: *const u8,
    token_len: usize,
    algorithm_name: *const c_char,
    limits: *const kst_limits,
    out: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety); the length is
        // checked before the token is read.
        let (out, limits) = unsafe { (OutBytes::new(out, out_len)?, limits_or_default(limits)) };
        // SAFETY: as above.
        let (token, name) = unsafe {
            (
                input(
                    token,
                    token_len,
                    "token",
                    Cap::new(&limits, LimitKind::TokenLength),
                )?,
                input_str(algorithm_name, "algorithm")?,
            )
        };
        let hex = hash_token(token, name.parse::<HashAlgorithm>()?)?
            .ok_or_else(|| Failure::from(Rejection::NotPki))?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(hex.as_bytes()) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}
