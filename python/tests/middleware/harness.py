"""The differential harness: one request through two middlewares, each around a recording WSGI app,
compared on everything an application can see.

Sides: ``stock`` (keystonemiddleware's ``auth_token.AuthProtocol`` as installed: 6.1.0, or 5.3.0 for
revocation lists; it spawns ``openssl cms``), ``compat`` (the same with ``kstoken.compat.patch()``
applied around each request) and ``kstoken`` (``kstoken.middleware.AuthProtocol``). Each side gets the
same ``conf`` dict (its own copy of the signing directory) and a fresh environ per request.

Compared: the status; the ``WWW-Authenticate`` and ``Content-Type`` response headers; the JSON body
of a 401; whether the app was called; every ``HTTP_*`` key and value the app saw (the identity
headers ``X-*`` and ``OpenStack-System-Scope``, and the request's own headers);
``keystone.token_info``; and the attributes of ``keystone.token_auth`` (``has_user_token``,
``has_service_token``, and for ``user`` / ``service`` the ``AccessInfo`` properties listed in
``ACCESS_ATTRS``). An exception escaping a side is what a WSGI server turns into a 500.
"""

import contextlib
import copy
import datetime
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import webob

SIDES = ("stock", "compat", "kstoken")

ACCESS_ATTRS = (
    "auth_token", "expires", "issued", "username", "user_id", "user_domain_id", "user_domain_name",
    "role_ids", "role_names", "domain_name", "domain_id", "project_name", "project_id", "project_domain_id",
    "project_domain_name", "tenant_id", "tenant_name", "scoped", "project_scoped", "domain_scoped",
    "system_scoped", "trust_id", "trust_scoped", "trustee_user_id", "trustor_user_id", "is_federated",
    "is_admin_project", "audit_id", "audit_chain_id", "bind", "version", "oauth_access_token_id",
    "oauth_consumer_id", "project_is_domain", "system", "service_catalog.catalog",
)


def _attr(obj: Any, dotted: str) -> Any:
    try:
        for part in dotted.split("."):
            obj = getattr(obj, part)
    except Exception as e:  # noqa: BLE001 - what raises is part of what is compared
        return "<raises %s>" % type(e).__name__
    if isinstance(obj, datetime.datetime):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    return copy.deepcopy(obj) if isinstance(obj, (dict, list)) else obj


def project_access(auth_ref: Any) -> Optional[Dict[str, Any]]:
    if auth_ref is None:
        return None
    return {name: _attr(auth_ref, name) for name in ACCESS_ATTRS}


def project_token_auth(plugin: Any) -> Optional[Dict[str, Any]]:
    if plugin is None:
        return None
    return {
        "has_user_token": _attr(plugin, "has_user_token"),
        "has_service_token": _attr(plugin, "has_service_token"),
        "user": project_access(getattr(plugin, "user", None)),
        "service": project_access(getattr(plugin, "service", None)),
    }


class RecorderApp:
    """The service behind the middleware: records what it was given, answers 200 (or the status the
    test asks for through ``X-Test-Respond``, to see the middleware's handling of an app's 401)."""

    def __init__(self) -> None:
        self.seen: Optional[Dict[str, Any]] = None

    def __call__(self, environ: Dict[str, Any], start_response: Callable) -> List[bytes]:
        self.seen = {
            "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
            "token_info": copy.deepcopy(environ.get("keystone.token_info")),
            "token_auth": project_token_auth(environ.get("keystone.token_auth")),
        }
        status = environ.get("HTTP_X_TEST_RESPOND", "200 OK")
        start_response(status, [("Content-Type", "text/plain")])
        return [b"app"]


@dataclass
class Outcome:
    status: int
    headers: Dict[str, Optional[str]]
    body: Any
    app: Optional[Dict[str, Any]]
    exception: Optional[str] = None

    def brief(self) -> str:
        s = "%d" % self.status
        if self.exception:
            s += " (%s)" % self.exception
        if self.app is not None:
            h = self.app["headers"]
            s += " app[%s user=%s svc=%s]" % (h.get("HTTP_X_IDENTITY_STATUS"), h.get("HTTP_X_USER_ID"),
                                              h.get("HTTP_X_SERVICE_IDENTITY_STATUS"))
        return s


