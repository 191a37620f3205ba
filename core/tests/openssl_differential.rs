//! Differential tests against the `openssl cms` command line tool, the reference's oracle.
//!
//! A matrix of generated PKIs (roots, intermediates, RSA 2048/3072/4096 and EC P-256/P-384
//! signers, v1 and v3 certificates, key-usage and EKU variants, expired and not-yet-valid
//! certificates, wrong CAs) and of contents (line ends, non-ASCII, NUL bytes, long lines) must get
//! the same verdict, the same reason and the same content from kstoken as from openssl, and our
//! RSA signatures must equal openssl's byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use kstoken::token_text::pem::{der_to_pem, pem_to_der};
use kstoken::{ContentMode, Error, HashAlgorithm, Limits, Signer, Verifier, VerifyFailure};
use kstoken_testkit::{
    cms_sign, cms_sign_binary, cms_verify, keystone_pki, openssl_time, unix_now, verify_reason,
    CertSpec, Issued, KeySpec, Workdir,
};

/// Bodies that exercise the text canonicalisation and byte handling.
fn bodies() -> Vec<Vec<u8>> {
    let mut long_line = vec![b'x'; 1022];
    long_line.extend_from_slice(b"\r\n");
    long_line.extend(vec![b'y'; 3000]);
    vec![
        br#"{"token":{"expires_at":"2030-01-01T00:00:00.000000Z","methods":["password"]}}"#
            .to_vec(),
        b"a\nb\n".to_vec(),
        b"a\r\nb\r\r\n".to_vec(),
        b"a\rb\r".to_vec(),
        b"a  \nb ".to_vec(),
        Vec::new(),
        "h\u{e9}llo \u{2603} \u{1F600}\n".as_bytes().to_vec(),
        b"a\0b\nc".to_vec(),
        long_line,
        b"\n\n\r\r\n".to_vec(),
    ]
}

/// How kstoken words a failure, in OpenSSL's words where it has them.
fn our_reason(err: &Error) -> String {
    match err {
        Error::Verification { reason, detail } => match reason {
            VerifyFailure::UntrustedChain
            | VerifyFailure::CertificateExpired
            | VerifyFailure::CertificateNotYetValid
            | VerifyFailure::UnsuitablePurpose => detail.clone(),
            other => other.openssl_reason().to_owned(),
        },
        other => format!("{other}"),
    }
}

/// A chain error's text comes from the linked OpenSSL. The vendored build (OpenSSL 3.6) words one
/// of them longer than the system's 3.0 CLI, the oracle; every other text is the same (README,
/// "Verdict parity with the vendored OpenSSL").
fn same_release_wording(reason: &str) -> String {
    match reason {
        "certificate is not yet valid or the system clock is incorrect" => {
            "certificate is not yet valid".to_owned()
        }
        other => other.to_owned(),
    }
}

/// One verification, by both implementations, asserted to agree.
fn assert_same_verdict(
    case: &str,
    pem: &[u8],
    signing: &Issued,
    ca_pem: &[u8],
    dir: &Workdir,
    at: i64,
) {
    let ca_path = dir.write("ca_bundle.pem", ca_pem);
    let oracle = cms_verify(pem, &signing.cert_path, &ca_path, Some(at));
    let ours = Verifier::new(&signing.cert_pem, ca_pem)
        .unwrap()
        .verify_at(pem, at);
    match (&ours, oracle.ok()) {
        (Ok(content), true) => assert_eq!(content, &oracle.stdout, "{case}: content"),
        (Err(err), false) => {
            let expected = verify_reason(&oracle.stderr).unwrap_or_default();
            if oracle.code == 4 {
                assert_eq!(
                    same_release_wording(&our_reason(err)),
                    expected,
                    "{case}: reason ({})",
                    oracle.stderr
                );
            } else {
                assert!(
                    matches!(err, Error::Malformed(_) | Error::CertificateConfig(_)),
                    "{case}: openssl exit {} but kstoken says {err}",
                    oracle.code
                );
            }
        }
        (Ok(_), false) => panic!(
            "{case}: kstoken accepted what openssl rejects: {}",
            oracle.stderr
        ),
        (Err(err), true) => panic!("{case}: kstoken rejected what openssl accepts: {err}"),
    }
}

