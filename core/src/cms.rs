//! The CMS SignedData subset keystone uses, parsed and built with the RustCrypto `cms` types.
//!
//! Untrusted token bytes are decoded here and only here; OpenSSL never parses them.

use ::cms::cert::IssuerAndSerialNumber;
use ::cms::content_info::{CmsVersion, ContentInfo};
use ::cms::signed_data::{
    EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::name::Name;

use crate::algorithm::HashAlgorithm;
use crate::error::{Error, Result};

/// id-signedData (RFC 5652).
pub(crate) const ID_SIGNED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// id-data (RFC 5652).
pub(crate) const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// rsaEncryption, what OpenSSL writes as the signature algorithm of an RSA signer.
pub(crate) const RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey.
pub(crate) const ID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Signature OIDs whose key algorithm is rsaEncryption (OpenSSL's `OBJ_find_sigid_algs`), which
/// OpenSSL accepts as an RSA signer's signatureAlgorithm whatever hash they name: the digest comes
/// from the SignerInfo's digestAlgorithm.
const RSA_SIGNATURE_OIDS: [ObjectIdentifier; 16] = [
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.2"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.3"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.4"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.14"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.15"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.16"),
    ObjectIdentifier::new_unwrap("1.3.14.3.2.3"),
    ObjectIdentifier::new_unwrap("1.3.14.3.2.29"),
    ObjectIdentifier::new_unwrap("1.3.36.3.3.1.2"),
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.13"),
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.14"),
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.15"),
];

/// The `ecdsa-with-SHA*` OIDs, indexed like [`HashAlgorithm::ALL`] minus MD5.
const ECDSA_SIGNATURE_OIDS: [(HashAlgorithm, ObjectIdentifier); 5] = [
    (
        HashAlgorithm::Sha1,
        ObjectIdentifier::new_unwrap("1.2.840.10045.4.1"),
    ),
    (
        HashAlgorithm::Sha224,
        ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.1"),
    ),
    (
        HashAlgorithm::Sha256,
        ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
    ),
    (
        HashAlgorithm::Sha384,
        ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3"),
    ),
    (
        HashAlgorithm::Sha512,
        ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4"),
    ),
];

/// The key family a signature algorithm OID belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureFamily {
    /// RSA PKCS#1 v1.5.
    Rsa,
    /// ECDSA.
    Ecdsa,
    /// Anything else (RSASSA-PSS, DSA, ...): not supported.
    Other,
}

/// The key family of a SignerInfo signatureAlgorithm.
pub(crate) fn signature_family(oid: &ObjectIdentifier) -> SignatureFamily {
    if *oid == RSA_ENCRYPTION || RSA_SIGNATURE_OIDS.contains(oid) {
        SignatureFamily::Rsa
    } else if *oid == ID_EC_PUBLIC_KEY || ECDSA_SIGNATURE_OIDS.iter().any(|(_, o)| o == oid) {
        SignatureFamily::Ecdsa
    } else {
        SignatureFamily::Other
    }
}

/// How a SignerInfo names its signer certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerId {
    /// issuerAndSerialNumber: the issuer's DN and the serial (big-endian, minimal, as encoded).
    IssuerSerial {
        /// The issuer distinguished name.
        issuer: Name,
        /// The serial number's content bytes.
        serial: Vec<u8>,
    },
    /// subjectKeyIdentifier.
    KeyId(Vec<u8>),
}

/// One SignerInfo, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerSummary {
    /// The signer identifier.
    pub sid: SignerId,
    /// The digest algorithm OID.
    pub digest_oid: ObjectIdentifier,
    /// The signature algorithm OID.
    pub signature_oid: ObjectIdentifier,
    /// The signature value.
    pub signature: Vec<u8>,
    /// Whether signed attributes are present (keystone never uses them).
    pub has_signed_attrs: bool,
}

impl SignerSummary {
    /// The digest algorithm, if it is one kstoken supports for CMS.
    pub fn digest(&self) -> Option<HashAlgorithm> {
        HashAlgorithm::from_oid(&self.digest_oid).filter(|a| a.is_cms_digest())
    }
}

/// A decoded SignedData document: the embedded content and its signers. Nothing is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDocument {
    /// The eContent bytes, exactly as embedded.
    pub content: Vec<u8>,
    /// The eContentType.
    pub content_type: ObjectIdentifier,
    /// The SignedData digestAlgorithms set (OpenSSL prepares a digest for each).
    pub digest_algorithms: Vec<ObjectIdentifier>,
    /// The SignerInfos, in encoded order.
    pub signers: Vec<SignerSummary>,
    /// How many certificates the document embeds (kstoken never uses them).
    pub embedded_certificates: usize,
}

/// Decodes a CMS ContentInfo holding SignedData with embedded content.
///
/// DER is required, except that BER (indefinite lengths, as `openssl cms -sign -stream` writes) is
/// accepted when the document is not DER. Bytes after the ContentInfo are refused.
pub fn parse(der: &[u8]) -> Result<SignedDocument> {
    let signed = decode_signed_data(der)?;
    let content = match signed.encap_content_info.econtent {
        Some(any) => econtent_bytes(any)?,
        None => return Err(Error::malformed("CMS has no embedded content (detached)")),
    };
    let digest_algorithms = signed.digest_algorithms.iter().map(|a| a.oid).collect();
    let signers = signed
        .signer_infos
        .0
        .into_vec()
        .into_iter()
        .map(summarise_signer)
        .collect::<Result<Vec<_>>>()?;
    if signers.is_empty() {
        return Err(Error::malformed("CMS SignedData has no SignerInfo"));
    }
    Ok(SignedDocument {
        content,
        content_type: signed.encap_content_info.econtent_type,
        digest_algorithms,
        signers,
        embedded_certificates: signed.certificates.map_or(0, |c| c.0.len()),
    })
}

