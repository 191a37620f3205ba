//! Typed views of v2 and v3 token bodies and the expiry rule (`docs/reference-behaviour.md#token-bodies`,
//! `#expiry`).
//!
//! The signed content is JSON that keystone produced; [`parse`] reads the few fields a validator
//! needs (expiry, audit ids, user, scope, roles, bind) in one typed pass over the text
//! ([`crate::body::view::TokenView`]) and skips the rest, so fields this crate does not know about
//! are never rejected. The JSON text itself stays with the caller (the verified content).

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::body::view::{Field, Str, TokenView};
use crate::error::{Error, Result};
use crate::json::parse_json;
use crate::limits::Limits;
use crate::timestamp::parse_timestamp;

/// Which identity API shape a token body has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenVersion {
    /// Identity API v2.0: `{"access": {"token": {...}, "user": {...}, ...}}`.
    V2,
    /// Identity API v3: `{"token": {...}}`.
    V3,
}

impl TokenVersion {
    /// The stable name: `v2` or `v3`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenVersion::V2 => "v2",
            TokenVersion::V3 => "v3",
        }
    }
}

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
    /// Whether the token has expired at `now`: `expires <= now`; a token without expiry never expires.
    ///
    /// keystonemiddleware 1.x rejected at `now >= expires`, ≥ 4 only at `expires < now`; kstoken takes
    /// the stricter of the two (`docs/reference-behaviour.md#expiry`).
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }
}

/// Parses verified token content into a [`TokenBody`], enforcing `limits` first.
///
/// Errors: [`Error::LimitExceeded`] (`JsonSize`, `JsonDepth`) before any parsing; [`Error::Malformed`]
/// for invalid UTF-8 or JSON, a document that is neither v2 nor v3 (or claims to be both), or a
/// known field of the wrong type (a repeated known field too), with the field's path.
pub fn parse(content: &[u8], limits: &Limits) -> Result<TokenBody> {
    match TokenView::decode(content, limits) {
        Ok(view) => TokenBody::from_view(&view),
        Err(e @ Error::LimitExceeded { .. }) => Err(e),
        // Refusals are rare (keystone signed the content): walk the document again to say where.
        Err(typed) => Err(walk(content, limits).err().unwrap_or(typed)),
    }
}