@dataclass
class Case:
    """One request: headers, extra environ (REMOTE_USER, AUTH_TYPE, SSL_CLIENT_CERT), and tags that
    the known-differences table matches on."""

    name: str
    headers: Dict[str, str]
    environ: Dict[str, str] = field(default_factory=dict)
    tags: Tuple[str, ...] = ()
    repeat: int = 2  # first request (uncached), then again (cache hit)


LAST_RECORDER: List[RecorderApp] = []


def recorder_app_factory(global_conf: Dict[str, str], **local_conf: str) -> RecorderApp:
    """paste.deploy ``paste.app_factory`` for a RecorderApp (the last one made is in LAST_RECORDER)."""
    app = RecorderApp()
    LAST_RECORDER[:] = [app]
    return app


_PATCHABLE = (
    ("keystoneclient.common.cms", None, ("cms_verify", "cms_sign_data", "token_to_cms", "cms_to_token",
                                         "pkiz_uncompress", "cms_hash_token", "subprocess")),
    ("keystonemiddleware.auth_token", "BaseAuthProtocol", ("_confirm_token_bind",)),
)


@contextlib.contextmanager
def unpatched() -> Iterator[None]:
    """Run keystonemiddleware as shipped even if something in this process applied
    ``kstoken.compat.patch()`` (kstoken.middleware does, for its online-validation delegate): restore
    the originals for the duration, then put back whatever was there."""
    try:
        from kstoken import compat
    except ImportError:
        yield
        return
    if not compat.is_patched() and not compat._originals:
        yield
        return
    import importlib

    saved = []
    for module_name, owner, attrs in _PATCHABLE:
        obj = importlib.import_module(module_name)
        if owner:
            obj = getattr(obj, owner)
        for attr in attrs:
            saved.append((obj, attr, obj.__dict__.get(attr, _MISSING)))
    originals = dict(compat._originals)
    compat.unpatch()
    try:
        yield
    finally:
        for obj, attr, value in saved:
            if value is _MISSING:
                with contextlib.suppress(AttributeError):
                    delattr(obj, attr)
            else:
                setattr(obj, attr, value)
        compat._originals.update(originals)


_MISSING = object()


class Side:
    """One middleware around a RecorderApp."""

    def __init__(self, kind: str, conf: Dict[str, str]) -> None:
        self.kind = kind
        self.app = RecorderApp()
        self.conf = dict(conf)
        self._patch_ctx: Callable[[], Any] = contextlib.nullcontext
        if kind == "kstoken":
            from kstoken import middleware

            self.mw = middleware.AuthProtocol(self.app, self.conf)
        else:
            from keystonemiddleware import auth_token

            if kind == "compat":
                from kstoken import compat

                self._patch_ctx = compat.patched
            else:
                self._patch_ctx = unpatched
            self.mw = auth_token.AuthProtocol(self.app, self.conf)

    @classmethod
    def wrapping(cls, kind: str, mw: Callable, app: RecorderApp) -> "Side":
        """A side around an already built pipeline (paste.deploy) whose innermost app is ``app``."""
        self = cls.__new__(cls)
        self.kind, self.app, self.conf, self.mw = kind, app, {}, mw
        self._patch_ctx = contextlib.nullcontext
        return self

    def call(self, case: Case) -> Outcome:
        req = webob.Request.blank("/v1/resource", headers=case.headers, environ=dict(case.environ))
        self.app.seen = None
        try:
            with self._patch_ctx():
                resp = req.get_response(self.mw)
        except Exception as e:  # noqa: BLE001 - a WSGI server answers 500
            return Outcome(500, {}, None, self.app.seen, "%s: %s" % (type(e).__name__, str(e)[:120]))
        body: Any = None
        if resp.status_int == 401:
            try:
                body = json.loads(resp.body)
            except ValueError:
                body = resp.body[:200]
        headers = {h: resp.headers.get(h) for h in ("WWW-Authenticate", "Content-Type")}
        return Outcome(resp.status_int, headers, body, self.app.seen)


