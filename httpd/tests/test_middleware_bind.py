"""kstoken.middleware under mod_wsgi in the test bed's httpd, enforcing token binds on what httpd
authenticated for real: a Kerberos-bound token is accepted with its principal's ticket and refused
with another's; an x509-bound token is accepted with its client certificate and refused with
another or none. The middleware side of the later module-vs-middleware differential."""

import json
import os
import shutil

import pytest

from testbed.httpd import gssapi
from testbed.kdc import principal
from testbed.procs import wait_until
from testbed.tokens import KeystonePki, v3_body

WWW_AUTHENTICATE = "https://keystone.test:5000/v3"
#: the middleware's log lines for the two refusals
KERBEROS_MISMATCH = "bind check failed: kerberos bind does not match the authenticated user"
X509_MISMATCH = "bind check failed: x509 bind does not match the client certificate"


@pytest.fixture(scope="module")
def keystone_pki(workdir):
    cli = os.environ.get("KSTOKEN_CLI", "")
    assert os.access(cli, os.X_OK), "KSTOKEN_CLI must name the kstoken command (scripts/test-httpd.sh builds it)"
    return KeystonePki(cli, os.path.join(workdir, "keystone-pki"))


@pytest.fixture(scope="module")
def middleware_wsgi(workdir, keystone_pki):
    """The middleware's WSGI script and its options; ``signing_dir`` holds keystone's certificates
    under keystonemiddleware's names, owned by the daemon processes' user, mode 0700."""
    from conftest import HTTPD_USER

    root = os.path.join(workdir, "middleware")
    signing_dir = os.path.join(root, "signing")
    os.makedirs(signing_dir, exist_ok=True)
    os.chmod(root, 0o755)
    shutil.copy(keystone_pki.signing_cert, os.path.join(signing_dir, "signing_cert.pem"))
    shutil.copy(keystone_pki.ca_cert, os.path.join(signing_dir, "cacert.pem"))
    for name in os.listdir(signing_dir):
        shutil.chown(os.path.join(signing_dir, name), HTTPD_USER, HTTPD_USER)
    shutil.chown(signing_dir, HTTPD_USER, HTTPD_USER)
    os.chmod(signing_dir, 0o700)
    conf = os.path.join(root, "conf.json")
    with open(conf, "w") as f:
        json.dump({"signing_dir": signing_dir, "www_authenticate_uri": WWW_AUTHENTICATE,
                   "enforce_token_bind": "permissive"}, f)
    wsgi = os.path.join(root, "middleware.wsgi")
    with open(wsgi, "w") as f:
        f.write("from middleware_app import make_application\n\napplication = make_application(%r)\n" % conf)
    return wsgi


def HTTPD_EXTRA(request):  # noqa: N802 (the test bed's hook name)
    wsgi = request.getfixturevalue("middleware_wsgi")
    realm = request.getfixturevalue("realm")
    return """
    # kstoken.middleware in front of the echo application: /mw/krb behind SPNEGO, /mw/cert with
    # the virtual host's optional client certificate only
    <Directory "{dir}">
        Require all granted
    </Directory>
    WSGIScriptAlias /mw/krb "{wsgi}"
    WSGIScriptAlias /mw/cert "{wsgi}"
    <Location /mw/krb>
        {gssapi}
    </Location>
""".format(dir=os.path.dirname(wsgi), wsgi=wsgi, gssapi=gssapi(realm))


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


def accepted(r, user="alice"):
    assert r.status == 200, r
    env = r.json()
    h = env["headers"]
    assert h["HTTP_X_IDENTITY_STATUS"] == "Confirmed", env
    assert h["HTTP_X_USER_NAME"] == user
    assert h["HTTP_X_PROJECT_NAME"] == "demo"
    assert h["HTTP_X_ROLES"] == "member,reader"
    return env


def refused(r):
    assert r.status == 401, r
    # the middleware's refusal, not mod_auth_gssapi's Negotiate challenge
    assert r.header("WWW-Authenticate") == 'Keystone uri="%s"' % WWW_AUTHENTICATE, r
    assert r.json()["error"]["code"] == 401


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
