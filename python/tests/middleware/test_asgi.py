"""kstoken.middleware.ASGIAuthProtocol: the WSGI middleware's verdicts and identity, in an ASGI scope.
(uvicorn itself runs in python/tests/middleware/test_servers.py.)"""

import asyncio
import json
import time

import pytest

pytestmark = pytest.mark.unit

pytest.importorskip("keystoneauth1")

import kstoken  # noqa: E402
from kstoken.middleware import ASGIAuthProtocol, AuthProtocol  # noqa: E402

FUTURE = "2099-01-01T00:00:00Z"


def body(user="alice", expires=FUTURE):
    return {"token": {"expires_at": expires, "audit_ids": ["a"],
                      "user": {"id": "u-" + user, "name": user, "domain": {"id": "d", "name": "D"}},
                      "project": {"id": "p", "name": "P", "domain": {"id": "d", "name": "D"}},
                      "roles": [{"id": "r", "name": "member"}, {"id": "s", "name": "service"}],
                      "catalog": [{"type": "compute", "endpoints": [{"interface": "public", "region": "R", "url": "http://c"}]}]}}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    pki = kstoken.generate_pki(key_bits=2048)
    d = tmp_path_factory.mktemp("sd")
    d.chmod(0o700)
    (d / "signing_cert.pem").write_bytes(pki["signing_cert"])
    (d / "cacert.pem").write_bytes(pki["ca_cert"])
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    conf = {"signing_dir": str(d), "www_authenticate_uri": "http://ks:5000", "identity_uri": "http://127.0.0.1:9"}
    return conf, lambda b: signer.sign_pkiz(json.dumps(b))


