"""``keystone.token_info`` and ``keystone.token_auth`` for an outcome.

Every request gets fresh objects (an application may change them), but decoding the same token body
again and again is the larger part of a cached request's cost in Python: bodies already decoded are
kept in ``marshal`` form, which CPython reads back several times faster than JSON.
"""

import json
import marshal
import sys
import threading
from typing import Any, Dict, Optional, Tuple

from keystoneauth1 import access, plugin
from keystoneauth1 import session as ks_session

from kstoken import _kstoken
from kstoken.middleware._user_plugin import UserAuthPlugin

__all__ = ["TokenData"]

#: A memo slot's own cost: the dict entry (hash, key and value pointers) at its load factor.
_SLOT = 48


def _shared_strings(value: Any, seen: Dict[str, str]) -> Any:
    """``value`` with equal strings replaced by one object (strings are immutable: safe to share)."""
    if isinstance(value, str):
        return seen.setdefault(value, value)
    if isinstance(value, list):
        return [_shared_strings(v, seen) for v in value]
    if isinstance(value, dict):
        return {seen.setdefault(k, k): _shared_strings(v, seen) for k, v in value.items()}
    return value


class TokenData:
    """Builds the token data objects; remembers up to ``max_entries`` decoded bodies, in at most
    ``max_bytes`` (the ``marshal`` forms' sizes, the body strings being the token cache's)."""

    def __init__(self, max_entries: int = 1000, max_bytes: int = 8 << 20) -> None:
        self._max = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._memo: Dict[str, bytes] = {}
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        """In a forked child: a new lock (a thread of the parent may have held the old one)."""
        self._lock = threading.Lock()

    def loads(self, text: str) -> Any:
        """``json.loads(text)``, as a fresh object."""
        packed = self._memo.get(text)
        if packed is not None:
            return marshal.loads(packed)
        value = json.loads(text)
        # Equal strings as one object: marshal then writes references, and reads back fewer objects.
        packed = marshal.dumps(_shared_strings(value, {}))
        size = sys.getsizeof(packed) + _SLOT
        if size > self._max_bytes:
            return value
        with self._lock:
            if text in self._memo:
                return value
            while self._memo and (len(self._memo) >= self._max or self._bytes + size > self._max_bytes):
                # Oldest first (dicts keep insertion order).
                old = self._memo.pop(next(iter(self._memo)))
                self._bytes -= sys.getsizeof(old) + _SLOT
            self._memo[text] = packed
            self._bytes += size
        return value

    def build(
        self,
        out: _kstoken.Outcome,
        user_token: Optional[str],
        service_token: Optional[str],
        session: Optional[ks_session.Session],
        auth: Optional[plugin.BaseAuthPlugin],
    ) -> Tuple[Optional[Dict[str, Any]], UserAuthPlugin]:
        """``(token_info, token_auth)``: ``token_info`` is ``None`` unless the user token is valid;
        ``token_auth.user``/``.service`` wrap the same dicts, whenever a body was read (also for a
        token then refused for expiry or bind, as keystonemiddleware does). The tokens are given to
        ``AccessInfo`` without the whitespace around them, by the core's rule (the one every entry
        point applies: ``kstoken._kstoken.trim_token``)."""
        user_ref = service_ref = None
        info = None
        if out.user_token_info is not None:
            data = self.loads(out.user_token_info)
            user_ref = access.create(body=data, auth_token=_kstoken.trim_token(user_token or ""))
            if out.user_valid:
                info = data
        if out.service_token_info is not None:
            data = self.loads(out.service_token_info)
            service_ref = access.create(body=data, auth_token=_kstoken.trim_token(service_token or ""))
        return info, UserAuthPlugin(user_ref, service_ref, session=session, auth=auth)
