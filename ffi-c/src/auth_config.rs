//! `kst_auth_config`: keystonemiddleware's options for an authenticator, immutable once built by a
//! `kst_auth_config_builder`.

use std::ffi::c_char;
use std::sync::Arc;

use kstoken::auth_token::{CacheLimits, Config, NonPki, Protection, RevocationMode, SharedFormat};
use kstoken::body::bind::BindMode;
use kstoken::{DetectionRule, HashAlgorithms, LimitKind};

use crate::bytes::{
    clone_arc, free_arc, free_box, input, input_ref, input_str, Cap, OutArc, OutBox,
};
use crate::limits::kst_limits;
use crate::panic::boundary;
use crate::result::{kst_error, kst_result, Failure};

/// Whether an authenticator enforces revocation lists (`kst_auth_config_builder_set_revocation`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kst_revocation_mode {
    /// No list (keystonemiddleware 6.x): PKI tokens are validated with the certificates only.
    KST_REVOCATION_OFF = 0,
    /// A current list is required (keystonemiddleware 5.x): without one, PKI tokens are
    /// `KST_DECISION_UNAVAILABLE`. Tokens served from a cache are not checked again.
    KST_REVOCATION_ENFORCE = 1,
    /// As `KST_REVOCATION_ENFORCE`, and cached tokens are checked too
    /// (`check_revocations_for_cached`).
    KST_REVOCATION_ENFORCE_CACHED = 2,
}

/// The format of the shared cache the host keeps (memcached, a shared-memory cache), as
/// keystonemiddleware's `memcache_security_strategy` names it
/// (`kst_auth_config_builder_set_shared_cache`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kst_shared_cache {
    /// No shared cache: `kst_authenticate` never answers `KST_DECISION_NEED_SHARED`.
    KST_SHARED_CACHE_NONE = 0,
    /// keystonemiddleware's plain format (`memcache_security_strategy = None`): keys
    /// `tokens/<sha256 hex>`, the token data as JSON.
    KST_SHARED_CACHE_PLAIN = 1,
    /// `memcache_security_strategy = MAC` with the secret key: derived keys, values authenticated.
    KST_SHARED_CACHE_MAC = 2,
    /// `memcache_security_strategy = ENCRYPT` with the secret key: values also encrypted.
    KST_SHARED_CACHE_ENCRYPT = 3,
}

/// Collects an authenticator's options; `kst_auth_config_builder_build` makes an immutable
/// `kst_auth_config` of them. Starts with keystonemiddleware 6.1.0's defaults: hash algorithm `md5`,
/// bind mode `permissive`, the upstream detection rule, no `delay_auth_decision`, the service
/// catalog included, `service_token_roles` = `service` (not required), no revocation list, other
/// tokens (UUID, Fernet) refused, a token cache of 300 s, 10,000 entries and 64 MiB, no shared cache,
/// the default limits.
///
/// A plain value with one owner: not for concurrent use (build the config, then share that).
pub struct kst_auth_config_builder {
    inner: Config,
}

/// An authenticator's options (keystonemiddleware's `[keystone_authtoken]`), immutable.
///
/// Reference-counted: `kst_auth_config_clone` takes another reference and each
/// `kst_auth_config_free` drops one; any number of threads may use one at once.
pub struct kst_auth_config {
    pub(crate) inner: Config,
}

/// Creates a builder with the defaults; free it with `kst_auth_config_builder_free`.
///
/// # Safety
/// `out` is valid for writing a pointer; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_new(
    out: *mut *mut kst_auth_config_builder,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: `out` is NULL or writable, per the caller.
        let out = unsafe { OutBox::new(out) }?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe {
            out.set(kst_auth_config_builder {
                inner: Config::default(),
            })
        };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Applies one change to a builder; on failure the builder is unchanged.
