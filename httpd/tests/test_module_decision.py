"""mod_kstoken deciding for real: tokens signed by a keystone PKI (``kstoken pki-setup``/``sign``),
real Kerberos tickets (mod_auth_gssapi) and real client certificates (mod_ssl), the identity headers
as the backend behind mod_proxy (or the WSGI application behind mod_wsgi) receives them, and the
refusals as the client sees them (keystonemiddleware's 401 and 503)."""

import hashlib
import os
import subprocess

import pytest

from testbed import module
from testbed.httpd import gssapi
from testbed.kdc import principal
from testbed.module import (UNAUTHORIZED_BODY, backend_headers, directives, environ_of, identity, passed,
                            proxied_location, refused, unavailable)
from testbed.tokens import KeystonePki, v3_body

BIND_MODES = ["disabled", "permissive", "strict", "required", "kerberos", "x509"]
#: spellings of identity headers a client may send: every one must be gone before the backend
SPOOFED = {
    "X-Roles": "admin",
    "x-roles": "admin",
    "X_Roles": "admin",
    "x_user_name": "root",
    "X-USER-ID": "0",
    "X-Identity-Status": "Confirmed",
    "X_Identity_Status": "Confirmed",
    "OpenStack-System-Scope": "all",
    "openstack_system_scope": "all",
    "X-Service-Roles": "service",
    "X-Project-Id": "other",
    "X-Tenant": "other",
}


@pytest.fixture(scope="module")
def keystone_pki(workdir, kstoken_cli):
    return KeystonePki(kstoken_cli, os.path.join(workdir, "module-keystone-pki"))


@pytest.fixture(scope="module")
def rogue_pki(workdir, kstoken_cli):
    """Another keystone's PKI: a different CA, not trusted by the module."""
    return KeystonePki(kstoken_cli, os.path.join(workdir, "module-rogue-pki"))


def tampered(token: str) -> str:
    """One character of the signed content changed (a PKI token is base64 of the CMS DER, whose
    signed JSON comes first)."""
    i = len(token) // 3
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


@pytest.fixture(scope="module")
def tokens(keystone_pki, rogue_pki, pki):
    alice_cert = pki.clients["alice"].sha256()
    sign = keystone_pki.sign
    t = {
        "unbound": sign(v3_body("unbound")),
        "kerberos": sign(v3_body("kerberos", bind={"kerberos": principal("alice")})),
        "x509": sign(v3_body("x509", bind={"x509": {"sha256": alice_cert}})),
        "expired": sign(v3_body("expired", expires_in=-600)),
        "service": sign(v3_body("service", user="nova", roles=("service", "admin"))),
        "not-service": sign(v3_body("not-service", user="glance", roles=("member",))),
        "admin": sign(v3_body("admin", user="carol", roles=("admin",))),
        "revoked": sign(v3_body("revoked")),
        "rogue": rogue_pki.sign(v3_body("rogue")),
        # project names a header carries (a tab) or cannot carry (other control characters), at
        # places the module's check reaches eight bytes at a time and byte by byte
        "tab": sign(v3_body("tab", project="a-project\tname with a tab")),
        "control-word": sign(v3_body("control-word", project="a-project\x01name, eight bytes on")),
        "control-tail": sign(v3_body("control-tail", project="a-project-name\x7f")),
        "control-short": sign(v3_body("control-short", project="\x1f")),
    }
    t["tampered"] = tampered(t["unbound"])
    return t


