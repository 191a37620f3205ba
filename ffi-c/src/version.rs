//! Versions: `kst_version()` and the `KSTOKEN_VERSION_*` macros.

use std::ffi::c_char;

use crate::panic::boundary_value;

/// Major version of the header (the library's `kst_version()` should agree).
pub const KSTOKEN_VERSION_MAJOR: u32 = 0;
/// Minor version of the header.
pub const KSTOKEN_VERSION_MINOR: u32 = 2;
/// Patch version of the header.
pub const KSTOKEN_VERSION_PATCH: u32 = 0;

/// The library's version, `"MAJOR.MINOR.PATCH"`, static and NUL-terminated; never NULL.
#[no_mangle]
pub extern "C" fn kst_version() -> *const c_char {
    const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };
    boundary_value(c"unknown".as_ptr(), || VERSION.as_ptr())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn macros_match_the_crate_version() {
        let expected =
            format!("{KSTOKEN_VERSION_MAJOR}.{KSTOKEN_VERSION_MINOR}.{KSTOKEN_VERSION_PATCH}");
        assert_eq!(expected, env!("CARGO_PKG_VERSION"));
        // SAFETY: `kst_version` returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(kst_version()) };
        assert_eq!(v.to_str().unwrap(), expected);
    }
}
