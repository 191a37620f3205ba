//! The rules every entry point shares: the whitespace around a token, the range of the clock, and
//! the limits on what a verifier or signer is built from and signs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use kstoken::bind::AuthContext;
use kstoken::hash::{hash_token, hash_token_all, token_cache_keys};
use kstoken::pki_setup::{generate, GeneratedPki, PkiOptions};
use kstoken::revocation::{self, RevokedEntry};
use kstoken::{
    detect, form, validate, Error, HashAlgorithm, LimitKind, Limits, Policy, RevocationList,
    Signer, TokenForm, ValidateError, Verifier,
};

const BODY: &[u8] = br#"{"token":{"expires_at":"2099-01-01T00:00:00Z","audit_ids":["A1"]}}"#;

fn pki() -> GeneratedPki {
    generate(&PkiOptions {
        key_bits: 1024,
        ..PkiOptions::default()
    })
    .unwrap()
}

fn padded(token: &str) -> Vec<String> {
    vec![
        format!(" {token}"),
        format!("{token}\n"),
        format!("\t{token}\r\n"),
        format!(" \r\n\t{token} \t\n"),
    ]
}

#[test]
fn surrounding_whitespace_is_ignored_by_every_entry_point() {
    let pki = pki();
    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem).unwrap();
    let verifier = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem).unwrap();
    let now = kstoken::unix_now();
    for token in [
        signer.sign_pki(BODY).unwrap(),
        signer.sign_pkiz(BODY).unwrap(),
    ] {
        let algorithms = [HashAlgorithm::Md5, HashAlgorithm::Sha256];
        let hashes = hash_token_all(&token, &algorithms).unwrap().unwrap();
        // The revocation entry keystone made for the bare token catches the padded one too.
        let list = RevocationList::from_entries(vec![RevokedEntry {
            id: Some(hashes[0].clone()),
            expires: None,
            audit_id: None,
        }])
        .unwrap();
        for text in padded(&token) {
            assert_eq!(verifier.verify(text.as_bytes()).unwrap(), BODY, "{text:?}");
            assert_eq!(detect(&text), detect(&token), "{text:?}");
            assert_eq!(
                form::decode(text.as_bytes(), verifier.limits())
                    .unwrap()
                    .der,
                form::decode(token.as_bytes(), verifier.limits())
                    .unwrap()
                    .der
            );
            assert_eq!(hash_token_all(&text, &algorithms).unwrap().unwrap(), hashes);
            assert_eq!(
                hash_token(&text, HashAlgorithm::Md5).unwrap().as_ref(),
                Some(&hashes[0])
            );
            assert_eq!(token_cache_keys(&text, &algorithms).unwrap(), hashes);
            let policy = Policy::default();
            let ok = validate(
                &text,
                &verifier,
                None,
                &policy,
                &AuthContext::default(),
                now,
            )
            .unwrap();
            assert_eq!(ok.hashes, hashes[..1]);
            let revoked = validate(
                &text,
                &verifier,
                Some(&list),
                &policy,
                &AuthContext::default(),
                now,
            );
            assert_eq!(
                revoked.unwrap_err().step(),
                Some(kstoken::Step::RevokedByHash),
                "{text:?}"
            );
        }
        // Whitespace inside a token is not surrounding whitespace.
        let split = format!("{}\n{}", &token[..20], &token[20..]);
        assert!(verifier.verify(split.as_bytes()).is_err());
    }
    // A signed revocation list is read with the same rule, inside its JSON and as bare PEM.
    let signed = revocation::sign(&signer, &[]).unwrap();
    let pem = signer.sign_pem(br#"{"revoked": []}"#).unwrap();
    for text in [format!("\n{signed}\n"), format!("\r\n{pem}\t")] {
        assert!(RevocationList::from_signed(text.as_bytes(), &verifier, now).is_ok());
    }
    assert_eq!(detect(" \n"), TokenForm::Other);
}

