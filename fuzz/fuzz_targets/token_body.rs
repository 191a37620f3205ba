//! Any bytes as a token body (v2/v3 JSON) → typed view, expiry.
#![no_main]
use kstoken::{body, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = body::parse(data, &Limits::default()) {
        let _ = b.is_expired(time::OffsetDateTime::UNIX_EPOCH);
        if let Ok(doc) = kstoken::json::parse_json(data, &Limits::default()) {
            let _ = kstoken::body::bind::bind_of(&doc);
        }
        // The middleware's view of the same bytes: identity headers and the service catalog.
        if let Ok(view) = kstoken::body::TokenView::decode(data, &Limits::default()) {
            let _ = kstoken::auth_token::Identity::of(&view);
            let _ = kstoken::auth_token::service_catalog(&view);
        }
    }
});
