//! keystonemiddleware's `auth_token` decision for one request: the user token and the service
//! token, the token cache, revocation, verification, expiry, bind, the service-token role rule, and
//! the identity headers the service behind the middleware receives
//! (`docs/reference-behaviour.md#the-auth_token-decision`).
//!
//! Per token: the whitespace rule ([`crate::token_text::trim_token`]) → form → cache key; a hit in
//! the process cache (or in a shared cache such as memcached, [`crate::auth_token::exchange`])
//! skips verification but still gets expiry, bind and, when configured, revocation checked; a miss
//! runs the pipeline's steps (revocation by hash → verify → body → revocation by audit id,
//! [`crate::pipeline::verify_and_decode`]) and caches the result, refusals included, as the
//! reference does. Then per request: expiry (unless a valid service token with a service role
//! allows expired user tokens), keystonemiddleware's v2 tenancy rule, and bind (on the service
//! token when one is sent, else on the user token) — the pipeline's own checks.
//!
//! The authenticator does no I/O: certificates and revocation lists are handed to it
//! ([`Authenticator::set_verifier`], [`Authenticator::set_revocation_list`]), and so are shared-cache
//! values ([`crate::auth_token::exchange`]); when it lacks something it says what
//! ([`crate::auth_token::Outcome::wants`], [`Authentication::NeedShared`]) and the host fetches it.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use time::OffsetDateTime;

use crate::auth_token::catalog::CatalogMemo;
use crate::auth_token::config::{Config, NonPki, RevocationMode};
use crate::auth_token::exchange::{Authentication, SharedValues};
use crate::auth_token::outcome::{Decision, Outcome, Source, TokenReport};
use crate::auth_token::refusal::{Refusal, Unavailable};
use crate::auth_token::shared_cache::{SharedEntry, SharedFormat, SharedValue};
use crate::auth_token::stats::{Stats, StatsSnapshot, Tally};
use crate::auth_token::token_cache::{cache_key, CacheKey, TokenCache};
use crate::auth_token::token_data::{TokenData, TokenEntry};
use crate::body::bind::AuthContext;
use crate::error::{Error, LimitKind, VerifyFailure};
use crate::pipeline::{
    check_bind, check_expiry, check_revocation, token_hashes, verify_and_decode, Rejection,
};
use crate::revocation::RevocationList;
use crate::timestamp::instant_us;
use crate::token_text::{detect_with, trim_token, TokenForm};
use crate::verifier::Verifier;

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
    stats: Stats,
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

/// Where a token stands after the process cache: found, or missed.
enum Lookup<'t> {
    Hit(Arc<TokenEntry>, CacheKey),
    Miss(Miss<'t>),
}

/// A token's lookup: where it stands, or why it was refused before any cache (not cached).
type Looked<'t> = Result<Lookup<'t>, Refusal>;

/// The shared-cache keys of the tokens that missed the process cache, each once.
fn shared_keys(format: &SharedFormat, lookups: [&Option<Looked<'_>>; 2]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for looked in lookups.into_iter().flatten() {
        let Ok(Lookup::Miss(miss)) = looked else {
            continue;
        };
        for hash in &miss.hashes {
            if let Ok(slot) = format.slot(hash) {
                if !keys.contains(&slot.key) {
                    keys.push(slot.key);
                }
            }
        }
    }
    keys
}

