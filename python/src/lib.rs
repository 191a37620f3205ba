//! Python bindings for kstoken: the private native module `kstoken._kstoken`.
//!
//! A thin layer over the `kstoken` crate. Token logic lives in the core crate; this module only
//! converts arguments and results, releases the GIL around every verify, sign and hash call, and turns
//! [`kstoken::Error`] values into the exception classes of the pure-Python `kstoken.exceptions`
//! module (looked up once, through `kstoken.exceptions._from_native`).

use std::str::FromStr;

use kstoken::bind::{AuthContext, BindMode};
use kstoken::body::TokenVersion;
use kstoken::pipeline::{Policy, Rejection, ValidateError};
use kstoken::revocation::{RevocationList, RevokedEntry};
use kstoken::{DetectionRule, Error, HashAlgorithm, HashAlgorithms, Limits};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::sync::PyOnceLock;
use pyo3::types::PyBytes;

/// Text or bytes from Python: `bytes`, `bytearray` or `str` (UTF-8).
#[derive(FromPyObject)]
enum Data {
    Bytes(PyBackedBytes),
    Str(PyBackedStr),
}

impl Data {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Data::Bytes(b) => b,
            Data::Str(s) => s.as_bytes(),
        }
    }
}

static FROM_NATIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The Python exception for a core error, built by `kstoken.exceptions._from_native`.
fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let kind = err.kind().as_str();
    let reason = err.openssl_reason().map(str::to_owned);
    let detail = err.detail().to_owned();
    let what = err.limit_kind().map(|w| w.to_string());
    let message = err.to_string();
    let factory = FROM_NATIVE.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py
            .import("kstoken.exceptions")?
            .getattr("_from_native")?
            .unbind())
    });
    let result = factory.and_then(|f| f.bind(py).call1((kind, message, reason, detail, what)));
    match result {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

fn algorithm(name: &str) -> PyResult<HashAlgorithm> {
    HashAlgorithm::from_str(name).map_err(|e| PyValueError::new_err(e.detail().to_owned()))
}

fn algorithms(names: Vec<PyBackedStr>) -> PyResult<Vec<HashAlgorithm>> {
    names.iter().map(|n| algorithm(n)).collect()
}

fn limits(
    max_token_len: Option<usize>,
    max_inflated_len: Option<usize>,
    max_json_len: Option<usize>,
    max_json_depth: Option<usize>,
) -> Limits {
    let mut limits = Limits::default();
    if let Some(v) = max_token_len {
        limits.max_token_len = v;
    }
    if let Some(v) = max_inflated_len {
        limits.max_inflated_len = v;
    }
    if let Some(v) = max_json_len {
        limits.max_json_len = v;
    }
    if let Some(v) = max_json_depth {
        limits.max_json_depth = v;
    }
    limits
}

/// A verifier built from PEM signing certificate(s) and a PEM CA bundle; shareable between threads.
#[pyclass(frozen, module = "kstoken._kstoken", name = "Verifier")]
struct PyVerifier {
    inner: kstoken::Verifier,
}

#[pymethods]
impl PyVerifier {
    #[new]
    #[pyo3(signature = (signing_certs, ca, *, max_token_len=None, max_inflated_len=None, max_json_len=None, max_json_depth=None))]
    fn new(
        py: Python<'_>,
        signing_certs: Data,
        ca: Data,
        max_token_len: Option<usize>,
        max_inflated_len: Option<usize>,
        max_json_len: Option<usize>,
        max_json_depth: Option<usize>,
    ) -> PyResult<Self> {
        let limits = limits(
            max_token_len,
            max_inflated_len,
            max_json_len,
            max_json_depth,
        );
        let inner = py
            .detach(|| {
                kstoken::Verifier::new_with_limits(signing_certs.as_bytes(), ca.as_bytes(), limits)
            })
            .map_err(|e| to_py(py, e))?;
        Ok(PyVerifier { inner })
    }

    /// Verifies a PKI token, a PKIZ token or CMS PEM; returns the signed content.
    #[pyo3(signature = (token, at=None))]
    fn verify<'py>(
        &self,
        py: Python<'py>,
        token: Data,
        at: Option<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.verified(py, &token, at, false)
    }

    /// Verifies as `verify`, then checks the content against the JSON size and depth limits, so
    /// the caller's JSON decoder never meets a document nested deeper than `max_json_depth`.
    #[pyo3(signature = (token, at=None))]
    fn verify_json<'py>(
        &self,
        py: Python<'py>,
        token: Data,
        at: Option<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.verified(py, &token, at, true)
    }

    /// The longest token, CMS text or DER document accepted, in bytes.
    #[getter]
    fn max_token_len(&self) -> usize {
        self.inner.limits().max_token_len
    }

    /// Verifies CMS PEM only (what `openssl cms -verify -inform PEM` reads).
    #[pyo3(signature = (pem, at=None))]
    fn verify_pem<'py>(
        &self,
        py: Python<'py>,
        pem: Data,
        at: Option<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let at = at.unwrap_or_else(kstoken::unix_now);
        let content = py
            .detach(|| {
                let der = kstoken::pem::pem_to_der(pem.as_bytes(), self.inner.limits())?;
                self.inner.verify_der_at(&der, at)
            })
            .map_err(|e| to_py(py, e))?;
        Ok(PyBytes::new(py, &content))
    }

    fn __repr__(&self) -> String {
        "<kstoken._kstoken.Verifier>".to_owned()
    }
}