@pytest.fixture(scope="module")
def signing_dirs(workdir, keystone_pki, kstoken_cli, tokens):
    """The module's signing directories: the keystone's certificates; none; with a signed list that
    revokes one token; with the same list written long ago."""
    from conftest import HTTPD_USER

    certs = {"signing_cert.pem": keystone_pki.signing_cert, "cacert.pem": keystone_pki.ca_cert}
    root = os.path.join(workdir, "module-signing")
    listed = os.path.join(root, "list.json")
    os.makedirs(root, exist_ok=True)
    with open(listed, "w") as f:
        f.write('{"revoked": [{"id": "%s", "expires": "2099-01-01T00:00:00Z"}]}'
                % hashlib.md5(tokens["revoked"].encode()).hexdigest())
    signed = os.path.join(root, "revoked.signed.pem")
    with open(signed, "wb") as f:
        f.write(subprocess.run([kstoken_cli, "sign", "--pem", "--cert", keystone_pki.signing_cert, "--key",
                                keystone_pki.signing_key, "--in", listed], capture_output=True, check=True,
                               timeout=60).stdout)
    dirs = {
        "certs": module.signing_dir(os.path.join(root, "certs"), HTTPD_USER, certs),
        "empty": module.signing_dir(os.path.join(root, "empty"), HTTPD_USER),
        "revoked": module.signing_dir(os.path.join(root, "revoked"), HTTPD_USER,
                                      dict(certs, **{"revoked.signed.pem": signed})),
        "stale": module.signing_dir(os.path.join(root, "stale"), HTTPD_USER,
                                    dict(certs, **{"revoked.signed.pem": signed})),
    }
    # written an hour ago: past revocation_cache_time + kstoken_revocation_stale_time
    old = os.path.join(dirs["stale"], "revoked.signed.pem")
    os.utime(old, (os.path.getatime(old) - 3600, os.path.getmtime(old) - 3600))
    return dirs


def HTTPD_EXTRA(request):  # noqa: N802 (the test bed's hook name)
    dirs = request.getfixturevalue("signing_dirs")
    port = request.getfixturevalue("backend")
    realm = request.getfixturevalue("realm")
    root = os.path.join(request.getfixturevalue("workdir"), "httpd-test_module_decision")
    on = directives(dirs["certs"])
    out = [proxied_location("/mod/cert/", port, on),
           proxied_location("/mod/krb/", port, on + "\n        " + gssapi(realm)),
           proxied_location("/mod/delay/", port, directives(dirs["certs"], DelayAuthDecision="On")),
           proxied_location("/mod/svc-required/", port, directives(dirs["certs"], ServiceTokenRolesRequired="On")),
           proxied_location("/mod/nocerts/", port, directives(dirs["empty"])),
           proxied_location("/mod/revoked/", port, directives(dirs["revoked"], Revocation="enforce")),
           proxied_location("/mod/stale/", port, directives(dirs["stale"], Revocation="enforce",
                                                            RevocationCacheTime="10", RevocationStaleTime="10"))]
    out += [proxied_location("/mod/bind-%s/" % mode, port, directives(dirs["certs"], EnforceTokenBind=mode))
            for mode in BIND_MODES]
    # Require kstoken-*: the Require line turns the module on (no "Kstoken On" here)
    where = 'KstokenSigningDir "%s"\n        KstokenWWWAuthenticateURI %s' % (dirs["certs"], module.WWW_AUTHENTICATE)
    out += [
        proxied_location("/mod/role-admin/", port, where + "\n        Require kstoken-role admin"),
        proxied_location("/mod/role-any/", port, where + """
        <RequireAny>
            Require kstoken-role admin
            Require kstoken-project demo-two other
        </RequireAny>"""),
        proxied_location("/mod/role-all/", port, where + """
        <RequireAll>
            Require kstoken-role READER
            Require kstoken-project demo
        </RequireAll>"""),
        proxied_location("/mod/role-all-miss/", port, where + """
        <RequireAll>
            Require kstoken-role member
            Require kstoken-project other
        </RequireAll>"""),
        proxied_location("/mod/valid/", port, where + "\n        Require kstoken-valid"),
        proxied_location("/mod/delay-valid/", port, where + "\n        KstokenDelayAuthDecision On"
                                                            "\n        Require kstoken-valid"),
        proxied_location("/mod/krb-role/", port, where + "\n        " + gssapi(realm).replace(
            "Require valid-user", "Require kstoken-role member")),
    ]
    out.append("""
    WSGIScriptAlias /mod/wsgi "{root}/wsgi/echo.wsgi"
    <Location /mod/wsgi>
        {on}
    </Location>
""".format(root=root, on=on))
    return "\n".join(out)


