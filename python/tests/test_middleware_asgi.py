"""kstoken.middleware.ASGIAuthProtocol: the WSGI middleware's verdicts and identity, in an ASGI scope.
(uvicorn itself runs in python/tests/middleware/test_servers.py.)"""

import asyncio
import json

import pytest

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


def run(mw, headers, scope_type="http", state=None):
    sent = []
    scope = {"type": scope_type, "method": "GET", "path": "/", "query_string": b"", "http_version": "1.1",
             "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]}
    if state is not None:
        scope["state"] = state

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(mw(scope, receive, send))
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
