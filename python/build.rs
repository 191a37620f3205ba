//! Build script of the extension module: the unwinder of the portable (zig-linked) wheel.
//!
//! `maturin --zig` (through cargo-zigbuild) rewrites rustc's `-lgcc_s` to `-lunwind`, so the module
//! carries a static copy of LLVM's libunwind. glibc does not use it: `pthread_exit` (which CPython
//! ≤ 3.13 calls when a daemon thread asks for the GIL during interpreter shutdown, i.e. while it is
//! returning from a kstoken call that released the GIL) unwinds with the system's `libgcc_s.so.1`,
//! whose unwinder then calls Rust's personality routine, which calls the other unwinder's
//! `_Unwind_*` functions on a context they cannot read: the process dies with SIGSEGV at exit.
//! Linking `libgcc_s.so.1` itself (it is on every manylinux allow-list, and what a wheel built in a
//! manylinux container links) gives one unwinder. `scripts/build-wheel.sh` asks for it by setting
//! `KSTOKEN_LINK_LIBGCC_S` to the library's path; other builds (the sdist, the host wheel) link
//! `libgcc_s` through rustc as usual and need nothing here.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=KSTOKEN_LINK_LIBGCC_S");
    let Some(library) = env::var_os("KSTOKEN_LINK_LIBGCC_S") else {
        return;
    };
    let library = PathBuf::from(library);
    let Some(out_dir) = env::var_os("OUT_DIR") else {
        panic!("OUT_DIR is not set: not run by cargo");
    };
    // A directory holding only this library: adding the system's library directory to the search
    // path would let the linker pick the system's glibc instead of the glibc 2.17 zig targets.
    let dir = PathBuf::from(out_dir).join("libgcc_s");
    let link = dir.join("libgcc_s.so.1");
    let _ = std::fs::remove_file(&link);
    if let Err(e) =
        std::fs::create_dir_all(&dir).and_then(|()| std::os::unix::fs::symlink(&library, &link))
    {
        panic!(
            "cannot link {} into {}: {e}",
            library.display(),
            dir.display()
        );
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib:+verbatim=libgcc_s.so.1");
}
