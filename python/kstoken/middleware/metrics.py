"""Metrics of ``kstoken.middleware``: ``stats()`` and Prometheus collectors.

``AuthProtocol.stats()`` (and ``ASGIAuthProtocol.stats()``) returns this process's counters and
gauges as a dict:

* ``requests``: requests by decision (``pass``, ``reject``, ``unavailable``, ``delegate``);
* ``tokens_accepted``, ``tokens_refused`` (by the step that refused them: ``detect``,
  ``revoked_by_hash``, ``signature``, ``body``, ``revoked_by_audit_id``, ``expiry``, ``bind``,
  ``no_tenancy``, ``service_roles``, ``no_certificates``, ``no_revocation_list``), user and service
  tokens alike;
* ``cache``: ``process`` and ``memcached`` hits and misses (a miss is then validated), and memcached
  ``errors``; ``cache_entries`` and ``cache_bytes`` of the process cache;
* ``keystone_fetch_errors``: failed fetches of ``certificates`` and of the ``revocation_list``;
* ``revocation_list``: whether lists are ``enforced``, the ``entries`` and ``age_seconds`` of the one
  in force, whether it is ``stale`` (enforced past its period: keystone does not answer) and whether
  ``keystone_has_none`` (it answers 404/410: validated offline);
* ``certificates_loaded``.

Counters are per process: a worker forked from a master that built the middleware (``gunicorn
--preload``) starts from zero. The request counters are kept in the native authenticator (atomics,
no lock, counted once per request from its final outcome).

With ``prometheus_client`` installed, the first middleware a process builds registers
:data:`COLLECTOR` with ``prometheus_client.REGISTRY``: every ``generate_latest()`` (or
``start_http_server``) of the process then exposes the ``kstoken_*`` metrics of every middleware of
the process, labelled ``middleware`` (its ``log_name``). Each worker process exposes its own: scrape
each, as with any per-process collector (``prometheus_client``'s multiprocess mode covers only its
own metric types). For another registry: ``registry.register(KstokenCollector())``.
"""

import itertools
import threading
import weakref
from typing import Any, Dict, Iterator, List, Optional, Tuple, TypedDict

__all__ = ["COLLECTOR", "KstokenCollector", "Stats", "track"]


class CacheLevel(TypedDict):
    """Hits and misses of the process cache."""

    hits: int
    misses: int


class Memcached(TypedDict):
    """Hits, misses and failed calls of memcached."""

    hits: int
    misses: int
    errors: int


class Caches(TypedDict):
    """The two cache levels."""

    process: CacheLevel
    memcached: Memcached


class FetchErrors(TypedDict):
    """Failed fetches from keystone."""

    certificates: int
    revocation_list: int


class RevocationListState(TypedDict):
    """The revocation list in force."""

    enforced: bool
    entries: Optional[int]
    age_seconds: Optional[float]
    stale: bool
    keystone_has_none: bool


class Stats(TypedDict):
    """What ``stats()`` returns (the module's documentation says what each key counts)."""

    requests: Dict[str, int]
    tokens_accepted: int
    tokens_refused: Dict[str, int]
    cache: Caches
    cache_entries: int
    cache_bytes: int
    keystone_fetch_errors: FetchErrors
    revocation_list: RevocationListState
    certificates_loaded: bool

_ENGINES: "weakref.WeakSet[Any]" = weakref.WeakSet()
# Engines in the order they were built, for stable label values (a WeakSet has no order).
_ORDER = itertools.count()
_SEQ: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()

_LOCK = threading.Lock()

#: The collector registered with ``prometheus_client.REGISTRY`` (``None`` without prometheus_client).
COLLECTOR: Optional["KstokenCollector"] = None


def _named() -> List[Tuple[str, Any]]:
    """The live engines with their label: the ``log_name``, numbered when two share one."""
    engines = sorted(_ENGINES, key=lambda e: _SEQ.get(e, 0))
    seen: Dict[str, int] = {}
    out = []
    for engine in engines:
        name = engine.settings.log_name
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else "%s#%d" % (name, seen[name]), engine))
    return out


