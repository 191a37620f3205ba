//! The one error type of the crate, shaped after the reference's three outcomes
//! (`docs/reference-behaviour.md#errors`).
//!
//! keystoneclient distinguishes a configuration problem (`CertificateConfigError`), a document that
//! cannot be read (`CMSError`) and a document that was read but did not verify (`CalledProcessError`
//! with exit status 4). [`Error`] keeps those three apart so callers (and the bindings) can map them
//! one to one, and adds resource limits, signing and PKI-setup failures.
//!
//! Every outcome has a stable name (`as_str`) and a stable number (`code`) so the bindings only
//! translate: the numbers are the C ABI's `kst_result` values (100-199 error kinds, 200-299
//! verification reasons, 300-399 validation rejections, see [`crate::pipeline::Rejection::code`]),
//! and the names are what the Python exceptions and the CLI report.

use std::fmt;

/// Why a well-formed document failed verification; the reasons `openssl cms -verify` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerifyFailure {
    /// No certificate of the signing bundle matches the signer identifier.
    SignerNotFound,
    /// The signature does not match the content (`content verify error`).
    BadSignature,
    /// A certificate of the chain has expired at the verification time.
    CertificateExpired,
    /// A certificate of the chain is not yet valid at the verification time.
    CertificateNotYetValid,
    /// The signer's chain does not lead to a CA in the CA bundle, or a link is invalid.
    UntrustedChain,
    /// The signer certificate may not sign S/MIME content (key usage / extended key usage).
    UnsuitablePurpose,
    /// A digest, signature or key algorithm the verifier does not support.
    UnsupportedAlgorithm,
}

impl VerifyFailure {
    /// Every reason, in code order.
    pub const ALL: [VerifyFailure; 7] = [
        VerifyFailure::SignerNotFound,
        VerifyFailure::BadSignature,
        VerifyFailure::CertificateExpired,
        VerifyFailure::CertificateNotYetValid,
        VerifyFailure::UntrustedChain,
        VerifyFailure::UnsuitablePurpose,
        VerifyFailure::UnsupportedAlgorithm,
    ];

    /// The stable snake_case name of the reason (`bad_signature`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyFailure::SignerNotFound => "signer_not_found",
            VerifyFailure::BadSignature => "bad_signature",
            VerifyFailure::CertificateExpired => "certificate_expired",
            VerifyFailure::CertificateNotYetValid => "certificate_not_yet_valid",
            VerifyFailure::UntrustedChain => "untrusted_chain",
            VerifyFailure::UnsuitablePurpose => "unsuitable_purpose",
            VerifyFailure::UnsupportedAlgorithm => "unsupported_algorithm",
        }
    }

    /// The stable number of the reason, 200-206: the C ABI's `KST_SIGNER_NOT_FOUND` and following.
    pub fn code(self) -> u32 {
        match self {
            VerifyFailure::SignerNotFound => 200,
            VerifyFailure::BadSignature => 201,
            VerifyFailure::CertificateExpired => 202,
            VerifyFailure::CertificateNotYetValid => 203,
            VerifyFailure::UntrustedChain => 204,
            VerifyFailure::UnsuitablePurpose => 205,
            VerifyFailure::UnsupportedAlgorithm => 206,
        }
    }

    /// The reason as OpenSSL words it on standard error (what keystoneclient users grep for).
    pub fn openssl_reason(self) -> &'static str {
        match self {
            VerifyFailure::SignerNotFound => "signer certificate not found",
            VerifyFailure::BadSignature => "content verify error",
            VerifyFailure::CertificateExpired => "certificate has expired",
            VerifyFailure::CertificateNotYetValid => "certificate is not yet valid",
            VerifyFailure::UntrustedChain => "unable to get local issuer certificate",
            VerifyFailure::UnsuitablePurpose => "unsuitable certificate purpose",
            VerifyFailure::UnsupportedAlgorithm => "unsupported algorithm",
        }
    }
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.openssl_reason())
    }
}

/// Which resource limit an input exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitKind {
    /// Length of a token or CMS document as received.
    TokenLength,
    /// Size of a PKIZ token's inflated payload.
    InflatedSize,
    /// Size of a JSON document (token body or revocation list).
    JsonSize,
    /// Nesting depth of a JSON document.
    JsonDepth,
    /// Length of a certificate, key or certificate bundle (PEM or DER) given to build a verifier or signer.
    CredentialLength,
    /// Length of the content given to a signer.
    ContentLength,
    /// Length of a signed revocation list (keystone's response or its CMS PEM).
    RevocationListLength,
}

