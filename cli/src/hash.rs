//! `kstoken hash`: token-id hashes with keystoneclient's `cms_hash_token` semantics.

use clap::Args;
use kstoken::token_text::hash_token;
use kstoken::HashAlgorithms;

use crate::exit::{Failure, Outcome};
use crate::input::token_text;
use crate::options::{merge_algorithms, parse_algorithms};
use crate::output::print_line;

/// Arguments of `kstoken hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// Hash algorithms, comma-separated or repeated; one output line each, in this order.
    #[arg(
        long,
        short = 'a',
        value_name = "ALG[,ALG...]",
        default_value = "md5",
        value_parser = parse_algorithms
    )]
    pub algorithm: Vec<HashAlgorithms>,
    /// The token; read from standard input when absent or `-`.
    pub token: Option<String>,
    /// Read the token from FILE instead of standard input.
    #[arg(long = "in", value_name = "FILE", conflicts_with = "token")]
    pub input: Option<std::path::PathBuf>,
}

/// Runs `kstoken hash`.
pub fn run(args: &HashArgs) -> Outcome {
    let token = token_text(args.token.as_deref(), args.input.as_deref())?;
    for algorithm in merge_algorithms(&args.algorithm)?.iter() {
        // cms_hash_token returns a token that is neither PKI nor PKIZ unchanged.
        let line = hash_token(&token, *algorithm)
            .map_err(|e| Failure::from_token_error(&e))?
            .unwrap_or_else(|| token.clone());
        print_line(&line)?;
    }
    Ok(())
}
