//! Token bind sections (`docs/reference-behaviour.md#token-bind`): adding `kerberos` and `x509`
//! binds, reading them back, and the `enforce_token_bind` check of keystone and keystonemiddleware.
//!
//! Keystone only ever implemented `kerberos`. The `x509` bind is this crate's extension; its shape,
//! kept stable, is `{"x509": {"sha256": "<lowercase hex SHA-256 of the certificate's DER>"}}`.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use der::Decode as _;
use serde_json::{Map, Value};
use x509_cert::Certificate;

use crate::algorithm::HashAlgorithm;
use crate::body::version::TokenVersion;
use crate::cms::crypto::digest;
use crate::error::{Error, Result};
use crate::json::parse_json;
use crate::limits::Limits;
use crate::token_text::pem::{decode_single, OutsideText, CERTIFICATE_LABEL};

const KERBEROS: &str = "kerberos";
const X509: &str = "x509";
const X509_SHA256: &str = "sha256";

/// Adds `{"kerberos": principal}` to the token's bind section, creating it if needed.
///
/// Works on a v2 (`access.token.bind`) or v3 (`token.bind`) body; other bind entries are kept and an
/// existing `kerberos` entry is replaced. An empty principal is refused: keystone binds the
/// `REMOTE_USER` of a Negotiate login, which is never empty.
pub fn add_kerberos_bind(body: &mut Value, principal: &str) -> Result<()> {
    if principal.is_empty() {
        return Err(Error::InvalidArgument(
            "kerberos bind principal is empty".to_owned(),
        ));
    }
    bind_mut(body)?.insert(KERBEROS.to_owned(), Value::String(principal.to_owned()));
    Ok(())
}

/// Adds `{"x509": {"sha256": <fingerprint>}}` for a PEM or DER client certificate to the bind section.
///
/// Same placement rules as [`add_kerberos_bind`]; an unparsable certificate is
/// [`Error::InvalidArgument`].
pub fn add_x509_bind(body: &mut Value, client_cert: &[u8]) -> Result<()> {
    let fingerprint = x509_fingerprint(client_cert)?;
    let mut entry = Map::new();
    entry.insert(X509_SHA256.to_owned(), Value::String(fingerprint));
    bind_mut(body)?.insert(X509.to_owned(), Value::Object(entry));
    Ok(())
}

/// The lowercase hex SHA-256 of a certificate's DER encoding, given the certificate as PEM or DER.
///
/// PEM input must hold exactly one `CERTIFICATE` block (text around it is ignored); the DER must
/// parse as an X.509 certificate with nothing after it.
pub fn x509_fingerprint(cert: &[u8]) -> Result<String> {
    let der = certificate_der(cert)?;
    Certificate::from_der(&der).map_err(|e| {
        Error::InvalidArgument(format!("client certificate is not valid DER X.509: {e}"))
    })?;
    Ok(hex::encode(digest(HashAlgorithm::Sha256, &der)?))
}

/// The bind section of a v2 or v3 token body, if it is a JSON object.
///
/// The token object is found as [`crate::body::model::parse`] finds it: `access.token` (v2) or `token`
/// (v3), and a body with both is refused (`None`), because keystoneauth and keystonemiddleware
/// would read different sections from it. A bind that is present but not an object reads as
/// `None` here; [`crate::body::model::parse`] refuses such bodies, so enforce on a parsed
/// [`crate::body::model::TokenBody`] when the body is untrusted.
pub fn bind_of(body: &Value) -> Option<&Map<String, Value>> {
    let (_, token) = token_object(body).ok()?;
    token.get("bind")?.as_object()
}

/// A bind section given as JSON text (`{"kerberos": "alice@REALM"}`), parsed under `limits`: the
/// form the bindings take it in (`kst_check_bind`, Python's `check_bind`).
///
/// JSON `null` means no bind section (`None`). The JSON size and depth limits are checked first;
/// text that is not JSON, or JSON that is neither an object nor `null`, is [`Error::Malformed`].
pub fn parse_section(json: &[u8], limits: &Limits) -> Result<Option<Map<String, Value>>> {
    match parse_json(json, limits)? {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        _ => Err(Error::malformed("bind section is not a JSON object")),
    }
}

fn bind_mut(body: &mut Value) -> Result<&mut Map<String, Value>> {
    let token = token_object_mut(body).map_err(Error::InvalidArgument)?;
    let bind = token
        .entry("bind")
        .or_insert_with(|| Value::Object(Map::new()));
    if bind.is_null() {
        *bind = Value::Object(Map::new());
    }
    bind.as_object_mut()
        .ok_or_else(|| Error::InvalidArgument("token body's bind is not a JSON object".to_owned()))
}

