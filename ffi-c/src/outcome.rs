//! `kst_outcome`: what `kst_authenticate` decided for a request, read with the `kst_outcome_*`
//! accessors.

use std::ffi::{c_char, CString};

use kstoken::auth_token::{Decision, Outcome, Refusal, Source, TokenReport};

use crate::bytes::free_box;
use crate::identity_headers::{row, row_of};
use crate::panic::boundary_value;

/// What to do with the request (`kst_outcome_decision`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kst_decision {
    /// Pass the request on, with the identity headers of `kst_outcome_header` (after removing every
    /// identity header the client sent, in every spelling).
    KST_DECISION_PASS = 0,
    /// Refuse it: 401 with keystonemiddleware's body and `WWW-Authenticate: Keystone uri="..."`.
    KST_DECISION_REJECT = 1,
    /// Refuse it with 503: keystone's certificates or a current revocation list are needed and
    /// missing (`kst_outcome_wants` says which).
    KST_DECISION_UNAVAILABLE = 2,
    /// A token is neither PKI nor PKIZ and online validation was asked for
    /// (`kst_auth_config_builder_set_delegate_non_pki`): validate the request elsewhere.
    KST_DECISION_DELEGATE = 3,
    /// Not decided yet: fetch the keys of `kst_outcome_shared_key` from the shared cache and call
    /// `kst_authenticate` again with what was found.
    KST_DECISION_NEED_SHARED = 4,
}

/// Which token of the request an accessor is about.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kst_token_kind {
    /// `X-Auth-Token` (or `X-Storage-Token`).
    KST_TOKEN_USER = 0,
    /// `X-Service-Token`.
    KST_TOKEN_SERVICE = 1,
}

/// A token's verdict (`kst_outcome_token_status`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kst_token_status {
    /// No such token was sent, or it was not judged (`KST_DECISION_DELEGATE`,
    /// `KST_DECISION_NEED_SHARED`, or a 503 decided on the other token first).
    KST_TOKEN_ABSENT = 0,
    /// Valid for this request.
    KST_TOKEN_VALID = 1,
    /// Refused: `kst_outcome_refusal` says why.
    KST_TOKEN_INVALID = 2,
}

/// Where a token's verdict came from (`kst_outcome_source`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kst_token_source {
    /// Not looked up (absent, not PKI/PKIZ, keystone's data missing).
    KST_SOURCE_NONE = 0,
    /// The authenticator's process cache.
    KST_SOURCE_CACHE = 1,
    /// The shared cache (a value the host fetched).
    KST_SOURCE_SHARED_CACHE = 2,
    /// Validated by this call.
    KST_SOURCE_VALIDATED = 3,
}

/// `kst_outcome_wants`: no signing certificates are loaded; load them
/// (`kst_authenticator_set_verifier`) and authenticate again.
pub const KST_WANTS_CERTIFICATES: u32 = 1;
/// `kst_outcome_wants`: a token's signer is not among the loaded certificates, or its signature
/// does not match (a rotated key, a rebuilt PKI, or a tampered token: anyone can send one, so
/// fetch at most now and then).
pub const KST_WANTS_NEW_CERTIFICATES: u32 = 2;
/// `kst_outcome_wants`: revocation lists are enforced and none is current.
pub const KST_WANTS_REVOCATION_LIST: u32 = 4;

/// A token's part of an outcome, prepared for C.
struct TokenPart {
    status: kst_token_status,
    source: kst_token_source,
    refusal: Option<CString>,
    reason: Option<CString>,
}

impl TokenPart {
    fn of(report: Option<&TokenReport>) -> Self {
        let Some(report) = report else {
            return TokenPart {
                status: kst_token_status::KST_TOKEN_ABSENT,
                source: kst_token_source::KST_SOURCE_NONE,
                refusal: None,
                reason: None,
            };
        };
        let c = |s: String| CString::new(s.replace('\0', "\\0")).ok();
        TokenPart {
            status: if report.is_valid() {
                kst_token_status::KST_TOKEN_VALID
            } else {
                kst_token_status::KST_TOKEN_INVALID
            },
            source: match report.source {
                Source::Cache => kst_token_source::KST_SOURCE_CACHE,
                Source::SharedCache => kst_token_source::KST_SOURCE_SHARED_CACHE,
                Source::Validated => kst_token_source::KST_SOURCE_VALIDATED,
                _ => kst_token_source::KST_SOURCE_NONE,
            },
            refusal: report
                .refusal
                .as_ref()
                .and_then(|r| c(Refusal::as_str(r).to_owned())),
            reason: report.refusal.as_ref().and_then(|r| c(r.to_string())),
        }
    }
}

