"""Talking to keystone with keystoneauth1, the way keystonemiddleware does: the auth plugin and
session built from the same options, a ``service_type=identity`` adapter with version discovery
(v3 first, then v2.0, unless ``auth_version`` says which), and the certificate and revocation-list
endpoints keystoneclient calls.

Nothing here touches the network until a fetch is asked for; the session is rebuilt after a fork so
pooled connections are never shared between processes.

Every answer to the middleware's own requests (version discovery, the service user's
authentication, certificates, revocation lists) is read with a cap: its ``Content-Length`` is
checked first, then the bytes as they arrive, within the session's timeout overall, so a keystone
(or whoever answers for it) sending gigabytes, or a byte a minute, costs at most the cap and the
timeout. Lists are capped by ``kstoken_revocation_list_max_bytes``, everything else by the
credential limit (16 MiB). Requests made through the same session by others (an application using
``keystone.token_auth``) are not capped.
"""

import contextlib
import logging
import threading
import time
import urllib.parse
from typing import Any, Dict, Iterator, Optional, Tuple, Union

import requests
from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import discover, loading, plugin, token_endpoint
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v2 as ks_v2
from keystoneauth1.loading import session as session_loading

from kstoken._credentials import MAX_CREDENTIAL_LEN
from kstoken.middleware._config import ConfigurationError, Settings

__all__ = ["Keystone", "KeystoneError", "NoRevocationLists", "ResponseTooLarge", "USER_AGENT"]

USER_AGENT = "kstoken.middleware"

#: Seconds a keystone request may take when ``http_connect_timeout`` is unset (requests would
#: otherwise wait forever on an unresponsive server).
DEFAULT_TIMEOUT = 30.0

V3 = (3, 0)
V2 = (2, 0)

_PATHS = {
    V3: ("/OS-SIMPLE-CERT/certificates", "/OS-SIMPLE-CERT/ca", "/auth/tokens/OS-PKI/revoked"),
    V2: ("/certificates/signing", "/certificates/ca", "/tokens/revoked"),
}


class KeystoneError(Exception):
    """Keystone could not be reached, or answered with an error (``status``: its HTTP status)."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class NoRevocationLists(KeystoneError):
    """Keystone answers 404 or 410 for the revocation list: it has none (keystone since Pike
    removed the PKI providers and answers 410 Gone), which is not keystone being unavailable."""


class ResponseTooLarge(Exception):
    """An answer over its cap, or slower than the timeout allows (never a ``requests`` error, so
    keystoneauth neither wraps nor retries it)."""


class _Cap(threading.local):
    """The cap of the middleware's request in progress on this thread (``None``: not one of ours)."""

    limit: Optional[int] = None
    what: str = ""
    deadline: float = 0.0


_CAP = _Cap()


@contextlib.contextmanager
def capped(limit: int, what: str, timeout: float) -> Iterator[None]:
    """Answers read on this thread within the block are capped at ``limit`` bytes and ``timeout``
    seconds overall (``what``, the option that sets the limit, is named in the error)."""
    saved = (_CAP.limit, _CAP.what, _CAP.deadline)
    _CAP.limit, _CAP.what, _CAP.deadline = limit, what, time.monotonic() + timeout
    try:
        yield
    finally:
        _CAP.limit, _CAP.what, _CAP.deadline = saved


class CappedAdapter(ks_session.TCPKeepAliveAdapter):
    """keystoneauth's adapter (TCP keep-alive, no Nagle), reading the answers of the middleware's
    requests with their cap (:func:`capped`): ``Content-Length`` first, then the bytes."""

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Union[float, Tuple[Optional[float], Optional[float]], None] = None,
        verify: Union[bool, str] = True,
        cert: Union[str, Tuple[str, str], None] = None,
        proxies: Optional[Dict[str, str]] = None,
    ) -> requests.Response:
        limit = _CAP.limit
        if limit is None:
            return super().send(request, stream, timeout, verify, cert, proxies)
        response = super().send(request, True, timeout, verify, cert, proxies)
        try:
            what, deadline = _CAP.what, _CAP.deadline
            too_large = "answer to %s %s is larger than %d bytes (the limit set by %s)" % (
                request.method,
                request.url,
                limit,
                what,
            )
            length = response.headers.get("Content-Length", "").strip()
            if length.isdigit() and int(length) > limit:
                raise ResponseTooLarge(too_large)
            chunks = []
            total = 0
            for chunk in response.raw.stream(65536, decode_content=True):
                total += len(chunk)
                if total > limit:
                    raise ResponseTooLarge(too_large)
                if time.monotonic() > deadline:
                    raise ResponseTooLarge(
                        "answer to %s %s took longer than the timeout (%d bytes read)"
                        % (request.method, request.url, total)
                    )
                chunks.append(chunk)
            response._content = b"".join(chunks)
            response._content_consumed = True
        except BaseException:
            response.close()
            raise
        response.raw.release_conn()
        return response


