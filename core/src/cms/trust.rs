//! Signing certificates, the CA bundle, and the cached verdict of each signer's chain.
//!
//! `openssl cms -verify` validates the signer's chain for every token. The verdict only depends on
//! the certificates and the clock, so it is computed once per signer with OpenSSL's own path
//! validation and reused while the clock stays between the same two validity boundaries (see
//! [`SigningCert::check_chain`]).

use std::sync::RwLock;

use der::asn1::AnyRef;
use der::{Decode, Encode};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::pkey::{PKey, Public};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyParam;
use openssl::x509::{X509PurposeId, X509StoreContext, X509VerifyResult, X509};
use x509_cert::certificate::{CertificateInner, Raw};
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::name::Name;

use crate::cms::crypto::{key_kind, KeyKind};
use crate::cms::name::{self, CanonicalName};
use crate::cms::signed_data::SignerId;
use crate::error::{Error, Result, VerifyFailure};

/// Loads every certificate of a PEM bundle (as `-certfile` and `-CAfile` do).
pub(crate) fn load_bundle(pem: &[u8], what: &str) -> Result<Vec<X509>> {
    let certs = X509::stack_from_pem(pem)
        .map_err(|e| Error::CertificateConfig(format!("cannot read {what}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::CertificateConfig(format!(
            "no certificate found in {what}"
        )));
    }
    Ok(certs)
}

/// The instants between which a validated chain stays valid: `not_before <= t < not_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    not_before: i64,
    not_after: i64,
}

impl Window {
    fn contains(self, t: i64) -> bool {
        self.not_before <= t && t < self.not_after
    }

    fn intersect(self, other: Window) -> Window {
        Window {
            not_before: self.not_before.max(other.not_before),
            not_after: self.not_after.min(other.not_after),
        }
    }
}

/// A certificate of the signing bundle, with what matching and verifying need precomputed.
pub(crate) struct SigningCert {
    x509: X509,
    key: PKey<Public>,
    kind: Option<KeyKind>,
    issuer: Name,
    issuer_canonical: Option<CanonicalName>,
    /// The content octets of the issuer name's DER, if OpenSSL can decode the name: what a
    /// token's encoded issuer is compared with before anything is decoded.
    issuer_encoding: Option<Vec<u8>>,
    serial: Vec<u8>,
    key_id: Option<Vec<u8>>,
    verdict: RwLock<Option<Window>>,
}

impl SigningCert {
    /// Precomputes the identifiers of one signing certificate.
    pub(crate) fn new(x509: X509) -> Result<Self> {
        let config = |e: &dyn std::fmt::Display| {
            Error::CertificateConfig(format!("unusable signing certificate: {e}"))
        };
        let der = x509.to_der().map_err(|e| config(&e))?;
        // The Raw profile accepts what OpenSSL accepts (odd serials, any time encoding).
        let parsed = CertificateInner::<Raw>::from_der(&der).map_err(|e| config(&e))?;
        let tbs = parsed.tbs_certificate();
        let key_id = tbs
            .get_extension::<SubjectKeyIdentifier>()
            .map_err(|e| config(&e))?
            .map(|(_, ski)| ski.0.as_bytes().to_vec());
        let key = x509.public_key().map_err(|e| config(&e))?;
        // Without it (a name OpenSSL cannot decode), every token goes through the decoded name.
        let issuer_encoding = name::check_decodable(tbs.issuer())
            .ok()
            .and_then(|()| name_content_octets(tbs.issuer()).ok());
        Ok(SigningCert {
            kind: key_kind(&key),
            key,
            issuer: tbs.issuer().clone(),
            issuer_canonical: CanonicalName::of(tbs.issuer()),
            issuer_encoding,
            serial: tbs.serial_number().as_bytes().to_vec(),
            key_id,
            x509,
            verdict: RwLock::new(None),
        })
    }

    /// Whether this certificate is the one a SignerInfo names.
    pub(crate) fn matches(&self, sid: &SignerId) -> bool {
        match sid {
            SignerId::IssuerSerial { issuer, serial } => {
                *serial == self.serial && self.issued_by(issuer)
            }
            SignerId::KeyId(id) => self.key_id.as_deref() == Some(id.as_slice()),
        }
    }

    /// The certificate's serial number (content bytes).
    pub(crate) fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// Whether `issuer`, the content octets of a DER name, encodes this certificate's issuer,
    /// which OpenSSL can decode. Then that name decodes, passes OpenSSL's decoder and equals the
    /// issuer, so [`SigningCert::matches`] would say the same without decoding it.
    pub(crate) fn issuer_encoded_as(&self, issuer: &[u8]) -> bool {
        self.issuer_encoding.as_deref() == Some(issuer)
    }

    /// Whether `issuer` names this certificate's issuer: the same encoding, or the same name by
    /// OpenSSL's canonical comparison.
    fn issued_by(&self, issuer: &Name) -> bool {
        *issuer == self.issuer
            || self.issuer_canonical.is_some() && CanonicalName::of(issuer) == self.issuer_canonical
    }

    /// The certificate's public key.
    pub(crate) fn key(&self) -> &PKey<Public> {
        &self.key
    }

    /// The certificate's key family, if supported.
    pub(crate) fn kind(&self) -> Option<KeyKind> {
        self.kind
    }

