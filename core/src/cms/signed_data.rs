//! The CMS SignedData subset keystone uses, parsed and built with the RustCrypto `cms` types.
//!
//! Untrusted token bytes are decoded here and only here; OpenSSL never parses them.

use ::cms::cert::IssuerAndSerialNumber;
use ::cms::content_info::{CmsVersion, ContentInfo};
use ::cms::signed_data::{
    EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::AnyRef;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, EncodingRules, Header, Reader, SliceReader, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::name::Name;

use crate::algorithm::HashAlgorithm;
use crate::cms::name;
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
        cms_digest(&self.digest_oid)
    }
}

/// The digest algorithm an OID names, if it is one kstoken supports for CMS.
pub(crate) fn cms_digest(oid: &ObjectIdentifier) -> Option<HashAlgorithm> {
    HashAlgorithm::from_oid(oid).filter(|a| a.is_cms_digest())
}

/// A decoded SignedData document: the embedded content and its signers. Nothing is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDocument {
    /// The eContent bytes: the OCTET STRING's value, its segments joined if it is constructed (BER).
    pub content: Vec<u8>,
    /// The eContentType.
    pub content_type: ObjectIdentifier,
    /// The SignedData digestAlgorithms set (OpenSSL prepares a digest for each).
    pub digest_algorithms: Vec<ObjectIdentifier>,
    /// The SignerInfos, in encoded order.
    pub signers: Vec<SignerSummary>,
    /// How many certificates the document embeds (kstoken never uses them).
    pub embedded_certificates: usize,
    /// Where the document departs from keystone's token profile, found while decoding.
    deviation: Option<ProfileDeviation>,
}

impl SignedDocument {
    /// The first way this document departs from keystone's token profile (see [`CmsProfile`]),
    /// or `None` if keystone's signer could have written it.
    ///
    /// The signature algorithm is only checked here against the digest; that it also suits the
    /// signer's key is checked by the verifier, which knows the key.
    pub fn profile_deviation(&self) -> Option<ProfileDeviation> {
        self.deviation
    }
}

/// Which CMS documents a [`Verifier`](crate::Verifier) accepts.
///
/// One signed document has many encodings that OpenSSL accepts (BER, attributes or certificates
/// added, other algorithm identifiers), and each is a new token text with a new token hash, so it
/// passes a revocation check by hash. The keystone profile accepts only the one encoding keystone's
/// signer writes, which makes the hash of a PKI token a function of the signed document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CmsProfile {
    /// Only what keystone's signer (`openssl cms -sign -nodetach -nocerts -noattr -md MD`, never
    /// `-stream`) writes: DER; SignedData version 1; one `digestAlgorithms` entry, the signer's;
    /// eContentType id-data; no certificates, no CRLs; one SignerInfo, version 1, identified by
    /// issuer and serial number, with no signed or unsigned attributes, a digestAlgorithm without
    /// parameters and the signatureAlgorithm OpenSSL writes for its key (rsaEncryption with NULL
    /// parameters, or ecdsa-with-SHA* of the digest without); and PKI token text without `/`.
    ///
    /// Anything else is refused as [`Error::Malformed`] (an invalid token, a 401 in the middleware)
    /// naming the [`ProfileDeviation`]. What it cannot pin: the spelling of the issuer name (matched
    /// as OpenSSL matches it, because keystoneclient's regenerated certificates re-spelled it), an
    /// ECDSA signature's `s` or `n - s`, and the PKIZ compression (any zlib level, any deflate
    /// blocks); revocation by audit id, which keystone's lists carry, catches those texts.
    #[default]
    Keystone,
    /// Every SignedData `openssl cms -verify` accepts and kstoken supports: BER (indefinite
    /// lengths, constructed OCTET STRINGs, which are joined as OpenSSL joins them), other versions,
    /// extra `digestAlgorithms` entries, other eContentTypes, unsigned attributes, certificates and
    /// CRLs (decoded and ignored), several SignerInfos, signers named by key identifier, any RSA
    /// signature OID, and PKI token text that kept its `/` (as the reference reads it).
    ///
    /// It still refuses what it refuses under both profiles: signed attributes, MD5, RSASSA-PSS and
    /// unknown algorithms, bytes after the document, non-minimal lengths and other BER beyond
    /// indefinite lengths and constructed OCTET STRINGs, and names OpenSSL cannot decode; and it
    /// verifies every signer, its chain and its signature exactly as under the keystone profile.
    Lenient,
}

