"""A private MIT Kerberos realm (KSTOKEN.TEST): its own krb5.conf and kdc.conf (nothing under /etc
is read), a database with the principals alice, bob and HTTP/localhost, the service keytab readable
by the httpd user, and krb5kdc in the foreground on 127.0.0.1 (one port, UDP and TCP).

The SPN host is ``localhost``: curl asks for HTTP/<URL host>, and HTTP/127.0.0.1 is not in the
database, so clients use https://localhost with the address pinned to 127.0.0.1. Reverse DNS and
host name canonicalisation are off for the same reason.
"""

import os
import shutil
from typing import Dict

from testbed.procs import Process, free_port, port_open, run, wait_until

REALM = "KSTOKEN.TEST"
SERVICE_PRINCIPAL = "HTTP/localhost"
#: the user principals and their passwords
USERS = {"alice": "alice-pw", "bob": "bob-pw"}


def principal(user: str) -> str:
    """The full name of a user principal, as REMOTE_USER carries it (``alice@KSTOKEN.TEST``)."""
    return "%s@%s" % (user, REALM)


class Realm:
    """The realm under ``root``; ``start()`` creates it and runs the KDC, ``stop()`` ends the KDC."""

    def __init__(self, root: str, httpd_group: str) -> None:
        self.root = root
        self.httpd_group = httpd_group
        self.port = free_port(udp_too=True)
        self.krb5_conf = os.path.join(root, "krb5.conf")
        self.kdc_conf = os.path.join(root, "kdc.conf")
        self.keytab = os.path.join(root, "http.keytab")
        self.ccache_dir = os.path.join(root, "ccache")
        self.proc: "Process | None" = None

    @property
    def env(self) -> Dict[str, str]:
        """The variables every Kerberos tool and library of the test bed runs with."""
        return {"KRB5_CONFIG": self.krb5_conf, "KRB5_KDC_PROFILE": self.kdc_conf}

    def _write_config(self) -> None:
        db = os.path.join(self.root, "db")
        os.makedirs(db, exist_ok=True)
        os.makedirs(self.ccache_dir, exist_ok=True)
        with open(self.krb5_conf, "w") as f:
            f.write("""[libdefaults]
    default_realm = {realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    default_ccache_name = FILE:{ccache}/krb5cc_%{{uid}}
    ticket_lifetime = 2h
    kdc_timesync = 0

[realms]
    {realm} = {{
        kdc = 127.0.0.1:{port}
    }}

[domain_realm]
    localhost = {realm}
    .localhost = {realm}
""".format(realm=REALM, port=self.port, ccache=self.ccache_dir))
        with open(self.kdc_conf, "w") as f:
            f.write("""[kdcdefaults]
    kdc_listen = 127.0.0.1:{port}
    kdc_tcp_listen = 127.0.0.1:{port}

[realms]
    {realm} = {{
        database_name = {db}/principal
        key_stash_file = {db}/stash
        acl_file = {db}/kadm5.acl
        max_life = 2h 0m 0s
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
        default_principal_flags = +preauth
    }}

[logging]
    kdc = FILE:{root}/krb5kdc.log
    admin_server = FILE:{root}/kadmin.log
    default = FILE:{root}/krb5lib.log
""".format(realm=REALM, port=self.port, db=db, root=self.root))
        with open(os.path.join(db, "kadm5.acl"), "w") as f:
            f.write("")

    def _kadmin(self, query: str) -> None:
        run(["kadmin.local", "-r", REALM, "-q", query], env=self.env)

    def start(self) -> "Realm":
        self._write_config()
        run(["kdb5_util", "create", "-s", "-r", REALM, "-P", "kstoken-test-master"], env=self.env)
        for user, password in USERS.items():
            self._kadmin("addprinc -pw %s %s" % (password, user))
        self._kadmin("addprinc -randkey %s" % SERVICE_PRINCIPAL)
        self._kadmin("ktadd -k %s %s" % (self.keytab, SERVICE_PRINCIPAL))
        # httpd's children run as the httpd user: a root-only keytab gives "SPNEGO cannot find
        # mechanisms to negotiate" and a 401 for every ticket.
        shutil.chown(self.keytab, "root", self.httpd_group)
        os.chmod(self.keytab, 0o640)
        log = os.path.join(self.root, "krb5kdc.stdout.log")
        self.proc = Process("krb5kdc", ["krb5kdc", "-n", "-r", REALM], log, env=self.env,
                            extra_logs=[os.path.join(self.root, "krb5kdc.log")])
        wait_until(lambda: port_open(self.port), 20, "krb5kdc on 127.0.0.1:%d" % self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def kinit(self, user: str) -> Dict[str, str]:
        """A fresh ticket-granting ticket for ``user`` (password on standard input, as a person
        types it) in the user's own credential cache; returns the environment for clients."""
        ccache = "FILE:%s/%s" % (self.ccache_dir, user)
        env = dict(self.env, KRB5CCNAME=ccache)
        run(["kinit", user], env=env, stdin=(USERS[user] + "\n").encode(), timeout=30)
        return env

    def klist(self, env: Dict[str, str]) -> str:
        """``klist`` of the cache in ``env``."""
        return run(["klist"], env=env, timeout=30).stdout.decode()
