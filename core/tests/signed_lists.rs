//! Signed revocation lists must look like revocation lists: any other document signed with the
//! same key (a user's PKI token above all) verifies too, and must not read as an empty list.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;

use kstoken::revocation::{self, RevokedEntry};
use kstoken::{validate, Error, LimitKind, Limits, Policy, RevocationList, Signer, Step, Verifier};
use kstoken_testkit::{keystone_pki, unix_now, Workdir};

fn vectors() -> PathBuf {
    std::env::var_os("KSTOKEN_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"))
}

/// `{"signed": "<pem>"}` as keystone's response writes it.
fn response(pem: &str) -> String {
    serde_json::json!({ "signed": pem }).to_string()
}

#[test]
fn a_replayed_token_is_not_an_empty_list() {
    let dir = Workdir::new();
    let (ca, files) = keystone_pki(&dir, 2048);
    let signer = Signer::new(&files.cert_pem, &files.key_pem).unwrap();
    let verifier = Verifier::new(&files.cert_pem, &ca.cert_pem).unwrap();
    let now = unix_now();
    let audit = "AUDIT-revoked-token";
    let body = format!(
        r#"{{"token":{{"methods":["password"],"user":{{"id":"u1","name":"admin"}},"audit_ids":["{audit}"],"expires_at":"2099-01-01T00:00:00.000000Z"}}}}"#
    );
    let revoked = signer.sign_pki(body.as_bytes()).unwrap();

    // The real list revokes the token by audit id.
    let entries = [RevokedEntry {
        id: None,
        expires: Some("2099-01-01T00:00:00Z".into()),
        audit_id: Some(audit.into()),
    }];
    let list_response = revocation::sign(&signer, &entries).unwrap();
    let list = RevocationList::from_signed(list_response.as_bytes(), &verifier, now).unwrap();
    let auth = kstoken::body::bind::AuthContext {
        auth_type: None,
        remote_user: None,
        client_cert: None,
    };
    let outcome = validate(
        &revoked,
        &verifier,
        Some(&list),
        &Policy::default(),
        &auth,
        now,
    );
    assert_eq!(outcome.unwrap_err().step(), Some(Step::RevokedByAuditId));

    // An attacker in the middle answers the list request with documents the key signed: the
    // token itself (as PEM, as keystone's response shape), another token body, any JSON.
    let token_pem = signer.sign_pem(body.as_bytes()).unwrap();
    let replays = [
        ("the token's CMS PEM", token_pem.clone()),
        ("the token in a list response", response(&token_pem)),
        (
            "a v2 token body",
            response(
                &signer
                    .sign_pem(br#"{"access": {"token": {"id": "x"}}}"#)
                    .unwrap(),
            ),
        ),
        (
            "an empty object",
            response(&signer.sign_pem(b"{}").unwrap()),
        ),
        (
            "a list with another member",
            response(&signer.sign_pem(br#"{"revoked": [], "token": {}}"#).unwrap()),
        ),
        (
            "entries that are not keystone's",
            response(
                &signer
                    .sign_pem(br#"{"revoked": [{"id": "h", "user": "u1"}]}"#)
                    .unwrap(),
            ),
        ),
    ];
    for (case, replay) in &replays {
        match RevocationList::from_signed(replay.as_bytes(), &verifier, now) {
            Err(Error::Malformed(m)) => assert!(m.contains("not a revocation list"), "{case}: {m}"),
            other => panic!("{case}: {other:?}"),
        }
    }
    // What keystone signs for "nothing revoked" is still an empty list.
    let empty = RevocationList::from_signed(
        revocation::sign(&signer, &[]).unwrap().as_bytes(),
        &verifier,
        now,
    )
    .unwrap();
    assert!(empty.is_empty());
}

#[test]
fn upstream_lists_still_parse() {
    let at = 1_893_456_000; // 2030-01-01, the vectors' clock.
    let mut parsed = 0;
    for set in ["keystoneclient/5.5.0", "keystonemiddleware/5.3.0"] {
        let read = |rel: &str| std::fs::read(vectors().join(set).join(rel)).unwrap();
        let verifier = Verifier::new(
            &read("examples/pki/certs/signing_cert.pem"),
            &read("examples/pki/certs/cacert.pem"),
        )
        .unwrap();
        for name in ["revocation_list.pem", "revocation_list.pkiz"] {
            let list = RevocationList::from_signed(
                &read(&format!("examples/pki/cms/{name}")),
                &verifier,
                at,
            )
            .unwrap();
            assert_eq!(list.len(), 4, "{set}/{name}");
            parsed += 1;
        }
        let json = read("examples/pki/cms/revocation_list.json");
        assert_eq!(
            RevocationList::from_json(&json, &Default::default())
                .unwrap()
                .len(),
            4
        );
    }
    for name in [
        "get-pki-revoked-response.json",
        "revoked-tokens-response.json",
    ] {
        let body: serde_json::Value = serde_json::from_slice(
            &std::fs::read(vectors().join("keystone/ocata-eol/api-ref").join(name)).unwrap(),
        )
        .unwrap();
        let pem = body["signed"].as_str().unwrap();
        let der =
            kstoken::token_text::pem::pem_to_der(pem.as_bytes(), &Default::default()).unwrap();
        let content = kstoken::cms::parse(&der).unwrap().content;
        assert_eq!(
            RevocationList::from_json(&content, &Default::default())
                .unwrap()
                .len(),
            1,
            "{name}"
        );
        parsed += 1;
    }
    assert_eq!(parsed, 6);
}

/// A list of a few thousand entries is over a megabyte: it has its own limit (64 MiB by default),
/// not a token's, and a list over it is refused naming that limit.
#[test]
fn large_lists_have_their_own_limit() {
    let dir = Workdir::new();
    let (ca, files) = keystone_pki(&dir, 2048);
    // keystone signs what it has: no limit on its side.
    let signer = Signer::new_with_limits(
        &files.cert_pem,
        &files.key_pem,
        Limits {
            max_content_len: usize::MAX,
            ..Limits::default()
        },
    )
    .unwrap();
    let verifier = Verifier::new(&files.cert_pem, &ca.cert_pem).unwrap();
    let entries: Vec<RevokedEntry> = (0..14_000)
        .map(|i| RevokedEntry {
            id: Some(format!("{i:032x}")),
            expires: Some("2099-01-01T00:00:00Z".into()),
            audit_id: Some(format!("audit-{i:016}")),
        })
        .collect();
    let body = revocation::sign(&signer, &entries).unwrap();
    assert!(body.len() > 2 * Limits::DEFAULT_SIZE, "{}", body.len());
    let now = unix_now();
    let list = RevocationList::from_signed(body.as_bytes(), &verifier, now).unwrap();
    assert_eq!(list.len(), 14_000);
    assert!(list.contains_hash(&format!("{:032x}", 13_999)));
    // The CMS PEM alone, too.
    let pem: serde_json::Value = serde_json::from_str(&body).unwrap();
    let pem = pem["signed"].as_str().unwrap();
    assert_eq!(
        RevocationList::from_signed(pem.as_bytes(), &verifier, now)
            .unwrap()
            .len(),
        14_000
    );
    // A token's limit still holds for tokens.
    assert_eq!(
        verifier
            .verify_at(pem.as_bytes(), now)
            .unwrap_err()
            .limit_kind(),
        Some(LimitKind::TokenLength)
    );
    let small = Verifier::new(&files.cert_pem, &ca.cert_pem)
        .unwrap()
        .with_limits(Limits {
            max_revocation_list_len: body.len() - 1,
            ..Limits::default()
        });
    let err = RevocationList::from_signed(body.as_bytes(), &small, now).unwrap_err();
    assert_eq!(
        err,
        Error::LimitExceeded {
            what: LimitKind::RevocationListLength,
            limit: body.len() - 1
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "revocation list length exceeds the limit of {}",
            body.len() - 1
        )
    );
}
