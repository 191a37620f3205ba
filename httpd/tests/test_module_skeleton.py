"""mod_kstoken as far as it goes today: built with apxs against the installed libkstoken (found by
``pkg-config kstoken``), loaded by httpd, its directives (keystonemiddleware's option names) read per
server and per location and checked at startup with a message naming the directive. It makes no
decision yet: a location configured for it is served as if it were not there."""

import os
import subprocess

import pytest

from testbed.httpd import APACHE, MODULES
from testbed.procs import free_port

#: every directive, valid, as a server default and again in a location
VALID = """KstokenSigningDir {signing}
KstokenEnforceTokenBind kerberos
KstokenHashAlgorithms sha256,md5
KstokenDelayAuthDecision Off
KstokenIncludeServiceCatalog On
KstokenServiceTokenRoles service admin
KstokenServiceTokenRolesRequired On
KstokenTokenCacheTime 300
KstokenWWWAuthenticateURI https://keystone.test:5000/v3
KstokenRevocation enforce
KstokenRevocationStaleTime 300"""


@pytest.fixture(scope="module")
def signing(workdir):
    path = os.path.join(workdir, "module-signing")
    os.makedirs(path, exist_ok=True)
    return path


def HTTPD_SERVER_EXTRA(request):  # noqa: N802 (the test bed's hook name)
    return "LoadModule kstoken_module %s\n%s" % (request.getfixturevalue("kstoken_module"),
                                                  VALID.format(signing=request.getfixturevalue("signing")))


def HTTPD_EXTRA(request):  # noqa: N802
    return """
    <Location /app/kstoken>
        KstokenEnforceTokenBind strict
        KstokenDelayAuthDecision On
        KstokenServiceTokenRoles service
    </Location>
"""


def configtest(workdir, module, server="", location=""):
    """``apache2 -t`` of a minimal configuration loading the module: (exit code, output)."""
    root = os.path.join(workdir, "configtest")
    os.makedirs(root, exist_ok=True)
    conf = os.path.join(root, "httpd.conf")
    with open(conf, "w") as f:
        f.write("""ServerRoot "{root}"
DefaultRuntimeDir "{root}"
PidFile "{root}/httpd.pid"
ErrorLog "{root}/error.log"
ServerName localhost
Listen 127.0.0.1:{port}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule kstoken_module {module}
{server}
<Location /api>
{location}
</Location>
""".format(root=root, port=free_port(), modules=MODULES, module=module, server=server, location=location))
    done = subprocess.run([APACHE, "-t", "-f", conf], capture_output=True, text=True, timeout=30)
    return done.returncode, done.stdout + done.stderr


def test_the_module_links_the_installed_libkstoken(kstoken_module):
    ldd = subprocess.run(["ldd", kstoken_module], capture_output=True, text=True, timeout=30).stdout
    line = next(li for li in ldd.splitlines() if "libkstoken.so.0" in li)
    assert "/target/httpd-tests/prefix/lib/libkstoken.so.0" in line, ldd


def test_httpd_loads_it_and_says_what_it_is(httpd):
    log = httpd.wait_for_log("mod_kstoken ")
    assert "mod_kstoken 0.2.0 (libkstoken 0.2.0) loaded: a skeleton that reads its directives and validates " \
           "no token" in log


def test_a_configured_location_is_served_unchanged(get):
    # no decision yet: no token needed, no identity header set, nothing refused
    r = get("/app/kstoken", headers={"X-Auth-Token": "not-a-token"})
    assert r.status == 200, r
    headers = r.json()["headers"]
    assert headers["HTTP_X_AUTH_TOKEN"] == "not-a-token"
    assert "HTTP_X_IDENTITY_STATUS" not in headers


def test_every_directive_is_accepted_in_the_server_and_a_location(workdir, kstoken_module, signing):
    valid = VALID.format(signing=signing)
    rc, out = configtest(workdir, kstoken_module, server=valid, location=valid)
    assert rc == 0 and "Syntax OK" in out, out


@pytest.mark.parametrize("directive, message", [
    # libkstoken's rule for hash_algorithms, and its message after "is refused:"
    ("KstokenHashAlgorithms md5,md6", "KstokenHashAlgorithms: md5,md6 is refused: "),
    ("KstokenHashAlgorithms ,", "KstokenHashAlgorithms: , is refused: "),
    ("KstokenTokenCacheTime soon", "KstokenTokenCacheTime: soon is not a whole number of seconds from -1 to"),
    ("KstokenTokenCacheTime -2", "KstokenTokenCacheTime: -2 is not a whole number of seconds from -1 to"),
    ("KstokenRevocationStaleTime 1e3", "KstokenRevocationStaleTime: 1e3 is not a whole number of seconds"),
    ("KstokenWWWAuthenticateURI ftp://keystone.test/", "KstokenWWWAuthenticateURI: ftp://keystone.test/ is not an "
                                                        "http:// or https:// URL"),
    ("KstokenRevocation maybe", "KstokenRevocation: maybe is neither enforce nor off"),
    ("KstokenSigningDir /nonexistent/kstoken", "KstokenSigningDir: /nonexistent/kstoken is not a directory: create "
                                               "it (mode 0700, owned by the server's user) and fill it with `kstoken "
                                               "sync --signing-dir`"),
    ("KstokenDelayAuthDecision yes", "KstokenDelayAuthDecision must be On or Off"),
])
@pytest.mark.parametrize("where", ["server", "location"])
def test_a_refused_value_stops_startup_naming_the_directive(workdir, kstoken_module, directive, message, where):
    rc, out = configtest(workdir, kstoken_module, **{where: directive})
    assert rc != 0, out
    assert message in out, out
    assert "Syntax error on line" in out


def test_libkstoken_says_why_a_value_is_refused(workdir, kstoken_module):
    rc, out = configtest(workdir, kstoken_module, server="KstokenHashAlgorithms sha256,md6")
    # the message after "is refused:" is libkstoken's own, naming the unknown algorithm
    detail = out.split("is refused:", 1)[1].strip()
    assert "md6" in detail, out


def test_any_other_bind_mode_names_a_bind_type_as_in_keystone(workdir, kstoken_module):
    # keystone's enforce_token_bind is case-sensitive, and a value that is none of disabled,
    # permissive, strict and required names a bind type every token must carry: "Permissive" is
    # accepted (libkstoken's rule), and means that.
    rc, out = configtest(workdir, kstoken_module, server="KstokenEnforceTokenBind Permissive")
    assert rc == 0 and "Syntax OK" in out, out


def test_revocation_enforced_needs_a_signing_directory(workdir, kstoken_module, signing):
    rc, out = configtest(workdir, kstoken_module, server="KstokenRevocation enforce")
    assert rc != 0, out
    assert "KstokenRevocation enforce needs KstokenSigningDir" in out, out
    rc, out = configtest(workdir, kstoken_module, server="KstokenRevocation enforce\nKstokenSigningDir %s" % signing)
    assert rc == 0, out
