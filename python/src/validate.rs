//! `validate`: keystonemiddleware's offline validation as one call, and the `ValidatedToken` it returns.

use kstoken::body::bind::{AuthContext, BindMode};
use kstoken::pipeline::{Policy, Rejection, ValidateError, Validated};
use kstoken::{DetectionRule, LimitKind, Limits};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDateTime, PyDict, PyList, PyTzInfo};
use serde_json::Value;
use time::OffsetDateTime;

use crate::exceptions::{rejected, to_py};
use crate::gate::detach;
use crate::input::{Data, Input, UnixTime};
use crate::revocation::PyRevocationList;
use crate::verifier::PyVerifier;

/// A token that passed `Verifier.validate`.
#[pyclass(frozen, module = "kstoken", name = "ValidatedToken")]
pub(crate) struct ValidatedToken {
    form: &'static str,
    hashes: Py<PyList>,
    content: Py<PyBytes>,
    version: &'static str,
    audit_ids: Py<PyList>,
    expires: Option<Py<PyDateTime>>,
    bind: Option<Py<PyAny>>,
    /// The decoded body, once asked for.
    data: PyOnceLock<Py<PyAny>>,
}

#[pymethods]
impl ValidatedToken {
    /// `'pki'` or `'pkiz'`.
    #[getter]
    fn form(&self) -> &'static str {
        self.form
    }

    /// The token's hashes, one per algorithm (the middleware's cache keys, the first one for new
    /// entries).
    #[getter]
    fn hashes(&self, py: Python<'_>) -> Py<PyList> {
        self.hashes.clone_ref(py)
    }

    /// The verified content bytes.
    #[getter]
    fn content(&self, py: Python<'_>) -> Py<PyBytes> {
        self.content.clone_ref(py)
    }

    /// `'v2'` or `'v3'`.
    #[getter]
    fn version(&self) -> &'static str {
        self.version
    }

    /// The audit ids of the token body.
    #[getter]
    fn audit_ids(&self, py: Python<'_>) -> Py<PyList> {
        self.audit_ids.clone_ref(py)
    }

    /// The expiry as an aware UTC datetime (microseconds kept), or None when the body has none.
    #[getter]
    fn expires(&self, py: Python<'_>) -> Option<Py<PyDateTime>> {
        self.expires.as_ref().map(|e| e.clone_ref(py))
    }

    /// The bind section (dict) or None.
    #[getter]
    fn bind(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.bind.as_ref().map(|b| b.clone_ref(py))
    }

    /// The decoded token body (what keystonemiddleware passes to `AccessInfo.factory`), decoded
    /// by Python's `json` on first use.
    #[getter]
    fn data(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        self.data
            .get_or_try_init(py, || {
                let loads = LOADS.import(py, "json", "loads")?;
                Ok::<_, PyErr>(loads.call1((self.content.bind(py),))?.unbind())
            })
            .map(|d| d.clone_ref(py))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<kstoken.ValidatedToken {} {} hashes={}>",
            self.form,
            self.version,
            self.hashes.bind(py).repr()?
        ))
    }
}

impl ValidatedToken {
    fn new(py: Python<'_>, ok: Validated) -> PyResult<Self> {
        Ok(ValidatedToken {
            form: ok.form.as_str(),
            hashes: PyList::new(py, ok.hashes)?.unbind(),
            content: PyBytes::new(py, &ok.content).unbind(),
            version: ok.body.version.as_str(),
            audit_ids: PyList::new(py, ok.body.audit_ids)?.unbind(),
            expires: ok
                .body
                .expires
                .map(|t| utc_datetime(py, t).map(Bound::unbind))
                .transpose()?,
            bind: ok
                .body
                .bind
                .map(|b| json_object(py, &b).map(Bound::unbind))
                .transpose()?,
            data: PyOnceLock::new(),
        })
    }
}