    /// Validates the chain at `at`, reusing a cached verdict when `at` is inside its window.
    ///
    /// A verdict is reused only where OpenSSL would reach the same one: between the validity
    /// boundaries (every `notBefore` and `notAfter`) of the CA bundle and this certificate that
    /// surround the instant it was computed at. `X509_verify_cert`, with no CRLs and no other
    /// certificates, depends on the time only through whether each of these certificates is valid
    /// then (`notBefore <= t < notAfter`): each certificate of the chain must be, and among
    /// several CA certificates of the issuer's name it takes the first one that is valid at `t`.
    /// Between two consecutive boundaries none of those facts changes, so neither does the chain
    /// nor the verdict. The chain's own validity window alone would not do: with two CAs of the
    /// same name, OpenSSL's choice changes when the other one becomes valid.
    pub(crate) fn check_chain(&self, ca: &[X509], at: i64) -> Result<()> {
        let cached = self.verdict.read().map(|v| *v).unwrap_or(None);
        if cached.is_some_and(|w| w.contains(at)) {
            return Ok(());
        }
        let window = validate_chain(ca, &self.x509, at)?;
        if let Some(stable) = stable_window(ca, &self.x509, at) {
            if let Ok(mut slot) = self.verdict.write() {
                *slot = Some(window.intersect(stable));
            }
        }
        Ok(())
    }
}

/// The content octets of a name's DER encoding (its RDNs, without the SEQUENCE header).
fn name_content_octets(name: &Name) -> der::Result<Vec<u8>> {
    let der = name.to_der()?;
    Ok(AnyRef::from_der(&der)?.value().to_vec())
}

/// The instants around `at` between which no certificate of `ca` or `leaf` starts or stops being
/// valid, or `None` if a validity time cannot be read (then nothing is cached).
fn stable_window(ca: &[X509], leaf: &X509, at: i64) -> Option<Window> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let mut window = Window {
        not_before: i64::MIN,
        not_after: i64::MAX,
    };
    for cert in ca.iter().chain(std::iter::once(leaf)) {
        for boundary in [cert.not_before(), cert.not_after()] {
            let b = unix_seconds(&epoch, boundary).ok()?;
            if b <= at {
                window.not_before = window.not_before.max(b);
            } else {
                window.not_after = window.not_after.min(b);
            }
        }
    }
    Some(window)
}

/// Runs OpenSSL's path validation as `CMS_verify` does: trust store = the CA bundle, no untrusted
/// intermediates, purpose `smime_sign`, at time `at`. Returns the chain's common validity window.
fn validate_chain(ca: &[X509], leaf: &X509, at: i64) -> Result<Window> {
    let setup = |e: openssl::error::ErrorStack| {
        Error::CertificateConfig(format!("cannot set up certificate validation: {e}"))
    };
    let mut builder = X509StoreBuilder::new().map_err(setup)?;
    for cert in ca {
        builder.add_cert(cert.clone()).map_err(setup)?;
    }
    let mut param = X509VerifyParam::new().map_err(setup)?;
    // time_t is i64 on the platforms we build for; the check matters where it is narrower.
    #[allow(irrefutable_let_patterns, clippy::useless_conversion)]
    let Ok(time) = at.try_into() else {
        return Err(Error::InvalidArgument(format!(
            "verification time {at} is out of range"
        )));
    };
    param.set_time(time);
    param
        .set_purpose(X509PurposeId::SMIME_SIGN)
        .map_err(setup)?;
    builder.set_param(&param).map_err(setup)?;
    let store = builder.build();
    let untrusted = Stack::new().map_err(setup)?;
    let mut ctx = X509StoreContext::new().map_err(setup)?;
    let outcome = ctx
        .init(&store, leaf, &untrusted, |ctx| {
            let ok = ctx.verify_cert()?;
            let window = if ok {
                ctx.chain().map(chain_window).transpose()?
            } else {
                None
            };
            Ok((ctx.error(), window))
        })
        .map_err(setup)?;
    match outcome {
        (_, Some(Some(window))) => Ok(window),
        (result, _) => Err(chain_error(result)),
    }
}

/// The intersection of the validity periods of every certificate in the chain.
fn chain_window(
    chain: &openssl::stack::StackRef<X509>,
) -> std::result::Result<Option<Window>, openssl::error::ErrorStack> {
    let epoch = Asn1Time::from_unix(0)?;
    let mut window = Window {
        not_before: i64::MIN,
        not_after: i64::MAX,
    };
    for cert in chain {
        window.not_before = window
            .not_before
            .max(unix_seconds(&epoch, cert.not_before())?);
        window.not_after = window
            .not_after
            .min(unix_seconds(&epoch, cert.not_after())?);
    }
    Ok((window.not_before < window.not_after).then_some(window))
}

fn unix_seconds(
    epoch: &Asn1TimeRef,
    t: &Asn1TimeRef,
) -> std::result::Result<i64, openssl::error::ErrorStack> {
    let diff = epoch.diff(t)?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

/// Maps OpenSSL's certificate verification result to the crate's reasons, keeping its wording.
fn chain_error(result: X509VerifyResult) -> Error {
    // X509_V_ERR_* codes from OpenSSL's x509_vfy.h.
    const CERT_NOT_YET_VALID: i32 = 9;
    const CERT_HAS_EXPIRED: i32 = 10;
    const INVALID_PURPOSE: i32 = 26;
    let reason = match result.as_raw() {
        CERT_NOT_YET_VALID => VerifyFailure::CertificateNotYetValid,
        CERT_HAS_EXPIRED => VerifyFailure::CertificateExpired,
        INVALID_PURPOSE => VerifyFailure::UnsuitablePurpose,
        _ => VerifyFailure::UntrustedChain,
    };
    Error::verify(reason, result.error_string())
}
