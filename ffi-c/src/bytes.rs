//! Byte buffers across the boundary: borrowed inputs and library-allocated outputs.
//!
//! Inputs are `(const uint8_t *data, size_t len)` pairs, borrowed for the duration of the call;
//! short text arguments (algorithm names, bind modes, user names) are NUL-terminated UTF-8.
//!
//! Outputs are written to `uint8_t **out, size_t *out_len`: the library allocates the buffer,
//! the caller owns it and releases it with [`kst_bytes_free`]. Each output buffer is followed by
//! a NUL byte that `*out_len` does not count, so textual outputs (tokens, PEM, JSON, hex) can be
//! used directly as C strings. On failure `*out` is NULL and `*out_len` is 0.

use std::ffi::{c_char, CStr};
use std::mem::size_of;
use std::ptr::{self, NonNull};

use crate::panic::boundary_void;
use crate::result::Failure;

/// Bytes stored in front of each output buffer: its length.
const HEADER: usize = size_of::<usize>();

/// A borrowed input buffer; NULL is `KST_NULL_PARAMETER` whatever `len` is.
///
/// # Safety
/// A non-NULL `data` points to `len` readable bytes that stay valid and unmodified for `'a`.
pub(crate) unsafe fn input<'a>(
    data: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
    if data.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL, and the caller guarantees `len` readable bytes for `'a`.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// An optional borrowed input buffer: NULL is `None`.
///
/// # Safety
/// As [`input`].
pub(crate) unsafe fn optional_input<'a>(data: *const u8, len: usize) -> Option<&'a [u8]> {
    if data.is_null() {
        None
    } else {
        // SAFETY: non-NULL, and the caller guarantees `len` readable bytes for `'a`.
        Some(unsafe { std::slice::from_raw_parts(data, len) })
    }
}

/// A borrowed NUL-terminated UTF-8 string; NULL is `KST_NULL_PARAMETER`, bad UTF-8
/// `KST_INVALID_ARGUMENT`.
///
/// # Safety
/// A non-NULL `s` points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn input_str<'a>(s: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if s.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL and NUL-terminated, per the caller.
    let s = unsafe { CStr::from_ptr(s) };
    s.to_str()
        .map_err(|_| Failure::invalid(format!("argument `{name}` is not UTF-8")))
}

/// An optional borrowed NUL-terminated UTF-8 string: NULL is `None`.
///
/// # Safety
/// As [`input_str`].
pub(crate) unsafe fn optional_str<'a>(
    s: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if s.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { input_str(s, name) }.map(Some)
    }
}

