"""What the WSGI and ASGI adapters share: configuration, the native authenticator, certificates and
revocation lists from keystone, memcached, and process life (threads, fork).

Per request the adapters call :meth:`Engine.authenticate` once; it calls the native authenticator
once (GIL released), and only when keystone is needed and nothing usable is loaded yet (first
request, certificates missing, list missing or expired) does it fetch synchronously and ask again.
A background thread per process refreshes the revocation list every ``revocation_cache_time``
seconds; it is started by the first request in each process, so objects built before a fork (gunicorn
``--preload``) keep working in every worker.
"""

import logging
import os
import threading
import time
import weakref
from typing import Any, Dict, Optional, Set, Tuple

from kstoken import _kstoken
from kstoken.exceptions import KstokenError, VerificationError
from kstoken.middleware import _config
from kstoken.middleware._config import ConfigurationError
from kstoken.middleware._keystone import Keystone, KeystoneError
from kstoken.middleware._memcache import Memcache
from kstoken.middleware._signing_dir import CA_CERT, REVOCATION_LIST, SIGNING_CERT, SigningDirectory, Stamp
from kstoken.middleware._token_data import TokenData

__all__ = ["Engine", "Outcome"]

Outcome = _kstoken.Outcome

#: Seconds between checks of signing_dir for replaced certificate files.
CERT_RECHECK = 1.0
#: Seconds after a failed certificate fetch before a request may try again.
CERT_FETCH_RETRY = 10.0
#: Seconds between certificate re-fetches triggered by tokens from an unknown signer.
CERT_ROTATION_RETRY = 60.0
#: Seconds after a failed revocation-list fetch before a request may try again itself.
LIST_FETCH_RETRY = 5.0

_ENGINES: "weakref.WeakSet[Engine]" = weakref.WeakSet()

#: A request's credentials: user token, service token, AUTH_TYPE, REMOTE_USER, client certificate.
Credentials = Tuple[Optional[str], Optional[str], Optional[str], Optional[str], Optional[str]]


