"""Revocation lists: fetched from keystone on the keystone thread, kept in ``signing_dir``, enforced
by the native authenticator.

A list is enforced for ``revocation_cache_time`` after its fetch began, in every process (a forked
worker included); after that, a request waits (bounded) for a fresh one, and the last good list is
enforced for ``kstoken_revocation_stale_time`` more only when keystone does not answer. Lists are
merged: a revocation once seen holds until its token expires.

A keystone that answers 404 or 410 for the list has none (keystone removed the PKI providers in
Pike): that is said once at WARNING, naming ``kstoken_revocation``, and tokens are validated offline
as keystonemiddleware 6.x does, the revocations already seen still held; only a keystone that is down
or answers an error counts as unavailable.
"""

import json
import logging
import threading
import time
from typing import Optional, Protocol, Tuple

from kstoken import _kstoken
from kstoken.exceptions import KstokenError, VerificationError
from kstoken.middleware._certificates import Certificates, why
from kstoken.middleware._config import Settings
from kstoken.middleware._keystone import Keystone, KeystoneError, NoRevocationLists
from kstoken.middleware._signing_dir import HELD_REVOCATIONS, REVOCATION_LIST, SigningDirectory

__all__ = ["RevocationLists"]

#: ``VerificationError.kind`` of a list signed by a key we do not have (rotation, rebuilt PKI).
LIST_SIGNER_CHANGED = ("signer_not_found", "bad_signature")
#: Seconds after a failed revocation-list fetch before the next attempt.
LIST_FETCH_RETRY = 5.0
#: Seconds between checks whether a keystone that has no lists (404/410) has one again.
ABSENT_RECHECK = 300.0
#: A list is refreshed this much before it stops being enforced (at most a fifth of the period),
#: so requests seldom wait for one.
LIST_REFRESH_LEAD = 1.0


class CertificateJobs(Protocol):
    """What a list fetch may need of the keystone thread (``_keystone_thread.KeystoneThread``)."""

    def certificates_job(self, kind: str) -> bool:
        """One certificate fetch, seen complete by every request waiting for one."""

    def rotation_now(self) -> bool:
        """A rotation fetch if one is due; whether the certificates changed or were confirmed."""


