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
use crate::body::model::{token_object, token_object_mut};
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
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::body::model::{parse, TokenBody};
    use base64::Engine as _;
    use serde_json::json;

    // Generated once with `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=client-a -days 3650`;
    // the fingerprints are `openssl x509 -outform DER | sha256sum`.
    const CERT_A: &str = "-----BEGIN CERTIFICATE-----
MIIDBzCCAe+gAwIBAgIUdrqver7zjkyl9bELPCWmubnK2GcwDQYJKoZIhvcNAQEL
BQAwEzERMA8GA1UEAwwIY2xpZW50LWEwHhcNMjYxMTI0MDIwMDM2WhcNMzYxMTIx
MDIwMDM2WjATMREwDwYDVQQDDAhjbGllbnQtYTCCASIwDQYJKoZIhvcNAQEBBQAD
ggEPADCCAQoCggEBAJcnCcWTwapmwSWwtq1NB4jd/oKyabObWHzoTS4TuLmSVpzs
8CywauwJOtkvhi9HiLU9VQa8sp/99vfyu/0IQhV1jNK0XWwv2oTxqU08FTn2C8Vm
zTt3b0/1IPiRnGcqGAjVnxpKgqNQnQKoX2msH51vp8O3yii0IdFu1HUmfJ3LcfiF
Jrq0etbF2SOK0LPqMH41GMY/yhttPU7xbiLsLtAvBuwz5g08C10cMrxp9YQ0hJjN
GQSni2GgC7qxH0XV2Y8Cu667AU/2OHGPG+Px6CEwL5LpQZEpl2s35mmmWmte43fA
6V3omLaRcPyYXFcVYgk9Jwh640Jyxs55Udq0PrMCAwEAAaNTMFEwHQYDVR0OBBYE
FJb59m45YZG6CXvt9dUHqU/pUdFbMB8GA1UdIwQYMBaAFJb59m45YZG6CXvt9dUH
qU/pUdFbMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBAHxZfe2/
aJWpYIcytznGWR4LGsf+ytGdIqiWrRSKFFJ3UVM5gUPxf7iRjLqtUPKahbzXKfNp
scTCM7NDpu76ycvTCOgsxQbhjbkg8lMBH5XlMW9zr8wmnsluZHIa1en5WYXapK0N
L10EjgrsyIh0BDPFPfyiUgJdZSg8/PxOLTgzn0T+ood/WnSkJcHfyUDk1RBlCr/A
526OAIcMROuqtdQTuvPmDFz1PfWoMoL9sni7OlkhSn96G+ODPM248mMgPDiQ58Cy
iXC++vDwzNqvlXrHtyG7yalukyRPYvGgUbbT1aLkwWAWKptAGoR1hp3Jugg2Yq8z
2GR2WMkA+DB7STs=
-----END CERTIFICATE-----
";
    const CERT_A_SHA256: &str = "c273bc762bc38ed953a350c75c48df4c917329517f38a61ba613ea421f30db78";

    const CERT_B: &str = "-----BEGIN CERTIFICATE-----
