//! The keystone token profile: every re-encoding of a signed token that OpenSSL still accepts is a
//! new token text with a new token hash. Each must be accepted by `openssl cms -verify` and by a
//! lenient verifier with the same content (so it really is the same signed document), refused by
//! the default verifier as outside the profile, and refused by the validation pipeline when the
//! original token is revoked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use cms::cert::CertificateChoices;
use cms::content_info::CmsVersion;
use cms::revocation::{RevocationInfoChoice, RevocationInfoChoices};
use cms::signed_data::{CertificateSet, SignedData, SignerIdentifier};
use const_oid::ObjectIdentifier;
use der::asn1::SetOfVec;
use der::{Any, Decode};
use kstoken::body::bind::AuthContext;
use kstoken::cms::ProfileDeviation;
use kstoken::revocation::RevokedEntry;
use kstoken::token_text::der_to_pki_token;
use kstoken::token_text::hash_hex;
use kstoken::token_text::pem::{der_to_pem, pem_to_der};
use kstoken::token_text::pkiz;
use kstoken::{
    validate, CmsProfile, Error, HashAlgorithm, Limits, Policy, Rejection, RevocationList, Step,
    Verifier,
};
use kstoken_testkit::asn1::to_indefinite;
use kstoken_testkit::{
    cms_sign, cms_verify, edit_signed_data, keystone_pki, unix_now, CertSpec, Issued, KeySpec,
    Workdir,
};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::Certificate;

const AUDIT_ID: &str = "VcxU2JYqT8OzfUVvrjEITQ";

fn body() -> Vec<u8> {
    format!(
        r#"{{"token":{{"methods":["password"],"user":{{"id":"u1","name":"admin","domain":{{"id":"default","name":"Default"}}}},"audit_ids":["{AUDIT_ID}"],"issued_at":"2024-01-01T00:00:00.000000Z","expires_at":"2099-01-01T00:00:00.000000Z"}}}}"#
    )
    .into_bytes()
}

fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

fn algorithm(oid_text: &str, parameters: Option<Any>) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: oid(oid_text),
        parameters,
    }
}

fn certificate(pem: &[u8]) -> Certificate {
    let der = openssl::x509::X509::from_pem(pem)
        .unwrap()
        .to_der()
        .unwrap();
    Certificate::from_der(&der).unwrap()
}

/// The signed DER of `body()` by `signer`, with `md`.
fn signed_der(signer: &Issued, md: &str) -> Vec<u8> {
    let pem = cms_sign(&signer.cert_path, &signer.key_path, &body(), md).stdout;
    pem_to_der(&pem, &Limits::default()).unwrap()
}

