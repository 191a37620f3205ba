//! The request authenticator for `kstoken.middleware`: one call per request, GIL released.
//!
//! `Authenticator.authenticate` returns an `Outcome` whose `headers` are `(environ key, value)`
//! pairs ready for `environ.update`. Nothing calls back into Python: with a shared cache
//! (memcached) a first call may answer `need_shared` with the `shared_keys` to fetch, the caller
//! fetches them and calls again with `shared={key: bytes}`, and the outcome lists the
//! `shared_store` entries to set (the core's exchange, `kstoken::auth_token::exchange`).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use kstoken::auth_token::{
    Authentication, Authenticator, CacheLimits, Config, Credentials, Decision, Header, HeaderGroup,
    NonPki, Outcome, Protection, Refusal, RevocationMode, SharedFormat, SharedValues, Source,
    TokenData, TokenReport, ALL_HEADERS,
};
use kstoken::body::bind::{AuthContext, BindMode};
use kstoken::revocation::RevocationList;
use kstoken::{DetectionRule, HashAlgorithm, HashAlgorithms, Limits, Policy, Verifier};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::exceptions::to_py;
use crate::gate::detach;

/// Interned environ keys, in [`ALL_HEADERS`] order.
static KEYS: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();

fn environ_key<'py>(py: Python<'py>, header: Header) -> Bound<'py, PyString> {
    let keys = KEYS.get_or_init(py, || {
        ALL_HEADERS
            .iter()
            .map(|h| PyString::intern(py, h.environ_key).unbind())
            .collect()
    });
    ALL_HEADERS
        .iter()
        .position(|h| h.environ_key == header.environ_key)
        .and_then(|i| keys.get(i))
        .map(|k| k.bind(py).clone())
        .unwrap_or_else(|| PyString::new(py, header.environ_key))
}

fn now_us(now: Option<f64>) -> i64 {
    match now {
        // Saturating float-to-int conversion: out-of-range clocks clamp.
        Some(t) => (t * 1e6) as i64,
        None => {
            let d = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
        }
    }
}

/// The request authenticator of `kstoken.middleware`; built once, shared by every thread.
#[pyclass(frozen, module = "kstoken._kstoken", name = "Authenticator")]
pub(crate) struct PyAuthenticator {
    inner: Authenticator,
    memo: TokenMemo,
}

/// What `Authenticator.authenticate` decided.
#[pyclass(frozen, get_all, module = "kstoken._kstoken", name = "Outcome")]
pub(crate) struct PyOutcome {
    /// `"pass"`, `"reject"`, `"unavailable"`, `"delegate"`, or `"need_shared"`: fetch
    /// `shared_keys` from the shared cache and call again with `shared=`.
    decision: &'static str,
    /// `(environ key, value or None)` to set, in order, after stripping every identity header.
    headers: Py<PyList>,
    /// The user token's body JSON (for `keystone.token_info`), when it was read.
    user_token_info: Option<Py<PyString>>,
    /// Whether the user token is valid for this request.
    user_valid: bool,
    /// Why the user token was refused (a stable name), if it was.
    user_refusal: Option<&'static str>,
    /// The refusal as a sentence.
    user_reason: Option<String>,
    /// `"cache"`, `"shared_cache"`, `"validated"` or `None`.
    user_source: Option<&'static str>,
    /// The service token's body JSON, when it was read.
    service_token_info: Option<Py<PyString>>,
    /// Whether the service token is valid (`None` without one).
    service_valid: Option<bool>,
    /// Why the service token was refused.
    service_refusal: Option<&'static str>,
    /// The refusal as a sentence.
    service_reason: Option<String>,
    /// Whether the service token carried one of `service_token_roles` (when it was valid).
    service_role_check: Option<bool>,
    /// Whether fresh signing certificates might change the verdict (none loaded, or a signer
    /// not among them).
    wants_certificates: bool,
    /// Whether no signing certificates are loaded (load or fetch them, then call again).
    missing_certificates: bool,
    /// Whether a current revocation list is needed (fetch one, then call again).
    wants_revocation_list: bool,
    /// The shared-cache keys to fetch before calling again (`decision == "need_shared"`).
    shared_keys: Vec<String>,
    /// `(key, value)` entries to store in the shared cache.
    shared_store: Vec<(String, Py<PyBytes>)>,
}