impl LimitKind {
    /// The stable snake_case name of the limit (`token_length`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::TokenLength => "token_length",
            LimitKind::InflatedSize => "inflated_size",
            LimitKind::JsonSize => "json_size",
            LimitKind::JsonDepth => "json_depth",
            LimitKind::CredentialLength => "credential_length",
            LimitKind::ContentLength => "content_length",
            LimitKind::RevocationListLength => "revocation_list_length",
        }
    }
}

impl fmt::Display for LimitKind {
    /// The limit in words, as error messages print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::TokenLength => "token length",
            LimitKind::InflatedSize => "inflated PKIZ size",
            LimitKind::JsonSize => "JSON size",
            LimitKind::JsonDepth => "JSON nesting depth",
            LimitKind::CredentialLength => "certificate, key or bundle length",
            LimitKind::ContentLength => "content length",
            LimitKind::RevocationListLength => "revocation list length",
        })
    }
}

/// Everything that can go wrong in kstoken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The signing certificates, CA bundle or signing key cannot be used (keystoneclient's
    /// `CertificateConfigError`).
    #[error("certificate configuration error: {0}")]
    CertificateConfig(String),
    /// The token or CMS document cannot be decoded (keystoneclient's `CMSError`).
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The document was decoded but did not verify (`openssl cms -verify` exit status 4).
    #[error("verification failed: {reason}{}", detail_suffix(*reason, detail))]
    Verification {
        /// The reason, one of the outcomes OpenSSL distinguishes.
        reason: VerifyFailure,
        /// More detail, such as OpenSSL's certificate verification error text.
        detail: String,
    },
    /// An input exceeded a configured resource limit.
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// The limit that was exceeded.
        what: LimitKind,
        /// The configured limit.
        limit: usize,
    },
    /// Signing failed, for instance because the key does not match the certificate.
    #[error("signing failed: {0}")]
    Signing(String),
    /// Generating a PKI ([`crate::pki_setup::generate`]) failed inside OpenSSL.
    #[error("PKI setup failed: {0}")]
    PkiSetup(String),
    /// An argument is not acceptable, such as an unknown hash algorithm name.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

fn detail_suffix(reason: VerifyFailure, detail: &str) -> String {
    if detail.is_empty() || detail == reason.openssl_reason() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

impl Error {
    /// A verification failure with the given reason and detail.
    pub(crate) fn verify(reason: VerifyFailure, detail: impl Into<String>) -> Self {
        Error::Verification {
            reason,
            detail: detail.into(),
        }
    }

    /// A malformed-input error with the given message.
    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        Error::Malformed(msg.into())
    }

    /// The verification failure reason, if this is a verification failure.
    pub fn verify_failure(&self) -> Option<VerifyFailure> {
        match self {
            Error::Verification { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// The category of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::CertificateConfig(_) => ErrorKind::CertificateConfig,
            Error::Malformed(_) => ErrorKind::Malformed,
            Error::Verification { .. } => ErrorKind::Verification,
            Error::LimitExceeded { .. } => ErrorKind::LimitExceeded,
            Error::Signing(_) => ErrorKind::Signing,
            Error::PkiSetup(_) => ErrorKind::PkiSetup,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
        }
    }

    /// The most specific stable number: the verification reason's (200-206) for a verification
    /// failure, the kind's otherwise. These are the C ABI's `kst_result` values.
    pub fn code(&self) -> u32 {
        match self {
            Error::Verification { reason, .. } => reason.code(),
            other => other.kind().code(),
        }
    }

    /// What went wrong, without the kind's prefix: the message of a message-carrying error, the
    /// detail of a verification failure (often empty), the limit's words for a limit.
    pub fn detail(&self) -> &str {
        match self {
            Error::CertificateConfig(m)
            | Error::Malformed(m)
            | Error::Signing(m)
            | Error::PkiSetup(m)
            | Error::InvalidArgument(m) => m,
            Error::Verification { detail, .. } => detail,
            Error::LimitExceeded { .. } => "",
        }
    }

    /// The limit that was exceeded, for [`Error::LimitExceeded`].
    pub fn limit_kind(&self) -> Option<LimitKind> {
        match self {
            Error::LimitExceeded { what, .. } => Some(*what),
            _ => None,
        }
    }

    /// The one-line reason `openssl cms -verify` prints for a verification failure, `None` for
    /// other errors.
    ///
    /// For a chain that does not validate, OpenSSL prints its certificate verification error text
    /// (`self signed certificate`, `unable to get issuer certificate`, ...), which the detail
    /// carries; every other reason has a fixed wording ([`VerifyFailure::openssl_reason`]).
    pub fn openssl_reason(&self) -> Option<&str> {
        match self {
            Error::Verification { reason, detail } => Some(
                if *reason == VerifyFailure::UntrustedChain && !detail.is_empty() {
                    detail
                } else {
                    reason.openssl_reason()
                },
            ),
            _ => None,
        }
    }
}

/// The category of an [`Error`], with a stable name and number for the bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::CertificateConfig`].
    CertificateConfig,
    /// [`Error::Malformed`].
    Malformed,
    /// [`Error::Verification`].
    Verification,
    /// [`Error::LimitExceeded`].
    LimitExceeded,
    /// [`Error::Signing`].
    Signing,
    /// [`Error::PkiSetup`].
    PkiSetup,
    /// [`Error::InvalidArgument`].
    InvalidArgument,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::CertificateConfig,
        ErrorKind::Malformed,
        ErrorKind::Verification,
        ErrorKind::LimitExceeded,
        ErrorKind::Signing,
        ErrorKind::PkiSetup,
        ErrorKind::InvalidArgument,
    ];

    /// The stable snake_case name (`certificate_config`, `malformed`, `verification`, `limit`,
    /// `signing`, `pki_setup`, `invalid_argument`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::CertificateConfig => "certificate_config",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Verification => "verification",
            ErrorKind::LimitExceeded => "limit",
            ErrorKind::Signing => "signing",
            ErrorKind::PkiSetup => "pki_setup",
            ErrorKind::InvalidArgument => "invalid_argument",
        }
    }

    /// The stable number, the C ABI's `kst_result` value: 100 certificate configuration, 101
    /// malformed, 102 limit, 103 signing, 104 PKI setup, 2 invalid argument (an API-misuse code),
    /// 299 verification (whose errors carry a more specific 200-206 in [`Error::code`]).
    pub fn code(self) -> u32 {
        match self {
            ErrorKind::InvalidArgument => 2,
            ErrorKind::CertificateConfig => 100,
            ErrorKind::Malformed => 101,
            ErrorKind::LimitExceeded => 102,
            ErrorKind::Signing => 103,
            ErrorKind::PkiSetup => 104,
            ErrorKind::Verification => 299,
        }
    }

    /// Whether errors of this kind come from the configuration (certificates, keys, arguments) rather
    /// than from the token or document being processed.
    pub fn is_configuration(self) -> bool {
        matches!(
            self,
            ErrorKind::CertificateConfig
                | ErrorKind::Signing
                | ErrorKind::PkiSetup
                | ErrorKind::InvalidArgument
        )
    }
}