/// A header to set: its row in the identity-header table and its value, pointing into the
/// outcome's token data (or a static status string); `None` is a value of `None` (unset).
type HeaderValue = (usize, Option<(*const u8, usize)>);

/// An entry to store in the shared cache.
struct Store {
    key: CString,
    value: Vec<u8>,
}

/// The outcome of `kst_authenticate`: the decision, each token's verdict and body, the identity
/// headers to set, and the shared-cache exchange (keys to fetch, entries to store).
///
/// A plain value owned by the caller, freed with `kst_outcome_free`: what the accessors return
/// (strings, header values, bodies) points into it and stays valid until then. It may move between
/// threads; concurrent reads are safe.
pub struct kst_outcome {
    decision: kst_decision,
    // Holds the token data the header values and bodies point into.
    outcome: Option<Outcome>,
    user: TokenPart,
    service: TokenPart,
    headers: Vec<HeaderValue>,
    shared_keys: Vec<CString>,
    store: Vec<Store>,
    ttl_seconds: i64,
}

// SAFETY: the raw pointers in `headers` point into `outcome`'s token data (immutable, behind
// `Arc`s the outcome holds) or into static strings; nothing is shared mutably.
unsafe impl Send for kst_outcome {}
// SAFETY: as above; every accessor only reads.
unsafe impl Sync for kst_outcome {}

impl kst_outcome {
    /// The outcome of a decided request; `ttl_seconds` is the shared-cache entries' lifetime.
    pub(crate) fn decided(outcome: Outcome, ttl_seconds: i64) -> Self {
        let decision = match outcome.decision {
            Decision::Pass => kst_decision::KST_DECISION_PASS,
            Decision::Reject => kst_decision::KST_DECISION_REJECT,
            Decision::Unavailable => kst_decision::KST_DECISION_UNAVAILABLE,
            Decision::Delegate => kst_decision::KST_DECISION_DELEGATE,
        };
        let headers = outcome
            .headers()
            .into_iter()
            .filter_map(|(header, value)| {
                Some((row_of(header)?, value.map(|v| (v.as_ptr(), v.len()))))
            })
            .collect();
        let store = outcome
            .shared_store
            .iter()
            .filter_map(|e| {
                Some(Store {
                    key: CString::new(e.key.as_str()).ok()?,
                    value: e.value.clone(),
                })
            })
            .collect();
        kst_outcome {
            decision,
            user: TokenPart::of(outcome.user.as_ref()),
            service: TokenPart::of(outcome.service.as_ref()),
            headers,
            shared_keys: Vec::new(),
            store,
            ttl_seconds,
            outcome: Some(outcome),
        }
    }

    /// The outcome of a call that needs the shared cache's values for `keys` first.
    pub(crate) fn need_shared(keys: Vec<String>) -> Self {
        kst_outcome {
            decision: kst_decision::KST_DECISION_NEED_SHARED,
            outcome: None,
            user: TokenPart::of(None),
            service: TokenPart::of(None),
            headers: Vec::new(),
            shared_keys: keys
                .into_iter()
                .filter_map(|k| CString::new(k).ok())
                .collect(),
            store: Vec::new(),
            ttl_seconds: 0,
        }
    }

    fn part(&self, kind: u32) -> Option<&TokenPart> {
        match kind {
            k if k == kst_token_kind::KST_TOKEN_USER as u32 => Some(&self.user),
            k if k == kst_token_kind::KST_TOKEN_SERVICE as u32 => Some(&self.service),
            _ => None,
        }
    }

