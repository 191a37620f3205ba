//! Verification throughput with 1, 2 and 4 threads sharing one Verifier (Rust, no GIL).

use std::time::Instant;

use kstoken::{Signer, Verifier};
use kstoken_benches::{pki, v3_body};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pki = pki();
    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem)?;
    let verifier = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem)?;
    let token = signer.sign_pki(&v3_body(12))?;
    let per_thread = 20_000;
    let mut one = 0.0;
    for threads in [1, 2, 4] {
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for _ in 0..per_thread {
                        let _ = verifier.verify(token.as_bytes());
                    }
                });
            }
        });
        let rate = f64::from(threads * per_thread) / start.elapsed().as_secs_f64();
        if threads == 1 {
            one = rate;
        }
        println!(
            "{threads} threads: {rate:.0} verifications/s ({:.2}x one thread)",
            rate / one
        );
    }
    Ok(())
}
