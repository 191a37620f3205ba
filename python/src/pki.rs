//! `generate_pki`: a throw-away CA and signing certificate in `keystone-manage pki_setup`'s layout.

use kstoken::pki_setup::{PkiOptions, DEFAULT_KEY_BITS, DEFAULT_SUBJECT, DEFAULT_VALID_DAYS};
use kstoken::Error;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::exceptions::to_py;
use crate::gate::detach;

/// An option that must fit an unsigned 32-bit field; beyond that, an invalid argument (the core
/// checks the accepted range).
fn u32_option(py: Python<'_>, name: &str, value: Option<i64>, default: u32) -> PyResult<u32> {
    value.map_or(Ok(default), |v| {
        u32::try_from(v).map_err(|_| {
            to_py(
                py,
                Error::InvalidArgument(format!("{name} {v} is out of range")),
            )
        })
    })
}

/// `{"ca_cert", "ca_key", "signing_cert", "signing_key"}` as PEM bytes.
#[pyfunction]
#[pyo3(signature = (*, key_bits=None, valid_days=None, subject=None))]
fn generate_pki<'py>(
    py: Python<'py>,
    key_bits: Option<i64>,
    valid_days: Option<i64>,
    subject: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let options = PkiOptions {
        key_bits: u32_option(py, "key_bits", key_bits, DEFAULT_KEY_BITS)?,
        valid_days: u32_option(py, "valid_days", valid_days, DEFAULT_VALID_DAYS)?,
        subject: subject.unwrap_or_else(|| DEFAULT_SUBJECT.to_owned()),
    };
    let pki = detach(py, || kstoken::pki_setup::generate(&options)).map_err(|e| to_py(py, e))?;
    let files = PyDict::new(py);
    files.set_item("ca_cert", PyBytes::new(py, &pki.ca_cert_pem))?;
    files.set_item("ca_key", PyBytes::new(py, &pki.ca_key_pem))?;
    files.set_item("signing_cert", PyBytes::new(py, &pki.signing_cert_pem))?;
    files.set_item("signing_key", PyBytes::new(py, &pki.signing_key_pem))?;
    Ok(files)
}

/// The largest `valid_days` accepted now: the certificates must expire by 9999-12-31.
#[pyfunction]
fn max_valid_days() -> u32 {
    PkiOptions::max_valid_days_at(kstoken::unix_now())
}

/// Adds `generate_pki` and `max_valid_days` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(generate_pki, m)?)?;
    m.add_function(wrap_pyfunction!(max_valid_days, m)?)
}
