//! `kst_signer`: signs token bodies into PKI tokens, PKIZ tokens and CMS PEM.

use std::ffi::c_char;

use kstoken::{ContentMode, HashAlgorithm, Signer};

use crate::bytes::{free_handle, input, input_ref, optional_str, OutBytes, OutHandle};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result, Failure};

/// A signer: a signing certificate and its private key, a digest and a content mode.
///
/// Thread-safe: one signer may be used from any number of threads at once. Only
/// `kst_signer_free` needs exclusive access.
pub struct kst_signer {
    inner: Signer,
}

/// Parses a hash algorithm name (`md5`, `sha1`, `sha224`, `sha256`, `sha384`, `sha512`,
/// case-insensitive, dash optional); unknown names are `KST_INVALID_ARGUMENT`.
pub(crate) fn algorithm(name: &str) -> Result<HashAlgorithm, Failure> {
    Ok(name.parse::<HashAlgorithm>()?)
}

/// Creates a signer from a PEM certificate and its PEM private key (RSA or EC, PKCS#1 or
/// PKCS#8). `digest` names the CMS digest (`sha1`, `sha224`, `sha256`, `sha384`, `sha512`;
/// NULL means `sha256`, keystoneclient's default). With `binary` false the content is signed in
/// text mode, as `openssl cms -sign` without `-binary` (keystone's behaviour); with `binary` true
/// the bytes are signed as given. Free it with `kst_signer_free`.
///
/// Errors: `KST_CERTIFICATE_CONFIG` (unreadable certificate or key), `KST_SIGNING` (the key does
/// not match the certificate), `KST_INVALID_ARGUMENT` (unknown digest name, or `md5`),
/// `KST_LIMIT_EXCEEDED` (a certificate or key over 16 MiB, refused before it is read).
///
/// # Safety
/// `cert`/`key` point to `*_len` readable bytes; `digest` is NULL or a NUL-terminated string;
/// `out` is valid for writing a pointer; `err` is NULL or valid for writing a pointer.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn kst_signer_new(
    cert: *const u8,
    cert_len: usize,
    key: *const u8,
    key_len: usize,
    digest: *const c_char,
    binary: bool,
    out: *mut *mut kst_signer,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, cert, key, digest) = unsafe {
            (
                OutHandle::new(out)?,
                input(cert, cert_len, "cert")?,
                input(key, key_len, "key")?,
                optional_str(digest, "digest")?,
            )
        };
        let mut inner = Signer::new(cert, key)?;
        if let Some(digest) = digest {
            inner = inner.with_digest(algorithm(digest)?)?;
        }
        if binary {
            inner = inner.with_content_mode(ContentMode::Binary);
        }
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(kst_signer { inner }) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// The output forms of a signature.
#[derive(Clone, Copy)]
enum Form {
    Pki,
    Pkiz,
    Pem,
    Der,
}

/// Signs `data` into `form` and hands the result to the caller.
///
/// # Safety
/// As the `kst_signer_sign_*` functions.
unsafe fn sign(
    signer: *const kst_signer,
    data: *const u8,
    data_len: usize,
    form: Form,
    out: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers and lengths are valid as the caller guarantees (# Safety).
        let (out, signer, data) = unsafe {
            (
                OutBytes::new(out, out_len)?,
                input_ref(signer, "signer")?,
                input(data, data_len, "data")?,
            )
        };
        let signer = &signer.inner;
        let signed = match form {
            Form::Pki => signer.sign_pki(data)?.into_bytes(),
            Form::Pkiz => signer.sign_pkiz(data)?.into_bytes(),
            Form::Pem => signer.sign_pem(data)?.into_bytes(),
            Form::Der => signer.sign_der(data)?,
        };
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(&signed) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Signs `data` (a token body) into a PKI token (`MII...`), written to `*out`/`*out_len` and
/// freed with `kst_bytes_free`. `data` over 1 MiB is `KST_LIMIT_EXCEEDED`, refused before
/// anything is allocated.
///
/// # Safety
/// `signer` is a live signer; `data` points to `data_len` readable bytes; `out`/`out_len` are
/// valid for writes; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_signer_sign_pki(
    signer: *const kst_signer,
    data: *const u8,
    data_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe { sign(signer, data, data_len, Form::Pki, out, out_len, err) }
}

/// Signs `data` into a PKIZ token (`PKIZ_...`), as `kst_signer_sign_pki`.
///
/// # Safety
/// As `kst_signer_sign_pki`.
#[no_mangle]
pub unsafe extern "C" fn kst_signer_sign_pkiz(
    signer: *const kst_signer,
    data: *const u8,
    data_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe { sign(signer, data, data_len, Form::Pkiz, out, out_len, err) }
}

/// Signs `data` into CMS PEM text (`-----BEGIN CMS-----`), byte-identical to
/// `openssl cms -sign -outform PEM -nodetach -nocerts -noattr`, as
/// `kst_signer_sign_pki`.
///
/// # Safety
/// As `kst_signer_sign_pki`.
#[no_mangle]
pub unsafe extern "C" fn kst_signer_sign_pem(
    signer: *const kst_signer,
    data: *const u8,
    data_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe { sign(signer, data, data_len, Form::Pem, out, out_len, err) }
}

/// Signs `data` into CMS DER (binary; the trailing NUL is still appended but not counted), as
/// `kst_signer_sign_pki`.
///
/// # Safety
/// As `kst_signer_sign_pki`.
#[no_mangle]
pub unsafe extern "C" fn kst_signer_sign_der(
    signer: *const kst_signer,
    data: *const u8,
    data_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe { sign(signer, data, data_len, Form::Der, out, out_len, err) }
}

/// Releases a signer. NULL is ignored.
///
/// # Safety
/// `signer` is NULL or a signer from this library, not used by any thread afterwards.
#[no_mangle]
pub unsafe extern "C" fn kst_signer_free(signer: *mut kst_signer) {
    // SAFETY: per the caller.
    unsafe { free_handle(signer) }
}
