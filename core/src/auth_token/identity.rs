//! The identity headers a validated token yields, named and valued as keystonemiddleware's
//! `auth_token` sets them for the service behind it.
//!
//! Values follow keystoneauth's `AccessInfoV2`/`AccessInfoV3` properties, which keystonemiddleware
//! reads: where the reference indexes a key that must exist (`user['id']` in v3) an absent key is an
//! error here (the reference fails with a 500), a `null` becomes `None` (the reference stores `None`
//! in the environ), and any other non-string is an error (the reference would store a non-string).
//! `X-Service-Catalog` is always in the v2 catalog format, v3 catalogs converted the way
//! keystonemiddleware converts them, written with Python's `json.dumps` formatting.

use serde_json::{Map, Value};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::auth_token::python_json::{self, truthy, Node};
use crate::body::model::TokenVersion;
use crate::body::view::{Field, IdName, Str, TokenView};
use crate::error::{Error, Result};

/// A header the middleware sets (or strips): its HTTP name and its CGI/WSGI environ key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The HTTP header name as keystonemiddleware spells it (`X-Roles`).
    pub name: &'static str,
    /// The WSGI environ key (`HTTP_X_ROLES`).
    pub environ_key: &'static str,
}

macro_rules! headers {
    ($($id:ident = $name:literal, $key:literal;)*) => {
        $(
            #[doc = concat!("`", $name, "`.")]
            pub const $id: Header = Header { name: $name, environ_key: $key };
        )*
        /// Every header the middleware may set; all of them are removed from incoming requests.
        pub const ALL_HEADERS: &[Header] = &[$($id),*];
    };
}

headers! {
    IDENTITY_STATUS = "X-Identity-Status", "HTTP_X_IDENTITY_STATUS";
    SERVICE_IDENTITY_STATUS = "X-Service-Identity-Status", "HTTP_X_SERVICE_IDENTITY_STATUS";
    SERVICE_CATALOG = "X-Service-Catalog", "HTTP_X_SERVICE_CATALOG";
    IS_ADMIN_PROJECT = "X-Is-Admin-Project", "HTTP_X_IS_ADMIN_PROJECT";
    SYSTEM_SCOPE = "OpenStack-System-Scope", "HTTP_OPENSTACK_SYSTEM_SCOPE";
    ROLES = "X-Roles", "HTTP_X_ROLES";
    DOMAIN_ID = "X-Domain-Id", "HTTP_X_DOMAIN_ID";
    DOMAIN_NAME = "X-Domain-Name", "HTTP_X_DOMAIN_NAME";
    PROJECT_ID = "X-Project-Id", "HTTP_X_PROJECT_ID";
    PROJECT_NAME = "X-Project-Name", "HTTP_X_PROJECT_NAME";
    PROJECT_DOMAIN_ID = "X-Project-Domain-Id", "HTTP_X_PROJECT_DOMAIN_ID";
    PROJECT_DOMAIN_NAME = "X-Project-Domain-Name", "HTTP_X_PROJECT_DOMAIN_NAME";
    USER_ID = "X-User-Id", "HTTP_X_USER_ID";
    USER_NAME = "X-User-Name", "HTTP_X_USER_NAME";
    USER_DOMAIN_ID = "X-User-Domain-Id", "HTTP_X_USER_DOMAIN_ID";
    USER_DOMAIN_NAME = "X-User-Domain-Name", "HTTP_X_USER_DOMAIN_NAME";
    ROLE = "X-Role", "HTTP_X_ROLE";
    USER = "X-User", "HTTP_X_USER";
    TENANT_ID = "X-Tenant-Id", "HTTP_X_TENANT_ID";
    TENANT_NAME = "X-Tenant-Name", "HTTP_X_TENANT_NAME";
    TENANT = "X-Tenant", "HTTP_X_TENANT";
    SERVICE_ROLES = "X-Service-Roles", "HTTP_X_SERVICE_ROLES";
    SERVICE_DOMAIN_ID = "X-Service-Domain-Id", "HTTP_X_SERVICE_DOMAIN_ID";
    SERVICE_DOMAIN_NAME = "X-Service-Domain-Name", "HTTP_X_SERVICE_DOMAIN_NAME";
    SERVICE_PROJECT_ID = "X-Service-Project-Id", "HTTP_X_SERVICE_PROJECT_ID";
    SERVICE_PROJECT_NAME = "X-Service-Project-Name", "HTTP_X_SERVICE_PROJECT_NAME";
    SERVICE_PROJECT_DOMAIN_ID = "X-Service-Project-Domain-Id", "HTTP_X_SERVICE_PROJECT_DOMAIN_ID";
    SERVICE_PROJECT_DOMAIN_NAME = "X-Service-Project-Domain-Name", "HTTP_X_SERVICE_PROJECT_DOMAIN_NAME";
    SERVICE_USER_ID = "X-Service-User-Id", "HTTP_X_SERVICE_USER_ID";
    SERVICE_USER_NAME = "X-Service-User-Name", "HTTP_X_SERVICE_USER_NAME";
    SERVICE_USER_DOMAIN_ID = "X-Service-User-Domain-Id", "HTTP_X_SERVICE_USER_DOMAIN_ID";
    SERVICE_USER_DOMAIN_NAME = "X-Service-User-Domain-Name", "HTTP_X_SERVICE_USER_DOMAIN_NAME";
}

