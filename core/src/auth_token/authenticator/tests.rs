//! Tests of the request authenticator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::*;
use crate::algorithm::{HashAlgorithm, HashAlgorithms};
use crate::auth_token::outcome::Wants;
use crate::auth_token::shared_cache::Protection;
use crate::body::bind::{BindMode, BindRejection};
use crate::pipeline::Policy;
use crate::pki_setup::{generate, PkiOptions};
use crate::revocation::RevokedEntry;
use crate::signer::Signer;
use crate::token_text::hash_hex;

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

/// The outcome of a call that decides (every call without a shared cache does).
fn decided(a: Authentication) -> Outcome {
    a.decided().expect("decided")
}

fn user(a: &Authenticator, token: &str) -> Outcome {
    decided(a.authenticate(
        &Credentials {
            user_token: Some(token.as_bytes()),
            ..Credentials::default()
        },
        NOW,
        None,
    ))
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
    assert_eq!(u.refusal, Some(Refusal::Rejected(Rejection::Expired)));
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
        Some(Refusal::Rejected(Rejection::Verification(_)))
    ));
    let again = user(&a, &token);
    assert_eq!(again.user.as_ref().unwrap().source, Source::Cache);
    assert_eq!(again.decision, Decision::Reject);
    // A bad signature may be a rebuilt PKI: new certificates could change the verdict.
    assert!(o
        .user
        .as_ref()
        .unwrap()
        .refusal
        .as_ref()
        .unwrap()
        .wants_new_certificates());
    assert!(o.wants().new_certificates);
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
        Some(Refusal::Rejected(Rejection::Revoked { by_audit_id: false }))
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
        Some(Refusal::Rejected(Rejection::Revoked { by_audit_id: true }))
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
    decided(a.authenticate(
        &Credentials {
            user_token: Some(user_token.as_bytes()),
            service_token: Some(service_token.as_bytes()),
            auth,
        },
        NOW,
        None,
    ))
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
    let o = decided(a.authenticate(
        &Credentials {
            service_token: Some(service.as_bytes()),
            ..Credentials::default()
        },
        NOW,
        None,
    ));
    assert_eq!(o.decision, Decision::Reject);
    assert_eq!(header(&o, "X-Identity-Status"), Some(Some("Invalid")));
}

