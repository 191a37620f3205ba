"""The repository's keystone stand-in (``python/tests/middleware/keystone_standin.py``) as a real
process for the test bed: keystone's OS-SIMPLE-CERT, password authentication and OS-PKI revocation
list endpoints on 127.0.0.1, with a control port to rotate the signing key or rebuild the PKI."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from typing import Any, Callable, Dict, Iterator, List, Optional

from testbed.procs import Process, wait_until
from testbed.tokens import KeystonePki, TokenSigner, v3_body

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STANDIN = os.path.join(os.path.dirname(os.path.dirname(HERE)), "python", "tests", "middleware", "keystone_standin.py")
#: the stand-in's service user (its DEFAULT_CONFIG): admin and service roles in project "service"
SERVICE_USER = {"OS_USERNAME": "kstoken-svc", "OS_USER_DOMAIN_ID": "default", "OS_PROJECT_NAME": "service",
                "OS_PROJECT_DOMAIN_ID": "default"}
SERVICE_PASSWORD = "secret-svc"


class StandIn:
    """The stand-in process, its state directory (the signing key and certificates it serves) and
    its ports."""

    def __init__(self, state_dir: str, pki: KeystonePki) -> None:
        os.makedirs(state_dir, exist_ok=True)
        self.state_dir = state_dir
        for name, source in (("ca_cert", pki.ca_cert), ("ca_key", pki.ca_key), ("signing_cert", pki.signing_cert),
                             ("signing_key", pki.signing_key)):
            shutil.copy(source, os.path.join(state_dir, name + ".pem"))
        ports = os.path.join(state_dir, "ports.json")
        if os.path.exists(ports):
            os.unlink(ports)
        self.proc = Process("keystone-standin", [sys.executable, STANDIN, state_dir],
                            os.path.join(state_dir, "standin.log"))
        wait_until(lambda: os.path.exists(ports), 30, "the keystone stand-in's ports.json", proc=self.proc)
        with open(ports) as f:
            p = json.load(f)
        self.url = "http://127.0.0.1:%d/v3" % p["port"]
        self.control_port = p["control_port"]

    def path(self, name: str) -> str:
        """A file of the state directory (``signing_cert.pem``, ``signing_key.pem``, ``ca_cert.pem``)."""
        return os.path.join(self.state_dir, name)

    def _control(self, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        req = urllib.request.Request("http://127.0.0.1:%d/_control/%s" % (self.control_port, path),
                                     data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def rotate(self, new_ca: bool = False) -> None:
        """A new signing key and certificate from the same CA, or (``new_ca``) a rebuilt PKI."""
        self._control("rotate", {"new_ca": new_ca})

    def set_revoked(self, entries: List[Dict[str, str]]) -> None:
        self._control("revoked", {"revoked": entries})

    def stop(self) -> None:
        self.proc.stop()


@contextlib.contextmanager
def running(cli: str, workdir: str, name: str) -> Iterator["StandIn"]:
    """A stand-in with a PKI of its own under ``workdir/name-pki``, stopped on leaving."""
    s = StandIn(os.path.join(workdir, name), KeystonePki(cli, os.path.join(workdir, name + "-pki")))
    try:
        yield s
    finally:
        s.stop()


def password_file(root: str, user: str) -> str:
    """``root/password``: the stand-in's service password, readable by ``user`` alone."""
    password = os.path.join(root, "password")
    with open(password, "w") as f:
        f.write(SERVICE_PASSWORD + "\n")
    shutil.chown(password, user, user)
    os.chmod(password, 0o600)
    return password


def sync_runner(cli: str, standin: "StandIn", signing: str, password: str,
                user: str) -> Callable[[], "subprocess.CompletedProcess[str]"]:
    """``run()``: one ``kstoken sync`` of ``signing`` as ``user``, with the stand-in's service
    credentials in OS_* variables; the completed process."""

    def run() -> "subprocess.CompletedProcess[str]":
        env = dict(SERVICE_USER, OS_AUTH_URL=standin.url, PATH=os.environ.get("PATH", "/usr/bin:/bin"))
        return subprocess.run([cli, "sync", "--signing-dir", signing, "--password-file", password,
                               "--timeout", "10"],
                              env=env, user=user, group=user, extra_groups=[], capture_output=True,
                              text=True, timeout=60)

    return run


def keystone_token(cli: str, standin: "StandIn", name: str, workdir: str) -> str:
    """A token signed with the key the stand-in signs with now."""
    signer = TokenSigner(cli, standin.path("signing_cert.pem"), standin.path("signing_key.pem"), workdir)
    return signer.sign(v3_body(name))
