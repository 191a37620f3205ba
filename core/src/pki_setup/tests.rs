//! Tests of `pki_setup`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::{Signer, Verifier};

#[test]
fn generated_pki_signs_and_verifies() {
    let pki = generate(&PkiOptions {
        key_bits: 1024,
        ..PkiOptions::default()
    })
    .unwrap();
    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem).unwrap();
    let verifier = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem).unwrap();
    let token = signer.sign_pki(b"{\"token\":{}}").unwrap();
    assert_eq!(
        verifier.verify(token.as_bytes()).unwrap(),
        b"{\"token\":{}}"
    );
    let cert = X509::from_pem(&pki.signing_cert_pem).unwrap();
    assert_eq!(
        cert.serial_number().to_bn().unwrap(),
        BigNum::from_u32(1).unwrap()
    );
    assert_eq!(
        format!("{:?}", cert.subject_name()),
        format!("{:?}", cert.issuer_name())
    );
}

/// The message of a refused option, which must be an invalid argument.
fn refusal(options: &PkiOptions, now: i64) -> String {
    match options.validity_at(now) {
        Err(Error::InvalidArgument(message)) => message,
        other => panic!(
            "{options:?} not refused as an invalid argument: {:?}",
            other.map(|_| ())
        ),
    }
}

fn with(key_bits: u32, valid_days: u32, subject: &str) -> PkiOptions {
    PkiOptions {
        key_bits,
        valid_days,
        subject: subject.to_owned(),
    }
}

#[test]
fn key_sizes_are_bounded() {
    let now = 1_893_456_000;
    let at = |bits| with(bits, 30, DEFAULT_SUBJECT).validity_at(now).map(|_| ());
    assert_eq!(at(MIN_KEY_BITS), Ok(()));
    assert_eq!(at(MAX_KEY_BITS), Ok(()));
    let small = refusal(&with(512, 30, DEFAULT_SUBJECT), now);
    assert!(small.contains("512") && small.contains("1024"), "{small}");
    let large = refusal(&with(20_000, 30, DEFAULT_SUBJECT), now);
    assert!(large.contains("20000") && large.contains("8192"), "{large}");
    assert!(with(MAX_KEY_BITS + 1, 30, DEFAULT_SUBJECT)
        .validity_at(now)
        .is_err());
    // generate refuses before generating anything (20000 bits would take hours).
    assert!(matches!(
        generate(&with(20_000, 30, DEFAULT_SUBJECT)),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn validity_must_be_one_day_to_9999_12_31() {
    let now = 1_893_456_000; // 2030-01-01T00:00:00Z
    let zero = refusal(&with(1024, 0, DEFAULT_SUBJECT), now);
    assert!(zero.contains("at least 1 day"), "{zero}");
    let max = PkiOptions::max_valid_days_at(now);
    assert_eq!(max, 2_910_981); // 2030-01-01 + 2910981 days = 9999-12-31
    let (not_before, not_after, _) = with(1024, max, DEFAULT_SUBJECT).validity_at(now).unwrap();
    assert_eq!(not_before, now);
    assert!(not_after <= MAX_UNIX_TIME && not_after + DAY > MAX_UNIX_TIME);
    let over = refusal(&with(1024, max + 1, DEFAULT_SUBJECT), now);
    assert!(
        over.contains(&format!("{}", max + 1))
            && over.contains("9999-12-31")
            && over.contains(&format!("at most {max} days")),
        "{over}"
    );
    let huge = refusal(&with(1024, 99_999_999, DEFAULT_SUBJECT), now);
    assert!(huge.contains("99999999"), "{huge}");
    assert_eq!(PkiOptions::max_valid_days_at(MAX_UNIX_TIME), 0);
    assert_eq!(PkiOptions::max_valid_days_at(i64::MAX), 0);
    assert_eq!(PkiOptions::max_valid_days_at(i64::MIN), u32::MAX);
}

#[test]
fn subjects_must_name_known_attributes_with_values() {
    let now = 1_893_456_000;
    for (subject, needle) in [
        ("CN=x", "starting with '/'"),
        ("/", "names no attribute"),
        ("//", "names no attribute"),
        ("/CN", "is not KEY=VALUE"),
        ("/CN=", "CN has no value"),
        ("/NOPE=x", "unknown attribute \"NOPE\""),
        ("/C=USA/CN=x", "string too long"),
    ] {
        let message = refusal(&with(1024, 30, subject), now);
        assert!(message.contains(needle), "{subject}: {message}");
    }
    assert!(parse_subject("/O=a\\/b/CN=x").is_ok());
    assert!(parse_subject("/CN=x/").is_ok());
    assert_eq!(with(1024, 30, "/CN=x").validate(), Ok(()));
}

#[test]
fn longest_validity_makes_a_working_pki() {
    let days = PkiOptions::max_valid_days_at(unix_now()) - 1;
    let pki = generate(&with(1024, days, "/CN=far future")).unwrap();
    let cert = X509::from_pem(&pki.signing_cert_pem).unwrap();
    let span = cert.not_before().diff(cert.not_after()).unwrap();
    assert_eq!(span.days, i32::try_from(days).unwrap());
    assert_eq!(span.secs, 0);
    assert!(
        cert.not_after().to_string().contains("9999"),
        "{}",
        cert.not_after()
    );
    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem).unwrap();
    let verifier = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem).unwrap();
    let token = signer.sign_pki(b"{}").unwrap();
    assert_eq!(verifier.verify(token.as_bytes()).unwrap(), b"{}");
    // ... and the day after 9999-12-31 is refused, as the last day the certificates cover.
    assert!(verifier
        .verify_at(token.as_bytes(), MAX_UNIX_TIME + 1)
        .is_err());
}
