//! Any bytes as a PKIZ payload (zlib inflation included) → verify.
#![no_main]
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use kstoken_fuzz::{CLOCK, VERIFIER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let token = format!("PKIZ_{}", URL_SAFE.encode(data));
    let _ = VERIFIER.verify_at(token.as_bytes(), CLOCK);
});
