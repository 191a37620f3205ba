"""Objects built from a pair of files, kept while the files are provably the ones they were built
from (``kstoken.cms``'s module documentation gives the reasons; ``kstoken._file_key`` the rule).

A lookup takes the two files' stat keys (taken by the caller). A hit costs nothing more once the files
are settled; while they are young, they are read again (bounded, ``kstoken._credentials``) and the hit
stands only if their SHA-256 is unchanged. Fork-safe: the lock is renewed in a forked child.
"""

import hashlib
import os
import threading
import time
from typing import Any, Callable, Dict, Generic, NamedTuple, Optional, Tuple, TypeVar

from kstoken._credentials import read_credential
from kstoken._file_key import FileKey, file_key, settled

__all__ = ["FileCache", "file_key"]

V = TypeVar("V")

_lock = threading.Lock()


def _reset_lock_in_child() -> None:
    # A thread of the parent may have held the lock at fork; it does not exist in the child.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_in_child)


class _Entry(NamedTuple):
    keys: Tuple[FileKey, FileKey]
    # SHA-256 of both files while their ctimes are young, None once settled
    digest: Optional[bytes]
    value: Any


def _digest(first: bytes, second: bytes) -> bytes:
    h = hashlib.sha256(len(first).to_bytes(8, "big"))
    h.update(first)
    h.update(second)
    return h.digest()


def _read_pair(first: Any, second: Any, what: Tuple[str, str]) -> Tuple[_Entry, bytes, bytes]:
    """Both files' contents and an entry (without value) saying whether they may still change."""
    started = time.time_ns()
    first_st, first_data = read_credential(first, what[0])
    second_st, second_data = read_credential(second, what[1])
    keys = (file_key(first_st), file_key(second_st))
    young = not all(settled(key, started) for key in keys)
    return _Entry(keys, _digest(first_data, second_data) if young else None, None), first_data, second_data


class FileCache(Generic[V]):
    """At most ``max_entries`` objects of type ``V``, each built from two files (emptied when full)."""

    def __init__(self, max_entries: int = 64) -> None:
        self._max = max_entries
        self._entries: Dict[Any, _Entry] = {}

    def get(
        self,
        cache_key: Any,
        keys: Tuple[FileKey, FileKey],
        paths: Tuple[Any, Any],
        what: Tuple[str, str],
        build: Callable[[bytes, bytes], V],
    ) -> V:
        """The object ``build`` made from the two files at ``paths``, reused while both are
        unchanged; ``keys`` are their stats just taken, ``what`` names them in errors."""
        hit = self._entries.get(cache_key)
        if hit is not None and hit.keys == keys and hit.digest is None:
            value: V = hit.value
            return value
        entry, first, second = _read_pair(paths[0], paths[1], what)
        if hit is not None and hit.keys == entry.keys and hit.digest == (entry.digest or _digest(first, second)):
            if entry.digest is None:  # settled now: stop re-reading
                self._remember(cache_key, hit._replace(digest=None))
            reused: V = hit.value
            return reused
        built = build(first, second)
        self._remember(cache_key, entry._replace(value=built))
        return built

    def _remember(self, key: Any, entry: _Entry) -> None:
        with _lock:
            if key not in self._entries and len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[key] = entry

    def clear(self) -> None:
        """Forgets every object (rebuilt on the next lookup)."""
        with _lock:
            self._entries.clear()
