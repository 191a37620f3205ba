//! `kstoken inspect`: decodes a token WITHOUT verifying it and shows what it holds.

use std::fmt::Write as _;

use clap::Args;
use kstoken::body::{self, Scope, TokenBody};
use kstoken::cms::{self, SignedDocument, SignerId, SignerSummary};
use kstoken::hash::hash_hex;
use kstoken::{form, pem, pkiz, DetectionRule, HashAlgorithm, Limits, TokenForm};
use time::OffsetDateTime;

use crate::exit::{Failure, Outcome};
use crate::input::{format_time, pretty_json, token_text, write_stdout};

/// Arguments of `kstoken inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token (PKI, PKIZ or CMS PEM text); read from standard input when absent or `-`.
    pub token: Option<String>,
}

/// What kind of text the input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pki,
    /// A PKI token only the lenient rule recognises (DER shorter than 256 or longer than 16 KiB).
    PkiLenient,
    Pkiz,
    Pem,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Pki => "PKI (base64 CMS DER, \"MII\" prefix)",
            Kind::PkiLenient => {
                "PKI (base64 CMS DER; not recognised by keystone's \"MII\" prefix rule)"
            }
            Kind::Pkiz => "PKIZ (zlib-compressed CMS PEM, \"PKIZ_\" prefix)",
            Kind::Pem => "CMS PEM (-----BEGIN CMS-----)",
        }
    }
}

/// Runs `kstoken inspect`.
pub fn run(args: &InspectArgs) -> Outcome {
    let token = token_text(args.token.as_deref())?;
    let limits = Limits::default();
    let kind = classify(&token)?;
    let der = match kind {
        Kind::Pki | Kind::PkiLenient => form::pki_token_to_der(token.as_bytes(), &limits),
        Kind::Pkiz => pkiz::uncompress(token.as_bytes(), &limits)
            .and_then(|pem_text| pem::pem_to_der(&pem_text, &limits)),
        Kind::Pem => pem::pem_to_der(token.as_bytes(), &limits),
    }
    .map_err(|e| Failure::invalid(format!("cannot decode the token: {e}")))?;
    let document =
        cms::parse(&der).map_err(|e| Failure::invalid(format!("cannot decode the CMS: {e}")))?;
    // The token id is a hash of the token text as sent, so a PEM document is hashed as its token.
    let token_id_text = match kind {
        Kind::Pem => form::cms_to_token(&token),
        _ => token.clone(),
    };
    let report = render(kind, &token, der.len(), &token_id_text, &document, &limits);
    write_stdout(report.as_bytes())
}

fn classify(token: &str) -> Result<Kind, Failure> {
    if token.starts_with("-----BEGIN") {
        return Ok(Kind::Pem);
    }
    match form::detect(token) {
        TokenForm::Pki => Ok(Kind::Pki),
        TokenForm::Pkiz => Ok(Kind::Pkiz),
        _ => match form::detect_with(token, DetectionRule::Lenient) {
            TokenForm::Pki => Ok(Kind::PkiLenient),
            TokenForm::Pkiz => Ok(Kind::Pkiz),
            _ => Err(Failure::invalid(
                "not a PKI or PKIZ token (no \"MII\" or \"PKIZ_\" prefix), nor CMS PEM",
            )),
        },
    }
}

fn render(
    kind: Kind,
    token: &str,
    der_len: usize,
    token_id_text: &str,
    document: &SignedDocument,
    limits: &Limits,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "NOT VERIFIED: decoded only; the signature and the certificate chain were not checked"
    );
    let _ = writeln!(out, "form:                  {}", kind.describe());
    let _ = writeln!(out, "token length:          {} characters", token.len());
    let _ = writeln!(out, "DER size:              {der_len} bytes");
    let _ = writeln!(
        out,
        "content type:          {}",
        oid_name(&document.content_type.to_string())
    );
    let _ = writeln!(
        out,
        "content size:          {} bytes",
        document.content.len()
    );
    let _ = writeln!(
        out,
        "embedded certificates: {}",
        document.embedded_certificates
    );
    let _ = writeln!(out, "signers:               {}", document.signers.len());
    for (i, signer) in document.signers.iter().enumerate() {
        render_signer(&mut out, i + 1, signer);
    }
    for algorithm in [HashAlgorithm::Md5, HashAlgorithm::Sha256] {
        let _ = writeln!(
            out,
            "token id {:<13} {}",
            format!("({algorithm}):"),
            hash_hex(token_id_text.as_bytes(), algorithm)
        );
    }
    match body::parse(&document.content, limits) {
        Ok(parsed) => render_body(&mut out, &parsed),
        Err(e) => {
            let _ = writeln!(
                out,
                "body:                  not a keystone token body ({e})"
            );
        }
    }
    let _ = writeln!(out, "content:");
    match pretty_json(&document.content) {
        Some(json) => {
            let _ = writeln!(out, "{json}");
        }
        None => {
            let text = String::from_utf8_lossy(&document.content);
            let _ = writeln!(out, "{}", text.trim_end());
        }
    }
    out
}