#[test]
fn rsa_signatures_are_byte_identical_to_openssl() {
    let dir = Workdir::new();
    let (_ca, signer) = keystone_pki(&dir, 2048);
    let pkcs1 = dir.self_signed(
        "pkcs1",
        &CertSpec {
            key: KeySpec::Rsa(3072),
            pkcs1_key: true,
            ..CertSpec::ca_root("/CN=pkcs1 signer")
        },
    );
    let mut compared = 0;
    for issued in [&signer, &pkcs1] {
        for md in ["sha1", "sha256", "sha384", "sha512"] {
            let ours = Signer::new(&issued.cert_pem, &issued.key_pem)
                .unwrap()
                .with_digest(md.parse().unwrap())
                .unwrap();
            let binary = Signer::new(&issued.cert_pem, &issued.key_pem)
                .unwrap()
                .with_digest(md.parse().unwrap())
                .unwrap()
                .with_content_mode(ContentMode::Binary);
            for body in bodies() {
                let oracle = cms_sign(&issued.cert_path, &issued.key_path, &body, md);
                assert!(oracle.ok(), "{}", oracle.stderr);
                let pem = ours.sign_pem(&body).unwrap();
                assert_eq!(pem.as_bytes(), oracle.stdout, "{md} {body:?}");
                let oracle_binary = cms_sign_binary(&issued.cert_path, &issued.key_path, &body, md);
                assert_eq!(
                    binary.sign_pem(&body).unwrap().as_bytes(),
                    oracle_binary.stdout
                );
                compared += 2;
            }
        }
    }
    assert_eq!(compared, 2 * 4 * bodies().len() * 2);
}

#[test]
fn ec_signatures_verify_both_ways() {
    let dir = Workdir::new();
    let root = dir.self_signed("root", &CertSpec::ca_root("/CN=EC test root"));
    for (name, key) in [("p256", KeySpec::EcP256), ("p384", KeySpec::EcP384)] {
        for pkcs1_key in [false, true] {
            let leaf = dir.issue(
                &format!("{name}{pkcs1_key}"),
                &CertSpec {
                    key,
                    ski_aki: true,
                    pkcs1_key,
                    ..CertSpec::with_subject(&format!("/CN={name}"))
                },
                &root,
            );
            for md in ["sha256", "sha384"] {
                let signer = Signer::new(&leaf.cert_pem, &leaf.key_pem)
                    .unwrap()
                    .with_digest(md.parse().unwrap())
                    .unwrap();
                for body in bodies() {
                    let ours = signer.sign_pem(&body).unwrap();
                    assert_same_verdict(
                        &format!("{name} {md} ours"),
                        ours.as_bytes(),
                        &leaf,
                        &root.cert_pem,
                        &dir,
                        unix_now(),
                    );
                    let theirs = cms_sign(&leaf.cert_path, &leaf.key_path, &body, md);
                    assert_same_verdict(
                        &format!("{name} {md} openssl"),
                        &theirs.stdout,
                        &leaf,
                        &root.cert_pem,
                        &dir,
                        unix_now(),
                    );
                    let ok = cms_verify(ours.as_bytes(), &leaf.cert_path, &root.cert_path, None);
                    assert!(ok.ok(), "openssl verifies our EC signature: {}", ok.stderr);
                }
            }
        }
    }
}