class RevocationLists:
    """The list in force in the native authenticator, where it came from, and until when it holds;
    verified with ``certificates`` (which names the parts both use: the settings, the native
    authenticator, ``signing_dir``, keystone and the log)."""

    def __init__(self, certificates: Certificates) -> None:
        self.certificates = certificates
        self.settings: Settings = certificates.settings
        self.native: _kstoken.Authenticator = certificates.native
        self.signing_dir: SigningDirectory = certificates.signing_dir
        self.keystone: Keystone = certificates.keystone
        self.log: logging.Logger = certificates.log
        # Serialises changes to the native list (installs, deadlines) and guards the state below.
        self._lock = threading.Lock()
        #: When the list in force was fetched (the fetch's start, or the file's mtime), wall clock.
        self.ok_at: Optional[float] = None
        #: Whether the list in force is enforced past its period because keystone did not answer.
        self.stale = False
        #: Whether keystone said it has no lists (404/410): tokens are validated offline.
        self.absent = False
        # How many held revocations were last reported (an older list), to say it once per change.
        self._held_reported: Optional[int] = None
        #: Fetches that failed (keystone unreachable or answering an error, a list refused).
        self.fetch_errors = 0

    # -- state ----------------------------------------------------------------------------------

    def refresh_at(self, ok_at: float) -> float:
        """When to fetch again after a list fetched at ``ok_at``."""
        interval = self.settings.revocation_cache_time
        return ok_at + interval - min(LIST_REFRESH_LEAD, interval / 5)

    def first_fetch_at(self) -> float:
        """When this process's keystone thread fetches its first list (0: as soon as it runs)."""
        return self.refresh_at(self.ok_at) if self.ok_at is not None else 0.0

    def is_current(self, now: Optional[float] = None) -> bool:
        """Whether a revocation list is installed and still enforceable."""
        state = self.native.revocation_list_state()
        return state is not None and state[1] > (time.time() if now is None else now)

    def age(self, now: Optional[float] = None) -> Optional[float]:
        """Seconds since the list in force was fetched (``None`` without one)."""
        if self.ok_at is None or self.native.revocation_list_state() is None:
            return None
        return max((time.time() if now is None else now) - self.ok_at, 0.0)

    def after_fork(self) -> float:
        """In a forked child, which has not asked keystone itself: the parent's list holds for its
        period only (never the parent's stale allowance); when the child fetches its first list."""
        self._lock = threading.Lock()
        self.fetch_errors = 0
        if self.stale and self.ok_at is not None and not self.absent:
            self.native.set_revocation_deadline(self.ok_at + self.settings.revocation_cache_time)
        return self.first_fetch_at()

    def _install(
        self, body: bytes, deadline: float, at: Optional[float] = None, held: Optional[bytes] = None
    ) -> Tuple[int, Optional[str]]:
        entries, carried = self.native.install_revocation_list(body, deadline, at, held)
        return int(entries), carried

    # -- at startup -----------------------------------------------------------------------------

    def load(self) -> None:
        """The list kept in signing_dir (and the revocations held from earlier lists).

        It is installed whatever its age, so its revocations are merged into the next list, but
        enforced only until ``revocation_cache_time`` after it was written: an older one makes the
        first request wait (bounded) for keystone's, and is used past its period only when keystone
        does not answer."""
        limit = self.settings.kstoken_revocation_list_max_bytes
        mtime = self.signing_dir.mtime(REVOCATION_LIST)
        body = self.signing_dir.read(REVOCATION_LIST, limit)
        held = self.signing_dir.read(HELD_REVOCATIONS, limit)
        if mtime is None or body is None or not self.certificates.loaded():
            return
        try:
            with self._lock:
                n, carried = self._install(body, mtime + self.settings.revocation_cache_time, None, held)
        except KstokenError as e:
            self.log.warning("ignoring %s: %s", self.signing_dir.file(REVOCATION_LIST), why(e))
            return
        self.ok_at = mtime
        self.log.info(
            "loaded the revocation list (%d entries%s) from %s, fetched %.0fs ago",
            n,
            ", %d held from earlier lists" % len(json.loads(carried)["revoked"]) if carried else "",
            self.signing_dir.path,
            max(time.time() - mtime, 0),
        )

    # -- on the keystone thread -----------------------------------------------------------------

    def refresh(self, jobs: CertificateJobs) -> float:
        """One fetch of the list; when (wall clock) to fetch the next one."""
        interval = self.settings.revocation_cache_time
        if not self.certificates.loaded() and not self.certificates.load():
            jobs.certificates_job("missing")
        started = time.time()
        try:
            # The thread retries on its own schedule: no connection retries inside an attempt, so a
            # keystone outage is noticed (and logged) within a refresh period.
            body = self.keystone.fetch_revocation_list(0)
            try:
                with self._lock:
                    n, carried = self._install(body, started + interval, started)
            except VerificationError as e:
                # Signed by a key we do not have: keystone may have rotated it (or rebuilt its PKI,
                # which the certificate fetch reports). Fetch (when due), then retry once.
                if e.kind not in LIST_SIGNER_CHANGED or not jobs.rotation_now():
                    raise
                with self._lock:
                    n, carried = self._install(body, started + interval, started)
        except NoRevocationLists as e:
            self._absent(e)
            return started + max(interval, ABSENT_RECHECK)
        except (KeystoneError, KstokenError) as e:
            self.fetch_errors += 1
            self._failed(e)
            return time.time() + min(interval, LIST_FETCH_RETRY)
        with self._lock:
            self.ok_at = started
            self.stale = False
            if self.absent:
                self.absent = False
                self.log.warning("keystone serves revocation lists again: they are enforced")
        self._keep(body, carried)
        self.log.debug("fetched revocation list (%d entries)", n)
        return self.refresh_at(started)

    def _absent(self, error: KeystoneError) -> None:
        """Keystone has no lists: validate offline (the revocations already seen still hold)."""
        with self._lock:
            if self.native.revocation_list_state() is None:
                self.native.enforce_without_list()
            else:
                self.native.set_revocation_deadline(float("inf"))
            first = not self.absent
            self.absent = True
            self.stale = False
        if first:
            self.log.warning(
                "keystone has no revocation lists (%s: it answers %s, as keystone does since its PKI "
                "providers were removed): PKI tokens are validated offline, as keystonemiddleware 6.x "
                "validates them; set kstoken_revocation = off to say so and stop asking keystone",
                error,
                error.status,
            )

    def _keep(self, body: bytes, carried: Optional[str]) -> None:
        """Writes the list, and the revocations it lacks, to signing_dir (for restarts)."""
        try:
            self.signing_dir.write(REVOCATION_LIST, body)
            if carried:
                self.signing_dir.write(HELD_REVOCATIONS, carried.encode("utf-8"))
                held = len(json.loads(carried)["revoked"])
                if held != self._held_reported:
                    self._held_reported = held
                    self.log.warning(
                        "keystone's revocation list lacks %d revocation(s) seen in an earlier list whose "
                        "tokens have not expired (an older list: a replay, a keystone restored from a "
                        "backup, a replica behind?): they stay enforced until their tokens expire",
                        held,
                    )
            else:
                self.signing_dir.remove(HELD_REVOCATIONS)
                self._held_reported = None
        except OSError as e:
            self.log.error("cannot write to %s: %s", self.signing_dir.path, e)

    def _stale_until(self) -> Optional[float]:
        """Until when the last good list may be enforced while keystone does not answer."""
        if self.ok_at is None or self.native.revocation_list_state() is None:
            return None
        s = self.settings
        return self.ok_at + s.revocation_cache_time + s.kstoken_revocation_stale_time

    def use_stale(self, why_: str, announce: bool) -> bool:
        """Keystone did not answer (``why_``): enforces the last good list to the end of its
        allowance; whether one is in force now. Logged when it starts, or when ``announce``."""
        with self._lock:
            if self.is_current() and not announce:
                return True
            until = self._stale_until()
            now = time.time()
            if until is None or until <= now:
                return False
            self.native.set_revocation_deadline(until)
            started = not self.stale
            self.stale = True
        if started or announce:
            self.log.warning(
                "revocation list is stale (fetched %.0fs ago; %s); still enforced for %.0fs",
                now - (self.ok_at or now),
                why_,
                until - now,
            )
        return True

    def _failed(self, error: Exception) -> None:
        what = "unusable" if isinstance(error, KstokenError) else "unreachable"
        reason = "%s: %s" % (what, why(error))
        if "revocation list length" in reason or "kstoken_revocation_list_max_bytes" in reason:
            reason += "; raise kstoken_revocation_list_max_bytes (now %d bytes) to accept it" % (
                self.settings.kstoken_revocation_list_max_bytes
            )
        if self.native.revocation_list_state() is None:
            self.log.error("revocation list expired or never fetched (%s): failing closed", reason)
            return
        if self.is_current() and not self.stale:
            self.log.warning(
                "cannot refresh the revocation list (%s); the one in force is enforced until it is %gs old",
                reason,
                self.settings.revocation_cache_time,
            )
            return
        if not self.use_stale(reason, announce=True):
            self.log.error("revocation list expired (%s): failing closed with 503", reason)
