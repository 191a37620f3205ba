//! Structure-aware: mutations of a valid signed token (content bytes, signature, signer id,
//! algorithm identifiers, lengths), so the signature and chain code is reached, not just the
//! parser. The input is a list of edits applied to the valid DER.
#![no_main]
use kstoken_fuzz::{CLOCK, SIGNED_DER, VERIFIER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut der = SIGNED_DER.clone();
    for edit in data.chunks_exact(4) {
        let [op, hi, lo, value] = [edit[0], edit[1], edit[2], edit[3]];
        if der.is_empty() {
            break;
        }
        let at = usize::from(u16::from_be_bytes([hi, lo])) % der.len();
        match op % 4 {
            0 => der[at] ^= value,          // flip bits anywhere (lengths, OIDs, serial, signature)
            1 => der[at] = value,           // overwrite a byte
            2 => der.insert(at, value),     // grow a field
            _ => {
                der.remove(at);             // shrink a field
            }
        }
    }
    match VERIFIER.verify_der_at(&der, CLOCK) {
        // Any document that still verifies must carry the signed body unchanged.
        Ok(content) => assert_eq!(content, *kstoken_fuzz::SIGNED_CONTENT),
        Err(_) => {}
    }
});
