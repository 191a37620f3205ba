"""kstoken.middleware under mod_wsgi in the test bed's httpd, enforcing token binds on what httpd
authenticated for real: a Kerberos-bound token is accepted with its principal's ticket and refused
with another's; an x509-bound token is accepted with its client certificate and refused with
another or none. The middleware side of the later module-vs-middleware differential."""

import os

import pytest

from testbed import middleware
from testbed.kdc import principal
from testbed.middleware import accepted, refused
from testbed.procs import wait_until
from testbed.tokens import KeystonePki, v3_body

#: the middleware's log lines for the two refusals
KERBEROS_MISMATCH = "bind check failed: kerberos bind does not match the authenticated user"
X509_MISMATCH = "bind check failed: x509 bind does not match the client certificate"


@pytest.fixture(scope="module")
def keystone_pki(workdir, kstoken_cli):
    return KeystonePki(kstoken_cli, os.path.join(workdir, "keystone-pki"))


@pytest.fixture(scope="module")
def middleware_wsgi(workdir, keystone_pki):
    """The middleware's WSGI script; its ``signing_dir`` holds keystone's certificates under
    keystonemiddleware's names."""
    from conftest import HTTPD_USER

    root = os.path.join(workdir, "middleware")
    os.makedirs(root, exist_ok=True)
    signing = middleware.signing_dir(root, HTTPD_USER, {"signing_cert.pem": keystone_pki.signing_cert,
                                                         "cacert.pem": keystone_pki.ca_cert})
    return middleware.write_app(root, signing)


def HTTPD_EXTRA(request):  # noqa: N802 (the test bed's hook name)
    return middleware.locations(request.getfixturevalue("middleware_wsgi"), request.getfixturevalue("realm"))


@pytest.fixture(scope="module")
def tokens(keystone_pki, pki):
    alice_cert = pki.clients["alice"].sha256()
    return {
        "kerberos": keystone_pki.sign(v3_body("kerberos", bind={"kerberos": principal("alice")})),
        "x509": keystone_pki.sign(v3_body("x509", bind={"x509": {"sha256": alice_cert}})),
        "both": keystone_pki.sign(v3_body("both", bind={"kerberos": principal("alice"),
                                                         "x509": {"sha256": alice_cert}})),
        "unbound": keystone_pki.sign(v3_body("unbound")),
    }


@pytest.fixture
def refused_for(get, httpd):
    """``refused_for(reason, path, **request)``: the request gets the middleware's 401, and its log
    line (in httpd's error log, from the daemon process) says why."""

    def check(reason, path, **kwargs):
        before = len(httpd.error_log())
        refused(get(path, **kwargs))
        wait_until(lambda: "Invalid user token" in httpd.error_log()[before:], 10, "the middleware's log line")
        line = next(li for li in httpd.error_log()[before:].splitlines() if "Invalid user token" in li)
        assert reason in line, line

    return check


def test_kerberos_bound_token_with_its_principals_ticket(get, tickets, tokens):
    r = get("/mw/krb", kerberos=tickets["alice"],
            headers={"X-Auth-Token": tokens["kerberos"], "X-User-Name": "admin", "X-Roles": "admin"})
    env = accepted(r)
    assert env["REMOTE_USER"] == "alice@KSTOKEN.TEST"
    assert env["AUTH_TYPE"] == "Negotiate"


def test_kerberos_bound_token_with_another_principals_ticket(refused_for, tickets, tokens):
    refused_for(KERBEROS_MISMATCH, "/mw/krb", kerberos=tickets["bob"], headers={"X-Auth-Token": tokens["kerberos"]})


def test_kerberos_bound_token_without_kerberos(refused_for, pki, tokens):
    # a client certificate is not a Kerberos login, even alice's
    refused_for(KERBEROS_MISMATCH, "/mw/cert", cert=pki.clients["alice"], headers={"X-Auth-Token": tokens["kerberos"]})


def test_x509_bound_token_with_its_certificate(get, pki, tokens):
    env = accepted(get("/mw/cert", cert=pki.clients["alice"], headers={"X-Auth-Token": tokens["x509"]}))
    assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"


def test_x509_bound_token_with_another_certificate(refused_for, pki, tokens):
    refused_for(X509_MISMATCH, "/mw/cert", cert=pki.clients["bob"], headers={"X-Auth-Token": tokens["x509"]})


def test_x509_bound_token_without_a_certificate(refused_for, tickets, tokens):
    refused_for(X509_MISMATCH, "/mw/cert", headers={"X-Auth-Token": tokens["x509"]})
    # alice's ticket does not stand in for her certificate
    refused_for(X509_MISMATCH, "/mw/krb", kerberos=tickets["alice"], headers={"X-Auth-Token": tokens["x509"]})


def test_token_bound_to_both_needs_both(get, refused_for, tickets, pki, tokens):
    both = {"X-Auth-Token": tokens["both"]}
    accepted(get("/mw/krb", kerberos=tickets["alice"], cert=pki.clients["alice"], headers=both))
    refused_for(X509_MISMATCH, "/mw/krb", kerberos=tickets["alice"], cert=pki.clients["bob"], headers=both)
    refused_for(KERBEROS_MISMATCH, "/mw/krb", kerberos=tickets["bob"], cert=pki.clients["alice"], headers=both)


def test_unbound_token_is_accepted_either_way(get, tickets, tokens):
    # the refusals above come from the binds: the same signer's unbound token passes
    accepted(get("/mw/cert", headers={"X-Auth-Token": tokens["unbound"]}))
    accepted(get("/mw/krb", kerberos=tickets["bob"], headers={"X-Auth-Token": tokens["unbound"]}))


def test_no_token_is_refused(get, tickets):
    refused(get("/mw/krb", kerberos=tickets["alice"]))
