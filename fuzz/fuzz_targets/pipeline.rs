//! Any bytes as a token → the whole validation pipeline.
#![no_main]
use kstoken::body::bind::AuthContext;
use kstoken::{validate, DetectionRule, Policy};
use kstoken_fuzz::{CLOCK, VERIFIER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policy = Policy {
        detection: DetectionRule::Lenient,
        ..Policy::default()
    };
    let ctx = AuthContext {
        auth_type: Some("negotiate"),
        remote_user: Some("USER@REALM"),
        client_cert: None,
    };
    let _ = validate(data, &VERIFIER, None, &policy, &ctx, CLOCK);
});
