"""The test bed itself, before any token is involved: a real Kerberos ticket reaches the WSGI
application and the proxied backend as REMOTE_USER, a real client certificate reaches both, and a
certificate from another CA is refused by mod_ssl's verification."""

import ssl

from testbed.kdc import principal


def pem_der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem)


def headers_of(response):
    """The backend's echo of the request headers it received, names in lower case."""
    out = {}
    for name, value in response.json()["headers"]:
        out.setdefault(name.lower(), []).append(value)
    return out


def proxied_cert(value: str) -> bytes:
    """The DER of the PEM mod_headers forwarded (its line ends joined with spaces)."""
    body = value.replace("-----BEGIN CERTIFICATE-----", "").replace("-----END CERTIFICATE-----", "")
    return pem_der("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % "\n".join(body.split()))


def test_kinit_gives_each_user_a_ticket(realm, tickets):
    assert "Default principal: alice@KSTOKEN.TEST" in realm.klist(tickets["alice"])
    assert "Default principal: bob@KSTOKEN.TEST" in realm.klist(tickets["bob"])


def test_no_ticket_gets_a_negotiate_challenge(get):
    r = get("/app/spnego")
    assert r.status == 401, r
    assert r.header("WWW-Authenticate") == "Negotiate", r


def test_spnego_gives_the_wsgi_app_the_principal(get, tickets, realm):
    for user in ("alice", "bob"):
        r = get("/app/spnego", kerberos=tickets[user])
        assert r.status == 200, r
        env = r.json()
        assert env["REMOTE_USER"] == principal(user)
        assert env["AUTH_TYPE"] == "Negotiate"
    # the service ticket curl obtained is for HTTP/localhost
    assert "HTTP/localhost@KSTOKEN.TEST" in realm.klist(tickets["alice"])


def test_spnego_reaches_the_backend_through_the_proxy(get, tickets):
    # a client cannot set the identity headers itself: httpd replaces them
    r = get("/proxy/spnego", kerberos=tickets["alice"],
            headers={"X-Testbed-Remote-User": "mallory@KSTOKEN.TEST", "X-Testbed-Auth-Type": "Basic"})
    assert r.status == 200, r
    seen = headers_of(r)
    assert seen["x-testbed-remote-user"] == ["alice@KSTOKEN.TEST"]
    assert seen["x-testbed-auth-type"] == ["Negotiate"]
    # the Negotiate token itself is what the backend got too (no other identity)
    assert seen["authorization"][0].startswith("Negotiate ")


def test_no_ticket_never_reaches_the_backend(get):
    r = get("/proxy/spnego")
    assert r.status == 401, r
    assert r.header("WWW-Authenticate") == "Negotiate"


def test_client_certificate_reaches_the_wsgi_app(get, pki):
    for user in ("alice", "bob"):
        cred = pki.clients[user]
        r = get("/app/cert", cert=cred)
        assert r.status == 200, r
        env = r.json()
        assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
        assert pem_der(env["SSL_CLIENT_CERT"]) == cred.der()
        assert "CN=%s" % user in env["SSL_CLIENT_S_DN"]
        assert env["REMOTE_USER"] is None


def test_no_client_certificate_is_allowed_and_seen_as_none(get):
    r = get("/app/cert")
    assert r.status == 200, r
    env = r.json()
    assert env["SSL_CLIENT_VERIFY"] == "NONE"
    assert not env["SSL_CLIENT_CERT"]


def test_client_certificate_reaches_the_backend_through_the_proxy(get, pki):
    cred = pki.clients["alice"]
    r = get("/proxy/cert", cert=cred, headers={"X-Testbed-Client-Cert": "forged"})
    assert r.status == 200, r
    seen = headers_of(r)
    assert seen["x-testbed-client-verify"] == ["SUCCESS"]
    assert len(seen["x-testbed-client-cert"]) == 1
    assert proxied_cert(seen["x-testbed-client-cert"][0]) == cred.der()


def test_ticket_and_certificate_together(get, tickets, pki):
    r = get("/app/spnego", kerberos=tickets["alice"], cert=pki.clients["bob"])
    assert r.status == 200, r
    env = r.json()
    assert env["REMOTE_USER"] == "alice@KSTOKEN.TEST"
    assert pem_der(env["SSL_CLIENT_CERT"]) == pki.clients["bob"].der()


def test_rogue_ca_certificate_is_refused_by_mod_ssl(get, pki, httpd):
    for path in ("/app/cert", "/proxy/cert"):
        r = get(path, cert=pki.rogue)
        # the handshake fails (TLS 1.3: the alert arrives when curl reads): no HTTP answer at all
        assert r.status == 0 and r.exit_code != 0, r
        assert not r.body
    log = httpd.wait_for_log("Certificate Verification: Error")
    assert "unable to get local issuer certificate" in log or "unknown ca" in log.lower(), log[-2000:]


def test_httpd_forwards_any_header_spelling_through_the_proxy_but_not_to_wsgi(get):
    """Why the module strips identity headers in every spelling (httpd/tests/test_module_decision.py):
    without it, httpd hands `X_Roles` to a proxied backend as it came (and WSGI servers there fold it
    into HTTP_X_ROLES), while it keeps a name with `_` out of mod_wsgi's environ altogether."""
    seen = headers_of(get("/proxy/", headers={"X_Roles": "admin", "x-user-name": "root"}))
    assert seen["x_roles"] == ["admin"] and seen["x-user-name"] == ["root"], seen
    env = get("/app/", headers={"X_Roles": "admin", "x-user-name": "root"}).json()["headers"]
    assert "HTTP_X_ROLES" not in env and env["HTTP_X_USER_NAME"] == "root", env
