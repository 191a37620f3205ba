"""Token fixtures for the middleware tests and the benchmark.

Bodies follow keystone's token data helpers (``keystone/token/providers/common.py``,
``V3TokenDataHelper.get_token_data`` and ``V2TokenDataHelper.format_token``, Newton): v3
``{"token": {methods, roles, expires_at, project | domain, is_domain, catalog, user, audit_ids,
issued_at[, bind]}}`` and v2 ``{"access": {token, serviceCatalog, user, metadata}}``, serialised with
``json.dumps`` (``jsonutils.dumps``) and signed by ``kstoken.Signer`` as keystone's ``pki``/``pkiz``
providers did (``cms_sign_token`` / ``pkiz_sign``, byte-identical). The 12-service catalog makes a
v3 PKI token of about 9 KB, the size operators met.

Besides valid tokens: expired, bound (kerberos, x509, unknown), tampered, signed under another CA,
revoked (by hash, by audit id), oversize, malformed (garbage, truncated PKI, corrupted PKIZ), UUID and
Fernet-looking tokens, and the upstream examples from keystonemiddleware 5.3.0's ``examples/pki``.
"""

import base64
import datetime
import hashlib
import json
import os
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import kstoken
from kstoken import cms

VECTORS = os.environ.get("KSTOKEN_VECTORS") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "shared", "vectors")
UPSTREAM_PKI = os.path.join(VECTORS, "keystonemiddleware", "5.3.0", "examples", "pki")

KERBEROS_PRINCIPAL = "alice@EXAMPLE.ORG"

SERVICES = [
    ("compute", "nova", "http://127.0.0.1:8774/v2.1"),
    ("volume", "cinder", "http://127.0.0.1:8776/v1"),
    ("volumev2", "cinderv2", "http://127.0.0.1:8776/v2"),
    ("volumev3", "cinderv3", "http://127.0.0.1:8776/v3/%(project)s"),
    ("image", "glance", "http://127.0.0.1:9292"),
    ("network", "neutron", "http://127.0.0.1:9696"),
    ("object-store", "swift", "http://127.0.0.1:8080/v1/AUTH_%(project)s"),
    ("orchestration", "heat", "http://127.0.0.1:8004/v1"),
    ("cloudformation", "heat-cfn", "http://127.0.0.1:8000/v1"),
    ("metering", "ceilometer", "http://127.0.0.1:8777"),
    ("placement", "placement", "http://127.0.0.1:8778/placement"),
    ("identity", "keystone", "http://127.0.0.1:5000/v3"),
]

DOMAIN = {"id": "default", "name": "Default"}


def isotime(t: datetime.datetime, subsecond: bool = True) -> str:
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if subsecond else "%Y-%m-%dT%H:%M:%SZ"
    return t.astimezone(datetime.timezone.utc).strftime(fmt)


def _id(seed: str) -> str:
    """A stable 32-hex id (keystone's uuid4().hex shape) derived from a name."""
    return hashlib.md5(seed.encode()).hexdigest()


def audit_id(seed: str) -> str:
    """keystone's audit id shape: urlsafe base64 of 16 bytes, no padding (22 chars)."""
    return base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()[:16]).decode().rstrip("=")


def v3_catalog(project_id: str, n: int = 12, seed: str = "") -> List[Dict[str, Any]]:
    out = []
    for stype, name, url in SERVICES[:n]:
        u = url % {"project": project_id}
        out.append({
            "endpoints": [
                {"id": _id(seed + stype + iface), "interface": iface, "region": "RegionOne", "url": u}
                for iface in ("admin", "internal", "public")
            ],
            "id": _id(seed + stype),
            "type": stype,
            "name": name,
        })
    return out


def v2_catalog(project_id: str, n: int = 12, seed: str = "") -> List[Dict[str, Any]]:
    out = []
    for stype, name, url in SERVICES[:n]:
        u = url % {"project": project_id}
        out.append({
            "endpoints": [{"adminURL": u, "region": "RegionOne", "internalURL": u, "id": _id(seed + stype),
                           "publicURL": u}],
            "endpoints_links": [],
            "type": stype,
            "name": name,
        })
    return out


