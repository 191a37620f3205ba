"""The middlewares in real servers: gunicorn (sync and gthread workers, ``--preload``) and uvicorn
(``kstoken.middleware.ASGIAuthProtocol``) as processes, a real memcached as the token cache, the
keystone stand-in for certificates and revocation lists. Assertions are on real HTTP answers.

Middleware kinds: ``stock`` (keystonemiddleware 6.1.0), ``compat`` (6.1.0 with kstoken.compat.patch()),
``kstoken`` (kstoken.middleware), and ``stock5`` (keystonemiddleware 5.3.0, run from the 5.3.0
environment) as the reference for revocation lists and keystone outages.
"""

import concurrent.futures
import os
import shutil
import time
from typing import Dict, List

import pytest

from conftest import pairs, require_side
from procs import Memcached, wait_until
from servers import AppServer
from standin import StandIn, revocation_entry
from test_differential import SPOOFED, base_conf
from tokens import Pki, v2_body, v3_body

pytestmark = pytest.mark.servers

WWW_AUTH = 'Keystone uri="https://keystone.example.org:5000/v3"'


def wsgi_kinds() -> List[str]:
    kinds = []
    for p in pairs():
        for k in p.split("-"):
            if k not in kinds:
                kinds.append(k)
    return kinds


def kstoken_or_reference() -> List[str]:
    """stock5 (the reference) always; kstoken when this run compares it."""
    return ["stock5"] + (["kstoken"] if "kstoken" in wsgi_kinds() else [])


def ksm5_python() -> str:
    path = os.environ.get("KSTOKEN_MW_KSM5_PYTHON") or os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "target", "middleware-tests", "venv-ksm5", "bin", "python")
    if not os.path.exists(path):
        pytest.fail("keystonemiddleware 5.3.0's environment is missing (%s): scripts/test-middleware.sh makes it" % path)
    return os.path.abspath(path)


@pytest.fixture(scope="module")
def memcached(logdir):
    m = Memcached(logdir).start()
    yield m
    m.stop()


