"""kstoken.middleware's metrics (issue 18): ``stats()`` counts requests by decision, tokens accepted
and refused by step, cache hits and misses per level, keystone fetch errors and the revocation list's
age; per process (a forked child starts from zero); Prometheus collectors scraped from a real
``CollectorRegistry``. The scrape through a real server is test_servers.py's
``test_metrics_scraped_through_gunicorn``."""

import json
import os

import pytest

pytestmark = pytest.mark.unit

pytest.importorskip("keystoneauth1")

from inprocess import PAST, App, FakeMemcache, body, sign, signing_dir, status, tamper  # noqa: E402
from kstoken.middleware import AuthProtocol  # noqa: E402

OFFLINE = {"identity_uri": "http://127.0.0.1:9", "http_request_max_retries": "0"}


def test_stats_count_decisions_refusals_and_the_process_cache(pem, tmp_path):
    mw = AuthProtocol(App(), dict(OFFLINE, signing_dir=signing_dir(tmp_path, pem)))
    token = sign(pem, body())
    assert status(mw, token) == 200  # validated: a process-cache miss
    assert status(mw, token) == 200  # a hit
    assert status(mw, tamper(token)) == 401  # a bad signature (keystone asked, and down)
    assert status(mw, sign(pem, body("old", expires=PAST))) == 401
    assert status(mw, "not-a-pem-token") == 401
    assert status(mw) == 401  # no token: a request, no token counted
    s = mw.stats()
    assert s["requests"] == {"pass": 2, "reject": 4, "unavailable": 0, "delegate": 0}, s
    assert s["tokens_accepted"] == 2
    refused = {k: v for k, v in s["tokens_refused"].items() if v}
    assert refused == {"signature": 1, "expiry": 1, "detect": 1}, s
    assert s["cache"]["process"] == {"hits": 1, "misses": 3}, s  # the bad signature: a miss, then judged again
    assert s["cache"]["memcached"] == {"hits": 0, "misses": 0, "errors": 0}, s
    assert s["cache_entries"] == 3 and s["cache_bytes"] > 0, s
    # The bad signature asked keystone for new certificates; it is down.
    assert s["keystone_fetch_errors"] == {"certificates": 1, "revocation_list": 0}, s
    assert s["revocation_list"]["enforced"] is False and s["revocation_list"]["age_seconds"] is None
    assert s["certificates_loaded"] is True


def test_memcached_hits_misses_and_errors_are_counted(pem, tmp_path):
    shared = FakeMemcache()
    conf = dict(OFFLINE, signing_dir=signing_dir(tmp_path, pem), memcached_servers="127.0.0.1:1")
    first = AuthProtocol(App(), conf)
    first.engine.memcache = shared
    token = sign(pem, body())
    assert status(first, token) == 200
    # Another process (another middleware) finds it in memcached.
    second = AuthProtocol(App(), conf)
    second.engine.memcache = shared
    assert status(second, token) == 200
    assert status(second, token) == 200
    a, b = first.stats()["cache"], second.stats()["cache"]
    assert a["process"] == {"hits": 0, "misses": 1} and a["memcached"]["misses"] == 1, a
    assert b["process"] == {"hits": 1, "misses": 1}, b
    assert b["memcached"] == {"hits": 1, "misses": 0, "errors": 0}, b
    # A memcached that does not answer: its failed calls are counted (the token is validated).
    down = AuthProtocol(App(), conf)
    assert status(down, sign(pem, body("bob"))) == 200
    assert down.stats()["cache"]["memcached"]["errors"] >= 1, down.stats()


def test_the_revocation_list_age_and_fetch_errors(pem, keystone_thread, tmp_path):
    keystone = keystone_thread
    mw = AuthProtocol(App(), keystone.conf(signing_dir=signing_dir(tmp_path, pem), revocation_cache_time="60"))
    assert status(mw, sign(pem, body())) == 200
    lists = mw.stats()["revocation_list"]
    assert lists["enforced"] is True and lists["entries"] == 0, lists
    assert 0 <= lists["age_seconds"] < 30 and lists["stale"] is False, lists
    assert mw.stats()["keystone_fetch_errors"]["revocation_list"] == 0
    # The request waited for the first list, then validated the token: a miss, once.
    assert mw.stats()["cache"]["process"] == {"hits": 0, "misses": 1}, mw.stats()
    assert mw.stats()["requests"]["pass"] == 1 and mw.stats()["requests"]["unavailable"] == 0
    keystone.faults["GET /v3/auth/tokens/OS-PKI/revoked"] = {"status": 500}
    assert mw.engine.lists is not None
    mw.engine.lists.refresh(mw.engine.thread)
    assert mw.stats()["keystone_fetch_errors"]["revocation_list"] == 1


def test_counters_are_per_process_after_a_fork(pem, tmp_path):
    """Built and used before a fork (gunicorn --preload): the child starts from zero and counts only
    what it serves; the parent keeps its own."""
    mw = AuthProtocol(App(), dict(OFFLINE, signing_dir=signing_dir(tmp_path, pem)))
    token = sign(pem, body())
    assert status(mw, token) == 200
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            before = mw.stats()
            status(mw, token)
            status(mw, "MIIbroken")
            os.write(write, json.dumps([before, mw.stats()]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        before, after = json.loads(f.read())
    os.waitpid(pid, 0)
    assert before["requests"]["pass"] == 0 and before["tokens_accepted"] == 0, before
    assert before["cache"]["process"] == {"hits": 0, "misses": 0}, before
    assert after["requests"] == {"pass": 1, "reject": 1, "unavailable": 0, "delegate": 0}, after
    assert after["cache"]["process"]["hits"] == 1, after  # the parent's cache entry, inherited
    assert mw.stats()["requests"]["pass"] == 1 and mw.stats()["requests"]["reject"] == 0


def test_prometheus_collector_in_a_real_registry(pem, tmp_path):
    prometheus_client = pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    from kstoken.middleware import metrics

    mw = AuthProtocol(App(), dict(OFFLINE, signing_dir=signing_dir(tmp_path, pem), log_name="metrics-test"))
    token = sign(pem, body())
    for t in (token, token, tamper(token)):
        status(mw, t)

    def samples(registry):
        text = prometheus_client.generate_latest(registry).decode()
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.labels.get("middleware") == "metrics-test":
                    out[(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "middleware")))] = s.value
        return out

    registry = prometheus_client.CollectorRegistry()
    registry.register(metrics.KstokenCollector())
    got = samples(registry)
    assert got[("kstoken_requests_total", (("decision", "pass"),))] == 2
    assert got[("kstoken_requests_total", (("decision", "reject"),))] == 1
    assert got[("kstoken_tokens_accepted_total", ())] == 2
    assert got[("kstoken_tokens_refused_total", (("step", "signature"),))] == 1
    assert got[("kstoken_cache_hits_total", (("level", "process"),))] == 1
    assert got[("kstoken_cache_misses_total", (("level", "process"),))] == 2
    assert got[("kstoken_keystone_fetch_errors_total", (("what", "certificates"),))] == 1
    assert got[("kstoken_token_cache_entries", ())] == 2
    assert ("kstoken_revocation_list_age_seconds", ()) not in got  # no list in this mode
    # The default registry has it too: the first middleware of the process registered it.
    assert samples(prometheus_client.REGISTRY) == got
