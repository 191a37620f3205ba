//! Why a token is not valid for a request.

use std::fmt;

use crate::body::bind::BindRejection;
use crate::error::{Error, VerifyFailure};
use crate::pipeline::Rejection;

/// Why keystone is needed and not available: the token cannot be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unavailable {
    /// No signing certificates have been loaded.
    NoCertificates,
    /// Revocation lists are enforced and there is no list, or the last one is too old.
    NoRevocationList,
}

/// Why a token is not valid for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a PKI or PKIZ token and no online validation.
    NotPki,
    /// On the revocation list.
    Revoked {
        /// Found by audit id rather than by hash.
        by_audit_id: bool,
    },
    /// The CMS document is malformed, too large, or did not verify.
    Verification(Error),
    /// The verified body is not a usable token body.
    Body(Error),
    /// The token has expired.
    Expired,
    /// A v2 token without a project ("Unable to determine service tenancy").
    NoTenancy,
    /// The bind section does not allow this request.
    Bind(BindRejection),
    /// A service token without any of `service_token_roles`, with `service_token_roles_required`.
    ServiceRoles,
    /// Keystone is needed and not available.
    Unavailable(Unavailable),
}

impl Refusal {
    /// A stable name for logs and bindings.
    pub fn as_str(&self) -> &'static str {
        match self {
            Refusal::NotPki => "not_pki",
            Refusal::Revoked { by_audit_id: false } => "revoked_by_hash",
            Refusal::Revoked { by_audit_id: true } => "revoked_by_audit_id",
            Refusal::Verification(_) => "signature",
            Refusal::Body(_) => "body",
            Refusal::Expired => "expiry",
            Refusal::NoTenancy => "no_tenancy",
            Refusal::Bind(_) => "bind",
            Refusal::ServiceRoles => "service_roles",
            Refusal::Unavailable(Unavailable::NoCertificates) => "no_certificates",
            Refusal::Unavailable(Unavailable::NoRevocationList) => "no_revocation_list",
        }
    }

    /// Whether a fresh copy of the signing certificates might change the verdict (key rotation).
    pub fn wants_new_certificates(&self) -> bool {
        matches!(self, Refusal::Verification(e) if e.verify_failure() == Some(VerifyFailure::SignerNotFound))
            || *self == Refusal::Unavailable(Unavailable::NoCertificates)
    }
}

impl From<Rejection> for Refusal {
    /// The pipeline's rejections, as the authenticator's refusals.
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::NotPki => Refusal::NotPki,
            Rejection::Revoked { by_audit_id } => Refusal::Revoked { by_audit_id },
            Rejection::Verification(e) => Refusal::Verification(e),
            Rejection::Body(e) => Refusal::Body(e),
            Rejection::Expired => Refusal::Expired,
            Rejection::Bind(b) => Refusal::Bind(b),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotPki => {
                f.write_str("not a PKI or PKIZ token, and online validation is not available")
            }
            Refusal::Revoked { by_audit_id: false } => f.write_str("token has been revoked"),
            Refusal::Revoked { by_audit_id: true } => {
                f.write_str("token has been revoked (by audit id)")
            }
            Refusal::Verification(e) => write!(f, "token authorization failed: {e}"),
            Refusal::Body(e) => write!(f, "invalid token contents: {e}"),
            Refusal::Expired => f.write_str("token has expired"),
            Refusal::NoTenancy => {
                f.write_str("unable to determine service tenancy (v2 token without a project)")
            }
            Refusal::Bind(e) => write!(f, "bind check failed: {e}"),
            Refusal::ServiceRoles => {
                f.write_str("service token lacks every service_token_roles role")
            }
            Refusal::Unavailable(Unavailable::NoCertificates) => {
                f.write_str("no signing certificates available")
            }
            Refusal::Unavailable(Unavailable::NoRevocationList) => {
                f.write_str("no current revocation list available")
            }
        }
    }
}