@pytest.fixture
def spawn(workdir, request):
    """Start AppServers that are always stopped at teardown (their logs stay in the work dir)."""
    started: List[AppServer] = []
    d = os.path.join(workdir, "servers", request.node.name.replace("/", "_"))

    def start(name, kind, conf, **kw):
        if kind == "stock5":
            kw["python"] = ksm5_python()
            kind = "stock"
        else:
            require_side(kind)
        s = AppServer(name, d, kind, conf, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def fresh_signing_dir(pki: Pki, path: str, empty: bool = False) -> str:
    if os.path.exists(path):
        shutil.rmtree(path)
    if empty:
        os.makedirs(path, mode=0o700)
        return path
    return pki.signing_dir(path)


def server_conf(standin, signing_dir, memcached=None, **extra) -> Dict[str, str]:
    conf = base_conf(standin, signing_dir)
    if memcached is not None:
        conf["memcached_servers"] = memcached.server
    conf.update(extra)
    return conf


def user_of(tok) -> str:
    body = tok.body
    return body["token"]["user"]["id"] if "token" in body else body["access"]["user"]["id"]


def assert_confirmed(answer, tok):
    status, _headers, body = answer
    assert status == 200, answer
    h = body["headers"]
    assert h["HTTP_X_IDENTITY_STATUS"] == "Confirmed", h
    assert h["HTTP_X_USER_ID"] == user_of(tok), h
    # (X-Trust-Id is no identity header: neither middleware sets or strips it)
    assert not [k for k, v in h.items() if "spoofed" in str(v) and k != "HTTP_X_TRUST_ID"], h
    assert h.get("HTTP_X_ROLES") != "admin", h
    assert body["token_info"] is True and body["token_auth_user_id"] == user_of(tok), body


def assert_refused(answer):
    status, headers, _body = answer
    assert status == 401, answer
    assert headers.get("WWW-Authenticate") == WWW_AUTH, dict(headers)


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
@pytest.mark.parametrize("kind", wsgi_kinds())
def test_gunicorn(kind, worker_class, spawn, standin, pki, tokens, workdir, logdir):
    """Identity headers from a 9 KB PKI token, refusals with WWW-Authenticate, spoofed headers
    stripped, concurrent requests across 2 preloaded workers, memcached (its own, empty) as the token
    cache."""
    memcached = Memcached(logdir).start()
    try:
        _gunicorn(kind, worker_class, spawn, standin, pki, tokens, workdir, memcached)
    finally:
        memcached.stop()


def _gunicorn(kind, worker_class, spawn, standin, pki, tokens, workdir, memcached):
    t = tokens.tokens
    sd = fresh_signing_dir(pki, os.path.join(workdir, "sd-gunicorn-%s-%s" % (kind, worker_class)))
    srv = spawn("gunicorn-%s-%s" % (kind, worker_class), kind, server_conf(standin, sd, memcached),
                worker_class=worker_class)
    before = memcached.stats()
    tok = t["v3-project-pki"]
    assert len(tok.text) > 9000
    assert_confirmed(srv.get(tok.text), tok)
    assert_confirmed(srv.get(tok.text), tok)  # from the cache
    assert_confirmed(srv.get(tok.text, SPOOFED), tok)
    assert_confirmed(srv.get(t["v2-project-pkiz"].text), t["v2-project-pkiz"])
    status, _, body = srv.get(t["v2-project-pkiz"].text)
    assert body["headers"]["HTTP_X_TENANT_ID"] == t["v2-project-pkiz"].body["access"]["token"]["tenant"]["id"]
    assert "HTTP_X_SERVICE_CATALOG" in body["headers"]
    for name in ("v3-tampered-pki", "v3-expired-pkiz", "v3-wrong-ca-pki", "pki-truncated", "pkiz-truncated"):
        assert_refused(srv.get(t[name].text))
    assert_refused(srv.get(None))
    assert_refused(srv.get(None, SPOOFED))
    # concurrent requests with distinct tokens
    valid = [tk for tk in t.values() if set(tk.tags) >= {"valid"} and not set(tk.tags) & {
        "bind", "v2-unscoped", "huge", "large", "padded"}]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda tk: (tk, srv.get(tk.text)), valid * 3))
    for tk, answer in answers:
        assert_confirmed(answer, tk)
    pids = {a[2]["pid"] for _, a in answers}
    # A token one worker validated is a memcached hit for the other: that needs both workers to have
    # served the token. On a loaded machine one sync worker can take every request of the burst (the
    # other still booting); then the same tokens are sent again until the other worker has answered
    # and memcached has served a hit (bounded; the assertions below say what was missing).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (
        len(pids) < 2 or int(memcached.stats()["get_hits"]) <= int(before["get_hits"])
    ):
        for tk in valid:
            answer = srv.get(tk.text)
            assert_confirmed(answer, tk)
            pids.add(answer[2]["pid"])
    assert len(pids) >= 2, "one worker served every request for 20 s: %s" % sorted(pids)
    after = memcached.stats()
    # tokens were stored in memcached and served from it
    assert int(after["cmd_set"]) > int(before["cmd_set"]), (before, after)
    assert int(after["get_hits"]) > int(before["get_hits"]), (before, after)
    print("%s/%s: %d requests served by workers %s" % (kind, worker_class, len(answers) + 12, sorted(pids)))


@pytest.mark.parametrize("kind", [k for k in wsgi_kinds() if k == "kstoken"])
def test_memcached_shared_with_keystonemiddleware(kind, spawn, standin, pki, tokens, workdir, logdir):
    """One memcached tier for keystonemiddleware and kstoken.middleware (a rolling migration): each
    reads the entries the other wrote (same keys, same format) in both directions."""
    mc = Memcached(logdir).start()
    try:
        conf = lambda name: server_conf(standin, fresh_signing_dir(pki, os.path.join(workdir, "sd-share-" + name)), mc)
        stock = spawn("gunicorn-share-stock", "stock", conf("stock"), workers=1)
        ours = spawn("gunicorn-share-kstoken", kind, conf("kstoken"), workers=1)
        t = tokens.tokens
        first, second = ["v3-project-pki", "v2-project-pkiz"], ["v3-domain-pkiz", "v3-small-pki"]
        for writer, reader, names in ((stock, ours, first), (ours, stock, second)):
            for name in names:
                assert_confirmed(writer.get(t[name].text), t[name])
            before = mc.stats()
            for name in names:
                assert_confirmed(reader.get(t[name].text), t[name])
            after = mc.stats()
            assert int(after["get_hits"]) - int(before["get_hits"]) >= len(names), (writer.name, before, after)
            assert int(after["cmd_set"]) == int(before["cmd_set"]), (writer.name, before, after)
    finally:
        mc.stop()


