//! Tests of `model`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::error::{Error, LimitKind};
use std::path::PathBuf;
use time::macros::datetime;
use time::Duration;

/// The shared vectors directory: `$KSTOKEN_VECTORS`, else `/work/shared/vectors` relative to the crate.
fn vectors_dir() -> PathBuf {
    std::env::var_os("KSTOKEN_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"))
}

fn vector(rel: &str) -> Vec<u8> {
    let path = vectors_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn parse_default(content: &[u8]) -> Result<TokenBody> {
    parse(content, &Limits::default())
}

const KSC: &str = "keystoneclient/6.0.0/examples/pki/cms";
const KSM: &str = "keystonemiddleware/5.3.0/examples/pki/cms";
const ROLE_ID: &str = "f03fda8f8a3249b2a70fb1f176a7b631";

fn tenant1(domain: bool) -> Scope {
    Scope::Project {
        id: "tenant_id1".into(),
        name: "tenant_name1".into(),
        domain_id: domain.then(|| "domain_id1".into()),
        domain_name: domain.then(|| "domain_name1".into()),
    }
}

fn roles(ids: &[Option<&str>]) -> Vec<Role> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| Role {
            id: id.map(str::to_owned),
            name: format!("role{}", i + 1),
        })
        .collect()
}

fn user(id: &str, name: &str, domain: bool) -> User {
    User {
        id: Some(id.into()),
        name: Some(name.into()),
        domain_id: domain.then(|| "domain_id1".into()),
        domain_name: domain.then(|| "domain_name1".into()),
    }
}

#[test]
fn every_vector_body_parses() {
    let mut count = 0;
    for dir in [KSC, KSM] {
        let entries = std::fs::read_dir(vectors_dir().join(dir)).unwrap();
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if !name.starts_with("auth_") || !name.ends_with(".json") {
                continue;
            }
            let body = parse_default(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let want = if name.contains("_v3_") {
                TokenVersion::V3
            } else {
                TokenVersion::V2
            };
            assert_eq!(body.version, want, "{name}");
            assert!(body.expires.is_some(), "{name}");
            assert_eq!(body.roles.len(), 2, "{name}");
            count += 1;
        }
    }
    assert_eq!(count, 12);
}

#[test]
fn ksc_v2_scoped() {
    let b = parse_default(&vector(&format!("{KSC}/auth_token_scoped.json"))).unwrap();
    assert_eq!(b.version, TokenVersion::V2);
    assert_eq!(b.expires, Some(datetime!(2038-01-18 21:14:07 UTC)));
    assert_eq!(b.issued_at, Some(datetime!(2002-01-18 21:14:07 UTC)));
    assert!(b.audit_ids.is_empty());
    assert_eq!(b.user, user("user_id1", "user_name1", false));
    assert_eq!(b.scope, tenant1(false));
    assert_eq!(b.roles, roles(&[Some(ROLE_ID), Some(ROLE_ID)]));
    assert_eq!(b.bind, None);
}

#[test]
fn ksc_v2_revoked_expired_unscoped() {
    let b = parse_default(&vector(&format!("{KSC}/auth_token_revoked.json"))).unwrap();
    assert_eq!(b.user, user("revoked_user_id1", "revoked_username1", false));
    assert_eq!(b.scope, tenant1(false));

    let b = parse_default(&vector(&format!("{KSC}/auth_token_scoped_expired.json"))).unwrap();
    assert_eq!(b.expires, Some(datetime!(2010-06-02 14:47:34 UTC)));
    assert!(b.is_expired(datetime!(2026-01-01 0:00 UTC)));

    let b = parse_default(&vector(&format!("{KSC}/auth_token_unscoped.json"))).unwrap();
    assert_eq!(b.scope, Scope::Unscoped);
    assert_eq!(b.expires, Some(datetime!(2112-08-17 15:35:34 UTC)));
    assert_eq!(
        b.user,
        user("c9c89e3be3ee453fbf00c7966f6d3fbd", "user_name1", false)
    );
    assert_eq!(
        b.roles,
        roles(&[
            Some("359da42d31c04437a32812aeb79e9c0b"),
            Some("581af19726fa4af5bda745789ab2bf2b")
        ])
    );
}

