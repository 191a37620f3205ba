//! Token forms and hashes: detection, PKI/PEM/PKIZ conversions, keystone's token-id hashes.

use kstoken::{DetectionRule, HashAlgorithms};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyBytes;

use crate::exceptions::to_py;
use crate::gate::detach;
use crate::input::Input;
use crate::limits::LimitArgs;

/// `cms_hash_token` for each algorithm: `None` unless the token is PKI (`MII`, or with `lenient`
/// the DER-header rule) or PKIZ (`PKIZ_`).
#[pyfunction]
#[pyo3(signature = (token, algorithms, lenient=false))]
fn hash_token(
    py: Python<'_>,
    token: Input<'_>,
    algorithms: Vec<PyBackedStr>,
    lenient: bool,
) -> PyResult<Option<Vec<String>>> {
    let algorithms = HashAlgorithms::from_names(&algorithms).map_err(|e| to_py(py, e))?;
    let token = token.any_token()?;
    detach(py, || {
        kstoken::token_text::hash_token_all_with(
            token.as_bytes(),
            &algorithms,
            DetectionRule::from_lenient(lenient),
        )
    })
    .map_err(|e| to_py(py, e))
}

/// `"pki"`, `"pkiz"` or `"other"` (upstream `MII`/`PKIZ_` rule, or the lenient DER rule).
#[pyfunction]
#[pyo3(signature = (token, lenient=false))]
fn detect(token: Input<'_>, lenient: bool) -> PyResult<&'static str> {
    let token = token.any_token()?;
    Ok(kstoken::detect_with(token.as_bytes(), DetectionRule::from_lenient(lenient)).as_str())
}

/// The token text without the whitespace around it, by the core's one rule (ASCII space, tab, CR
/// and LF: `kstoken::token_text::trim_token`), which every binding uses.
#[pyfunction]
fn trim_token(token: PyBackedStr) -> String {
    kstoken::token_text::trim_token_str(&token).to_owned()
}

/// PEM to PKI token text (keystoneclient `cms_to_token`).
#[pyfunction]
fn cms_to_token(py: Python<'_>, cms_text: PyBackedStr) -> String {
    detach(py, || kstoken::token_text::cms_to_token(&cms_text))
}

/// PKI token text to PEM (keystoneclient `token_to_cms`).
#[pyfunction]
fn token_to_cms(py: Python<'_>, signed_text: PyBackedStr) -> String {
    detach(py, || kstoken::token_text::token_to_cms(&signed_text))
}

/// The PEM text inside a PKIZ token.
#[pyfunction]
#[pyo3(signature = (token, max_inflated_len=None))]
fn pkiz_uncompress<'py>(
    py: Python<'py>,
    token: Input<'_>,
    max_inflated_len: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let limits = LimitArgs {
        max_inflated_len,
        ..LimitArgs::default()
    }
    .limits();
    let token = token.token(&limits)?;
    let pem = detach(py, || {
        kstoken::token_text::pkiz::uncompress(token.as_bytes(), &limits)
    })
    .map_err(|e| to_py(py, e))?;
    Ok(PyBytes::new(py, &pem))
}

/// A PKIZ token from PEM text (zlib at `level`, URL-safe base64, `PKIZ_` prefix).
#[pyfunction]
#[pyo3(signature = (pem, level=6))]
fn pkiz_compress(py: Python<'_>, pem: Input<'_>, level: u32) -> PyResult<String> {
    let pem = pem.data()?;
    detach(py, || {
        kstoken::token_text::pkiz::compress(pem.as_bytes(), level)
    })
    .map_err(|e| to_py(py, e))
}

/// Adds the form and hash functions and the prefixes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hash_token, m)?)?;
    m.add_function(wrap_pyfunction!(detect, m)?)?;
    m.add_function(wrap_pyfunction!(trim_token, m)?)?;
    m.add_function(wrap_pyfunction!(cms_to_token, m)?)?;
    m.add_function(wrap_pyfunction!(token_to_cms, m)?)?;
    m.add_function(wrap_pyfunction!(pkiz_uncompress, m)?)?;
    m.add_function(wrap_pyfunction!(pkiz_compress, m)?)?;
    m.add("PKI_ASN1_PREFIX", kstoken::token_text::PKI_ASN1_PREFIX)?;
    m.add("PKIZ_PREFIX", kstoken::token_text::PKIZ_PREFIX)?;
    Ok(())
}