///
/// # Safety
/// `builder` is NULL or a live builder not used concurrently; `err` is NULL or valid for writing a
/// pointer.
unsafe fn apply(
    builder: *mut kst_auth_config_builder,
    err: *mut *mut kst_error,
    change: impl FnOnce(&mut Config) -> Result<(), Failure>,
) -> kst_result {
    let body = || {
        // SAFETY: NULL or a live builder, not aliased, per the caller.
        let builder = unsafe { builder.as_mut() }.ok_or_else(|| Failure::null("builder"))?;
        let mut config = builder.inner.clone();
        change(&mut config)?;
        builder.inner = config;
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Sets `hash_algorithms`: a comma-separated list such as `"sha256,md5"` (names as
/// `kst_hash_token` takes them, spaces ignored). Revocation checks use every one; shared-cache keys
/// each in turn, and entries are stored under the first.
///
/// Errors: `KST_INVALID_ARGUMENT` for an unknown or empty name or an empty list.
///
/// # Safety
/// `builder` is a live builder not used concurrently; `algorithms` is a NUL-terminated string;
/// `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_hash_algorithms(
    builder: *mut kst_auth_config_builder,
    algorithms: *const c_char,
    err: *mut *mut kst_error,
) -> kst_result {
    let change = |c: &mut Config| {
        // SAFETY: NULL or NUL-terminated, per the caller.
        let value = unsafe { input_str(algorithms, "algorithms") }?;
        c.policy.hash_algorithms = value.parse::<HashAlgorithms>()?;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { apply(builder, err, change) }
}

/// Sets `enforce_token_bind`: `disabled`, `permissive`, `strict`, `required`, or the bind type every
/// token must carry (`kerberos`, `x509`), exactly (case-sensitively) as keystone reads it.
///
/// Errors: `KST_INVALID_ARGUMENT` for any other value (a misspelt mode such as `Strict`, the empty
/// string, another bind type): keystone would read it as a bind type no token carries and refuse
/// every token, so it is refused here, as `kstoken.middleware` refuses it at startup; the message
/// says what is accepted.
///
/// # Safety
/// `builder` is a live builder not used concurrently; `mode` is a NUL-terminated string; `err` is
/// NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_bind_mode(
    builder: *mut kst_auth_config_builder,
    mode: *const c_char,
    err: *mut *mut kst_error,
) -> kst_result {
    let change = |c: &mut Config| {
        // SAFETY: NULL or NUL-terminated, per the caller.
        let value = unsafe { input_str(mode, "mode") }?;
        c.policy.bind_mode = BindMode::parse_configured(value)?;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { apply(builder, err, change) }
}

/// Sets the detection rule: `upstream` (keystoneclient's, the default) or `lenient` (also PKI tokens
/// of unusual sizes, see `kst_detect`).
///
/// # Safety
/// `builder` is a live builder not used concurrently; `rule` is a NUL-terminated string; `err` is
/// NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_detection(
    builder: *mut kst_auth_config_builder,
    rule: *const c_char,
    err: *mut *mut kst_error,
) -> kst_result {
    let change = |c: &mut Config| {
        // SAFETY: NULL or NUL-terminated, per the caller.
        let value = unsafe { input_str(rule, "rule") }?;
        c.policy.detection = value.parse::<DetectionRule>()?;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { apply(builder, err, change) }
}

/// Sets `delay_auth_decision`: refused tokens pass on as `X-Identity-Status: Invalid`
/// (`KST_DECISION_PASS`) instead of `KST_DECISION_REJECT` (or `KST_DECISION_UNAVAILABLE`).
///
/// # Safety
/// `builder` is a live builder not used concurrently; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_delay_auth_decision(
    builder: *mut kst_auth_config_builder,
    delay: bool,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        apply(builder, err, |c| {
            c.delay_auth_decision = delay;
            Ok(())
        })
    }
}

/// Sets `include_service_catalog`: whether `X-Service-Catalog` is set.
///
/// # Safety
/// `builder` is a live builder not used concurrently; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_include_service_catalog(
    builder: *mut kst_auth_config_builder,
    include: bool,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        apply(builder, err, |c| {
            c.include_service_catalog = include;
            Ok(())
        })
    }
}