/// Finds the token object of a v2 (`access.token`) or v3 (`token`) document.
///
/// A document with both top-level keys is refused: keystoneauth reads it as v3 while
/// keystonemiddleware reads its audit ids as v2, so no single reading is the reference's.
fn token_object(doc: &Value) -> std::result::Result<(TokenVersion, &Map<String, Value>), String> {
    let top = doc
        .as_object()
        .ok_or_else(|| "token body is not a JSON object".to_owned())?;
    match (top.get("access"), top.get("token")) {
        (Some(_), Some(_)) => Err("token body has both access (v2) and token (v3) keys".to_owned()),
        (Some(access), None) => access
            .get("token")
            .and_then(Value::as_object)
            .map(|t| (TokenVersion::V2, t))
            .ok_or_else(|| "v2 token body: access.token is missing or not an object".to_owned()),
        (None, Some(token)) => token
            .as_object()
            .map(|t| (TokenVersion::V3, t))
            .ok_or_else(|| "v3 token body: token is not an object".to_owned()),
        (None, None) => Err("token body is neither v2 (access.token) nor v3 (token)".to_owned()),
    }
}

/// Mutable twin of [`token_object`], with the same acceptance rules.
fn token_object_mut(doc: &mut Value) -> std::result::Result<&mut Map<String, Value>, String> {
    token_object(doc)?;
    let top = doc
        .as_object_mut()
        .ok_or_else(|| "token body is not a JSON object".to_owned())?;
    let token = if top.contains_key("access") {
        top.get_mut("access")
            .and_then(|access| access.get_mut("token"))
    } else {
        top.get_mut("token")
    };
    token
        .and_then(Value::as_object_mut)
        .ok_or_else(|| "token body is neither v2 (access.token) nor v3 (token)".to_owned())
}

/// The DER bytes of a PEM (exactly one `CERTIFICATE` block, other text around it skipped) or DER
/// certificate.
fn certificate_der(cert: &[u8]) -> Result<Vec<u8>> {
    if memchr::memmem::find(cert, b"-----BEGIN").is_none() {
        return Ok(cert.to_vec());
    }
    // A chain would leave it ambiguous which certificate the token is bound to: one block only.
    decode_single(cert, &[CERTIFICATE_LABEL], OutsideText::Ignored)
        .map_err(|e| Error::InvalidArgument(format!("client certificate PEM: {}", e.detail())))
}

/// The `enforce_token_bind` setting, parsed exactly (case-sensitively) as keystone does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum BindMode {
    /// `disabled`: never check binds.
    Disabled,
    /// `permissive` (the default): check known bind types, ignore unknown ones, allow unbound tokens.
    #[default]
    Permissive,
    /// `strict`: allow unbound tokens, but every bind entry must be known and match.
    Strict,
    /// `required`: the token must be bound, and every bind entry must be known and match.
    Required,
    /// Any other string (including `Permissive` or the empty string): the token must carry a bind
    /// of that name, and every bind entry must be known and match.
    Named(String),
}

impl BindMode {
    /// Maps a configured value to its mode; any unrecognised string is a named mode.
    pub fn parse(value: &str) -> Self {
        match value {
            "disabled" => BindMode::Disabled,
            "permissive" => BindMode::Permissive,
            "strict" => BindMode::Strict,
            "required" => BindMode::Required,
            other => BindMode::Named(other.to_owned()),
        }
    }

    /// Maps a configured value to its mode, refusing what cannot work: a named mode other than the
    /// bind types kstoken checks (`kerberos`, `x509`) refuses every token (keystonemiddleware
    /// rejects an unknown bind type outside permissive mode), and a misspelt mode (`Strict`, ``)
    /// is such a name. The error says what is accepted.
    pub fn parse_configured(value: &str) -> Result<Self> {
        match BindMode::parse(value) {
            BindMode::Named(name) if name != KERBEROS && name != X509 => {
                Err(Error::InvalidArgument(format!(
                    "unknown bind mode {name:?}: expected disabled, permissive, strict, required, \
                     or the bind type every token must carry ({KERBEROS}, {X509})"
                )))
            }
            mode => Ok(mode),
        }
    }

    /// The configuration string this mode was parsed from.
    pub fn as_str(&self) -> &str {
        match self {
            BindMode::Disabled => "disabled",
            BindMode::Permissive => "permissive",
            BindMode::Strict => "strict",
            BindMode::Required => "required",
            BindMode::Named(name) => name,
        }
    }
}

impl FromStr for BindMode {
    type Err = Infallible;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(BindMode::parse(s))
    }
}

impl fmt::Display for BindMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the web server authenticated the request with (the WSGI environ of the reference).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthContext<'a> {
    /// `AUTH_TYPE`, e.g. `Negotiate` after Kerberos/SPNEGO; compared case-insensitively.
    pub auth_type: Option<&'a str>,
    /// `REMOTE_USER`, the authenticated principal; compared exactly.
    pub remote_user: Option<&'a str>,
    /// The TLS client certificate (e.g. `SSL_CLIENT_CERT`), PEM or DER.
    pub client_cert: Option<&'a [u8]>,
}

