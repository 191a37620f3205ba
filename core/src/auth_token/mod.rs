//! keystonemiddleware's `auth_token` decision.
pub mod authenticator;
pub mod identity;
pub mod python_json;
pub mod shared_cache;
pub mod token_cache;
