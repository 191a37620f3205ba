//! The identity headers: the table of every header an authenticator sets (and a host strips from
//! every request), and the rule that recognises one in any spelling a client may send.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use kstoken::auth_token::{identity_header, Header, ALL_HEADERS};

use crate::panic::boundary_value;

/// One row of the table: the header, and its name and environ key as C strings.
pub(crate) struct Row {
    pub(crate) name: CString,
    pub(crate) environ_key: CString,
}

/// The table, in `ALL_HEADERS` order (a header's row is its `index()`).
struct Table {
    rows: Vec<Row>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table {
        rows: ALL_HEADERS
            .iter()
            .map(|h| Row {
                // The names are ASCII constants without NUL.
                name: CString::new(h.name).unwrap_or_default(),
                environ_key: CString::new(h.environ_key).unwrap_or_default(),
            })
            .collect(),
    })
}

/// The row number of a header of the table (its place in `ALL_HEADERS`).
pub(crate) fn row_of(header: Header) -> Option<usize> {
    (header.index() < ALL_HEADERS.len()).then_some(header.index())
}

/// The row numbered `i`.
pub(crate) fn row(i: usize) -> Option<&'static Row> {
    table().rows.get(i)
}

/// How many identity headers there are (32): `kst_identity_header_name(i)` for `i` below it.
#[no_mangle]
pub extern "C" fn kst_identity_header_count() -> usize {
    boundary_value(0, || table().rows.len())
}

/// The HTTP name of identity header `index` as keystonemiddleware spells it (`X-Roles`), a static
/// NUL-terminated string; NULL for an index past `kst_identity_header_count()`.
#[no_mangle]
pub extern "C" fn kst_identity_header_name(index: usize) -> *const c_char {
    boundary_value(std::ptr::null(), || {
        row(index).map_or(std::ptr::null(), |r| r.name.as_ptr())
    })
}

/// The CGI/WSGI environ key of identity header `index` (`HTTP_X_ROLES`), a static NUL-terminated
/// string; NULL for an index past `kst_identity_header_count()`.
#[no_mangle]
pub extern "C" fn kst_identity_header_environ_key(index: usize) -> *const c_char {
    boundary_value(std::ptr::null(), || {
        row(index).map_or(std::ptr::null(), |r| r.environ_key.as_ptr())
    })
}

/// The index of the identity header a request header named `name` (`name_len` bytes, no NUL
/// needed) stands for, in any spelling: ASCII case ignored, `_` read as `-` (`x_roles`, `X-ROLES`,
/// `X_Roles` are all `X-Roles`, since WSGI servers, CGI and ASGI-to-WSGI bridges fold them into one
/// environ key); -1 when it is none. A host removes every request header for which this is not -1
/// before anything reads the request, whatever the request and whatever is decided.
///
/// # Safety
/// `name` is NULL (giving -1) or points to `name_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn kst_identity_header_find(name: *const u8, name_len: usize) -> isize {
    boundary_value(-1, || {
        // Longer names are no identity header: nothing is read.
        if name.is_null() || name_len > 64 {
            return -1;
        }
        // SAFETY: non-NULL and `name_len` (at most 64) readable bytes, per the caller.
        let name = unsafe { std::slice::from_raw_parts(name, name_len) };
        identity_header(name)
            .and_then(row_of)
            .and_then(|i| isize::try_from(i).ok())
            .unwrap_or(-1)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_header_has_its_row() {
        assert_eq!(kst_identity_header_count(), ALL_HEADERS.len());
        for (i, h) in ALL_HEADERS.iter().enumerate() {
            assert_eq!(row_of(*h), Some(i));
            // SAFETY: static NUL-terminated strings of the table.
            unsafe {
                assert_eq!(
                    CStr::from_ptr(kst_identity_header_name(i))
                        .to_str()
                        .unwrap(),
                    h.name
                );
                assert_eq!(
                    CStr::from_ptr(kst_identity_header_environ_key(i))
                        .to_str()
                        .unwrap(),
                    h.environ_key
                );
                let lower = h.name.to_lowercase().replace('-', "_");
                assert_eq!(
                    kst_identity_header_find(lower.as_ptr(), lower.len()),
                    i as isize
                );
            }
        }
        assert!(kst_identity_header_name(ALL_HEADERS.len()).is_null());
    }
}
