//! Any bytes as a revocation list (JSON, or a signed response) → list and lookups.
#![no_main]
use kstoken::{Limits, RevocationList};
use kstoken_fuzz::{CLOCK, VERIFIER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = RevocationList::from_json(data, &Limits::default()) {
        let json = kstoken::revocation::to_json(list.entries());
        let again = RevocationList::from_json(json.as_bytes(), &Limits::default());
        assert_eq!(again.ok().map(|l| l.len()), Some(list.len()));
    }
    let _ = RevocationList::from_signed(data, &VERIFIER, CLOCK);
});
