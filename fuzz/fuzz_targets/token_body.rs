//! Any bytes as a token body (v2/v3 JSON) → typed view, expiry.
#![no_main]
use kstoken::{body, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = body::parse(data, &Limits::default()) {
        let _ = b.is_expired(time::OffsetDateTime::UNIX_EPOCH);
        let _ = kstoken::bind::bind_of(&b.raw);
    }
});
