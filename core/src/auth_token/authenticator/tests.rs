//! Tests of the request authenticator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::*;
use crate::algorithm::HashAlgorithm;
use crate::auth_token::shared_cache::SharedFormat;
use crate::body::bind::{BindMode, BindRejection};
use crate::pki_setup::{generate, PkiOptions};
use crate::revocation::RevokedEntry;
use crate::signer::Signer;

const NOW: i64 = 1_800_000_000_000_000;

struct Pki {
    signer: Signer,
    verifier: Arc<Verifier>,
    other: Arc<Verifier>,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let a = generate(&PkiOptions::default()).unwrap();
        let b = generate(&PkiOptions {
            subject: "/CN=another keystone".to_owned(),
            ..PkiOptions::default()
        })
        .unwrap();
        Pki {
            signer: Signer::new(&a.signing_cert_pem, &a.signing_key_pem).unwrap(),
            verifier: Arc::new(Verifier::new(&a.signing_cert_pem, &a.ca_cert_pem).unwrap()),
            other: Arc::new(Verifier::new(&b.signing_cert_pem, &b.ca_cert_pem).unwrap()),
        }
    })
}

fn v3(expires: &str, extra: &str) -> String {
    format!(
        r#"{{"token":{{"expires_at":"{expires}","audit_ids":["aud1"],"user":{{"id":"u1","name":"alice","domain":{{"id":"default","name":"Default"}}}},"project":{{"id":"p1","name":"demo","domain":{{"id":"default","name":"Default"}}}},"roles":[{{"id":"r","name":"member"}}],"catalog":[{{"type":"compute","name":"nova","endpoints":[{{"interface":"public","region":"R","url":"http://n"}}]}}]{extra}}}}}"#
    )
}

fn service_body(roles: &str) -> String {
    format!(
        r#"{{"token":{{"expires_at":"2099-01-01T00:00:00Z","user":{{"id":"s1","name":"nova","domain":{{"id":"default","name":"Default"}}}},"project":{{"id":"sp","name":"service","domain":{{"id":"default","name":"Default"}}}},"roles":[{roles}],"system":{{"all":true}}}}}}"#
    )
    .replace(r#""project":{"id":"sp","name":"service","domain":{"id":"default","name":"Default"}},"#, "")
}

fn sign(body: &str) -> String {
    pki().signer.sign_pki(body.as_bytes()).unwrap()
}

fn valid() -> String {
    sign(&v3("2099-01-01T00:00:00.000000Z", ""))
}

fn auth(config: Config) -> Authenticator {
    let a = Authenticator::new(config);
    a.set_verifier(Some(Arc::clone(&pki().verifier)));
    a
}

fn user(a: &Authenticator, token: &str) -> Outcome {
    a.authenticate(
        &Credentials {
            user_token: Some(token.as_bytes()),
            ..Credentials::default()
        },
        NOW,
        None,
    )
}

fn header<'a>(o: &'a Outcome, name: &str) -> Option<Option<&'a str>> {
    o.headers()
        .into_iter()
        .rev()
        .find(|(h, _)| h.name == name)
        .map(|(_, v)| v)
}

#[test]
fn valid_token_then_cache_hit() {
    let a = auth(Config::default());
    let token = valid();
    let o = user(&a, &token);
    assert_eq!(o.decision, Decision::Pass);
    let u = o.user.as_ref().unwrap();
    assert_eq!(u.source, Source::Validated);
    assert!(
        u.hashes.is_empty(),
        "no list, no shared cache: no hashes needed"
    );
    assert_eq!(header(&o, "X-Identity-Status"), Some(Some("Confirmed")));
    assert_eq!(header(&o, "X-Project-Id"), Some(Some("p1")));
    assert_eq!(header(&o, "X-Domain-Id"), Some(None));
    assert_eq!(
        header(&o, "X-Service-Catalog"),
        Some(Some(
            r#"[{"type": "compute", "name": "nova", "endpoints": [{"region": "R", "publicURL": "http://n"}]}]"#
        ))
    );
    assert_eq!(header(&o, "X-Service-Identity-Status"), None);
    let again = user(&a, &format!("  {token}\n"));
    assert_eq!(again.user.as_ref().unwrap().source, Source::Cache);
    assert_eq!(again.headers(), o.headers());
    assert_eq!(a.cache_usage().0, 1);
}

