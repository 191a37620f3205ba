//! The exception classes: created here, completed in `kstoken.exceptions`, raised from here.
//!
//! Each class is created natively (`create_exception!`): this is the hierarchy every kstoken error
//! belongs to, `KstokenError` at its root. `kstoken.exceptions` subclasses each one under the same
//! name, adding what only Python can add: the constructors and attributes keystoneclient's
//! callers read (`.output`, `.reason`, `.returncode`, ...), and the bases their `except` clauses
//! name (`subprocess.CalledProcessError`, `ValueError`, keystoneclient's `CertificateConfigError`
//! and `CMSError`). The native side raises those subclasses: it looks each one up once, by its
//! native base's name, and checks that it is a subclass of that base ([`Classes`]); then it maps a
//! core [`Error`] by its [`ErrorKind`], with the words the core gives (`detail`, `openssl_reason`,
//! the limit's name). Nothing here decides what an error means.

use kstoken::body::bind::BindRejection;
use kstoken::pipeline::Rejection;
use kstoken::{Error, ErrorKind, VerifyFailure};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use pyo3::PyTypeInfo;

// Named after the module that re-exports it as is, so it keeps its public name and pickles by it.
create_exception!(
    kstoken.exceptions,
    KstokenError,
    PyException,
    "Base class of every kstoken exception."
);
create_exception!(
    kstoken._kstoken,
    CertificateConfigError,
    KstokenError,
    "The signing certificate, CA bundle or key cannot be used."
);
create_exception!(
    kstoken._kstoken,
    CMSError,
    KstokenError,
    "The token or CMS document cannot be decoded."
);
create_exception!(
    kstoken._kstoken,
    MalformedTokenError,
    CMSError,
    "A token or CMS document that is not well-formed."
);
create_exception!(
    kstoken._kstoken,
    LimitExceededError,
    MalformedTokenError,
    "An input exceeded a resource limit."
);
create_exception!(
    kstoken._kstoken,
    VerificationError,
    KstokenError,
    "A document that did not verify."
);
create_exception!(
    kstoken._kstoken,
    SigningError,
    KstokenError,
    "Signing failed."
);
create_exception!(
    kstoken._kstoken,
    PkiSetupError,
    KstokenError,
    "Generating a PKI failed inside OpenSSL."
);
create_exception!(
    kstoken._kstoken,
    InvalidArgumentError,
    KstokenError,
    "An argument kstoken does not accept."
);
create_exception!(
    kstoken._kstoken,
    BindError,
    KstokenError,
    "A token bind that the bind mode rejects."
);
create_exception!(
    kstoken._kstoken,
    TokenRejected,
    KstokenError,
    "The validation pipeline rejected a token."
);

