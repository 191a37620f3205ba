//! Why a token is not valid for a request: the pipeline's rejections (one vocabulary, one message
//! each), and the few verdicts only a request gives: tenancy, service roles, keystone unavailable.

use std::fmt;

use crate::error::VerifyFailure;
use crate::pipeline::Rejection;

/// Why keystone is needed and not available: the token cannot be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unavailable {
    /// No signing certificates have been loaded.
    NoCertificates,
    /// Revocation lists are enforced and there is no list, or the last one is too old.
    NoRevocationList,
}

impl Unavailable {
    /// The stable name: `no_certificates` or `no_revocation_list`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unavailable::NoCertificates => "no_certificates",
            Unavailable::NoRevocationList => "no_revocation_list",
        }
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unavailable::NoCertificates => "no signing certificates available",
            Unavailable::NoRevocationList => "no current revocation list available",
        })
    }
}

/// Why a token is not valid for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Rejected by a step of the validation ([`crate::pipeline`]): not PKI/PKIZ (and no online
    /// validation), revoked, signature, body, expired, bind.
    Rejected(Rejection),
    /// A v2 token without a project ("Unable to determine service tenancy").
    NoTenancy,
    /// A service token without any of `service_token_roles`, with `service_token_roles_required`.
    ServiceRoles,
    /// Keystone is needed and not available.
    Unavailable(Unavailable),
}

impl Refusal {
    /// A stable name for logs and bindings: the pipeline step's name ([`crate::pipeline::Step`])
    /// for a rejection, else `no_tenancy`, `service_roles`, `no_certificates`, `no_revocation_list`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Refusal::Rejected(r) => r.step().as_str(),
            Refusal::NoTenancy => "no_tenancy",
            Refusal::ServiceRoles => "service_roles",
            Refusal::Unavailable(u) => u.as_str(),
        }
    }

    /// The pipeline's rejection, if this is one.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Refusal::Rejected(r) => Some(r),
            _ => None,
        }
    }

    /// Whether a fresh copy of the signing certificates might change the verdict: none are loaded,
    /// the signer is not among them (key rotation), or the signer is found but the signature does
    /// not match, which is also what a rebuilt PKI looks like (keystone's `pki_setup` run again
    /// makes a signing certificate with the same issuer name and serial 1 under a new CA). A
    /// tampered token looks the same: fetching is the caller's to rate-limit.
    pub fn wants_new_certificates(&self) -> bool {
        match self {
            Refusal::Rejected(Rejection::Verification(e)) => matches!(
                e.verify_failure(),
                Some(VerifyFailure::SignerNotFound | VerifyFailure::BadSignature)
            ),
            Refusal::Unavailable(u) => *u == Unavailable::NoCertificates,
            _ => false,
        }
    }
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Self {
        Refusal::Rejected(rejection)
    }
}

impl From<Unavailable> for Refusal {
    fn from(unavailable: Unavailable) -> Self {
        Refusal::Unavailable(unavailable)
    }
}

impl fmt::Display for Refusal {
    /// A rejection's own message ([`Rejection`]'s `Display`); the others' here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Rejected(r) => r.fmt(f),
            Refusal::NoTenancy => {
                f.write_str("unable to determine service tenancy (v2 token without a project)")
            }
            Refusal::ServiceRoles => {
                f.write_str("service token lacks every service_token_roles role")
            }
            Refusal::Unavailable(u) => u.fmt(f),
        }
    }
}

impl std::error::Error for Refusal {}
