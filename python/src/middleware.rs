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
    refusal_names, Authentication, Authenticator, CacheLimits, Config, Credentials, Decision,
    Header, HeaderGroup, NonPki, Outcome, Protection, Refusal, RevocationMode, SharedFormat,
    SharedValues, Source, Tally, TokenData, TokenReport, ALL_HEADERS, DECISIONS,
};
use kstoken::body::bind::{AuthContext, BindMode};
use kstoken::revocation::RevocationList;
use kstoken::{DetectionRule, HashAlgorithm, HashAlgorithms, Limits, Policy, Verifier};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

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
#[pyclass(frozen, module = "kstoken._kstoken", name = "Outcome")]
pub(crate) struct PyOutcome {
    /// `"pass"`, `"reject"`, `"unavailable"`, `"delegate"`, or `"need_shared"`: fetch
    /// `shared_keys` from the shared cache and call again with `shared=`.
    #[pyo3(get)]
    decision: &'static str,
    /// `(environ key, value or None)` to set, in order, after stripping every identity header.
    #[pyo3(get)]
    headers: Py<PyList>,
    /// The user token's body JSON (for `keystone.token_info`), when it was read.
    #[pyo3(get)]
    user_token_info: Option<Py<PyString>>,
    /// Whether the user token is valid for this request.
    #[pyo3(get)]
    user_valid: bool,
    /// Why the user token was refused (a stable name), if it was.
    #[pyo3(get)]
    user_refusal: Option<&'static str>,
    /// The refusal as a sentence.
    #[pyo3(get)]
    user_reason: Option<String>,
    /// `"cache"`, `"shared_cache"`, `"validated"` or `None`.
    #[pyo3(get)]
    user_source: Option<&'static str>,
    /// The service token's body JSON, when it was read.
    #[pyo3(get)]
    service_token_info: Option<Py<PyString>>,
    /// Whether the service token is valid (`None` without one).
    #[pyo3(get)]
    service_valid: Option<bool>,
    /// Why the service token was refused.
    #[pyo3(get)]
    service_refusal: Option<&'static str>,
    /// The refusal as a sentence.
    #[pyo3(get)]
    service_reason: Option<String>,
    /// Whether the service token carried one of `service_token_roles` (when it was valid).
    #[pyo3(get)]
    service_role_check: Option<bool>,
    /// Whether fresh signing certificates might change the verdict (none loaded, or a signer
    /// not among them).
    #[pyo3(get)]
    wants_certificates: bool,
    /// Whether no signing certificates are loaded (load or fetch them, then call again).
    #[pyo3(get)]
    missing_certificates: bool,
    /// Whether a current revocation list is needed (fetch one, then call again).
    #[pyo3(get)]
    wants_revocation_list: bool,
    /// The shared-cache keys to fetch before calling again (`decision == "need_shared"`).
    #[pyo3(get)]
    shared_keys: Vec<String>,
    /// `(key, value)` entries to store in the shared cache.
    #[pyo3(get)]
    shared_store: Vec<(String, Py<PyBytes>)>,
    /// What the request counts if this is its final outcome (`Authenticator.record`).
    tally: Option<Tally>,
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
/// allocation and so the address from being reused while the entry lives, and it is used only
/// while the data is.
///
/// The objects live as long as the token's entry in the process cache and count against the same
/// byte bound: their bytes are charged to that entry ([`Authenticator::charge`]) when they are
/// built, and an entry whose data the cache has dropped is pruned once the memo holds a few more
/// entries than the cache (`slack`), so what the memo keeps beyond what is charged stays small.
/// Tokens that are not in the process cache get their objects built per request, not memoised.
struct TokenMemo {
    entries: Mutex<HashMap<usize, MemoEntry>>,
}

/// A memo entry: the data it was built from, and the objects.
type MemoEntry = (Weak<TokenData>, Arc<PyTokenObjects>);

/// How many more entries than the process cache holds the memo keeps before it drops the dead
/// ones: a few for requests in flight, and a small share of the cache so that pruning (a walk over
/// every entry) happens once per that many new tokens.
fn slack(cached: usize) -> usize {
    16 + cached / 32
}

impl TokenMemo {
    fn new() -> Self {
        TokenMemo {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<usize, MemoEntry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The objects of `report`'s token data, built on first use and charged to its cache entry
    /// (`None` without data, or if building them failed).
    fn objects(
        &self,
        py: Python<'_>,
        auth: &Authenticator,
        report: Option<&TokenReport>,
        now: i64,
    ) -> Option<Arc<PyTokenObjects>> {
        let report = report?;
        let data = report.data.as_ref()?;
        if report.cache_key.is_none() {
            return build_objects(py, data).map(Arc::new);
        }
        let key = Arc::as_ptr(data) as usize;
        let found = |entries: &HashMap<usize, MemoEntry>| {
            entries
                .get(&key)
                .filter(|(weak, _)| weak.upgrade().is_some_and(|d| Arc::ptr_eq(&d, data)))
                .map(|(_, objects)| Arc::clone(objects))
        };
        if let Some(objects) = found(&self.lock()) {
            return Some(objects);
        }
        // Built without the lock held: building runs Python code, which may switch threads.
        let objects = Arc::new(build_objects(py, data)?);
        let bytes = objects_bytes(py, &objects);
        {
            let mut entries = self.lock();
            if let Some(theirs) = found(&entries) {
                return Some(theirs);
            }
            if entries.len() >= auth.cache_usage().0 + slack(entries.len()) {
                entries.retain(|_, (weak, _)| weak.strong_count() > 0);
            }
            entries.insert(key, (Arc::downgrade(data), Arc::clone(&objects)));
        }
        auth.charge(report, bytes, now);
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

/// `sys.getsizeof`, looked up once.
static GETSIZEOF: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// What Python's allocator takes for an object of `sys.getsizeof` bytes: pymalloc rounds blocks of
/// up to 512 bytes to 16; larger ones come from malloc (an 8-byte header, 16-byte granules).
fn python_bytes(obj: &Bound<'_, PyAny>) -> usize {
    let py = obj.py();
    let size = GETSIZEOF
        .get_or_try_init(py, || {
            py.import("sys")
                .and_then(|sys| sys.getattr("getsizeof"))
                .map(Bound::unbind)
        })
        .and_then(|f| f.bind(py).call1((obj,)))
        .and_then(|n| n.extract::<usize>())
        .unwrap_or(0);
    if size <= 512 {
        size.div_ceil(16) * 16
    } else {
        (size + 8).div_ceil(16) * 16
    }
}

/// The bytes a token's Python objects hold: the body string, and each header group's tuples and
/// value strings (the environ keys are interned, `None` is shared).
fn objects_bytes(py: Python<'_>, o: &PyTokenObjects) -> usize {
    let mut total = o
        .info
        .as_ref()
        .map_or(0, |i| python_bytes(i.bind(py).as_any()));
    for group in [o.user.bind(py), o.service.bind(py)] {
        total += python_bytes(group.as_any());
        for pair in group.iter() {
            total += python_bytes(&pair);
            if let Ok(value) = pair.get_item(1) {
                if !value.is_none() {
                    total += python_bytes(&value);
                }
            }
        }
    }
    total
}

fn extend(list: &Bound<'_, PyList>, group: &Bound<'_, PyTuple>) -> PyResult<()> {
    for item in group.iter() {
        list.append(item)?;
    }
    Ok(())
}

/// The body string of a token's data: the memoised one, else a new one.
fn token_info(
    py: Python<'_>,
    report: Option<&TokenReport>,
    objects: Option<&PyTokenObjects>,
) -> Option<Py<PyString>> {
    match objects {
        Some(o) => o.info.as_ref().map(|i| i.clone_ref(py)),
        None => report
            .and_then(|r| r.data.as_ref())
            .and_then(|d| std::str::from_utf8(&d.content).ok())
            .map(|t| PyString::new(py, t).unbind()),
    }
}

impl PyAuthenticator {
    /// The verifier a revocation list is checked with: an error naming what is missing without one.
    fn list_verifier(&self, py: Python<'_>) -> PyResult<Arc<Verifier>> {
        self.inner.verifier().ok_or_else(|| {
            to_py(
                py,
                kstoken::Error::CertificateConfig(
                    "no signing certificates to verify the revocation list with".to_owned(),
                ),
            )
        })
    }

    fn outcome(&self, py: Python<'_>, o: &Outcome, now: i64) -> PyResult<PyOutcome> {
        let user = self.memo.objects(py, &self.inner, o.user.as_ref(), now);
        let service = self.memo.objects(py, &self.inner, o.service.as_ref(), now);
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
                HeaderGroup::User(_) => {
                    match (&user, o.user.as_ref().and_then(|r| r.data.as_ref())) {
                        (Some(objects), _) => extend(&headers, objects.user.bind(py))?,
                        (None, Some(data)) => extend(&headers, &pairs(py, data.user_headers())?)?,
                        (None, None) => {}
                    }
                }
                HeaderGroup::Service(_) => {
                    match (&service, o.service.as_ref().and_then(|r| r.data.as_ref())) {
                        (Some(objects), _) => extend(&headers, objects.service.bind(py))?,
                        (None, Some(data)) => {
                            extend(&headers, &pairs(py, data.service_headers())?)?
                        }
                        (None, None) => {}
                    }
                }
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
            user_token_info: token_info(py, o.user.as_ref(), user.as_deref()),
            user_valid: o.user.as_ref().is_some_and(TokenReport::is_valid),
            user_refusal: refusal(o.user.as_ref()).map(Refusal::as_str),
            user_reason: refusal(o.user.as_ref()).map(ToString::to_string),
            user_source: o.user.as_ref().and_then(|r| source_name(r.source)),
            service_token_info: token_info(py, o.service.as_ref(), service.as_deref()),
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
            tally: Some(o.tally()),
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
        tally: None,
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
        max_token_len=None, max_revocation_list_len=None))]
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
        max_revocation_list_len: Option<usize>,
    ) -> PyResult<Self> {
        let hash_algorithms = hash_algorithms
            .iter()
            .map(|n| {
                HashAlgorithm::from_str(n).map_err(|e| PyValueError::new_err(e.detail().to_owned()))
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
        if let Some(n) = max_revocation_list_len {
            limits.max_revocation_list_len = n;
        }
        let config = Config {
            policy: Policy {
                hash_algorithms,
                bind_mode: BindMode::parse_configured(bind_mode)
                    .map_err(|e| PyValueError::new_err(e.detail().to_owned()))?,
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
            memo: TokenMemo::new(),
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

    /// Replaces the signing certificate(s) with `signing_certs` (PEM) under the CA already trusted
    /// (`Verifier::rotate`): each must chain to it at `at` (Unix seconds, default now), else
    /// `CertificateConfigError` saying so and what to do; cached refusals are dropped.
    #[pyo3(signature = (signing_certs, at=None))]
    fn rotate_certificates(
        &self,
        py: Python<'_>,
        signing_certs: PyBackedBytes,
        at: Option<f64>,
    ) -> PyResult<()> {
        let Some(current) = self.inner.verifier() else {
            return Err(to_py(
                py,
                kstoken::Error::CertificateConfig(
                    "no trusted CA loaded to rotate the signing certificate under".to_owned(),
                ),
            ));
        };
        let at = now_us(at).div_euclid(1_000_000);
        let rotated =
            detach(py, || current.rotate(&signing_certs, at)).map_err(|e| to_py(py, e))?;
        self.inner.set_verifier(Some(Arc::new(rotated)));
        Ok(())
    }

    /// Whether every certificate of `signing_certs` chains to the CA bundle `ca` at `at` (both
    /// PEM; unreadable ones do not): how a fetched pair tells a new CA from a bad certificate.
    #[staticmethod]
    #[pyo3(signature = (signing_certs, ca, at=None))]
    fn chains_to(
        py: Python<'_>,
        signing_certs: PyBackedBytes,
        ca: PyBackedBytes,
        at: Option<f64>,
    ) -> bool {
        let at = now_us(at).div_euclid(1_000_000);
        detach(py, || {
            Verifier::new(&signing_certs, &ca)
                .and_then(|v| v.rotate(&signing_certs, at))
                .is_ok()
        })
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
        let verifier = self.list_verifier(py)?;
        let at = now_us(at).div_euclid(1_000_000);
        let list = detach(py, || RevocationList::from_signed(&signed, &verifier, at))
            .map_err(|e| to_py(py, e))?;
        let len = list.len();
        self.inner
            .set_revocation_list(Some(Arc::new(list)), now_us(Some(enforce_until)));
        Ok(len)
    }

    /// Verifies keystone's signed revocation list as `set_revocation_list` does and installs it
    /// merged with the list in force and with `held` (keystone's JSON `{"revoked": [...]}`, unsigned:
    /// entries kept from earlier lists, which can only add refusals): a revocation once seen holds
    /// until its token expires (`RevocationList::merge`). Returns `(entries in force, carried)`,
    /// `carried` being the JSON of the entries the signed list lacks (`None` when it has them all).
    #[pyo3(signature = (signed, enforce_until, at=None, held=None))]
    fn install_revocation_list(
        &self,
        py: Python<'_>,
        signed: PyBackedBytes,
        enforce_until: f64,
        at: Option<f64>,
        held: Option<PyBackedBytes>,
    ) -> PyResult<(usize, Option<String>)> {
        let verifier = self.list_verifier(py)?;
        let at = now_us(at).div_euclid(1_000_000);
        let previous = self.inner.revocation_list().map(|(list, _)| list);
        let (list, carried) = detach(py, || -> kstoken::Result<_> {
            let list = RevocationList::from_signed(&signed, &verifier, at)?;
            let mut carried = Vec::new();
            let mut list = match previous {
                Some(previous) => {
                    let merged = list.merge(&previous, at);
                    carried.extend(merged.carried);
                    merged.list
                }
                None => list,
            };
            if let Some(held) = held.as_deref() {
                let limits = verifier.limits().for_revocation_list();
                limits.check(kstoken::LimitKind::RevocationListLength, held.len())?;
                let merged = list.merge(&RevocationList::from_json(held, &limits)?, at);
                carried.extend(merged.carried);
                list = merged.list;
            }
            Ok((list, carried))
        })
        .map_err(|e| to_py(py, e))?;
        let len = list.len();
        self.inner
            .set_revocation_list(Some(Arc::new(list)), now_us(Some(enforce_until)));
        let carried = (!carried.is_empty()).then(|| kstoken::revocation::to_json(&carried));
        Ok((len, carried))
    }

    /// Moves the enforcement deadline of the list in force to `enforce_until` (Unix seconds);
    /// whether there is one.
    fn set_revocation_deadline(&self, enforce_until: f64) -> bool {
        match self.inner.revocation_list() {
            Some((list, _)) => {
                self.inner
                    .set_revocation_list(Some(list), now_us(Some(enforce_until)));
                true
            }
            None => false,
        }
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
            Authentication::Decided(outcome) => self.outcome(py, &outcome, now),
            Authentication::NeedShared { keys } => Ok(need_shared(py, keys)),
        }
    }

    /// Keystone has no revocation lists (it answers 404 or 410): tokens are judged without one from
    /// now on. The list in force, if any, keeps its entries (a revocation once seen holds); else an
    /// empty one is installed. No deadline: `set_revocation_list` or `install_revocation_list` ends
    /// this when keystone serves a list again.
    fn enforce_without_list(&self, py: Python<'_>) -> PyResult<()> {
        let list = match self.inner.revocation_list() {
            Some((list, _)) => list,
            None => Arc::new(RevocationList::from_entries(Vec::new()).map_err(|e| to_py(py, e))?),
        };
        self.inner.set_revocation_list(Some(list), i64::MAX);
        Ok(())
    }

    /// Counts one request from its final outcome (a request authenticated again after a fetch
    /// counts once), the caches' hits and misses from `first`, its first decided outcome, when it
    /// was judged more than once; an outcome that asked for shared-cache values counts nothing.
    #[pyo3(signature = (outcome, first=None))]
    fn record(&self, outcome: PyRef<'_, PyOutcome>, first: Option<PyRef<'_, PyOutcome>>) {
        let Some(tally) = outcome.tally else {
            return;
        };
        let tally = match first.as_ref().and_then(|f| f.tally) {
            Some(first) => tally.with_sources_of(&first),
            None => tally,
        };
        self.inner.record(&tally);
    }

    /// The counters of the recorded requests: `{"decisions": {decision: n}, "accepted": n,
    /// "refused": {refusal: n}, "process_cache": (hits, misses), "shared_cache": (hits, misses)}`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let out = PyDict::new(py);
        let decisions = PyDict::new(py);
        for (name, n) in DECISIONS.iter().zip(s.decisions) {
            decisions.set_item(name, n)?;
        }
        let refused = PyDict::new(py);
        for (name, n) in refusal_names().iter().zip(s.refused) {
            refused.set_item(name, n)?;
        }
        out.set_item("decisions", decisions)?;
        out.set_item("accepted", s.accepted)?;
        out.set_item("refused", refused)?;
        out.set_item(
            "process_cache",
            (s.process_cache.hits, s.process_cache.misses),
        )?;
        out.set_item("shared_cache", (s.shared_cache.hits, s.shared_cache.misses))?;
        Ok(out)
    }

    /// Every counter back to zero (a forked child counts only what it serves).
    fn reset_stats(&self) {
        self.inner.reset_stats();
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

/// The identity header (its canonical name) a request header named `name` stands for in any
/// spelling, or None: core's rule (`auth_token::identity_header`), so that the ASGI middleware
/// strips exactly what the WSGI middleware, the C library and mod_kstoken strip.
#[pyfunction]
fn identity_header(name: &[u8]) -> Option<&'static str> {
    kstoken::auth_token::identity_header(name).map(|h| h.name)
}

/// Adds the authenticator, its outcome, `identity_header` and `IDENTITY_HEADERS` (`[(header name,
/// environ key)]` for every identity header the middleware sets or strips) to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAuthenticator>()?;
    m.add_class::<PyOutcome>()?;
    m.add_function(wrap_pyfunction!(identity_header, m)?)?;
    let headers: Vec<(&str, &str)> = ALL_HEADERS
        .iter()
        .map(|h| (h.name, h.environ_key))
        .collect();
    m.add("IDENTITY_HEADERS", headers)
}