def test_gunicorn_default_header_limit(spawn, standin, pki, tokens, workdir):
    """gunicorn's default --limit-request-field_size (8190) refuses a 9 KB PKI token before any
    middleware runs (documented behaviour); the same token as PKIZ (5 KB) passes."""
    kind = "kstoken" if "kstoken" in wsgi_kinds() else "stock"
    sd = fresh_signing_dir(pki, os.path.join(workdir, "sd-limit"))
    srv = spawn("gunicorn-default-limit", kind, server_conf(standin, sd), limit_field_size=None)
    status, _, body = srv.get(tokens.tokens["v3-project-pki"].text)
    # gunicorn >= 22 answers 431 (older releases 400) and never calls the app
    assert status == 431, (status, body)
    assert b"limit request headers fields size" in body, body
    assert_confirmed(srv.get(tokens.tokens["v3-project-pkiz"].text), tokens.tokens["v3-project-pkiz"])


@pytest.mark.parametrize("kind", wsgi_kinds())
def test_certificates_fetched_when_signing_dir_empty(kind, spawn, standin, pki, tokens, workdir):
    sd = fresh_signing_dir(pki, os.path.join(workdir, "sd-empty-%s" % kind), empty=True)
    before = standin.counts()
    srv = spawn("gunicorn-empty-%s" % kind, kind, server_conf(standin, sd))
    tok = tokens.tokens["v3-project-pki"]
    assert_confirmed(srv.get(tok.text), tok)
    assert_confirmed(srv.get(tokens.tokens["v2-project-pkiz"].text), tokens.tokens["v2-project-pkiz"])
    after = standin.counts()
    for path in ("GET /v3/OS-SIMPLE-CERT/certificates", "GET /v3/OS-SIMPLE-CERT/ca"):
        assert after.get(path, 0) > before.get(path, 0), (path, before, after)
    assert os.path.exists(os.path.join(sd, "signing_cert.pem")) and os.path.exists(os.path.join(sd, "cacert.pem"))
    assert os.stat(sd).st_mode & 0o777 == 0o700


@pytest.mark.parametrize("kind", wsgi_kinds())
def test_memcached_restart_tolerated(kind, spawn, standin, pki, tokens, workdir, logdir):
    mc = Memcached(logdir).start()
    try:
        sd = fresh_signing_dir(pki, os.path.join(workdir, "sd-mc-%s" % kind))
        srv = spawn("gunicorn-mc-%s" % kind, kind, server_conf(standin, sd, mc, memcache_pool_socket_timeout="1"))
        t = tokens.tokens
        assert_confirmed(srv.get(t["v3-project-pki"].text), t["v3-project-pki"])
        mc.stop()
        for name in ("v3-project-pki", "v3-small-pkiz", "v2-project-pki"):
            assert_confirmed(srv.get(t[name].text), t[name])
        assert_refused(srv.get(t["v3-tampered-pkiz"].text))
        mc.start()
        for name in ("v3-domain-pkiz", "v3-project-pki", "v2-small-pkiz"):
            assert_confirmed(srv.get(t[name].text), t[name])
    finally:
        mc.stop()


@pytest.fixture
def private_standin(workdir, logdir, request):
    """A stand-in of its own (own PKI) for tests that rotate keys or take keystone down."""
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    pki = Pki(os.path.join(workdir, "pki-" + name))
    s = StandIn(os.path.join(workdir, "keystone-" + name), pki, logdir)
    s.pki_obj = pki
    yield s
    s.stop()


