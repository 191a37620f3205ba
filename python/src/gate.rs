//! Fork safety: `os.fork()` waits until no kstoken call is running without the GIL.
//!
//! A child process starts with one thread and a copy of the parent's memory, locks included; a lock
//! another thread held at that instant stays held in the child for ever. kstoken's calls run
//! without the GIL inside OpenSSL (whose global locks, such as the provider and decoder stores taken
//! while a certificate or key is decoded, have no fork handlers in OpenSSL 3) and inside the
//! verifier's chain-verdict lock. So every call that releases the GIL goes through [`detach`], which
//! counts it, and the handlers registered with `os.register_at_fork` hold new calls back and wait
//! for the running ones before the process forks: the child starts with all of those locks free.
//!
//! A call costs one atomic increment, one load and one decrement more than `py.detach`
//! (sequentially consistent: a call that starts and a fork that begins always see each other);
//! only a fork ever waits, and it waits without holding the GIL.
//!
//! What this cannot cover: forks that do not go through `os.fork` (a C extension calling `fork()`
//! itself; `subprocess` is fine, its child execs at once), and OpenSSL calls made at fork time by
//! other libraries sharing the process's `libcrypto` (the `ssl` module in another thread, for
//! instance). OpenSSL supports no fork-without-exec of a threaded process at all.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Calls running without the GIL.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Forks between their `before` and `after` handlers (several threads may fork at once).
static FORKING: AtomicUsize = AtomicUsize::new(0);

/// The longest pause between two looks at the counters while waiting (only around a fork).
const MAX_PAUSE: Duration = Duration::from_millis(1);

/// Runs `f` without the GIL, as `py.detach` does, counted so that a fork waits for it to end.
///
/// The only place the crate releases the GIL (`python/clippy.toml` refuses `Python::detach`
/// elsewhere).
pub(crate) fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: Send + FnOnce() -> T,
    T: Send,
{
    enter(py);
    #[allow(clippy::disallowed_methods)]
    py.detach(move || {
        // Dropped inside the closure, even on a panic: before the GIL is taken back, so a fork
        // waiting with the GIL released never waits for a thread that waits for the GIL.
        let _running = Running;
        f()
    })
}

/// Counts a call in, waiting (without the GIL) while a fork is under way.
fn enter(py: Python<'_>) {
    loop {
        // Increment first, then look: a fork sets FORKING first, then looks at RUNNING, so one of
        // the two always sees the other (sequentially consistent order).
        RUNNING.fetch_add(1, SeqCst);
        if FORKING.load(SeqCst) == 0 {
            return;
        }
        RUNNING.fetch_sub(1, SeqCst);
        #[allow(clippy::disallowed_methods)]
        py.detach(|| wait_until(|| FORKING.load(SeqCst) == 0));
    }
}

/// One running call; dropping it counts the call out.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, SeqCst);
    }
}

/// Polls `ready` with pauses growing to [`MAX_PAUSE`]: forks are rare and the calls waited for
/// are short, so a condition variable's cost on every call would buy nothing.
fn wait_until(ready: impl Fn() -> bool) {
    let mut pause = Duration::from_micros(10);
    while !ready() {
        thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// `os.register_at_fork(before=...)`: holds new calls back, waits for the running ones.
#[pyfunction]
fn _before_fork(py: Python<'_>) {
    FORKING.fetch_add(1, SeqCst);
    #[allow(clippy::disallowed_methods)]
    py.detach(|| wait_until(|| RUNNING.load(SeqCst) == 0));
}

/// `os.register_at_fork(after_in_parent=...)`: lets calls run again.
#[pyfunction]
fn _after_fork_in_parent() {
    FORKING.fetch_sub(1, SeqCst);
}

/// `os.register_at_fork(after_in_child=...)`: the child's only thread is the one that forked, so
/// nothing runs and nothing waits.
#[pyfunction]
fn _after_fork_in_child() {
    RUNNING.store(0, SeqCst);
    FORKING.store(0, SeqCst);
}

/// Adds the fork handlers to the module and registers them with `os.register_at_fork` (absent on
/// Windows, which has no fork).
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let before = wrap_pyfunction!(_before_fork, m)?;
    let in_parent = wrap_pyfunction!(_after_fork_in_parent, m)?;
    let in_child = wrap_pyfunction!(_after_fork_in_child, m)?;
    let os = py.import("os")?;
    if os.hasattr("register_at_fork")? {
        let handlers = PyDict::new(py);
        handlers.set_item("before", &before)?;
        handlers.set_item("after_in_parent", &in_parent)?;
        handlers.set_item("after_in_child", &in_child)?;
        os.call_method("register_at_fork", (), Some(&handlers))?;
    }
    m.add_function(before)?;
    m.add_function(in_parent)?;
    m.add_function(in_child)?;
    m.add_function(wrap_pyfunction!(_running_calls, m)?)?;
    Ok(())
}

/// How many calls run without the GIL now: 0 whenever no kstoken call is under way (the tests
/// check that no call, failed or not, is left counted, which would make every fork wait for ever).
#[pyfunction]
fn _running_calls() -> usize {
    RUNNING.load(SeqCst)
}
