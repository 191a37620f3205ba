//! Exit codes and the one error type of the command.
//!
//! Every failure carries its exit code, so scripts can tell a rejected token (1) from a usage
//! error (2, clap's), a configuration problem (3) and an I/O failure (4); `kstoken sync` adds
//! keystone unreachable (5) and an answer from keystone refused (6), for cron and systemd timers.

use std::fmt;
use std::process::ExitCode;

use kstoken::LimitKind;

/// Success: the token verified, the file was written, the output was printed.
pub const OK: u8 = 0;
/// The token (or revocation list) is invalid, was rejected, or is revoked; a batch had an invalid
/// token; an input (token, body, JSON) is over its size limit or malformed.
pub const INVALID: u8 = 1;
/// Usage error: unknown option, missing argument, malformed option value (clap's code).
pub const USAGE: u8 = 2;
/// Configuration error: unreadable, oversized or unusable certificate, key, CA or revocation list,
/// an option value the operation refuses, or `pki-setup` refusing to overwrite files.
pub const CONFIG: u8 = 3;
/// I/O error: reading the input or writing the output failed, or either was closed; also (without
/// a message) when the reader of the output went away before it was all written.
pub const IO: u8 = 4;
/// `sync`: keystone could not be reached or answered with a server error within the time limits;
/// nothing was changed by what failed (retry later).
pub const UNREACHABLE: u8 = 5;
/// `sync`: what keystone sent was refused: a certificate that does not chain to the CA already
/// trusted, a revocation list that does not verify, an answer over its size limit or malformed;
/// the files it would have replaced are kept.
pub const REFUSED: u8 = 6;

/// The exit-code table shown at the end of `kstoken --help`.
const EXIT_CODES: &str = "\
Exit codes:
  0  success (token valid, not revoked, files written, output written)
  1  token invalid, rejected or revoked (one line on stderr says why, or which pipeline step);
     any invalid token in a --batch; a list given to `revocation verify` that does not verify;
     a token, body or JSON input over its size limit, or malformed revocation entries
  2  usage error (unknown option, missing or malformed argument)
  3  configuration error: unreadable, oversized or unusable certificate, key, CA, client
     certificate, or revocation list used to check a token; a refused option value (key size,
     validity, subject, md5 digest); pki-setup would overwrite files without --force; sync:
     missing or refused credentials or options, keystone's TLS certificate not trusted, an
     unusable signing directory
  4  I/O error: cannot read the input or write the output, or standard input or output is
     closed (`<&-`, `>&-`); without a message when the reader went away early (`| head`)
  5  sync: keystone unreachable, timed out or answering a server error (files unchanged; retry)
  6  sync: keystone's answer refused: a signing certificate that does not chain to the CA
     already trusted, a revocation list that does not verify, an answer over its size limit";

/// The text at the end of `kstoken --help`: exit codes, and the core's size limits the inputs are
/// read under.
pub fn help() -> String {
    let limits = kstoken::Limits::default();
    let mib = |what| limits.max(what) >> 20;
    format!(
        "{EXIT_CODES}\n\n\
         Size limits (nothing is read past them): certificates, keys and CA bundles {} MiB; a\n\
         token {} MiB, a body to sign {} MiB, revocation entries {} MiB,\n\
         a signed revocation list {} MiB; --batch input of any size, one token a line. An empty\n\
         body (`sign < /dev/null`) is signed as it is.",
        mib(LimitKind::CredentialLength),
        mib(LimitKind::TokenLength),
        mib(LimitKind::ContentLength),
        mib(LimitKind::JsonSize),
        mib(LimitKind::RevocationListLength),
    )
}

/// A failed command: the exit code and, unless the command already reported it, a message.
#[derive(Debug)]
pub struct Failure {
    /// The process exit code.
    pub code: u8,
    /// The one-line message for stderr; `None` when the command already printed its verdict.
    pub message: Option<String>,
}

impl Failure {
    fn with(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: Some(message.into()),
        }
    }

    /// An invalid or rejected token (exit 1).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::with(INVALID, message)
    }

    /// A usage error found after argument parsing (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::with(USAGE, message)
    }

    /// A configuration error (exit 3).
    pub fn config(message: impl Into<String>) -> Self {
        Self::with(CONFIG, message)
    }

    /// An I/O error (exit 4).
    pub fn io(message: impl Into<String>) -> Self {
        Self::with(IO, message)
    }

    /// Keystone unreachable (exit 5, `sync`).
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::with(UNREACHABLE, message)
    }

    /// Keystone's answer refused (exit 6, `sync`).
    pub fn refused(message: impl Into<String>) -> Self {
        Self::with(REFUSED, message)
    }

    /// A failure whose verdict was already printed.
    pub fn silent(code: u8) -> Self {
        Failure {
            code,
            message: None,
        }
    }

    /// Maps a kstoken error about the token being processed: configuration-type errors
    /// ([`kstoken::ErrorKind::is_configuration`]) give 3, everything else (malformed, failed
    /// verification, limits) gives 1.
    pub fn from_token_error(err: &kstoken::Error) -> Self {
        if err.kind().is_configuration() {
            Self::config(err.to_string())
        } else {
            Self::invalid(err.to_string())
        }
    }

    /// Maps a kstoken error raised while loading configuration (certificates, keys): always 3.
    pub fn from_config_error(context: &str, err: &kstoken::Error) -> Self {
        Self::config(format!("{context}: {err}"))
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message.as_deref().unwrap_or(""))
    }
}

/// The result type of every subcommand.
pub type Outcome = Result<(), Failure>;
