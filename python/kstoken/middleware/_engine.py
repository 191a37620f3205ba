"""The request path the WSGI and ASGI adapters share, and the parts it is built from.

Per request the adapters call :meth:`Engine.authenticate` once. It calls the native authenticator
(GIL released); with memcached, a token the process cache lacks comes back as ``need_shared`` with
the keys to fetch, which are fetched here and handed back in a second call, and the entries the
outcome lists are stored (the core's exchange: nothing calls back into Python from a native call).
When keystone could change the outcome (no certificates, a signer keystone may have rotated to, no
current revocation list), the request asks the keystone thread (``_keystone_thread``) and waits for
it at most ``kstoken_request_fetch_timeout`` seconds in all, then gets its answer with what is there.

The parts, one concept each: the configuration (``_config``), keystone's endpoints (``_keystone``),
certificates and trust anchors (``_certificates``), revocation lists (``_revocation``), the keystone
thread (``_keystone_thread``), memcached (``_memcache``), the token data objects (``_token_data``),
process life (``_process``: a forked child starts afresh) and metrics (``metrics``).
"""

import hashlib
import logging
import time
import weakref
from typing import Any, Dict, Literal, Mapping, Optional, Set, Tuple

from kstoken import _kstoken
from kstoken.middleware import _config, _process, metrics
from kstoken.middleware._certificates import Certificates
from kstoken.middleware._config import ConfigurationError, Settings
from kstoken.middleware._keystone import Keystone
from kstoken.middleware._keystone_thread import KeystoneThread
from kstoken.middleware._memcache import Memcache
from kstoken.middleware._revocation import RevocationLists
from kstoken.middleware._signing_dir import SigningDirectory
from kstoken.middleware._token_data import TokenData
from kstoken.middleware._user_plugin import UserAuthPlugin
from kstoken.middleware.metrics import Stats

__all__ = ["Engine", "Outcome", "Stats"]

Outcome = _kstoken.Outcome

#: The share of ``kstoken_cache_max_bytes`` kept for decoded token bodies (``TokenData``'s memo).
MEMO_SHARE = 8

#: A request's credentials: user token, service token, AUTH_TYPE, REMOTE_USER, client certificate.
Credentials = Tuple[Optional[str], Optional[str], Optional[str], Optional[str], Optional[str]]


_SOURCES = {"cache": "the process cache", "shared_cache": "memcached", "validated": "validated now"}


def _token_id(token: Optional[str]) -> str:
    """A token named in a log line: the first 8 hex digits of its SHA-256, never the token."""
    if not token:
        return "none"
    return hashlib.sha256(_kstoken.trim_token(token).encode("utf-8", "surrogatepass")).hexdigest()[:8]


