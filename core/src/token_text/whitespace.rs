//! The whitespace rule: what surrounds a token and is not part of it
//! (`docs/reference-behaviour.md#whitespace`).

/// Whether `b` is whitespace that may surround a token: ASCII space, tab, CR or LF.
fn is_token_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The token without surrounding ASCII space, tab, CR and LF: the whitespace rule of every entry
/// point that takes a token (verify, validate, hash, detect, decode).
///
/// HTTP servers strip the whitespace around a header value before the middleware sees it, so a
/// padded token reaches keystonemiddleware as the bare token. Ignoring it everywhere makes the hash
/// of a padded revoked token equal to its revocation entry instead of a new, unlisted value.
pub fn trim_token(token: &[u8]) -> &[u8] {
    let start = token
        .iter()
        .position(|b| !is_token_space(*b))
        .unwrap_or(token.len());
    let end = token
        .iter()
        .rposition(|b| !is_token_space(*b))
        .map_or(start, |i| i + 1);
    token.get(start..end).unwrap_or_default()
}

/// [`trim_token`] for text.
pub fn trim_token_str(token: &str) -> &str {
    token.trim_matches(|c: char| u8::try_from(c).is_ok_and(is_token_space))
}
