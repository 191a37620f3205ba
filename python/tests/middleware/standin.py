"""Start, control and stop the keystone stand-in (``keystone_standin.py``) as a real process."""

import hashlib
import json
import os
import sys
import time
import urllib.request
from typing import Any, Dict, List, Optional

from procs import HERE, Proc, wait_until
from tokens import Pki

SERVICE_USER = {"username": "kstoken-svc", "password": "secret-svc", "project": "service"}


class StandIn:
    """The stand-in process; its keystone port can go down and come back, its control port stays up."""

    def __init__(self, state_dir: str, pki: Pki, log_dir: str, port: int = 0) -> None:
        os.makedirs(state_dir, exist_ok=True)
        self.state_dir = state_dir
        for name, data in pki.pem.items():
            with open(os.path.join(state_dir, name + ".pem"), "wb") as f:
                f.write(data)
        ports_file = os.path.join(state_dir, "ports.json")
        if os.path.exists(ports_file):
            os.unlink(ports_file)
        self.proc = Proc("keystone-standin", [sys.executable, os.path.join(HERE, "keystone_standin.py"), state_dir,
                                              str(port)], os.path.join(log_dir, "keystone-standin.log"))
        wait_until(lambda: os.path.exists(ports_file), 20, "the keystone stand-in's ports.json", proc=self.proc)
        with open(ports_file) as f:
            ports = json.load(f)
        self.port: int = ports["port"]
        self.control_port: int = ports["control_port"]
        self.url = "http://127.0.0.1:%d" % self.port

    def conf(self, **extra: str) -> Dict[str, str]:
        """keystone_authtoken options for the middleware's service user against this stand-in."""
        conf = {
            "auth_type": "password",
            "auth_url": self.url,
            "username": SERVICE_USER["username"],
            "password": SERVICE_USER["password"],
            "user_domain_id": "default",
            "project_name": SERVICE_USER["project"],
            "project_domain_id": "default",
        }
        conf.update(extra)
        return conf

    def _control(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        data = json.dumps(body or {}).encode() if method == "POST" else None
        req = urllib.request.Request("http://127.0.0.1:%d/_control/%s" % (self.control_port, path), data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def counts(self) -> Dict[str, int]:
        return self._control("GET", "counts")  # type: ignore[no-any-return]

    def count(self, name: str) -> int:
        return int(self.counts().get(name, 0))

    def reset_counts(self) -> None:
        self._control("POST", "reset-counts")

    def down(self) -> None:
        self._control("POST", "down")

    def up(self) -> None:
        self._control("POST", "up")

    def rotate(self, new_ca: bool = False, subject: Optional[str] = None) -> Dict[str, str]:
        self._control("POST", "rotate", {"new_ca": new_ca, "subject": subject})
        return self.pki()

    def pki(self) -> Dict[str, str]:
        return self._control("GET", "pki")  # type: ignore[no-any-return]

    def set_revoked(self, entries: List[Dict[str, str]], signer: str = "keystone") -> None:
        self._control("POST", "revoked", {"revoked": entries, "signer": signer})

    def fail(self, endpoints: Dict[str, int]) -> None:
        """Answer these endpoints (``"GET /v3/auth/tokens/OS-PKI/revoked"``) with an HTTP error."""
        self._control("POST", "fail", endpoints)

    def faults(self, faults: Dict[str, Dict[str, Any]]) -> None:
        """Play faults per endpoint (``{"GET /v3/OS-SIMPLE-CERT/certificates": {"hang": 30}}``): see
        keystone_standin.py; ``{}`` clears them."""
        self._control("POST", "faults", faults)

    def register_token(self, token_id: str, v3: Optional[Dict[str, Any]] = None,
                       v2: Optional[Dict[str, Any]] = None) -> None:
        """Make ``GET /v3/auth/tokens`` (and ``/v2.0/tokens/{id}``) validate this token id online."""
        self._control("POST", "tokens", {"id": token_id, "v3": v3, "v2": v2})

    def issue(self, user: str) -> Dict[str, Any]:
        """A UUID token for a configured user, as ``POST /v3/auth/tokens`` would issue it."""
        return self._control("POST", "issue", {"user": user})  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.proc.stop()


def revocation_entry(token_hash: Optional[str] = None, audit: Optional[str] = None,
                     expires_in: int = 3600) -> Dict[str, str]:
    """An entry as keystone's ``list_revoked_tokens`` returns it: every entry names a token by id (the
    hash of a PKI token); one revoked by audit id names another token of the same audit chain
    (keystonemiddleware 5.3.0 requires ``id`` in every entry)."""
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expires_in))
    if token_hash is None:
        token_hash = hashlib.md5(("another token of the chain " + (audit or "")).encode()).hexdigest()
    entry = {"expires": expires, "id": token_hash}
    if audit is not None:
        entry["audit_id"] = audit
    return entry
