"""The ASGI middleware: the WSGI middleware's semantics for Starlette/FastAPI-style services.

The identity headers are put into ``scope["headers"]`` (lower-case names, values UTF-8 as the ASGI
spec allows; a header whose value keystonemiddleware sets to ``None`` is left out, since ASGI
header values are bytes), and the token data into ``scope["state"]["keystone.token_info"]`` /
``["keystone.token_auth"]``.

Incoming identity headers are stripped in every spelling: a WSGI server folds ``X_Roles`` and
``X-Roles`` into one environ key, and ASGI-to-WSGI bridges (a2wsgi, Django's ``ASGIHandler``) do
the same later, so a name is stripped when, lower-cased with ``_`` read as ``-``, it is an identity
header.

Nothing here waits on the network on the event loop: the first native call runs on it and decides
every token the process cache holds (memcached configured or not) and every token validated in place;
only when memcached must be asked (a process-cache miss: the native call names the keys) or stored
to, or keystone is needed, does the rest of the authentication run in the default executor
(:meth:`Engine.authenticate_nowait`), as do calls into keystonemiddleware for other tokens.
"""

import asyncio
from typing import Any, Awaitable, Callable, Dict, List, Mapping, MutableMapping, Optional, Tuple

from kstoken import _kstoken
from kstoken.middleware._engine import Engine, Stats, build_ksm_delegate
from kstoken.middleware._wsgi import TOKEN_AUTH, TOKEN_INFO, UNAUTHORIZED_BODY

__all__ = ["ASGIAuthProtocol"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: environ key → ASGI header name.
_ASGI_NAMES: Dict[str, bytes] = {
    key: name.lower().encode("latin-1") for name, key in _kstoken.IDENTITY_HEADERS
}


def _is_identity_header(name: bytes) -> bool:
    """Whether a header name is an identity header in any spelling: core's rule (ASCII case ignored,
    ``_`` read as ``-``), the one the WSGI middleware, libkstoken and mod_kstoken apply."""
    return _kstoken.identity_header(name) is not None


def _environ_from_scope(scope: Scope, headers: List[Tuple[bytes, bytes]]) -> Dict[str, Any]:
    """A minimal WSGI environ for keystonemiddleware's request processing."""
    environ: Dict[str, Any] = {
        "REQUEST_METHOD": scope.get("method", "GET"),
        "SCRIPT_NAME": scope.get("root_path", ""),
        "PATH_INFO": scope.get("path", "/"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/%s" % scope.get("http_version", "1.1"),
        "wsgi.url_scheme": scope.get("scheme", "http"),
    }
    for name, value in headers:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        environ[key] = environ[key] + "," + text if key in environ else text
    for key in ("AUTH_TYPE", "REMOTE_USER"):
        if scope.get(key.lower()) is not None:
            environ[key] = scope[key.lower()]
    return environ


class ASGIAuthProtocol:
    """ASGI middleware with :class:`kstoken.middleware.AuthProtocol`'s semantics."""

    def __init__(self, app: ASGIApp, conf: Mapping[str, Any]) -> None:
        self._app = app
        self.engine = Engine(conf)
        self._delegate = build_ksm_delegate(self.engine, None)
        self._www_authenticate = ('Keystone uri="%s"' % self.engine.www_authenticate_uri).encode("latin-1")

    def stats(self) -> Stats:
        """This process's counters and gauges (see ``kstoken.middleware.metrics``)."""
        return self.engine.stats()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        headers: List[Tuple[bytes, bytes]] = [
            (name, value) for name, value in scope.get("headers", []) if not _is_identity_header(name)
        ]
        found: Dict[bytes, str] = {}
        for name, value in headers:
            lower = name.lower()
            if lower in (b"x-auth-token", b"x-storage-token", b"x-service-token"):
                # Repeated headers are joined with commas, as WSGI servers do.
                text = value.decode("latin-1")
                found[lower] = found[lower] + "," + text if lower in found else text
        user_token = found.get(b"x-auth-token", found.get(b"x-storage-token"))
        service_token = found.get(b"x-service-token")
        tls = (scope.get("extensions") or {}).get("tls") or {}
        chain = tls.get("client_cert_chain") or []
        client_cert: Optional[str] = chain[0] if chain else None
        args = (user_token, service_token, scope.get("auth_type"), scope.get("remote_user"), client_cert)
        first, done = self.engine.authenticate_nowait(*args)
        out = first
        if not done:
            # memcached or keystone: network I/O, off the event loop.
            loop = asyncio.get_running_loop()
            out = await loop.run_in_executor(None, lambda: self.engine.authenticate(*args, first=first))

        scope = dict(scope)
        state: Dict[str, Any] = dict(scope.get("state") or {})
        if out.decision == "delegate":
            status = await self._delegate_validate(scope, headers, state)
            if status is not None:
                await self._refuse(scope, send, status)
                return
        elif out.decision in ("reject", "unavailable"):
            await self._refuse(scope, send, 401 if out.decision == "reject" else 503)
            return
        else:
            for key, header_value in out.headers:
                if header_value is not None:
                    headers.append((_ASGI_NAMES[key], header_value.encode("utf-8")))
            info, plugin = self.engine.token_data(out, user_token, service_token)
            if info is not None:
                state[TOKEN_INFO] = info
            state[TOKEN_AUTH] = plugin
        scope["headers"] = headers
        scope["state"] = state
        await self._app(scope, receive, self._send_with_challenge(send))

    def _send_with_challenge(self, send: Send) -> Send:
        challenge = self._www_authenticate

        async def wrapped(message: Message) -> None:
            if message.get("type") == "http.response.start" and message.get("status") == 401:
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [(b"www-authenticate", challenge)]
            await send(message)

        return wrapped

    async def _refuse(self, scope: Scope, send: Send, status: int) -> None:
        if scope.get("type") == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if status == 401:
            body = UNAUTHORIZED_BODY
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", self._www_authenticate),
            ]
        else:
            body = b"The Keystone service is temporarily unavailable."
            headers = [(b"content-type", b"text/plain; charset=UTF-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _delegate_validate(
        self, scope: Scope, headers: List[Tuple[bytes, bytes]], state: Dict[str, Any]
    ) -> Optional[int]:
        """Runs keystonemiddleware's request processing for a token that is not PKI/PKIZ; copies the
        identity headers and token data it set into ``headers``/``state``; returns a refusal status."""
        environ = _environ_from_scope(scope, headers)

        def run() -> Optional[int]:
            import webob.exc
            from keystonemiddleware.auth_token import _request

            request = _request._AuthTokenRequest(environ)
            try:
                response = self._delegate.process_request(request)
            except webob.exc.HTTPException as e:
                return int(e.status_int)
            if response is not None:
                return int(response.status_int)
            return None

        loop = asyncio.get_running_loop()
        status = await loop.run_in_executor(None, run)
        if status is not None:
            return status
        headers[:] = [(n, v) for n, v in headers if not _is_identity_header(n)]
        for key, name in _ASGI_NAMES.items():
            value = environ.get(key)
            if value is not None:
                headers.append((name, str(value).encode("utf-8")))
        for key in (TOKEN_INFO, TOKEN_AUTH):
            if key in environ:
                state[key] = environ[key]
        return None
