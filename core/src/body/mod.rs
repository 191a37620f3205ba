//! Token content.
pub mod bind;
mod diagnosis;
pub mod model;
mod version;
pub mod view;

pub use model::{has_expired, parse, Role, Scope, TokenBody, User};
pub use version::TokenVersion;