/// A certificate matrix: (case name, signing cert, CA bundle PEM, expected to verify).
fn matrix(dir: &Workdir) -> Vec<(String, Issued, Vec<u8>)> {
    let now = unix_now();
    let day = 86_400;
    let root = dir.self_signed("root", &CertSpec::ca_root("/O=kstoken/CN=Root"));
    let other_root = dir.self_signed("other", &CertSpec::ca_root("/O=kstoken/CN=Other Root"));
    let v1_root = dir.self_signed(
        "v1root",
        &CertSpec {
            v1: true,
            ..CertSpec::with_subject("/CN=v1 root")
        },
    );
    let intermediate = dir.issue(
        "inter",
        &CertSpec::ca_root("/O=kstoken/CN=Intermediate"),
        &root,
    );
    let expired_root = dir.self_signed(
        "expiredroot",
        &CertSpec {
            not_before: Some(openssl_time(now - 20 * day)),
            not_after: Some(openssl_time(now - day)),
            ..CertSpec::ca_root("/CN=Expired root")
        },
    );
    let leaf = |name: &str, spec: CertSpec, issuer: &Issued| dir.issue(name, &spec, issuer);
    let v3 = |subject: &str| CertSpec {
        ski_aki: true,
        ..CertSpec::with_subject(subject)
    };
    let (ks_ca, ks_signer) = keystone_pki(dir, 2048);
    let mut cases = vec![
        (
            "keystone pki_setup layout".to_owned(),
            ks_signer.clone(),
            ks_ca.cert_pem.clone(),
        ),
        (
            "keystone signer, wrong CA".to_owned(),
            ks_signer,
            root.cert_pem.clone(),
        ),
    ];
    let plain = leaf("plain", v3("/CN=plain"), &root);
    cases.push(("v3 leaf".into(), plain.clone(), root.cert_pem.clone()));
    cases.push((
        "wrong CA".into(),
        plain.clone(),
        other_root.cert_pem.clone(),
    ));
    let mut both = root.cert_pem.clone();
    both.extend_from_slice(&other_root.cert_pem);
    cases.push(("CA bundle of two".into(), plain, both));
    for bits in [3072, 4096] {
        let spec = CertSpec {
            key: KeySpec::Rsa(bits),
            ..v3(&format!("/CN=rsa{bits}"))
        };
        cases.push((
            format!("RSA {bits}"),
            leaf(&format!("rsa{bits}"), spec, &root),
            root.cert_pem.clone(),
        ));
    }
    for (name, key) in [("P-256", KeySpec::EcP256), ("P-384", KeySpec::EcP384)] {
        let spec = CertSpec {
            key,
            ..v3(&format!("/CN={name}"))
        };
        cases.push((
            format!("EC {name}"),
            leaf(name, spec, &root),
            root.cert_pem.clone(),
        ));
    }
    let under_inter = leaf("underinter", v3("/CN=under intermediate"), &intermediate);
    let mut root_and_inter = root.cert_pem.clone();
    root_and_inter.extend_from_slice(&intermediate.cert_pem);
    cases.push((
        "intermediate in CA bundle".into(),
        under_inter.clone(),
        root_and_inter,
    ));
    let mut inter_in_signing = under_inter.clone();
    inter_in_signing
        .cert_pem
        .extend_from_slice(&intermediate.cert_pem);
    inter_in_signing.cert_path = dir.write("inter_in_signing.pem", &inter_in_signing.cert_pem);
    cases.push((
        "intermediate only in signing file".into(),
        inter_in_signing,
        root.cert_pem.clone(),
    ));
    cases.push((
        "intermediate alone in CA bundle".into(),
        under_inter,
        intermediate.cert_pem.clone(),
    ));
    let v1_leaf = leaf(
        "v1leaf",
        CertSpec {
            v1: true,
            ..CertSpec::with_subject("/CN=v1 leaf")
        },
        &v1_root,
    );
    cases.push((
        "v1 leaf under v1 root".into(),
        v1_leaf,
        v1_root.cert_pem.clone(),
    ));
    let v1_same_dn = leaf(
        "v1samedn",
        CertSpec {
            v1: true,
            ..CertSpec::with_subject("/O=kstoken/CN=Root")
        },
        &root,
    );
    cases.push((
        "v1 leaf with the CA's DN".into(),
        v1_same_dn,
        root.cert_pem.clone(),
    ));
    for (name, ku, eku) in [
        ("ku digitalSignature", Some("digitalSignature"), None),
        ("ku nonRepudiation", Some("nonRepudiation"), None),
        ("ku keyEncipherment only", Some("keyEncipherment"), None),
        ("eku emailProtection", None, Some("emailProtection")),
        ("eku serverAuth", None, Some("serverAuth")),
        (
            "ku and eku",
            Some("critical,digitalSignature"),
            Some("emailProtection,clientAuth"),
        ),
    ] {
        let spec = CertSpec {
            key_usage: ku.map(str::to_owned),
            ext_key_usage: eku.map(str::to_owned),
            ..v3(&format!("/CN={name}"))
        };
        cases.push((
            name.into(),
            leaf(&name.replace(' ', "_"), spec, &root),
            root.cert_pem.clone(),
        ));
    }
    let expired = CertSpec {
        not_before: Some(openssl_time(now - 10 * day)),
        not_after: Some(openssl_time(now - day)),
        ..v3("/CN=expired")
    };
    cases.push((
        "expired leaf".into(),
        leaf("expired", expired, &root),
        root.cert_pem.clone(),
    ));
    let future = CertSpec {
        not_before: Some(openssl_time(now + day)),
        not_after: Some(openssl_time(now + 10 * day)),
        ..v3("/CN=future")
    };
    cases.push((
        "not yet valid leaf".into(),
        leaf("future", future, &root),
        root.cert_pem.clone(),
    ));
    let under_expired = leaf("underexpired", v3("/CN=under expired root"), &expired_root);
    cases.push((
        "expired root".into(),
        under_expired,
        expired_root.cert_pem.clone(),
    ));
    let ns = CertSpec {
        extra_extensions: vec!["nsCertType = server".to_owned()],
        ..v3("/CN=netscape server")
    };
    cases.push((
        "nsCertType server".into(),
        leaf("ns", ns, &root),
        root.cert_pem.clone(),
    ));
    cases
}

