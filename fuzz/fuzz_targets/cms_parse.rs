//! Any bytes as CMS DER/BER → parse; a parsed document re-verifies without panicking.
#![no_main]
use kstoken_fuzz::{CLOCK, VERIFIER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = kstoken::cms::parse(data) {
        let _ = VERIFIER.verify_document_at(doc, CLOCK);
    }
});