/// Sets `service_token_roles`: `count` NUL-terminated role names (`roles` may be NULL when
/// `count` is 0; an empty list means no role qualifies). A valid service token with one of them
/// lets an expired user token through.
///
/// Errors: `KST_NULL_PARAMETER` for a NULL name, `KST_INVALID_ARGUMENT` for one that is not UTF-8,
/// `KST_LIMIT_EXCEEDED` for more than 4096 roles.
///
/// # Safety
/// `builder` is a live builder not used concurrently; `roles` points to `count` readable pointers,
/// each a NUL-terminated string (or is NULL with `count` 0); `err` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_service_token_roles(
    builder: *mut kst_auth_config_builder,
    roles: *const *const c_char,
    count: usize,
    err: *mut *mut kst_error,
) -> kst_result {
    const MAX_ROLES: usize = 4096;
    let change = |c: &mut Config| {
        if count > MAX_ROLES {
            return Err(Failure::new(
                kst_result::KST_LIMIT_EXCEEDED,
                format!("{count} service token roles: at most {MAX_ROLES}"),
            ));
        }
        let names: &[*const c_char] = if count == 0 {
            &[]
        } else if roles.is_null() {
            return Err(Failure::null("roles"));
        } else {
            // SAFETY: `roles` points to `count` readable pointers, per the caller; `count` is
            // bounded above.
            unsafe { std::slice::from_raw_parts(roles, count) }
        };
        let mut out = Vec::with_capacity(names.len());
        for &name in names {
            // SAFETY: each is NULL or NUL-terminated, per the caller.
            out.push(unsafe { input_str(name, "roles[i]") }?.to_owned());
        }
        c.service_token_roles = out;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { apply(builder, err, change) }
}

/// Sets `service_token_roles_required`: a service token without one of `service_token_roles` is
/// refused (else it only loses the right to let an expired user token through).
///
/// # Safety
/// `builder` is a live builder not used concurrently; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_service_token_roles_required(
    builder: *mut kst_auth_config_builder,
    required: bool,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        apply(builder, err, |c| {
            c.service_token_roles_required = required;
            Ok(())
        })
    }
}

/// Sets the process token cache: `ttl_seconds` is `token_cache_time` (a negative value disables the
/// cache, and with it the shared cache; 0 keeps entries without a time limit), `max_entries` and
/// `max_bytes` bound what it holds (`kstoken_cache_max_entries`, `kstoken_cache_max_bytes`: the
/// heap the cached tokens really take).
///
/// Errors: `KST_INVALID_ARGUMENT` for a zero bound or a lifetime over 100 years.
///
/// # Safety
/// `builder` is a live builder not used concurrently; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_token_cache(
    builder: *mut kst_auth_config_builder,
    ttl_seconds: i64,
    max_entries: usize,
    max_bytes: usize,
    err: *mut *mut kst_error,
) -> kst_result {
    const MAX_TTL: i64 = 100 * 366 * 86_400;
    let change = |c: &mut Config| {
        if ttl_seconds < 0 {
            c.cache = None;
            return Ok(());
        }
        if ttl_seconds > MAX_TTL {
            return Err(Failure::invalid(format!(
                "token cache lifetime of {ttl_seconds} s: at most {MAX_TTL} s (0 keeps entries \
                 without a time limit)"
            )));
        }
        if max_entries == 0 || max_bytes == 0 {
            return Err(Failure::invalid(
                "the token cache's bounds must be positive (a negative lifetime disables it)",
            ));
        }
        c.cache = Some(CacheLimits {
            ttl_us: (ttl_seconds > 0).then(|| ttl_seconds * 1_000_000),
            max_entries,
            max_bytes,
        });
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { apply(builder, err, change) }
}

/// Sets how revocation lists are enforced (see `kst_revocation_mode`).
///
/// Errors: `KST_INVALID_ARGUMENT` for a value that is not a `kst_revocation_mode`.
///
/// # Safety
/// `builder` is a live builder not used concurrently; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_revocation(
    builder: *mut kst_auth_config_builder,
    mode: u32,
    err: *mut *mut kst_error,
) -> kst_result {
    let change = |c: &mut Config| {
        c.revocation = match mode {
            m if m == kst_revocation_mode::KST_REVOCATION_OFF as u32 => RevocationMode::Off,
            m if m == kst_revocation_mode::KST_REVOCATION_ENFORCE as u32 => {
                RevocationMode::Enforce {
                    check_cached: false,
                }
            }
            m if m == kst_revocation_mode::KST_REVOCATION_ENFORCE_CACHED as u32 => {
                RevocationMode::Enforce { check_cached: true }
            }
            other => {
                return Err(Failure::invalid(format!(
                    "revocation mode {other} is not a kst_revocation_mode"
                )))
            }
        };
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { apply(builder, err, change) }
}

/// Sets the shared cache's format (see `kst_shared_cache`): with one, a `kst_authenticate` call that
/// misses the process cache first asks for the shared-cache keys to fetch
/// (`KST_DECISION_NEED_SHARED`), and outcomes list the entries to store. `secret` (`secret_len`
/// bytes, `memcache_secret_key`) is needed by `KST_SHARED_CACHE_MAC` and `KST_SHARED_CACHE_ENCRYPT`
/// and ignored by the others (it may be NULL then).
///
/// Errors: `KST_INVALID_ARGUMENT` for a value that is not a `kst_shared_cache`, or an empty secret
/// with MAC or ENCRYPT; `KST_LIMIT_EXCEEDED` for a secret over `max_credential_len`.
///
/// # Safety
/// `builder` is a live builder not used concurrently; `secret` is NULL or points to `secret_len`
/// readable bytes; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_shared_cache(
    builder: *mut kst_auth_config_builder,
    format: u32,
    secret: *const u8,
    secret_len: usize,
    err: *mut *mut kst_error,
) -> kst_result {
    let change = |c: &mut Config| {
        let strategy = match format {
            f if f == kst_shared_cache::KST_SHARED_CACHE_NONE as u32 => {
                c.shared_cache = None;
                return Ok(());
            }
            f if f == kst_shared_cache::KST_SHARED_CACHE_PLAIN as u32 => {
                c.shared_cache = Some(SharedFormat::new(None));
                return Ok(());
            }
            f if f == kst_shared_cache::KST_SHARED_CACHE_MAC as u32 => "MAC",
            f if f == kst_shared_cache::KST_SHARED_CACHE_ENCRYPT as u32 => "ENCRYPT",
            other => {
                return Err(Failure::invalid(format!(
                    "shared cache format {other} is not a kst_shared_cache"
                )))
            }
        };
        let cap = Cap::new(&c.limits, LimitKind::CredentialLength);
        // SAFETY: NULL or `secret_len` readable bytes, per the caller; the length is checked
        // before the secret is read.
        let secret = if secret.is_null() {
            &[][..]
        } else {
            unsafe { input(secret, secret_len, "secret", cap) }?
        };
        c.shared_cache = Some(SharedFormat::new(Some(Protection::new(strategy, secret)?)));
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { apply(builder, err, change) }
}

/// Sets what happens to tokens that are neither PKI nor PKIZ (UUID, Fernet): refused (`false`, the
/// default: nothing here can validate them) or handed back to the host for online validation
/// (`true`: the request is `KST_DECISION_DELEGATE`).
///
/// # Safety
/// `builder` is a live builder not used concurrently; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_delegate_non_pki(
    builder: *mut kst_auth_config_builder,
    delegate: bool,
    err: *mut *mut kst_error,
) -> kst_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        apply(builder, err, |c| {
            c.non_pki = if delegate {
                NonPki::Delegate
            } else {
                NonPki::Refuse
            };
            Ok(())
        })
    }
}

