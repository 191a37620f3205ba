//! keystonemiddleware's `auth_token` decision for one request, as one call: the user token and the
//! service token, the token cache, revocation, verification, expiry, bind, the service-token role
//! rule, and the identity headers the service behind the middleware receives.
//!
//! Per token: trim → form → cache key; a hit in the process cache (or in a shared cache such as
//! memcached, through [`SharedCache`]) skips verification but still gets expiry, bind and, when
//! configured, revocation checked; a miss runs the validation order (revocation by hash → verify →
//! body → revocation by audit id) and caches the result, refusals included, as the reference does.
//! Then per request: expiry (unless a valid service token with a service role allows expired user
//! tokens), keystonemiddleware's v2 tenancy rule, and bind (on the service token when one is sent,
//! else on the user token).
//!
//! The authenticator does no I/O: certificates and revocation lists are handed to it
//! ([`Authenticator::set_verifier`], [`Authenticator::set_revocation_list`]); when it has none it says
//! so ([`Unavailable`]) and the caller fetches them.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use serde_json::{Map, Value};

use crate::algorithm::HashAlgorithm;
use crate::auth_token::identity::{self, CatalogMemo, Header, Identity};
use crate::auth_token::shared_cache::{SharedFormat, SharedValue};
use crate::auth_token::token_cache::{cache_key, CacheLimits, TokenCache, Weigh};
use crate::body::bind::{enforce, AuthContext, BindMode, BindRejection};
use crate::body::model::TokenVersion;
use crate::body::view::TokenView;
use crate::error::{Error, LimitKind, VerifyFailure};
use crate::limits::Limits;
use crate::pipeline::{verify_and_decode, Rejection};
use crate::revocation::RevocationList;
use crate::token_text::hash::hash_hex;
use crate::token_text::{detect_with, DetectionRule, TokenForm};
use crate::verifier::Verifier;

/// Whether revocation lists are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationMode {
    /// No list (keystonemiddleware 6.x): tokens are validated offline with the certificates only.
    Off,
    /// A list is required (keystonemiddleware 5.x); without a usable one, PKI tokens are
    /// [`Unavailable`].
    Enforce {
        /// `check_revocations_for_cached`: also check tokens served from a cache.
        check_cached: bool,
    },
}

/// What to do with a token that is not PKI or PKIZ (UUID, Fernet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonPki {
    /// Hand the whole request to an online validator ([`Decision::Delegate`]).
    Delegate,
    /// Treat the token as invalid.
    Refuse,
}

/// The middleware's configuration, keystonemiddleware's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `hash_algorithms`: revocation checks use all, cache keys of a shared cache the first.
    pub hash_algorithms: Vec<HashAlgorithm>,
    /// `enforce_token_bind`.
    pub bind_mode: BindMode,
    /// How PKI tokens are recognised.
    pub detection: DetectionRule,
    /// `delay_auth_decision`: refused tokens pass as `Invalid` instead of a 401 (or a 503).
    pub delay_auth_decision: bool,
    /// `include_service_catalog`: compute `X-Service-Catalog`.
    pub include_service_catalog: bool,
    /// `service_token_roles`.
    pub service_token_roles: Vec<String>,
    /// `service_token_roles_required`.
    pub service_token_roles_required: bool,
    /// Revocation lists.
    pub revocation: RevocationMode,
    /// Tokens that are not PKI/PKIZ.
    pub non_pki: NonPki,
    /// The process token cache; `None` disables caching (`token_cache_time` < 0).
    pub cache: Option<CacheLimits>,
    /// Resource limits for tokens and bodies.
    pub limits: Limits,
    /// How entries are keyed and protected in a shared cache (`memcache_security_strategy`).
    pub shared_format: SharedFormat,
}

impl Default for Config {
    /// keystonemiddleware 6.1.0's defaults, with a 300 s cache of 10,000 entries / 64 MiB.
    fn default() -> Self {
        Config {
            hash_algorithms: vec![HashAlgorithm::Md5],
            bind_mode: BindMode::Permissive,
            detection: DetectionRule::Upstream,
            delay_auth_decision: false,
            include_service_catalog: true,
            service_token_roles: vec!["service".to_owned()],
            service_token_roles_required: false,
            revocation: RevocationMode::Off,
            non_pki: NonPki::Refuse,
            cache: Some(CacheLimits {
                ttl_us: Some(300_000_000),
                max_entries: 10_000,
                max_bytes: 64 << 20,
            }),
            limits: Limits::default(),
            shared_format: SharedFormat::default(),
        }
    }
}

/// A second-level cache shared between processes (memcached): raw gets and sets by key, the I/O
/// done by the implementation (errors read as misses). Keys and values are in keystonemiddleware's
/// format ([`SharedFormat`]), so both middlewares can share one memcached.
pub trait SharedCache {
    /// The bytes stored under `key`, if any.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Stores `value` under `key`.
    fn set(&self, key: &str, value: &[u8]);
}

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

