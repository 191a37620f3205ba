"""A minimal keystone for kstoken.middleware's unit tests: a real HTTP server on 127.0.0.1 (in a thread)
serving what keystoneauth and the middleware ask for: version discovery, password authentication with
a catalog, the signing and CA certificates, and a signed revocation list.

The full stand-in with every endpoint and failure mode is python/tests/middleware/keystone_standin.py;
this one is small enough to live beside the unit tests and start in milliseconds.
"""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

import kstoken

FUTURE = "2099-01-01T00:00:00.000000Z"


class Keystone:
    """The server and its state (which list to serve, which PKI signs, what was asked)."""

    def __init__(self, pki: Dict[str, bytes]) -> None:
        self.pki = pki
        self.list_signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
        self.revoked: List[Dict[str, str]] = []
        self.requests: List[str] = []
        self.tokens: Dict[str, bool] = {}
        self._server: Optional[ThreadingHTTPServer] = None
        self.port = 0
        self.start()

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
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def version(self) -> Dict[str, Any]:
                return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                        "links": [{"rel": "self", "href": keystone.url + "/v3/"}],
                        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}

            def do_GET(self) -> None:
                path = self.path.split("?")[0].rstrip("/") or "/"
                keystone.requests.append(path)
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
                    signed = kstoken.RevocationList(keystone.revoked).sign(keystone.list_signer)
                    self.reply(200, json.loads(signed))
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
