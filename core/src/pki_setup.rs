//! A throw-away or production PKI in the layout `keystone-manage pki_setup` produced
//! (`docs/reference-behaviour.md#pki-setup`).
//!
//! keystone shelled out to `openssl req` and `openssl ca`; its `-days 3650d` argument made the last
//! step fail on OpenSSL ≥ 1.1. This builds the same certificates with the OpenSSL library instead,
//! so it works everywhere. Nothing is written to disk: callers get PEM bytes.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{AuthorityKeyIdentifier, BasicConstraints, SubjectKeyIdentifier};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder, X509};

use crate::error::{Error, Result};

/// keystone's `[signing] cert_subject` default.
pub const DEFAULT_SUBJECT: &str = "/C=US/ST=Unset/L=Unset/O=Unset/CN=www.example.com";
/// keystone's `[signing] key_size` default.
pub const DEFAULT_KEY_BITS: u32 = 2048;
/// keystone's `[signing] valid_days` default.
pub const DEFAULT_VALID_DAYS: u32 = 3650;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiOptions {
    /// RSA modulus size of both keys (keystone: at least 1024).
    pub key_bits: u32,
    /// Validity of both certificates, in days from now.
    pub valid_days: u32,
    /// Subject of both certificates, in `openssl -subj` form (keystone gives both the same DN).
    pub subject: String,
}

impl Default for PkiOptions {
    fn default() -> Self {
        PkiOptions {
            key_bits: DEFAULT_KEY_BITS,
            valid_days: DEFAULT_VALID_DAYS,
            subject: DEFAULT_SUBJECT.to_owned(),
        }
    }
}

/// The four PEM files of keystone's layout.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedPki {
    /// `certs/ca.pem`: the self-signed CA.
    pub ca_cert_pem: Vec<u8>,
    /// `private/cakey.pem`: the CA key (PKCS#8).
    pub ca_key_pem: Vec<u8>,
    /// `certs/signing_cert.pem`: the token signing certificate, serial 1.
    pub signing_cert_pem: Vec<u8>,
    /// `private/signing_key.pem`: the token signing key (PKCS#8).
    pub signing_key_pem: Vec<u8>,
}

impl std::fmt::Debug for GeneratedPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedPki").finish_non_exhaustive()
    }
}

/// Generates a CA and a signing certificate with keystone's extensions (`v3_ca`, `usr_cert`).
pub fn generate(options: &PkiOptions) -> Result<GeneratedPki> {
    if options.key_bits < 1024 {
        return Err(Error::InvalidArgument(format!(
            "key size {} is below keystone's minimum of 1024",
            options.key_bits
        )));
    }
    let failed = |e: openssl::error::ErrorStack| Error::PkiSetup(e.to_string());
    let subject = parse_subject(&options.subject)?;
    let ca_key = rsa_key(options.key_bits).map_err(failed)?;
    let ca_serial = random_serial().map_err(failed)?;
    let ca = build_cert(
        &subject, &subject, &ca_key, &ca_key, None, &ca_serial, options, true,
    )
    .map_err(failed)?;
    let signing_key = rsa_key(options.key_bits).map_err(failed)?;
    let one = BigNum::from_u32(1)
        .and_then(|b| b.to_asn1_integer())
        .map_err(failed)?;
    let signing = build_cert(
        &subject,
        &subject,
        &signing_key,
        &ca_key,
        Some(&ca),
        &one,
        options,
        false,
    )
    .map_err(failed)?;
    Ok(GeneratedPki {
        ca_cert_pem: ca.to_pem().map_err(failed)?,
        ca_key_pem: ca_key.private_key_to_pem_pkcs8().map_err(failed)?,
        signing_cert_pem: signing.to_pem().map_err(failed)?,
        signing_key_pem: signing_key.private_key_to_pem_pkcs8().map_err(failed)?,
    })
}

fn rsa_key(bits: u32) -> std::result::Result<PKey<Private>, openssl::error::ErrorStack> {
    PKey::from_rsa(Rsa::generate(bits)?)
}

