//! Differential fuzzing against `openssl cms -verify`: mutated tokens must get the same verdict
//! and, when accepted, the same content from kstoken as from OpenSSL.
//!
//! `KSTOKEN_DIFF_CASES` sets the number of cases (default 300, a few seconds); run with e.g.
//! `KSTOKEN_DIFF_CASES=20000 cargo test -p kstoken --test differential_mutations -- --nocapture`
//! for a long campaign. Each case also goes through a [`CmsProfile::Lenient`] verifier. kstoken
//! may be stricter than OpenSSL only as the README documents: by refusing to parse (trailing bytes,
//! some BER) or refusing algorithm identifiers OpenSSL tolerates (an unrecognised signer digest OID,
//! which OpenSSL replaces by the first digestAlgorithms entry) under both profiles, and by refusing a
//! document outside keystone's token profile under the default one (a case the lenient verifier
//! then accepts with OpenSSL's content). It must never accept what OpenSSL rejects.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use kstoken::token_text::pem::{der_to_pem, pem_to_der};
use kstoken::{CmsProfile, Error, Limits, Verifier, VerifyFailure};
use kstoken_testkit::{cms_sign, cms_verify, keystone_pki, unix_now, CertSpec, KeySpec, Workdir};

/// xorshift64*: deterministic, seedable, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(rng: &mut Rng, der: &[u8]) -> Vec<u8> {
    let mut d = der.to_vec();
    for _ in 0..1 + rng.below(3) {
        if d.is_empty() {
            break;
        }
        let at = rng.below(d.len());
        let value = rng.next() as u8;
        match rng.below(6) {
            0 | 1 => d[at] ^= 1 << (value % 8),
            2 => d[at] = value,
            3 => d.insert(at, value),
            4 => {
                d.remove(at);
            }
            _ => d.truncate(at),
        }
    }
    d
}

#[test]
fn mutated_tokens_get_openssl_verdicts() {
    let cases: usize = std::env::var("KSTOKEN_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = Workdir::new();
    let (ca, rsa) = keystone_pki(&dir, 2048);
    let ec = dir.issue(
        "ec",
        &CertSpec {
            key: KeySpec::EcP256,
            ski_aki: true,
            ..CertSpec::with_subject("/CN=ec signer")
        },
        &ca,
    );
    let mut bundle = rsa.cert_pem.clone();
    bundle.extend_from_slice(&ec.cert_pem);
    let bundle_path = dir.write("bundle.pem", &bundle);
    let verifier = Verifier::new(&bundle, &ca.cert_pem).unwrap();
    let lenient = Verifier::new(&bundle, &ca.cert_pem)
        .unwrap()
        .with_profile(CmsProfile::Lenient);
    let body = br#"{"token":{"methods":["password"],"user":{"id":"u1","name":"admin"},"expires_at":"2099-01-01T00:00:00Z"}}"#;
    let originals: Vec<Vec<u8>> = [&rsa, &ec]
        .iter()
        .map(|s| {
            let pem = cms_sign(&s.cert_path, &s.key_path, body, "sha256").stdout;
            pem_to_der(&pem, &Limits::default()).unwrap()
        })
        .collect();
    let now = unix_now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut both_accept, mut both_reject, mut parser, mut profile) = (0, 0, 0, 0);
    let mut deviations = std::collections::BTreeMap::new();
    for case in 0..cases {
        let original = &originals[case % originals.len()];
        let der = mutate(&mut rng, original);
        let pem = der_to_pem(&der);
        let oracle = cms_verify(pem.as_bytes(), &bundle_path, &ca.cert_path, Some(now));
        let ours = verifier.verify_at(pem.as_bytes(), now);
        let relaxed = lenient.verify_at(pem.as_bytes(), now);
        // The lenient verifier against OpenSSL: only the parser and algorithm strictness.
        match (&relaxed, oracle.ok()) {
            (Ok(content), true) => assert_eq!(content, &oracle.stdout, "case {case}: content"),
            (Err(_), false) => {}
            (Ok(_), false) => panic!(
                "case {case}: kstoken (lenient) accepted what openssl rejects ({}): {}",
                oracle.stderr,
                hex(&der)
            ),
            (Err(err), true) => assert!(
                matches!(
                    err,
                    Error::Malformed(_)
                        | Error::Verification {
                            reason: VerifyFailure::UnsupportedAlgorithm,
                            ..
                        }
                ),
                "case {case}: openssl accepts, kstoken (lenient) says {err}: {}",
                hex(&der)
            ),
        }
        // The default verifier accepts a subset of the lenient one's, refusing the rest only as
        // outside the keystone profile.
        match (ours, &relaxed) {
            (Ok(content), Ok(relaxed_content)) => {
                assert_eq!(&content, relaxed_content, "case {case}");
                both_accept += 1;
            }
            (Ok(_), Err(err)) => panic!("case {case}: only the keystone profile accepts: {err}"),
            (Err(err), Ok(_)) => {
                assert!(
                    matches!(&err, Error::Malformed(m) if m.contains("keystone's token profile")),
                    "case {case}: the profile refuses with {err}: {}",
                    hex(&der)
                );
                if let Some(d) = kstoken::cms::parse(&der)
                    .ok()
                    .and_then(|d| d.profile_deviation())
                {
                    *deviations.entry(format!("{d:?}")).or_insert(0) += 1;
                }
                profile += 1;
            }
            (Err(_), Err(err)) if oracle.ok() => {
                if parser < 10 {
                    println!("stricter, case {case}: {err}");
                }
                parser += 1;
            }
            (Err(_), Err(_)) => both_reject += 1,
        }
    }
    println!(
        "differential: {cases} cases, {both_accept} accepted and {both_reject} rejected by all, \
         {parser} refused by kstoken's stricter parser only, {profile} refused as outside the \
         keystone profile only ({deviations:?})"
    );
    assert_eq!(both_accept + both_reject + parser + profile, cases);
    assert!(both_reject > 0);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
