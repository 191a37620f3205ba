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
mod tests;
