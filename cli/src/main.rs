//! The `kstoken` command: keystone PKI setup, token signing, verification, inspection and hashing.

mod docs;
mod exit;
mod hash;
mod input;
mod inspect;
mod options;
mod output;
mod pki_setup;
mod revocation;
mod sign;
mod stdio;
mod sync;
mod verify;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Sign, verify and inspect OpenStack Keystone PKI and PKIZ tokens (compatible with `openssl cms`).
#[derive(Debug, Parser)]
#[command(name = "kstoken", version, after_help = exit::help(), propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a CA and a token signing certificate in keystone-manage pki_setup's layout.
    PkiSetup(pki_setup::PkiSetupArgs),
    /// Sign a token body (stdin or --in) into a PKI token, PKIZ token or CMS PEM.
    Sign(sign::SignArgs),
    /// Verify a token (or a --batch file of tokens) and print the signed body.
    Verify(verify::VerifyArgs),
    /// Decode a token WITHOUT verifying it: algorithms, signer, hashes, expiry, bind, body.
    Inspect(inspect::InspectArgs),
    /// Print a token's id hashes (keystoneclient's cms_hash_token).
    Hash(hash::HashArgs),
    /// Sign, verify and check keystone's signed token revocation lists.
    Revocation(revocation::RevocationArgs),
    /// Keep a signing directory fresh from keystone: certificates and the signed revocation list.
    Sync(sync::SyncArgs),
    /// Write the man pages and shell completions into DIR (`make man`).
    #[command(hide = true)]
    GenerateDocs(docs::GenerateDocsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::PkiSetup(args) => pki_setup::run(args),
        Command::Sign(args) => sign::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Hash(args) => hash::run(args),
        Command::Revocation(args) => revocation::run(args),
        Command::Sync(args) => sync::run(args),
        Command::GenerateDocs(args) => docs::run(args, Cli::command()),
    };
    match outcome {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            if let Some(message) = &failure.message {
                stdio::print_error(&format!("kstoken: {message}\n"));
            }
            failure.exit_code()
        }
    }
}