def test_kerberos_bound_token_with_its_principals_ticket(get, tickets, tokens):
    r = get("/mod/krb/", kerberos=tickets["alice"], headers=dict(SPOOFED, **{"X-Auth-Token": tokens["kerberos"]}))
    seen = passed(r)
    assert seen["x-roles"] == "member,reader"
    assert seen["x-is-admin-project"] == "True"


def test_kerberos_bound_token_with_another_principals_ticket(get, tickets, tokens):
    refused(get("/mod/krb/", kerberos=tickets["bob"], headers={"X-Auth-Token": tokens["kerberos"]}))


def test_kerberos_bound_token_without_a_ticket(get, pki, tokens):
    # alice's client certificate is no Kerberos login
    refused(get("/mod/cert/", cert=pki.clients["alice"], headers={"X-Auth-Token": tokens["kerberos"]}))


def test_no_ticket_is_mod_auth_gssapis_challenge(get, tokens):
    r = get("/mod/krb/", headers={"X-Auth-Token": tokens["kerberos"]})
    assert r.status == 401 and r.header("WWW-Authenticate") == "Negotiate", r


def test_x509_bound_token_with_its_certificate(get, pki, tokens):
    passed(get("/mod/cert/", cert=pki.clients["alice"], headers={"X-Auth-Token": tokens["x509"]}))


def test_x509_bound_token_with_another_certificate_or_none(get, pki, tickets, tokens):
    refused(get("/mod/cert/", cert=pki.clients["bob"], headers={"X-Auth-Token": tokens["x509"]}))
    refused(get("/mod/cert/", headers={"X-Auth-Token": tokens["x509"]}))
    # alice's ticket does not stand in for her certificate
    refused(get("/mod/krb/", kerberos=tickets["alice"], headers={"X-Auth-Token": tokens["x509"]}))


@pytest.mark.parametrize("mode", BIND_MODES)
def test_unbound_and_bound_tokens_in_every_bind_mode(get, pki, tokens, mode):
    path = "/mod/bind-%s/" % mode
    unbound = get(path, cert=pki.clients["alice"], headers={"X-Auth-Token": tokens["unbound"]})
    if mode in ("required", "kerberos", "x509"):
        refused(unbound)
    else:
        passed(unbound)
    # bound to alice's certificate, presented with it
    bound = get(path, cert=pki.clients["alice"], headers={"X-Auth-Token": tokens["x509"]})
    if mode == "kerberos":
        refused(bound)
    else:
        passed(bound)
    # presented with bob's: refused unless binds are not checked
    other = get(path, cert=pki.clients["bob"], headers={"X-Auth-Token": tokens["x509"]})
    if mode == "disabled":
        passed(other)
    else:
        refused(other)


def test_spoofed_identity_headers_are_stripped_in_every_spelling(get, tokens):
    headers = backend_headers(get("/mod/cert/", headers=dict(SPOOFED, **{"X-Auth-Token": tokens["unbound"]})))
    seen = identity(headers)
    assert seen["x-roles"] == "member,reader" and seen["x-user-name"] == "alice", seen
    assert seen["x-identity-status"] == "Confirmed"
    assert "openstack-system-scope" not in seen and "x-service-roles" not in seen
    assert seen["x-project-id"] != "other" and seen["x-tenant"] == "demo"
    # no other spelling of any identity header reached the backend
    spelled = [name for name in headers if name.replace("_", "-") in module.IDENTITY_HEADERS and "_" in name]
    assert spelled == [], headers