/// The classes of `kstoken.exceptions` the native side raises, each checked to subclass its
/// native base.
struct Classes {
    certificate_config: Py<PyType>,
    malformed: Py<PyType>,
    limit: Py<PyType>,
    verification: Py<PyType>,
    signing: Py<PyType>,
    pki_setup: Py<PyType>,
    invalid_argument: Py<PyType>,
    bind: Py<PyType>,
    token_rejected: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

impl Classes {
    /// Looked up once, when the first error is raised (`kstoken.exceptions` is imported by then:
    /// the package imports it before anything can call the native module).
    fn get(py: Python<'_>) -> PyResult<&'static Classes> {
        CLASSES.get_or_try_init(py, || {
            let module = py.import("kstoken.exceptions")?;
            let class = |base: Bound<'_, PyType>| -> PyResult<Py<PyType>> {
                let name = base.name()?;
                let class = module.getattr(&name)?.cast_into::<PyType>()?;
                if !class.is_subclass(&base)? {
                    return Err(PyTypeError::new_err(format!(
                        "kstoken.exceptions.{name} is not a subclass of kstoken._kstoken.{name}"
                    )));
                }
                Ok(class.unbind())
            };
            Ok(Classes {
                certificate_config: class(CertificateConfigError::type_object(py))?,
                malformed: class(MalformedTokenError::type_object(py))?,
                limit: class(LimitExceededError::type_object(py))?,
                verification: class(VerificationError::type_object(py))?,
                signing: class(SigningError::type_object(py))?,
                pki_setup: class(PkiSetupError::type_object(py))?,
                invalid_argument: class(InvalidArgumentError::type_object(py))?,
                bind: class(BindError::type_object(py))?,
                token_rejected: class(TokenRejected::type_object(py))?,
            })
        })
    }
}

/// `openssl cms -sign`'s exit status for a key that does not match the certificate, which
/// keystoneclient's callers see as `CalledProcessError.returncode`.
const SIGNING_RETURNCODE: u8 = 3;

/// The Python exception for a core error.
pub(crate) fn to_py(py: Python<'_>, err: Error) -> PyErr {
    raised(error_object(py, &err))
}

/// The exception to raise: the one built, or the error building it failed with.
fn raised(exception: PyResult<Bound<'_, PyAny>>) -> PyErr {
    exception.map_or_else(|e| e, PyErr::from_value)
}

fn error_object<'py>(py: Python<'py>, err: &Error) -> PyResult<Bound<'py, PyAny>> {
    let classes = Classes::get(py)?;
    let detail = err.detail();
    match err.kind() {
        ErrorKind::CertificateConfig => classes.certificate_config.bind(py).call1((detail,)),
        ErrorKind::Malformed => classes.malformed.bind(py).call1((detail,)),
        ErrorKind::LimitExceeded => classes.limit.bind(py).call1((
            err.to_string(),
            err.limit_kind().map(|what| what.to_string()),
        )),
        ErrorKind::Verification => classes.verification.bind(py).call1((
            err.openssl_reason().unwrap_or_default(),
            detail,
            err.verify_failure().map(VerifyFailure::as_str),
        )),
        ErrorKind::Signing => classes.signing.bind(py).call1((SIGNING_RETURNCODE, detail)),
        ErrorKind::PkiSetup => classes.pki_setup.bind(py).call1((detail,)),
        ErrorKind::InvalidArgument => classes.invalid_argument.bind(py).call1((detail,)),
        // ErrorKind is non-exhaustive: a kind this binding does not know yet is still a kstoken error.
        _ => KstokenError::type_object(py).call1((err.to_string(),)),
    }
}

/// The `BindError` for a bind rejection (`.kind` is the core's name of the reason).
pub(crate) fn bind_error(py: Python<'_>, rejection: &BindRejection) -> PyErr {
    raised(bind_error_object(py, rejection))
}

fn bind_error_object<'py>(
    py: Python<'py>,
    rejection: &BindRejection,
) -> PyResult<Bound<'py, PyAny>> {
    Classes::get(py)?
        .bind
        .bind(py)
        .call1((rejection.as_str(), rejection.to_string()))
}

/// The `TokenRejected` for a pipeline rejection: `.step` is the core's name of the step, `.cause`
/// the exception of the error or bind rejection behind it (None for the other steps).
pub(crate) fn rejected(py: Python<'_>, rejection: Rejection) -> PyErr {
    raised(rejected_object(py, rejection))
}

fn rejected_object(py: Python<'_>, rejection: Rejection) -> PyResult<Bound<'_, PyAny>> {
    let step = rejection.step().as_str();
    let message = rejection.to_string();
    let cause = match rejection {
        Rejection::Verification(e) | Rejection::Body(e) => Some(error_object(py, &e)?),
        Rejection::Bind(b) => Some(bind_error_object(py, &b)?),
        _ => None,
    };
    Classes::get(py)?
        .token_rejected
        .bind(py)
        .call1((step, message, cause))
}

/// Adds the native classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("KstokenError", py.get_type::<KstokenError>())?;
    m.add(
        "CertificateConfigError",
        py.get_type::<CertificateConfigError>(),
    )?;
    m.add("CMSError", py.get_type::<CMSError>())?;
    m.add("MalformedTokenError", py.get_type::<MalformedTokenError>())?;
    m.add("LimitExceededError", py.get_type::<LimitExceededError>())?;
    m.add("VerificationError", py.get_type::<VerificationError>())?;
    m.add("SigningError", py.get_type::<SigningError>())?;
    m.add("PkiSetupError", py.get_type::<PkiSetupError>())?;
    m.add(
        "InvalidArgumentError",
        py.get_type::<InvalidArgumentError>(),
    )?;
    m.add("BindError", py.get_type::<BindError>())?;
    m.add("TokenRejected", py.get_type::<TokenRejected>())?;
    Ok(())
}
