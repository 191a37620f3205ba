//! `kst_limits`: the resource limits of the core, as a C struct.

use kstoken::Limits;

use crate::bytes::{optional_ref, Out};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result};

/// Resource limits applied to untrusted input, each checked before the input is read. Start from
/// `kst_limits_default` and change what you need; functions taking a `const kst_limits *` accept
/// NULL for the defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct kst_limits {
    /// Longest accepted token, CMS PEM text or DER document, in bytes (default 1 MiB).
    pub max_token_len: usize,
    /// Largest accepted inflated PKIZ payload, in bytes (default 1 MiB).
    pub max_inflated_len: usize,
    /// Largest accepted JSON document (token body, revocation list, bind section), in bytes
    /// (default 1 MiB).
    pub max_json_len: usize,
    /// Deepest accepted JSON nesting (default 64).
    pub max_json_depth: usize,
    /// Longest accepted certificate, key or certificate bundle (signing certificates, CA bundle,
    /// signing key, client certificate), in bytes (default 16 MiB; at most `INT_MAX` is used, the
    /// most OpenSSL reads).
    pub max_credential_len: usize,
    /// Longest content a signer signs, in bytes (default 1 MiB).
    pub max_content_len: usize,
}

impl From<Limits> for kst_limits {
    fn from(l: Limits) -> Self {
        kst_limits {
            max_token_len: l.max_token_len,
            max_inflated_len: l.max_inflated_len,
            max_json_len: l.max_json_len,
            max_json_depth: l.max_json_depth,
            max_credential_len: l.max_credential_len,
            max_content_len: l.max_content_len,
        }
    }
}

impl From<kst_limits> for Limits {
    // Every field is named, so a limit added to the core fails to compile here until it is decided
    // whether the C struct gets it too.
    fn from(l: kst_limits) -> Self {
        Limits {
            max_token_len: l.max_token_len,
            max_inflated_len: l.max_inflated_len,
            max_json_len: l.max_json_len,
            max_json_depth: l.max_json_depth,
            max_credential_len: l.max_credential_len,
            max_content_len: l.max_content_len,
            // Not in the C struct: a field added to `kst_limits` changes its size, an ABI break
            // (callers allocate it). C callers get the core's default (64 MiB).
            max_revocation_list_len: Limits::default().max_revocation_list_len,
        }
    }
}

/// The limits `limits` points to, or the defaults for NULL.
///
/// # Safety
/// `limits` is NULL or points to a readable `kst_limits`.
pub(crate) unsafe fn limits_or_default(limits: *const kst_limits) -> Limits {
    // SAFETY: per the caller.
    unsafe { optional_ref(limits) }.map_or_else(Limits::default, |l| (*l).into())
}

/// Writes the default limits to `*out`.
///
/// # Safety
/// `out` is NULL or valid for writing a `kst_limits`; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_limits_default(
    out: *mut kst_limits,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: NULL or writable per the caller; the defaults are written at once.
        unsafe { Out::new(out, "out", Limits::default().into()) }?;
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn limits_round_trip() {
        let limits = Limits {
            max_token_len: 1,
            max_inflated_len: 2,
            max_json_len: 3,
            max_json_depth: 4,
            max_credential_len: 5,
            max_content_len: 6,
            max_revocation_list_len: Limits::default().max_revocation_list_len,
        };
        assert_eq!(Limits::from(kst_limits::from(limits)), limits);
        // SAFETY: NULL and a local are both allowed.
        unsafe {
            assert_eq!(limits_or_default(std::ptr::null()), Limits::default());
            assert_eq!(limits_or_default(&kst_limits::from(limits)), limits);
        }
    }
}
