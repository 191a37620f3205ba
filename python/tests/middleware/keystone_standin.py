"""A keystone stand-in for the middleware tests: a real HTTP server on 127.0.0.1 that answers the
requests keystonemiddleware's ``auth_token`` (5.3.0 / 6.1.0) and ``kstoken.middleware`` make, the way a
keystone with the PKI/PKIZ token providers answered them.

Why a stand-in: the keystone releases that still had the PKI providers (up to Newton, 10.x) do not
install on current Python. Everything here follows keystone 10.0.0's code paths:

* ``GET /`` (300, ``{"versions": {"values": [...]}}``), ``GET /v3`` and ``GET /v2.0`` (200,
  ``{"version": {...}}``): ``keystone/version/controllers.py`` ``Version.get_versions`` /
  ``get_version_v3`` / ``get_version_v2`` (media types ``application/vnd.openstack.identity-v3+json``).
* ``GET /v3/OS-SIMPLE-CERT/certificates`` and ``/ca``: ``keystone/token/_simple_cert.py``
  ``SimpleCert._get_certificate``: the PEM file as is, ``Content-Type: application/x-pem-file``, no
  authentication. (Rocky's ``keystone/api/os_simple_cert.py`` serves the same.)
* ``GET /v2.0/certificates/signing`` and ``/ca``: ``keystone/token/controllers.py`` ``Auth.signing_cert``
  / ``ca_cert`` return the file text, which ``wsgi.Application.__call__`` passes to webob as a string
  body, i.e. ``Content-Type: text/html; charset=UTF-8``.
* ``GET /v3/auth/tokens/OS-PKI/revoked`` (``keystone/auth/controllers.py`` ``Auth.revocation_list``) and
  ``GET /v2.0/tokens/revoked`` (``keystone/token/controllers.py`` ``Auth.revocation_list``): protected
  (a valid ``X-Auth-Token`` with the ``admin`` or ``service`` role, policy ``service_or_admin``; 401
  without a valid token, 403 without the role), body ``{"signed": cms_sign_text(jsonutils.dumps(
  {"revoked": [...]}))}`` as ``application/json`` with ``Vary: X-Auth-Token``; ``?audit_id_only`` returns
  the unsigned list without ids. The signed body is made by ``kstoken.RevocationList.sign``, which is
  byte-identical to keystone's ``cms_sign_text`` of ``jsonutils.dumps``.
* ``POST /v3/auth/tokens`` (password method, project scope): 201 with ``X-Subject-Token`` and
  ``{"token": {...}}`` (``render_token_data_response(..., created=True)``); the token is a UUID token
  (keystone's ``uuid`` provider) whose catalog lists this server as the identity service.
* ``GET /v3/auth/tokens`` with ``X-Subject-Token``: 200 with ``X-Subject-Token`` and the token data
  (``?nocatalog`` drops the catalog), 404 ``Could not find token`` for an unknown or expired token;
  ``GET /v2.0/tokens/{id}``: the v2 form. Errors are ``{"error": {"code", "title", "message"}}`` with
  ``WWW-Authenticate: Keystone uri="..."`` on 401 (``wsgi.render_exception``).

Controls for the tests are on a second port (``/_control/...``, JSON): rotate the signing certificate
(optionally with a new CA), replace the revocation list (or have it signed by an untrusted key, or
answer errors), go down (close the listening socket: connections are refused) and come back on the same
port, register tokens for online validation, count requests per endpoint, and play faults per endpoint
(``/_control/faults``): answer slowly (``{"delay": s}``), hang without answering (``{"hang": s}``, then
the connection is closed), answer garbage (``{"garbage": true}``: 200 with bytes that are neither
JSON nor PEM), a huge body (``{"huge": n}``, with ``"length": false`` no Content-Length), or any
status (``{"status": 404}``, 410, ...).

Run: ``python keystone_standin.py STATE_DIR``; STATE_DIR holds ``ca_cert.pem``, ``ca_key.pem``,
``signing_cert.pem``, ``signing_key.pem`` (from ``kstoken.generate_pki``) and optionally
``config.json``; the server writes ``ports.json`` (``{"port": ..., "control_port": ...}``) when ready.
As a process it serves the server tests (``standin.py``) and the httpd test bed
(``httpd/tests/testbed/standin.py``).

In the test's own process: :class:`InThread` (the in-process tests of ``kstoken.middleware``), the
same server on a thread, its state changed directly: ``faults`` (by endpoint name, as above, plus
``{"body": bytes}``: 200 with these bytes), ``pki``, ``revoked``, ``list_body`` (a signed list to
serve as is: an older one, say), ``list_signer``, ``requests`` and ``count(name)``, ``sent`` (bytes
written per endpoint while a huge answer is being sent), ``stop()`` and ``start()`` on the same port.
"""

