"""When a certificate file counts as changed: the rule ``kstoken.cms`` and ``kstoken.middleware``'s
``signing_dir`` share (the reasons are in ``kstoken.cms``'s module documentation).

A file is identified by ``(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns)``: the ctime is the
key, since any write, rename onto the path or ``touch`` sets it and no user can set it back, so an
in-place rewrite that keeps the size and restores the mtime is still seen. A file whose ctime is
less than :data:`SETTLE_NS` older than the moment a read began may change again without a new ctime
(coarse kernel clocks, file systems storing whole seconds): until it settles, its content is compared
too.
"""

import os
from typing import Tuple

__all__ = ["FileKey", "SETTLE_NS", "file_key", "settled"]

#: ``(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns)``
FileKey = Tuple[int, int, int, int, int]

#: How long after its last change a file may still change without a new ctime, in nanoseconds.
SETTLE_NS = 2 * 10**9


def file_key(st: os.stat_result) -> FileKey:
    """The key of a file's ``stat`` result."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def settled(key: FileKey, read_started_ns: int) -> bool:
    """Whether a file with this key can no longer change unseen, for a read begun at
    ``read_started_ns`` (``time.time_ns()``)."""
    return read_started_ns - key[4] >= SETTLE_NS
