//! keystonemiddleware's `auth_token` decision.
pub mod authenticator;
pub mod catalog;
pub mod config;
pub mod headers;
pub mod identity;
pub mod outcome;
pub mod python_json;
pub mod refusal;
pub mod shared_cache;
pub mod token_cache;
pub mod token_data;

pub use authenticator::{Authenticator, Credentials, SharedCache};
pub use config::{Config, NonPki, RevocationMode};
pub use headers::{Header, ALL_HEADERS};
pub use outcome::{Decision, HeaderGroup, Outcome, Source, TokenReport};
pub use refusal::{Refusal, Unavailable};
pub use token_data::{BindingSlot, TokenData, TokenEntry};
