"""mod_kstoken's build and configuration: built with apxs against the installed libkstoken (found by
``pkg-config kstoken``), loaded by httpd with a startup line saying what it does, its directives
(keystonemiddleware's option names) read per server and per location, and every value or
combination that cannot work refused at startup (also by ``httpd -t``) with a message naming the
directive. The sample configuration of docs/httpd.md (httpd/examples/kstoken.conf) is accepted."""

import os
import subprocess

import pytest

from testbed.httpd import APACHE, MODULES
from testbed.procs import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: every per-location directive, valid, as a server default and again in a location
VALID = """Kstoken On
KstokenSigningDir {signing}
KstokenEnforceTokenBind kerberos
KstokenHashAlgorithms sha256,md5
KstokenDelayAuthDecision Off
KstokenIncludeServiceCatalog On
KstokenServiceTokenRoles service admin
KstokenServiceTokenRolesRequired On
KstokenTokenCacheTime 300
KstokenCacheMaxEntries 5000
KstokenCacheMaxBytes 33554432
KstokenWWWAuthenticateURI https://keystone.test:5000/v3
KstokenRevocation enforce
KstokenCheckRevocationsForCached On
KstokenRevocationCacheTime 10
KstokenRevocationStaleTime 300"""
#: the server-wide ones
GLOBAL = """KstokenMemcachedServers 127.0.0.1:11211,127.0.0.1:11212
KstokenMemcacheSecurityStrategy ENCRYPT
KstokenMemcacheSecretKey sekrit
KstokenMemcacheSocketTimeout 0.25
KstokenMemcacheDeadRetry 30"""


@pytest.fixture(scope="module")
def signing(workdir):
    path = os.path.join(workdir, "module-config-signing")
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


def configtest(workdir, module, server="", location="", modules=("mpm_event", "authz_core")):
    """``apache2 -t`` of a minimal configuration loading the module: (exit code, output)."""
    root = os.path.join(workdir, "configtest")
    os.makedirs(root, exist_ok=True)
    conf = os.path.join(root, "httpd.conf")
    loads = "\n".join("LoadModule %s_module %s/mod_%s.so" % (m, MODULES, m) for m in modules)
    with open(conf, "w") as f:
        f.write("""ServerRoot "{root}"
DefaultRuntimeDir "{root}"
PidFile "{root}/httpd.pid"
ErrorLog "{root}/error.log"
ServerName localhost
Listen 127.0.0.1:{port}
{loads}
LoadModule kstoken_module {module}
{server}
<Location /api>
{location}
</Location>
""".format(root=root, port=free_port(), loads=loads, module=module, server=server, location=location))
    done = subprocess.run([APACHE, "-t", "-f", conf], capture_output=True, text=True, timeout=30)
    return done.returncode, done.stdout + done.stderr


def test_the_module_links_the_installed_libkstoken(kstoken_module):
    ldd = subprocess.run(["ldd", kstoken_module], capture_output=True, text=True, timeout=30).stdout
    line = next(li for li in ldd.splitlines() if "libkstoken.so.0" in li)
    assert "/target/httpd-tests/prefix/lib/libkstoken.so.0" in line, ldd


def test_httpd_loads_it_and_says_what_it_is(httpd):
    log = httpd.wait_for_log("mod_kstoken ")
    line = [li for li in log.splitlines() if "mod_kstoken 0.2.0 (libkstoken 0.2.0)" in li][-1]
    assert "validates keystone tokens in 2 section(s) from 1 signing directory" in line, line
    assert "second-level token cache: socache shmcb:" in line, line
    # the benchmark's switch (benches/httpd/run.py): a module that decides says nothing of a skeleton
    assert "skeleton" not in log


def test_every_directive_is_accepted_in_the_server_and_a_location(workdir, kstoken_module, signing):
    valid = VALID.format(signing=signing)
    rc, out = configtest(workdir, kstoken_module, server=valid + "\n" + GLOBAL, location=valid)
    assert rc == 0 and "Syntax OK" in out, out