impl PyVerifier {
    /// The content of `token` verified at `at` (default now), checked against the JSON limits
    /// when `json` is set.
    fn verified<'py>(
        &self,
        py: Python<'py>,
        token: &Data,
        at: Option<i64>,
        json: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let at = at.unwrap_or_else(kstoken::unix_now);
        let content = py
            .detach(|| -> kstoken::Result<Vec<u8>> {
                let content = self.inner.verify_at(token.as_bytes(), at)?;
                if json {
                    kstoken::json::check_json_limits(&content, self.inner.limits())?;
                }
                Ok(content)
            })
            .map_err(|e| to_py(py, e))?;
        Ok(PyBytes::new(py, &content))
    }
}

/// A signer built from a PEM certificate and an unencrypted PEM key; shareable between threads.
#[pyclass(frozen, module = "kstoken._kstoken", name = "Signer")]
struct PySigner {
    inner: kstoken::Signer,
}

#[pymethods]
impl PySigner {
    #[new]
    #[pyo3(signature = (cert, key, *, digest="sha256", binary=false))]
    fn new(py: Python<'_>, cert: Data, key: Data, digest: &str, binary: bool) -> PyResult<Self> {
        let digest = algorithm(digest)?;
        let mode = if binary {
            kstoken::ContentMode::Binary
        } else {
            kstoken::ContentMode::Text
        };
        let inner = py
            .detach(|| {
                kstoken::Signer::new(cert.as_bytes(), key.as_bytes())
                    .and_then(|s| s.with_digest(digest))
            })
            .map_err(|e| to_py(py, e))?
            .with_content_mode(mode);
        Ok(PySigner { inner })
    }

    /// The digest algorithm name (`sha256`, ...).
    #[getter]
    fn digest(&self) -> &'static str {
        self.inner.digest().name()
    }

    /// Signs `data`; returns CMS PEM text.
    fn sign_cms(&self, py: Python<'_>, data: Data) -> PyResult<String> {
        py.detach(|| self.inner.sign_pem(data.as_bytes()))
            .map_err(|e| to_py(py, e))
    }

    /// Signs `data`; returns CMS DER.
    fn sign_der<'py>(&self, py: Python<'py>, data: Data) -> PyResult<Bound<'py, PyBytes>> {
        let der = py
            .detach(|| self.inner.sign_der(data.as_bytes()))
            .map_err(|e| to_py(py, e))?;
        Ok(PyBytes::new(py, &der))
    }

    /// Signs `data`; returns a PKI token.
    fn sign_pki(&self, py: Python<'_>, data: Data) -> PyResult<String> {
        py.detach(|| self.inner.sign_pki(data.as_bytes()))
            .map_err(|e| to_py(py, e))
    }

    /// Signs `data`; returns a PKIZ token (zlib at `level`).
    #[pyo3(signature = (data, level=6))]
    fn sign_pkiz(&self, py: Python<'_>, data: Data, level: u32) -> PyResult<String> {
        py.detach(|| self.inner.sign_pkiz_with_level(data.as_bytes(), level))
            .map_err(|e| to_py(py, e))
    }

    fn __repr__(&self) -> String {
        format!(
            "<kstoken._kstoken.Signer digest={}>",
            self.inner.digest().name()
        )
    }
}