class Recorder:
    def __init__(self, status=200):
        self.status = status
        self.scope = None

    async def __call__(self, scope, receive, send):
        self.scope = scope
        if scope["type"] == "lifespan":
            return
        await send({"type": "http.response.start", "status": self.status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


def run(mw, headers, scope_type="http", state=None, executor=None):
    """One request through the ASGI middleware; ``executor``: the loop's default executor."""
    sent = []
    scope = {"type": scope_type, "method": "GET", "path": "/", "query_string": b"", "http_version": "1.1",
             "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]}
    if state is not None:
        scope["state"] = state

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    async def main():
        if executor is not None:
            asyncio.get_running_loop().set_default_executor(executor)
        await mw(scope, receive, send)

    asyncio.run(main())
    return sent


def headers_of(message):
    return {k.decode(): v.decode() for k, v in message["headers"]}


def test_identity_in_scope_like_the_wsgi_environ(setup):
    conf, sign = setup
    token = sign(body())
    app = Recorder()
    sent = run(ASGIAuthProtocol(app, dict(conf)), {"X-Auth-Token": token, "X-Roles": "spoofed", "X-User-Id": "evil"},
               state={"other": 1})
    assert sent[0]["status"] == 200
    seen = {k.decode(): v.decode() for k, v in app.scope["headers"]}
    assert seen["x-identity-status"] == "Confirmed"
    assert seen["x-roles"] == "member,service"
    assert seen["x-user-id"] == "u-alice"
    assert [k for k, _ in app.scope["headers"]].count(b"x-roles") == 1
    assert app.scope["state"]["other"] == 1
    assert app.scope["state"]["keystone.token_info"] == body()
    assert app.scope["state"]["keystone.token_auth"].user.user_id == "u-alice"

    # The same request through the WSGI middleware: the same headers (None values are not ASGI headers).
    wsgi_env = {}

    def wsgi_app(environ, start_response):
        wsgi_env.update(environ)
        start_response("200 OK", [])
        return [b""]

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "s", "SERVER_PORT": "80",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "HTTP_X_AUTH_TOKEN": token}
    b"".join(AuthProtocol(wsgi_app, dict(conf))(environ, lambda s, h, e=None: None))
    from_wsgi = {k[5:].lower().replace("_", "-"): v for k, v in wsgi_env.items()
                 if k.startswith("HTTP_") and v is not None and k != "HTTP_X_AUTH_TOKEN"}
    assert {k: v for k, v in seen.items() if k != "x-auth-token"} == from_wsgi


def test_refusals(setup):
    conf, sign = setup
    app = Recorder()
    mw = ASGIAuthProtocol(app, dict(conf))
    for headers in ({}, {"X-Auth-Token": sign(body(expires="2001-01-01T00:00:00Z"))}, {"X-Auth-Token": "MIIbad"}):
        sent = run(mw, headers)
        assert sent[0]["status"] == 401
        h = headers_of(sent[0])
        assert h["www-authenticate"] == 'Keystone uri="http://ks:5000"'
        assert json.loads(sent[1]["body"])["error"]["code"] == 401
    assert app.scope is None
    delayed = ASGIAuthProtocol(app, dict(conf, delay_auth_decision="true"))
    sent = run(delayed, {"X-Auth-Token": "MIIbad"})
    assert sent[0]["status"] == 200
    assert dict(app.scope["headers"])[b"x-identity-status"] == b"Invalid"
    assert "keystone.token_info" not in app.scope["state"]


def test_application_401_gets_the_challenge(setup):
    conf, sign = setup
    sent = run(ASGIAuthProtocol(Recorder(401), dict(conf)), {"X-Auth-Token": sign(body())})
    assert sent[0]["status"] == 401
    assert headers_of(sent[0])["www-authenticate"] == 'Keystone uri="http://ks:5000"'


def test_lifespan_passes_and_websockets_are_closed(setup):
    conf, sign = setup
    app = Recorder()
    mw = ASGIAuthProtocol(app, dict(conf))
    run(mw, {}, scope_type="lifespan")
    assert app.scope["type"] == "lifespan"
    sent = run(mw, {}, scope_type="websocket")
    assert sent == [{"type": "websocket.close", "code": 1008}]
    app.scope = None
    run(mw, {"X-Auth-Token": sign(body())}, scope_type="websocket")
    assert app.scope is not None and dict(app.scope["headers"])[b"x-identity-status"] == b"Confirmed"


def a2wsgi_environ(scope):
    """What an ASGI-to-WSGI bridge (a2wsgi; Django's ASGIHandler maps names the same way) makes of
    the scope's headers: names upper-cased with '-' as '_', repeated ones joined with ','."""
    environ = {}
    for name, value in scope["headers"]:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        environ[key] = environ[key] + "," + text if key in environ else text
    return environ


def test_identity_headers_spelled_with_underscores_are_stripped(setup):
    """X_Roles: admin with a valid member token must not reach an app behind a bridge as
    HTTP_X_ROLES='admin,member' (a WSGI server folds the name before the middleware strips it)."""
    conf, sign = setup
    app = Recorder()
    spoofed = {"X_Roles": "admin", "X_User_Id": "evil", "x_project_id": "evil-project",
               "X_Identity_Status": "Confirmed", "X-Service_Roles": "service", "OPENSTACK_SYSTEM_SCOPE": "all"}
    sent = run(ASGIAuthProtocol(app, dict(conf)), dict(spoofed, **{"X-Auth-Token": sign(body())}))
    assert sent[0]["status"] == 200
    environ = a2wsgi_environ(app.scope)
    assert environ["HTTP_X_ROLES"] == "member,service"
    assert environ["HTTP_X_USER_ID"] == "u-alice"
    assert environ["HTTP_X_PROJECT_ID"] == "p"
    assert environ["HTTP_X_IDENTITY_STATUS"] == "Confirmed"
    assert "HTTP_X_SERVICE_ROLES" not in environ and "HTTP_OPENSTACK_SYSTEM_SCOPE" not in environ
    # Without a valid token (delay_auth_decision): nothing spoofed survives either.
    app = Recorder()
    run(ASGIAuthProtocol(app, dict(conf, delay_auth_decision="true")), dict(spoofed, **{"X-Auth-Token": "MIIbad"}))
    environ = a2wsgi_environ(app.scope)
    assert environ["HTTP_X_IDENTITY_STATUS"] == "Invalid"
    assert not [k for k, v in environ.items() if v in ("admin", "evil", "evil-project", "service", "all")], environ


def test_the_asgi_middleware_strips_by_cores_rule():
    """The spelling rule is core's (kstoken._kstoken.identity_header), shared with the WSGI middleware,
    libkstoken and mod_kstoken: case and '_' for '-' fold; anything else is another header."""
    from kstoken import _kstoken

    for name in (b"X-Roles", b"x_roles", b"X_ROLES", b"x-Roles"):
        assert _kstoken.identity_header(name) == "X-Roles"
    assert _kstoken.identity_header(b"openstack_system_SCOPE") == "OpenStack-System-Scope"
    assert _kstoken.identity_header(b"X_Service_Project_Domain_Name") == "X-Service-Project-Domain-Name"
    for other in (b"X-Roles2", b"X.Roles", b"X Roles", "X-Rol\u0435s".encode("utf-8"), b"", b"X-Auth-Token"):
        assert _kstoken.identity_header(other) is None, other
    names = {name for name, _ in _kstoken.IDENTITY_HEADERS}
    assert {_kstoken.identity_header(n.upper().replace("-", "_").encode()) for n in names} == names


def test_names_outside_latin1_are_utf8(setup):
    """A valid token naming 'Łukasz' in project '项目': 200 with UTF-8 header values (it was a 500:
    the values were encoded as Latin-1)."""
    conf, sign = setup
    b = body(user="Łukasz")
    b["token"]["project"]["name"] = "项目"
    app = Recorder()
    sent = run(ASGIAuthProtocol(app, dict(conf)), {"X-Auth-Token": sign(b)})
    assert sent[0]["status"] == 200
    seen = {k.decode(): v.decode("utf-8") for k, v in app.scope["headers"]}
    assert seen["x-user-name"] == "Łukasz"
    assert seen["x-project-name"] == "项目"


def test_keystone_is_never_waited_for_on_the_event_loop(tmp_path):
    """A token from an unknown signer makes the middleware fetch the certificates; keystone hangs.
    The event loop keeps running: a ticker coroutine is never late by more than a fraction of a
    second (the fetch ran on the loop and stalled it for the whole keystone timeout)."""
    from keystone_standin import InThread as Keystone

    pki = kstoken.generate_pki(key_bits=2048)
    other = kstoken.generate_pki(key_bits=2048, subject="/CN=other")
    ks = Keystone(pki)
    ks.faults["GET /v3/OS-SIMPLE-CERT/certificates"] = {"hang": 30}
    try:
        d = tmp_path / "sd"
        d.mkdir(mode=0o700)
        (d / "signing_cert.pem").write_bytes(pki["signing_cert"])
        (d / "cacert.pem").write_bytes(pki["ca_cert"])
        conf = {"signing_dir": str(d), "identity_uri": ks.url, "http_connect_timeout": "3",
                "http_request_max_retries": "0", "kstoken_request_fetch_timeout": "1"}
        mw = ASGIAuthProtocol(Recorder(), conf)
        unknown = kstoken.Signer(other["signing_cert"], other["signing_key"]).sign_pkiz(json.dumps(body()))
        known = kstoken.Signer(pki["signing_cert"], pki["signing_key"]).sign_pkiz(json.dumps(body("bob")))

        async def scenario():
            gaps = []
            done = asyncio.Event()

            async def ticker():
                last = time.monotonic()
                while not done.is_set():
                    await asyncio.sleep(0.01)
                    now = time.monotonic()
                    gaps.append(now - last)
                    last = now

            async def call(token):
                sent = []

                async def receive():
                    return {"type": "http.request", "body": b"", "more_body": False}

                async def send(message):
                    sent.append(message)

                scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "http_version": "1.1",
                         "headers": [(b"x-auth-token", token.encode())]}
                await mw(scope, receive, send)
                return sent[0]["status"]

            tick = asyncio.ensure_future(ticker())
            await asyncio.sleep(0.05)
            t0 = time.monotonic()
            statuses = await asyncio.gather(call(unknown), call(known), call(known))
            took = time.monotonic() - t0
            done.set()
            await tick
            return statuses, took, max(gaps)

        statuses, took, stall = asyncio.run(scenario())
        assert stall < 0.25, "the event loop stalled for %.2fs" % stall
        assert statuses == [401, 200, 200], statuses
        assert took < 2.5, took
    finally:
        ks.close()
        for engine in __import__("kstoken.middleware._process", fromlist=["registered"]).registered():
            engine.close()


def test_process_cache_hits_are_answered_on_the_loop_with_memcached(setup):
    """With memcached configured, only a process-cache miss goes to the executor (the native call
    names the memcached keys to fetch); a hit is answered on the event loop, with no thread hop."""
    import concurrent.futures

    conf, sign = setup
    mw = ASGIAuthProtocol(Recorder(), dict(conf, memcached_servers="127.0.0.1:1"))

    from inprocess import FakeMemcache

    mw.engine.memcache = FakeMemcache()

    class Counting(concurrent.futures.ThreadPoolExecutor):
        calls = 0

        def submit(self, fn, *args, **kwargs):
            Counting.calls += 1
            return super().submit(fn, *args, **kwargs)

    token = sign(body("hit"))
    statuses = [run(mw, {"X-Auth-Token": token}, executor=Counting(2))[0]["status"] for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert Counting.calls == 1  # the miss: memcached asked, the entry stored
    assert len(mw.engine.memcache.data) == 1
    assert mw.stats()["cache"]["process"] == {"hits": 2, "misses": 1}