/// A token that missed the process cache, on its way to a shared-cache lookup or a validation.
struct Miss<'t> {
    token: &'t [u8],
    key: Option<CacheKey>,
    hashes: Vec<String>,
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
            stats: Stats::default(),
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

    /// Adds `bytes` to what the process cache counts for the token of `report`: a binding's own
    /// objects for the token's data, built after the data was cached and kept as long as it is.
    /// The cache then evicts its oldest entries if it is over its byte bound. Nothing happens when
    /// the token is not cached, or no longer with this data.
    pub fn charge(&self, report: &TokenReport, bytes: usize, now_us: i64) {
        let (Some(cache), Some(key), Some(data)) = (&self.cache, &report.cache_key, &report.data)
        else {
            return;
        };
        cache.charge(
            key,
            bytes,
            now_us,
            |entry| matches!(&entry.state, Ok(d) if Arc::ptr_eq(d, data)),
        );
    }

    /// Counts one request from its final outcome's [`crate::auth_token::Outcome::tally`] (a host
    /// may authenticate a request again after fetching what the outcome wanted: it counts once).
    pub fn record(&self, tally: &Tally) {
        self.stats.record(tally, self.config.shared_cache.is_some());
    }

    /// The counters of the requests recorded ([`Authenticator::record`]) since construction or the
    /// last [`Authenticator::reset_stats`].
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Every counter back to zero: a forked child counts only what it serves.
    pub fn reset_stats(&self) {
        self.stats.reset();
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
        detect_with(token, self.config.policy.detection) != TokenForm::Other
    }

    /// Authenticates one request at `now_us` (Unix microseconds).
    ///
    /// With a shared cache configured, a call without `shared` values may return
    /// [`Authentication::NeedShared`]; the call with them (possibly none found) always decides
    /// ([`crate::auth_token::exchange`]). Without a shared cache, `shared` is ignored.
    pub fn authenticate(
        &self,
        credentials: &Credentials<'_>,
        now_us: i64,
        shared: Option<&SharedValues<'_>>,
    ) -> Authentication {
        let user_token = credentials.user_token.map(trim_token);
        let service_token = credentials.service_token.map(trim_token);
        if self.config.non_pki == NonPki::Delegate
            && [user_token, service_token]
                .into_iter()
                .flatten()
                .any(|t| !self.is_pki(t))
        {
            return Authentication::Decided(Outcome {
                decision: Decision::Delegate,
                user: None,
                service: None,
                service_role_check: None,
                shared_store: Vec::new(),
            });
        }
        // Each token is looked up (hashed) once per call: the shared-cache keys of the misses,
        // then the decision, both from the same lookups.
        let service = service_token.map(|t| self.lookup(t, now_us));
        let user = user_token.map(|t| self.lookup(t, now_us));
        if let (None, Some(format)) = (shared, &self.config.shared_cache) {
            let keys = shared_keys(format, [&service, &user]);
            if !keys.is_empty() {
                return Authentication::NeedShared { keys };
            }
        }
        Authentication::Decided(self.decide(user, service, &credentials.auth, now_us, shared))
    }

    fn decide(
        &self,
        user_lookup: Option<Looked<'_>>,
        service_lookup: Option<Looked<'_>>,
        auth: &AuthContext<'_>,
        now_us: i64,
        shared: Option<&SharedValues<'_>>,
    ) -> Outcome {
        let now = instant_us(now_us);
        let mut store = Vec::new();
        let unavailable = |r: &TokenReport| {
            !self.config.delay_auth_decision && matches!(r.refusal, Some(Refusal::Unavailable(_)))
        };
        let mut allow_expired = false;
        let mut service_role_check = None;
        let service_sent = service_lookup.is_some();
        let service_text = match &service_lookup {
            Some(Ok(Lookup::Miss(miss))) => Some(miss.token),
            _ => None,
        };
        let service = match service_lookup {
            None => None,
            Some(looked) => {
                let mut report =
                    self.check_token(looked, false, true, auth, now_us, now, shared, &mut store);
                if unavailable(&report) {
                    return Outcome {
                        decision: Decision::Unavailable,
                        user: None,
                        service: Some(report),
                        service_role_check: None,
                        shared_store: store,
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
        let user = match user_lookup {
            None => None,
            Some(looked) => {
                // The same text as the service token: looked up again, now that the service
                // token's validation has cached it (one validation, as for two requests).
                let looked = match looked {
                    Ok(Lookup::Miss(miss)) if service_text == Some(miss.token) => {
                        self.lookup(miss.token, now_us)
                    }
                    other => other,
                };
                let report = self.check_token(
                    looked,
                    allow_expired,
                    !service_sent,
                    auth,
                    now_us,
                    now,
                    shared,
                    &mut store,
                );
                if unavailable(&report) {
                    return Outcome {
                        decision: Decision::Unavailable,
                        user: Some(report),
                        service,
                        service_role_check,
                        shared_store: store,
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
            shared_store: store,
        }
    }

    /// A token's process-cache hit, or the miss to look up or validate (`Err`: refused before any
    /// of that, not cached).
    fn lookup<'t>(&self, token: &'t [u8], now_us: i64) -> Result<Lookup<'t>, Refusal> {
        let max = self.config.limits.max_token_len;
        // Only PKI/PKIZ tokens within the limits are cached: a hit needs no other check.
        let cache = self.cache.as_ref().filter(|_| token.len() <= max);
        let key = cache.and_then(|_| cache_key(token));
        if let (Some(cache), Some(key)) = (cache, &key) {
            if let Some(entry) = cache.get(key, now_us) {
                return Ok(Lookup::Hit(entry, *key));
            }
        }
        if !self.is_pki(token) {
            return Err(Rejection::NotPki.into());
        }
        if token.len() > max {
            return Err(Rejection::Verification(Error::LimitExceeded {
                what: LimitKind::TokenLength,
                limit: max,
            })
            .into());
        }
        // The configured hashes serve revocation checks and shared-cache keys only.
        let needed =
            self.config.shared_cache.is_some() || self.config.revocation != RevocationMode::Off;
        let hashes = if needed {
            // Only when OpenSSL lacks the algorithm (FIPS and md5): not judged, not cached.
            token_hashes(token, &self.config.policy.hash_algorithms)
                .map_err(|e| Refusal::from(Rejection::Verification(e)))?
        } else {
            Vec::new()
        };
        Ok(Lookup::Miss(Miss { token, key, hashes }))
    }

    /// The verdict on one token: cached or validated, then the per-request checks.
    #[allow(clippy::too_many_arguments)]
    fn check_token(
        &self,
        looked: Looked<'_>,
        allow_expired: bool,
        check_bind: bool,
        auth: &AuthContext<'_>,
        now_us: i64,
        now: OffsetDateTime,
        shared: Option<&SharedValues<'_>>,
        store: &mut Vec<SharedEntry>,
    ) -> TokenReport {
        let (entry, source, cache_key) = match looked {
            Err(refusal) => return TokenReport::refused(refusal),
            Ok(Lookup::Hit(entry, key)) => (entry, Source::Cache, Some(key)),
            Ok(Lookup::Miss(miss)) => match self.resolve(miss, now_us, shared, store) {
                Ok(found) => found,
                Err(report) => return report,
            },
        };
        let mut report = TokenReport {
            refusal: None,
            data: None,
            hashes: entry.hashes.clone(),
            source,
            cache_key,
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
                now,
            )
            .err();
        report
    }

    /// A missed token's entry, from the shared cache or validated now, cached in the process; a
    /// refusal that is not cached comes back as the token's report.
    fn resolve(
        &self,
        miss: Miss<'_>,
        now_us: i64,
        shared: Option<&SharedValues<'_>>,
        store: &mut Vec<SharedEntry>,
    ) -> Result<(Arc<TokenEntry>, Source, Option<CacheKey>), TokenReport> {
        let Miss { token, key, hashes } = miss;
        let from_shared = match (&self.config.shared_cache, shared) {
            (Some(format), Some(values)) => self.shared_lookup(format, values, &hashes),
            _ => None,
        };
        let (entry, source) = match from_shared {
            Some(state) => (TokenEntry { hashes, state }, Source::SharedCache),
            None => match self.validate(token, hashes, now_us) {
                Ok(entry) => {
                    if let Some(format) = &self.config.shared_cache {
                        store.extend(shared_entry(format, &entry));
                    }
                    (entry, Source::Validated)
                }
                Err((hashes, refusal)) => {
                    return Err(TokenReport {
                        refusal: Some(refusal),
                        data: None,
                        hashes,
                        source: Source::None,
                        cache_key: None,
                    })
                }
            },
        };
        let entry = Arc::new(entry);
        let cached = match (&self.cache, key) {
            (Some(cache), Some(key)) => {
                cache.insert(key, Arc::clone(&entry), now_us);
                Some(key)
            }
            _ => None,
        };
        Ok((entry, source, cached))
    }

    /// A shared-cache lookup over every hash, in order (the reference's `_cache_get_hashes`); a
    /// value that does not check out is a miss.
    fn shared_lookup(
        &self,
        format: &SharedFormat,
        values: &SharedValues<'_>,
        hashes: &[String],
    ) -> Option<Result<Arc<TokenData>, Refusal>> {
        hashes.iter().find_map(|h| {
            let slot = format.slot(h).ok()?;
            match format.decode(&slot, values.get(&slot.key)?)? {
                SharedValue::Invalid => Some(Err(Rejection::Verification(Error::Malformed(
                    "token is cached as invalid".to_owned(),
                ))
                .into())),
                SharedValue::Token(content) => {
                    TokenData::decode(content, &self.config, &self.catalogs)
                        .ok()
                        .map(|data| Ok(Arc::new(data)))
                }
            }
        })
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
        let Some(verifier) = self.verifier() else {
            return Err((hashes, Unavailable::NoCertificates.into()));
        };
        let state = match verify_and_decode(
            token,
            &verifier,
            list.as_ref().map(|l| &*l.list),
            &hashes,
            now_us.div_euclid(1_000_000),
            |content| TokenData::decode(content, &self.config, &self.catalogs),
            |data| &data.audit_ids,
        ) {
            Ok(data) => Ok(Arc::new(data)),
            // Not cached: keystone may have a new signing key that fresh certificates would accept.
            Err(Rejection::Verification(e))
                if e.verify_failure() == Some(VerifyFailure::SignerNotFound) =>
            {
                return Err((hashes, Rejection::Verification(e).into()))
            }
            Err(rejection) => Err(rejection.into()),
        };
        Ok(TokenEntry { hashes, state })
    }

    /// The checks every request makes, cached token or not: the pipeline's revocation (for cached
    /// tokens, with `check_revocations_for_cached`), expiry and bind, and the v2 tenancy rule.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &self,
        hashes: &[String],
        data: &TokenData,
        source: Source,
        allow_expired: bool,
        bind: bool,
        auth: &AuthContext<'_>,
        now_us: i64,
        now: OffsetDateTime,
    ) -> Result<(), Refusal> {
        if let RevocationMode::Enforce { check_cached: true } = self.config.revocation {
            if source != Source::Validated {
                let state = self.current_list(now_us)?;
                check_revocation(&state.list, hashes, &data.audit_ids)?;
            }
        }
        // keystoneauth's `will_expire_soon(0)`: expired once the expiry is in the past.
        if !allow_expired {
            check_expiry(data.expires, now)?;
        }
        if !data.identity.has_service_tenancy() {
            return Err(Refusal::NoTenancy);
        }
        if bind {
            check_bind(&self.config.policy.bind_mode, data.bind.as_ref(), auth)?;
        }
        Ok(())
    }
}

/// The shared-cache entry of a freshly validated token, stored under its first hash.
fn shared_entry(format: &SharedFormat, entry: &TokenEntry) -> Option<SharedEntry> {
    let slot = format.slot(entry.hashes.first()?).ok()?;
    let value = match &entry.state {
        Ok(data) => SharedValue::Token(data.content.clone()),
        // A refusal new certificates may undo (a bad signature) is kept in this process only,
        // where new certificates drop it: in memcached it would outlive them.
        Err(refusal) if refusal.wants_new_certificates() => return None,
        Err(_) => SharedValue::Invalid,
    };
    let value = format.encode(&slot, &value).ok()?;
    Some(SharedEntry {
        key: slot.key,
        value,
    })
}

#[cfg(test)]
mod tests;