#[test]
fn pkiz_and_no_catalog_option() {
    let a = auth(Config {
        include_service_catalog: false,
        ..Config::default()
    });
    let token = pki()
        .signer
        .sign_pkiz(v3("2099-01-01T00:00:00Z", "").as_bytes())
        .unwrap();
    let o = user(&a, &token);
    assert_eq!(o.decision, Decision::Pass);
    assert_eq!(header(&o, "X-Service-Catalog"), None);
}

#[test]
fn expired_is_refused_but_body_is_kept() {
    let a = auth(Config::default());
    let o = user(&a, &sign(&v3("2020-01-01T00:00:00Z", "")));
    assert_eq!(o.decision, Decision::Reject);
    let u = o.user.as_ref().unwrap();
    assert_eq!(u.refusal, Some(Refusal::Expired));
    assert!(u.data.is_some());
    assert_eq!(header(&o, "X-Identity-Status"), Some(Some("Invalid")));
    assert_eq!(header(&o, "X-Roles"), None);
    let delayed = auth(Config {
        delay_auth_decision: true,
        ..Config::default()
    });
    let o = user(&delayed, &sign(&v3("2020-01-01T00:00:00Z", "")));
    assert_eq!(o.decision, Decision::Pass);
    assert_eq!(header(&o, "X-Identity-Status"), Some(Some("Invalid")));
}

#[test]
fn tampered_and_garbage_tokens_are_refused_and_cached() {
    let a = auth(Config::default());
    let mut token = valid().into_bytes();
    let i = token.len() / 2;
    token[i] = if token[i] == b'A' { b'B' } else { b'A' };
    let token = String::from_utf8(token).unwrap();
    let o = user(&a, &token);
    assert_eq!(o.decision, Decision::Reject);
    assert!(matches!(
        o.user.as_ref().unwrap().refusal,
        Some(Refusal::Verification(_))
    ));
    let again = user(&a, &token);
    assert_eq!(again.user.as_ref().unwrap().source, Source::Cache);
    assert_eq!(again.decision, Decision::Reject);
    for garbage in ["MIIgarbage", "PKIZ_notzlib", "PKIZ_eJzLSM3JyQcABiwCFQ"] {
        let o = user(&a, garbage);
        assert_eq!(o.decision, Decision::Reject, "{garbage}");
    }
}

#[test]
fn wrong_certificates_then_new_ones() {
    let a = Authenticator::new(Config::default());
    let token = valid();
    let o = user(&a, &token);
    assert_eq!(o.decision, Decision::Unavailable);
    assert!(o
        .user
        .as_ref()
        .unwrap()
        .refusal
        .as_ref()
        .unwrap()
        .wants_new_certificates());
    a.set_verifier(Some(Arc::clone(&pki().other)));
    let o = user(&a, &token);
    let refusal = o.user.as_ref().unwrap().refusal.clone().unwrap();
    assert!(refusal.wants_new_certificates(), "{refusal:?}");
    // Not cached: the next request tries again.
    assert_eq!(user(&a, &token).user.unwrap().source, Source::None);
    a.set_verifier(Some(Arc::clone(&pki().verifier)));
    assert_eq!(user(&a, &token).decision, Decision::Pass);
}

fn enforcing(check_cached: bool) -> Authenticator {
    auth(Config {
        revocation: RevocationMode::Enforce { check_cached },
        ..Config::default()
    })
}

fn list(entries: Vec<RevokedEntry>) -> Option<Arc<RevocationList>> {
    Some(Arc::new(RevocationList::from_entries(entries).unwrap()))
}

#[test]
fn revocation_lists() {
    let token = valid();
    let md5 = hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap();
    let a = enforcing(false);
    assert_eq!(user(&a, &token).decision, Decision::Unavailable);
    a.set_revocation_list(list(vec![]), NOW);
    assert_eq!(
        user(&a, &token).decision,
        Decision::Unavailable,
        "deadline passed"
    );
    a.set_revocation_list(
        list(vec![RevokedEntry {
            id: Some(md5.clone()),
            expires: None,
            audit_id: None,
        }]),
        NOW + 1,
    );
    let o = user(&a, &token);
    assert_eq!(
        o.user.unwrap().refusal,
        Some(Refusal::Revoked { by_audit_id: false })
    );

    let a = enforcing(false);
    a.set_revocation_list(
        list(vec![RevokedEntry {
            id: None,
            expires: None,
            audit_id: Some("aud1".into()),
        }]),
        NOW + 1,
    );
    let o = user(&a, &token);
    assert_eq!(
        o.user.unwrap().refusal,
        Some(Refusal::Revoked { by_audit_id: true })
    );
}

