//! The standard streams, with the failures Rust's runtime hides made visible.
//!
//! Before `main`, Rust's runtime puts `/dev/null` in place of a standard descriptor that is closed
//! (so that a file opened later cannot take its number), and its `Stdin` and `Stdout` read `EBADF`
//! as end of input and as a successful write. `kstoken sign >&-` would then exit 0 with the token
//! lost, and `kstoken sign <&-` would sign an empty body. So a constructor records which descriptors
//! were closed before the runtime started, and the streams are read and written through files of
//! their own, whose errors are real.
//!
//! The constructor exists on Unix; elsewhere the runtime's streams are used as they are.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::exit::Failure;

/// One bit per standard descriptor (0, 1, 2) that was closed when the process started.
static CLOSED_AT_START: AtomicU8 = AtomicU8::new(0);

/// Records the closed standard descriptors before Rust's runtime replaces them with `/dev/null`.
#[cfg(unix)]
#[ctor::ctor(unsafe)]
fn record_closed_standard_descriptors() {
    for fd in 0..=2 {
        // SAFETY: fcntl(F_GETFD) only reads the descriptor's flags: no memory is passed, and it
        // needs nothing of the Rust runtime, which has not started yet. -1 means EBADF, not open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            CLOSED_AT_START.fetch_or(1 << fd, Ordering::Relaxed);
        }
    }
}

fn closed_at_start(fd: u8) -> bool {
    CLOSED_AT_START.load(Ordering::Relaxed) & (1 << fd) != 0
}

/// Standard input, read through a file of its own; closed at startup is an I/O error (4).
pub fn stdin() -> Result<impl Read, Failure> {
    own(std::io::stdin(), 0, "standard input")
}

/// Standard output, written through a file of its own; closed at startup is an I/O error (4).
pub fn stdout() -> Result<impl Write, Failure> {
    own(std::io::stdout(), 1, "standard output")
}

/// Standard descriptor `fd` (`stream`) as a file of its own, so its errors are not hidden.
#[cfg(unix)]
fn own(stream: impl std::os::fd::AsFd, fd: u8, name: &str) -> Result<std::fs::File, Failure> {
    if closed_at_start(fd) {
        return Err(Failure::io(format!("{name} is closed")));
    }
    stream
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .map_err(|e| Failure::io(format!("cannot use {name}: {e}")))
}

/// The runtime's stream itself where descriptors cannot be checked.
#[cfg(not(unix))]
fn own<S>(stream: S, _fd: u8, _name: &str) -> Result<S, Failure> {
    Ok(stream)
}

/// Writes `text` to standard error, ignoring failures (there is nowhere left to report them).
pub fn print_error(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