#[test]
fn verdicts_match_openssl_across_the_certificate_matrix() {
    let dir = Workdir::new();
    let now = unix_now();
    let body = br#"{"token":{"methods":["password"],"expires_at":"2030-01-01T00:00:00Z"}}"#;
    let mut accepted = 0;
    let mut rejected = 0;
    for (case, signing, ca_pem) in matrix(&dir) {
        let signed = cms_sign(&signing.cert_path, &signing.key_path, body, "sha256");
        assert!(signed.ok(), "{case}: {}", signed.stderr);
        for (when, at) in [
            ("now", now),
            ("in 2 days", now + 2 * 86_400),
            ("in 200 years", now + 200 * 365 * 86_400),
        ] {
            let ca_path = dir.write("probe_ca.pem", &ca_pem);
            if cms_verify(&signed.stdout, &signing.cert_path, &ca_path, Some(at)).ok() {
                accepted += 1;
            } else {
                rejected += 1;
            }
            assert_same_verdict(
                &format!("{case} at {when}"),
                &signed.stdout,
                &signing,
                &ca_pem,
                &dir,
                at,
            );
        }
    }
    assert!(
        accepted >= 15 && rejected >= 20,
        "accepted {accepted}, rejected {rejected}"
    );
}

#[test]
fn tampered_truncated_and_misattributed_tokens_match_openssl() {
    let dir = Workdir::new();
    let (ca, signer) = keystone_pki(&dir, 2048);
    let other_dir = Workdir::new();
    let (_, other_signer) = keystone_pki(&other_dir, 2048);
    let now = unix_now();
    let body = b"{\"token\":{\"methods\":[\"password\"],\"user\":{\"name\":\"admin\"}}}";
    let signed = cms_sign(&signer.cert_path, &signer.key_path, body, "sha256").stdout;
    let der = pem_to_der(&signed, &Limits::default()).unwrap();
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    let at = der.windows(5).position(|w| w == b"admin").unwrap();
    for (name, index) in [
        ("content byte", at),
        ("signature byte", der.len() - 1),
        ("signature first byte", der.len() - 256),
    ] {
        let mut d = der.clone();
        d[index] ^= 0x01;
        variants.push((format!("flipped {name}"), der_to_pem(&d).into_bytes()));
    }
    let text = String::from_utf8(signed.clone()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(lines.len() - 2);
    variants.push((
        "truncated PEM".into(),
        format!("{}\n", lines.join("\n")).into_bytes(),
    ));
    variants.push((
        "truncated DER".into(),
        der_to_pem(&der[..der.len() - 10]).into_bytes(),
    ));
    variants.push(("empty".into(), Vec::new()));
    variants.push((
        "garbage".into(),
        b"-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n".to_vec(),
    ));
    variants.push(("untouched".into(), signed.clone()));
    for (case, pem) in &variants {
        assert_same_verdict(case, pem, &signer, &ca.cert_pem, &dir, now);
    }
    // Same DN and serial, different key: found by issuer+serial, then the signature fails.
    assert_same_verdict(
        "same sid, other key",
        &signed,
        &other_signer,
        &ca.cert_pem,
        &dir,
        now,
    );
    // A signing bundle without the signer's certificate.
    let stranger = dir.issue(
        "stranger",
        &CertSpec {
            ski_aki: true,
            ..CertSpec::with_subject("/CN=stranger")
        },
        &ca,
    );
    assert_same_verdict(
        "signer not in bundle",
        &signed,
        &stranger,
        &ca.cert_pem,
        &dir,
        now,
    );
    let ours = Verifier::new(&stranger.cert_pem, &ca.cert_pem)
        .unwrap()
        .verify_at(&signed, now);
    assert_eq!(
        ours.unwrap_err().verify_failure(),
        Some(VerifyFailure::SignerNotFound)
    );
}

#[test]
fn every_digest_verifies_and_hash_algorithms_cover_them() {
    let dir = Workdir::new();
    let (ca, signer) = keystone_pki(&dir, 2048);
    for md in ["sha1", "sha224", "sha256", "sha384", "sha512"] {
        let signed = cms_sign(&signer.cert_path, &signer.key_path, b"digest test\n", md);
        assert_same_verdict(md, &signed.stdout, &signer, &ca.cert_pem, &dir, unix_now());
        assert!(md.parse::<HashAlgorithm>().unwrap().is_cms_digest());
    }
}

/// One token text is one document: OpenSSL's CMS PEM reader also takes a block labelled
/// `CERTIFICATE` and skips other text, so a text with a relabelled document in front of another
/// would verify as the first document in OpenSSL and as the second in a reader that skipped the
/// first block. kstoken refuses any such text, bare, as PEM or inside a PKIZ token; whatever it
/// accepts, OpenSSL verifies to the same content.
#[test]
fn pem_texts_mean_one_document_to_both() {
    let dir = Workdir::new();
    let (ca, signing) = keystone_pki(&dir, 2048);
    let signer = Signer::new(&signing.cert_pem, &signing.key_pem).unwrap();
    let verifier = Verifier::new(&signing.cert_pem, &ca.cert_pem).unwrap();
    let at = unix_now();
    let pem_a = signer.sign_pem(b"document A").unwrap();
    let pem_b = signer.sign_pem(b"document B").unwrap();
    let relabel = |pem: &str, label: &str| pem.replace("CMS-----", &format!("{label}-----"));
    let as_certificate = relabel(&pem_a, "CERTIFICATE");

    // The confusion itself, as OpenSSL sees it: the CERTIFICATE block is read as a CMS document.
    let confused = format!("{as_certificate}{pem_b}");
    let oracle = cms_verify(confused.as_bytes(), &signing.cert_path, &ca.cert_path, None);
    assert!(oracle.ok(), "{}", oracle.stderr);
    assert_eq!(oracle.stdout, b"document A");
    let pkiz = kstoken::token_text::pkiz::compress(confused.as_bytes(), 6).unwrap();
    for text in [confused.clone(), format!("  \n{confused}"), pkiz] {
        assert!(
            matches!(
                verifier.verify_at(text.as_bytes(), at),
                Err(Error::Malformed(_))
            ),
            "{text:?} must be refused, not read as one of its documents"
        );
    }

    // Every text: kstoken accepts only what OpenSSL verifies to the same content.
    let texts = [
        pem_b.clone(),
        relabel(&pem_b, "PKCS7"),
        format!("\r\n\n{pem_b}\n\t "),
        confused,
        format!("{pem_a}{pem_b}"),
        format!("{}{pem_b}", relabel(&pem_a, "PKCS7")),
        format!("{pem_b}{as_certificate}"),
        as_certificate.clone(),
        format!("junk before\n{pem_b}"),
        format!("{pem_b}junk after\n"),
        format!("{}\n{pem_b}", relabel(&pem_a, "X509 CRL")),
    ];
    let mut accepted = 0;
    for text in texts {
        let oracle = cms_verify(text.as_bytes(), &signing.cert_path, &ca.cert_path, None);
        let ours = verifier.verify_at(text.as_bytes(), at);
        let wrapped = verifier.verify_at(
            kstoken::token_text::pkiz::compress(text.as_bytes(), 6)
                .unwrap()
                .as_bytes(),
            at,
        );
        assert_eq!(
            ours.as_ref().ok(),
            wrapped.as_ref().ok(),
            "{text:?}: PKIZ and PEM agree"
        );
        if let Ok(content) = ours {
            assert!(oracle.ok(), "{text:?}: openssl rejects ({})", oracle.stderr);
            assert_eq!(content, oracle.stdout, "{text:?}");
            accepted += 1;
        } else {
            assert!(
                matches!(ours, Err(Error::Malformed(_))),
                "{text:?}: {ours:?}"
            );
        }
    }
    assert_eq!(
        accepted, 3,
        "the document, its PKCS7 label, surrounding whitespace"
    );
    // Certificates are still read by the same reader.
    assert!(kstoken::body::bind::x509_fingerprint(&signing.cert_pem).is_ok());
}
