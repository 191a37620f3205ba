//! Exit codes and the one error type of the command.
//!
//! Every failure carries its exit code, so scripts can tell a rejected token (1) from a usage
//! error (2, clap's), a configuration problem (3) and an I/O failure (4).

use std::fmt;
use std::process::ExitCode;

/// Success: the token verified, the file was written, the output was printed.
pub const OK: u8 = 0;
/// The token (or revocation list) is invalid, was rejected, or is revoked; a batch had an invalid token.
pub const INVALID: u8 = 1;
/// Usage error: unknown option, missing argument, malformed option value (clap's code).
pub const USAGE: u8 = 2;
/// Configuration error: unreadable or unusable certificate, key, CA or revocation list, an option
/// value the operation refuses, or `pki-setup` refusing to overwrite files.
pub const CONFIG: u8 = 3;
/// I/O error: reading the input or writing the output failed.
pub const IO: u8 = 4;

/// The exit-code table shown at the end of `kstoken --help`.
pub const HELP: &str = "\
Exit codes:
  0  success (token valid, not revoked, files written)
  1  token invalid, rejected or revoked (one line on stderr says why, or which pipeline step);
     any invalid token in a --batch; a list given to `revocation verify` that does not verify
  2  usage error (unknown option, missing or malformed argument)
  3  configuration error: unreadable or unusable certificate, key, CA, client certificate, or
     revocation list used to check a token; a refused option value (key size, subject, md5
     digest); pki-setup would overwrite files without --force
  4  I/O error (cannot read the input or write the output)";

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
