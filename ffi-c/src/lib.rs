//! C ABI for kstoken: `libkstoken.so` / `libkstoken.a` and `include/kstoken.h`.
//!
//! The conventions every function follows are described in the header's preamble
//! (`cbindgen.toml`) and in [`result`], [`bytes`] and [`panic`]:
//!
//! - every fallible function returns a [`result::kst_result`] and takes `kst_error **err` last;
//! - every function runs behind a panic boundary, silent on the host's standard error, and checks
//!   every pointer argument for NULL;
//! - input bytes are `(const uint8_t *, size_t)`, their length checked against a limit before
//!   they are read; short names are NUL-terminated C strings;
//! - outputs are cleared before any work; output bytes are library-allocated and released with
//!   [`bytes::kst_bytes_free`];
//! - shared objects (verifier, revocation list, policy, auth config, authenticator) are
//!   reference-counted handles.
#![allow(non_camel_case_types)]

pub mod auth_config;
pub mod authenticator;
pub mod bind;
pub mod bytes;
pub mod form;
pub mod hash;
pub mod identity_headers;
pub mod limits;
pub mod outcome;
pub mod panic;
pub mod policy;
pub mod result;
pub mod revocation;
pub mod signer;
pub mod validate;
pub mod verifier;
pub mod version;
