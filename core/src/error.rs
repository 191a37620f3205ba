//! The one error type of the crate, shaped after the reference's three outcomes.
//!
//! keystoneclient distinguishes a configuration problem (`CertificateConfigError`), a document that
//! cannot be read (`CMSError`) and a document that was read but did not verify (`CalledProcessError`
//! with exit status 4). [`Error`] keeps those three apart so callers (and the bindings) can map them
//! one to one, and adds resource limits and signing failures.

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
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::TokenLength => "token length",
            LimitKind::InflatedSize => "inflated PKIZ size",
            LimitKind::JsonSize => "JSON size",
            LimitKind::JsonDepth => "JSON nesting depth",
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
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
