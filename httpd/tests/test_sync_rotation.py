"""``kstoken sync`` keeping kstoken.middleware's signing directory fresh, against the repository's
keystone stand-in, with the middleware under mod_wsgi in the test bed's httpd: sync run as the
service's user fills the directory, a signing-key rotation reaches the middleware through sync alone
(the middleware has no keystone URL of its own here), and a rebuilt PKI is refused by sync while the
middleware keeps validating with the certificates it trusts."""

import os
import pwd
import shutil
import stat
import subprocess

import pytest

from testbed import middleware
from testbed.middleware import accepted, refused
from testbed.procs import wait_until
from testbed.standin import SERVICE_PASSWORD, SERVICE_USER, keystone_token, password_file, running, sync_runner


@pytest.fixture(scope="module")
def standin(workdir, kstoken_cli):
    with running(kstoken_cli, workdir, "standin") as s:
        yield s


@pytest.fixture(scope="module")
def sync_root(workdir):
    """The middleware's directory: its empty signing_dir, owned by the httpd user."""
    from conftest import HTTPD_USER

    root = os.path.join(workdir, "sync")
    os.makedirs(root, exist_ok=True)
    middleware.signing_dir(root, HTTPD_USER)
    password_file(root, HTTPD_USER)
    return root


def HTTPD_EXTRA(request):  # noqa: N802 (the test bed's hook name)
    root = request.getfixturevalue("sync_root")
    standin = request.getfixturevalue("standin")
    # No keystone of its own: its unauthenticated re-fetch (identity_uri's default) fails at once.
    wsgi = middleware.write_app(root, os.path.join(root, "signing"), http_request_max_retries="0")
    # keystone behind TLS: the stand-in through this httpd, for sync's https:// URLs
    return middleware.locations(wsgi, request.getfixturevalue("realm")) + """
    ProxyPass /keystone/ {url}/
    <Location /keystone/>
        Require all granted
    </Location>
""".format(url=standin.url[:-len("/v3")])


@pytest.fixture(scope="module")
def sync(kstoken_cli, standin, sync_root):
    """``sync()``: one ``kstoken sync`` run as the httpd user (who owns the directory), with the
    stand-in's service credentials in OS_* variables; the completed process."""
    from conftest import HTTPD_USER

    return sync_runner(kstoken_cli, standin, os.path.join(sync_root, "signing"), os.path.join(sync_root, "password"),
                       HTTPD_USER)


def test_sync_fills_the_signing_directory_as_the_services_user(sync, sync_root, standin):
    from conftest import HTTPD_USER

    standin.set_revoked([{"id": "0123456789abcdef0123456789abcdef", "expires": "2099-01-01T00:00:00Z"}])
    done = sync()
    assert done.returncode == 0, done.stderr
    signing = os.path.join(sync_root, "signing")
    for name in ("signing_cert.pem", "cacert.pem", "revoked.signed.pem"):
        st = os.stat(os.path.join(signing, name))
        assert stat.S_IMODE(st.st_mode) == 0o600, name
        assert st.st_uid == pwd.getpwnam(HTTPD_USER).pw_uid, name
    with open(os.path.join(signing, "cacert.pem"), "rb") as f, open(standin.path("ca_cert.pem"), "rb") as g:
        assert f.read() == g.read()
    assert "revoked.signed.pem: written: 1 entries, verified" in done.stdout


def test_a_token_from_keystone_is_accepted(get, kstoken_cli, standin, workdir):
    accepted(get("/mw/cert", headers={"X-Auth-Token": keystone_token(kstoken_cli, standin, "first", workdir)}))


def test_a_rotation_reaches_the_middleware_through_sync(get, sync, kstoken_cli, standin, workdir):
    old = keystone_token(kstoken_cli, standin, "old-key", workdir)
    standin.rotate()
    new = keystone_token(kstoken_cli, standin, "new-key", workdir)
    # the middleware cannot know the new signer yet (and has no keystone to ask)
    refused(get("/mw/cert", headers={"X-Auth-Token": new}))
    done = sync()
    assert done.returncode == 0, done.stderr
    assert "signing_cert.pem: replaced" in done.stdout
    assert "cacert.pem" not in done.stdout  # the CA is kept, not fetched again
    # the middleware re-reads the replaced file (it checks every second)
    wait_until(lambda: get("/mw/cert", headers={"X-Auth-Token": new}).status == 200, 15,
               "the middleware to accept the rotated key's token")
    accepted(get("/mw/cert", headers={"X-Auth-Token": new}))
    # keystone serves the new certificate alone: the old key's tokens are no longer accepted
    refused(get("/mw/cert", headers={"X-Auth-Token": old}))


def test_a_rebuilt_pki_is_refused_by_sync(get, sync, kstoken_cli, standin, sync_root, workdir):
    trusted = keystone_token(kstoken_cli, standin, "trusted", workdir)
    signing = os.path.join(sync_root, "signing")
    before = {n: open(os.path.join(signing, n), "rb").read() for n in os.listdir(signing)}
    standin.rotate(new_ca=True)
    done = sync()
    assert done.returncode == 6, (done.returncode, done.stderr)
    assert "does not chain to the trusted CA" in done.stderr
    assert "nothing was written" in done.stderr
    assert {n: open(os.path.join(signing, n), "rb").read() for n in os.listdir(signing)} == before
    # the middleware still validates with what it trusts, and refuses the rebuilt PKI's tokens
    accepted(get("/mw/cert", headers={"X-Auth-Token": trusted}))
    refused(get("/mw/cert", headers={"X-Auth-Token": keystone_token(kstoken_cli, standin, "rebuilt", workdir)}))


def test_sync_over_tls_checks_keystones_certificate(kstoken_cli, httpd, pki, workdir):
    """sync's TLS (native-tls, the system's OpenSSL): keystone's certificate is checked with
    --os-cacert; without it (the system's roots) the private CA is not trusted."""
    from conftest import HTTPD_USER

    url = "https://127.0.0.1:%d/keystone/v3" % httpd.port
    # owned by the httpd user while sync runs as root: used, with a warning
    signing = os.path.join(workdir, "sync-tls")
    os.makedirs(signing, mode=0o700, exist_ok=True)
    shutil.chown(signing, HTTPD_USER, HTTPD_USER)

    def run(*extra):
        env = dict(SERVICE_USER, OS_AUTH_URL=url, OS_PASSWORD=SERVICE_PASSWORD)
        return subprocess.run([kstoken_cli, "sync", "--signing-dir", signing, "--timeout", "10", *extra], env=env,
                              capture_output=True, text=True, timeout=60)

    done = run()
    assert done.returncode == 3, (done.returncode, done.stderr)
    assert "certificate" in done.stderr and "--os-cacert" in done.stderr, done.stderr
    assert not os.listdir(signing)
    done = run("--os-cacert", pki.ca.cert)
    assert done.returncode == 0, done.stderr
    uid = pwd.getpwnam(HTTPD_USER).pw_uid
    assert "warning: signing directory %s is owned by uid %d, not by uid 0 that sync runs as" % (signing, uid) \
        in done.stderr, done.stderr
    assert sorted(os.listdir(signing)) == ["cacert.pem", "revoked.signed.pem", "signing_cert.pem"]