#[test]
fn ksc_v3_scoped_and_revoked() {
    let b = parse_default(&vector(&format!("{KSC}/auth_v3_token_scoped.json"))).unwrap();
    assert_eq!(b.version, TokenVersion::V3);
    assert_eq!(b.expires, Some(datetime!(2038-01-18 21:14:07 UTC)));
    assert_eq!(b.issued_at, Some(datetime!(2002-01-18 21:14:07 UTC)));
    assert_eq!(
        b.audit_ids,
        ["VcxU2JYqT8OzfUVvrjEITQ", "qNUTIJntTzO1-XUk5STybw"]
    );
    assert_eq!(b.user, user("user_id1", "user_name1", true));
    assert_eq!(b.scope, tenant1(true));
    assert_eq!(b.roles, roles(&[Some(ROLE_ID), Some(ROLE_ID)]));

    let b = parse_default(&vector(&format!("{KSC}/auth_v3_token_revoked.json"))).unwrap();
    assert_eq!(
        b.audit_ids,
        ["ZzzZ2ZZYqT8OzfUVvrjEITQ", "cCCCCCctTzO1-XUk5STybw"]
    );
    assert_eq!(b.user, user("revoked_user_id1", "revoked_username1", true));
}

#[test]
fn ksm_bodies() {
    let b = parse_default(&vector(&format!("{KSM}/auth_token_scoped.json"))).unwrap();
    assert_eq!(b.version, TokenVersion::V2);
    assert_eq!(b.audit_ids, ["SLIXlXQUQZWUi9VJrqdXqA"]);
    assert_eq!(b.issued_at, None);
    assert_eq!(b.roles, roles(&[None, None]));
    assert_eq!(b.scope, tenant1(false));
    assert_eq!(b.user, user("user_id1", "user_name1", false));

    let b = parse_default(&vector(&format!("{KSM}/auth_token_unscoped.json"))).unwrap();
    assert_eq!(b.scope, Scope::Unscoped);
    assert!(b.audit_ids.is_empty());

    let b = parse_default(&vector(&format!("{KSM}/auth_token_scoped_expired.json"))).unwrap();
    assert_eq!(b.expires, Some(datetime!(2010-06-02 14:47:34 UTC)));

    let b = parse_default(&vector(&format!("{KSM}/auth_v3_token_scoped.json"))).unwrap();
    assert_eq!(b.version, TokenVersion::V3);
    assert_eq!(b.audit_ids, ["SLIXlXQUQZWUi9VJrqdXqA"]);
    assert_eq!(b.scope, tenant1(true));
    assert_eq!(b.roles, roles(&[None, None]));

    let b = parse_default(&vector(&format!("{KSM}/auth_v3_token_revoked.json"))).unwrap();
    assert!(b.audit_ids.is_empty());
    assert_eq!(b.user, user("revoked_user_id1", "revoked_username1", true));
}

#[test]
fn crlf_pretty_printed_content() {
    let lf = vector(&format!("{KSC}/auth_v3_token_scoped.json"));
    let crlf = String::from_utf8(lf.clone()).unwrap().replace('\n', "\r\n");
    assert_eq!(
        parse_default(crlf.as_bytes()).unwrap(),
        parse_default(&lf).unwrap()
    );
}

#[test]
fn compact_v2_with_bind_and_fraction() {
    let doc = br#"{"access":{"token":{"id":"placeholder","expires":"2015-03-25T21:14:07Z","issued_at":"2015-03-25T20:14:07.123456Z","audit_ids":["a1"],"tenant":{"id":"t","name":"tn","enabled":true},"bind":{"kerberos":"USER@REALM"}},"user":{"id":"u","name":"un","username":"un","roles":[{"name":"admin"}],"roles_links":[]},"serviceCatalog":[],"metadata":{"is_admin":0,"roles":["r1"]}}}"#;
    let b = parse_default(doc).unwrap();
    assert_eq!(b.issued_at, Some(datetime!(2015-03-25 20:14:07.123456 UTC)));
    assert_eq!(b.audit_ids, ["a1"]);
    let bind = b.bind.unwrap();
    assert_eq!(bind.len(), 1);
    assert_eq!(bind["kerberos"], "USER@REALM");
    assert_eq!(
        b.roles,
        vec![Role {
            id: None,
            name: "admin".into()
        }]
    );
}

