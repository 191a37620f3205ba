//! keystonemiddleware's `auth_token` decision for one request (`docs/reference-behaviour.md#the-auth_token-decision`).
//!
//! An [`Authenticator`] is built once from a [`Config`] (keystonemiddleware's options around the
//! pipeline's [`crate::Policy`]) and shared by every thread. Per request the host calls
//! [`Authenticator::authenticate`] with the request's [`Credentials`]; the [`Outcome`] says what to
//! do ([`Decision`]), which headers to set ([`Outcome::headers`], after removing every one of
//! [`ALL_HEADERS`]), why a token was refused ([`Refusal`], the pipeline's [`crate::Rejection`] or one
//! of a few more), and what keystone could give to decide better ([`Outcome::wants`]: certificates,
//! a revocation list), and [`Authenticator::record`] counts each request for a host's metrics
//! ([`StatsSnapshot`]). Nothing here does I/O: certificates and lists are handed over
//! ([`Authenticator::set_verifier`], [`Authenticator::set_revocation_list`]), and a shared cache
//! (memcached) is an exchange with the host ([`exchange`]: keys out, values in, entries to store).
mod authenticator;
mod catalog;
mod config;
pub mod exchange;
mod headers;
mod identity;
mod outcome;
mod python_json;
mod refusal;
pub mod shared_cache;
mod stats;
mod token_cache;
mod token_data;

pub use authenticator::{Authenticator, Credentials};
pub use catalog::{service_catalog, CatalogMemo};
pub use config::{Config, NonPki, RevocationMode};
pub use exchange::{Authentication, SharedValues};
pub use headers::{identity_header, Header, ALL_HEADERS};
pub use identity::Identity;
pub use outcome::{Decision, HeaderGroup, Outcome, Source, TokenReport, Wants};
pub use refusal::{Refusal, Unavailable};
pub use shared_cache::{Protection, SharedEntry, SharedFormat};
pub use stats::{refusal_names, CacheCounts, Stats, StatsSnapshot, Tally, DECISIONS};
pub use token_cache::{CacheKey, CacheLimits};
pub use token_data::{TokenData, TokenEntry};
