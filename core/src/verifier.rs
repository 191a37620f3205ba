//! The verifier: `openssl cms -verify -certfile S -CAfile CA` semantics, in-process
//! (`docs/reference-behaviour.md#verification`).

use std::ops::Range;

use const_oid::ObjectIdentifier;
use openssl::x509::X509;

use crate::algorithm::HashAlgorithm;
use crate::cms::crypto::{digest, verify_digest, KeyKind};
use crate::cms::profile_view::{self, KeystoneDocument};
use crate::cms::signed_data::{
    self, signature_family, CmsProfile, ProfileDeviation, SignatureFamily, SignedDocument,
    SignerSummary,
};
use crate::cms::trust::{load_bundle, SigningCert};
use crate::error::{Error, LimitKind, Result, VerifyFailure};
use crate::limits::Limits;
use crate::timestamp::{unix_now, unix_time};
use crate::token_text::{self, Encoding};

/// Verifies PKI tokens, PKIZ tokens and CMS documents against a signing-cert and a CA bundle.
///
/// Built once and shared (it is `Send + Sync`); each signer's chain verdict is cached, so a
/// token costs one signature check. Verdicts are those of `openssl cms -verify -certfile S
/// -CAfile CA`: the signer is found by issuer and serial (or key id) among the signing certs,
/// its chain is built from the CA bundle only, and it must be fit for S/MIME signing at the
/// verification time. By default only documents in keystone's token profile are accepted
/// ([`CmsProfile::Keystone`]); [`Verifier::with_profile`] relaxes that.
pub struct Verifier {
    signers: Vec<SigningCert>,
    ca: Vec<X509>,
    limits: Limits,
    profile: CmsProfile,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("signing_certs", &self.signers.len())
            .field("ca_certs", &self.ca.len())
            .field("limits", &self.limits)
            .field("profile", &self.profile)
            .finish()
    }
}

impl Verifier {
    /// A verifier from the PEM signing-certificate bundle and the PEM CA bundle, with the default
    /// limits.
    ///
    /// Every certificate of the signing bundle may be a signer; none of them serves as an
    /// intermediate (as with `-certfile`). Every certificate of the CA bundle is trusted.
    pub fn new(signing_certs_pem: &[u8], ca_pem: &[u8]) -> Result<Self> {
        Self::new_with_limits(signing_certs_pem, ca_pem, Limits::default())
    }

    /// As [`Verifier::new`], with `limits`: each bundle's length is checked against
    /// `max_credential_len` before it is parsed, and the token limits apply to every verification.
    pub fn new_with_limits(
        signing_certs_pem: &[u8],
        ca_pem: &[u8],
        limits: Limits,
    ) -> Result<Self> {
        limits.check(LimitKind::CredentialLength, signing_certs_pem.len())?;
        limits.check(LimitKind::CredentialLength, ca_pem.len())?;
        let signers = load_bundle(signing_certs_pem, "signing certificate file")?
            .into_iter()
            .map(SigningCert::new)
            .collect::<Result<Vec<_>>>()?;
        let ca = load_bundle(ca_pem, "CA certificate file")?;
        Ok(Verifier {
            signers,
            ca,
            limits,
            profile: CmsProfile::default(),
        })
    }