/// Re-encodings of `der` that need no private key, with the deviation that names each.
fn reencodings(
    der: &[u8],
    signer: &Issued,
    ca: &Issued,
    dir: &Workdir,
) -> Vec<(&'static str, Vec<u8>, ProfileDeviation)> {
    use ProfileDeviation as D;
    let cert = certificate(&signer.cert_pem);
    let crl = x509_cert::crl::CertificateList::from_der(&dir.crl(ca)).unwrap();
    let ski = cert
        .tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>()
        .unwrap()
        .unwrap()
        .1;
    let edit = |f: &dyn Fn(&mut SignedData)| edit_signed_data(der, f);
    let first_signer = |sd: &mut SignedData| {
        let mut infos = std::mem::take(&mut sd.signer_infos.0).into_vec();
        let out = infos.remove(0);
        (infos, out)
    };
    let with_signer = |f: &dyn Fn(&mut cms::signed_data::SignerInfo)| {
        edit(&|sd: &mut SignedData| {
            let (_, mut si) = first_signer(sd);
            f(&mut si);
            sd.signer_infos.0 = SetOfVec::try_from(vec![si]).unwrap();
        })
    };
    vec![
        (
            "unsigned attributes added",
            with_signer(&|si| {
                let value = Any::new(der::Tag::Utf8String, b"x".to_vec()).unwrap();
                si.unsigned_attrs = Some(
                    SetOfVec::try_from(vec![Attribute {
                        oid: oid("1.2.3.4"),
                        values: SetOfVec::try_from(vec![value]).unwrap(),
                    }])
                    .unwrap(),
                );
            }),
            D::UnsignedAttributes,
        ),
        (
            "extra digestAlgorithms entry",
            edit(&|sd| {
                let mut all = std::mem::take(&mut sd.digest_algorithms).into_vec();
                all.push(algorithm("2.16.840.1.101.3.4.2.3", None));
                sd.digest_algorithms = SetOfVec::try_from(all).unwrap();
            }),
            D::DigestAlgorithms,
        ),
        (
            "digest parameters NULL",
            edit(&|sd| {
                let sha256 = algorithm("2.16.840.1.101.3.4.2.1", Some(Any::null()));
                sd.digest_algorithms = SetOfVec::try_from(vec![sha256.clone()]).unwrap();
                let (_, mut si) = first_signer(sd);
                si.digest_alg = sha256;
                sd.signer_infos.0 = SetOfVec::try_from(vec![si]).unwrap();
            }),
            D::DigestParameters,
        ),
        (
            "signer certificate embedded",
            edit(&|sd| {
                sd.certificates = Some(CertificateSet(
                    SetOfVec::try_from(vec![CertificateChoices::Certificate(cert.clone())])
                        .unwrap(),
                ));
            }),
            D::Certificates,
        ),
        (
            "CRL embedded",
            edit(&|sd| {
                sd.crls = Some(RevocationInfoChoices(
                    SetOfVec::try_from(vec![RevocationInfoChoice::Crl(crl.clone())]).unwrap(),
                ));
            }),
            D::Crls,
        ),
        (
            "SignedData version 3",
            edit(&|sd| sd.version = CmsVersion::V3),
            D::SignedDataVersion,
        ),
        (
            "SignerInfo version 3",
            with_signer(&|si| si.version = CmsVersion::V3),
            D::SignerVersion,
        ),
        (
            "signer named by subject key identifier",
            with_signer(&|si| si.sid = SignerIdentifier::SubjectKeyIdentifier(ski.clone())),
            D::SignerKeyId,
        ),
        (
            "sha256WithRSAEncryption",
            with_signer(&|si| {
                si.signature_algorithm = algorithm("1.2.840.113549.1.1.11", Some(Any::null()))
            }),
            D::SignatureAlgorithm,
        ),
        (
            "rsaEncryption without NULL parameters",
            with_signer(&|si| si.signature_algorithm = algorithm("1.2.840.113549.1.1.1", None)),
            D::SignatureAlgorithm,
        ),
        (
            "eContentType other than id-data, no signed attributes",
            edit(&|sd| {
                sd.encap_content_info.econtent_type = oid("1.2.840.113549.1.9.16.1.4");
            }),
            D::ContentType,
        ),
        ("BER, every length indefinite", to_indefinite(der), D::Ber),
    ]
}

/// OpenSSL, a lenient verifier and the default one on one document.
fn assert_outside_profile(
    case: &str,
    der: &[u8],
    expected: ProfileDeviation,
    signer: &Issued,
    ca: &Issued,
) {
    let now = unix_now();
    let pem = der_to_pem(der);
    let oracle = cms_verify(pem.as_bytes(), &signer.cert_path, &ca.cert_path, Some(now));
    assert!(oracle.ok(), "{case}: openssl refuses: {}", oracle.stderr);
    let lenient = Verifier::new(&signer.cert_pem, &ca.cert_pem)
        .unwrap()
        .with_profile(CmsProfile::Lenient);
    assert_eq!(
        lenient.verify_der_at(der, now).unwrap(),
        oracle.stdout,
        "{case}: lenient"
    );
    let keystone = Verifier::new(&signer.cert_pem, &ca.cert_pem).unwrap();
    assert_eq!(keystone.profile(), CmsProfile::Keystone);
    match keystone.verify_der_at(der, now) {
        Err(Error::Malformed(m)) => assert!(
            m.contains("keystone's token profile") && m.contains(&expected.to_string()),
            "{case}: {m}"
        ),
        other => panic!("{case}: the default verifier says {other:?}"),
    }
}