/// `cms_hash_token` for each algorithm: `None` unless the token is PKI (`MII`) or PKIZ (`PKIZ_`).
fn hash_token(
    py: Python<'_>,
    token: PyBackedStr,
    algorithms_: Vec<PyBackedStr>,
) -> PyResult<Option<Vec<String>>> {
    let algs = algorithms(algorithms_)?;
    py.detach(|| kstoken::hash::hash_token_all(token.as_bytes(), &algs))
        .map_err(|e| to_py(py, e))
}

/// Hex digest of `data` (always hashes; keystoneclient's `hash_signed_token`).
#[pyfunction]
fn hash_hex(py: Python<'_>, data: Data, algorithm_: &str) -> PyResult<String> {
    let alg = algorithm(algorithm_)?;
    py.detach(|| kstoken::hash::hash_hex(data.as_bytes(), alg))
        .map_err(|e| to_py(py, e))
}

#[pyfunction]
#[pyo3(name = "hash_token")]
fn py_hash_token(
    py: Python<'_>,
    token: PyBackedStr,
    algorithms: Vec<PyBackedStr>,
) -> PyResult<Option<Vec<String>>> {
    hash_token(py, token, algorithms)
}

/// PEM to PKI token text (keystoneclient `cms_to_token`).
#[pyfunction]
fn cms_to_token(py: Python<'_>, cms_text: PyBackedStr) -> String {
    py.detach(|| kstoken::form::cms_to_token(&cms_text))
}

/// PKI token text to PEM (keystoneclient `token_to_cms`).
#[pyfunction]
fn token_to_cms(py: Python<'_>, signed_text: PyBackedStr) -> String {
    py.detach(|| kstoken::form::token_to_cms(&signed_text))
}

/// The PEM text inside a PKIZ token.
#[pyfunction]
#[pyo3(signature = (token, max_inflated_len=None))]
fn pkiz_uncompress<'py>(
    py: Python<'py>,
    token: Data,
    max_inflated_len: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let limits = limits(None, max_inflated_len, None, None);
    let pem = py
        .detach(|| kstoken::pkiz::uncompress(token.as_bytes(), &limits))
        .map_err(|e| to_py(py, e))?;
    Ok(PyBytes::new(py, &pem))
}

/// A PKIZ token from PEM text (zlib at `level`, URL-safe base64, `PKIZ_` prefix).
#[pyfunction]
#[pyo3(signature = (pem, level=6))]
fn pkiz_compress(py: Python<'_>, pem: Data, level: u32) -> PyResult<String> {
    py.detach(|| kstoken::pkiz::compress(pem.as_bytes(), level))
        .map_err(|e| to_py(py, e))
}

/// `"pki"`, `"pkiz"` or `"other"` (upstream `MII`/`PKIZ_` rule, or the lenient DER rule).
#[pyfunction]
#[pyo3(signature = (token, lenient=false))]
fn detect(token: PyBackedStr, lenient: bool) -> &'static str {
    kstoken::detect_with(token.as_bytes(), DetectionRule::from_lenient(lenient)).as_str()
}

