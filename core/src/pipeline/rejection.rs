//! The pipeline's verdict vocabulary: the step that refused a token, why, and the errors of a call.

use std::fmt;

use crate::body::bind::BindRejection;
use crate::error::Error;

/// The step of the validation that rejected a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Form detection: not a PKI or PKIZ token.
    Detect,
    /// Revocation list, by token hash.
    RevokedByHash,
    /// CMS signature verification.
    Signature,
    /// Body decoding.
    Body,
    /// Revocation list, by audit id.
    RevokedByAuditId,
    /// Expiry.
    Expiry,
    /// Bind enforcement.
    Bind,
}

impl Step {
    /// Every step, in the pipeline's order.
    pub const ALL: [Step; 7] = [
        Step::Detect,
        Step::RevokedByHash,
        Step::Signature,
        Step::Body,
        Step::RevokedByAuditId,
        Step::Expiry,
        Step::Bind,
    ];

    /// The stable name: `detect`, `revoked_by_hash`, `signature`, `body`, `revoked_by_audit_id`,
    /// `expiry`, `bind` (what Python's `TokenRejected.step` and the CLI report).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Detect => "detect",
            Step::RevokedByHash => "revoked_by_hash",
            Step::Signature => "signature",
            Step::Body => "body",
            Step::RevokedByAuditId => "revoked_by_audit_id",
            Step::Expiry => "expiry",
            Step::Bind => "bind",
        }
    }

    /// The stable number: the step's place in the pipeline, 1 (detect) to 7 (bind).
    pub fn code(self) -> u32 {
        match self {
            Step::Detect => 1,
            Step::RevokedByHash => 2,
            Step::Signature => 3,
            Step::Body => 4,
            Step::RevokedByAuditId => 5,
            Step::Expiry => 6,
            Step::Bind => 7,
        }
    }

    /// What the step checks, in words for people (the CLI prints it before the stable name).
    pub fn description(self) -> &'static str {
        match self {
            Step::Detect => "detect (form)",
            Step::RevokedByHash => "revocation (token hash)",
            Step::Signature => "signature",
            Step::Body => "body",
            Step::RevokedByAuditId => "revocation (audit id)",
            Step::Expiry => "expiry",
            Step::Bind => "bind",
        }
    }
}

impl fmt::Display for Step {
    /// The stable name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a token was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not a PKI or PKIZ token: only online validation can decide it.
    NotPki,
    /// The token is on the revocation list.
    Revoked {
        /// Whether it was found by audit id rather than by hash.
        by_audit_id: bool,
    },
    /// The CMS document is malformed or did not verify.
    Verification(Error),
    /// The verified content is not a readable token body.
    Body(Error),
    /// The token expired at or before the validation time.
    Expired,
    /// The bind section does not allow this request.
    Bind(BindRejection),
}

impl Rejection {
    /// The step that rejected the token.
    pub fn step(&self) -> Step {
        match self {
            Rejection::NotPki => Step::Detect,
            Rejection::Revoked { by_audit_id: false } => Step::RevokedByHash,
            Rejection::Revoked { by_audit_id: true } => Step::RevokedByAuditId,
            Rejection::Verification(_) => Step::Signature,
            Rejection::Body(_) => Step::Body,
            Rejection::Expired => Step::Expiry,
            Rejection::Bind(_) => Step::Bind,
        }
    }

    /// The stable number, the C ABI's `kst_result`: 300 not PKI, 301 revoked, 302 expired, 303 bind,
    /// 304 body; a signature-step rejection has its error's code ([`Error::code`]).
    pub fn code(&self) -> u32 {
        match self {
            Rejection::NotPki => 300,
            Rejection::Revoked { .. } => 301,
            Rejection::Expired => 302,
            Rejection::Bind(b) => b.code(),
            Rejection::Body(_) => 304,
            Rejection::Verification(e) => e.code(),
        }
    }

    /// The error behind a signature or body rejection.
    pub fn error(&self) -> Option<&Error> {
        match self {
            Rejection::Verification(e) | Rejection::Body(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotPki => f.write_str("not a PKI or PKIZ token"),
            Rejection::Revoked { by_audit_id: false } => f.write_str("Token has been revoked"),
            Rejection::Revoked { by_audit_id: true } => {
                f.write_str("Token has been revoked (by audit id)")
            }
            Rejection::Verification(e) => write!(f, "Token authorization failed: {e}"),
            Rejection::Body(e) => write!(f, "invalid token body: {e}"),
            Rejection::Expired => f.write_str("Token has expired"),
            Rejection::Bind(e) => write!(f, "bind check failed: {e}"),
        }
    }
}

impl std::error::Error for Rejection {}

/// Why [`crate::validate`] returned no token: a rejection at one of its steps, or a call it cannot serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidateError {
    /// The token was rejected at a step (the middleware's 401).
    Rejected(Rejection),
    /// The call itself is invalid: the clock is out of range ([`crate::timestamp::unix_time`]) or a
    /// configured hash algorithm is unavailable in this OpenSSL. Not a verdict on the token.
    InvalidArgument(Error),
}

impl ValidateError {
    /// The rejection, if the token was rejected.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            ValidateError::Rejected(r) => Some(r),
            ValidateError::InvalidArgument(_) => None,
        }
    }

    /// The step that rejected the token, if it was rejected.
    pub fn step(&self) -> Option<Step> {
        self.rejection().map(Rejection::step)
    }

    /// The stable number, the C ABI's `kst_result`: the rejection's, or the error's (2).
    pub fn code(&self) -> u32 {
        match self {
            ValidateError::Rejected(r) => r.code(),
            ValidateError::InvalidArgument(e) => e.code(),
        }
    }
}

impl From<Rejection> for ValidateError {
    fn from(rejection: Rejection) -> Self {
        ValidateError::Rejected(rejection)
    }
}

impl fmt::Display for ValidateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidateError::Rejected(r) => r.fmt(f),
            ValidateError::InvalidArgument(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ValidateError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn step_names_and_codes() {
        let names: Vec<&str> = Step::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "detect",
                "revoked_by_hash",
                "signature",
                "body",
                "revoked_by_audit_id",
                "expiry",
                "bind"
            ]
        );
        let codes: Vec<u32> = Step::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(Step::RevokedByHash.to_string(), "revoked_by_hash");
        let descriptions: HashSet<&str> = Step::ALL.iter().map(|s| s.description()).collect();
        assert_eq!(descriptions.len(), Step::ALL.len());
    }

    #[test]
    fn rejection_codes() {
        assert_eq!(Rejection::NotPki.code(), 300);
        assert_eq!(Rejection::Revoked { by_audit_id: true }.code(), 301);
        assert_eq!(Rejection::Expired.code(), 302);
        assert_eq!(Rejection::Bind(BindRejection::MissingBind).code(), 303);
        assert_eq!(Rejection::Body(Error::malformed("x")).code(), 304);
        let bad = Error::verify(crate::VerifyFailure::BadSignature, "");
        assert_eq!(Rejection::Verification(bad.clone()).code(), 201);
        assert_eq!(Rejection::Verification(bad.clone()).error(), Some(&bad));
        let invalid = ValidateError::InvalidArgument(Error::InvalidArgument("clock".into()));
        assert_eq!((invalid.code(), invalid.step()), (2, None));
        let rejected = ValidateError::from(Rejection::Expired);
        assert_eq!(rejected.step(), Some(Step::Expiry));
        assert_eq!(rejected.to_string(), "Token has expired");
    }
}
