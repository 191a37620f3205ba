//! What the authenticator decided for a request: the decision, each token's report, the headers.

use std::sync::Arc;

use crate::auth_token::headers::{self, Header};
use crate::auth_token::refusal::Refusal;
use crate::auth_token::refusal::Unavailable;
use crate::auth_token::shared_cache::SharedEntry;
use crate::auth_token::token_cache::CacheKey;
use crate::auth_token::token_data::TokenData;

/// Where a token's verdict came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The process cache.
    Cache,
    /// The shared cache.
    SharedCache,
    /// Validated now.
    Validated,
    /// Not looked at (not PKI/PKIZ, or keystone unavailable).
    None,
}

/// The verdict on one token of the request.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenReport {
    /// `None` when the token is valid for this request.
    pub refusal: Option<Refusal>,
    /// The decoded token, whenever its body was read (also when it was then refused for expiry,
    /// tenancy, bind or roles: the reference exposes it in `keystone.token_auth`).
    pub data: Option<Arc<TokenData>>,
    /// The token's hashes (empty when they were not needed: no revocation list, no shared cache).
    pub hashes: Vec<String>,
    /// Where the verdict came from.
    pub source: Source,
    /// The token's key in the process cache, when it is cached there (for
    /// [`crate::auth_token::Authenticator::charge`]).
    pub cache_key: Option<CacheKey>,
}

impl TokenReport {
    /// Whether the token is valid for this request.
    pub fn is_valid(&self) -> bool {
        self.refusal.is_none()
    }

    pub(super) fn refused(refusal: Refusal) -> Self {
        TokenReport {
            refusal: Some(refusal),
            data: None,
            hashes: Vec::new(),
            source: Source::None,
            cache_key: None,
        }
    }
}

/// What the middleware does with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Call the application with the headers of [`Outcome::headers`].
    Pass,
    /// Answer 401 with `WWW-Authenticate`.
    Reject,
    /// Answer 503: keystone is needed and not available.
    Unavailable,
    /// A token is not PKI/PKIZ: hand the request to the online validator.
    Delegate,
}

/// The result of [`crate::auth_token::Authenticator::authenticate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What to do.
    pub decision: Decision,
    /// The user token's verdict (`None` when no user token was sent).
    pub user: Option<TokenReport>,
    /// The service token's verdict (`None` when no service token was sent).
    pub service: Option<TokenReport>,
    /// Whether the service token passed the `service_token_roles` check (when it was valid).
    pub service_role_check: Option<bool>,
    /// What to store in the shared cache, when one is configured: an entry for each token this
    /// call validated (accepted, or refused for good), in keystonemiddleware's format.
    pub shared_store: Vec<SharedEntry>,
}

const CONFIRMED: &str = "Confirmed";
const INVALID: &str = "Invalid";

impl Outcome {
    /// What keystone could give that would let this request be judged, or judged anew: fetch it,
    /// hand it over ([`crate::auth_token::Authenticator::set_verifier`],
    /// [`crate::auth_token::Authenticator::set_revocation_list`]) and authenticate again.
    pub fn wants(&self) -> Wants {
        let mut wants = Wants::default();
        for refusal in [&self.user, &self.service]
            .into_iter()
            .flatten()
            .filter_map(|r| r.refusal.as_ref())
        {
            match refusal {
                Refusal::Unavailable(Unavailable::NoCertificates) => wants.certificates = true,
                Refusal::Unavailable(Unavailable::NoRevocationList) => wants.revocation_list = true,
                r if r.wants_new_certificates() => wants.new_certificates = true,
                _ => {}
            }
        }
        wants
    }

    fn status(report: Option<&TokenReport>) -> &'static str {
        if report.is_some_and(TokenReport::is_valid) {
            CONFIRMED
        } else {
            INVALID
        }
    }

    /// The headers to set, in order (a later value overwrites an earlier one), after every header of
    /// [`headers::ALL_HEADERS`] has been removed from the request; `None` values are set as such.
    pub fn headers(&self) -> Vec<(Header, Option<&str>)> {
        let mut out = Vec::with_capacity(36);
        for group in self.header_groups() {
            match group {
                HeaderGroup::Status(header, value) => out.push((header, Some(value))),
                HeaderGroup::User(data) => out.extend(data.user_headers()),
                HeaderGroup::Service(data) => out.extend(data.service_headers()),
            }
        }
        out
    }

    /// [`Outcome::headers`] in groups, in order: the status headers, then the valid user token's
    /// headers ([`TokenData::user_headers`]), then the valid service token's
    /// ([`TokenData::service_headers`]) — for bindings that keep each token's headers prepared.
    pub fn header_groups(&self) -> Vec<HeaderGroup<'_>> {
        let mut out = Vec::with_capacity(4);
        if self.decision == Decision::Delegate {
            return out;
        }
        if let Some(service) = &self.service {
            out.push(HeaderGroup::Status(
                headers::SERVICE_IDENTITY_STATUS,
                Self::status(Some(service)),
            ));
        }
        out.push(HeaderGroup::Status(
            headers::IDENTITY_STATUS,
            Self::status(self.user.as_ref()),
        ));
        if let Some(data) = valid_data(&self.user) {
            out.push(HeaderGroup::User(data));
        }
        if let Some(data) = valid_data(&self.service) {
            out.push(HeaderGroup::Service(data));
        }
        out
    }
}

/// The data of a token that is valid for the request.
fn valid_data(report: &Option<TokenReport>) -> Option<&TokenData> {
    report
        .as_ref()
        .filter(|r| r.is_valid())
        .and_then(|r| r.data.as_deref())
}

/// A group of the headers an [`Outcome`] sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HeaderGroup<'a> {
    /// `X-Identity-Status` or `X-Service-Identity-Status` and its value.
    Status(Header, &'static str),
    /// The headers of a valid user token.
    User(&'a TokenData),
    /// The headers of a valid service token.
    Service(&'a TokenData),
}

/// What an [`Outcome`] asks the host to fetch from keystone before asking again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Wants {
    /// No signing certificates are loaded: load or fetch them.
    pub certificates: bool,
    /// A token's signer is not among the loaded certificates: keystone may have rotated its key, so
    /// a fresh copy may verify it (fetch at most now and then: anyone can send such a token).
    pub new_certificates: bool,
    /// Revocation lists are enforced and none is current: fetch one.
    pub revocation_list: bool,
}