/// Enforces a bind section (JSON text of the object, or `None`); returns `None` when accepted or
/// `(kind, message)` when rejected.
#[pyfunction]
#[pyo3(signature = (mode, bind_json, auth_type=None, remote_user=None, client_cert=None))]
fn check_bind(
    py: Python<'_>,
    mode: &str,
    bind_json: Option<&str>,
    auth_type: Option<&str>,
    remote_user: Option<&str>,
    client_cert: Option<Data>,
) -> PyResult<Option<(&'static str, String)>> {
    let bind = match bind_json {
        None => None,
        Some(text) => kstoken::bind::parse_section(text.as_bytes(), &Limits::default())
            .map_err(|e| to_py(py, e))?,
    };
    let ctx = AuthContext {
        auth_type,
        remote_user,
        client_cert: client_cert.as_ref().map(Data::as_bytes),
    };
    Ok(
        kstoken::bind::enforce(&BindMode::parse(mode), bind.as_ref(), &ctx)
            .err()
            .map(|r| (r.as_str(), r.to_string())),
    )
}

/// Lowercase hex SHA-256 of a certificate's DER (PEM or DER input): the `x509` bind value.
#[pyfunction]
fn x509_fingerprint(py: Python<'_>, cert: Data) -> PyResult<String> {
    kstoken::bind::x509_fingerprint(cert.as_bytes()).map_err(|e| to_py(py, e))
}

