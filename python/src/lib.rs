//! Python bindings for kstoken: the private native module `kstoken._kstoken`.
//!
//! A thin layer over the `kstoken` crate, one module per concept: the core owns every rule, and
//! these modules only convert arguments and results.
//!
//! - [`verifier`], [`signer`], [`revocation`], [`validate`] (with `ValidatedToken`), [`bind`],
//!   [`forms`] (detection, PKI/PEM/PKIZ conversions, token hashes), [`pki`] (`generate_pki`).
//! - [`exceptions`]: the native exception classes, and core errors turned into the
//!   `kstoken.exceptions` subclasses that complete them.
//! - [`input`]: text and bytes arguments, length-checked before they are copied; clocks.
//! - [`limits`]: limits from keyword arguments, and the defaults the package reads.
//! - [`middleware`]: `kstoken.middleware`'s request authenticator (`Authenticator`, `Outcome`).
//! - [`gate`]: every call that releases the GIL goes through [`gate::detach`], which `os.fork()`
//!   waits for.
//!
//! The typed Python API is `python/kstoken/`; `kstoken/_kstoken.pyi` describes this module.

mod bind;
mod exceptions;
mod forms;
mod gate;
mod input;
mod limits;
mod middleware;
mod pki;
mod revocation;
mod signer;
mod validate;
mod verifier;

use pyo3::prelude::*;

/// The private native module of the `kstoken` package.
#[pymodule]
fn _kstoken(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The crate's version, which maturin also gives the wheel: `kstoken.__version__`.
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    exceptions::register(m)?;
    gate::register(m)?;
    limits::register(m)?;
    verifier::register(m)?;
    signer::register(m)?;
    revocation::register(m)?;
    validate::register(m)?;
    bind::register(m)?;
    forms::register(m)?;
    pki::register(m)?;
    middleware::register(m)?;
    Ok(())
}
