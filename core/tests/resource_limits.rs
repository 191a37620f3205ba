//! Resource limits: each one at and just over its bound (tokens, PKIZ, JSON, credentials, signed
//! content), and a PKIZ bomb's cost in time and memory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Instant;

use kstoken::pki_setup::{generate, GeneratedPki, PkiOptions};
use kstoken::token_text::pkiz;
use kstoken::{body, Error, LimitKind, Limits, RevocationList, Signer, Verifier};

fn pki() -> GeneratedPki {
    generate(&PkiOptions {
        key_bits: 1024,
        ..PkiOptions::default()
    })
    .unwrap()
}

fn verifier(pki: &GeneratedPki, limits: Limits) -> Verifier {
    Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem)
        .unwrap()
        .with_limits(limits)
}

fn limit_of<T: std::fmt::Debug>(result: Result<T, Error>) -> LimitKind {
    match result {
        Err(Error::LimitExceeded { what, .. }) => what,
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn token_length_limit_at_and_just_over() {
    let pki = pki();
    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem).unwrap();
    for token in [
        signer.sign_pki(b"{}").unwrap(),
        signer.sign_pkiz(b"{}").unwrap(),
        signer.sign_pem(b"{}").unwrap(),
    ] {
        let at = Limits {
            max_token_len: token.len(),
            ..Limits::default()
        };
        assert!(verifier(&pki, at).verify(token.as_bytes()).is_ok());
        let over = Limits {
            max_token_len: token.len() - 1,
            ..Limits::default()
        };
        let err = verifier(&pki, over).verify(token.as_bytes());
        assert_eq!(limit_of(err), LimitKind::TokenLength, "{token:.8}");
    }
}

#[test]
fn inflated_size_limit_at_and_just_over() {
    let pki = pki();
    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem).unwrap();
    let token = signer.sign_pkiz(&[b'x'; 5000]).unwrap();
    let pem_len = pkiz::uncompress(token.as_bytes(), &Limits::default())
        .unwrap()
        .len();
    let at = Limits {
        max_inflated_len: pem_len,
        ..Limits::default()
    };
    assert!(verifier(&pki, at).verify(token.as_bytes()).is_ok());
    let over = Limits {
        max_inflated_len: pem_len - 1,
        ..Limits::default()
    };
    assert_eq!(
        limit_of(verifier(&pki, over).verify(token.as_bytes())),
        LimitKind::InflatedSize
    );
}

#[test]
fn json_limits_at_and_just_over() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let doc = format!(r#"{{"token": {{"x": {}}}}}"#, nested(10));
    // The body is two objects deep before the array nesting starts.
    let at = Limits {
        max_json_depth: 12,
        ..Limits::default()
    };
    assert!(body::parse(doc.as_bytes(), &at).is_ok());
    let over = Limits {
        max_json_depth: 11,
        ..Limits::default()
    };
    assert_eq!(
        limit_of(body::parse(doc.as_bytes(), &over)),
        LimitKind::JsonDepth
    );
    let size = Limits {
        max_json_len: doc.len() - 1,
        ..Limits::default()
    };
    assert_eq!(
        limit_of(body::parse(doc.as_bytes(), &size)),
        LimitKind::JsonSize
    );
    let list = br#"{"revoked": [{"id": "abc"}]}"#;
    let small = Limits {
        max_json_len: list.len() - 1,
        ..Limits::default()
    };
    assert_eq!(
        limit_of(RevocationList::from_json(list, &small)),
        LimitKind::JsonSize
    );
    // The default depth stops a deeply nested document without recursion trouble.
    let deep = format!(r#"{{"token": {}}}"#, nested(100_000));
    assert_eq!(
        limit_of(body::parse(deep.as_bytes(), &Limits::default())),
        LimitKind::JsonDepth
    );
}

/// Peak resident memory of this process, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

const BOMB_ENV: &str = "KSTOKEN_BOMB_TOKEN_FILE";

/// Runs in a child process (see below), so that its peak memory is the bomb's alone.
#[test]
fn pkiz_bomb_child() {
    let Some(path) = std::env::var_os(BOMB_ENV) else {
        return;
    };
    let token = std::fs::read(path).unwrap();
    let before = peak_rss_kib();
    let start = Instant::now();
    let result = pkiz::uncompress(&token, &Limits::default());
    let elapsed = start.elapsed();
    assert_eq!(limit_of(result), LimitKind::InflatedSize);
    println!(
        "BOMB peak_growth_kib={} elapsed_us={}",
        peak_rss_kib().saturating_sub(before),
        elapsed.as_micros()
    );
}

#[test]
fn pkiz_bomb_is_refused_quickly_in_bounded_memory() {
    // 100 MiB of zeros compress to ~100 KB; the default limit is 1 MiB of inflated output.
    let token = pkiz::compress(&vec![0u8; 100 << 20], 9).unwrap();
    let dir = std::env::temp_dir().join(format!("kstoken-bomb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bomb.txt");
    std::fs::write(&path, &token).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "pkiz_bomb_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(BOMB_ENV, &path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.find("BOMB ").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("no BOMB line in: {stdout}"));
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name))
            .unwrap()
            .parse()
            .unwrap()
    };
    let growth_kib = field("peak_growth_kib=");
    println!("PKIZ bomb: peak memory grew by {growth_kib} KiB");
    // A small multiple of the 1 MiB limit (the output buffer doubles up to limit + 1 byte).
    assert!(
        growth_kib <= 4 * 1024,
        "peak memory grew by {growth_kib} KiB"
    );
    // Time is reported, not asserted (timings belong to benchmarks).
    println!("PKIZ bomb refused in {} us", field("elapsed_us="));
}

