//! Arguments across the boundary: borrowed inputs, checked before they are read; outputs, cleared
//! before any work; handles.
//!
//! Inputs are `(const uint8_t *data, size_t len)` pairs, borrowed for the duration of the call.
//! [`input`] is the only way to turn one into a slice, and it takes the limit the length is checked
//! against ([`Cap`]) before a byte is read: no entry point can forget the check, and a length such
//! as `SIZE_MAX` next to a small buffer is refused without touching the buffer. Short text arguments
//! (algorithm names, bind modes, user names) are NUL-terminated UTF-8, read at most
//! [`KST_MAX_TEXT_LEN`] bytes far.
//!
//! Outputs are written to `uint8_t **out, size_t *out_len` (the library allocates the buffer, the
//! caller owns it and releases it with [`kst_bytes_free`]), to `T **out` for handles and to `T *out`
//! for values. Every entry point clears each writable output (NULL, 0, the zero value) before it
//! checks anything else, so on any error `*out` is NULL and `*out_len` is 0 wherever the pointer
//! was writable, even when the other one was NULL. Each output buffer is followed by a NUL byte that
//! `*out_len` does not count, so textual outputs (tokens, PEM, JSON, hex) can be used directly as C
//! strings.
//!
//! Handles are `Box`-owned ([`OutBox`], one owner, freed once) or `Arc`-backed ([`OutArc`]: shared,
//! `*_clone` takes a reference and each `*_free` drops one).

use std::ffi::c_char;
use std::mem::size_of;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use kstoken::{LimitKind, Limits};

use crate::panic::boundary_void;
use crate::result::{kst_result, Failure};

/// The longest NUL-terminated text argument read, terminator excluded: far above any algorithm
/// list, bind mode, user name, hash or audit id, and small enough that a missing terminator costs
/// little.
pub const KST_MAX_TEXT_LEN: usize = 64 << 10;

/// The limit an input's length is checked against before the input is read: one of [`Limits`].
#[derive(Clone, Copy)]
pub(crate) struct Cap<'l> {
    limits: &'l Limits,
    kind: LimitKind,
}

impl<'l> Cap<'l> {
    /// The limit `kind` of `limits`.
    pub(crate) fn new(limits: &'l Limits, kind: LimitKind) -> Self {
        Cap { limits, kind }
    }

    /// `Ok` if `len` bytes are within the limit and can be one slice.
    fn check(self, len: usize) -> Result<(), Failure> {
        self.limits.check(self.kind, len)?;
        // Configured limits may be anything; a Rust slice may not span more than `isize::MAX`.
        if len > isize::MAX as usize {
            return Err(Failure::new(
                kst_result::KST_LIMIT_EXCEEDED,
                format!("{} of {len} bytes is longer than any buffer", self.kind),
            ));
        }
        Ok(())
    }
}

/// A borrowed input buffer of at most `cap` bytes; NULL is `KST_NULL_PARAMETER` whatever `len` is,
/// a longer `len` `KST_LIMIT_EXCEEDED`; neither reads the buffer.
///
/// # Safety
/// A non-NULL `data` whose `len` is within `cap` points to `len` readable bytes that stay valid and
/// unmodified for `'a`.
pub(crate) unsafe fn input<'a>(
    data: *const u8,
    len: usize,
    name: &str,
    cap: Cap<'_>,
) -> Result<&'a [u8], Failure> {
    // SAFETY: forwarded from the caller.
    unsafe { optional_input(data, len, cap) }?.ok_or_else(|| Failure::null(name))
}

/// An optional borrowed input buffer: NULL is `None`; otherwise as [`input`].
///
/// # Safety
/// As [`input`].
pub(crate) unsafe fn optional_input<'a>(
    data: *const u8,
    len: usize,
    cap: Cap<'_>,
) -> Result<Option<&'a [u8]>, Failure> {
    if data.is_null() {
        return Ok(None);
    }
    cap.check(len)?;
    // SAFETY: non-NULL, at most isize::MAX bytes, and the caller guarantees `len` readable bytes
    // for `'a`.
    Ok(Some(unsafe { std::slice::from_raw_parts(data, len) }))
}

/// A borrowed NUL-terminated UTF-8 string of at most [`KST_MAX_TEXT_LEN`] bytes; NULL is
/// `KST_NULL_PARAMETER`, no NUL within the bound `KST_LIMIT_EXCEEDED`, bad UTF-8
/// `KST_INVALID_ARGUMENT`.
///
/// # Safety
/// A non-NULL `s` points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn input_str<'a>(s: *const c_char, name: &str) -> Result<&'a str, Failure> {
    // SAFETY: forwarded from the caller.
    unsafe { optional_str(s, name) }?.ok_or_else(|| Failure::null(name))
}

