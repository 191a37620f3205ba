"""Fork safety: ``os.fork()`` waits until no kstoken call is running in another thread.

A child process starts with one thread and a copy of the parent's memory, locks included. A lock held
at that instant by another thread of the parent stays held in the child for ever. kstoken's native
calls run without the GIL, inside OpenSSL (whose global locks, such as the provider and decoder stores
taken while a certificate or key is decoded, have no fork handlers in OpenSSL 3) and the verifier's
own chain-verdict lock. So every native call that releases the GIL runs inside :data:`guard`, and a
fork handler registered with :func:`os.register_at_fork` holds new calls back and waits for the
running ones to finish before the process forks. The child then starts with every one of those locks
free. The cost is two uncontended lock operations per call (about 2% of a verification).

What this cannot cover: forks that do not go through :func:`os.fork` (a C extension calling
``fork()`` itself; ``subprocess`` is fine, its child execs at once), and OpenSSL calls made at fork
time by other libraries sharing the process's ``libcrypto`` (the ``ssl`` module in another thread,
for instance). OpenSSL supports no fork-without-exec of a threaded process at all.
"""

import os
import threading
from typing import Any


class _Gate:
    """Calls enter it shared (many at once); a fork enters it exclusively."""

    __slots__ = ("_lock", "_changed", "_running", "_forking")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._running = 0
        self._forking = 0

    def __enter__(self) -> None:
        with self._lock:
            while self._forking:
                self._changed.wait()
            self._running += 1

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._running -= 1
            if self._forking and not self._running:
                self._changed.notify_all()

    def before_fork(self) -> None:
        with self._lock:
            self._forking += 1
            while self._running:
                self._changed.wait()

    def after_fork_in_parent(self) -> None:
        with self._lock:
            self._forking -= 1
            if not self._forking:
                self._changed.notify_all()

    def after_fork_in_child(self) -> None:
        # The child's only thread is the one that forked: nothing runs, nothing waits.
        self.__init__()  # type: ignore[misc]


#: Wrap every native call that releases the GIL: ``with guard: ...``.
guard = _Gate()

os.register_at_fork(
    before=guard.before_fork,
    after_in_parent=guard.after_fork_in_parent,
    after_in_child=guard.after_fork_in_child,
)
