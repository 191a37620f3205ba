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


MPM_SETTINGS = {
    # three children of one thread
    "prefork": "StartServers 3\nMinSpareServers 3\nMaxSpareServers 3\nServerLimit 3\nMaxRequestWorkers 3",
    # two children of four threads
    "worker": "StartServers 2\nServerLimit 2\nThreadsPerChild 4\nMaxRequestWorkers 8\nMinSpareThreads 4\n"
              "MaxSpareThreads 8",
    "event": "StartServers 2\nServerLimit 2\nThreadsPerChild 4\nMaxRequestWorkers 8\nMinSpareThreads 4\n"
             "MaxSpareThreads 8",
}

MODULE_INSTANCE = """{head}
{mpm}
Timeout 20
LimitRequestFieldSize 65536
{server_extra}
<Directory />
    Require all denied
</Directory>
ProxyRequests Off
ProxyPass /api/ http://127.0.0.1:{backend}/api/ timeout=20
<Location /api/>
    {directives}
    Require all granted
</Location>
{extra}
"""


def module_instance_class():  # the test bed's Instance, imported late (conftest sets sys.path)
    from testbed.httpd import Instance, load_modules, server_head

    class ModuleHttpd(Instance):
        """A plain-HTTP httpd with the module in front of the echo backend at /api/: an MPM of
        choice, ``directives`` in the location, ``server_extra`` in the server, ``extra`` after the
        location (more locations)."""

        def __init__(self, root: str, user: str, mpm: str, module_path: str, backend_port: int, directives: str,
                     server_extra: str = "", extra: str = "", log_level: str = "warn kstoken:debug") -> None:
            super().__init__(root)
            self.user = user
            self.mpm = mpm
            self.module_path = module_path
            self.backend_port = backend_port
            self.directives = directives
            self.server_extra = server_extra
            self.extra = extra
            self.log_level = log_level

        def url(self, path: str) -> str:
            return "http://127.0.0.1:%d%s" % (self.port, path)

        def config(self) -> str:
            modules = load_modules(["mpm_" + self.mpm, "authz_core", "proxy", "proxy_http", "socache_shmcb"])
            modules += "\nLoadModule kstoken_module %s" % self.module_path
            return MODULE_INSTANCE.format(head=server_head(self.root, self.port, self.user, modules, self.log_level),
                                          mpm=MPM_SETTINGS[self.mpm], server_extra=self.server_extra,
                                          backend=self.backend_port, directives=self.directives, extra=self.extra)

        def pid(self) -> int:
            """The parent's PID (its pid file)."""
            with open(os.path.join(self.root, "run", "httpd.pid")) as f:
                return int(f.read())

    return ModuleHttpd


def http(url: str, headers: Optional[Dict[str, str]] = None, timeout: float = 20.0):
    """(status, headers, body) of one plain-HTTP GET; HTTP errors are answers."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def received(body: bytes) -> Dict[str, str]:
    """The identity headers the echo backend reports it received (lower-case names)."""
    return identity({name.lower(): [v for n, v in json.loads(body)["headers"] if n.lower() == name.lower()]
                     for name, _ in json.loads(body)["headers"]})