#[test]
fn an_out_of_range_clock_is_an_invalid_argument_everywhere() {
    let pki = pki();
    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem).unwrap();
    let verifier = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem).unwrap();
    let token = signer.sign_pki(BODY).unwrap();
    let der = signer.sign_der(BODY).unwrap();
    let list = revocation::sign(&signer, &[]).unwrap();
    let year_10000 = 253_402_300_800;
    for at in [i64::MIN, -62_135_596_801, year_10000, i64::MAX] {
        for result in [
            verifier.verify_at(token.as_bytes(), at),
            verifier.verify_der_at(&der, at),
            // Even for input that would fail otherwise: the clock is checked first.
            verifier.verify_at(b"garbage", at),
        ] {
            assert!(
                matches!(result, Err(Error::InvalidArgument(_))),
                "{at}: {result:?}"
            );
        }
        let from_list = RevocationList::from_signed(list.as_bytes(), &verifier, at);
        assert!(matches!(from_list, Err(Error::InvalidArgument(_))), "{at}");
        for text in [token.as_str(), "uuid-token", "MIIgarbage"] {
            let result = validate(
                text,
                &verifier,
                None,
                &Policy::default(),
                &AuthContext::default(),
                at,
            );
            match result {
                Err(ValidateError::InvalidArgument(Error::InvalidArgument(_))) => {}
                other => panic!("{at} {text:.10}: {other:?}"),
            }
        }
    }
    // The extremes of the range are valid clocks (the certificates are simply not valid then).
    for at in [-62_135_596_800, year_10000 - 1] {
        assert!(matches!(
            verifier.verify_at(token.as_bytes(), at),
            Err(Error::Verification { .. })
        ));
    }
}

fn limit(result: Result<impl std::fmt::Debug, Error>) -> LimitKind {
    match result {
        Err(Error::LimitExceeded { what, .. }) => what,
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn credentials_and_content_have_limits_checked_before_parsing() {
    let pki = pki();
    let (cert, key, ca) = (
        &pki.signing_cert_pem,
        &pki.signing_key_pem,
        &pki.ca_cert_pem,
    );
    let longest = cert.len().max(key.len()).max(ca.len());
    let at = Limits {
        max_credential_len: longest,
        max_content_len: BODY.len(),
        ..Limits::default()
    };
    let signer = Signer::new_with_limits(cert, key, at).unwrap();
    assert_eq!(signer.limits(), &at);
    assert!(signer.sign_pki(BODY).is_ok());
    let over = vec![b'x'; BODY.len() + 1];
    assert_eq!(limit(signer.sign_der(&over)), LimitKind::ContentLength);
    assert_eq!(limit(signer.sign_pki(&over)), LimitKind::ContentLength);
    assert_eq!(limit(signer.sign_pkiz(&over)), LimitKind::ContentLength);
    assert_eq!(limit(signer.sign_pem(&over)), LimitKind::ContentLength);
    let verifier = Verifier::new_with_limits(cert, ca, at).unwrap();
    assert_eq!(verifier.limits(), &at);
    assert_eq!(
        verifier
            .verify(signer.sign_pki(BODY).unwrap().as_bytes())
            .unwrap(),
        BODY
    );

    let under = Limits {
        max_credential_len: longest - 1,
        ..at
    };
    let longest_is = |bytes: &Vec<u8>| bytes.len() == longest;
    if longest_is(cert) || longest_is(key) {
        assert_eq!(
            limit(Signer::new_with_limits(cert, key, under)),
            LimitKind::CredentialLength
        );
    }
    if longest_is(cert) || longest_is(ca) {
        assert_eq!(
            limit(Verifier::new_with_limits(cert, ca, under)),
            LimitKind::CredentialLength
        );
    }
    // Garbage over the limit is refused as too long, not parsed; under it, as unreadable.
    let junk = vec![b'-'; 4096];
    let small = Limits {
        max_credential_len: 4095,
        ..Limits::default()
    };
    assert_eq!(
        limit(Verifier::new_with_limits(&junk, ca, small)),
        LimitKind::CredentialLength
    );
    assert_eq!(
        limit(Verifier::new_with_limits(cert, &junk, small)),
        LimitKind::CredentialLength
    );
    assert_eq!(
        limit(Signer::new_with_limits(cert, &junk, small)),
        LimitKind::CredentialLength
    );
    assert!(matches!(
        Verifier::new(&junk, ca),
        Err(Error::CertificateConfig(_))
    ));
    // The defaults: credentials up to 16 MiB, content up to 1 MiB.
    let defaults = Limits::default();
    assert_eq!(defaults.max_credential_len, 16 << 20);
    let signer = Signer::new(cert, key).unwrap();
    assert_eq!(
        limit(signer.sign_pki(&vec![b'x'; defaults.max_content_len + 1])),
        LimitKind::ContentLength
    );
}
