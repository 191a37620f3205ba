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

use crate::auth_token::catalog::CatalogMemo;
use crate::auth_token::config::{Config, NonPki, RevocationMode};
use crate::auth_token::outcome::{Decision, Outcome, Source, TokenReport};
use crate::auth_token::refusal::{Refusal, Unavailable};
use crate::auth_token::shared_cache::SharedValue;
use crate::auth_token::token_cache::{cache_key, TokenCache};
use crate::auth_token::token_data::{TokenData, TokenEntry};
use crate::body::bind::{enforce, AuthContext};
use crate::error::{Error, LimitKind, VerifyFailure};
use crate::pipeline::{verify_and_decode, Rejection};
use crate::revocation::RevocationList;
use crate::token_text::hash_hex;
use crate::token_text::{detect_with, TokenForm};
use crate::verifier::Verifier;

/// A second-level cache shared between processes (memcached): raw gets and sets by key, the I/O
/// done by the implementation (errors read as misses). Keys and values are in keystonemiddleware's
/// format ([`SharedFormat`]), so both middlewares can share one memcached.
pub trait SharedCache {
    /// The bytes stored under `key`, if any.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Stores `value` under `key`.
    fn set(&self, key: &str, value: &[u8]);
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
mod tests;