#[test]
fn credentials_and_content_have_limits_checked_before_parsing() {
    const BODY: &[u8] = br#"{"token":{"expires_at":"2099-01-01T00:00:00Z"}}"#;
    let pki = pki();
    let (cert, key, ca) = (
        &pki.signing_cert_pem,
        &pki.signing_key_pem,
        &pki.ca_cert_pem,
    );
    let longest = cert.len().max(key.len()).max(ca.len());
    let at = Limits {
        max_credential_len: longest,
        max_content_len: BODY.len(),
        ..Limits::default()
    };
    let signer = Signer::new_with_limits(cert, key, at).unwrap();
    assert_eq!(signer.limits(), &at);
    assert!(signer.sign_pki(BODY).is_ok());
    let over = vec![b'x'; BODY.len() + 1];
    assert_eq!(limit_of(signer.sign_der(&over)), LimitKind::ContentLength);
    assert_eq!(limit_of(signer.sign_pki(&over)), LimitKind::ContentLength);
    assert_eq!(limit_of(signer.sign_pkiz(&over)), LimitKind::ContentLength);
    assert_eq!(limit_of(signer.sign_pem(&over)), LimitKind::ContentLength);
    let verifier = Verifier::new_with_limits(cert, ca, at).unwrap();
    assert_eq!(verifier.limits(), &at);
    assert_eq!(
        verifier
            .verify(signer.sign_pki(BODY).unwrap().as_bytes())
            .unwrap(),
        BODY
    );

    let under = Limits {
        max_credential_len: longest - 1,
        ..at
    };
    let longest_is = |bytes: &Vec<u8>| bytes.len() == longest;
    if longest_is(cert) || longest_is(key) {
        assert_eq!(
            limit_of(Signer::new_with_limits(cert, key, under)),
            LimitKind::CredentialLength
        );
    }
    if longest_is(cert) || longest_is(ca) {
        assert_eq!(
            limit_of(Verifier::new_with_limits(cert, ca, under)),
            LimitKind::CredentialLength
        );
    }
    // Garbage over the limit is refused as too long, not parsed; under it, as unreadable.
    let junk = vec![b'-'; 4096];
    let small = Limits {
        max_credential_len: 4095,
        ..Limits::default()
    };
    assert_eq!(
        limit_of(Verifier::new_with_limits(&junk, ca, small)),
        LimitKind::CredentialLength
    );
    assert_eq!(
        limit_of(Verifier::new_with_limits(cert, &junk, small)),
        LimitKind::CredentialLength
    );
    assert_eq!(
        limit_of(Signer::new_with_limits(cert, &junk, small)),
        LimitKind::CredentialLength
    );
    assert!(matches!(
        Verifier::new(&junk, ca),
        Err(Error::CertificateConfig(_))
    ));
    // The defaults: credentials up to 16 MiB, content up to 1 MiB.
    let defaults = Limits::default();
    assert_eq!(defaults.max_credential_len, 16 << 20);
    let signer = Signer::new(cert, key).unwrap();
    assert_eq!(
        limit_of(signer.sign_pki(&vec![b'x'; defaults.max_content_len + 1])),
        LimitKind::ContentLength
    );
}
