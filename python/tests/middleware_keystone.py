"""A minimal keystone for kstoken.middleware's unit tests: a real HTTP server on 127.0.0.1 (in a thread)
serving what keystoneauth and the middleware ask for: version discovery, password authentication with
a catalog, the signing and CA certificates, and a signed revocation list.

The full stand-in with every endpoint and failure mode is python/tests/middleware/keystone_standin.py;
this one is small enough to live beside the unit tests and start in milliseconds.
"""

import datetime
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

import kstoken

FUTURE = "2099-01-01T00:00:00.000000Z"


def issue_signing_cert(pki: Dict[str, bytes], subject: str = "rotated", serial: Optional[int] = None) -> Dict[str, bytes]:
    """A new signing key and certificate issued by ``pki``'s CA (keystone's operator rotating the
    key): the same CA, the ``ca_cert``/``ca_key`` of ``pki``, a new ``signing_cert``/``signing_key``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    ca_cert = x509.load_pem_x509_certificate(pki["ca_cert"])
    ca_key = serialization.load_pem_private_key(pki["ca_key"], password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, subject)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return dict(
        pki,
        signing_cert=cert.public_bytes(serialization.Encoding.PEM),
        signing_key=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


class Keystone:
    """The server and its state (which list to serve, which PKI signs, what was asked)."""

    def __init__(self, pki: Dict[str, bytes]) -> None:
        self.pki = pki
        self.list_signer = self.signer_of(pki)
        self.revoked: List[Dict[str, str]] = []
        #: A signed list body to serve instead of signing ``revoked`` (an older list, say).
        self.list_body: Optional[bytes] = None
        self.requests: List[str] = []
        self.tokens: Dict[str, bool] = {}
        #: path -> what to do instead of answering: ("delay", seconds) then answer, ("hang", seconds)
        #: without answering, ("status", code), ("body", bytes), ("huge", bytes, content_length?)
        self.faults: Dict[str, Tuple[Any, ...]] = {}
        #: path -> bytes actually written for the last huge answer (the client may stop reading)
        self.sent: Dict[str, int] = {}
        self._server: Optional[ThreadingHTTPServer] = None
        self.port = 0
        self.start()

    @staticmethod
    def signer_of(pki: Dict[str, bytes]) -> kstoken.Signer:
        # keystone signs lists of any length
        return kstoken.Signer(pki["signing_cert"], pki["signing_key"], max_content_len=1 << 30)

    def signed_list(self, revoked: List[Dict[str, str]]) -> bytes:
        """The body keystone would serve for this list, signed by the current list signer."""
        return kstoken.RevocationList(revoked).sign(self.list_signer).encode()

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    def conf(self, **extra: str) -> Dict[str, str]:
        """keystonemiddleware options for a service user of this keystone."""
        conf = {
            "auth_type": "password",
            "auth_url": self.url + "/v3",
            "username": "nova",
            "password": "secret",
            "user_domain_id": "default",
            "project_name": "service",
            "project_domain_id": "default",
            "www_authenticate_uri": self.url + "/v3",
            "http_request_max_retries": "0",
            "http_connect_timeout": "5",
        }
        conf.update(extra)
        return conf

    def count(self, path: str) -> int:
        return sum(1 for p in self.requests if p == path)

    def start(self) -> None:
        keystone = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, status: int, body: Any, headers: Optional[Dict[str, str]] = None) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                headers = dict(headers or {})
                self.send_response(status)
                self.send_header(
                    "Content-Type",
                    headers.pop("Content-Type", "application/json" if not isinstance(body, bytes) else "text/plain"),
                )
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def version(self) -> Dict[str, Any]:
                return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                        "links": [{"rel": "self", "href": keystone.url + "/v3/"}],
                        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}

            def fault(self, path: str) -> bool:
                """Plays the fault set for ``path``; whether the request is answered by it."""
                fault = keystone.faults.get(path)
                if fault is None:
                    return False
                kind = fault[0]
                if kind == "delay":
                    time.sleep(fault[1])
                    return False
                if kind == "hang":
                    time.sleep(fault[1])
                    self.close_connection = True
                    return True
                if kind == "status":
                    self.reply(fault[1], {"error": {"code": fault[1]}})
                    return True
                if kind == "body":
                    self.reply(200, fault[1])
                    return True
                if kind == "huge":
                    size, with_length = fault[1], fault[2]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    if with_length:
                        self.send_header("Content-Length", str(size))
                    self.end_headers()
                    chunk = b"x" * 65536
                    sent = 0
                    keystone.sent[path] = 0
                    try:
                        while sent < size:
                            n = min(len(chunk), size - sent)
                            self.wfile.write(chunk[:n])
                            sent += n
                            keystone.sent[path] = sent
                    except OSError:
                        pass
                    self.close_connection = True
                    return True
                raise AssertionError(kind)

            def do_GET(self) -> None:
                path = self.path.split("?")[0].rstrip("/") or "/"
                keystone.requests.append(path)
                if self.fault(path):
                    return
                if path == "/":
                    self.reply(300, {"versions": {"values": [self.version()]}})
                elif path == "/v3":
                    self.reply(200, {"version": self.version()})
                elif path == "/v3/OS-SIMPLE-CERT/certificates":
                    self.reply(200, keystone.pki["signing_cert"])
                elif path == "/v3/OS-SIMPLE-CERT/ca":
                    self.reply(200, keystone.pki["ca_cert"])
                elif path == "/v3/auth/tokens/OS-PKI/revoked":
                    if not keystone.tokens.get(self.headers.get("X-Auth-Token", "")):
                        self.reply(401, {"error": {"code": 401}})
                        return
                    body = keystone.list_body or keystone.signed_list(keystone.revoked)
                    self.reply(200, body, {"Content-Type": "application/json"})
                else:
                    self.reply(404, {"error": {"code": 404}})

            def do_POST(self) -> None:
                path = self.path.rstrip("/")
                keystone.requests.append("POST " + path)
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                if path != "/v3/auth/tokens":
                    self.reply(404, {})
                    return
                token_id = uuid.uuid4().hex
                keystone.tokens[token_id] = True
                endpoints = [{"id": i, "interface": i, "region": "RegionOne", "region_id": "RegionOne",
                              "url": keystone.url + "/v3"} for i in ("public", "internal", "admin")]
                body = {"token": {
                    "methods": ["password"], "expires_at": FUTURE, "issued_at": "2020-01-01T00:00:00.000000Z",
                    "audit_ids": ["x"], "user": {"id": "nova", "name": "nova", "domain": {"id": "default", "name": "Default"}},
                    "project": {"id": "service", "name": "service", "domain": {"id": "default", "name": "Default"}},
                    "roles": [{"id": "s", "name": "service"}],
                    "catalog": [{"type": "identity", "name": "keystone", "id": "k", "endpoints": endpoints}],
                }}
                self.reply(201, body, {"X-Subject-Token": token_id})

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Keystone down: the port refuses connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.stop()