/// A validated token body and everything a later request with the same token needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenData {
    /// The verified body JSON (`keystone.token_info`).
    pub content: Vec<u8>,
    /// v2 or v3.
    pub version: TokenVersion,
    /// Expiry, Unix microseconds; `None` never expires.
    pub expires_us: Option<i64>,
    /// Audit ids.
    pub audit_ids: Vec<String>,
    /// The bind section.
    pub bind: Option<Map<String, Value>>,
    /// The identity header values.
    pub identity: Identity,
    /// `X-Service-Catalog` (when `include_service_catalog` and the token has a catalog).
    pub catalog: Option<Arc<str>>,
    /// Room for a binding's own representation of this data, built once and reused by every
    /// request that finds the token in the cache (the Python binding keeps its strings here).
    pub binding: BindingSlot,
}

/// A slot a binding fills once per [`TokenData`]; it takes no part in comparisons or clones.
#[derive(Default)]
pub struct BindingSlot(std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>);

impl BindingSlot {
    /// The value, built by `init` on first use.
    pub fn get_or_init<T: std::any::Any + Send + Sync>(
        &self,
        init: impl FnOnce() -> T,
    ) -> Option<&T> {
        self.0.get_or_init(|| Box::new(init())).downcast_ref()
    }
}

impl Clone for BindingSlot {
    fn clone(&self) -> Self {
        BindingSlot::default()
    }
}

impl PartialEq for BindingSlot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for BindingSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "BindingSlot(set)"
        } else {
            "BindingSlot(empty)"
        })
    }
}

impl TokenData {
    /// Decodes verified (or cached) token content into what the headers and checks need.
    pub fn decode(
        content: Vec<u8>,
        config: &Config,
        catalogs: &CatalogMemo,
    ) -> Result<Self, Error> {
        let view = TokenView::decode(&content, &config.limits)?;
        let identity = Identity::of(&view)?;
        let catalog = if config.include_service_catalog {
            catalogs.service_catalog(&view)?
        } else {
            None
        };
        let expires_us = view.expires()?;
        let audit_ids = view.audit_ids();
        let bind = view.bind().cloned();
        let version = view.version;
        drop(view);
        Ok(TokenData {
            content,
            version,
            expires_us,
            audit_ids,
            bind,
            identity,
            catalog,
            binding: BindingSlot::default(),
        })
    }

    /// The headers a valid user token sets, catalog included, in order.
    pub fn user_headers(&self) -> impl Iterator<Item = (Header, Option<&str>)> {
        self.identity.user_headers().chain(
            self.catalog
                .as_deref()
                .map(|c| (identity::SERVICE_CATALOG, Some(c))),
        )
    }

    /// The headers a valid service token sets, in order.
    pub fn service_headers(&self) -> impl Iterator<Item = (Header, Option<&str>)> {
        self.identity.service_headers()
    }
}

/// A token's cache entry: its hashes and its data, or why it was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEntry {
    /// One hash per configured algorithm, in order.
    pub hashes: Vec<String>,
    /// The data, or the refusal that is cached with the token.
    pub state: Result<Arc<TokenData>, Refusal>,
}

impl Weigh for TokenEntry {
    fn weight(&self) -> usize {
        let hashes: usize = self.hashes.iter().map(|h| h.len() + 24).sum();
        let data = match &self.state {
            Ok(d) => {
                d.content.len()
                    + d.catalog.as_ref().map_or(0, |c| c.len())
                    + d.identity.roles.len() * 2
                    + d.identity
                        .values
                        .iter()
                        .flatten()
                        .map(|v| v.len() + 24)
                        .sum::<usize>()
                    + d.audit_ids.iter().map(|a| a.len() + 24).sum::<usize>()
                    + 256
            }
            Err(_) => 64,
        };
        hashes + data
    }
}

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
}

impl TokenReport {
    /// Whether the token is valid for this request.
    pub fn is_valid(&self) -> bool {
        self.refusal.is_none()
    }

    fn refused(refusal: Refusal) -> Self {
        TokenReport {
            refusal: Some(refusal),
            data: None,
            hashes: Vec::new(),
            source: Source::None,
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

/// The result of [`Authenticator::authenticate`].
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
}

const CONFIRMED: &str = "Confirmed";
const INVALID: &str = "Invalid";

impl Outcome {
    fn status(report: Option<&TokenReport>) -> &'static str {
        if report.is_some_and(TokenReport::is_valid) {
            CONFIRMED
        } else {
            INVALID
        }
    }

    /// The headers to set, in order (a later value overwrites an earlier one), after every header of
    /// [`identity::ALL_HEADERS`] has been removed from the request; `None` values are set as such.
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
                identity::SERVICE_IDENTITY_STATUS,
                Self::status(Some(service)),
            ));
        }
        out.push(HeaderGroup::Status(
            identity::IDENTITY_STATUS,
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

/// The request's credentials.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// `X-Auth-Token` (else `X-Storage-Token`); `None` when absent or empty.
    pub user_token: Option<&'a [u8]>,
    /// `X-Service-Token`; `None` when absent or empty.
    pub service_token: Option<&'a [u8]>,
    /// What the web server authenticated (for bind).
    pub auth: AuthContext<'a>,
}

#[derive(Debug)]
struct ListState {
    list: Arc<RevocationList>,
    enforce_until_us: i64,
}

/// The request authenticator: built once per middleware, shared by every thread (`Send + Sync`).
pub struct Authenticator {
    config: Config,
    verifier: RwLock<Option<Arc<Verifier>>>,
    revocations: RwLock<Option<Arc<ListState>>>,
    cache: Option<TokenCache<TokenEntry>>,
    catalogs: CatalogMemo,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .field("has_verifier", &self.verifier().is_some())
            .field("cache", &self.cache)
            .finish()
    }
}