class Engine:
    """The middleware without its server interface."""

    def __init__(self, conf: Mapping[str, Any]) -> None:
        settings = _config.load(conf)
        self.settings = settings
        self.log = logging.getLogger(settings.log_name)
        for warning in settings.warnings:
            self.log.warning(warning)
        self.online, self.online_reason = self._online_validation()
        if not settings.service_token_roles_required and not self.online:
            # With online validation keystonemiddleware (the delegate) logs it, as upstream does.
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
        self.native = self._native(settings)
        self.memcache: Optional[Memcache] = None
        if settings.memcached_servers and settings.token_cache_time >= 0:
            self.memcache = Memcache(
                settings.memcached_servers,
                settings.token_cache_time,
                socket_timeout=settings.memcache_pool_socket_timeout,
                dead_retry=settings.memcache_dead_retry,
                maxsize=settings.memcache_pool_maxsize,
                unused_timeout=settings.memcache_pool_unused_timeout,
                log=self.log,
            )
        self._token_data = TokenData(
            min(settings.kstoken_cache_max_entries, 1000), settings.kstoken_cache_max_bytes // MEMO_SHARE
        )
        self.certificates = Certificates(settings, self.native, self.signing_dir, self.keystone, self.log)
        self.lists: Optional[RevocationLists] = None
        if self.revocation:
            self.lists = RevocationLists(self.certificates)
        self.thread = KeystoneThread(self.certificates.fetch, self.lists)
        self._warned: Set[str] = set()
        self.certificates.load()
        if self.lists is not None:
            self.lists.load()
            self.thread.reset(self.lists.first_fetch_at())
        self.log.info("%s", self.describe())
        _process.on_fork(self)
        metrics.track(self)
        # The thread holds the parts it uses, not the engine: a middleware nobody holds any more is
        # collected, and its thread ends.
        weakref.finalize(self, self.thread.stop)

    def _native(self, settings: Settings) -> _kstoken.Authenticator:
        cache = settings.token_cache_time >= 0
        # The decoded-body memo is held as long as the cache: both count against its bound.
        memo_bytes = settings.kstoken_cache_max_bytes // MEMO_SHARE
        revocation: Literal["off", "enforce", "enforce_cached"] = "off"
        if self.revocation:
            revocation = "enforce_cached" if settings.check_revocations_for_cached else "enforce"
        return _kstoken.Authenticator(
            hash_algorithms=settings.hash_algorithms,
            bind_mode=settings.enforce_token_bind,
            delay_auth_decision=settings.delay_auth_decision,
            include_service_catalog=settings.include_service_catalog,
            service_token_roles=settings.service_token_roles,
            service_token_roles_required=settings.service_token_roles_required,
            revocation=revocation,
            delegate_non_pki=self.online,
            cache=cache,
            cache_ttl=float(settings.token_cache_time) if settings.token_cache_time > 0 else None,
            cache_max_entries=settings.kstoken_cache_max_entries,
            cache_max_bytes=max(settings.kstoken_cache_max_bytes - memo_bytes, 1),
            shared_cache=bool(settings.memcached_servers) and cache,
            memcache_security_strategy=settings.memcache_security_strategy,
            memcache_secret_key=settings.memcache_secret_key,
            max_revocation_list_len=settings.kstoken_revocation_list_max_bytes,
        )

    # -- process life -------------------------------------------------------------------------

    def after_fork(self) -> None:
        """In a forked child: no thread, no connection, counters from zero; the parent's list holds
        only for its period (``_revocation``)."""
        list_next_at = self.lists.after_fork() if self.lists is not None else 0.0
        self.thread.reset(list_next_at)
        self.keystone.reset()
        if self.memcache is not None:
            self.memcache.reset()
        self.certificates.after_fork()
        self._token_data.after_fork()
        self.native.reset_stats()

    def close(self) -> None:
        """Stops the keystone thread (tests and orderly shutdowns)."""
        self.thread.close()

    def describe(self) -> str:
        """The startup line: which mode is in force, and with what."""
        s = self.settings
        parts = []
        if self.revocation:
            parts.append(
                "mode: revocation lists enforced (fetched every %gs from %s; the last good list is "
                "enforced for %gs more when keystone does not answer, then 503; a keystone answering "
                "404 or 410 has no lists: validated offline)"
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
        parts.append("requests wait for keystone at most %gs" % s.kstoken_request_fetch_timeout)
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

    # -- requests -----------------------------------------------------------------------------

    def _call(self, args: Credentials, shared: Optional[Dict[str, bytes]] = None) -> Outcome:
        user, service, auth_type, remote_user, client_cert = args
        return self.native.authenticate(user, service, auth_type, remote_user, client_cert, shared=shared)

    def _exchange(self, args: Credentials, out: Outcome) -> Outcome:
        """Completes a ``need_shared`` outcome: fetches the keys from memcached (a miss or an error
        is a key not found), decides with what was found, and stores what the outcome lists."""
        if out.decision == "need_shared":
            found: Dict[str, bytes] = {}
            if self.memcache is not None:
                for key in out.shared_keys:
                    value = self.memcache.get(key)
                    if value is not None:
                        found[key] = value
            out = self._call(args, found)
        if self.memcache is not None:
            for key, value in out.shared_store:
                self.memcache.set(key, value)
        return out

    def _first(self, args: Credentials) -> Outcome:
        if self.lists is not None:
            self.thread.ensure_started()  # the periodic list refresh
        self.certificates.maybe_reload()
        return self._call(args)

    def authenticate(
        self,
        user_token: Optional[str],
        service_token: Optional[str],
        auth_type: Optional[str] = None,
        remote_user: Optional[str] = None,
        client_cert: Optional[str] = None,
        first: Optional[Outcome] = None,
    ) -> Outcome:
        """The native outcome for a request's credentials (empty tokens count as absent), after
        memcached and, when keystone is needed, a wait of at most ``kstoken_request_fetch_timeout``.
        ``first``: the outcome :meth:`authenticate_nowait` already had for them."""
        deadline = time.monotonic() + self.settings.kstoken_request_fetch_timeout
        args: Credentials = (user_token or None, service_token or None, auth_type, remote_user, client_cert)
        out = self._exchange(args, first if first is not None else self._first(args))
        arrived = out  # what the caches held when the request arrived (for the counters)
        for _ in range(3):
            need = self._needs_keystone(out)
            if need is None:
                break
            if need == "list":
                lists = self.lists
                if lists is None:
                    break
                if not self.thread.wait_for("list", deadline) or not lists.is_current():
                    # Keystone did not answer in time (or failed): the last good list, if allowed.
                    if not lists.is_current() and not lists.use_stale(
                        "keystone did not answer within %gs" % self.settings.kstoken_request_fetch_timeout,
                        announce=False,
                    ):
                        break
            elif need == "missing" and self.certificates.load():
                pass  # the files appeared in signing_dir
            elif not self.thread.wait_for(need, deadline):
                break
            out = self._exchange(args, self._call(args))
        self._finish(out, args, arrived)
        return out

    def authenticate_nowait(
        self,
        user_token: Optional[str],
        service_token: Optional[str],
        auth_type: Optional[str] = None,
        remote_user: Optional[str] = None,
        client_cert: Optional[str] = None,
    ) -> Tuple[Outcome, bool]:
        """For an event loop, which must not wait: ``(outcome, True)`` when neither memcached nor
        keystone is needed (a process-cache hit, or a token validated in place); else ``(outcome,
        False)``, and the caller runs :meth:`authenticate` where waiting is allowed, with the outcome
        as ``first`` (the native call is not made twice)."""
        args: Credentials = (user_token or None, service_token or None, auth_type, remote_user, client_cert)
        out = self._first(args)
        if out.decision == "need_shared" or self._needs_keystone(out) is not None:
            return out, False
        if self.memcache is not None and out.shared_store:
            return out, False  # storing is memcached I/O too: where waiting is allowed
        self._finish(out, args)
        return out, True

    def _needs_keystone(self, out: Outcome) -> Optional[str]:
        """What keystone could change about this outcome: ``"missing"`` certificates, a
        ``"rotation"`` (a signer not among the certificates, or a bad signature: a rotated key or
        a rebuilt PKI) when a re-fetch is due or under way, the ``"list"``; ``None`` for nothing."""
        if out.missing_certificates:
            return "missing"
        if out.wants_revocation_list:
            return "list"
        if out.wants_certificates and self.thread.rotation_wanted():
            return "rotation"
        return None

    def token_data(
        self, out: Outcome, user_token: Optional[str], service_token: Optional[str]
    ) -> Tuple[Optional[Dict[str, Any]], UserAuthPlugin]:
        """``(keystone.token_info, keystone.token_auth)`` for an outcome."""
        return self._token_data.build(out, user_token, service_token, self.keystone.session, self.keystone.auth)

    # -- what a request leaves behind: counters and log lines -------------------------------------

    def _finish(self, out: Outcome, args: Credentials, arrived: Optional[Outcome] = None) -> None:
        self.native.record(out, arrived if arrived is not out else None)
        self._log_outcome(out, args, (arrived or out).user_source)

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key in self._warned:
            self.log.debug(message, *args)
            return
        self._warned.add(key)
        self.log.warning(message, *args)

    def _log_outcome(self, out: Outcome, args: Credentials, user_source: Optional[str]) -> None:
        if out.decision == "unavailable":
            self.log.critical(
                "Unable to validate token: %s", out.user_reason or out.service_reason or "keystone unavailable"
            )
            return
        debug = self.log.isEnabledFor(logging.DEBUG)
        for who, token, valid, refusal, reason, source in (
            ("service", args[1], out.service_valid, out.service_refusal, out.service_reason, None),
            ("user", args[0], out.user_valid, out.user_refusal, out.user_reason, user_source),
        ):
            if token is None:
                continue
            if debug:
                if valid:
                    self.log.debug(
                        "%s token %s accepted (%s)",
                        who,
                        _token_id(token),
                        _SOURCES.get(source or "", "delegated") if who == "user" else "checked",
                    )
                elif refusal is not None:
                    self.log.debug("%s token %s refused at %s: %s", who, _token_id(token), refusal, reason)
            if refusal is None:
                continue
            if refusal == "detect":
                self._warn_once(
                    "not_pki",
                    "refusing a %s token that is not PKI or PKIZ: %s",
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

    # -- metrics --------------------------------------------------------------------------------

    def stats(self) -> Stats:
        """This process's counters and gauges (``kstoken.middleware.metrics`` documents each)."""
        native = self.native.stats()
        entries, cache_bytes = self.native.cache_usage()
        lists = self.lists
        state = self.native.revocation_list_state()
        memcache = self.memcache
        return {
            "requests": dict(native["decisions"].items()),
            "tokens_accepted": native["accepted"],
            "tokens_refused": dict(native["refused"].items()),
            "cache": {
                "process": {"hits": native["process_cache"][0], "misses": native["process_cache"][1]},
                "memcached": {
                    "hits": native["shared_cache"][0],
                    "misses": native["shared_cache"][1],
                    "errors": memcache.errors if memcache is not None else 0,
                },
            },
            "cache_entries": entries,
            "cache_bytes": cache_bytes,
            "keystone_fetch_errors": {
                "certificates": self.certificates.fetch_errors,
                "revocation_list": lists.fetch_errors if lists is not None else 0,
            },
            "revocation_list": {
                "enforced": lists is not None,
                "entries": state[0] if state is not None else None,
                "age_seconds": lists.age() if lists is not None else None,
                "stale": bool(lists is not None and lists.stale),
                "keystone_has_none": bool(lists is not None and lists.absent),
            },
            "certificates_loaded": self.certificates.loaded(),
        }


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
