//! The identity headers a validated token yields, named and valued as keystonemiddleware's
//! `auth_token` sets them for the service behind it.
//!
//! Values follow keystoneauth's `AccessInfoV2`/`AccessInfoV3` properties, which keystonemiddleware
//! reads: where the reference indexes a key that must exist (`user['id']` in v3) an absent key is an
//! error here (the reference fails with a 500), a `null` becomes `None` (the reference stores `None`
//! in the environ), and any other non-string is an error (the reference would store a non-string).
//! The catalog is [`crate::auth_token::catalog`]'s. The rules, written down:
//! `docs/reference-behaviour.md#identity-fallbacks`.

use serde_json::{Map, Value};

use crate::auth_token::headers::{
    Header, IS_ADMIN_PROJECT, ROLE, ROLES, SERVICE_ROLES, SYSTEM_SCOPE, TEMPLATE, TENANT,
    TENANT_ID, TENANT_NAME, USER,
};
use crate::auth_token::python_json::truthy;
use crate::body::TokenVersion;
use crate::body::{Field, IdName, RoleView, Str, TokenView};
use crate::error::{Error, Result};

/// The identity a token carries, as header values (`None` where the reference stores `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// Role names, in body order (`X-Roles` is them joined with `,`).
    pub role_names: Vec<String>,
    /// `X-Roles`.
    pub roles: String,
    /// `OpenStack-System-Scope`: `all` for a token scoped to the whole system.
    pub system_scope: Option<String>,
    /// The ten template values, in this order: domain id/name, project id/name,
    /// project domain id/name, user id/name, user domain id/name.
    pub values: [Option<String>; 10],
    /// `X-Is-Admin-Project`.
    pub is_admin_project: bool,
    /// Which body shape it came from.
    pub version: Option<TokenVersion>,
}

impl Identity {
    /// The identity of a decoded token body.
    pub fn of(view: &TokenView<'_>) -> Result<Self> {
        match view.version {
            TokenVersion::V3 => v3(view),
            TokenVersion::V2 => v2(view),
        }
    }

    /// The project id (`None` for tokens not scoped to a project).
    pub fn project_id(&self) -> Option<&str> {
        self.values.get(2).and_then(Option::as_deref)
    }

    /// keystonemiddleware's v2 rule: a v2 token without a project is refused ("Unable to determine
    /// service tenancy"); v3 tokens always pass.
    pub fn has_service_tenancy(&self) -> bool {
        self.version != Some(TokenVersion::V2) || self.project_id().is_some_and(|p| !p.is_empty())
    }

    /// The headers set for a valid user token, in the reference's order, catalog excluded.
    pub fn user_headers(&self) -> impl Iterator<Item = (Header, Option<&str>)> {
        let v = |i: usize| self.values.get(i).and_then(Option::as_deref);
        let leading = [
            (ROLES, Some(self.roles.as_str())),
            (SYSTEM_SCOPE, self.system_scope.as_deref()),
        ];
        let template = TEMPLATE
            .iter()
            .enumerate()
            .map(move |(i, (h, _))| (*h, v(i)));
        let trailing = [
            (
                IS_ADMIN_PROJECT,
                Some(if self.is_admin_project {
                    "True"
                } else {
                    "False"
                }),
            ),
            // The deprecated names copy the current ones.
            (ROLE, Some(self.roles.as_str())),
            (USER, v(7)),
            (TENANT_ID, v(2)),
            (TENANT_NAME, v(3)),
            (TENANT, v(3)),
        ];
        leading.into_iter().chain(template).chain(trailing)
    }

    /// The headers set for a valid service token, in the reference's order (it also overwrites
    /// `OpenStack-System-Scope` with the service token's value).
    pub fn service_headers(&self) -> impl Iterator<Item = (Header, Option<&str>)> {
        let v = |i: usize| self.values.get(i).and_then(Option::as_deref);
        let leading = [
            (SERVICE_ROLES, Some(self.roles.as_str())),
            (SYSTEM_SCOPE, self.system_scope.as_deref()),
        ];
        leading.into_iter().chain(
            TEMPLATE
                .iter()
                .enumerate()
                .map(move |(i, (_, h))| (*h, v(i))),
        )
    }
}

fn shape(msg: &str) -> Error {
    Error::Malformed(format!("token body: {msg}"))
}

/// A required member read with `d['k']`: absent is an error, `null` is `None`.
fn required(field: &Field<Str<'_>>, path: &str) -> Result<Option<String>> {
    match field {
        Field::Absent => Err(shape(&format!("{path} is missing"))),
        Field::Null => Ok(None),
        Field::Value(s) => Ok(Some(s.as_str().to_owned())),
    }
}

