//! Any bytes as a token (PKI text, PKIZ, CMS PEM: the verifier picks by prefix) → verify.
#![no_main]
use kstoken_fuzz::{CLOCK, VERIFIER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = VERIFIER.verify_at(data, CLOCK);
});
