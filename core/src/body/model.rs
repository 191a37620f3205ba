//! Typed views of v2 and v3 token bodies and the expiry rule (`docs/reference-behaviour.md#token-bodies`,
//! `#expiry`).
//!
//! The signed content is JSON that keystone produced; [`parse`] reads the few fields a validator
//! needs (expiry, audit ids, user, scope, roles, bind) in one typed pass over the text
//! ([`crate::body::view::TokenView`]) and skips the rest, so fields this crate does not know about
//! are never rejected. The JSON text itself stays with the caller (the verified content).

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::body::version::TokenVersion;
use crate::body::view::{Field, RoleView, Str, TokenView};
use crate::error::Result;
use crate::limits::Limits;
use crate::timestamp::parse_timestamp;

/// The user a token was issued to; fields keystone left out are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// User id (v2 `access.user.id`, v3 `token.user.id`).
    pub id: Option<String>,
    /// User name (v2 `access.user.name`, v3 `token.user.name`).
    pub name: Option<String>,
    /// Id of the user's domain (v3 `token.user.domain.id`; v2 bodies have none).
    pub domain_id: Option<String>,
    /// Name of the user's domain (v3 `token.user.domain.name`; v2 bodies have none).
    pub domain_name: Option<String>,
}

/// What a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// No project, domain or system scope.
    Unscoped,
    /// A project (v2 `access.token.tenant`, v3 `token.project`).
    Project {
        /// Project id.
        id: String,
        /// Project name.
        name: String,
        /// Id of the project's domain (v3 `token.project.domain.id`; v2 bodies have none).
        domain_id: Option<String>,
        /// Name of the project's domain (v3 `token.project.domain.name`; v2 bodies have none).
        domain_name: Option<String>,
    },
    /// A domain (v3 `token.domain`).
    Domain {
        /// Domain id.
        id: String,
        /// Domain name.
        name: String,
    },
    /// The whole deployment (v3 `token.system`, a later keystone addition; the value is kept in `raw`).
    System,
}

/// A role granted by the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Role {
    /// Role id, when the body carries it (keystonemiddleware's examples list names only).
    pub id: Option<String>,
    /// Role name.
    pub name: String,
}

/// The fields of a verified token body that validation needs, plus the whole document.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TokenBody {
    /// v2 or v3 shape.
    pub version: TokenVersion,
    /// Expiry in UTC (v2 `access.token.expires`, v3 `token.expires_at`); `None` never expires.
    pub expires: Option<OffsetDateTime>,
    /// Issue time in UTC (v2 `access.token.issued_at`, v3 `token.issued_at`).
    pub issued_at: Option<OffsetDateTime>,
    /// Audit ids (v2 `access.token.audit_ids`, v3 `token.audit_ids`); empty when absent.
    pub audit_ids: Vec<String>,
    /// The user the token was issued to.
    pub user: User,
    /// The token's scope.
    pub scope: Scope,
    /// Granted roles (v2 `access.user.roles`, v3 `token.roles`); empty when absent.
    pub roles: Vec<Role>,
    /// The raw bind section (v2 `access.token.bind`, v3 `token.bind`), for [`crate::body::bind::enforce`].
    pub bind: Option<Map<String, Value>>,
}

impl TokenBody {
    /// Whether the token has expired at `now` ([`has_expired`]).
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        has_expired(self.expires, now)
    }
}

/// The expiry rule, the one every caller applies: a token whose expiry is at or before `now` has
/// expired; one without an expiry never expires (`docs/reference-behaviour.md#expiry`).
///
/// keystonemiddleware 1.x rejected at `now >= expires`, ≥ 4 only at `expires < now`; kstoken takes
/// the stricter of the two.
pub fn has_expired(expires: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    expires.is_some_and(|expires| expires <= now)
}

/// Parses verified token content into a [`TokenBody`], enforcing `limits` first.
///
/// Errors: [`crate::Error::LimitExceeded`] (`JsonSize`, `JsonDepth`) before any parsing; [`crate::Error::Malformed`]
/// for invalid UTF-8 or JSON, a document that is neither v2 nor v3 (or claims to be both), or a
/// known field of the wrong type (a repeated known field too), with the field's path.
pub fn parse(content: &[u8], limits: &Limits) -> Result<TokenBody> {
    TokenBody::from_view(&TokenView::decode(content, limits)?)
}

impl TokenBody {
    /// The owned body of a decoded view.
    pub fn from_view(view: &TokenView<'_>) -> Result<Self> {
        let t = &view.token;
        let text = |f: &Field<Str<'_>>| f.get().map(|s| s.as_str().to_owned());
        let time = |f: &Field<Str<'_>>| f.get().map(|s| parse_timestamp(s.as_str())).transpose();
        let roles_of = |roles: Option<&Vec<RoleView<'_>>>| -> Vec<Role> {
            roles
                .map(|list| {
                    list.iter()
                        .filter_map(|r| {
                            Some(Role {
                                id: text(&r.id),
                                name: text(&r.name)?,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let user = view.user.get();
        let (user, roles, scope, expires) = match view.version {
            TokenVersion::V2 => {
                let scope = match t.tenant.get() {
                    Some(p) => Scope::Project {
                        id: text(&p.id).unwrap_or_default(),
                        name: text(&p.name).unwrap_or_default(),
                        domain_id: None,
                        domain_name: None,
                    },
                    None => Scope::Unscoped,
                };
                let u = User {
                    id: user.and_then(|u| text(&u.id)),
                    name: user.and_then(|u| text(&u.name)),
                    domain_id: None,
                    domain_name: None,
                };
                let roles = roles_of(user.and_then(|u| u.roles.get()));
                (u, roles, scope, time(&t.expires)?)
            }
            TokenVersion::V3 => {
                let domain = user.and_then(|u| u.domain.get());
                let u = User {
                    id: user.and_then(|u| text(&u.id)),
                    name: user.and_then(|u| text(&u.name)),
                    domain_id: domain.and_then(|d| text(&d.id)),
                    domain_name: domain.and_then(|d| text(&d.name)),
                };
                let scope = if let Some(p) = t.project.get() {
                    let d = p.domain.get();
                    Scope::Project {
                        id: text(&p.id).unwrap_or_default(),
                        name: text(&p.name).unwrap_or_default(),
                        domain_id: d.and_then(|d| text(&d.id)),
                        domain_name: d.and_then(|d| text(&d.name)),
                    }
                } else if let Some(d) = t.domain.get() {
                    Scope::Domain {
                        id: text(&d.id).unwrap_or_default(),
                        name: text(&d.name).unwrap_or_default(),
                    }
                } else if t.system.get().is_some() {
                    Scope::System
                } else {
                    Scope::Unscoped
                };
                (u, roles_of(t.roles.get()), scope, time(&t.expires_at)?)
            }
        };
        Ok(TokenBody {
            version: view.version,
            expires,
            issued_at: time(&t.issued_at)?,
            audit_ids: view.audit_ids(),
            user,
            scope,
            roles,
            bind: view.bind().cloned(),
        })
    }
}

#[cfg(test)]
mod tests;