import datetime
import http.server
import json
import os
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid
from typing import Any, Dict, List, Optional, Tuple

import kstoken

V3_MEDIA = "application/vnd.openstack.identity-%s+json"

DEFAULT_CONFIG = {
    # the middleware's service user (keystone_authtoken's username/password/project_name)
    "users": {
        "kstoken-svc": {
            "id": "f1d2c3b4a5960718293a4b5c6d7e8f90",
            "password": "secret-svc",
            "domain": {"id": "default", "name": "Default"},
            "project": {"id": "5a1f2e3d4c5b6a798877665544332211", "name": "service",
                        "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "c0ffee00c0ffee00c0ffee00c0ffee01", "name": "service"},
                      {"id": "c0ffee00c0ffee00c0ffee00c0ffee02", "name": "admin"}],
        },
        "kstoken-user": {
            "id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "password": "secret-user",
            "domain": {"id": "default", "name": "Default"},
            "project": {"id": "9988776655443322115a1f2e3d4c5b6a", "name": "demo",
                        "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "c0ffee00c0ffee00c0ffee00c0ffee03", "name": "member"}],
        },
    },
    "token_lifetime": 3600,
}


def isotime(t: datetime.datetime, subsecond: bool = True) -> str:
    """keystone's ``utils.isotime``: UTC, ``Z``, microseconds when ``subsecond``."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if subsecond else "%Y-%m-%dT%H:%M:%SZ"
    return t.astimezone(datetime.timezone.utc).strftime(fmt)


def parse_time(s: str) -> datetime.datetime:
    s = s.replace("Z", "+00:00")
    t = datetime.datetime.fromisoformat(s)
    return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)


class State:
    """Everything the server knows; changed by the control API (or, in the test's process, directly),
    read by the handlers. ``state_dir`` holds the PKI's files; without it, ``pki`` is given."""

    def __init__(self, state_dir: Optional[str] = None, pki: Optional[Dict[str, bytes]] = None) -> None:
        self.dir = state_dir
        self.lock = threading.RLock()
        self.config = dict(DEFAULT_CONFIG)
        if state_dir is not None:
            cfg_path = os.path.join(state_dir, "config.json")
            if os.path.exists(cfg_path):
                with open(cfg_path) as f:
                    self.config.update(json.load(f))
        names = ("ca_cert", "ca_key", "signing_cert", "signing_key")
        self.pki = dict(pki) if pki is not None else {name: self._read(name + ".pem") for name in names}
        self.revoked: List[Dict[str, str]] = []
        self.list_body: Optional[bytes] = None  # a signed list to serve as is
        self.list_signer: Optional[kstoken.Signer] = None  # signs the list instead of the PKI's key
        self.requests: List[str] = []  # endpoint names, in order
        self.sent: Dict[str, int] = {}  # endpoint name -> bytes written of the huge answer under way
        self.revoked_signer: str = "keystone"  # or "untrusted": signed by a key the CA never certified
        self.rogue: Optional[Dict[str, bytes]] = None
        self.fail: Dict[str, int] = {}  # endpoint name -> HTTP status to answer instead
        self.faults: Dict[str, Dict[str, Any]] = {}  # endpoint name -> fault (see the module doc)
        self.tokens: Dict[str, Dict[str, Any]] = {}  # token id -> {"v3": body or None, "v2": body or None}
        self.counts: Dict[str, int] = {}
        self.base_url = ""

    def _read(self, name: str) -> bytes:
        assert self.dir is not None
        with open(os.path.join(self.dir, name), "rb") as f:
            return f.read()

    def _write(self, name: str, data: bytes) -> None:
        if self.dir is None:
            return
        tmp = os.path.join(self.dir, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(self.dir, name))

    def count(self, name: str) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            self.requests.append(name)

    def signer(self) -> kstoken.Signer:
        return kstoken.Signer(self.pki["signing_cert"], self.pki["signing_key"])

    def rotate(self, new_ca: bool, subject: Optional[str] = None) -> None:
        """A new signing key and certificate, issued by the same CA or (``new_ca``) by a new one
        (with keystone's default subject, as pki_setup run again makes it, unless ``subject``)."""
        if new_ca:
            fresh = kstoken.generate_pki(key_bits=2048, **({"subject": subject} if subject else {}))
            with self.lock:
                self.pki = dict(fresh)
        else:
            cert, key = issue_signing_cert(self.pki["ca_cert"], self.pki["ca_key"], subject)
            with self.lock:
                self.pki["signing_cert"], self.pki["signing_key"] = cert, key
        for name, data in self.pki.items():
            self._write(name + ".pem", data)

    def signed_revocation_list(self) -> bytes:
        with self.lock:
            if self.list_body is not None:
                return self.list_body
            entries = [dict(e) for e in self.revoked]
            signer_kind = self.revoked_signer
            pki = dict(self.pki)
            list_signer = self.list_signer
        if list_signer is not None:
            signer = list_signer
        elif signer_kind == "untrusted":
            with self.lock:
                if self.rogue is None:  # made once: key generation is slow
                    self.rogue = kstoken.generate_pki(key_bits=2048)
                rogue = self.rogue
            signer = list_signer_of(rogue)
        else:
            signer = list_signer_of(pki)
        return kstoken.RevocationList(entries).sign(signer).encode("utf-8")

    # -- tokens -----------------------------------------------------------------------------------

    def issue_token(self, user: Dict[str, Any], methods: List[str]) -> Tuple[str, Dict[str, Any]]:
        now = datetime.datetime.now(datetime.timezone.utc)
        expires = now + datetime.timedelta(seconds=int(self.config["token_lifetime"]))
        token_id = uuid.uuid4().hex
        identity_url = self.base_url
        catalog = [{
            "endpoints": [
                {"id": uuid.uuid4().hex, "interface": iface, "region": "RegionOne", "region_id": "RegionOne",
                 "url": identity_url}
                for iface in ("admin", "internal", "public")
            ],
            "id": "1dentity0000000000000000000000000",
            "type": "identity",
            "name": "keystone",
        }]
        v3 = {"token": {
            "methods": methods,
            "roles": user["roles"],
            "expires_at": isotime(expires),
            "project": user["project"],
            "is_domain": False,
            "catalog": catalog,
            "user": {"domain": user["domain"], "id": user["id"], "name": user["name"], "password_expires_at": None},
            "audit_ids": [uuid.uuid4().hex[:22]],
            "issued_at": isotime(now),
        }}
        v2 = {"access": {
            "token": {"issued_at": isotime(now), "expires": isotime(expires, subsecond=False), "id": token_id,
                      "tenant": {"id": user["project"]["id"], "name": user["project"]["name"],
                                 "enabled": True, "description": None},
                      "audit_ids": v3["token"]["audit_ids"]},
            "serviceCatalog": [{"endpoints": [{"adminURL": identity_url, "region": "RegionOne",
                                               "internalURL": identity_url, "id": uuid.uuid4().hex,
                                               "publicURL": identity_url}],
                                "endpoints_links": [], "type": "identity", "name": "keystone"}],
            "user": {"username": user["name"], "roles_links": [], "id": user["id"],
                     "roles": [{"name": r["name"]} for r in user["roles"]], "name": user["name"]},
            "metadata": {"is_admin": 0, "roles": [r["id"] for r in user["roles"]]},
        }}
        with self.lock:
            self.tokens[token_id] = {"v3": v3, "v2": v2}
        return token_id, v3

    def lookup(self, token_id: Optional[str], version: str) -> Optional[Dict[str, Any]]:
        if not token_id:
            return None
        with self.lock:
            entry = self.tokens.get(token_id)
        if entry is None or entry.get(version) is None:
            return None
        body = entry[version]
        expires = body["token"]["expires_at"] if version == "v3" else body["access"]["token"]["expires"]
        if parse_time(expires) <= datetime.datetime.now(datetime.timezone.utc):
            return None
        return body

    def token_roles(self, token_id: Optional[str]) -> Optional[List[str]]:
        body = self.lookup(token_id, "v3")
        if body is None:
            return None
        return [r["name"] for r in body["token"].get("roles", [])]


def list_signer_of(pki: Dict[str, bytes]) -> kstoken.Signer:
    """A signer with this PKI's signing key, for lists of any length (keystone signs them whole)."""
    return kstoken.Signer(pki["signing_cert"], pki["signing_key"], max_content_len=1 << 30)


def rotated(pki: Dict[str, bytes], subject: Optional[str] = None, serial: Optional[int] = None) -> Dict[str, bytes]:
    """``pki`` with a new signing key and certificate issued by its CA (keystone's operator rotating
    the key): the same ``ca_cert``/``ca_key``, a new ``signing_cert``/``signing_key``."""
    cert, key = issue_signing_cert(pki["ca_cert"], pki["ca_key"], subject, serial)
    return dict(pki, signing_cert=cert, signing_key=key)


def issue_signing_cert(ca_cert_pem: bytes, ca_key_pem: bytes, subject_cn: Optional[str] = None,
                       serial: Optional[int] = None) -> Tuple[bytes, bytes]:
    """A fresh RSA-2048 signing certificate issued by the given CA (keystone's pki_setup layout;
    ``subject_cn`` and ``serial`` chosen, else keystone's default subject and a random serial)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    if subject_cn is not None:
        # A name of the test's choosing, alone (pki_setup's full name with CN=www.example.com is the
        # CA's own: a certificate with it would read as self-signed).
        subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, subject_cn)])
    else:
        subject = x509.Name([
            x509.NameAttribute(x509.oid.NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(x509.oid.NameOID.STATE_OR_PROVINCE_NAME, "Unset"),
            x509.NameAttribute(x509.oid.NameOID.LOCALITY_NAME, "Unset"),
            x509.NameAttribute(x509.oid.NameOID.ORGANIZATION_NAME, "Unset"),
            x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "www.example.com (rotated %s)" % now.strftime("%H%M%S%f")),
        ])
    cert = (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(serial if serial is not None else x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(ca_key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()))


class KeystoneHandler(http.server.BaseHTTPRequestHandler):
    """keystone's answers; HTTP/1.0, one request per connection, so going down refuses everything."""

    server_version = "keystone-standin/1.0"
    state: State  # set on the subclass made per server

    def log_message(self, fmt: str, *args: Any) -> None:
        sys.stderr.write("keystone-standin: %s %s\n" % (self.address_string(), fmt % args))

    # -- response helpers ---------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: Optional[str], extra: List[Tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any, extra: List[Tuple[str, str]] = ()) -> None:
        # keystone's render_response: jsonutils.dump_as_bytes, application/json, Vary: X-Auth-Token
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json",
                   list(extra) + [("Vary", "X-Auth-Token")])

    def _error(self, code: int, title: str, message: str) -> None:
        extra = []
        if code == 401:
            extra.append(("WWW-Authenticate", 'Keystone uri="%s"' % self.state.base_url))
        self._json(code, {"error": {"code": code, "title": title, "message": message}}, extra)

    def _unauthorized(self) -> None:
        self._error(401, "Unauthorized", "The request you have made requires authentication.")

    def _forbidden(self) -> None:
        self._error(403, "Forbidden", "You are not authorized to perform the requested action: "
                    "identity:revocation_list.")

    def _version(self, vid: str) -> Dict[str, Any]:
        base = self.state.base_url
        if vid == "v3":
            return {"id": "v3.7", "status": "stable", "updated": "2016-10-06T00:00:00Z",
                    "links": [{"rel": "self", "href": base + "/v3/"}],
                    "media-types": [{"base": "application/json", "type": V3_MEDIA % "v3"}]}
        return {"id": "v2.0", "status": "deprecated", "updated": "2016-08-04T00:00:00Z",
                "links": [{"rel": "self", "href": base + "/v2.0/"},
                          {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}],
                "media-types": [{"base": "application/json", "type": V3_MEDIA % "v2.0"}]}

    # -- routing -----------------------------------------------------------------------------------

    def _route(self, method: str) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path.rstrip("/") or "/"
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        name = "%s %s" % (method, path if not path.startswith("/v2.0/tokens/") or path == "/v2.0/tokens/revoked"
                          else "/v2.0/tokens/{id}")
        self.state.count(name)
        fault = self.state.faults.get(name)
        if fault and self._fault(name, fault):
            return
        fail = self.state.fail.get(name)
        if fail:
            self._error(fail, "Service Unavailable" if fail == 503 else "Internal Server Error",
                        "stand-in told to fail")
            return
        st = self.state
        if method in ("GET", "HEAD"):
            if path == "/":
                self._json(300, {"versions": {"values": [self._version("v3"), self._version("v2.0")]}})
            elif path == "/v3":
                self._json(200, {"version": self._version("v3")})
            elif path == "/v2.0":
                self._json(200, {"version": self._version("v2.0")})
            elif path in ("/v3/OS-SIMPLE-CERT/certificates", "/v3/OS-SIMPLE-CERT/ca"):
                which = "signing_cert" if path.endswith("certificates") else "ca_cert"
                with st.lock:
                    body = st.pki[which]
                self._send(200, body, "application/x-pem-file")
            elif path in ("/v2.0/certificates/signing", "/v2.0/certificates/ca"):
                which = "signing_cert" if path.endswith("signing") else "ca_cert"
                with st.lock:
                    body = st.pki[which]
                self._send(200, body, "text/html; charset=UTF-8")
            elif path in ("/v3/auth/tokens/OS-PKI/revoked", "/v2.0/tokens/revoked"):
                roles = st.token_roles(self.headers.get("X-Auth-Token"))
                if roles is None:
                    self._unauthorized()
                elif not {"admin", "service"} & set(roles):
                    self._forbidden()
                elif path.startswith("/v3") and "audit_id_only" in query:
                    with st.lock:
                        entries = [{k: v for k, v in e.items() if k != "id"} for e in st.revoked]
                    self._json(200, {"revoked": entries})
                else:
                    body = st.signed_revocation_list()
                    self._send(200, body, "application/json", [("Vary", "X-Auth-Token")])
            elif path == "/v3/auth/tokens":
                if st.token_roles(self.headers.get("X-Auth-Token")) is None:
                    self._unauthorized()
                    return
                subject = self.headers.get("X-Subject-Token")
                body = st.lookup(subject, "v3")
                if body is None:
                    self._error(404, "Not Found", "Could not find token: %s" % subject)
                    return
                body = json.loads(json.dumps(body))
                if "nocatalog" in query:
                    body["token"].pop("catalog", None)
                self._json(200, body, [("X-Subject-Token", subject or "")])
            elif path.startswith("/v2.0/tokens/"):
                if st.token_roles(self.headers.get("X-Auth-Token")) is None:
                    self._unauthorized()
                    return
                subject = path.rsplit("/", 1)[1]
                body = st.lookup(subject, "v2")
                if body is None:
                    self._error(404, "Not Found", "Could not find token: %s" % subject)
                    return
                self._json(200, body)
            else:
                self._error(404, "Not Found", "The resource could not be found.")
        elif method == "POST" and path == "/v3/auth/tokens":
            self._password_auth()
        else:
            self._error(404, "Not Found", "The resource could not be found.")

    def _fault(self, name: str, fault: Dict[str, Any]) -> bool:
        """Plays a fault on endpoint ``name``; whether it answered (or dropped) the request."""
        if "delay" in fault:
            time.sleep(float(fault["delay"]))
        if "hang" in fault:
            time.sleep(float(fault["hang"]))
            self.close_connection = True
            return True
        if fault.get("garbage"):
            self._send(200, b"\x00\xff garbage \x89PNG\r\n" * 64, "application/json")
            return True
        if "body" in fault:
            body = fault["body"]
            self._send(200, body if isinstance(body, bytes) else str(body).encode(), "application/json")
            return True
        if "huge" in fault:
            size = int(fault["huge"])
            # A small send buffer: what is counted as sent is then about what the client read (plus
            # its receive buffer), not megabytes queued on this side of a slow client.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if fault.get("length", True):
                self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"{" * 65536
            sent = 0
            self.state.sent[name] = 0
            try:
                while sent < size:
                    n = min(len(chunk), size - sent)
                    self.wfile.write(chunk[:n])
                    sent += n
                    self.state.sent[name] = sent
            except OSError:
                pass
            self.state.count("sent %s" % fault.get("name", "huge"))
            with self.state.lock:
                self.state.counts["bytes sent"] = self.state.counts.get("bytes sent", 0) + sent
            self.close_connection = True
            return True
        if "status" in fault:
            code = int(fault["status"])
            self._error(code, {404: "Not Found", 410: "Gone"}.get(code, "Error"), "stand-in fault")
            return True
        return False

    def _password_auth(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(length) or b"{}")
            ident = req["auth"]["identity"]
            pw = ident["password"]["user"]
        except (ValueError, KeyError, TypeError):
            self._error(400, "Bad Request", "Expecting to find identity in auth.")
            return
        st = self.state
        user = None
        for name, u in st.config["users"].items():
            if pw.get("id") == u["id"] or pw.get("name") == name:
                user = dict(u, name=name)
        if user is None or pw.get("password") != user["password"]:
            self._unauthorized()
            return
        scope = req["auth"].get("scope", {}).get("project")
        if scope and scope.get("name", user["project"]["name"]) != user["project"]["name"] \
                and scope.get("id") != user["project"]["id"]:
            self._unauthorized()
            return
        token_id, body = st.issue_token(user, ident.get("methods", ["password"]))
        self._json(201, body, [("X-Subject-Token", token_id)])

    def do_GET(self) -> None:  # noqa: N802 (BaseHTTPRequestHandler's names)
        self._route("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._route("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Keystone:
    """The keystone listener: can be closed (connection refused) and reopened on the same port."""

    def __init__(self, state: State, port: int = 0) -> None:
        self.state = state
        self.port = port
        self.server: Optional[ThreadingServer] = None
        self.thread: Optional[threading.Thread] = None
        self.lock = threading.Lock()

    def up(self) -> None:
        with self.lock:
            if self.server is not None:
                return
            handler = type("Handler", (KeystoneHandler,), {"state": self.state})
            self.server = ThreadingServer(("127.0.0.1", self.port), handler)
            self.port = self.server.server_address[1]
            self.state.base_url = "http://127.0.0.1:%d" % self.port
            self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                           daemon=True)
            self.thread.start()

    def down(self) -> None:
        with self.lock:
            if self.server is None:
                return
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class InThread:
    """The stand-in on a thread of the test's process, its state changed directly (see the module's
    documentation); ``conf()`` gives keystonemiddleware's options for its service user."""

    def __init__(self, pki: Dict[str, bytes]) -> None:
        self.state = State(pki=pki)
        self._keystone = Keystone(self.state)
        self._keystone.up()
        self.port = self._keystone.port

    @property
    def url(self) -> str:
        return self.state.base_url

    def conf(self, **extra: str) -> Dict[str, str]:
        """keystone_authtoken options for the service user, no connection retries."""
        user = DEFAULT_CONFIG["users"]["kstoken-svc"]  # type: ignore[index]
        conf = {
            "auth_type": "password",
            "auth_url": self.url + "/v3",
            "username": "kstoken-svc",
            "password": user["password"],
            "user_domain_id": "default",
            "project_name": "service",
            "project_domain_id": "default",
            "www_authenticate_uri": self.url + "/v3",
            "http_request_max_retries": "0",
            "http_connect_timeout": "5",
        }
        conf.update(extra)
        return conf

    # The state, by the names the tests use.
    @property
    def pki(self) -> Dict[str, bytes]:
        return self.state.pki

    @pki.setter
    def pki(self, pki: Dict[str, bytes]) -> None:
        with self.state.lock:
            self.state.pki = dict(pki)

    @property
    def revoked(self) -> List[Dict[str, str]]:
        return self.state.revoked

    @revoked.setter
    def revoked(self, entries: List[Dict[str, str]]) -> None:
        with self.state.lock:
            self.state.revoked = list(entries)

    @property
    def faults(self) -> Dict[str, Dict[str, Any]]:
        return self.state.faults

    @property
    def sent(self) -> Dict[str, int]:
        return self.state.sent

    @property
    def requests(self) -> List[str]:
        return self.state.requests

    @property
    def list_body(self) -> Optional[bytes]:
        return self.state.list_body

    @list_body.setter
    def list_body(self, body: Optional[bytes]) -> None:
        self.state.list_body = body

    @property
    def list_signer(self) -> Optional[kstoken.Signer]:
        return self.state.list_signer

    @list_signer.setter
    def list_signer(self, signer: Optional[kstoken.Signer]) -> None:
        self.state.list_signer = signer

    def count(self, name: str) -> int:
        """Requests to endpoint ``name`` (``"GET /v3/OS-SIMPLE-CERT/certificates"``)."""
        with self.state.lock:
            return self.state.counts.get(name, 0)

    def signed_list(self, revoked: List[Dict[str, str]]) -> bytes:
        """The body keystone would serve for this list, signed by the current list signer."""
        signer = self.state.list_signer or list_signer_of(self.state.pki)
        return kstoken.RevocationList(revoked).sign(signer).encode()

    def stop(self) -> None:
        """Keystone down: the port refuses connections."""
        self._keystone.down()

    def start(self) -> None:
        """Keystone back, on the same port."""
        self._keystone.up()

    def close(self) -> None:
        self.stop()


class ControlHandler(http.server.BaseHTTPRequestHandler):
    keystone: Keystone

    def log_message(self, fmt: str, *args: Any) -> None:
        sys.stderr.write("keystone-standin control: %s\n" % (fmt % args))

    def _reply(self, obj: Any, status: int = 200) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:  # noqa: N802
        st = self.keystone.state
        if self.path == "/_control/counts":
            with st.lock:
                self._reply(dict(st.counts))
        elif self.path == "/_control/pki":
            with st.lock:
                self._reply({k: v.decode() for k, v in st.pki.items()})
        else:
            self._reply({"error": "unknown"}, 404)

    def do_POST(self) -> None:  # noqa: N802
        st = self.keystone.state
        body = self._body()
        if self.path == "/_control/down":
            self.keystone.down()
        elif self.path == "/_control/up":
            self.keystone.up()
        elif self.path == "/_control/rotate":
            st.rotate(bool(body.get("new_ca")), body.get("subject"))
        elif self.path == "/_control/revoked":
            with st.lock:
                st.revoked = list(body.get("revoked", []))
                st.revoked_signer = body.get("signer", "keystone")
        elif self.path == "/_control/fail":
            with st.lock:
                st.fail = {k: int(v) for k, v in body.items()}
        elif self.path == "/_control/faults":
            with st.lock:
                st.faults = {k: dict(v) for k, v in body.items()}
        elif self.path == "/_control/tokens":
            with st.lock:
                st.tokens[body["id"]] = {"v3": body.get("v3"), "v2": body.get("v2")}
        elif self.path == "/_control/issue":
            user = dict(st.config["users"][body["user"]], name=body["user"])
            token_id, data = st.issue_token(user, ["password"])
            self._reply({"id": token_id, "v3": data})
            return
        elif self.path == "/_control/reset-counts":
            with st.lock:
                st.counts = {}
        else:
            self._reply({"error": "unknown"}, 404)
            return
        self._reply({"ok": True, "up": self.keystone.server is not None})


def main() -> None:
    state_dir = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    state = State(state_dir)
    keystone = Keystone(state, port)
    keystone.up()
    control_handler = type("Control", (ControlHandler,), {"keystone": keystone})
    control = ThreadingServer(("127.0.0.1", 0), control_handler)
    ports = {"port": keystone.port, "control_port": control.server_address[1], "pid": os.getpid()}
    tmp = os.path.join(state_dir, "ports.json.tmp")
    with open(tmp, "w") as f:
        json.dump(ports, f)
    os.replace(tmp, os.path.join(state_dir, "ports.json"))
    sys.stderr.write("keystone-standin: serving on %s, control on %d\n" % (state.base_url, ports["control_port"]))
    sys.stderr.flush()
    try:
        control.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
