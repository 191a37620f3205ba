"""Process life: what a forked child must start afresh.

Threads do not survive ``os.fork()``, and a lock one of them held stays held in the child. A
middleware built before a fork (``gunicorn --preload``) is therefore told, in each child, that it is
in a new process (``os.register_at_fork``): it drops its threads, locks and connections, and its
counters start from zero, so that every process counts only what it served.
"""

import os
import weakref
from typing import Any, List

__all__ = ["on_fork", "registered"]

_LIVE: "weakref.WeakSet[Any]" = weakref.WeakSet()


def on_fork(obj: Any) -> None:
    """Calls ``obj.after_fork()`` in every child forked while ``obj`` lives (held weakly)."""
    _LIVE.add(obj)


def registered() -> List[Any]:
    """The live objects that are told about forks (tests stop their threads with it)."""
    return list(_LIVE)


def _after_fork_in_child() -> None:
    for obj in list(_LIVE):
        obj.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