impl CmsProfile {
    /// The stable name: `keystone` or `lenient`.
    pub fn as_str(self) -> &'static str {
        match self {
            CmsProfile::Keystone => "keystone",
            CmsProfile::Lenient => "lenient",
        }
    }
}

impl std::fmt::Display for CmsProfile {
    /// The stable name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CmsProfile {
    type Err = Error;

    /// Parses `keystone` or `lenient` (exactly, as configuration values).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "keystone" => Ok(CmsProfile::Keystone),
            "lenient" => Ok(CmsProfile::Lenient),
            other => Err(Error::InvalidArgument(format!(
                "unknown CMS profile {other:?} (expected keystone or lenient)"
            ))),
        }
    }
}

/// How a CMS document or token text departs from keystone's token profile ([`CmsProfile::Keystone`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProfileDeviation {
    /// BER rather than DER (`openssl cms -sign -stream` output, or a DER token re-encoded).
    Ber,
    /// A SignedData version other than 1.
    SignedDataVersion,
    /// An eContentType other than id-data.
    ContentType,
    /// Embedded certificates.
    Certificates,
    /// Embedded CRLs or other revocation information.
    Crls,
    /// More than one SignerInfo.
    SignerCount,
    /// A SignerInfo version other than 1.
    SignerVersion,
    /// A signer identified by subject key identifier rather than issuer and serial number.
    SignerKeyId,
    /// Signed attributes.
    SignedAttributes,
    /// Unsigned attributes.
    UnsignedAttributes,
    /// A digestAlgorithm with parameters.
    DigestParameters,
    /// A `digestAlgorithms` set other than exactly the signer's digestAlgorithm.
    DigestAlgorithms,
    /// A signatureAlgorithm other than the one OpenSSL writes for the signer's key and digest.
    SignatureAlgorithm,
    /// PKI token text with `/`, which keystone's `cms_to_token` always replaces by `-`.
    TokenAlphabet,
}

impl std::fmt::Display for ProfileDeviation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProfileDeviation::Ber => "BER encoding (keystone's tokens are DER)",
            ProfileDeviation::SignedDataVersion => "SignedData version is not 1",
            ProfileDeviation::ContentType => "eContentType is not id-data",
            ProfileDeviation::Certificates => "embedded certificates",
            ProfileDeviation::Crls => "embedded CRLs",
            ProfileDeviation::SignerCount => "more than one SignerInfo",
            ProfileDeviation::SignerVersion => "SignerInfo version is not 1",
            ProfileDeviation::SignerKeyId => "signer identified by key identifier",
            ProfileDeviation::SignedAttributes => "signed attributes",
            ProfileDeviation::UnsignedAttributes => "unsigned attributes",
            ProfileDeviation::DigestParameters => "digest algorithm parameters",
            ProfileDeviation::DigestAlgorithms => {
                "digestAlgorithms is not exactly the signer's digest algorithm"
            }
            ProfileDeviation::SignatureAlgorithm => {
                "signature algorithm is not the one OpenSSL writes for this key and digest"
            }
            ProfileDeviation::TokenAlphabet => "PKI token text contains '/'",
        })
    }
}

impl ProfileDeviation {
    /// The error a verifier with [`CmsProfile::Keystone`] returns for this deviation.
    pub(crate) fn error(self) -> Error {
        Error::malformed(format!("outside keystone's token profile: {self}"))
    }
}

/// Decodes a CMS ContentInfo holding SignedData with embedded content.
///
/// DER is tried first; BER (indefinite lengths and constructed OCTET STRINGs, as
/// `openssl cms -sign -stream` writes) is decoded when the document is not DER, and recorded as a
/// [`ProfileDeviation::Ber`]. Bytes after the ContentInfo are refused, and so are names OpenSSL's
/// decoder refuses, since OpenSSL then cannot read the document at all.
pub fn parse(der: &[u8]) -> Result<SignedDocument> {
    let (signed, ber) = decode_signed_data(der)?;
    check_names(&signed)?;
    let deviation = keystone_deviation(&signed, ber);
    let content = match &signed.encap_content_info.econtent {
        Some(any) => econtent_bytes(any, ber.then_some(der))?,
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
        deviation,
    })
}