fn refusal(r: Option<&TokenReport>) -> Option<&Refusal> {
    r.and_then(|r| r.refusal.as_ref())
}

fn source_name(source: Source) -> Option<&'static str> {
    match source {
        Source::Cache => Some("cache"),
        Source::SharedCache => Some("shared_cache"),
        Source::Validated => Some("validated"),
        _ => None,
    }
}

/// What the binding builds once per token: the body as one Python string (so `json.loads` caches
/// keyed by it hash it once) and the user and service header groups as tuples of `(environ key,
/// value)` pairs, built on the token's first request and shared by every later one.
struct PyTokenObjects {
    info: Option<Py<PyString>>,
    user: Py<PyTuple>,
    service: Py<PyTuple>,
}

/// The binding's own memo of [`PyTokenObjects`], keyed by the token data it was built from (the
/// core's type carries no binding's slot). An entry holds a `Weak` to its data, which keeps the
/// allocation and so the address from being reused while the entry lives; it is used only while
/// the data is, and the memo is bounded: past `max` entries the dead ones go, then all.
struct TokenMemo {
    entries: Mutex<HashMap<usize, MemoEntry>>,
    max: usize,
}

/// A memo entry: the data it was built from, and the objects.
type MemoEntry = (Weak<TokenData>, Arc<PyTokenObjects>);

impl TokenMemo {
    fn new(max: usize) -> Self {
        TokenMemo {
            entries: Mutex::new(HashMap::new()),
            max: max.max(1),
        }
    }

    /// The objects of `data`, built on first use (`None` if building them failed).
    fn objects(&self, py: Python<'_>, data: &Arc<TokenData>) -> Option<Arc<PyTokenObjects>> {
        let key = Arc::as_ptr(data) as usize;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((weak, objects)) = entries.get(&key) {
            if weak.upgrade().is_some_and(|d| Arc::ptr_eq(&d, data)) {
                return Some(Arc::clone(objects));
            }
        }
        let objects = Arc::new(build_objects(py, data)?);
        if entries.len() >= self.max {
            entries.retain(|_, (weak, _)| weak.strong_count() > 0);
            if entries.len() >= self.max {
                entries.clear();
            }
        }
        entries.insert(key, (Arc::downgrade(data), Arc::clone(&objects)));
        Some(objects)
    }
}

