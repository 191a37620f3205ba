//! The validation pipeline and signed revocation lists, over upstream vectors and generated tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;

use kstoken::body::bind::{AuthContext, BindMode, BindRejection};
use kstoken::pki_setup::{generate, PkiOptions};
use kstoken::revocation::{self, RevokedEntry};
use kstoken::token_text::cms_to_token;
use kstoken::token_text::hash_hex;
use kstoken::{
    HashAlgorithm, HashAlgorithms, Limits, Policy, Rejection, RevocationList, Signer, Step,
    ValidateError, Validated, Verifier,
};
use kstoken_testkit::{cms_sign, keystone_pki, Workdir};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

const CLOCK: i64 = 1_893_456_000;

fn vectors() -> PathBuf {
    std::env::var_os("KSTOKEN_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"))
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(vectors().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn verifier(set: &str) -> Verifier {
    Verifier::new(
        &read(&format!("{set}/examples/pki/certs/signing_cert.pem")),
        &read(&format!("{set}/examples/pki/certs/cacert.pem")),
    )
    .unwrap()
}

fn token(set: &str, name: &str) -> String {
    let text = String::from_utf8(read(&format!("{set}/examples/pki/cms/{name}"))).unwrap();
    if name.ends_with(".pem") {
        cms_to_token(&text)
    } else {
        text
    }
}

/// The pipeline at a precise instant, with its rejection (these tests never pass a bad clock).
fn validate(
    token: &str,
    verifier: &Verifier,
    revocations: Option<&RevocationList>,
    policy: &Policy,
    auth: &AuthContext<'_>,
    now: OffsetDateTime,
) -> Result<Validated, Rejection> {
    kstoken::validate_instant(token, verifier, revocations, policy, auth, now).map_err(
        |e| match e {
            ValidateError::Rejected(r) => r,
            other => panic!("not a rejection: {other}"),
        },
    )
}

fn clock() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(CLOCK).unwrap()
}

fn no_auth() -> AuthContext<'static> {
    AuthContext {
        auth_type: None,
        remote_user: None,
        client_cert: None,
    }
}

#[test]
fn upstream_revoked_tokens_are_rejected_with_the_upstream_list() {
    for set in ["keystoneclient/5.5.0", "keystonemiddleware/5.3.0"] {
        let v = verifier(set);
        let list = RevocationList::from_signed(
            &read(&format!("{set}/examples/pki/cms/revocation_list.pem")),
            &v,
            CLOCK,
        )
        .unwrap();
        assert_eq!(list.len(), 4, "{set}");
        let policy = Policy::default();
        let revoked = validate(
            &token(set, "auth_v3_token_revoked.pkiz"),
            &v,
            Some(&list),
            &policy,
            &no_auth(),
            clock(),
        );
        assert_eq!(revoked.unwrap_err().step(), Step::RevokedByHash, "{set}");
        let ok = validate(
            &token(set, "auth_token_scoped.pem"),
            &v,
            Some(&list),
            &policy,
            &no_auth(),
            clock(),
        )
        .unwrap();
        assert_eq!(
            ok.hashes,
            vec![hash_hex(
                token(set, "auth_token_scoped.pem").as_bytes(),
                HashAlgorithm::Md5
            )
            .unwrap()]
        );
        assert_eq!(ok.body.version, kstoken::body::TokenVersion::V2);
        let expired = validate(
            &token(set, "auth_token_scoped_expired.pem"),
            &v,
            Some(&list),
            &policy,
            &no_auth(),
            clock(),
        );
        assert_eq!(expired.unwrap_err(), Rejection::Expired);
    }
    // keystoneclient 5.5.0's second id is the md5 of its auth_v3_token_revoked.pem token.
    let set = "keystoneclient/5.5.0";
    let v = verifier(set);
    let list = RevocationList::from_signed(
        &read(&format!("{set}/examples/pki/cms/revocation_list.pem")),
        &v,
        CLOCK,
    )
    .unwrap();
    let revoked = validate(
        &token(set, "auth_v3_token_revoked.pem"),
        &v,
        Some(&list),
        &Policy::default(),
        &no_auth(),
        clock(),
    );
    assert_eq!(
        revoked.unwrap_err(),
        Rejection::Revoked { by_audit_id: false }
    );
}

