"""Private Apache httpd instances: each its own configuration file (nothing under /etc/apache2 is
read), in the foreground under its own PID, listening on 127.0.0.1 only, on a free port.

:class:`Instance` is what every instance shares (the configuration written and checked with ``-t``,
the process started and stopped by PID, the error log); the functions below it write the
configuration pieces the test bed and the benchmark (``benches/httpd/run.py``) share. :class:`Httpd`
is the test bed's instance: one TLS virtual host with ``SSLVerifyClient optional`` at the virtual
host level (per-location client certificates would need TLS 1.3 post-handshake authentication, which
curl does not offer) and ``SSLOptions +ExportCertData +StdEnvVars``; SPNEGO through mod_auth_gssapi
on the ``*/spnego`` locations; the echo WSGI application in a mod_wsgi daemon process; mod_proxy to
the echo backend, with the authenticated identity forwarded in ``X-Testbed-*`` request headers.
``extra`` adds a test module's own directives to the virtual host, ``server_extra`` to the server
(``LoadModule``).

libkrb5 reads ``KRB5_CONFIG`` and ``KRB5RCACHEDIR`` from the process environment (``SetEnv`` reaches
only CGI/WSGI environs), so they are given to the httpd process itself.
"""

import os
import shutil
from typing import Dict, Iterable, Optional, Tuple

from testbed.kdc import Realm
from testbed.procs import Process, free_port, port_open, run, wait_until
from testbed.tls import Pki

MODULES = "/usr/lib/apache2/modules"
APACHE = "/usr/sbin/apache2"
LOAD = ["mpm_event", "authn_core", "authz_core", "authz_user", "headers", "proxy", "proxy_http",
        "socache_shmcb", "ssl", "auth_gssapi", "wsgi"]


def load_modules(names: Iterable[str]) -> str:
    """``LoadModule`` lines for Debian's modules ``names`` (``mpm_event``, ``wsgi``, ...)."""
    return "\n".join("LoadModule %s_module %s/mod_%s.so" % (m, MODULES, m) for m in names)


def run_as(user: Optional[str]) -> str:
    """``User``/``Group`` for the children (none: httpd's default)."""
    return "User {0}\nGroup {0}".format(user) if user else ""


def server_head(root: str, port: int, user: Optional[str], modules: str, log_level: str = "warn",
                scheme: str = "") -> str:
    """The start of a configuration: paths under ``root``, ``Listen 127.0.0.1:port`` (``scheme``:
    ``https`` for a TLS port), the children's user, the error log, the ``LoadModule`` lines."""
    return """# kstoken: a private httpd instance
ServerRoot "{root}"
DefaultRuntimeDir "{root}/run"
PidFile "{root}/run/httpd.pid"
ServerName localhost
Listen 127.0.0.1:{port}{scheme}
{user}
ErrorLog "{root}/logs/error.log"
LogLevel {log_level}
{modules}
""".format(root=root, port=port, scheme=(" " + scheme) if scheme else "", user=run_as(user), log_level=log_level,
           modules=modules)


def event_mpm(servers: int, threads: int) -> str:
    """The event MPM with exactly ``servers`` children of ``threads`` threads each, from the start
    (spare-thread bounds wide enough that none is started or stopped under load)."""
    return """StartServers {servers}
ServerLimit {servers}
ThreadsPerChild {threads}
MaxRequestWorkers {total}
MinSpareThreads {threads}
MaxSpareThreads {total}""".format(servers=servers, threads=threads, total=servers * threads)


def wsgi_daemon(name: str, user: Optional[str], processes: int, threads: int, python_path: str) -> str:
    """A mod_wsgi daemon process group ``name`` run as ``user``, importing from ``python_path``."""
    owner = "user={0} group={0} ".format(user) if user else ""
    text = ("WSGIDaemonProcess {name} {owner}processes={processes} threads={threads} python-path={path} "
            "display-name=%{{GROUP}}")
    return text.format(name=name, owner=owner, processes=processes, threads=threads, path=python_path)


def gssapi(realm: Realm) -> str:
    """The directives of a location that requires SPNEGO (Kerberos only, never Basic)."""
    return """AuthType GSSAPI
        AuthName "kstoken test bed"
        GssapiCredStore keytab:{keytab}
        GssapiAllowedMech krb5
        GssapiBasicAuth Off
        GssapiSSLonly On
        GssapiLocalName Off
        Require valid-user""".format(keytab=realm.keytab)