class LegacyAuth(plugin.BaseAuthPlugin):
    """keystonemiddleware's pre-plugin credentials (``identity_uri``, ``admin_user``, ...): a v2
    password (or admin token) at ``<identity_uri>/v2.0``, endpoints under ``identity_uri``."""

    def __init__(
        self,
        identity_uri: str,
        admin_token: Optional[str],
        admin_user: Optional[str],
        admin_password: Optional[str],
        admin_tenant_name: Optional[str],
    ) -> None:
        super().__init__()
        self.identity_uri = identity_uri.rstrip("/")
        auth_url = self.identity_uri + "/v2.0"
        self._plugin: Optional[plugin.BaseAuthPlugin]
        if admin_token:
            self._plugin = token_endpoint.Token(auth_url, admin_token)
        elif admin_user:
            self._plugin = ks_v2.Password(
                auth_url, username=admin_user, password=admin_password, tenant_name=admin_tenant_name
            )
        else:
            self._plugin = None

    def get_token(self, session: ks_session.Session, **kwargs: Any) -> Optional[str]:
        if self._plugin is None:
            return None
        return self._plugin.get_token(session, **kwargs)

    def get_endpoint(self, session: ks_session.Session, **kwargs: Any) -> Optional[str]:
        if kwargs.get("interface") is plugin.AUTH_INTERFACE:
            return self.identity_uri
        version = kwargs.get("version")
        if not version:
            return None
        wanted = discover.normalize_version_number(version)
        if discover.version_match(V3, wanted):
            return self.identity_uri + "/v3"
        if discover.version_match(V2, wanted):
            return self.identity_uri + "/v2.0"
        return None

    def invalidate(self) -> bool:
        return bool(self._plugin is not None and self._plugin.invalidate())


def _legacy_identity_uri(s: Settings) -> str:
    if s.identity_uri:
        return s.identity_uri
    host = "[%s]" % s.auth_host if ":" in s.auth_host else s.auth_host
    uri = "%s://%s:%s" % (s.auth_protocol, host, s.auth_port)
    if s.auth_admin_prefix:
        uri = "%s/%s" % (uri, s.auth_admin_prefix.strip("/"))
    return uri


