//! Token content: the JSON body a token signs, and its bind section.
//!
//! [`parse`] reads a verified body into the owned model ([`TokenBody`]: version, expiry, audit ids,
//! user, scope, roles, bind) through the borrowed view ([`TokenView`], one typed `serde` pass that
//! skips what it does not need); a body it refuses is read again only to name the field at fault.
//! [`has_expired`] is the one expiry rule. [`bind`] adds, reads and enforces bind sections.

pub mod bind;
mod diagnosis;
mod model;
mod version;
mod view;

pub use model::{has_expired, parse, Role, Scope, TokenBody, User};
pub use version::TokenVersion;
pub use view::{Field, IdName, Project, RoleView, Str, TokenObject, TokenView, UserView};
