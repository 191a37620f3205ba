//! The panic boundary every `extern "C"` function runs behind.
//!
//! A panic must never unwind into C (since Rust 1.81 it aborts the process). Each entry point
//! runs its body under [`std::panic::catch_unwind`]; a fallible function then returns
//! `KST_PANIC` (with the panic message in `*err`), the few infallible accessors return a fixed
//! fallback value.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::result::{kst_error, kst_result, Failure};

/// The message of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".to_owned());
    format!("kstoken panicked: {detail}")
}

/// Runs a fallible body behind the boundary and reports its outcome through `err`.
///
/// `*err` is set to NULL first (if `err` is not NULL), then to a new `kst_error` on failure.
///
/// # Safety
/// `err` is NULL or valid for writing one pointer.
pub(crate) unsafe fn boundary<F>(err: *mut *mut kst_error, body: F) -> kst_result
where
    F: FnOnce() -> Result<(), Failure>,
{
    if !err.is_null() {
        // SAFETY: the caller guarantees a non-NULL `err` is valid for writes.
        unsafe { err.write(ptr::null_mut()) };
    }
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return kst_result::KST_OK,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::new(kst_result::KST_PANIC, panic_message(payload.as_ref())),
    };
    let code = failure.code;
    if !err.is_null() {
        // SAFETY: as above; ownership of the boxed error passes to the caller.
        unsafe { err.write(kst_error::boxed(failure)) };
    }
    code
}

/// Runs an infallible body behind the boundary, giving `fallback` if it panics.
pub(crate) fn boundary_value<T, F: FnOnce() -> T>(fallback: T, body: F) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Runs a body without result (the `_free` functions) behind the boundary.
pub(crate) fn boundary_void<F: FnOnce()>(body: F) {
    // Nothing can be reported from a `void` function; a panic is contained and dropped.
    let _ = catch_unwind(AssertUnwindSafe(body));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::result::{kst_error_code, kst_error_free, kst_error_message};
    use std::ffi::CStr;

    #[test]
    fn a_panic_becomes_kst_panic_with_its_message() {
        let mut err: *mut kst_error = ptr::null_mut();
        // SAFETY: `err` is a valid local.
        let code = unsafe { boundary(&mut err, || panic!("boom {}", 42)) };
        assert_eq!(code, kst_result::KST_PANIC);
        assert!(!err.is_null());
        // SAFETY: `err` was just produced by the boundary.
        unsafe {
            assert_eq!(kst_error_code(err), kst_result::KST_PANIC);
            let message = CStr::from_ptr(kst_error_message(err)).to_str().unwrap();
            assert_eq!(message, "kstoken panicked: boom 42");
            kst_error_free(err);
        }
        // SAFETY: a NULL `err` is allowed.
        let code = unsafe { boundary(ptr::null_mut(), || panic!("static")) };
        assert_eq!(code, kst_result::KST_PANIC);
        assert_eq!(boundary_value(7, || panic!("value")), 7);
        boundary_void(|| panic!("void"));
    }

    #[test]
    fn success_clears_err() {
        let mut err: *mut kst_error = ptr::dangling_mut::<kst_error>();
        // SAFETY: `err` is a valid local; its old value is overwritten, not read.
        let code = unsafe { boundary(&mut err, || Ok(())) };
        assert_eq!(code, kst_result::KST_OK);
        assert!(err.is_null());
    }
}