class ASGISide:
    """``kstoken.middleware.ASGIAuthProtocol`` around a recording ASGI app, driven in process: the
    request's headers go into an HTTP scope, and what the app finds in ``scope["headers"]`` and
    ``scope["state"]`` is recorded in WSGI terms (``HTTP_*`` keys) so it compares with an environ."""

    def __init__(self, conf: Dict[str, str]) -> None:
        import asyncio

        from kstoken import middleware

        self.kind = "kstoken-asgi"
        self.conf = dict(conf)
        self.seen: Optional[Dict[str, Any]] = None
        self.loop = asyncio.new_event_loop()
        self.mw = middleware.ASGIAuthProtocol(self._app, self.conf)

    async def _app(self, scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
        headers = {}
        for k, v in scope["headers"]:
            headers["HTTP_" + k.decode("latin-1").upper().replace("-", "_")] = v.decode("latin-1")
        state = scope.get("state") or {}
        self.seen = {
            "headers": headers,
            "token_info": copy.deepcopy(state.get("keystone.token_info")),
            "token_auth": project_token_auth(state.get("keystone.token_auth")),
        }
        status = int(headers.get("HTTP_X_TEST_RESPOND", "200").split()[0])
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"app"})

    def call(self, case: Case) -> Outcome:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": "/v1/resource", "raw_path": b"/v1/resource", "query_string": b"", "root_path": "",
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in case.headers.items()]
            + [(b"host", b"localhost:80")],
            "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 80), "state": {},
        }
        sent: List[Dict[str, Any]] = []

        async def receive() -> Dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Dict[str, Any]) -> None:
            sent.append(message)

        self.seen = None
        try:
            self.loop.run_until_complete(self.mw(scope, receive, send))
        except Exception as e:  # noqa: BLE001 - an ASGI server answers 500
            return Outcome(500, {}, None, self.seen, "%s: %s" % (type(e).__name__, str(e)[:120]))
        start = next(m for m in sent if m["type"] == "http.response.start")
        body_bytes = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        resp_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start.get("headers", [])}
        body: Any = None
        if start["status"] == 401:
            try:
                body = json.loads(body_bytes)
            except ValueError:
                body = body_bytes[:200]
        headers = {h: resp_headers.get(h.lower()) for h in ("WWW-Authenticate", "Content-Type")}
        return Outcome(start["status"], headers, body, self.seen)


def wsgi_view(o: Outcome) -> Outcome:
    """An environ outcome as an ASGI app would see it: headers whose value is None are absent, and the
    Host header is the one the in-process ASGI request carries."""
    if o.app is None:
        return o
    app = dict(o.app)
    app["headers"] = {k: v for k, v in o.app["headers"].items() if v is not None}
    app["headers"]["HTTP_HOST"] = "localhost:80"
    return Outcome(o.status, o.headers, o.body, app, o.exception)


def diff(a: Outcome, b: Outcome) -> List[str]:
    """What differs between two outcomes, one line per field (empty when identical)."""
    out = []
    if a.status != b.status:
        out.append("status: %s != %s" % (a.brief(), b.brief()))
    for h in ("WWW-Authenticate", "Content-Type"):
        if a.headers.get(h) != b.headers.get(h):
            out.append("header %s: %r != %r" % (h, a.headers.get(h), b.headers.get(h)))
    if a.body != b.body:
        out.append("401 body: %r != %r" % (a.body, b.body))
    if (a.app is None) != (b.app is None):
        out.append("app called: %s != %s" % (a.app is not None, b.app is not None))
    elif a.app is not None and b.app is not None:
        ha, hb = a.app["headers"], b.app["headers"]
        for k in sorted(set(ha) | set(hb)):
            if ha.get(k) != hb.get(k):
                out.append("environ %s: %s != %s" % (k, _short(ha.get(k)), _short(hb.get(k))))
        if a.app["token_info"] != b.app["token_info"]:
            out.append("keystone.token_info differs")
        ta, tb = a.app["token_auth"], b.app["token_auth"]
        if (ta is None) != (tb is None):
            out.append("keystone.token_auth present: %s != %s" % (ta is not None, tb is not None))
        elif ta is not None and tb is not None:
            for k in ("has_user_token", "has_service_token"):
                if ta[k] != tb[k]:
                    out.append("token_auth.%s: %r != %r" % (k, ta[k], tb[k]))
            for who in ("user", "service"):
                pa, pb = ta[who], tb[who]
                if (pa is None) != (pb is None):
                    out.append("token_auth.%s present: %s != %s" % (who, pa is not None, pb is not None))
                elif pa is not None and pb is not None:
                    for k in ACCESS_ATTRS:
                        if pa[k] != pb[k]:
                            out.append("token_auth.%s.%s: %s != %s" % (who, k, _short(pa[k]), _short(pb[k])))
    return out