/// The ten id/name headers, in keystonemiddleware's order, for a user token and a service token.
const TEMPLATE: [(Header, Header); 10] = [
    (DOMAIN_ID, SERVICE_DOMAIN_ID),
    (DOMAIN_NAME, SERVICE_DOMAIN_NAME),
    (PROJECT_ID, SERVICE_PROJECT_ID),
    (PROJECT_NAME, SERVICE_PROJECT_NAME),
    (PROJECT_DOMAIN_ID, SERVICE_PROJECT_DOMAIN_ID),
    (PROJECT_DOMAIN_NAME, SERVICE_PROJECT_DOMAIN_NAME),
    (USER_ID, SERVICE_USER_ID),
    (USER_NAME, SERVICE_USER_NAME),
    (USER_DOMAIN_ID, SERVICE_USER_DOMAIN_ID),
    (USER_DOMAIN_NAME, SERVICE_USER_DOMAIN_NAME),
];

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

fn role_names(roles: &Field<Vec<crate::body::view::Role<'_>>>, path: &str) -> Result<Vec<String>> {
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

/// Converted catalogs by raw text. The tokens of a deployment share a handful of catalogs, so each
/// distinct catalog is converted once (bounded: past [`CatalogMemo::MAX`] entries it starts over).
#[derive(Debug, Default)]
pub struct CatalogMemo {
    converted: Mutex<HashMap<MemoEntry, Arc<str>>>,
}

/// A memo key: whether the catalog is a v3 one, and its raw text.
type MemoEntry = (bool, Box<str>);

impl CatalogMemo {
    /// Most distinct catalogs remembered.
    pub const MAX: usize = 256;

    /// [`service_catalog`], remembered.
    pub fn service_catalog(&self, view: &TokenView<'_>) -> Result<Option<Arc<str>>> {
        let Field::Value(raw) = &view.catalog else {
            return service_catalog(view).map(|c| c.map(Arc::from));
        };
        let key = (view.version == TokenVersion::V3, raw.get());
        let lock = || {
            self.converted
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        if let Some(hit) = lock().get(&key as &dyn MemoKey) {
            return Ok(Some(Arc::clone(hit)));
        }
        let converted: Arc<str> = match service_catalog(view)? {
            Some(c) => Arc::from(c),
            None => return Ok(None),
        };
        let mut map = lock();
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert((key.0, Box::from(key.1)), Arc::clone(&converted));
        Ok(Some(converted))
    }
}

/// Looks a `(bool, Box<str>)` key up by `(bool, &str)` without allocating.
trait MemoKey {
    fn parts(&self) -> (bool, &str);
}

impl MemoKey for (bool, Box<str>) {
    fn parts(&self) -> (bool, &str) {
        (self.0, &self.1)
    }
}

impl MemoKey for (bool, &str) {
    fn parts(&self) -> (bool, &str) {
        (self.0, self.1)
    }
}

impl<'a> std::borrow::Borrow<dyn MemoKey + 'a> for (bool, Box<str>) {
    fn borrow(&self) -> &(dyn MemoKey + 'a) {
        self
    }
}

impl PartialEq for dyn MemoKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn MemoKey + '_ {}

impl std::hash::Hash for dyn MemoKey + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

/// The `X-Service-Catalog` value: `None` when the body has no catalog (the header is then removed).
pub fn service_catalog(view: &TokenView<'_>) -> Result<Option<String>> {
    let raw = match (&view.catalog, view.version) {
        (Field::Absent, _) => return Ok(None),
        (Field::Null, TokenVersion::V2) => return Ok(Some("null".to_owned())),
        (Field::Null, TokenVersion::V3) => return Err(shape("token.catalog is null")),
        (Field::Value(raw), _) => *raw,
    };
    match view.version {
        TokenVersion::V2 => python_json::dumps(raw.get()).map(Some),
        TokenVersion::V3 => v3_catalog_to_v2(raw.get()).map(Some),
    }
}

/// One v2 endpoint entry being built: the region, and `(<interface>URL, url)` pairs.
type RegionUrls<'a> = (
    Option<std::borrow::Cow<'a, str>>,
    Vec<(String, &'a Node<'a>)>,
);

/// keystonemiddleware's `_v3_to_v2_catalog`, written as `json.dumps` writes its result.
fn v3_catalog_to_v2(raw: &str) -> Result<String> {
    let tree = python_json::parse_tree(raw)?;
    let Node::Array(services) = &tree else {
        return Err(shape("token.catalog is not a list"));
    };
    let mut out = String::with_capacity(raw.len());
    out.push('[');
    for (i, service) in services.iter().enumerate() {
        if !matches!(service, Node::Object(_)) {
            return Err(shape("a catalog service is not an object"));
        }
        if i > 0 {
            out.push_str(", ");
        }
        let kind = service
            .get("type")
            .ok_or_else(|| shape("a catalog service has no type"))?;
        out.push_str("{\"type\": ");
        kind.write(&mut out)?;
        if let Some(name) = service.get("name") {
            out.push_str(", \"name\": ");
            name.write(&mut out)?;
        }
        // Endpoints grouped by region in first-seen order; within a region, one `<interface>URL`
        // key per interface in first-seen order, the last URL winning.
        let endpoints = match service.get("endpoints") {
            None => &[][..],
            Some(Node::Array(list)) => list.as_slice(),
            Some(_) => return Err(shape("a catalog service's endpoints are not a list")),
        };
        let mut regions: Vec<RegionUrls<'_>> = Vec::new();
        for endpoint in endpoints {
            if !matches!(endpoint, Node::Object(_)) {
                return Err(shape("a catalog endpoint is not an object"));
            }
            let region = match endpoint.get("region") {
                None => None,
                Some(node) if node.is_null() => None,
                Some(node) => Some(
                    node.text()
                        .ok_or_else(|| shape("a catalog endpoint's region is not a string"))?,
                ),
            };
            let interface = endpoint
                .get("interface")
                .and_then(Node::text)
                .ok_or_else(|| shape("a catalog endpoint has no interface string"))?;
            let url = endpoint
                .get("url")
                .ok_or_else(|| shape("a catalog endpoint has no url"))?;
            let mut key = if interface.is_ascii() {
                interface.to_ascii_lowercase()
            } else {
                interface.to_lowercase()
            };
            key.push_str("URL");
            let slot = match regions.iter().position(|(r, _)| *r == region) {
                Some(i) => i,
                None => {
                    regions.push((region, Vec::new()));
                    regions.len() - 1
                }
            };
            if let Some((_, urls)) = regions.get_mut(slot) {
                match urls.iter_mut().find(|(k, _)| *k == key) {
                    Some(existing) => existing.1 = url,
                    None => urls.push((key, url)),
                }
            }
        }
        out.push_str(", \"endpoints\": [");
        for (j, (region, urls)) in regions.iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            out.push('{');
            let mut first = true;
            if let Some(r) = region.as_deref().filter(|r| !r.is_empty()) {
                out.push_str("\"region\": ");
                python_json::write_str(r, &mut out);
                first = false;
            }
            for (key, url) in urls {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                python_json::write_str(key, &mut out);
                out.push_str(": ");
                url.write(&mut out)?;
            }
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    fn identity(doc: &str) -> Result<Identity> {
        Identity::of(&TokenView::decode(doc.as_bytes(), &Limits::default())?)
    }

    fn catalog(doc: &str) -> Result<Option<String>> {
        service_catalog(&TokenView::decode(doc.as_bytes(), &Limits::default())?)
    }

    fn headers(id: &Identity) -> Vec<(&'static str, Option<String>)> {
        id.user_headers()
            .map(|(h, v)| (h.name, v.map(str::to_owned)))
            .collect()
    }

    #[test]
    fn header_table_is_consistent() {
        for h in ALL_HEADERS {
            let key = format!("HTTP_{}", h.name.to_uppercase().replace('-', "_"));
            assert_eq!(key, h.environ_key);
        }
        assert_eq!(ALL_HEADERS.len(), 32);
    }

    #[test]
    fn v3_project_scoped() {
        let id = identity(
            r#"{"token":{"user":{"id":"u1","name":"alice","domain":{"id":"default","name":"Default"}},
            "project":{"id":"p1","name":"demo","domain":{"id":"pd","name":"PD"}},
            "roles":[{"id":"r","name":"admin"},{"id":"s","name":"member"}]}}"#,
        )
        .unwrap();
        let h = headers(&id);
        let get = |name: &str| h.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(get("X-Roles").as_deref(), Some("admin,member"));
        assert_eq!(get("X-Role").as_deref(), Some("admin,member"));
        assert_eq!(get("OpenStack-System-Scope"), None);
        assert_eq!(get("X-Domain-Id"), None);
        assert_eq!(get("X-Project-Id").as_deref(), Some("p1"));
        assert_eq!(get("X-Tenant-Id").as_deref(), Some("p1"));
        assert_eq!(get("X-Tenant").as_deref(), Some("demo"));
        assert_eq!(get("X-Project-Domain-Name").as_deref(), Some("PD"));
        assert_eq!(get("X-User").as_deref(), Some("alice"));
        assert_eq!(get("X-User-Domain-Id").as_deref(), Some("default"));
        assert_eq!(get("X-Is-Admin-Project").as_deref(), Some("True"));
        assert_eq!(h.len(), 18);
        assert!(id.has_service_tenancy());
    }

    #[test]
    fn v3_domain_and_system_scopes() {
        let user = r#""user":{"id":"u","name":"n","domain":{"id":"d","name":"D"}}"#;
        let id = identity(&format!(
            r#"{{"token":{{{user},"domain":{{"id":"x","name":"X"}},"is_admin_project":false}}}}"#
        ))
        .unwrap();
        assert_eq!(id.values[0].as_deref(), Some("x"));
        assert_eq!(id.project_id(), None);
        assert!(!id.is_admin_project);
        let id = identity(&format!(
            r#"{{"token":{{{user},"system":{{"all":true}}}}}}"#
        ))
        .unwrap();
        assert_eq!(id.system_scope.as_deref(), Some("all"));
        let id = identity(&format!(
            r#"{{"token":{{{user},"system":{{"all":false}}}}}}"#
        ))
        .unwrap();
        assert_eq!(id.system_scope, None);
        let id = identity(&format!(
            r#"{{"token":{{{user},"is_admin_project":null}}}}"#
        ))
        .unwrap();
        assert!(!id.is_admin_project);
        assert!(identity(&format!(r#"{{"token":{{{user},"system":null}}}}"#)).is_err());
        assert!(identity(&format!(r#"{{"token":{{{user},"system":[1]}}}}"#)).is_err());
    }

    #[test]
    fn v3_user_keys_are_required_nulls_are_none() {
        assert!(identity(r#"{"token":{}}"#).is_err());
        assert!(identity(r#"{"token":{"user":{"id":"u","name":"n"}}}"#).is_err());
        assert!(
            identity(r#"{"token":{"user":{"id":"u","domain":{"id":"d","name":"D"}}}}"#).is_err()
        );
        let id = identity(
            r#"{"token":{"user":{"id":null,"name":"n","domain":{"id":"d","name":null}}}}"#,
        )
        .unwrap();
        assert_eq!(id.values[6], None);
        assert_eq!(id.values[9], None);
        assert!(identity(r#"{"token":{"user":{"id":"u","name":"n","domain":{"id":"d","name":"D"}},"roles":null}}"#).is_err());
    }

    #[test]
    fn v2_fallbacks_and_tenancy() {
        let id = identity(
            r#"{"access":{"token":{"tenant":{"id":"t","name":"T"}},
            "user":{"id":"u","name":"","username":"un","roles":[{"name":"a"},{"name":"b"}]}}}"#,
        )
        .unwrap();
        assert_eq!(id.values[7].as_deref(), Some("un"));
        assert_eq!(id.roles, "a,b");
        assert_eq!(id.project_id(), Some("t"));
        assert!(id.is_admin_project);
        assert!(id.has_service_tenancy());
        let id =
            identity(r#"{"access":{"token":{"tenantId":"old"},"user":{"id":"u","name":"n"}}}"#)
                .unwrap();
        assert_eq!(id.project_id(), Some("old"));
        assert_eq!(id.values[3].as_deref(), Some("old"));
        let id = identity(
            r#"{"access":{"token":{},"user":{"id":"u","name":"n","tenantId":"ti","tenantName":"tn"}}}"#,
        )
        .unwrap();
        assert_eq!(
            (id.values[2].as_deref(), id.values[3].as_deref()),
            (Some("ti"), Some("tn"))
        );
        let unscoped = identity(r#"{"access":{"token":{},"user":{"id":"u","name":"n"}}}"#).unwrap();
        assert!(!unscoped.has_service_tenancy());
        assert!(identity(r#"{"access":{"token":{}}}"#).is_err());
    }

    #[test]
    fn service_headers_have_service_names_and_system_scope() {
        let id = identity(r#"{"token":{"user":{"id":"u","name":"n","domain":{"id":"d","name":"D"}},"roles":[{"name":"service"}]}}"#).unwrap();
        let names: Vec<&str> = id.service_headers().map(|(h, _)| h.name).collect();
        assert_eq!(names.len(), 12);
        assert_eq!(names[0], "X-Service-Roles");
        assert_eq!(names[1], "OpenStack-System-Scope");
        assert!(names[2..].iter().all(|n| n.starts_with("X-Service-")));
    }

    #[test]
    fn v3_catalog_converted_like_keystonemiddleware() {
        let user = r#""user":{"id":"u","name":"n","domain":{"id":"d","name":"D"}}"#;
        let doc = format!(
            r#"{{"token":{{{user},"catalog":[
              {{"type":"compute","name":"nova","id":"x","endpoints":[
                {{"interface":"public","region":"R1","url":"http://p1","id":"1"}},
                {{"interface":"Internal","region":"R1","url":"http://i1"}},
                {{"interface":"public","region":"R2","url":"http://p2"}},
                {{"interface":"admin","region":null,"url":"http://a"}},
                {{"interface":"public","region":"R1","url":"http://p1b"}}]}},
              {{"type":"identity","endpoints":[]}},
              {{"type":"image","name":null}}]}}}}"#
        );
        // CPython: json.dumps(_v3_to_v2_catalog(catalog)) for the same catalog.
        assert_eq!(
            catalog(&doc).unwrap().unwrap(),
            r#"[{"type": "compute", "name": "nova", "endpoints": [{"region": "R1", "publicURL": "http://p1b", "internalURL": "http://i1"}, {"region": "R2", "publicURL": "http://p2"}, {"adminURL": "http://a"}]}, {"type": "identity", "endpoints": []}, {"type": "image", "name": null, "endpoints": []}]"#
        );
        assert_eq!(
            catalog(&format!(r#"{{"token":{{{user}}}}}"#)).unwrap(),
            None
        );
        assert!(catalog(&format!(r#"{{"token":{{{user},"catalog":null}}}}"#)).is_err());
        assert!(catalog(&format!(
            r#"{{"token":{{{user},"catalog":[{{"name":"x"}}]}}}}"#
        ))
        .is_err());
    }

    #[test]
    fn catalogs_are_converted_once() {
        let memo = CatalogMemo::default();
        let user = r#""user":{"id":"u","name":"n","domain":{"id":"d","name":"D"}}"#;
        let doc = |c: &str| format!(r#"{{"token":{{{user},"catalog":{c}}}}}"#);
        let a = doc(r#"[{"type":"x","endpoints":[]}]"#);
        let view = TokenView::decode(a.as_bytes(), &Limits::default()).unwrap();
        let first = memo.service_catalog(&view).unwrap().unwrap();
        let again = memo.service_catalog(&view).unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(&*first, r#"[{"type": "x", "endpoints": []}]"#);
        // The same text as a v2 catalog is another entry.
        let v2 = r#"{"access":{"token":{},"user":{"id":"u"},"serviceCatalog":[{"type":"x","endpoints":[]}]}}"#;
        let view2 = TokenView::decode(v2.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(
            &*memo.service_catalog(&view2).unwrap().unwrap(),
            r#"[{"type": "x", "endpoints": []}]"#
        );
        assert_eq!(memo.converted.lock().unwrap().len(), 2);
        for i in 0..CatalogMemo::MAX + 5 {
            let d = doc(&format!(r#"[{{"type":"t{i}"}}]"#));
            let v = TokenView::decode(d.as_bytes(), &Limits::default()).unwrap();
            memo.service_catalog(&v).unwrap();
        }
        assert!(memo.converted.lock().unwrap().len() <= CatalogMemo::MAX);
        let bad = doc("null");
        let v = TokenView::decode(bad.as_bytes(), &Limits::default()).unwrap();
        assert!(memo.service_catalog(&v).is_err());
    }

    #[test]
    fn v2_catalog_is_redumped() {
        let doc = r#"{"access":{"token":{},"user":{"id":"u"},"serviceCatalog":[{"endpoints":[{"publicURL":"http://x\/y","region":"R"}],"type":"compute","name":"n\u00e9"}]}}"#;
        assert_eq!(
            catalog(doc).unwrap().unwrap(),
            r#"[{"endpoints": [{"publicURL": "http://x/y", "region": "R"}], "type": "compute", "name": "n\u00e9"}]"#
        );
        let doc = r#"{"access":{"token":{},"user":{"id":"u"},"serviceCatalog":null}}"#;
        assert_eq!(catalog(doc).unwrap().as_deref(), Some("null"));
    }
}