fn random_serial() -> std::result::Result<Asn1Integer, openssl::error::ErrorStack> {
    let mut serial = BigNum::new()?;
    serial.rand(159, MsbOption::MAYBE_ZERO, false)?;
    serial.to_asn1_integer()
}

/// Parses `/K=V/K=V` (as `openssl -subj` does, with `\/` escaping a slash) into a name.
fn parse_subject(subject: &str) -> Result<X509Name> {
    let bad = |msg: String| Error::InvalidArgument(format!("subject {subject:?}: {msg}"));
    let rest = subject
        .strip_prefix('/')
        .ok_or_else(|| bad("must start with '/'".to_owned()))?;
    let mut builder = X509NameBuilder::new().map_err(|e| bad(e.to_string()))?;
    let mut field = String::new();
    let mut fields = Vec::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => field.extend(chars.next()),
            '/' => fields.push(std::mem::take(&mut field)),
            other => field.push(other),
        }
    }
    fields.push(field);
    for f in fields.iter().filter(|f| !f.is_empty()) {
        let (key, value) = f
            .split_once('=')
            .ok_or_else(|| bad(format!("{f:?} is not KEY=VALUE")))?;
        builder
            .append_entry_by_text(key, value)
            .map_err(|e| bad(format!("{key}: {e}")))?;
    }
    Ok(builder.build())
}

#[allow(clippy::too_many_arguments)]
fn build_cert(
    subject: &X509Name,
    issuer: &X509Name,
    key: &PKey<Private>,
    issuer_key: &PKey<Private>,
    issuer_cert: Option<&X509>,
    serial: &Asn1Integer,
    options: &PkiOptions,
    is_ca: bool,
) -> std::result::Result<X509, openssl::error::ErrorStack> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(serial)?;
    b.set_subject_name(subject)?;
    b.set_issuer_name(issuer)?;
    b.set_pubkey(key)?;
    let not_before = Asn1Time::days_from_now(0)?;
    let not_after = Asn1Time::days_from_now(options.valid_days)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    let issuer_cert = issuer_cert.map(|c| &**c);
    let mut constraints = BasicConstraints::new();
    if is_ca {
        constraints.ca();
    }
    b.append_extension(constraints.build()?)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(issuer_cert, None))?;
    b.append_extension(ski)?;
    let mut aki = AuthorityKeyIdentifier::new();
    aki.keyid(true);
    if is_ca {
        aki.issuer(false);
    }
    // For the self-signed CA, the AKI refers to the certificate being built.
    let aki = aki.build(&b.x509v3_context(issuer_cert, None))?;
    b.append_extension(aki)?;
    b.sign(issuer_key, MessageDigest::sha256())?;
    Ok(b.build())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::{Signer, Verifier};

    #[test]
    fn generated_pki_signs_and_verifies() {
        let pki = generate(&PkiOptions {
            key_bits: 1024,
            ..PkiOptions::default()
        })
        .unwrap();
        let signer = Signer::new(&pki.signing_cert_pem, &pki.signing_key_pem).unwrap();
        let verifier = Verifier::new(&pki.signing_cert_pem, &pki.ca_cert_pem).unwrap();
        let token = signer.sign_pki(b"{\"token\":{}}").unwrap();
        assert_eq!(
            verifier.verify(token.as_bytes()).unwrap(),
            b"{\"token\":{}}"
        );
        let cert = X509::from_pem(&pki.signing_cert_pem).unwrap();
        assert_eq!(
            cert.serial_number().to_bn().unwrap(),
            BigNum::from_u32(1).unwrap()
        );
        assert_eq!(
            format!("{:?}", cert.subject_name()),
            format!("{:?}", cert.issuer_name())
        );
    }

    #[test]
    fn bad_options() {
        assert!(generate(&PkiOptions {
            key_bits: 512,
            ..PkiOptions::default()
        })
        .is_err());
        assert!(parse_subject("CN=x").is_err());
        assert!(parse_subject("/CN").is_err());
        assert!(parse_subject("/NOPE=x").is_err());
        assert!(parse_subject("/O=a\\/b/CN=x").is_ok());
    }
}
