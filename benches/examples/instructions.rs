//! One measured operation repeated, for instruction counts under callgrind, which are reproducible
//! on a shared, noisy machine where wall-clock times are not.
//!
//! `instructions FIXTURES OPERATION SIZE ITERATIONS` runs OPERATION (`verify`, `validate` (the
//! pipeline as the criterion benchmark runs it: lenient detection, md5, a 100-entry list),
//! `token_hash_md5`, `strict_floor`, or one of the floor's base64 decoders by row name) ITERATIONS
//! times on the PKI token of SIZE from
//! the directory the `fixtures` example writes (key generation under valgrind takes minutes),
//! inside `measured`; count only that function with
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=*measured* ...`
//! (`benches/instructions.sh` does, and divides by ITERATIONS).

use std::path::PathBuf;

use kstoken::revocation::RevokedEntry;
use kstoken::token_text::hash_hex;
use kstoken::{
    validate, AuthContext, DetectionRule, HashAlgorithm, Policy, RevocationList, Verifier,
};
use kstoken_benches::floor::{Base64Decoder, StrictFloor};
use openssl::x509::X509;

#[inline(never)]
fn measured(iterations: u32, op: &dyn Fn() -> bool) -> u32 {
    (0..iterations).map(|_| u32::from(op())).sum()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: instructions FIXTURES verify|validate|token_hash_md5|strict_floor|floor_base64_* SIZE ITERATIONS";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [fixtures, operation, size, iterations] = args.as_slice() else {
        return Err(usage.into());
    };
    let iterations: u32 = iterations.parse()?;
    let dir = PathBuf::from(fixtures);
    let signing_cert = std::fs::read(dir.join("signing_cert.pem"))?;
    let verifier = Verifier::new(&signing_cert, &std::fs::read(dir.join("ca.pem"))?)?;
    let token = std::fs::read_to_string(dir.join(format!("{size}.pki")))?;
    let key = X509::from_pem(&signing_cert)?.public_key()?;
    let floor = StrictFloor::new(&token, key);
    let now = kstoken::unix_now();
    // Once outside the count: the chain verdict is cached, as in a running service.
    verifier.verify_at(token.as_bytes(), now)?;
    // The criterion benchmark's pipeline: a 100-entry list, lenient detection (the large token's
    // DER is over 16 KiB), md5.
    let revocations = RevocationList::from_entries(
        (0..100)
            .map(|i| RevokedEntry {
                id: Some(format!("{i:032x}")),
                expires: Some("2099-01-01T00:00:00Z".into()),
                audit_id: Some(format!("audit{i}")),
            })
            .collect(),
    )?;
    let policy = Policy {
        detection: DetectionRule::Lenient,
        ..Policy::default()
    };
    let auth = AuthContext::default();
    let ok = match operation.as_str() {
        "verify" => measured(iterations, &|| {
            verifier.verify_at(token.as_bytes(), now).is_ok()
        }),
        "validate" => measured(iterations, &|| {
            validate(&token, &verifier, Some(&revocations), &policy, &auth, now).is_ok()
        }),
        "token_hash_md5" => measured(iterations, &|| {
            hash_hex(token.as_bytes(), HashAlgorithm::Md5).is_ok()
        }),
        "strict_floor" => measured(iterations, &|| floor.run(Base64Decoder::FASTEST)),
        name => {
            let decoder = Base64Decoder::ALL
                .into_iter()
                .find(|d| d.name() == name)
                .ok_or(usage)?;
            measured(iterations, &|| decoder.decode(floor.token()).is_some())
        }
    };
    if ok != iterations {
        return Err(format!("{operation} failed {} times", iterations - ok).into());
    }
    Ok(())
}
