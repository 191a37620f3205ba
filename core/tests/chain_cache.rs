//! The cached chain verdict must never depend on what the verifier saw before: with two CA
//! certificates of the same name (a re-keyed CA during rotation), OpenSSL's choice of issuer depends
//! on which of them is valid at the verification time. Every verdict of a long-lived verifier, over
//! a sequence of clocks, must equal `openssl cms -verify -attime` and a fresh verifier's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use kstoken::Verifier;
use kstoken_testkit::{cms_sign, cms_verify, openssl_time, unix_now, CertSpec, Issued, Workdir};

const DAY: i64 = 86_400;

#[test]
fn same_name_cas_give_openssl_verdicts_whatever_the_history() {
    let dir = Workdir::new();
    let now = unix_now();
    let name = "/O=kstoken/CN=Same Root";
    // A signs the leaf; B has the same name and another key, and only becomes valid later.
    let a = dir.self_signed(
        "a",
        &CertSpec {
            not_before: Some(openssl_time(now - 10 * DAY)),
            not_after: Some(openssl_time(now + 60 * DAY)),
            ..CertSpec::ca_root(name)
        },
    );
    let b = dir.self_signed(
        "b",
        &CertSpec {
            not_before: Some(openssl_time(now + 5 * DAY)),
            not_after: Some(openssl_time(now + 90 * DAY)),
            ..CertSpec::ca_root(name)
        },
    );
    // No extensions, so no authority key identifier: OpenSSL picks the issuer by name and time.
    let leaf = dir.issue(
        "leaf",
        &CertSpec {
            not_before: Some(openssl_time(now - 5 * DAY)),
            not_after: Some(openssl_time(now + 120 * DAY)),
            ..CertSpec::with_subject("/CN=leaf without AKID")
        },
        &a,
    );
    let token = cms_sign(
        &leaf.cert_path,
        &leaf.key_path,
        b"{\"token\": {}}",
        "sha256",
    );
    assert!(token.ok(), "{}", token.stderr);
    // t1: only A valid. t2: both valid (OpenSSL takes the first of the name). t3: only B valid.
    let (t1, t2, t3) = (now, now + 10 * DAY, now + 70 * DAY);
    let histories: [&[i64]; 5] = [
        &[t1, t2],
        &[t2, t1, t2],
        &[t1, t1 + 1, t2, t3, t1],
        &[t3, t2, t1],
        &[t1, now + 5 * DAY - 1, now + 5 * DAY, now + 5 * DAY + 1],
    ];
    let mut disagreements_of_a_cache_by_chain_window = 0;
    for (order, bundle) in [("[B, A]", [&b, &a]), ("[A, B]", [&a, &b])] {
        let ca_pem: Vec<u8> = bundle.iter().flat_map(|c| c.cert_pem.clone()).collect();
        let ca_path = dir.write("bundle.pem", &ca_pem);
        let openssl_accepts =
            |at: i64| cms_verify(&token.stdout, &leaf.cert_path, &ca_path, Some(at)).ok();
        let fresh = |at: i64| {
            Verifier::new(&leaf.cert_pem, &ca_pem)
                .unwrap()
                .verify_at(&token.stdout, at)
                .is_ok()
        };
        for history in histories {
            let long_lived = Verifier::new(&leaf.cert_pem, &ca_pem).unwrap();
            let mut seen_accept = false;
            for &at in history {
                let expected = openssl_accepts(at);
                assert_eq!(fresh(at), expected, "{order}: fresh verifier at {at}");
                let ours = long_lived.verify_at(&token.stdout, at);
                assert_eq!(
                    ours.is_ok(),
                    expected,
                    "{order}, history {history:?}: verifier at {at} says {ours:?}"
                );
                // What a cache keyed on the chain's own validity window got wrong: A's chain is
                // valid at t1 and t2, but at t2 OpenSSL builds the chain through B.
                if seen_accept && !expected && at < now + 60 * DAY {
                    disagreements_of_a_cache_by_chain_window += 1;
                }
                seen_accept |= expected;
            }
        }
    }
    // The scenario of the issue happens: in some order OpenSSL accepts at t1 and rejects at t2.
    assert!(disagreements_of_a_cache_by_chain_window > 0);
}

#[test]
fn unambiguous_bundle_verdicts_follow_the_clock() {
    let dir = Workdir::new();
    let now = unix_now();
    let root = dir.self_signed("root", &CertSpec::ca_root("/CN=Only Root"));
    let other: Issued = dir.self_signed(
        "other",
        &CertSpec {
            not_before: Some(openssl_time(now + 3 * DAY)),
            ..CertSpec::ca_root("/CN=Other Root")
        },
    );
    let leaf = dir.issue(
        "leaf",
        &CertSpec {
            ski_aki: true,
            not_before: Some(openssl_time(now - DAY)),
            not_after: Some(openssl_time(now + 30 * DAY)),
            ..CertSpec::with_subject("/CN=leaf")
        },
        &root,
    );
    let token = cms_sign(&leaf.cert_path, &leaf.key_path, b"{}", "sha256");
    let ca_pem = [root.cert_pem.clone(), other.cert_pem.clone()].concat();
    let ca_path = dir.write("bundle.pem", &ca_pem);
    let v = Verifier::new(&leaf.cert_pem, &ca_pem).unwrap();
    for at in [
        now,
        now + 3 * DAY,
        now + 29 * DAY,
        now + 31 * DAY,
        now,
        now - 2 * DAY,
    ] {
        let expected = cms_verify(&token.stdout, &leaf.cert_path, &ca_path, Some(at)).ok();
        assert_eq!(v.verify_at(&token.stdout, at).is_ok(), expected, "at {at}");
    }
}
