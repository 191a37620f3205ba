"""What the WSGI and ASGI adapters share: configuration, the native authenticator, certificates and
revocation lists from keystone, memcached, and process life (threads, fork).

Per request the adapters call :meth:`Engine.authenticate` once; it calls the native authenticator
once (GIL released). Keystone is never called on a request's thread: one background thread per
process (``kstoken-keystone``, started by the process's first request, so objects built before a
fork work in every worker) fetches certificates and revocation lists. A request that needs one
(no certificates yet, a signer keystone may have rotated to, no current list) asks that thread and
waits for it at most ``kstoken_request_fetch_timeout`` seconds in all, then gets its answer with
what is there (503 when that is nothing); one fetch serves every request waiting for it.

Trust: the CA in ``signing_dir`` (the operator's file, or the first fetch into an empty directory,
as keystonemiddleware does) is the trust anchor. A re-fetch takes keystone's signing certificate
only if it chains to that CA (``Verifier::rotate``, kept in memory; the files are never
overwritten), and a different CA only with ``kstoken_accept_new_ca``.

Revocation lists: a list is enforced for ``revocation_cache_time`` after its fetch began, in every
process (a forked worker included); after that, a request waits (bounded) for a fresh one, and the
last good list is enforced for ``kstoken_revocation_stale_time`` more only when keystone does not
answer. Lists are merged: a revocation once seen holds until its token expires.
"""

import hashlib
import json
import logging
import os
import threading
import time
import weakref
from typing import Any, Dict, Optional, Set, Tuple

from kstoken import _kstoken
from kstoken._file_key import settled
from kstoken.exceptions import KstokenError, VerificationError
from kstoken.middleware import _config
from kstoken.middleware._config import ConfigurationError
from kstoken.middleware._keystone import Keystone, KeystoneError
from kstoken.middleware._memcache import Memcache
from kstoken.middleware._signing_dir import (
    CA_CERT,
    HELD_REVOCATIONS,
    REVOCATION_LIST,
    SIGNING_CERT,
    SigningDirectory,
    Stamp,
)
from kstoken.middleware._token_data import TokenData

__all__ = ["Engine", "Outcome"]

Outcome = _kstoken.Outcome

#: Seconds between checks of signing_dir for replaced certificate files.
CERT_RECHECK = 1.0
#: Seconds after a certificate fetch (for missing certificates) before a request may ask again.
CERT_FETCH_RETRY = 10.0
#: Seconds between certificate re-fetches asked for by tokens from an unknown signer or with a bad
#: signature (a rotation or a rebuilt PKI, or a tampered token: any client can send one).
CERT_ROTATION_RETRY = 60.0
#: ``VerificationError.kind`` of a list signed by a key we do not have (rotation, rebuilt PKI).
LIST_SIGNER_CHANGED = ("signer_not_found", "bad_signature")
#: Seconds after a failed revocation-list fetch before the next attempt.
LIST_FETCH_RETRY = 5.0
#: A list is refreshed this much before it stops being enforced (at most a fifth of the period),
#: so requests seldom wait for one.
LIST_REFRESH_LEAD = 1.0
#: The share of ``kstoken_cache_max_bytes`` kept for decoded token bodies (``TokenData``'s memo).
MEMO_SHARE = 8

_ENGINES: "weakref.WeakSet[Engine]" = weakref.WeakSet()

#: A request's credentials: user token, service token, AUTH_TYPE, REMOTE_USER, client certificate.
Credentials = Tuple[Optional[str], Optional[str], Optional[str], Optional[str], Optional[str]]


