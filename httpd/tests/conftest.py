"""Fixtures of the httpd test bed: the realm, the TLS PKI, tickets, the echo backend and one httpd
instance per test module (its configuration generated from the module's ``HTTPD_EXTRA``).

Run by ``scripts/test-httpd.sh``, which installs the packages (``httpd/tests/packages.sh``) and the
virtualenv these tests run in (the one mod_wsgi's daemon processes load ``kstoken`` from). Runs as
root: the keytab and the replay cache are handed to the httpd user, as on a real server.
"""

import os
import pwd
import re
import subprocess
import sys
import sysconfig
from typing import Any, Callable, Dict, Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "apps"))

from testbed.client import Response, curl  # noqa: E402
from testbed.httpd import Httpd  # noqa: E402
from testbed.kdc import Realm  # noqa: E402
from testbed.procs import Process, wait_until  # noqa: E402
from testbed.tls import Pki  # noqa: E402

#: the WSGI applications and the backend (KSTOKEN_HTTPD_APPS: a copy the httpd user can reach)
APPS = os.environ.get("KSTOKEN_HTTPD_APPS") or os.path.join(HERE, "apps")
REPO = os.path.dirname(os.path.dirname(HERE))
#: the user httpd's children and mod_wsgi's daemon processes run as (Debian's)
HTTPD_USER = os.environ.get("KSTOKEN_HTTPD_USER", "www-data")


def _mod_wsgi_python() -> str:
    """The ``major.minor`` of the libpython mod_wsgi embeds."""
    out = subprocess.run(["ldd", "/usr/lib/apache2/modules/mod_wsgi.so"], capture_output=True, text=True,
                         timeout=30).stdout
    found = re.search(r"libpython(\d+\.\d+)", out)
    assert found, "mod_wsgi.so links no libpython:\n" + out
    return found.group(1)


def _traversable(path: str) -> None:
    """Fails unless every directory above ``path`` lets other users (the httpd user) through."""
    d = os.path.dirname(os.path.abspath(path))
    while d != "/":
        assert os.stat(d).st_mode & 0o001, (
            "%s is not searchable by others: the httpd user cannot reach %s (chmod o+x it)" % (d, path))
        d = os.path.dirname(d)


@pytest.fixture(scope="session")
def preconditions() -> None:
    assert os.geteuid() == 0, "the httpd test bed runs as root (keytab and replay cache for %s)" % HTTPD_USER
    pwd.getpwnam(HTTPD_USER)
    embedded = _mod_wsgi_python()
    mine = "%d.%d" % sys.version_info[:2]
    assert embedded == mine, (
        "mod_wsgi embeds Python %s but these tests run under %s: scripts/test-httpd.sh makes the venv with "
        "python%s" % (embedded, mine, embedded))
    _traversable(os.path.join(APPS, "echo_app.py"))
    _traversable(sysconfig.get_paths()["purelib"])


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory, preconditions: None) -> str:
    """Where the realm, the PKI and the instances live (``KSTOKEN_HTTPD_WORKDIR`` or a pytest
    temporary directory), open to the httpd user."""
    root = os.environ.get("KSTOKEN_HTTPD_WORKDIR") or str(tmp_path_factory.mktemp("httpd-testbed"))
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    _traversable(os.path.join(root, "x"))
    return root


@pytest.fixture(scope="session")
def kstoken_cli() -> str:
    """The ``kstoken`` command under test (``KSTOKEN_CLI``; scripts/test-httpd.sh builds it)."""
    cli = os.environ.get("KSTOKEN_CLI", "")
    assert os.access(cli, os.X_OK), "KSTOKEN_CLI must name the kstoken command (scripts/test-httpd.sh builds it)"
    return cli


@pytest.fixture(scope="session")
def kstoken_module() -> str:
    """mod_kstoken.so built by httpd/build.sh (``KSTOKEN_HTTPD_MODULE``; scripts/test-httpd.sh builds it)."""
    path = os.environ.get("KSTOKEN_HTTPD_MODULE", "")
    assert os.path.isfile(path), "KSTOKEN_HTTPD_MODULE must name mod_kstoken.so (scripts/test-httpd.sh builds it)"
    return path


@pytest.fixture(scope="session")
def realm(workdir: str) -> Iterator[Realm]:
    r = Realm(os.path.join(workdir, "krb5"), HTTPD_USER)
    os.makedirs(r.root, exist_ok=True)
    try:
        yield r.start()
    finally:
        r.stop()


@pytest.fixture(scope="session")
def pki(workdir: str) -> Pki:
    return Pki(os.path.join(workdir, "pki"))


@pytest.fixture(scope="session")
def tickets(realm: Realm) -> Dict[str, Dict[str, str]]:
    """A fresh ticket-granting ticket for alice and for bob: the environment their curl runs with."""
    return {user: realm.kinit(user) for user in ("alice", "bob")}


@pytest.fixture(scope="session")
def backend(workdir: str) -> Iterator[int]:
    """The echo backend behind mod_proxy; its port."""
    port_file = os.path.join(workdir, "backend.port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    proc = Process("echo-backend", [sys.executable, os.path.join(APPS, "echo_backend.py"), port_file],
                   os.path.join(workdir, "echo-backend.log"))
    try:
        wait_until(lambda: os.path.exists(port_file), 20, "the echo backend's port file", proc=proc)
        with open(port_file) as f:
            yield int(f.read())
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def httpd(request: pytest.FixtureRequest, workdir: str, pki: Pki, realm: Realm, backend: int) -> Iterator[Httpd]:
    """An httpd instance for the test module: the module's ``HTTPD_EXTRA(request)`` (a function of
    the fixture request, returning directives) goes into the virtual host, its
    ``HTTPD_SERVER_EXTRA(request)`` into the server configuration."""
    extra_fn = getattr(request.module, "HTTPD_EXTRA", None)
    extra = extra_fn(request) if extra_fn else ""
    server_fn = getattr(request.module, "HTTPD_SERVER_EXTRA", None)
    server_extra = server_fn(request) if server_fn else ""
    name = request.module.__name__.rsplit(".", 1)[-1]
    python_path = ":".join([APPS, sysconfig.get_paths()["purelib"]])
    instance = Httpd(os.path.join(workdir, "httpd-" + name), pki, realm, backend, python_path, HTTPD_USER, extra,
                     server_extra)
    try:
        yield instance.start()
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def get(httpd: Httpd, pki: Pki) -> Callable[..., Response]:
    """``get(path, kerberos=..., cert=..., headers=...)``: one curl request to the module's httpd."""

    def _get(path: str, **kwargs: Any) -> Response:
        return curl(httpd.url(path), httpd.port, pki.ca.cert, **kwargs)

    return _get
