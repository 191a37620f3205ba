//! The signer: `openssl cms -sign -nodetach -nocerts -noattr -md D` output, byte for byte.

use ::cms::cert::IssuerAndSerialNumber;
use der::Decode;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use x509_cert::Certificate;

use crate::algorithm::HashAlgorithm;
use crate::cms::crypto::{digest, key_kind, sign_digest, KeyKind};
use crate::cms::signed_data;
use crate::cms::ContentMode;
use crate::error::{Error, LimitKind, Result};
use crate::limits::Limits;
use crate::token_text::der_to_pki_token;
use crate::token_text::pem::der_to_pem;
use crate::token_text::pkiz;

/// Signs token bodies into CMS, PKI tokens and PKIZ tokens as keystone's providers did.
///
/// Built once from a certificate and its private key; `Send + Sync`. RSA signatures (PKCS#1
/// v1.5) are deterministic, so output equals `openssl cms -sign`'s byte for byte; ECDSA
/// signatures are randomised.
pub struct Signer {
    issuer_serial: IssuerAndSerialNumber,
    key: PKey<Private>,
    kind: KeyKind,
    digest: HashAlgorithm,
    mode: ContentMode,
    limits: Limits,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kind", &self.kind)
            .field("digest", &self.digest)
            .field("mode", &self.mode)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer from a PEM certificate (the first one of the text, as `-signer` takes) and an
    /// unencrypted PEM private key (PKCS#1 or PKCS#8; RSA or EC). Digest SHA-256, text mode,
    /// default limits.
    pub fn new(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self> {
        Self::new_with_limits(cert_pem, key_pem, Limits::default())
    }

    /// As [`Signer::new`], with `limits`: the certificate's and the key's lengths are checked
    /// against `max_credential_len` before they are parsed, and the content of every signature
    /// against `max_content_len` before anything is allocated.
    pub fn new_with_limits(cert_pem: &[u8], key_pem: &[u8], limits: Limits) -> Result<Self> {
        limits.check(LimitKind::CredentialLength, cert_pem.len())?;
        limits.check(LimitKind::CredentialLength, key_pem.len())?;
        let cert = X509::from_pem(cert_pem).map_err(|e| {
            Error::CertificateConfig(format!("cannot read signing certificate: {e}"))
        })?;
        let key = PKey::private_key_from_pem(key_pem)
            .map_err(|e| Error::CertificateConfig(format!("cannot read signing key: {e}")))?;
        let kind = key_kind(&key).ok_or_else(|| {
            Error::CertificateConfig("signing key is neither RSA nor EC".to_owned())
        })?;
        let public = cert
            .public_key()
            .map_err(|e| Error::CertificateConfig(format!("signing certificate key: {e}")))?;
        if !public.public_eq(&key) {
            return Err(Error::Signing(
                "private key does not match signer certificate".to_owned(),
            ));
        }
        let der = cert
            .to_der()
            .map_err(|e| Error::CertificateConfig(format!("signing certificate: {e}")))?;
        let parsed = Certificate::from_der(&der)
            .map_err(|e| Error::CertificateConfig(format!("signing certificate: {e}")))?;
        let tbs = parsed.tbs_certificate();
        Ok(Signer {
            issuer_serial: IssuerAndSerialNumber {
                issuer: tbs.issuer().clone(),
                serial_number: tbs.serial_number().clone(),
            },
            key,
            kind,
            digest: HashAlgorithm::Sha256,
            mode: ContentMode::Text,
            limits,
        })
    }

    /// The same signer with another digest (`-md`); MD5 is refused.
    pub fn with_digest(mut self, digest: HashAlgorithm) -> Result<Self> {
        if !digest.is_cms_digest() {
            return Err(Error::InvalidArgument(format!(
                "{digest} is not accepted as a CMS digest"
            )));
        }
        self.digest = digest;
        Ok(self)
    }

    /// The same signer with another content mode (text canonicalisation or binary).
    pub fn with_content_mode(mut self, mode: ContentMode) -> Self {
        self.mode = mode;
        self
    }

    /// The digest in use.
    pub fn digest(&self) -> HashAlgorithm {
        self.digest
    }

    /// The content mode in use.
    pub fn content_mode(&self) -> ContentMode {
        self.mode
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// CMS DER of `data`, as `openssl cms -sign ... -outform DER` would write it.
    ///
    /// `data` longer than `max_content_len` is [`Error::LimitExceeded`], before anything is allocated.
    pub fn sign_der(&self, data: &[u8]) -> Result<Vec<u8>> {
        self.limits.check(LimitKind::ContentLength, data.len())?;
        let content = self.mode.apply(data);
        let hash =
            digest(self.digest, &content).map_err(|e| Error::Signing(e.detail().to_owned()))?;
        let signature = sign_digest(&self.key, self.digest, &hash)?;
        let signature_algorithm = match self.kind {
            KeyKind::Rsa => signed_data::rsa_signature_algorithm(),
            KeyKind::Ec => signed_data::ecdsa_signature_algorithm(self.digest)?,
        };
        signed_data::build(
            &content,
            self.digest,
            signed_data::SignerRef {
                issuer_serial: &self.issuer_serial,
                signature_algorithm,
            },
            signature,
        )
    }

    /// CMS PEM text of `data` (keystoneclient's `cms_sign_data` / `cms_sign_text`).
    pub fn sign_pem(&self, data: &[u8]) -> Result<String> {
        Ok(der_to_pem(&self.sign_der(data)?))
    }

    /// A PKI token for `data` (keystoneclient's `cms_sign_token`).
    pub fn sign_pki(&self, data: &[u8]) -> Result<String> {
        Ok(der_to_pki_token(&self.sign_der(data)?))
    }

    /// A PKIZ token for `data` at zlib level 6 (keystoneclient's `pkiz_sign`).
    pub fn sign_pkiz(&self, data: &[u8]) -> Result<String> {
        self.sign_pkiz_with_level(data, pkiz::DEFAULT_COMPRESSION_LEVEL)
    }

    /// A PKIZ token for `data` at the given zlib level (0–9).
    pub fn sign_pkiz_with_level(&self, data: &[u8], level: u32) -> Result<String> {
        pkiz::compress(self.sign_pem(data)?.as_bytes(), level)
    }
}
