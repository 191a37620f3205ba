//! `kst_detect`: which form a token is in.

use kstoken::{detect_with, DetectionRule, LimitKind, TokenForm};

use crate::bytes::{input, Cap, Out};
use crate::limits::{kst_limits, limits_or_default};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result, Coded};

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

impl Coded for kst_token_form {
    const ALL: &'static [kst_token_form] = &[
        kst_token_form::KST_FORM_OTHER,
        kst_token_form::KST_FORM_PKI,
        kst_token_form::KST_FORM_PKIZ,
    ];

    fn value(self) -> u32 {
        self as u32
    }
}

impl kst_token_form {
    /// The C value of a core form, by its number ([`TokenForm::code`]).
    pub(crate) fn of(form: TokenForm) -> Self {
        Self::from_value(form.code()).unwrap_or(kst_token_form::KST_FORM_OTHER)
    }
}

/// Writes the form of `token` to `*out`.
///
/// With `lenient` false this is keystoneclient's rule (`PKIZ_` prefix, else `MII` prefix), which
/// misses PKI tokens whose DER is shorter than 256 or at least 16384 bytes. With `lenient` true a
/// token whose first bytes decode to a DER SEQUENCE header spanning the whole token is PKI too.
/// Surrounding ASCII whitespace (space, tab, CR, LF) is ignored; a token that is not UTF-8 is
/// `KST_FORM_OTHER`. `limits` may be NULL (the defaults): a token longer than `max_token_len` is
/// `KST_LIMIT_EXCEEDED`, refused before it is read.
///
/// # Safety
/// `token` points to `token_len` readable bytes; `limits` is NULL or points to a readable
/// `kst_limits`; `out` is valid for writing a `kst_token_form`; `err` is NULL or valid for writing
/// a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_detect(
    token: *const u8,
    token_len: usize,
    lenient: bool,
    limits: *const kst_limits,
    out: *mut kst_token_form,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety); the length is
        // checked before the token is read.
        let (out, limits) = unsafe {
            (
                Out::new(out, "out", kst_token_form::KST_FORM_OTHER)?,
                limits_or_default(limits),
            )
        };
        let cap = Cap::new(&limits, LimitKind::TokenLength);
        // SAFETY: as above.
        let token = unsafe { input(token, token_len, "token", cap) }?;
        let form = detect_with(token, DetectionRule::from_lenient(lenient));
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(kst_token_form::of(form)) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_forms_are_c_forms_by_number() {
        for form in [TokenForm::Other, TokenForm::Pki, TokenForm::Pkiz] {
            assert_eq!(kst_token_form::of(form) as u32, form.code(), "{form}");
        }
    }
}
