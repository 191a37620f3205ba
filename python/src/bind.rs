//! Token bind: enforcing a bind section, and adding `kerberos`/`x509` binds to a token body.
//!
//! Bind sections and token bodies cross as JSON text, parsed by the core under the default limits.

use kstoken::body::bind::{AuthContext, BindMode};
use kstoken::{LimitKind, Limits};
use pyo3::prelude::*;

use crate::exceptions::{bind_error, to_py};
use crate::input::{Data, Input};

/// A client certificate within the default credential limit.
fn client_certificate(cert: Option<Input<'_>>) -> PyResult<Option<Data>> {
    cert.map(|c| c.within(&Limits::default(), LimitKind::CredentialLength))
        .transpose()
}

/// Enforces a bind section (JSON text of the object, or `None`): returns when accepted, raises
/// `BindError` when rejected.
#[pyfunction]
#[pyo3(signature = (mode, bind_json, auth_type=None, remote_user=None, client_cert=None))]
fn check_bind(
    py: Python<'_>,
    mode: &str,
    bind_json: Option<Input<'_>>,
    auth_type: Option<&str>,
    remote_user: Option<&str>,
    client_cert: Option<Input<'_>>,
) -> PyResult<()> {
    let limits = Limits::default();
    let bind = match bind_json {
        None => None,
        Some(text) => {
            let text = text.within(&limits, LimitKind::JsonSize)?;
            kstoken::body::bind::parse_section(text.as_bytes(), &limits)
                .map_err(|e| to_py(py, e))?
        }
    };
    let client_cert = client_certificate(client_cert)?;
    let ctx = AuthContext {
        auth_type,
        remote_user,
        client_cert: client_cert.as_ref().map(Data::as_bytes),
    };
    kstoken::body::bind::enforce(&BindMode::parse(mode), bind.as_ref(), &ctx)
        .map_err(|rejection| bind_error(py, &rejection))
}

/// Lowercase hex SHA-256 of a certificate's DER (PEM or DER input): the `x509` bind value.
#[pyfunction]
fn x509_fingerprint(py: Python<'_>, cert: Input<'_>) -> PyResult<String> {
    let cert = cert.within(&Limits::default(), LimitKind::CredentialLength)?;
    kstoken::body::bind::x509_fingerprint(cert.as_bytes()).map_err(|e| to_py(py, e))
}

/// A token body (JSON text) edited by `edit`, as JSON text.
fn edit_body(
    py: Python<'_>,
    body_json: Input<'_>,
    edit: impl FnOnce(&mut serde_json::Value) -> kstoken::Result<()>,
) -> PyResult<String> {
    let limits = Limits::default();
    let body_json = body_json.within(&limits, LimitKind::JsonSize)?;
    let body = kstoken::json::parse_json(body_json.as_bytes(), &limits)
        .and_then(|mut body| edit(&mut body).map(|()| body))
        .map_err(|e| to_py(py, e))?;
    Ok(body.to_string())
}

/// Adds a `kerberos` bind to a v2 or v3 token body (JSON text in, JSON text out).
#[pyfunction]
fn add_kerberos_bind(py: Python<'_>, body_json: Input<'_>, principal: &str) -> PyResult<String> {
    edit_body(py, body_json, |b| {
        kstoken::body::bind::add_kerberos_bind(b, principal)
    })
}

/// Adds an `x509` bind for `client_cert` to a v2 or v3 token body (JSON text in, JSON text out).
#[pyfunction]
fn add_x509_bind(py: Python<'_>, body_json: Input<'_>, client_cert: Input<'_>) -> PyResult<String> {
    let client_cert = client_cert.within(&Limits::default(), LimitKind::CredentialLength)?;
    edit_body(py, body_json, |b| {
        kstoken::body::bind::add_x509_bind(b, client_cert.as_bytes())
    })
}

/// Adds the bind functions to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check_bind, m)?)?;
    m.add_function(wrap_pyfunction!(x509_fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(add_kerberos_bind, m)?)?;
    m.add_function(wrap_pyfunction!(add_x509_bind, m)?)?;
    Ok(())
}
