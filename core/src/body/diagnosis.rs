//! Naming what is wrong in a token body the view refused.
//!
//! The view ([`crate::body::view::TokenView::decode`]) reads a body in one typed `serde` pass that
//! keeps no path, so a type error says only where in the text it is. A refused body is read again
//! by the same types through `serde_path_to_error`, which tracks the field being read, and the
//! refusal names it (`token.roles[0].name`). Bodies keystone signed are not refused, so only a
//! refusal pays for the second read.

use serde::Deserialize;
use serde_json::error::Category;

use crate::error::Error;

/// A v2 body whose `access.token` is not an object.
pub(crate) const NO_V2_TOKEN: &str = "v2 token body: access.token is missing or not an object";
/// A v3 body whose `token` is not an object.
pub(crate) const NO_V3_TOKEN: &str = "v3 token body: token is not an object";

/// The refusal of `text`, which the typed read `T` refused with `error`, naming the path of the
/// field at fault.
pub(crate) fn diagnose<'de, T: Deserialize<'de>>(
    text: &'de str,
    error: serde_json::Error,
) -> Error {
    if matches!(
        error.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return Error::malformed(format!("token body is not JSON: {error}"));
    }
    let mut reader = serde_json::Deserializer::from_str(text);
    let Err(traced) = serde_path_to_error::deserialize::<_, T>(&mut reader) else {
        return Error::malformed(format!("token body: {error}"));
    };
    let path = traced.path().to_string();
    let inner = traced.into_inner();
    match path.as_str() {
        "." if inner.to_string().starts_with("invalid type") => {
            Error::malformed(format!("token body is not a JSON object ({inner})"))
        }
        "." => Error::malformed(format!("token body: {inner}")),
        "access" => Error::malformed(format!("{NO_V2_TOKEN} (access: {inner})")),
        "token" => Error::malformed(format!("{NO_V3_TOKEN} ({inner})")),
        _ => Error::malformed(format!("token body: {path}: {inner}")),
    }
}
