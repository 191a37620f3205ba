//! `kst_detect`: which form a token is in.

use kstoken::{detect_with, DetectionRule, TokenForm};

use crate::bytes::{input, OutPtr};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result};

/// The form of a token.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kst_token_form {
    /// Anything else (UUID, Fernet, ...): not verifiable offline.
    KST_FORM_OTHER = 0,
    /// A PKI token: CMS DER in PKI token text (`MII...` under the upstream rule).
    KST_FORM_PKI = 1,
    /// A PKIZ token: `PKIZ_` and compressed CMS PEM.
    KST_FORM_PKIZ = 2,
}

impl From<TokenForm> for kst_token_form {
    fn from(form: TokenForm) -> Self {
        match form {
            TokenForm::Pki => kst_token_form::KST_FORM_PKI,
            TokenForm::Pkiz => kst_token_form::KST_FORM_PKIZ,
            _ => kst_token_form::KST_FORM_OTHER,
        }
    }
}

/// Writes the form of `token` to `*out`.
///
/// With `lenient` false this is keystoneclient's rule (`PKIZ_` prefix, else `MII` prefix), which
/// misses PKI tokens whose DER is shorter than 256 or at least 16384 bytes. With `lenient` true a
/// token whose first bytes decode to a DER SEQUENCE header spanning the whole token is PKI too.
/// Surrounding ASCII whitespace (space, tab, CR, LF) is ignored; a token that is not UTF-8 is
/// `KST_FORM_OTHER`.
///
/// # Safety
/// `token` points to `token_len` readable bytes; `out` is valid for writing a `kst_token_form`;
/// `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_detect(
    token: *const u8,
    token_len: usize,
    lenient: bool,
    out: *mut kst_token_form,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        let out = OutPtr::new(out, "out")?;
        // SAFETY: `token` points to `token_len` readable bytes, per the caller.
        let token = unsafe { input(token, token_len, "token") }?;
        let form = detect_with(token, DetectionRule::from_lenient(lenient));
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(form.into()) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}
