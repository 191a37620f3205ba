//! `Signer`: a certificate and its key, parsed once, shared between threads.

use kstoken::{ContentMode, HashAlgorithm, LimitKind};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::exceptions::to_py;
use crate::gate::detach;
use crate::input::{Data, Input};
use crate::limits::LimitArgs;

/// A signer built from a PEM certificate and an unencrypted PEM key; shareable between threads.
#[pyclass(frozen, module = "kstoken._kstoken", name = "Signer")]
pub(crate) struct PySigner {
    pub(crate) inner: kstoken::Signer,
}

#[pymethods]
impl PySigner {
    #[new]
    #[pyo3(signature = (cert, key, *, digest="sha256", binary=false, max_credential_len=None, max_content_len=None))]
    fn new(
        py: Python<'_>,
        cert: Input<'_>,
        key: Input<'_>,
        digest: &str,
        binary: bool,
        max_credential_len: Option<usize>,
        max_content_len: Option<usize>,
    ) -> PyResult<Self> {
        let digest: HashAlgorithm = digest.parse().map_err(|e| to_py(py, e))?;
        let mode = if binary {
            ContentMode::Binary
        } else {
            ContentMode::Text
        };
        let limits = LimitArgs {
            max_credential_len,
            max_content_len,
            ..LimitArgs::default()
        }
        .limits();
        let cert = cert.within(&limits, LimitKind::CredentialLength)?;
        let key = key.within(&limits, LimitKind::CredentialLength)?;
        let inner = detach(py, || {
            kstoken::Signer::new_with_limits(cert.as_bytes(), key.as_bytes(), limits)
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
    fn sign_cms(&self, py: Python<'_>, data: Input<'_>) -> PyResult<String> {
        let data = self.content(data)?;
        detach(py, || self.inner.sign_pem(data.as_bytes())).map_err(|e| to_py(py, e))
    }

    /// Signs `data`; returns CMS DER.
    fn sign_der<'py>(&self, py: Python<'py>, data: Input<'_>) -> PyResult<Bound<'py, PyBytes>> {
        let data = self.content(data)?;
        let der = detach(py, || self.inner.sign_der(data.as_bytes())).map_err(|e| to_py(py, e))?;
        Ok(PyBytes::new(py, &der))
    }

    /// Signs `data`; returns a PKI token.
    fn sign_pki(&self, py: Python<'_>, data: Input<'_>) -> PyResult<String> {
        let data = self.content(data)?;
        detach(py, || self.inner.sign_pki(data.as_bytes())).map_err(|e| to_py(py, e))
    }

    /// Signs `data`; returns a PKIZ token (zlib at `level`).
    #[pyo3(signature = (data, level=6))]
    fn sign_pkiz(&self, py: Python<'_>, data: Input<'_>, level: u32) -> PyResult<String> {
        let data = self.content(data)?;
        detach(py, || {
            self.inner.sign_pkiz_with_level(data.as_bytes(), level)
        })
        .map_err(|e| to_py(py, e))
    }

    fn __repr__(&self) -> String {
        format!(
            "<kstoken._kstoken.Signer digest={}>",
            self.inner.digest().name()
        )
    }
}

impl PySigner {
    /// Content to sign, within the signer's `max_content_len`.
    fn content(&self, data: Input<'_>) -> PyResult<Data> {
        data.within(self.inner.limits(), LimitKind::ContentLength)
    }
}

/// Adds `Signer` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySigner>()
}
