"""The clients: ``curl`` with ``--negotiate -u :`` after ``kinit`` for SPNEGO, and ``curl --cert
--key`` for client certificates, against https://localhost pinned to 127.0.0.1, each bounded."""

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from testbed.tls import Credential

#: curl's own limit on a whole request (connection, TLS, SPNEGO round trip, answer)
MAX_TIME = 20


@dataclass
class Response:
    """What curl got: the final answer's status (0 when there was none), its headers (names in lower
    case, repeats kept), its body, and curl's exit code and error text."""

    status: int
    headers: Dict[str, List[str]] = field(default_factory=dict)
    body: bytes = b""
    exit_code: int = 0
    error: str = ""

    def header(self, name: str) -> Optional[str]:
        values = self.headers.get(name.lower())
        return values[-1] if values else None

    def json(self) -> Any:
        return json.loads(self.body)

    def __str__(self) -> str:
        return "status %d (curl exit %d%s), headers %s, body %r" % (
            self.status, self.exit_code, ": " + self.error.strip() if self.error else "", self.headers,
            self.body[:600])


def _last_headers(raw: str) -> Dict[str, List[str]]:
    """The headers of the last response in a ``curl -D`` dump (a 401 Negotiate challenge comes first)."""
    blocks = [b for b in raw.replace("\r\n", "\n").split("\n\n") if b.strip()]
    headers: Dict[str, List[str]] = {}
    if not blocks:
        return headers
    for line in blocks[-1].split("\n")[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return headers


def curl(url: str, port: int, ca: str, *, kerberos: Optional[Dict[str, str]] = None,
         cert: Optional[Credential] = None, headers: Optional[Dict[str, str]] = None) -> Response:
    """One GET. ``kerberos``: the environment of a ``kinit`` (KRB5_CONFIG, KRB5CCNAME) to answer a
    Negotiate challenge with; ``cert``: a client certificate to present."""
    with tempfile.TemporaryDirectory(prefix="kstoken-curl-") as tmp:
        head, body = os.path.join(tmp, "head"), os.path.join(tmp, "body")
        argv = ["curl", "-sS", "--max-time", str(MAX_TIME), "--cacert", ca, "--resolve",
                "localhost:%d:127.0.0.1" % port, "-D", head, "-o", body, "-w", "%{http_code}"]
        env = dict(os.environ)
        for k in ("KRB5CCNAME", "KRB5_CONFIG"):
            env.pop(k, None)
        if kerberos is not None:
            argv += ["--negotiate", "-u", ":"]
            env.update(kerberos)
        if cert is not None:
            argv += ["--cert", cert.cert, "--key", cert.key]
        if headers:
            # from a file: a token of a megabyte is no command-line argument
            header_file = os.path.join(tmp, "request-headers")
            with open(header_file, "w") as f:
                f.write("".join("%s: %s\n" % (name, value) for name, value in headers.items()))
            argv += ["-H", "@" + header_file]
        argv.append(url)
        done = subprocess.run(argv, capture_output=True, env=env, timeout=MAX_TIME + 10)
        code = done.stdout.decode().strip()
        out = Response(status=int(code) if code.isdigit() else 0, exit_code=done.returncode,
                       error=done.stderr.decode(errors="replace"))
        if os.path.exists(head):
            with open(head) as f:
                out.headers = _last_headers(f.read())
        if os.path.exists(body):
            with open(body, "rb") as f:
                out.body = f.read()
        return out
