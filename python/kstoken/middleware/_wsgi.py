"""The WSGI middleware: keystonemiddleware's ``auth_token.AuthProtocol`` for PKI and PKIZ tokens."""

from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Tuple

from kstoken import _kstoken
from kstoken.middleware._engine import Engine, Stats, build_ksm_delegate

__all__ = ["AuthProtocol", "filter_factory", "STRIPPED_ENVIRON_KEYS", "UNAUTHORIZED_BODY"]

Environ = Dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

#: Every identity header, as environ keys: removed from each request before anything else.
STRIPPED_ENVIRON_KEYS: FrozenSet[str] = frozenset(key for _, key in _kstoken.IDENTITY_HEADERS)

#: keystonemiddleware's 401 body.
UNAUTHORIZED_BODY = (
    b'{"error": {"code": 401, "title": "Unauthorized", "message": '
    b'"The request you have made requires authentication."}}'
)
_UNAVAILABLE_BODY = (
    b"503 Service Unavailable\n\nThe server is currently unavailable. Please try again at a later "
    b"time.\n\n The Keystone service is temporarily unavailable.  "
)

TOKEN_INFO = "keystone.token_info"
TOKEN_AUTH = "keystone.token_auth"


class AuthProtocol:
    """WSGI middleware validating PKI/PKIZ tokens in-process, with keystonemiddleware's environ.

    ``conf`` is keystonemiddleware's (``[keystone_authtoken]`` option names, string values); see
    ``kstoken/middleware/CONTRACT.md`` for every key.
    """

    def __init__(self, app: WSGIApp, conf: Mapping[str, Any]) -> None:
        self._app = app
        self.engine = Engine(conf)
        self._delegate = build_ksm_delegate(self.engine, app)
        self._client_cert_key = self.engine.settings.kstoken_client_cert_key
        self._reject_header = ("WWW-Authenticate", 'Keystone uri="%s"' % self.engine.www_authenticate_uri)

    def stats(self) -> Stats:
        """This process's counters and gauges (see ``kstoken.middleware.metrics``)."""
        return self.engine.stats()

    def _unauthorized(self, start_response: StartResponse) -> List[bytes]:
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(UNAUTHORIZED_BODY))),
                self._reject_header,
            ],
        )
        return [UNAUTHORIZED_BODY]

    def _unavailable(self, start_response: StartResponse) -> List[bytes]:
        start_response(
            "503 Service Unavailable",
            [("Content-Length", str(len(_UNAVAILABLE_BODY))), ("Content-Type", "text/plain; charset=UTF-8")],
        )
        return [_UNAVAILABLE_BODY]

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        for key in STRIPPED_ENVIRON_KEYS.intersection(environ):
            del environ[key]
        user_token = environ.get("HTTP_X_AUTH_TOKEN", environ.get("HTTP_X_STORAGE_TOKEN"))
        service_token = environ.get("HTTP_X_SERVICE_TOKEN")
        out = self.engine.authenticate(
            user_token,
            service_token,
            environ.get("AUTH_TYPE"),
            environ.get("REMOTE_USER"),
            environ.get(self._client_cert_key),
        )
        decision = out.decision
        if decision == "reject":
            return self._unauthorized(start_response)
        if decision == "unavailable":
            return self._unavailable(start_response)
        if decision == "delegate":
            return self._delegate(environ, start_response)  # type: ignore[no-any-return]
        environ.update(out.headers)
        info, plugin = self.engine.token_data(out, user_token, service_token)
        if info is not None:
            environ[TOKEN_INFO] = info
        environ[TOKEN_AUTH] = plugin
        reject_header = self._reject_header

        def start(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
            # As keystonemiddleware: a 401 from the application tells the client where to log in.
            if status[:3] == "401":
                headers = list(headers) + [reject_header]
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return self._app(environ, start)


def filter_factory(global_conf: Mapping[str, Any], **local_conf: Any) -> Callable[[WSGIApp], AuthProtocol]:
    """paste.deploy: ``paste.filter_factory = kstoken.middleware:filter_factory``."""
    conf = dict(global_conf)
    conf.update(local_conf)

    def auth_filter(app: WSGIApp) -> AuthProtocol:
        return AuthProtocol(app, conf)

    return auth_filter