/// Strips what Python's `str.strip()` strips (keystonemiddleware strips the header value that way;
/// it is wider than [`crate::token_text::whitespace::trim_token`], the HTTP whitespace every entry point ignores).
pub fn strip_token(token: &[u8]) -> &[u8] {
    let plain = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii() && !is_python_space(*b));
    if plain(token.first()) && plain(token.last()) {
        return token;
    }
    match std::str::from_utf8(token) {
        Ok(s) => s
            .trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
            .as_bytes(),
        Err(_) => token.trim_ascii(),
    }
}

/// ASCII whitespace to Python's `str.isspace()`, which includes the separators `\x1c`..`\x1f`.
fn is_python_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f | b' ')
}

impl Authenticator {
    /// An authenticator with no certificates and no revocation list yet.
    pub fn new(config: Config) -> Self {
        let cache = config.cache.map(TokenCache::new);
        Authenticator {
            config,
            verifier: RwLock::new(None),
            revocations: RwLock::new(None),
            cache,
            catalogs: CatalogMemo::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The verifier in use, if certificates have been loaded.
    pub fn verifier(&self) -> Option<Arc<Verifier>> {
        self.verifier
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Installs (or removes) the verifier. Cached refusals are dropped: new certificates may accept
    /// tokens the old ones could not verify.
    pub fn set_verifier(&self, verifier: Option<Arc<Verifier>>) {
        *self
            .verifier
            .write()
            .unwrap_or_else(PoisonError::into_inner) = verifier;
        if let Some(cache) = &self.cache {
            cache.retain(|e| e.state.is_ok());
        }
    }

    /// Installs a verified revocation list, enforced until `enforce_until_us` (Unix microseconds);
    /// `None` removes it.
    pub fn set_revocation_list(&self, list: Option<Arc<RevocationList>>, enforce_until_us: i64) {
        *self
            .revocations
            .write()
            .unwrap_or_else(PoisonError::into_inner) = list.map(|list| {
            Arc::new(ListState {
                list,
                enforce_until_us,
            })
        });
    }

    /// The installed revocation list and its enforcement deadline.
    pub fn revocation_list(&self) -> Option<(Arc<RevocationList>, i64)> {
        self.revocations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|s| (Arc::clone(&s.list), s.enforce_until_us))
    }

    /// Empties the process cache.
    pub fn clear_cache(&self) {
        if let Some(cache) = &self.cache {
            cache.clear();
        }
    }

    /// Entries and estimated bytes in the process cache.
    pub fn cache_usage(&self) -> (usize, usize) {
        self.cache.as_ref().map_or((0, 0), |c| (c.len(), c.bytes()))
    }

    fn current_list(&self, now_us: i64) -> Result<Arc<ListState>, Refusal> {
        self.revocations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|s| s.enforce_until_us > now_us)
            .cloned()
            .ok_or(Refusal::Unavailable(Unavailable::NoRevocationList))
    }

    fn is_pki(&self, token: &[u8]) -> bool {
        detect_with(token, self.config.detection) != TokenForm::Other
    }

    /// Authenticates one request at `now_us` (Unix microseconds).
    pub fn authenticate(
        &self,
        credentials: &Credentials<'_>,
        now_us: i64,
        shared: Option<&dyn SharedCache>,
    ) -> Outcome {
        let user_token = credentials.user_token.map(strip_token);
        let service_token = credentials.service_token.map(strip_token);
        if self.config.non_pki == NonPki::Delegate
            && [user_token, service_token]
                .into_iter()
                .flatten()
                .any(|t| !self.is_pki(t))
        {
            return Outcome {
                decision: Decision::Delegate,
                user: None,
                service: None,
                service_role_check: None,
            };
        }
        let unavailable = |r: &TokenReport| {
            !self.config.delay_auth_decision && matches!(r.refusal, Some(Refusal::Unavailable(_)))
        };
        let mut allow_expired = false;
        let mut service_role_check = None;
        let service = match service_token {
            None => None,
            Some(token) => {
                let mut report =
                    self.check_token(token, false, true, &credentials.auth, now_us, shared);
                if unavailable(&report) {
                    return Outcome {
                        decision: Decision::Unavailable,
                        user: None,
                        service: Some(report),
                        service_role_check: None,
                    };
                }
                if let (None, Some(data)) = (&report.refusal, &report.data) {
                    let passed = data
                        .identity
                        .role_names
                        .iter()
                        .any(|r| self.config.service_token_roles.contains(r));
                    service_role_check = Some(passed);
                    allow_expired = passed;
                    if self.config.service_token_roles_required && !passed {
                        report.refusal = Some(Refusal::ServiceRoles);
                    }
                }
                Some(report)
            }
        };
        let user = match user_token {
            None => None,
            Some(token) => {
                let report = self.check_token(
                    token,
                    allow_expired,
                    service_token.is_none(),
                    &credentials.auth,
                    now_us,
                    shared,
                );
                if unavailable(&report) {
                    return Outcome {
                        decision: Decision::Unavailable,
                        user: Some(report),
                        service,
                        service_role_check,
                    };
                }
                Some(report)
            }
        };
        let accepted = user.as_ref().is_some_and(TokenReport::is_valid)
            && service.as_ref().is_none_or(TokenReport::is_valid);
        let decision = if accepted || self.config.delay_auth_decision {
            Decision::Pass
        } else {
            Decision::Reject
        };
        Outcome {
            decision,
            user,
            service,
            service_role_check,
        }
    }

    /// The verdict on one token: cached or validated, then the per-request checks.
    fn check_token(
        &self,
        token: &[u8],
        allow_expired: bool,
        check_bind: bool,
        auth: &AuthContext<'_>,
        now_us: i64,
        shared: Option<&dyn SharedCache>,
    ) -> TokenReport {
        let max = self.config.limits.max_token_len;
        // Only PKI/PKIZ tokens within the limits are cached: a hit needs no other check.
        let key = self
            .cache
            .as_ref()
            .filter(|_| token.len() <= max)
            .and_then(|c| cache_key(token).map(|k| (c, k)));
        let cached = key.as_ref().and_then(|(c, key)| c.get(key, now_us));
        let (entry, source) = match cached {
            Some(entry) => (entry, Source::Cache),
            None => {
                if !self.is_pki(token) {
                    return TokenReport::refused(Refusal::NotPki);
                }
                if token.len() > max {
                    return TokenReport::refused(Refusal::Verification(Error::LimitExceeded {
                        what: LimitKind::TokenLength,
                        limit: max,
                    }));
                }
                // The configured hashes serve revocation checks and shared-cache keys only.
                let needed = shared.is_some() || self.config.revocation != RevocationMode::Off;
                let hashes: Vec<String> = if needed {
                    match self
                        .config
                        .hash_algorithms
                        .iter()
                        .map(|a| hash_hex(token, *a))
                        .collect::<Result<Vec<_>, Error>>()
                    {
                        Ok(hashes) => hashes,
                        // Only when OpenSSL lacks the algorithm (FIPS and md5): not judged, not cached.
                        Err(e) => return TokenReport::refused(Refusal::Verification(e)),
                    }
                } else {
                    Vec::new()
                };
                let from_shared = shared.and_then(|s| self.shared_lookup(s, &hashes));
                let (entry, source) = match from_shared {
                    Some(state) => (TokenEntry { hashes, state }, Source::SharedCache),
                    None => match self.validate(token, hashes, now_us) {
                        Ok(entry) => {
                            if let Some(s) = shared {
                                self.shared_store(s, &entry);
                            }
                            (entry, Source::Validated)
                        }
                        Err((hashes, refusal)) => {
                            return TokenReport {
                                refusal: Some(refusal),
                                data: None,
                                hashes,
                                source: Source::None,
                            }
                        }
                    },
                };
                let entry = Arc::new(entry);
                if let Some((cache, key)) = key {
                    cache.insert(key, Arc::clone(&entry), now_us);
                }
                (entry, source)
            }
        };
        let mut report = TokenReport {
            refusal: None,
            data: None,
            hashes: entry.hashes.clone(),
            source,
        };
        let data = match &entry.state {
            Ok(data) => Arc::clone(data),
            Err(refusal) => {
                report.refusal = Some(refusal.clone());
                return report;
            }
        };
        report.data = Some(Arc::clone(&data));
        report.refusal = self
            .admit(
                &entry.hashes,
                &data,
                source,
                allow_expired,
                check_bind,
                auth,
                now_us,
            )
            .err();
        report
    }

    /// A shared-cache lookup over every hash, in order (the reference's `_cache_get_hashes`).
    fn shared_lookup(
        &self,
        shared: &dyn SharedCache,
        hashes: &[String],
    ) -> Option<Result<Arc<TokenData>, Refusal>> {
        let format = &self.config.shared_format;
        let value = hashes.iter().find_map(|h| {
            let slot = format.slot(h).ok()?;
            format.decode(&slot, &shared.get(&slot.key)?)
        })?;
        Some(match value {
            SharedValue::Invalid => Err(Refusal::Verification(Error::Malformed(
                "token is cached as invalid".to_owned(),
            ))),
            SharedValue::Token(content) => TokenData::decode(content, &self.config, &self.catalogs)
                .map(Arc::new)
                .map_err(Refusal::Body),
        })
    }

    /// Stores a freshly validated entry under the token's first hash.
    fn shared_store(&self, shared: &dyn SharedCache, entry: &TokenEntry) {
        let format = &self.config.shared_format;
        let Some(slot) = entry.hashes.first().and_then(|h| format.slot(h).ok()) else {
            return;
        };
        let value = match &entry.state {
            Ok(data) => SharedValue::Token(data.content.clone()),
            Err(_) => SharedValue::Invalid,
        };
        if let Ok(stored) = format.encode(&slot, &value) {
            shared.set(&slot.key, &stored);
        }
    }

    /// The validation of a token not found in any cache. `Err` carries refusals that are not cached
    /// (keystone unavailable); refusals cached with the token are in the entry's state.
    fn validate(
        &self,
        token: &[u8],
        hashes: Vec<String>,
        now_us: i64,
    ) -> Result<TokenEntry, (Vec<String>, Refusal)> {
        let list = match self.config.revocation {
            RevocationMode::Off => None,
            RevocationMode::Enforce { .. } => match self.current_list(now_us) {
                Ok(list) => Some(list),
                Err(refusal) => return Err((hashes, refusal)),
            },
        };
        let refuse = |hashes: Vec<String>, refusal: Refusal| {
            Ok(TokenEntry {
                hashes,
                state: Err(refusal),
            })
        };
        let Some(verifier) = self.verifier() else {
            return Err((hashes, Refusal::Unavailable(Unavailable::NoCertificates)));
        };
        let data = match verify_and_decode(
            token,
            &verifier,
            list.as_ref().map(|l| &*l.list),
            &hashes,
            now_us.div_euclid(1_000_000),
            |content| TokenData::decode(content, &self.config, &self.catalogs),
            |data| &data.audit_ids,
        ) {
            Ok(data) => data,
            // Not cached: keystone may have a new signing key that fresh certificates would accept.
            Err(Rejection::Verification(e))
                if e.verify_failure() == Some(VerifyFailure::SignerNotFound) =>
            {
                return Err((hashes, Refusal::Verification(e)))
            }
            Err(rejection) => return refuse(hashes, Refusal::from(rejection)),
        };
        Ok(TokenEntry {
            hashes,
            state: Ok(Arc::new(data)),
        })
    }

    /// The checks every request makes, cached token or not.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &self,
        hashes: &[String],
        data: &TokenData,
        source: Source,
        allow_expired: bool,
        check_bind: bool,
        auth: &AuthContext<'_>,
        now_us: i64,
    ) -> Result<(), Refusal> {
        if let RevocationMode::Enforce { check_cached: true } = self.config.revocation {
            if source != Source::Validated {
                let state = self.current_list(now_us)?;
                if state.list.is_revoked(hashes, &[]) {
                    return Err(Refusal::Revoked { by_audit_id: false });
                }
                if state.list.is_revoked(&[], &data.audit_ids) {
                    return Err(Refusal::Revoked { by_audit_id: true });
                }
            }
        }
        // keystoneauth's `will_expire_soon(0)`: expired once the expiry is in the past.
        if !allow_expired && data.expires_us.is_some_and(|e| e <= now_us) {
            return Err(Refusal::Expired);
        }
        if !data.identity.has_service_tenancy() {
            return Err(Refusal::NoTenancy);
        }
        if check_bind {
            enforce(&self.config.bind_mode, data.bind.as_ref(), auth).map_err(Refusal::Bind)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use super::*;
    use crate::pki_setup::{generate, PkiOptions};
    use crate::revocation::RevokedEntry;
    use crate::signer::Signer;

    const NOW: i64 = 1_800_000_000_000_000;

    struct Pki {
        signer: Signer,
        verifier: Arc<Verifier>,
        other: Arc<Verifier>,
    }

    fn pki() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| {
            let a = generate(&PkiOptions::default()).unwrap();
            let b = generate(&PkiOptions {
                subject: "/CN=another keystone".to_owned(),
                ..PkiOptions::default()
            })
            .unwrap();
            Pki {
                signer: Signer::new(&a.signing_cert_pem, &a.signing_key_pem).unwrap(),
                verifier: Arc::new(Verifier::new(&a.signing_cert_pem, &a.ca_cert_pem).unwrap()),
                other: Arc::new(Verifier::new(&b.signing_cert_pem, &b.ca_cert_pem).unwrap()),
            }
        })
    }