/// A UTC instant as an aware `datetime` in `timezone.utc`.
fn utc_datetime(py: Python<'_>, t: OffsetDateTime) -> PyResult<Bound<'_, PyDateTime>> {
    let utc = PyTzInfo::utc(py)?;
    PyDateTime::new(
        py,
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond(),
        Some(&utc),
    )
}

/// A JSON object as the `dict` Python's `json` module would make of it.
fn json_object<'py>(
    py: Python<'py>,
    object: &serde_json::Map<String, Value>,
) -> PyResult<Bound<'py, PyAny>> {
    let dict = PyDict::new(py);
    for (key, value) in object {
        dict.set_item(key, json_value(py, value)?)?;
    }
    Ok(dict.into_any())
}

/// A JSON value as Python's `json` module would decode it (the core parsed it under the JSON
/// depth limit, so the recursion is bounded).
fn json_value<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => PyList::new(
            py,
            items
                .iter()
                .map(|v| json_value(py, v))
                .collect::<PyResult<Vec<_>>>()?,
        )?
        .into_any(),
        Value::Object(object) => json_object(py, object)?,
    })
}

/// The middleware's offline validation as one call ([`kstoken::pipeline::validate`]), with the
/// verifier's hash algorithms.
///
/// Raises `kstoken.exceptions.TokenRejected(step, message, cause)` when a step rejects the token,
/// `InvalidArgumentError` for an impossible clock. A `str` token that is not UTF-8 text (a lone
/// surrogate) is validated with each surrogate replaced (U+FFFD, in no token alphabet), so it is
/// rejected at the step the core's rules give, like any malformed token.
#[pyfunction]
#[pyo3(signature = (token, verifier, revocations=None, *, bind_mode="permissive", lenient=false, auth_type=None, remote_user=None, client_cert=None, now=None))]
#[allow(clippy::too_many_arguments)]
fn validate(
    py: Python<'_>,
    token: Input<'_>,
    verifier: PyRef<'_, PyVerifier>,
    revocations: Option<PyRef<'_, PyRevocationList>>,
    bind_mode: &str,
    lenient: bool,
    auth_type: Option<&str>,
    remote_user: Option<&str>,
    client_cert: Option<Input<'_>>,
    now: Option<UnixTime>,
) -> PyResult<ValidatedToken> {
    let v = &verifier.inner;
    // The core's order: the clock, then the token's length (a signature-step rejection), both
    // before the token is copied.
    if let Some(UnixTime(t)) = now {
        kstoken::timestamp::unix_time(t).map_err(|e| to_py(py, e))?;
    }
    v.limits()
        .check(LimitKind::TokenLength, token.len()?)
        .map_err(|e| rejected(py, Rejection::Verification(e)))?;
    let token: Data = token.lossy()?;
    let client_cert = client_cert
        .map(|c| c.within(&Limits::default(), LimitKind::CredentialLength))
        .transpose()?;
    let policy = Policy {
        hash_algorithms: verifier.hash_algorithms.clone(),
        bind_mode: BindMode::parse(bind_mode),
        detection: DetectionRule::from_lenient(lenient),
    };
    let ctx = AuthContext {
        auth_type,
        remote_user,
        client_cert: client_cert.as_ref().map(Data::as_bytes),
    };
    let r = revocations.as_ref().map(|r| &r.inner);
    let token = token.as_bytes();
    let result = detach(py, || match now {
        Some(UnixTime(t)) => kstoken::pipeline::validate(token, v, r, &policy, &ctx, t),
        None => kstoken::pipeline::validate_instant(
            token,
            v,
            r,
            &policy,
            &ctx,
            OffsetDateTime::now_utc(),
        ),
    });
    match result {
        Ok(ok) => ValidatedToken::new(py, ok),
        Err(ValidateError::InvalidArgument(e)) => Err(to_py(py, e)),
        Err(ValidateError::Rejected(rejection)) => Err(rejected(py, rejection)),
    }
}

/// Adds `validate` and `ValidatedToken` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ValidatedToken>()?;
    m.add_function(wrap_pyfunction!(validate, m)?)
}
