"""The service behind the middleware in the server tests and the benchmark, for gunicorn
(``apps:application``) and uvicorn (``apps:asgi_application``).

The app echoes what an OpenStack service reads from the middleware: the identity headers as JSON,
whether ``keystone.token_info`` / ``keystone.token_auth`` were set, and the worker's pid. Which
middleware wraps it comes from the JSON file named by ``KSTOKEN_MW_APP_CONF``:
``{"middleware": "none" | "stock" | "compat" | "kstoken", "conf": {...keystone_authtoken options}}``.
It is built at import, so ``gunicorn --preload`` builds it once in the master, before the fork.
"""

import json
import os
from typing import Any, Callable, Dict, List, Optional

IDENTITY_PREFIXES = ("HTTP_X_", "HTTP_OPENSTACK_")


def _summary(headers: Dict[str, str], token_info: Any, token_auth: Any) -> bytes:
    user_id = None
    if token_auth is not None and getattr(token_auth, "user", None) is not None:
        user_id = token_auth.user.user_id
    return json.dumps({"headers": headers, "token_info": token_info is not None,
                       "token_auth_user_id": user_id, "pid": os.getpid()}).encode()


def echo_app(environ: Dict[str, Any], start_response: Callable) -> List[bytes]:
    if environ.get("PATH_INFO") == "/bench":
        # the benchmark's app: a fixed small answer, so the server's ceiling is what is measured
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    headers = {k: v for k, v in environ.items() if k.startswith(IDENTITY_PREFIXES) and v is not None}
    body = _summary(headers, environ.get("keystone.token_info"), environ.get("keystone.token_auth"))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


async def echo_asgi(scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    # The environ an ASGI-to-WSGI bridge (a2wsgi; Django's ASGIHandler alike) gives the service: names
    # upper-cased with '-' as '_' (so X_Roles and X-Roles are one key), repeated ones joined with ','.
    headers: Dict[str, str] = {}
    for k, v in scope.get("headers", []):
        name = k.decode("latin-1")
        if name.lower().replace("_", "-").startswith(("x-", "openstack-")):
            key = "HTTP_" + name.upper().replace("-", "_")
            text = v.decode("latin-1")
            headers[key] = headers[key] + "," + text if key in headers else text
    state = scope.get("state") or {}
    body = _summary(headers, state.get("keystone.token_info"), state.get("keystone.token_auth"))
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _settings() -> Optional[Dict[str, Any]]:
    path = os.environ.get("KSTOKEN_MW_APP_CONF")
    if not path:
        return None
    with open(path) as f:
        return json.load(f)  # type: ignore[no-any-return]


def configure_logging(settings: Dict[str, Any]) -> None:
    """What an OpenStack service does at startup (oslo.log): log records go to stderr, the server's log."""
    import logging
    import sys

    level = settings.get("log_level", "INFO")
    logging.basicConfig(level=getattr(logging, level), stream=sys.stderr,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    for noisy in ("urllib3", "keystoneauth", "stevedore", "oslo_cache", "oslo_config"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def with_metrics(app: Callable) -> Callable:
    """``GET /_metrics``: the worker's Prometheus scrape (``prometheus_client``'s default registry,
    where kstoken.middleware registers its collector), answered before the middleware."""

    def wrapped(environ: Dict[str, Any], start_response: Callable) -> Any:
        if environ.get("PATH_INFO") != "/_metrics":
            return app(environ, start_response)
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

        body = generate_latest(REGISTRY)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        return [body]

    return wrapped


def build_wsgi(settings: Dict[str, Any]) -> Callable:
    app = _build_wsgi(settings)
    return with_metrics(app) if settings.get("metrics") else app


def _build_wsgi(settings: Dict[str, Any]) -> Callable:
    configure_logging(settings)
    kind, conf = settings["middleware"], settings.get("conf", {})
    if kind == "none":
        return echo_app
    if kind == "kstoken":
        from kstoken.middleware import AuthProtocol

        return AuthProtocol(echo_app, conf)  # type: ignore[no-any-return]
    if kind == "compat":
        import kstoken.compat

        kstoken.compat.patch()
    elif kind != "stock":
        raise ValueError("unknown middleware %r" % kind)
    from keystonemiddleware.auth_token import AuthProtocol as KsmAuthProtocol

    return KsmAuthProtocol(echo_app, conf)  # type: ignore[no-any-return]


def build_asgi(settings: Dict[str, Any]) -> Callable:
    configure_logging(settings)
    kind, conf = settings["middleware"], settings.get("conf", {})
    if kind == "none":
        return echo_asgi
    if kind != "kstoken":
        raise ValueError("the ASGI app takes only kstoken.middleware.ASGIAuthProtocol, not %r" % kind)
    from kstoken.middleware import ASGIAuthProtocol

    return ASGIAuthProtocol(echo_asgi, conf)  # type: ignore[no-any-return]


_SETTINGS = _settings()
application = build_wsgi(_SETTINGS) if _SETTINGS and not _SETTINGS.get("asgi") else None
asgi_application = build_asgi(_SETTINGS) if _SETTINGS and _SETTINGS.get("asgi") else None