fn edit_body(
    py: Python<'_>,
    body_json: &str,
    edit: impl FnOnce(&mut serde_json::Value) -> kstoken::Result<()>,
) -> PyResult<String> {
    let mut body: serde_json::Value = serde_json::from_str(body_json)
        .map_err(|e| PyValueError::new_err(format!("token body is not JSON: {e}")))?;
    edit(&mut body).map_err(|e| to_py(py, e))?;
    serde_json::to_string(&body).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Adds a `kerberos` bind to a v2 or v3 token body (JSON text in, JSON text out).
#[pyfunction]
fn add_kerberos_bind(py: Python<'_>, body_json: &str, principal: &str) -> PyResult<String> {
    edit_body(py, body_json, |b| {
        kstoken::bind::add_kerberos_bind(b, principal)
    })
}

/// Adds an `x509` bind for `client_cert` to a v2 or v3 token body (JSON text in, JSON text out).
#[pyfunction]
fn add_x509_bind(py: Python<'_>, body_json: &str, client_cert: Data) -> PyResult<String> {
    edit_body(py, body_json, |b| {
        kstoken::bind::add_x509_bind(b, client_cert.as_bytes())
    })
}

/// `(ca_cert_pem, ca_key_pem, signing_cert_pem, signing_key_pem)`.
type PkiPems = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

/// A throw-away CA and signing certificate in `keystone-manage pki_setup`'s layout:
/// `(ca_cert_pem, ca_key_pem, signing_cert_pem, signing_key_pem)`.
#[pyfunction]
#[pyo3(signature = (*, key_bits=None, valid_days=None, subject=None))]
fn generate_pki(
    py: Python<'_>,
    key_bits: Option<u32>,
    valid_days: Option<u32>,
    subject: Option<String>,
) -> PyResult<PkiPems> {
    let options = kstoken::pki_setup::PkiOptions {
        key_bits: key_bits.unwrap_or(kstoken::pki_setup::DEFAULT_KEY_BITS),
        valid_days: valid_days.unwrap_or(kstoken::pki_setup::DEFAULT_VALID_DAYS),
        subject: subject.unwrap_or_else(|| kstoken::pki_setup::DEFAULT_SUBJECT.to_owned()),
    };
    let pki = py
        .detach(|| kstoken::pki_setup::generate(&options))
        .map_err(|e| to_py(py, e))?;
    Ok((
        pki.ca_cert_pem,
        pki.ca_key_pem,
        pki.signing_cert_pem,
        pki.signing_key_pem,
    ))
}

type EntryTuple = (Option<String>, Option<String>, Option<String>);

fn entry_tuples(entries: &[RevokedEntry]) -> Vec<EntryTuple> {
    entries
        .iter()
        .map(|e| (e.id.clone(), e.expires.clone(), e.audit_id.clone()))
        .collect()
}

fn entries_of(entries: Vec<EntryTuple>) -> Vec<RevokedEntry> {
    entries
        .into_iter()
        .map(|(id, expires, audit_id)| RevokedEntry {
            id,
            expires,
            audit_id,
        })
        .collect()
}

/// A verified revocation list, indexed by token hash and audit id.
#[pyclass(frozen, module = "kstoken._kstoken", name = "RevocationList")]
struct PyRevocationList {
    inner: RevocationList,
}

#[pymethods]
impl PyRevocationList {
    /// A list from `(id, expires, audit_id)` tuples.
    #[new]
    fn new(py: Python<'_>, entries: Vec<EntryTuple>) -> PyResult<Self> {
        let inner = RevocationList::from_entries(entries_of(entries)).map_err(|e| to_py(py, e))?;
        Ok(PyRevocationList { inner })
    }

    /// A list from its (already verified) JSON text `{"revoked": [...]}`.
    #[staticmethod]
    #[pyo3(signature = (content, max_json_len=None, max_json_depth=None))]
    fn from_json(
        py: Python<'_>,
        content: Data,
        max_json_len: Option<usize>,
        max_json_depth: Option<usize>,
    ) -> PyResult<Self> {
        let limits = limits(None, None, max_json_len, max_json_depth);
        let inner = py
            .detach(|| RevocationList::from_json(content.as_bytes(), &limits))
            .map_err(|e| to_py(py, e))?;
        Ok(PyRevocationList { inner })
    }

    /// A list from keystone's signed response (`{"signed": "<PEM>"}` or the PEM), verified first.
    #[staticmethod]
    #[pyo3(signature = (body, verifier, at=None))]
    fn from_signed(
        py: Python<'_>,
        body: Data,
        verifier: PyRef<'_, PyVerifier>,
        at: Option<i64>,
    ) -> PyResult<Self> {
        let at = at.unwrap_or_else(kstoken::unix_now);
        let v = &verifier.inner;
        let inner = py
            .detach(|| RevocationList::from_signed(body.as_bytes(), v, at))
            .map_err(|e| to_py(py, e))?;
        Ok(PyRevocationList { inner })
    }

    /// Whether any of `hashes` or `audit_ids` is listed.
    fn is_revoked(&self, hashes: Vec<String>, audit_ids: Vec<String>) -> bool {
        self.inner.is_revoked(&hashes, &audit_ids)
    }

    fn contains_hash(&self, hash: &str) -> bool {
        self.inner.contains_hash(hash)
    }

    fn contains_audit_id(&self, audit_id: &str) -> bool {
        self.inner.contains_audit_id(audit_id)
    }

    /// The entries as `(id, expires, audit_id)` tuples.
    fn entries(&self) -> Vec<EntryTuple> {
        entry_tuples(self.inner.entries())
    }

    /// keystone's exact JSON serialisation of the list.
    fn to_json(&self) -> String {
        kstoken::revocation::to_json(self.inner.entries())
    }

    /// keystone's signed response body `{"signed": "<PEM>"}`.
    fn sign(&self, py: Python<'_>, signer: PyRef<'_, PySigner>) -> PyResult<String> {
        let s = &signer.inner;
        py.detach(|| kstoken::revocation::sign(s, self.inner.entries()))
            .map_err(|e| to_py(py, e))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// What `validate` returns: `(form, hashes, content, version, audit_ids, expires, bind_json)`.
type ValidatedTuple<'py> = (
    &'static str,
    Vec<String>,
    Bound<'py, PyBytes>,
    &'static str,
    Vec<String>,
    Option<i64>,
    Option<String>,
);

/// The middleware's offline validation as one call (kstoken::pipeline::validate).
///
/// Raises `kstoken.exceptions.TokenRejected(step, message, cause)` when a step rejects the token.
#[pyfunction]
#[pyo3(signature = (token, verifier, revocations=None, *, hash_algorithms=vec![], bind_mode="permissive", lenient=false, auth_type=None, remote_user=None, client_cert=None, now=None))]
#[allow(clippy::too_many_arguments)]
fn validate<'py>(
    py: Python<'py>,
    token: PyBackedStr,
    verifier: PyRef<'_, PyVerifier>,
    revocations: Option<PyRef<'_, PyRevocationList>>,
    hash_algorithms: Vec<PyBackedStr>,
    bind_mode: &str,
    lenient: bool,
    auth_type: Option<&str>,
    remote_user: Option<&str>,
    client_cert: Option<Data>,
    now: Option<i64>,
) -> PyResult<ValidatedTuple<'py>> {
    let mut policy = Policy {
        bind_mode: BindMode::parse(bind_mode),
        detection: DetectionRule::from_lenient(lenient),
        ..Policy::default()
    };
    if !hash_algorithms.is_empty() {
        policy.hash_algorithms = HashAlgorithms::from_names(hash_algorithms.iter())
            .map_err(|e| PyValueError::new_err(e.detail().to_owned()))?;
    }
    let ctx = AuthContext {
        auth_type,
        remote_user,
        client_cert: client_cert.as_ref().map(Data::as_bytes),
    };
    let v = &verifier.inner;
    let r = revocations.as_ref().map(|r| &r.inner);
    let result = py.detach(|| match now {
        Some(t) => kstoken::pipeline::validate(token.as_bytes(), v, r, &policy, &ctx, t),
        None => kstoken::pipeline::validate_instant(
            token.as_bytes(),
            v,
            r,
            &policy,
            &ctx,
            time::OffsetDateTime::now_utc(),
        ),
    });
    match result {
        Ok(ok) => {
            let version = match ok.body.version {
                TokenVersion::V2 => "v2",
                _ => "v3",
            };
            let bind = ok
                .body
                .bind
                .as_ref()
                .map(|b| serde_json::Value::Object(b.clone()).to_string());
            Ok((
                ok.form.as_str(),
                ok.hashes,
                PyBytes::new(py, &ok.content),
                version,
                ok.body.audit_ids,
                ok.body.expires.map(|t| t.unix_timestamp()),
                bind,
            ))
        }
        Err(ValidateError::InvalidArgument(e)) => Err(to_py(py, e)),
        Err(ValidateError::Rejected(rejection)) => {
            let step = rejection.step().as_str();
            let message = rejection.to_string();
            let cause: Option<PyErr> = match rejection {
                Rejection::Verification(e) | Rejection::Body(e) => Some(to_py(py, e)),
                Rejection::Bind(b) => Some(PyErr::from_value(
                    py.import("kstoken.exceptions")?
                        .getattr("BindError")?
                        .call1((b.as_str(), b.to_string()))?,
                )),
                _ => None,
            };
            let cause = cause.map(|c| c.into_value(py).into_any());
            let exc = py
                .import("kstoken.exceptions")?
                .getattr("TokenRejected")?
                .call1((step, message, cause))?;
            Err(PyErr::from_value(exc))
        }
    }
}

