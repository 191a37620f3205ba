//! `Verifier::rotate`: a new signing certificate is taken in only under the CA already trusted.
//! Whoever answers for keystone's certificate endpoint (plain HTTP, a man in the middle) must not be
//! able to choose what the verifier trusts: a rotation keeps the CA bundle, and a rebuilt PKI (a new
//! CA with keystone's default subject and a signing certificate with serial 1, the same issuer name
//! and serial as the old one) is refused with a message saying what to do.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use kstoken::{CmsProfile, Error, LimitKind, Limits, Signer, Verifier, VerifyFailure};
use kstoken_testkit::{keystone_pki, openssl_time, unix_now, CertSpec, Workdir};

const BODY: &[u8] = br#"{"token": {"expires_at": "2099-01-01T00:00:00Z"}}"#;
const DAY: i64 = 86_400;

fn token(cert: &[u8], key: &[u8]) -> String {
    Signer::new(cert, key).unwrap().sign_pki(BODY).unwrap()
}

/// A second signing certificate from the same CA, as keystone's operator makes one on rotation.
fn rotated(
    dir: &Workdir,
    ca: &kstoken_testkit::Issued,
    name: &str,
    spec: CertSpec,
) -> kstoken_testkit::Issued {
    dir.issue(name, &spec, ca)
}

#[test]
fn a_new_signing_certificate_under_the_trusted_ca_is_a_rotation() {
    let dir = Workdir::new();
    let (ca, old) = keystone_pki(&dir, 2048);
    let new = rotated(
        &dir,
        &ca,
        "new",
        CertSpec::with_subject("/CN=keystone signing 2"),
    );
    let limits = Limits {
        max_token_len: 200_000,
        ..Limits::default()
    };
    let verifier = Verifier::new(&old.cert_pem, &ca.cert_pem)
        .unwrap()
        .with_limits(limits)
        .with_profile(CmsProfile::Lenient);
    let new_token = token(&new.cert_pem, &new.key_pem);
    assert_eq!(
        verifier
            .verify(new_token.as_bytes())
            .unwrap_err()
            .verify_failure(),
        Some(VerifyFailure::SignerNotFound)
    );
    let now = unix_now();
    let rotated = verifier.rotate(&new.cert_pem, now).unwrap();
    assert_eq!(rotated.verify_at(new_token.as_bytes(), now).unwrap(), BODY);
    // The new bundle replaces the old one; limits and profile are kept.
    assert_eq!(
        rotated
            .verify_at(token(&old.cert_pem, &old.key_pem).as_bytes(), now)
            .unwrap_err()
            .verify_failure(),
        Some(VerifyFailure::SignerNotFound)
    );
    assert_eq!(*rotated.limits(), limits);
    assert_eq!(rotated.profile(), CmsProfile::Lenient);
    // A bundle of two certificates of the same CA is accepted as a whole.
    let both: Vec<u8> = [new.cert_pem.clone(), old.cert_pem.clone()].concat();
    let rotated = verifier.rotate(&both, now).unwrap();
    assert!(rotated
        .verify_at(token(&old.cert_pem, &old.key_pem).as_bytes(), now)
        .is_ok());
}

#[test]
fn a_rebuilt_pki_is_not_a_rotation() {
    // keystone's pki_setup run again: a new CA with the same default subject, a signing certificate
    // with serial 1 and the same issuer name, so a token names the same signer as before.
    let first = Workdir::new();
    let (ca, old) = keystone_pki(&first, 2048);
    let second = Workdir::new();
    let (new_ca, new) = keystone_pki(&second, 2048);
    let verifier = Verifier::new(&old.cert_pem, &ca.cert_pem).unwrap();
    let new_token = token(&new.cert_pem, &new.key_pem);
    // The same issuer and serial: the old certificate is found and the signature does not match.
    assert_eq!(
        verifier
            .verify(new_token.as_bytes())
            .unwrap_err()
            .verify_failure(),
        Some(VerifyFailure::BadSignature)
    );
    let err = verifier.rotate(&new.cert_pem, unix_now()).unwrap_err();
    let Error::CertificateConfig(message) = &err else {
        panic!("not a certificate configuration error: {err:?}");
    };
    assert!(
        message.contains("does not chain to the trusted CA"),
        "{message}"
    );
    assert!(message.contains("serial 01"), "{message}");
    assert!(message.contains("CN=www.example.com"), "{message}");
    assert!(
        message.contains("install it as the CA bundle"),
        "the message says what to do: {message}"
    );
    // The operator's way: the new CA, a new verifier.
    let replaced = Verifier::new(&new.cert_pem, &new_ca.cert_pem).unwrap();
    assert_eq!(replaced.verify(new_token.as_bytes()).unwrap(), BODY);
    // One untrusted certificate in the bundle refuses the whole bundle.
    let mixed: Vec<u8> = [old.cert_pem.clone(), new.cert_pem.clone()].concat();
    let err = verifier.rotate(&mixed, unix_now()).unwrap_err();
    assert!(err.to_string().contains("certificate 2 of 2"), "{err}");
}

#[test]
fn a_signing_certificate_must_be_valid_at_the_time_given() {
    let dir = Workdir::new();
    let (ca, old) = keystone_pki(&dir, 2048);
    let now = unix_now();
    let later = rotated(
        &dir,
        &ca,
        "later",
        CertSpec {
            not_before: Some(openssl_time(now + 10 * DAY)),
            not_after: Some(openssl_time(now + 400 * DAY)),
            ..CertSpec::with_subject("/CN=not yet")
        },
    );
    let verifier = Verifier::new(&old.cert_pem, &ca.cert_pem).unwrap();
    let err = verifier.rotate(&later.cert_pem, now).unwrap_err();
    assert!(
        err.to_string().contains("certificate is not yet valid"),
        "{err}"
    );
    assert!(verifier.rotate(&later.cert_pem, now + 11 * DAY).is_ok());
}

#[test]
fn bad_input_is_a_typed_error() {
    let dir = Workdir::new();
    let (ca, old) = keystone_pki(&dir, 2048);
    let verifier = Verifier::new(&old.cert_pem, &ca.cert_pem)
        .unwrap()
        .with_limits(Limits {
            max_credential_len: 100,
            ..Limits::default()
        });
    assert_eq!(
        verifier.rotate(&old.cert_pem, unix_now()).unwrap_err(),
        Error::LimitExceeded {
            what: LimitKind::CredentialLength,
            limit: 100
        }
    );
    let verifier = Verifier::new(&old.cert_pem, &ca.cert_pem).unwrap();
    assert!(matches!(
        verifier.rotate(b"not a certificate", unix_now()),
        Err(Error::CertificateConfig(_))
    ));
    assert!(matches!(
        verifier.rotate(&old.cert_pem, i64::MAX),
        Err(Error::InvalidArgument(_))
    ));
}
