//! Tests of `pem`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

#[test]
fn round_trip_and_wrapping() {
    let der: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let pem = der_to_pem(&der);
    assert!(pem.starts_with("-----BEGIN CMS-----\n"));
    assert!(pem.ends_with("\n-----END CMS-----\n"));
    let body_lines: Vec<&str> = pem.lines().skip(1).collect();
    assert!(body_lines[..body_lines.len() - 2]
        .iter()
        .all(|l| l.len() == 64));
    assert_eq!(pem_to_der(pem.as_bytes(), &Limits::default()).unwrap(), der);
    let crlf = pem.replace('\n', "\r\n");
    assert_eq!(
        pem_to_der(crlf.as_bytes(), &Limits::default()).unwrap(),
        der
    );
    // Whitespace around the block, blank lines included, is not text.
    let padded = format!("\n \t\r\n{pem}\n\n  \n");
    assert_eq!(
        pem_to_der(padded.as_bytes(), &Limits::default()).unwrap(),
        der
    );
}

#[test]
fn empty_document() {
    assert_eq!(der_to_pem(&[]), "-----BEGIN CMS-----\n-----END CMS-----\n");
}

#[test]
fn pkcs7_label() {
    let text = b"-----BEGIN PKCS7-----\nAAEC\n-----END PKCS7-----\n";
    assert_eq!(pem_to_der(text, &Limits::default()).unwrap(), vec![0, 1, 2]);
}

#[test]
fn one_text_one_document() {
    let l = Limits::default();
    let cms = "-----BEGIN CMS-----\nAAEC\n-----END CMS-----\n";
    let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    for bad in [
        // OpenSSL's CMS reader would read the CERTIFICATE block; kstoken used to skip it.
        format!("{cert}{cms}"),
        format!("{cms}{cert}"),
        cert.to_owned(),
        format!("{cms}{cms}"),
        format!("junk\n{cms}"),
        format!("{cms}trailer"),
        format!("{cms}-----END CMS-----\n"),
        format!("x{cms}"),
        format!("  {cms}"),
        "-----BEGIN CMS-----\n-----BEGIN CMS-----\nAAEC\n-----END CMS-----\n".to_owned(),
    ] {
        assert!(
            matches!(pem_to_der(bad.as_bytes(), &l), Err(Error::Malformed(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn certificates_with_text_around() {
    let cert = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
    let with_text = format!("subject=CN = x\n\n{cert}trailing words\n");
    assert_eq!(
        decode_single(
            with_text.as_bytes(),
            &[CERTIFICATE_LABEL],
            OutsideText::Ignored
        )
        .unwrap(),
        vec![0, 1, 2]
    );
    for bad in [
        format!("{cert}{cert}"),
        cert.replace("CERTIFICATE", "PRIVATE KEY"),
        format!("x-----BEGIN CERTIFICATE-----\n{cert}"),
        "subject only\n".to_owned(),
    ] {
        assert!(
            matches!(
                decode_single(bad.as_bytes(), &[CERTIFICATE_LABEL], OutsideText::Ignored),
                Err(Error::Malformed(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn malformed_inputs() {
    let l = Limits::default();
    for bad in [
        &b""[..],
        b"MIIB",
        b"-----BEGIN CMS-----\nAAEC\n",
        b"-----BEGIN CMS-----\nAAEC\n-----END PKCS7-----\n",
        b"-----BEGIN CMS-----\nAA*C\n-----END CMS-----\n",
        b"-----BEGIN CMS-----\nProc-Type: 4,ENCRYPTED\n\nAAEC\n-----END CMS-----\n",
    ] {
        assert!(
            matches!(pem_to_der(bad, &l), Err(Error::Malformed(_))),
            "{bad:?}"
        );
    }
    let small = Limits {
        max_token_len: 10,
        ..Limits::default()
    };
    assert!(matches!(
        pem_to_der(&[b'A'; 11], &small),
        Err(Error::LimitExceeded { .. })
    ));
}
