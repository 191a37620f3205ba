//! The authenticator's configuration: keystonemiddleware's options.

use crate::auth_token::shared_cache::SharedFormat;
use crate::auth_token::token_cache::CacheLimits;
use crate::limits::Limits;
use crate::pipeline::Policy;

/// Whether revocation lists are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationMode {
    /// No list (keystonemiddleware 6.x): tokens are validated offline with the certificates only.
    Off,
    /// A list is required (keystonemiddleware 5.x); without a usable one, PKI tokens are
    /// [`crate::auth_token::Unavailable`].
    Enforce {
        /// `check_revocations_for_cached`: also check tokens served from a cache.
        check_cached: bool,
    },
}

/// What to do with a token that is not PKI or PKIZ (UUID, Fernet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonPki {
    /// Hand the whole request to an online validator ([`crate::auth_token::Decision::Delegate`]).
    Delegate,
    /// Treat the token as invalid.
    Refuse,
}

/// The middleware's configuration, keystonemiddleware's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// What every token is validated with, the pipeline's [`Policy`]: `hash_algorithms` (revocation
    /// checks use all, shared-cache keys each in turn and entries are stored under the first),
    /// `enforce_token_bind` and how PKI tokens are recognised.
    pub policy: Policy,
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
    /// The shared cache (`memcached_servers`) in keystonemiddleware's format
    /// (`memcache_security_strategy`); `None` when there is none. With one, a call that misses the
    /// process cache asks for its keys first ([`crate::auth_token::Authentication::NeedShared`]).
    pub shared_cache: Option<SharedFormat>,
}

impl Default for Config {
    /// keystonemiddleware 6.1.0's defaults, with a 300 s cache of 10,000 entries / 64 MiB and no
    /// shared cache.
    fn default() -> Self {
        Config {
            policy: Policy::default(),
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
            shared_cache: None,
        }
    }
}
