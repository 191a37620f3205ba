//! Result codes (`kst_result`) and detailed errors (`kst_error`).

use std::ffi::{c_char, CStr, CString};
use std::sync::OnceLock;

use kstoken::body::bind::BindRejection;
use kstoken::{Error, Rejection, ValidateError, VerifyFailure};

use crate::panic::{boundary_value, boundary_void};

/// The outcome of a kstoken function. `KST_OK` is zero; every other value is an error.
///
/// Ranges: 1-99 are API misuse and internal failures, 100-199 the core's error kinds, 200-299
/// the reasons a well-formed document failed verification (`openssl cms -verify` exit status 4),
/// 300-399 the validation pipeline's own rejections.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum kst_result {
    /// Success.
    KST_OK = 0,
    /// A required pointer argument was NULL.
    KST_NULL_PARAMETER = 1,
    /// An argument is not acceptable: unknown algorithm name, string not UTF-8, bad index, ...
    KST_INVALID_ARGUMENT = 2,
    /// kstoken panicked; this is a bug. The handles passed in remain valid.
    KST_PANIC = 3,
    /// An error kind this version of the C ABI does not know (a newer core).
    KST_UNKNOWN_ERROR = 4,
    /// The signing certificates, CA bundle or signing key cannot be used (`CertificateConfigError`).
    KST_CERTIFICATE_CONFIG = 100,
    /// The token, CMS document or JSON cannot be decoded (`CMSError`).
    KST_MALFORMED = 101,
    /// An input exceeded a resource limit (see `kst_limits`; text arguments: `KST_MAX_TEXT_LEN`).
    KST_LIMIT_EXCEEDED = 102,
    /// Signing failed, for instance because the key does not match the certificate.
    KST_SIGNING = 103,
    /// Generating a PKI failed inside OpenSSL.
    KST_PKI_SETUP = 104,
    /// Verification: no signing certificate matches the signer ("signer certificate not found").
    KST_SIGNER_NOT_FOUND = 200,
    /// Verification: the signature does not match the content ("content verify error").
    KST_BAD_SIGNATURE = 201,
    /// Verification: a certificate of the chain has expired at the verification time.
    KST_CERT_EXPIRED = 202,
    /// Verification: a certificate of the chain is not yet valid at the verification time.
    KST_CERT_NOT_YET_VALID = 203,
    /// Verification: the signer's chain does not lead to a trusted CA.
    KST_UNTRUSTED_CHAIN = 204,
    /// Verification: the signer certificate may not sign S/MIME content.
    KST_UNSUITABLE_PURPOSE = 205,
    /// Verification: a digest, signature or key algorithm is not supported.
    KST_UNSUPPORTED_ALGORITHM = 206,
    /// Verification failed for a reason this version of the C ABI does not know.
    KST_VERIFICATION_FAILED = 299,
    /// Validation: the token is not a PKI or PKIZ token (only online validation can decide it);
    /// also returned by `kst_hash_token` for such tokens.
    KST_NOT_PKI = 300,
    /// Validation: the token is on the revocation list (by hash or by audit id).
    KST_REVOKED = 301,
    /// Validation: the token's body says it has expired.
    KST_EXPIRED = 302,
    /// Validation or `kst_check_bind`: the bind section does not allow this request.
    KST_BIND_REJECTED = 303,
    /// Validation: the verified content is not a readable token body.
    KST_BODY_INVALID = 304,
}

/// A C enum whose values are the core's stable numbers (`code()`): converted by number, here only.
pub(crate) trait Coded: Copy + 'static {
    /// Every value, in numeric order.
    const ALL: &'static [Self];

    /// The number.
    fn value(self) -> u32;

    /// The value with this number, if there is one.
    fn from_value(value: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.value() == value)
    }
}

impl Coded for kst_result {
    const ALL: &'static [kst_result] = &[
        kst_result::KST_OK,
        kst_result::KST_NULL_PARAMETER,
        kst_result::KST_INVALID_ARGUMENT,
        kst_result::KST_PANIC,
        kst_result::KST_UNKNOWN_ERROR,
        kst_result::KST_CERTIFICATE_CONFIG,
        kst_result::KST_MALFORMED,
        kst_result::KST_LIMIT_EXCEEDED,
        kst_result::KST_SIGNING,
        kst_result::KST_PKI_SETUP,
        kst_result::KST_SIGNER_NOT_FOUND,
        kst_result::KST_BAD_SIGNATURE,
        kst_result::KST_CERT_EXPIRED,
        kst_result::KST_CERT_NOT_YET_VALID,
        kst_result::KST_UNTRUSTED_CHAIN,
        kst_result::KST_UNSUITABLE_PURPOSE,
        kst_result::KST_UNSUPPORTED_ALGORITHM,
        kst_result::KST_VERIFICATION_FAILED,
        kst_result::KST_NOT_PKI,
        kst_result::KST_REVOKED,
        kst_result::KST_EXPIRED,
        kst_result::KST_BIND_REJECTED,
        kst_result::KST_BODY_INVALID,
    ];

    fn value(self) -> u32 {
        self as u32
    }
}

