"""The keystone thread: the one thread per process that talks to keystone.

No request talks to keystone itself. A request that needs something from it (certificates when none
are loaded, new ones when a token's signer is unknown or its signature does not match, a current
revocation list) asks this thread and waits for the fetch at most until its deadline; one fetch serves
every request waiting for it. The thread also refreshes the revocation list on its schedule. It starts
with the process's first request (so a middleware built before a fork works in every worker) and is
started afresh in a forked child.

Certificate fetches are rate-limited: those for missing certificates once per
:data:`CERT_FETCH_RETRY`, those a token asks for (a rotation, a rebuilt PKI, or a tampered token:
any client can send one) once per :data:`CERT_ROTATION_RETRY`.
"""

import threading
import time
from typing import Callable, Optional, Protocol

__all__ = ["KeystoneThread", "ListRefresh", "CERT_FETCH_RETRY", "CERT_ROTATION_RETRY"]

#: Seconds after a certificate fetch (for missing certificates) before a request may ask again.
CERT_FETCH_RETRY = 10.0
#: Seconds between certificate re-fetches asked for by tokens from an unknown signer or with a bad
#: signature (a rotation or a rebuilt PKI, or a tampered token: any client can send one).
CERT_ROTATION_RETRY = 60.0


class ListRefresh(Protocol):
    """The revocation lists' side of the thread (``_revocation.RevocationLists``)."""

    def refresh(self, thread: "KeystoneThread") -> float:
        """One fetch of the list, on this thread; when (wall clock) to fetch the next one."""


class KeystoneThread:
    """The thread, the fetches it is asked for, and the requests waiting for them."""

    def __init__(self, fetch_certificates: Callable[[str], bool], lists: Optional[ListRefresh]) -> None:
        #: ``fetch_certificates(kind)``: one fetch (``"missing"`` or ``"rotation"``); whether what is in
        #: force changed or was confirmed.
        self._fetch_certificates = fetch_certificates
        self._lists = lists
        self.reset(0.0)

    def reset(self, list_next_at: float) -> None:
        """A new process's state (at construction, and in a forked child): no thread yet, no fetch
        asked for, the list due at ``list_next_at`` (wall clock; 0: as soon as the thread runs)."""
        self._lock = threading.Lock()
        # Guards the jobs and their completion counters; waits on it are how requests wait.
        self._cond = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._started = False
        self._want_certs: Optional[str] = None  # "missing" or "rotation"
        self._want_list = False
        self._certs_busy = False
        self._list_busy = False
        self._certs_done = 0
        self._list_done = 0
        self._list_next_at = list_next_at
        self._next_cert_fetch = 0.0
        self._next_rotation_fetch = 0.0

    @property
    def thread(self) -> Optional[threading.Thread]:
        """The running thread, once started."""
        return self._thread

    def ensure_started(self) -> None:
        """Starts the thread if this process has not yet (the process's first request does)."""
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
            self._thread = threading.Thread(target=self._run, name="kstoken-keystone", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Tells the thread to end after what it is doing (its middleware is gone)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """Stops the thread and waits for it (tests and orderly shutdowns)."""
        self.stop()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    # -- what requests ask for ------------------------------------------------------------------

    def wait_for(self, kind: str, deadline: float) -> bool:
        """Asks for a fetch (``"missing"``/``"rotation"`` certificates, or ``"list"``) unless one is
        under way, and waits until one completes or ``deadline`` (monotonic); whether one completed.
        ``False`` at once when a certificate fetch of that kind is not due."""
        self.ensure_started()

        def done() -> int:
            return self._list_done if kind == "list" else self._certs_done

        with self._cond:
            if kind == "list":
                if not self._list_busy:
                    self._want_list = True
            elif not self._certs_busy and self._want_certs is None:
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

    def rotation_wanted(self) -> bool:
        """Whether a token wanting new certificates should wait for a fetch: one is due, or one is
        asked for or under way."""
        if time.monotonic() >= self._next_rotation_fetch:
            return True
        with self._cond:
            return self._certs_busy or self._want_certs is not None

    # -- on the thread ----------------------------------------------------------------------------

    def certificates_job(self, kind: str) -> bool:
        """One certificate fetch on this thread, which every request waiting for one sees complete."""
        with self._cond:
            self._certs_busy = True
        try:
            return self._fetch_certificates(kind)
        finally:
            with self._cond:
                self._certs_busy = False
                self._certs_done += 1
                self._cond.notify_all()

    def rotation_now(self) -> bool:
        """On this thread, for a list signed by a key not in force: a rotation fetch if one is due;
        whether it changed (or confirmed) the certificates."""
        with self._cond:
            if time.monotonic() < self._next_rotation_fetch:
                return False
            self._next_rotation_fetch = time.monotonic() + CERT_ROTATION_RETRY
        return self.certificates_job("rotation")

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stop.is_set():
                        return
                    certs = self._want_certs
                    wait: Optional[float] = None
                    fetch_list = False
                    if self._lists is not None:
                        wait = self._list_next_at - time.time()
                        fetch_list = self._want_list or wait <= 0
                    if certs or fetch_list:
                        break
                    self._cond.wait(None if wait is None else max(wait, 0.01))
                self._want_certs = None
                self._want_list = False
                self._list_busy = fetch_list
            if certs:
                self.certificates_job(certs)
            if fetch_list and self._lists is not None:
                next_at = time.time() + CERT_FETCH_RETRY  # if refresh() raises
                try:
                    next_at = self._lists.refresh(self)
                finally:
                    with self._cond:
                        self._list_next_at = next_at
                        self._list_busy = False
                        self._list_done += 1
                        self._cond.notify_all()
