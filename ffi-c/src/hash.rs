//! `kst_hash_token`: token-id hashing with keystoneclient's `cms_hash_token` semantics.

use std::ffi::c_char;

use kstoken::hash::hash_token;

use crate::bytes::{input, input_str, OutBytes};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result, Failure};
use crate::signer::algorithm;

/// Hashes a PKI or PKIZ token as sent on the wire (the id keystone stores and revokes it by):
/// writes the lowercase hex digest to `*out`/`*out_len` (a NUL-terminated string), freed with
/// `kst_bytes_free`. `algorithm_name` is `md5`, `sha1`, `sha224`, `sha256`, `sha384` or `sha512`
/// (case-insensitive). Surrounding ASCII whitespace (space, tab, CR, LF) is not part of the token.
///
/// Errors: `KST_NOT_PKI` if the token is neither `MII...` nor `PKIZ_...` (keystoneclient returns
/// such tokens unhashed: use the token itself as its id), `KST_INVALID_ARGUMENT` for an unknown
/// algorithm.
///
/// # Safety
/// `token` points to `token_len` readable bytes; `algorithm_name` is a NUL-terminated string;
/// `out`/`out_len` are valid for writes; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_hash_token(
    token: *const u8,
    token_len: usize,
    algorithm_name: *const c_char,
    out: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, token, name) = unsafe {
            (
                OutBytes::new(out, out_len)?,
                input(token, token_len, "token")?,
                input_str(algorithm_name, "algorithm")?,
            )
        };
        let algorithm = algorithm(name)?;
        let hex = hash_token(token, algorithm)?
            .ok_or_else(|| Failure::new(kst_result::KST_NOT_PKI, "not a PKI or PKIZ token"))?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(hex.as_bytes()) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}