fn pairs<'py, 'a>(
    py: Python<'py>,
    headers: impl Iterator<Item = (Header, Option<&'a str>)>,
) -> PyResult<Bound<'py, PyTuple>> {
    let items = headers
        .map(|(header, value)| {
            let value = value.map(|v| PyString::new(py, v));
            PyTuple::new(
                py,
                [
                    environ_key(py, header).into_any(),
                    value.into_pyobject(py)?.into_any(),
                ],
            )
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, items)
}

fn build_objects(py: Python<'_>, data: &TokenData) -> Option<PyTokenObjects> {
    Some(PyTokenObjects {
        // The content was decoded as UTF-8 JSON before it was cached.
        info: std::str::from_utf8(&data.content)
            .ok()
            .map(|t| PyString::new(py, t).unbind()),
        user: pairs(py, data.user_headers()).ok()?.unbind(),
        service: pairs(py, data.service_headers()).ok()?.unbind(),
    })
}

fn extend(list: &Bound<'_, PyList>, group: &Bound<'_, PyTuple>) -> PyResult<()> {
    for item in group.iter() {
        list.append(item)?;
    }
    Ok(())
}

/// The data of a report, as the `Arc` the memo is keyed by.
fn report_data(report: Option<&TokenReport>) -> Option<&Arc<TokenData>> {
    report.and_then(|r| r.data.as_ref())
}

impl PyAuthenticator {
    fn token_info(&self, py: Python<'_>, report: Option<&TokenReport>) -> Option<Py<PyString>> {
        let data = report_data(report)?;
        match self.memo.objects(py, data) {
            Some(o) => o.info.as_ref().map(|i| i.clone_ref(py)),
            None => std::str::from_utf8(&data.content)
                .ok()
                .map(|t| PyString::new(py, t).unbind()),
        }
    }

    fn group(
        &self,
        py: Python<'_>,
        headers: &Bound<'_, PyList>,
        report: Option<&TokenReport>,
        user: bool,
    ) -> PyResult<()> {
        let Some(data) = report_data(report) else {
            return Ok(());
        };
        match self.memo.objects(py, data) {
            Some(o) => extend(
                headers,
                if user {
                    o.user.bind(py)
                } else {
                    o.service.bind(py)
                },
            ),
            None if user => extend(headers, &pairs(py, data.user_headers())?),
            None => extend(headers, &pairs(py, data.service_headers())?),
        }
    }

    fn outcome(&self, py: Python<'_>, o: &Outcome) -> PyResult<PyOutcome> {
        let headers = PyList::empty(py);
        for group in o.header_groups() {
            match group {
                HeaderGroup::Status(header, value) => {
                    let value = PyString::intern(py, value);
                    headers.append(PyTuple::new(
                        py,
                        [environ_key(py, header).into_any(), value.into_any()],
                    )?)?;
                }
                // A group is only there for a valid token, whose report has the data.
                HeaderGroup::User(_) => self.group(py, &headers, o.user.as_ref(), true)?,
                HeaderGroup::Service(_) => self.group(py, &headers, o.service.as_ref(), false)?,
            }
        }
        let decision = match o.decision {
            Decision::Pass => "pass",
            Decision::Reject => "reject",
            Decision::Unavailable => "unavailable",
            _ => "delegate",
        };
        let wants = o.wants();
        Ok(PyOutcome {
            decision,
            headers: headers.unbind(),
            user_token_info: self.token_info(py, o.user.as_ref()),
            user_valid: o.user.as_ref().is_some_and(TokenReport::is_valid),
            user_refusal: refusal(o.user.as_ref()).map(Refusal::as_str),
            user_reason: refusal(o.user.as_ref()).map(ToString::to_string),
            user_source: o.user.as_ref().and_then(|r| source_name(r.source)),
            service_token_info: self.token_info(py, o.service.as_ref()),
            service_valid: o.service.as_ref().map(TokenReport::is_valid),
            service_refusal: refusal(o.service.as_ref()).map(Refusal::as_str),
            service_reason: refusal(o.service.as_ref()).map(ToString::to_string),
            service_role_check: o.service_role_check,
            wants_certificates: wants.certificates || wants.new_certificates,
            missing_certificates: wants.certificates,
            wants_revocation_list: wants.revocation_list,
            shared_keys: Vec::new(),
            shared_store: o
                .shared_store
                .iter()
                .map(|e| (e.key.clone(), PyBytes::new(py, &e.value).unbind()))
                .collect(),
        })
    }
}

/// The outcome of a call that needs shared-cache values first.
fn need_shared(py: Python<'_>, keys: Vec<String>) -> PyOutcome {
    PyOutcome {
        decision: "need_shared",
        headers: PyList::empty(py).unbind(),
        user_token_info: None,
        user_valid: false,
        user_refusal: None,
        user_reason: None,
        user_source: None,
        service_token_info: None,
        service_valid: None,
        service_refusal: None,
        service_reason: None,
        service_role_check: None,
        wants_certificates: false,
        missing_certificates: false,
        wants_revocation_list: false,
        shared_keys: keys,
        shared_store: Vec::new(),
    }
}

#[pymethods]
impl PyAuthenticator {
    #[new]
    #[pyo3(signature = (*, hash_algorithms, bind_mode="permissive", lenient=false,
        delay_auth_decision=false, include_service_catalog=true, service_token_roles=None,
        service_token_roles_required=false, revocation="off", delegate_non_pki=false,
        cache=true, cache_ttl=Some(300.0), cache_max_entries=10000, cache_max_bytes=67108864,
        shared_cache=false, memcache_security_strategy=None, memcache_secret_key=None,
        max_token_len=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        hash_algorithms: Vec<PyBackedStr>,
        bind_mode: &str,
        lenient: bool,
        delay_auth_decision: bool,
        include_service_catalog: bool,
        service_token_roles: Option<Vec<String>>,
        service_token_roles_required: bool,
        revocation: &str,
        delegate_non_pki: bool,
        cache: bool,
        cache_ttl: Option<f64>,
        cache_max_entries: usize,
        cache_max_bytes: usize,
        shared_cache: bool,
        memcache_security_strategy: Option<&str>,
        memcache_secret_key: Option<&str>,
        max_token_len: Option<usize>,
    ) -> PyResult<Self> {
        let hash_algorithms = hash_algorithms
            .iter()
            .map(|n| {
                HashAlgorithm::from_str(n)
                    .map_err(|_| PyValueError::new_err(format!("unsupported hash type {}", &**n)))
            })
            .collect::<PyResult<Vec<_>>>()?;
        if hash_algorithms.is_empty() {
            return Err(PyValueError::new_err("hash_algorithms is empty"));
        }
        let hash_algorithms = HashAlgorithms::new(hash_algorithms)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let revocation = match revocation {
            "off" => RevocationMode::Off,
            "enforce" => RevocationMode::Enforce {
                check_cached: false,
            },
            "enforce_cached" => RevocationMode::Enforce { check_cached: true },
            other => {
                return Err(PyValueError::new_err(format!(
                    "revocation must be off, enforce or enforce_cached, not {other:?}"
                )))
            }
        };
        let protection = match memcache_security_strategy {
            None => None,
            Some(s) if s.eq_ignore_ascii_case("none") => None,
            Some(s) => Some(
                Protection::new(s, memcache_secret_key.unwrap_or("").as_bytes())
                    .map_err(|e| PyValueError::new_err(e.to_string()))?,
            ),
        };
        let mut limits = Limits::default();
        if let Some(n) = max_token_len {
            limits.max_token_len = n;
        }
        let config = Config {
            policy: Policy {
                hash_algorithms,
                bind_mode: BindMode::parse(bind_mode),
                detection: DetectionRule::from_lenient(lenient),
            },
            delay_auth_decision,
            include_service_catalog,
            service_token_roles: service_token_roles.unwrap_or_default(),
            service_token_roles_required,
            revocation,
            non_pki: if delegate_non_pki {
                NonPki::Delegate
            } else {
                NonPki::Refuse
            },
            cache: cache.then(|| CacheLimits {
                ttl_us: cache_ttl.map(|t| (t * 1e6) as i64),
                max_entries: cache_max_entries,
                max_bytes: cache_max_bytes,
            }),
            limits,
            shared_cache: shared_cache.then(|| SharedFormat::new(protection)),
        };
        Ok(PyAuthenticator {
            inner: Authenticator::new(config),
            memo: TokenMemo::new(cache_max_entries.min(1024)),
        })
    }

    /// Loads the signing certificate(s) and CA bundle (PEM); cached refusals are dropped.
    fn set_certificates(
        &self,
        py: Python<'_>,
        signing_certs: PyBackedBytes,
        ca: PyBackedBytes,
    ) -> PyResult<()> {
        let limits = self.inner.config().limits;
        let verifier = detach(py, || Verifier::new(&signing_certs, &ca))
            .map_err(|e| to_py(py, e))?
            .with_limits(limits);
        self.inner.set_verifier(Some(Arc::new(verifier)));
        Ok(())
    }

    /// Forgets the certificates (PKI tokens are then "unavailable").
    fn clear_certificates(&self) {
        self.inner.set_verifier(None);
    }

    /// Whether certificates are loaded.
    fn has_certificates(&self) -> bool {
        self.inner.verifier().is_some()
    }

    /// Verifies keystone's signed revocation list (`{"signed": PEM}` or the PEM) with the loaded
    /// certificates at `at` and enforces it until `enforce_until` (Unix seconds); returns its length.
    #[pyo3(signature = (signed, enforce_until, at=None))]
    fn set_revocation_list(
        &self,
        py: Python<'_>,
        signed: PyBackedBytes,
        enforce_until: f64,
        at: Option<f64>,
    ) -> PyResult<usize> {
        let Some(verifier) = self.inner.verifier() else {
            return Err(to_py(
                py,
                kstoken::Error::CertificateConfig(
                    "no signing certificates to verify the revocation list with".to_owned(),
                ),
            ));
        };
        let at = now_us(at).div_euclid(1_000_000);
        let list = detach(py, || RevocationList::from_signed(&signed, &verifier, at))
            .map_err(|e| to_py(py, e))?;
        let len = list.len();
        self.inner
            .set_revocation_list(Some(Arc::new(list)), now_us(Some(enforce_until)));
        Ok(len)
    }

    /// Removes the revocation list.
    fn clear_revocation_list(&self) {
        self.inner.set_revocation_list(None, 0);
    }

    /// `(entries, enforce_until)` of the installed list, or `None`.
    fn revocation_list_state(&self) -> Option<(usize, f64)> {
        self.inner
            .revocation_list()
            .map(|(list, until)| (list.len(), until as f64 / 1e6))
    }

    /// Authenticates one request at `now` (Unix seconds, default the clock); `shared` holds the
    /// values found for the `shared_keys` an earlier call asked for (keys not found left out).
    #[pyo3(signature = (user_token, service_token=None, auth_type=None, remote_user=None,
        client_cert=None, now=None, shared=None))]
    #[allow(clippy::too_many_arguments)]
    fn authenticate(
        &self,
        py: Python<'_>,
        user_token: Option<PyBackedStr>,
        service_token: Option<PyBackedStr>,
        auth_type: Option<PyBackedStr>,
        remote_user: Option<PyBackedStr>,
        client_cert: Option<PyBackedStr>,
        now: Option<f64>,
        shared: Option<HashMap<String, Bound<'_, PyAny>>>,
    ) -> PyResult<PyOutcome> {
        let now = now_us(now);
        // A value that is not bytes is not something memcached gave: a miss, like any other
        // unreadable entry.
        let shared: Option<Vec<(String, PyBackedBytes)>> = shared.map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| v.extract::<PyBackedBytes>().ok().map(|v| (k, v)))
                .collect()
        });
        let found: Option<Vec<(&str, &[u8])>> = shared
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), &v[..])).collect());
        let result = detach(py, || {
            let credentials = Credentials {
                user_token: user_token.as_deref().map(str::as_bytes),
                service_token: service_token.as_deref().map(str::as_bytes),
                auth: AuthContext {
                    auth_type: auth_type.as_deref(),
                    remote_user: remote_user.as_deref(),
                    client_cert: client_cert.as_deref().map(str::as_bytes),
                },
            };
            let values = found.as_deref().map(SharedValues::new);
            self.inner.authenticate(&credentials, now, values.as_ref())
        });
        match result {
            Authentication::Decided(outcome) => self.outcome(py, &outcome),
            Authentication::NeedShared { keys } => Ok(need_shared(py, keys)),
        }
    }

    /// `(entries, estimated bytes)` in the process token cache.
    fn cache_usage(&self) -> (usize, usize) {
        self.inner.cache_usage()
    }

    /// Empties the process token cache.
    fn clear_cache(&self) {
        self.inner.clear_cache();
    }

    fn __repr__(&self) -> String {
        let (entries, _) = self.inner.cache_usage();
        format!(
            "<kstoken._kstoken.Authenticator certificates={} cached={entries}>",
            self.inner.verifier().is_some()
        )
    }
}

/// Adds the authenticator, its outcome, and `IDENTITY_HEADERS` (`[(header name, environ key)]` for
/// every identity header the middleware sets or strips) to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAuthenticator>()?;
    m.add_class::<PyOutcome>()?;
    let headers: Vec<(&str, &str)> = ALL_HEADERS
        .iter()
        .map(|h| (h.name, h.environ_key))
        .collect();
    m.add("IDENTITY_HEADERS", headers)
}