impl kst_result {
    /// The static description, NUL-terminated: a verification reason in OpenSSL's words, as the
    /// core has them; the other codes' descriptions are the C ABI's own.
    fn message(self) -> &'static CStr {
        if let Some(reason) = verification_reason(self.value()) {
            return reason;
        }
        match self {
            kst_result::KST_OK => c"success",
            kst_result::KST_NULL_PARAMETER => c"a required pointer argument was NULL",
            kst_result::KST_INVALID_ARGUMENT => c"invalid argument",
            kst_result::KST_PANIC => c"kstoken panicked (a bug)",
            kst_result::KST_CERTIFICATE_CONFIG => c"certificate configuration error",
            kst_result::KST_MALFORMED => c"malformed token",
            kst_result::KST_LIMIT_EXCEEDED => c"resource limit exceeded",
            kst_result::KST_SIGNING => c"signing failed",
            kst_result::KST_PKI_SETUP => c"PKI setup failed",
            kst_result::KST_VERIFICATION_FAILED => c"verification failed",
            kst_result::KST_NOT_PKI => c"not a PKI or PKIZ token",
            kst_result::KST_REVOKED => c"token has been revoked",
            kst_result::KST_EXPIRED => c"token has expired",
            kst_result::KST_BIND_REJECTED => c"token bind check failed",
            kst_result::KST_BODY_INVALID => c"invalid token body",
            _ => c"unknown error",
        }
    }
}

/// The core's wording of the verification reason numbered `code` (200-206), NUL-terminated.
fn verification_reason(code: u32) -> Option<&'static CStr> {
    static REASONS: OnceLock<Vec<(u32, CString)>> = OnceLock::new();
    REASONS
        .get_or_init(|| {
            VerifyFailure::ALL
                .iter()
                .filter_map(|r| Some((r.code(), CString::new(r.openssl_reason()).ok()?)))
                .collect()
        })
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, reason)| reason.as_c_str())
}

/// An error on its way out to C: a code and a detailed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: kst_result,
    pub(crate) message: String,
}

impl Failure {
    /// A failure with a code and message.
    pub(crate) fn new(code: kst_result, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// `KST_NULL_PARAMETER` naming the argument.
    pub(crate) fn null(argument: &str) -> Self {
        Failure::new(
            kst_result::KST_NULL_PARAMETER,
            format!("argument `{argument}` is NULL"),
        )
    }

    /// `KST_INVALID_ARGUMENT` with a message.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Failure::new(kst_result::KST_INVALID_ARGUMENT, message)
    }
}

/// The C code for a core code ([`Error::code`] and the like give `kst_result` values): an unknown
/// number from a newer core is `KST_UNKNOWN_ERROR`, or `KST_VERIFICATION_FAILED` in 200-299.
fn code(value: u32) -> kst_result {
    kst_result::from_value(value).unwrap_or(if (200..300).contains(&value) {
        kst_result::KST_VERIFICATION_FAILED
    } else {
        kst_result::KST_UNKNOWN_ERROR
    })
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::new(code(error.code()), error.to_string())
    }
}

impl From<BindRejection> for Failure {
    fn from(rejection: BindRejection) -> Self {
        Failure::new(code(rejection.code()), rejection.to_string())
    }
}

impl From<Rejection> for Failure {
    fn from(rejection: Rejection) -> Self {
        Failure::new(code(rejection.code()), rejection.to_string())
    }
}

impl From<ValidateError> for Failure {
    fn from(error: ValidateError) -> Self {
        Failure::new(code(error.code()), error.to_string())
    }
}

/// A detailed error: the code and a message saying what exactly went wrong.
///
/// Returned through the `kst_error **err` out-parameter of every fallible function; read it with
/// `kst_error_code` and `kst_error_message`, release it with `kst_error_free`. Not thread-safe to
/// free while another thread reads it; otherwise an ordinary value that may move between threads.
#[derive(Debug)]
pub struct kst_error {
    code: kst_result,
    message: CString,
}