@pytest.mark.parametrize("directive, message", [
    # libkstoken's rules for hash_algorithms and enforce_token_bind, and their messages after "is refused:"
    ("KstokenHashAlgorithms md5,md6", "KstokenHashAlgorithms: md5,md6 is refused: "),
    ("KstokenHashAlgorithms ,", "KstokenHashAlgorithms: , is refused: "),
    ("KstokenEnforceTokenBind Permissive", "KstokenEnforceTokenBind: Permissive is refused: "),
    ("KstokenEnforceTokenBind acme", "KstokenEnforceTokenBind: acme is refused: "),
    ("KstokenTokenCacheTime soon", "KstokenTokenCacheTime: soon is not a whole number of seconds from -1 to"),
    ("KstokenTokenCacheTime -2", "KstokenTokenCacheTime: -2 is not a whole number of seconds from -1 to"),
    ("KstokenCacheMaxEntries 0", "KstokenCacheMaxEntries: 0 is not a whole number of entries from 1 to"),
    ("KstokenCacheMaxBytes lots", "KstokenCacheMaxBytes: lots is not a whole number of bytes from 1 to"),
    ("KstokenRevocationStaleTime 1e3", "KstokenRevocationStaleTime: 1e3 is not a whole number of seconds"),
    ("KstokenRevocationCacheTime 0", "KstokenRevocationCacheTime: 0 is not a whole number of seconds from 1"),
    ("KstokenWWWAuthenticateURI ftp://keystone.test/", "KstokenWWWAuthenticateURI: ftp://keystone.test/ is not an "
                                                        "http:// or https:// URL"),
    ("KstokenRevocation maybe", "KstokenRevocation: maybe is neither enforce nor off"),
    ("KstokenSigningDir /nonexistent/kstoken", "KstokenSigningDir: /nonexistent/kstoken is not a directory: create "
                                               "it (mode 0700, owned by the server's user) and fill it with `kstoken "
                                               "sync --signing-dir`"),
    ("KstokenDelayAuthDecision yes", "KstokenDelayAuthDecision must be On or Off"),
    ("Kstoken maybe", "Kstoken must be On or Off"),
    ("KstokenServiceTokenRoles ''", "KstokenServiceTokenRoles requires at least one argument"),
])
@pytest.mark.parametrize("where", ["server", "location"])
def test_a_refused_value_stops_startup_naming_the_directive(workdir, kstoken_module, directive, message, where):
    rc, out = configtest(workdir, kstoken_module, **{where: directive})
    assert rc != 0, out
    assert message in out, out
    assert "Syntax error on line" in out


@pytest.mark.parametrize("directive, message", [
    ("KstokenMemcacheSecurityStrategy mac", "KstokenMemcacheSecurityStrategy: mac is none of None, MAC and ENCRYPT"),
    ("KstokenMemcachedServers 127.0.0.1:notaport", "KstokenMemcachedServers: 127.0.0.1:notaport is not host:port"),
    ("KstokenMemcacheSocketTimeout 0", "KstokenMemcacheSocketTimeout: 0 is not a number of seconds"),
    ("KstokenCache memcache:127.0.0.1:11211", "KstokenCache: mod_socache_memcache changes every key"),
])
def test_server_wide_directives_are_checked(workdir, kstoken_module, directive, message):
    rc, out = configtest(workdir, kstoken_module, server=directive)
    assert rc != 0 and message in out, out
    # ... and are server-wide: httpd refuses them in a location
    name = directive.split()[0]
    rc, out = configtest(workdir, kstoken_module, location=name + " x")
    assert rc != 0 and "%s not allowed in <Location> context" % name in out, out


def test_libkstoken_says_why_a_value_is_refused(workdir, kstoken_module):
    rc, out = configtest(workdir, kstoken_module, server="KstokenHashAlgorithms sha256,md6")
    # the message after "is refused:" is libkstoken's own, naming the unknown algorithm
    assert "md6" in out.split("is refused:", 1)[1], out
    rc, out = configtest(workdir, kstoken_module, server="KstokenEnforceTokenBind Strict")
    assert "expected disabled, permissive, strict, required" in out, out


