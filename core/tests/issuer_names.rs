//! Signer issuer names against `openssl cms -verify`: kstoken matches names by OpenSSL's canonical
//! comparison, so it must also refuse every name OpenSSL's decoder refuses (VisibleString, BMP
//! surrogates, ...), or it would find a signer where OpenSSL cannot even read the document.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use cms::cert::CertificateChoices;
use cms::signed_data::{CertificateSet, SignerIdentifier};
use der::asn1::SetOfVec;
use der::Decode;
use kstoken::token_text::pem::{der_to_pem, pem_to_der};
use kstoken::{CmsProfile, Error, Limits, Verifier};
use kstoken_testkit::asn1::tlv;
use kstoken_testkit::{
    cms_sign, cms_verify, edit_signed_data, unix_now, CertSpec, Issued, Workdir,
};
use x509_cert::name::Name;
use x509_cert::Certificate;

/// Universal tags of the string types used below.
const UTF8: u8 = 0x0c;
const PRINTABLE: u8 = 0x13;
const T61: u8 = 0x14;
const VISIBLE: u8 = 0x1a;
const BMP: u8 = 0x1e;

struct Pki {
    _dir: Workdir,
    root: Issued,
    leaf: Issued,
    der: Vec<u8>,
}

/// A root named `/O=kstoken/CN=<cn>` (UTF8String values), a leaf under it, and a signed token.
fn pki(cn: &str) -> Pki {
    let dir = Workdir::new();
    let root = dir.self_signed("root", &CertSpec::ca_root(&format!("/O=kstoken/CN={cn}")));
    let leaf = dir.issue(
        "leaf",
        &CertSpec {
            ski_aki: true,
            ..CertSpec::with_subject("/CN=leaf")
        },
        &root,
    );
    let pem = cms_sign(
        &leaf.cert_path,
        &leaf.key_path,
        b"{\"token\": {}}",
        "sha256",
    )
    .stdout;
    let der = pem_to_der(&pem, &Limits::default()).unwrap();
    Pki {
        _dir: dir,
        root,
        leaf,
        der,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    BothAccept,
    /// Both reject; whether OpenSSL could not read the document (exit 2), and whether kstoken
    /// refused it as malformed (it does whenever OpenSSL cannot read it).
    BothReject {
        unreadable: bool,
        malformed: bool,
    },
    OnlyOpensslAccepts,
}

const UNREADABLE: Verdict = Verdict::BothReject {
    unreadable: true,
    malformed: true,
};

/// Both implementations on `der`, asserted consistent: kstoken never accepts what OpenSSL rejects,
/// and refuses as malformed what OpenSSL cannot read (exit 2).
fn compare(case: &str, pki: &Pki, der: &[u8], profile: CmsProfile) -> Verdict {
    let now = unix_now();
    let oracle = cms_verify(
        der_to_pem(der).as_bytes(),
        &pki.leaf.cert_path,
        &pki.root.cert_path,
        Some(now),
    );
    let ours = Verifier::new(&pki.leaf.cert_pem, &pki.root.cert_pem)
        .unwrap()
        .with_profile(profile)
        .verify_der_at(der, now);
    match (ours, oracle.ok()) {
        (Ok(content), true) => {
            assert_eq!(content, oracle.stdout, "{case}");
            Verdict::BothAccept
        }
        (Ok(_), false) => panic!(
            "{case}: kstoken accepts, openssl rejects: {}",
            oracle.stderr
        ),
        (Err(err), false) => {
            if oracle.code == 2 {
                assert!(
                    matches!(err, Error::Malformed(_)),
                    "{case}: openssl cannot read it ({}), kstoken says {err}",
                    oracle.stderr
                );
            }
            Verdict::BothReject {
                unreadable: oracle.code == 2,
                malformed: matches!(err, Error::Malformed(_)),
            }
        }
        (Err(err), true) => {
            assert!(matches!(err, Error::Malformed(_)), "{case}: {err}");
            Verdict::OnlyOpensslAccepts
        }
    }
}

/// `der` with the tag of the signer issuer's CN value (`0c 04 Root`) replaced by `tag`.
fn with_cn_tag(der: &[u8], tag: u8) -> Vec<u8> {
    let needle = [
        0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04, b'R', b'o', b'o', b't',
    ];
    let at = der.windows(needle.len()).position(|w| w == needle).unwrap();
    let mut out = der.to_vec();
    out[at + 5] = tag;
    out
}

/// `der` with the signer issuer replaced by `/O=kstoken/CN=<value>`, the CN tagged `tag`.
fn with_cn(der: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
    let atv = |oid: &[u8], value: Vec<u8>| tlv(0x31, &tlv(0x30, &[tlv(0x06, oid), value].concat()));
    let name = tlv(
        0x30,
        &[
            atv(&[0x55, 0x04, 0x0a], tlv(0x0c, b"kstoken")),
            atv(&[0x55, 0x04, 0x03], tlv(tag, value)),
        ]
        .concat(),
    );
    let issuer = Name::from_der(&name).unwrap();
    edit_signed_data(der, |sd| {
        let mut infos = std::mem::take(&mut sd.signer_infos.0).into_vec();
        let SignerIdentifier::IssuerAndSerialNumber(isn) = &mut infos[0].sid else {
            panic!("issuer and serial expected");
        };
        isn.issuer = issuer.clone();
        sd.signer_infos.0 = SetOfVec::try_from(infos).unwrap();
    })
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

#[test]
fn every_attribute_value_tag_gets_the_openssl_verdict() {
    let pki = pki("Root");
    assert_eq!(
        compare("untouched", &pki, &pki.der, CmsProfile::Keystone),
        Verdict::BothAccept
    );
    let mut tags: Vec<u8> = (0x01..=0x1e).collect();
    tags.extend([0x1f, 0x2c, 0x30, 0x31, 0x33, 0x40, 0x80, 0xa0, 0xc0]);
    let (mut accepted, mut unreadable, mut not_found, mut only_kstoken_unreadable) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for tag in tags {
        let der = with_cn_tag(&pki.der, tag);
        match compare(&format!("tag {tag:#04x}"), &pki, &der, CmsProfile::Keystone) {
            Verdict::BothAccept => accepted.push(tag),
            Verdict::OnlyOpensslAccepts => panic!("tag {tag:#04x}: only openssl accepts"),
            Verdict::BothReject {
                unreadable: true, ..
            } => unreadable.push(tag),
            Verdict::BothReject {
                unreadable: false,
                malformed: false,
            } => not_found.push(tag),
            Verdict::BothReject {
                unreadable: false,
                malformed: true,
            } => only_kstoken_unreadable.push(tag),
        }
    }
    // UTF8String and the types OpenSSL canonicalises as Latin-1 text: "Root" matches "Root".
    assert_eq!(
        accepted,
        [0x0c, 0x13, 0x14, 0x16],
        "PrintableString, T61String, IA5String"
    );
    // Types OpenSSL's name decoder refuses outright (VisibleString among them): kstoken refuses
    // the document as malformed, as OpenSSL cannot read it.
    assert_eq!(
        unreadable,
        [
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0a, 0x10, 0x11, 0x15, 0x17, 0x18, 0x19, 0x1a,
            0x1b, 0x1c, 0x1f, 0x2c, 0x31, 0x33, 0x40, 0x80, 0xa0, 0xc0
        ]
    );
    // Types OpenSSL reads and compares as they are: no signer matches, in both.
    assert_eq!(not_found, [0x09, 0x0d, 0x12, 0x1e, 0x30]);
    // Types OpenSSL reads but the der crate has no tag for: kstoken cannot read the document
    // (it rejects what OpenSSL rejects, with another error).
    assert_eq!(
        only_kstoken_unreadable,
        [0x07, 0x08, 0x0b, 0x0e, 0x0f, 0x1d]
    );
}

#[test]
fn string_values_match_as_openssl_converts_them() {
    let root = pki("Root");
    let cases: Vec<(&str, Vec<u8>, Verdict)> = vec![
        (
            "BMPString",
            with_cn(&root.der, BMP, &utf16("Root")),
            Verdict::BothAccept,
        ),
        (
            "PrintableString, other case and spaces",
            with_cn(&root.der, PRINTABLE, b"  rOOT "),
            Verdict::BothAccept,
        ),
        (
            "VisibleString",
            with_cn(&root.der, VISIBLE, b"Root"),
            UNREADABLE,
        ),
        (
            "BMPString of odd length",
            with_cn(&root.der, BMP, &utf16("Root")[1..]),
            UNREADABLE,
        ),
        (
            "UTF8String, invalid",
            with_cn(&root.der, UTF8, b"Ro\xffot"),
            UNREADABLE,
        ),
        (
            "UTF8String, overlong",
            with_cn(&root.der, UTF8, b"R\xc1\xafot"),
            UNREADABLE,
        ),
        (
            "BMPString, lone surrogate",
            with_cn(&root.der, BMP, &[0, b'R', 0xd8, 0x00]),
            UNREADABLE,
        ),
    ];
    for (case, der, expected) in &cases {
        assert_eq!(
            compare(case, &root, der, CmsProfile::Keystone),
            *expected,
            "{case}"
        );
    }

    // UTF-16 surrogate pairs: Rust decodes them, OpenSSL's UCS-2 reading refuses them.
    let astral = pki("R\u{1F600}");
    let pair = with_cn(&astral.der, BMP, &utf16("R\u{1F600}"));
    assert_eq!(
        compare(
            "BMPString, surrogate pair",
            &astral,
            &pair,
            CmsProfile::Keystone
        ),
        UNREADABLE
    );
    let err = Verifier::new(&astral.leaf.cert_pem, &astral.root.cert_pem)
        .unwrap()
        .verify_der_at(&pair, unix_now())
        .unwrap_err();
    assert!(matches!(err, Error::Malformed(_)), "{err}");

    // T61String is read as Latin-1, so one byte matches a two-byte UTF-8 character.
    let latin = pki("Z\u{fc}rich");
    let t61 = with_cn(&latin.der, T61, b"Z\xfcrich");
    assert_eq!(
        compare("T61String, Latin-1", &latin, &t61, CmsProfile::Keystone),
        Verdict::BothAccept
    );
}

#[test]
fn embedded_certificate_names_follow_openssl_in_the_lenient_profile() {
    let pki = pki("Root");
    let cert_der = openssl::x509::X509::from_pem(&pki.leaf.cert_pem)
        .unwrap()
        .to_der()
        .unwrap();
    // The leaf's subject CN "leaf" as a VisibleString: OpenSSL cannot read the certificate.
    let needle = [
        0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04, b'l', b'e', b'a', b'f',
    ];
    let at = cert_der
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    let mut visible = cert_der.clone();
    visible[at + 5] = 0x1a;
    for (case, cert, expected) in [
        ("embedded certificate", cert_der, Verdict::BothAccept),
        (
            "embedded certificate with a VisibleString name",
            visible,
            UNREADABLE,
        ),
    ] {
        let cert = Certificate::from_der(&cert).unwrap();
        let der = edit_signed_data(&pki.der, |sd| {
            sd.certificates = Some(CertificateSet(
                SetOfVec::try_from(vec![CertificateChoices::Certificate(cert.clone())]).unwrap(),
            ));
        });
        assert_eq!(
            compare(case, &pki, &der, CmsProfile::Lenient),
            expected,
            "{case}"
        );
        assert_eq!(
            compare(case, &pki, &der, CmsProfile::Keystone),
            if expected == Verdict::BothAccept {
                Verdict::OnlyOpensslAccepts
            } else {
                UNREADABLE
            },
            "{case}: outside the keystone profile"
        );
    }
}