def _why(error: Exception) -> str:
    """An error's explanation: kstoken's exceptions keep keystoneclient's fixed ``str()`` and carry
    the detail in ``.output``."""
    output = getattr(error, "output", None)
    return " ".join(str(output).split()) if output else str(error)


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
        # The decoded-body memo is held as long as the cache: both count against its bound.
        memo_bytes = settings.kstoken_cache_max_bytes // MEMO_SHARE
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
            cache_max_bytes=max(settings.kstoken_cache_max_bytes - memo_bytes, 1),
            shared_cache=use_memcache,
            memcache_security_strategy=settings.memcache_security_strategy,
            memcache_secret_key=settings.memcache_secret_key,
            max_revocation_list_len=settings.kstoken_revocation_list_max_bytes,
        )
        self.memcache: Optional[Memcache] = None
        if settings.memcached_servers and cache:
            self.memcache = Memcache(
                settings.memcached_servers,
                settings.token_cache_time,
                socket_timeout=settings.memcache_pool_socket_timeout,
                dead_retry=settings.memcache_dead_retry,
                maxsize=settings.memcache_pool_maxsize,
                unused_timeout=settings.memcache_pool_unused_timeout,
                log=self.log,
            )
        self._token_data = TokenData(min(settings.kstoken_cache_max_entries, 1000), memo_bytes)
        self._init_process_state()
        # signing_dir's certificate files as last read: their keys, whether they could still change
        # unseen (a young ctime), and a digest of their contents.
        self._cert_stamp: Optional[Tuple[Optional[Stamp], Optional[Stamp]]] = None
        self._cert_settled = False
        self._cert_digest: Optional[bytes] = None
        # The signing certificate(s) in force (from the files or a rotation), to tell a change.
        self._signing_pem: Optional[bytes] = None
        # When the list in force was fetched (the fetch's start, or the file's mtime), wall clock.
        self._list_ok_at: Optional[float] = None
        self._warned: Set[str] = set()
        self._load_certificates()
        if self.revocation:
            self._load_revocation_list()
        self.log.info("kstoken.middleware: %s", self.describe())
        _ENGINES.add(self)

    # -- process life -------------------------------------------------------------------------

    def _init_process_state(self) -> None:
        self._lock = threading.Lock()
        # Guards the jobs of the keystone thread and their completion counters; waits on it are
        # how requests wait for a fetch.
        self._cond = threading.Condition(threading.Lock())
        # Serialises changes to the native revocation list (installs, deadlines).
        self._list_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        # Whether this process's background work is started (reset in a forked child).
        self._started = False
        self._want_certs: Optional[str] = None  # "missing" or "rotation"
        self._want_list = False
        self._certs_busy = False
        self._list_busy = False
        self._certs_done = 0
        self._list_done = 0
        # When (wall clock) the keystone thread fetches the list next; 0: as soon as it runs.
        self._list_next_at = 0.0
        # Whether the list in force is enforced past its period because keystone did not answer.
        self._stale = False
        self._next_cert_check = 0.0
        self._next_cert_fetch = 0.0
        self._next_rotation_fetch = 0.0

    def _after_fork(self) -> None:
        # Threads do not survive a fork and locks may have been held by one: start afresh.
        stale = getattr(self, "_stale", False)
        self._init_process_state()
        self.keystone.reset()
        if self.memcache is not None:
            self.memcache.reset()
        if self.revocation and self._list_ok_at is not None:
            # A child has not asked keystone itself: the parent's list holds for its period only,
            # and is refreshed as soon as the child's keystone thread runs if it is due.
            self._list_next_at = self._list_refresh_at(self._list_ok_at)
            if stale:
                self.native.set_revocation_deadline(self._list_ok_at + self.settings.revocation_cache_time)

    def _ensure_process(self) -> None:
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
            self._thread = threading.Thread(target=self._run, name="kstoken-keystone", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stops the background thread (tests and orderly shutdowns)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
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
                "enforced for %gs more when keystone does not answer, then 503)"
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
        self._signing_pem = signing

    def _install_list(
        self, body: bytes, deadline: float, at: Optional[float] = None, held: Optional[bytes] = None
    ) -> Tuple[int, Optional[str]]:
        entries, carried = self.native.install_revocation_list(body, deadline, at, held)
        return int(entries), carried

    # -- the keystone thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stop.is_set():
                        return
                    certs = self._want_certs
                    wait: Optional[float] = None
                    fetch_list = False
                    if self.revocation:
                        wait = self._list_next_at - time.time()
                        fetch_list = self._want_list or wait <= 0
                    if certs or fetch_list:
                        break
                    self._cond.wait(None if wait is None else max(wait, 0.01))
                self._want_certs = None
                self._want_list = False
                self._list_busy = fetch_list
            if certs:
                self._certificates_job(certs)
            if fetch_list:
                try:
                    self._refresh_list()
                finally:
                    with self._cond:
                        self._list_busy = False
                        self._list_done += 1
                        self._cond.notify_all()

    def _certificates_job(self, kind: str) -> bool:
        """On the keystone thread: one certificate fetch, which every request waiting for one
        sees complete."""
        with self._cond:
            self._certs_busy = True
        try:
            return self._fetch_certificates(kind)
        finally:
            with self._cond:
                self._certs_busy = False
                self._certs_done += 1
                self._cond.notify_all()

    def _wait_for(self, kind: str, deadline: float) -> bool:
        """Asks the keystone thread for a fetch (``"missing"``/``"rotation"`` certificates, or
        ``"list"``) unless one is under way, and waits until one completes or ``deadline``
        (monotonic); whether one completed. Certificate fetches are rate-limited: ``False`` at once
        when one is not due."""
        self._ensure_process()
        def done() -> int:
            return self._list_done if kind == "list" else self._certs_done

        with self._cond:
            if kind == "list":
                if not self._list_busy:
                    self._want_list = True
            else:
                if not self._certs_busy and self._want_certs is None:
                    now = time.monotonic()
                    if kind == "missing":
                        if now < self._next_cert_fetch:
                            return False
                        self._next_cert_fetch = now + CERT_FETCH_RETRY
                    else:
                        if now < self._next_rotation_fetch:
                            return False
                        self._next_rotation_fetch = now + CERT_ROTATION_RETRY
                    self._want_certs = kind
            seen = done()
            self._cond.notify_all()
            return self._cond.wait_for(lambda: done() != seen, max(deadline - time.monotonic(), 0.0))

    def _fetch_pending(self) -> bool:
        """Whether a certificate fetch is asked for or under way (tokens wanting new certificates
        then wait for it rather than start another)."""
        with self._cond:
            return self._certs_busy or self._want_certs is not None

    # -- certificates -------------------------------------------------------------------------

    def _cert_stamps(self) -> Tuple[Optional[Stamp], Optional[Stamp]]:
        return (self.signing_dir.stamp(SIGNING_CERT), self.signing_dir.stamp(CA_CERT))

    def _load_certificates(self) -> bool:
        """(Re)loads the certificates from signing_dir when they changed; whether some are loaded.

        The files are the operator's: what they hold replaces what is in force, a new CA
        included. A change is seen by ``kstoken._file_key``'s rule, as ``kstoken.cms`` sees one."""
        started = time.time_ns()
        stamps = self._cert_stamps()
        if stamps == self._cert_stamp and self._cert_settled:
            return bool(self.native.has_certificates())
        signing_stamp, ca_stamp = stamps
        if signing_stamp is None or ca_stamp is None:
            self._cert_stamp, self._cert_settled = stamps, True
            return bool(self.native.has_certificates())
        signing = self.signing_dir.read(SIGNING_CERT)
        ca = self.signing_dir.read(CA_CERT)
        if signing is None or ca is None:
            self._cert_stamp, self._cert_settled = stamps, True
            return bool(self.native.has_certificates())
        digest = hashlib.sha256(len(signing).to_bytes(8, "big") + signing + ca).digest()
        unchanged = stamps == self._cert_stamp and digest == self._cert_digest
        self._cert_stamp, self._cert_digest = stamps, digest
        self._cert_settled = settled(signing_stamp, started) and settled(ca_stamp, started)
        if unchanged:
            return bool(self.native.has_certificates())
        try:
            self._set_certificates(signing, ca)
        except KstokenError as e:
            self.log.error(
                "kstoken.middleware: the certificates in %s cannot be used: %s", self.signing_dir.path, _why(e)
            )
            return bool(self.native.has_certificates())
        self.log.info("kstoken.middleware: loaded the signing and CA certificates from %s", self.signing_dir.path)
        return True

    def _maybe_reload_certificates(self) -> None:
        now = time.monotonic()
        if now < self._next_cert_check:
            return
        self._next_cert_check = now + CERT_RECHECK
        self._load_certificates()

    def _fetch_certificates(self, kind: str) -> bool:
        """On the keystone thread: fetches keystone's signing certificate and CA and takes what it
        may (see the module's documentation); whether what is in force changed or was confirmed."""
        try:
            signing, ca = self.keystone.fetch_certificates()
        except KeystoneError as e:
            self.log.error("kstoken.middleware: cannot fetch the signing certificates: %s", e)
            return False
        if not self.native.has_certificates():
            # Nothing loaded: the files are missing (or unusable). The CA is the operator's file
            # when there is one; without one, keystone's is trusted on first use, as
            # keystonemiddleware does, and written so that it stays the trust anchor.
            disk_ca = self.signing_dir.read(CA_CERT)
            trusted = disk_ca or ca
            if disk_ca is not None and not _kstoken.Authenticator.chains_to(signing, disk_ca):
                self._new_ca(ca, KstokenError("it does not chain to the CA in %s" % self.signing_dir.file(CA_CERT)))
                return False
            try:
                self._set_certificates(signing, trusted)
            except KstokenError as e:
                self.log.error("kstoken.middleware: keystone's certificates cannot be used: %s", _why(e))
                return False
            written = []
            try:
                for name, data in ((SIGNING_CERT, signing), (CA_CERT, ca)):
                    if self.signing_dir.write_new(name, data):
                        written.append(name)
            except OSError as e:
                self.log.error("kstoken.middleware: cannot write to %s: %s", self.signing_dir.path, e)
            self.log.info(
                "kstoken.middleware: fetched signing certificate and fetched CA certificate from keystone "
                "(written to %s: %s); the CA in %s is the trust anchor",
                self.signing_dir.path,
                ", ".join(written) or "nothing, the files exist",
                self.signing_dir.file(CA_CERT),
            )
            self._load_certificates()
            return True
        now = time.time()
        if signing == self._signing_pem:
            self.log.debug("kstoken.middleware: keystone's signing certificate is the one in force")
            return True
        try:
            self.native.rotate_certificates(signing, now)
        except KstokenError as e:
            if not _kstoken.Authenticator.chains_to(signing, ca, now):
                self.log.error("kstoken.middleware: keystone's signing certificate is not accepted: %s", _why(e))
                return False
            if self.settings.kstoken_accept_new_ca:
                try:
                    self._set_certificates(signing, ca)
                except KstokenError as e2:
                    self.log.error("kstoken.middleware: keystone's certificates cannot be used: %s", _why(e2))
                    return False
                self.log.warning(
                    "kstoken.middleware: keystone serves a new CA (sha256 %s); taken because "
                    "kstoken_accept_new_ca = true (in memory only: %s is unchanged)",
                    hashlib.sha256(ca).hexdigest(),
                    self.signing_dir.file(CA_CERT),
                )
                return True
            self._new_ca(ca, e)
            return False
        self._signing_pem = signing
        self.log.info(
            "kstoken.middleware: rotated to keystone's new signing certificate (it chains to the CA in "
            "%s; kept in memory, the files are unchanged)",
            self.signing_dir.file(CA_CERT),
        )
        return True

    def _new_ca(self, ca: bytes, error: Exception) -> None:
        """Keystone's certificate chains to a CA other than the trusted one: said once per CA."""
        fingerprint = hashlib.sha256(ca).hexdigest()
        message = (
            "kstoken.middleware: keystone now serves a different CA (sha256 %s): its signing certificate "
            "does not chain to the trusted CA in %s, so tokens it signs are refused (%s). If keystone's "
            "PKI was rebuilt on purpose, check the new CA and replace cacert.pem and signing_cert.pem in "
            "%s with keystone's (GET .../OS-SIMPLE-CERT/ca and /certificates); or set "
            "kstoken_accept_new_ca = true to take whatever CA keystone serves (then whoever can answer "
            "for keystone chooses what is trusted)"
            % (fingerprint, self.signing_dir.file(CA_CERT), _why(error), self.signing_dir.path)
        )
        if "new-ca:" + fingerprint in self._warned:
            self.log.debug(message)
            return
        seen = [w for w in self._warned if w.startswith("new-ca:")]
        if len(seen) >= 16:
            # Whoever answers for keystone could serve a new CA every minute: remember a few only.
            self._warned.difference_update(seen)
        self._warned.add("new-ca:" + fingerprint)
        self.log.error(message)

    # -- revocation lists ---------------------------------------------------------------------

    def _list_refresh_at(self, ok_at: float) -> float:
        interval = self.settings.revocation_cache_time
        return ok_at + interval - min(LIST_REFRESH_LEAD, interval / 5)

    def list_is_current(self, now: Optional[float] = None) -> bool:
        """Whether a revocation list is installed and still enforceable."""
        state = self.native.revocation_list_state()
        return state is not None and state[1] > (time.time() if now is None else now)

    def _load_revocation_list(self) -> None:
        """At startup: the list kept in signing_dir (and the revocations held from earlier lists).

        It is installed whatever its age, so its revocations are merged into the next list, but
        enforced only until ``revocation_cache_time`` after it was written: an older one makes the
        first request wait (bounded) for keystone's, and is used past its period only when keystone
        does not answer."""
        limit = self.settings.kstoken_revocation_list_max_bytes
        mtime = self.signing_dir.mtime(REVOCATION_LIST)
        body = self.signing_dir.read(REVOCATION_LIST, limit)
        held = self.signing_dir.read(HELD_REVOCATIONS, limit)
        if mtime is None or body is None or not self.native.has_certificates():
            return
        try:
            with self._list_lock:
                n, carried = self._install_list(body, mtime + self.settings.revocation_cache_time, None, held)
        except KstokenError as e:
            self.log.warning("kstoken.middleware: ignoring %s: %s", self.signing_dir.file(REVOCATION_LIST), _why(e))
            return
        self._list_ok_at = mtime
        self._list_next_at = self._list_refresh_at(mtime)
        self.log.info(
            "kstoken.middleware: loaded the revocation list (%d entries%s) from %s, fetched %.0fs ago",
            n,
            ", %d held from earlier lists" % len(json.loads(carried)["revoked"]) if carried else "",
            self.signing_dir.path,
            max(time.time() - mtime, 0),
        )

    def _refresh_list(self) -> bool:
        """On the keystone thread: one fetch of the list; whether it was installed."""
        interval = self.settings.revocation_cache_time
        if not self.native.has_certificates() and not self._load_certificates():
            self._certificates_job("missing")
        started = time.time()
        try:
            # The thread retries on its own schedule: no connection retries inside an attempt, so a
            # keystone outage is noticed (and logged) within a refresh period.
            body = self.keystone.fetch_revocation_list(0)
            try:
                with self._list_lock:
                    n, carried = self._install_list(body, started + interval, started)
            except VerificationError as e:
                # Signed by a key we do not have: keystone may have rotated it (or rebuilt its PKI,
                # which _fetch_certificates reports). Fetch (when due), then retry once.
                with self._cond:
                    due = time.monotonic() >= self._next_rotation_fetch
                    if due:
                        self._next_rotation_fetch = time.monotonic() + CERT_ROTATION_RETRY
                if e.kind not in LIST_SIGNER_CHANGED or not due or not self._certificates_job("rotation"):
                    raise
                with self._list_lock:
                    n, carried = self._install_list(body, started + interval, started)
        except (KeystoneError, KstokenError) as e:
            self._list_failed(e)
            with self._cond:
                self._list_next_at = time.time() + min(interval, LIST_FETCH_RETRY)
            return False
        with self._cond:
            self._list_ok_at = started
            self._stale = False
            self._list_next_at = self._list_refresh_at(started)
        self._keep_list(body, carried)
        self.log.debug("kstoken.middleware: fetched revocation list (%d entries)", n)
        return True

    def _keep_list(self, body: bytes, carried: Optional[str]) -> None:
        """Writes the list, and the revocations it lacks, to signing_dir (for restarts)."""
        try:
            self.signing_dir.write(REVOCATION_LIST, body)
            if carried:
                self.signing_dir.write(HELD_REVOCATIONS, carried.encode("utf-8"))
                held = len(json.loads(carried)["revoked"])
                key = "older-list:%d" % held
                if key not in self._warned:
                    self._warned = {w for w in self._warned if not w.startswith("older-list:")}
                    self._warned.add(key)
                    self.log.warning(
                        "kstoken.middleware: keystone's revocation list lacks %d revocation(s) seen in an "
                        "earlier list whose tokens have not expired (an older list: a replay, a keystone "
                        "restored from a backup, a replica behind?): they stay enforced until their "
                        "tokens expire",
                        held,
                    )
            else:
                self.signing_dir.remove(HELD_REVOCATIONS)
                self._warned = {w for w in self._warned if not w.startswith("older-list:")}
        except OSError as e:
            self.log.error("kstoken.middleware: cannot write to %s: %s", self.signing_dir.path, e)

    def _stale_until(self) -> Optional[float]:
        """Until when the last good list may be enforced while keystone does not answer."""
        if self._list_ok_at is None or self.native.revocation_list_state() is None:
            return None
        s = self.settings
        return self._list_ok_at + s.revocation_cache_time + s.kstoken_revocation_stale_time

    def _use_stale_list(self, why: str, announce: bool) -> bool:
        """Keystone did not answer (``why``): enforces the last good list to the end of its
        allowance; whether one is in force now. Logged when it starts, or when ``announce``."""
        with self._list_lock:
            if self.list_is_current() and not announce:
                return True
            until = self._stale_until()
            now = time.time()
            if until is None or until <= now:
                return False
            self.native.set_revocation_deadline(until)
            started = not self._stale
            self._stale = True
        if started or announce:
            self.log.warning(
                "kstoken.middleware: revocation list is stale (fetched %.0fs ago; %s); still enforced "
                "for %.0fs",
                now - (self._list_ok_at or now),
                why,
                until - now,
            )
        return True

    def _list_failed(self, error: Exception) -> None:
        what = "unusable" if isinstance(error, KstokenError) else "unreachable"
        why = "%s: %s" % (what, _why(error))
        if "revocation list length" in why or "kstoken_revocation_list_max_bytes" in why:
            why += "; raise kstoken_revocation_list_max_bytes (now %d bytes) to accept it" % (
                self.settings.kstoken_revocation_list_max_bytes
            )
        if self.native.revocation_list_state() is None:
            self.log.error("kstoken.middleware: revocation list expired or never fetched (%s): failing closed", why)
            return
        if self.list_is_current() and not self._stale:
            self.log.warning(
                "kstoken.middleware: cannot refresh the revocation list (%s); the one in force is enforced "
                "until it is %gs old",
                why,
                self.settings.revocation_cache_time,
            )
            return
        if not self._use_stale_list(why, announce=True):
            self.log.error("kstoken.middleware: revocation list expired (%s): failing closed with 503", why)

    # -- requests -----------------------------------------------------------------------------

    def authenticate(
        self,
        user_token: Optional[str],
        service_token: Optional[str],
        auth_type: Optional[str] = None,
        remote_user: Optional[str] = None,
        client_cert: Optional[str] = None,
    ) -> Outcome:
        """The native outcome for a request's credentials (empty tokens count as absent), after
        waiting at most ``kstoken_request_fetch_timeout`` for keystone when it is needed."""
        deadline = time.monotonic() + self.settings.kstoken_request_fetch_timeout
        args: Credentials = (user_token or None, service_token or None, auth_type, remote_user, client_cert)
        out = self._first(args)
        for _ in range(3):
            need = self._needs_keystone(out)
            if need is None:
                break
            if need == "list":
                if not self._wait_for("list", deadline) or not self.list_is_current():
                    # Keystone did not answer in time (or failed): the last good list, if allowed.
                    if not self.list_is_current() and not self._use_stale_list(
                        "keystone did not answer within %gs" % self.settings.kstoken_request_fetch_timeout,
                        announce=False,
                    ):
                        break
            elif need == "missing" and self._load_certificates():
                pass  # the files appeared in signing_dir
            elif not self._wait_for(need, deadline):
                break
            out = self._authenticate(args)
        self._log_outcome(out)
        return out

    def authenticate_nowait(
        self,
        user_token: Optional[str],
        service_token: Optional[str],
        auth_type: Optional[str] = None,
        remote_user: Optional[str] = None,
        client_cert: Optional[str] = None,
    ) -> Optional[Outcome]:
        """As :meth:`authenticate` when keystone is not needed; ``None`` when it is (the fetch is
        asked for, and the caller runs :meth:`authenticate` where waiting is allowed). Never waits:
        for an event loop."""
        args: Credentials = (user_token or None, service_token or None, auth_type, remote_user, client_cert)
        out = self._first(args)
        if self._needs_keystone(out) is not None:
            return None
        self._log_outcome(out)
        return out

    def _first(self, args: Credentials) -> Outcome:
        if self.revocation:
            self._ensure_process()  # the periodic list refresh
        self._maybe_reload_certificates()
        return self._authenticate(args)

    def _needs_keystone(self, out: Outcome) -> Optional[str]:
        """What keystone could change about this outcome: ``"missing"`` certificates, a
        ``"rotation"`` (a signer not among the certificates, or a bad signature: a rotated key or
        a rebuilt PKI) when a re-fetch is due or under way, the ``"list"``; ``None`` for nothing."""
        if out.missing_certificates:
            return "missing"
        if out.wants_revocation_list:
            return "list"
        if out.wants_certificates and (
            time.monotonic() >= self._next_rotation_fetch or self._fetch_pending()
        ):
            return "rotation"
        return None

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
