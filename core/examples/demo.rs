//! The main job end to end: a throw-away keystone-style PKI, a signed v3 token, verification.

use std::time::Instant;

use kstoken::pki_setup::{generate, PkiOptions};
use kstoken::token_text::hash_token;
use kstoken::{HashAlgorithm, Signer, Verifier};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("kstoken demo: a throw-away PKI in keystone's pki_setup layout (RSA-2048)");
    let pki = generate(&PkiOptions::default())?;
    let body = br#"{"token":{"methods":["external"],"user":{"id":"u1","name":"demo","domain":{"id":"default","name":"Default"}},"project":{"id":"p1","name":"demo","domain":{"id":"default","name":"Default"}},"roles":[{"id":"r1","name":"member"}],"bind":{"kerberos":"demo@EXAMPLE.ORG"},"audit_ids":["Zm9vYmFyYmF6cXV4"],"issued_at":"2026-01-01T00:00:00.000000Z","expires_at":"2099-01-01T00:00:00.000000Z"}}"#;

    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem)?;
    let verifier = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem)?;
    let pki_token = signer.sign_pki(body)?;
    let pkiz_token = signer.sign_pkiz(body)?;
    println!(
        "signed a v3 token with a kerberos bind: PKI {} chars, PKIZ {} chars",
        pki_token.len(),
        pkiz_token.len()
    );
    println!(
        "token id (md5): {}",
        hash_token(&pki_token, HashAlgorithm::Md5)?.unwrap_or_default()
    );

    for (form, token) in [("PKI", &pki_token), ("PKIZ", &pkiz_token)] {
        let content = verifier.verify(token.as_bytes())?;
        assert_eq!(content, body);
        let rounds = 2000;
        let start = Instant::now();
        for _ in 0..rounds {
            verifier.verify(token.as_bytes())?;
        }
        let per = start.elapsed() / rounds;
        println!("verified the {form} token: content intact, {per:?} per verification (Rust)");
    }

    let mut tampered = pki_token.clone().into_bytes();
    let middle = tampered.len() / 2;
    if let Some(b) = tampered.get_mut(middle) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    match verifier.verify(&tampered) {
        Ok(_) => return Err("a tampered token verified".into()),
        Err(e) => println!("tampered token rejected: {e}"),
    }
    Ok(())
}
