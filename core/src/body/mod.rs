//! Token content.
pub mod bind;
pub mod model;
pub mod view;

pub use model::{parse, Role, Scope, TokenBody, TokenVersion, User};
