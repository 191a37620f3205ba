//! A throw-away or production PKI in the layout `keystone-manage pki_setup` produced
//! (`docs/reference-behaviour.md#pki-setup`).
//!
//! keystone shelled out to `openssl req` and `openssl ca`; its `-days 3650d` argument made the last
//! step fail on OpenSSL ≥ 1.1. This builds the same certificates with the OpenSSL library instead,
//! so it works everywhere. Nothing is written to disk: callers get PEM bytes.
//!
//! Options that cannot make a working PKI are refused before anything is generated
//! ([`PkiOptions::validate`]): a validity of zero days (certificates that expire as they are made),
//! a validity ending after 9999-12-31, a subject without attributes, and key sizes outside
//! [`MIN_KEY_BITS`]`..=`[`MAX_KEY_BITS`]. The messages name the value to change and the accepted range.

use openssl::asn1::{Asn1Integer, Asn1Object, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{AuthorityKeyIdentifier, BasicConstraints, SubjectKeyIdentifier};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder, X509};

use crate::error::{Error, Result};
use crate::timestamp::unix_now;
use crate::timestamp::MAX_UNIX_TIME;

/// keystone's `[signing] cert_subject` default.
pub const DEFAULT_SUBJECT: &str = "/C=US/ST=Unset/L=Unset/O=Unset/CN=www.example.com";
/// keystone's `[signing] key_size` default.
pub const DEFAULT_KEY_BITS: u32 = 2048;
/// keystone's `[signing] valid_days` default.
pub const DEFAULT_VALID_DAYS: u32 = 3650;
/// The smallest accepted RSA key size: keystone's `[signing] key_size` minimum.
pub const MIN_KEY_BITS: u32 = 1024;
/// The largest accepted RSA key size.
///
/// RSA key generation time grows steeply (and varies) with the size: measured with OpenSSL 3.0 on
/// a shared 2-core machine, 4096 bits took 3–4 s, 8192 bits 17–31 s, 16384 bits 167 s, and OpenSSL
/// verifies with no modulus above 16384 bits at all. 8192 bits is past every strength
/// recommendation for a token signing key and still generates within a minute; each token
/// signature with it costs about 60 times a 2048-bit one.
pub const MAX_KEY_BITS: u32 = 8192;
/// Seconds in a day of certificate validity.
const DAY: i64 = 86_400;

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

impl PkiOptions {
    /// `Ok` if these options make a working PKI when generated now, else
    /// [`Error::InvalidArgument`] saying which value to change and what is accepted.
    ///
    /// [`generate`] checks the same; this lets a caller refuse bad options before doing anything else.
    pub fn validate(&self) -> Result<()> {
        self.validity_at(unix_now()).map(|_| ())
    }

    /// The largest accepted [`PkiOptions::valid_days`] for a PKI generated at `now` (Unix
    /// seconds): the certificates must expire by 9999-12-31T23:59:59Z, the last instant an X.509
    /// time (and kstoken's clock) can name.
    pub fn max_valid_days_at(now: i64) -> u32 {
        u32::try_from(MAX_UNIX_TIME.saturating_sub(now).max(0) / DAY).unwrap_or(u32::MAX)
    }

