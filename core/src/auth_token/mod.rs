//! keystonemiddleware's `auth_token` decision.
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
mod token_cache;
mod token_data;

pub use authenticator::{Authenticator, Credentials};
pub use catalog::{service_catalog, CatalogMemo};
pub use config::{Config, NonPki, RevocationMode};
pub use exchange::{Authentication, SharedValues};
pub use headers::{Header, ALL_HEADERS};
pub use identity::Identity;
pub use outcome::{Decision, HeaderGroup, Outcome, Source, TokenReport, Wants};
pub use refusal::{Refusal, Unavailable};
pub use shared_cache::{Protection, SharedEntry, SharedFormat};
pub use token_cache::CacheLimits;
pub use token_data::{TokenData, TokenEntry};