fn decode_signed_data(der: &[u8]) -> Result<SignedData> {
    let strict = ContentInfo::from_der(der).and_then(|ci| {
        check_signed_data_type(&ci)?;
        ci.content.decode_as::<SignedData>()
    });
    match strict {
        Ok(sd) => Ok(sd),
        Err(der_err) => {
            let ci = ContentInfo::from_ber(der)
                .map_err(|_| Error::malformed(format!("not a CMS document: {der_err}")))?;
            if ci.content_type != ID_SIGNED_DATA {
                return Err(Error::malformed("CMS content type is not signedData"));
            }
            ci.content
                .decode_as_encoding::<SignedData>(der::EncodingRules::Ber)
                .map_err(|e| Error::malformed(format!("not a CMS SignedData: {e}")))
        }
    }
}

fn check_signed_data_type(ci: &ContentInfo) -> der::Result<()> {
    if ci.content_type == ID_SIGNED_DATA {
        Ok(())
    } else {
        Err(der::ErrorKind::OidUnknown {
            oid: ci.content_type,
        }
        .into())
    }
}

fn econtent_bytes(any: Any) -> Result<Vec<u8>> {
    if any.tag() == Tag::OctetString {
        return Ok(any.value().to_vec());
    }
    any.decode_as_encoding::<OctetString>(der::EncodingRules::Ber)
        .map(|o| o.into_bytes().into_vec())
        .map_err(|e| Error::malformed(format!("CMS eContent is not an OCTET STRING: {e}")))
}

fn summarise_signer(si: SignerInfo) -> Result<SignerSummary> {
    let sid = match si.sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => SignerId::IssuerSerial {
            issuer: isn.issuer,
            serial: isn.serial_number.as_bytes().to_vec(),
        },
        SignerIdentifier::SubjectKeyIdentifier(ski) => SignerId::KeyId(ski.0.as_bytes().to_vec()),
    };
    Ok(SignerSummary {
        sid,
        digest_oid: si.digest_alg.oid,
        signature_oid: si.signature_algorithm.oid,
        signature: si.signature.into_bytes().into_vec(),
        has_signed_attrs: si.signed_attrs.is_some(),
    })
}

/// What [`build`] needs to know about the signer.
pub(crate) struct SignerRef<'a> {
    /// The signer certificate's issuer and serial number.
    pub issuer_serial: &'a IssuerAndSerialNumber,
    /// The signatureAlgorithm to write (rsaEncryption with NULL, or ecdsa-with-SHA*).
    pub signature_algorithm: AlgorithmIdentifierOwned,
}

/// The signatureAlgorithm OpenSSL writes for an RSA signer.
pub(crate) fn rsa_signature_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: RSA_ENCRYPTION,
        parameters: Some(Any::null()),
    }
}

/// The signatureAlgorithm OpenSSL writes for an EC signer with this digest.
pub(crate) fn ecdsa_signature_algorithm(digest: HashAlgorithm) -> Result<AlgorithmIdentifierOwned> {
    ECDSA_SIGNATURE_OIDS
        .iter()
        .find(|(d, _)| *d == digest)
        .map(|(_, oid)| AlgorithmIdentifierOwned {
            oid: *oid,
            parameters: None,
        })
        .ok_or_else(|| Error::InvalidArgument(format!("{digest} cannot be used with ECDSA")))
}

/// DER of the SignedData `openssl cms -sign -nodetach -nocerts -noattr` writes
/// (`docs/reference-behaviour.md#cms-structure`).
pub(crate) fn build(
    content: &[u8],
    digest: HashAlgorithm,
    signer: SignerRef<'_>,
    signature: Vec<u8>,
) -> Result<Vec<u8>> {
    let der_err = |e: der::Error| Error::Signing(format!("cannot encode CMS: {e}"));
    let digest_alg = AlgorithmIdentifierOwned {
        oid: digest.oid(),
        parameters: None,
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(signer.issuer_serial.clone()),
        digest_alg: digest_alg.clone(),
        signed_attrs: None,
        signature_algorithm: signer.signature_algorithm,
        signature: OctetString::new(signature).map_err(der_err)?,
        unsigned_attrs: None,
    };
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![digest_alg]).map_err(der_err)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: Some(Any::new(Tag::OctetString, content).map_err(der_err)?),
        },
        certificates: None,
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer_info]).map_err(der_err)?,
    };
    let info = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed).map_err(der_err)?,
    };
    info.to_der().map_err(der_err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_malformed() {
        for bad in [&b""[..], b"\x30\x00", b"\x30\x82\x01\x00", b"hello world"] {
            assert!(matches!(parse(bad), Err(Error::Malformed(_))));
        }
    }

    #[test]
    fn signature_families() {
        assert_eq!(signature_family(&RSA_ENCRYPTION), SignatureFamily::Rsa);
        assert_eq!(
            signature_family(&ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11")),
            SignatureFamily::Rsa
        );
        assert_eq!(
            signature_family(&ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2")),
            SignatureFamily::Ecdsa
        );
        assert_eq!(
            signature_family(&ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10")),
            SignatureFamily::Other
        );
    }
}