def _short(v: Any, n: int = 90) -> str:
    s = repr(v)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


@dataclass
class KnownDifference:
    """A documented, expected difference between keystonemiddleware and a kstoken side."""

    id: str
    sides: Tuple[str, ...]  # the side (b) kinds it applies to
    applies: Callable[[Case], bool]
    expect: Callable[[Outcome, Outcome], bool]  # (stock outcome, other outcome) -> is it exactly this?
    reason: str


@dataclass
class Report:
    """Counts of one configuration's run."""

    config: str
    pair: str
    cases: int = 0
    requests: int = 0
    identical: int = 0
    known: Dict[str, int] = field(default_factory=dict)
    failures: List[str] = field(default_factory=list)
    #: side (a)'s first outcome per case name: the reference verdicts, checked by the tests
    reference: Dict[str, Outcome] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        return {"config": self.config, "pair": self.pair, "cases": self.cases, "requests": self.requests,
                "identical": self.identical, "known": self.known, "unexpected": len(self.failures)}


def run_matrix(config: str, a: Side, b: Side, cases: Iterable[Case],
               known: Iterable[KnownDifference] = ()) -> Report:
    """Run every case through both sides (``repeat`` times each, in the same order on both sides)."""
    known = list(known)
    rep = Report(config, "%s-vs-%s" % (a.kind, b.kind))
    for case in cases:
        rep.cases += 1
        for attempt in range(case.repeat):
            rep.requests += 1
            oa, ob = a.call(case), b.call(case)
            if getattr(b, "kind", "") == "kstoken-asgi":
                oa = wsgi_view(oa)
            if attempt == 0:
                rep.reference[case.name] = oa
            d = diff(oa, ob)
            if not d:
                rep.identical += 1
                continue
            label = "%s / %s #%d" % (config, case.name, attempt + 1)
            kind = "kstoken" if b.kind == "kstoken-asgi" else b.kind  # the ASGI variant has the same differences
            match = [k for k in known if kind in k.sides and k.applies(case)]
            if match and any(k.expect(oa, ob) for k in match):
                kid = next(k.id for k in match if k.expect(oa, ob))
                rep.known[kid] = rep.known.get(kid, 0) + 1
                continue
            detail = "; ".join(d[:6]) + (" (+%d more)" % (len(d) - 6) if len(d) > 6 else "")
            known_ids = ",".join(k.id for k in match)
            rep.failures.append("%s: %s%s" % (label, detail, (" [known entry %s did not match]" % known_ids)
                                              if known_ids else ""))
    return rep


def copy_signing_dir(src: str, dst: str) -> str:
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    os.chmod(dst, 0o700)
    return dst


def write_report(reports: List[Report], name: str) -> None:
    """Append the counts to $KSTOKEN_MW_REPORT_DIR/<name>.jsonl for the script's summary."""
    out_dir = os.environ.get("KSTOKEN_MW_REPORT_DIR")
    if not out_dir:
        return
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, name + ".jsonl"), "a") as f:
        for r in reports:
            f.write(json.dumps(r.as_dict()) + "\n")


def quiet_logs() -> Dict[str, int]:
    """keystonemiddleware logs a warning per PKI token; keep pytest's captured output readable.
    Returns the levels it replaced."""
    saved = {}
    for name in ("keystonemiddleware", "keystonemiddleware.auth_token", "kstoken", "keystoneauth"):
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.ERROR)
    return saved