/// The private native module of the `kstoken` package.
#[pymodule]
fn _kstoken(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyVerifier>()?;
    m.add_class::<PySigner>()?;
    m.add_class::<PyRevocationList>()?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(py_hash_token, m)?)?;
    m.add_function(wrap_pyfunction!(hash_hex, m)?)?;
    m.add_function(wrap_pyfunction!(cms_to_token, m)?)?;
    m.add_function(wrap_pyfunction!(token_to_cms, m)?)?;
    m.add_function(wrap_pyfunction!(pkiz_uncompress, m)?)?;
    m.add_function(wrap_pyfunction!(pkiz_compress, m)?)?;
    m.add_function(wrap_pyfunction!(detect, m)?)?;
    m.add_function(wrap_pyfunction!(check_bind, m)?)?;
    m.add_function(wrap_pyfunction!(x509_fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(add_kerberos_bind, m)?)?;
    m.add_function(wrap_pyfunction!(add_x509_bind, m)?)?;
    m.add_function(wrap_pyfunction!(generate_pki, m)?)?;
    m.add("PKI_ASN1_PREFIX", kstoken::form::PKI_ASN1_PREFIX)?;
    m.add("PKIZ_PREFIX", kstoken::form::PKIZ_PREFIX)?;
    m.add("DEFAULT_MAX_TOKEN_LEN", Limits::default().max_token_len)?;
    Ok(())
}