    /// Checks every option for a PKI generated at `now`; the certificates' validity as
    /// (not before, not after) in Unix seconds, and the parsed subject.
    fn validity_at(&self, now: i64) -> Result<(i64, i64, X509Name)> {
        let bits = self.key_bits;
        if bits < MIN_KEY_BITS {
            return Err(Error::InvalidArgument(format!(
                "key size {bits} bits is below keystone's minimum of {MIN_KEY_BITS}"
            )));
        }
        if bits > MAX_KEY_BITS {
            return Err(Error::InvalidArgument(format!(
                "key size {bits} bits is above the largest accepted, {MAX_KEY_BITS} (larger RSA keys \
                 take minutes to generate, and OpenSSL cannot verify with keys above 16384 bits)"
            )));
        }
        let days = self.valid_days;
        if days == 0 {
            return Err(Error::InvalidArgument(
                "validity of 0 days makes certificates that expire as they are made, so every token \
                 would fail to verify: give at least 1 day"
                    .to_owned(),
            ));
        }
        let max_days = Self::max_valid_days_at(now);
        if days > max_days {
            return Err(Error::InvalidArgument(format!(
                "validity of {days} days puts the expiry after 9999-12-31, the last date a \
                 certificate can hold: at most {max_days} days from today"
            )));
        }
        let subject = parse_subject(&self.subject)?;
        Ok((now, now + i64::from(days) * DAY, subject))
    }
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
///
/// The options are checked first ([`PkiOptions::validate`]: [`Error::InvalidArgument`]); both
/// certificates are valid from the start of the call for `valid_days` days. A failure inside
/// OpenSSL is [`Error::PkiSetup`].
pub fn generate(options: &PkiOptions) -> Result<GeneratedPki> {
    let (not_before, not_after, subject) = options.validity_at(unix_now())?;
    let failed = |e: ErrorStack| Error::PkiSetup(e.to_string());
    let validity = Validity {
        not_before: Asn1Time::from_unix(unix_seconds(not_before)?).map_err(failed)?,
        not_after: Asn1Time::from_unix(unix_seconds(not_after)?).map_err(failed)?,
    };
    let ca_key = rsa_key(options.key_bits).map_err(failed)?;
    let ca_serial = random_serial().map_err(failed)?;
    let ca = build_cert(
        &subject, &subject, &ca_key, &ca_key, None, &ca_serial, &validity, true,
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
        &validity,
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

/// The validity period of both certificates.
struct Validity {
    not_before: Asn1Time,
    not_after: Asn1Time,
}

/// Unix seconds as the platform's `time_t` (narrower than `i64` on some 32-bit systems).
fn unix_seconds<T: TryFrom<i64>>(seconds: i64) -> Result<T> {
    T::try_from(seconds).map_err(|_| {
        Error::InvalidArgument(format!(
            "time {seconds} does not fit this platform's time_t: choose fewer days of validity"
        ))
    })
}

fn rsa_key(bits: u32) -> std::result::Result<PKey<Private>, ErrorStack> {
    PKey::from_rsa(Rsa::generate(bits)?)
}

fn random_serial() -> std::result::Result<Asn1Integer, ErrorStack> {
    let mut serial = BigNum::new()?;
    serial.rand(159, MsbOption::MAYBE_ZERO, false)?;
    serial.to_asn1_integer()
}

/// Parses `/K=V/K=V` (as `openssl -subj` does, with `\/` escaping a slash) into a name of at
/// least one attribute, each with a known type and a non-empty value.
fn parse_subject(subject: &str) -> Result<X509Name> {
    let bad = |msg: String| Error::InvalidArgument(format!("subject {subject:?}: {msg}"));
    let rest = subject.strip_prefix('/').ok_or_else(|| {
        bad(
            "must be in openssl -subj form, starting with '/', such as /O=Example/CN=keystone"
                .to_owned(),
        )
    })?;
    let mut builder = X509NameBuilder::new().map_err(|e| Error::PkiSetup(e.to_string()))?;
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
    let mut attributes = 0usize;
    for f in fields.iter().filter(|f| !f.is_empty()) {
        let (key, value) = f
            .split_once('=')
            .ok_or_else(|| bad(format!("{f:?} is not KEY=VALUE")))?;
        if Asn1Object::from_str(key).is_err() {
            return Err(bad(format!(
                "unknown attribute {key:?} (such as C, ST, L, O, OU, CN, emailAddress)"
            )));
        }
        if value.is_empty() {
            return Err(bad(format!("attribute {key} has no value")));
        }
        builder
            .append_entry_by_text(key, value)
            .map_err(|e| bad(format!("{key}={value:?}: {}", openssl_reason(&e))))?;
        attributes += 1;
    }
    if attributes == 0 {
        // An empty distinguished name: the signer could not be told apart from any other.
        return Err(bad(
            "names no attribute: give at least one, such as /CN=keystone".to_owned(),
        ));
    }
    Ok(builder.build())
}

/// OpenSSL's reason for the first error of `stack` and its detail (`string too long
/// (maxsize=2)`), without the library and file names of the full text.
fn openssl_reason(stack: &ErrorStack) -> String {
    let Some(first) = stack.errors().first() else {
        return stack.to_string();
    };
    let reason = first.reason().unwrap_or("OpenSSL error");
    match first.data() {
        Some(data) if !data.is_empty() => format!("{reason} ({data})"),
        _ => reason.to_owned(),
    }
}

#[allow(clippy::too_many_arguments)]
fn build_cert(
    subject: &X509Name,
    issuer: &X509Name,
    key: &PKey<Private>,
    issuer_key: &PKey<Private>,
    issuer_cert: Option<&X509>,
    serial: &Asn1Integer,
    validity: &Validity,
    is_ca: bool,
) -> std::result::Result<X509, ErrorStack> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(serial)?;
    b.set_subject_name(subject)?;
    b.set_issuer_name(issuer)?;
    b.set_pubkey(key)?;
    b.set_not_before(&validity.not_before)?;
    b.set_not_after(&validity.not_after)?;
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
mod tests;