#[test]
fn reencodings_verify_in_openssl_but_are_outside_the_profile() {
    let dir = Workdir::new();
    let (ca, signer) = keystone_pki(&dir, 2048);
    let der = signed_der(&signer, "sha256");
    let keystone = Verifier::new(&signer.cert_pem, &ca.cert_pem).unwrap();
    assert_eq!(keystone.verify_der_at(&der, unix_now()).unwrap(), body());
    assert_eq!(kstoken::cms::parse(&der).unwrap().profile_deviation(), None);
    let variants = reencodings(&der, &signer, &ca, &dir);
    for (case, variant, expected) in &variants {
        assert_ne!(variant, &der, "{case}");
        let doc = kstoken::cms::parse(variant).unwrap();
        assert_eq!(doc.profile_deviation(), Some(*expected), "{case}");
        assert_outside_profile(case, variant, *expected, &signer, &ca);
    }
    assert_eq!(variants.len(), 12);

    // Two SignerInfos (this one needs the key: a second signature over the same content).
    let sha512 = signed_der(&signer, "sha512");
    let other_si = kstoken_testkit_signer_info(&sha512);
    let two = edit_signed_data(&der, |sd| {
        let mut digests = std::mem::take(&mut sd.digest_algorithms).into_vec();
        digests.push(other_si.digest_alg.clone());
        sd.digest_algorithms = SetOfVec::try_from(digests).unwrap();
        let mut infos = std::mem::take(&mut sd.signer_infos.0).into_vec();
        infos.push(other_si.clone());
        sd.signer_infos.0 = SetOfVec::try_from(infos).unwrap();
    });
    assert_outside_profile(
        "two SignerInfos",
        &two,
        ProfileDeviation::SignerCount,
        &signer,
        &ca,
    );

    // PKI token text that kept its '/': the reference reads it (token_to_cms leaves '/').
    let token = der_to_pki_token(&der);
    assert!(token.contains('-'), "the test needs a token with a '-'");
    let slashed = token.replace('-', "/");
    let lenient = Verifier::new(&signer.cert_pem, &ca.cert_pem)
        .unwrap()
        .with_profile(CmsProfile::Lenient);
    assert_eq!(lenient.verify(slashed.as_bytes()).unwrap(), body());
    let err = keystone.verify(slashed.as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains(&ProfileDeviation::TokenAlphabet.to_string()),
        "{err}"
    );
    assert_eq!(keystone.verify(token.as_bytes()).unwrap(), body());
}

fn kstoken_testkit_signer_info(der: &[u8]) -> cms::signed_data::SignerInfo {
    let info = cms::content_info::ContentInfo::from_der(der).unwrap();
    let sd: SignedData = info.content.decode_as().unwrap();
    sd.signer_infos.0.into_vec().remove(0)
}

#[test]
fn ec_signature_algorithm_is_pinned_by_the_profile() {
    let dir = Workdir::new();
    let ca = dir.self_signed("root", &CertSpec::ca_root("/CN=EC root"));
    let signer = dir.issue(
        "ec",
        &CertSpec {
            key: KeySpec::EcP256,
            ski_aki: true,
            ..CertSpec::with_subject("/CN=ec signer")
        },
        &ca,
    );
    let der = signed_der(&signer, "sha256");
    assert_eq!(kstoken::cms::parse(&der).unwrap().profile_deviation(), None);
    let with_algorithm = |a: AlgorithmIdentifierOwned| {
        edit_signed_data(&der, |sd| {
            let mut infos = std::mem::take(&mut sd.signer_infos.0).into_vec();
            infos[0].signature_algorithm = a;
            sd.signer_infos.0 = SetOfVec::try_from(infos).unwrap();
        })
    };
    // OpenSSL ignores an EC signer's signatureAlgorithm; the profile pins what it writes.
    let rsa = with_algorithm(algorithm("1.2.840.113549.1.1.1", Some(Any::null())));
    assert_eq!(kstoken::cms::parse(&rsa).unwrap().profile_deviation(), None);
    assert_outside_profile(
        "EC signer, rsaEncryption",
        &rsa,
        ProfileDeviation::SignatureAlgorithm,
        &signer,
        &ca,
    );
    let sha384 = with_algorithm(algorithm("1.2.840.10045.4.3.3", None));
    assert_outside_profile(
        "EC signer, ecdsa-with-SHA384 for a SHA-256 digest",
        &sha384,
        ProfileDeviation::SignatureAlgorithm,
        &signer,
        &ca,
    );
}

