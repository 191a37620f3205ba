//! A borrowed view of a CMS document in keystone's token profile: the verifier's fast path.
//!
//! [`crate::cms::signed_data::parse`] decodes any SignedData `openssl cms -verify` accepts into owned values
//! (three copies of the content, the issuer name as a tree). A token keystone's signer wrote has
//! one shape ([`crate::cms::signed_data::CmsProfile::Keystone`]), so [`parse_keystone`] decodes that shape with
//! the `der` crate's borrowing types instead: the content and signature stay slices of the
//! document, and the signer's issuer name stays its encoding, which the verifier compares with
//! each signing certificate's issuer encoding instead of decoding and canonicalising it.
//!
//! The view is only a shortcut: the types below mirror the `cms` crate's (`ContentInfo`,
//! `SignedData`, `EncapsulatedContentInfo`, `SignerInfo`, `IssuerAndSerialNumber`) field for field,
//! with the same strict DER decoding of every field, except that the ones keystone's profile
//! leaves out (certificates, CRLs, signed and unsigned attributes, a key-identifier signer, a
//! second SignerInfo) make the decoding fail. Any document it does not take (`None`) goes through
//! [`crate::cms::signed_data::parse`]; so does one whose issuer encoding the verifier does not recognise.

use std::ops::Range;

use ::cms::content_info::CmsVersion;
use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, OctetStringRef};
use der::{Decode, Sequence, Tag, Tagged};
use spki::AlgorithmIdentifierRef;
use x509_cert::serial_number::SerialNumber;

use crate::cms::signed_data::{keystone_signature, ID_DATA, ID_SIGNED_DATA};

/// `ContentInfo` with its content borrowed.
#[derive(Sequence)]
struct ContentInfoRef<'a> {
    content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    content: AnyRef<'a>,
}

/// `SignedData` without certificates or CRLs; the two SETs are read by [`single_element`].
#[derive(Sequence)]
struct SignedDataRef<'a> {
    version: CmsVersion,
    digest_algorithms: AnyRef<'a>,
    encap_content_info: EncapsulatedContentInfoRef<'a>,
    signer_infos: AnyRef<'a>,
}

/// `EncapsulatedContentInfo` with its content borrowed.
#[derive(Sequence)]
struct EncapsulatedContentInfoRef<'a> {
    econtent_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    econtent: Option<AnyRef<'a>>,
}

/// `SignerInfo` identified by issuer and serial number, without attributes.
#[derive(Sequence)]
struct SignerInfoRef<'a> {
    version: CmsVersion,
    sid: IssuerAndSerialNumberRef<'a>,
    digest_alg: AlgorithmIdentifierRef<'a>,
    signature_algorithm: AlgorithmIdentifierRef<'a>,
    signature: &'a OctetStringRef,
}

/// `IssuerAndSerialNumber` with the issuer name left encoded (and unchecked).
#[derive(Sequence)]
struct IssuerAndSerialNumberRef<'a> {
    issuer: AnyRef<'a>,
    serial_number: SerialNumber,
}

/// A CMS document keystone's signer could have written, borrowed from its DER.
#[derive(Debug, Clone)]
pub(crate) struct KeystoneDocument<'a> {
    /// The eContent bytes.
    pub content: &'a [u8],
    /// Where they are in the document.
    pub content_range: Range<usize>,
    /// The content octets of the signer's issuer name (a SEQUENCE), NOT checked: they may be
    /// relied on only where they equal those of a name that was decoded and checked. Under DER the
    /// tag and these octets determine the whole encoding.
    pub issuer: &'a [u8],
    /// The serial number, decoded as the `cms` crate decodes it.
    pub serial: SerialNumber,
    /// The digest algorithm OID (the only `digestAlgorithms` entry, without parameters).
    pub digest_oid: ObjectIdentifier,
    /// The signature algorithm OID (the one OpenSSL writes for the digest and some key).
    pub signature_oid: ObjectIdentifier,
    /// The signature value.
    pub signature: &'a [u8],
}

/// The document as keystone's signer writes it, or `None` if it is anything else: not DER, not
/// SignedData, or outside [`crate::cms::signed_data::CmsProfile::Keystone`] in any way.
///
/// `Some` implies that [`crate::cms::signed_data::parse`] decodes the same document, provided it decodes the
/// issuer name too, to exactly one signer with these values, this content, and no
/// [`crate::cms::signed_data::ProfileDeviation`].
pub(crate) fn parse_keystone(der: &[u8]) -> Option<KeystoneDocument<'_>> {
    let info = ContentInfoRef::from_der(der).ok()?;
    if info.content_type != ID_SIGNED_DATA {
        return None;
    }
    let signed = info.content.decode_as::<SignedDataRef<'_>>().ok()?;
    let digest_alg = single_element::<AlgorithmIdentifierRef<'_>>(signed.digest_algorithms)?;
    let si = single_element::<SignerInfoRef<'_>>(signed.signer_infos)?;
    let encap = signed.encap_content_info;
    let econtent = encap.econtent?;
    let in_profile = signed.version == CmsVersion::V1
        && encap.econtent_type == ID_DATA
        && econtent.tag() == Tag::OctetString
        && si.version == CmsVersion::V1
        && si.sid.issuer.tag() == Tag::Sequence
        && si.digest_alg.parameters.is_none()
        && digest_alg == si.digest_alg
        && keystone_signature(
            &si.signature_algorithm.oid,
            si.signature_algorithm.parameters,
            &si.digest_alg.oid,
        );
    let content = econtent.value();
    // The content is a slice of `der`: its offset is the distance between the two addresses.
    let start = content.as_ptr().addr().checked_sub(der.as_ptr().addr())?;
    let content_range = start..start.checked_add(content.len())?;
    in_profile.then_some(KeystoneDocument {
        content,
        content_range,
        issuer: si.sid.issuer.value(),
        serial: si.sid.serial_number,
        digest_oid: si.digest_alg.oid,
        signature_oid: si.signature_algorithm.oid,
        signature: si.signature.as_bytes(),
    })
}

/// The one element of a DER SET OF (`None` if the value is not a SET of exactly one `T`).
fn single_element<'a, T: Decode<'a>>(set: AnyRef<'a>) -> Option<T> {
    if set.tag() != Tag::Set {
        return None;
    }
    T::from_der(set.value()).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
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
}
