//! The rules every entry point shares: the whitespace around a token and the range of the clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use kstoken::body::bind::AuthContext;
use kstoken::pki_setup::{generate, GeneratedPki, PkiOptions};
use kstoken::revocation::{self, RevokedEntry};
use kstoken::token_text::{hash_token, hash_token_all, token_cache_keys};
use kstoken::{
    detect, token_text, validate, Error, HashAlgorithm, Policy, RevocationList, Signer, TokenForm,
    ValidateError, Verifier,
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
                token_text::decode(text.as_bytes(), verifier.limits())
                    .unwrap()
                    .der,
                token_text::decode(token.as_bytes(), verifier.limits())
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