def _after_fork_in_child() -> None:
    for engine in list(_ENGINES):
        engine._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Engine:
    """The middleware without its server interface."""

    def __init__(self, conf: Any) -> None:
        settings = _config.load(conf)
        self.settings = settings
        self.log = logging.getLogger(settings.log_name)
        for warning in settings.warnings:
            self.log.warning(warning)
        if not settings.service_token_roles_required:
            self.log.warning(
                "AuthToken middleware is set with keystone_authtoken.service_token_roles_required "
                "set to False. This is backwards compatible but deprecated behaviour. Please set "
                "this to True."
            )
        self.keystone = Keystone(settings, self.log)
        uri = settings.www_authenticate_uri
        if not uri:
            self.log.warning(
                "Configuring www_authenticate_uri to point to the public identity endpoint is "
                "required; clients may not be able to authenticate against an admin endpoint"
            )
            uri = self.keystone.www_authenticate_uri()
        self.www_authenticate_uri = uri
        self.signing_dir = SigningDirectory(settings.signing_dir, self.log)
        self.revocation = settings.revocation_enforced
        self.online, self.online_reason = self._online_validation()
        cache = settings.token_cache_time >= 0
        use_memcache = bool(settings.memcached_servers) and cache
        self.native = _kstoken.Authenticator(
            hash_algorithms=settings.hash_algorithms,
            bind_mode=settings.enforce_token_bind,
            delay_auth_decision=settings.delay_auth_decision,
            include_service_catalog=settings.include_service_catalog,
            service_token_roles=settings.service_token_roles,
            service_token_roles_required=settings.service_token_roles_required,
            revocation=(
                ("enforce_cached" if settings.check_revocations_for_cached else "enforce")
                if self.revocation
                else "off"
            ),
            delegate_non_pki=self.online,
            cache=cache,
            cache_ttl=float(settings.token_cache_time) if settings.token_cache_time > 0 else None,
            cache_max_entries=settings.kstoken_cache_max_entries,
            cache_max_bytes=settings.kstoken_cache_max_bytes,
            shared_cache=use_memcache,
            memcache_security_strategy=settings.memcache_security_strategy,
            memcache_secret_key=settings.memcache_secret_key,
        )
        self.memcache: Optional[Memcache] = None
        if settings.memcached_servers and cache:
            self.memcache = Memcache(
                settings.memcached_servers,
                settings.token_cache_time,
                socket_timeout=settings.memcache_pool_socket_timeout,
                dead_retry=settings.memcache_pool_dead_retry,
                maxsize=settings.memcache_pool_maxsize,
                unused_timeout=settings.memcache_pool_unused_timeout,
                log=self.log,
            )
        self._token_data = TokenData(min(settings.kstoken_cache_max_entries, 1000))
        self._init_process_state()
        self._cert_stamp: Optional[Tuple[Optional[Stamp], Optional[Stamp]]] = None
        self._list_fetched_at: Optional[float] = None
        self._warned: Set[str] = set()
        self._load_certificates()
        if self.revocation:
            self._load_revocation_list()
        self.log.info("kstoken.middleware: %s", self.describe())
        _ENGINES.add(self)

    # -- process life -------------------------------------------------------------------------

    def _init_process_state(self) -> None:
        self._lock = threading.Lock()
        self._cert_lock = threading.Lock()
        self._list_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        # Whether this process's background work is started (reset in a forked child).
        self._started = False
        self._next_cert_check = 0.0
        self._next_cert_fetch = 0.0
        self._next_list_fetch = 0.0

    def _after_fork(self) -> None:
        # Threads do not survive a fork and locks may have been held by one: start afresh.
        self._init_process_state()
        self.keystone.reset()
        if self.memcache is not None:
            self.memcache.reset()

    def _ensure_process(self) -> None:
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
            if self.revocation:
                self._thread = threading.Thread(
                    target=self._refresh_loop, name="kstoken-revocation-list", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        """Stops the background refresh (tests and orderly shutdowns)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def describe(self) -> str:
        """The startup line: which mode is in force, and with what."""
        s = self.settings
        parts = []
        if self.revocation:
            parts.append(
                "mode: revocation lists enforced (fetched every %gs from %s; the last good list is "
                "enforced for %gs more when keystone is unreachable, then 503)"
                % (s.revocation_cache_time, self.keystone.describe(), s.kstoken_revocation_stale_time)
            )
        else:
            parts.append(
                "mode: offline, no list (PKI/PKIZ tokens are validated with the certificates in %s; "
                "%s)"
                % (
                    self.signing_dir.path,
                    "no service credentials configured"
                    if s.kstoken_revocation == "auto"
                    else "kstoken_revocation = off",
                )
            )
        parts.append("signing_dir %s" % self.signing_dir.path)
        if s.token_cache_time < 0:
            parts.append("token cache disabled")
        else:
            parts.append(
                "token cache %s (%s)"
                % (
                    "%ds" % s.token_cache_time if s.token_cache_time else "without time limit",
                    "in process + memcached %s" % self.memcache.describe() if self.memcache else "in process",
                )
            )
        parts.append(
            "other tokens: %s"
            % ("validated online by keystonemiddleware" if self.online else "refused (%s)" % self.online_reason)
        )
        return "; ".join(parts)

    def _online_validation(self) -> Tuple[bool, str]:
        s = self.settings
        if s.kstoken_online_validation == "off":
            return False, "kstoken_online_validation = off"
        if not s.has_credentials:
            return False, "no service credentials are configured for online validation"
        try:
            import keystonemiddleware.auth_token  # noqa: F401
        except ImportError:
            return False, "keystonemiddleware is not installed"
        return True, ""

    # -- native calls (each one a call os.fork() waits for: the native module's fork gate) -------

    def _authenticate(self, args: "Credentials") -> Outcome:
        user, service, auth_type, remote_user, client_cert = args
        out = self.native.authenticate(user, service, auth_type, remote_user, client_cert)
        if out.shared_keys:
            # A process-cache miss: fetch the token's memcached entries, then decide with them.
            found: Dict[str, bytes] = {}
            for key in out.shared_keys:
                value = self.memcache.get(key) if self.memcache is not None else None
                if isinstance(value, bytes):
                    found[key] = value
            out = self.native.authenticate(user, service, auth_type, remote_user, client_cert, shared=found)
        if self.memcache is not None:
            for key, value in out.shared_store:
                self.memcache.set(key, value)
        return out

    def _set_certificates(self, signing: bytes, ca: bytes) -> None:
        self.native.set_certificates(signing, ca)

    def _set_revocation_list(self, body: bytes, deadline: float, at: Optional[float] = None) -> int:
        return int(self.native.set_revocation_list(body, deadline, at))

    # -- certificates -------------------------------------------------------------------------

    def _cert_stamps(self) -> Tuple[Optional[Stamp], Optional[Stamp]]:
        return (self.signing_dir.stamp(SIGNING_CERT), self.signing_dir.stamp(CA_CERT))

    def _load_certificates(self) -> bool:
        """(Re)loads the certificates from signing_dir when they changed; whether some are loaded."""
        stamps = self._cert_stamps()
        if stamps == self._cert_stamp:
            return bool(self.native.has_certificates())
        self._cert_stamp = stamps
        if None in stamps:
            return bool(self.native.has_certificates())
        signing = self.signing_dir.read(SIGNING_CERT)
        ca = self.signing_dir.read(CA_CERT)
        if signing is None or ca is None:
            return bool(self.native.has_certificates())
        try:
            self._set_certificates(signing, ca)
        except KstokenError as e:
            self.log.error("kstoken.middleware: the certificates in %s cannot be used: %s", self.signing_dir.path, e)
            return bool(self.native.has_certificates())
        self.log.info("kstoken.middleware: loaded the signing and CA certificates from %s", self.signing_dir.path)
        return True

    def _maybe_reload_certificates(self) -> None:
        now = time.monotonic()
        if now < self._next_cert_check:
            return
        self._next_cert_check = now + CERT_RECHECK
        self._load_certificates()

    def fetch_certificates(self, retry_after: float = CERT_FETCH_RETRY) -> bool:
        """Fetches the certificates from keystone (at most once per ``retry_after`` seconds)."""
        with self._cert_lock:
            now = time.monotonic()
            if now < self._next_cert_fetch:
                return False
            self._next_cert_fetch = now + retry_after
            try:
                signing, ca = self.keystone.fetch_certificates()
            except KeystoneError as e:
                self.log.error("kstoken.middleware: cannot fetch the signing certificates: %s", e)
                return False
            try:
                self._set_certificates(signing, ca)
            except KstokenError as e:
                self.log.error("kstoken.middleware: keystone's certificates cannot be used: %s", e)
                return False
            try:
                self.signing_dir.write(SIGNING_CERT, signing)
                self.signing_dir.write(CA_CERT, ca)
                self._cert_stamp = self._cert_stamps()
            except OSError as e:
                self.log.error("kstoken.middleware: cannot write to %s: %s", self.signing_dir.path, e)
            self.log.info("kstoken.middleware: fetched signing certificate and fetched CA certificate from keystone")
            return True

    # -- revocation lists ---------------------------------------------------------------------

    def _list_deadline(self, fetched_at: float) -> float:
        s = self.settings
        return fetched_at + s.revocation_cache_time + s.kstoken_revocation_stale_time

    def list_is_current(self, now: Optional[float] = None) -> bool:
        """Whether a revocation list is installed and still enforceable."""
        state = self.native.revocation_list_state()
        return state is not None and state[1] > (time.time() if now is None else now)

    def _load_revocation_list(self) -> None:
        mtime = self.signing_dir.mtime(REVOCATION_LIST)
        body = self.signing_dir.read(REVOCATION_LIST)
        if mtime is None or body is None or not self.native.has_certificates():
            return
        deadline = self._list_deadline(mtime)
        if deadline <= time.time():
            return
        try:
            n = self._set_revocation_list(body, deadline)
        except KstokenError as e:
            self.log.warning("kstoken.middleware: ignoring %s: %s", self.signing_dir.file(REVOCATION_LIST), e)
            return
        self._list_fetched_at = mtime
        self.log.info("kstoken.middleware: loaded the revocation list (%d entries) from %s", n, self.signing_dir.path)

    def fetch_revocation_list(self, from_request: bool = False) -> bool:
        """Fetches, verifies and installs keystone's revocation list; whether a current list is in
        force afterwards. Requests wait for a fetch in progress rather than start their own."""
        with self._list_lock:
            if from_request:
                if self.list_is_current():
                    return True
                if time.monotonic() < self._next_list_fetch:
                    return False
            ok = self._fetch_revocation_list(retries=None if from_request else 0)
            self._next_list_fetch = 0.0 if ok else time.monotonic() + LIST_FETCH_RETRY
            return ok or self.list_is_current()

    def _fetch_revocation_list(self, retries: Optional[int]) -> bool:
        if not self.native.has_certificates() and not self._load_certificates():
            self.fetch_certificates()
        now = time.time()
        try:
            # The refresh loop retries on its own schedule: no connection retries inside an attempt,
            # so a keystone outage is noticed (and logged) within a refresh period.
            body = self.keystone.fetch_revocation_list(retries)
            try:
                n = self._set_revocation_list(body, self._list_deadline(now), now)
            except VerificationError as e:
                # Signed by a key we do not have: keystone may have rotated it. Fetch, then retry once.
                if e.kind != "signer_not_found" or not self.fetch_certificates(CERT_ROTATION_RETRY):
                    raise
                n = self._set_revocation_list(body, self._list_deadline(now), now)
        except (KeystoneError, KstokenError) as e:
            self._list_failed(e, now)
            return False
        self._list_fetched_at = now
        try:
            self.signing_dir.write(REVOCATION_LIST, body)
        except OSError as e:
            self.log.error("kstoken.middleware: cannot write to %s: %s", self.signing_dir.path, e)
        self.log.debug("kstoken.middleware: fetched revocation list (%d entries)", n)
        return True

    def _list_failed(self, error: Exception, now: float) -> None:
        state = self.native.revocation_list_state()
        what = "unusable" if isinstance(error, KstokenError) else "unreachable"
        if state is None:
            self.log.error(
                "kstoken.middleware: revocation list expired or never fetched (%s: %s): failing closed", what, error
            )
        elif state[1] > now:
            age = now - (self._list_fetched_at or now)
            self.log.warning(
                "kstoken.middleware: revocation list is stale (fetched %.0fs ago; %s: %s); still "
                "enforced for %.0fs",
                age,
                what,
                error,
                state[1] - now,
            )
        else:
            self.log.error(
                "kstoken.middleware: revocation list expired (%s: %s): failing closed with 503", what, error
            )

    def _refresh_loop(self) -> None:
        interval = self.settings.revocation_cache_time
        while not self._stop.is_set():
            fetched = self._list_fetched_at
            now = time.time()
            if fetched is not None and fetched + interval > now:
                wait = fetched + interval - now
            elif fetched is None and self.list_is_current(now):
                wait = interval
            else:
                ok = self.fetch_revocation_list()
                wait = interval if ok else min(interval, LIST_FETCH_RETRY)
            if self._stop.wait(max(wait, 0.01)):
                return

    # -- requests -----------------------------------------------------------------------------

    def may_block(self) -> bool:
        """Whether :meth:`authenticate` may do network I/O (for the ASGI adapter's choice of thread)."""
        if self.memcache is not None or not self.native.has_certificates():
            return True
        return self.revocation and not self.list_is_current()

    def authenticate(
        self,
        user_token: Optional[str],
        service_token: Optional[str],
        auth_type: Optional[str] = None,
        remote_user: Optional[str] = None,
        client_cert: Optional[str] = None,
    ) -> Outcome:
        """The native outcome for a request's credentials (empty tokens count as absent)."""
        self._ensure_process()
        self._maybe_reload_certificates()
        args: Credentials = (user_token or None, service_token or None, auth_type, remote_user, client_cert)
        out = self._authenticate(args)
        need_certs = out.missing_certificates
        need_list = out.wants_revocation_list
        if need_certs or need_list:
            retry = False
            if need_certs:
                retry = self._load_certificates() or self.fetch_certificates()
            if need_list:
                retry = self.fetch_revocation_list(from_request=True)
            if retry:
                out = self._authenticate(args)
        elif out.wants_certificates and self.fetch_certificates(CERT_ROTATION_RETRY):
            # A signer not among our certificates: keystone may have rotated its key.
            out = self._authenticate(args)
        self._log_outcome(out)
        return out

    def token_data(self, out: Outcome, user_token: Optional[str], service_token: Optional[str]) -> Tuple[Any, Any]:
        """``(keystone.token_info, keystone.token_auth)`` for an outcome."""
        return self._token_data.build(out, user_token, service_token, self.keystone.session, self.keystone.auth)

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key in self._warned:
            self.log.debug(message, *args)
            return
        self._warned.add(key)
        self.log.warning(message, *args)

    def _log_outcome(self, out: Outcome) -> None:
        if out.decision == "unavailable":
            self.log.critical(
                "Unable to validate token: %s", out.user_reason or out.service_reason or "keystone unavailable"
            )
            return
        for who, refusal, reason in (
            ("service", out.service_refusal, out.service_reason),
            ("user", out.user_refusal, out.user_reason),
        ):
            if refusal is None:
                continue
            if refusal == "detect":
                self._warn_once(
                    "not_pki",
                    "kstoken.middleware: refusing a %s token that is not PKI or PKIZ: %s",
                    who,
                    self.online_reason,
                )
            else:
                self.log.info("Invalid %s token: %s", who, reason)
        if out.service_valid and out.service_role_check is False and not self.settings.service_token_roles_required:
            self._warn_once(
                "service_roles",
                "A valid token was submitted as a service token, but it was not a valid service "
                "token. This is incorrect but backwards compatible behaviour. This will be removed "
                "in future releases.",
            )
        if out.decision == "reject":
            self.log.info("Rejecting request")


def build_ksm_delegate(engine: Engine, app: Any) -> Any:
    """keystonemiddleware's ``AuthProtocol`` over ``app`` for tokens that are not PKI/PKIZ; ``None``
    when online validation is not in use.

    keystoneclient is not patched here (that would change every keystonemiddleware in the process):
    a request that mixes a PKI token with an online one is validated entirely by keystonemiddleware,
    which spawns ``openssl`` for the PKI one unless the operator applied ``kstoken.compat.patch()``.
    """
    if not engine.online:
        return None
    from keystonemiddleware import auth_token

    try:
        return auth_token.AuthProtocol(app, dict(engine.settings.ksm_conf))
    except Exception as e:
        raise ConfigurationError("keystonemiddleware (for online validation) rejected the configuration: %s" % e) from e
