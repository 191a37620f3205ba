//! `kstoken hash`: token-id hashes with keystoneclient's `cms_hash_token` semantics.

use clap::Args;
use kstoken::hash::hash_token;
use kstoken::HashAlgorithm;

use crate::exit::Outcome;
use crate::input::{parse_algorithm, print_line, token_text};

/// Arguments of `kstoken hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// Hash algorithms, comma-separated or repeated; one output line each, in this order.
    #[arg(
        long,
        short = 'a',
        value_name = "ALG[,ALG...]",
        value_delimiter = ',',
        default_value = "md5",
        value_parser = parse_algorithm
    )]
    pub algorithm: Vec<HashAlgorithm>,
    /// The token; read from standard input when absent or `-`.
    pub token: Option<String>,
}

/// Runs `kstoken hash`.
pub fn run(args: &HashArgs) -> Outcome {
    let token = token_text(args.token.as_deref())?;
    for algorithm in &args.algorithm {
        // cms_hash_token returns a token that is neither PKI nor PKIZ unchanged.
        let line = hash_token(&token, *algorithm).unwrap_or_else(|| token.clone());
        print_line(&line)?;
    }
    Ok(())
}