    fn report(&self, kind: u32) -> Option<&TokenReport> {
        let outcome = self.outcome.as_ref()?;
        match kind {
            k if k == kst_token_kind::KST_TOKEN_USER as u32 => outcome.user.as_ref(),
            k if k == kst_token_kind::KST_TOKEN_SERVICE as u32 => outcome.service.as_ref(),
            _ => None,
        }
    }
}

/// A borrowed outcome; NULL is `None`.
///
/// # Safety
/// `outcome` is NULL or a live outcome.
unsafe fn get<'a>(outcome: *const kst_outcome) -> Option<&'a kst_outcome> {
    // SAFETY: per the caller.
    unsafe { outcome.as_ref() }
}

/// What to do with the request. A NULL outcome gives `KST_DECISION_REJECT`.
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_decision(outcome: *const kst_outcome) -> kst_decision {
    boundary_value(kst_decision::KST_DECISION_REJECT, || {
        // SAFETY: per the caller.
        unsafe { get(outcome) }.map_or(kst_decision::KST_DECISION_REJECT, |o| o.decision)
    })
}

/// The verdict on the token of `kind` (a `kst_token_kind`). NULL, or another `kind`, gives
/// `KST_TOKEN_ABSENT`.
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_token_status(
    outcome: *const kst_outcome,
    kind: u32,
) -> kst_token_status {
    boundary_value(kst_token_status::KST_TOKEN_ABSENT, || {
        // SAFETY: per the caller.
        unsafe { get(outcome) }
            .and_then(|o| o.part(kind))
            .map_or(kst_token_status::KST_TOKEN_ABSENT, |p| p.status)
    })
}

