"""mod_kstoken in the test bed: its signing directory (keystone's certificates under
keystonemiddleware's names, owned by the httpd user, mode 0700), the directives of a location, what
its refusals look like, and what the backend behind it received."""

import json
import os
import shutil
from typing import Any, Dict, List, Optional

from testbed.client import Response

#: what the module names in WWW-Authenticate (the middleware's testbed value)
WWW_AUTHENTICATE = "https://keystone.test:5000/v3"
#: keystonemiddleware's 401 body (kstoken.middleware's UNAUTHORIZED_BODY)
UNAUTHORIZED_BODY = (b'{"error": {"code": 401, "title": "Unauthorized", "message": '
                     b'"The request you have made requires authentication."}}')
#: keystonemiddleware's 503 body (kstoken.middleware's)
UNAVAILABLE_BODY = (b"503 Service Unavailable\n\nThe server is currently unavailable. Please try again at a later "
                    b"time.\n\n The Keystone service is temporarily unavailable.  ")
#: every identity header the module sets, as keystonemiddleware spells them (lower case)
IDENTITY_HEADERS = [
    "x-identity-status", "x-service-identity-status", "x-service-catalog", "x-is-admin-project",
    "openstack-system-scope", "x-roles", "x-domain-id", "x-domain-name", "x-project-id", "x-project-name",
    "x-project-domain-id", "x-project-domain-name", "x-user-id", "x-user-name", "x-user-domain-id",
    "x-user-domain-name", "x-role", "x-user", "x-tenant-id", "x-tenant-name", "x-tenant", "x-service-roles",
    "x-service-domain-id", "x-service-domain-name", "x-service-project-id", "x-service-project-name",
    "x-service-project-domain-id", "x-service-project-domain-name", "x-service-user-id", "x-service-user-name",
    "x-service-user-domain-id", "x-service-user-domain-name",
]


def signing_dir(path: str, user: str, files: Optional[Dict[str, str]] = None) -> str:
    """``path`` as a signing directory: owned by ``user``, mode 0700, holding copies of ``files``
    (name -> source path), each 0600."""
    os.makedirs(path, exist_ok=True)
    for name, source in (files or {}).items():
        target = os.path.join(path, name)
        shutil.copy(source, target)
        shutil.chown(target, user, user)
        os.chmod(target, 0o600)
    shutil.chown(path, user, user)
    os.chmod(path, 0o700)
    return path


def directives(signing: str, **options: str) -> str:
    """A location's directives: the module on, its signing directory and keystone's URL, and
    ``options`` (directive name without ``Kstoken`` -> value)."""
    lines = ["Kstoken On", 'KstokenSigningDir "%s"' % signing, "KstokenWWWAuthenticateURI %s" % WWW_AUTHENTICATE]
    lines += ["Kstoken%s %s" % (name, value) for name, value in options.items()]
    return "\n        ".join(lines)


def proxied_location(path: str, backend_port: int, body: str) -> str:
    """``<Location path>`` proxied to the echo backend, with ``body`` in it."""
    return """
    ProxyPass {path} http://127.0.0.1:{port}{path} timeout=20
    <Location {path}>
        {body}
    </Location>
""".format(path=path, port=backend_port, body=body)


def backend_headers(r: Response) -> Dict[str, List[str]]:
    """What the echo backend received (names in lower case, repeats kept), after asserting the
    request got through."""
    assert r.status == 200, r
    out: Dict[str, List[str]] = {}
    for name, value in r.json()["headers"]:
        out.setdefault(name.lower(), []).append(value)
    return out


def identity(headers: Dict[str, List[str]]) -> Dict[str, str]:
    """The identity headers among ``headers`` (each must come once)."""
    out = {}
    for name in IDENTITY_HEADERS:
        values = headers.get(name)
        if values is not None:
            assert len(values) == 1, (name, values)
            out[name] = values[0]
    return out


def passed(r: Response, user: str = "alice", project: str = "demo", roles: str = "member,reader") -> Dict[str, str]:
    """Asserts the module passed the request to the backend with the identity of ``user``'s token;
    the identity headers the backend received."""
    seen = identity(backend_headers(r))
    assert seen.get("x-identity-status") == "Confirmed", seen
    assert seen.get("x-user-name") == user, seen
    assert seen.get("x-project-name") == project, seen
    assert seen.get("x-roles") == roles, seen
    return seen


def refused(r: Response) -> None:
    """Asserts the module answered keystonemiddleware's 401 (not mod_auth_gssapi's challenge)."""
    assert r.status == 401, r
    assert r.header("WWW-Authenticate") == 'Keystone uri="%s"' % WWW_AUTHENTICATE, r
    assert r.header("Content-Type") == "application/json", r
    assert r.body == UNAUTHORIZED_BODY, r


def unavailable(r: Response) -> None:
    """Asserts the module answered keystonemiddleware's 503."""
    assert r.status == 503, r
    assert r.header("Content-Type") == "text/plain; charset=UTF-8", r
    assert r.body == UNAVAILABLE_BODY, r


def environ_of(r: Response) -> Dict[str, Any]:
    """The echo WSGI application's answer (its environ's identity keys and HTTP_* headers)."""
    assert r.status == 200, r
    env: Dict[str, Any] = json.loads(r.body)
    return env