impl TokenBody {
    /// The owned body of a decoded view.
    pub fn from_view(view: &TokenView<'_>) -> Result<Self> {
        let t = &view.token;
        let text = |f: &Field<Str<'_>>| f.get().map(|s| s.as_str().to_owned());
        let time = |f: &Field<Str<'_>>| f.get().map(|s| parse_timestamp(s.as_str())).transpose();
        let roles_of = |roles: Option<&Vec<crate::body::view::Role<'_>>>| -> Vec<Role> {
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

/// The generic walk over a parsed `Value`: slower, but it names the offending field's path.
fn walk(content: &[u8], limits: &Limits) -> Result<TokenBody> {
    let raw = parse_json(content, limits)?;
    let (version, token) = token_object(&raw).map_err(Error::Malformed)?;
    let (user, roles, scope) = match version {
        TokenVersion::V2 => {
            let access = raw
                .get("access")
                .and_then(Value::as_object)
                .ok_or_else(|| Error::malformed("token body: access is not an object"))?;
            let user_obj = opt_object(access, "user", "access.user")?;
            let user = match user_obj {
                Some(u) => User {
                    id: opt_string(u, "id", "access.user.id")?,
                    name: opt_string(u, "name", "access.user.name")?,
                    domain_id: None,
                    domain_name: None,
                },
                None => User::default(),
            };
            let roles = match user_obj {
                Some(u) => roles_of(u, "access.user.roles")?,
                None => Vec::new(),
            };
            let scope = match opt_object(token, "tenant", "access.token.tenant")? {
                Some(t) => Scope::Project {
                    id: req_string(t, "id", "access.token.tenant.id")?,
                    name: req_string(t, "name", "access.token.tenant.name")?,
                    domain_id: None,
                    domain_name: None,
                },
                None => Scope::Unscoped,
            };
            (user, roles, scope)
        }
        TokenVersion::V3 => {
            let user = match opt_object(token, "user", "token.user")? {
                Some(u) => {
                    let (domain_id, domain_name) = domain_of(u, "token.user.domain")?;
                    User {
                        id: opt_string(u, "id", "token.user.id")?,
                        name: opt_string(u, "name", "token.user.name")?,
                        domain_id,
                        domain_name,
                    }
                }
                None => User::default(),
            };
            let roles = roles_of(token, "token.roles")?;
            (user, roles, v3_scope(token)?)
        }
    };
    let (expires_key, prefix) = match version {
        TokenVersion::V2 => ("expires", "access.token"),
        TokenVersion::V3 => ("expires_at", "token"),
    };
    let expires = opt_time(token, expires_key, &format!("{prefix}.{expires_key}"))?;
    let issued_at = opt_time(token, "issued_at", &format!("{prefix}.issued_at"))?;
    let audit_ids = opt_string_array(token, "audit_ids", &format!("{prefix}.audit_ids"))?;
    // A non-object bind would be read as "no bind" and pass permissive enforcement, so refuse it here.
    let bind = opt_object(token, "bind", &format!("{prefix}.bind"))?.cloned();
    Ok(TokenBody {
        version,
        expires,
        issued_at,
        audit_ids,
        user,
        scope,
        roles,
        bind,
    })
}

/// Finds the token object of a v2 (`access.token`) or v3 (`token`) document.
///
/// A document with both top-level keys is refused: keystoneauth reads it as v3 while
/// keystonemiddleware reads its audit ids as v2, so no single reading is the reference's.
pub(crate) fn token_object(
    doc: &Value,
) -> std::result::Result<(TokenVersion, &Map<String, Value>), String> {
    let top = doc
        .as_object()
        .ok_or_else(|| "token body is not a JSON object".to_owned())?;
    match (top.get("access"), top.get("token")) {
        (Some(_), Some(_)) => Err("token body has both access (v2) and token (v3) keys".to_owned()),
        (Some(access), None) => access
            .get("token")
            .and_then(Value::as_object)
            .map(|t| (TokenVersion::V2, t))
            .ok_or_else(|| "v2 token body: access.token is missing or not an object".to_owned()),
        (None, Some(token)) => token
            .as_object()
            .map(|t| (TokenVersion::V3, t))
            .ok_or_else(|| "v3 token body: token is not an object".to_owned()),
        (None, None) => Err("token body is neither v2 (access.token) nor v3 (token)".to_owned()),
    }
}

/// Mutable twin of [`token_object`], with the same acceptance rules.
pub(crate) fn token_object_mut(
    doc: &mut Value,
) -> std::result::Result<&mut Map<String, Value>, String> {
    token_object(doc)?;
    let top = doc
        .as_object_mut()
        .ok_or_else(|| "token body is not a JSON object".to_owned())?;
    let token = if top.contains_key("access") {
        top.get_mut("access")
            .and_then(|access| access.get_mut("token"))
    } else {
        top.get_mut("token")
    };
    token
        .and_then(Value::as_object_mut)
        .ok_or_else(|| "token body is neither v2 (access.token) nor v3 (token)".to_owned())
}

fn v3_scope(token: &Map<String, Value>) -> Result<Scope> {
    let project = opt_object(token, "project", "token.project")?;
    let domain = opt_object(token, "domain", "token.domain")?;
    let system = token.get("system").filter(|v| !v.is_null());
    let scopes = usize::from(project.is_some())
        + usize::from(domain.is_some())
        + usize::from(system.is_some());
    // Two scopes at once would let a consumer pick the wrong one for authorization.
    if scopes > 1 {
        return Err(Error::malformed(
            "v3 token body has more than one of token.project, token.domain, token.system",
        ));
    }
    if let Some(p) = project {
        let (domain_id, domain_name) = domain_of(p, "token.project.domain")?;
        return Ok(Scope::Project {
            id: req_string(p, "id", "token.project.id")?,
            name: req_string(p, "name", "token.project.name")?,
            domain_id,
            domain_name,
        });
    }
    if let Some(d) = domain {
        return Ok(Scope::Domain {
            id: req_string(d, "id", "token.domain.id")?,
            name: req_string(d, "name", "token.domain.name")?,
        });
    }
    if system.is_some() {
        return Ok(Scope::System);
    }
    Ok(Scope::Unscoped)
}

fn domain_of(obj: &Map<String, Value>, path: &str) -> Result<(Option<String>, Option<String>)> {
    match opt_object(obj, "domain", path)? {
        Some(d) => Ok((
            opt_string(d, "id", &format!("{path}.id"))?,
            opt_string(d, "name", &format!("{path}.name"))?,
        )),
        None => Ok((None, None)),
    }
}

fn roles_of(obj: &Map<String, Value>, path: &str) -> Result<Vec<Role>> {
    let Some(list) = obj.get("roles").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| Error::malformed(format!("token body: {path} is not an array")))?;
    list.iter()
        .enumerate()
        .map(|(i, role)| {
            let item = format!("{path}[{i}]");
            let role = role
                .as_object()
                .ok_or_else(|| Error::malformed(format!("token body: {item} is not an object")))?;
            Ok(Role {
                id: opt_string(role, "id", &format!("{item}.id"))?,
                name: req_string(role, "name", &format!("{item}.name"))?,
            })
        })
        .collect()
}

/// `obj[key]` as an object; absent or `null` is `None`, anything else is malformed.
fn opt_object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(Error::malformed(format!(
            "token body: {path} is not an object"
        ))),
    }
}

/// `obj[key]` as a string; absent or `null` is `None`, anything else is malformed.
fn opt_string(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::malformed(format!(
            "token body: {path} is not a string"
        ))),
    }
}

fn req_string(obj: &Map<String, Value>, key: &str, path: &str) -> Result<String> {
    opt_string(obj, key, path)?
        .ok_or_else(|| Error::malformed(format!("token body: {path} is missing")))
}

fn opt_string_array(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Vec<String>> {
    let Some(list) = obj.get(key).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| Error::malformed(format!("token body: {path} is not an array")))?;
    list.iter()
        .map(|v| {
            v.as_str().map(str::to_owned).ok_or_else(|| {
                Error::malformed(format!("token body: {path} has a non-string item"))
            })
        })
        .collect()
}

/// `obj[key]` as a timestamp; only absence means "none": a `null` expiry must not read as "never".
fn opt_time(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<OffsetDateTime>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => parse_timestamp(s)
            .map(Some)
            .map_err(|e| Error::malformed(format!("token body: {path}: {e}"))),
        Some(_) => Err(Error::malformed(format!(
            "token body: {path} is not a string"
        ))),
    }
}

#[cfg(test)]
mod tests;