/// Why the token of `kind` was refused, as a stable name: the validation step (`detect`,
/// `revocation`, `verify`, `body`, `expiry`, `bind`) or `no_tenancy`, `service_roles`,
/// `no_certificates`, `no_revocation_list`. NULL when it was not refused (or is absent).
/// Valid until the outcome is freed.
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_refusal(
    outcome: *const kst_outcome,
    kind: u32,
) -> *const c_char {
    boundary_value(std::ptr::null(), || {
        // SAFETY: per the caller.
        unsafe { get(outcome) }
            .and_then(|o| o.part(kind))
            .and_then(|p| p.refusal.as_ref())
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// Why the token of `kind` was refused, as a sentence for the log (the same words
/// `kstoken.middleware` logs). NULL when it was not refused. Valid until the outcome is freed.
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_reason(
    outcome: *const kst_outcome,
    kind: u32,
) -> *const c_char {
    boundary_value(std::ptr::null(), || {
        // SAFETY: per the caller.
        unsafe { get(outcome) }
            .and_then(|o| o.part(kind))
            .and_then(|p| p.reason.as_ref())
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// Where the verdict on the token of `kind` came from.
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_source(
    outcome: *const kst_outcome,
    kind: u32,
) -> kst_token_source {
    boundary_value(kst_token_source::KST_SOURCE_NONE, || {
        // SAFETY: per the caller.
        unsafe { get(outcome) }
            .and_then(|o| o.part(kind))
            .map_or(kst_token_source::KST_SOURCE_NONE, |p| p.source)
    })
}

/// The body of the token of `kind` (its verified JSON, keystonemiddleware's `keystone.token_info`
/// for the user token), whenever it was read, also for a token then refused for expiry or bind;
/// `*len` receives its length. NULL (and 0) when there is none. Not NUL-terminated; valid until
/// the outcome is freed.
///
/// # Safety
/// `outcome` is NULL or a live outcome; `len` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_token_info(
    outcome: *const kst_outcome,
    kind: u32,
    len: *mut usize,
) -> *const u8 {
    boundary_value(std::ptr::null(), || {
        // SAFETY: NULL or writable, per the caller.
        let len = unsafe { len.as_mut() };
        // SAFETY: per the caller.
        let data = unsafe { get(outcome) }
            .and_then(|o| o.report(kind))
            .and_then(|r| r.data.as_deref());
        match (data, len) {
            (Some(d), len) => {
                if let Some(len) = len {
                    *len = d.content.len();
                }
                d.content.as_ptr()
            }
            (None, len) => {
                if let Some(len) = len {
                    *len = 0;
                }
                std::ptr::null()
            }
        }
    })
}

/// Whether the service token carried one of `service_token_roles`: 1 yes, 0 no, -1 not known (no
/// valid service token).
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_service_role_check(outcome: *const kst_outcome) -> i32 {
    boundary_value(-1, || {
        // SAFETY: per the caller.
        unsafe { get(outcome) }
            .and_then(|o| o.outcome.as_ref())
            .and_then(|o| o.service_role_check)
            .map_or(-1, i32::from)
    })
}

/// What keystone could give that would let the request be judged, or judged anew: a mask of
/// `KST_WANTS_CERTIFICATES`, `KST_WANTS_NEW_CERTIFICATES`, `KST_WANTS_REVOCATION_LIST` (0: nothing).
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_wants(outcome: *const kst_outcome) -> u32 {
    boundary_value(0, || {
        // SAFETY: per the caller.
        let Some(o) = (unsafe { get(outcome) }).and_then(|o| o.outcome.as_ref()) else {
            return 0;
        };
        let wants = o.wants();
        let mut mask = 0;
        if wants.certificates {
            mask |= KST_WANTS_CERTIFICATES;
        }
        if wants.new_certificates {
            mask |= KST_WANTS_NEW_CERTIFICATES;
        }
        if wants.revocation_list {
            mask |= KST_WANTS_REVOCATION_LIST;
        }
        mask
    })
}

/// How many identity headers the outcome sets (`kst_outcome_header`); 0 for a NULL outcome,
/// `KST_DECISION_DELEGATE` and `KST_DECISION_NEED_SHARED`.
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_header_count(outcome: *const kst_outcome) -> usize {
    // SAFETY: per the caller.
    boundary_value(0, || unsafe { get(outcome) }.map_or(0, |o| o.headers.len()))
}

/// The identity header numbered `index` to set, in order (a later one replaces an earlier one of
/// the same name): `*name` (`X-Roles`) and `*environ_key` (`HTTP_X_ROLES`) are static strings;
/// `*value` points to `*value_len` bytes of UTF-8 (not NUL-terminated, valid until the outcome is
/// freed), or is NULL where keystonemiddleware stores `None` (leave the header unset). The values
/// are, byte for byte, what `kstoken.middleware` puts in the WSGI environ. Returns false (and
/// clears every output) for an index past `kst_outcome_header_count`.
///
/// Set them after removing every identity header the client sent, in every spelling
/// (`kst_identity_header_find`). Values come from keystone's signed token and may hold any
/// character, control characters included: a host writing them into HTTP headers decides what to do
/// with those it cannot carry.
///
/// # Safety
/// `outcome` is NULL or a live outcome; each output is NULL (not wanted) or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_header(
    outcome: *const kst_outcome,
    index: usize,
    name: *mut *const c_char,
    environ_key: *mut *const c_char,
    value: *mut *const c_char,
    value_len: *mut usize,
) -> bool {
    boundary_value(false, || {
        // SAFETY: each output is NULL or writable, per the caller.
        let (name, environ_key, value, value_len) = unsafe {
            (
                name.as_mut(),
                environ_key.as_mut(),
                value.as_mut(),
                value_len.as_mut(),
            )
        };
        let (mut n, mut k, mut v, mut l) =
            (std::ptr::null(), std::ptr::null(), std::ptr::null(), 0);
        // SAFETY: per the caller.
        let found = unsafe { get(outcome) }
            .and_then(|o| o.headers.get(index))
            .and_then(|(i, val)| Some((row(*i)?, val)));
        if let Some((r, val)) = found {
            n = r.name.as_ptr();
            k = r.environ_key.as_ptr();
            if let Some((p, len)) = val {
                v = p.cast::<c_char>();
                l = *len;
            }
        }
        for (out, x) in [(name, n), (environ_key, k), (value, v)] {
            if let Some(out) = out {
                *out = x;
            }
        }
        if let Some(out) = value_len {
            *out = l;
        }
        found.is_some()
    })
}

/// The row in the identity-header table of the header numbered `index` (the `i` of
/// `kst_identity_header_name(i)`, which `kst_identity_header_find` gives for its name in any
/// spelling), so that a host can tell the headers apart without comparing names; -1 past
/// `kst_outcome_header_count`.
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_header_row(
    outcome: *const kst_outcome,
    index: usize,
) -> isize {
    boundary_value(-1, || {
        // SAFETY: per the caller.
        unsafe { get(outcome) }
            .and_then(|o| o.headers.get(index))
            .and_then(|(row, _)| isize::try_from(*row).ok())
            .unwrap_or(-1)
    })
}

/// How many shared-cache keys to fetch (`KST_DECISION_NEED_SHARED` only; 0 otherwise).
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_shared_key_count(outcome: *const kst_outcome) -> usize {
    // SAFETY: per the caller.
    boundary_value(0, || {
        unsafe { get(outcome) }.map_or(0, |o| o.shared_keys.len())
    })
}

/// The shared-cache key numbered `index` to fetch (`tokens/...`, ASCII, NUL-terminated, valid until
/// the outcome is freed); NULL past `kst_outcome_shared_key_count`. Fetch them all (memcached's
/// `get_multi`), then call `kst_authenticate` again with the values found.
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_shared_key(
    outcome: *const kst_outcome,
    index: usize,
) -> *const c_char {
    boundary_value(std::ptr::null(), || {
        // SAFETY: per the caller.
        unsafe { get(outcome) }
            .and_then(|o| o.shared_keys.get(index))
            .map_or(std::ptr::null(), |k| k.as_ptr())
    })
}

/// How many entries to store in the shared cache (one for each token this call validated).
///
/// # Safety
/// `outcome` is NULL or a live outcome.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_shared_store_count(outcome: *const kst_outcome) -> usize {
    // SAFETY: per the caller.
    boundary_value(0, || unsafe { get(outcome) }.map_or(0, |o| o.store.len()))
}

/// The shared-cache entry numbered `index` to store, in keystonemiddleware's memcached format
/// (plain, MAC or ENCRYPT, as configured): `*key` (NUL-terminated), `*value` (`*value_len` bytes,
/// not NUL-terminated), both valid until the outcome is freed, and `*ttl_seconds`, the lifetime to
/// store it for (`token_cache_time`; 0: no time limit, as memcached reads it). Returns false (and
/// clears every output) past `kst_outcome_shared_store_count`.
///
/// # Safety
/// `outcome` is NULL or a live outcome; each output is NULL (not wanted) or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_shared_store(
    outcome: *const kst_outcome,
    index: usize,
    key: *mut *const c_char,
    value: *mut *const u8,
    value_len: *mut usize,
    ttl_seconds: *mut i64,
) -> bool {
    boundary_value(false, || {
        // SAFETY: each output is NULL or writable, per the caller.
        let (key, value, value_len, ttl_seconds) = unsafe {
            (
                key.as_mut(),
                value.as_mut(),
                value_len.as_mut(),
                ttl_seconds.as_mut(),
            )
        };
        // SAFETY: per the caller.
        let found =
            unsafe { get(outcome) }.and_then(|o| Some((o.store.get(index)?, o.ttl_seconds)));
        let (k, v, l, t) = match found {
            Some((e, ttl)) => (e.key.as_ptr(), e.value.as_ptr(), e.value.len(), ttl),
            None => (std::ptr::null(), std::ptr::null(), 0, 0),
        };
        if let Some(out) = key {
            *out = k;
        }
        if let Some(out) = value {
            *out = v;
        }
        if let Some(out) = value_len {
            *out = l;
        }
        if let Some(out) = ttl_seconds {
            *out = t;
        }
        found.is_some()
    })
}

/// Releases an outcome (what its accessors returned goes with it). NULL is ignored.
///
/// # Safety
/// `outcome` is NULL or an outcome from `kst_authenticate`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kst_outcome_free(outcome: *mut kst_outcome) {
    // SAFETY: per the caller.
    unsafe { free_box(outcome) }
}