#[test]
fn revocation_by_every_hash_algorithm_and_by_audit_id() {
    let set = "keystonemiddleware/5.3.0";
    let v = verifier(set);
    let tok = token(set, "auth_token_scoped.pem");
    for alg in HashAlgorithm::ALL {
        let list = RevocationList::from_entries(vec![RevokedEntry {
            id: Some(hash_hex(tok.as_bytes(), alg).unwrap()),
            expires: None,
            audit_id: None,
        }])
        .unwrap();
        let with = Policy {
            hash_algorithms: HashAlgorithms::new([HashAlgorithm::Md5, alg]).unwrap(),
            ..Policy::default()
        };
        let err = validate(&tok, &v, Some(&list), &with, &no_auth(), clock()).unwrap_err();
        assert_eq!(err.step(), Step::RevokedByHash, "{alg}");
        let without = Policy {
            hash_algorithms: HashAlgorithms::new([if alg == HashAlgorithm::Sha1 {
                HashAlgorithm::Sha256
            } else {
                HashAlgorithm::Sha1
            }])
            .unwrap(),
            ..Policy::default()
        };
        assert!(
            validate(&tok, &v, Some(&list), &without, &no_auth(), clock()).is_ok(),
            "{alg}"
        );
    }
    let body: Value = serde_json::from_slice(&v.verify_at(tok.as_bytes(), CLOCK).unwrap()).unwrap();
    let audit_id = body["access"]["token"]["audit_ids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(audit_id, "SLIXlXQUQZWUi9VJrqdXqA");
    let list = RevocationList::from_json(
        format!(r#"{{"revoked": [{{"id": "other", "audit_id": "{audit_id}"}}]}}"#).as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let err = validate(
        &tok,
        &v,
        Some(&list),
        &Policy::default(),
        &no_auth(),
        clock(),
    )
    .unwrap_err();
    assert_eq!(err, Rejection::Revoked { by_audit_id: true });
    assert_eq!(err.step(), Step::RevokedByAuditId);
}

#[test]
fn other_tokens_and_bad_signatures() {
    let set = "keystoneclient/6.0.0";
    let v = verifier(set);
    let policy = Policy::default();
    let uuid = validate(
        "0123456789abcdef0123456789abcdef",
        &v,
        None,
        &policy,
        &no_auth(),
        clock(),
    );
    assert_eq!(uuid.unwrap_err(), Rejection::NotPki);
    let stale = validate(
        &token(set, "auth_token_scoped.pkiz"),
        &v,
        None,
        &policy,
        &no_auth(),
        clock(),
    );
    assert_eq!(stale.unwrap_err().step(), Step::Signature);
    let garbage = format!("MII{}", "A".repeat(1085));
    assert_eq!(
        validate(&garbage, &v, None, &policy, &no_auth(), clock())
            .unwrap_err()
            .step(),
        Step::Signature
    );
    let ok = validate(
        &format!("  {}\n", token(set, "auth_v3_token_scoped.pem")),
        &v,
        None,
        &policy,
        &no_auth(),
        clock(),
    );
    assert!(
        ok.is_ok(),
        "surrounding whitespace is stripped as the middleware does"
    );
}

#[test]
fn keystone_api_ref_samples_decode_but_cannot_verify() {
    for (name, id, audit) in [
        (
            "get-pki-revoked-response.json",
            "88b24f9299944e5f8d81403cc32cc92e",
            None,
        ),
        (
            "revoked-tokens-response.json",
            "7e2115441e234bbc8dbe5dbf503691ed",
            Some("pYTchN9ORtyzTJ5dwfYkag"),
        ),
    ] {
        let body: Value =
            serde_json::from_slice(&read(&format!("keystone/ocata-eol/api-ref/{name}"))).unwrap();
        let pem = body["signed"].as_str().unwrap();
        let der = kstoken::token_text::pem::pem_to_der(pem.as_bytes(), &Limits::default()).unwrap();
        let doc = kstoken::cms::parse(&der).unwrap();
        let list = RevocationList::from_json(&doc.content, &Limits::default()).unwrap();
        assert!(list.contains_hash(id));
        assert_eq!(list.entries()[0].audit_id.as_deref(), audit);
        assert_eq!(doc.signers[0].digest(), Some(HashAlgorithm::Sha256));
        // Re-serialising the entries gives keystone's exact bytes back.
        assert_eq!(revocation::to_json(list.entries()).as_bytes(), doc.content);
        // keystone's default DN and serial 1: a fresh pki_setup signer matches the sid, not the key.
        let pki = generate(&PkiOptions {
            key_bits: 1024,
            ..PkiOptions::default()
        })
        .unwrap();
        let v = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem).unwrap();
        let err = RevocationList::from_signed(pem.as_bytes(), &v, kstoken::unix_now()).unwrap_err();
        assert_eq!(
            err.verify_failure(),
            Some(kstoken::VerifyFailure::BadSignature)
        );
    }
}

#[test]
fn signed_lists_are_byte_identical_to_openssl_and_verify() {
    let dir = Workdir::new();
    let (ca, signer_files) = keystone_pki(&dir, 2048);
    let signer = Signer::new(&signer_files.cert_pem, &signer_files.key_pem).unwrap();
    let entries = vec![
        RevokedEntry {
            id: Some("7e2115441e234bbc8dbe5dbf503691ed".into()),
            expires: Some("2016-10-25T22:16:02Z".into()),
            audit_id: Some("pYTchN9ORtyzTJ5dwfYkag".into()),
        },
        RevokedEntry {
            id: Some("88b24f9299944e5f8d81403cc32cc92e".into()),
            expires: Some("2014-12-02T17:00:09Z".into()),
            audit_id: None,
        },
    ];
    let response = revocation::sign(&signer, &entries).unwrap();
    let body: Value = serde_json::from_str(&response).unwrap();
    let oracle = cms_sign(
        &signer_files.cert_path,
        &signer_files.key_path,
        revocation::to_json(&entries).as_bytes(),
        "sha256",
    );
    assert_eq!(body["signed"].as_str().unwrap().as_bytes(), oracle.stdout);
    let v = Verifier::new(&signer_files.cert_pem, &ca.cert_pem).unwrap();
    let list = RevocationList::from_signed(response.as_bytes(), &v, kstoken::unix_now()).unwrap();
    assert_eq!(list.entries(), &entries[..]);
    let missing = RevocationList::from_signed(b"{\"unsigned\": 1}", &v, kstoken::unix_now());
    assert!(matches!(missing, Err(kstoken::Error::Malformed(_))));
}

struct Issuer {
    signer: Signer,
    verifier: Verifier,
}

fn issuer() -> Issuer {
    let pki = generate(&PkiOptions {
        key_bits: 1024,
        ..PkiOptions::default()
    })
    .unwrap();
    Issuer {
        signer: Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem).unwrap(),
        verifier: Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem).unwrap(),
    }
}

