//! Any bytes as CMS PEM text → DER; PKI token text → DER; detection rules.
#![no_main]
use kstoken::token_text::{self, pem};
use kstoken::{DetectionRule, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(der) = pem::pem_to_der(data, &limits) {
        assert_eq!(pem::pem_to_der(pem::der_to_pem(&der).as_bytes(), &limits).ok(), Some(der));
    }
    if let Ok(der) = token_text::pki_token_to_der(data, &limits) {
        assert_eq!(token_text::der_to_pki_token(&der).len() % 4, 0);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = token_text::detect_with(text, DetectionRule::Lenient);
        let token = token_text::cms_to_token(text);
        let _ = token_text::token_to_cms(&token);
    }
});
