//! The C ABI's entry for the auth_token decision, `kst_authenticate`, with any request: the first
//! byte chooses the options (bind mode, delay_auth_decision, revocation, shared-cache format), the
//! rest is split at `\0\xff` into the user token, the service token, `AUTH_TYPE`, `REMOTE_USER`,
//! the client certificate and a shared-cache value. A call that asks for shared-cache keys is
//! answered with that value for every key; every accessor of the outcome is then read.
#![no_main]
use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::sync::LazyLock;

use kstoken_ffi::auth_config::*;
use kstoken_ffi::authenticator::*;
use kstoken_ffi::bind::kst_auth_context;
use kstoken_ffi::outcome::*;
use kstoken_ffi::result::kst_result;
use kstoken_ffi::revocation::*;
use kstoken_ffi::verifier::*;
use kstoken_fuzz::{CA_CERT, CLOCK, SIGNING_CERT};
use libfuzzer_sys::fuzz_target;

/// A handle shared by every run (the library's handles are thread-safe).
struct Shared<T>(*const T);
// SAFETY: the handles are immutable or internally synchronised (see kstoken.h).
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Shared<T> {}

const MODES: [&CStr; 6] = [
    c"disabled",
    c"permissive",
    c"strict",
    c"required",
    c"kerberos",
    c"x509",
];

/// One authenticator per option set (first byte), built once: their caches carry state across
/// runs, as a server's do.
static AUTHENTICATORS: LazyLock<Vec<Shared<kst_authenticator>>> = LazyLock::new(|| {
    // SAFETY: every pointer is a valid local or a handle just made.
    unsafe {
        let mut verifier = ptr::null();
        let rc = kst_verifier_new(
            SIGNING_CERT.as_ptr(),
            SIGNING_CERT.len(),
            CA_CERT.as_ptr(),
            CA_CERT.len(),
            &mut verifier,
            ptr::null_mut(),
        );
        assert_eq!(rc, kst_result::KST_OK);
        let list_json = br#"{"revoked": [{"id": "4ab116d14dec63f1e59ce78e26664a2a", "expires": "2038-01-18T21:14:07Z"}]}"#;
        let mut list = ptr::null();
        let rc = kst_revocation_list_from_json(
            list_json.as_ptr(),
            list_json.len(),
            ptr::null(),
            &mut list,
            ptr::null_mut(),
        );
        assert_eq!(rc, kst_result::KST_OK);
        let out = (0..=255u8)
            .map(|selector| {
                let mut b = ptr::null_mut();
                assert_eq!(
                    kst_auth_config_builder_new(&mut b, ptr::null_mut()),
                    kst_result::KST_OK
                );
                let mode = MODES[usize::from(selector & 7) % MODES.len()];
                kst_auth_config_builder_set_bind_mode(b, mode.as_ptr(), ptr::null_mut());
                kst_auth_config_builder_set_delay_auth_decision(
                    b,
                    selector & 8 != 0,
                    ptr::null_mut(),
                );
                kst_auth_config_builder_set_revocation(
                    b,
                    u32::from((selector >> 4) & 3) % 3,
                    ptr::null_mut(),
                );
                let secret = b"secret";
                kst_auth_config_builder_set_shared_cache(
                    b,
                    u32::from(selector >> 6),
                    secret.as_ptr(),
                    secret.len(),
                    ptr::null_mut(),
                );
                let roles = [c"service".as_ptr()];
                kst_auth_config_builder_set_service_token_roles(
                    b,
                    roles.as_ptr(),
                    1,
                    ptr::null_mut(),
                );
                kst_auth_config_builder_set_token_cache(b, 300, 64, 1 << 20, ptr::null_mut());
                let mut config = ptr::null();
                assert_eq!(
                    kst_auth_config_builder_build(b, &mut config, ptr::null_mut()),
                    kst_result::KST_OK
                );
                kst_auth_config_builder_free(b);
                let mut a = ptr::null();
                assert_eq!(
                    kst_authenticator_new(config, &mut a, ptr::null_mut()),
                    kst_result::KST_OK
                );
                kst_auth_config_free(config);
                kst_authenticator_set_verifier(a, verifier, ptr::null_mut());
                kst_authenticator_set_revocation_list(a, list, i64::MAX, ptr::null_mut());
                Shared(a)
            })
            .collect();
        kst_verifier_free(verifier);
        kst_revocation_list_free(list);
        out
    }
});

/// The parts of the input after the first byte.
fn parts(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() < 5 {
        match rest.windows(2).position(|w| w == b"\0\xff") {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + 2..];
            }
            None => break,
        }
    }
    out.push(rest);
    out.resize(6, &[][..]);
    out
}