class KstokenCollector:
    """A ``prometheus_client`` collector of every live middleware's :meth:`stats` in this process."""

    def describe(self) -> List[Any]:
        """The metric families, without samples (what a registry checks names with)."""
        return list(self._families([]))

    def collect(self) -> Iterator[Any]:
        """The metric families with this process's values."""
        return self._families([(name, engine.stats()) for name, engine in _named()])

    @staticmethod
    def _families(stats: List[Tuple[str, Stats]]) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        label = ["middleware"]
        requests = CounterMetricFamily(
            "kstoken_requests", "Requests by decision (pass, reject, unavailable, delegate).",
            labels=label + ["decision"],
        )
        accepted = CounterMetricFamily("kstoken_tokens_accepted", "Tokens valid for their request.", labels=label)
        refused = CounterMetricFamily(
            "kstoken_tokens_refused", "Tokens refused, by the step that refused them.", labels=label + ["step"]
        )
        hits = CounterMetricFamily("kstoken_cache_hits", "Token cache hits by level.", labels=label + ["level"])
        misses = CounterMetricFamily("kstoken_cache_misses", "Token cache misses by level.", labels=label + ["level"])
        memcached_errors = CounterMetricFamily("kstoken_memcached_errors", "Failed memcached calls.", labels=label)
        fetch_errors = CounterMetricFamily(
            "kstoken_keystone_fetch_errors", "Failed fetches from keystone, by what.", labels=label + ["what"]
        )
        age = GaugeMetricFamily(
            "kstoken_revocation_list_age_seconds", "Age of the revocation list in force.", labels=label
        )
        entries = GaugeMetricFamily(
            "kstoken_revocation_list_entries", "Entries of the revocation list in force.", labels=label
        )
        stale = GaugeMetricFamily(
            "kstoken_revocation_list_stale", "1 while the list is enforced past its period.", labels=label
        )
        cache_entries = GaugeMetricFamily("kstoken_token_cache_entries", "Tokens in the process cache.", labels=label)
        cache_bytes = GaugeMetricFamily(
            "kstoken_token_cache_bytes", "Bytes the process cache holds (as counted).", labels=label
        )
        for name, s in stats:
            for decision, n in s["requests"].items():
                requests.add_metric([name, decision], n)
            accepted.add_metric([name], s["tokens_accepted"])
            for step, n in s["tokens_refused"].items():
                refused.add_metric([name, step], n)
            for level in ("process", "memcached"):
                hits.add_metric([name, level], s["cache"][level]["hits"])
                misses.add_metric([name, level], s["cache"][level]["misses"])
            memcached_errors.add_metric([name], s["cache"]["memcached"]["errors"])
            for what in ("certificates", "revocation_list"):
                fetch_errors.add_metric([name, what], s["keystone_fetch_errors"][what])
            lists = s["revocation_list"]
            if lists["age_seconds"] is not None:
                age.add_metric([name], lists["age_seconds"])
            if lists["entries"] is not None:
                entries.add_metric([name], lists["entries"])
            if lists["enforced"]:
                stale.add_metric([name], 1 if lists["stale"] else 0)
            cache_entries.add_metric([name], s["cache_entries"])
            cache_bytes.add_metric([name], s["cache_bytes"])
        yield from (requests, accepted, refused, hits, misses, memcached_errors, fetch_errors, age, entries, stale,
                    cache_entries, cache_bytes)


def track(engine: Any) -> None:
    """Makes ``engine`` part of the process's metrics; the first one registers :data:`COLLECTOR`
    with ``prometheus_client.REGISTRY`` when prometheus_client is installed."""
    global COLLECTOR
    with _LOCK:
        _SEQ[engine] = next(_ORDER)
        _ENGINES.add(engine)
        if COLLECTOR is not None:
            return
        try:
            from prometheus_client import REGISTRY
        except ImportError:
            return
        COLLECTOR = KstokenCollector()
        REGISTRY.register(COLLECTOR)