def test_spoofed_headers_are_stripped_where_the_module_is_off(get):
    # /proxy/ does not check tokens, but it is in the same virtual host: identity headers from the
    # client never reach a backend
    headers = backend_headers(get("/proxy/", headers=SPOOFED))
    normalised = {name.replace("_", "-") for name in headers}
    assert not normalised & set(module.IDENTITY_HEADERS), headers


def test_spoofed_headers_never_reach_a_wsgi_application(get, tokens):
    env = environ_of(get("/mod/wsgi", headers=dict(SPOOFED, **{"X-Auth-Token": tokens["unbound"]})))
    h = env["headers"]
    assert h["HTTP_X_ROLES"] == "member,reader" and h["HTTP_X_USER_NAME"] == "alice", h
    assert "HTTP_OPENSTACK_SYSTEM_SCOPE" not in h and "HTTP_X_SERVICE_ROLES" not in h
    assert h["HTTP_X_IDENTITY_STATUS"] == "Confirmed"


def test_a_request_without_a_token_is_refused(get):
    r = get("/mod/cert/", headers=SPOOFED)
    refused(r)
    assert r.header("Content-Length") == str(len(UNAUTHORIZED_BODY))


@pytest.mark.parametrize("name", ["expired", "tampered", "rogue"])
def test_invalid_tokens_are_refused(get, tokens, name):
    refused(get("/mod/cert/", headers={"X-Auth-Token": tokens[name]}))


def test_control_characters_in_identity_values(get, tokens):
    # a tab is carried; any other control character refuses the token (docs/httpd.md, differences)
    passed(get("/mod/cert/", headers={"X-Auth-Token": tokens["tab"]}), project="a-project\tname with a tab")
    for name in ("control-word", "control-tail", "control-short"):
        refused(get("/mod/cert/", headers={"X-Auth-Token": tokens[name]}))


def test_not_a_token_is_refused(get):
    refused(get("/mod/cert/", headers={"X-Auth-Token": "not-a-token"}))


def test_a_revoked_token_is_refused(get, tokens):
    passed(get("/mod/revoked/", headers={"X-Auth-Token": tokens["unbound"]}))
    refused(get("/mod/revoked/", headers={"X-Auth-Token": tokens["revoked"]}))
    # the same token where no list is enforced
    passed(get("/mod/cert/", headers={"X-Auth-Token": tokens["revoked"]}))


def test_a_list_past_its_allowance_is_503(get, tokens):
    unavailable(get("/mod/stale/", headers={"X-Auth-Token": tokens["unbound"]}))


def test_no_certificates_is_503(get, tokens):
    unavailable(get("/mod/nocerts/", headers={"X-Auth-Token": tokens["unbound"]}))
    # a token that is no PKI token needs no certificate to be refused
    refused(get("/mod/nocerts/", headers={"X-Auth-Token": "not-a-token"}))


def test_a_service_token_lets_an_expired_user_token_through(get, tokens):
    seen = identity(backend_headers(get("/mod/cert/", headers={"X-Auth-Token": tokens["expired"],
                                                                 "X-Service-Token": tokens["service"]})))
    assert seen["x-identity-status"] == "Confirmed"
    assert seen["x-service-identity-status"] == "Confirmed"
    assert seen["x-user-name"] == "alice"
    assert seen["x-service-user-name"] == "nova"
    assert seen["x-service-roles"] == "service,admin"
    # a service token without a service role does not
    refused(get("/mod/cert/", headers={"X-Auth-Token": tokens["expired"], "X-Service-Token": tokens["not-service"]}))


def test_service_token_roles_required(get, tokens):
    both = {"X-Auth-Token": tokens["unbound"], "X-Service-Token": tokens["not-service"]}
    # not required (the default): the request passes with the service token's identity
    assert identity(backend_headers(get("/mod/cert/", headers=both)))["x-service-user-name"] == "glance"
    refused(get("/mod/svc-required/", headers=both))
    passed(get("/mod/svc-required/", headers={"X-Auth-Token": tokens["unbound"],
                                              "X-Service-Token": tokens["service"]}))


