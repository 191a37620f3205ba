"""Helpers of the in-process tests (marker ``unit``): token bodies, signing, a ``signing_dir``, a WSGI
app and request, waiting for a condition."""

import json
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import kstoken

FUTURE = "2099-01-01T00:00:00.000000Z"
PAST = "2001-01-01T00:00:00.000000Z"


def body(user: str = "alice", roles: Iterable[str] = ("member",), expires: str = FUTURE) -> Dict[str, Any]:
    """A v3 project-scoped token body."""
    return {"token": {
        "methods": ["password"], "expires_at": expires, "audit_ids": ["AUD-" + user],
        "user": {"id": "u-" + user, "name": user, "domain": {"id": "default", "name": "Default"}},
        "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": "r-" + r, "name": r} for r in roles],
    }}


def sign(pki: Dict[str, bytes], b: Dict[str, Any]) -> str:
    """A PKI token of ``b`` signed with ``pki``'s key."""
    return str(kstoken.Signer(pki["signing_cert"], pki["signing_key"]).sign_pki(json.dumps(b)))


def tamper(token: str) -> str:
    """The token with one character of its signed content changed (a bad signature)."""
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def signing_dir(tmp_path: Any, pki: Optional[Dict[str, bytes]] = None, name: str = "sd") -> str:
    """A 0700 ``signing_dir`` with ``pki``'s signing certificate and CA (empty without ``pki``)."""
    d = tmp_path / name
    d.mkdir(mode=0o700)
    if pki is not None:
        (d / "signing_cert.pem").write_bytes(pki["signing_cert"])
        (d / "cacert.pem").write_bytes(pki["ca_cert"])
    return str(d)


class FakeMemcache:
    """What pymemcache would move, kept in a dict: a memcached that middlewares share
    (``mw.engine.memcache = FakeMemcache()``)."""

    def __init__(self) -> None:
        self.data: Dict[str, bytes] = {}
        self.errors = 0

    def get(self, key: str) -> Optional[bytes]:
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        self.data[key] = value


class App:
    """The service behind the middleware: records the environ it got."""

    environ: Optional[Dict[str, Any]] = None

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> List[bytes]:
        self.environ = environ
        start_response("200 OK", [])
        return [b"ok"]


def call(mw: Any, token: Optional[str] = None, **environ: Any) -> Tuple[int, Dict[str, Any]]:
    """One request through the WSGI middleware: (status, environ)."""
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "s", "SERVER_PORT": "80",
           "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http"}
    if token is not None:
        env["HTTP_X_AUTH_TOKEN"] = token
    env.update(environ)
    seen: List[str] = []
    b"".join(mw(env, lambda s, h, e=None: seen.append(s)))
    return int(seen[0].split()[0]), env


def status(mw: Any, token: Optional[str] = None, **environ: Any) -> int:
    """The status of one request through the WSGI middleware."""
    return call(mw, token, **environ)[0]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    """Polls ``predicate`` until it holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)
