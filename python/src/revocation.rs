//! `RevocationList`: keystone's revocation list, indexed by token hash and audit id.

use kstoken::revocation::{RevocationList, RevokedEntry};
use kstoken::LimitKind;
use pyo3::prelude::*;

use crate::exceptions::to_py;
use crate::gate::detach;
use crate::input::{Input, UnixTime};
use crate::limits::LimitArgs;
use crate::signer::PySigner;
use crate::verifier::PyVerifier;

/// An entry as Python sees it: `(id, expires, audit_id)`.
type EntryTuple = (Option<String>, Option<String>, Option<String>);

/// A verified revocation list, indexed by token hash and audit id.
#[pyclass(frozen, module = "kstoken._kstoken", name = "RevocationList")]
pub(crate) struct PyRevocationList {
    pub(crate) inner: RevocationList,
}

#[pymethods]
impl PyRevocationList {
    /// A list from `(id, expires, audit_id)` tuples.
    #[new]
    fn new(py: Python<'_>, entries: Vec<EntryTuple>) -> PyResult<Self> {
        let entries = entries
            .into_iter()
            .map(|(id, expires, audit_id)| RevokedEntry {
                id,
                expires,
                audit_id,
            })
            .collect();
        let inner = RevocationList::from_entries(entries).map_err(|e| to_py(py, e))?;
        Ok(PyRevocationList { inner })
    }

    /// A list from its (already verified) JSON text `{"revoked": [...]}`.
    #[staticmethod]
    #[pyo3(signature = (content, max_json_len=None, max_json_depth=None))]
    fn from_json(
        py: Python<'_>,
        content: Input<'_>,
        max_json_len: Option<usize>,
        max_json_depth: Option<usize>,
    ) -> PyResult<Self> {
        let limits = LimitArgs {
            max_json_len,
            max_json_depth,
            ..LimitArgs::default()
        }
        .limits();
        let content = content.within(&limits, LimitKind::JsonSize)?;
        let inner = detach(py, || {
            RevocationList::from_json(content.as_bytes(), &limits)
        })
        .map_err(|e| to_py(py, e))?;
        Ok(PyRevocationList { inner })
    }

    /// A list from keystone's signed response (`{"signed": "<PEM>"}` or the PEM), verified first.
    #[staticmethod]
    #[pyo3(signature = (body, verifier, at=None))]
    fn from_signed(
        py: Python<'_>,
        body: Input<'_>,
        verifier: PyRef<'_, PyVerifier>,
        at: Option<UnixTime>,
    ) -> PyResult<Self> {
        let verifier = &verifier.inner;
        // JSON around the PEM, or the PEM: the list has its own limit, checked before the copy.
        let body = body.within(verifier.limits(), LimitKind::RevocationListLength)?;
        let at = at.map_or_else(kstoken::unix_now, |t| t.0);
        let inner = detach(py, || {
            RevocationList::from_signed(body.as_bytes(), verifier, at)
        })
        .map_err(|e| to_py(py, e))?;
        Ok(PyRevocationList { inner })
    }

    /// Whether any of `hashes` or `audit_ids` is listed.
    fn is_revoked(&self, hashes: Vec<String>, audit_ids: Vec<String>) -> bool {
        self.inner.is_revoked(&hashes, &audit_ids)
    }

    /// Whether this token hash (or UUID token) is listed.
    fn contains_hash(&self, hash: &str) -> bool {
        self.inner.contains_hash(hash)
    }

    /// Whether this audit id is listed.
    fn contains_audit_id(&self, audit_id: &str) -> bool {
        self.inner.contains_audit_id(audit_id)
    }

    /// The entries as `(id, expires, audit_id)` tuples.
    fn entries(&self) -> Vec<EntryTuple> {
        self.inner
            .entries()
            .iter()
            .map(|e| (e.id.clone(), e.expires.clone(), e.audit_id.clone()))
            .collect()
    }

    /// keystone's exact JSON serialisation of the list.
    fn to_json(&self) -> String {
        kstoken::revocation::to_json(self.inner.entries())
    }

    /// keystone's signed response body `{"signed": "<PEM>"}`.
    fn sign(&self, py: Python<'_>, signer: PyRef<'_, PySigner>) -> PyResult<String> {
        let signer = &signer.inner;
        detach(py, || {
            kstoken::revocation::sign(signer, self.inner.entries())
        })
        .map_err(|e| to_py(py, e))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// Adds `RevocationList` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRevocationList>()
}
