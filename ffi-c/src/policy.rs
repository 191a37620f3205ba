//! `kst_policy`: what `kst_validate` enforces, immutable once built by a `kst_policy_builder`.

use std::ffi::c_char;
use std::sync::Arc;

use kstoken::body::bind::BindMode;
use kstoken::pipeline::Policy;
use kstoken::{DetectionRule, HashAlgorithms};

use crate::bytes::{clone_arc, free_arc, free_box, input_ref, input_str, OutArc, OutBox};
use crate::panic::boundary;
use crate::result::{kst_error, kst_result, Failure};

/// Collects a policy's settings; `kst_policy_builder_build` makes an immutable `kst_policy` of
/// them. Starts with keystonemiddleware's defaults: hash algorithm `md5`, bind mode `permissive`,
/// the upstream detection rule.
///
/// A plain value with one owner: not for concurrent use (build the policy, then share that).
pub struct kst_policy_builder {
    inner: Policy,
}

/// What validation enforces (keystonemiddleware's configuration): hash algorithms, bind mode,
/// detection rule.
///
/// Immutable and reference-counted: any number of threads may pass one to `kst_validate` at once;
/// `kst_policy_clone` takes another reference and each `kst_policy_free` drops one.
pub struct kst_policy {
    pub(crate) inner: Policy,
}

/// Creates a builder with the defaults; free it with `kst_policy_builder_free`.
///
/// # Safety
/// `out` is valid for writing a pointer; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_builder_new(
    out: *mut *mut kst_policy_builder,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: `out` is NULL or writable, per the caller.
        let out = unsafe { OutBox::new(out) }?;
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe {
            out.set(kst_policy_builder {
                inner: Policy::default(),
            })
        };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Applies one setting, parsed from `value`, to a builder.
///
/// # Safety
/// `builder` is NULL or a live builder not used concurrently; `value` is NULL or a NUL-terminated
/// string; `err` is NULL or valid for writing a pointer.
unsafe fn set(
    builder: *mut kst_policy_builder,
    name: &str,
    value: *const c_char,
    apply: impl FnOnce(&mut Policy, &str) -> Result<(), Failure>,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller; `builder` is not aliased.
        let (builder, value) = unsafe {
            (
                builder.as_mut().ok_or_else(|| Failure::null("builder"))?,
                input_str(value, name)?,
            )
        };
        apply(&mut builder.inner, value)
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Sets the hash algorithms (`hash_algorithms`): a comma-separated list such as `"sha256,md5"`,
/// names as `kst_hash_token` takes them, spaces ignored. The token's hashes are computed in this
/// order, returned by `kst_validated_hash`, and all checked against the revocation list.
///
/// Errors: `KST_INVALID_ARGUMENT` for an unknown or empty name or an empty list (the builder is
/// unchanged). A repeated algorithm counts once.
///
/// # Safety
/// `builder` is a live builder not used concurrently; `algorithms` is a NUL-terminated string;
/// `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_builder_set_hash_algorithms(
    builder: *mut kst_policy_builder,
    algorithms: *const c_char,
    err: *mut *mut kst_error,
) -> kst_result {
    let apply = |policy: &mut Policy, value: &str| {
        policy.hash_algorithms = value.parse::<HashAlgorithms>()?;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(builder, "algorithms", algorithms, apply, err) }
}

/// Sets the bind mode (`enforce_token_bind`): `disabled`, `permissive`, `strict`, `required` or a
/// bind type name, as `kst_check_bind` takes it.
///
/// # Safety
/// `builder` is a live builder not used concurrently; `mode` is a NUL-terminated string; `err` is
/// NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_builder_set_bind_mode(
    builder: *mut kst_policy_builder,
    mode: *const c_char,
    err: *mut *mut kst_error,
) -> kst_result {
    let apply = |policy: &mut Policy, value: &str| {
        policy.bind_mode = BindMode::parse(value);
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(builder, "mode", mode, apply, err) }
}

/// Sets the detection rule: `upstream` (keystoneclient's `MII`/`PKIZ_` rule, the default) or
/// `lenient` (also PKI tokens of unusual sizes, see `kst_detect`).
///
/// Errors: `KST_INVALID_ARGUMENT` for any other name (the builder is unchanged).
///
/// # Safety
/// `builder` is a live builder not used concurrently; `rule` is a NUL-terminated string; `err` is
/// NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_builder_set_detection(
    builder: *mut kst_policy_builder,
    rule: *const c_char,
    err: *mut *mut kst_error,
) -> kst_result {
    let apply = |policy: &mut Policy, value: &str| {
        policy.detection = value.parse::<DetectionRule>()?;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(builder, "rule", rule, apply, err) }
}

/// Builds an immutable policy from the builder's current settings; free it with
/// `kst_policy_free`. The builder stays as it is: build more policies from it, or free it.
///
/// # Safety
/// `builder` is a live builder not used concurrently; `out` is valid for writing a pointer; `err`
/// is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_builder_build(
    builder: *const kst_policy_builder,
    out: *mut *const kst_policy,
    err: *mut *mut kst_error,
) -> kst_result {
    let body = || {
        // SAFETY: pointers are NULL or valid, per the caller.
        let (out, builder) = unsafe { (OutArc::new(out)?, input_ref(builder, "builder")?) };
        let policy = kst_policy {
            inner: builder.inner.clone(),
        };
        // SAFETY: `out` was checked and is writable per the caller.
        unsafe { out.set(Arc::new(policy)) };
        Ok(())
    };
    // SAFETY: `err` is NULL or writable, per the caller.
    unsafe { boundary(err, body) }
}

/// Releases a builder (the policies built from it stay valid). NULL is ignored.
///
/// # Safety
/// `builder` is NULL or a builder from this library, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_builder_free(builder: *mut kst_policy_builder) {
    // SAFETY: per the caller.
    unsafe { free_box(builder) }
}

/// Another reference to `policy` (the same pointer), released with its own `kst_policy_free`.
/// NULL gives NULL.
///
/// # Safety
/// `policy` is NULL or a live policy the caller holds a reference to.
#[no_mangle]
pub unsafe extern "C" fn kst_policy_clone(policy: *const kst_policy) -> *const kst_policy {
    // SAFETY: per the caller.
    unsafe { clone_arc(policy) }
}

/// Drops one reference to a policy; the last one releases it. NULL is ignored.
///
/// # Safety
/// `policy` is NULL or a policy from this library whose reference the caller holds; the caller
/// does not use that reference afterwards (other references stay valid).
#[no_mangle]
pub unsafe extern "C" fn kst_policy_free(policy: *const kst_policy) {
    // SAFETY: per the caller.
    unsafe { free_arc(policy) }
}
