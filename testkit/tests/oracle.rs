//! Checks the testkit's certificates and CMS helpers against the openssl CLI itself.

use kstoken_testkit::{
    cms_sign, cms_sign_binary, cms_verify, keystone_pki, openssl_time, openssl_version,
    run_openssl, unix_now, verify_reason, CertSpec, Issued, KeySpec, Workdir,
};

/// `openssl x509 -noout -text` of a certificate.
fn x509_text(cert: &Issued) -> String {
    let out = run_openssl(
        &[
            "x509".as_ref(),
            "-noout".as_ref(),
            "-text".as_ref(),
            "-in".as_ref(),
            cert.cert_path.as_os_str(),
        ],
        None,
    );
    assert!(out.ok(), "x509 -text failed: {}", out.stderr);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `openssl x509 -noout -<field>` (e.g. `enddate`, `serial`) of a certificate, trimmed.
fn x509_field(cert: &Issued, field: &str) -> String {
    let flag = format!("-{field}");
    let out = run_openssl(
        &[
            "x509".as_ref(),
            "-noout".as_ref(),
            flag.as_ref(),
            "-in".as_ref(),
            cert.cert_path.as_os_str(),
        ],
        None,
    );
    assert!(out.ok(), "x509 {flag} failed: {}", out.stderr);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Signs with keystone's flags and asserts success.
fn sign(signer: &Issued, data: &[u8]) -> Vec<u8> {
    let out = cms_sign(&signer.cert_path, &signer.key_path, data, "sha256");
    assert!(out.ok(), "cms -sign failed ({}): {}", out.code, out.stderr);
    out.stdout
}

#[test]
fn version_is_reported() {
    let v = openssl_version();
    assert!(v.starts_with("OpenSSL "), "{v}");
}

#[test]
fn v1_cert_has_no_extensions() {
    let dir = Workdir::new();
    let spec = CertSpec {
        v1: true,
        subject: "/C=US/O=Test/CN=V1".into(),
        serial: Some(0x11),
        ..CertSpec::default()
    };
    let cert = dir.self_signed("v1", &spec);
    let text = x509_text(&cert);
    assert!(text.contains("Version: 1 (0x0)"), "{text}");
    assert!(!text.contains("X509v3"), "{text}");
    assert!(
        text.contains("Subject: C = US, O = Test, CN = V1"),
        "{text}"
    );
    assert_eq!(x509_field(&cert, "serial"), "serial=11");
    assert!(cert.cert_pem.starts_with(b"-----BEGIN CERTIFICATE-----\n"));
    assert!(cert.key_pem.starts_with(b"-----BEGIN PRIVATE KEY-----\n"));
    assert_eq!(std::fs::read(&cert.cert_path).unwrap(), cert.cert_pem);
}

#[test]
fn expired_cert_not_after_in_past() {
    let dir = Workdir::new();
    let now = unix_now();
    let spec = CertSpec {
        not_before: Some(openssl_time(now - 20 * 86_400)),
        not_after: Some(openssl_time(now - 10 * 86_400)),
        ..CertSpec::ca_root("/CN=Expired")
    };
    let cert = dir.self_signed("expired", &spec);
    // -checkend 0 exits 1 when the certificate has already expired.
    let out = run_openssl(
        &[
            "x509".as_ref(),
            "-noout".as_ref(),
            "-checkend".as_ref(),
            "0".as_ref(),
            "-in".as_ref(),
            cert.cert_path.as_os_str(),
        ],
        None,
    );
    assert_eq!(out.code, 1, "{:?}", out);
    let fixed = CertSpec {
        not_before: Some("20100101000000Z".into()),
        not_after: Some("20110102030405Z".into()),
        ..CertSpec::default()
    };
    let cert = dir.self_signed("fixed", &fixed);
    assert_eq!(
        x509_field(&cert, "enddate"),
        "notAfter=Jan  2 03:04:05 2011 GMT"
    );
    assert_eq!(
        x509_field(&cert, "startdate"),
        "notBefore=Jan  1 00:00:00 2010 GMT"
    );
}

#[test]
fn extensions_as_requested() {
    let dir = Workdir::new();
    let ca = dir.self_signed("root", &CertSpec::ca_root("/CN=Root"));
    let text = x509_text(&ca);
    assert!(text.contains("Version: 3 (0x2)"), "{text}");
    assert!(
        text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE"),
        "{text}"
    );
    assert!(text.contains("Certificate Sign, CRL Sign"), "{text}");
    assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
    assert!(!text.contains("X509v3 Authority Key Identifier"), "{text}");
    let leaf = CertSpec {
        subject: "/CN=Leaf".into(),
        key_usage: Some("keyEncipherment".into()),
        ext_key_usage: Some("serverAuth".into()),
        ski_aki: true,
        extra_extensions: vec!["nsComment = \"testkit\"".into()],
        pkcs1_key: true,
        md: "sha384".into(),
        ..CertSpec::default()
    };
    let leaf = dir.issue("leaf", &leaf, &ca);
    let text = x509_text(&leaf);
    assert!(text.contains("Issuer: CN = Root"), "{text}");
    assert!(text.contains("sha384WithRSAEncryption"), "{text}");
    assert!(!text.contains("Basic Constraints"), "{text}");
    assert!(text.contains("Key Encipherment"), "{text}");
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert!(text.contains("testkit"), "{text}");
    assert!(leaf
        .key_pem
        .starts_with(b"-----BEGIN RSA PRIVATE KEY-----\n"));
}

#[test]
fn keystone_pki_round_trip_canonicalises_text() {
    let dir = Workdir::new();
    let (ca, signer) = keystone_pki(&dir, 2048);
    let ca_text = x509_text(&ca);
    let subject = "C = US, ST = Unset, L = Unset, O = Unset, CN = www.example.com";
    assert!(
        ca_text.contains(&format!("Subject: {subject}")),
        "{ca_text}"
    );
    assert!(ca_text.contains("CA:TRUE"), "{ca_text}");
    let text = x509_text(&signer);
    assert!(text.contains(&format!("Issuer: {subject}")), "{text}");
    assert!(text.contains(&format!("Subject: {subject}")), "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert_eq!(x509_field(&signer, "serial"), "serial=01");
    assert!(signer.cert_path.ends_with("signing_cert.pem"));

    let pem = sign(&signer, b"a\nb\n");
    assert!(pem.starts_with(b"-----BEGIN CMS-----\n"), "{pem:?}");
    let out = cms_verify(&pem, &signer.cert_path, &ca.cert_path, None);
    assert!(out.ok(), "verify failed ({}): {}", out.code, out.stderr);
    assert_eq!(out.stdout, b"a\r\nb\r\n");
    assert_eq!(verify_reason(&out.stderr), None);

    // -binary keeps the content as is.
    let bin = cms_sign_binary(&signer.cert_path, &signer.key_path, b"a\nb\n", "sha1");
    assert!(bin.ok(), "{}", bin.stderr);
    let out = cms_verify(&bin.stdout, &signer.cert_path, &ca.cert_path, None);
    assert!(out.ok(), "verify failed ({}): {}", out.code, out.stderr);
    assert_eq!(out.stdout, b"a\nb\n");
}

#[test]
fn wrong_ca_and_other_failures() {
    let dir = Workdir::new();
    let (ca, signer) = keystone_pki(&dir, 2048);
    let other = dir.self_signed("other", &CertSpec::ca_root("/CN=Other CA"));
    let pem = sign(&signer, b"{\"access\": {}}");

    let out = cms_verify(&pem, &signer.cert_path, &other.cert_path, None);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        verify_reason(&out.stderr).as_deref(),
        Some("unable to get local issuer certificate"),
        "{}",
        out.stderr
    );

    // Signer not in -certfile: the CA cert has another serial.
    let out = cms_verify(&pem, &ca.cert_path, &ca.cert_path, None);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        verify_reason(&out.stderr).as_deref(),
        Some("signer certificate not found"),
        "{}",
        out.stderr
    );

    // Flip one content byte in the DER and re-armour.
    let der = run_openssl(
        &["cms", "-cmsout", "-inform", "PEM", "-outform", "DER"],
        Some(&pem),
    );
    assert!(der.ok(), "{}", der.stderr);
    let mut der = der.stdout;
    let pos = der
        .windows(8)
        .position(|w| w == b"\"access\"")
        .expect("content in DER");
    der[pos + 1] ^= 0x20;
    let tampered = run_openssl(
        &["cms", "-cmsout", "-inform", "DER", "-outform", "PEM"],
        Some(&der),
    );
    assert!(tampered.ok(), "{}", tampered.stderr);
    let out = cms_verify(&tampered.stdout, &signer.cert_path, &ca.cert_path, None);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        verify_reason(&out.stderr).as_deref(),
        Some("content verify error"),
        "{}",
        out.stderr
    );

    // Garbage input: exit 2.
    let out = cms_verify(b"garbage", &signer.cert_path, &ca.cert_path, None);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn attime_and_validity() {
    let dir = Workdir::new();
    let (ca, signer) = keystone_pki(&dir, 2048);
    let pem = sign(&signer, b"x");
    let out = cms_verify(&pem, &signer.cert_path, &ca.cert_path, Some(1_600_000_000));
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        verify_reason(&out.stderr).as_deref(),
        Some("certificate is not yet valid"),
        "{}",
        out.stderr
    );
    let future = unix_now() + 4000 * 86_400;
    let out = cms_verify(&pem, &signer.cert_path, &ca.cert_path, Some(future));
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        verify_reason(&out.stderr).as_deref(),
        Some("certificate has expired"),
        "{}",
        out.stderr
    );

    // An expired leaf (under a long-lived root) fails without -attime.
    let now = unix_now();
    let ca = dir.self_signed(
        "oldroot",
        &CertSpec {
            not_before: Some("20000101000000Z".into()),
            not_after: Some("20991231235959Z".into()),
            ..CertSpec::ca_root("/CN=Old Root")
        },
    );
    let expired = CertSpec {
        subject: "/CN=Expired signer".into(),
        not_before: Some(openssl_time(now - 20 * 86_400)),
        not_after: Some(openssl_time(now - 10 * 86_400)),
        ..CertSpec::default()
    };
    let expired = dir.issue("expired", &expired, &ca);
    let pem = sign(&expired, b"x");
    let out = cms_verify(&pem, &expired.cert_path, &ca.cert_path, None);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        verify_reason(&out.stderr).as_deref(),
        Some("certificate has expired")
    );
    // ... and passes at a time inside its window.
    let out = cms_verify(
        &pem,
        &expired.cert_path,
        &ca.cert_path,
        Some(now - 15 * 86_400),
    );
    assert!(out.ok(), "{}", out.stderr);
}

