//! kstoken's PKI verify over the strict floor, timed interleaved: on a shared, loaded machine the
//! load drifts between two criterion rows measured seconds apart, so this alternates short batches
//! of the two (in alternating order) and reports the median of the per-round ratios with its
//! quartiles, which drift cancels out of.
//!
//! Prints one line per token size: `size median_ratio q1 q3 verify_us floor_us` (the times are
//! the medians of the per-operation times over the rounds). Then, the same way, the validation
//! pipeline against verify + the md5 token hash (the pipeline's speed target), one line per size:
//! `validate_<size> median_ratio q1 q3 validate_us verify_plus_hash_us`, with the criterion
//! benchmark's setup (a 100-entry revocation list, lenient detection, md5).

use std::hint::black_box;
use std::time::Instant;

use kstoken::revocation::RevokedEntry;
use kstoken::token_text::hash_hex;
use kstoken::{
    validate, AuthContext, DetectionRule, HashAlgorithm, Policy, RevocationList, Signer, Verifier,
};
use kstoken_benches::floor::{Base64Decoder, StrictFloor};
use kstoken_benches::{pki, v3_body, SIZES};
use openssl::x509::X509;

const ROUNDS: usize = 1001;
const BATCH: u32 = 10;

/// Seconds per call of `op`, over one batch.
fn per_call(op: &dyn Fn() -> bool) -> Result<f64, String> {
    let start = Instant::now();
    for _ in 0..BATCH {
        if !black_box(op()) {
            return Err("an operation failed".into());
        }
    }
    Ok(start.elapsed().as_secs_f64() / f64::from(BATCH))
}

fn median(values: &mut [f64], quantile: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let last = values.len().saturating_sub(1);
    // Truncation is intended: the nearest-rank quantile.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let index = (quantile * last as f64).round() as usize;
    values.get(index).copied().unwrap_or(f64::NAN)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pki = pki();
    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem)?;
    let verifier = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem)?;
    let key = X509::from_pem(&pki.signing_cert_pem)?.public_key()?;
    let now = kstoken::unix_now();
    for (size, services) in SIZES {
        let token = signer.sign_pki(&v3_body(services))?;
        let floor = StrictFloor::new(&token, key.clone());
        let verify = || verifier.verify_at(token.as_bytes(), now).is_ok();
        let strict = || floor.run(Base64Decoder::FASTEST);
        per_call(&verify)?;
        per_call(&strict)?;
        let (mut ratios, mut verify_s, mut floor_s) = (vec![], vec![], vec![]);
        for round in 0..ROUNDS {
            let (v, f) = if round % 2 == 0 {
                let v = per_call(&verify)?;
                (v, per_call(&strict)?)
            } else {
                let f = per_call(&strict)?;
                (per_call(&verify)?, f)
            };
            ratios.push(v / f);
            verify_s.push(v);
            floor_s.push(f);
        }
        println!(
            "{size} {:.3} {:.3} {:.3} {:.1} {:.1}",
            median(&mut ratios, 0.5),
            median(&mut ratios, 0.25),
            median(&mut ratios, 0.75),
            median(&mut verify_s, 0.5) * 1e6,
            median(&mut floor_s, 0.5) * 1e6,
        );
    }
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
    for (size, services) in SIZES {
        let token = signer.sign_pki(&v3_body(services))?;
        let pipeline =
            || validate(&token, &verifier, Some(&revocations), &policy, &auth, now).is_ok();
        let verify = || verifier.verify_at(token.as_bytes(), now).is_ok();
        let hash = || hash_hex(token.as_bytes(), HashAlgorithm::Md5).is_ok();
        per_call(&pipeline)?;
        per_call(&verify)?;
        per_call(&hash)?;
        let (mut ratios, mut validate_s, mut base_s) = (vec![], vec![], vec![]);
        for round in 0..ROUNDS {
            let (p, v, h) = if round % 2 == 0 {
                let p = per_call(&pipeline)?;
                let v = per_call(&verify)?;
                (p, v, per_call(&hash)?)
            } else {
                let h = per_call(&hash)?;
                let v = per_call(&verify)?;
                (per_call(&pipeline)?, v, h)
            };
            ratios.push(p / (v + h));
            validate_s.push(p);
            base_s.push(v + h);
        }
        println!(
            "validate_{size} {:.3} {:.3} {:.3} {:.1} {:.1}",
            median(&mut ratios, 0.5),
            median(&mut ratios, 0.25),
            median(&mut ratios, 0.75),
            median(&mut validate_s, 0.5) * 1e6,
            median(&mut base_s, 0.5) * 1e6,
        );
    }
    Ok(())
}