#[test]
fn revocation_of_cached_tokens() {
    let token = valid();
    let md5 = hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap();
    let revoked = list(vec![RevokedEntry {
        id: Some(md5),
        expires: None,
        audit_id: None,
    }]);
    for check_cached in [false, true] {
        let a = enforcing(check_cached);
        a.set_revocation_list(list(vec![]), NOW + 1);
        assert_eq!(user(&a, &token).decision, Decision::Pass);
        a.set_revocation_list(revoked.clone(), NOW + 1);
        let want = if check_cached {
            Decision::Reject
        } else {
            Decision::Pass
        };
        assert_eq!(user(&a, &token).decision, want);
        // An expired list only matters to cached tokens when they are checked.
        a.set_revocation_list(list(vec![]), NOW);
        let want = if check_cached {
            Decision::Unavailable
        } else {
            Decision::Pass
        };
        assert_eq!(user(&a, &token).decision, want);
    }
}

fn both(
    a: &Authenticator,
    user_token: &str,
    service_token: &str,
    auth: AuthContext<'_>,
) -> Outcome {
    a.authenticate(
        &Credentials {
            user_token: Some(user_token.as_bytes()),
            service_token: Some(service_token.as_bytes()),
            auth,
        },
        NOW,
        None,
    )
}

#[test]
fn service_tokens() {
    let a = auth(Config::default());
    let service = sign(&service_body(r#"{"name":"service"}"#));
    let o = both(&a, &valid(), &service, AuthContext::default());
    assert_eq!(o.decision, Decision::Pass);
    assert_eq!(o.service_role_check, Some(true));
    assert_eq!(
        header(&o, "X-Service-Identity-Status"),
        Some(Some("Confirmed"))
    );
    assert_eq!(header(&o, "X-Service-User-Name"), Some(Some("nova")));
    assert_eq!(header(&o, "X-Service-Roles"), Some(Some("service")));
    // The service token's system scope overwrites the user's (the reference's quirk).
    assert_eq!(header(&o, "OpenStack-System-Scope"), Some(Some("all")));
    // A service role lets an expired user token through.
    let expired = sign(&v3("2020-01-01T00:00:00Z", ""));
    assert_eq!(
        both(&a, &expired, &service, AuthContext::default()).decision,
        Decision::Pass
    );
    let plain = sign(&service_body(r#"{"name":"member"}"#));
    let o = both(&a, &expired, &plain, AuthContext::default());
    assert_eq!(o.decision, Decision::Reject);
    assert_eq!(o.service_role_check, Some(false));
    assert_eq!(
        header(&o, "X-Service-Identity-Status"),
        Some(Some("Confirmed"))
    );
    let strict = auth(Config {
        service_token_roles_required: true,
        ..Config::default()
    });
    let o = both(&strict, &valid(), &plain, AuthContext::default());
    assert_eq!(o.decision, Decision::Reject);
    assert_eq!(
        header(&o, "X-Service-Identity-Status"),
        Some(Some("Invalid"))
    );
    assert_eq!(header(&o, "X-Service-Roles"), None);
    // No user token at all.
    let o = a.authenticate(
        &Credentials {
            service_token: Some(service.as_bytes()),
            ..Credentials::default()
        },
        NOW,
        None,
    );
    assert_eq!(o.decision, Decision::Reject);
    assert_eq!(header(&o, "X-Identity-Status"), Some(Some("Invalid")));
}

#[test]
fn bind_is_checked_on_the_service_token_when_there_is_one() {
    let a = auth(Config {
        bind_mode: BindMode::Required,
        ..Config::default()
    });
    let bound = sign(&v3(
        "2099-01-01T00:00:00Z",
        r#","bind":{"kerberos":"alice@R"}"#,
    ));
    let krb = AuthContext {
        auth_type: Some("Negotiate"),
        remote_user: Some("alice@R"),
        client_cert: None,
    };
    let o = a.authenticate(
        &Credentials {
            user_token: Some(bound.as_bytes()),
            service_token: None,
            auth: krb,
        },
        NOW,
        None,
    );
    assert_eq!(o.decision, Decision::Pass);
    assert_eq!(user(&a, &bound).decision, Decision::Reject);
    assert_eq!(user(&a, &valid()).decision, Decision::Reject);
    // With a service token, the (unbound) service token is what "required" refuses.
    let service = sign(&service_body(r#"{"name":"service"}"#));
    let o = both(&a, &bound, &service, AuthContext::default());
    assert_eq!(
        o.service.unwrap().refusal,
        Some(Refusal::Bind(BindRejection::MissingBind))
    );
    assert!(o.user.unwrap().is_valid());
}

#[test]
fn v2_tokens_need_a_project() {
    let a = auth(Config::default());
    let scoped = sign(
        r#"{"access":{"token":{"expires":"2099-01-01T00:00:00Z","tenant":{"id":"t","name":"T"}},"user":{"id":"u","name":"n","roles":[{"name":"admin"}]},"serviceCatalog":[]}}"#,
    );
    let o = user(&a, &scoped);
    assert_eq!(o.decision, Decision::Pass);
    assert_eq!(header(&o, "X-Tenant-Id"), Some(Some("t")));
    assert_eq!(header(&o, "X-User-Domain-Id"), Some(None));
    assert_eq!(header(&o, "X-Service-Catalog"), Some(Some("[]")));
    let unscoped = sign(
        r#"{"access":{"token":{"expires":"2099-01-01T00:00:00Z"},"user":{"id":"u","name":"n"}}}"#,
    );
    assert_eq!(
        user(&a, &unscoped).user.unwrap().refusal,
        Some(Refusal::NoTenancy)
    );
}

#[test]
fn non_pki_tokens() {
    let refuse = auth(Config::default());
    let o = user(&refuse, "a0b1c2d3e4f5");
    assert_eq!(o.decision, Decision::Reject);
    assert_eq!(o.user.unwrap().refusal, Some(Refusal::NotPki));
    let delegate = auth(Config {
        non_pki: NonPki::Delegate,
        ..Config::default()
    });
    assert_eq!(user(&delegate, "gAAAAfernet").decision, Decision::Delegate);
    let service = both(&delegate, &valid(), "uuid", AuthContext::default());
    assert_eq!(service.decision, Decision::Delegate);
    assert!(service.headers().is_empty());
    assert_eq!(user(&delegate, &valid()).decision, Decision::Pass);
    let nothing = refuse.authenticate(&Credentials::default(), NOW, None);
    assert_eq!(nothing.decision, Decision::Reject);
}

#[derive(Default)]
struct Shared(Mutex<HashMap<String, Vec<u8>>>);

impl SharedCache for Shared {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.lock().unwrap().get(key).cloned()
    }
    fn set(&self, key: &str, value: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .insert(key.to_owned(), value.to_vec());
    }
}

#[test]
fn shared_cache_between_processes() {
    let shared = Shared::default();
    let token = valid();
    let creds = Credentials {
        user_token: Some(token.as_bytes()),
        ..Credentials::default()
    };
    let first = auth(Config::default());
    assert_eq!(
        first.authenticate(&creds, NOW, Some(&shared)).decision,
        Decision::Pass
    );
    let md5 = hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap();
    let slot = SharedFormat::default().slot(&md5).unwrap();
    assert!(shared.get(&slot.key).unwrap().starts_with(b"{"));
    // Another process without certificates still serves the token from the shared cache.
    let second = Authenticator::new(Config::default());
    let o = second.authenticate(&creds, NOW, Some(&shared));
    assert_eq!(o.decision, Decision::Pass);
    assert_eq!(o.user.as_ref().unwrap().source, Source::SharedCache);
    assert_eq!(o.headers(), first.authenticate(&creds, NOW, None).headers());
    // Refusals are shared as the reference's marker.
    let broken = Credentials {
        user_token: Some(b"MIIbroken"),
        ..Credentials::default()
    };
    assert_eq!(
        first.authenticate(&broken, NOW, Some(&shared)).decision,
        Decision::Reject
    );
    let o = second.authenticate(&broken, NOW, Some(&shared));
    assert_eq!(o.decision, Decision::Reject);
    assert_eq!(o.user.unwrap().source, Source::SharedCache);
}

#[test]
fn disabled_cache_validates_every_time() {
    let a = auth(Config {
        cache: None,
        ..Config::default()
    });
    let token = valid();
    assert_eq!(user(&a, &token).user.unwrap().source, Source::Validated);
    assert_eq!(user(&a, &token).user.unwrap().source, Source::Validated);
    assert_eq!(a.cache_usage(), (0, 0));
}

#[test]
fn python_whitespace_is_stripped() {
    assert_eq!(strip_token(b"MIIx"), b"MIIx");
    assert_eq!(strip_token(b"MIIx\x0b"), b"MIIx");
    assert_eq!(strip_token(b""), b"");
    assert_eq!(strip_token(b" \t\x1cMIIx\x1f\r\n"), b"MIIx");
    assert_eq!(strip_token("\u{a0}MIIx\u{3000}".as_bytes()), b"MIIx");
    assert_eq!(strip_token(b"\xffMII \n"), b"\xffMII");
}
