"""Keystone PKI tokens for the test bed, signed by the ``kstoken`` command (``kstoken pki-setup``
for the keystone signing PKI, ``kstoken sign`` for each token): v3 bodies the way keystone's
``V3TokenDataHelper`` wrote them, with a ``bind`` section when asked."""

import datetime
import hashlib
import json
import os
from typing import Any, Dict, Optional

from testbed.procs import run


def _isotime(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _id(seed: str) -> str:
    return hashlib.md5(seed.encode()).hexdigest()


def v3_body(name: str, user: str = "alice", bind: Optional[Dict[str, Any]] = None,
            roles: tuple = ("member", "reader"), expires_in: int = 3600, project: str = "demo") -> Dict[str, Any]:
    """A v3 token body for ``user`` scoped to ``project`` (no catalog), bound as ``bind`` says."""
    now = datetime.datetime.now(datetime.timezone.utc)
    token: Dict[str, Any] = {
        "methods": ["password"],
        "roles": [{"id": _id("role-" + r), "name": r} for r in roles],
        "expires_at": _isotime(now + datetime.timedelta(seconds=expires_in)),
        "project": {"domain": {"id": "default", "name": "Default"}, "id": _id("project-" + project),
                    "name": project},
        "is_domain": False,
        "user": {"domain": {"id": "default", "name": "Default"}, "id": _id("user-" + user), "name": user,
                 "password_expires_at": None},
        "audit_ids": [hashlib.sha256(name.encode()).hexdigest()[:22]],
        "issued_at": _isotime(now),
    }
    if bind is not None:
        token["bind"] = bind
    return {"token": token}


class TokenSigner:
    """Signs token bodies with ``kstoken sign`` and one signing certificate and key."""

    def __init__(self, cli: str, cert: str, key: str, scratch: str) -> None:
        self.cli = cli
        self.cert = cert
        self.key = key
        self.scratch = scratch

    def sign(self, body: Dict[str, Any]) -> str:
        """The PKI token of ``body``."""
        path = os.path.join(self.scratch, "body-%s.json" % _id(json.dumps(body, sort_keys=True)))
        with open(path, "w") as f:
            json.dump(body, f)
        out = run([self.cli, "sign", "--cert", self.cert, "--key", self.key, "--in", path], timeout=60)
        return out.stdout.decode().strip()


class KeystonePki:
    """keystone's signing PKI in keystone-manage pki_setup's layout, made by ``kstoken pki-setup``."""

    def __init__(self, cli: str, directory: str) -> None:
        self.dir = directory
        run([cli, "pki-setup", directory], timeout=120)
        self.signing_cert = os.path.join(directory, "certs", "signing_cert.pem")
        self.ca_cert = os.path.join(directory, "certs", "ca.pem")
        self.signing_key = os.path.join(directory, "private", "signing_key.pem")
        self.ca_key = os.path.join(directory, "private", "cakey.pem")
        self.signer = TokenSigner(cli, self.signing_cert, self.signing_key, directory)

    def sign(self, body: Dict[str, Any]) -> str:
        """The PKI token of ``body`` (``kstoken sign``)."""
        return self.signer.sign(body)
