//! Constructed (BER) eContent against `openssl cms -verify`: real `openssl cms -sign -stream`
//! output and hand-built constructed OCTET STRINGs must get the same verdict and the same content
//! from a lenient verifier as from OpenSSL, and the keystone profile refuses all of them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use kstoken::token_text::pem::{der_to_pem, pem_to_der};
use kstoken::{CmsProfile, Error, Limits, Verifier};
use kstoken_testkit::asn1::{children, indefinite, split, tlv, to_indefinite};
use kstoken_testkit::{
    cms_sign, cms_sign_stream, cms_verify_form, keystone_pki, unix_now, Issued, OpensslOutcome,
    Workdir,
};

/// The PKI, both verifiers and the clock.
struct Setup {
    _dir: Workdir,
    ca: Issued,
    signer: Issued,
    lenient: Verifier,
    keystone: Verifier,
    now: i64,
}

fn setup() -> Setup {
    let dir = Workdir::new();
    let (ca, signer) = keystone_pki(&dir, 2048);
    let keystone = Verifier::new(&signer.cert_pem, &ca.cert_pem).unwrap();
    let lenient = Verifier::new(&signer.cert_pem, &ca.cert_pem)
        .unwrap()
        .with_profile(CmsProfile::Lenient);
    Setup {
        _dir: dir,
        ca,
        signer,
        lenient,
        keystone,
        now: unix_now(),
    }
}

/// How the two implementations judged one document.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    BothAccept,
    BothReject,
    /// OpenSSL accepts, kstoken refuses to parse: allowed only where the test says so.
    OnlyOpensslAccepts,
}

impl Setup {
    fn openssl(&self, input: &[u8], inform: &str) -> OpensslOutcome {
        cms_verify_form(
            input,
            &self.signer.cert_path,
            &self.ca.cert_path,
            Some(self.now),
            inform,
        )
    }

    /// Verifies `der` (as DER and as PEM) with OpenSSL and the lenient verifier and asserts they
    /// agree; asserts the keystone profile refuses it unless it is DER.
    fn compare(&self, case: &str, der: &[u8]) -> Verdict {
        let pem = der_to_pem(der);
        let mut verdicts = Vec::new();
        for (form, input, ours) in [
            ("DER", der, self.lenient.verify_der_at(der, self.now)),
            (
                "PEM",
                pem.as_bytes(),
                self.lenient.verify_at(pem.as_bytes(), self.now),
            ),
        ] {
            let oracle = self.openssl(input, form);
            verdicts.push(match (ours, oracle.ok()) {
                (Ok(content), true) => {
                    assert_eq!(content, oracle.stdout, "{case} ({form}): content differs");
                    Verdict::BothAccept
                }
                (Err(_), false) => Verdict::BothReject,
                (Ok(content), false) => panic!(
                    "{case} ({form}): kstoken accepted {} bytes, openssl rejects: {}",
                    content.len(),
                    oracle.stderr
                ),
                (Err(err), true) => {
                    assert!(
                        matches!(err, Error::Malformed(_)),
                        "{case} ({form}): openssl accepts, kstoken says {err}"
                    );
                    Verdict::OnlyOpensslAccepts
                }
            });
        }
        assert_eq!(verdicts[0], verdicts[1], "{case}: DER and PEM differ");
        // The keystone profile: only DER passes; BER is refused before anything else.
        let strict = self.keystone.verify_der_at(der, self.now);
        match kstoken::cms::parse(der).map(|d| d.profile_deviation()) {
            Ok(None) => assert_eq!(
                strict.is_ok(),
                verdicts[0] == Verdict::BothAccept,
                "{case}: DER"
            ),
            Ok(Some(deviation)) => match strict {
                Err(Error::Malformed(m)) => assert!(
                    m.contains("keystone's token profile") && m.contains(&deviation.to_string()),
                    "{case}: {m}"
                ),
                other => panic!("{case}: the keystone profile says {other:?}"),
            },
            Err(_) => assert!(matches!(strict, Err(Error::Malformed(_))), "{case}"),
        }
        verdicts.remove(0)
    }
}

