"""mod_kstoken with its signing directory kept by ``kstoken sync`` alone (the module does no keystone
I/O), against the repository's keystone stand-in: no certificates yet is 503; sync's certificates
and signed revocation list are read within seconds of being written; a revocation holds after a list
that lacks it (lists are merged); a signing-key rotation reaches the module through sync; a rebuilt
PKI refused by sync leaves the module validating with what it trusts; a list past its allowance is
503 until sync writes (or touches) it again."""

import hashlib
import os

import pytest

from testbed import module
from testbed.module import backend_headers, directives, passed, proxied_location, refused, unavailable
from testbed.procs import wait_until
from testbed.standin import keystone_token, password_file, running, sync_runner
from testbed.tokens import TokenSigner, v3_body

#: revocation_cache_time and kstoken_revocation_stale_time of the location
FRESH, STALE = 30, 30


@pytest.fixture(scope="module")
def standin(workdir, kstoken_cli):
    with running(kstoken_cli, workdir, "module-sync-standin") as s:
        yield s


@pytest.fixture(scope="module")
def sync_root(workdir):
    """The module's empty signing directory (the httpd user's) and sync's password file."""
    from conftest import HTTPD_USER

    root = os.path.join(workdir, "module-sync")
    os.makedirs(root, exist_ok=True)
    module.signing_dir(os.path.join(root, "signing"), HTTPD_USER)
    password_file(root, HTTPD_USER)
    return root


def HTTPD_SERVER_EXTRA(request):  # noqa: N802 (the test bed's hook name)
    return "LoadModule kstoken_module %s\nLogLevel kstoken:info\nLimitRequestFieldSize 65536" % (
        request.getfixturevalue("kstoken_module"))


def HTTPD_EXTRA(request):  # noqa: N802
    signing = os.path.join(request.getfixturevalue("sync_root"), "signing")
    port = request.getfixturevalue("backend")
    # cached tokens are checked against the list too: what a test asks right after sync is answered
    # with the new list even when the token was cached before the module read it
    return proxied_location("/sync/", port, directives(signing, Revocation="enforce",
                                                       CheckRevocationsForCached="On",
                                                       RevocationCacheTime=str(FRESH),
                                                       RevocationStaleTime=str(STALE)))


@pytest.fixture(scope="module")
def sync(kstoken_cli, standin, sync_root):
    """``sync()``: one ``kstoken sync`` run as the httpd user, with the stand-in's service
    credentials; the completed process."""
    from conftest import HTTPD_USER

    return sync_runner(kstoken_cli, standin, os.path.join(sync_root, "signing"), os.path.join(sync_root, "password"),
                       HTTPD_USER)


def eventually(get, token, status, what):
    """Waits (the module checks its directory every second) until ``token`` gets ``status``."""
    wait_until(lambda: get("/sync/", headers={"X-Auth-Token": token}).status == status, 15, what)


def test_no_certificates_yet_is_503(get, kstoken_cli, standin, workdir):
    unavailable(get("/sync/", headers={"X-Auth-Token": keystone_token(kstoken_cli, standin, "early", workdir)}))


def test_sync_fills_the_directory_and_the_module_reads_it(get, sync, kstoken_cli, standin, workdir):
    standin.set_revoked([])
    done = sync()
    assert done.returncode == 0, done.stderr
    token = keystone_token(kstoken_cli, standin, "first", workdir)
    eventually(get, token, 200, "the module to read sync's certificates and list")
    passed(get("/sync/", headers={"X-Auth-Token": token}))


def test_a_revocation_reaches_the_module_through_sync_and_holds(get, sync, kstoken_cli, standin, workdir):
    revoked = keystone_token(kstoken_cli, standin, "to-revoke", workdir)
    later = keystone_token(kstoken_cli, standin, "to-revoke-later", workdir)
    other = keystone_token(kstoken_cli, standin, "kept", workdir)
    entries = [{"id": hashlib.md5(t.encode()).hexdigest(), "expires": "2099-01-01T00:00:00Z"} for t in (revoked, later)]
    standin.set_revoked(entries)
    assert sync().returncode == 0
    eventually(get, revoked, 401, "the revocation")
    refused(get("/sync/", headers={"X-Auth-Token": revoked}))
    passed(get("/sync/", headers={"X-Auth-Token": other}))
    # keystone's next list lacks both (an older list: a replay, a restored keystone): the module
    # merges it with what it has seen, and a revocation holds until its token expires
    standin.set_revoked([])
    assert sync().returncode == 0
    eventually(get, keystone_token(kstoken_cli, standin, "after-older-list", workdir), 200, "the older list")
    refused(get("/sync/", headers={"X-Auth-Token": later}))


def test_a_rotation_reaches_the_module_through_sync(get, sync, kstoken_cli, standin, workdir):
    old = keystone_token(kstoken_cli, standin, "old-key", workdir)
    passed(get("/sync/", headers={"X-Auth-Token": old}))
    standin.rotate()
    new = keystone_token(kstoken_cli, standin, "new-key", workdir)
    refused(get("/sync/", headers={"X-Auth-Token": new}))
    done = sync()
    assert done.returncode == 0, done.stderr
    assert "signing_cert.pem: replaced" in done.stdout
    eventually(get, new, 200, "the module to take the rotated key")
    passed(get("/sync/", headers={"X-Auth-Token": new}))
    # keystone serves the new certificate alone: a token of the old key not seen before is refused
    pki = os.path.join(workdir, "module-sync-standin-pki")
    signer = TokenSigner(kstoken_cli, os.path.join(pki, "certs", "signing_cert.pem"),
                         os.path.join(pki, "private", "signing_key.pem"), workdir)
    refused(get("/sync/", headers={"X-Auth-Token": signer.sign(v3_body("old-key-uncached"))}))


def test_a_list_past_its_allowance_is_503_until_sync_touches_it(get, sync, sync_root, kstoken_cli, standin,
                                                                 workdir, httpd):
    listed = os.path.join(sync_root, "signing", "revoked.signed.pem")
    # written longer ago than revocation_cache_time + kstoken_revocation_stale_time
    st = os.stat(listed)
    os.utime(listed, (st.st_atime, st.st_mtime - FRESH - STALE - 5))
    token = keystone_token(kstoken_cli, standin, "while-stale", workdir)
    eventually(get, token, 503, "the list to expire")
    unavailable(get("/sync/", headers={"X-Auth-Token": token}))
    assert "mod_kstoken: Unable to validate token: no current revocation list available" in httpd.error_log()
    # the module never asks keystone, but sync does: it touches the same list
    done = sync()
    assert done.returncode == 0, done.stderr
    eventually(get, token, 200, "the touched list")
    assert backend_headers(get("/sync/", headers={"X-Auth-Token": token}))["x-identity-status"] == ["Confirmed"]


def test_a_rebuilt_pki_is_refused_and_the_module_keeps_what_it_trusts(get, sync, kstoken_cli, standin, workdir):
    trusted = keystone_token(kstoken_cli, standin, "trusted", workdir)
    passed(get("/sync/", headers={"X-Auth-Token": trusted}))
    standin.rotate(new_ca=True)
    done = sync()
    assert done.returncode == 6, (done.returncode, done.stderr)
    passed(get("/sync/", headers={"X-Auth-Token": trusted}))
    refused(get("/sync/", headers={"X-Auth-Token": keystone_token(kstoken_cli, standin, "rebuilt", workdir)}))