/// An optional NUL-terminated copy (a part holding a NUL is given as is, cut there by C).
fn text(part: &[u8]) -> Option<CString> {
    if part.is_empty() {
        return None;
    }
    let cut = part.iter().position(|&b| b == 0).unwrap_or(part.len());
    CString::new(&part[..cut]).ok()
}

/// Reads every accessor of an outcome.
///
/// # Safety
/// `o` is a live outcome.
unsafe fn read_all(o: *const kst_outcome) {
    // SAFETY: per the caller; every output is a valid local.
    unsafe {
        let _ = kst_outcome_decision(o);
        for kind in 0..3 {
            let _ = kst_outcome_token_status(o, kind);
            for s in [kst_outcome_refusal(o, kind), kst_outcome_reason(o, kind)] {
                if !s.is_null() {
                    let _ = CStr::from_ptr(s).to_bytes().len();
                }
            }
            let _ = kst_outcome_source(o, kind);
            let mut len = 0;
            let info = kst_outcome_token_info(o, kind, &mut len);
            if !info.is_null() {
                let _ = std::slice::from_raw_parts(info, len).iter().sum::<u8>();
            }
        }
        let _ = (kst_outcome_service_role_check(o), kst_outcome_wants(o));
        for i in 0..=kst_outcome_header_count(o) {
            let (mut n, mut k, mut v, mut l) = (ptr::null(), ptr::null(), ptr::null(), 0);
            if kst_outcome_header(o, i, &mut n, &mut k, &mut v, &mut l) {
                assert!(!n.is_null() && !k.is_null());
                if !v.is_null() {
                    let _ = std::slice::from_raw_parts(v.cast::<u8>(), l).iter().sum::<u8>();
                }
            }
        }
        for i in 0..=kst_outcome_shared_store_count(o) {
            let (mut k, mut v, mut l, mut t) = (ptr::null(), ptr::null(), 0, 0);
            if kst_outcome_shared_store(o, i, &mut k, &mut v, &mut l, &mut t) {
                let _ = CStr::from_ptr(k).to_bytes().len();
                let _ = std::slice::from_raw_parts(v, l).iter().sum::<u8>();
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let a = AUTHENTICATORS[usize::from(selector)].0;
    let p = parts(rest);
    let (auth_type, remote_user) = (text(p[2]), text(p[3]));
    let ctx = kst_auth_context {
        auth_type: auth_type.as_ref().map_or(ptr::null(), |s| s.as_ptr()),
        remote_user: remote_user.as_ref().map_or(ptr::null(), |s| s.as_ptr()),
        client_cert: if p[4].is_empty() { ptr::null() } else { p[4].as_ptr() },
        client_cert_len: p[4].len(),
    };
    let now = CLOCK * 1_000_000;
    let token = |t: &[u8]| if t.is_empty() { ptr::null() } else { t.as_ptr() };
    // SAFETY: every pointer is a valid local or a live handle; lengths match.
    unsafe {
        let mut o: *mut kst_outcome = ptr::null_mut();
        let rc = kst_authenticate(
            a,
            token(p[0]),
            p[0].len(),
            token(p[1]),
            p[1].len(),
            &ctx,
            now,
            ptr::null(),
            &mut o,
            ptr::null_mut(),
        );
        if rc != kst_result::KST_OK {
            assert!(o.is_null());
            return;
        }
        read_all(o);
        if kst_outcome_decision(o) == kst_decision::KST_DECISION_NEED_SHARED {
            let values: Vec<kst_shared_value> = (0..kst_outcome_shared_key_count(o))
                .map(|i| kst_shared_value {
                    key: kst_outcome_shared_key(o, i) as *const c_char,
                    value: p[5].as_ptr(),
                    value_len: p[5].len(),
                })
                .collect();
            let shared = kst_shared_values {
                values: values.as_ptr(),
                count: values.len(),
            };
            let mut decided: *mut kst_outcome = ptr::null_mut();
            let rc = kst_authenticate(
                a,
                token(p[0]),
                p[0].len(),
                token(p[1]),
                p[1].len(),
                &ctx,
                now,
                &shared,
                &mut decided,
                ptr::null_mut(),
            );
            assert_eq!(rc, kst_result::KST_OK);
            // The second call always decides.
            assert_ne!(
                kst_outcome_decision(decided),
                kst_decision::KST_DECISION_NEED_SHARED
            );
            read_all(decided);
            kst_outcome_free(decided);
        }
        kst_outcome_free(o);
    }
});