def test_delay_auth_decision_passes_invalid_tokens_on(get, tokens):
    for headers in ({"X-Auth-Token": tokens["expired"]}, {}, {"X-Auth-Token": "not-a-token"}):
        seen = identity(backend_headers(get("/mod/delay/", headers=dict(SPOOFED, **headers))))
        assert seen == {"x-identity-status": "Invalid"}, seen
    seen = identity(backend_headers(get("/mod/delay/", headers={"X-Auth-Token": tokens["unbound"],
                                                                  "X-Service-Token": "garbage"})))
    assert seen["x-identity-status"] == "Confirmed" and seen["x-service-identity-status"] == "Invalid", seen
    passed(get("/mod/delay/", headers={"X-Auth-Token": tokens["unbound"]}))


def test_require_kstoken_role(get, tokens):
    r = get("/mod/role-admin/", headers={"X-Auth-Token": tokens["unbound"]})
    assert r.status == 403, r
    passed(get("/mod/role-admin/", headers={"X-Auth-Token": tokens["admin"]}), user="carol", roles="admin")
    # an invalid token is the module's 401, before the Require line
    refused(get("/mod/role-admin/", headers={"X-Auth-Token": tokens["expired"]}))


def test_require_any_and_all(get, tokens):
    passed(get("/mod/role-any/", headers={"X-Auth-Token": tokens["admin"]}), user="carol", roles="admin")
    assert get("/mod/role-any/", headers={"X-Auth-Token": tokens["unbound"]}).status == 403
    # role names ignore ASCII case (READER), projects match exactly
    passed(get("/mod/role-all/", headers={"X-Auth-Token": tokens["unbound"]}))
    assert get("/mod/role-all/", headers={"X-Auth-Token": tokens["admin"]}).status == 403
    assert get("/mod/role-all-miss/", headers={"X-Auth-Token": tokens["unbound"]}).status == 403


def test_require_kstoken_valid(get, tokens):
    passed(get("/mod/valid/", headers={"X-Auth-Token": tokens["unbound"]}))
    refused(get("/mod/valid/", headers={"X-Auth-Token": tokens["tampered"]}))
    # with delay_auth_decision the Require tree decides: httpd's 403
    assert get("/mod/delay-valid/", headers={"X-Auth-Token": tokens["tampered"]}).status == 403
    passed(get("/mod/delay-valid/", headers={"X-Auth-Token": tokens["unbound"]}))


def test_require_kstoken_role_after_kerberos(get, tickets, tokens):
    # the provider asks for authentication first (no user yet), then decides with the principal
    passed(get("/mod/krb-role/", kerberos=tickets["alice"], headers={"X-Auth-Token": tokens["kerberos"]}))
    refused(get("/mod/krb-role/", kerberos=tickets["bob"], headers={"X-Auth-Token": tokens["kerberos"]}))
    r = get("/mod/krb-role/", headers={"X-Auth-Token": tokens["kerberos"]})
    assert r.status == 401 and r.header("WWW-Authenticate") == "Negotiate", r


def test_a_401_from_the_backend_gets_keystones_challenge(get, tokens):
    r = get("/mod/cert/status/401", headers={"X-Auth-Token": tokens["unbound"]})
    assert r.status == 401, r
    assert r.header("WWW-Authenticate") == 'Keystone uri="%s"' % module.WWW_AUTHENTICATE, r
    assert r.json()["method"] == "GET"  # the backend's own body


def HTTPD_SERVER_EXTRA(request):  # noqa: N802 (the test bed's hook name)
    return "LoadModule kstoken_module %s\nLogLevel kstoken:info\nLimitRequestFieldSize 65536" % (
        request.getfixturevalue("kstoken_module"))