    /// A verifier for a new signing-certificate bundle under the CA bundle already trusted: how a
    /// keystone signing-key rotation is taken in without trusting whoever served the new
    /// certificate.
    ///
    /// The CA bundle, the limits and the profile are kept. Every certificate of
    /// `signing_certs_pem` (checked against `max_credential_len` first) must chain to the trusted
    /// CA bundle at `at` (Unix seconds) exactly as a token's signer is checked (OpenSSL's path
    /// validation, purpose S/MIME signing); the new bundle then replaces the old one. A certificate
    /// that does not is refused with [`Error::CertificateConfig`], whose message names it and says
    /// what to do: a rotation never changes the CA, so a new CA (a rebuilt PKI) is trusted only by
    /// replacing the CA bundle and building the verifier anew ([`Verifier::new`]). An unreadable
    /// bundle is [`Error::CertificateConfig`] too; a clock outside the years 1 to 9999 is
    /// [`Error::InvalidArgument`].
    pub fn rotate(&self, signing_certs_pem: &[u8], at: i64) -> Result<Verifier> {
        unix_time(at)?;
        self.limits
            .check(LimitKind::CredentialLength, signing_certs_pem.len())?;
        let certs = load_bundle(signing_certs_pem, "new signing certificate file")?;
        let count = certs.len();
        let mut signers = Vec::with_capacity(count);
        for (i, x509) in certs.into_iter().enumerate() {
            let described = describe_cert(&x509, i, count);
            let cert = SigningCert::new(x509)?;
            // The verdict is cached in the certificate: the first token it signed costs no more.
            if let Err(e) = cert.check_chain(&self.ca, at) {
                let reason = e
                    .openssl_reason()
                    .map_or_else(|| e.to_string(), str::to_owned);
                return Err(Error::CertificateConfig(format!(
                    "{described} does not chain to the trusted CA at {at} (Unix time): {reason}; \
                     a rotation keeps the trusted CA, so it is not accepted: if the CA itself was \
                     replaced (a rebuilt PKI), check the new CA and install it as the CA bundle"
                )));
            }
            signers.push(cert);
        }
        Ok(Verifier {
            signers,
            ca: self.ca.clone(),
            limits: self.limits,
            profile: self.profile,
        })
    }

    /// Whether the CA bundle vouches for the signing certificates at `at`: some signer chains to
    /// it, or every chain fails only for a validity period (a token's verdict then says so). A
    /// bundle that is no CA of any signer (the signing certificate given as the CA, another PKI's
    /// CA) is [`Error::CertificateConfig`] with OpenSSL's reason: a configuration mistake to report
    /// before any token, not an invalid token.
    pub fn check_trust(&self, at: i64) -> Result<()> {
        let mut refusal = None;
        for signer in &self.signers {
            match signer.check_chain(&self.ca, at) {
                Err(e)
                    if !matches!(
                        e.verify_failure(),
                        Some(
                            VerifyFailure::CertificateExpired
                                | VerifyFailure::CertificateNotYetValid
                        )
                    ) =>
                {
                    refusal = Some(e);
                }
                _ => return Ok(()),
            }
        }
        match refusal {
            None => Ok(()),
            Some(e) => Err(Error::CertificateConfig(format!(
                "the CA certificate file is not a CA of the signing certificate: {}",
                e.detail()
            ))),
        }
    }

    /// The same verifier with other resource limits (the credential limit no longer matters: the
    /// certificates are already read).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The resource limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The same verifier accepting the documents of `profile`: [`CmsProfile::Lenient`] accepts
    /// every structure `openssl cms -verify` accepts (BER, attributes, certificates, ...) for
    /// tokens that keystone's signer did not write.
    pub fn with_profile(mut self, profile: CmsProfile) -> Self {
        self.profile = profile;
        self
    }

    /// The CMS profile in force.
    pub fn profile(&self) -> CmsProfile {
        self.profile
    }

    /// Verifies a PKI token, a PKIZ token or CMS PEM text now, returning the signed content.
    pub fn verify(&self, token: &[u8]) -> Result<Vec<u8>> {
        self.verify_at(token, unix_now())
    }

    /// Verifies as [`Verifier::verify`] with the clock at `at` (Unix seconds, like `-attime`).
    ///
    /// The clock must lie in the years 1 to 9999 ([`crate::timestamp::unix_time`]); the token is
    /// decoded by [`token_text::decode`] (surrounding whitespace ignored).
    pub fn verify_at(&self, token: &[u8], at: i64) -> Result<Vec<u8>> {
        self.verify_at_within(token, at, &self.limits)
    }

