"""memcached for the token cache, through pymemcache (pooled, thread-safe).

Keys and values are produced by the native authenticator in keystonemiddleware's format; this module
only moves bytes. With several servers a key goes to the server python-memcached (the client
keystonemiddleware uses) would pick, so both middlewares find each other's entries. Errors never
reach a request: they read as misses, and a failing server is left alone for the dead-retry time:
python-memcached's 30 s, the client keystonemiddleware uses by default, or
``memcache_pool_dead_retry`` when it is set (keystonemiddleware's advanced pool, 300 s by default).
"""

import binascii
import logging
import threading
import time
from typing import Any, Callable, List, Optional, Tuple, Type, Union

__all__ = ["Memcache", "parse_server", "python_memcached_hash"]

Server = Union[Tuple[str, int], str]


def _stale_errors() -> Tuple[Type[Exception], ...]:
    """What a pooled connection that memcached closed raises on its next use (pymemcache is
    imported only when memcached is used)."""
    from pymemcache.exceptions import MemcacheUnexpectedCloseError

    return (MemcacheUnexpectedCloseError, BrokenPipeError, ConnectionResetError)


def parse_server(text: str) -> Server:
    """``host:port``, ``[v6]:port``, ``inet6:[v6]:port`` or ``unix:/path`` (python-memcached's forms)."""
    text = text.strip()
    if text.startswith("unix:"):
        return text[len("unix:") :]
    if text.startswith("inet6:"):
        text = text[len("inet6:") :]
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":") or "11211"
        return (host, int(port))
    if text.startswith("inet:"):
        text = text[len("inet:") :]
    host, _, port = text.partition(":")
    return (host, int(port or "11211"))


def python_memcached_hash(key: bytes) -> int:
    """python-memcached's ``cmemcache_hash``: which bucket a key goes to."""
    return (((binascii.crc32(key) & 0xFFFFFFFF) >> 16) & 0x7FFF) or 1


class _PythonMemcachedHasher:
    """A pymemcache hasher choosing servers as python-memcached does (buckets in configured order,
    re-hashing past a dead server)."""

    def __init__(self) -> None:
        self.buckets: List[Any] = []
        self.live: List[Any] = []

    def add_node(self, node: Any) -> None:
        if node not in self.buckets:
            self.buckets.append(node)
        if node not in self.live:
            self.live.append(node)

    def remove_node(self, node: Any) -> None:
        if node in self.live:
            self.live.remove(node)

    def get_node(self, key: Any) -> Any:
        if not self.buckets:
            return None
        raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        server_hash = python_memcached_hash(raw)
        for i in range(10):
            node = self.buckets[server_hash % len(self.buckets)]
            if node in self.live:
                return node
            server_hash = python_memcached_hash((str(server_hash) + str(i)).encode("ascii"))
        return self.live[0] if self.live else None


class Memcache:
    """The shared token cache tier: ``get(key) -> bytes | None`` and ``set(key, value)``."""

    def __init__(
        self,
        servers: List[str],
        ttl: int,
        *,
        socket_timeout: float,
        dead_retry: float,
        maxsize: int,
        unused_timeout: float,
        log: logging.Logger,
    ) -> None:
        self._servers = [parse_server(s) for s in servers]
        self._ttl = max(ttl, 0)
        self._socket_timeout = socket_timeout
        self._dead_retry = dead_retry
        self._maxsize = maxsize
        self._unused_timeout = unused_timeout
        self._log = log
        self._lock = threading.Lock()
        self._client: Any = None
        self._dead_until = 0.0
        #: Calls that failed (memcached unreachable or erring), in this process.
        self.errors = 0

    def describe(self) -> str:
        """The servers, for the startup log."""
        return ",".join(s if isinstance(s, str) else "%s:%d" % s for s in self._servers)

    def reset(self) -> None:
        """Drops connections (in a forked child)."""
        self._lock = threading.Lock()
        self._client = None
        self._dead_until = 0.0
        self.errors = 0

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from pymemcache.client.base import PooledClient
                from pymemcache.client.hash import HashClient

                common = dict(
                    connect_timeout=self._socket_timeout,
                    timeout=self._socket_timeout,
                    no_delay=True,
                    max_pool_size=self._maxsize,
                    pool_idle_timeout=self._unused_timeout,
                )
                if len(self._servers) == 1:
                    self._client = PooledClient(self._servers[0], **common)
                else:
                    self._client = HashClient(
                        self._servers,
                        hasher=_PythonMemcachedHasher,
                        use_pooling=True,
                        dead_timeout=self._dead_retry,
                        retry_attempts=1,
                        **common,
                    )
            return self._client

    def _failed(self, what: str, key: str, e: Exception) -> None:
        self.errors += 1
        self._dead_until = time.monotonic() + self._dead_retry
        self._log.warning(
            "memcached %s of %s failed (%r); not using memcached for %ss", what, key, e, self._dead_retry
        )

    def _call(self, what: str, key: str, call: Callable[[Any], Any]) -> Any:
        """``call(client)``, or ``None`` when memcached is left alone or fails. A connection that
        memcached closed (it restarted: every idle pooled connection is stale) is not a dead
        server: the pool is dropped and the call made once more on a new connection."""
        if self._dead_until and time.monotonic() < self._dead_until:
            return None
        stale = _stale_errors()
        for attempt in (1, 2):
            client = self._get_client()
            try:
                return call(client)
            except stale as e:
                if attempt == 1:
                    with self._lock:
                        if self._client is client:
                            self._client = None
                    continue
                self._failed(what, key, e)
            except Exception as e:
                self._failed(what, key, e)
            return None
        return None

    def get(self, key: str) -> Optional[bytes]:
        """The bytes stored under ``key``, or ``None`` (a miss, or memcached unavailable)."""
        value = self._call("get", key, lambda client: client.get(key))
        return bytes(value) if value is not None else None

    def set(self, key: str, value: bytes) -> None:
        """Stores ``value`` under ``key`` for ``token_cache_time`` seconds (0: no limit)."""
        self._call("set", key, lambda client: client.set(key, value, expire=self._ttl, noreply=True))
