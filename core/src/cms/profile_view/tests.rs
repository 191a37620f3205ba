//! Tests of `profile_view`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use der::Encode;
use x509_cert::name::Name;

use super::*;
use crate::cms::signed_data::{self, SignerId};
use crate::pki_setup::{generate, PkiOptions};
use crate::{CmsProfile, Signer, Verifier};

/// The single-byte edits: three bit flips, two replacements, an insertion, a removal.
const EDITS: usize = 7;

fn edit(m: &mut Vec<u8>, at: usize, kind: usize) {
    match kind {
        0 => m[at] ^= 0x01,
        1 => m[at] ^= 0x20,
        2 => m[at] ^= 0x80,
        3 => m[at] = 0x00,
        4 => m[at] = 0xff,
        5 => m.insert(at, 0x00),
        _ => {
            m.remove(at);
        }
    }
}

/// The general decoder's reading of a document the fast one takes is the same: one signer,
/// no profile deviation, the same content, algorithms, signature, serial and issuer encoding;
/// or, when the general decoder refuses it, the issuer is not a name OpenSSL decodes (the
/// verifier then never uses the fast reading, see `SigningCert::issuer_encoded_as`).
fn assert_same_reading(der: &[u8]) -> bool {
    let Some(view) = parse_keystone(der) else {
        return false;
    };
    let issuer_tlv = der::asn1::AnyRef::new(Tag::Sequence, view.issuer)
        .unwrap()
        .to_der()
        .unwrap();
    let document = match signed_data::parse(der) {
        Ok(document) => document,
        Err(e) => {
            let name = Name::from_der(&issuer_tlv);
            assert!(
                name.is_err() || crate::cms::name::check_decodable(&name.unwrap()).is_err(),
                "the fast reading took a document the general one refuses: {e}"
            );
            return true;
        }
    };
    assert_eq!(document.profile_deviation(), None);
    assert_eq!(document.content, view.content);
    assert_eq!(der.get(view.content_range.clone()), Some(view.content));
    assert_eq!(document.digest_algorithms, [view.digest_oid]);
    let [signer] = document.signers.as_slice() else {
        panic!("{} signers", document.signers.len());
    };
    assert_eq!(signer.digest_oid, view.digest_oid);
    assert_eq!(signer.signature_oid, view.signature_oid);
    assert_eq!(signer.signature, view.signature);
    assert!(!signer.has_signed_attrs);
    let SignerId::IssuerSerial { issuer, serial } = &signer.sid else {
        panic!("a key-id signer");
    };
    assert_eq!(serial.as_slice(), view.serial.as_bytes());
    assert_eq!(issuer.to_der().unwrap(), issuer_tlv);
    true
}

#[test]
fn fast_reading_agrees_with_the_general_one() {
    let pki = generate(&PkiOptions::default()).unwrap();
    let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem).unwrap();
    let verifiers = [CmsProfile::Keystone, CmsProfile::Lenient].map(|profile| {
        Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem)
            .unwrap()
            .with_profile(profile)
    });
    let at_time = crate::unix_now();
    // A short content, so that most mutations land in the structure around it.
    let der = signer.sign_der(br#"{"token": {}}"#).unwrap();
    assert!(assert_same_reading(&der), "keystone's own document");
    // Every single-byte edit at every position: flips, replacements, insertions, removal.
    let mut fast = 0;
    let mut cases = 0;
    for at in 0..der.len() {
        for kind in 0..EDITS {
            let mut m = der.clone();
            edit(&mut m, at, kind);
            cases += 1;
            fast += usize::from(assert_same_reading(&m));
            // And the verdicts: the verifier's own route against the general decoder's.
            for verifier in &verifiers {
                let direct = verifier
                    .verify_der_at(&m, at_time)
                    .map_err(|e| e.to_string());
                let general = signed_data::parse(&m)
                    .and_then(|d| verifier.verify_document_at(d, at_time))
                    .map_err(|e| e.to_string());
                assert_eq!(direct, general, "byte {at}, {m:02x?}");
            }
        }
    }
    assert!(cases > 2000);
    // Mutations the fast reading still takes: algorithm identifiers, versions, serials...
    assert!(fast > 500, "only {fast} mutations read by the fast path");
}