class Keystone:
    """Keystone as seen from the middleware."""

    def __init__(self, settings: Settings, log: logging.Logger) -> None:
        self._s = settings
        self._log = log
        self._lock = threading.Lock()
        self.auth = self._create_auth()
        self._session: Optional[ks_session.Session] = None
        self._adapters: Dict[Tuple[int, int], ks_adapter.Adapter] = {}
        self._version: Optional[Tuple[int, int]] = None

    def _create_auth(self) -> plugin.BaseAuthPlugin:
        s = self._s
        if not s.auth_type:
            if s.identity_uri is None and (s.admin_user or s.admin_token):
                self._log.warning(
                    "Configuring admin URI using auth fragments (auth_host, auth_port, auth_protocol) "
                    "is deprecated: use identity_uri, or better an auth_type"
                )
            if s.admin_user or s.admin_token:
                self._log.warning(
                    "The admin_token, admin_user, admin_password and admin_tenant_name options are "
                    "deprecated in favour of an auth_type and its options"
                )
            return LegacyAuth(
                _legacy_identity_uri(s), s.admin_token, s.admin_user, s.admin_password, s.admin_tenant_name
            )
        try:
            loader: Any = loading.get_plugin_loader(s.auth_type)
        except ks_exceptions.NoMatchingPlugin as e:
            raise ConfigurationError("unknown auth_type %r: %s" % (s.auth_type, e)) from None

        def getter(opt: Any) -> Any:
            for name in [opt.dest] + [o.dest for o in getattr(opt, "deprecated", None) or []]:
                if name in s.extra:
                    return s.extra[name]
            return opt.default

        try:
            auth: plugin.BaseAuthPlugin = loader.load_from_options_getter(getter)
            return auth
        except ks_exceptions.ClientException as e:
            raise ConfigurationError("cannot load auth_type %r: %s" % (s.auth_type, e)) from None

    @property
    def session(self) -> ks_session.Session:
        """The keystoneauth session (created on first use, again after a fork)."""
        with self._lock:
            if self._session is None:
                s = self._s
                http = requests.Session()
                adapter = CappedAdapter()
                for scheme in list(http.adapters):
                    http.mount(scheme, adapter)
                self._session = session_loading.Session().load_from_options(
                    insecure=s.insecure,
                    cacert=s.cafile,
                    cert=s.certfile,
                    key=s.keyfile,
                    timeout=self.timeout,
                    user_agent=USER_AGENT,
                    session=http,
                )
            return self._session

    @property
    def timeout(self) -> float:
        """Seconds a keystone request may take (``http_connect_timeout``, else 30)."""
        s = self._s
        return float(s.http_connect_timeout) if s.http_connect_timeout else DEFAULT_TIMEOUT

    def reset(self) -> None:
        """Forgets connections and discovery (in a forked child)."""
        self._lock = threading.Lock()
        self._session = None
        self._adapters = {}
        self._version = None

    def www_authenticate_uri(self) -> str:
        """keystonemiddleware's fallback for an unset ``www_authenticate_uri``."""
        if isinstance(self.auth, LegacyAuth):
            return urllib.parse.urljoin(self.auth.identity_uri, "/").rstrip("/")
        url = getattr(self.auth, "auth_url", None)
        return str(url) if url else ""

    def describe(self) -> str:
        """Where keystone is, for the startup log."""
        if isinstance(self.auth, LegacyAuth):
            return "identity_uri=%s" % self.auth.identity_uri
        return "auth_type=%s auth_url=%s interface=%s" % (
            self._s.auth_type,
            getattr(self.auth, "auth_url", None),
            self._s.interface,
        )

    def _adapter(self, version: Tuple[int, int]) -> ks_adapter.Adapter:
        with self._lock:
            adapter = self._adapters.get(version)
        if adapter is None:
            adapter = ks_adapter.Adapter(
                self.session,
                auth=self.auth,
                service_type="identity",
                interface=self._s.interface,
                region_name=self._s.region_name,
                version=version,  # type: ignore[arg-type]
                connect_retries=self._s.http_request_max_retries,
            )
            with self._lock:
                self._adapters[version] = adapter
        return adapter

    def version(self) -> Tuple[int, int]:
        """The identity API version to use (:meth:`_discover_version`, its answers capped)."""
        if self._version is not None:
            return self._version
        try:
            with capped(MAX_CREDENTIAL_LEN, "the credential limit", self.timeout):
                return self._discover_version()
        except ResponseTooLarge as e:
            raise KeystoneError("cannot discover the identity endpoint: %s" % e) from None

    def _discover_version(self) -> Tuple[int, int]:
        """The identity API version to use: ``auth_version``, else the first of v3, v2.0 offered."""
        if self._version is not None:
            return self._version
        version: Optional[Tuple[int, int]] = None
        if self._s.auth_version:
            wanted = discover.normalize_version_number(self._s.auth_version)
            version = V3 if discover.version_match(V3, wanted) else V2
        else:
            for candidate in (V3, V2):
                try:
                    if self._adapter(candidate).get_endpoint():
                        version = candidate
                        break
                except ks_exceptions.EndpointNotFound:
                    continue
                except ks_exceptions.ClientException as e:
                    raise KeystoneError("cannot discover the identity endpoint: %s" % e) from None
        if version is None:
            raise KeystoneError("No compatible apis supported by server (tried v3.0, v2.0)")
        self._version = version
        return version

    def _get(
        self,
        path_index: int,
        authenticated: bool,
        limit: int,
        what: str,
        retries: Optional[int] = None,
    ) -> bytes:
        version = self.version()
        path = _PATHS[version][path_index]
        kwargs: Dict[str, Any] = {}
        if retries is not None:
            kwargs["connect_retries"] = retries
        try:
            # The service user's authentication, when due, happens inside: capped as well.
            with capped(limit, what, self.timeout):
                response = self._adapter(version).get(path, authenticated=authenticated, raise_exc=True, **kwargs)
        except ks_exceptions.HttpError as e:
            raise KeystoneError("GET %s: HTTP %s %s" % (path, e.http_status, e.message), e.http_status) from None
        except ks_exceptions.ClientException as e:
            raise KeystoneError("GET %s: %s" % (path, e)) from None
        except ResponseTooLarge as e:
            raise KeystoneError("GET %s: %s" % (path, e)) from None
        return bytes(response.content)

    def fetch_certificates(self) -> Tuple[bytes, bytes]:
        """The signing certificate(s) and the CA bundle, PEM (unauthenticated requests), each at
        most the credential limit."""
        what = "the credential limit"
        return (
            self._get(0, authenticated=False, limit=MAX_CREDENTIAL_LEN, what=what),
            self._get(1, authenticated=False, limit=MAX_CREDENTIAL_LEN, what=what),
        )

    def fetch_revocation_list(self, retries: Optional[int] = None) -> bytes:
        """keystone's signed revocation list response (``{"signed": "<CMS PEM>"}``), fetched with
        the service token (``retries``: connection retries, default ``http_request_max_retries``),
        at most ``kstoken_revocation_list_max_bytes``. :class:`NoRevocationLists` when keystone
        answers 404 or 410 (it has no lists)."""
        try:
            return self._get(
                2,
                authenticated=True,
                limit=self._s.kstoken_revocation_list_max_bytes,
                what="kstoken_revocation_list_max_bytes",
                retries=retries,
            )
        except KeystoneError as e:
            if e.status in (404, 410):
                raise NoRevocationLists(str(e), e.status) from None
            raise
