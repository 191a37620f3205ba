//! `kstoken sign`: a token body to a PKI token, PKIZ token or CMS PEM.

use std::path::PathBuf;

use clap::Args;
use kstoken::{ContentMode, HashAlgorithm, Signer};

use crate::exit::{Failure, Outcome};
use crate::input::{self, read_credential, Kind, Source};
use crate::options::parse_algorithm;
use crate::output::{print_line, write_stdout};

/// Arguments of `kstoken sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Signing certificate, PEM (keystone's `[signing] certfile`).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Private key of the signing certificate, unencrypted PEM (PKCS#1 or PKCS#8; RSA or EC).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Write a PKIZ token (zlib-compressed, `PKIZ_` prefix) instead of a PKI token.
    #[arg(long, conflicts_with = "pem")]
    pub pkiz: bool,
    /// Write the CMS document as PEM (`openssl cms -sign -outform PEM` output) instead of a token.
    #[arg(long)]
    pub pem: bool,
    /// Digest of the CMS signature: sha1, sha224, sha256, sha384 or sha512.
    #[arg(long, value_name = "ALG", default_value = "sha256", value_parser = parse_algorithm)]
    pub digest: HashAlgorithm,
    /// Sign the bytes as given (`openssl cms -sign -binary`); by default text mode canonicalises
    /// line ends to CRLF as `openssl cms -sign` does.
    #[arg(long)]
    pub binary: bool,
    /// Read the body from FILE instead of standard input (`-`); an empty body is signed as it is,
    /// but a closed standard input is an I/O error.
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
}

/// Runs `kstoken sign`.
pub fn run(args: &SignArgs) -> Outcome {
    let cert = read_credential(&args.cert, "signing certificate")?;
    let key = read_credential(&args.key, "signing key")?;
    let mode = if args.binary {
        ContentMode::Binary
    } else {
        ContentMode::Text
    };
    let signer = Signer::new(&cert, &key)
        .and_then(|s| s.with_digest(args.digest))
        .map(|s| s.with_content_mode(mode))
        .map_err(|e| {
            Failure::from_config_error("cannot use the signing certificate and key", &e)
        })?;
    let body = input::read(
        Source::file_or_stdin(args.input.as_deref()),
        "body",
        Kind::Body,
    )?;
    if args.pem {
        let pem = signer
            .sign_pem(&body)
            .map_err(|e| Failure::from_token_error(&e))?;
        write_stdout(pem.as_bytes())
    } else {
        let token = if args.pkiz {
            signer.sign_pkiz(&body)
        } else {
            signer.sign_pki(&body)
        }
        .map_err(|e| Failure::from_token_error(&e))?;
        print_line(&token)
    }
}