#[test]
fn bind_is_checked_on_the_service_token_when_there_is_one() {
    let a = auth(Config {
        policy: Policy {
            bind_mode: BindMode::Required,
            ..Policy::default()
        },
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
    let o = decided(a.authenticate(
        &Credentials {
            user_token: Some(bound.as_bytes()),
            service_token: None,
            auth: krb,
        },
        NOW,
        None,
    ));
    assert_eq!(o.decision, Decision::Pass);
    assert_eq!(user(&a, &bound).decision, Decision::Reject);
    assert_eq!(user(&a, &valid()).decision, Decision::Reject);
    // With a service token, the (unbound) service token is what "required" refuses.
    let service = sign(&service_body(r#"{"name":"service"}"#));
    let o = both(&a, &bound, &service, AuthContext::default());
    assert_eq!(
        o.service.unwrap().refusal,
        Some(Refusal::Rejected(Rejection::Bind(
            BindRejection::MissingBind
        )))
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
    assert_eq!(
        o.user.unwrap().refusal,
        Some(Refusal::Rejected(Rejection::NotPki))
    );
    let delegate = auth(Config {
        non_pki: NonPki::Delegate,
        ..Config::default()
    });
    assert_eq!(user(&delegate, "gAAAAfernet").decision, Decision::Delegate);
    let service = both(&delegate, &valid(), "uuid", AuthContext::default());
    assert_eq!(service.decision, Decision::Delegate);
    assert!(service.headers().is_empty());
    assert_eq!(user(&delegate, &valid()).decision, Decision::Pass);
    let nothing = decided(refuse.authenticate(&Credentials::default(), NOW, None));
    assert_eq!(nothing.decision, Decision::Reject);
}

/// A shared cache the test plays host for: every request goes through the exchange (ask, fetch the
/// keys asked for, ask again with what was found, store what the outcome lists).
#[derive(Default)]
struct Shared(Mutex<HashMap<String, Vec<u8>>>);

impl Shared {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.lock().unwrap().get(key).cloned()
    }

    fn set(&self, key: &str, value: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .insert(key.to_owned(), value.to_vec());
    }

    fn authenticate(&self, a: &Authenticator, creds: &Credentials<'_>) -> Outcome {
        let outcome = match a.authenticate(creds, NOW, None) {
            Authentication::Decided(outcome) => outcome,
            Authentication::NeedShared { keys } => {
                let stored = self.0.lock().unwrap().clone();
                let found: Vec<(&str, &[u8])> = keys
                    .iter()
                    .filter_map(|k| stored.get(k).map(|v| (k.as_str(), v.as_slice())))
                    .collect();
                let again = a.authenticate(creds, NOW, Some(&SharedValues::new(&found)));
                assert!(
                    matches!(again, Authentication::Decided(_)),
                    "a call with shared values decides"
                );
                decided(again)
            }
        };
        for entry in &outcome.shared_store {
            self.set(&entry.key, &entry.value);
        }
        outcome
    }
}

fn shared_config() -> Config {
    Config {
        shared_cache: Some(SharedFormat::default()),
        ..Config::default()
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
    let first = auth(shared_config());
    assert_eq!(shared.authenticate(&first, &creds).decision, Decision::Pass);
    let md5 = hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap();
    let slot = SharedFormat::default().slot(&md5).unwrap();
    assert!(shared.get(&slot.key).unwrap().starts_with(b"{"));
    // Another process without certificates still serves the token from the shared cache.
    let second = Authenticator::new(shared_config());
    let o = shared.authenticate(&second, &creds);
    assert_eq!(o.decision, Decision::Pass);
    assert_eq!(o.user.as_ref().unwrap().source, Source::SharedCache);
    assert_eq!(o.headers(), shared.authenticate(&first, &creds).headers());
    // A bad signature is not shared: new certificates may undo it.
    let mut tampered = token.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered_creds = Credentials {
        user_token: Some(&tampered),
        ..Credentials::default()
    };
    let before = shared.0.lock().unwrap().len();
    let o = shared.authenticate(&first, &tampered_creds);
    assert_eq!(o.decision, Decision::Reject);
    assert!(o.shared_store.is_empty());
    assert_eq!(shared.0.lock().unwrap().len(), before);
    // Refusals are shared as the reference's marker.
    let broken = Credentials {
        user_token: Some(b"MIIbroken"),
        ..Credentials::default()
    };
    assert_eq!(
        shared.authenticate(&first, &broken).decision,
        Decision::Reject
    );
    let o = shared.authenticate(&second, &broken);
    assert_eq!(o.decision, Decision::Reject);
    assert_eq!(o.user.unwrap().source, Source::SharedCache);
}

/// How many cache keys `f` computed on this thread (each one hashes a whole token).
fn keys_computed(f: impl FnOnce()) -> usize {
    use crate::auth_token::token_cache::KEYS_COMPUTED;
    let before = KEYS_COMPUTED.with(|n| n.get());
    f();
    KEYS_COMPUTED.with(|n| n.get()) - before
}

#[test]
fn each_token_is_hashed_once_per_call() {
    let (user_text, service_text) = (valid(), sign(&service_body(r#"{"name":"service"}"#)));
    let creds = Credentials {
        user_token: Some(user_text.as_bytes()),
        service_token: Some(service_text.as_bytes()),
        ..Credentials::default()
    };
    let shared = Shared::default();
    let a = auth(shared_config());
    // Misses: the call that asks for the shared keys, then the one that decides.
    let n = keys_computed(|| {
        let o = shared.authenticate(&a, &creds);
        assert_eq!(o.decision, Decision::Pass);
        assert_eq!(o.user.as_ref().unwrap().source, Source::Validated);
    });
    assert_eq!(n, 4);
    // Hits with a shared cache configured: one call, each token hashed once (it was twice, once
    // for the shared keys and once for the decision).
    let n = keys_computed(|| {
        let o = decided(a.authenticate(&creds, NOW, None));
        assert_eq!(o.decision, Decision::Pass);
        assert_eq!(o.user.as_ref().unwrap().source, Source::Cache);
        assert_eq!(o.service.as_ref().unwrap().source, Source::Cache);
    });
    assert_eq!(n, 2);
    // Without a shared cache, likewise.
    let plain = auth(Config::default());
    user(&plain, &user_text);
    assert_eq!(
        keys_computed(|| assert_eq!(user(&plain, &user_text).decision, Decision::Pass)),
        1
    );
    // The same text as both tokens: validated once, the user token then a hit.
    let same = Credentials {
        user_token: Some(service_text.as_bytes()),
        service_token: Some(service_text.as_bytes()),
        ..Credentials::default()
    };
    let fresh = auth(shared_config());
    let o = shared.authenticate(&fresh, &same);
    assert_eq!(o.service.as_ref().unwrap().source, Source::SharedCache);
    let fresh = auth(Config::default());
    let o = decided(fresh.authenticate(&same, NOW, None));
    assert_eq!(o.service.as_ref().unwrap().source, Source::Validated);
    assert_eq!(o.user.as_ref().unwrap().source, Source::Cache);
}

#[test]
fn shared_keys_are_asked_for_once_then_stored() {
    let token = valid();
    let creds = Credentials {
        user_token: Some(token.as_bytes()),
        ..Credentials::default()
    };
    let a = auth(Config {
        policy: Policy {
            hash_algorithms: HashAlgorithms::new([HashAlgorithm::Sha256, HashAlgorithm::Md5])
                .unwrap(),
            ..Policy::default()
        },
        ..shared_config()
    });
    let format = SharedFormat::default();
    let key = |algorithm| {
        format
            .slot(&hash_hex(token.as_bytes(), algorithm).unwrap())
            .unwrap()
            .key
    };
    // A miss asks for one key per configured hash, in order, and nothing is verified yet.
    let Authentication::NeedShared { keys } = a.authenticate(&creds, NOW, None) else {
        panic!("a process-cache miss with a shared cache asks for its keys");
    };
    assert_eq!(keys, [key(HashAlgorithm::Sha256), key(HashAlgorithm::Md5)]);
    assert_eq!(a.cache_usage().0, 0);
    // Nothing found: validated, and stored under the first hash.
    let o = decided(a.authenticate(&creds, NOW, Some(&SharedValues::default())));
    assert_eq!(o.decision, Decision::Pass);
    assert_eq!(o.user.as_ref().unwrap().source, Source::Validated);
    assert_eq!(o.shared_store.len(), 1);
    assert_eq!(o.shared_store[0].key, key(HashAlgorithm::Sha256));
    assert_eq!(
        format.decode(
            &format
                .slot(&hash_hex(token.as_bytes(), HashAlgorithm::Sha256).unwrap())
                .unwrap(),
            &o.shared_store[0].value
        ),
        Some(SharedValue::Token(
            v3("2099-01-01T00:00:00.000000Z", "").into_bytes()
        ))
    );
    // A process-cache hit asks for nothing and stores nothing.
    let hit = decided(a.authenticate(&creds, NOW, None));
    assert_eq!(hit.user.as_ref().unwrap().source, Source::Cache);
    assert!(hit.shared_store.is_empty());
    // Without a shared cache, nothing is asked for or stored.
    let plain = auth(Config::default());
    let o = decided(plain.authenticate(&creds, NOW, None));
    assert!(o.shared_store.is_empty());
}

#[test]
fn unreadable_shared_entries_are_misses() {
    let token = valid();
    let creds = Credentials {
        user_token: Some(token.as_bytes()),
        ..Credentials::default()
    };
    let md5 = hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap();
    let plain_key = SharedFormat::default().slot(&md5).unwrap().key;
    let mac = SharedFormat::new(Some(Protection::new("MAC", b"secret").unwrap()));
    let forged = SharedFormat::new(Some(Protection::new("MAC", b"other").unwrap()));
    let body = v3("2099-01-01T00:00:00.000000Z", "");
    // MACed with another secret's keys, stored under this secret's key.
    let forged_value = forged
        .encode(
            &forged.slot(&md5).unwrap(),
            &SharedValue::Token(body.clone().into_bytes()),
        )
        .unwrap();
    for (format, value) in [
        (SharedFormat::default(), b"\xff\xfe".to_vec()),
        (
            SharedFormat::default(),
            br#"{"not": "a token body"}"#.to_vec(),
        ),
        (SharedFormat::default(), b"[1, 2, 3]".to_vec()),
        (mac.clone(), forged_value),
    ] {
        let a = auth(Config {
            shared_cache: Some(format.clone()),
            ..Config::default()
        });
        let key = format.slot(&md5).unwrap().key;
        if format == SharedFormat::default() {
            assert_eq!(key, plain_key);
        }
        let found = [(key.as_str(), value.as_slice())];
        let o = decided(a.authenticate(&creds, NOW, Some(&SharedValues::new(&found))));
        assert_eq!(o.decision, Decision::Pass, "{value:?}");
        assert_eq!(
            o.user.as_ref().unwrap().source,
            Source::Validated,
            "{value:?}"
        );
        assert_eq!(o.shared_store.len(), 1);
    }
}

#[test]
fn junk_token_data_in_the_shared_cache_is_a_miss() {
    let token = valid();
    let md5 = hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap();
    let slot = SharedFormat::default().slot(&md5).unwrap();
    let creds = Credentials {
        user_token: Some(token.as_bytes()),
        ..Credentials::default()
    };
    for junk in [
        &br#"{"token": 1}"#[..],
        b"{}",
        br#"{"token": {"expires_at": "2099-01-01T00:00:00Z", "user": {"#,
        b"\x9c\x01random",
        br#"[{"token": 1}, 0]"#,
    ] {
        let shared = Shared::default();
        shared.set(&slot.key, junk);
        let a = auth(shared_config());
        let o = shared.authenticate(&a, &creds);
        assert_eq!(
            o.decision,
            Decision::Pass,
            "{}",
            String::from_utf8_lossy(junk)
        );
        assert_eq!(o.user.unwrap().source, Source::Validated);
    }
    // The reference's marker is a cached refusal.
    let shared = Shared::default();
    shared.set(&slot.key, b"\"invalid\"");
    let o = shared.authenticate(&auth(shared_config()), &creds);
    assert_eq!(o.decision, Decision::Reject);
    assert_eq!(o.user.unwrap().source, Source::SharedCache);
}

#[test]
fn cached_entries_weigh_what_they_hold_and_bindings_add_theirs() {
    let a = auth(Config::default());
    let body = v3("2099-01-01T00:00:00Z", "");
    let token = sign(&body);
    let o = user(&a, &token);
    let (entries, bytes) = a.cache_usage();
    assert_eq!(entries, 1);
    // At least the body, the catalog and the headers, each in its own block.
    assert!(bytes > body.len() + 200, "{bytes}");
    let report = o.user.unwrap();
    assert!(report.cache_key.is_some());
    a.charge(&report, 5000, NOW);
    assert_eq!(a.cache_usage(), (1, bytes + 5000));
    // A cache hit reports the key too.
    let hit = user(&a, &token).user.unwrap();
    assert_eq!(hit.source, Source::Cache);
    assert_eq!(hit.cache_key, report.cache_key);
    // More than the cache may hold: the entry goes.
    a.charge(&report, 64 << 20, NOW);
    assert_eq!(a.cache_usage(), (0, 0));
    // A report of another entry (or none) charges nothing.
    a.charge(&report, 5000, NOW);
    assert_eq!(a.cache_usage(), (0, 0));
}

#[test]
fn recorded_requests_are_counted_with_the_shared_cache_level() {
    let shared = Shared::default();
    let token = valid();
    let creds = Credentials {
        user_token: Some(token.as_bytes()),
        ..Credentials::default()
    };
    let a = auth(shared_config());
    for _ in 0..2 {
        let o = shared.authenticate(&a, &creds);
        a.record(&o.tally());
    }
    let broken = Credentials {
        user_token: Some(b"MIIbroken"),
        ..Credentials::default()
    };
    let refused = shared.authenticate(&a, &broken);
    a.record(&refused.tally());
    let s = a.stats();
    assert_eq!(s.decisions, [2, 1, 0, 0]);
    assert_eq!(s.accepted, 2);
    assert_eq!(s.refused.iter().sum::<u64>(), 1);
    // The valid token validated (a miss in both caches), then a process-cache hit; the broken one
    // validated too.
    assert_eq!(s.process_cache.hits, 1);
    assert_eq!(s.process_cache.misses, 2);
    assert_eq!(s.shared_cache.misses, 2);
    // Outcomes not recorded count nothing.
    user(&a, &token);
    assert_eq!(a.stats(), s);
    a.reset_stats();
    assert_eq!(a.stats(), crate::auth_token::StatsSnapshot::default());
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
fn the_pipeline_s_whitespace_rule() {
    // One rule for every entry point (`crate::token_text::trim_token`): the authenticator and the
    // pipeline agree on every padding, and a padded token is the same cache entry.
    let a = auth(Config::default());
    let token = valid();
    let policy = Policy::default();
    for (padding, accepted) in [
        (" \t\r\n", true),
        ("\r\n", true),
        ("\x0b", false),
        ("\x0c", false),
        ("\x1c", false),
        ("\u{a0}", false),
    ] {
        let padded = format!("{padding}{token}{padding}");
        let o = user(&a, &padded);
        let pipeline = crate::pipeline::validate_instant(
            &padded,
            &pki().verifier,
            None,
            &policy,
            &AuthContext::default(),
            crate::timestamp::instant_us(NOW),
        );
        assert_eq!(o.decision == Decision::Pass, accepted, "{padding:?}");
        assert_eq!(pipeline.is_ok(), accepted, "{padding:?}");
    }
    assert_eq!(a.cache_usage().0, 1, "padded or not, one token, one entry");
}

#[test]
fn refusals_say_what_the_pipeline_says() {
    // One vocabulary: a rejection reads the same from the authenticator and from the pipeline.
    let a = auth(Config::default());
    let policy = Policy::default();
    let expired = sign(&v3("2020-01-01T00:00:00Z", ""));
    for token in [expired.as_str(), "MIIbroken", "a0b1c2d3e4f5"] {
        let refusal = user(&a, token).user.unwrap().refusal.unwrap();
        let rejection = crate::pipeline::validate_instant(
            token,
            &pki().verifier,
            None,
            &policy,
            &AuthContext::default(),
            crate::timestamp::instant_us(NOW),
        )
        .unwrap_err();
        assert_eq!(refusal.to_string(), rejection.to_string(), "{token}");
        assert_eq!(refusal.rejection(), rejection.rejection(), "{token}");
        assert_eq!(refusal.as_str(), rejection.step().unwrap().as_str());
    }
}

#[test]
fn outcomes_say_what_keystone_could_give() {
    let token = valid();
    // No certificates loaded.
    let none = Authenticator::new(Config::default());
    let wants = user(&none, &token).wants();
    assert!(wants.certificates && !wants.new_certificates && !wants.revocation_list);
    // A signer not among the certificates: keystone may have rotated its key.
    let other = Authenticator::new(Config::default());
    other.set_verifier(Some(Arc::clone(&pki().other)));
    let wants = user(&other, &token).wants();
    assert!(!wants.certificates && wants.new_certificates && !wants.revocation_list);
    // Revocation lists enforced and none loaded.
    let listless = enforcing(false);
    let wants = user(&listless, &token).wants();
    assert!(!wants.certificates && !wants.new_certificates && wants.revocation_list);
    // Nothing to fetch for a valid or an invalid token.
    let a = auth(Config::default());
    assert_eq!(user(&a, &token).wants(), Wants::default());
    assert_eq!(user(&a, "MIIbroken").wants(), Wants::default());
}
