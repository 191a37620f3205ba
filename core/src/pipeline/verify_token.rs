//! One token checked without a middleware policy (the CLI's `verify`): form, signature and, for a
//! token body, expiry, refused in the pipeline's vocabulary.

use crate::body;
use crate::limits::Limits;
use crate::pipeline::rejection::{Rejection, ValidateError};
use crate::timestamp::unix_time;
use crate::token_text::{detect_with, encoding, trim_token, DetectionRule, Encoding, TokenForm};
use crate::verifier::Verifier;

/// Whether verified content claims to be a token body: a JSON object with a v3 `token` or a v2
/// `access` member (the shapes [`body::parse`] reads).
fn is_token_body(content: &[u8], limits: &Limits) -> bool {
    matches!(
        crate::json::parse_json(content, limits),
        Ok(serde_json::Value::Object(map)) if map.contains_key("token") || map.contains_key("access")
    )
}

/// Whether [`verify_token`] checks the token's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// An expired token is rejected at the expiry step (the default: what a service would do).
    #[default]
    Check,
    /// The expiry is not looked at (the signature of an old token, for an investigation).
    Ignore,
}

/// One token checked without a middleware policy (the CLI's `verify`): the text must be a PKI or
/// PKIZ token or CMS PEM (PKI text by the lenient rule, as [`crate::token_text::decode`] reads
/// it), its signature and chain must verify at `at`, and, with [`Expiry::Check`], a token body (a
/// JSON object with a `token` or `access` member) must be readable and not have expired at `at`.
/// Other signed content (anything `sign` signed that is no token body) has no expiry to check.
/// Refusals are the pipeline's [`Rejection`]s, at the same steps and in the same words as
/// [`crate::pipeline::validate`]'s; the verified content is returned.
pub fn verify_token(
    token: &[u8],
    verifier: &Verifier,
    at: i64,
    expiry: Expiry,
) -> Result<Vec<u8>, ValidateError> {
    let instant = unix_time(at).map_err(ValidateError::InvalidArgument)?;
    let text = trim_token(token);
    if !text.is_empty()
        && encoding(text) == Encoding::Pki
        && detect_with(text, DetectionRule::Lenient) == TokenForm::Other
    {
        return Err(Rejection::NotPki.into());
    }
    let content = verifier
        .verify_at(token, at)
        .map_err(Rejection::Verification)?;
    if expiry == Expiry::Check && is_token_body(&content, verifier.limits()) {
        let body = body::parse(&content, verifier.limits()).map_err(Rejection::Body)?;
        if body.is_expired(instant) {
            return Err(Rejection::Expired.into());
        }
    }
    Ok(content)
}