    fn v3(expires: &str, extra: &str) -> String {
        format!(
            r#"{{"token":{{"expires_at":"{expires}","audit_ids":["aud1"],"user":{{"id":"u1","name":"alice","domain":{{"id":"default","name":"Default"}}}},"project":{{"id":"p1","name":"demo","domain":{{"id":"default","name":"Default"}}}},"roles":[{{"id":"r","name":"member"}}],"catalog":[{{"type":"compute","name":"nova","endpoints":[{{"interface":"public","region":"R","url":"http://n"}}]}}]{extra}}}}}"#
        )
    }

    fn service_body(roles: &str) -> String {
        format!(
            r#"{{"token":{{"expires_at":"2099-01-01T00:00:00Z","user":{{"id":"s1","name":"nova","domain":{{"id":"default","name":"Default"}}}},"project":{{"id":"sp","name":"service","domain":{{"id":"default","name":"Default"}}}},"roles":[{roles}],"system":{{"all":true}}}}}}"#
        )
        .replace(r#""project":{"id":"sp","name":"service","domain":{"id":"default","name":"Default"}},"#, "")
    }

    fn sign(body: &str) -> String {
        pki().signer.sign_pki(body.as_bytes()).unwrap()
    }

    fn valid() -> String {
        sign(&v3("2099-01-01T00:00:00.000000Z", ""))
    }

    fn auth(config: Config) -> Authenticator {
        let a = Authenticator::new(config);
        a.set_verifier(Some(Arc::clone(&pki().verifier)));
        a
    }

    fn user(a: &Authenticator, token: &str) -> Outcome {
        a.authenticate(
            &Credentials {
                user_token: Some(token.as_bytes()),
                ..Credentials::default()
            },
            NOW,
            None,
        )
    }

    fn header<'a>(o: &'a Outcome, name: &str) -> Option<Option<&'a str>> {
        o.headers()
            .into_iter()
            .rev()
            .find(|(h, _)| h.name == name)
            .map(|(_, v)| v)
    }

    #[test]
    fn valid_token_then_cache_hit() {
        let a = auth(Config::default());
        let token = valid();
        let o = user(&a, &token);
        assert_eq!(o.decision, Decision::Pass);
        let u = o.user.as_ref().unwrap();
        assert_eq!(u.source, Source::Validated);
        assert!(
            u.hashes.is_empty(),
            "no list, no shared cache: no hashes needed"
        );
        assert_eq!(header(&o, "X-Identity-Status"), Some(Some("Confirmed")));
        assert_eq!(header(&o, "X-Project-Id"), Some(Some("p1")));
        assert_eq!(header(&o, "X-Domain-Id"), Some(None));
        assert_eq!(
            header(&o, "X-Service-Catalog"),
            Some(Some(
                r#"[{"type": "compute", "name": "nova", "endpoints": [{"region": "R", "publicURL": "http://n"}]}]"#
            ))
        );
        assert_eq!(header(&o, "X-Service-Identity-Status"), None);
        let again = user(&a, &format!("  {token}\n"));
        assert_eq!(again.user.as_ref().unwrap().source, Source::Cache);
        assert_eq!(again.headers(), o.headers());
        assert_eq!(a.cache_usage().0, 1);
    }

    #[test]
    fn pkiz_and_no_catalog_option() {
        let a = auth(Config {
            include_service_catalog: false,
            ..Config::default()
        });
        let token = pki()
            .signer
            .sign_pkiz(v3("2099-01-01T00:00:00Z", "").as_bytes())
            .unwrap();
        let o = user(&a, &token);
        assert_eq!(o.decision, Decision::Pass);
        assert_eq!(header(&o, "X-Service-Catalog"), None);
    }

    #[test]
    fn expired_is_refused_but_body_is_kept() {
        let a = auth(Config::default());
        let o = user(&a, &sign(&v3("2020-01-01T00:00:00Z", "")));
        assert_eq!(o.decision, Decision::Reject);
        let u = o.user.as_ref().unwrap();
        assert_eq!(u.refusal, Some(Refusal::Expired));
        assert!(u.data.is_some());
        assert_eq!(header(&o, "X-Identity-Status"), Some(Some("Invalid")));
        assert_eq!(header(&o, "X-Roles"), None);
        let delayed = auth(Config {
            delay_auth_decision: true,
            ..Config::default()
        });
        let o = user(&delayed, &sign(&v3("2020-01-01T00:00:00Z", "")));
        assert_eq!(o.decision, Decision::Pass);
        assert_eq!(header(&o, "X-Identity-Status"), Some(Some("Invalid")));
    }

    #[test]
    fn tampered_and_garbage_tokens_are_refused_and_cached() {
        let a = auth(Config::default());
        let mut token = valid().into_bytes();
        let i = token.len() / 2;
        token[i] = if token[i] == b'A' { b'B' } else { b'A' };
        let token = String::from_utf8(token).unwrap();
        let o = user(&a, &token);
        assert_eq!(o.decision, Decision::Reject);
        assert!(matches!(
            o.user.as_ref().unwrap().refusal,
            Some(Refusal::Verification(_))
        ));
        let again = user(&a, &token);
        assert_eq!(again.user.as_ref().unwrap().source, Source::Cache);
        assert_eq!(again.decision, Decision::Reject);
        for garbage in ["MIIgarbage", "PKIZ_notzlib", "PKIZ_eJzLSM3JyQcABiwCFQ"] {
            let o = user(&a, garbage);
            assert_eq!(o.decision, Decision::Reject, "{garbage}");
        }
    }

    #[test]
    fn wrong_certificates_then_new_ones() {
        let a = Authenticator::new(Config::default());
        let token = valid();
        let o = user(&a, &token);
        assert_eq!(o.decision, Decision::Unavailable);
        assert!(o
            .user
            .as_ref()
            .unwrap()
            .refusal
            .as_ref()
            .unwrap()
            .wants_new_certificates());
        a.set_verifier(Some(Arc::clone(&pki().other)));
        let o = user(&a, &token);
        let refusal = o.user.as_ref().unwrap().refusal.clone().unwrap();
        assert!(refusal.wants_new_certificates(), "{refusal:?}");
        // Not cached: the next request tries again.
        assert_eq!(user(&a, &token).user.unwrap().source, Source::None);
        a.set_verifier(Some(Arc::clone(&pki().verifier)));
        assert_eq!(user(&a, &token).decision, Decision::Pass);
    }

    fn enforcing(check_cached: bool) -> Authenticator {
        auth(Config {
            revocation: RevocationMode::Enforce { check_cached },
            ..Config::default()
        })
    }

    fn list(entries: Vec<RevokedEntry>) -> Option<Arc<RevocationList>> {
        Some(Arc::new(RevocationList::from_entries(entries).unwrap()))
    }

    #[test]
    fn revocation_lists() {
        let token = valid();
        let md5 = hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap();
        let a = enforcing(false);
        assert_eq!(user(&a, &token).decision, Decision::Unavailable);
        a.set_revocation_list(list(vec![]), NOW);
        assert_eq!(
            user(&a, &token).decision,
            Decision::Unavailable,
            "deadline passed"
        );
        a.set_revocation_list(
            list(vec![RevokedEntry {
                id: Some(md5.clone()),
                expires: None,
                audit_id: None,
            }]),
            NOW + 1,
        );
        let o = user(&a, &token);
        assert_eq!(
            o.user.unwrap().refusal,
            Some(Refusal::Revoked { by_audit_id: false })
        );

        let a = enforcing(false);
        a.set_revocation_list(
            list(vec![RevokedEntry {
                id: None,
                expires: None,
                audit_id: Some("aud1".into()),
            }]),
            NOW + 1,
        );
        let o = user(&a, &token);
        assert_eq!(
            o.user.unwrap().refusal,
            Some(Refusal::Revoked { by_audit_id: true })
        );
    }

    #[test]
    fn revocation_of_cached_tokens() {
        let token = valid();
        let md5 = hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap();
        let revoked = list(vec![RevokedEntry {
            id: Some(md5),
            expires: None,
            audit_id: None,
        }]);
        for check_cached in [false, true] {
            let a = enforcing(check_cached);
            a.set_revocation_list(list(vec![]), NOW + 1);
            assert_eq!(user(&a, &token).decision, Decision::Pass);
            a.set_revocation_list(revoked.clone(), NOW + 1);
            let want = if check_cached {
                Decision::Reject
            } else {
                Decision::Pass
            };
            assert_eq!(user(&a, &token).decision, want);
            // An expired list only matters to cached tokens when they are checked.
            a.set_revocation_list(list(vec![]), NOW);
            let want = if check_cached {
                Decision::Unavailable
            } else {
                Decision::Pass
            };
            assert_eq!(user(&a, &token).decision, want);
        }
    }

    fn both(
        a: &Authenticator,
        user_token: &str,
        service_token: &str,
        auth: AuthContext<'_>,
    ) -> Outcome {
        a.authenticate(
            &Credentials {
                user_token: Some(user_token.as_bytes()),
                service_token: Some(service_token.as_bytes()),
                auth,
            },
            NOW,
            None,
        )
    }

    #[test]
    fn service_tokens() {
        let a = auth(Config::default());
        let service = sign(&service_body(r#"{"name":"service"}"#));
        let o = both(&a, &valid(), &service, AuthContext::default());
        assert_eq!(o.decision, Decision::Pass);
        assert_eq!(o.service_role_check, Some(true));
        assert_eq!(
            header(&o, "X-Service-Identity-Status"),
            Some(Some("Confirmed"))
        );
        assert_eq!(header(&o, "X-Service-User-Name"), Some(Some("nova")));
        assert_eq!(header(&o, "X-Service-Roles"), Some(Some("service")));
        // The service token's system scope overwrites the user's (the reference's quirk).
        assert_eq!(header(&o, "OpenStack-System-Scope"), Some(Some("all")));
        // A service role lets an expired user token through.
        let expired = sign(&v3("2020-01-01T00:00:00Z", ""));
        assert_eq!(
            both(&a, &expired, &service, AuthContext::default()).decision,
            Decision::Pass
        );
        let plain = sign(&service_body(r#"{"name":"member"}"#));
        let o = both(&a, &expired, &plain, AuthContext::default());
        assert_eq!(o.decision, Decision::Reject);
        assert_eq!(o.service_role_check, Some(false));
        assert_eq!(
            header(&o, "X-Service-Identity-Status"),
            Some(Some("Confirmed"))
        );
        let strict = auth(Config {
            service_token_roles_required: true,
            ..Config::default()
        });
        let o = both(&strict, &valid(), &plain, AuthContext::default());
        assert_eq!(o.decision, Decision::Reject);
        assert_eq!(
            header(&o, "X-Service-Identity-Status"),
            Some(Some("Invalid"))
        );
        assert_eq!(header(&o, "X-Service-Roles"), None);
        // No user token at all.
        let o = a.authenticate(
            &Credentials {
                service_token: Some(service.as_bytes()),
                ..Credentials::default()
            },
            NOW,
            None,
        );
        assert_eq!(o.decision, Decision::Reject);
        assert_eq!(header(&o, "X-Identity-Status"), Some(Some("Invalid")));
    }

    #[test]
    fn bind_is_checked_on_the_service_token_when_there_is_one() {
        let a = auth(Config {
            bind_mode: BindMode::Required,
            ..Config::default()
        });
        let bound = sign(&v3(
            "2099-01-01T00:00:00Z",
            r#","bind":{"kerberos":"alice@R"}"#,
        ));
        let krb = AuthContext {
            auth_type: Some("Negotiate"),
            remote_user: Some("alice@R"),
            client_cert: None,
        };
        let o = a.authenticate(
            &Credentials {
                user_token: Some(bound.as_bytes()),
                service_token: None,
                auth: krb,
            },
            NOW,
            None,
        );
        assert_eq!(o.decision, Decision::Pass);
        assert_eq!(user(&a, &bound).decision, Decision::Reject);
        assert_eq!(user(&a, &valid()).decision, Decision::Reject);
        // With a service token, the (unbound) service token is what "required" refuses.
        let service = sign(&service_body(r#"{"name":"service"}"#));
        let o = both(&a, &bound, &service, AuthContext::default());
        assert_eq!(
            o.service.unwrap().refusal,
            Some(Refusal::Bind(BindRejection::MissingBind))
        );
        assert!(o.user.unwrap().is_valid());
    }

    #[test]
    fn v2_tokens_need_a_project() {
        let a = auth(Config::default());
        let scoped = sign(
            r#"{"access":{"token":{"expires":"2099-01-01T00:00:00Z","tenant":{"id":"t","name":"T"}},"user":{"id":"u","name":"n","roles":[{"name":"admin"}]},"serviceCatalog":[]}}"#,
        );
        let o = user(&a, &scoped);
        assert_eq!(o.decision, Decision::Pass);
        assert_eq!(header(&o, "X-Tenant-Id"), Some(Some("t")));
        assert_eq!(header(&o, "X-User-Domain-Id"), Some(None));
        assert_eq!(header(&o, "X-Service-Catalog"), Some(Some("[]")));
        let unscoped = sign(
            r#"{"access":{"token":{"expires":"2099-01-01T00:00:00Z"},"user":{"id":"u","name":"n"}}}"#,
        );
        assert_eq!(
            user(&a, &unscoped).user.unwrap().refusal,
            Some(Refusal::NoTenancy)
        );
    }

    #[test]
    fn non_pki_tokens() {
        let refuse = auth(Config::default());
        let o = user(&refuse, "a0b1c2d3e4f5");
        assert_eq!(o.decision, Decision::Reject);
        assert_eq!(o.user.unwrap().refusal, Some(Refusal::NotPki));
        let delegate = auth(Config {
            non_pki: NonPki::Delegate,
            ..Config::default()
        });
        assert_eq!(user(&delegate, "gAAAAfernet").decision, Decision::Delegate);
        let service = both(&delegate, &valid(), "uuid", AuthContext::default());
        assert_eq!(service.decision, Decision::Delegate);
        assert!(service.headers().is_empty());
        assert_eq!(user(&delegate, &valid()).decision, Decision::Pass);
        let nothing = refuse.authenticate(&Credentials::default(), NOW, None);
        assert_eq!(nothing.decision, Decision::Reject);
    }

    #[derive(Default)]
    struct Shared(Mutex<HashMap<String, Vec<u8>>>);

    impl SharedCache for Shared {
        fn get(&self, key: &str) -> Option<Vec<u8>> {
            self.0.lock().unwrap().get(key).cloned()
        }
        fn set(&self, key: &str, value: &[u8]) {
            self.0
                .lock()
                .unwrap()
                .insert(key.to_owned(), value.to_vec());
        }
    }

    #[test]
    fn shared_cache_between_processes() {
        let shared = Shared::default();
        let token = valid();
        let creds = Credentials {
            user_token: Some(token.as_bytes()),
            ..Credentials::default()
        };
        let first = auth(Config::default());
        assert_eq!(
            first.authenticate(&creds, NOW, Some(&shared)).decision,
            Decision::Pass
        );
        let md5 = hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap();
        let slot = SharedFormat::default().slot(&md5).unwrap();
        assert!(shared.get(&slot.key).unwrap().starts_with(b"{"));
        // Another process without certificates still serves the token from the shared cache.
        let second = Authenticator::new(Config::default());
        let o = second.authenticate(&creds, NOW, Some(&shared));
        assert_eq!(o.decision, Decision::Pass);
        assert_eq!(o.user.as_ref().unwrap().source, Source::SharedCache);
        assert_eq!(o.headers(), first.authenticate(&creds, NOW, None).headers());
        // Refusals are shared as the reference's marker.
        let broken = Credentials {
            user_token: Some(b"MIIbroken"),
            ..Credentials::default()
        };
        assert_eq!(
            first.authenticate(&broken, NOW, Some(&shared)).decision,
            Decision::Reject
        );
        let o = second.authenticate(&broken, NOW, Some(&shared));
        assert_eq!(o.decision, Decision::Reject);
        assert_eq!(o.user.unwrap().source, Source::SharedCache);
    }

    #[test]
    fn disabled_cache_validates_every_time() {
        let a = auth(Config {
            cache: None,
            ..Config::default()
        });
        let token = valid();
        assert_eq!(user(&a, &token).user.unwrap().source, Source::Validated);
        assert_eq!(user(&a, &token).user.unwrap().source, Source::Validated);
        assert_eq!(a.cache_usage(), (0, 0));
    }

    #[test]
    fn python_whitespace_is_stripped() {
        assert_eq!(strip_token(b"MIIx"), b"MIIx");
        assert_eq!(strip_token(b"MIIx\x0b"), b"MIIx");
        assert_eq!(strip_token(b""), b"");
        assert_eq!(strip_token(b" \t\x1cMIIx\x1f\r\n"), b"MIIx");
        assert_eq!(strip_token("\u{a0}MIIx\u{3000}".as_bytes()), b"MIIx");
        assert_eq!(strip_token(b"\xffMII \n"), b"\xffMII");
    }
}