/// A borrowed handle; NULL is `KST_NULL_PARAMETER`.
///
/// # Safety
/// A non-NULL `handle` points to a live object of this library that outlives `'a`.
pub(crate) unsafe fn input_ref<'a, T>(handle: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: NULL or a live object, per the caller.
    unsafe { handle.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// An optional borrowed handle: NULL is `None`.
///
/// # Safety
/// As [`input_ref`].
pub(crate) unsafe fn optional_ref<'a, T>(handle: *const T) -> Option<&'a T> {
    // SAFETY: NULL or a live object, per the caller.
    unsafe { handle.as_ref() }
}

/// A checked handle out-parameter (`T **out`), cleared to NULL on creation.
pub(crate) struct OutHandle<T>(OutPtr<*mut T>);

impl<T> OutHandle<T> {
    /// Checks `out` for NULL and clears it.
    ///
    /// # Safety
    /// A non-NULL `out` is valid for writing a pointer.
    pub(crate) unsafe fn new(out: *mut *mut T) -> Result<Self, Failure> {
        let out = OutPtr::new(out, "out")?;
        // SAFETY: non-NULL and writable per the caller.
        unsafe { out.set(ptr::null_mut()) };
        Ok(OutHandle(out))
    }

    /// Hands `value` to the caller as a new handle.
    ///
    /// # Safety
    /// As [`OutHandle::new`].
    pub(crate) unsafe fn set(&self, value: T) {
        // SAFETY: writable per the caller of `new`; the caller now owns the box.
        unsafe { self.0.set(Box::into_raw(Box::new(value))) }
    }
}

/// Drops a handle created by [`OutHandle::set`]; NULL is ignored.
///
/// # Safety
/// `handle` is NULL or came from [`OutHandle::set`] and is not used afterwards.
pub(crate) unsafe fn free_handle<T>(handle: *mut T) {
    boundary_void(|| {
        if !handle.is_null() {
            // SAFETY: per the caller, `handle` is an unfreed `Box::into_raw` result.
            drop(unsafe { Box::from_raw(handle) });
        }
    })
}

/// A checked out-parameter: non-NULL, written only through [`OutPtr::set`].
pub(crate) struct OutPtr<T>(NonNull<T>);

impl<T> OutPtr<T> {
    /// Checks `p` for NULL.
    pub(crate) fn new(p: *mut T, name: &str) -> Result<Self, Failure> {
        NonNull::new(p)
            .map(OutPtr)
            .ok_or_else(|| Failure::null(name))
    }

    /// Writes `value`, without reading or dropping the old contents.
    ///
    /// # Safety
    /// The pointer given to [`OutPtr::new`] is valid for writing a `T`.
    pub(crate) unsafe fn set(&self, value: T) {
        // SAFETY: non-NULL by construction, writable per the caller.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// A checked `(uint8_t **out, size_t *out_len)` pair, cleared to `(NULL, 0)` on creation.
pub(crate) struct OutBytes {
    data: OutPtr<*mut u8>,
    len: OutPtr<usize>,
}

impl OutBytes {
    /// Checks both pointers for NULL and clears them.
    ///
    /// # Safety
    /// Non-NULL `data` and `len` are valid for writing a pointer and a `size_t`.
    pub(crate) unsafe fn new(data: *mut *mut u8, len: *mut usize) -> Result<Self, Failure> {
        let out = OutBytes {
            data: OutPtr::new(data, "out")?,
            len: OutPtr::new(len, "out_len")?,
        };
        // SAFETY: both are non-NULL and writable per the caller.
        unsafe {
            out.data.set(ptr::null_mut());
            out.len.set(0);
        }
        Ok(out)
    }

    /// Hands a copy of `bytes` to the caller.
    ///
    /// # Safety
    /// As [`OutBytes::new`].
    pub(crate) unsafe fn set(&self, bytes: &[u8]) {
        let buffer = alloc(bytes);
        // SAFETY: writable per the caller of `new`; the caller now owns `buffer`.
        unsafe {
            self.data.set(buffer);
            self.len.set(bytes.len());
        }
    }
}

/// A library-allocated copy of `bytes`: `[len: usize][bytes][NUL]`, returned as a pointer to
/// `bytes`.
fn alloc(bytes: &[u8]) -> *mut u8 {
    let mut buffer = Vec::with_capacity(HEADER + bytes.len() + 1);
    buffer.extend_from_slice(&bytes.len().to_ne_bytes());
    buffer.extend_from_slice(bytes);
    buffer.push(0);
    let base = Box::into_raw(buffer.into_boxed_slice()).cast::<u8>();
    // SAFETY: the allocation is HEADER + len + 1 bytes long, so base + HEADER is in bounds.
    unsafe { base.add(HEADER) }
}

/// Releases a buffer this library returned through an `out`/`out_len` pair. NULL is ignored.
///
/// # Safety
/// `data` is NULL or a buffer from this library not yet freed; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kst_bytes_free(data: *mut u8) {
    boundary_void(|| {
        if data.is_null() {
            return;
        }
        // SAFETY: `data` came from `alloc`, so HEADER bytes before it hold the length and start
        // the allocation of HEADER + len + 1 bytes, which `Box<[u8]>` owned.
        unsafe {
            let base = data.sub(HEADER);
            let len = usize::from_ne_bytes(base.cast::<[u8; HEADER]>().read_unaligned());
            let total = HEADER + len + 1;
            drop(Box::from_raw(ptr::slice_from_raw_parts_mut(base, total)));
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn output_buffers_are_nul_terminated_and_freed() {
        let mut data: *mut u8 = ptr::null_mut();
        let mut len = 99usize;
        // SAFETY: locals are valid out-parameters; the buffer is read within its length + 1.
        unsafe {
            let out = OutBytes::new(&mut data, &mut len).unwrap();
            assert!(data.is_null());
            assert_eq!(len, 0);
            out.set(b"hello");
            assert_eq!(len, 5);
            assert_eq!(std::slice::from_raw_parts(data, 6), b"hello\0");
            kst_bytes_free(data);
            out.set(b"");
            assert_eq!(len, 0);
            assert_eq!(*data, 0);
            kst_bytes_free(data);
            kst_bytes_free(ptr::null_mut());
        }
    }

    #[test]
    fn null_pointers_are_reported() {
        let mut data: *mut u8 = ptr::null_mut();
        // SAFETY: NULL is the case under test; the other pointer is a valid local.
        unsafe {
            assert!(input(ptr::null(), 3, "x").is_err());
            assert!(input_str(ptr::null(), "x").is_err());
            assert_eq!(optional_str(ptr::null(), "x").unwrap(), None);
            assert!(optional_input(ptr::null(), 1).is_none());
            assert!(OutBytes::new(&mut data, ptr::null_mut()).is_err());
            assert!(OutBytes::new(ptr::null_mut(), ptr::null_mut()).is_err());
            assert!(input_str(c"\xff".as_ptr(), "x").is_err());
        }
    }
}
