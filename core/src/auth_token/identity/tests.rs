//! Tests of `identity`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::limits::Limits;

fn identity(doc: &str) -> Result<Identity> {
    Identity::of(&TokenView::decode(doc.as_bytes(), &Limits::default())?)
}

fn headers(id: &Identity) -> Vec<(&'static str, Option<String>)> {
    id.user_headers()
        .map(|(h, v)| (h.name, v.map(str::to_owned)))
        .collect()
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
    assert!(identity(r#"{"token":{"user":{"id":"u","domain":{"id":"d","name":"D"}}}}"#).is_err());
    let id =
        identity(r#"{"token":{"user":{"id":null,"name":"n","domain":{"id":"d","name":null}}}}"#)
            .unwrap();
    assert_eq!(id.values[6], None);
    assert_eq!(id.values[9], None);
    assert!(identity(
        r#"{"token":{"user":{"id":"u","name":"n","domain":{"id":"d","name":"D"}},"roles":null}}"#
    )
    .is_err());
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
    let id = identity(r#"{"access":{"token":{"tenantId":"old"},"user":{"id":"u","name":"n"}}}"#)
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