    /// [`Verifier::verify_at`] under `limits` instead of the verifier's (a revocation list is
    /// checked against its own, larger limit).
    pub(crate) fn verify_at_within(
        &self,
        token: &[u8],
        at: i64,
        limits: &Limits,
    ) -> Result<Vec<u8>> {
        unix_time(at)?;
        let decoded = token_text::decode(token, limits)?;
        // keystone's `cms_to_token` replaces every `/`; the reference still reads one, as a new
        // token text (and token hash) for the same document.
        if self.profile == CmsProfile::Keystone
            && decoded.encoding == Encoding::Pki
            && memchr::memchr(b'/', token).is_some()
        {
            return Err(ProfileDeviation::TokenAlphabet.error());
        }
        let mut der = decoded.der;
        match self.verify_in(&der, at, limits)? {
            Content::Within(range) => {
                // The content moves to the front of the decoded buffer: no second buffer.
                let len = range.len();
                der.copy_within(range, 0);
                der.truncate(len);
                Ok(der)
            }
            Content::Owned(content) => Ok(content),
        }
    }

    /// Verifies a CMS DER (or BER) document at `at`, returning the signed content.
    ///
    /// A DER document in keystone's token profile whose signer is named by the encoding of a
    /// signing certificate's issuer is read in place, with `der`'s borrowing types; any other is
    /// decoded by [`signed_data::parse`]. Both reach the same checks with the same values, so the
    /// verdicts are the same.
    pub fn verify_der_at(&self, der: &[u8], at: i64) -> Result<Vec<u8>> {
        unix_time(at)?;
        match self.verify_in(der, at, &self.limits)? {
            Content::Within(range) => Ok(der.get(range).unwrap_or_default().to_vec()),
            Content::Owned(content) => Ok(content),
        }
    }

    /// [`Verifier::verify_der_at`], saying where the content is.
    fn verify_in(&self, der: &[u8], at: i64, limits: &Limits) -> Result<Content> {
        limits.check(LimitKind::TokenLength, der.len())?;
        if let Some(document) = profile_view::parse_keystone(der) {
            if let Some(cert) = self.signer_by_encoding(&document) {
                let signer = SignerFacts {
                    digest_oid: document.digest_oid,
                    signature_oid: document.signature_oid,
                    signature: document.signature,
                    has_signed_attrs: false,
                };
                self.verify_signers(
                    &[(signer, cert)],
                    &[document.digest_oid],
                    document.content,
                    at,
                )?;
                return Ok(Content::Within(document.content_range));
            }
        }
        let document = signed_data::parse(der)?;
        self.verify_document_at(document, at).map(Content::Owned)
    }

    /// The signing certificate [`SigningCert::matches`] finds first for this signer, when the
    /// encodings tell: the first one with its serial number, if its issuer is encoded the same.
    /// `None` when that needs the name decoded (another spelling, or no such serial).
    fn signer_by_encoding(&self, document: &KeystoneDocument<'_>) -> Option<&SigningCert> {
        let serial = document.serial.as_bytes();
        let cert = self.signers.iter().find(|c| c.serial() == serial)?;
        cert.issuer_encoded_as(document.issuer).then_some(cert)
    }

    /// Verifies a decoded document at `at`, in `CMS_verify`'s order: find every signer, check every
    /// signer's chain, then every signature. Returns the content. Under [`CmsProfile::Keystone`] a
    /// document outside the profile is refused first, as [`Error::Malformed`].
    pub fn verify_document_at(&self, document: SignedDocument, at: i64) -> Result<Vec<u8>> {
        let keystone = self.profile == CmsProfile::Keystone;
        if let Some(deviation) = document.profile_deviation().filter(|_| keystone) {
            return Err(deviation.error());
        }
        let signers = document
            .signers
            .iter()
            .map(|si| {
                self.signers
                    .iter()
                    .find(|c| c.matches(&si.sid))
                    .map(|cert| (SignerFacts::of(si), cert))
                    .ok_or_else(|| Error::verify(VerifyFailure::SignerNotFound, ""))
            })
            .collect::<Result<Vec<_>>>()?;
        self.verify_signers(&signers, &document.digest_algorithms, &document.content, at)?;
        Ok(document.content)
    }

