"""A private TLS PKI made with the ``openssl`` command: a CA, the server certificate (SAN localhost
and 127.0.0.1), client certificates for alice and bob, and a rogue CA with a client certificate
that claims to be alice. EC P-256 keys: cheap to make on a busy machine."""

import hashlib
import os
import ssl
from dataclasses import dataclass
from typing import Dict

from testbed.procs import run

CLIENT_EXT = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n"
SERVER_EXT = ("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
              "subjectAltName=DNS:localhost,IP:127.0.0.1\n")


@dataclass
class Credential:
    """A certificate and its key, as files."""

    cert: str
    key: str

    def pem(self) -> str:
        with open(self.cert) as f:
            return f.read()

    def der(self) -> bytes:
        return ssl.PEM_cert_to_DER_cert(self.pem())

    def sha256(self) -> str:
        """The lowercase hex SHA-256 of the certificate's DER: kstoken's x509 bind value."""
        return hashlib.sha256(self.der()).hexdigest()


def _ca(directory: str, name: str, subject: str) -> Credential:
    cred = Credential(os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key"))
    run(["openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-days", "3", "-keyout", cred.key, "-out", cred.cert, "-subj", subject,
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return cred


def _issue(directory: str, name: str, subject: str, extensions: str, ca: Credential) -> Credential:
    cred = Credential(os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key"))
    csr = os.path.join(directory, name + ".csr")
    ext = os.path.join(directory, name + ".ext")
    with open(ext, "w") as f:
        f.write(extensions)
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", cred.key, "-out", csr, "-subj", subject])
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "3",
         "-out", cred.cert, "-extfile", ext])
    os.chmod(cred.key, 0o600)
    return cred


class Pki:
    """Every certificate of the test bed, under ``directory``."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.ca = _ca(directory, "ca", "/O=kstoken test bed/CN=kstoken test CA")
        self.server = _issue(directory, "server", "/O=kstoken test bed/CN=localhost", SERVER_EXT, self.ca)
        self.clients: Dict[str, Credential] = {
            user: _issue(directory, user, "/O=kstoken test bed/CN=%s" % user, CLIENT_EXT, self.ca)
            for user in ("alice", "bob")
        }
        self.rogue_ca = _ca(directory, "rogue-ca", "/O=kstoken test bed/CN=kstoken test CA")
        # Same subject as alice's, from a CA httpd does not trust.
        self.rogue = _issue(directory, "rogue-alice", "/O=kstoken test bed/CN=alice", CLIENT_EXT, self.rogue_ca)