/// An optional member read with `d.get('k')`.
fn optional(field: &Field<Str<'_>>) -> Option<String> {
    field.get().map(|s| s.as_str().to_owned())
}

/// `obj and obj['id']`, `obj and obj['name']` for a domain reference.
fn id_name(field: &Field<IdName<'_>>, path: &str) -> Result<(Option<String>, Option<String>)> {
    match field.get() {
        None => Ok((None, None)),
        Some(d) if !d.id.is_present() && !d.name.is_present() => {
            Err(shape(&format!("{path} is empty")))
        }
        Some(d) => Ok((
            required(&d.id, &format!("{path}.id"))?,
            required(&d.name, &format!("{path}.name"))?,
        )),
    }
}

fn role_names(roles: &Field<Vec<RoleView<'_>>>, path: &str) -> Result<Vec<String>> {
    match roles {
        Field::Absent => Ok(Vec::new()),
        Field::Null => Err(shape(&format!("{path} is null"))),
        Field::Value(list) => list
            .iter()
            .map(|r| {
                r.name
                    .get()
                    .map(|n| n.as_str().to_owned())
                    .ok_or_else(|| shape(&format!("a role in {path} has no name")))
            })
            .collect(),
    }
}

fn v3(view: &TokenView<'_>) -> Result<Identity> {
    let t = &view.token;
    let user = view
        .user
        .get()
        .ok_or_else(|| shape("token.user is missing"))?;
    let user_id = required(&user.id, "token.user.id")?;
    let user_name = required(&user.name, "token.user.name")?;
    let user_domain = user
        .domain
        .get()
        .ok_or_else(|| shape("token.user.domain is missing"))?;
    let user_domain_id = required(&user_domain.id, "token.user.domain.id")?;
    let user_domain_name = required(&user_domain.name, "token.user.domain.name")?;
    let role_names = role_names(&t.roles, "token.roles")?;
    let system_scope = match &t.system {
        Field::Absent => None,
        Field::Null => return Err(shape("token.system is null")),
        Field::Value(raw) => {
            let system: Map<String, Value> = serde_json::from_str(raw.get())
                .map_err(|_| shape("token.system is not an object"))?;
            system
                .get("all")
                .filter(|v| truthy(&v.to_string()))
                .map(|_| "all".to_owned())
        }
    };
    let (domain_id, domain_name) = id_name(&t.domain, "token.domain")?;
    let (project_id, project_name, project_domain_id, project_domain_name) = match t.project.get() {
        None => (None, None, None, None),
        Some(p) => {
            let (pd_id, pd_name) = id_name(&p.domain, "token.project.domain")?;
            (optional(&p.id), optional(&p.name), pd_id, pd_name)
        }
    };
    let is_admin_project = match &t.is_admin_project {
        Field::Absent => true,
        Field::Null => false,
        Field::Value(raw) => truthy(raw.get()),
    };
    Ok(Identity {
        roles: role_names.join(","),
        role_names,
        system_scope,
        values: [
            domain_id,
            domain_name,
            project_id,
            project_name,
            project_domain_id,
            project_domain_name,
            user_id,
            user_name,
            user_domain_id,
            user_domain_name,
        ],
        is_admin_project,
        version: Some(TokenVersion::V3),
    })
}

fn v2(view: &TokenView<'_>) -> Result<Identity> {
    let t = &view.token;
    let user = view
        .user
        .get()
        .ok_or_else(|| shape("access.user is missing"))?;
    // `user.get('name') or user.get('username')`: an empty name falls through.
    let user_name = match user.name.get() {
        Some(n) if !n.as_str().is_empty() => Some(n.as_str().to_owned()),
        _ => optional(&user.username),
    };
    let role_names = role_names(&user.roles, "access.user.roles")?;
    // keystoneauth's fallbacks for pre-Grizzly and pre-Diablo bodies.
    let (project_id, project_name) = if t.tenant.is_present() {
        let tenant = t
            .tenant
            .get()
            .ok_or_else(|| shape("access.token.tenant is null"))?;
        (optional(&tenant.id), optional(&tenant.name))
    } else {
        let id = if user.tenant_id.is_present() {
            optional(&user.tenant_id)
        } else {
            optional(&t.tenant_id)
        };
        let name = if user.tenant_name.is_present() {
            optional(&user.tenant_name)
        } else {
            optional(&t.tenant_id)
        };
        (id, name)
    };
    Ok(Identity {
        roles: role_names.join(","),
        role_names,
        system_scope: None,
        values: [
            None,
            None,
            project_id,
            project_name,
            None,
            None,
            optional(&user.id),
            user_name,
            None,
            None,
        ],
        is_admin_project: true,
        version: Some(TokenVersion::V2),
    })
}

#[cfg(test)]
mod tests;