@pytest.mark.parametrize("kind", kstoken_or_reference())
def test_revocation_takes_effect(kind, spawn, private_standin, memcached, workdir):
    """A token revoked while the server runs is refused once the list has been refreshed
    (revocation_cache_time = 1 s), even though it sits in memcached (check_revocations_for_cached)."""
    ks, pki = private_standin, private_standin.pki_obj
    good = [pki.sign(v3_body("rev-good-%s-%d" % (kind, i)), "pki") for i in range(2)]
    doomed = pki.sign(v3_body("rev-doomed-%s" % kind), "pkiz")
    doomed_audit = pki.sign(v2_body("rev-doomed-audit-%s" % kind), "pki")
    sd = fresh_signing_dir(pki, os.path.join(workdir, "sd-rev-%s" % kind))
    conf = server_conf(ks, sd, memcached, revocation_cache_time="1", check_revocations_for_cached="true")
    srv = spawn("gunicorn-rev-%s" % kind, kind, conf)
    for text in good + [doomed, doomed_audit, doomed]:
        assert srv.get(text)[0] == 200
    import kstoken

    ks.set_revoked([revocation_entry(token_hash=kstoken.hash_token(doomed)[0]),
                    revocation_entry(audit=v2_body("rev-doomed-audit-%s" % kind)["access"]["token"]["audit_ids"][0])])
    t0 = time.monotonic()
    wait_until(lambda: srv.get(doomed)[0] == 401, 15, "the revoked token refused (%s)" % kind, interval=0.2,
               proc=srv.proc)
    # Each gunicorn worker refreshes its own list (both middlewares, per process, started by the
    # worker's first request), so one worker can be up to revocation_cache_time behind the other:
    # wait until every worker refuses, i.e. a run of refusals, before asserting on any request.
    wait_until(lambda: all(srv.get(doomed)[0] == 401 for _ in range(8)), 15,
               "the revoked token refused by every worker (%s)" % kind, interval=0.2, proc=srv.proc)
    print("%s: revocation effective after %.1f s" % (kind, time.monotonic() - t0))
    assert_refused(srv.get(doomed))
    for text in good:
        assert srv.get(text)[0] == 200
    # a token revoked by audit id: new to this worker? keystonemiddleware 5.3.0 checks audit ids only
    # when validating, so the cached copy stays valid upstream; both refuse it once it is not cached.
    fresh_audit = pki.sign(v2_body("rev-doomed-audit-%s" % kind), "pkiz")
    assert srv.get(fresh_audit)[0] == 401


@pytest.mark.parametrize("kind", kstoken_or_reference())
def test_keystone_down(kind, spawn, private_standin, workdir):
    """keystone goes down: kstoken keeps enforcing the last good list (revoked tokens stay refused,
    good ones accepted) for kstoken_revocation_stale_time, logs it as stale, then answers 503;
    keystonemiddleware 5.3.0 answers 503 to every new token once its list is older than
    revocation_cache_time. When keystone is back, tokens are accepted again."""
    ks, pki = private_standin, private_standin.pki_obj
    revoked = pki.sign(v3_body("down-revoked-%s" % kind), "pki")
    import kstoken

    ks.set_revoked([revocation_entry(token_hash=kstoken.hash_token(revoked)[0])])
    sd = fresh_signing_dir(pki, os.path.join(workdir, "sd-down-%s" % kind))
    stale = 6
    conf = server_conf(ks, sd, revocation_cache_time="1", kstoken_revocation_stale_time=str(stale))
    srv = spawn("gunicorn-down-%s" % kind, kind, conf, workers=1)
    counter = iter(range(10000))

    def fresh():
        return pki.sign(v3_body("down-%s-%d" % (kind, next(counter))), "pki")

    assert srv.get(fresh())[0] == 200
    assert srv.get(revoked)[0] == 401
    ks.down()
    t_down = time.monotonic()
    try:
        time.sleep(1.2)  # the list is now due for a refresh
        if kind == "stock5":
            t0 = time.monotonic()
            status = srv.get(fresh())[0]
            took = time.monotonic() - t0
            print("stock5: keystone down, list due: %d after %.1f s" % (status, took))
            assert status == 503
        else:
            # the last good list is still enforced while stale
            while time.monotonic() - t_down < stale - 3:
                assert srv.get(fresh())[0] == 200
                assert srv.get(revoked)[0] == 401
                time.sleep(0.3)
            assert "revocation list is stale" in srv.log(), srv.proc.log_tail()
            # then fail closed
            wait_until(lambda: srv.get(fresh())[0] == 503, stale + 10, "503 after the stale allowance",
                       interval=0.3, proc=srv.proc)
            elapsed = time.monotonic() - t_down
            assert elapsed >= stale - 1, elapsed
            print("kstoken: 503 after %.1f s of keystone down (stale allowance %d s)" % (elapsed, stale))
    finally:
        ks.up()
    wait_until(lambda: srv.get(fresh())[0] == 200, 20, "tokens accepted when keystone is back", interval=0.3,
               proc=srv.proc)
    assert srv.get(revoked)[0] == 401