/// The SignedData, and whether it had to be decoded as BER.
fn decode_signed_data(der: &[u8]) -> Result<(SignedData, bool)> {
    let strict = ContentInfo::from_der(der).and_then(|ci| {
        check_signed_data_type(&ci)?;
        ci.content.decode_as::<SignedData>()
    });
    match strict {
        Ok(sd) => Ok((sd, false)),
        Err(der_err) => {
            let ci = ContentInfo::from_ber(der)
                .map_err(|_| Error::malformed(format!("not a CMS document: {der_err}")))?;
            if ci.content_type != ID_SIGNED_DATA {
                return Err(Error::malformed("CMS content type is not signedData"));
            }
            ci.content
                .decode_as_encoding::<SignedData>(EncodingRules::Ber)
                .map(|sd| (sd, true))
                .map_err(|e| Error::malformed(format!("not a CMS SignedData: {e}")))
        }
    }
}

/// Refuses a document with a name OpenSSL's `X509_NAME` decoder refuses: OpenSSL then fails to
/// read the whole document, so matching such a name (as a canonical comparison could) would accept
/// what OpenSSL rejects.
fn check_names(signed: &SignedData) -> Result<()> {
    let refuse = |what: &str, e: String| Error::malformed(format!("{what}: {e}"));
    for si in signed.signer_infos.0.iter() {
        if let SignerIdentifier::IssuerAndSerialNumber(isn) = &si.sid {
            name::check_decodable(&isn.issuer).map_err(|e| refuse("signer issuer name", e))?;
        }
    }
    for choice in signed.certificates.iter().flat_map(|c| c.0.iter()) {
        if let ::cms::cert::CertificateChoices::Certificate(cert) = choice {
            let tbs = cert.tbs_certificate();
            name::check_decodable(tbs.issuer())
                .and_then(|()| name::check_decodable(tbs.subject()))
                .map_err(|e| refuse("embedded certificate name", e))?;
        }
    }
    for choice in signed.crls.iter().flat_map(|c| c.0.iter()) {
        if let ::cms::revocation::RevocationInfoChoice::Crl(crl) = choice {
            name::check_decodable(&crl.tbs_cert_list.issuer)
                .map_err(|e| refuse("embedded CRL issuer name", e))?;
        }
    }
    Ok(())
}

/// The first departure from what keystone's signer writes (see [`CmsProfile::Keystone`]).
fn keystone_deviation(signed: &SignedData, ber: bool) -> Option<ProfileDeviation> {
    use ProfileDeviation as D;
    let [si] = signed.signer_infos.0.as_slice() else {
        return Some(D::SignerCount);
    };
    let digest_algorithms = signed.digest_algorithms.as_slice();
    let signature = &si.signature_algorithm;
    let keystone_signature = keystone_signature(
        &signature.oid,
        signature.parameters.as_ref().map(AnyRef::from),
        &si.digest_alg.oid,
    );
    [
        (ber, D::Ber),
        (signed.version != CmsVersion::V1, D::SignedDataVersion),
        (
            signed.encap_content_info.econtent_type != ID_DATA,
            D::ContentType,
        ),
        (signed.certificates.is_some(), D::Certificates),
        (signed.crls.is_some(), D::Crls),
        (si.version != CmsVersion::V1, D::SignerVersion),
        (
            matches!(si.sid, SignerIdentifier::SubjectKeyIdentifier(_)),
            D::SignerKeyId,
        ),
        (si.signed_attrs.is_some(), D::SignedAttributes),
        (si.unsigned_attrs.is_some(), D::UnsignedAttributes),
        (si.digest_alg.parameters.is_some(), D::DigestParameters),
        (
            digest_algorithms != std::slice::from_ref(&si.digest_alg),
            D::DigestAlgorithms,
        ),
        (!keystone_signature, D::SignatureAlgorithm),
    ]
    .into_iter()
    .find_map(|(departs, deviation)| departs.then_some(deviation))
}