fn render_signer(out: &mut String, index: usize, signer: &SignerSummary) {
    let digest = signer
        .digest()
        .map(|a| a.name().to_owned())
        .unwrap_or_else(|| oid_name(&signer.digest_oid.to_string()));
    let _ = writeln!(out, "signer {index}:");
    let _ = writeln!(out, "  digest algorithm:    {digest}");
    let _ = writeln!(
        out,
        "  signature algorithm: {}",
        oid_name(&signer.signature_oid.to_string())
    );
    let _ = writeln!(
        out,
        "  signature:           {} bytes",
        signer.signature.len()
    );
    match &signer.sid {
        SignerId::IssuerSerial { issuer, serial } => {
            let _ = writeln!(out, "  issuer:              {issuer}");
            let _ = writeln!(out, "  serial:              {}", hex_upper(serial));
        }
        SignerId::KeyId(id) => {
            let _ = writeln!(out, "  subject key id:      {}", hex_upper(id));
        }
    }
    if signer.has_signed_attrs {
        let _ = writeln!(
            out,
            "  signed attributes:   present (keystone never uses them; kstoken refuses them)"
        );
    }
}

fn render_body(out: &mut String, parsed: &TokenBody) {
    let version = match parsed.version {
        body::TokenVersion::V2 => "v2 (access)",
        body::TokenVersion::V3 => "v3 (token)",
    };
    let _ = writeln!(out, "token version:         {version}");
    let now = OffsetDateTime::now_utc();
    match parsed.expires {
        Some(expires) => {
            let state = if parsed.is_expired(now) {
                "expired"
            } else {
                "not expired"
            };
            let _ = writeln!(
                out,
                "expires:               {} ({state} now)",
                format_time(expires)
            );
        }
        None => {
            let _ = writeln!(out, "expires:               (none)");
        }
    }
    if let Some(issued) = parsed.issued_at {
        let _ = writeln!(out, "issued at:             {}", format_time(issued));
    }
    let audit = if parsed.audit_ids.is_empty() {
        "(none)".to_owned()
    } else {
        parsed.audit_ids.join(", ")
    };
    let _ = writeln!(out, "audit ids:             {audit}");
    let user = &parsed.user;
    let _ = writeln!(
        out,
        "user:                  {} (id {})",
        user.name.as_deref().unwrap_or("?"),
        user.id.as_deref().unwrap_or("?")
    );
    let scope = match &parsed.scope {
        Scope::Unscoped => "unscoped".to_owned(),
        Scope::Project { id, name, .. } => format!("project {name} (id {id})"),
        Scope::Domain { id, name } => format!("domain {name} (id {id})"),
        other => format!("{other:?}"),
    };
    let _ = writeln!(out, "scope:                 {scope}");
    let roles: Vec<&str> = parsed.roles.iter().map(|r| r.name.as_str()).collect();
    let _ = writeln!(
        out,
        "roles:                 {}",
        if roles.is_empty() {
            "(none)".to_owned()
        } else {
            roles.join(", ")
        }
    );
    let bind = match &parsed.bind {
        Some(map) => serde_json::to_string(map).unwrap_or_else(|_| "?".to_owned()),
        None => "(none)".to_owned(),
    };
    let _ = writeln!(out, "bind:                  {bind}");
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

/// A readable name for the OIDs keystone's documents use; other OIDs as dotted text.
fn oid_name(oid: &str) -> String {
    let name = match oid {
        "1.2.840.113549.1.7.1" => "data",
        "1.2.840.113549.1.1.1" => "rsaEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.2.1" => "id-ecPublicKey",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.113549.2.5" => "md5",
        "1.3.14.3.2.26" => "sha1",
        "2.16.840.1.101.3.4.2.1" => "sha256",
        "2.16.840.1.101.3.4.2.2" => "sha384",
        "2.16.840.1.101.3.4.2.3" => "sha512",
        "2.16.840.1.101.3.4.2.4" => "sha224",
        _ => return oid.to_owned(),
    };
    format!("{name} ({oid})")
}