@pytest.mark.parametrize("kind", kstoken_or_reference())
def test_signing_key_rotation(kind, spawn, private_standin, workdir):
    """keystone rotates its signing key (same CA): kstoken fetches the new certificate when a token's
    signer is unknown; keystonemiddleware (which re-fetches only when the files are missing) refuses
    the new tokens until its signing_dir is refreshed by hand."""
    ks, pki = private_standin, private_standin.pki_obj
    sd = fresh_signing_dir(pki, os.path.join(workdir, "sd-rot-%s" % kind))
    srv = spawn("gunicorn-rot-%s" % kind, kind, server_conf(ks, sd), workers=1)
    old = pki.sign(v3_body("rot-old-%s" % kind), "pki")
    assert srv.get(old)[0] == 200
    new_pem = ks.rotate()
    import kstoken

    signer = kstoken.Signer(new_pem["signing_cert"], new_pem["signing_key"])
    import json

    new = signer.sign_pki(json.dumps(v3_body("rot-new-%s" % kind)))
    if kind == "stock5":
        assert srv.get(new)[0] == 401
        time.sleep(2)
        assert srv.get(new)[0] == 401  # keystonemiddleware never picks up the new certificate by itself
        assert ks.count("GET /v3/OS-SIMPLE-CERT/certificates") == 0
    else:
        refused = []
        t0 = time.monotonic()

        def accepted():
            status = srv.get(new)[0]
            if status != 200:
                refused.append(status)
            return status == 200

        wait_until(accepted, 10, "the token signed by the rotated key accepted", interval=0.2, proc=srv.proc)
        print("kstoken: rotated signing key accepted after %.1f s (%d requests refused first: %s)"
              % (time.monotonic() - t0, len(refused), refused))
        assert ks.count("GET /v3/OS-SIMPLE-CERT/certificates") >= 1
        # the unknown signer made it fetch the certificate and retry within the same request
        assert refused == [], refused


@pytest.mark.parametrize("kind", [k for k in wsgi_kinds() if k == "kstoken"])
def test_uvicorn_asgi(kind, spawn, standin, pki, tokens, memcached, workdir):
    """kstoken.middleware.ASGIAuthProtocol under uvicorn: the same verdicts and identity headers.
    (Without kstoken.middleware in the compared pairs the parameter set is empty: pytest reports it.)"""
    t = tokens.tokens
    sd = fresh_signing_dir(pki, os.path.join(workdir, "sd-uvicorn"))
    srv = spawn("uvicorn-kstoken", kind, server_conf(standin, sd, memcached), server="uvicorn", workers=1)
    for name in ("v3-project-pki", "v3-project-pkiz", "v2-project-pki", "v3-domain-pkiz"):
        assert_confirmed(srv.get(t[name].text), t[name])
        assert_confirmed(srv.get(t[name].text, SPOOFED), t[name])
    for name in ("v3-tampered-pki", "v3-expired-pkiz", "pkiz-corrupt-zlib", "pki-truncated"):
        assert_refused(srv.get(t[name].text))
    assert_refused(srv.get(None, SPOOFED))


def scrape(srv: AppServer) -> Dict[tuple, float]:
    """The worker's kstoken_* samples: ``{(name, (label, value)...): value}``, labels but middleware."""
    from prometheus_client.parser import text_string_to_metric_families

    status, _, text = srv.get(None, path="/_metrics")
    assert status == 200, status
    text = text if isinstance(text, str) else text.decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("kstoken_"):
                out[(s.name,) + tuple(sorted((k, v) for k, v in s.labels.items() if k != "middleware"))] = s.value
    return out


@pytest.mark.parametrize("kind", [k for k in wsgi_kinds() if k == "kstoken"])
def test_metrics_scraped_through_gunicorn(kind, spawn, standin, pki, tokens, workdir):
    """kstoken.middleware's Prometheus collector scraped over HTTP from a real gunicorn worker (one
    worker, the middleware built in the master before the fork): the worker's own counts."""
    t = tokens.tokens
    sd = fresh_signing_dir(pki, os.path.join(workdir, "sd-metrics"))
    srv = spawn("gunicorn-metrics", kind, server_conf(standin, sd), workers=1, metrics=True)
    before = scrape(srv)
    tok = t["v3-project-pki"]
    assert_confirmed(srv.get(tok.text), tok)
    assert_confirmed(srv.get(tok.text), tok)
    assert_refused(srv.get(t["v3-expired-pkiz"].text))
    after = scrape(srv)

    def delta(*key):
        return after.get(key, 0) - before.get(key, 0)

    assert delta("kstoken_requests_total", ("decision", "pass")) == 2, (before, after)
    assert delta("kstoken_requests_total", ("decision", "reject")) == 1, (before, after)
    assert delta("kstoken_tokens_accepted_total") == 2
    assert delta("kstoken_tokens_refused_total", ("step", "expiry")) == 1
    assert delta("kstoken_cache_hits_total", ("level", "process")) == 1
    assert delta("kstoken_cache_misses_total", ("level", "process")) == 2
    assert after[("kstoken_token_cache_entries",)] >= 2
