//! Arguments from Python: text or bytes checked against a limit before they are copied, and clocks.
//!
//! A `str` is copied when it is encoded as UTF-8 (and a `bytearray` when it is borrowed), so every
//! entry point with a limit takes an [`Input`] and checks its Python length first: the number of
//! bytes, or of characters of a `str`, whose UTF-8 form is never shorter. The core checks the
//! exact length again.

use kstoken::{Error, LimitKind, Limits};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyUnicodeEncodeError};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyByteArray, PyBytes, PyString};

use crate::exceptions::to_py;

/// A `str`, `bytes` or `bytearray` argument, not yet converted.
pub(crate) struct Input<'py>(Bound<'py, PyAny>);

impl<'py> FromPyObject<'_, 'py> for Input<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<PyBytes>()
            || obj.is_instance_of::<PyString>()
            || obj.is_instance_of::<PyByteArray>()
        {
            Ok(Input(obj.to_owned()))
        } else {
            Err(PyTypeError::new_err(format!(
                "expected str, bytes or bytearray, not {}",
                obj.get_type().name()?
            )))
        }
    }
}

impl Input<'_> {
    /// The bytes, after checking the length against `limits`' maximum for `what`.
    pub(crate) fn within(self, limits: &Limits, what: LimitKind) -> PyResult<Data> {
        self.check(limits, what)?;
        self.data()
    }

    /// A token's bytes within `limits.max_token_len`; a `str` that is not UTF-8 text (a lone
    /// surrogate) is a malformed token.
    pub(crate) fn token(self, limits: &Limits) -> PyResult<Data> {
        self.check(limits, LimitKind::TokenLength)?;
        self.any_token()
    }

    /// A token's bytes where the core applies no limit (hashing and detection, which read the
    /// caller's token once); a `str` that is not UTF-8 text is a malformed token.
    pub(crate) fn any_token(self) -> PyResult<Data> {
        let py = self.0.py();
        self.data().map_err(|e| {
            if e.is_instance_of::<PyUnicodeEncodeError>(py) {
                to_py(
                    py,
                    Error::Malformed(format!("token is not UTF-8 text: {e}")),
                )
            } else {
                e
            }
        })
    }

    /// `Ok` when the Python length is within `limits`' maximum for `what`.
    pub(crate) fn check(&self, limits: &Limits, what: LimitKind) -> PyResult<()> {
        let py = self.0.py();
        limits.check(what, self.len()?).map_err(|e| to_py(py, e))
    }

    /// The Python length: bytes, or characters of a `str` (never more than its UTF-8 bytes).
    pub(crate) fn len(&self) -> PyResult<usize> {
        self.0.len()
    }

    /// The bytes, without a limit (for inputs no limit applies to).
    pub(crate) fn data(self) -> PyResult<Data> {
        match self.0.cast_into::<PyString>() {
            Ok(text) => Ok(Data::Str(PyBackedStr::try_from(text)?)),
            Err(other) => Ok(Data::Bytes(other.into_inner().extract::<PyBackedBytes>()?)),
        }
    }

    /// The bytes, a `str` that is not UTF-8 text (a lone surrogate) with each surrogate replaced
    /// by U+FFFD.
    pub(crate) fn lossy(self) -> PyResult<Data> {
        match self.0.cast_into::<PyString>() {
            Ok(text) => match PyBackedStr::try_from(text.clone()) {
                Ok(s) => Ok(Data::Str(s)),
                Err(_) => Ok(Data::Owned(
                    text.to_string_lossy().into_owned().into_bytes(),
                )),
            },
            Err(other) => Ok(Data::Bytes(other.into_inner().extract::<PyBackedBytes>()?)),
        }
    }
}

/// Text or bytes from Python: `bytes`, `bytearray` or `str` (UTF-8).
pub(crate) enum Data {
    /// `bytes` (borrowed) or `bytearray` (copied).
    Bytes(PyBackedBytes),
    /// The UTF-8 form of a `str`.
    Str(PyBackedStr),
    /// Bytes made here.
    Owned(Vec<u8>),
}

impl Data {
    /// The bytes (the UTF-8 form of a `str`).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Data::Bytes(b) => b,
            Data::Str(s) => s.as_bytes(),
            Data::Owned(v) => v,
        }
    }
}

/// A clock in Unix seconds (`at`, `now`): an `int`. One that does not fit 64 bits is out of range
/// like any clock outside the years 1 to 9999, an invalid argument (the core checks the rest).
#[derive(Clone, Copy)]
pub(crate) struct UnixTime(pub(crate) i64);

impl FromPyObject<'_, '_> for UnixTime {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        let py = obj.py();
        obj.extract::<i64>().map(UnixTime).map_err(|e| {
            if e.is_instance_of::<PyOverflowError>(py) {
                to_py(
                    py,
                    Error::InvalidArgument(format!(
                        "time {} is out of range (Unix seconds do not fit 64 bits)",
                        obj.to_owned()
                    )),
                )
            } else {
                e
            }
        })
    }
}
