//! Writes the benchmark fixtures for the Python benchmark: a PKI and PKI/PKIZ tokens of each size.

use std::path::PathBuf;

use kstoken::Signer;
use kstoken_benches::{pki, v3_body, SIZES};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: fixtures DIR")?);
    std::fs::create_dir_all(&dir)?;
    let pki = pki();
    std::fs::write(dir.join("signing_cert.pem"), &pki.signing_cert_pem)?;
    std::fs::write(dir.join("signing_key.pem"), &pki.signing_key_pem)?;
    std::fs::write(dir.join("ca.pem"), &pki.ca_cert_pem)?;
    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem)?;
    for (size, services) in SIZES {
        let body = v3_body(services);
        std::fs::write(dir.join(format!("{size}.json")), &body)?;
        std::fs::write(dir.join(format!("{size}.pki")), signer.sign_pki(&body)?)?;
        std::fs::write(dir.join(format!("{size}.pkiz")), signer.sign_pkiz(&body)?)?;
        std::fs::write(dir.join(format!("{size}.pem")), signer.sign_pem(&body)?)?;
    }
    println!("fixtures written to {}", dir.display());
    Ok(())
}