@pytest.mark.parametrize("server, location, message", [
    ("KstokenRevocation enforce", "", "KstokenRevocation enforce needs KstokenSigningDir"),
    ("", "Kstoken On\nKstokenWWWAuthenticateURI https://k.test/v3", "Kstoken On needs KstokenSigningDir"),
    ("KstokenSigningDir {signing}", "Kstoken On", "Kstoken On needs KstokenWWWAuthenticateURI"),
    ("KstokenMemcacheSecurityStrategy MAC", "", "KstokenMemcacheSecurityStrategy MAC or ENCRYPT needs "
                                                "KstokenMemcacheSecretKey"),
    ("KstokenCache shmcb\nKstokenMemcachedServers 127.0.0.1:11211", "", "KstokenCache and KstokenMemcachedServers"),
    ("KstokenCache nosuchcache", "", "KstokenCache: nosuchcache is no socache provider httpd knows"),
])
def test_combinations_that_cannot_work_stop_startup(workdir, kstoken_module, signing, server, location, message):
    rc, out = configtest(workdir, kstoken_module, server=server.format(signing=signing), location=location)
    assert rc != 0, out
    assert message in out, out


def test_a_require_line_turns_the_module_on(workdir, kstoken_module, signing):
    # Require kstoken-* in a section needs what Kstoken On needs
    rc, out = configtest(workdir, kstoken_module, location="Require kstoken-role admin")
    assert rc != 0 and "Kstoken On needs KstokenSigningDir" in out, out
    rc, out = configtest(workdir, kstoken_module, location="KstokenSigningDir %s\nKstokenWWWAuthenticateURI "
                                                            "https://k.test/v3\nRequire kstoken-role" % signing)
    assert rc != 0 and "Require kstoken-role needs the role names" in out, out
    rc, out = configtest(workdir, kstoken_module, location="KstokenSigningDir %s\nKstokenWWWAuthenticateURI "
                                                            "https://k.test/v3\n<RequireAny>\nRequire kstoken-valid\n"
                                                            "Require kstoken-project demo\n</RequireAny>" % signing)
    assert rc == 0, out


def test_the_documented_configuration_is_accepted(workdir, kstoken_module, signing, realm, pki):
    """docs/httpd.md's configuration (httpd/examples/kstoken.conf, which the page shows and
    test_docs.py keeps in step) with this machine's paths, loaded with every module it names."""
    with open(os.path.join(REPO, "httpd", "examples", "kstoken.conf")) as f:
        sample = f.read()
    for old, new in (("/usr/lib/apache2/modules/mod_kstoken.so", kstoken_module), ("/var/cache/kstoken", signing),
                     ("/etc/apache2/http.keytab", realm.keytab), ("/etc/ssl/certs/api.example.crt", pki.server.cert),
                     ("/etc/ssl/private/api.example.key", pki.server.key), ("/etc/ssl/certs/clients-ca.crt", pki.ca.cert)):
        sample = sample.replace(old, new)
    root = os.path.join(workdir, "docs-config")
    os.makedirs(root, exist_ok=True)
    conf = os.path.join(root, "httpd.conf")
    modules = ["mpm_event", "authn_core", "authz_core", "headers", "proxy", "proxy_http", "socache_shmcb", "ssl",
               "auth_gssapi"]
    with open(conf, "w") as f:
        f.write('ServerRoot "%s"\nDefaultRuntimeDir "%s"\nPidFile "%s/httpd.pid"\nErrorLog "%s/error.log"\n'
                "ServerName localhost\n%s\n%s" % (root, root, root, root, "\n".join(
                    "LoadModule %s_module %s/mod_%s.so" % (m, MODULES, m) for m in modules), sample))
    done = subprocess.run([APACHE, "-t", "-f", conf], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "Syntax OK" in done.stderr + done.stdout, done.stderr + sample
