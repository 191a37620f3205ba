//! `kstoken inspect`: decodes a token WITHOUT verifying it and shows what it holds.

use std::fmt::Write as _;

use clap::Args;
use kstoken::body::{self, Scope, TokenBody};
use kstoken::cms::oid;
use kstoken::cms::{self, SignedDocument, SignerId, SignerSummary};
use kstoken::token_text::hash_hex;
use kstoken::token_text::{self, Encoding};
use kstoken::{DetectionRule, HashAlgorithm, Limits, TokenForm};
use time::OffsetDateTime;

use crate::exit::{Failure, Outcome};
use crate::input::token_text;
use crate::output::{format_time, pretty_json, write_stdout};

/// Arguments of `kstoken inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token (PKI, PKIZ or CMS PEM text); read from standard input when absent or `-`.
    pub token: Option<String>,
    /// Read the token from FILE instead of standard input.
    #[arg(long = "in", value_name = "FILE", conflicts_with = "token")]
    pub input: Option<std::path::PathBuf>,
}

/// Runs `kstoken inspect`.
pub fn run(args: &InspectArgs) -> Outcome {
    let token = token_text(args.token.as_deref(), args.input.as_deref())?;
    let limits = Limits::default();
    let form = describe_form(&token)?;
    let der = token_text::decode(token.as_bytes(), &limits)
        .map_err(|e| Failure::invalid(format!("cannot decode the token: {e}")))?
        .der;
    let document =
        cms::parse(&der).map_err(|e| Failure::invalid(format!("cannot decode the CMS: {e}")))?;
    // The token id is a hash of the token text as sent, so a PEM document is hashed as its token.
    let token_id_text = token_text::wire_token(&token);
    let token_ids = [HashAlgorithm::Md5, HashAlgorithm::Sha256]
        .into_iter()
        .map(|a| Ok((a, hash_hex(token_id_text.as_bytes(), a)?)))
        .collect::<kstoken::Result<Vec<_>>>()
        .map_err(|e| Failure::from_token_error(&e))?;
    let report = render(form, &token, der.len(), &token_ids, &document, &limits);
    write_stdout(report.as_bytes())
}

/// What the text is, in words, by the core's rules: its encoding and, for a PKI token, whether
/// keystone's own detection rule (`MII`) recognises it or only the lenient one does.
fn describe_form(token: &str) -> Result<&'static str, Failure> {
    match token_text::encoding(token) {
        Encoding::Pem => Ok("CMS PEM (-----BEGIN CMS-----)"),
        Encoding::Pkiz => Ok("PKIZ (zlib-compressed CMS PEM, \"PKIZ_\" prefix)"),
        Encoding::Pki if token_text::detect(token) == TokenForm::Pki => {
            Ok("PKI (base64 CMS DER, \"MII\" prefix)")
        }
        Encoding::Pki
            if token_text::detect_with(token, DetectionRule::Lenient) == TokenForm::Pki =>
        {
            // DER shorter than 256 bytes or longer than 16 KiB.
            Ok("PKI (base64 CMS DER; not recognised by keystone's \"MII\" prefix rule)")
        }
        Encoding::Pki => Err(Failure::invalid(token_text::NOT_A_PKI_TOKEN)),
    }
}

fn render(
    form: &str,
    token: &str,
    der_len: usize,
    token_ids: &[(HashAlgorithm, String)],
    document: &SignedDocument,
    limits: &Limits,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "NOT VERIFIED: decoded only; the signature and the certificate chain were not checked"
    );
    let _ = writeln!(out, "form:                  {form}");
    let _ = writeln!(out, "token length:          {} characters", token.len());
    let _ = writeln!(out, "DER size:              {der_len} bytes");
    let _ = writeln!(
        out,
        "content type:          {}",
        oid::describe(&document.content_type)
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
    for (algorithm, hash) in token_ids {
        let _ = writeln!(out, "token id {:<13} {hash}", format!("({algorithm}):"));
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
    let digest = oid::name(&signer.digest_oid)
        .map(str::to_owned)
        .unwrap_or_else(|| signer.digest_oid.to_string());
    let _ = writeln!(out, "signer {index}:");
    let _ = writeln!(out, "  digest algorithm:    {digest}");
    let _ = writeln!(
        out,
        "  signature algorithm: {}",
        oid::describe(&signer.signature_oid)
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
        Scope::System => "system (the whole deployment)".to_owned(),
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
