//! The panic boundary every `extern "C"` function runs behind, and the panic hook that keeps the
//! host's standard error clean.
//!
//! A panic must never unwind into C (since Rust 1.81 it aborts the process). Each entry point
//! runs its body under [`std::panic::catch_unwind`]; a fallible function then returns
//! `KST_PANIC` (with the panic message in `*err`), the few infallible accessors return a fixed
//! fallback value.
//!
//! `catch_unwind` alone is not enough for a library: the panic hook runs *before* unwinding starts,
//! and the default hook prints the message (and, with `RUST_BACKTRACE`, a backtrace) to standard
//! error, which belongs to the host. So the first boundary entered installs a hook once, wrapping
//! whatever hook was there: while a kstoken boundary is active on the panicking thread (a
//! thread-local depth counter), the hook only records where the panic happened, for the
//! `kst_error` message; otherwise it calls the previous hook, so panics of unrelated Rust code in the
//! process are reported exactly as before. A hook the host installs later replaces this one (Rust
//! has one hook per process); kstoken's panics then reach the host's hook.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, catch_unwind, AssertUnwindSafe, PanicHookInfo};
use std::ptr;
use std::sync::Once;

use crate::result::{kst_error, kst_result, Failure};

thread_local! {
    /// How many kstoken boundaries are active on this thread (nested entry points count each).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Where the last panic inside a boundary on this thread happened (`file:line:column`).
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook once per process.
static HOOK: Once = Once::new();

/// A panic hook, as `std::panic::set_hook` takes it.
type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Whether a kstoken boundary is active on this thread.
fn inside_boundary() -> bool {
    DEPTH.try_with(Cell::get).unwrap_or(0) > 0
}

/// Wraps the current panic hook so that panics inside a boundary are silent (see the module
/// documentation). Idempotent.
fn install_hook() {
    // `take_hook`/`set_hook` panic on a thread that is already panicking (a kstoken function
    // called from a destructor during unwinding): leave the hook alone then, and try again on the
    // next call.
    if HOOK.is_completed() || std::thread::panicking() {
        return;
    }
    HOOK.call_once(|| panic::set_hook(silent_inside_boundaries(panic::take_hook())));
}

/// The hook kstoken installs: records the location of a panic inside a boundary, hands every other
/// panic to `previous`.
fn silent_inside_boundaries(previous: Hook) -> Hook {
    Box::new(move |info: &PanicHookInfo<'_>| {
        if inside_boundary() {
            let location = info.location().map(ToString::to_string);
            let _ = LOCATION.try_with(|l| l.replace(location));
        } else {
            previous(info);
        }
    })
}

/// An active boundary on this thread, from entry to exit (also when the body panics).
struct Active;

impl Active {
    fn enter() -> Active {
        install_hook();
        let _ = DEPTH.try_with(|d| d.set(d.get() + 1));
        Active
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        let _ = DEPTH.try_with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Runs `body` as a boundary: `Err` with the panic's message (and location) if it panicked.
fn run<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    let active = Active::enter();
    let outcome = catch_unwind(AssertUnwindSafe(body));
    drop(active);
    outcome.map_err(|payload| panic_message(payload.as_ref()))
}

/// The message of a panic payload, with where it happened when the hook saw it.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".to_owned());
    match LOCATION.try_with(RefCell::take).ok().flatten() {
        Some(location) => format!("kstoken panicked at {location}: {detail}"),
        None => format!("kstoken panicked: {detail}"),
    }
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
    let failure = match run(body) {
        Ok(Ok(())) => return kst_result::KST_OK,
        Ok(Err(failure)) => failure,
        Err(message) => Failure::new(kst_result::KST_PANIC, message),
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
    run(body).unwrap_or(fallback)
}

/// Runs a body without result (the `_free` functions) behind the boundary.
pub(crate) fn boundary_void<F: FnOnce()>(body: F) {
    // Nothing can be reported from a `void` function; a panic is contained and dropped.
    let _ = run(body);
}

/// Panics inside the boundary, deliberately: the C tests check with it that a panic becomes
/// `KST_PANIC` with a message and prints nothing on the host's standard error.
///
/// Debug builds only: release libraries do not export it, and the header does not declare it
/// (`cbindgen.toml` excludes it); the tests declare it themselves.
///
/// # Safety
/// `err` is NULL or valid for writing a pointer.
#[cfg(debug_assertions)]
#[no_mangle]
pub unsafe extern "C" fn kst_debug_panic(err: *mut *mut kst_error) -> kst_result {
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe {
        boundary(err, || -> Result<(), Failure> {
            panic!("deliberate panic (kst_debug_panic)")
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::result::{kst_error_code, kst_error_free, kst_error_message};
    use std::ffi::CStr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

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
            assert!(message.starts_with("kstoken panicked"), "{message}");
            assert!(message.ends_with(": boom 42"), "{message}");
            kst_error_free(err);
        }
        // SAFETY: a NULL `err` is allowed.
        let code = unsafe { boundary(ptr::null_mut(), || panic!("static")) };
        assert_eq!(code, kst_result::KST_PANIC);
        assert_eq!(boundary_value(7, || panic!("value")), 7);
        boundary_void(|| panic!("void"));
        assert!(!inside_boundary());
    }

    #[test]
    fn success_clears_err() {
        let mut err: *mut kst_error = ptr::dangling_mut::<kst_error>();
        // SAFETY: `err` is a valid local; its old value is overwritten, not read.
        let code = unsafe { boundary(&mut err, || Ok(())) };
        assert_eq!(code, kst_result::KST_OK);
        assert!(err.is_null());
    }

    #[test]
    fn the_hook_is_silent_inside_a_boundary_and_chains_outside() {
        // kstoken's process-wide hook first, so that no other test installs it meanwhile; then,
        // for this test, kstoken's hook around a host hook that counts the panics it is shown.
        install_hook();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&seen);
        let before = panic::take_hook();
        panic::set_hook(silent_inside_boundaries(Box::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })));
        let nested = boundary_value(0, || {
            boundary_value(1, || panic!("inner")) + boundary_value(2, || panic!("inner"))
        });
        let after_boundaries = seen.load(Ordering::SeqCst);
        let outside = catch_unwind(|| panic!("the host's own panic"));
        let after_outside = seen.load(Ordering::SeqCst);
        panic::set_hook(before);
        assert_eq!(nested, 3);
        assert!(outside.is_err());
        assert_eq!(
            after_boundaries, 0,
            "a boundary panic reached the host's hook"
        );
        assert_eq!(
            after_outside, 1,
            "the host's own panic did not reach its hook"
        );
        assert!(!inside_boundary());
    }
}