    /// Everything after finding the signers, in `CMS_verify`'s order: check every signer's
    /// chain, then every signature over `content`.
    fn verify_signers(
        &self,
        signers: &[(SignerFacts<'_>, &SigningCert)],
        digest_algorithms: &[ObjectIdentifier],
        content: &[u8],
        at: i64,
    ) -> Result<()> {
        let keystone = self.profile == CmsProfile::Keystone;
        // OpenSSL ignores an EC signer's signatureAlgorithm; the profile pins the one it writes.
        let ec_signature_elsewhere = |(si, cert): &(SignerFacts<'_>, &SigningCert)| {
            cert.kind() == Some(KeyKind::Ec)
                && signature_family(&si.signature_oid) != SignatureFamily::Ecdsa
        };
        if keystone && signers.iter().any(ec_signature_elsewhere) {
            return Err(ProfileDeviation::SignatureAlgorithm.error());
        }
        for (_, cert) in signers {
            cert.check_chain(&self.ca, at)?;
        }
        // CMS_dataInit sets up a digest for every digestAlgorithms entry, and each signer's digest
        // is looked up among them: an unknown entry, or a signer digest not listed, fails there.
        if let Some(unknown) = digest_algorithms
            .iter()
            .find(|oid| HashAlgorithm::from_oid(oid).is_none())
        {
            return Err(Error::verify(
                VerifyFailure::UnsupportedAlgorithm,
                format!("digest algorithm {unknown}"),
            ));
        }
        for (si, cert) in signers {
            if !digest_algorithms.contains(&si.digest_oid) {
                return Err(Error::verify(
                    VerifyFailure::UnsupportedAlgorithm,
                    format!(
                        "signer digest {} is not among the digestAlgorithms",
                        si.digest_oid
                    ),
                ));
            }
            if si.has_signed_attrs {
                return Err(Error::verify(
                    VerifyFailure::UnsupportedAlgorithm,
                    "signed attributes are not supported (keystone never signs them)",
                ));
            }
            let Some(algorithm) = signed_data::cms_digest(&si.digest_oid) else {
                return Err(Error::verify(
                    VerifyFailure::UnsupportedAlgorithm,
                    format!("digest algorithm {}", si.digest_oid),
                ));
            };
            // OpenSSL checks an RSA signer's signatureAlgorithm (rsaEncryption or an RSA
            // signature OID) and ignores an EC signer's altogether.
            let acceptable = match cert.kind() {
                Some(KeyKind::Rsa) => signature_family(&si.signature_oid) == SignatureFamily::Rsa,
                Some(KeyKind::Ec) => true,
                None => false,
            };
            if !acceptable {
                return Err(Error::verify(
                    VerifyFailure::UnsupportedAlgorithm,
                    format!("signature algorithm {} for this key", si.signature_oid),
                ));
            }
            let hash = digest(algorithm, content)
                .map_err(|e| Error::verify(VerifyFailure::BadSignature, e.to_string()))?;
            if !verify_digest(cert.key(), algorithm, &hash, si.signature) {
                return Err(Error::verify(VerifyFailure::BadSignature, ""));
            }
        }
        Ok(())
    }
}

/// "the new signing certificate (subject ..., serial ...)" for messages; `i` of `count` in a bundle.
fn describe_cert(x509: &X509, i: usize, count: usize) -> String {
    let subject = x509
        .subject_name()
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".to_owned());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let serial = x509
        .serial_number()
        .to_bn()
        .and_then(|b| b.to_hex_str().map(|h| h.to_string()))
        .unwrap_or_else(|_| "?".to_owned());
    let which = if count > 1 {
        format!(" {} of {count}", i + 1)
    } else {
        String::new()
    };
    format!("the new signing certificate{which} (subject {subject}, serial {serial})")
}

/// Where a verified document's content is.
enum Content {
    /// These bytes of the document (read in place).
    Within(Range<usize>),
    /// Decoded out of it (joined BER segments, or any document [`signed_data::parse`] read).
    Owned(Vec<u8>),
}

/// What verifying needs of one SignerInfo, from either decoder.
struct SignerFacts<'a> {
    digest_oid: ObjectIdentifier,
    signature_oid: ObjectIdentifier,
    signature: &'a [u8],
    has_signed_attrs: bool,
}

impl<'a> SignerFacts<'a> {
    fn of(si: &'a SignerSummary) -> Self {
        SignerFacts {
            digest_oid: si.digest_oid,
            signature_oid: si.signature_oid,
            signature: &si.signature,
            has_signed_attrs: si.has_signed_attrs,
        }
    }
}
