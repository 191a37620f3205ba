//! `Verifier`: signing certificates and a CA bundle, parsed once, shared between threads.

use kstoken::{CmsProfile, HashAlgorithms, LimitKind};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyBytes;

use crate::exceptions::to_py;
use crate::gate::detach;
use crate::input::{Input, UnixTime};
use crate::limits::LimitArgs;

/// A verifier built from PEM signing certificate(s) and a PEM CA bundle; shareable between threads.
#[pyclass(frozen, module = "kstoken._kstoken", name = "Verifier")]
pub(crate) struct PyVerifier {
    pub(crate) inner: kstoken::Verifier,
    /// The token hashes `hash` and `validate` compute (keystonemiddleware's `hash_algorithms`).
    pub(crate) hash_algorithms: HashAlgorithms,
}

#[pymethods]
impl PyVerifier {
    #[new]
    #[pyo3(signature = (signing_certs, ca, *, hash_algorithms=None, profile="keystone", max_token_len=None, max_inflated_len=None, max_json_len=None, max_json_depth=None, max_credential_len=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        signing_certs: Input<'_>,
        ca: Input<'_>,
        hash_algorithms: Option<Vec<PyBackedStr>>,
        profile: &str,
        max_token_len: Option<usize>,
        max_inflated_len: Option<usize>,
        max_json_len: Option<usize>,
        max_json_depth: Option<usize>,
        max_credential_len: Option<usize>,
    ) -> PyResult<Self> {
        let hash_algorithms = match hash_algorithms {
            None => HashAlgorithms::default(),
            Some(names) => HashAlgorithms::from_names(&names).map_err(|e| to_py(py, e))?,
        };
        let profile: CmsProfile = profile.parse().map_err(|e| to_py(py, e))?;
        let limits = LimitArgs {
            max_token_len,
            max_inflated_len,
            max_json_len,
            max_json_depth,
            max_credential_len,
            ..LimitArgs::default()
        }
        .limits();
        let signing_certs = signing_certs.within(&limits, LimitKind::CredentialLength)?;
        let ca = ca.within(&limits, LimitKind::CredentialLength)?;
        let inner = detach(py, || {
            kstoken::Verifier::new_with_limits(signing_certs.as_bytes(), ca.as_bytes(), limits)
        })
        .map_err(|e| to_py(py, e))?
        .with_profile(profile);
        Ok(PyVerifier {
            inner,
            hash_algorithms,
        })
    }

    /// Verifies a PKI token, a PKIZ token or CMS PEM; returns the signed content.
    #[pyo3(signature = (token, at=None))]
    fn verify<'py>(
        &self,
        py: Python<'py>,
        token: Input<'_>,
        at: Option<UnixTime>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.verified(py, token, at, false)
    }

    /// Verifies as `verify`, then checks the content against the JSON size and depth limits, so
    /// the caller's JSON decoder never meets a document nested deeper than `max_json_depth`.
    #[pyo3(signature = (token, at=None))]
    fn verify_json<'py>(
        &self,
        py: Python<'py>,
        token: Input<'_>,
        at: Option<UnixTime>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.verified(py, token, at, true)
    }

    /// Verifies CMS PEM only (what `openssl cms -verify -inform PEM` reads).
    #[pyo3(signature = (pem, at=None))]
    fn verify_pem<'py>(
        &self,
        py: Python<'py>,
        pem: Input<'_>,
        at: Option<UnixTime>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let pem = pem.token(self.inner.limits())?;
        let at = at.map_or_else(kstoken::unix_now, |t| t.0);
        let content = detach(py, || {
            let der = kstoken::token_text::pem::pem_to_der(pem.as_bytes(), self.inner.limits())?;
            self.inner.verify_der_at(&der, at)
        })
        .map_err(|e| to_py(py, e))?;
        Ok(PyBytes::new(py, &content))
    }

    /// The token's cache keys: one hash per algorithm for a PKI/PKIZ token, else the token itself
    /// (keystonemiddleware's `token_hashes`); surrounding whitespace is not part of the token.
    fn hash(&self, py: Python<'_>, token: Input<'_>) -> PyResult<Vec<String>> {
        let token = token.any_token()?;
        let token = std::str::from_utf8(token.as_bytes()).map_err(|e| {
            to_py(
                py,
                kstoken::Error::Malformed(format!("token is not UTF-8 text: {e}")),
            )
        })?;
        detach(py, || {
            kstoken::token_text::token_cache_keys(token, &self.hash_algorithms)
        })
        .map_err(|e| to_py(py, e))
    }

    /// The longest token, CMS text or DER document accepted, in bytes.
    #[getter]
    fn max_token_len(&self) -> usize {
        self.inner.limits().max_token_len
    }

    /// The CMS profile: `keystone` (only what keystone's signer writes) or `lenient`.
    #[getter]
    fn profile(&self) -> &'static str {
        self.inner.profile().as_str()
    }

    /// The names of the hash algorithms, as the core spells them.
    #[getter]
    fn hash_algorithms(&self) -> Vec<&'static str> {
        self.hash_algorithms.iter().map(|a| a.name()).collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "<kstoken._kstoken.Verifier profile={} hash_algorithms={}>",
            self.inner.profile(),
            self.hash_algorithms
        )
    }
}

impl PyVerifier {
    /// The content of `token` verified at `at` (default now), checked against the JSON limits
    /// when `json` is set.
    fn verified<'py>(
        &self,
        py: Python<'py>,
        token: Input<'_>,
        at: Option<UnixTime>,
        json: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let token = token.token(self.inner.limits())?;
        let at = at.map_or_else(kstoken::unix_now, |t| t.0);
        let content = detach(py, || -> kstoken::Result<Vec<u8>> {
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

/// Adds `Verifier` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyVerifier>()
}
