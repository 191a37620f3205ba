//! Link settings of the shared library libkstoken.so (the static library needs none).
//!
//! - SONAME `libkstoken.so.<major>`: programs record it, so a newer build with the same major
//!   version replaces the file without relinking them (README, "SONAME and ABI").
//! - `openssl_init.c`, linked into the shared library only: see that file. It drops libssl from
//!   the library's dependencies.
use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=openssl_init.c");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return;
    }
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| panic!("cargo sets it"));
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkstoken.so.{major}");

    // Only for a shared system OpenSSL: a vendored (static) one is linked into the library and
    // needs no libssl at run time, and its own OPENSSL_init_ssl would clash with this one.
    // OPENSSL_init_ssl exists from OpenSSL 1.1.0 on; LibreSSL and older OpenSSL keep libssl.
    let version = env::var("DEP_OPENSSL_VERSION_NUMBER")
        .ok()
        .and_then(|v| u64::from_str_radix(&v, 16).ok());
    let vendored = env::var_os("DEP_OPENSSL_VENDORED").is_some();
    let libressl = env::var_os("DEP_OPENSSL_LIBRESSL_VERSION_NUMBER").is_some();
    if vendored || libressl || version.is_none_or(|v| v < 0x1010_0000) {
        return;
    }
    let mut build = cc::Build::new();
    build.file("openssl_init.c").warnings_into_errors(true);
    // The headers of the OpenSSL that openssl-sys found (pkg-config's, else the default paths).
    if let Some(dirs) = env::var_os("DEP_OPENSSL_INCLUDE") {
        for dir in env::split_paths(&dirs) {
            build.include(dir);
        }
    }
    for object in build.compile_intermediates() {
        println!("cargo:rustc-cdylib-link-arg={}", object.display());
    }
}
