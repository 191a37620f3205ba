//! Every upstream signed file against every upstream cert set, checked against EXPECTED.json.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use kstoken::token_text::hash_hex;
use kstoken::token_text::{cms_to_token, token_to_cms};
use kstoken::{HashAlgorithm, Signer, Verifier};
use serde_json::Value;

/// The fixed test clock (`docs/reference-behaviour.md#test-clock`): 2030-01-01T00:00:00Z.
const CLOCK: i64 = 1_893_456_000;

const CERT_SETS: [&str; 3] = [
    "keystoneclient/5.5.0",
    "keystoneclient/6.0.0",
    "keystonemiddleware/5.3.0",
];

fn vectors() -> PathBuf {
    std::env::var_os("KSTOKEN_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"))
}

fn read(rel: &str) -> Vec<u8> {
    let path = vectors().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected() -> BTreeMap<String, Value> {
    let v: Value = serde_json::from_slice(&read("EXPECTED.json")).unwrap();
    v["files"]
        .as_object()
        .unwrap()
        .clone()
        .into_iter()
        .collect()
}

fn verifier(set: &str) -> Verifier {
    Verifier::new(
        &read(&format!("{set}/examples/pki/certs/signing_cert.pem")),
        &read(&format!("{set}/examples/pki/certs/cacert.pem")),
    )
    .unwrap()
}

fn signer(set: &str, digest: &str) -> Signer {
    Signer::new(
        &read(&format!("{set}/examples/pki/certs/signing_cert.pem")),
        &read(&format!("{set}/examples/pki/private/signing_key.pem")),
    )
    .unwrap()
    .with_digest(digest.parse().unwrap())
    .unwrap()
}

/// The on-the-wire token of a vector file, as upstream's test fixtures build it.
fn wire_token(file: &str, form: &str) -> String {
    let text = String::from_utf8(read(file)).unwrap();
    match form {
        "pki" => cms_to_token(&text),
        "pkiz" => text,
        other => panic!("unknown form {other}"),
    }
}

#[test]
fn every_file_against_every_cert_set() {
    let verifiers: Vec<(&str, Verifier)> = CERT_SETS.iter().map(|s| (*s, verifier(s))).collect();
    let mut checked = 0;
    for (file, exp) in expected() {
        let form = exp["form"].as_str().unwrap();
        let token = wire_token(&file, form);
        assert_eq!(
            token.len() as u64,
            exp["token_len"].as_u64().unwrap(),
            "{file}"
        );
        assert_eq!(
            hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap(),
            exp["token_md5"],
            "{file}"
        );
        assert_eq!(
            hash_hex(token.as_bytes(), HashAlgorithm::Sha256).unwrap(),
            exp["token_sha256"],
            "{file}"
        );
        let verifies_with: Vec<&str> = exp["verifies_with"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for (set, verifier) in &verifiers {
            let outcome = verifier.verify_at(token.as_bytes(), CLOCK);
            if verifies_with.contains(set) {
                let content = outcome.unwrap_or_else(|e| panic!("{file} with {set}: {e}"));
                assert_eq!(content.len() as u64, exp["content_len"].as_u64().unwrap());
                assert_eq!(
                    hash_hex(&content, HashAlgorithm::Sha256).unwrap(),
                    exp["content_sha256"]
                );
                assert_eq!(
                    content.windows(2).any(|w| w == b"\r\n"),
                    exp["content_has_crlf"]
                );
            } else {
                let err = outcome.expect_err(&format!("{file} must not verify with {set}"));
                assert!(err.verify_failure().is_some(), "{file} with {set}: {err}");
            }
            checked += 1;
        }
        // The PEM form of the token verifies the same way.
        if form == "pki" {
            let pem = token_to_cms(&token);
            assert_eq!(
                pem.as_bytes(),
                read(&file),
                "token_to_cms(cms_to_token(pem)) == pem"
            );
            let (set, v) = &verifiers[0];
            assert_eq!(
                v.verify_at(pem.as_bytes(), CLOCK).is_ok(),
                verifies_with.contains(set),
                "{file} as PEM"
            );
        }
    }
    assert_eq!(checked, 42 * 3);
}

#[test]
fn stale_pkiz_files_fail_at_the_signature() {
    let v = verifier("keystoneclient/6.0.0");
    let token = read("keystoneclient/6.0.0/examples/pki/cms/auth_token_scoped.pkiz");
    let err = v.verify_at(&token, CLOCK).unwrap_err();
    assert_eq!(
        err.verify_failure(),
        Some(kstoken::VerifyFailure::BadSignature)
    );
}

#[test]
fn resigning_reproduces_every_file_byte_for_byte() {
    let mut reproduced = 0;
    for (file, exp) in expected() {
        let form = exp["form"].as_str().unwrap();
        let set = exp["verifies_with"][0].as_str().unwrap();
        let digest = exp["cms_digest"].as_str().unwrap();
        let original = read(&file);
        let token = wire_token(&file, form);
        let content = verifier(set).verify_at(token.as_bytes(), CLOCK).unwrap();
        let signer = signer(set, digest);
        match form {
            "pki" => {
                assert_eq!(
                    signer.sign_pem(&content).unwrap().as_bytes(),
                    original,
                    "{file}"
                );
                assert_eq!(signer.sign_pki(&content).unwrap(), token, "{file}");
            }
            _ => assert_eq!(
                signer.sign_pkiz(&content).unwrap().as_bytes(),
                original,
                "{file}"
            ),
        }
        reproduced += 1;
    }
    assert_eq!(reproduced, 42);
}

#[test]
fn expiry_of_the_upstream_certificates() {
    let v = verifier("keystoneclient/6.0.0");
    let token = wire_token(
        "keystoneclient/6.0.0/examples/pki/cms/auth_token_scoped.pem",
        "pki",
    );
    let before = v.verify_at(token.as_bytes(), 1_600_000_000).unwrap_err();
    assert_eq!(
        before.verify_failure(),
        Some(kstoken::VerifyFailure::CertificateNotYetValid)
    );
    let after = v.verify_at(token.as_bytes(), 3_500_000_000).unwrap_err();
    assert_eq!(
        after.verify_failure(),
        Some(kstoken::VerifyFailure::CertificateExpired)
    );
    // The cached verdict does not leak outside its window, in either direction.
    assert!(v.verify_at(token.as_bytes(), CLOCK).is_ok());
    assert!(v.verify_at(token.as_bytes(), 3_500_000_000).is_err());
    assert!(v.verify_at(token.as_bytes(), CLOCK).is_ok());
    assert!(v.verify_at(token.as_bytes(), 1_600_000_000).is_err());
}