/// Whether a SignerInfo's signatureAlgorithm is the one OpenSSL writes for some key with this
/// digest: rsaEncryption with NULL parameters, or the digest's ecdsa-with-SHA* without.
pub(crate) fn keystone_signature(
    signature_oid: &ObjectIdentifier,
    parameters: Option<AnyRef<'_>>,
    digest_oid: &ObjectIdentifier,
) -> bool {
    (*signature_oid == RSA_ENCRYPTION && parameters == Some(AnyRef::NULL))
        || (parameters.is_none()
            && HashAlgorithm::from_oid(digest_oid)
                .is_some_and(|digest| ECDSA_SIGNATURE_OIDS.contains(&(digest, *signature_oid))))
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

/// How many constructed levels OpenSSL's `asn1_collect` follows inside a constructed string
/// (`ASN1_MAX_STRING_NEST`); one more and it refuses the document.
const MAX_STRING_NEST: usize = 5;

/// The eContent OCTET STRING's value. `ber` is the whole document when it was decoded as BER: the
/// decoded `Any` does not say whether the string was constructed, so the header is read there.
fn econtent_bytes(any: &Any, ber: Option<&[u8]>) -> Result<Vec<u8>> {
    let malformed = |e: der::Error| Error::malformed(format!("CMS eContent: {e}"));
    if any.tag() != Tag::OctetString {
        return Err(Error::malformed("CMS eContent is not an OCTET STRING"));
    }
    let constructed = match ber {
        Some(document) => econtent_is_constructed(document).map_err(malformed)?,
        None => false,
    };
    if !constructed {
        return Ok(any.value().to_vec());
    }
    // The segments hold at most the value's length in content: bounded by the document's size.
    let mut content = Vec::with_capacity(any.value().len());
    join_segments(any.value(), 0, &mut content).map_err(malformed)?;
    Ok(content)
}

/// Whether the eContent OCTET STRING of this BER ContentInfo is constructed: walks ContentInfo,
/// `[0]`, SignedData, version, digestAlgorithms, EncapsulatedContentInfo, eContentType and `[0]`
/// to the string's header.
fn econtent_is_constructed(ber: &[u8]) -> der::Result<bool> {
    // Skips one TLV. `Reader::tlv_bytes` would miscount an indefinite length's header.
    fn skip(reader: &mut SliceReader<'_>) -> der::Result<()> {
        Any::decode(reader).map(drop)
    }
    let mut reader = SliceReader::new_with_encoding_rules(ber, EncodingRules::Ber)?;
    Header::decode(&mut reader)?; // ContentInfo
    skip(&mut reader)?; // contentType
    Header::decode(&mut reader)?; // [0] EXPLICIT
    Header::decode(&mut reader)?; // SignedData
    skip(&mut reader)?; // version
    skip(&mut reader)?; // digestAlgorithms
    Header::decode(&mut reader)?; // EncapsulatedContentInfo
    skip(&mut reader)?; // eContentType
    Header::decode(&mut reader)?; // [0] EXPLICIT
    Ok(Header::decode(&mut reader)?.is_constructed())
}

/// Appends the content of the segments of a constructed OCTET STRING (`value`, without the outer
/// header or end-of-contents) to `out`, as OpenSSL's `asn1_collect` joins them: primitive segments
/// are concatenated, constructed ones (definite or indefinite length) joined recursively up to
/// [`MAX_STRING_NEST`] levels. Unlike OpenSSL, which ignores the segments' tags, every segment
/// must be an OCTET STRING, as X.690 (8.7.3.2) requires.
fn join_segments(value: &[u8], depth: usize, out: &mut Vec<u8>) -> der::Result<()> {
    let mut reader = SliceReader::new_with_encoding_rules(value, EncodingRules::Ber)?;
    while !reader.is_finished() {
        let header = Header::peek(&reader)?;
        header.tag().assert_eq(Tag::OctetString)?;
        // The owned decode drops an indefinite-length segment's end-of-contents octets.
        let segment = Any::decode(&mut reader)?;
        if header.is_constructed() {
            if depth >= MAX_STRING_NEST {
                return Err(reader.error(der::ErrorKind::NestingDepth));
            }
            join_segments(segment.value(), depth + 1, out)?;
        } else {
            out.extend_from_slice(segment.value());
        }
    }
    Ok(())
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
    fn profile_names_round_trip() {
        for profile in [CmsProfile::Keystone, CmsProfile::Lenient] {
            assert_eq!(profile.as_str().parse::<CmsProfile>().unwrap(), profile);
        }
        assert_eq!(CmsProfile::default().as_str(), "keystone");
        let err = "Keystone".parse::<CmsProfile>().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
    }

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
