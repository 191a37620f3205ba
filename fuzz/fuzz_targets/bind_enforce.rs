//! Mode, bind JSON, auth type, remote user and client certificate from one input → enforce.
#![no_main]
use kstoken::body::bind::{enforce, AuthContext, BindMode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0);
    let mut next = || parts.next().unwrap_or_default();
    let mode = BindMode::parse(&String::from_utf8_lossy(next()));
    let bind: Option<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(next()).ok();
    let auth_type = String::from_utf8_lossy(next()).into_owned();
    let remote_user = String::from_utf8_lossy(next()).into_owned();
    let cert = next();
    let ctx = AuthContext {
        auth_type: Some(&auth_type),
        remote_user: Some(&remote_user),
        client_cert: Some(cert),
    };
    let _ = enforce(&mode, bind.as_ref(), &ctx);
    let _ = kstoken::body::bind::x509_fingerprint(cert);
});