def v3_body(name: str, *, scope: str = "project", roles=("member", "reader"), catalog: int = 12,
            expires_in: int = 3600, bind: Optional[Dict[str, Any]] = None, user: str = "alice",
            project: str = "demo", methods=("password",), extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A v3 token body as keystone's ``V3TokenDataHelper.get_token_data`` made it."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=123456)
    project_id = _id("project-" + project)
    token: Dict[str, Any] = {"methods": list(methods)}
    if roles and scope != "unscoped":
        token["roles"] = [{"id": _id("role-" + r), "name": r} for r in roles]
    token["expires_at"] = isotime(now + datetime.timedelta(seconds=expires_in))
    if scope == "project":
        token["project"] = {"domain": dict(DOMAIN), "id": project_id, "name": project}
        token["is_domain"] = False
    elif scope == "domain":
        token["domain"] = {"id": _id("domain-" + project), "name": project}
    if catalog and scope != "unscoped":
        token["catalog"] = v3_catalog(project_id, catalog, seed=name)
    token["user"] = {"domain": dict(DOMAIN), "id": _id("user-" + user), "name": user, "password_expires_at": None}
    token["audit_ids"] = [audit_id(name)]
    token["issued_at"] = isotime(now + datetime.timedelta(seconds=expires_in - 3600 if expires_in < 0 else 0))
    if bind is not None:
        token["bind"] = bind
    if extra:
        token.update(extra)
    return {"token": token}


def v2_body(name: str, *, scoped: bool = True, roles=("member", "reader"), catalog: int = 12,
            expires_in: int = 3600, bind: Optional[Dict[str, Any]] = None, user: str = "alice",
            project: str = "demo") -> Dict[str, Any]:
    """A v2 token body as keystone's ``V2TokenDataHelper.format_token`` made it (no ``id``: the PKI
    providers sign the body before the id exists)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=123456)
    project_id = _id("project-" + project)
    token: Dict[str, Any] = {
        "issued_at": isotime(now),
        "expires": isotime(now + datetime.timedelta(seconds=expires_in), subsecond=False),
        "audit_ids": [audit_id(name)],
    }
    if scoped:
        token["tenant"] = {"description": None, "enabled": True, "id": project_id, "name": project}
    if bind is not None:
        token["bind"] = bind
    access: Dict[str, Any] = {"token": token}
    access["serviceCatalog"] = v2_catalog(project_id, catalog, seed=name) if scoped and catalog else []
    access["user"] = {"username": user, "roles_links": [], "id": _id("user-" + user),
                      "roles": [{"name": r} for r in roles] if scoped else [], "name": user}
    access["metadata"] = {"is_admin": 0, "roles": [_id("role-" + r) for r in roles] if scoped else []}
    return {"access": access}


def pki_der(token: str) -> bytes:
    """The DER of a PKI token (keystone's ``token_to_cms``: '-' stands for '/')."""
    return base64.b64decode(token.replace("-", "/"))


def der_to_pki(der: bytes) -> str:
    return base64.b64encode(der).decode().replace("/", "-")


def pkiz_der(token: str) -> bytes:
    return zlib.decompress(base64.urlsafe_b64decode(token[len("PKIZ_"):]))


def der_to_pkiz(der: bytes) -> str:
    return "PKIZ_" + base64.urlsafe_b64encode(zlib.compress(der, 6)).decode()


def _tamper_der(der: bytes) -> bytes:
    for old, new in ((b'"methods"', b'"methodz"'), (b'"issued_at"', b'"issued_an"')):
        if old in der:
            return der.replace(old, new, 1)
    raise AssertionError("no JSON key to tamper with in the CMS")


def tamper(token: str) -> str:
    """Change one byte of the signed JSON inside the CMS (the signature no longer matches)."""
    if token.startswith("PKIZ_"):
        inner = pkiz_der(token)  # keystone's PKIZ payload is the CMS in PEM (an upstream quirk kept)
        if inner.startswith(b"-----BEGIN"):
            lines = inner.decode().strip().splitlines()
            der = _tamper_der(base64.b64decode("".join(lines[1:-1])))
            b64 = base64.b64encode(der).decode()
            pem = "\n".join([lines[0]] + [b64[i:i + 64] for i in range(0, len(b64), 64)] + [lines[-1]]) + "\n"
            return der_to_pkiz(pem.encode())
        return der_to_pkiz(_tamper_der(inner))
    return der_to_pki(_tamper_der(pki_der(token)))


@dataclass
class Token:
    """One token of the matrix: its text, what it is, and what a reference verdict depends on."""

    name: str
    text: str
    version: str = ""  # v2 / v3 / ""
    form: str = ""  # pki / pkiz / uuid / fernet / garbage
    tags: List[str] = field(default_factory=list)
    body: Optional[Dict[str, Any]] = None

    def hashes(self, algorithms=("md5",)) -> List[str]:
        return kstoken.hash_token(self.text, list(algorithms)) or [self.text]

    @property
    def audit_ids(self) -> List[str]:
        if not self.body:
            return []
        inner = self.body.get("token") or self.body.get("access", {}).get("token", {})
        return list(inner.get("audit_ids", []))


class Pki:
    """A keystone-style PKI written to a directory (``kstoken.generate_pki``)."""

    def __init__(self, directory: str, pem: Optional[Dict[str, bytes]] = None) -> None:
        os.makedirs(directory, exist_ok=True)
        self.dir = directory
        self.pem = pem or kstoken.generate_pki(key_bits=2048)
        for name, data in self.pem.items():
            with open(os.path.join(directory, name + ".pem"), "wb") as f:
                f.write(data)
        self.signer = kstoken.Signer(self.pem["signing_cert"], self.pem["signing_key"])

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name + ".pem")

    def signing_dir(self, directory: str) -> str:
        """A keystonemiddleware ``signing_dir`` (0700) holding this PKI's signing cert and CA."""
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
        for src, dst in (("signing_cert", "signing_cert.pem"), ("ca_cert", "cacert.pem")):
            with open(os.path.join(directory, dst), "wb") as f:
                f.write(self.pem[src])
        return directory

    def sign(self, body: Dict[str, Any], form: str) -> str:
        text = json.dumps(body)
        return self.signer.sign_pkiz(text) if form == "pkiz" else self.signer.sign_pki(text)


def openssl_pkiz_sign(pki: Pki, body: Dict[str, Any]) -> str:
    """keystone's ``pkiz_sign`` as keystoneclient ships it (it spawns ``openssl cms -sign``), for a
    body beyond kstoken's signing limit (1 MiB of content): the token the inflate-limit case needs."""
    from keystoneclient.common import cms as ksc_cms

    from harness import unpatched

    with unpatched():
        return str(ksc_cms.pkiz_sign(json.dumps(body), pki.path("signing_cert"), pki.path("signing_key")))


def client_cert_pem(seed: str) -> bytes:
    """A TLS client certificate (self-signed) for x509 bind cases."""
    return kstoken.generate_pki(key_bits=2048, subject="/CN=client-%s" % seed)["signing_cert"]


class TokenSet:
    """All tokens of the differential matrix, signed by ``pki`` (and ``other`` for wrong-CA cases)."""

    def __init__(self, pki: Pki, other: Pki) -> None:
        self.pki = pki
        self.other = other
        self.client_cert = client_cert_pem("good")
        self.other_client_cert = client_cert_pem("other")
        self.tokens: Dict[str, Token] = {}
        self._build()

    def add(self, tok: Token) -> Token:
        assert tok.name not in self.tokens, tok.name
        self.tokens[tok.name] = tok
        return tok

    def signed(self, name: str, body: Dict[str, Any], version: str, tags=(), forms=("pki", "pkiz"), pki=None):
        for form in forms:
            self.add(Token("%s-%s" % (name, form), (pki or self.pki).sign(body, form), version, form,
                           list(tags), body))

    def _build(self) -> None:
        x509_bind = kstoken.add_x509_bind({"token": {}}, self.client_cert)["token"]["bind"]
        for v in ("v3", "v2"):
            mk = v3_body if v == "v3" else v2_body
            self.signed("%s-project" % v, mk("%s-project" % v), v, ["valid"])
            self.signed("%s-small" % v, mk("%s-small" % v, catalog=1), v, ["valid"])
            if v == "v3":
                self.signed("v3-unscoped", v3_body("v3-unscoped", scope="unscoped"), v, ["valid"])
                self.signed("v3-domain", v3_body("v3-domain", scope="domain", project="acme"), v, ["valid"])
                self.signed("v3-trust", v3_body("v3-trust", extra={"OS-TRUST:trust": {
                    "id": _id("trust"), "impersonation": False, "trustee_user": {"id": _id("user-bob")},
                    "trustor_user": {"id": _id("user-alice")}}}), v, ["valid"])
            else:
                self.signed("v2-unscoped", v2_body("v2-unscoped", scoped=False), v, ["valid", "v2-unscoped"])
            self.signed("%s-service" % v, mk("%s-service" % v, roles=("service", "admin"), user="nova",
                                              project="service"), v, ["valid", "service"])
            self.signed("%s-expired" % v, mk("%s-expired" % v, expires_in=-600), v, ["expired"])
            self.signed("%s-bind-kerberos" % v, mk("%s-bind-kerberos" % v, bind={"kerberos": KERBEROS_PRINCIPAL}),
                        v, ["valid", "bind", "bind-kerberos"])
            self.signed("%s-bind-x509" % v, mk("%s-bind-x509" % v, bind=x509_bind), v,
                        ["valid", "bind", "bind-x509"])
            self.signed("%s-bind-unknown" % v, mk("%s-bind-unknown" % v, bind={"acme": "opaque-id"}), v,
                        ["valid", "bind", "bind-unknown"])
            for form in ("pki", "pkiz"):
                good = self.tokens["%s-project-%s" % (v, form)]
                self.add(Token("%s-tampered-%s" % (v, form), tamper(good.text), v, form, ["tampered"], good.body))
            self.signed("%s-wrong-ca" % v, mk("%s-wrong-ca" % v), v, ["wrong-ca"], pki=self.other)
            # revoked: the list (5.3.0 + stand-in) names them by hash or by audit id
            self.signed("%s-revoked-hash" % v, mk("%s-revoked-hash" % v), v, ["valid", "revoked-hash"])
            self.signed("%s-revoked-audit" % v, mk("%s-revoked-audit" % v), v, ["valid", "revoked-audit"])
        # over the 8 KB header limits of servers, and beyond kstoken's resource limits
        # (a PKI token of more than 16 KiB of DER does not start with "MII": keystone's detection, and
        # so keystonemiddleware, takes it for an online token)
        big = v3_body("v3-large", extra={"padding": "x" * 40000})
        self.add(Token("v3-large-pki", self.pki.sign(big, "pki"), "v3", "pki", ["large", "not-mii"], big))
        self.add(Token("v3-large-pkiz", self.pki.sign(big, "pkiz"), "v3", "pkiz", ["valid", "large"], big))
        huge = v3_body("v3-huge", extra={"padding": "x" * (1200 * 1024)})
        self.add(Token("v3-huge-pkiz", openssl_pkiz_sign(self.pki, huge), "v3", "pkiz", ["valid", "huge"], huge))
        # validly signed bodies keystone never produces
        odd = {
            "odd-v3-no-user-id": v3_body("odd1", extra={"user": {"name": "x", "domain": dict(DOMAIN)}}),
            "odd-v3-roles-not-list": v3_body("odd2", extra={"roles": "admin"}),
            "odd-v3-two-scopes": v3_body("odd3", extra={"domain": {"id": "d", "name": "d"}}),
            "odd-v3-expires-garbage": v3_body("odd4", extra={"expires_at": "tomorrow"}),
            "odd-v3-not-an-object": {"token": ["not", "an", "object"]},
            "odd-json-list": [1, 2, 3],
            "odd-v2-no-user": {"access": {"token": v2_body("odd5")["access"]["token"]}},
        }
        for name, body in odd.items():
            self.add(Token(name + "-pki", self.pki.sign(body, "pki"), "v3" if "v3" in name else "v2", "pki",
                           ["odd-body"], body if isinstance(body, dict) else None))
        # malformed
        good = self.tokens["v3-project-pki"].text
        goodz = self.tokens["v3-project-pkiz"].text
        self.add(Token("pki-truncated", good[: len(good) // 2], "", "pki", ["malformed", "truncated-pki"]))
        self.add(Token("pki-garbage", "MII" + "A" * 400 + "!!!notbase64", "", "pki", ["malformed", "garbage-pki"]))
        self.add(Token("pki-random-der", "MII" + base64.b64encode(os.urandom(1500)).decode().replace("/", "-"),
                       "", "pki", ["malformed", "garbage-pki"]))
        self.add(Token("pkiz-corrupt-zlib", "PKIZ_" + base64.urlsafe_b64encode(b"\x78\x9c" + os.urandom(700)).decode(),
                       "", "pkiz", ["malformed", "corrupt-pkiz"]))
        self.add(Token("pkiz-truncated", goodz[: len(goodz) // 2], "", "pkiz", ["malformed", "truncated-pkiz"]))
        self.add(Token("pkiz-bad-base64", "PKIZ_!!!" + "a" * 100, "", "pkiz", ["malformed", "bad-base64-pkiz", "corrupt-pkiz"]))
        self.add(Token("pkiz-not-cms", "PKIZ_" + base64.urlsafe_b64encode(zlib.compress(b"{}" * 200)).decode(),
                       "", "pkiz", ["malformed", "pkiz-not-cms"]))
        self.add(Token("pki-oversize-garbage", "MII" + "Q" * (2 * 1024 * 1024), "", "pki",
                       ["malformed", "oversize-garbage"]))
        self.add(Token("whitespace-padded", "  " + good + " ", "v3", "pki", ["valid", "padded"],
                       self.tokens["v3-project-pki"].body))
        # online tokens (UUID, Fernet-looking): keystonemiddleware validates them with keystone
        self.add(Token("uuid-unknown", uuid.uuid4().hex, "", "uuid", ["online", "unknown"]))
        self.add(Token("fernet-looking", "gAAAAAB" + base64.urlsafe_b64encode(os.urandom(140)).decode().rstrip("="),
                       "", "fernet", ["online", "unknown"]))
        self.add(Token("garbage-short", "not-a-token", "", "garbage", ["online", "unknown"]))

    def upstream(self) -> List[Token]:
        """keystonemiddleware 5.3.0's example tokens (valid until 2038; its own cert set)."""
        out = []
        for fname, version in (("auth_token_scoped", "v2"), ("auth_v3_token_scoped", "v3"),
                               ("auth_token_unscoped", "v2"), ("auth_token_scoped_expired", "v2")):
            with open(os.path.join(UPSTREAM_PKI, "cms", fname + ".json")) as f:
                body = json.load(f)
            with open(os.path.join(UPSTREAM_PKI, "cms", fname + ".pem")) as f:
                pki_text = cms.cms_to_token(f.read())
            with open(os.path.join(UPSTREAM_PKI, "cms", fname + ".pkiz")) as f:
                pkiz_text = f.read().strip()
            tags = ["upstream"] + (["expired"] if "expired" in fname else [])
            out.append(Token("upstream-%s-pki" % fname, pki_text, version, "pki", tags, body))
            out.append(Token("upstream-%s-pkiz" % fname, pkiz_text, version, "pkiz", tags, body))
        return out


def upstream_signing_dir(directory: str) -> str:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    for src, dst in (("signing_cert.pem", "signing_cert.pem"), ("cacert.pem", "cacert.pem")):
        with open(os.path.join(UPSTREAM_PKI, "certs", src), "rb") as f, open(os.path.join(directory, dst), "wb") as g:
            g.write(f.read())
    return directory