#[test]
fn v3_domain_system_and_bind() {
    let b = parse_default(br#"{"token":{"domain":{"id":"d","name":"dn"},"bind":{"FOO":"BAR"},"expires_at":"2038-01-18T21:14:07.000000Z"}}"#).unwrap();
    assert_eq!(
        b.scope,
        Scope::Domain {
            id: "d".into(),
            name: "dn".into()
        }
    );
    assert_eq!(b.bind.unwrap()["FOO"], "BAR");
    assert_eq!(b.user, User::default());
    assert!(b.roles.is_empty());

    let b = parse_default(br#"{"token":{"system":{"all":true}}}"#).unwrap();
    assert_eq!(b.scope, Scope::System);
    assert_eq!(b.expires, None);

    let b = parse_default(br#"{"token":{"project":null,"bind":null}}"#).unwrap();
    assert_eq!(b.scope, Scope::Unscoped);
    assert_eq!(b.bind, None);
}

#[test]
fn unknown_fields_are_skipped_not_refused() {
    let doc = br#"{"token":{"expires_at":"2038-01-18T21:14:07Z","x-future":{"deep":[1,2,{"k":null}]},"methods":["token"]},"extra":"top"}"#;
    let b = parse_default(doc).unwrap();
    assert_eq!(b.expires, Some(datetime!(2038-01-18 21:14:07 UTC)));
    assert_eq!(b.scope, Scope::Unscoped);
}

fn malformed(doc: &[u8]) -> String {
    match parse_default(doc) {
        Err(Error::Malformed(msg)) => msg,
        other => panic!(
            "expected Malformed for {:?}, got {other:?}",
            String::from_utf8_lossy(doc)
        ),
    }
}

#[test]
fn bad_inputs_are_malformed() {
    assert!(malformed(b"\xff\xfe{}").contains("UTF-8"));
    assert!(malformed(b"").contains("not JSON"));
    assert!(malformed(b"{\"token\":").contains("not JSON"));
    assert!(malformed(b"{\"token\":{}} trailing").contains("not JSON"));
    assert!(malformed(b"[]").contains("not a JSON object"));
    assert!(malformed(b"\"token\"").contains("not a JSON object"));
    assert!(malformed(b"{}").contains("neither"));
    assert!(malformed(br#"{"revoked":[]}"#).contains("neither"));
    assert!(malformed(br#"{"access":{}}"#).contains("access.token"));
    assert!(malformed(br#"{"access":{"token":[]}}"#).contains("access.token"));
    assert!(malformed(br#"{"access":[]}"#).contains("access.token"));
    assert!(malformed(br#"{"token":"x"}"#).contains("not an object"));
    assert!(malformed(br#"{"token":{},"access":{"token":{}}}"#).contains("both"));
    assert!(malformed(br#"{"token":{"expires_at":"tomorrow"}}"#).contains("token.expires_at"));
    assert!(malformed(br#"{"token":{"expires_at":null}}"#).contains("token.expires_at"));
    assert!(malformed(br#"{"access":{"token":{"expires":1}}}"#).contains("access.token.expires"));
    assert!(
        malformed(br#"{"access":{"token":{"issued_at":"2002-13-01T00:00:00Z"}}}"#)
            .contains("issued_at")
    );
    assert!(malformed(br#"{"token":{"audit_ids":"a"}}"#).contains("audit_ids"));
    assert!(malformed(br#"{"token":{"audit_ids":[1]}}"#).contains("audit_ids"));
    assert!(malformed(br#"{"token":{"roles":[{"id":"x"}]}}"#).contains("token.roles[0].name"));
    assert!(malformed(br#"{"token":{"roles":{}}}"#).contains("token.roles"));
    assert!(
        malformed(br#"{"access":{"token":{},"user":{"roles":["admin"]}}}"#)
            .contains("access.user.roles[0]")
    );
    assert!(malformed(br#"{"access":{"token":{"tenant":{"id":"t"}}}}"#).contains("tenant.name"));
    assert!(malformed(br#"{"access":{"token":{"tenant":"t"}}}"#).contains("tenant"));
    assert!(malformed(br#"{"token":{"project":{"id":7,"name":"p"}}}"#).contains("token.project.id"));
    assert!(malformed(
        br#"{"token":{"project":{"id":"p","name":"p"},"domain":{"id":"d","name":"d"}}}"#
    )
    .contains("more than one"));
    assert!(malformed(br#"{"token":{"user":{"id":1}}}"#).contains("token.user.id"));
    assert!(malformed(br#"{"token":{"user":{"domain":"d"}}}"#).contains("token.user.domain"));
    assert!(malformed(br#"{"token":{"bind":"kerberos"}}"#).contains("token.bind"));
    assert!(
        malformed(br#"{"access":{"token":{"bind":["kerberos"]}}}"#).contains("access.token.bind")
    );
}

fn nested(depth: usize) -> Vec<u8> {
    // `{"token":{"x": <depth - 2 arrays>}}` nests exactly `depth` containers.
    let inner = depth - 2;
    format!(
        r#"{{"token":{{"x":{}{}}}}}"#,
        "[".repeat(inner),
        "]".repeat(inner)
    )
    .into_bytes()
}

#[test]
fn depth_limit_at_and_over_bound() {
    let limits = Limits {
        max_json_depth: 10,
        ..Limits::default()
    };
    assert!(parse(&nested(10), &limits).is_ok());
    assert_eq!(
        parse(&nested(11), &limits),
        Err(Error::LimitExceeded {
            what: LimitKind::JsonDepth,
            limit: 10
        })
    );
    let default = Limits::default();
    assert!(parse(&nested(default.max_json_depth), &default).is_ok());
    assert_eq!(
        parse(&nested(default.max_json_depth + 1), &default),
        Err(Error::LimitExceeded {
            what: LimitKind::JsonDepth,
            limit: default.max_json_depth
        })
    );
}

#[test]
fn depth_scan_ignores_brackets_in_strings() {
    let limits = Limits {
        max_json_depth: 2,
        ..Limits::default()
    };
    let doc = br#"{"token":{"x":"[[[{{{\"[[[\\","y":"\\\"{{"}}"#;
    assert!(parse(doc, &limits).is_ok());
    // An unterminated string hides the rest from the scan; the parser still rejects it.
    assert!(matches!(
        parse(br#"{"token":{"x":"[[[[}}"#, &limits),
        Err(Error::Malformed(_))
    ));
    // Closers before openers must not underflow.
    assert!(matches!(
        parse(b"]]]]{}", &limits),
        Err(Error::Malformed(_))
    ));
    assert_eq!(
        parse(br#"{"token":{"x":[]}}"#, &limits),
        Err(Error::LimitExceeded {
            what: LimitKind::JsonDepth,
            limit: 2
        })
    );
}

#[test]
fn deep_input_never_reaches_serde() {
    // Far past serde_json's own recursion limit: must be our typed error, not a stack problem.
    let doc = "[".repeat(100_000);
    assert_eq!(
        parse(doc.as_bytes(), &Limits::default()),
        Err(Error::LimitExceeded {
            what: LimitKind::JsonDepth,
            limit: 64
        })
    );
}

#[test]
fn size_limit_at_and_over_bound() {
    let doc = br#"{"token":{}}"#;
    let at = Limits {
        max_json_len: doc.len(),
        ..Limits::default()
    };
    assert!(parse(doc, &at).is_ok());
    let under = Limits {
        max_json_len: doc.len() - 1,
        ..Limits::default()
    };
    assert_eq!(
        parse(doc, &under),
        Err(Error::LimitExceeded {
            what: LimitKind::JsonSize,
            limit: doc.len() - 1
        })
    );
    // Size is checked before UTF-8 or JSON validity.
    assert_eq!(
        parse(
            b"\xff\xff\xff",
            &Limits {
                max_json_len: 2,
                ..Limits::default()
            }
        ),
        Err(Error::LimitExceeded {
            what: LimitKind::JsonSize,
            limit: 2
        })
    );
}

#[test]
fn expiry_boundaries() {
    let expires = datetime!(2038-01-18 21:14:07 UTC);
    let b = parse_default(br#"{"token":{"expires_at":"2038-01-18T21:14:07Z"}}"#).unwrap();
    assert!(b.is_expired(expires));
    assert!(b.is_expired(expires + Duration::microseconds(1)));
    assert!(!b.is_expired(expires - Duration::microseconds(1)));
    // An offset `now` is compared as an instant.
    assert!(b.is_expired(expires.to_offset(time::macros::offset!(+5))));

    let never = parse_default(br#"{"token":{}}"#).unwrap();
    assert!(!never.is_expired(datetime!(9999-12-31 23:59:59 UTC)));

    let v2 = parse_default(br#"{"access":{"token":{"expires":"2038-01-18T21:14:07.000001Z"}}}"#)
        .unwrap();
    assert!(!v2.is_expired(expires));
    assert!(v2.is_expired(expires + Duration::microseconds(1)));
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic fuzz: mutations of a real body must give Ok or a typed error.
    let base = vector(&format!("{KSC}/auth_v3_token_scoped.json"));
    let limits = Limits {
        max_json_depth: 8,
        ..Limits::default()
    };
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let mut doc = base.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = (state as usize) % doc.len();
            doc[i] = (state >> 32) as u8;
        }
        let _ = parse(&doc, &limits);
    }
}