/// Sets the resource limits tokens and bodies are checked against (NULL: the defaults).
///
/// # Safety
/// `builder` is a live builder not used concurrently; `limits` is NULL or points to a readable
/// `kst_limits`; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_set_limits(
    builder: *mut kst_auth_config_builder,
    limits: *const kst_limits,
    err: *mut *mut kst_error,
) -> kst_result {
    let change = |c: &mut Config| {
        // SAFETY: NULL or readable, per the caller.
        c.limits = unsafe { crate::limits::limits_or_default(limits) };
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { apply(builder, err, change) }
}

/// Builds an immutable configuration from the builder's current settings; free it with
/// `kst_auth_config_free`. The builder stays as it is.
///
/// # Safety
/// `builder` is a live builder not used concurrently; `out` is valid for writing a pointer; `err`
/// is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_build(
    builder: *const kst_auth_config_builder,
    out: *mut *const kst_auth_config,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller.
        let (out, builder) = unsafe { (OutArc::new(out)?, input_ref(builder, "builder")?) };
        let config = kst_auth_config {
            inner: builder.inner.clone(),
        };
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(Arc::new(config)) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Releases a builder (the configurations built from it stay valid). NULL is ignored.
///
/// # Safety
/// `builder` is NULL or a builder from this library, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_builder_free(builder: *mut kst_auth_config_builder) {
    // SAFETY: per the caller.
    unsafe { free_box(builder) }
}

/// Another reference to `config` (the same pointer), released with its own `kst_auth_config_free`.
/// NULL gives NULL.
///
/// # Safety
/// `config` is NULL or a live configuration the caller holds a reference to.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_clone(
    config: *const kst_auth_config,
) -> *const kst_auth_config {
    // SAFETY: per the caller.
    unsafe { clone_arc(config) }
}

/// Drops one reference to a configuration; the last one releases it. NULL is ignored.
///
/// # Safety
/// `config` is NULL or a configuration from this library whose reference the caller holds; the
/// caller does not use that reference afterwards.
#[no_mangle]
pub unsafe extern "C" fn kst_auth_config_free(config: *const kst_auth_config) {
    // SAFETY: per the caller.
    unsafe { free_arc(config) }
}