CONFIG = """{head}
LogFormat "%h %u %t \\"%r\\" %>s %b %D" testbed
CustomLog "{root}/logs/access.log" testbed
{server_extra}

StartServers 1
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
MinSpareThreads 2
MaxSpareThreads 16
Timeout 20

SSLSessionCache "shmcb:{root}/run/ssl_scache(512000)"
SSLProtocol -all +TLSv1.2 +TLSv1.3
WSGISocketPrefix {root}/run/wsgi
WSGIRestrictEmbedded On
{wsgi_daemon}

<Directory />
    Require all denied
</Directory>

<VirtualHost 127.0.0.1:{port}>
    DocumentRoot "{root}/htdocs"
    SSLEngine on
    SSLCertificateFile    "{server_cert}"
    SSLCertificateKeyFile "{server_key}"
    SSLCACertificateFile  "{ca}"
    SSLVerifyClient optional
    SSLVerifyDepth 2
    SSLOptions +ExportCertData +StdEnvVars

    # mod_wsgi maps PATH_INFO through a sub-request (PATH_TRANSLATED): into this empty directory
    <Directory "{root}/htdocs">
        Require all granted
    </Directory>

    WSGIProcessGroup testbed
    WSGIApplicationGroup %{{GLOBAL}}
    <Directory "{root}/wsgi">
        Require all granted
    </Directory>

    # the echo application; /app/spnego requires a Kerberos ticket
    WSGIScriptAlias /app "{root}/wsgi/echo.wsgi"
    <Location /app/spnego>
        {gssapi}
    </Location>

    # the echo backend through mod_proxy, told who authenticated in headers (set, so whatever a
    # client sent under these names is replaced)
    ProxyRequests Off
    ProxyPass /proxy/ http://127.0.0.1:{backend_port}/ timeout=20
    <Location /proxy/>
        Require all granted
        RequestHeader set X-Testbed-Remote-User "expr=%{{REMOTE_USER}}"
        RequestHeader set X-Testbed-Auth-Type "expr=%{{AUTH_TYPE}}"
        RequestHeader set X-Testbed-Client-Verify "%{{SSL_CLIENT_VERIFY}}s"
        RequestHeader set X-Testbed-Client-Cert "%{{SSL_CLIENT_CERT}}s"
    </Location>
    <Location /proxy/spnego>
        {gssapi}
    </Location>

{extra}
</VirtualHost>
"""


class Instance:
    """A private httpd under ``root``: ``start()`` writes :meth:`config` (a subclass's), checks it
    (``-t``) and starts httpd in the foreground; ``stop()`` ends it by PID."""

    #: directories made under ``root`` before the configuration is written
    DIRS: Tuple[str, ...] = ("conf", "logs", "run", "htdocs")

    def __init__(self, root: str, env: Optional[Dict[str, str]] = None) -> None:
        self.root = root
        self.port = free_port()
        self.conf = os.path.join(root, "conf", "httpd.conf")
        self.error_log_path = os.path.join(root, "logs", "error.log")
        self.extra_env = env or {}
        self.proc: Optional[Process] = None

    @property
    def env(self) -> Dict[str, str]:
        """The httpd process's environment (over this process's)."""
        return dict(self.extra_env, LANG="C")

    def prepare(self) -> None:
        """Writes what the configuration names (scripts, directories) under ``root``."""

    def config(self) -> str:
        """The configuration file's text."""
        raise NotImplementedError

    def write(self) -> None:
        for d in self.DIRS:
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        # the children (the httpd user) read what is under root
        os.chmod(self.root, 0o755)
        self.prepare()
        with open(self.conf, "w") as f:
            f.write(self.config())

    def start(self, timeout: float = 30) -> "Instance":
        self.write()
        run([APACHE, "-f", self.conf, "-t"], env=self.env, timeout=30)
        self.proc = Process("httpd", [APACHE, "-f", self.conf, "-D", "FOREGROUND"],
                            os.path.join(self.root, "logs", "stdout.log"), env=self.env,
                            extra_logs=[self.error_log_path])
        wait_until(lambda: port_open(self.port), timeout, "httpd on 127.0.0.1:%d" % self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def error_log(self) -> str:
        try:
            with open(self.error_log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_for_log(self, needle: str, timeout: float = 10.0) -> str:
        """The error log once it contains ``needle`` (httpd may write the line after answering)."""
        return wait_until(lambda: self.error_log() if needle in self.error_log() else "", timeout,
                          "%r in %s" % (needle, self.error_log_path))


class Httpd(Instance):
    """The test bed's instance (TLS, SPNEGO, the echo application and the proxied echo backend)."""

    DIRS = Instance.DIRS + ("wsgi", "rcache")

    def __init__(self, root: str, pki: Pki, realm: Realm, backend_port: int, python_path: str,
                 user: Optional[str], extra: str = "", server_extra: str = "") -> None:
        super().__init__(root, dict(realm.env, KRB5RCACHEDIR=os.path.join(root, "rcache")))
        self.pki = pki
        self.realm = realm
        self.backend_port = backend_port
        self.python_path = python_path
        self.user = user
        self.extra = extra
        self.server_extra = server_extra

    def url(self, path: str) -> str:
        """The URL of ``path``: host ``localhost`` (the SPN's host), pinned to 127.0.0.1 by clients."""
        return "https://localhost:%d%s" % (self.port, path)

    def prepare(self) -> None:
        # The children (httpd user) read the WSGI scripts and write the SPNEGO replay cache.
        if self.user:
            shutil.chown(os.path.join(self.root, "rcache"), self.user, self.user)
        os.chmod(os.path.join(self.root, "rcache"), 0o700)
        with open(os.path.join(self.root, "wsgi", "echo.wsgi"), "w") as f:
            f.write("from echo_app import application  # noqa: F401\n")

    def config(self) -> str:
        head = server_head(self.root, self.port, self.user, load_modules(LOAD),
                           "warn auth_gssapi:info ssl:info wsgi:info", scheme="https")
        return CONFIG.format(head=head, root=self.root, port=self.port,
                             wsgi_daemon=wsgi_daemon("testbed", self.user, 1, 4, self.python_path),
                             server_cert=self.pki.server.cert, server_key=self.pki.server.key, ca=self.pki.ca.cert,
                             gssapi=gssapi(self.realm), backend_port=self.backend_port, extra=self.extra,
                             server_extra=self.server_extra)
