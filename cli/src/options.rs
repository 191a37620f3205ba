//! clap value parsers shared by subcommands: times and hash algorithm lists, by the core's rules.

use kstoken::timestamp::unix_time;
use kstoken::{HashAlgorithm, HashAlgorithms};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::exit::Failure;

/// clap parser for a time: Unix seconds (`1893456000`) or RFC 3339 (`2030-01-01T00:00:00Z`), in
/// the range every kstoken clock takes (the years 1 to 9999).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let seconds = match s.trim().parse::<i64>() {
        Ok(seconds) => seconds,
        Err(_) => OffsetDateTime::parse(s.trim(), &Rfc3339)
            .map(OffsetDateTime::unix_timestamp)
            .map_err(|e| {
                format!("expected Unix seconds or an RFC 3339 time like 2030-01-01T00:00:00Z ({e})")
            })?,
    };
    unix_time(seconds).map_err(|e| e.detail().to_owned())?;
    Ok(seconds)
}

/// clap parser for a hash algorithm name (`md5`, `sha1`, `sha224`, `sha256`, `sha384`, `sha512`).
pub fn parse_algorithm(s: &str) -> Result<HashAlgorithm, String> {
    s.parse::<HashAlgorithm>()
        .map_err(|e| e.detail().to_owned())
}

/// clap parser for a comma-separated list of hash algorithm names (`md5,sha256`).
pub fn parse_algorithms(s: &str) -> Result<HashAlgorithms, String> {
    s.parse::<HashAlgorithms>()
        .map_err(|e| e.detail().to_owned())
}

/// The algorithms of repeated list options, in order, each once.
pub fn merge_algorithms(lists: &[HashAlgorithms]) -> Result<HashAlgorithms, Failure> {
    HashAlgorithms::new(lists.iter().flat_map(|l| l.iter().copied()))
        .map_err(|e| Failure::usage(e.detail().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1893456000"), Ok(1_893_456_000));
        assert_eq!(parse_time("2030-01-01T00:00:00Z"), Ok(1_893_456_000));
        assert_eq!(parse_time("2030-01-01T01:00:00+01:00"), Ok(1_893_456_000));
        assert!(parse_time("tomorrow").is_err());
        assert!(parse_time("253402300800").is_err());
        assert!(parse_time("-9223372036854775808").is_err());
    }
}
