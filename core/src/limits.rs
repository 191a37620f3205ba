//! Resource limits applied to untrusted input and to the credentials a verifier or signer is built from.

use crate::error::{Error, LimitKind, Result};

/// Bounds on what one input may cost; every decoder checks the relevant one before allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted token, CMS PEM text or DER document, in bytes.
    pub max_token_len: usize,
    /// Largest accepted inflated PKIZ payload, in bytes (caps a compression bomb's cost).
    pub max_inflated_len: usize,
    /// Largest accepted JSON document (token body, revocation list, bind section), in bytes.
    pub max_json_len: usize,
    /// Deepest accepted JSON nesting.
    pub max_json_depth: usize,
    /// Longest accepted certificate, private key or certificate bundle, in bytes, checked before it
    /// is parsed. Whatever is configured, at most [`Limits::OPENSSL_MAX_INPUT`] is used: the
    /// `openssl` crate panics on longer inputs.
    pub max_credential_len: usize,
    /// Longest content a [`crate::Signer`] accepts, in bytes, checked before anything is allocated.
    pub max_content_len: usize,
    /// Longest signed revocation list accepted ([`crate::RevocationList::from_signed`]: keystone's
    /// whole response, or the CMS PEM), in bytes, checked before it is read; the PEM, the DER and
    /// the list's JSON inside are bounded by it instead of the token and JSON limits. A list holds
    /// every token revoked and not yet expired: ~150 bytes an entry, so far larger than a token.
    pub max_revocation_list_len: usize,
}

impl Limits {
    /// One mebibyte: far above any real token (upstream examples are 2–10 KB, big catalogs ~40 KB).
    pub const DEFAULT_SIZE: usize = 1 << 20;
    /// Sixteen mebibytes for credentials: about seventy times the whole Mozilla CA bundle (~220 KB).
    pub const DEFAULT_CREDENTIAL_SIZE: usize = 16 << 20;
    /// Sixty-four mebibytes for a signed revocation list: about 300,000 entries.
    pub const DEFAULT_REVOCATION_LIST_SIZE: usize = 64 << 20;
    /// The longest input OpenSSL's memory BIOs take (`INT_MAX`); credentials are parsed through them.
    pub const OPENSSL_MAX_INPUT: usize = i32::MAX as usize;

    /// The configured maximum for `what` (for credentials, clamped to [`Limits::OPENSSL_MAX_INPUT`]).
    pub fn max(&self, what: LimitKind) -> usize {
        match what {
            LimitKind::TokenLength => self.max_token_len,
            LimitKind::InflatedSize => self.max_inflated_len,
            LimitKind::JsonSize => self.max_json_len,
            LimitKind::JsonDepth => self.max_json_depth,
            LimitKind::CredentialLength => self.max_credential_len.min(Self::OPENSSL_MAX_INPUT),
            LimitKind::ContentLength => self.max_content_len,
            LimitKind::RevocationListLength => self.max_revocation_list_len,
        }
    }

    /// These limits for reading a signed revocation list: the token, inflated, JSON and content
    /// lengths raised to [`Limits::max_revocation_list_len`] (the list's length is checked first).
    pub fn for_revocation_list(&self) -> Limits {
        let max = self.max_revocation_list_len;
        Limits {
            max_token_len: max,
            max_inflated_len: max,
            max_json_len: max,
            max_content_len: max,
            ..*self
        }
    }

    /// `Ok` if `len` is within the limit for `what`, else [`Error::LimitExceeded`].
    pub fn check(&self, what: LimitKind, len: usize) -> Result<()> {
        let limit = self.max(what);
        if len > limit {
            Err(Error::LimitExceeded { what, limit })
        } else {
            Ok(())
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_token_len: Self::DEFAULT_SIZE,
            max_inflated_len: Self::DEFAULT_SIZE,
            max_json_len: Self::DEFAULT_SIZE,
            max_json_depth: 64,
            max_credential_len: Self::DEFAULT_CREDENTIAL_SIZE,
            max_content_len: Self::DEFAULT_SIZE,
            max_revocation_list_len: Self::DEFAULT_REVOCATION_LIST_SIZE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_at_and_over_each_limit() {
        let l = Limits::default();
        for what in [
            LimitKind::TokenLength,
            LimitKind::InflatedSize,
            LimitKind::JsonSize,
            LimitKind::JsonDepth,
            LimitKind::CredentialLength,
            LimitKind::ContentLength,
            LimitKind::RevocationListLength,
        ] {
            let max = l.max(what);
            assert_eq!(l.check(what, max), Ok(()), "{what}");
            assert_eq!(
                l.check(what, max + 1),
                Err(Error::LimitExceeded { what, limit: max }),
                "{what}"
            );
        }
    }

    #[test]
    fn credentials_never_exceed_what_openssl_takes() {
        let unbounded = Limits {
            max_credential_len: usize::MAX,
            ..Limits::default()
        };
        assert_eq!(
            unbounded.max(LimitKind::CredentialLength),
            Limits::OPENSSL_MAX_INPUT
        );
        assert!(unbounded
            .check(LimitKind::CredentialLength, Limits::OPENSSL_MAX_INPUT + 1)
            .is_err());
    }
}