impl kst_error {
    /// A boxed error from a failure, for handing to C.
    pub(crate) fn boxed(failure: Failure) -> *mut kst_error {
        let message = CString::new(failure.message.replace('\0', "\\0")).unwrap_or_default();
        Box::into_raw(Box::new(kst_error {
            code: failure.code,
            message,
        }))
    }
}

/// A static, NUL-terminated English description of `result`; never NULL, never to be freed.
///
/// Unknown values give "unknown error".
#[no_mangle]
pub extern "C" fn kst_result_message(result: u32) -> *const c_char {
    boundary_value(kst_result::KST_PANIC.message().as_ptr(), || {
        kst_result::from_value(result)
            .unwrap_or(kst_result::KST_UNKNOWN_ERROR)
            .message()
            .as_ptr()
    })
}

/// Whether `result` is a verification failure (200-299), the outcome `openssl cms -verify`
/// reports with exit status 4 (keystoneclient raises `CalledProcessError` for these).
#[no_mangle]
pub extern "C" fn kst_result_is_verification_failure(result: u32) -> bool {
    boundary_value(false, || (200..300).contains(&result))
}

/// The code of `error`; `KST_NULL_PARAMETER` if `error` is NULL.
///
/// # Safety
/// `error` is NULL or a live `kst_error` from this library.
#[no_mangle]
pub unsafe extern "C" fn kst_error_code(error: *const kst_error) -> kst_result {
    boundary_value(kst_result::KST_PANIC, || {
        // SAFETY: the caller passes NULL or a live error this library allocated.
        match unsafe { error.as_ref() } {
            Some(error) => error.code,
            None => kst_result::KST_NULL_PARAMETER,
        }
    })
}

/// The detailed message of `error`, NUL-terminated UTF-8, valid until `kst_error_free(error)`.
/// Never NULL: a NULL `error` gives the static description of `KST_NULL_PARAMETER`.
///
/// # Safety
/// `error` is NULL or a live `kst_error` from this library.
#[no_mangle]
pub unsafe extern "C" fn kst_error_message(error: *const kst_error) -> *const c_char {
    boundary_value(kst_result::KST_PANIC.message().as_ptr(), || {
        // SAFETY: the caller passes NULL or a live error this library allocated.
        match unsafe { error.as_ref() } {
            Some(error) => error.message.as_ptr(),
            None => kst_result::KST_NULL_PARAMETER.message().as_ptr(),
        }
    })
}

/// Releases `error`. NULL is accepted and ignored.
///
/// # Safety
/// `error` is NULL or a `kst_error` from this library not yet freed; it must not be used after.
#[no_mangle]
pub unsafe extern "C" fn kst_error_free(error: *mut kst_error) {
    boundary_void(|| {
        if !error.is_null() {
            // SAFETY: `error` came from `Box::into_raw` in `kst_error::boxed` and is freed once.
            drop(unsafe { Box::from_raw(error) });
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_have_messages() {
        for &code in kst_result::ALL {
            assert_eq!(kst_result::from_value(code as u32), Some(code));
            assert!(!code.message().to_bytes().is_empty());
        }
        assert_eq!(kst_result::from_value(12345), None);
        assert_eq!(
            kst_result::KST_BAD_SIGNATURE.message(),
            c"content verify error"
        );
        assert_eq!(kst_result::KST_UNKNOWN_ERROR.message(), c"unknown error");
    }

    #[test]
    fn core_codes_are_c_codes() {
        for kind in kstoken::ErrorKind::ALL {
            assert_eq!(code(kind.code()) as u32, kind.code(), "{kind}");
        }
        for reason in kstoken::VerifyFailure::ALL {
            assert_eq!(code(reason.code()) as u32, reason.code(), "{reason:?}");
        }
        for r in [
            Rejection::NotPki,
            Rejection::Revoked { by_audit_id: false },
            Rejection::Expired,
            Rejection::Bind(BindRejection::MissingBind),
            Rejection::Body(Error::Malformed(String::new())),
        ] {
            assert_eq!(code(r.code()) as u32, r.code(), "{r:?}");
        }
        assert_eq!(code(250), kst_result::KST_VERIFICATION_FAILED);
        assert_eq!(code(150), kst_result::KST_UNKNOWN_ERROR);
    }
}