MIIDBzCCAe+gAwIBAgIUDGg+GvK/JpcQOKJBce5cL3hon2IwDQYJKoZIhvcNAQEL
BQAwEzERMA8GA1UEAwwIY2xpZW50LWIwHhcNMjYxMTI0MDIwMDM2WhcNMzYxMTIx
MDIwMDM2WjATMREwDwYDVQQDDAhjbGllbnQtYjCCASIwDQYJKoZIhvcNAQEBBQAD
ggEPADCCAQoCggEBAMrqsLbaARMJ+h4QbwZz4UxtRSune1IZ6Ch5PNM/9358OgfG
qY2ETgP1XrktgykRAqmdMRh/N7IBKx5/BIZoWlMXQaOjajxVxQD/6OqUCutXC2YB
KG3PpvTGaNs9QmAkS3yX66ZaOJt5OxvH9kiEtGu5/+o/iIhi8Qy6VrWhjU8AeCB1
qCSk2VWdAO0rI3juBbGkxN6g06yWTPwMjO1y4PkQz6OLNLu21S4N9b2ZVANkGv7u
P7s6DHHJg+DAcc/flHcX5ifteoAjzT8kZqcnR8lnFMwVdXVQ/DQVblUO/ybYm8NY
wQwC7gSOupkvnS0c1QoDePkL4OL7Zp4OSHVDORMCAwEAAaNTMFEwHQYDVR0OBBYE
FKMsvTTneM9FZ+3oR1QbOXlT6EUSMB8GA1UdIwQYMBaAFKMsvTTneM9FZ+3oR1Qb
OXlT6EUSMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBAJ0SuVyZ
R/6cD666d2+pyMWJOCgylF7W9RLSLI9lMUQa5uwSlH1GCxWkosQdCRCM6SXP/fQC
dS4nhvGBub5lPwtDxpbc/IlyI+J+l3ggsP8uN1qZVcBm5cOh1Y60JB68jo+8W6Ns
jfdkmLLhYhRHXzp2aewAufWJnQLVsTK20ChxBgg4eIGADvzPQ623/kbt5DXi2NoK
QRfabqm7E0MEO7eesnfGgJFpLYOrx90DbuS5xZQhj3gkSDZST6/pFhSFLgA9qY0h
vA6gPt1N0h9UcvQ/QAe70p+bHZZ0qk3f2K/wMBXBYWbIGSKAnjZeKrPWa4oz4aVk
WC3kI1qhvbJnPRY=
-----END CERTIFICATE-----
";
    const CERT_B_SHA256: &str = "f216b058b9a9c06af231c3f6e2ea53e762a2a5f9f2243ef77434291dd6536874";

    /// DER of a PEM constant, decoded independently of [`certificate_der`].
    fn der_of(pem: &str) -> Vec<u8> {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }

    const P: &str = "USER@REALM";

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn krb_ok() -> AuthContext<'static> {
        AuthContext {
            auth_type: Some("Negotiate"),
            remote_user: Some(P),
            client_cert: None,
        }
    }

    fn krb_not_ok() -> AuthContext<'static> {
        AuthContext {
            auth_type: Some("Negotiate"),
            remote_user: Some("OTHER@REALM"),
            client_cert: None,
        }
    }

    // The table's modes; `x509` stands for "any other name" in the original table.
    fn modes() -> [BindMode; 7] {
        [
            BindMode::Disabled,
            BindMode::Permissive,
            BindMode::Strict,
            BindMode::Required,
            BindMode::Named("kerberos".into()),
            BindMode::Named("x509".into()),
            BindMode::Named("FOO".into()),
        ]
    }

    use BindRejection::*;
    type Outcome = std::result::Result<(), BindRejection>;
    const OK: Outcome = Ok(());

    fn named(name: &str) -> Outcome {
        Err(ModeNotInBind(name.into()))
    }

    #[test]
    fn mode_parsing_is_exact() {
        assert_eq!(BindMode::parse("disabled"), BindMode::Disabled);
        assert_eq!(BindMode::parse("permissive"), BindMode::Permissive);
        assert_eq!(BindMode::parse("strict"), BindMode::Strict);
        assert_eq!(BindMode::parse("required"), BindMode::Required);
        assert_eq!(
            BindMode::parse("kerberos"),
            BindMode::Named("kerberos".into())
        );
        assert_eq!(
            BindMode::parse("Permissive"),
            BindMode::Named("Permissive".into())
        );
        assert_eq!(
            BindMode::parse(" strict"),
            BindMode::Named(" strict".into())
        );
        assert_eq!(BindMode::parse(""), BindMode::Named(String::new()));
        assert_eq!(
            "STRICT".parse::<BindMode>().unwrap(),
            BindMode::Named("STRICT".into())
        );
        assert_eq!(BindMode::default(), BindMode::Permissive);
        for s in [
            "disabled",
            "permissive",
            "strict",
            "required",
            "x509",
            "Permissive",
            "",
        ] {
            assert_eq!(BindMode::parse(s).as_str(), s);
            assert_eq!(BindMode::parse(s).to_string(), s);
        }
    }

    /// The reference's decision table, one row per mode: [none/{}, K krb ok, K krb not ok, FOO only, K + FOO krb ok].
    #[test]
    fn decision_table() {
        let k = map(json!({"kerberos": P}));
        let foo = map(json!({"FOO": "BAR"}));
        let k_foo = map(json!({"kerberos": P, "FOO": "BAR"}));
        let empty = Map::new();
        let unsupported = || -> Outcome { Err(UnsupportedBindType("FOO".into())) };
        let expected: [[Outcome; 5]; 7] = [
            [OK, OK, OK, OK, OK],
            [OK, OK, Err(KerberosMismatch), OK, OK],
            [OK, OK, Err(KerberosMismatch), unsupported(), unsupported()],
            [
                Err(MissingBind),
                OK,
                Err(KerberosMismatch),
                unsupported(),
                unsupported(),
            ],
            [
                Err(MissingBind),
                OK,
                Err(KerberosMismatch),
                named("kerberos"),
                unsupported(),
            ],
            [
                Err(MissingBind),
                named("x509"),
                named("x509"),
                named("x509"),
                named("x509"),
            ],
            // A named mode equal to an unknown type passes the presence check and fails in the loop.
            [
                Err(MissingBind),
                named("FOO"),
                named("FOO"),
                unsupported(),
                unsupported(),
            ],
        ];
        for (mode, row) in modes().iter().zip(expected) {
            let [none, k_ok, k_not_ok, foo_only, k_foo_ok] = row;
            assert_eq!(enforce(mode, None, &krb_ok()), none, "{mode}: none");
            assert_eq!(enforce(mode, Some(&empty), &krb_ok()), none, "{mode}: {{}}");
            assert_eq!(enforce(mode, Some(&k), &krb_ok()), k_ok, "{mode}: K krb ok");
            assert_eq!(
                enforce(mode, Some(&k), &krb_not_ok()),
                k_not_ok,
                "{mode}: K krb not ok"
            );
            assert_eq!(
                enforce(mode, Some(&foo), &krb_ok()),
                foo_only,
                "{mode}: FOO"
            );
            assert_eq!(
                enforce(mode, Some(&k_foo), &krb_ok()),
                k_foo_ok,
                "{mode}: K + FOO"
            );
        }
    }

    #[test]
    fn capitalised_permissive_is_a_named_mode() {
        let mode = BindMode::parse("Permissive");
        let k = map(json!({"kerberos": P}));
        assert_eq!(enforce(&mode, None, &krb_ok()), Err(MissingBind));
        assert_eq!(enforce(&mode, Some(&k), &krb_ok()), named("Permissive"));
        assert_eq!(
            enforce(&mode, Some(&map(json!({"FOO": 1}))), &krb_ok()),
            named("Permissive")
        );
        assert_eq!(
            enforce(&mode, Some(&map(json!({"Permissive": 1}))), &krb_ok()),
            Err(UnsupportedBindType("Permissive".into()))
        );
    }

    #[test]
    fn empty_named_mode_acts_like_required() {
        // Python's `if name and name not in bind` skips the check for the empty string.
        let mode = BindMode::parse("");
        assert_eq!(enforce(&mode, None, &krb_ok()), Err(MissingBind));
        assert_eq!(
            enforce(&mode, Some(&map(json!({"kerberos": P}))), &krb_ok()),
            OK
        );
        assert_eq!(
            enforce(&mode, Some(&map(json!({"FOO": 1}))), &krb_ok()),
            Err(UnsupportedBindType("FOO".into()))
        );
    }

    #[test]
    fn kerberos_matching_details() {
        let k = map(json!({"kerberos": P}));
        let ctx = |auth_type, remote_user| AuthContext {
            auth_type,
            remote_user,
            client_cert: None,
        };
        for mode in [
            BindMode::Permissive,
            BindMode::Strict,
            BindMode::Required,
            BindMode::parse("kerberos"),
        ] {
            for auth in ["negotiate", "Negotiate", "NEGOTIATE", "nEgOtIaTe"] {
                assert_eq!(
                    enforce(&mode, Some(&k), &ctx(Some(auth), Some(P))),
                    OK,
                    "{mode} {auth}"
                );
            }
            let rejects = [
                ctx(None, Some(P)),
                ctx(Some("Basic"), Some(P)),
                ctx(Some(" negotiate"), Some(P)),
                ctx(Some("negotiate "), Some(P)),
                ctx(Some(""), Some(P)),
                ctx(Some("Negotiate"), None),
                ctx(Some("Negotiate"), Some("user@realm")),
                ctx(Some("Negotiate"), Some("USER@REALM ")),
                ctx(Some("Negotiate"), Some("USER")),
                ctx(Some("Negotiate"), Some("")),
            ];
            for c in rejects {
                assert_eq!(
                    enforce(&mode, Some(&k), &c),
                    Err(KerberosMismatch),
                    "{mode} {c:?}"
                );
            }
            // The identifier must be a JSON string.
            for id in [json!(null), json!(1), json!([P]), json!({"principal": P})] {
                let b = map(json!({"kerberos": id}));
                assert_eq!(
                    enforce(&mode, Some(&b), &krb_ok()),
                    Err(KerberosMismatch),
                    "{mode} {id}"
                );
            }
        }
        assert_eq!(enforce(&BindMode::Disabled, Some(&k), &ctx(None, None)), OK);
    }

    fn x509_bind(fp: &str) -> Map<String, Value> {
        map(json!({"x509": {"sha256": fp}}))
    }

    #[test]
    fn fingerprints_match_openssl() {
        assert_eq!(x509_fingerprint(CERT_A.as_bytes()).unwrap(), CERT_A_SHA256);
        assert_eq!(x509_fingerprint(&der_of(CERT_A)).unwrap(), CERT_A_SHA256);
        assert_eq!(x509_fingerprint(CERT_B.as_bytes()).unwrap(), CERT_B_SHA256);
        assert_eq!(x509_fingerprint(&der_of(CERT_B)).unwrap(), CERT_B_SHA256);
        let crlf = CERT_A.replace('\n', "\r\n");
        assert_eq!(x509_fingerprint(crlf.as_bytes()).unwrap(), CERT_A_SHA256);
        let with_text = format!("subject=CN = client-a\n\n{CERT_A}\ntrailing words\n");
        assert_eq!(
            x509_fingerprint(with_text.as_bytes()).unwrap(),
            CERT_A_SHA256
        );
    }

    #[test]
    fn bad_certificates_are_invalid_arguments() {
        let der = der_of(CERT_A);
        let mut trailing = der.clone();
        trailing.push(0);
        let two = format!("{CERT_A}{CERT_B}");
        let bad_b64 = CERT_A.replace("MIID", "MI*D");
        let no_end = CERT_A.replace("-----END CERTIFICATE-----", "");
        let key = CERT_A.replace("CERTIFICATE", "PRIVATE KEY");
        let inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"not a certificate".to_vec(),
            der[..der.len() - 1].to_vec(),
            trailing,
            two.into_bytes(),
            bad_b64.into_bytes(),
            no_end.into_bytes(),
            key.into_bytes(),
            b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".to_vec(),
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
            b"\xff-----BEGIN CERTIFICATE-----".to_vec(),
        ];
        for input in inputs {
            assert!(
                matches!(x509_fingerprint(&input), Err(Error::InvalidArgument(_))),
                "{:?}",
                String::from_utf8_lossy(&input)
            );
            let mut body = json!({"token": {}});
            assert!(matches!(
                add_x509_bind(&mut body, &input),
                Err(Error::InvalidArgument(_))
            ));
            assert_eq!(
                body,
                json!({"token": {}}),
                "a failed add leaves the body alone"
            );
        }
    }

    /// Our rows: [x509 ok (PEM), x509 ok (DER), other cert, no cert, K ok + x509 ok, K ok + other cert].
    #[test]
    fn x509_decision_rows() {
        let der_a = der_of(CERT_A);
        let x = x509_bind(CERT_A_SHA256);
        let kx = map(json!({"kerberos": P, "x509": {"sha256": CERT_A_SHA256}}));
        fn with_cert(cert: Option<&[u8]>) -> AuthContext<'_> {
            AuthContext {
                client_cert: cert,
                ..krb_ok()
            }
        }
        let pem = Some(CERT_A.as_bytes());
        let der = Some(der_a.as_slice());
        let other = Some(CERT_B.as_bytes());
        let expected: [[Outcome; 6]; 7] = [
            [OK, OK, OK, OK, OK, OK],
            [
                OK,
                OK,
                Err(X509Mismatch),
                Err(X509Mismatch),
                OK,
                Err(X509Mismatch),
            ],
            [
                OK,
                OK,
                Err(X509Mismatch),
                Err(X509Mismatch),
                OK,
                Err(X509Mismatch),
            ],
            [
                OK,
                OK,
                Err(X509Mismatch),
                Err(X509Mismatch),
                OK,
                Err(X509Mismatch),
            ],
            [
                named("kerberos"),
                named("kerberos"),
                named("kerberos"),
                named("kerberos"),
                OK,
                Err(X509Mismatch),
            ],
            [
                OK,
                OK,
                Err(X509Mismatch),
                Err(X509Mismatch),
                OK,
                Err(X509Mismatch),
            ],
            [
                named("FOO"),
                named("FOO"),
                named("FOO"),
                named("FOO"),
                named("FOO"),
                named("FOO"),
            ],
        ];
        for (mode, row) in modes().iter().zip(expected) {
            let [pem_ok, der_ok, other_cert, no_cert, k_x_ok, k_x_other] = row;
            assert_eq!(
                enforce(mode, Some(&x), &with_cert(pem)),
                pem_ok,
                "{mode}: PEM"
            );
            assert_eq!(
                enforce(mode, Some(&x), &with_cert(der)),
                der_ok,
                "{mode}: DER"
            );
            assert_eq!(
                enforce(mode, Some(&x), &with_cert(other)),
                other_cert,
                "{mode}: other"
            );
            assert_eq!(
                enforce(mode, Some(&x), &with_cert(None)),
                no_cert,
                "{mode}: none"
            );
            assert_eq!(
                enforce(mode, Some(&kx), &with_cert(pem)),
                k_x_ok,
                "{mode}: K + x509"
            );
            assert_eq!(
                enforce(mode, Some(&kx), &with_cert(other)),
                k_x_other,
                "{mode}: K + other"
            );
        }
        // A matching certificate does not excuse a kerberos mismatch, nor the reverse.
        let ctx = AuthContext {
            client_cert: pem,
            ..krb_not_ok()
        };
        assert_eq!(
            enforce(&BindMode::Strict, Some(&kx), &ctx),
            Err(KerberosMismatch)
        );
        // x509 + FOO: permissive ignores FOO, the named x509 mode does not.
        let xf = map(json!({"x509": {"sha256": CERT_A_SHA256}, "FOO": "BAR"}));
        assert_eq!(
            enforce(&BindMode::Permissive, Some(&xf), &with_cert(pem)),
            OK
        );
        assert_eq!(
            enforce(&BindMode::parse("x509"), Some(&xf), &with_cert(pem)),
            Err(UnsupportedBindType("FOO".into()))
        );
    }

    #[test]
    fn x509_identifier_must_be_exact() {
        let ctx = AuthContext {
            client_cert: Some(CERT_A.as_bytes()),
            ..AuthContext::default()
        };
        for mode in [
            BindMode::Permissive,
            BindMode::Required,
            BindMode::parse("x509"),
        ] {
            let bad = [
                json!({"x509": {"sha256": CERT_A_SHA256.to_uppercase()}}),
                json!({"x509": {"sha256": format!("{CERT_A_SHA256} ")}}),
                json!({"x509": {"sha256": &CERT_A_SHA256[..63]}}),
                json!({"x509": {"sha1": CERT_A_SHA256}}),
                json!({"x509": {}}),
                json!({"x509": CERT_A_SHA256}),
                json!({"x509": [CERT_A_SHA256]}),
                json!({"x509": null}),
            ];
            for b in bad {
                assert_eq!(
                    enforce(&mode, Some(&map(b.clone())), &ctx),
                    Err(X509Mismatch),
                    "{mode} {b}"
                );
            }
            // Extra keys next to sha256 are tolerated.
            let extra = map(json!({"x509": {"sha256": CERT_A_SHA256, "note": "x"}}));
            assert_eq!(enforce(&mode, Some(&extra), &ctx), OK);
            // An unparsable client certificate never matches.
            let garbage = AuthContext {
                client_cert: Some(b"garbage"),
                ..AuthContext::default()
            };
            assert_eq!(
                enforce(&mode, Some(&x509_bind(CERT_A_SHA256)), &garbage),
                Err(X509Mismatch)
            );
        }
    }

    #[test]
    fn add_binds_v2_and_v3() {
        let mut v2 = json!({"access": {"token": {"id": "placeholder"}, "user": {}}});
        add_kerberos_bind(&mut v2, P).unwrap();
        assert_eq!(v2["access"]["token"]["bind"], json!({"kerberos": P}));
        add_x509_bind(&mut v2, CERT_A.as_bytes()).unwrap();
        assert_eq!(
            v2["access"]["token"]["bind"],
            json!({"kerberos": P, "x509": {"sha256": CERT_A_SHA256}})
        );
        assert_eq!(bind_of(&v2), v2["access"]["token"]["bind"].as_object());

        let mut v3 = json!({"token": {"methods": ["external"], "bind": {"FOO": "BAR"}}});
        add_x509_bind(&mut v3, &der_of(CERT_B)).unwrap();
        add_kerberos_bind(&mut v3, "first@REALM").unwrap();
        add_kerberos_bind(&mut v3, P).unwrap();
        assert_eq!(
            v3["token"]["bind"],
            json!({"FOO": "BAR", "kerberos": P, "x509": {"sha256": CERT_B_SHA256}})
        );
        assert_eq!(v3["token"]["methods"], json!(["external"]));

        let mut null_bind = json!({"token": {"bind": null}});
        add_kerberos_bind(&mut null_bind, P).unwrap();
        assert_eq!(null_bind, json!({"token": {"bind": {"kerberos": P}}}));
    }

    #[test]
    fn add_bind_errors() {
        for mut body in [
            json!({}),
            json!([]),
            json!("token"),
            json!({"access": {}}),
            json!({"access": {"token": 1}}),
            json!({"token": []}),
            json!({"token": {}, "access": {"token": {}}}),
            json!({"token": {"bind": "kerberos"}}),
            json!({"access": {"token": {"bind": []}}}),
        ] {
            let before = body.clone();
            assert!(
                matches!(
                    add_kerberos_bind(&mut body, P),
                    Err(Error::InvalidArgument(_))
                ),
                "{before}"
            );
            assert!(
                matches!(
                    add_x509_bind(&mut body, CERT_A.as_bytes()),
                    Err(Error::InvalidArgument(_))
                ),
                "{before}"
            );
            assert_eq!(body, before);
        }
        let mut body = json!({"token": {}});
        assert!(matches!(
            add_kerberos_bind(&mut body, ""),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(body, json!({"token": {}}));
    }

    #[test]
    fn bind_of_both_versions() {
        assert_eq!(
            bind_of(&json!({"token": {"bind": {"FOO": "BAR"}}})),
            Some(&map(json!({"FOO": "BAR"})))
        );
        assert_eq!(
            bind_of(&json!({"access": {"token": {"bind": {"kerberos": P}}}})),
            Some(&map(json!({"kerberos": P})))
        );
        assert_eq!(bind_of(&json!({"token": {}})), None);
        assert_eq!(bind_of(&json!({"access": {"token": {}}})), None);
        assert_eq!(bind_of(&json!({"token": {"bind": "kerberos"}})), None);
        assert_eq!(bind_of(&json!({"token": {"bind": null}})), None);
        assert_eq!(bind_of(&json!([])), None);
        assert_eq!(bind_of(&json!({"access": []})), None);
        // A body with both v2 and v3 keys has no single reading: refused, as body::parse does.
        let both = json!({"token": {"bind": {"a": 1}}, "access": {"token": {"bind": {"b": 2}}}});
        assert_eq!(bind_of(&both), None);
        assert!(parse(&serde_json::to_vec(&both).unwrap(), &Limits::default()).is_err());
    }

    #[test]
    fn round_trip_through_body_parse() {
        let mut v3 = json!({"token": {"expires_at": "2038-01-18T21:14:07Z", "user": {"id": "u"}}});
        add_kerberos_bind(&mut v3, P).unwrap();
        add_x509_bind(&mut v3, CERT_A.as_bytes()).unwrap();
        let bytes = serde_json::to_vec(&v3).unwrap();
        let body: TokenBody = parse(&bytes, &Limits::default()).unwrap();
        assert_eq!(body.bind.as_ref(), bind_of(&v3));
        let ctx = AuthContext {
            client_cert: Some(CERT_A.as_bytes()),
            ..krb_ok()
        };
        assert_eq!(enforce(&BindMode::Required, body.bind.as_ref(), &ctx), OK);
        assert_eq!(
            enforce(&BindMode::parse("x509"), body.bind.as_ref(), &ctx),
            OK
        );
        assert_eq!(
            enforce(
                &BindMode::Required,
                body.bind.as_ref(),
                &AuthContext {
                    client_cert: None,
                    ..ctx
                }
            ),
            Err(X509Mismatch)
        );
    }

    #[test]
    fn sections_from_json_text_under_limits() {
        let l = Limits::default();
        assert_eq!(parse_section(b"null", &l), Ok(None));
        assert_eq!(
            parse_section(br#" {"kerberos": "u@R"} "#, &l),
            Ok(Some(map(json!({"kerberos": "u@R"}))))
        );
        for bad in [&b"[]"[..], b"\"kerberos\"", b"1", b"{", b"", b"\xff"] {
            assert!(
                matches!(parse_section(bad, &l), Err(Error::Malformed(_))),
                "{bad:?}"
            );
        }
        let tight = Limits {
            max_json_depth: 2,
            max_json_len: 32,
            ..l
        };
        assert!(matches!(
            parse_section(br#"{"x509": {"sha256": ["deep"]}}"#, &tight),
            Err(Error::LimitExceeded { .. })
        ));
        assert!(matches!(
            parse_section(
                format!("{{\"k\": \"{}\"}}", "a".repeat(40)).as_bytes(),
                &tight
            ),
            Err(Error::LimitExceeded { .. })
        ));
    }

    #[test]
    fn rejection_names_and_codes() {
        let all = [
            MissingBind,
            ModeNotInBind("x".into()),
            KerberosMismatch,
            X509Mismatch,
            UnsupportedBindType("FOO".into()),
        ];
        let names: Vec<&str> = all.iter().map(BindRejection::as_str).collect();
        assert_eq!(
            names,
            [
                "missing_bind",
                "mode_not_in_bind",
                "kerberos_mismatch",
                "x509_mismatch",
                "unsupported_bind_type"
            ]
        );
        assert!(all.iter().all(|r| r.code() == 303));
    }

    #[test]
    fn rejection_messages() {
        assert_eq!(
            MissingBind.to_string(),
            "token is not bound but the bind mode requires it"
        );
        assert_eq!(
            named("x509").unwrap_err().to_string(),
            "token is not bound with the required bind type \"x509\""
        );
        assert_eq!(
            KerberosMismatch.to_string(),
            "kerberos bind does not match the authenticated user"
        );
        assert_eq!(
            X509Mismatch.to_string(),
            "x509 bind does not match the client certificate"
        );
        assert_eq!(
            UnsupportedBindType("FOO".into()).to_string(),
            "unsupported bind type \"FOO\""
        );
        let e: &dyn std::error::Error = &KerberosMismatch;
        assert!(e.source().is_none());
    }
}