fn v3_body(expires_at: &str, bind: Option<Value>) -> Value {
    let mut body = json!({"token": {"methods": ["password"], "user": {"id": "u", "name": "admin"},
        "audit_ids": ["AUDIT"], "issued_at": "2026-01-01T00:00:00.000000Z", "expires_at": expires_at}});
    if let Some(bind) = bind {
        body["token"]["bind"] = bind;
    }
    body
}

#[test]
fn expiry_edges_at_one_microsecond() {
    let iss = issuer();
    // A day from now (inside the fresh certificates' validity), with a microsecond fraction.
    let expires = OffsetDateTime::from_unix_timestamp(kstoken::unix_now() + 86_400).unwrap()
        + Duration::microseconds(123_456);
    let stamp = expires
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(stamp.ends_with(".123456Z"), "{stamp}");
    let stamp = stamp.as_str();
    let tok = iss
        .signer
        .sign_pkiz(v3_body(stamp, None).to_string().as_bytes())
        .unwrap();
    let run = |now: OffsetDateTime| {
        validate(
            &tok,
            &iss.verifier,
            None,
            &Policy::default(),
            &no_auth(),
            now,
        )
    };
    assert!(run(expires - Duration::microseconds(1)).is_ok());
    assert_eq!(run(expires).unwrap_err(), Rejection::Expired);
    assert_eq!(
        run(expires + Duration::microseconds(1)).unwrap_err(),
        Rejection::Expired
    );
}

#[test]
fn bind_enforcement_in_the_pipeline() {
    let iss = issuer();
    let far = "2099-01-01T00:00:00Z";
    let kerberos = iss
        .signer
        .sign_pki(
            v3_body(far, Some(json!({"kerberos": "USER@REALM"})))
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    let ok_auth = AuthContext {
        auth_type: Some("Negotiate"),
        remote_user: Some("USER@REALM"),
        client_cert: None,
    };
    let bad_auth = AuthContext {
        auth_type: Some("Negotiate"),
        remote_user: Some("user@realm"),
        client_cert: None,
    };
    let now = OffsetDateTime::now_utc();
    for mode in ["permissive", "strict", "required", "kerberos"] {
        let policy = Policy {
            bind_mode: BindMode::parse(mode),
            ..Policy::default()
        };
        assert!(
            validate(&kerberos, &iss.verifier, None, &policy, &ok_auth, now).is_ok(),
            "{mode}"
        );
        let err = validate(&kerberos, &iss.verifier, None, &policy, &bad_auth, now).unwrap_err();
        assert_eq!(err.step(), Step::Bind, "{mode}");
        assert_eq!(err, Rejection::Bind(BindRejection::KerberosMismatch));
    }
    let disabled = Policy {
        bind_mode: BindMode::Disabled,
        ..Policy::default()
    };
    assert!(validate(&kerberos, &iss.verifier, None, &disabled, &bad_auth, now).is_ok());
    let unbound = iss
        .signer
        .sign_pki(v3_body(far, None).to_string().as_bytes())
        .unwrap();
    let required = Policy {
        bind_mode: BindMode::Required,
        ..Policy::default()
    };
    assert_eq!(
        validate(&unbound, &iss.verifier, None, &required, &ok_auth, now)
            .unwrap_err()
            .step(),
        Step::Bind
    );
}

#[test]
fn body_errors_are_reported_as_the_body_step() {
    let iss = issuer();
    let tok = iss.signer.sign_pki(b"not json at all").unwrap();
    let err = validate(
        &tok,
        &iss.verifier,
        None,
        &Policy::default(),
        &no_auth(),
        OffsetDateTime::now_utc(),
    )
    .unwrap_err();
    assert_eq!(err.step(), Step::Body);
}