impl fmt::Display for ErrorKind {
    /// The stable name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_codes_are_unique_and_in_their_ranges() {
        let kinds: HashSet<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(kinds.len(), ErrorKind::ALL.len());
        let mut codes: HashSet<u32> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        for reason in VerifyFailure::ALL {
            assert!((200..=206).contains(&reason.code()), "{reason:?}");
            assert!(codes.insert(reason.code()), "{reason:?}");
        }
        let names: HashSet<_> = VerifyFailure::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), VerifyFailure::ALL.len());
        assert_eq!(ErrorKind::PkiSetup.code(), 104);
        assert_eq!(ErrorKind::InvalidArgument.code(), 2);
    }

    #[test]
    fn error_accessors() {
        let chain = Error::verify(VerifyFailure::UntrustedChain, "self-signed certificate");
        assert_eq!(chain.kind(), ErrorKind::Verification);
        assert_eq!(chain.code(), 204);
        assert_eq!(chain.openssl_reason(), Some("self-signed certificate"));
        assert_eq!(chain.detail(), "self-signed certificate");
        let bare_chain = Error::verify(VerifyFailure::UntrustedChain, "");
        assert_eq!(
            bare_chain.openssl_reason(),
            Some("unable to get local issuer certificate")
        );
        // Only an untrusted chain takes OpenSSL's text from the detail.
        let sig = Error::verify(VerifyFailure::BadSignature, "digest failed");
        assert_eq!(sig.openssl_reason(), Some("content verify error"));
        let limit = Error::LimitExceeded {
            what: LimitKind::JsonDepth,
            limit: 3,
        };
        assert_eq!((limit.kind().as_str(), limit.code()), ("limit", 102));
        assert_eq!(limit.limit_kind(), Some(LimitKind::JsonDepth));
        assert_eq!(limit.openssl_reason(), None);
        let setup = Error::PkiSetup("bad".into());
        assert_eq!((setup.kind().as_str(), setup.code()), ("pki_setup", 104));
        assert_eq!(setup.detail(), "bad");
        assert!(setup.kind().is_configuration());
        assert!(!Error::Malformed(String::new()).kind().is_configuration());
    }
}