fn no_auth() -> AuthContext<'static> {
    AuthContext {
        auth_type: None,
        remote_user: None,
        client_cert: None,
    }
}

/// Every re-encoding of a revoked token is refused by `validate` with a list carrying the
/// original's hash and audit id: the profile refuses the CMS re-encodings at the signature step,
/// the audit id catches the texts the profile cannot pin (PKIZ compression, issuer spelling).
#[test]
fn every_reencoding_of_a_revoked_token_is_refused() {
    let dir = Workdir::new();
    let (ca, signer) = keystone_pki(&dir, 2048);
    let der = signed_der(&signer, "sha256");
    let token = der_to_pki_token(&der);
    let hash = hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap();
    let entry = |id: Option<&str>, audit: Option<&str>| RevokedEntry {
        id: id.map(str::to_owned),
        expires: Some("2099-01-01T00:00:00Z".into()),
        audit_id: audit.map(str::to_owned),
    };
    let both = RevocationList::from_entries(vec![entry(Some(&hash), Some(AUDIT_ID))]).unwrap();
    let by_hash = RevocationList::from_entries(vec![entry(Some(&hash), None)]).unwrap();
    let keystone = Verifier::new(&signer.cert_pem, &ca.cert_pem).unwrap();
    let lenient = Verifier::new(&signer.cert_pem, &ca.cert_pem)
        .unwrap()
        .with_profile(CmsProfile::Lenient);
    let policy = Policy::default();
    let now = unix_now();
    let run = |text: &str, v: &Verifier, list: &RevocationList| {
        validate(text, v, Some(list), &policy, &no_auth(), now)
    };
    assert!(run(&token, &keystone, &RevocationList::default()).is_ok());
    assert_eq!(
        run(&token, &keystone, &both).unwrap_err().step(),
        Some(Step::RevokedByHash)
    );

    let mut texts: Vec<(String, String, Step)> = Vec::new();
    for (case, variant, deviation) in reencodings(&der, &signer, &ca, &dir) {
        // A BER token starts "MIA", not "MII": the middleware takes it for a UUID token and asks
        // keystone, which does not know it.
        let step = if deviation == ProfileDeviation::Ber {
            Step::Detect
        } else {
            Step::Signature
        };
        texts.push((case.to_owned(), der_to_pki_token(&variant), step));
    }
    texts.push((
        "'/' for '-'".into(),
        token.replace('-', "/"),
        Step::Signature,
    ));
    let pem = der_to_pem(&der);
    for level in 0..=9 {
        let z = pkiz::compress(pem.as_bytes(), level).unwrap();
        texts.push((format!("PKIZ level {level}"), z, Step::RevokedByAuditId));
    }
    let wide: String = {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let lines: Vec<String> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        format!(
            "-----BEGIN CMS-----\n{}\n-----END CMS-----\n",
            lines.join("\n")
        )
    };
    texts.push((
        "PKIZ of PEM with 76-column lines".into(),
        pkiz::compress(wide.as_bytes(), 6).unwrap(),
        Step::RevokedByAuditId,
    ));
    texts.push((
        "PKIZ of PEM with CRLF line ends".into(),
        pkiz::compress(pem.replace('\n', "\r\n").as_bytes(), 6).unwrap(),
        Step::RevokedByAuditId,
    ));
    // The issuer name re-spelled (case): OpenSSL matches names canonically, so does kstoken.
    let respelled = edit_signed_data(&der, |sd| {
        let mut infos = std::mem::take(&mut sd.signer_infos.0).into_vec();
        if let SignerIdentifier::IssuerAndSerialNumber(isn) = &mut infos[0].sid {
            let upper = isn.issuer.to_string().to_uppercase();
            isn.issuer = upper.parse().unwrap();
        }
        sd.signer_infos.0 = SetOfVec::try_from(infos).unwrap();
    });
    assert_ne!(respelled, der);
    let oracle = cms_verify(
        der_to_pem(&respelled).as_bytes(),
        &signer.cert_path,
        &ca.cert_path,
        None,
    );
    assert!(
        oracle.ok(),
        "openssl matches the re-spelled issuer: {}",
        oracle.stderr
    );
    texts.push((
        "issuer name re-spelled".into(),
        der_to_pki_token(&respelled),
        Step::RevokedByAuditId,
    ));
    // Same hash: the middleware strips the header, so does validate.
    texts.push((
        "surrounding whitespace".into(),
        format!(" \t{token}\r\n"),
        Step::RevokedByHash,
    ));
    // CMS PEM is not a token form: the middleware leaves it to keystone (online validation).
    texts.push(("CMS PEM text".into(), pem.clone(), Step::Detect));

    for (case, text, step) in &texts {
        assert_ne!(text, &token, "{case}: a new text");
        let outcome = run(text, &keystone, &both);
        let error = outcome.expect_err(case);
        let rejection = error.rejection().expect(case);
        assert_eq!(rejection.step(), *step, "{case}: {rejection}");
        if *step == Step::Signature {
            assert!(
                matches!(rejection, Rejection::Verification(Error::Malformed(m)) if m.contains("keystone's token profile")),
                "{case}: {rejection}"
            );
            // Refused without the audit id too: the profile, not the list, stops it.
            assert_eq!(
                run(text, &keystone, &by_hash).unwrap_err().step(),
                Some(Step::Signature)
            );
            // A lenient verifier with a hash-only list lets the revoked token through: the hole
            // the profile closes.
            assert!(run(text, &lenient, &by_hash).is_ok(), "{case}: lenient");
        }
        if *step == Step::RevokedByAuditId {
            assert!(
                run(text, &keystone, &by_hash).is_ok(),
                "{case}: only the audit id catches it"
            );
        }
    }
    assert_eq!(texts.len(), 12 + 1 + 10 + 2 + 1 + 1 + 1);
}

/// Every upstream signed file is in the profile, and no upstream PKI token keeps a '/'.
#[test]
fn upstream_vectors_are_in_the_profile() {
    let vectors = std::env::var_os("KSTOKEN_VECTORS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")
        });
    let mut checked = 0;
    for set in [
        "keystoneclient/5.5.0",
        "keystoneclient/6.0.0",
        "keystonemiddleware/5.3.0",
    ] {
        let dir = vectors.join(set).join("examples/pki/cms");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            let der = if name.ends_with(".pem") {
                pem_to_der(&bytes, &Limits::default()).unwrap()
            } else if name.ends_with(".pkiz") {
                let text = String::from_utf8(bytes).unwrap();
                let pem = pkiz::uncompress(text.trim().as_bytes(), &Limits::default()).unwrap();
                pem_to_der(&pem, &Limits::default()).unwrap()
            } else if name.ends_with(".der") && !bytes.is_empty() {
                bytes
            } else {
                // Upstream's revocation_list.der files are empty.
                continue;
            };
            let doc = kstoken::cms::parse(&der).unwrap();
            assert_eq!(doc.profile_deviation(), None, "{set}/{name}");
            assert!(!der_to_pki_token(&der).contains('/'), "{set}/{name}");
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} files");
}
