//! `kstoken revocation sign|verify|check`: keystone's signed token revocation lists.

use std::borrow::Cow;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use kstoken::revocation::{self, RevokedEntry};
use kstoken::token_text::token_cache_keys;
use kstoken::{
    body, token_text, unix_now, HashAlgorithms, Limits, RevocationList, Signer, TokenForm, Verifier,
};

use crate::exit::{Failure, Outcome, INVALID};
use crate::input::{self, read_credential, token_text, Kind, Source};
use crate::options::{merge_algorithms, parse_algorithms, parse_time};
use crate::output::{pretty_json, print_line};

/// Arguments of `kstoken revocation`.
#[derive(Debug, Args)]
pub struct RevocationArgs {
    #[command(subcommand)]
    command: RevocationCommand,
}

#[derive(Debug, Subcommand)]
enum RevocationCommand {
    /// Sign a list of revoked tokens into keystone's response body {"signed": "<CMS PEM>"}.
    Sign(SignArgs),
    /// Verify a signed revocation list and print its JSON.
    Verify(VerifyArgs),
    /// Check whether a token is on a signed revocation list (exit 1 if revoked).
    Check(CheckArgs),
}

/// Arguments of `kstoken revocation sign`.
#[derive(Debug, Args)]
struct SignArgs {
    /// Signing certificate, PEM.
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// Private key of the signing certificate, unencrypted PEM.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Entries, JSON: keystone's {"revoked": [...]} or the list alone, each entry {"id"?,
    /// "audit_id"?, "expires"?} with an id or an audit id; default stdin.
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
}

/// Certificates to verify a list with.
#[derive(Debug, Args)]
struct TrustArgs {
    /// Signing certificate bundle, PEM.
    #[arg(long, value_name = "FILE")]
    signing_cert: PathBuf,
    /// CA bundle, PEM.
    #[arg(long, value_name = "FILE")]
    ca: PathBuf,
    /// Verify as of TIME (Unix seconds or RFC 3339) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<i64>,
}

/// Arguments of `kstoken revocation verify`.
#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    trust: TrustArgs,
    /// Print the list as indented JSON.
    #[arg(long)]
    pretty: bool,
    /// The signed list: keystone's {"signed": ...} response body or the CMS PEM; `-` for stdin.
    file: PathBuf,
}

/// Arguments of `kstoken revocation check`.
#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    trust: TrustArgs,
    /// The signed list: keystone's {"signed": ...} response body or the CMS PEM.
    #[arg(long, value_name = "FILE")]
    list: PathBuf,
    /// hash_algorithms: the token hashes looked up in the list.
    #[arg(
        long,
        value_name = "ALG[,ALG...]",
        default_value = "md5",
        value_parser = parse_algorithms
    )]
    hash_algorithms: Vec<HashAlgorithms>,
    /// The token; read from standard input when absent or `-`.
    token: Option<String>,
}

/// Runs `kstoken revocation ...`.
pub fn run(args: &RevocationArgs) -> Outcome {
    match &args.command {
        RevocationCommand::Sign(a) => sign(a),
        RevocationCommand::Verify(a) => verify(a),
        RevocationCommand::Check(a) => check(a),
    }
}

fn sign(args: &SignArgs) -> Outcome {
    let cert = read_credential(&args.cert, "signing certificate")?;
    let key = read_credential(&args.key, "signing key")?;
    let signer = Signer::new(&cert, &key).map_err(|e| {
        Failure::from_config_error("cannot use the signing certificate and key", &e)
    })?;
    let input = input::read(
        Source::file_or_stdin(args.input.as_deref()),
        "revocation entries",
        Kind::Json,
    )?;
    let entries = parse_entries(&input)?;
    let signed = revocation::sign(&signer, &entries).map_err(|e| Failure::from_token_error(&e))?;
    print_line(&signed)
}

/// The entries of keystone's list document `{"revoked": [...]}`, or of its array alone, read by the
/// core's rules for a list ([`RevocationList::from_json`]), so what is signed is what a verifier
/// accepts.
fn parse_entries(input: &[u8]) -> Result<Vec<RevokedEntry>, Failure> {
    // The array alone is wrapped into the document (13 bytes more, under the same JSON limit).
    let document = if input.trim_ascii_start().starts_with(b"[") {
        Cow::Owned([b"{\"revoked\": ".as_slice(), input, b"}"].concat())
    } else {
        Cow::Borrowed(input)
    };
    RevocationList::from_json(&document, &Limits::default())
        .map(|list| list.entries().to_vec())
        .map_err(|e| match e {
            // "malformed token" would mislead: what is malformed is the list.
            kstoken::Error::Malformed(detail) => {
                Failure::invalid(format!("revocation entries: {detail}"))
            }
            other => Failure::invalid(format!("revocation entries: {other}")),
        })
}

fn verifier(trust: &TrustArgs) -> Result<Verifier, Failure> {
    let signing_cert = read_credential(&trust.signing_cert, "signing certificate")?;
    let ca = read_credential(&trust.ca, "CA certificate")?;
    Verifier::new(&signing_cert, &ca)
        .map_err(|e| Failure::from_config_error("cannot load the certificates", &e))
}

fn verify(args: &VerifyArgs) -> Outcome {
    let verifier = verifier(&args.trust)?;
    let signed = input::read(
        Source::file_or_stdin(Some(&args.file)),
        "revocation list",
        Kind::SignedList,
    )?;
    let at = args.trust.at.unwrap_or_else(unix_now);
    let list = RevocationList::from_signed(&signed, &verifier, at)
        .map_err(|e| Failure::invalid(format!("revocation list rejected: {e}")))?;
    let json = revocation::to_json(list.entries());
    if args.pretty {
        if let Some(pretty) = pretty_json(json.as_bytes()) {
            return print_line(&pretty);
        }
    }
    print_line(&json)
}

fn check(args: &CheckArgs) -> Outcome {
    let verifier = verifier(&args.trust)?;
    let at = args.trust.at.unwrap_or_else(unix_now);
    let signed = input::read(
        Source::File(&args.list),
        "revocation list",
        Kind::TrustedList,
    )?;
    let list = RevocationList::from_signed(&signed, &verifier, at)
        .map_err(|e| Failure::config(format!("revocation list rejected: {e}")))?;
    let text = token_text(args.token.as_deref(), None)?;
    let token = token_text::wire_token(&text);
    // The middleware's order: the hash first, then (after verification) the audit ids.
    let hashes = token_cache_keys(&token, &merge_algorithms(&args.hash_algorithms)?)
        .map_err(|e| Failure::from_token_error(&e))?;
    if let Some(hash) = hashes.iter().find(|h| list.contains_hash(h)) {
        print_line(&format!("revoked (token hash {hash} is listed)"))?;
        return Err(Failure::silent(INVALID));
    }
    if token_text::detect(token.as_bytes()) == TokenForm::Other {
        print_line("not revoked (not a PKI or PKIZ token: only its id was checked)")?;
        return Ok(());
    }
    let content = verifier.verify_at(token.as_bytes(), at).map_err(|e| {
        Failure::invalid(format!(
            "not revoked by hash, but the token does not verify, so its audit ids cannot be checked: {e}"
        ))
    })?;
    let audit_ids = body::parse(&content, &Limits::default())
        .map(|b| b.audit_ids)
        .map_err(|e| Failure::invalid(format!("token body: {e}")))?;
    if let Some(audit_id) = audit_ids.iter().find(|a| list.contains_audit_id(a)) {
        print_line(&format!("revoked (audit id {audit_id} is listed)"))?;
        return Err(Failure::silent(INVALID));
    }
    print_line("not revoked")
}