/// An optional borrowed NUL-terminated UTF-8 string: NULL is `None`; otherwise as [`input_str`].
///
/// # Safety
/// As [`input_str`].
pub(crate) unsafe fn optional_str<'a>(
    s: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if s.is_null() {
        return Ok(None);
    }
    let s = s.cast::<u8>();
    let mut len = 0;
    // SAFETY: the string is NUL-terminated, so every byte up to and including the NUL is
    // readable; the loop stops at the NUL or after KST_MAX_TEXT_LEN + 1 bytes.
    while len <= KST_MAX_TEXT_LEN && unsafe { s.add(len).read() } != 0 {
        len += 1;
    }
    if len > KST_MAX_TEXT_LEN {
        return Err(Failure::new(
            kst_result::KST_LIMIT_EXCEEDED,
            format!("argument `{name}` is longer than {KST_MAX_TEXT_LEN} bytes"),
        ));
    }
    // SAFETY: the `len` bytes before the NUL were just read.
    let bytes = unsafe { std::slice::from_raw_parts(s, len) };
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|_| Failure::invalid(format!("argument `{name}` is not UTF-8")))
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

/// A checked out-parameter, cleared on creation and written only through [`Out::set`].
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Writes `cleared` to a non-NULL `p`, then fails if `p` is NULL.
    ///
    /// # Safety
    /// A non-NULL `p` is valid for writing a `T`.
    pub(crate) unsafe fn new(p: *mut T, name: &str, cleared: T) -> Result<Self, Failure> {
        let out = NonNull::new(p)
            .map(Out)
            .ok_or_else(|| Failure::null(name))?;
        // SAFETY: non-NULL and writable per the caller.
        unsafe { out.set(cleared) };
        Ok(out)
    }

    /// Writes `value`, without reading or dropping the old contents.
    ///
    /// # Safety
    /// The pointer given to [`Out::new`] is valid for writing a `T`.
    pub(crate) unsafe fn set(&self, value: T) {
        // SAFETY: non-NULL by construction, writable per the caller.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// A checked `T **out` for a `Box`-owned handle, cleared to NULL on creation.
pub(crate) struct OutBox<T>(Out<*mut T>);

impl<T> OutBox<T> {
    /// Clears a non-NULL `out`, then fails if it is NULL.
    ///
    /// # Safety
    /// A non-NULL `out` is valid for writing a pointer.
    pub(crate) unsafe fn new(out: *mut *mut T) -> Result<Self, Failure> {
        // SAFETY: forwarded from the caller.
        unsafe { Out::new(out, "out", ptr::null_mut()) }.map(OutBox)
    }

    /// Hands `value` to the caller as a new handle, released with [`free_box`].
    ///
    /// # Safety
    /// As [`OutBox::new`].
    pub(crate) unsafe fn set(&self, value: T) {
        // SAFETY: writable per the caller of `new`; the caller now owns the box.
        unsafe { self.0.set(Box::into_raw(Box::new(value))) }
    }
}

/// Drops a handle created by [`OutBox::set`]; NULL is ignored.
///
/// # Safety
/// `handle` is NULL or came from [`OutBox::set`] and is not used afterwards.
pub(crate) unsafe fn free_box<T>(handle: *mut T) {
    boundary_void(|| {
        if !handle.is_null() {
            // SAFETY: per the caller, `handle` is an unfreed `Box::into_raw` result.
            drop(unsafe { Box::from_raw(handle) });
        }
    })
}

/// A checked `const T **out` for a reference-counted handle, cleared to NULL on creation.
pub(crate) struct OutArc<T>(Out<*const T>);

impl<T> OutArc<T> {
    /// Clears a non-NULL `out`, then fails if it is NULL.
    ///
    /// # Safety
    /// A non-NULL `out` is valid for writing a pointer.
    pub(crate) unsafe fn new(out: *mut *const T) -> Result<Self, Failure> {
        // SAFETY: forwarded from the caller.
        unsafe { Out::new(out, "out", ptr::null()) }.map(OutArc)
    }

    /// Hands the caller one reference to `value`, released with [`free_arc`].
    ///
    /// # Safety
    /// As [`OutArc::new`].
    pub(crate) unsafe fn set(&self, value: Arc<T>) {
        // SAFETY: writable per the caller of `new`; the caller now owns one reference.
        unsafe { self.0.set(Arc::into_raw(value)) }
    }
}

/// One more reference to a handle from [`OutArc::set`]: the same pointer, NULL for NULL.
///
/// # Safety
/// `handle` is NULL or a live handle from [`OutArc::set`] (the caller holds a reference).
pub(crate) unsafe fn clone_arc<T>(handle: *const T) -> *const T {
    crate::panic::boundary_value(ptr::null(), || {
        if !handle.is_null() {
            // SAFETY: per the caller, `handle` came from `Arc::into_raw` and is still referenced.
            unsafe { Arc::increment_strong_count(handle) };
        }
        handle
    })
}

/// Drops one reference to a handle from [`OutArc::set`] or [`clone_arc`]; NULL is ignored. The
/// object goes with its last reference.
///
/// # Safety
/// `handle` is NULL or a handle from [`OutArc::set`] or [`clone_arc`] whose reference the caller
/// holds and does not use afterwards.
pub(crate) unsafe fn free_arc<T>(handle: *const T) {
    boundary_void(|| {
        if !handle.is_null() {
            // SAFETY: per the caller, one reference of `Arc::into_raw` origin is released once.
            unsafe { Arc::decrement_strong_count(handle) };
        }
    })
}

/// A checked `(uint8_t **out, size_t *out_len)` pair, cleared to `(NULL, 0)` on creation.
pub(crate) struct OutBytes {
    data: NonNull<*mut u8>,
    len: NonNull<usize>,
}

impl OutBytes {
    /// Clears whichever of the two pointers is non-NULL, then fails if either is NULL.
    ///
    /// # Safety
    /// Non-NULL `data` and `len` are valid for writing a pointer and a `size_t`.
    pub(crate) unsafe fn new(data: *mut *mut u8, len: *mut usize) -> Result<Self, Failure> {
        // SAFETY: each is NULL or writable, per the caller; both are cleared before either is
        // reported NULL.
        unsafe {
            if !data.is_null() {
                data.write(ptr::null_mut());
            }
            if !len.is_null() {
                len.write(0);
            }
        }
        Ok(OutBytes {
            data: NonNull::new(data).ok_or_else(|| Failure::null("out"))?,
            len: NonNull::new(len).ok_or_else(|| Failure::null("out_len"))?,
        })
    }

    /// Hands a copy of `bytes` to the caller.
    ///
    /// # Safety
    /// As [`OutBytes::new`].
    pub(crate) unsafe fn set(&self, bytes: &[u8]) {
        let buffer = alloc(bytes);
        // SAFETY: writable per the caller of `new`; the caller now owns `buffer`.
        unsafe {
            self.data.as_ptr().write(buffer);
            self.len.as_ptr().write(bytes.len());
        }
    }
}

/// Bytes stored in front of each output buffer: its length.
const HEADER: usize = size_of::<usize>();

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
        let limits = Limits::default();
        let cap = Cap::new(&limits, LimitKind::TokenLength);
        let mut data: *mut u8 = ptr::dangling_mut();
        let mut len = 7usize;
        // SAFETY: NULL is the case under test; the other pointers are valid locals.
        unsafe {
            assert!(input(ptr::null(), 3, "x", cap).is_err());
            assert!(input_str(ptr::null(), "x").is_err());
            assert_eq!(optional_str(ptr::null(), "x").unwrap(), None);
            assert!(optional_input(ptr::null(), 1, cap).unwrap().is_none());
            // The writable half of an output pair is cleared although the other half is NULL.
            assert!(OutBytes::new(&mut data, ptr::null_mut()).is_err());
            assert!(data.is_null());
            assert!(OutBytes::new(ptr::null_mut(), &mut len).is_err());
            assert_eq!(len, 0);
            assert!(OutBytes::new(ptr::null_mut(), ptr::null_mut()).is_err());
            assert!(input_str(c"\xff".as_ptr(), "x").is_err());
        }
    }

    #[test]
    fn lengths_are_checked_before_the_buffer_is_read() {
        let limits = Limits::default();
        let one = [b'M'];
        // SAFETY: every length but 1 is refused before `one` is read.
        unsafe {
            for (kind, len) in [
                (LimitKind::TokenLength, usize::MAX),
                (LimitKind::TokenLength, Limits::DEFAULT_SIZE + 1),
                (LimitKind::CredentialLength, i32::MAX as usize + 1),
                (LimitKind::ContentLength, isize::MAX as usize),
            ] {
                let err = input(one.as_ptr(), len, "x", Cap::new(&limits, kind)).unwrap_err();
                assert_eq!(err.code, kst_result::KST_LIMIT_EXCEEDED, "{kind} {len}");
            }
            let unbounded = Limits {
                max_token_len: usize::MAX,
                ..Limits::default()
            };
            let cap = Cap::new(&unbounded, LimitKind::TokenLength);
            let err = input(one.as_ptr(), usize::MAX, "x", cap).unwrap_err();
            assert_eq!(err.code, kst_result::KST_LIMIT_EXCEEDED);
            assert_eq!(input(one.as_ptr(), 1, "x", cap).unwrap(), b"M");
        }
        // A signed revocation list has its own limit, far above a token's.
        let cap = Cap::new(&limits, LimitKind::RevocationListLength);
        assert!(cap.check(Limits::DEFAULT_REVOCATION_LIST_SIZE).is_ok());
        assert!(cap.check(Limits::DEFAULT_REVOCATION_LIST_SIZE + 1).is_err());
    }

    #[test]
    fn text_arguments_are_bounded() {
        let mut long = vec![b'a'; KST_MAX_TEXT_LEN + 10];
        long.push(0);
        let mut exact = vec![b'a'; KST_MAX_TEXT_LEN];
        exact.push(0);
        // SAFETY: both are NUL-terminated.
        unsafe {
            let err = input_str(long.as_ptr().cast(), "x").unwrap_err();
            assert_eq!(err.code, kst_result::KST_LIMIT_EXCEEDED);
            assert_eq!(
                input_str(exact.as_ptr().cast(), "x").unwrap().len(),
                KST_MAX_TEXT_LEN
            );
            assert_eq!(input_str(c"".as_ptr(), "x").unwrap(), "");
        }
    }
}
