//! Resource limits given as keyword arguments (`max_token_len=...`), each `None` the core's default.

use kstoken::{LimitKind, Limits};
use pyo3::prelude::*;

/// The keyword arguments that set [`Limits`] fields; `None` keeps the default.
#[derive(Default)]
pub(crate) struct LimitArgs {
    pub(crate) max_token_len: Option<usize>,
    pub(crate) max_inflated_len: Option<usize>,
    pub(crate) max_json_len: Option<usize>,
    pub(crate) max_json_depth: Option<usize>,
    pub(crate) max_credential_len: Option<usize>,
    pub(crate) max_content_len: Option<usize>,
}

impl LimitArgs {
    /// The default limits with the given ones replaced.
    pub(crate) fn limits(self) -> Limits {
        let d = Limits::default();
        Limits {
            max_token_len: self.max_token_len.unwrap_or(d.max_token_len),
            max_inflated_len: self.max_inflated_len.unwrap_or(d.max_inflated_len),
            max_json_len: self.max_json_len.unwrap_or(d.max_json_len),
            max_json_depth: self.max_json_depth.unwrap_or(d.max_json_depth),
            max_credential_len: self.max_credential_len.unwrap_or(d.max_credential_len),
            max_content_len: self.max_content_len.unwrap_or(d.max_content_len),
            max_revocation_list_len: d.max_revocation_list_len,
        }
    }
}

/// The longest certificate, key or bundle accepted with this `max_credential_len` (default when
/// `None`; the core caps it at what OpenSSL takes): the bound the package reads files with.
#[pyfunction]
#[pyo3(signature = (max_credential_len=None))]
fn credential_limit(max_credential_len: Option<usize>) -> usize {
    LimitArgs {
        max_credential_len,
        ..LimitArgs::default()
    }
    .limits()
    .max(LimitKind::CredentialLength)
}

/// Adds the default limits the Python package reads (`DEFAULT_MAX_TOKEN_LEN`,
/// `DEFAULT_MAX_CREDENTIAL_LEN`) and `credential_limit` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DEFAULT_MAX_TOKEN_LEN", Limits::default().max_token_len)?;
    m.add("DEFAULT_MAX_CREDENTIAL_LEN", credential_limit(None))?;
    m.add_function(wrap_pyfunction!(credential_limit, m)?)
}