#[test]
fn ec_p256_signer_round_trips() {
    let dir = Workdir::new();
    let ca = dir.self_signed(
        "ecroot",
        &CertSpec {
            key: KeySpec::EcP384,
            ..CertSpec::ca_root("/O=Test/CN=EC Root")
        },
    );
    let spec = CertSpec {
        key: KeySpec::EcP256,
        subject: "/O=Test/CN=EC Signer".into(),
        key_usage: Some("digitalSignature".into()),
        ext_key_usage: Some("emailProtection".into()),
        ski_aki: true,
        pkcs1_key: true,
        ..CertSpec::default()
    };
    let signer = dir.issue("ecsigner", &spec, &ca);
    assert!(signer
        .key_pem
        .starts_with(b"-----BEGIN EC PRIVATE KEY-----\n"));
    let pem = sign(&signer, b"hello\n");
    let out = cms_verify(&pem, &signer.cert_path, &ca.cert_path, None);
    assert!(out.ok(), "verify failed ({}): {}", out.code, out.stderr);
    assert_eq!(out.stdout, b"hello\r\n");
}

#[test]
fn purpose_and_v1_checks() {
    let dir = Workdir::new();
    let ca = dir.self_signed(
        "v1root",
        &CertSpec {
            v1: true,
            ..CertSpec::with_subject("/CN=V1 Root")
        },
    );
    // v1 leaf under a v1 root: accepted.
    let leaf = dir.issue("v1leaf", &CertSpec::with_subject("/CN=V1 Leaf"), &ca);
    assert!(!x509_text(&leaf).contains("X509v3"));
    let out = cms_verify(&sign(&leaf, b"x"), &leaf.cert_path, &ca.cert_path, None);
    assert!(out.ok(), "{}", out.stderr);

    // keyEncipherment-only leaf: unsuitable for smime_sign.
    let ku = CertSpec {
        key_usage: Some("keyEncipherment".into()),
        ..CertSpec::with_subject("/CN=KE Leaf")
    };
    let leaf = dir.issue("keleaf", &ku, &ca);
    let out = cms_verify(&sign(&leaf, b"x"), &leaf.cert_path, &ca.cert_path, None);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        verify_reason(&out.stderr).as_deref(),
        Some("unsuitable certificate purpose"),
        "{}",
        out.stderr
    );
}

#[test]
fn keystone_pki_rsa4096() {
    let dir = Workdir::new();
    let (ca, signer) = keystone_pki(&dir, 4096);
    assert!(x509_text(&signer).contains("Public-Key: (4096 bit)"));
    let out = cms_verify(
        &sign(&signer, b"{}"),
        &signer.cert_path,
        &ca.cert_path,
        None,
    );
    assert!(out.ok(), "{}", out.stderr);
    assert_eq!(out.stdout, b"{}");
}