/// Why [`enforce`] rejected a token; every variant means HTTP 401 in the reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum BindRejection {
    /// The mode requires a bound token and the token has no (or an empty) bind section.
    #[error("token is not bound but the bind mode requires it")]
    MissingBind,
    /// A named mode's bind type is absent from the token's bind section.
    #[error("token is not bound with the required bind type {0:?}")]
    ModeNotInBind(String),
    /// A `kerberos` bind did not match `AUTH_TYPE`/`REMOTE_USER`.
    #[error("kerberos bind does not match the authenticated user")]
    KerberosMismatch,
    /// An `x509` bind did not match the client certificate.
    #[error("x509 bind does not match the client certificate")]
    X509Mismatch,
    /// A bind type this mode cannot check (everything but `kerberos` and `x509` outside `permissive`).
    #[error("unsupported bind type {0:?}")]
    UnsupportedBindType(String),
}

impl BindRejection {
    /// The stable snake_case name of the reason (`missing_bind`, `mode_not_in_bind`,
    /// `kerberos_mismatch`, `x509_mismatch`, `unsupported_bind_type`).
    pub fn as_str(&self) -> &'static str {
        match self {
            BindRejection::MissingBind => "missing_bind",
            BindRejection::ModeNotInBind(_) => "mode_not_in_bind",
            BindRejection::KerberosMismatch => "kerberos_mismatch",
            BindRejection::X509Mismatch => "x509_mismatch",
            BindRejection::UnsupportedBindType(_) => "unsupported_bind_type",
        }
    }

    /// The stable number, the C ABI's `KST_BIND_REJECTED` (303) for every reason.
    pub fn code(&self) -> u32 {
        303
    }
}

/// Checks a token's bind section against the mode and the request's authentication
/// (`docs/reference-behaviour.md#bind-enforcement`).
///
/// The algorithm is keystone's `validate_token_bind` step for step:
/// `disabled` accepts; an empty or missing bind is accepted only by `permissive` and `strict`; a
/// named mode (any other string; the empty string, being falsy in Python, skips this check) needs a
/// bind entry of that name; then every entry must pass: `kerberos` needs `auth_type` equal to
/// `negotiate` after lower-casing and `remote_user` equal to the identifier (a JSON string);
/// unknown types are ignored by `permissive` and rejected by every other mode.
///
/// Extension: an `x509` entry `{"sha256": hex}` is a known type that passes iff the client
/// certificate's DER SHA-256, as lowercase hex, equals `hex` exactly (an upper-case value never
/// matches). Relative to the reference's decision table this adds a column "x509 bind, certificate matches"
/// that `disabled`, `permissive`, `strict`, `required` and the named mode `x509` accept (the `x509`
/// row used to reject everything), while a non-matching certificate is rejected by every mode but
/// `disabled`, as a kerberos mismatch is. Tables without an `x509` entry decide as before.
pub fn enforce(
    mode: &BindMode,
    bind: Option<&Map<String, Value>>,
    ctx: &AuthContext<'_>,
) -> std::result::Result<(), BindRejection> {
    if *mode == BindMode::Disabled {
        return Ok(());
    }
    let permissive = matches!(mode, BindMode::Permissive | BindMode::Strict);
    let Some(bind) = bind.filter(|b| !b.is_empty()) else {
        return if permissive {
            Ok(())
        } else {
            Err(BindRejection::MissingBind)
        };
    };
    if let BindMode::Named(name) = mode {
        if !name.is_empty() && !bind.contains_key(name) {
            return Err(BindRejection::ModeNotInBind(name.clone()));
        }
    }
    for (bind_type, identifier) in bind {
        match bind_type.as_str() {
            KERBEROS => {
                let negotiate = ctx
                    .auth_type
                    .is_some_and(|t| t.to_lowercase() == "negotiate");
                let same_user = matches!((ctx.remote_user, identifier.as_str()), (Some(user), Some(id)) if user == id);
                if !negotiate || !same_user {
                    return Err(BindRejection::KerberosMismatch);
                }
            }
            X509 => {
                let expected = identifier.get(X509_SHA256).and_then(Value::as_str);
                let matched = match (expected, ctx.client_cert) {
                    (Some(expected), Some(cert)) => {
                        x509_fingerprint(cert).is_ok_and(|fp| fp == expected)
                    }
                    _ => false,
                };
                if !matched {
                    return Err(BindRejection::X509Mismatch);
                }
            }
            _ if *mode == BindMode::Permissive => {}
            _ => return Err(BindRejection::UnsupportedBindType(bind_type.clone())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