#[test]
fn openssl_stream_output_verifies_with_the_same_content() {
    let s = setup();
    let mut accepted = 0;
    // `openssl cms -sign -stream` cannot sign empty content ("Error writing CMS output").
    for size in [
        1usize, 100, 999, 1000, 1001, 4095, 4096, 4097, 5000, 9000, 14000,
    ] {
        // Lines of JSON-ish text: the text-mode signer turns each "\n" into "\r\n".
        let body: Vec<u8> = (0..size)
            .map(|i| {
                if i % 70 == 69 {
                    b'\n'
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        for outform in ["PEM", "DER"] {
            let out = cms_sign_stream(
                &s.signer.cert_path,
                &s.signer.key_path,
                &body,
                "sha256",
                outform,
            );
            assert!(out.ok(), "{}", out.stderr);
            let der = if outform == "PEM" {
                pem_to_der(&out.stdout, &Limits::default()).unwrap()
            } else {
                out.stdout.clone()
            };
            assert_eq!(der[1], 0x80, "-stream writes indefinite lengths");
            let case = format!("-stream {outform}, {size} bytes");
            // The signer's own output, as written, through both entry points.
            let ours = if outform == "PEM" {
                s.lenient.verify_at(&out.stdout, s.now)
            } else {
                s.lenient.verify_der_at(&out.stdout, s.now)
            };
            let oracle = s.openssl(&out.stdout, outform);
            assert!(oracle.ok(), "{case}: {}", oracle.stderr);
            assert_eq!(ours.unwrap(), oracle.stdout, "{case}");
            assert_eq!(s.compare(&case, &der), Verdict::BothAccept, "{case}");
            assert_eq!(
                segments(&der),
                oracle.stdout.len().div_ceil(4096),
                "{case}: segments"
            );
            accepted += 1;
        }
    }
    assert_eq!(accepted, 22);
}

/// How many segments the eContent of a `-stream` document has.
fn segments(der: &[u8]) -> usize {
    let at = der
        .windows(4)
        .position(|w| w == [0xa0, 0x80, 0x24, 0x80])
        .expect("constructed eContent");
    let mut rest = &der[at + 4..];
    let mut n = 0;
    while rest[0] == 0x04 {
        let (_, _, after) = split(rest);
        rest = after;
        n += 1;
    }
    n
}

/// The parts of a DER SignedData document that the hand-built variants keep.
struct Parts {
    version: Vec<u8>,
    digest_algorithms: Vec<u8>,
    econtent_type: Vec<u8>,
    signer_infos: Vec<u8>,
}

fn parts(der: &[u8]) -> Parts {
    let (_, ci, _) = split(der);
    let ci = children(ci);
    let (_, explicit, _) = split(ci[1]);
    let (_, sd, _) = split(explicit);
    let sd = children(sd);
    assert_eq!(
        sd.len(),
        4,
        "version, digestAlgorithms, encapContentInfo, signerInfos"
    );
    let (_, eci, _) = split(sd[2]);
    Parts {
        version: sd[0].to_vec(),
        digest_algorithms: sd[1].to_vec(),
        econtent_type: children(eci)[0].to_vec(),
        signer_infos: sd[3].to_vec(),
    }
}

/// The ContentInfo with `econtent` (a whole TLV) as eContent: definite lengths around it, or
/// indefinite ones everywhere as `-stream` writes them.
fn document(p: &Parts, econtent: &[u8], indefinite_around: bool) -> Vec<u8> {
    let wrap = |tag: u8, content: &[u8]| {
        if indefinite_around {
            indefinite(tag, content)
        } else {
            tlv(tag, content)
        }
    };
    let eci = wrap(
        0x30,
        &[&p.econtent_type[..], &wrap(0xa0, econtent)].concat(),
    );
    let sd = wrap(
        0x30,
        &[&p.version[..], &p.digest_algorithms, &eci, &p.signer_infos].concat(),
    );
    let oid = tlv(
        0x06,
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02],
    );
    wrap(0x30, &[oid, wrap(0xa0, &sd)].concat())
}

fn octets(content: &[u8]) -> Vec<u8> {
    tlv(0x04, content)
}

/// `content` in `depth` constructed levels, the innermost holding two primitive segments.
fn nested(content: &[u8], depth: usize) -> Vec<u8> {
    let (a, b) = content.split_at(content.len() / 2);
    let mut inner = tlv(0x24, &[octets(a), octets(b)].concat());
    for _ in 1..depth {
        inner = indefinite(0x24, &inner);
    }
    inner
}

#[test]
fn hand_built_constructed_content_matches_openssl() {
    let s = setup();
    let body: Vec<u8> = br#"{"token":{"methods":["password"],"user":{"id":"u1","name":"admin"},"expires_at":"2099-01-01T00:00:00Z","padding":""#
        .iter()
        .copied()
        .chain(std::iter::repeat_n(b'p', 3000))
        .chain(*br#""}}"#)
        .collect();
    let signed = cms_sign(&s.signer.cert_path, &s.signer.key_path, &body, "sha256");
    let der = pem_to_der(&signed.stdout, &Limits::default()).unwrap();
    let p = parts(&der);
    assert_eq!(
        document(&p, &octets(&body), false),
        der,
        "the parts rebuild the DER"
    );
    let empty_signed = cms_sign(&s.signer.cert_path, &s.signer.key_path, b"", "sha256");
    let empty = parts(&pem_to_der(&empty_signed.stdout, &Limits::default()).unwrap());
    let (c1, rest) = body.split_at(1000);
    let (c2, c3) = rest.split_at(1500);
    let seg = |parts: &[&[u8]]| parts.iter().map(|c| octets(c)).collect::<Vec<_>>().concat();

    let accept: Vec<(&str, Vec<u8>, bool)> = vec![
        ("primitive (DER)", octets(&body), false),
        ("primitive, indefinite around", octets(&body), true),
        (
            "constructed definite, 3 segments",
            tlv(0x24, &seg(&[c1, c2, c3])),
            false,
        ),
        (
            "constructed indefinite, 3 segments",
            indefinite(0x24, &seg(&[c1, c2, c3])),
            false,
        ),
        (
            "constructed indefinite, indefinite around",
            indefinite(0x24, &seg(&[c1, c2, c3])),
            true,
        ),
        ("one segment", tlv(0x24, &octets(&body)), false),
        (
            "nested constructed segments",
            indefinite(0x24, &[tlv(0x24, &seg(&[c1, c2])), octets(c3)].concat()),
            false,
        ),
        (
            "nested indefinite inside definite",
            tlv(
                0x24,
                &[indefinite(0x24, &seg(&[c1])), seg(&[c2, c3])].concat(),
            ),
            false,
        ),
        (
            "empty segments between",
            indefinite(0x24, &seg(&[b"", c1, b"", b"", c2, c3, b""])),
            false,
        ),
        ("six constructed levels", nested(&body, 6), false),
    ];
    for (case, econtent, around) in &accept {
        let doc = document(&p, econtent, *around);
        assert_eq!(s.compare(case, &doc), Verdict::BothAccept, "{case}");
    }
    let whole = to_indefinite(&der);
    assert_eq!(
        s.compare("every length indefinite", &whole),
        Verdict::BothAccept
    );
    // Empty content: no segments at all, or only empty ones.
    for (case, econtent) in [
        ("empty: no segments, definite", tlv(0x24, b"")),
        ("empty: no segments, indefinite", indefinite(0x24, b"")),
        ("empty: empty segments", indefinite(0x24, &seg(&[b"", b""]))),
    ] {
        let doc = document(&empty, &econtent, false);
        assert_eq!(s.compare(case, &doc), Verdict::BothAccept, "{case}");
        assert!(s.lenient.verify_der_at(&doc, s.now).unwrap().is_empty());
    }

    let reject: Vec<(&str, Vec<u8>)> = vec![
        // The issue's forgery shape: the signed bytes as the "segments" of a constructed string.
        ("primitive-but-0x24 fake", tlv(0x24, &body)),
        ("seven constructed levels", nested(&body, 7)),
        (
            "segments of another document's content",
            indefinite(0x24, &seg(&[c1, c3])),
        ),
        (
            "end-of-contents inside a definite length",
            tlv(0x24, &[octets(c1), vec![0, 0], seg(&[c2, c3])].concat()),
        ),
        (
            "primitive with an indefinite length",
            [&[0x04u8, 0x80][..], &body, &[0, 0]].concat(),
        ),
        (
            "empty constructed string for signed content",
            tlv(0x24, b""),
        ),
        ("truncated segment", tlv(0x24, &octets(&body)[..body.len()])),
    ];
    for (case, econtent) in &reject {
        let doc = document(&p, econtent, false);
        assert_eq!(s.compare(case, &doc), Verdict::BothReject, "{case}");
    }

    // OpenSSL does not check the segments' tags; kstoken requires OCTET STRINGs (X.690 8.7.3.2),
    // the one documented way its BER reading is stricter here.
    for (case, econtent) in [
        (
            "UTF8String segment",
            indefinite(0x24, &[tlv(0x0c, c1), seg(&[c2, c3])].concat()),
        ),
        (
            "context-tagged segment",
            indefinite(0x24, &[tlv(0x80, c1), seg(&[c2, c3])].concat()),
        ),
    ] {
        let doc = document(&p, &econtent, false);
        assert_eq!(s.compare(case, &doc), Verdict::OnlyOpensslAccepts, "{case}");
    }
}
